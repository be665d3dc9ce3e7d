/**
 * One line per packet in tcpdump's `-n` format (tcpdump 4.99 without -v), so `pstack capture`
 * can be read beside `tcpdump -n -i tap0` on the kernel's side of the same wire:
 *
 *   12:00:00.000000 ARP, Request who-has 192.0.2.2 tell 192.0.2.1, length 28
 *   12:00:00.000000 IP 192.0.2.1 > 192.0.2.2: ICMP echo request, id 123, seq 1, length 64
 *   12:00:00.000000 IP 192.0.2.1.40000 > 192.0.2.2.7: Flags [S], seq 123, win 64240, options [...], length 0
 *   12:00:00.000000 IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 1, seq 1, length 64
 *   12:00:00.000000 IP6 fe80::1 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28
 *
 * TCP sequence and acknowledgment numbers are shown relative after the first ACK-bearing
 * segment of a connection, exactly as tcpdump's per-conversation table does; that table lives
 * in a `TcpdumpFormatter` (one per capture). Malformed packets print tcpdump-like "[|ip]"
 * truncation marks rather than throwing.
 */

import { hexdumpX } from './hexdump.js';
import { summarizeIcmpv6, summarizeIgmp } from './summary.js';
import { compareIpv6, ipv6ToString } from '../wire/addr6.js';

const ETH_HEADER = 14;

/** Link layer of a frame: Ethernet (taps) or raw IP (loopback; the version nibble says 4 or 6). */
export type LinkKind = 'ethernet' | 'ip';

