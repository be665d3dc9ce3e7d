/**
 * `pstack server`: run the stack on one or more TAP devices until Ctrl-C, answering ARP and
 * ping (and the services registered in services.ts), logging events and, at debug level,
 * every frame dissected layer by layer.
 */

import { parseArgs } from 'node:util';
import { DEFAULT_WARM_UP_BUDGET_MS } from '../api/warm-up.js';
import { getPriority, setPriority } from 'node:os';
import { parseCidr, parseIpv4, parseMac, ipv4ToString, macToString, type Ipv4Cidr } from '../wire/addr.js';
import { DEFAULT_TAP_MAC, DEFAULT_BUSY_POLL_US, MAX_BUSY_POLL_US, type TapDevice } from '../link/tap.js';
import { createLogger, parseLogLevel } from '../observe/log.js';
import { UsageError, FatalError } from './errors.js';
import { startHost, cidrToString, detailLines, type RunningHost, type TapSpec } from './host.js';
import { startServices } from './services.js';
import { parseWebAddress, type WebAddress } from './web/address.js';
import { parseIpv6Cidr, ipv6ToString } from '../wire/addr6.js';
import { defaultHostAddr6 } from '../api/tap-host.js';
import { parseServerList } from '../api/dns/servers.js';
import { startWebServer, type WebServer } from './web/web-server.js';
import { startControlServer, defaultControlPath, memoryCounters, type ControlServer } from './control.js';
import { LIMITS, applyLimit, emptyLimitSettings, formatLimitHelp, limitHits, limitValues, type LimitSettings } from './limits.js';
import { CONGESTION_ALGORITHMS } from '../transport/tcp/congestion/index.js';

/**
 * The event loop's default scheduling priority. The kernel handles incoming packets in softirq
 * context, ahead of every process; pstack reads its taps from an ordinary process, and on a
 * busy machine the tap's queue (1,000 frames) overflows while it waits for the CPU: under a
 * SYN flood legitimate SYNs were dropped there and their clients waited for their 1 s
 * retransmission. A raised priority lets the stack take the CPU when frames arrive; an idle
 * server uses none.
 */
export const DEFAULT_NICE = -10;

export const SERVER_USAGE = `usage: pstack server [options]
  --tap NAME          TAP device to open (default tap0; repeat with --addr for more interfaces)
  --addr CIDR|dhcp    pstack's address on the matching --tap (default 192.0.2.2/24); "dhcp" leases
                      one (and routes, DNS servers) from a DHCP server on the link and leaves the
                      kernel's side of that tap as it is. Give --addr again with an IPv6 CIDR
                      (2001:db8::2/64) to run IPv6 too: it joins the tap of the IPv4 --addr
                      before it, and the kernel's side gets the network's first host (::1)
  --ipv6              run IPv6 on every tap even without an IPv6 --addr: a link-local address,
                      and addresses, routes and DNS servers from router advertisements (SLAAC)
  --no-slaac          ignore router advertisements (no addresses, routes or DNS servers from
                      them, no router solicitations): IPv6 as configured with --addr only
  --dhcp-timeout S    give up when no DHCP lease came within S seconds (default 30)
  --dns IP[,IP...]    DNS servers for pstack's resolver, IPv4 or IPv6 (IP:PORT, [IPv6]:PORT,
                      fe80::1%tap0); default: a DHCP lease's and router advertisements' (RDNSS),
                      else 127.0.0.1 as with no resolv.conf
  --host-addr CIDR    address given to the kernel's side of the matching --tap
                      (default: the first host address of the network, 192.0.2.1/24; "none" to skip)
  --gateway IP        default gateway (default 192.0.2.1; "none" for no default route)
  --mac MAC           pstack's MAC on the first tap (default 00:00:5e:00:53:01; later taps count up)
  --mtu N             MTU of the taps (default 1500); repeat it, one per --tap, for different MTUs
  --forward           route packets between the taps (act as a router; implies --offload off)
  --offload on|off    TAP offloads (default on): the kernel passes TCP segments of up to 64 KB
                      with checksums done, and cuts up and checksums the ones pstack sends
  --log-level LEVEL   error | warn | info | debug | trace (default info; debug dissects every packet)
  --pcap FILE|-       capture every frame in and out, loopback included, to FILE as pcapng
                      ("-": standard output, live: pstack server --pcap - | tshark -r -)
  --web HOST:PORT     serve a live web page of the traffic on HOST:PORT (Node's own http on
                      this machine, not over pstack), e.g. --web 127.0.0.1:8080
  --control PATH      control socket for pstack route/arp/netstat/stats
                      (default /run/pstack/<first tap>.sock; "none" for no socket)
  --limit NAME=VALUE  change one of the stack's bounds, e.g. tcp.maxConnections=1000
                      (repeatable; "--limit help" lists every name, default and counter)
  --congestion ALGO   TCP congestion control: cubic (default), newreno, or bbr (rate-based, paced)
  --busy-poll[=US]    poll the taps instead of sleeping. Bare --busy-poll never sleeps: lowest
                      latency, but ONE CPU STAYS AT 100% for as long as the server runs.
                      --busy-poll=US keeps polling US microseconds after each frame, then
                      sleeps (no CPU when idle); 0 turns it off. Default: =${DEFAULT_BUSY_POLL_US}
  --nice=N            scheduling priority of the event loop, -20 to 19 (default ${DEFAULT_NICE}, when the
                      process may raise it; otherwise it keeps the one it was started with)
  --warmup-ms MS      CPU time of the start-up warm-up (default 1000; at most three times that
                      in wall time): TCP connections between two throw-away in-memory stacks, so
                      the first real connections find compiled code. Nothing reaches the taps
  --no-warmup         skip the start-up warm-up (the same as --warmup-ms 0)
  -h, --help          show this help`;

