/**
 * Who sent a frame to whom, and what it carries, in one word each: what a message sequence
 * diagram (the web page's ladder) needs to draw an arrow between two lifelines, and what a
 * protocol filter matches on. Hosts are named by IPv4 address where the frame says one (ARP
 * included), else by MAC. Never throws: a frame too short for a layer is named by the layers
 * it has.
 */

import { ipv4ToString, macToString, readIpv4 } from '../wire/addr.js';
import { ipv6ToString } from '../wire/addr6.js';
import { ETHERNET_HEADER_LENGTH, EtherType } from '../wire/ethernet.js';
import { IPV4_MIN_HEADER, IpProtocol } from '../wire/ipv4.js';
import { available, validOffset } from './bounds.js';
import { isDhcpPorts } from './dissect-dhcp.js';
import type { LinkType } from './dissect.js';

export type FrameProtocol = 'arp' | 'icmp' | 'tcp' | 'udp' | 'dns' | 'dhcp' | 'ipv4' | 'ipv6' | 'ethernet';

export interface FrameEnds {
  src: string;
  dst: string;
  /** The innermost protocol pstack names (dns and dhcp over udp, else the transport, ...). */
  protocol: FrameProtocol;
}

const ARP_FIXED_HEADER = 8;
const ARP_ETHERNET_IPV4_LENGTH = 28;
const DNS_PORT = 53;
const IPV6_HEADER_LENGTH = 40;

function ipv4Ends(buf: Uint8Array, o: number, len: number, fallback: FrameEnds): FrameEnds {
  if (len < IPV4_MIN_HEADER || buf[o]! >>> 4 !== 4) return fallback;
  const src = ipv4ToString(readIpv4(buf, o + 12));
  const dst = ipv4ToString(readIpv4(buf, o + 16));
  const headerLength = (buf[o]! & 0x0f) * 4;
  const firstFragment = (((buf[o + 6]! & 0x1f) << 8) | buf[o + 7]!) === 0;
  const l4 = o + headerLength;
  const protocolNumber = buf[o + 9]!;
  let protocol: FrameProtocol = 'ipv4';
  if (protocolNumber === IpProtocol.ICMP) protocol = 'icmp';
  else if (protocolNumber === IpProtocol.TCP) protocol = 'tcp';
  else if (protocolNumber === IpProtocol.UDP) {
    protocol = 'udp';
    if (firstFragment && headerLength >= IPV4_MIN_HEADER && len >= headerLength + 4) {
      const srcPort = (buf[l4]! << 8) | buf[l4 + 1]!;
      const dstPort = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
      if (srcPort === DNS_PORT || dstPort === DNS_PORT) protocol = 'dns';
      else if (isDhcpPorts(srcPort, dstPort)) protocol = 'dhcp';
    }
  }
  return { src, dst, protocol };
}

export function frameEnds(buf: Uint8Array, offset: number, length: number, linkType: LinkType = 'ethernet'): FrameEnds {
  const o = validOffset(buf, offset);
  const len = available(buf, o, length);
  if (linkType === 'ip') return ipv4Ends(buf, o, len, { src: '?', dst: '?', protocol: 'ipv4' });
  if (len < ETHERNET_HEADER_LENGTH) return { src: '?', dst: '?', protocol: 'ethernet' };
  const ethernet: FrameEnds = { src: macToString(buf, o + 6), dst: macToString(buf, o), protocol: 'ethernet' };
  const type = (buf[o + 12]! << 8) | buf[o + 13]!;
  const p = o + ETHERNET_HEADER_LENGTH;
  const rest = len - ETHERNET_HEADER_LENGTH;
  if (type === EtherType.IPv4) return ipv4Ends(buf, p, rest, { ...ethernet, protocol: 'ipv4' });
  if (type === 0x86dd) {
    if (rest < IPV6_HEADER_LENGTH || buf[p]! >>> 4 !== 6) return { ...ethernet, protocol: 'ipv6' };
    return { src: ipv6ToString(buf, p + 8), dst: ipv6ToString(buf, p + 24), protocol: 'ipv6' };
  }
  if (type === EtherType.ARP) {
    // Ethernet/IPv4 ARP names the hosts by their protocol addresses; others keep the MACs.
    if (rest >= ARP_ETHERNET_IPV4_LENGTH && buf[p + 4] === 6 && buf[p + 5] === 4) {
      return { src: ipv4ToString(readIpv4(buf, p + 14)), dst: ipv4ToString(readIpv4(buf, p + 24)), protocol: 'arp' };
    }
    return { ...ethernet, protocol: rest >= ARP_FIXED_HEADER ? 'arp' : 'ethernet' };
  }
  return ethernet;
}