const ip4 = (b: Uint8Array, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const mac = (b: Uint8Array, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** "HH:MM:SS.uuuuuu" local time of `timestampUs` (microseconds since the epoch). */
export function tcpdumpTime(timestampUs: number): string {
  const d = new Date(Math.floor(timestampUs / 1000));
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(Math.floor(timestampUs % 1_000_000)).padStart(6, '0')}`;
}

interface SeqBase {
  seq: number;
  ack: number;
}

export class TcpdumpFormatter {
  /** tcpdump's tcp_seq_hash: per conversation (canonical order), the numbers to subtract. */
  private readonly conversations = new Map<string, SeqBase>();

  /** The line for one frame (without the timestamp and the newline). */
  format(buf: Uint8Array, offset: number, length: number, link: LinkKind): string {
    const end = Math.min(buf.length, offset + length);
    if (link === 'ip') return offset < end && buf[offset]! >> 4 === 6 ? this.ip6(buf, offset, end) : this.ip(buf, offset, end);
    if (end - offset < ETH_HEADER) return '[|ether]';
    const type = u16(buf, offset + 12);
    if (type === 0x0806) return arp(buf, offset + ETH_HEADER, end);
    if (type === 0x0800) return this.ip(buf, offset + ETH_HEADER, end);
    if (type === 0x86dd) return this.ip6(buf, offset + ETH_HEADER, end);
    return `ethertype Unknown (0x${type.toString(16).padStart(4, '0')}), length ${end - offset}: `;
  }

  /** The line with its timestamp, and with -X the hex and ASCII dump of the packet after the link header. */
  line(timestampUs: number, buf: Uint8Array, offset: number, length: number, link: LinkKind, hex = false): string {
    let out = `${tcpdumpTime(timestampUs)} ${this.format(buf, offset, length, link)}\n`;
    if (hex) {
      const skip = link === 'ethernet' && length >= ETH_HEADER ? ETH_HEADER : 0;
      out += hexdumpX(buf, offset + skip, length - skip, '\t').join('\n') + '\n';
    }
    return out;
  }

  private ip(b: Uint8Array, o: number, end: number): string {
    if (end - o < 20 || b[o]! >> 4 !== 4) return 'IP [|ip]';
    const ihl = (b[o]! & 15) * 4;
    const total = u16(b, o + 2);
    if (ihl < 20 || total < ihl) return 'IP [|ip]';
    const pend = Math.min(end, o + total);
    const src = ip4(b, o + 12);
    const dst = ip4(b, o + 16);
    const proto = b[o + 9]!;
    const frag = u16(b, o + 6);
    const fragOffset = (frag & 0x1fff) * 8;
    if (fragOffset !== 0) return `IP ${src} > ${dst}: ip-proto-${proto}`;
    const p = o + ihl;
    const len = total - ihl;
    switch (proto) {
      case 1: return `IP ${src} > ${dst}: ${icmp(b, p, pend, len)}`;
      case 2: return `IP ${src} > ${dst}: ${igmp(b, p, Math.max(0, pend - p))}`;
      case 6: return `IP ${this.tcp(b, src, dst, p, pend, len, compareU32(b, o + 12, o + 16), false)}`;
      case 17: return `IP ${udp(b, src, dst, p, pend, false)}`;
      default: return `IP ${src} > ${dst}:  ip-proto-${proto} ${len}`;
    }
  }

  /**
   * IPv6 as tcpdump's ip6_print: extension headers named in order ("HBH", "DSTOPT", "RT6 (...)",
   * "frag (offset|length)"), after which TCP and UDP name their ports without the addresses.
   */
  private ip6(b: Uint8Array, o: number, end: number): string {
    if (end - o < 40 || b[o]! >> 4 !== 6) return 'IP6 [|ip6]';
    const src = ipv6ToString(b, o + 8);
    const dst = ipv6ToString(b, o + 24);
    const pend = Math.min(end, o + 40 + u16(b, o + 4));
    let next = b[o + 6]!;
    let at = o + 40;
    let ext = '';
    for (let i = 0; i < 8; i++) {
      if (next === 0 || next === 60 || next === 43) {
        if (pend - at < 8) return `IP6 ${src} > ${dst}: ${ext}[|ip6]`;
        const len = (b[at + 1]! + 1) * 8;
        if (next === 0) ext += 'HBH ';
        else if (next === 60) ext += 'DSTOPT ';
        else ext += routingHeader(b, at, Math.min(pend, at + len));
        next = b[at]!;
        at += len;
      } else if (next === 44) {
        if (pend - at < 8) return `IP6 ${src} > ${dst}: ${ext}[|frag]`;
        const fragOffset = u16(b, at + 2) & 0xfff8;
        ext += `frag (${fragOffset}|${pend - at - 8})`;
        next = b[at]!;
        at += 8;
        if (fragOffset !== 0) return `IP6 ${src} > ${dst}: ${ext}`;
        ext += ' ';
      } else break;
    }
    if (at > pend) return `IP6 ${src} > ${dst}: ${ext}[|ip6]`;
    const len = pend - at;
    const head = `IP6 ${src} > ${dst}: ${ext}`;
    switch (next) {
      case 58: return head + icmp6(b, at, len);
      case 6: {
        const line = this.tcp(b, src, dst, at, pend, len, compareIpv6(b, b, o + 8, o + 24), ext !== '');
        return ext === '' ? `IP6 ${line}` : head + line;
      }
      case 17: {
        const line = udp(b, src, dst, at, pend, ext !== '');
        return ext === '' ? `IP6 ${line}` : head + line;
      }
      case 59: return `${head}no next header`;
      default: return `${head}ip-proto-${next} ${len}`;
    }
  }

  /** `srcAfterDst`: the source address sorts after the destination (tcpdump's conversation order); `portsOnly` after IPv6 extension headers. */
  private tcp(b: Uint8Array, src: string, dst: string, o: number, end: number, ipLen: number, srcAfterDst: number, portsOnly: boolean): string {
    if (end - o < 20) return `${portsOnly ? '' : `${src} > ${dst}: `}tcp [|tcp]`;
    const sport = u16(b, o);
    const dport = u16(b, o + 2);
    let seq = u32(b, o + 4);
    let ack = u32(b, o + 8);
    const hlen = (b[o + 12]! >> 4) * 4;
    const flags = b[o + 13]!;
    const win = u16(b, o + 14);
    const urp = u16(b, o + 18);
    let out = `${portsOnly ? `${sport} > ${dport}` : `${src}.${sport} > ${dst}.${dport}`}: Flags [${tcpFlags(flags)}]`;
    if (hlen < 20) return `${out}, bad header length ${hlen}`;
    if (hlen > ipLen) return `${out} [bad hdr length ${hlen} - too long, > ${ipLen}]`;
    // tcpdump keys a conversation by its ports (then addresses) in a canonical order.
    const rev = sport > dport || (sport === dport && srcAfterDst > 0);
    let thseq = 0;
    let thack = 0;
    if ((flags & 0x10) !== 0) {
      const key = rev ? `${dst}.${dport}-${src}.${sport}` : `${src}.${sport}-${dst}.${dport}`;
      const th = this.conversations.get(key);
      if (th === undefined) {
        if (rev) this.conversations.set(key, { ack: seq, seq: (ack - 1) >>> 0 });
        else this.conversations.set(key, { seq, ack: (ack - 1) >>> 0 });
      } else if (rev) {
        seq = (seq - th.ack) >>> 0;
        ack = (ack - th.seq) >>> 0;
      } else {
        seq = (seq - th.seq) >>> 0;
        ack = (ack - th.ack) >>> 0;
      }
      const now = this.conversations.get(key)!;
      thseq = now.seq;
      thack = now.ack;
    }
    const dataLen = ipLen - hlen;
    if (dataLen > 0 || (flags & 0x07) !== 0) {
      out += `, seq ${seq}`;
      if (dataLen > 0) out += `:${(seq + dataLen) >>> 0}`;
    }
    if ((flags & 0x10) !== 0) out += `, ack ${ack}`;
    out += `, win ${win}`;
    if ((flags & 0x20) !== 0) out += `, urg ${urp}`;
    if (hlen > 20) out += `, options [${tcpOptions(b, o + 20, Math.min(end, o + hlen), rev, thseq, thack)}]`;
    return `${out}, length ${dataLen}`;
  }
}

function compareU32(b: Uint8Array, x: number, y: number): number {
  return u32(b, x) - u32(b, y);
}

function igmp(b: Uint8Array, o: number, len: number): string {
  try {
    return summarizeIgmp(b, o, len);
  } catch {
    return 'igmp [|igmp]';
  }
}

const MLD1 = ['query', 'report', 'done'];

/** ICMPv6 in tcpdump's words; MLDv1 as tcpdump prints it, the name run into "max resp delay" as it is there. */
function icmp6(b: Uint8Array, o: number, len: number): string {
  const type = b[o]!;
  if (len >= 24 && (type === 131 || type === 132 || (type === 130 && len < 28))) {
    return `ICMP6, multicast listener ${MLD1[type - 130]}max resp delay: ${u16(b, o + 4)} addr: ${ipv6ToString(b, o + 8)}, length ${len}`;
  }
  try {
    return summarizeIcmpv6(b, o, len);
  } catch {
    return 'ICMP6, [|icmp6]';
  }
}

/** tcpdump's rt6_print without -v: "RT6 (len=2, type=0 [Deprecated], segleft=0, [0]2001:db8::9) ". */
function routingHeader(b: Uint8Array, o: number, end: number): string {
  const type = b[o + 2]!;
  let out = `RT6 (len=${b[o + 1]}, type=${type}${type === 0 ? ' [Deprecated]' : ''}, segleft=${b[o + 3]}`;
  if (type === 0 || type === 2) {
    const reserved = u32(b, o + 4);
    if (reserved !== 0) out += `, rsv=0x${reserved.toString(16)}`;
    for (let i = 0, a = o + 8; a + 16 <= end; i++, a += 16) out += `, [${i}]${ipv6ToString(b, a)}`;
  }
  return `${out}) `;
}

/** tcpdump's flag letters in its table's order: FIN SYN RST PUSH ACK URG ECE CWR. */
function tcpFlags(f: number): string {
  let s = '';
  if (f & 0x01) s += 'F';
  if (f & 0x02) s += 'S';
  if (f & 0x04) s += 'R';
  if (f & 0x08) s += 'P';
  if (f & 0x10) s += '.';
  if (f & 0x20) s += 'U';
  if (f & 0x40) s += 'E';
  if (f & 0x80) s += 'W';
  return s === '' ? 'none' : s;
}

function tcpOptions(b: Uint8Array, o: number, end: number, rev: boolean, thseq: number, thack: number): string {
  const parts: string[] = [];
  while (o < end) {
    const kind = b[o]!;
    if (kind === 0) { parts.push('eol'); break; } // tcpdump stops at the end-of-list option
    if (kind === 1) { parts.push('nop'); o++; continue; }
    if (o + 1 >= end) { parts.push('[|tcp]'); break; }
    const len = b[o + 1]!;
    if (len < 2 || o + len > end) { parts.push(`${optName(kind)} [bad opt]`); break; }
    const d = o + 2;
    switch (kind) {
      case 2: parts.push(len === 4 ? `mss ${u16(b, d)}` : 'mss [bad opt]'); break;
      case 3: parts.push(len === 3 ? `wscale ${b[d]}` : 'wscale [bad opt]'); break;
      case 4: parts.push('sackOK'); break;
      case 8: parts.push(len === 10 ? `TS val ${u32(b, d)} ecr ${u32(b, d + 4)}` : 'TS [bad opt]'); break;
      case 5: {
        const n = len - 2;
        if (n % 8 !== 0) { parts.push('sack invalid sack'); break; }
        let s = `sack ${n / 8} `;
        for (let i = 0; i < n; i += 8) {
          const base = rev ? thseq : thack;
          s += `{${(u32(b, d + i) - base) >>> 0}:${(u32(b, d + i + 4) - base) >>> 0}}`;
        }
        parts.push(s);
        break;
      }
      default: parts.push(`${optName(kind)} ${Array.from(b.subarray(d, o + len), (x) => x.toString(16).padStart(2, '0')).join('')}`.trimEnd());
    }
    o += len;
  }
  return parts.join(',');
}

function optName(kind: number): string {
  return ({ 2: 'mss', 3: 'wscale', 4: 'sackOK', 5: 'sack', 8: 'TS', 19: 'md5', 28: 'uto', 29: 'tcp-ao', 30: 'mptcp', 34: 'tfo' } as Record<number, string>)[kind] ?? `unknown-${kind}`;
}

function arp(b: Uint8Array, o: number, end: number): string {
  if (end - o < 8) return 'ARP, [|arp]';
  const op = u16(b, o + 6);
  const length = end - o;
  if (u16(b, o) !== 1 || u16(b, o + 2) !== 0x0800 || b[o + 4] !== 6 || b[o + 5] !== 4 || end - o < 28) {
    return `ARP, ${op === 1 ? 'Request' : op === 2 ? 'Reply' : `unknown (${op})`}, length ${length}`;
  }
  const sha = mac(b, o + 8);
  const spa = ip4(b, o + 14);
  const thaZero = b.subarray(o + 18, o + 24).every((x) => x === 0);
  const tpa = ip4(b, o + 24);
  if (op === 1) return `ARP, Request who-has ${tpa}${thaZero ? '' : ` (${mac(b, o + 18)})`} tell ${spa}, length ${length}`;
  if (op === 2) return `ARP, Reply ${spa} is-at ${sha}, length ${length}`;
  return `ARP, unknown (${op}), length ${length}`;
}

const UNREACH: Record<number, string> = {
  0: 'net %d unreachable', 1: 'host %d unreachable', 6: 'net %d unreachable - unknown', 7: 'host %d unreachable - unknown',
  9: 'net %d unreachable - admin prohibited', 10: 'host %d unreachable - admin prohibited', 13: '%d unreachable - admin prohibited filter',
};

function icmp(b: Uint8Array, o: number, end: number, len: number): string {
  if (end - o < 4) return 'ICMP [|icmp]';
  const type = b[o]!;
  const code = b[o + 1]!;
  let text: string;
  switch (type) {
    case 0:
    case 8:
      text = end - o < 8 ? `echo ${type === 0 ? 'reply' : 'request'} [|icmp]` : `echo ${type === 0 ? 'reply' : 'request'}, id ${u16(b, o + 4)}, seq ${u16(b, o + 6)}`;
      break;
    case 3: text = unreachable(b, o, end, code); break;
    case 11: text = code === 0 ? 'time exceeded in-transit' : 'ip reassembly time exceeded'; break;
    case 5: text = `redirect ${end - o >= 28 ? ip4(b, o + 24) : '?'} to ${code === 1 ? 'host' : 'net'} ${ip4(b, o + 4)}`; break;
    case 12: text = 'parameter problem'; break;
    case 13: text = 'time stamp request'; break;
    case 14: text = 'time stamp reply'; break;
    default: text = `type-#${type}`;
  }
  return `ICMP ${text}, length ${len}`;
}

