/**
 * The facts the drawings need from one captured packet, read through the wire views: link
 * header (Ethernet, raw IP, Linux cooked SLL/SLL2, BSD loopback), IPv4 or IPv6, then TCP,
 * UDP, ICMP or ARP. One PacketFacts is refilled per packet so a big capture costs no
 * per-packet objects beyond the address strings.
 */

import {
  ArpPacket, EthernetFrame, EtherType, IcmpPacket, Ipv4Packet, TcpOptions, TcpSegment, UdpDatagram,
  ipv4ToString, ipv6ToString, parseTcpOptions,
} from '../wire/index.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW,
} from './capture-reader.js';

export type PacketKind = 'tcp' | 'udp' | 'icmp' | 'icmp6' | 'arp' | 'ip' | 'other';

export class PacketFacts {
  kind: PacketKind = 'other';
  /** Why the packet could not be read further ('' when it could). */
  problem = '';
  ipVersion = 0;
  /** IP addresses (ARP: sender and target protocol addresses). */
  src = '';
  dst = '';
  /** Link addresses when the link header has them, else ''. */
  srcMac = '';
  dstMac = '';
  ipProtocol = 0;
  /** IP fragmentation: the fragment's offset in bytes and whether more follow (MF). */
  fragmentOffset = 0;
  moreFragments = false;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  /** TCP/UDP payload bytes (TCP: from the IP length, so snap-truncated captures still count). */
  payloadLength = 0;
  readonly options = new TcpOptions();
  icmpType = 0;
  icmpCode = 0;
  echoId = 0;
  echoSeq = 0;
  arpOp = 0;
  /** The captured bytes and where the UDP payload starts in them (for DNS). */
  buf: Uint8Array = new Uint8Array(0);
  payloadOffset = 0;
  capturedPayload = 0;
}

const eth = new EthernetFrame();
const ip4 = new Ipv4Packet();
const tcp = new TcpSegment();
const udp = new UdpDatagram();
const icmp = new IcmpPacket();
const arp = new ArpPacket();

/** Fill `out` from one captured packet; false when it is not a packet the drawings know. */
export function decodePacket(linkType: number, data: Uint8Array, out: PacketFacts): boolean {
  out.kind = 'other';
  out.problem = '';
  out.srcMac = '';
  out.dstMac = '';
  out.ipVersion = 0;
  out.fragmentOffset = 0;
  out.moreFragments = false;
  out.buf = data;
  let offset = 0;
  let etherType = -1;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      eth.reset(data);
      if (eth.check() !== null) return fail(out, 'short Ethernet frame');
      out.srcMac = eth.srcString();
      out.dstMac = eth.dstString();
      etherType = eth.etherType;
      offset = 14;
      // 802.1Q tags: step over (at most two, for QinQ).
      for (let i = 0; i < 2 && (etherType === EtherType.VLAN || etherType === 0x88a8) && offset + 4 <= data.length; i++) {
        etherType = (data[offset + 2]! << 8) | data[offset + 3]!;
        offset += 4;
      }
      break;
    }
    case LINKTYPE_RAW: case LINKTYPE_IPV4: case LINKTYPE_IPV6:
      break;
    case LINKTYPE_NULL:
      offset = 4; // the address family, in the capturing host's byte order: the IP version says enough
      break;
    case LINKTYPE_LINUX_SLL:
      if (data.length < 16) return fail(out, 'short Linux cooked header');
      etherType = (data[14]! << 8) | data[15]!;
      if (((data[4]! << 8) | data[5]!) === 6) out.srcMac = macText(data, 6);
      offset = 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (data.length < 20) return fail(out, 'short Linux cooked v2 header');
      etherType = (data[0]! << 8) | data[1]!;
      if (data[11] === 6) out.srcMac = macText(data, 12);
      offset = 20;
      break;
    default:
      return fail(out, `unknown link type ${linkType}`);
  }
  if (etherType === EtherType.ARP) return decodeArp(data, offset, out);
  if (etherType !== -1 && etherType !== EtherType.IPv4 && etherType !== EtherType.IPv6) return fail(out, `EtherType 0x${etherType.toString(16)}`);
  if (offset >= data.length) return fail(out, 'no network header');
  const version = data[offset]! >>> 4;
  if (version === 4) return decodeIpv4(data, offset, out);
  if (version === 6) return decodeIpv6(data, offset, out);
  return fail(out, `IP version ${version}`);
}

function fail(out: PacketFacts, problem: string): false {
  out.kind = 'other';
  out.problem = problem;
  return false;
}

