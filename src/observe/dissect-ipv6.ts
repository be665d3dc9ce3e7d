/**
 * IPv6 in the log layout: the fixed header, one block per extension header (options spelled
 * out, Routing, Fragment), and the walker's verdict when the chain is refused. The upper
 * layer is the caller's (dissect.ts passes its transport dispatcher in, so that the two files
 * do not import each other). Never throws.
 */

import { ipv6ToString, readIpv6 } from '../wire/addr6.js';
import { IPV6_HEADER_LENGTH, Ipv6Packet, NextHeader, nextHeaderName } from '../wire/ipv6.js';
import {
  Ipv6HeaderChain, ipv6ExtensionHeaderLength, ipv6OptionName, isIpv6ExtensionHeader, listIpv6Options, walkIpv6Headers,
} from '../wire/ipv6-ext.js';
import { available, hex } from './bounds.js';
import { IP_LABEL_WIDTH, field, malformedBlock, pushHexField, type Direction, type DissectionBlock, type DissectOptions } from './dissect-fields.js';

const ECN_NAMES = ['Not-ECT', 'ECT(1)', 'ECT(0)', 'CE'];
const EXT_WIDTH = 16; // "segments left: "

export function dissectIpv6(
  direction: Direction, buf: Uint8Array, offset: number, length: number, options: DissectOptions = {},
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} ipv6 packet`;
  const lines: string[] = [];
  const f = (name: string, value: string) => lines.push(field(IP_LABEL_WIDTH, name, value));
  if (len < IPV6_HEADER_LENGTH) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${IPV6_HEADER_LENGTH})`);
  const ip = new Ipv6Packet(buf, offset, len);
  f('version', String(ip.version));
  if (ip.version !== 6) return malformedBlock(title, lines, `bad-version (${ip.version})`);
  const tc = ip.trafficClass;
  f('traffic class', '0b' + tc.toString(2).padStart(8, '0') + (tc === 0 ? '' : ` (DSCP ${tc >>> 2}, ECN ${ECN_NAMES[tc & 3]})`));
  f('flow label', hex(ip.flowLabel, 5));
  f('payload length', `${ip.payloadLength} bytes`);
  f('next header', `${nextHeaderName(ip.nextHeader)} (${ip.nextHeader})`);
  f('hop limit', String(ip.hopLimit));
  f('source address', ip.srcString());
  f('destination address', ip.dstString());
  if (ip.check() === 'truncated') return malformedBlock(title, lines, `truncated (payload length ${ip.payloadLength}, only ${len - IPV6_HEADER_LENGTH} bytes present)`);
  pushHexField(lines, IP_LABEL_WIDTH, 'payload', buf, ip.payloadOffset, ip.payloadLength, options);
  return { title, lines };
}

function optionText(buf: Uint8Array, type: number, at: number, dataLength: number): string {
  const name = `${ipv6OptionName(type)} (${hex(type, 2)})`;
  if (type === 0) return name;
  if (type === 5 && dataLength === 2) {
    const v = (buf[at + 2]! << 8) | buf[at + 3]!;
    return `${name} ${v === 0 ? 'MLD' : v === 1 ? 'RSVP' : v === 2 ? 'Active Networks' : 'value'} (${v})`;
  }
  if (type === 1) return `${name} ${dataLength} bytes`;
  const action = ['skip', 'discard', 'discard and send ICMP', 'discard and send ICMP unless multicast'][type >>> 6];
  let data = '';
  for (let i = 0; i < dataLength; i++) data += buf[at + 2 + i]!.toString(16).padStart(2, '0');
  return `${name} len=${dataLength}${data ? ' ' + data : ''}${ipv6OptionName(type) === 'Unknown' ? ` (unknown: ${action})` : ''}`;
}