/** The quoted datagram's destination (and port for UDP/TCP), as tcpdump words each code. */
function unreachable(b: Uint8Array, o: number, end: number, code: number): string {
  const q = o + 8;
  if (end - q < 20) return 'dest unreachable [|icmp]';
  const qdst = ip4(b, q + 16);
  const qproto = b[q + 9]!;
  const qhl = (b[q]! & 15) * 4;
  if (code === 3) {
    const port = end - (q + qhl) >= 4 ? u16(b, q + qhl + 2) : 0;
    if (qproto === 17) return `${qdst} udp port ${port} unreachable`;
    if (qproto === 6) return `${qdst} tcp port ${port} unreachable`;
    return `${qdst} protocol ${qproto} port ${port} unreachable`;
  }
  if (code === 2) return `${qdst} protocol ${qproto} unreachable`;
  if (code === 4) {
    const mtu = u16(b, o + 6);
    return mtu !== 0 ? `${qdst} unreachable - need to frag (mtu ${mtu})` : `${qdst} unreachable - need to frag`;
  }
  const pattern = UNREACH[code];
  return pattern !== undefined ? pattern.replace('%d', qdst) : `${qdst} unreachable - #${code}`;
}

function udp(b: Uint8Array, src: string, dst: string, o: number, end: number, portsOnly: boolean): string {
  if (end - o < 8) return `${portsOnly ? '' : `${src} > ${dst}: `}udp [|udp]`;
  const sport = u16(b, o);
  const dport = u16(b, o + 2);
  const ulen = u16(b, o + 4);
  const head = portsOnly ? `${sport} > ${dport}: ` : `${src}.${sport} > ${dst}.${dport}: `;
  if (ulen < 8) return `${head}[bad udp length ${ulen}]`;
  const len = ulen - 8;
  if (sport === 53 || dport === 53) {
    const dns = dnsLine(b, o + 8, Math.min(end, o + ulen), len);
    if (dns !== null) return head + dns;
  }
  return `${head}UDP, length ${len}`;
}

