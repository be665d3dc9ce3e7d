/**
 * Neighbor Discovery (RFC 4861) message bodies and options, with RDNSS/DNSSL (RFC 8106):
 * parse to a representation with RFC 4861's receive-side validation, and emit for each
 * message. NDP is control traffic (a few packets per neighbor per minute), so parse returns
 * objects; the per-packet paths of the stack never come here.
 *
 * What only the network layer can check (hop limit 255, the addressing rules that depend on
 * the IPv6 header) is in validateNdpAddressing, given the header fields.
 */

import { readIpv6, writeIpv6, isMulticastIpv6, isUnspecifiedIpv6, isLinkLocalIpv6, isSolicitedNodeMulticast, type Ipv6Address } from './addr6.js';
import { dnsNameToLabels, dnsLabelToText } from './dns.js';
import { ICMPV6_HEADER_LENGTH, Icmpv6Type, fillIcmpv6Checksum } from './icmpv6.js';

export const NdpOptionType = {
  SourceLinkLayer: 1,
  TargetLinkLayer: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
  Rdnss: 25,
  Dnssl: 31,
} as const;

export function ndpOptionName(type: number): string {
  switch (type) {
    case 1: return 'Source Link-Layer Address';
    case 2: return 'Target Link-Layer Address';
    case 3: return 'Prefix Information';
    case 4: return 'Redirected Header';
    case 5: return 'MTU';
    case 25: return 'Recursive DNS Server';
    case 31: return 'DNS Search List';
    default: return 'Unknown';
  }
}

/** The fixed part after the ICMPv6 type/code/checksum, per message: the minimum ICMP length. */
export const NDP_MIN_LENGTH: Record<number, number> = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 };

/** "Infinity" for lifetimes (RFC 4861 4.6.2). */
export const NDP_INFINITE_LIFETIME = 0xffffffff;

export interface NdpPrefixInfo {
  prefixLength: number;
  /** L: the prefix is on-link. */
  onLink: boolean;
  /** A: usable for stateless address autoconfiguration. */
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
  prefix: Ipv6Address;
}

export interface NdpRdnss { lifetime: number; servers: Ipv6Address[] }
export interface NdpDnssl { lifetime: number; domains: string[] }

export interface NdpOptions {
  sourceLinkLayer: Uint8Array | null;
  targetLinkLayer: Uint8Array | null;
  mtu: number | null;
  prefixes: NdpPrefixInfo[];
  rdnss: NdpRdnss[];
  dnssl: NdpDnssl[];
  /** The IP header and data a Redirect quotes (a copy). */
  redirectedHeader: Uint8Array | null;
  /** Types of options not understood, skipped as RFC 4861 4.6 says. */
  unknown: number[];
  /** Known options whose length was wrong for their type, ignored. */
  malformed: number[];
}

export type NdpOptionsInit = Partial<Omit<NdpOptions, 'unknown' | 'malformed'>>;

export interface RouterSolicitation { kind: 'rs'; options: NdpOptions }
export interface RouterAdvertisement {
  kind: 'ra';
  /** 0 means unspecified. */
  curHopLimit: number;
  /** M: addresses via DHCPv6. */
  managed: boolean;
  /** O: other configuration via DHCPv6. */
  other: boolean;
  /** RFC 4191 default router preference: 1 high, 0 medium, -1 low (2 reserved reads as 0). */
  preference: number;
  /** Seconds; 0 means not a default router. */
  routerLifetime: number;
  /** Milliseconds; 0 means unspecified. */
  reachableTime: number;
  /** Milliseconds; 0 means unspecified. */
  retransTimer: number;
  options: NdpOptions;
}
export interface NeighborSolicitation { kind: 'ns'; target: Ipv6Address; options: NdpOptions }
export interface NeighborAdvertisement {
  kind: 'na';
  router: boolean;
  solicited: boolean;
  override: boolean;
  target: Ipv6Address;
  options: NdpOptions;
}
export interface Redirect { kind: 'redirect'; target: Ipv6Address; destination: Ipv6Address; options: NdpOptions }

export type NdpMessage = RouterSolicitation | RouterAdvertisement | NeighborSolicitation | NeighborAdvertisement | Redirect;