function macText(data: Uint8Array, offset: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + data[offset + i]!.toString(16).padStart(2, '0');
  return s;
}

function decodeArp(data: Uint8Array, offset: number, out: PacketFacts): boolean {
  arp.reset(data, offset);
  if (arp.check() !== null) return fail(out, 'unreadable ARP');
  out.kind = 'arp';
  out.arpOp = arp.op;
  out.src = ipv4ToString(arp.senderIp);
  out.dst = ipv4ToString(arp.targetIp);
  out.srcMac = arp.senderMacString();
  out.dstMac = arp.targetMacString();
  return true;
}

function decodeIpv4(data: Uint8Array, offset: number, out: PacketFacts): boolean {
  ip4.reset(data, offset);
  const bad = ip4.check();
  // A snap length shorter than the packet still leaves the headers readable.
  if (bad !== null && bad !== 'truncated') return fail(out, `IPv4 ${bad}`);
  out.ipVersion = 4;
  out.src = ipv4ToString(ip4.src);
  out.dst = ipv4ToString(ip4.dst);
  out.ipProtocol = ip4.protocol;
  out.kind = 'ip';
  out.fragmentOffset = ip4.fragmentOffset;
  out.moreFragments = ip4.moreFragments;
  if (ip4.fragmentOffset !== 0) return true; // later fragments carry no transport header
  const start = ip4.payloadOffset;
  return decodeTransport(data, start, Math.min(ip4.totalLength - ip4.headerLength, data.length - start), ip4.totalLength - ip4.headerLength, out);
}

function decodeIpv6(data: Uint8Array, offset: number, out: PacketFacts): boolean {
  if (data.length - offset < 40) return fail(out, 'short IPv6 header');
  out.ipVersion = 6;
  out.src = ipv6ToString(data, offset + 8);
  out.dst = ipv6ToString(data, offset + 24);
  out.kind = 'ip';
  let next = data[offset + 6]!;
  let total = (data[offset + 4]! << 8) | data[offset + 5]!;
  let at = offset + 40;
  // Extension headers: hop-by-hop, routing, fragment, destination options.
  for (let i = 0; i < 8 && (next === 0 || next === 43 || next === 44 || next === 60); i++) {
    if (at + 8 > data.length) return true;
    const len = next === 44 ? 8 : (data[at + 1]! + 1) * 8;
    if (next === 44) {
      const field = (data[at + 2]! << 8) | data[at + 3]!;
      out.fragmentOffset = field & 0xfff8;
      out.moreFragments = (field & 1) !== 0;
      if (out.fragmentOffset !== 0) { out.ipProtocol = data[at]!; return true; }
    }
    next = data[at]!;
    at += len;
    total -= len;
  }
  out.ipProtocol = next;
  if (next === 58) out.ipProtocol = 58;
  return decodeTransport(data, at, Math.min(total, data.length - at), total, out);
}

function decodeTransport(data: Uint8Array, at: number, captured: number, wireLength: number, out: PacketFacts): boolean {
  if (captured < 0) return true;
  switch (out.ipProtocol) {
    case 6: {
      tcp.reset(data, at, captured);
      if (tcp.check() !== null) return true;
      out.kind = 'tcp';
      out.srcPort = tcp.srcPort;
      out.dstPort = tcp.dstPort;
      out.seq = tcp.seq;
      out.ack = tcp.ack;
      out.flags = tcp.flags;
      out.window = tcp.window;
      out.payloadLength = Math.max(0, wireLength - tcp.headerLength);
      if (parseTcpOptions(data, tcp.optionsOffset, tcp.optionsLength, out.options) !== null) out.options.reset();
      return true;
    }
    case 17: {
      if (captured < 8) return true;
      udp.reset(data, at, captured);
      out.kind = 'udp';
      out.srcPort = udp.srcPort;
      out.dstPort = udp.dstPort;
      out.payloadLength = Math.max(0, udp.udpLength - 8);
      out.payloadOffset = at + 8;
      out.capturedPayload = Math.max(0, Math.min(captured, udp.udpLength) - 8);
      return true;
    }
    case 1: case 58: {
      icmp.reset(data, at, captured);
      if (icmp.check() !== null) return true;
      out.kind = out.ipProtocol === 1 ? 'icmp' : 'icmp6';
      out.icmpType = icmp.type;
      out.icmpCode = icmp.code;
      out.echoId = icmp.echoId;
      out.echoSeq = icmp.echoSeq;
      return true;
    }
    default:
      return true;
  }
}
