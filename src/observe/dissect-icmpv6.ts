/**
 * ICMPv6 in the log layout: the header and checksum (over the IPv6 pseudo-header), echo,
 * the four errors with the quoted packet in one line, NDP messages with every option, and
 * MLD queries and reports. Never throws; a body that does not parse is named malformed.
 */

import { ipv6ToString } from '../wire/addr6.js';
import { macToString } from '../wire/addr.js';
import { pseudoHeaderSum6, sum16 } from '../wire/checksum.js';
import { ICMPV6_HEADER_LENGTH, ICMPV6_PROTOCOL, Icmpv6Packet, icmpv6CodeName, icmpv6TypeName, isIcmpv6Error } from '../wire/icmpv6.js';
import { IPV6_HEADER_LENGTH, nextHeaderName } from '../wire/ipv6.js';
import { isMldType, multicastRecordTypeName, parseMld } from '../wire/mld.js';
import { isNdpType, ndpOptionName, parseNdp, type NdpOptions } from '../wire/ndp.js';
import { available } from './bounds.js';
import {
  L4_LABEL_WIDTH, checksumVerdict, field, malformedBlock, pushHexField, type Direction, type DissectionBlock, type DissectOptions,
} from './dissect-fields.js';

const W = 17; // "router lifetime: "

/** The IPv6 packet an error quotes, in one line. */
export function describeQuotedIpv6(buf: Uint8Array, offset: number, length: number): string {
  if (length < IPV6_HEADER_LENGTH) return `malformed (too-short, ${length} bytes)`;
  if (buf[offset]! >>> 4 !== 6) return `malformed (bad-version ${buf[offset]! >>> 4})`;
  const nh = buf[offset + 6]!;
  let text = `${ipv6ToString(buf, offset + 8)} > ${ipv6ToString(buf, offset + 24)}, ${nextHeaderName(nh)} (${nh})`;
  const l4 = offset + IPV6_HEADER_LENGTH;
  if ((nh === 6 || nh === 17) && length - IPV6_HEADER_LENGTH >= 4) {
    text += `, ports ${(buf[l4]! << 8) | buf[l4 + 1]!} > ${(buf[l4 + 2]! << 8) | buf[l4 + 3]!}`;
  } else if (nh === ICMPV6_PROTOCOL && length - IPV6_HEADER_LENGTH >= 1) {
    text += `, ${icmpv6TypeName(buf[l4]!)} (${buf[l4]!})`;
  }
  return text;
}

function ndpOptionLines(o: NdpOptions): string[] {
  const lines: string[] = [];
  const opt = (text: string) => lines.push(field(W, 'option', text));
  if (o.sourceLinkLayer) opt(`${ndpOptionName(1)} ${macToString(o.sourceLinkLayer)}`);
  if (o.targetLinkLayer) opt(`${ndpOptionName(2)} ${macToString(o.targetLinkLayer)}`);
  if (o.mtu !== null) opt(`MTU ${o.mtu}`);
  for (const p of o.prefixes) {
    const flags = [p.onLink ? 'L' : '', p.autonomous ? 'A' : ''].join('') || 'none';
    opt(`Prefix Information ${ipv6ToString(p.prefix)}/${p.prefixLength} flags ${flags} valid ${lifetime(p.validLifetime)} preferred ${lifetime(p.preferredLifetime)}`);
  }
  for (const r of o.rdnss) opt(`Recursive DNS Server lifetime ${lifetime(r.lifetime)} [${r.servers.map((s) => ipv6ToString(s)).join(', ')}]`);
  for (const d of o.dnssl) opt(`DNS Search List lifetime ${lifetime(d.lifetime)} [${d.domains.join(', ')}]`);
  if (o.redirectedHeader) opt(`Redirected Header (${o.redirectedHeader.length} bytes): ${describeQuotedIpv6(o.redirectedHeader, 0, o.redirectedHeader.length)}`);
  for (const t of o.unknown) opt(`unknown type ${t} (skipped)`);
  for (const t of o.malformed) opt(`${ndpOptionName(t)} with a bad length (ignored)`);
  return lines;
}

function lifetime(s: number): string {
  return s === 0xffffffff ? 'infinite' : `${s}s`;
}

/**
 * `length` is the ICMPv6 message (the upper-layer length); `src`/`dst` are the IPv6
 * addresses (16 bytes each) for the checksum, or null when they are not known.
 */
