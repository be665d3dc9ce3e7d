/**
 * Frames decoded layer by layer into the old pstack's log blocks (summary.ts has the
 * one-line tcpdump-like summary).
 *
 * Differences from the old pstack, on purpose:
 * - The IP payload is the bytes after the whole header (options included); the old log
 *   started 5 bytes into the header.
 * - Checksums carry a verdict, "(ok)" or "(bad, expected 0x....)", whenever they can be
 *   checked; IP flags are spelled out; IP and TCP options are decoded.
 * - ARP's "protocol Type" is "protocol type", with the number, like the Ethernet type.
 *
 * Nothing here throws, whatever the bytes: lengths are clamped to the buffer, every header
 * is length-checked before its fields are read, and a layer that cannot be decoded yields a
 * block with a "malformed: <reason>" line (and its `malformed` field set) after which the
 * frame's dissection stops. dissectFrame also catches as a last resort.
 *
 * This is debug output: callers guard it with `log.enabled('debug')`, so none of the string
 * building here runs on the data path when debug logging is off.
 */

import { ipv4ToString, macToString, readIpv4 } from '../wire/addr.js';
import { ARP_HTYPE_ETHERNET, ARP_PTYPE_IPV4, arpOpName } from '../wire/arp.js';
import { sum16 } from '../wire/checksum.js';
import { ETHERNET_HEADER_LENGTH, EtherType, EthernetFrame, etherTypeName } from '../wire/ethernet.js';
import { ICMP_HEADER_LENGTH, IcmpPacket, icmpCodeName, icmpTypeName, isIcmpError } from '../wire/icmp.js';
import { Ipv4OptionType, ipv4OptionName, walkIpv4Options, type Ipv4Option } from '../wire/ipv4-options.js';
import { IPV4_MIN_HEADER, IpProtocol, Ipv4Packet, ipProtocolName } from '../wire/ipv4.js';
import { listTcpOptions, type TcpOption } from '../wire/tcp-options.js';
import { TCP_MIN_HEADER, TcpSegment, tcpFlagsPicture } from '../wire/tcp.js';
import { UDP_HEADER_LENGTH, UdpDatagram } from '../wire/udp.js';
import { IGMP_PROTOCOL } from '../wire/igmp.js';
import { ICMPV6_PROTOCOL } from '../wire/icmpv6.js';
import { hexByteLines } from './hexdump.js';
import { available, hex, validOffset } from './bounds.js';
import { dissectDns } from './dissect-dns.js';
import {
  IP_LABEL_WIDTH, L4_LABEL_WIDTH, checksumVerdict, contextPseudoSum, field, malformedBlock, pushHexField,
  type Direction, type DissectionBlock, type DissectOptions, type LinkType, type TransportContext,
} from './dissect-fields.js';
import { dissectDhcp, isDhcpPorts } from './dissect-dhcp.js';
import { dissectIpv6Chain } from './dissect-ipv6.js';
import { dissectIcmpv6 } from './dissect-icmpv6.js';
import { dissectIgmp } from './dissect-igmp.js';

export type { Direction, LinkType, DissectionBlock, DissectOptions, TransportContext } from './dissect-fields.js';

const ETHERNET_LABEL_WIDTH = 9; // "payload: "
const ARP_LABEL_WIDTH = 25; // "sender hardware address: "
const ARP_FIXED_HEADER = 8;

// ---------------------------------------------------------------------------------------
// Ethernet

export function dissectEthernet(
  direction: Direction, buf: Uint8Array, offset: number, length: number, options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} ethernet frame (${len} bytes)`;
  const lines: string[] = [];
  const spans: number[] = [];
  if (len < ETHERNET_HEADER_LENGTH) {
    return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${ETHERNET_HEADER_LENGTH})`, spans, offset, len);
  }
  const eth = new EthernetFrame(buf, offset, len);
  const type = eth.etherType;
  // Values up to 1500 are an 802.3 length, not a type; 1536 and up are EtherTypes.
  const typeText = type <= 1500 ? `802.3 length ${type} (${hex(type, 4)})` : `${etherTypeName(type)} (${hex(type, 4)})`;
  spans.push(lines.length, offset + 12, 2, lines.length + 1, offset, 6, lines.length + 2, offset + 6, 6);
  lines.push(field(ETHERNET_LABEL_WIDTH, 'type', typeText));
  lines.push(field(ETHERNET_LABEL_WIDTH, 'dst', eth.dstString()));
  lines.push(field(ETHERNET_LABEL_WIDTH, 'src', eth.srcString()));
  pushHexField(lines, ETHERNET_LABEL_WIDTH, 'payload', buf, eth.payloadOffset, eth.payloadLength, options, spans);
  return { title, lines, spans, offset, length: len };
}

