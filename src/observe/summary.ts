/**
 * One-line summaries of frames in tcpdump's words (as with -n and absolute sequence numbers),
 * so a learner can put pstack's lines beside `tcpdump -n`'s. Nothing here throws, whatever the
 * bytes: a layer that cannot be read is named malformed in the line.
 */

import { ipv4ToString, macToString, readIpv4 } from '../wire/addr.js';
import { ARP_HTYPE_ETHERNET, ARP_PTYPE_IPV4 } from '../wire/arp.js';
import { ETHERNET_HEADER_LENGTH, EtherType, EthernetFrame, etherTypeName } from '../wire/ethernet.js';
import { ICMP_HEADER_LENGTH, IcmpPacket, icmpCodeName } from '../wire/icmp.js';
import { IPV4_MIN_HEADER, IpProtocol, Ipv4Packet } from '../wire/ipv4.js';
import { listTcpOptions, type TcpOption } from '../wire/tcp-options.js';
import { TCP_MIN_HEADER, TcpFlag, TcpSegment, tcpFlagsShort } from '../wire/tcp.js';
import { UDP_HEADER_LENGTH, UdpDatagram } from '../wire/udp.js';
import { available, hex, validOffset } from './bounds.js';
import type { LinkType } from './dissect-fields.js';
import { ipv6ToString } from '../wire/addr6.js';
import { IPV6_HEADER_LENGTH, NextHeader } from '../wire/ipv6.js';
import { Ipv6HeaderChain, walkIpv6Headers } from '../wire/ipv6-ext.js';
import { ICMPV6_PROTOCOL, Icmpv6Packet } from '../wire/icmpv6.js';
import { parseNdp } from '../wire/ndp.js';
import { parseMld } from '../wire/mld.js';
import { IGMP_PROTOCOL, parseIgmp } from '../wire/igmp.js';

/** ARP's fixed header before the addresses (hardware/protocol type and sizes, operation). */
const ARP_FIXED_HEADER = 8;

function tcpdumpTcpOption(option: TcpOption): string {
  switch (option.kind) {
    case 'EOL': return 'eol';
    case 'NOP': return 'nop';
    case 'MSS': return `mss ${option.value}`;
    case 'WS': return `wscale ${option.shift}`;
    case 'SACK_PERMITTED': return 'sackOK';
    case 'TS': return `TS val ${option.tsVal} ecr ${option.tsEcr}`;
    case 'SACK': return `sack ${option.blocks.length} ${option.blocks.map(([l, r]) => `{${l}:${r}}`).join('')}`;
    case 'UNKNOWN': return `unknown-${option.type}`;
  }
}

function summarizeTcp(buf: Uint8Array, offset: number, length: number, src: string, dst: string): string {
  if (length < TCP_MIN_HEADER) return `${src} > ${dst}: [malformed tcp: too-short]`;
  const tcp = new TcpSegment(buf, offset, length);
  const head = `${src}.${tcp.srcPort} > ${dst}.${tcp.dstPort}: Flags [${tcpFlagsShort(tcp.flags)}]`;
  const problem = tcp.check();
  if (problem !== null) return `${head}, [malformed tcp: ${problem}]`;
  const flags = tcp.flags;
  const dataLength = tcp.payloadLength;
  // tcpdump shows the range a segment covers when it carries data: "seq first:next".
  let s = head + (dataLength > 0 ? `, seq ${tcp.seq}:${(tcp.seq + dataLength) >>> 0}` : `, seq ${tcp.seq}`);
  if (flags & TcpFlag.ACK) s += `, ack ${tcp.ack}`;
  s += `, win ${tcp.window}`;
  if (flags & TcpFlag.URG) s += `, urg ${tcp.urgentPointer}`;
  if (tcp.optionsLength > 0) {
    const list = listTcpOptions(buf, tcp.optionsOffset, tcp.optionsLength);
    s += list ? `, options [${list.map(tcpdumpTcpOption).join(',')}]` : ', options [bad opt]';
  }
  return s + `, length ${dataLength}`;
}