/** Everything optional an emit may leave out. */
export type NdpMessageInit =
  | { kind: 'rs'; options?: NdpOptionsInit }
  | (Omit<RouterAdvertisement, 'options' | 'preference'> & { preference?: number; options?: NdpOptionsInit })
  | { kind: 'ns'; target: Ipv6Address; options?: NdpOptionsInit }
  | (Omit<NeighborAdvertisement, 'options'> & { options?: NdpOptionsInit })
  | { kind: 'redirect'; target: Ipv6Address; destination: Ipv6Address; options?: NdpOptionsInit };

export function isNdpType(type: number): boolean {
  return type >= 133 && type <= 137;
}

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}

// ---------------------------------------------------------------------------------------
// Parse

/**
 * Parse the NDP message (RS, RA, NS, NA, Redirect) whose ICMPv6 header starts at `offset`
 * (`length` = the ICMPv6 length); the checksum is the caller's. Returns a reason string for
 * what RFC 4861 says to discard: code not 0, too short, a target or destination that is
 * multicast, an option with length 0 or running past the end.
 */
export function parseNdp(buf: Uint8Array, offset: number, length: number): NdpMessage | string {
  if (length < ICMPV6_HEADER_LENGTH || offset + length > buf.length) return 'too-short';
  const type = buf[offset]!;
  const min = NDP_MIN_LENGTH[type];
  if (min === undefined) return 'not-ndp';
  if (buf[offset + 1] !== 0) return 'bad-code';
  if (length < min) return 'too-short';
  const options = parseNdpOptions(buf, offset + min, length - min);
  if (typeof options === 'string') return options;
  const o = offset;
  switch (type) {
    case Icmpv6Type.RouterSolicitation:
      return { kind: 'rs', options };
    case Icmpv6Type.RouterAdvertisement: {
      const flags = buf[o + 5]!;
      const prf = (flags >>> 3) & 3;
      return {
        kind: 'ra', curHopLimit: buf[o + 4]!, managed: (flags & 0x80) !== 0, other: (flags & 0x40) !== 0,
        preference: prf === 1 ? 1 : prf === 3 ? -1 : 0,
        routerLifetime: u16(buf, o + 6), reachableTime: u32(buf, o + 8), retransTimer: u32(buf, o + 12), options,
      };
    }
    case Icmpv6Type.NeighborSolicitation:
      if (isMulticastIpv6(buf, o + 8)) return 'multicast-target';
      return { kind: 'ns', target: readIpv6(buf, o + 8), options };
    case Icmpv6Type.NeighborAdvertisement: {
      if (isMulticastIpv6(buf, o + 8)) return 'multicast-target';
      const flags = buf[o + 4]!;
      return {
        kind: 'na', router: (flags & 0x80) !== 0, solicited: (flags & 0x40) !== 0, override: (flags & 0x20) !== 0,
        target: readIpv6(buf, o + 8), options,
      };
    }
    default:
      if (isMulticastIpv6(buf, o + 24)) return 'multicast-destination';
      return { kind: 'redirect', target: readIpv6(buf, o + 8), destination: readIpv6(buf, o + 24), options };
  }
}

export function emptyNdpOptions(): NdpOptions {
  return { sourceLinkLayer: null, targetLinkLayer: null, mtu: null, prefixes: [], rdnss: [], dnssl: [], redirectedHeader: null, unknown: [], malformed: [] };
}

/** The options in buf[offset, offset+length); a reason string when the packet must be dropped. */
export function parseNdpOptions(buf: Uint8Array, offset: number, length: number): NdpOptions | string {
  const out = emptyNdpOptions();
  const end = offset + length;
  let at = offset;
  while (at < end) {
    if (end - at < 2) return 'truncated-option';
    const type = buf[at]!;
    const len = buf[at + 1]! * 8;
    if (len === 0) return 'zero-length-option';
    if (at + len > end) return 'truncated-option';
    if (!parseOption(buf, at, type, len, out)) out.malformed.push(type);
    at += len;
  }
  return out;
}

