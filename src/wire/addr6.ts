/**
 * IPv6 addresses (RFC 4291) as the stack holds them: 16-byte Uint8Arrays (or 16 bytes at an
 * offset inside a packet, which the in-place helpers take so the hot path copies nothing).
 * Text forms (RFC 4291 2.2 in, RFC 5952 out), classification, prefixes, the derived multicast
 * and link-layer addresses NDP needs, and interface identifiers (modified EUI-64, RFC 7217).
 */

import { hmacSha256 } from './sha256.js';

export type Ipv6Address = Uint8Array;

export const IPV6_ADDRESS_LENGTH = 16;

const fromHex = (hex: string): Ipv6Address => {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
};

/** :: */
export const IPV6_UNSPECIFIED: Ipv6Address = new Uint8Array(16);
/** ::1 */
export const IPV6_LOOPBACK: Ipv6Address = fromHex('00000000000000000000000000000001');
/** ff02::1, all nodes on the link. */
export const IPV6_ALL_NODES: Ipv6Address = fromHex('ff020000000000000000000000000001');
/** ff02::2, all routers on the link. */
export const IPV6_ALL_ROUTERS: Ipv6Address = fromHex('ff020000000000000000000000000002');
/** ff02::16, where MLDv2 reports go (RFC 3810 5.2.14). */
export const IPV6_ALL_MLDV2_ROUTERS: Ipv6Address = fromHex('ff020000000000000000000000000016');

/** Multicast scopes (RFC 7346 / RFC 4291 2.7). */
export const MulticastScope = {
  InterfaceLocal: 1,
  LinkLocal: 2,
  RealmLocal: 3,
  AdminLocal: 4,
  SiteLocal: 5,
  OrganizationLocal: 8,
  Global: 14,
} as const;

// ---------------------------------------------------------------------------------------
// Bytes

/** A copy of the 16 bytes at `offset` (into `out` when given, so a caller can reuse one). */
export function readIpv6(buf: Uint8Array, offset: number, out: Ipv6Address = new Uint8Array(16)): Ipv6Address {
  for (let i = 0; i < 16; i++) out[i] = buf[offset + i]!;
  return out;
}

export function writeIpv6(buf: Uint8Array, offset: number, addr: Ipv6Address, addrOffset = 0): void {
  for (let i = 0; i < 16; i++) buf[offset + i] = addr[addrOffset + i]!;
}