// ---------------------------------------------------------------------------------------
// ARP

/** An address of any length: MAC or dotted quad when the length says so, else hex bytes. */
function arpAddress(buf: Uint8Array, offset: number, size: number, kind: 'hardware' | 'protocol'): string {
  if (kind === 'hardware' && size === 6) return macToString(buf, offset);
  if (kind === 'protocol' && size === 4) return ipv4ToString(readIpv4(buf, offset));
  if (size === 0) return '-';
  const parts: string[] = [];
  for (let i = 0; i < size; i++) parts.push(buf[offset + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function dissectArp(
  direction: Direction, buf: Uint8Array, offset: number, length: number, _options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} arp packet`;
  const lines: string[] = [];
  const spans: number[] = [];
  const f = (name: string, value: string, at: number, size: number) => {
    spans.push(lines.length, at, size);
    lines.push(field(ARP_LABEL_WIDTH, name, value));
  };
  if (len < ARP_FIXED_HEADER) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${ARP_FIXED_HEADER})`, spans, offset, len);
  const b = buf, o = offset;
  const htype = (b[o]! << 8) | b[o + 1]!;
  const ptype = (b[o + 2]! << 8) | b[o + 3]!;
  const hlen = b[o + 4]!;
  const plen = b[o + 5]!;
  const op = (b[o + 6]! << 8) | b[o + 7]!;
  f('hardware type', htype === ARP_HTYPE_ETHERNET ? 'Ethernet (10Mb)' : `unknown (${htype})`, o, 2);
  f('protocol type', `${ptype === ARP_PTYPE_IPV4 ? 'IPv4' : etherTypeName(ptype)} (${hex(ptype, 4)})`, o + 2, 2);
  f('hardware address length', String(hlen), o + 4, 1);
  f('protocol address length', String(plen), o + 5, 1);
  f('opcode', `${arpOpName(op)} (${op})`, o + 6, 2);
  // The address lengths come from the packet, so the layout is general (RFC 826); the stack
  // itself only answers Ethernet/IPv4, but showing what arrived is what a debug log is for.
  const needed = ARP_FIXED_HEADER + 2 * hlen + 2 * plen;
  if (len < needed) return malformedBlock(title, lines, `too-short (${len} bytes, addresses need ${needed})`, spans, offset, len);
  let p = o + ARP_FIXED_HEADER;
  f('sender hardware address', arpAddress(b, p, hlen, 'hardware'), p, hlen); p += hlen;
  f('sender protocol address', arpAddress(b, p, plen, 'protocol'), p, plen); p += plen;
  f('target hardware address', arpAddress(b, p, hlen, 'hardware'), p, hlen); p += hlen;
  // Bytes after the addresses are Ethernet padding: the frame block's payload shows them.
  f('target protocol address', arpAddress(b, p, plen, 'protocol'), p, plen);
  return { title, lines, spans, offset, length: needed };
}

// ---------------------------------------------------------------------------------------
// IPv4

const ECN_NAMES = ['Not-ECT', 'ECT(1)', 'ECT(0)', 'CE'];

function tosText(tos: number): string {
  const bits = '0b' + tos.toString(2).padStart(8, '0');
  return tos === 0 ? bits : `${bits} (DSCP ${tos >>> 2}, ECN ${ECN_NAMES[tos & 3]})`;
}

function ipFlagsText(flagBits: number): string {
  const names: string[] = [];
  if (flagBits & 4) names.push('reserved');
  if (flagBits & 2) names.push('DF');
  if (flagBits & 1) names.push('MF');
  return `0b${flagBits.toString(2).padStart(3, '0')} (${names.length ? names.join(', ') : 'none'})`;
}

function routeAddresses(buf: Uint8Array, option: Ipv4Option, onlyRecorded: boolean, pointer: number): string[] {
  const addrs: string[] = [];
  // Address slots start at option byte 4 (1-based, as the pointer counts). Record Route
  // slots before the pointer are filled; source routes list the whole route.
  for (let slot = 4; slot + 3 <= option.length; slot += 4) {
    if (onlyRecorded && slot >= pointer) break;
    addrs.push(ipv4ToString(readIpv4(buf, option.offset + slot - 1)));
  }
  return addrs;
}

function ipv4OptionText(buf: Uint8Array, option: Ipv4Option): string {
  const type = option.type;
  if (type === Ipv4OptionType.EOL || type === Ipv4OptionType.NOP) return ipv4OptionName(type);
  const name = ipv4OptionName(type);
  if (type === Ipv4OptionType.RR || type === Ipv4OptionType.LSRR || type === Ipv4OptionType.SSRR) {
    if (option.length < 3) return `${name} len=${option.length} (malformed: no pointer)`;
    const pointer = buf[option.offset + 2]!;
    const addrs = routeAddresses(buf, option, type === Ipv4OptionType.RR, pointer);
    const notes: string[] = [];
    if (pointer < 4) notes.push('bad pointer');
    if ((option.length - 3) % 4 !== 0) notes.push(`len=${option.length}`);
    return `${name} ptr=${pointer} [${addrs.join(', ')}]${notes.length ? ' (' + notes.join(', ') + ')' : ''}`;
  }
  const data = option.length > 2 ? ' ' + hexByteLines(buf, option.offset + 2, option.length - 2, Infinity).join('') : '';
  return `${name} len=${option.length}${data}`;
}

/** One string per option (the first is the field's value), ending with a flagged error if any. */
function ipv4OptionsTexts(buf: Uint8Array, offset: number, length: number, headerStart: number): string[] {
  const walk = walkIpv4Options(buf, offset, length);
  const texts = walk.options.map((o) => ipv4OptionText(buf, o));
  const end = walk.options.at(-1);
  // Bytes after EOL are padding; say so when they are not the zeros they should be.
  if (end && end.type === Ipv4OptionType.EOL) {
    for (let i = end.offset + 1; i < offset + length; i++) {
      if (buf[i] !== 0) { texts.push(`nonzero padding after EOL at header byte ${i - headerStart}`); break; }
    }
  }
  if (walk.error) texts.push(`malformed option: ${walk.error} at header byte ${walk.errorOffset - headerStart}`);
  return texts;
}

export function dissectIpv4(
  direction: Direction, buf: Uint8Array, offset: number, length: number, options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} ip packet`;
  const lines: string[] = [];
  const spans: number[] = [];
  const f = (name: string, value: string, at: number, size: number) => {
    spans.push(lines.length, offset + at, size);
    lines.push(field(IP_LABEL_WIDTH, name, value));
  };
  if (len < IPV4_MIN_HEADER) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${IPV4_MIN_HEADER})`, spans, offset, len);
  const ip = new Ipv4Packet(buf, offset, len);
  // Field offsets (and lengths: for version, ihl and flags, the byte that holds them) per RFC 791.
  f('version', String(ip.version), 0, 1);
  if (ip.version !== 4) return malformedBlock(title, lines, `bad-version (${ip.version})`, spans, offset, len);
  const headerLength = ip.headerLength;
  const total = ip.totalLength;
  f('ihl', String(ip.ihl), 0, 1);
  f('type of service', tosText(ip.tos), 1, 1);
  f('total length', total >= headerLength ? `${total} bytes (payload: ${total - headerLength} bytes)` : `${total} bytes`, 2, 2);
  f('id', String(ip.id), 4, 2);
  f('flags', ipFlagsText(ip.flags), 6, 1);
  const fragmentOffset = ip.fragmentOffset;
  f('fragment offset', fragmentOffset === 0 ? '0' : `${fragmentOffset / 8} (${fragmentOffset} bytes)`, 6, 2);
  f('ttl', String(ip.ttl), 8, 1);
  f('protocol', `${ipProtocolName(ip.protocol)} (${ip.protocol})`, 9, 1);
  const headerReadable = headerLength >= IPV4_MIN_HEADER && headerLength <= len;
  f('checksum', headerReadable ? checksumVerdict(ip.checksum, sum16(buf, offset, headerLength)) : hex(ip.checksum, 4), 10, 2);
  f('source address', ipv4ToString(ip.src), 12, 4);
  f('destination address', ipv4ToString(ip.dst), 16, 4);
  if (headerReadable && headerLength > IPV4_MIN_HEADER) {
    const texts = ipv4OptionsTexts(buf, ip.optionsOffset, ip.optionsLength, offset);
    const indent = ' '.repeat(IP_LABEL_WIDTH);
    spans.push(lines.length, ip.optionsOffset, ip.optionsLength);
    texts.forEach((t, i) => lines.push(i === 0 ? field(IP_LABEL_WIDTH, 'options', t) : indent + t));
  }
  const problem = ip.check();
  if (problem !== null) {
    const detail =
      problem === 'bad-header-length' ? `ihl ${ip.ihl} is below 5` :
      problem === 'too-short' ? `header is ${headerLength} bytes, only ${len} present` :
      problem === 'bad-total-length' ? `total length ${total} is less than the ${headerLength}-byte header` :
      problem === 'truncated' ? `total length ${total}, only ${len} bytes present` : '';
    return malformedBlock(title, lines, detail ? `${problem} (${detail})` : problem, spans, offset, len);
  }
  pushHexField(lines, IP_LABEL_WIDTH, 'payload', buf, ip.payloadOffset, ip.payloadLength, options, spans);
  return { title, lines, spans, offset, length: total };
}

