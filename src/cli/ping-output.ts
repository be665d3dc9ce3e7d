/**
 * What `pstack ping` prints, as iputils prints it: the echo payload with its timestamp, reply
 * lines, recorded routes, ICMP error descriptions and the closing statistics (integer
 * microseconds, as iputils computes them).
 */

import { ipv4ToString, readIpv4 } from '../wire/addr.js';
import { IcmpType, type IcmpPacket } from '../wire/icmp.js';
import { IPV4_MIN_HEADER } from '../wire/ipv4.js';
import { Ipv4OptionType, readRecordRoute } from '../wire/ipv4-options.js';
import { dissectIcmp } from '../observe/dissect.js';
import { TIMESTAMP_BYTES } from './ping-args.js';

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

/** How iputils words an ICMPv6 error (ping6_common.c pr_icmph), without the trailing newline. */
export function describeIcmpv6Error(type: number, code: number, info: number): string {
  switch (type) {
    case 1: {
      const why = ['No route', 'Administratively prohibited', 'Beyond scope of source address', 'Address unreachable', 'Port unreachable'][code];
      return `Destination unreachable: ${why ?? `Unknown code ${code}`}`;
    }
    case 2:
      return `Packet too big: mtu=${info}${code !== 0 ? `, code=${code}` : ''}`;
    case 3:
      return `Time exceeded: ${code === 0 ? 'Hop limit' : code === 1 ? 'Defragmentation failure' : `code ${code}`}`;
    case 4: {
      const what = ['Wrong header field ', 'Unknown header ', 'Unknown option '][code] ?? `code ${code} `;
      return `Parameter problem: ${what}at ${info}`;
    }
    default:
      return `Unknown icmp type: ${type}`;
  }
}

export const hex2 = (n: number) => n.toString(16).padStart(2, '0');
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