// ------------------------------------------------------------------------------ DNS

const DNS_TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 41: 'OPT', 255: 'ANY', 65: 'HTTPS', 64: 'SVCB',
};
const DNS_RCODES = ['', ' FormErr', ' ServFail', ' NXDomain', ' NotImp', ' Refused', ' YXDomain', ' YXRRSet', ' NXRRSet', ' NotAuth', ' NotZone'];
const DNS_OPS = ['', ' inv_q', ' stat', ' op3', ' notify', ' update', ' op6', ' op7', ' op8', ' updateA', ' updateD', ' updateDA', ' updateM', ' updateMA', ' zoneInit', ' zoneRef'];

/** A (possibly compressed) name at `at`: [text, offset after it] or null when malformed. */
function dnsName(b: Uint8Array, start: number, at: number, end: number): [string, number] | null {
  let name = '';
  let after = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (at >= end) return null;
    const l = b[at]!;
    if (l === 0) {
      return [name === '' ? '.' : name, after >= 0 ? after : at + 1];
    }
    if ((l & 0xc0) === 0xc0) {
      if (at + 1 >= end) return null;
      if (after < 0) after = at + 2;
      at = start + (((l & 0x3f) << 8) | b[at + 1]!);
      continue;
    }
    if (l > 63 || at + 1 + l > end) return null;
    name += String.fromCharCode(...b.subarray(at + 1, at + 1 + l)) + '.';
    at += 1 + l;
  }
  return null;
}