function summarizeUdp(buf: Uint8Array, offset: number, length: number, src: string, dst: string, fragment: boolean): string {
  if (length < UDP_HEADER_LENGTH) return `${src} > ${dst}: [malformed udp: too-short]`;
  const udp = new UdpDatagram(buf, offset, length);
  const head = `${src}.${udp.srcPort} > ${dst}.${udp.dstPort}: UDP`;
  const udpLength = udp.udpLength;
  if (udpLength < UDP_HEADER_LENGTH) return `${head}, bad length ${udpLength} < ${UDP_HEADER_LENGTH}`;
  if (udpLength > length && !fragment) return `${head}, bad length ${udpLength} > ${length}`;
  return `${head}, length ${udpLength - UDP_HEADER_LENGTH}`;
}

/** The quoted datagram's destination and ports, as tcpdump words unreachable messages. */
function quoted(buf: Uint8Array, offset: number, length: number): { dst: string; protocol: number; dstPort: number } | null {
  if (length < IPV4_MIN_HEADER || buf[offset]! >>> 4 !== 4) return null;
  const headerLength = (buf[offset]! & 0x0f) * 4;
  const protocol = buf[offset + 9]!;
  const l4 = offset + headerLength;
  const dstPort = headerLength >= IPV4_MIN_HEADER && length >= headerLength + 4 ? (buf[l4 + 2]! << 8) | buf[l4 + 3]! : -1;
  return { dst: ipv4ToString(readIpv4(buf, offset + 16)), protocol, dstPort };
}

function summarizeIcmpBody(icmp: IcmpPacket): string {
  const type = icmp.type;
  const code = icmp.code;
  switch (type) {
    case 0: return `echo reply, id ${icmp.echoId}, seq ${icmp.echoSeq}`;
    case 8: return `echo request, id ${icmp.echoId}, seq ${icmp.echoSeq}`;
    case 13: return `time stamp query id ${icmp.echoId} seq ${icmp.echoSeq}`;
    case 14: return `time stamp reply id ${icmp.echoId} seq ${icmp.echoSeq}`;
    case 3: {
      const q = quoted(icmp.buf, icmp.dataOffset, icmp.dataLength);
      const to = q?.dst ?? '?';
      switch (code) {
        case 0: return `net ${to} unreachable`;
        case 1: return `host ${to} unreachable`;
        case 2: return `${to} protocol ${q?.protocol ?? '?'} unreachable`;
        case 3: {
          const proto = q?.protocol === IpProtocol.UDP ? 'udp' : q?.protocol === IpProtocol.TCP ? 'tcp' : `ip-proto-${q?.protocol ?? '?'}`;
          return `${to} ${proto} port ${q && q.dstPort >= 0 ? q.dstPort : '?'} unreachable`;
        }
        case 4: return `${to} unreachable - need to frag (mtu ${icmp.nextHopMtu})`;
        default: return `${to} unreachable - ${icmpCodeName(type, code).toLowerCase()}`;
      }
    }
    case 4: return 'source quench';
    case 5: {
      const q = quoted(icmp.buf, icmp.dataOffset, icmp.dataLength);
      const kind = code === 0 || code === 2 ? 'net' : 'host';
      return `redirect ${q?.dst ?? '?'} to ${kind} ${ipv4ToString(icmp.rest)}`;
    }
    case 11: return code === 0 ? 'time exceeded in-transit' : code === 1 ? 'ip reassembly time exceeded' : `time exceeded code ${code}`;
    case 12: return code === 0 ? `parameter problem - octet ${icmp.pointer}` : `parameter problem - code ${code}`;
    default: return `type-#${type}`;
  }
}

function summarizeIcmp(buf: Uint8Array, offset: number, length: number, src: string, dst: string): string {
  if (length < ICMP_HEADER_LENGTH) return `${src} > ${dst}: [malformed icmp: too-short]`;
  return `${src} > ${dst}: ICMP ${summarizeIcmpBody(new IcmpPacket(buf, offset, length))}, length ${length}`;
}