/** One block for the extension header of type `nh` at `at` (its length already checked to fit). */
function extensionBlock(direction: Direction, buf: Uint8Array, at: number, nh: number, hlen: number): DissectionBlock {
  const names: Record<number, string> = { 0: 'hop-by-hop options', 43: 'routing header', 44: 'fragment header', 60: 'destination options', 51: 'authentication header', 135: 'mobility header' };
  const title = `${direction} ipv6 ${names[nh] ?? 'extension header'}`;
  const lines: string[] = [];
  const f = (name: string, value: string) => lines.push(field(EXT_WIDTH, name, value));
  f('next header', `${nextHeaderName(buf[at]!)} (${buf[at]!})`);
  if (nh === NextHeader.Fragment) {
    const off = ((buf[at + 2]! << 8) | buf[at + 3]!) & 0xfff8;
    const more = (buf[at + 3]! & 1) !== 0;
    f('offset', off === 0 ? '0' : `${off / 8} (${off} bytes)`);
    f('more fragments', more ? 'yes' : 'no');
    f('id', hex(((buf[at + 4]! << 24) | (buf[at + 5]! << 16) | (buf[at + 6]! << 8) | buf[at + 7]!) >>> 0, 8) + (off === 0 && !more ? ' (atomic fragment)' : ''));
    return { title, lines };
  }
  f('length', `${hlen} bytes`);
  if (nh === NextHeader.HopByHop || nh === NextHeader.DestinationOptions) {
    for (const o of listIpv6Options(buf, at, hlen)) f('option', optionText(buf, o.type, o.offset, o.length));
  } else if (nh === NextHeader.Routing) {
    const type = buf[at + 2]!;
    f('type', `${type}${type === 0 ? ' (deprecated, RFC 5095)' : type === 4 ? ' (segment routing)' : ''}`);
    f('segments left', String(buf[at + 3]!));
    if (type === 0) {
      for (let p = at + 8; p + 16 <= at + hlen; p += 16) f('address', ipv6ToString(buf, p));
    }
  }
  return { title, lines };
}

/** What the IPv6 chain hands its upper layer. */
export type Ipv6UpperDissector = (
  blocks: DissectionBlock[], protocol: number, offset: number, length: number,
  addresses: { src: Uint8Array; dst: Uint8Array }, firstFragment: boolean,
) => void;

const chain = new Ipv6HeaderChain();

/** The IPv6 header, each extension header, then `upper` for the upper layer (unless refused). */
export function dissectIpv6Chain(
  blocks: DissectionBlock[], direction: Direction, buf: Uint8Array, offset: number, length: number,
  options: DissectOptions, upper: Ipv6UpperDissector,
): void {
  const ipBlock = dissectIpv6(direction, buf, offset, length, options);
  blocks.push(ipBlock);
  if (ipBlock.malformed !== undefined) return;
  // The walker trusts the buffer end as the packet end: hand it a view bounded to this packet.
  const len = available(buf, offset, length);
  const packet = buf.subarray(offset, offset + len);
  const c = walkIpv6Headers(packet, 0, chain);
  let nh = packet[6]!;
  let at = IPV6_HEADER_LENGTH;
  const end = c.error === null ? c.protocolOffset : packet.length;
  while (isIpv6ExtensionHeader(nh) && at + 8 <= end) {
    const hlen = ipv6ExtensionHeaderLength(packet, at, nh);
    if (at + hlen > packet.length) break;
    blocks.push(extensionBlock(direction, packet, at, nh, hlen));
    if (nh === NextHeader.Fragment && (((packet[at + 2]! << 8) | packet[at + 3]!) & 0xfff8) !== 0) break;
    nh = packet[at]!;
    at += hlen;
  }
  if (c.error !== null) {
    const last = blocks[blocks.length - 1]!;
    const icmp = c.icmpCode >= 0 ? `; parameter problem code ${c.icmpCode}, pointer ${c.pointer}` : '';
    const reason = `${c.error}${icmp}`;
    last.lines.push('malformed: ' + reason);
    last.malformed = reason;
    return;
  }
  if (c.isFragment && c.fragmentOffset !== 0) return; // later fragment: data, no header
  if (c.protocol === NextHeader.NoNextHeader) return;
  const addresses = { src: readIpv6(packet, 8), dst: readIpv6(packet, 24) };
  upper(blocks, c.protocol, offset + c.protocolOffset, c.protocolLength, addresses, c.isFragment);
}