/** Fill one option into `out`; false when its length does not fit its type. */
function parseOption(buf: Uint8Array, at: number, type: number, len: number, out: NdpOptions): boolean {
  switch (type) {
    case NdpOptionType.SourceLinkLayer:
    case NdpOptionType.TargetLinkLayer: {
      // Ethernet: 6 bytes of address in an 8-byte option (RFC 2464 6).
      if (len !== 8) return false;
      const mac = buf.slice(at + 2, at + 8);
      if (type === NdpOptionType.SourceLinkLayer) out.sourceLinkLayer = mac;
      else out.targetLinkLayer = mac;
      return true;
    }
    case NdpOptionType.PrefixInformation: {
      if (len !== 32 || buf[at + 2]! > 128) return false;
      const flags = buf[at + 3]!;
      out.prefixes.push({
        prefixLength: buf[at + 2]!, onLink: (flags & 0x80) !== 0, autonomous: (flags & 0x40) !== 0,
        validLifetime: u32(buf, at + 4), preferredLifetime: u32(buf, at + 8), prefix: readIpv6(buf, at + 16),
      });
      return true;
    }
    case NdpOptionType.Mtu:
      if (len !== 8) return false;
      out.mtu = u32(buf, at + 4);
      return true;
    case NdpOptionType.RedirectedHeader:
      out.redirectedHeader = buf.slice(at + 8, at + len);
      return true;
    case NdpOptionType.Rdnss: {
      // RFC 8106 5.1: length 3 + 2n (n >= 1 addresses).
      if (len < 24 || (len / 8 - 1) % 2 !== 0) return false;
      const servers: Ipv6Address[] = [];
      for (let p = at + 8; p < at + len; p += 16) servers.push(readIpv6(buf, p));
      out.rdnss.push({ lifetime: u32(buf, at + 4), servers });
      return true;
    }
    case NdpOptionType.Dnssl: {
      if (len < 16) return false;
      const domains = parseDnsslNames(buf, at + 8, at + len);
      if (domains === null) return false;
      out.dnssl.push({ lifetime: u32(buf, at + 4), domains });
      return true;
    }
    default:
      out.unknown.push(type);
      return true;
  }
}

/** Uncompressed DNS names one after another, then zero padding (RFC 8106 5.2). */
function parseDnsslNames(buf: Uint8Array, at: number, end: number): string[] | null {
  const names: string[] = [];
  let labels: string[] = [];
  while (at < end) {
    const n = buf[at]!;
    if (n === 0) {
      if (labels.length === 0) break; // padding
      names.push(labels.join('.'));
      labels = [];
      at++;
      continue;
    }
    if (n > 63 || at + 1 + n > end) return null;
    labels.push(dnsLabelToText(buf, at + 1, n));
    at += 1 + n;
  }
  // Everything after the last name must be padding, and no name may be left open.
  if (labels.length !== 0) return null;
  for (; at < end; at++) if (buf[at] !== 0) return null;
  return names;
}

/**
 * RFC 4861's receive checks that need the IPv6 header (sections 6.1.1, 6.1.2, 7.1.1, 7.1.2,
 * 8.1): hop limit 255; NS from :: only to a solicited-node group and without a source
 * link-layer option; NA to a multicast group not solicited; RA and Redirect from a link-local
 * source. `src` and `dst` are 16 bytes at their offsets. null when acceptable.
 */
export function validateNdpAddressing(
  msg: NdpMessage, hopLimit: number, src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number,
): string | null {
  if (hopLimit !== 255) return 'hop-limit-not-255';
  switch (msg.kind) {
    case 'ns':
      if (isUnspecifiedIpv6(src, srcOffset)) {
        if (!isSolicitedNodeMulticast(dst, dstOffset)) return 'dad-not-to-solicited-node';
        if (msg.options.sourceLinkLayer !== null) return 'dad-with-source-link-layer';
      }
      return null;
    case 'na':
      return msg.solicited && isMulticastIpv6(dst, dstOffset) ? 'solicited-to-multicast' : null;
    case 'rs':
      return isUnspecifiedIpv6(src, srcOffset) && msg.options.sourceLinkLayer !== null ? 'unspecified-with-source-link-layer' : null;
    case 'ra':
    case 'redirect':
      return isLinkLocalIpv6(src, srcOffset) ? null : 'source-not-link-local';
  }
}

// ---------------------------------------------------------------------------------------
// Emit