export function ipv6Equals(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/** Numeric order: negative, 0 or positive, as Array.prototype.sort wants. */
export function compareIpv6(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): number {
  for (let i = 0; i < 16; i++) {
    const d = a[aOffset + i]! - b[bOffset + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Text

/**
 * RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups
 * (the first if tied) as '::', and the dotted-quad tail for IPv4-mapped addresses (5952 section 5;
 * the deprecated IPv4-compatible ::a.b.c.d form is not used, as 5952 recommends only
 * well-known embedded prefixes).
 */
export function ipv6ToString(bytes: Uint8Array, offset = 0): string {
  let bestBase = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (word(bytes, offset, i) !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && word(bytes, offset, j) === 0) j++;
    if (j - i > bestLen) { bestBase = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  if (bestBase === 0 && bestLen === 5 && word(bytes, offset, 5) === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += word(bytes, offset, i).toString(16);
  }
  return s;
}

function word(b: Uint8Array, offset: number, i: number): number {
  return ((b[offset + 2 * i] ?? 0) << 8) | (b[offset + 2 * i + 1] ?? 0);
}

export interface ScopedIpv6 {
  address: Ipv6Address;
  /** The zone after '%' (RFC 4007 11.2), e.g. an interface name; null when there was none. */
  zone: string | null;
}

/** Parse IPv6 text with an optional `%zone`; null on any error (an empty zone is an error). */
export function parseScopedIpv6(text: string): ScopedIpv6 | null {
  if (typeof text !== 'string') return null;
  const pct = text.indexOf('%');
  if (pct < 0) {
    const address = parseIpv6(text);
    return address === null ? null : { address, zone: null };
  }
  const zone = text.slice(pct + 1);
  if (zone === '' || zone.length > 64 || /[%\s/]/.test(zone)) return null;
  const address = parseIpv6(text.slice(0, pct));
  return address === null ? null : { address, zone };
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DEC_OCTET = /^(?:0|[1-9]\d{0,2})$/;

/**
 * Parse IPv6 text in any RFC 4291 2.2 form (full, '::'-compressed, dotted-quad tail) into
 * 16 bytes, or null. No zone: use parseScopedIpv6 for 'fe80::1%eth0'. Dotted octets with
 * leading zeros are refused (they read as octal to some parsers).
 */
export function parseIpv6(text: string): Ipv6Address | null {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) return null;
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return null;
  const head = dbl >= 0 ? text.slice(0, dbl) : text;
  const tail = dbl >= 0 ? text.slice(dbl + 2) : '';
  const words: number[] = [];
  const headWords = parseGroups(head, dbl < 0, words);
  if (headWords < 0) return null;
  const tailWords = parseGroups(tail, true, words);
  if (tailWords < 0) return null;
  if (dbl >= 0 ? headWords + tailWords > 7 : headWords !== 8) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < headWords; i++) {
    out[2 * i] = words[i]! >>> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  for (let i = 0; i < tailWords; i++) {
    const at = 8 - tailWords + i;
    out[2 * at] = words[headWords + i]! >>> 8;
    out[2 * at + 1] = words[headWords + i]! & 0xff;
  }
  return out;
}

/** Append the 16-bit words of `part` to `out`; returns how many, or -1 on error. */
function parseGroups(part: string, mayEndInIpv4: boolean, out: number[]): number {
  if (part === '') return 0;
  const pieces = part.split(':');
  let n = 0;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (mayEndInIpv4 && i === pieces.length - 1 && p.includes('.')) {
      const q = p.split('.');
      if (q.length !== 4 || q.some((o) => !DEC_OCTET.test(o) || Number(o) > 255)) return -1;
      out.push((Number(q[0]) << 8) | Number(q[1]), (Number(q[2]) << 8) | Number(q[3]));
      n += 2;
    } else {
      if (!HEX_GROUP.test(p)) return -1;
      out.push(parseInt(p, 16));
      n++;
    }
  }
  return n;
}

export interface Ipv6Cidr {
  address: Ipv6Address;
  prefixLength: number;
}

/** Parse "2001:db8::2/64" (the address keeps its host bits); null on any error. */
export function parseIpv6Cidr(text: string): Ipv6Cidr | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIpv6(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (address === null || !/^(?:0|[1-9]\d{0,2})$/.test(lenText)) return null;
  const prefixLength = Number(lenText);
  if (prefixLength > 128) return null;
  return { address, prefixLength };
}

// ---------------------------------------------------------------------------------------
// Prefixes

/** Whether the first `prefixLength` bits of a (at aOffset) and b (at bOffset) agree. */
export function ipv6PrefixMatch(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, prefixLength: number): boolean {
  const whole = prefixLength >>> 3;
  for (let i = 0; i < whole; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  const bits = prefixLength & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (a[aOffset + whole]! & mask) === (b[bOffset + whole]! & mask);
}

/** A copy of `addr` with the bits after `prefixLength` cleared (the network address). */
export function ipv6Prefix(addr: Ipv6Address, prefixLength: number): Ipv6Address {
  const out = new Uint8Array(16);
  const whole = prefixLength >>> 3;
  for (let i = 0; i < whole && i < 16; i++) out[i] = addr[i]!;
  const bits = prefixLength & 7;
  if (bits !== 0 && whole < 16) out[whole] = addr[whole]! & (0xff << (8 - bits));
  return out;
}

/** The number of leading bits a and b share (0..128), for longest-prefix choices (RFC 6724). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): number {
  for (let i = 0; i < 16; i++) {
    const x = a[aOffset + i]! ^ b[bOffset + i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

// ---------------------------------------------------------------------------------------
// Classification (each reads 16 bytes at an offset, default 0)

export function isUnspecifiedIpv6(b: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}

export function isLoopbackIpv6(b: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return false;
  return b[o + 15] === 1;
}

/** fe80::/10 */
export function isLinkLocalIpv6(b: Uint8Array, o = 0): boolean {
  return b[o] === 0xfe && (b[o + 1]! & 0xc0) === 0x80;
}

/** ff00::/8 */
export function isMulticastIpv6(b: Uint8Array, o = 0): boolean {
  return b[o] === 0xff;
}

/** The scope nibble of a multicast address (see MulticastScope); -1 when not multicast. */
export function multicastScope(b: Uint8Array, o = 0): number {
  return b[o] === 0xff ? b[o + 1]! & 0x0f : -1;
}

/** Link-local multicast (ff02::/16 and any ffX2::), which MLD never reports (RFC 3810 6). */
export function isLinkLocalMulticastIpv6(b: Uint8Array, o = 0): boolean {
  return b[o] === 0xff && (b[o + 1]! & 0x0f) === 2;
}

/** ::ffff:0:0/96 */
export function isV4MappedIpv6(b: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 10; i++) if (b[o + i] !== 0) return false;
  return b[o + 10] === 0xff && b[o + 11] === 0xff;
}

/** The IPv4 address (as the stack's number) inside a v4-mapped address. */
export function v4MappedToIpv4(b: Uint8Array, o = 0): number {
  return ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0;
}

/** ::ffff:a.b.c.d for an IPv4 address given as the stack's number. */
export function ipv4ToV4Mapped(v4: number): Ipv6Address {
  const out = new Uint8Array(16);
  out[10] = 0xff; out[11] = 0xff;
  out[12] = v4 >>> 24; out[13] = (v4 >>> 16) & 0xff; out[14] = (v4 >>> 8) & 0xff; out[15] = v4 & 0xff;
  return out;
}

/** 2001:db8::/32 (RFC 3849) */
export function isDocumentationIpv6(b: Uint8Array, o = 0): boolean {
  return b[o] === 0x20 && b[o + 1] === 0x01 && b[o + 2] === 0x0d && b[o + 3] === 0xb8;
}

/** fc00::/7 (RFC 4193) */
export function isUniqueLocalIpv6(b: Uint8Array, o = 0): boolean {
  return (b[o]! & 0xfe) === 0xfc;
}

/** ff02::1:ff00:0/104 (RFC 4291 2.7.1) */
export function isSolicitedNodeMulticast(b: Uint8Array, o = 0): boolean {
  if (b[o] !== 0xff || b[o + 1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (b[o + i] !== 0) return false;
  return b[o + 11] === 1 && b[o + 12] === 0xff;
}

/** A short name for people and logs: 'unspecified', 'loopback', 'link-local', ... */
export function ipv6Kind(b: Uint8Array, o = 0): string {
  if (isUnspecifiedIpv6(b, o)) return 'unspecified';
  if (isLoopbackIpv6(b, o)) return 'loopback';
  if (isMulticastIpv6(b, o)) return 'multicast';
  if (isLinkLocalIpv6(b, o)) return 'link-local';
  if (isV4MappedIpv6(b, o)) return 'v4-mapped';
  if (isDocumentationIpv6(b, o)) return 'documentation';
  if (isUniqueLocalIpv6(b, o)) return 'unique-local';
  return 'global';
}

export function multicastScopeName(scope: number): string {
  switch (scope) {
    case 1: return 'interface-local';
    case 2: return 'link-local';
    case 3: return 'realm-local';
    case 4: return 'admin-local';
    case 5: return 'site-local';
    case 8: return 'organization-local';
    case 14: return 'global';
    default: return `scope ${scope}`;
  }
}

// ---------------------------------------------------------------------------------------
// Derived addresses

/** ff02::1:ffXX:XXXX from the low 24 bits of `addr` (at `offset`), into `out` at `outOffset`. */
export function solicitedNodeMulticast(
  addr: Uint8Array, offset = 0, out: Uint8Array = new Uint8Array(16), outOffset = 0,
): Uint8Array {
  out[outOffset] = 0xff;
  out[outOffset + 1] = 0x02;
  for (let i = 2; i < 11; i++) out[outOffset + i] = 0;
  out[outOffset + 11] = 0x01;
  out[outOffset + 12] = 0xff;
  out[outOffset + 13] = addr[offset + 13]!;
  out[outOffset + 14] = addr[offset + 14]!;
  out[outOffset + 15] = addr[offset + 15]!;
  return out;
}

/** The Ethernet address 33:33:xx:xx:xx:xx of an IPv6 multicast group (RFC 2464 7). */
export function multicastMac6(
  group: Uint8Array, offset = 0, out: Uint8Array = new Uint8Array(6), outOffset = 0,
): Uint8Array {
  out[outOffset] = 0x33;
  out[outOffset + 1] = 0x33;
  out[outOffset + 2] = group[offset + 12]!;
  out[outOffset + 3] = group[offset + 13]!;
  out[outOffset + 4] = group[offset + 14]!;
  out[outOffset + 5] = group[offset + 15]!;
  return out;
}

/** The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 appendix A): 8 bytes. */
export function eui64InterfaceId(mac: Uint8Array, macOffset = 0): Uint8Array {
  const iid = new Uint8Array(8);
  iid[0] = mac[macOffset]! ^ 0x02;
  iid[1] = mac[macOffset + 1]!;
  iid[2] = mac[macOffset + 2]!;
  iid[3] = 0xff;
  iid[4] = 0xfe;
  iid[5] = mac[macOffset + 3]!;
  iid[6] = mac[macOffset + 4]!;
  iid[7] = mac[macOffset + 5]!;
  return iid;
}

/** A /64 prefix's first 8 bytes joined with an 8-byte interface identifier. */
export function ipv6FromPrefixAndIid(prefix: Uint8Array, iid: Uint8Array): Ipv6Address {
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i] = prefix[i]!;
    out[8 + i] = iid[i]!;
  }
  return out;
}

const LINK_LOCAL_PREFIX = fromHex('fe800000000000000000000000000000');

/** fe80::/64 with the modified EUI-64 of `mac`. */
export function linkLocalFromMac(mac: Uint8Array, macOffset = 0): Ipv6Address {
  return ipv6FromPrefixAndIid(LINK_LOCAL_PREFIX, eui64InterfaceId(mac, macOffset));
}

/**
 * Reserved interface identifiers (RFC 5453): the subnet-router anycast (all zero), the
 * reserved subnet anycasts fdff:ffff:ffff:ff80-ffff, and the proxy-mobile 0200:5eff:fe00:5213.
 */
export function isReservedInterfaceId(iid: Uint8Array, offset = 0): boolean {
  let zero = true;
  for (let i = 0; i < 8; i++) if (iid[offset + i] !== 0) zero = false;
  if (zero) return true;
  if (iid[offset] === 0xfd && iid[offset + 1] === 0xff && iid[offset + 2] === 0xff && iid[offset + 3] === 0xff &&
    iid[offset + 4] === 0xff && iid[offset + 5] === 0xff && iid[offset + 6] === 0xff && iid[offset + 7]! >= 0x80) return true;
  return iid[offset] === 0x02 && iid[offset + 1] === 0x00 && iid[offset + 2] === 0x5e && iid[offset + 3] === 0xff &&
    iid[offset + 4] === 0xfe && iid[offset + 5] === 0x00 && iid[offset + 6] === 0x52 && iid[offset + 7] === 0x13;
}

/**
 * RFC 7217 stable, semantically opaque interface identifier:
 * F = HMAC-SHA-256(secretKey, Prefix(8 bytes) | Net_Iface (UTF-8) | 0x00 | Network_ID | DAD_Counter (4 bytes BE)),
 * taking the first 8 bytes. HMAC-SHA-256 is the PRF (7217 section 5 leaves the choice open);
 * the 0x00 separates the name from the network id so that no two inputs collide. When the
 * result is a reserved identifier (RFC 5453), the counter is bumped and F recomputed, as 7217
 * says; the counter actually used is returned with the identifier.
 */
export function stablePrivacyInterfaceId(
  secretKey: Uint8Array, prefix: Uint8Array, interfaceName: string, dadCounter: number,
  networkId: Uint8Array = new Uint8Array(0),
): { iid: Uint8Array; dadCounter: number } {
  const name = new TextEncoder().encode(interfaceName);
  const msg = new Uint8Array(8 + name.length + 1 + networkId.length + 4);
  for (let i = 0; i < 8; i++) msg[i] = prefix[i] ?? 0;
  msg.set(name, 8);
  msg.set(networkId, 8 + name.length + 1);
  for (let counter = dadCounter; ; counter++) {
    const c = msg.length - 4;
    msg[c] = counter >>> 24; msg[c + 1] = (counter >>> 16) & 0xff; msg[c + 2] = (counter >>> 8) & 0xff; msg[c + 3] = counter & 0xff;
    const iid = hmacSha256(secretKey, msg).slice(0, 8);
    if (!isReservedInterfaceId(iid)) return { iid, dadCounter: counter };
  }
}
