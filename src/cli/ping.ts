/**
 * `pstack ping`: pstack is itself a host on a TAP device and pings from its own stack, with the
 * options, output and exit codes of iputils ping, so what a learner reads matches what `ping`
 * on Linux prints (and the statistics are computed the same way, integer microseconds and all).
 *
 *   PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.
 *   64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=0.321 ms
 *
 *   --- 192.0.2.1 ping statistics ---
 *   1 packets transmitted, 1 received, 0% packet loss, time 0ms
 *   rtt min/avg/max/mdev = 0.321/0.321/0.321/0.000 ms
 *
 * The payload is laid out as iputils lays it out on 64-bit Linux: a struct timeval (8-byte
 * seconds, 8-byte microseconds, little-endian) in the first 16 bytes when there is room, then the
 * -p pattern or the filler byte i at offset i. The round-trip time is read back from the echoed
 * timestamp, and the rest of the echoed data is compared with what was sent.
 */

import { parseArgs } from 'node:util';
import { ipv4ToString, parseIpv4, readIpv4, type Ipv4Address } from '../wire/addr.js';
import { IcmpType, ICMP_HEADER_LENGTH, type IcmpPacket } from '../wire/icmp.js';
import { IPV4_MIN_HEADER, IpProtocol, type Ipv4Packet } from '../wire/ipv4.js';
import { buildRecordRouteOption, Ipv4OptionType, readRecordRoute } from '../wire/ipv4-options.js';
import { dissectIcmp } from '../observe/dissect.js';
import { createLogger } from '../observe/log.js';
import type { Stack } from '../api/stack.js';
import type { IcmpListener } from '../stack/icmp.js';
import type { Timer } from '../time/clock.js';
import { FatalError, UsageError } from './errors.js';
import { startHost, type TapSpec } from './host.js';
import { parseServerArgs } from './server.js';

export const PING_USAGE = `usage: pstack ping [options] DEST
Ping DEST (an IPv4 address) from pstack's own stack on a TAP device, like iputils ping.
  -c, --count N         stop after N replies (or errors); default: until Ctrl-C
  -i, --interval S      seconds between requests (default 1; fractions allowed, at least 0.002)
  -s, --size N          data bytes per request (default 56, i.e. 64 ICMP bytes, 84 IP bytes)
  -p, --pattern HEX     fill the data with this pattern of up to 16 bytes, e.g. -p 6162
  -t, --ttl N           time to live of the requests (1 to 255; default 64)
  -W, --timeout S       seconds to wait for replies after the last request (default 10;
                        a request still waiting for ARP is waited for until ARP gives up)
  -w, --deadline S      stop after S seconds, however many replies came back
  -R, --record-route    ask every hop to record its address (IP Record Route) and print the route
  -v, --verbose         also print the header of the datagram an ICMP error quotes
  -q, --quiet           print only the first line and the statistics
  -n, --numeric         accepted for habit's sake: pstack never looks names up
host options (as pstack server; pstack is a full host on the tap while it pings):
  --tap NAME            TAP device to open (default tap0)
  --addr CIDR           pstack's address (default 192.0.2.2/24)
  --host-addr CIDR      address of the kernel's side of the tap (default 192.0.2.1/24; "none" to skip)
  --gateway IP          default gateway (default 192.0.2.1; "none" for no default route)
  --mac MAC             pstack's MAC (default 00:00:5e:00:53:01)
  --mtu N               MTU of the tap (default 1500)
  --log-level LEVEL     error | warn | info | debug | trace (default warn)
  --pcap FILE           write every frame in and out to FILE
  -h, --help            show this help
exit status: 0 if any reply came back, 1 if none did (or fewer than -c within -w), 2 on errors`;