/** The encoded length of the given options. */
export function ndpOptionsLength(o: NdpOptionsInit): number {
  let n = 0;
  if (o.sourceLinkLayer) n += 8;
  if (o.targetLinkLayer) n += 8;
  if (o.mtu !== undefined && o.mtu !== null) n += 8;
  n += 32 * (o.prefixes?.length ?? 0);
  for (const r of o.rdnss ?? []) n += 8 + 16 * r.servers.length;
  for (const d of o.dnssl ?? []) n += dnsslLength(d.domains);
  if (o.redirectedHeader) n += 8 + roundUp8(o.redirectedHeader.length);
  return n;
}

const roundUp8 = (n: number) => (n + 7) & ~7;

function dnsslLength(domains: readonly string[]): number {
  let names = 0;
  for (const d of domains) {
    const labels = dnsNameToLabels(d);
    if (typeof labels === 'string') throw new RangeError(`DNSSL: ${d}: ${labels}`);
    for (const l of labels) names += 1 + l.length;
    names += 1;
  }
  return 8 + roundUp8(names);
}

/** Write options (link-layer, MTU, prefixes, RDNSS, DNSSL, redirected header); returns the offset after them. */
export function emitNdpOptions(buf: Uint8Array, offset: number, o: NdpOptionsInit): number {
  let at = offset;
  const linkLayer = (type: number, mac: Uint8Array) => {
    buf[at] = type; buf[at + 1] = 1;
    for (let i = 0; i < 6; i++) buf[at + 2 + i] = mac[i]!;
    at += 8;
  };
  if (o.sourceLinkLayer) linkLayer(NdpOptionType.SourceLinkLayer, o.sourceLinkLayer);
  if (o.targetLinkLayer) linkLayer(NdpOptionType.TargetLinkLayer, o.targetLinkLayer);
  if (o.mtu !== undefined && o.mtu !== null) {
    buf[at] = NdpOptionType.Mtu; buf[at + 1] = 1; buf[at + 2] = 0; buf[at + 3] = 0;
    put32(buf, at + 4, o.mtu);
    at += 8;
  }
  for (const p of o.prefixes ?? []) {
    buf[at] = NdpOptionType.PrefixInformation; buf[at + 1] = 4;
    buf[at + 2] = p.prefixLength;
    buf[at + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    put32(buf, at + 4, p.validLifetime);
    put32(buf, at + 8, p.preferredLifetime);
    put32(buf, at + 12, 0);
    writeIpv6(buf, at + 16, p.prefix);
    at += 32;
  }
  for (const r of o.rdnss ?? []) {
    buf[at] = NdpOptionType.Rdnss; buf[at + 1] = 1 + 2 * r.servers.length; buf[at + 2] = 0; buf[at + 3] = 0;
    put32(buf, at + 4, r.lifetime);
    for (let i = 0; i < r.servers.length; i++) writeIpv6(buf, at + 8 + 16 * i, r.servers[i]!);
    at += 8 + 16 * r.servers.length;
  }
  for (const d of o.dnssl ?? []) {
    const len = dnsslLength(d.domains);
    buf[at] = NdpOptionType.Dnssl; buf[at + 1] = len / 8; buf[at + 2] = 0; buf[at + 3] = 0;
    put32(buf, at + 4, d.lifetime);
    let p = at + 8;
    for (const name of d.domains) {
      for (const l of dnsNameToLabels(name) as Uint8Array[]) {
        buf[p++] = l.length;
        buf.set(l, p);
        p += l.length;
      }
      buf[p++] = 0;
    }
    buf.fill(0, p, at + len);
    at += len;
  }
  if (o.redirectedHeader) {
    const len = 8 + roundUp8(o.redirectedHeader.length);
    buf[at] = NdpOptionType.RedirectedHeader; buf[at + 1] = len / 8;
    buf.fill(0, at + 2, at + 8);
    buf.set(o.redirectedHeader, at + 8);
    buf.fill(0, at + 8 + o.redirectedHeader.length, at + len);
    at += len;
  }
  return at;
}

/** The ICMPv6 length of a message: its fixed part plus options. */
export function ndpMessageLength(m: NdpMessageInit): number {
  return NDP_MIN_LENGTH[typeOf(m)]! + ndpOptionsLength(m.options ?? {});
}

function typeOf(m: NdpMessageInit): number {
  switch (m.kind) {
    case 'rs': return Icmpv6Type.RouterSolicitation;
    case 'ra': return Icmpv6Type.RouterAdvertisement;
    case 'ns': return Icmpv6Type.NeighborSolicitation;
    case 'na': return Icmpv6Type.NeighborAdvertisement;
    case 'redirect': return Icmpv6Type.Redirect;
  }
}

/**
 * Write a whole NDP message (ICMPv6 header, body, options, checksum for `src` -> `dst`) at
 * `offset`; returns the offset after it. The IPv6 header (hop limit 255) is the caller's.
 * Throws RangeError for a DNSSL name that is not a valid DNS name (a caller bug, not input).
 */
export function emitNdp(buf: Uint8Array, offset: number, m: NdpMessageInit, src: Uint8Array, dst: Uint8Array): number {
  const type = typeOf(m);
  const fixed = NDP_MIN_LENGTH[type]!;
  buf.fill(0, offset, offset + fixed);
  buf[offset] = type;
  switch (m.kind) {
    case 'ra': {
      const prf = m.preference === 1 ? 1 : m.preference === -1 ? 3 : 0;
      buf[offset + 4] = m.curHopLimit;
      buf[offset + 5] = (m.managed ? 0x80 : 0) | (m.other ? 0x40 : 0) | (prf << 3);
      buf[offset + 6] = m.routerLifetime >>> 8;
      buf[offset + 7] = m.routerLifetime & 0xff;
      put32(buf, offset + 8, m.reachableTime);
      put32(buf, offset + 12, m.retransTimer);
      break;
    }
    case 'ns':
      writeIpv6(buf, offset + 8, m.target);
      break;
    case 'na':
      buf[offset + 4] = (m.router ? 0x80 : 0) | (m.solicited ? 0x40 : 0) | (m.override ? 0x20 : 0);
      writeIpv6(buf, offset + 8, m.target);
      break;
    case 'redirect':
      writeIpv6(buf, offset + 8, m.target);
      writeIpv6(buf, offset + 24, m.destination);
      break;
    case 'rs':
      break;
  }
  const end = emitNdpOptions(buf, offset + fixed, m.options ?? {});
  fillIcmpv6Checksum(buf, offset, end - offset, src, dst);
  return end;
}

/**
 * The hot case as its own function, allocation-free: a Neighbor Solicitation for the target
 * at `target[targetOffset]`, with a source link-layer option when `sourceMac` is given.
 */
export function emitNeighborSolicitation(
  buf: Uint8Array, offset: number, target: Uint8Array, targetOffset: number, sourceMac: Uint8Array | null,
  src: Uint8Array, dst: Uint8Array,
): number {
  buf.fill(0, offset, offset + 8);
  buf[offset] = Icmpv6Type.NeighborSolicitation;
  writeIpv6(buf, offset + 8, target, targetOffset);
  let end = offset + 24;
  if (sourceMac !== null) {
    buf[end] = NdpOptionType.SourceLinkLayer; buf[end + 1] = 1;
    for (let i = 0; i < 6; i++) buf[end + 2 + i] = sourceMac[i]!;
    end += 8;
  }
  fillIcmpv6Checksum(buf, offset, end - offset, src, dst);
  return end;
}

/** The Neighbor Advertisement twin of emitNeighborSolicitation (target link-layer option). */
export function emitNeighborAdvertisement(
  buf: Uint8Array, offset: number, target: Uint8Array, targetOffset: number, targetMac: Uint8Array | null,
  router: boolean, solicited: boolean, override: boolean, src: Uint8Array, dst: Uint8Array,
): number {
  buf.fill(0, offset, offset + 8);
  buf[offset] = Icmpv6Type.NeighborAdvertisement;
  buf[offset + 4] = (router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override ? 0x20 : 0);
  writeIpv6(buf, offset + 8, target, targetOffset);
  let end = offset + 24;
  if (targetMac !== null) {
    buf[end] = NdpOptionType.TargetLinkLayer; buf[end + 1] = 1;
    for (let i = 0; i < 6; i++) buf[end + 2 + i] = targetMac[i]!;
    end += 8;
  }
  fillIcmpv6Checksum(buf, offset, end - offset, src, dst);
  return end;
}