export interface ServerConfig {
  taps: TapSpec[];
  gateway: number | null;
  mtu: number;
  forwarding: boolean;
  /** Open the taps with checksum offload and TSO (never when forwarding). */
  offload: boolean;
  pcapPath: string | null;
  /** Unix socket the inspection commands talk to; null for none. */
  controlPath: string | null;
  /** --control was given: failing to open it is then fatal rather than a warning. */
  controlExplicit: boolean;
  logLevel: ReturnType<typeof parseLogLevel> & string;
  /** --limit settings (only those given; the rest keep their defaults). */
  limits: LimitSettings;
  /** The --limit texts as given, for the startup log. */
  limitTexts: string[];
  /** --limit help: list the limits instead of running. */
  limitHelp: boolean;
  /** Busy polling of the taps: microseconds after each frame (0 off) or 'always'. */
  busyPoll: number | 'always';
  /** How long --addr dhcp waits for a lease before giving up. */
  dhcpTimeoutMs: number;
  /** DNS servers for the stack's resolver (--dns); else a DHCP lease's. */
  dns: string[] | undefined;
  /** Where to serve the live web page (--web); null for none. */
  web: WebAddress | null;
  /** Run IPv6 (--ipv6, or an IPv6 --addr). */
  ipv6: boolean;
  /** Autoconfiguration from router advertisements (off with --no-slaac). */
  slaac: boolean;
  /** Scheduling priority to take (--nice). */
  nice: number;
  /** --nice was given: failing to take it is then worth a warning. */
  niceExplicit: boolean;
  /** CPU milliseconds of the start-up warm-up (--warmup-ms); 0 skips it (--no-warmup). */
  warmUpMs: number;
}