/** Bytes of the timestamp at the start of the data (struct timeval on 64-bit Linux). */
export const TIMESTAMP_BYTES = 16;
/** Largest IPv4 datagram, less the IP and ICMP headers. */
const MAX_DATA = 65535 - IPV4_MIN_HEADER - ICMP_HEADER_LENGTH;
/** The Record Route option ping -R sends: nine slots, padded to 40 bytes. */
const RECORD_ROUTE_OPTION_BYTES = 40;
/** Smallest interval accepted: pstack ping does not flood (iputils' limit for users). */
const MIN_INTERVAL_MS = 2;

/** What one ping run does, as iputils' options say it. */
export interface PingBehaviour {
  destination: Ipv4Address;
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
export interface PingConfig extends PingBehaviour {
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

const HOST_FLAGS = ['tap', 'addr', 'host-addr', 'gateway', 'mac', 'mtu', 'pcap'] as const;

export function parsePingArgs(argv: string[]): PingConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
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
        addr: { type: 'string' },
        'host-addr': { type: 'string' },
        gateway: { type: 'string' },
        mac: { type: 'string' },
        mtu: { type: 'string' },
        'log-level': { type: 'string' },
        pcap: { type: 'string' },
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
  const destination = parseIpv4(destinationText);
  if (destination === null) throw new UsageError(`${destinationText}: not an IPv4 address (pstack ping does not look names up; give an address like 192.0.2.1)`);