// ---------------------------------------------------------------------------------------
// ICMP

const REDIRECT_CODE_NAMES = ['Redirect for Network', 'Redirect for Host', 'Redirect for TOS and Network', 'Redirect for TOS and Host'];

function icmpCodeText(type: number, code: number): string {
  if (type === 5 && code < REDIRECT_CODE_NAMES.length) return `${REDIRECT_CODE_NAMES[code]} (${code})`;
  if (!isIcmpError(type)) return String(code);
  const name = icmpCodeName(type, code);
  // icmpCodeName falls back to the bare number (or "code N") where it has no name.
  return name === String(code) || name === `code ${code}` ? String(code) : `${name} (${code})`;
}

/** Types whose 4 "rest" bytes are an identifier and a sequence number. */
function hasIdAndSeq(type: number): boolean {
  return type === 0 || type === 8 || type === 13 || type === 14 || type === 15 || type === 16;
}

/** The IP header an ICMP error quotes, in one line: who sent what to whom. */
function describeQuotedDatagram(buf: Uint8Array, offset: number, length: number): string {
  if (length < IPV4_MIN_HEADER) return `malformed (too-short, ${length} bytes)`;
  const version = buf[offset]! >>> 4;
  if (version !== 4) return `malformed (bad-version ${version})`;
  const headerLength = (buf[offset]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER) return `malformed (bad-header-length ${headerLength})`;
  const protocol = buf[offset + 9]!;
  let text = `${ipv4ToString(readIpv4(buf, offset + 12))} > ${ipv4ToString(readIpv4(buf, offset + 16))}, ` +
    `${ipProtocolName(protocol)} (${protocol})`;
  const l4 = offset + headerLength;
  const l4Length = length - headerLength;
  if ((protocol === IpProtocol.UDP || protocol === IpProtocol.TCP) && l4Length >= 4) {
    text += `, ports ${(buf[l4]! << 8) | buf[l4 + 1]!} > ${(buf[l4 + 2]! << 8) | buf[l4 + 3]!}`;
  } else if (protocol === IpProtocol.ICMP && l4Length >= ICMP_HEADER_LENGTH) {
    const type = buf[l4]!;
    text += `, ${icmpTypeName(type)} (${type})`;
    if (hasIdAndSeq(type)) text += ` id ${(buf[l4 + 4]! << 8) | buf[l4 + 5]!} seq ${(buf[l4 + 6]! << 8) | buf[l4 + 7]!}`;
  }
  return text;
}