export function parseServerArgs(argv: string[]): ServerConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      // A bare --busy-poll means "always"; parseArgs has no optional values.
      args: argv.map((a) => (a === '--busy-poll' ? '--busy-poll=always' : a)),
      options: {
        tap: { type: 'string', multiple: true },
        addr: { type: 'string', multiple: true },
        'host-addr': { type: 'string', multiple: true },
        gateway: { type: 'string' },
        mac: { type: 'string' },
        mtu: { type: 'string', multiple: true },
        forward: { type: 'boolean' },
        offload: { type: 'string' },
        'log-level': { type: 'string' },
        pcap: { type: 'string' },
        control: { type: 'string' },
        limit: { type: 'string', multiple: true },
        congestion: { type: 'string' },
        'busy-poll': { type: 'string' },
        'dhcp-timeout': { type: 'string' },
        dns: { type: 'string' },
        web: { type: 'string' },
        nice: { type: 'string' },
        ipv6: { type: 'boolean' },
        'no-slaac': { type: 'boolean' },
        'no-warmup': { type: 'boolean' },
        'warmup-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const limitTexts = v.limit ?? [];
  const limitHelp = limitTexts.includes('help');
  const limits = emptyLimitSettings();
  for (const text of limitHelp ? [] : limitTexts) {
    const why = applyLimit(text, limits);
    // One line and exit status 2: the message already says where the names are listed.
    if (why !== null) throw new FatalError(why, 2);
  }
  if (v.congestion !== undefined) {
    const algo = CONGESTION_ALGORITHMS.find((a) => a === v.congestion);
    if (algo === undefined) throw new UsageError(`invalid --congestion ${JSON.stringify(v.congestion)}: expected ${CONGESTION_ALGORITHMS.join(', ')}`);
    limits.tcp.congestion = algo;
  }
  const tapNames = v.tap ?? ['tap0'];
  // IPv6 --addr values join the tap of the IPv4 (or dhcp) --addr before them (the first tap
  // when none comes before); IPv4 ones match the --tap values in order.
  const v6ByTap: string[][] = tapNames.map(() => []);
  let v4Seen = 0;
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || t.name !== 'addr' || t.value === undefined) continue;
    if (t.value.includes(':')) v6ByTap[Math.max(0, Math.min(v4Seen - 1, tapNames.length - 1))]!.push(t.value);
    else v4Seen++;
  }
  const v4Given = (v.addr ?? []).filter((a) => !a.includes(':'));
  const addrTexts = v4Given.length > 0 || v.addr !== undefined ? v4Given : ['192.0.2.2/24'];
  if (v.addr !== undefined && v4Given.length === 0) addrTexts.push('192.0.2.2/24');
  if (addrTexts.length !== tapNames.length) throw new UsageError(`give one --addr for each --tap (${tapNames.length} taps, ${addrTexts.length} addresses)`);
  const hostAddrTexts = v['host-addr'] ?? [];
  if (hostAddrTexts.length > tapNames.length) throw new UsageError('more --host-addr than --tap');
  const baseMac = v.mac !== undefined ? parseMac(v.mac) : DEFAULT_TAP_MAC;
  if (baseMac === null) throw new UsageError(`invalid --mac ${JSON.stringify(v.mac)}: expected six hex bytes like 00:00:5e:00:53:01`);
  const taps: TapSpec[] = tapNames.map((name, i) => {
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/.test(name)) throw new UsageError(`invalid --tap ${JSON.stringify(name)}: an interface name of 1 to 15 letters, digits, '-', '_' or '.'`);
    const mac = baseMac.slice();
    mac[5] = (mac[5]! + i) & 0xff;
    if (addrTexts[i] === 'dhcp') {
      if (hostAddrTexts[i] !== undefined && hostAddrTexts[i] !== 'none') throw new UsageError(`--host-addr does not go with --addr dhcp on ${name}: that side belongs to the DHCP server`);
      return { name, addr: 'dhcp' as const, hostAddr: null, mac };
    }
    const addr = parseCidr(addrTexts[i]!);
    if (addr === null || addr.prefixLength === 0 || addr.prefixLength > 30) throw new UsageError(`invalid --addr ${JSON.stringify(addrTexts[i])}: expected an address with a prefix length from 1 to 30, like 192.0.2.2/24`);
    let hostAddr: Ipv4Cidr | null;
    const hostText = hostAddrTexts[i];
    if (hostText === 'none') hostAddr = null;
    else if (hostText !== undefined) {
      hostAddr = parseCidr(hostText);
      if (hostAddr === null) throw new UsageError(`invalid --host-addr ${JSON.stringify(hostText)}: expected an address with a prefix length, like 192.0.2.1/24`);
    } else hostAddr = defaultHostAddr(addr);
    const addrs6 = v6ByTap[i]!.map((text) => {
      const a6 = parseIpv6Cidr(text);
      if (a6 === null || a6.prefixLength < 1 || a6.prefixLength > 126) throw new UsageError(`invalid --addr ${JSON.stringify(text)}: expected an IPv6 address with a prefix length from 1 to 126, like 2001:db8::2/64`);
      return { addr: a6, hostAddr: hostText === 'none' ? null : defaultHostAddr6(a6) };
    });
    return { name, addr, hostAddr, mac, addrs6 };
  });
  if (new Set(tapNames).size !== tapNames.length) throw new UsageError('each --tap must be named once');
  let gateway: number | null;
  if (v.gateway === 'none') gateway = null;
  else if (v.gateway !== undefined) {
    gateway = parseIpv4(v.gateway);
    if (gateway === null) throw new UsageError(`invalid --gateway ${JSON.stringify(v.gateway)}: expected an IPv4 address like 192.0.2.1`);
  } else gateway = v.tap === undefined && v.addr === undefined ? parseIpv4('192.0.2.1')! : taps[0]!.hostAddr?.address ?? null;
  if (gateway !== null && taps.some((t) => t.addr === 'dhcp') && v.gateway === undefined) gateway = null; // the lease's routers
  const mtuTexts = v.mtu ?? ['1500'];
  if (mtuTexts.length > 1 && mtuTexts.length !== tapNames.length) throw new UsageError(`give one --mtu for all taps or one for each --tap (${tapNames.length} taps, ${mtuTexts.length} MTUs)`);
  const mtus = mtuTexts.map((text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 576 || n > 65535) throw new UsageError(`invalid --mtu ${JSON.stringify(text)}: expected a whole number from 576 to 65535`);
    return n;
  });
  const mtu = mtus[0]!;
  if (mtus.length > 1) taps.forEach((t, i) => { t.mtu = mtus[i]!; });
  const logLevel = parseLogLevel(v['log-level'] ?? 'info');
  if (logLevel === null || logLevel === 'silent') throw new UsageError(`invalid --log-level ${JSON.stringify(v['log-level'])}: expected error, warn, info, debug or trace`);
  if (v.control === '') throw new UsageError('--control needs a path (or "none")');
  const controlPath = v.control === 'none' ? null : v.control ?? defaultControlPath(taps[0]!.name);
  if (v.offload !== undefined && v.offload !== 'on' && v.offload !== 'off') throw new UsageError(`invalid --offload ${JSON.stringify(v.offload)}: expected on or off`);
  const forwarding = v.forward ?? false;
  // A router passes segments on as they came: a 64 KB coalesced one would not fit the next link.
  if (forwarding && v.offload === 'on') throw new UsageError('--offload on cannot be combined with --forward: a router must not receive coalesced segments');
  const offload = !forwarding && v.offload !== 'off';
  const dhcpTimeout = v['dhcp-timeout'] !== undefined ? Number(v['dhcp-timeout']) : 30;
  if (!Number.isFinite(dhcpTimeout) || dhcpTimeout <= 0 || dhcpTimeout > 3600) throw new UsageError(`invalid --dhcp-timeout ${JSON.stringify(v['dhcp-timeout'])}: expected seconds from 1 to 3600`);
  let dns: string[] | undefined;
  if (v.dns !== undefined) {
    const list = parseServerList(v.dns);
    if ('bad' in list) throw new UsageError(`invalid --dns ${JSON.stringify(v.dns)}: ${JSON.stringify(list.bad)} is not an address; expected addresses separated by commas, like 192.0.2.1,2001:db8::1 or [2001:db8::1]:5353`);
    dns = list.servers;
  }
  const ipv6 = (v.ipv6 ?? false) || taps.some((t) => (t.addrs6?.length ?? 0) > 0);
  if (v['no-slaac'] === true && !ipv6) throw new UsageError('--no-slaac is about IPv6, which is not running: give --ipv6 or an IPv6 --addr');
  const warmUpMs = v['no-warmup'] === true ? 0 : v['warmup-ms'] !== undefined ? (/^\d+$/.test(v['warmup-ms']) ? Number(v['warmup-ms']) : NaN) : DEFAULT_WARM_UP_BUDGET_MS;
  if (!(warmUpMs >= 0 && warmUpMs <= 60_000)) throw new UsageError(`invalid --warmup-ms ${JSON.stringify(v['warmup-ms'])}: expected milliseconds from 0 to 60000`);
  const nice = v.nice !== undefined ? (/^-?\d+$/.test(v.nice) ? Number(v.nice) : NaN) : DEFAULT_NICE;
  if (!(nice >= -20 && nice <= 19)) throw new UsageError(`invalid --nice ${JSON.stringify(v.nice)}: expected a whole number from -20 to 19`);
  return {
    ipv6, slaac: v['no-slaac'] !== true,
    nice, niceExplicit: v.nice !== undefined, warmUpMs,
    dns, taps, gateway, mtu, forwarding, offload, pcapPath: v.pcap ?? null, controlPath, controlExplicit: v.control !== undefined, logLevel, limits, limitTexts,
    limitHelp, busyPoll: parseBusyPoll(v['busy-poll']), dhcpTimeoutMs: dhcpTimeout * 1000,
    web: v.web !== undefined ? parseWebAddress(v.web) : null,
  };
}

