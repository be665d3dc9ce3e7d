/**
 * DHCP (BOOTP) messages, the UDP payload on ports 67 and 68, in the dissector's style: a
 * title, then `key: value` lines, the options one per line by name in wire order.
 *
 *   incoming dhcp message (ACK)
 *   op:      BOOTREPLY (2)
 *   ...
 *   options: DHCP Message Type (53): ACK (5)
 *            Subnet Mask (1): 255.255.255.0
 *
 * An option whose content is malformed is shown with its bytes and the reason; an option
 * that repeats a code is shown as a continuation (RFC 3396: the parts are one option, decoded
 * at its first appearance). A message that cannot be framed gives the fixed fields that could
 * be read and a "malformed: <reason>" line. Never throws.
 *
 * The block has the shape of dissect.ts's DissectionBlock (declared here, not imported, so
 * that dissect.ts can import this module without an import cycle).
 */

import { ipv4ToString, macToString, readIpv4 } from '../wire/addr.js';
import {
  BOOTP_FIXED_LENGTH, DHCP_CLIENT_PORT, DHCP_FLAG_BROADCAST, DHCP_MAGIC_COOKIE, DHCP_OPTIONS_OFFSET, DHCP_SERVER_PORT,
  DhcpOptionCode, decodeDhcpOption, dhcpMessageTypeName, dhcpOptionName, walkDhcpOptions, type DhcpOptionSpan,
} from '../wire/dhcp.js';
import { hexByteLines } from './hexdump.js';

export interface DhcpDissectionBlock {
  title: string;
  lines: string[];
  malformed?: string;
}

export interface DhcpDissectOptions {
  /** Show at most this many bytes of an undecoded option's data. Default: all. */
  maxHexBytes?: number;
}

const LABEL_WIDTH = 9; // "options: "

/** True when a UDP datagram between these ports is DHCP (client 68, server 67, relays 67-67). */
export function isDhcpPorts(srcPort: number, dstPort: number): boolean {
  return (srcPort === DHCP_CLIENT_PORT && dstPort === DHCP_SERVER_PORT) ||
    (srcPort === DHCP_SERVER_PORT && (dstPort === DHCP_CLIENT_PORT || dstPort === DHCP_SERVER_PORT));
}

function field(name: string, value: string): string {
  return (name + ':').padEnd(LABEL_WIDTH) + value;
}

function hex(n: number, digits: number): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function hexData(buf: Uint8Array, offset: number, length: number, limit: number): string {
  if (length <= 0) return '-';
  const shown = Math.min(length, Math.max(0, limit));
  const text = shown > 0 ? hexByteLines(buf, offset, shown, Infinity).join('').trim() : '';
  return shown < length ? `${text}${text ? ' ' : ''}... ${length - shown} more bytes` : text;
}

function quoted(s: string): string {
  return JSON.stringify(s);
}

/** A NUL-terminated text field (sname, file): its text, "-" when empty. */
function textField(buf: Uint8Array, offset: number, size: number): string {
  let end = offset;
  while (end < offset + size && buf[end] !== 0) end++;
  if (end === offset) return '-';
  let s = '';
  for (let i = offset; i < end; i++) s += String.fromCharCode(buf[i]!);
  return quoted(s);
}

function htypeText(htype: number): string {
  return htype === 1 ? 'Ethernet (1)' : `unknown (${htype})`;
}