/**
 * `length` is the whole ICMP message (the IP payload). The checksum covers all of it, so it
 * is checked unless `context.fragment` says part of the message is in later fragments.
 */
export function dissectIcmp(
  direction: Direction, buf: Uint8Array, offset: number, length: number,
  context: TransportContext | null = null, options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} icmp packet`;
  const lines: string[] = [];
  const spans: number[] = [];
  const f = (name: string, value: string, at: number, size: number) => {
    spans.push(lines.length, offset + at, size);
    lines.push(field(L4_LABEL_WIDTH, name, value));
  };
  if (len < ICMP_HEADER_LENGTH) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${ICMP_HEADER_LENGTH})`, spans, offset, len);
  const icmp = new IcmpPacket(buf, offset, len);
  const type = icmp.type;
  f('type', `${icmpTypeName(type)} (${type})`, 0, 1);
  f('code', icmpCodeText(type, icmp.code), 1, 1);
  f('checksum', context?.fragment ? hex(icmp.checksum, 4) : checksumVerdict(icmp.checksum, sum16(buf, offset, len)), 2, 2);
  if (hasIdAndSeq(type)) {
    f('id', String(icmp.echoId), 4, 2);
    f('seq', String(icmp.echoSeq), 6, 2);
  } else if (type === 3 && icmp.code === 4) {
    f('mtu', String(icmp.nextHopMtu), 6, 2);
  } else if (type === 12) {
    f('pointer', String(icmp.pointer), 4, 1);
  } else if (type === 5) {
    f('gateway', ipv4ToString(icmp.rest), 4, 4);
  }
  if (isIcmpError(type)) f('original', describeQuotedDatagram(buf, icmp.dataOffset, icmp.dataLength), icmp.dataOffset - offset, icmp.dataLength);
  pushHexField(lines, L4_LABEL_WIDTH, 'payload', buf, icmp.dataOffset, icmp.dataLength, options, spans);
  return { title, lines, spans, offset, length: len };
}