export function dissectIcmpv6(
  direction: Direction, buf: Uint8Array, offset: number, length: number,
  addresses: { src: Uint8Array; dst: Uint8Array } | null, options: DissectOptions = {}, fragment = false,
): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} icmpv6 packet`;
  const lines: string[] = [];
  const f = (name: string, value: string) => lines.push(field(isNdpType(buf[offset] ?? 0) || isMldType(buf[offset] ?? 0) ? W : L4_LABEL_WIDTH, name, value));
  if (len < ICMPV6_HEADER_LENGTH) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${ICMPV6_HEADER_LENGTH})`);
  const icmp = new Icmpv6Packet(buf, offset, len);
  const type = icmp.type;
  f('type', `${icmpv6TypeName(type)} (${type})`);
  const codeName = icmpv6CodeName(type, icmp.code);
  f('code', isIcmpv6Error(type) && codeName !== String(icmp.code) && !codeName.startsWith('code') ? `${codeName} (${icmp.code})` : String(icmp.code));
  if (addresses && !fragment) {
    const pseudo = pseudoHeaderSum6(addresses.src, 0, addresses.dst, 0, ICMPV6_PROTOCOL, len);
    f('checksum', checksumVerdict(icmp.checksum, sum16(buf, offset, len, pseudo)));
  } else f('checksum', '0x' + icmp.checksum.toString(16).padStart(4, '0'));
  if (type === 128 || type === 129) {
    f('id', String(icmp.echoId));
    f('seq', String(icmp.echoSeq));
  } else if (type === 2) f('mtu', String(icmp.mtu));
  else if (type === 4) f('pointer', String(icmp.pointer));
  if (isIcmpv6Error(type)) {
    f('original', describeQuotedIpv6(buf, icmp.dataOffset, icmp.dataLength));
    pushHexField(lines, L4_LABEL_WIDTH, 'payload', buf, icmp.dataOffset, icmp.dataLength, options);
    return { title, lines };
  }
  if (isNdpType(type)) {
    const m = parseNdp(buf, offset, len);
    if (typeof m === 'string') return malformedBlock(title, lines, m);
    switch (m.kind) {
      case 'ra':
        f('cur hop limit', String(m.curHopLimit));
        f('flags', [m.managed ? 'M' : '', m.other ? 'O' : ''].join('') + ` (preference ${['low', 'medium', 'high'][m.preference + 1]})`);
        f('router lifetime', `${m.routerLifetime}s`);
        f('reachable time', `${m.reachableTime}ms`);
        f('retrans timer', `${m.retransTimer}ms`);
        break;
      case 'ns':
        f('target', ipv6ToString(m.target));
        break;
      case 'na':
        f('flags', [m.router ? 'R' : '', m.solicited ? 'S' : '', m.override ? 'O' : ''].join('') || 'none');
        f('target', ipv6ToString(m.target));
        break;
      case 'redirect':
        f('target', ipv6ToString(m.target));
        f('destination', ipv6ToString(m.destination));
        break;
      case 'rs':
        break;
    }
    lines.push(...ndpOptionLines(m.options));
    return { title, lines };
  }
  if (isMldType(type)) {
    const m = parseMld(buf, offset, len);
    if (typeof m === 'string') return malformedBlock(title, lines, m);
    if (m.kind === 'query') {
      f('version', `MLDv${m.version}`);
      f('max response', `${m.maxResponseDelay}ms`);
      f('group', ipv6ToString(m.group) === '::' ? ':: (general query)' : ipv6ToString(m.group));
      if (m.version === 2) {
        f('flags', `${m.suppressRouterSide ? 'S' : 'none'}, QRV ${m.robustness}, QQIC ${m.qqic} (${m.queryInterval}s)`);
        f('sources', m.sources.length ? m.sources.map((s) => ipv6ToString(s)).join(', ') : '-');
      }
    } else if (m.kind === 'report' || m.kind === 'done') {
      f('group', ipv6ToString(m.group));
    } else {
      f('records', String(m.records.length));
      for (const r of m.records) {
        const srcs = r.sources.length ? ` from [${r.sources.map((s) => ipv6ToString(s)).join(', ')}]` : '';
        f('record', `${multicastRecordTypeName(r.type)} (${r.type}) ${ipv6ToString(r.group)}${srcs}${r.auxData.length ? ` aux ${r.auxData.length} bytes` : ''}`);
      }
    }
    return { title, lines };
  }
  pushHexField(lines, L4_LABEL_WIDTH, 'payload', buf, icmp.dataOffset, icmp.dataLength, options);
  return { title, lines };
}