function summarizeIpv4(buf: Uint8Array, offset: number, length: number): string {
  if (length < IPV4_MIN_HEADER) return 'IP [malformed: too-short]';
  const ip = new Ipv4Packet(buf, offset, length);
  if (ip.version !== 4) return `IP [malformed: bad-version ${ip.version}]`;
  const src = ipv4ToString(ip.src);
  const dst = ipv4ToString(ip.dst);
  const problem = ip.check();
  if (problem !== null) return `${src} > ${dst}: [malformed ip: ${problem}]`;
  const l4 = ip.payloadOffset;
  const l4Length = ip.payloadLength;
  const fragment = ip.isFragment ? ` (frag ${ip.id}:${l4Length}@${ip.fragmentOffset}${ip.moreFragments ? '+' : ''})` : '';
  // tcpdump prints only the protocol for later fragments: their transport header is elsewhere.
  if (ip.fragmentOffset !== 0) return `${src} > ${dst}: ip-proto-${ip.protocol}${fragment}`;
  switch (ip.protocol) {
    case IpProtocol.ICMP: return summarizeIcmp(buf, l4, l4Length, src, dst) + fragment;
    case IpProtocol.TCP: return summarizeTcp(buf, l4, l4Length, src, dst) + fragment;
    case IpProtocol.UDP: return summarizeUdp(buf, l4, l4Length, src, dst, ip.moreFragments) + fragment;
    case IGMP_PROTOCOL: return `${src} > ${dst}: ${summarizeIgmp(buf, l4, l4Length)}` + fragment;
    default: return `${src} > ${dst}: ip-proto-${ip.protocol} ${l4Length}${fragment}`;
  }
}

/** IGMP as tcpdump -n words it: "igmp v3 report, 1 group record(s)". */
export function summarizeIgmp(buf: Uint8Array, offset: number, length: number): string {
  const m = parseIgmp(buf, offset, length);
  if (typeof m === 'string') return `igmp [malformed: ${m}]`;
  switch (m.kind) {
    case 'query': return `igmp query v${m.version}${m.group !== 0 ? ` [gaddr ${ipv4ToString(m.group)}]` : ''}${m.version === 2 ? ` [max resp time ${m.maxResponseTime / 10}s]` : ''}`;
    case 'report': return `igmp v${m.version} report ${ipv4ToString(m.group)}`;
    case 'leave': return `igmp leave ${ipv4ToString(m.group)}`;
    case 'report3': return `igmp v3 report, ${m.records.length} group record(s)`;
  }
}

const chain = new Ipv6HeaderChain();

const UNREACH6 = ['no route to', 'admin prohibited', 'beyond scope of', 'unreachable address', 'unreachable port', 'source address failed policy', 'reject route to'];

