/**
 * Shared by the examples: bring up a pstack host on one TAP device from command-line flags
 * (or environment variables), the same way `pstack server` does.
 *
 *   --tap NAME        (PSTACK_TAP)        default tap0
 *   --addr CIDR       (PSTACK_ADDR)       default 192.0.2.2/24
 *   --host-addr CIDR  (PSTACK_HOST_ADDR)  kernel side of the tap; default first host of the network; "none" to skip
 *   --gateway IP      (PSTACK_GATEWAY)    default: the host address; "none" for no default route
 *   --mac MAC         (PSTACK_MAC)        default 00:00:5e:00:53:01
 *   --log-level L     (PSTACK_LOG_LEVEL)  default info (debug dissects every frame)
 *   --pcap FILE       (PSTACK_PCAP)       capture every frame (opens in Wireshark)
 *   --no-warmup                           skip the start-up warm-up (as pstack server --no-warmup)
 *   --warmup-ms N                         the warm-up's budget of CPU time (default 300)
 */
import { parseArgs } from 'node:util';
import { startHost, type RunningHost } from '../src/cli/host.js';
import { createLogger, parseLogLevel, type Logger } from '../src/observe/log.js';
import { parseCidr, parseIpv4, parseMac, type Ipv4Cidr } from '../src/wire/addr.js';
import { DEFAULT_TAP_MAC } from '../src/link/tap.js';
import { parseIpv6Cidr } from '../src/wire/addr6.js';
import { defaultHostAddr6 } from '../src/api/tap-host.js';

export interface ExampleHost {
  host: RunningHost;
  logger: Logger;
  /** Flags the example defined itself, parsed. */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export async function startExampleHost(extra: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>, usage: string): Promise<ExampleHost> {
  const parsed = parseArgs({
    options: {
      tap: { type: 'string' }, addr: { type: 'string' }, addr6: { type: 'string' }, 'host-addr': { type: 'string' }, gateway: { type: 'string' },
      mac: { type: 'string' }, 'log-level': { type: 'string' }, pcap: { type: 'string' }, offload: { type: 'string' }, 'no-warmup': { type: 'boolean' }, 'warmup-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' }, ...extra,
    },
    allowPositionals: true,
  });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  if (values.help) {
    process.stdout.write(usage + '\n');
    process.exit(0);
  }
  const env = process.env;
  const str = (k: string, e: string, d: string) => (values[k] as string | undefined) ?? env[e] ?? d;
  const fail = (m: string): never => {
    process.stderr.write(`${m}\n${usage}\n`);
    process.exit(2);
  };
  const addr = parseCidr(str('addr', 'PSTACK_ADDR', '192.0.2.2/24')) ?? fail('invalid --addr');
  const hostText = str('host-addr', 'PSTACK_HOST_ADDR', '');
  let hostAddr: Ipv4Cidr | null;
  if (hostText === 'none') hostAddr = null;
  else if (hostText !== '') hostAddr = parseCidr(hostText) ?? fail('invalid --host-addr');
  else {
    const mask = (0xffffffff << (32 - addr.prefixLength)) >>> 0;
    const first = (((addr.address & mask) >>> 0) + 1) >>> 0;
    hostAddr = { address: first === addr.address ? first + 1 : first, prefixLength: addr.prefixLength };
  }
  const gwText = str('gateway', 'PSTACK_GATEWAY', '');
  const gateway = gwText === 'none' ? null : gwText !== '' ? parseIpv4(gwText) ?? fail('invalid --gateway') : hostAddr?.address ?? null;
  const mac = parseMac(str('mac', 'PSTACK_MAC', '')) ?? DEFAULT_TAP_MAC;
  const level = parseLogLevel(str('log-level', 'PSTACK_LOG_LEVEL', 'info')) ?? fail('invalid --log-level');
  const logger = createLogger({ level });
  const offloadText = str('offload', 'PSTACK_OFFLOAD', 'on');
  if (offloadText !== 'on' && offloadText !== 'off') fail('invalid --offload: expected on or off');
  // --addr6 CIDR: IPv6 too, the kernel's side getting the network's first host (as pstack server).
  const addr6Text = str('addr6', 'PSTACK_ADDR6', '');
  const addr6 = addr6Text !== '' ? parseIpv6Cidr(addr6Text) ?? fail('invalid --addr6') : null;
  const addrs6 = addr6 !== null ? [{ addr: addr6, hostAddr: hostText === 'none' ? null : defaultHostAddr6(addr6) }] : [];
  const host = await startHost({
    taps: [{ name: str('tap', 'PSTACK_TAP', 'tap0'), addr, hostAddr, mac, addrs6 }],
    gateway, mtu: 1500, forwarding: false, offload: offloadText === 'on', pcapPath: str('pcap', 'PSTACK_PCAP', '') || null, logger,
    warmUp: values['no-warmup'] === true ? false : values['warmup-ms'] !== undefined ? { budgetMs: Number(values['warmup-ms']) } : true,
  });
  return { host, logger, values, positionals };
}