  // The host flags mean exactly what they mean for pstack server: let its parser check them.
  const hostArgv: string[] = [];
  for (const flag of HOST_FLAGS) if (v[flag] !== undefined) hostArgv.push(`--${flag}`, v[flag]!);
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
  const optionBytes = recordRoute ? RECORD_ROUTE_OPTION_BYTES : 0;
  const maxSize = MAX_DATA - optionBytes;
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
  return {
    tap: host.taps[0]!,
    gateway: host.gateway,
    mtu: host.mtu,
    pcapPath: host.pcapPath,
    logLevel: host.logLevel as PingConfig['logLevel'],
    destination,
    destinationText,
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

/**
 * The data of every request before its timestamp is written: iputils' filler (byte i is i)
 * or the pattern repeated from the start of the data (the timestamp then covers its first 16).
 */
export function buildEchoData(size: number, pattern: Uint8Array | null): Uint8Array {
  const data = new Uint8Array(size);
  if (pattern === null || pattern.length === 0) for (let i = 0; i < size; i++) data[i] = i & 0xff;
  else for (let i = 0; i < size; i++) data[i] = pattern[i % pattern.length]!;
  return data;
}

/** Write a struct timeval (64-bit seconds, 64-bit microseconds, little-endian) at the start. */
export function writeTimestamp(data: Uint8Array, wallClockUs: number): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const us = Math.floor(wallClockUs);
  view.setBigInt64(0, BigInt(Math.floor(us / 1_000_000)), true);
  view.setBigInt64(8, BigInt(us % 1_000_000), true);
}

/** The timestamp an echoed payload carries, in microseconds since the epoch. */
export function readTimestamp(data: Uint8Array, offset = 0): number {
  const view = new DataView(data.buffer, data.byteOffset + offset, TIMESTAMP_BYTES);
  return Number(view.getBigInt64(0, true)) * 1_000_000 + Number(view.getBigInt64(8, true));
}

/**
 * iputils' report of echoed data that differs from what was sent (after the timestamp): the
 * first wrong byte, then every received byte, 32 to a line. Empty when the data is intact.
 */
export function describeWrongData(sent: Uint8Array, received: Uint8Array, start: number): string {
  const end = Math.min(sent.length, received.length);
  for (let i = start; i < end; i++) {
    if (sent[i] === received[i]) continue;
    let out = `\nwrong data byte #${i} should be 0x${sent[i]!.toString(16)} but was 0x${received[i]!.toString(16)}`;
    for (let j = start; j < end; j++) {
      if (j % 32 === start % 32) out += `\n#${j}\t`;
      out += `${received[j]!.toString(16)} `;
    }
    return out;
  }
  return '';
}

// ------------------------------------------------------------------------------ formatting

/** "time=0.321 ms" and its coarser forms for longer times, exactly as iputils rounds them. */
export function formatTripTime(us: number): string {
  if (us >= 100000 - 50) return `${Math.trunc((us + 500) / 1000)} ms`;
  if (us >= 10000 - 5) return `${Math.trunc((us + 50) / 1000)}.${Math.trunc(((us + 50) % 1000) / 100)} ms`;
  if (us >= 1000) return `${Math.trunc((us + 5) / 1000)}.${String(Math.trunc(((us + 5) % 1000) / 10)).padStart(2, '0')} ms`;
  return `${Math.trunc(us / 1000)}.${String(us % 1000).padStart(3, '0')} ms`;
}

/** Microseconds as milliseconds with three decimals, truncated ("%ld.%03ld"). */
function msWith3(us: bigint | number): string {
  const n = BigInt(us);
  return `${n / 1000n}.${String(n % 1000n).padStart(3, '0')}`;
}

/** C's printf("%g") of a float, which is how iputils prints the packet loss. */
export function formatPercentG(value: number): string {
  const x = Math.fround(value);
  if (x === 0) return '0';
  const exponent = Math.floor(Math.log10(Math.abs(x)));
  const strip = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, exp] = x.toExponential(5).split('e') as [string, string];
    const e = Number(exp);
    return `${strip(mantissa)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return strip(x.toFixed(Math.max(0, 5 - exponent)));
}

/**
 * Integer square root by Newton's method, step for step as iputils' llsqrt, including its
 * last step (which can land one above the floor: 3 gives 2).
 */
export function integerSqrt(a: bigint): bigint {
  let x = a;
  if (x > 0n) {
    let prev: bigint | null = null;
    while (prev === null || x < prev) {
      prev = x;
      x = (x + a / x) / 2n;
    }
  }
  return x;
}

/** What iputils counts during a run; the statistics block is computed from these alone. */
export class PingStatistics {
  transmitted = 0;
  received = 0;
  duplicates = 0;
  errors = 0;
  /** Largest number of requests in flight when one was answered (iputils' "pipe"). */
  pipesize = 0;
  /** Sum and sum of squares of round-trip times in microseconds; exact, as iputils' integers. */
  tsum = 0n;
  tsum2 = 0n;
  tmin = Number.MAX_SAFE_INTEGER;
  tmax = 0;

  addRoundTrip(us: number): void {
    const t = BigInt(us);
    this.tsum += t;
    this.tsum2 += t * t;
    if (us < this.tmin) this.tmin = us;
    if (us > this.tmax) this.tmax = us;
  }

  /** An answer (reply or error) for `seq` arrived: note how many requests were outstanding. */
  acknowledge(seq: number): void {
    const diff = (this.transmitted - seq) & 0xffff;
    if (diff <= 0x7fff && diff + 1 > this.pipesize) this.pipesize = diff + 1;
  }

  /** min/avg/max/mdev in microseconds, with iputils' integer arithmetic (mdev = sqrt(E[t²] - E[t]²)). */
  roundTrip(): { min: number; avg: bigint; max: number; mdev: bigint } | null {
    const total = BigInt(this.received + this.duplicates);
    if (this.received === 0 || total === 0n) return null;
    const avg = this.tsum / total;
    // The same order of operations as iputils, so small times round the same way.
    const variance = this.tsum < 2147483647n ? (this.tsum2 - (this.tsum * this.tsum) / total) / total : this.tsum2 / total - avg * avg;
    return { min: this.tmin, avg, max: this.tmax, mdev: integerSqrt(variance) };
  }
}

/**
 * The closing block, beginning with the empty line iputils prints before it:
 * "--- X ping statistics ---", the packet counts, then the rtt line (when times were measured)
 * and the pipe size (when more than one request was ever outstanding).
 */
export function formatStatistics(stats: PingStatistics, destination: string, elapsedMs: number, timing: boolean): string {
  let out = `\n--- ${destination} ping statistics ---\n`;
  out += `${stats.transmitted} packets transmitted, ${stats.received} received`;
  if (stats.duplicates > 0) out += `, +${stats.duplicates} duplicates`;
  if (stats.errors > 0) out += `, +${stats.errors} errors`;
  if (stats.transmitted > 0) {
    const loss = ((stats.transmitted - stats.received) * 100) / stats.transmitted;
    out += `, ${formatPercentG(loss)}% packet loss, time ${Math.round(elapsedMs)}ms`;
  }
  out += '\n';
  let comma = '';
  const rtt = timing ? stats.roundTrip() : null;
  if (rtt !== null) {
    out += `rtt min/avg/max/mdev = ${msWith3(rtt.min)}/${msWith3(rtt.avg)}/${msWith3(rtt.max)}/${msWith3(rtt.mdev)} ms`;
    comma = ', ';
  }
  if (stats.pipesize > 1) out += `${comma}pipe ${stats.pipesize}`;
  return out + '\n';
}

/**
 * The options of a reply's IP header as iputils prints them after the reply line: "\nRR: " and
 * one tab-indented address per line, or "\t(same route)" when the route equals the last one
 * printed. `previous` holds that last route between calls.
 */
export function formatReplyOptions(buf: Uint8Array, offset: number, length: number, previous: { route: string | null }): string {
  let out = '';
  let i = offset;
  const end = offset + length;
  while (i < end) {
    const type = buf[i]!;
    if (type === Ipv4OptionType.EOL) break;
    if (type === Ipv4OptionType.NOP) {
      out += '\nNOP';
      i++;
      continue;
    }
    if (i + 1 >= end) break;
    const len = buf[i + 1]!;
    if (len < 2 || i + len > end) break;
    if (type === Ipv4OptionType.RR || type === Ipv4OptionType.LSRR || type === Ipv4OptionType.SSRR) {
      const rr = readRecordRoute(buf, { type, offset: i, length: len });
      if (rr !== null && rr.recorded.length > 0) {
        const addresses = rr.recorded.map(ipv4ToString);
        if (type === Ipv4OptionType.RR) {
          const key = addresses.join(' ');
          if (key === previous.route) out += '\t(same route)';
          else {
            previous.route = key;
            out += '\nRR: ' + addresses.map((a) => `\t${a}\n`).join('');
          }
        } else {
          out += `\n${type === Ipv4OptionType.SSRR ? 'S' : 'L'}SRR: ` + addresses.map((a) => `\t${a}\n`).join('');
        }
      }
    } else {
      out += `\nunknown option ${type.toString(16)}`;
    }
    i += len;
  }
  return out;
}

/** How iputils words an ICMP error (pr_icmph), without the trailing newline. */
export function describeIcmpError(type: number, code: number, info: number): string {
  switch (type) {
    case IcmpType.DestinationUnreachable:
      switch (code) {
        case 0: return 'Destination Net Unreachable';
        case 1: return 'Destination Host Unreachable';
        case 2: return 'Destination Protocol Unreachable';
        case 3: return 'Destination Port Unreachable';
        case 4: return `Frag needed and DF set (mtu = ${info})`;
        case 5: return 'Source Route Failed';
        case 6: return 'Destination Net Unknown';
        case 7: return 'Destination Host Unknown';
        case 8: return 'Source Host Isolated';
        case 9: return 'Destination Net Prohibited';
        case 10: return 'Destination Host Prohibited';
        case 11: return 'Destination Net Unreachable for Type of Service';
        case 12: return 'Destination Host Unreachable for Type of Service';
        case 13: return 'Packet filtered';
        case 14: return 'Precedence Violation';
        case 15: return 'Precedence Cutoff';
        default: return `Dest Unreachable, Bad Code: ${code}`;
      }
    case IcmpType.SourceQuench:
      return 'Source Quench';
    case IcmpType.Redirect: {
      const kind = ['Redirect Network', 'Redirect Host', 'Redirect Type of Service and Network', 'Redirect Type of Service and Host'][code] ?? `Redirect, Bad Code: ${code}`;
      return `${kind}(New nexthop: ${ipv4ToString(info)})`;
    }
    case IcmpType.TimeExceeded:
      return code === 0 ? 'Time to live exceeded' : code === 1 ? 'Frag reassembly time exceeded' : `Time exceeded, Bad Code: ${code}`;
    case IcmpType.ParameterProblem:
      return `Parameter problem: pointer = ${info}`;
    default:
      return `Bad ICMP type: ${type}`;
  }
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/**
 * The quoted header of an ICMP error for -v: iputils' (and BSD's) one-line header table, then
 * the dissector's reading of the quoted datagram.
 */
export function formatQuotedHeader(quoted: Uint8Array, icmpMessage: IcmpPacket | null): string {
  if (quoted.length < IPV4_MIN_HEADER) return '';
  const b = quoted;
  const flagsOffset = (b[6]! << 8) | b[7]!;
  let out = 'Vr HL TOS  Len   ID Flg  off TTL Pro  cks      Src      Dst Data\n';
  out += ` ${(b[0]! >> 4).toString(16)}  ${(b[0]! & 0xf).toString(16)}  ${hex2(b[1]!)} ${hex4((b[2]! << 8) | b[3]!)} ${hex4((b[4]! << 8) | b[5]!)}`;
  out += `   ${(flagsOffset >> 13).toString(16)} ${hex4(flagsOffset & 0x1fff)}`;
  out += `  ${hex2(b[8]!)}  ${hex2(b[9]!)} ${hex4((b[10]! << 8) | b[11]!)}`;
  out += ` ${ipv4ToString(readIpv4(b, 12))}  ${ipv4ToString(readIpv4(b, 16))} \n`;
  if (icmpMessage !== null) {
    const block = dissectIcmp('incoming', icmpMessage.buf, icmpMessage.offset, icmpMessage.length);
    const original = block.lines.find((l) => l.startsWith('original:'));
    if (original !== undefined) out += `original datagram: ${original.slice('original:'.length).trim()}\n`;
  }
  return out;
}

/** Wall-clock microseconds, the time base of the timestamp in the payload (gettimeofday). */
export function systemWallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

// ------------------------------------------------------------------------------ the session

export interface PingSessionOptions extends PingBehaviour {
  /** Echo identifier; random by default, as iputils picks one for its raw socket. */
  id?: number;
  /** Where the normal output goes (stdout). */
  write: (text: string) => void;
  /** Where warnings go (stderr). */
  warn: (text: string) => void;
  wallClockUs?: () => number;
}

/** How often the end-of-run wait looks again at a request still waiting for ARP. */
const ARP_RECHECK_MS = 100;

/**
 * One run of ping on a stack: sends the requests on the stack's timers, listens to the stack's
 * ICMP service, prints what iputils prints, and resolves with iputils' exit code.
 */
export class PingSession {
  readonly stats = new PingStatistics();
  private readonly id: number;
  private readonly data: Uint8Array;
  private readonly timing: boolean;
  private readonly options: Uint8Array | undefined;
  private readonly received = new Uint8Array(65536 / 8);
  private readonly wallClockUs: () => number;
  private readonly sendTimer: Timer;
  private readonly lingerTimer: Timer;
  private readonly deadlineTimer: Timer;
  private readonly previousRoute = { route: null as string | null };
  private readonly listener: IcmpListener;
  private startedAt = 0;
  private lastSentAt = 0;
  private nextSendAt = 0;
  private finished = false;
  /** iputils' exit status once the run is over (also what `done` resolves with), else null. */
  exitCode: number | null = null;
  private resolveDone: (code: number) => void = () => {};
  readonly done: Promise<number>;

  constructor(private readonly stack: Stack, private readonly opts: PingSessionOptions) {
    this.id = (opts.id ?? Math.floor(Math.random() * 0x10000)) & 0xffff;
    this.data = buildEchoData(opts.size, opts.pattern);
    this.timing = opts.size >= TIMESTAMP_BYTES;
    this.options = opts.recordRoute ? buildRecordRouteOption(9) : undefined;
    this.wallClockUs = opts.wallClockUs ?? systemWallClockUs;
    this.sendTimer = stack.timers.create(() => this.sendDue());
    this.lingerTimer = stack.timers.create(() => this.lingerExpired());
    this.deadlineTimer = stack.timers.create(() => this.finish());
    this.listener = {
      echoReply: (from, id, seq, ttl, ip, icmp) => this.onEchoReply(from, id, seq, ttl, ip, icmp),
      error: (from, type, code, original, _ip, icmp) => this.onIcmpError(from, type, code, original, icmp),
    };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** The header line(s), then the first request; resolves (see `done`) with the exit code. */
  start(): Promise<number> {
    const o = this.opts;
    if (o.pattern !== null && !o.quiet) this.opts.write(`PATTERN: 0x${Array.from(o.pattern, hex2).join('')}\n`);
    const optionBytes = this.options !== undefined ? RECORD_ROUTE_OPTION_BYTES : 0;
    o.write(`PING ${o.destinationText} (${ipv4ToString(o.destination)}) ${o.size}(${o.size + ICMP_HEADER_LENGTH + optionBytes + IPV4_MIN_HEADER}) bytes of data.\n`);
    this.stack.icmp.listeners.add(this.listener);
    this.startedAt = this.stack.clock.now();
    this.nextSendAt = this.startedAt;
    if (o.deadlineMs !== null) this.deadlineTimer.arm(o.deadlineMs);
    this.sendDue();
    return this.done;
  }

  /** Ctrl-C: print the statistics now. */
  interrupt(): void {
    this.finish();
  }

  private get allSent(): boolean {
    // With a deadline, iputils keeps sending until -c replies came back or time is up.
    return this.opts.count > 0 && this.stats.transmitted >= this.opts.count && this.opts.deadlineMs === null;
  }

  private sendDue(): void {
    if (this.finished || this.allSent) return;
    // A request due at the deadline is not sent (the deadline timer may fire just after).
    if (this.opts.deadlineMs !== null && this.stack.clock.now() - this.startedAt >= this.opts.deadlineMs) {
      this.finish();
      return;
    }
    this.sendOne();
    if (this.finished) return;
    if (this.allSent) {
      this.startLinger();
      return;
    }
    // Keep to the schedule, but after a stall send the next one an interval later, not a burst.
    const now = this.stack.clock.now();
    this.nextSendAt = Math.max(this.nextSendAt + this.opts.intervalMs, now);
    this.sendTimer.armAt(this.nextSendAt);
  }

  private sendOne(): void {
    const o = this.opts;
    const seq = (this.stats.transmitted + 1) & 0xffff;
    this.received[seq >> 3]! &= ~(1 << (seq & 7));
    // As iputils, the run's time is measured up to the moment the last request was due.
    this.lastSentAt = this.stack.clock.now();
    if (this.timing) writeTimestamp(this.data, this.wallClockUs());
    const errorsBefore = this.stats.errors;
    this.stats.transmitted++;
    const sent = this.stack.icmp.sendEcho(o.destination, this.id, seq, this.data, { ttl: o.ttl ?? undefined, options: this.options });
    if (!sent) {
      o.warn('pstack: sendmsg: Network is unreachable\n');
      return;
    }
    // Unless the stack already said so while sending (a local error is delivered at once).
    if (!this.finished && this.stats.errors === errorsBefore) this.reportFailedNeighbor(seq);
  }

  /**
   * A next hop whose ARP resolution just failed drops new packets for a few seconds without a
   * word; Linux answers each of them with Host Unreachable, and so does ping here.
   */
  private reportFailedNeighbor(seq: number): void {
    const rt = this.stack.route(this.opts.destination);
    if (rt === null || rt.iface.isLoopback) return;
    if (this.stack.neighbors.get(rt.nextHop)?.state !== 'failed') return;
    this.countError(ipv4ToString(rt.src), seq, IcmpType.DestinationUnreachable, 1, 0, null, null);
  }

  private startLinger(): void {
    // As iputils: twice the longest round trip (at least one interval) once something came
    // back, else the -W time.
    const wait = this.stats.received > 0 ? Math.max((2 * this.stats.tmax) / 1000, this.opts.intervalMs) : this.opts.lingerMs;
    this.lingerTimer.arm(wait);
  }

  private lingerExpired(): void {
    if (this.finished) return;
    // A request still queued behind ARP has not left yet; its answer (a reply, or Host
    // Unreachable when ARP gives up after its few retries) is still to come.
    if (this.awaitingArp()) {
      this.lingerTimer.arm(ARP_RECHECK_MS);
      return;
    }
    this.finish();
  }

  private awaitingArp(): boolean {
    const rt = this.stack.route(this.opts.destination);
    if (rt === null || rt.iface.isLoopback) return false;
    const entry = this.stack.neighbors.get(rt.nextHop);
    return entry !== undefined && entry.state === 'incomplete' && entry.queue.length > 0;
  }

  private checkDone(): void {
    const o = this.opts;
    if (o.count > 0 && this.stats.received + this.stats.errors >= o.count) this.finish();
    else if (o.deadlineMs !== null && this.stats.errors > 0) this.finish();
  }

  private onEchoReply(from: Ipv4Address, id: number, seq: number, ttl: number, ip: Ipv4Packet, icmp: IcmpPacket): void {
    if (this.finished || id !== this.id) return;
    const o = this.opts;
    const stats = this.stats;
    const length = icmp.length;
    const payload = icmp.buf.subarray(icmp.dataOffset, icmp.offset + icmp.length);
    let tripUs = 0;
    if (this.timing && payload.length >= TIMESTAMP_BYTES) {
      tripUs = this.wallClockUs() - readTimestamp(payload);
      if (tripUs < 0) {
        o.warn(`pstack: Warning: time of day goes back (${tripUs}us), taking countermeasures\n`);
        tripUs = 0;
      }
      stats.addRoundTrip(tripUs);
    }
    stats.received++;
    stats.acknowledge(seq);
    const bit = 1 << (seq & 7);
    const duplicate = (this.received[seq >> 3]! & bit) !== 0;
    if (duplicate) {
      stats.duplicates++;
      stats.received--;
    } else this.received[seq >> 3]! |= bit;
    if (!o.quiet) {
      let line = `${length} bytes from ${ipv4ToString(from)}: icmp_seq=${seq} ttl=${ttl}`;
      if (length < o.size + ICMP_HEADER_LENGTH) line += ' (truncated)\n';
      else {
        if (this.timing) line += ` time=${formatTripTime(tripUs)}`;
        if (duplicate) line += ' (DUP!)';
        line += describeWrongData(this.data, payload, this.timing ? TIMESTAMP_BYTES : 0);
        if (ip.headerLength > IPV4_MIN_HEADER) line += formatReplyOptions(ip.buf, ip.optionsOffset, ip.optionsLength, this.previousRoute);
        line += '\n';
      }
      o.write(line);
    }
    this.checkDone();
  }

  private onIcmpError(from: Ipv4Address, type: number, code: number, original: Ipv4Packet, icmp: IcmpPacket): void {
    if (this.finished) return;
    // Only errors about our own echo requests to this destination: the quoted header and the
    // 8 bytes after it hold our ICMP header with its identifier and sequence number.
    const hl = original.headerLength;
    if (original.protocol !== IpProtocol.ICMP || original.dst !== this.opts.destination) return;
    const q = original.offset + hl;
    if (original.length < hl + ICMP_HEADER_LENGTH || q + ICMP_HEADER_LENGTH > original.buf.length) return;
    const b = original.buf;
    if (b[q] !== IcmpType.EchoRequest || ((b[q + 4]! << 8) | b[q + 5]!) !== this.id) return;
    const seq = (b[q + 6]! << 8) | b[q + 7]!;
    const info = type === IcmpType.DestinationUnreachable && code === 4 ? icmp.nextHopMtu : type === IcmpType.ParameterProblem ? icmp.pointer : icmp.rest;
    const quoted = b.slice(original.offset, original.offset + Math.min(original.length, hl + ICMP_HEADER_LENGTH));
    if (type === IcmpType.Redirect || type === IcmpType.SourceQuench) {
      // Advice, not a failure: printed (as iputils, with a colon) but not counted.
      if (!this.opts.quiet) {
        this.opts.write(`From ${ipv4ToString(from)}: icmp_seq=${seq} ${describeIcmpError(type, code, info)}\n` + (this.opts.verbose ? formatQuotedHeader(quoted, icmp) : ''));
      }
      return;
    }
    this.countError(ipv4ToString(from), seq, type, code, info, quoted, icmp);
  }

  private countError(from: string, seq: number, type: number, code: number, info: number, quoted: Uint8Array | null, icmp: IcmpPacket | null): void {
    this.stats.errors++;
    this.stats.acknowledge(seq);
    if (!this.opts.quiet) {
      let text = `From ${from} icmp_seq=${seq} ${describeIcmpError(type, code, info)}\n`;
      if (this.opts.verbose && quoted !== null) text += formatQuotedHeader(quoted, icmp);
      this.opts.write(text);
    }
    this.checkDone();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.sendTimer.disarm();
    this.lingerTimer.disarm();
    this.deadlineTimer.disarm();
    this.stack.icmp.listeners.delete(this.listener);
    const o = this.opts;
    const elapsed = this.stats.transmitted > 0 ? this.lastSentAt - this.startedAt : 0;
    o.write(formatStatistics(this.stats, o.destinationText, elapsed, this.timing));
    const missed = this.stats.received === 0 || (o.deadlineMs !== null && o.count > 0 && this.stats.received < o.count);
    this.exitCode = missed ? 1 : 0;
    this.resolveDone(this.exitCode);
  }
}

// ------------------------------------------------------------------------------ the command

export async function runPing(argv: string[]): Promise<number> {
  const config = parsePingArgs(argv);
  if (config === 'help') {
    process.stdout.write(PING_USAGE + '\n');
    return 0;
  }
  const logger = createLogger({ level: config.logLevel });
  let host;
  try {
    host = await startHost({ taps: [config.tap], gateway: config.gateway, mtu: config.mtu, forwarding: false, pcapPath: config.pcapPath, logger });
  } catch (err) {
    // iputils exits 2 for every failure that is not "no reply".
    if (err instanceof FatalError) throw new FatalError(err.message, 2);
    throw err;
  }
  // Keeps Node running while waiting: the stack's own timers are unref'd on purpose.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signals: Array<[NodeJS.Signals, () => void]> = [];
  try {
    // iputils finds out before sending anything, by connecting a probe socket.
    if (host.stack.route(config.destination) === null) throw new FatalError('connect: Network is unreachable', 2);
    const session = new PingSession(host.stack, {
      ...config,
      write: (text) => process.stdout.write(text),
      warn: (text) => process.stderr.write(text),
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => session.interrupt();
      signals.push([signal, handler]);
      process.on(signal, handler);
    }
    return await session.start();
  } finally {
    for (const [signal, handler] of signals) process.off(signal, handler);
    clearInterval(keepAlive);
    host.close();
  }
}