/** What the kernel granted on the taps, e.g. "checksum, tso ipv4 ipv6 (segments up to 64 KB)", or "off". */
function describeOffloads(taps: readonly TapDevice[]): string {
  const o = taps[0]?.offloads;
  if (o === undefined || !o.txChecksum) return 'off';
  const families = [o.tsoMaxBytes > 0 ? 'ipv4' : '', o.tso6MaxBytes > 0 ? 'ipv6' : ''].filter((f) => f !== '').join(' ');
  return families !== '' ? `checksum, tso ${families} (segments up to 64 KB)` : 'checksum';
}

/** Set the event loop thread's nice value; returns the one it has afterwards. */
function takePriority(nice: number): number {
  try {
    setPriority(nice);
  } catch {
    // Not permitted (raising needs CAP_SYS_NICE): keep the inherited priority.
  }
  return getPriority();
}

function parseBusyPoll(text: string | undefined): number | 'always' {
  if (text === undefined) return DEFAULT_BUSY_POLL_US;
  if (text === 'always') return 'always';
  const us = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(us >= 0 && us <= MAX_BUSY_POLL_US)) throw new UsageError(`invalid --busy-poll=${JSON.stringify(text)}: expected microseconds from 0 to ${MAX_BUSY_POLL_US}, or a bare --busy-poll to poll always`);
  return us;
}