// ---------------------------------------------------------------------------------------
// UDP

/** `length` is the IP payload length; the UDP length field must fit inside it. */
export function dissectUdp(
  direction: Direction, buf: Uint8Array, offset: number, length: number,
  context: TransportContext | null = null, options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} udp datagram`;
  const lines: string[] = [];
  const spans: number[] = [];
  const f = (name: string, value: string, at: number, size: number) => {
    spans.push(lines.length, offset + at, size);
    lines.push(field(L4_LABEL_WIDTH, name, value));
  };
  if (len < UDP_HEADER_LENGTH) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${UDP_HEADER_LENGTH})`, spans, offset, len);
  const udp = new UdpDatagram(buf, offset, len);
  const udpLength = udp.udpLength;
  const lengthOk = udp.check() === null;
  // A first fragment holds only the start of the datagram the length field describes.
  const continuesInFragments = !lengthOk && context?.fragment === true && udpLength > len;
  f('src port', String(udp.srcPort), 0, 2);
  f('dst port', String(udp.dstPort), 2, 2);
  f('length', udpLength < UDP_HEADER_LENGTH ? `${udpLength} bytes`
    : `${udpLength} bytes (payload: ${udpLength - UDP_HEADER_LENGTH} bytes${continuesInFragments ? `, ${len - UDP_HEADER_LENGTH} in this fragment` : ''})`, 4, 2);
  const checksum = udp.checksum;
  let checksumText: string;
  if (checksum === 0) checksumText = `${hex(0, 4)} (none)`; // the sender computed none (RFC 768)
  else if (!context || context.fragment || !lengthOk) checksumText = hex(checksum, 4);
  else {
    const pseudo = contextPseudoSum(context, IpProtocol.UDP, udpLength);
    checksumText = checksumVerdict(checksum, sum16(buf, offset, udpLength, pseudo), pseudo);
  }
  f('checksum', checksumText, 6, 2);
  if (continuesInFragments) {
    pushHexField(lines, L4_LABEL_WIDTH, 'payload', buf, udp.payloadOffset, len - UDP_HEADER_LENGTH, options, spans);
    return { title, lines, spans, offset, length: len };
  }
  if (!lengthOk) {
    const reason = udpLength < UDP_HEADER_LENGTH ? `length ${udpLength} is below the 8-byte header` : `length ${udpLength}, only ${len} bytes present`;
    return malformedBlock(title, lines, `bad-length (${reason})`, spans, offset, len);
  }
  pushHexField(lines, L4_LABEL_WIDTH, 'payload', buf, udp.payloadOffset, udp.payloadLength, options, spans);
  return { title, lines, spans, offset, length: udpLength };
}

// ---------------------------------------------------------------------------------------
// TCP