/** An ICMPv6 message (at offset, `length` bytes) as tcpdump -n words it: "ICMP6, echo request, id 1, seq 1, length 64". */
export function summarizeIcmpv6(buf: Uint8Array, offset: number, length: number): string {
  if (length < 8) return 'ICMP6, [malformed: too-short]';
  const icmp = new Icmpv6Packet(buf, offset, length);
  const type = icmp.type;
  const quotedDst = icmp.dataLength >= IPV6_HEADER_LENGTH ? ipv6ToString(buf, icmp.dataOffset + 24) : '?';
  let body: string;
  switch (type) {
    case 1: {
      const nh = icmp.dataLength >= IPV6_HEADER_LENGTH ? buf[icmp.dataOffset + 6]! : -1;
      const port = icmp.dataLength >= IPV6_HEADER_LENGTH + 4 ? (buf[icmp.dataOffset + 42]! << 8) | buf[icmp.dataOffset + 43]! : -1;
      body = icmp.code === 4 && (nh === 17 || nh === 6)
        ? `destination unreachable, unreachable port, ${quotedDst} ${nh === 17 ? 'udp' : 'tcp'} port ${port}`
        : `destination unreachable, ${UNREACH6[icmp.code] ?? `code ${icmp.code}`} ${quotedDst}`;
      break;
    }
    case 2: body = `packet too big, mtu ${icmp.mtu}`; break;
    case 3: body = icmp.code === 0 ? `time exceeded in-transit for ${quotedDst}` : `ip6 reassembly time exceeded`; break;
    case 4: body = `parameter problem, ${['erroneous', 'next header', 'option', 'incomplete chain'][icmp.code] ?? `code ${icmp.code}`} - octet ${icmp.pointer}`; break;
    case 128: body = `echo request, id ${icmp.echoId}, seq ${icmp.echoSeq}`; break;
    case 129: body = `echo reply, id ${icmp.echoId}, seq ${icmp.echoSeq}`; break;
    case 130: case 131: case 132: case 143: {
      const m = parseMld(buf, offset, length);
      if (typeof m === 'string') body = `multicast listener message [malformed: ${m}]`;
      else if (m.kind === 'query') {
        const parts: string[] = [];
        if (ipv6ToString(m.group) !== '::') parts.push(`gaddr ${ipv6ToString(m.group)}`);
        if (m.sources.length > 0) parts.push(`${m.sources.length} source(s)`);
        body = m.version === 1 ? `multicast listener query max resp delay: ${m.maxResponseDelay} addr: ${ipv6ToString(m.group)}`
          : `multicast listener query v2${parts.length ? ` [${parts.join(', ')}]` : ''}`;
      }
      else if (m.kind === 'report2') body = `multicast listener report v2, ${m.records.length} group record(s)`;
      else body = `multicast listener ${m.kind} addr: ${ipv6ToString(m.group)}`;
      break;
    }
    default: {
      const m = parseNdp(buf, offset, length);
      if (typeof m === 'string') body = m === 'not-ndp' ? `type-#${type}` : `[malformed ndp: ${m}]`;
      else if (m.kind === 'rs') body = 'router solicitation';
      else if (m.kind === 'ra') body = 'router advertisement';
      else if (m.kind === 'ns') body = `neighbor solicitation, who has ${ipv6ToString(m.target)}`;
      else if (m.kind === 'na') body = `neighbor advertisement, tgt is ${ipv6ToString(m.target)}`;
      else body = `redirect, ${ipv6ToString(m.destination)} to ${ipv6ToString(m.target)}`;
    }
  }
  return `ICMP6, ${body}, length ${length}`;
}

function summarizeIpv6(buf: Uint8Array, offset: number, length: number): string {
  if (length < IPV6_HEADER_LENGTH) return 'IP6 [malformed: too-short]';
  if (buf[offset]! >>> 4 !== 6) return `IP6 [malformed: bad-version ${buf[offset]! >>> 4}]`;
  const src = ipv6ToString(buf, offset + 8);
  const dst = ipv6ToString(buf, offset + 24);
  const payloadLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
  if (IPV6_HEADER_LENGTH + payloadLength > length) return `${src} > ${dst}: [malformed ip6: truncated]`;
  const packet = buf.subarray(offset, offset + IPV6_HEADER_LENGTH + payloadLength);
  const c = walkIpv6Headers(packet, 0, chain);
  const hbh = packet[6] === NextHeader.HopByHop ? 'HBH ' : '';
  if (c.error !== null) return `${src} > ${dst}: ${hbh}[${c.error}]`;
  // tcpdump: "frag (offset|bytes after the fragment header)", atomic fragments included.
  const frag = c.fragmentHeaderOffset >= 0 ? `frag (${c.fragmentOffset}|${packet.length - c.fragmentHeaderOffset - 8}) ` : '';
  if (c.isFragment && c.fragmentOffset !== 0) return `${src} > ${dst}: ${hbh}${frag.trimEnd()}`;
  const l4 = offset + c.protocolOffset;
  // With a fragment header tcpdump names the ports without the addresses: "frag (0|1232) 4000 > 5000: UDP".
  const ports = (line: string) => (frag ? `${src} > ${dst}: ${hbh}${frag}${line.replace(/^\.(\d+) > \.(\d+)/, '$1 > $2')}` : line);
  switch (c.protocol) {
    case ICMPV6_PROTOCOL: return `${src} > ${dst}: ${hbh}${frag}${summarizeIcmpv6(buf, l4, c.protocolLength)}`;
    case IpProtocol.TCP: return ports(summarizeTcp(buf, l4, c.protocolLength, frag ? '' : src, frag ? '' : dst));
    case IpProtocol.UDP: return ports(summarizeUdp(buf, l4, c.protocolLength, frag ? '' : src, frag ? '' : dst, c.isFragment));
    case NextHeader.NoNextHeader: return `${src} > ${dst}: ${hbh}no next header`;
    default: return `${src} > ${dst}: ${hbh}${frag}ip-proto-${c.protocol} ${c.protocolLength}`;
  }
}