function addressText(t: TapSpec, leases: RunningHost['dhcp']): string {
  const v6 = (t.addrs6 ?? []).map((a) => ` ${ipv6ToString(a.addr.address)}/${a.addr.prefixLength}`).join('');
  if (t.addr !== 'dhcp') return cidrToString(t.addr) + v6;
  const lease = leases.get(t.name)?.lease;
  return lease === undefined ? 'dhcp' : `${ipv4ToString(lease.address)}/${lease.prefixLength} (dhcp from ${ipv4ToString(lease.serverId)})`;
}

/** The first host address of the network, or the second if pstack took the first. */
function defaultHostAddr(addr: Ipv4Cidr): Ipv4Cidr {
  const mask = addr.prefixLength === 0 ? 0 : (0xffffffff << (32 - addr.prefixLength)) >>> 0;
  const network = (addr.address & mask) >>> 0;
  const first = (network + 1) >>> 0;
  return { address: first === addr.address ? (network + 2) >>> 0 : first, prefixLength: addr.prefixLength };
}

export async function runServer(argv: string[]): Promise<number> {
  const config = parseServerArgs(argv);
  if (config === 'help') {
    process.stdout.write(SERVER_USAGE + '\n');
    return 0;
  }
  if (config.limitHelp) {
    process.stdout.write(formatLimitHelp());
    return 0;
  }
  const logger = createLogger({ level: config.logLevel });
  const priority = takePriority(config.nice);
  if (priority !== config.nice && config.niceExplicit) logger.warn('scheduling priority not changed', `--nice ${config.nice} was refused (raising it needs root or CAP_SYS_NICE); it stays ${priority}`);
  const host = await startHost({
    taps: config.taps,
    gateway: config.gateway,
    mtu: config.mtu,
    forwarding: config.forwarding,
    offload: config.offload,
    pcapPath: config.pcapPath,
    logger,
    limits: config.limits,
    busyPoll: config.busyPoll,
    dhcpTimeoutMs: config.dhcpTimeoutMs,
    dns: config.dns,
    ipv6: config.ipv6 ? { slaac: config.slaac } : false,
    warmUp: config.warmUpMs > 0 ? { budgetMs: config.warmUpMs } : false,
  });
  const tcp = host.stack.tcp;
  const services = startServices(host.stack, logger);
  let control: ControlServer | null = null;
  if (config.controlPath !== null) {
    try {
      control = await startControlServer(host.stack, config.controlPath, host.observers);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (config.controlExplicit) {
        services.close();
        await host.close();
        throw new FatalError(`cannot open control socket ${config.controlPath}: ${why}`);
      }
      // The default path is shared by every server on a tap of that name (one per network
      // namespace, say): the stack still runs, only inspection cannot reach it.
      logger.warn('control socket not opened', `${why}: pstack route/arp/netstat/stats cannot reach this server (give --control PATH)`);
    }
  }
  let web: WebServer | null = null;
  if (config.web !== null) {
    try {
      web = await startWebServer({
        address: config.web, observers: host.observers, stack: host.stack,
        interfaces: config.taps.map((t) => `${t.name} ${addressText(t, host.dhcp)}`),
      });
    } catch (err) {
      control?.close();
      services.close();
      await host.close();
      throw err;
    }
  }
  const first = config.taps[0]!;
  logger.info('pstack server started',
    ...detailLines({
      interfaces: config.taps.map((t) => `${t.name} ${addressText(t, host.dhcp)} ${macToString(t.mac)}`).join(', '),
      gateway: config.gateway !== null ? ipv4ToString(config.gateway) : 'none',
      forwarding: config.forwarding ? 'on' : 'off',
      ipv6: !config.ipv6 ? 'off' : config.slaac ? 'on (link-local, SLAAC from router advertisements)' : 'on (link-local and --addr; SLAAC off)',
      offloads: describeOffloads(host.taps),
      'busy poll': config.busyPoll === 'always' ? 'always (one CPU at 100%)' : config.busyPoll === 0 ? 'off' : `${config.busyPoll} us after each frame`,
      priority: `nice ${priority}`,
      'warm-up': host.warmUp === null ? 'off' : `${host.warmUp.connections} connections in ${Math.round(host.warmUp.elapsedMs)} ms`,
      services: services.describe(),
      control: control !== null ? control.path : 'none',
      ...(web !== null ? { 'web page': web.url } : {}),
      ...(config.limitTexts.length > 0 ? { limits: config.limitTexts.join(', ') } : {}),
      try: `ping ${ipv4ToString(first.addr === 'dhcp' ? host.dhcp.get(first.name)!.lease.address : first.addr.address)}`,
    }));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal} received, shutting down`);
      control?.close();
      void web?.close();
      services.close();
      const capture = host.close();
      const c = host.stack.counters.toJSON();
      const drops = c.drops as Record<string, number>;
      logger.info('counters',
        ...detailLines({
          'frames in/out': `${c.framesIn} / ${c.framesOut}`,
          'arp in/out': `${c.arpIn} / ${c.arpOut}`,
          'ip in/out': `${c.ipIn} / ${c.ipOut}`,
          'ip forwarded': `${c.ipForwarded}`,
          ...(host.stack.ipv6 !== null ? { 'ip6 forwarded': `${c.ip6Forwarded}` } : {}),
          'icmp in/out': `${c.icmpIn} / ${c.icmpOut}`,
          'udp in/out': `${c.udpIn} / ${c.udpOut}`,
          'tcp in/out': `${c.tcpIn} / ${c.tcpOut}`,
          'internal errors': `${c.internalErrors}`,
        }),
        ...Object.entries(drops).map(([k, n]) => `drop ${k}: ${n}`));
      // Every bound with its value and how often it was hit, so a run that hit one says so.
      const values = limitValues({ neighbor: host.stack.neighbors.config, reassembly: host.stack.reassembler.config, icmp: host.stack.icmp.config, tcp: tcp.config, memory: host.stack.memory.config });
      const hits = limitHits({ ...c, ...tcp.statistics(), ...memoryCounters(host.stack) });
      logger.info('limits', ...LIMITS.map((l) => `${l.name} = ${values[l.name]}: ${hits[l.name]} hits`));
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void capture.then(() => {
        const pcap = host.pcap;
        if (pcap !== null) {
          const where = config.pcapPath === '-' ? 'standard output' : config.pcapPath;
          logger.info('capture written', `file: ${where} (${pcap.packets} frames, ${pcap.dropped} dropped: the reader was too slow)`,
            ...(pcap.error !== null ? [`error: ${pcap.error.message}`] : []));
        }
        resolve(0);
      });
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}
