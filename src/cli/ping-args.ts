/** `pstack ping`'s command line: iputils ping's options, checked as iputils checks them. */

import { parseArgs } from 'node:util';
import { parseIpv4 } from '../wire/addr.js';
import { parseIpv6, parseScopedIpv6 } from '../wire/addr6.js';
import { intern6, type IpAddress } from '../stack/ip-address.js';
import { ICMP_HEADER_LENGTH } from '../wire/icmp.js';
import { IPV4_MIN_HEADER } from '../wire/ipv4.js';
import { FatalError, UsageError } from './errors.js';
import { canonicalDnsName } from '../wire/dns.js';
import type { TapSpec } from './host.js';
import { parseServerArgs } from './server.js';

export const PING_USAGE = `usage: pstack ping [options] DEST
Ping DEST (an IPv4 or IPv6 address, or a name pstack's resolver looks up through the --dns
servers or those of a DHCP lease) from pstack's own stack on a TAP device, like iputils ping.
A link-local IPv6 DEST may name the tap as its zone: fe80::1%tap0.
  -4                    use IPv4 only (DEST must be an IPv4 address or a name with one)
  -6                    use IPv6 only (ICMPv6 echo; pstack runs IPv6 on the tap, with its
                        link-local address and any IPv6 --addr)
  -c, --count N         stop after N replies (or errors); default: until Ctrl-C
  -i, --interval S      seconds between requests (default 1; fractions allowed, at least 0.002)
  -s, --size N          data bytes per request (default 56, i.e. 64 ICMP bytes, 84 IP bytes)
  -p, --pattern HEX     fill the data with this pattern of up to 16 bytes, e.g. -p 6162
  -t, --ttl N           time to live (IPv6: hop limit) of the requests (1 to 255; default 64)
  -W, --timeout S       seconds to wait for replies after the last request (default 10;
                        a request still waiting for ARP is waited for until ARP gives up)
  -w, --deadline S      stop after S seconds, however many replies came back
  -I, --interface IF|IP send from this interface (the --tap) or from this address of pstack's
  -R, --record-route    ask every hop to record its address (IP Record Route) and print the route
                        (IPv4 only)
  -v, --verbose         also print the header of the datagram an ICMP error quotes
  -q, --quiet           print only the first line and the statistics
  -n, --numeric         accepted for habit's sake: pstack never looks names up
host options (as pstack server; pstack is a full host on the tap while it pings):
  --tap NAME            TAP device to open (default tap0)
  --addr CIDR           pstack's address (default 192.0.2.2/24); give it again with an IPv6
                        CIDR (2001:db8::2/64) for IPv6, the kernel's side gets ::1 of it
  --host-addr CIDR      address of the kernel's side of the tap (default 192.0.2.1/24; "none" to skip)
  --gateway IP          default gateway (default 192.0.2.1; "none" for no default route)
  --mac MAC             pstack's MAC (default 00:00:5e:00:53:01)
  --mtu N               MTU of the tap (default 1500)
  --log-level LEVEL     error | warn | info | debug | trace (default warn)
  --pcap FILE|-         capture every frame in and out to FILE as pcapng ("-": standard
                        output, and ping's own lines go to standard error)
  -h, --help            show this help
exit status: 0 if any reply came back, 1 if none did (or fewer than -c within -w), 2 on errors`;

/** Bytes of the timestamp at the start of the data (struct timeval on 64-bit Linux). */
export const TIMESTAMP_BYTES = 16;
/** Largest IPv4 datagram, less the IP and ICMP headers. */
const MAX_DATA = 65535 - IPV4_MIN_HEADER - ICMP_HEADER_LENGTH;
/** Largest IPv6 payload, less the ICMPv6 header. */
const MAX_DATA6 = 65535 - ICMP_HEADER_LENGTH;
/** The Record Route option ping -R sends: nine slots, padded to 40 bytes. */
export const RECORD_ROUTE_OPTION_BYTES = 40;
/** Smallest interval accepted: pstack ping does not flood (iputils' limit for users). */
const MIN_INTERVAL_MS = 2;