function dnsLine(b: Uint8Array, o: number, end: number, len: number): string | null {
  if (end - o < 12) return null;
  const id = u16(b, o);
  const f = u16(b, o + 2);
  const qd = u16(b, o + 4);
  const an = u16(b, o + 6);
  const ns = u16(b, o + 8);
  const ar = u16(b, o + 10);
  const op = DNS_OPS[(f >> 11) & 15]!;
  let at = o + 12;
  let out: string;
  if ((f & 0x8000) !== 0) {
    out = `${id}${op}${DNS_RCODES[f & 15] ?? ` Resp${f & 15}`}${f & 0x400 ? '*' : ''}${f & 0x80 ? '' : '-'}${f & 0x200 ? '|' : ''}`;
    if (qd !== 1) out += ` [${qd}q]`;
    for (let i = 0; i < qd; i++) {
      const n = dnsName(b, o, at, end);
      if (n === null) return `${out} [|domain]`;
      at = n[1] + 4;
    }
    out += ` ${an}/${ns}/${ar}`;
    for (let i = 0; i < an; i++) {
      const n = dnsName(b, o, at, end);
      if (n === null || n[1] + 10 > end) return `${out} [|domain]`;
      at = n[1];
      const type = u16(b, at);
      const cls = u16(b, at + 2);
      const rdlen = u16(b, at + 8);
      const rd = at + 10;
      if (rd + rdlen > end) return `${out} [|domain]`;
      let rr = `${cls !== 1 && type !== 41 ? ` ${cls === 3 ? 'CHAOS' : `(Class ${cls})`}` : ''} ${DNS_TYPES[type] ?? `Type${type}`}`;
      if (type === 1 && rdlen === 4) rr += ` ${ip4(b, rd)}`;
      else if (type === 5 || type === 2 || type === 12) rr += ` ${dnsName(b, o, rd, end)?.[0] ?? '[|domain]'}`;
      else if (type === 15) rr += ` ${dnsName(b, o, rd + 2, end)?.[0] ?? '[|domain]'} ${u16(b, rd)}`;
      else if (type === 28 && rdlen === 16) rr += ` ${ip6(b, rd)}`;
      out += (i === 0 ? '' : ',') + rr;
      at = rd + rdlen;
    }
  } else {
    out = `${id}${op}${f & 0x100 ? '+' : ''}${f & 0x10 ? '%' : ''}`;
    if ((f & 0x6cf) !== 0) out += ` [b2&3=0x${f.toString(16)}]`;
    if (qd !== 1) out += ` [${qd}q]`;
    if (an !== 0) out += ` [${an}a]`;
    if (ns !== 0) out += ` [${ns}n]`;
    if (ar !== 0) out += ` [${ar}au]`;
    if (qd > 0) {
      const n = dnsName(b, o, at, end);
      if (n === null || n[1] + 4 > end) return `${out} [|domain]`;
      const type = u16(b, n[1]);
      const cls = u16(b, n[1] + 2);
      out += ` ${DNS_TYPES[type] ?? `Type${type}`}? ${n[0]}${cls !== 1 ? ` (Class ${cls})` : ''}`;
    }
  }
  return `${out} (${len})`;
}

function ip6(b: Uint8Array, o: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(u16(b, o + i).toString(16));
  // The longest run of zero words (2 or more) becomes "::", as inet_ntop writes it.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}