function tcpOptionText(option: TcpOption): string {
  switch (option.kind) {
    case 'EOL': return 'EOL';
    case 'NOP': return 'NOP';
    case 'MSS': return `MSS ${option.value}`;
    case 'WS': return `WS ${option.shift}`;
    case 'SACK_PERMITTED': return 'SACK_PERM';
    case 'TS': return `TS val ${option.tsVal} ecr ${option.tsEcr}`;
    case 'SACK': return `SACK ${option.blocks.map(([l, r]) => `${l}-${r}`).join(' ')}`;
    case 'UNKNOWN': return `opt-${option.type} len=${option.data.length + 2}`;
  }
}

/** `length` is the whole segment (the IP payload length). */
export function dissectTcp(
  direction: Direction, buf: Uint8Array, offset: number, length: number,
  context: TransportContext | null = null, options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} tcp segment`;
  const lines: string[] = [];
  const spans: number[] = [];
  const f = (name: string, value: string, at: number, size: number) => {
    spans.push(lines.length, offset + at, size);
    lines.push(field(L4_LABEL_WIDTH, name, value));
  };
  if (len < TCP_MIN_HEADER) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${TCP_MIN_HEADER})`, spans, offset, len);
  const tcp = new TcpSegment(buf, offset, len);
  f('src port', String(tcp.srcPort), 0, 2);
  f('dst port', String(tcp.dstPort), 2, 2);
  f('Seq', String(tcp.seq), 4, 4); // capital S as in the old pstack log, which users grep for
  f('ack', String(tcp.ack), 8, 4);
  f('offset', String(tcp.dataOffsetWords), 12, 1);
  f('flag', `${tcpFlagsPicture(tcp.flags)} (${hex(tcp.flags, 3)})`, 12, 2);
  f('window', String(tcp.window), 14, 2);
  const pseudo = context && !context.fragment ? contextPseudoSum(context, IpProtocol.TCP, len) : -1;
  f('checksum', pseudo >= 0 ? checksumVerdict(tcp.checksum, sum16(buf, offset, len, pseudo), pseudo) : hex(tcp.checksum, 4), 16, 2);
  f('urg', String(tcp.urgentPointer), 18, 2);
  const problem = tcp.check();
  if (problem !== null) {
    return malformedBlock(title, lines, `${problem} (offset ${tcp.dataOffsetWords} = ${tcp.headerLength} bytes, segment ${len} bytes)`, spans, offset, len);
  }
  if (tcp.optionsLength > 0) {
    const list = listTcpOptions(buf, tcp.optionsOffset, tcp.optionsLength);
    f('options', list
      ? list.map(tcpOptionText).join(', ')
      : `malformed: ${hexByteLines(buf, tcp.optionsOffset, tcp.optionsLength, Infinity).join('')}`, tcp.optionsOffset - offset, tcp.optionsLength);
  }
  pushHexField(lines, L4_LABEL_WIDTH, 'data', buf, tcp.payloadOffset, tcp.payloadLength, options, spans);
  return { title, lines, spans, offset, length: len };
}

// ---------------------------------------------------------------------------------------
// Whole frames

function dissectIpChain(
  blocks: DissectionBlock[], direction: Direction, buf: Uint8Array, offset: number, length: number, options: DissectOptions,
): void {
  const ipBlock = dissectIpv4(direction, buf, offset, length, options);
  blocks.push(ipBlock);
  if (ipBlock.malformed !== undefined) return;
  const ip = new Ipv4Packet(buf, offset, length);
  // A later fragment starts mid-datagram: there is no transport header to decode.
  if (ip.fragmentOffset !== 0) return;
  const context: TransportContext = { src: ip.src, dst: ip.dst, fragment: ip.moreFragments };
  const l4 = ip.payloadOffset;
  const l4Length = ip.payloadLength;
  switch (ip.protocol) {
    case IpProtocol.ICMP: blocks.push(dissectIcmp(direction, buf, l4, l4Length, context, options)); break;
    case IGMP_PROTOCOL: blocks.push(dissectIgmp(direction, buf, l4, l4Length, ip.moreFragments)); break;
    default: dissectTransport(blocks, direction, buf, ip.protocol, l4, l4Length, context, options); break;
  }
}