/** What one ping run does, as iputils' options say it. */
export interface PingBehaviour {
  /** An IPv4 address (a number) or an interned IPv6 address. */
  destination: IpAddress;
  /** -I's address: where the requests come from (one of pstack's), else null for the route's. */
  source?: IpAddress | null;
  /** -I's interface name as the header prints it ('' when -I gave an address), null without -I. */
  interfaceText?: string | null;
  /** The destination as the user wrote it (iputils prints it in the header and statistics). */
  destinationText: string;
  /** Requests to send; 0 means until interrupted (or the deadline). */
  count: number;
  intervalMs: number;
  size: number;
  pattern: Uint8Array | null;
  ttl: number | null;
  lingerMs: number;
  deadlineMs: number | null;
  recordRoute: boolean;
  verbose: boolean;
  quiet: boolean;
}

/** The command line: the host to run (as pstack server's flags say) and the ping run. */
export interface PingConfig extends Omit<PingBehaviour, 'destination'> {
  /** The address to ping, or null when DEST is a name to look up first. */
  destination: IpAddress | null;
  /** -4 or -6, else null (the destination's family; names are looked up for IPv4). */
  family: 4 | 6 | null;
  /** A link-local destination's zone (the tap's name), as given or implied. */
  zone: string | null;
  /** DNS servers (--dns), when given. */
  dns: string[] | undefined;
  tap: TapSpec;
  gateway: number | null;
  mtu: number;
  pcapPath: string | null;
  logLevel: 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

// ------------------------------------------------------------------------------ arguments

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

function wholeNumber(flag: string, text: string, min: number, max: number, what: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: expected ${what}`);
  return n;
}

function seconds(flag: string, text: string, what: string): number {
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: expected ${what}`);
  return n;
}

/** iputils reads the pattern as hex byte pairs ("616" is 0x61 0x06); at most 16 bytes. */
export function parsePattern(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]+$/.test(text)) throw new UsageError(`invalid -p ${JSON.stringify(text)}: patterns must be specified as hex digits, like 6162`);
  if (text.length > 32) throw new UsageError(`invalid -p ${JSON.stringify(text)}: a pattern is at most 16 bytes (32 hex digits)`);
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i += 2) bytes.push(parseInt(text.slice(i, i + 2), 16));
  return Uint8Array.from(bytes);
}

const HOST_FLAGS = ['tap', 'host-addr', 'gateway', 'mac', 'mtu', 'pcap', 'dns'] as const;