function chaddrText(buf: Uint8Array, offset: number, htype: number, hlen: number): string {
  if (htype === 1 && hlen === 6) return macToString(buf, offset);
  const n = Math.min(hlen, 16);
  if (n === 0) return '-';
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(buf[offset + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function valueText(code: number, value: unknown, data: Uint8Array): string {
  const C = DhcpOptionCode;
  switch (code) {
    case C.MessageType: return `${dhcpMessageTypeName(value as number)} (${value as number})`;
    case C.SubnetMask: case C.RequestedIp: case C.ServerId: case C.BroadcastAddress:
      return ipv4ToString(value as number);
    case C.Router: case C.DnsServer: return (value as number[]).map(ipv4ToString).join(', ');
    case C.LeaseTime: case C.RenewalTime: case C.RebindingTime:
      return (value as number) === 0xffffffff ? 'infinite' : `${value as number} s`;
    case C.InterfaceMtu: case C.MaxMessageSize: return String(value);
    case C.Overload: return ['', 'file', 'sname', 'file and sname'][value as number] + ` (${value as number})`;
    case C.HostName: case C.DomainName: case C.Message: return quoted(value as string);
    case C.ParameterRequestList: return (value as number[]).map((c) => `${dhcpOptionName(c)} (${c})`).join(', ');
    case C.ClientId: {
      const b = value as Uint8Array;
      if (b[0] === 1 && b.length === 7) return `Ethernet ${macToString(b, 1)}`;
      return `type ${b[0]} ${hexData(b, 1, b.length - 1, Infinity)}`;
    }
    case C.DomainSearch: return (value as string[]).map((n) => n === '' ? '.' : n).join(', ');
    case C.ClasslessRoutes:
      return (value as Array<{ destination: number; prefixLength: number; router: number }>)
        .map((r) => `${ipv4ToString(r.destination)}/${r.prefixLength} via ${ipv4ToString(r.router)}`).join(', ');
    default: return hexData(data, 0, data.length, Infinity);
  }
}

/** Concatenated data of every span of one code (RFC 3396). */
function dataOf(buf: Uint8Array, spans: readonly DhcpOptionSpan[], code: number): Uint8Array {
  const parts = spans.filter((s) => s.code === code);
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(buf.subarray(p.offset + 2, p.offset + 2 + p.length), o); o += p.length; }
  return out;
}

function optionTexts(buf: Uint8Array, spans: readonly DhcpOptionSpan[], limit: number): string[] {
  const texts: string[] = [];
  const seen = new Set<number>();
  for (const s of spans) {
    const name = dhcpOptionName(s.code);
    const label = name === `Option ${s.code}` ? name : `${name} (${s.code})`;
    if (s.code === DhcpOptionCode.End) { texts.push(label); continue; }
    if (seen.has(s.code)) { texts.push(`${label}: continued, ${s.length} bytes (RFC 3396)`); continue; }
    seen.add(s.code);
    const data = dataOf(buf, spans, s.code);
    const r = decodeDhcpOption(s.code, data);
    if (r === undefined) texts.push(`${label}: ${hexData(data, 0, data.length, limit)}`);
    else if ('problem' in r) texts.push(`${label}: ${hexData(data, 0, data.length, limit)} (malformed: ${r.problem})`);
    else texts.push(`${label}: ${valueText(s.code, r.value, data)}`);
  }
  return texts;
}

/** Dissect the DHCP message in buf[offset, offset+length) (a UDP payload). Never throws. */
export function dissectDhcp(
  direction: 'incoming' | 'outgoing', buf: Uint8Array, offset: number, length: number, options: DhcpDissectOptions = {},
): DhcpDissectionBlock {
  const lines: string[] = [];
  let title = `${direction} dhcp message`;
  try {
    const start = Number.isInteger(offset) && offset >= 0 && offset <= buf.length ? offset : buf.length;
    const len = Math.max(0, Math.min(Number.isFinite(length) ? Math.floor(length) : 0, buf.length - start));
    const malformed = (reason: string): DhcpDissectionBlock => {
      lines.push('malformed: ' + reason);
      return { title, lines, malformed: reason };
    };
    if (len < DHCP_OPTIONS_OFFSET) return malformed(`too-short (${len} bytes, header and cookie need ${DHCP_OPTIONS_OFFSET})`);
    const b = buf, o = start;
    const op = b[o]!;
    const htype = b[o + 1]!, hlen = b[o + 2]!;
    const flags = (b[o + 10]! << 8) | b[o + 11]!;
    lines.push(field('op', `${op === 1 ? 'BOOTREQUEST' : op === 2 ? 'BOOTREPLY' : 'unknown'} (${op})`));
    lines.push(field('htype', htypeText(htype)));
    lines.push(field('hlen', String(hlen)));
    lines.push(field('hops', String(b[o + 3]!)));
    lines.push(field('xid', hex(u32(b, o + 4), 8)));
    lines.push(field('secs', String((b[o + 8]! << 8) | b[o + 9]!)));
    lines.push(field('flags', `${hex(flags, 4)}${flags & DHCP_FLAG_BROADCAST ? ' (broadcast)' : ''}`));
    lines.push(field('ciaddr', ipv4ToString(readIpv4(b, o + 12))));
    lines.push(field('yiaddr', ipv4ToString(readIpv4(b, o + 16))));
    lines.push(field('siaddr', ipv4ToString(readIpv4(b, o + 20))));
    lines.push(field('giaddr', ipv4ToString(readIpv4(b, o + 24))));
    lines.push(field('chaddr', chaddrText(b, o + 28, htype, hlen)));
    const cookie = u32(b, o + BOOTP_FIXED_LENGTH);
    if (cookie !== DHCP_MAGIC_COOKIE) {
      lines.push(field('sname', textField(b, o + 44, 64)));
      lines.push(field('file', textField(b, o + 108, 128)));
      lines.push(field('cookie', `${hex(cookie, 8)} (not DHCP's 0x63825363)`));
      return malformed('bad-magic-cookie');
    }
    const main = walkDhcpOptions(b, o + DHCP_OPTIONS_OFFSET, len - DHCP_OPTIONS_OFFSET);
    // Option Overload (52) moves options into file (1) and sname (2).
    const ovData = dataOf(b, main.options, DhcpOptionCode.Overload);
    const overload = ovData.length === 1 && ovData[0]! >= 1 && ovData[0]! <= 3 ? ovData[0]! : 0;
    const spans = [...main.options];
    let error = main.error, errorOffset = main.errorOffset;
    if (!error && overload & 1) {
      const w = walkDhcpOptions(b, o + 108, 128);
      spans.push(...w.options.filter((s) => s.code !== DhcpOptionCode.End));
      if (w.error) { error = w.error; errorOffset = w.errorOffset; }
    }
    if (!error && overload & 2) {
      const w = walkDhcpOptions(b, o + 44, 64);
      spans.push(...w.options.filter((s) => s.code !== DhcpOptionCode.End));
      if (w.error) { error = w.error; errorOffset = w.errorOffset; }
    }
    lines.push(field('sname', overload & 2 ? '(holds options)' : textField(b, o + 44, 64)));
    lines.push(field('file', overload & 1 ? '(holds options)' : textField(b, o + 108, 128)));
    lines.push(field('cookie', `${hex(cookie, 8)} (DHCP)`));
    const typeData = dataOf(b, spans, DhcpOptionCode.MessageType);
    if (typeData.length === 1) title += ` (${dhcpMessageTypeName(typeData[0]!)})`;
    else if (typeData.length === 0) title = `${direction} bootp message`;
    const texts = optionTexts(b, spans, options.maxHexBytes ?? Infinity);
    const indent = ' '.repeat(LABEL_WIDTH);
    if (texts.length === 0) lines.push(field('options', '-'));
    texts.forEach((t, i) => lines.push(i === 0 ? field('options', t) : indent + t));
    if (error) return malformed(`${error} at byte ${errorOffset - o}`);
    if (!main.sawEnd) return malformed('missing-end (no End option)');
    if (op !== 1 && op !== 2) return malformed(`bad-op (${op})`);
    return { title, lines };
  } catch (err) {
    // Unreachable by design; a debug log must not take the stack down.
    const reason = `dissector error: ${err instanceof Error ? err.message : String(err)}`;
    lines.push('malformed: ' + reason);
    return { title, lines, malformed: reason };
  }
}

/**
 * One line as tcpdump -n words it: "BOOTP/DHCP, Request from 00:0b:82:01:fc:42, length 272"
 * or "BOOTP/DHCP, Reply, length 300". Never throws.
 */
export function summarizeDhcp(buf: Uint8Array, offset: number, length: number): string {
  const len = Math.max(0, Math.min(Number.isFinite(length) ? Math.floor(length) : 0, buf.length - Math.max(0, offset)));
  if (len < 1 || !Number.isInteger(offset) || offset < 0) return `BOOTP/DHCP, [malformed: too-short], length ${len}`;
  const op = buf[offset]!;
  let s = `BOOTP/DHCP, ${op === 1 ? 'Request' : op === 2 ? 'Reply' : `unknown (0x${op.toString(16).padStart(2, '0')})`}`;
  if (op === 1 && len >= 34 && buf[offset + 1] === 1 && buf[offset + 2] === 6) s += ` from ${macToString(buf, offset + 28)}`;
  return `${s}, length ${len}`;
}