function summarizeArp(buf: Uint8Array, offset: number, length: number): string {
  if (length < ARP_FIXED_HEADER) return `ARP, [malformed: too-short], length ${length}`;
  const htype = (buf[offset]! << 8) | buf[offset + 1]!;
  const ptype = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  const op = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  const ethernetIpv4 = htype === ARP_HTYPE_ETHERNET && ptype === ARP_PTYPE_IPV4 && buf[offset + 4] === 6 && buf[offset + 5] === 4;
  if (!ethernetIpv4) return `ARP, hardware type ${htype}, protocol ${hex(ptype, 4)}, op ${op}, length ${length}`;
  if (length < 28) return `ARP, [malformed: too-short], length ${length}`;
  const senderIp = ipv4ToString(readIpv4(buf, offset + 14));
  const targetIp = ipv4ToString(readIpv4(buf, offset + 24));
  if (op === 1) return `ARP, Request who-has ${targetIp} tell ${senderIp}, length ${length}`;
  if (op === 2) return `ARP, Reply ${senderIp} is-at ${macToString(buf, offset + 8)}, length ${length}`;
  return `ARP, op ${op}, length ${length}`;
}

/**
 * One line in tcpdump's words (as `tcpdump -n -S`, without the link-level header), e.g.
 * "192.0.2.1 > 192.0.2.2: ICMP echo request, id 17, seq 1, length 64". Lengths are
 * tcpdump's: the ARP length is the Ethernet payload (padding included), the ICMP length the
 * whole message, TCP and UDP lengths the data after their headers. Never throws.
 */
export function summarizeFrame(buf: Uint8Array, offset: number, length: number, linkType: LinkType = 'ethernet'): string {
  try {
    const start = validOffset(buf, offset);
    const len = available(buf, start, length);
    if (linkType === 'ip') return len > 0 && buf[start]! >>> 4 === 6 ? summarizeIpv6(buf, start, len) : summarizeIpv4(buf, start, len);
    if (len < ETHERNET_HEADER_LENGTH) return `[malformed ethernet: too-short], length ${len}`;
    const eth = new EthernetFrame(buf, start, len);
    const type = eth.etherType;
    if (type === EtherType.IPv4) return summarizeIpv4(buf, eth.payloadOffset, eth.payloadLength);
    if (type === EtherType.ARP) return summarizeArp(buf, eth.payloadOffset, eth.payloadLength);
    if (type === EtherType.IPv6) return summarizeIpv6(buf, eth.payloadOffset, eth.payloadLength);
    if (type <= 1500) return `802.3, length ${type}`;
    return `ethertype ${etherTypeName(type) === 'unknown' ? 'Unknown' : etherTypeName(type)} (${hex(type, 4)}), length ${len}`;
  } catch (err) {
    return `[dissector error: ${err instanceof Error ? err.message : String(err)}]`;
  }
}