export function parsePingArgs(argv: string[]): PingConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
        interface: { type: 'string', short: 'I' },
        count: { type: 'string', short: 'c' },
        interval: { type: 'string', short: 'i' },
        size: { type: 'string', short: 's' },
        pattern: { type: 'string', short: 'p' },
        ttl: { type: 'string', short: 't' },
        timeout: { type: 'string', short: 'W' },
        deadline: { type: 'string', short: 'w' },
        'record-route': { type: 'boolean', short: 'R' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' },
        numeric: { type: 'boolean', short: 'n' },
        tap: { type: 'string' },
        addr: { type: 'string', multiple: true },
        'host-addr': { type: 'string' },
        gateway: { type: 'string' },
        mac: { type: 'string' },
        mtu: { type: 'string' },
        'log-level': { type: 'string' },
        pcap: { type: 'string' },
        dns: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(firstLine((err as Error).message));
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (parsed.positionals.length === 0) throw new UsageError('ping needs a destination, e.g. pstack ping 192.0.2.1');
  if (parsed.positionals.length > 1) throw new UsageError(`ping takes one destination, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
  const destinationText = parsed.positionals[0]!;
  if (v.ipv4 && v.ipv6) throw new UsageError('only one of -4 and -6 can be given');
  const family = v.ipv4 ? 4 : v.ipv6 ? 6 : null;
  const v4 = parseIpv4(destinationText);
  const v6 = v4 === null ? parseScopedIpv6(destinationText) : null;
  const destination: IpAddress | null = v4 ?? (v6 !== null ? intern6(v6.address) : null);
  // iputils' words for a name that cannot be one, and for an address of the other family.
  if (destination === null && (destinationText.includes(':') || canonicalDnsName(destinationText) === null)) throw new FatalError(`${destinationText}: Name or service not known`, 2);
  if ((family === 6 && v4 !== null) || (family === 4 && v6 !== null)) throw new FatalError(`${destinationText}: Address family for hostname not supported`, 2);
  const isV6 = v6 !== null || family === 6;

  // The host flags mean exactly what they mean for pstack server: let its parser check them.
  const hostArgv: string[] = [];
  for (const flag of HOST_FLAGS) if (v[flag] !== undefined) hostArgv.push(`--${flag}`, v[flag]!);
  for (const a of v.addr ?? []) hostArgv.push('--addr', a);
  hostArgv.push('--log-level', v['log-level'] ?? 'warn');
  const host = parseServerArgs(hostArgv);
  if (host === 'help') return 'help';

  const count = v.count !== undefined ? wholeNumber('-c', v.count, 1, Number.MAX_SAFE_INTEGER, 'a whole number of requests from 1 up') : 0;
  let intervalMs = 1000;
  if (v.interval !== undefined) {
    intervalMs = seconds('-i', v.interval, 'a number of seconds such as 1 or 0.2') * 1000;
    if (intervalMs < MIN_INTERVAL_MS) throw new UsageError(`invalid -i ${JSON.stringify(v.interval)}: cannot flood; the smallest interval is ${MIN_INTERVAL_MS / 1000} s`);
    if (intervalMs > 2_147_483_000) throw new UsageError(`invalid -i ${JSON.stringify(v.interval)}: too long`);
  }
  const recordRoute = v['record-route'] ?? false;
  if (recordRoute && isV6) throw new UsageError('-R (Record Route) is an IPv4 option; it does not go with an IPv6 destination');
  const optionBytes = recordRoute ? RECORD_ROUTE_OPTION_BYTES : 0;
  const maxSize = (isV6 ? MAX_DATA6 : MAX_DATA) - optionBytes;
  const size = v.size !== undefined ? wholeNumber('-s', v.size, 0, Number.MAX_SAFE_INTEGER, 'a number of data bytes') : 56;
  if (size > maxSize) throw new UsageError(`invalid -s ${JSON.stringify(v.size)}: packet size ${size} is too large. Maximum is ${maxSize}`);
  const pattern = v.pattern !== undefined ? parsePattern(v.pattern) : null;
  const ttl = v.ttl !== undefined ? wholeNumber('-t', v.ttl, 1, 255, 'a time to live from 1 to 255') : null;
  let lingerMs = 10_000;
  if (v.timeout !== undefined) {
    lingerMs = seconds('-W', v.timeout, 'a number of seconds such as 1 or 0.5') * 1000;
    if (lingerMs < 1 || lingerMs > 2_147_483_000) throw new UsageError(`invalid -W ${JSON.stringify(v.timeout)}: bad linger time (from 0.001 s)`);
  }
  let deadlineMs: number | null = null;
  if (v.deadline !== undefined) {
    deadlineMs = seconds('-w', v.deadline, 'a number of seconds') * 1000;
    if (deadlineMs <= 0 || deadlineMs > 2_147_483_000) throw new UsageError(`invalid -w ${JSON.stringify(v.deadline)}: expected a number of seconds above 0`);
  }
  if (host.taps.length !== 1) throw new UsageError('ping runs on one --tap');
  const tapName = host.taps[0]!.name;
  let zone: string | null = null;
  if (v6 !== null) {
    // One tap, one link: its name is the only zone (a link-local DEST without one means it).
    if (v6.zone !== null && v6.zone !== tapName) throw new FatalError(`${destinationText}: Name or service not known`, 2);
    zone = v6.zone ?? tapName;
  }
  let source: IpAddress | null = null;
  let interfaceText: string | null = null;
  if (v.interface !== undefined) {
    const i = v.interface;
    const s4 = parseIpv4(i);
    const s6 = s4 === null ? parseIpv6(i) : null;
    if (s4 !== null || s6 !== null) {
      if ((s4 !== null && isV6) || (s6 !== null && !isV6 && family !== null)) throw new UsageError(`invalid -I ${JSON.stringify(i)}: not an address of the destination's family`);
      source = s4 ?? intern6(s6!);
      interfaceText = '';
    } else if (i === tapName) interfaceText = i;
    else throw new UsageError(`invalid -I ${JSON.stringify(i)}: pstack ping runs on --tap ${tapName} only (give that name or one of pstack's addresses)`);
  }
  return {
    tap: host.taps[0]!,
    gateway: host.gateway,
    mtu: host.mtu,
    pcapPath: host.pcapPath,
    logLevel: host.logLevel as PingConfig['logLevel'],
    dns: host.dns,
    destination,
    destinationText,
    family,
    zone,
    source,
    interfaceText,
    count,
    intervalMs,
    size,
    pattern,
    ttl,
    lingerMs,
    deadlineMs,
    recordRoute,
    verbose: v.verbose ?? false,
    quiet: v.quiet ?? false,
  };
}

// ------------------------------------------------------------------------------ payload