/** TCP and UDP (with the UDP applications), the same above IPv4 and IPv6. */
function dissectTransport(
  blocks: DissectionBlock[], direction: Direction, buf: Uint8Array, protocol: number, l4: number, l4Length: number,
  context: TransportContext, options: DissectOptions,
): void {
  switch (protocol) {
    case IpProtocol.TCP: blocks.push(dissectTcp(direction, buf, l4, l4Length, context, options)); break;
    case IpProtocol.UDP: {
      const udpBlock = dissectUdp(direction, buf, l4, l4Length, context, options);
      blocks.push(udpBlock);
      if (udpBlock.malformed === undefined && !context.fragment) dissectUdpPayload(blocks, direction, buf, l4, l4Length);
      break;
    }
    default: break; // the IP block's payload line already shows the bytes
  }
}

function dissectIpv6Packet(
  blocks: DissectionBlock[], direction: Direction, buf: Uint8Array, offset: number, length: number, options: DissectOptions,
): void {
  dissectIpv6Chain(blocks, direction, buf, offset, length, options, (out, protocol, l4, l4Length, addresses, fragment) => {
    if (protocol === ICMPV6_PROTOCOL) out.push(dissectIcmpv6(direction, buf, l4, l4Length, addresses, options, fragment));
    else dissectTransport(out, direction, buf, protocol, l4, l4Length, { src: 0, dst: 0, ipv6: addresses, fragment }, options);
  });
}

/** A raw IP packet (loopback): IPv4 or IPv6 by its version nibble. */
function dissectRawIp(
  blocks: DissectionBlock[], direction: Direction, buf: Uint8Array, offset: number, length: number, options: DissectOptions,
): void {
  if (length > 0 && buf[offset]! >>> 4 === 6) dissectIpv6Packet(blocks, direction, buf, offset, length, options);
  else dissectIpChain(blocks, direction, buf, offset, length, options);
}

/** The application protocols pstack speaks over UDP, decoded when their ports say so. */
function dissectUdpPayload(blocks: DissectionBlock[], direction: Direction, buf: Uint8Array, offset: number, length: number): void {
  const udp = new UdpDatagram(buf, offset, length);
  if (udp.check() !== null) return;
  const src = udp.srcPort;
  const dst = udp.dstPort;
  const at = udp.payloadOffset;
  const n = udp.udpLength - UDP_HEADER_LENGTH;
  if (src === DNS_PORT || dst === DNS_PORT) blocks.push({ ...dissectDns(direction, buf, at, n), offset: at, length: n });
  else if (isDhcpPorts(src, dst)) blocks.push({ ...dissectDhcp(direction, buf, at, n), offset: at, length: n });
}

const DNS_PORT = 53;

/**
 * Every layer that can be decoded, outermost first (for outgoing frames too: the stack logs
 * the finished frame). Never throws.
 */
export function dissectFrame(
  direction: Direction, buf: Uint8Array, offset: number, length: number,
  linkType: LinkType = 'ethernet', options: DissectOptions = {},
): DissectionBlock[] {
  const blocks: DissectionBlock[] = [];
  try {
    const start = validOffset(buf, offset);
    const len = available(buf, start, length);
    if (linkType === 'ip') {
      dissectRawIp(blocks, direction, buf, start, len, options);
      return blocks;
    }
    const ethBlock = dissectEthernet(direction, buf, start, len, options);
    blocks.push(ethBlock);
    if (ethBlock.malformed !== undefined) return blocks;
    const eth = new EthernetFrame(buf, start, len);
    if (eth.etherType === EtherType.ARP) blocks.push(dissectArp(direction, buf, eth.payloadOffset, eth.payloadLength, options));
    else if (eth.etherType === EtherType.IPv4) dissectIpChain(blocks, direction, buf, eth.payloadOffset, eth.payloadLength, options);
    else if (eth.etherType === EtherType.IPv6) dissectIpv6Packet(blocks, direction, buf, eth.payloadOffset, eth.payloadLength, options);
  } catch (err) {
    // Unreachable by design (the property test hunts for it); a debug log must not take the stack down.
    const reason = `dissector error: ${err instanceof Error ? err.message : String(err)}`;
    blocks.push({ title: `${direction} frame`, lines: ['malformed: ' + reason], malformed: reason });
  }
  return blocks;
}
