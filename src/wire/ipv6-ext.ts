/**
 * IPv6 extension headers (RFC 8200 section 4): a bounded walker over the chain that follows
 * the fixed header, the TLV options of Hop-by-Hop and Destination Options headers, the
 * Routing header (type 0 refused, RFC 5095), the Fragment header, and emit for the headers
 * this host sends (Fragment, Hop-by-Hop with Router Alert).
 *
 * The walker fills a caller-owned Ipv6HeaderChain (one per stack, reused), so the receive path
 * allocates nothing. It decides what RFC 8200 decides from the bytes alone; what depends on
 * the stack (is there a handler for the upper protocol, is the destination multicast) is the
 * network layer's, from the fields the result exposes.
 */

import { WireView } from './view.js';
import { IPV6_HEADER_LENGTH, NextHeader } from './ipv6.js';

export const Ipv6OptionType = {
  Pad1: 0,
  PadN: 1,
  /** RFC 2711: value 0 = MLD, 1 = RSVP, 2 = Active Networks. */
  RouterAlert: 5,
  /** RFC 2675; refused here (jumbograms need links with MTUs over 65575). */
  Jumbo: 0xc2,
} as const;

export function ipv6OptionName(type: number): string {
  switch (type) {
    case 0: return 'Pad1';
    case 1: return 'PadN';
    case 5: return 'Router Alert';
    case 0xc2: return 'Jumbo Payload';
    case 0x63: return 'RPL Option';
    case 0x6d: return 'MPL Option';
    case 0xee: return 'IPv6 DFF Header';
    default: return 'Unknown';
  }
}

/**
 * What to do with a packet carrying an option we do not recognize: the two high bits of
 * its type (RFC 8200 4.2).
 */
export const UnknownOptionAction = {
  Skip: 0,
  Discard: 1,
  DiscardAndIcmp: 2,
  DiscardAndIcmpUnlessMulticast: 3,
} as const;

export interface Ipv6ChainLimits {
  /** Extension headers walked before giving up (RFC 8504 5.3 lets a host set this). */
  maxHeaders: number;
  /** Bytes of extension headers before the upper-layer header. */
  maxChainLength: number;
  /** TLV options other than padding in one Hop-by-Hop or Destination Options header (Linux's max_dst_opts_number). */
  maxOptions: number;
}

export const DEFAULT_IPV6_CHAIN_LIMITS: Readonly<Ipv6ChainLimits> = { maxHeaders: 8, maxChainLength: 512, maxOptions: 8 };

/** Bytes of padding in a row that still only align (RFC 4942 2.1.9.5). */
const MAX_PADDING = 7;

/**
 * The reasons a walk ends in an error. Those with an ICMPv6 Parameter Problem code set
 * `icmpCode` and `pointer`; the rest are silent drops.
 */
export type Ipv6ChainError =
  | 'truncated' // a header runs past the payload
  | 'too-many-headers' | 'chain-too-long' | 'too-many-options'
  | 'hop-by-hop-not-first' // code 1, pointer at the next-header field naming it
  | 'unknown-option' // per optionAction; code 2, pointer at the option type
  | 'jumbo' // code 2 as an unknown option would be (its action bits are 11)
  | 'bad-option' // an option that overruns its header, over 7 bytes of padding, a PadN not all zeros: silent
  | 'routing-type0' // RFC 5095, segments left != 0: code 0, pointer at the routing type
  | 'unknown-routing' // any other routing type with segments left != 0: code 0, pointer at the routing type
  | 'incomplete-chain' // RFC 7112: a first fragment ends inside the header chain or the upper-layer header: code 3, pointer 0
  | 'bad-fragment'; // a fragment header with a non-multiple-of-8 payload and M set: code 0, pointer at payload length

/** The walk's result; reused across packets. Offsets are absolute in the buffer. */
export class Ipv6HeaderChain {
  /** null when the packet may be delivered to `protocol`. */
  error: Ipv6ChainError | null = null;
  /** ICMPv6 Parameter Problem code to answer with, or -1 for a silent drop / no error. */
  icmpCode = -1;
  /** The Parameter Problem pointer: bytes from the start of the IPv6 header. */
  pointer = 0;
  /** For 'unknown-option': the action bits of the option type (see UnknownOptionAction). */
  optionAction = 0;
  /** The upper-layer protocol (or 59, or the fragment's next header when the data is not a first fragment). */
  protocol = -1;
  protocolOffset = 0;
  /** Bytes from protocolOffset to the end of the IPv6 payload. */
  protocolLength = 0;
  /** Where the byte naming `protocol` sits (for a code-1 pointer, and for reassembly). */
  nextHeaderFieldOffset = 0;
  headerCount = 0;
  /** The Router Alert value of the Hop-by-Hop header, or -1. */
  routerAlert = -1;
  /** A Fragment header that makes this a real fragment (not atomic, RFC 6946). */
  isFragment = false;
  atomicFragment = false;
  fragmentHeaderOffset = -1;
  /** In bytes. */
  fragmentOffset = 0;
  moreFragments = false;
  fragmentId = 0;
  /** The next header of the Fragment header (the protocol of the reassembled packet). */
  fragmentNextHeader = -1;

  reset(): this {
    this.error = null; this.icmpCode = -1; this.pointer = 0; this.optionAction = 0;
    this.protocol = -1; this.protocolOffset = 0; this.protocolLength = 0; this.nextHeaderFieldOffset = 0;
    this.headerCount = 0; this.routerAlert = -1;
    this.isFragment = false; this.atomicFragment = false; this.fragmentHeaderOffset = -1;
    this.fragmentOffset = 0; this.moreFragments = false; this.fragmentId = 0; this.fragmentNextHeader = -1;
    return this;
  }

  /** Whether a Parameter Problem should be sent, given whether the packet's destination was multicast. */
  shouldSendParameterProblem(dstIsMulticast: boolean): boolean {
    if (this.icmpCode < 0) return false;
    if (this.error === 'unknown-option' || this.error === 'jumbo') {
      return this.optionAction === 2 || (this.optionAction === 3 && !dstIsMulticast);
    }
    return true;
  }
}

export function isIpv6ExtensionHeader(nh: number): boolean {
  return nh === 0 || nh === 43 || nh === 44 || nh === 60 || nh === 51 || nh === 135;
}

/**
 * Walk the extension headers of the IPv6 packet at `ipOffset` (already check()ed: the
 * payload is present) into `out`. Hop-by-Hop only first; Destination Options and Routing
 * processed; a first fragment is walked past its Fragment header (RFC 7112 wants the whole
 * chain in it), a later one stops there; AH is stepped over; ESP and everything else is
 * the upper layer.
 */
export function walkIpv6Headers(
  buf: Uint8Array, ipOffset: number, out: Ipv6HeaderChain, limits: Readonly<Ipv6ChainLimits> = DEFAULT_IPV6_CHAIN_LIMITS,
): Ipv6HeaderChain {
  out.reset();
  const payloadLength = (buf[ipOffset + 4]! << 8) | buf[ipOffset + 5]!;
  const end = Math.min(ipOffset + IPV6_HEADER_LENGTH + payloadLength, buf.length);
  let nh = buf[ipOffset + 6]!;
  let nhField = ipOffset + 6;
  let at = ipOffset + IPV6_HEADER_LENGTH;
  for (;;) {
    if (!isIpv6ExtensionHeader(nh) || (out.isFragment && out.fragmentOffset !== 0)) break;
    if (out.headerCount >= limits.maxHeaders) return fail(out, 'too-many-headers');
    if (nh === NextHeader.HopByHop && out.headerCount > 0) return fail(out, 'hop-by-hop-not-first', 1, nhField - ipOffset);
    if (end - at < 8) return truncated(out);
    const len = nh === NextHeader.Fragment ? 8 : nh === NextHeader.AH ? (buf[at + 1]! + 2) * 4 : (buf[at + 1]! + 1) * 8;
    if (at + len > end) return truncated(out);
    if (at + len - (ipOffset + IPV6_HEADER_LENGTH) > limits.maxChainLength) return fail(out, 'chain-too-long');
    out.headerCount++;
    if (nh === NextHeader.HopByHop || nh === NextHeader.DestinationOptions) {
      if (!walkOptions(buf, ipOffset, at, len, nh === NextHeader.HopByHop, out, limits)) return out;
    } else if (nh === NextHeader.Routing) {
      const type = buf[at + 2]!;
      const segmentsLeft = buf[at + 3]!;
      // Segments left 0: the header is ignored whatever its type (RFC 8200 4.4).
      if (segmentsLeft !== 0) return fail(out, type === 0 ? 'routing-type0' : 'unknown-routing', 0, at + 2 - ipOffset);
    } else if (nh === NextHeader.Fragment) {
      const off = ((buf[at + 2]! << 8) | buf[at + 3]!) & 0xfff8;
      const more = (buf[at + 3]! & 1) !== 0;
      out.fragmentHeaderOffset = at;
      out.fragmentOffset = off;
      out.moreFragments = more;
      out.fragmentId = ((buf[at + 4]! << 24) | (buf[at + 5]! << 16) | (buf[at + 6]! << 8) | buf[at + 7]!) >>> 0;
      out.fragmentNextHeader = buf[at]!;
      if (off === 0 && !more) {
        out.atomicFragment = true;
      } else {
        out.isFragment = true;
        // RFC 8200 4.5: all but the last fragment carry a multiple of 8 bytes.
        if (more && ((end - at - 8) & 7) !== 0) return fail(out, 'bad-fragment', 0, 4);
      }
    }
    nhField = at;
    nh = buf[at]!;
    at += len;
  }
  out.protocol = nh;
  out.protocolOffset = at;
  out.protocolLength = end - at;
  out.nextHeaderFieldOffset = nhField;
  // RFC 8200 4.5 / RFC 7112: a first fragment holds the whole chain up to and with the
  // upper-layer header, so that a filter can see its ports; one that does not is refused.
  if (out.isFragment && out.fragmentOffset === 0 && out.protocolLength < upperLayerHeaderMinimum(nh)) {
    return fail(out, 'incomplete-chain', 3, 0);
  }
  return out;
}

/**
 * The bytes of an upper-layer header a first fragment must hold: TCP's 20, UDP's 8, ICMPv6's
 * 8 (type, code, checksum and the message's first word, as Linux's ipv6frag_thdr_truncated
 * counts), one byte of anything else; none after No Next Header.
 */
export function upperLayerHeaderMinimum(nh: number): number {
  switch (nh) {
    case NextHeader.TCP: return 20;
    case NextHeader.UDP: return 8;
    case NextHeader.ICMPv6: return 8;
    case NextHeader.NoNextHeader: return 0;
    default: return 1;
  }
}

/** A chain cut short: in a first fragment RFC 7112 says why; otherwise a silent drop. */
function truncated(out: Ipv6HeaderChain): Ipv6HeaderChain {
  return out.isFragment ? fail(out, 'incomplete-chain', 3, 0) : fail(out, 'truncated');
}

function fail(out: Ipv6HeaderChain, error: Ipv6ChainError, icmpCode = -1, pointer = 0): Ipv6HeaderChain {
  out.error = error;
  out.icmpCode = icmpCode;
  out.pointer = pointer;
  return out;
}

/** The TLVs of one options header; false (with out.error set) when the packet is not to be delivered. */
function walkOptions(
  buf: Uint8Array, ipOffset: number, at: number, len: number, hopByHop: boolean, out: Ipv6HeaderChain, limits: Readonly<Ipv6ChainLimits>,
): boolean {
  const end = at + len;
  let p = at + 2;
  let count = 0;
  // Padding only aligns: more than 7 bytes of it in a row, or a PadN carrying anything but
  // zeros, is a covert channel (RFC 4942 2.1.9.5), refused as Linux refuses it.
  let padding = 0;
  while (p < end) {
    const type = buf[p]!;
    if (type === Ipv6OptionType.Pad1) {
      if (++padding > MAX_PADDING) { fail(out, 'bad-option'); return false; }
      p++;
      continue;
    }
    if (p + 2 > end || p + 2 + buf[p + 1]! > end) { fail(out, 'bad-option'); return false; }
    const optLen = buf[p + 1]!;
    if (type === Ipv6OptionType.PadN) {
      padding += 2 + optLen;
      if (padding > MAX_PADDING) { fail(out, 'bad-option'); return false; }
      for (let i = p + 2; i < p + 2 + optLen; i++) if (buf[i] !== 0) { fail(out, 'bad-option'); return false; }
      p += 2 + optLen;
      continue;
    }
    padding = 0;
    if (++count > limits.maxOptions) { fail(out, 'too-many-options'); return false; }
    if (type === Ipv6OptionType.RouterAlert && hopByHop && optLen === 2) {
      out.routerAlert = (buf[p + 2]! << 8) | buf[p + 3]!;
    } else {
      const action = type >>> 6;
      if (action !== UnknownOptionAction.Skip || type === Ipv6OptionType.Jumbo) {
        out.optionAction = action;
        fail(out, type === Ipv6OptionType.Jumbo ? 'jumbo' : 'unknown-option', action >= 2 ? 2 : -1, p - ipOffset);
        return false;
      }
    }
    p += 2 + optLen;
  }
  return true;
}

export interface Ipv6OptionEntry {
  type: number;
  /** Absolute offset of the option's type byte. */
  offset: number;
  /** Data length (0 for Pad1). */
  length: number;
}

/** The TLV options of the options header at `headerOffset` (for dissection); stops at a malformed one. */
export function listIpv6Options(buf: Uint8Array, headerOffset: number, headerLength: number): Ipv6OptionEntry[] {
  const out: Ipv6OptionEntry[] = [];
  const end = Math.min(headerOffset + headerLength, buf.length);
  let p = headerOffset + 2;
  while (p < end) {
    const type = buf[p]!;
    if (type === 0) { out.push({ type, offset: p, length: 0 }); p++; continue; }
    if (p + 2 > end || p + 2 + buf[p + 1]! > end) break;
    out.push({ type, offset: p, length: buf[p + 1]! });
    p += 2 + buf[p + 1]!;
  }
  return out;
}

/** The length of the extension header of type `nh` at `offset` (Fragment 8, AH in 4-byte units, others in 8). */
export function ipv6ExtensionHeaderLength(buf: Uint8Array, offset: number, nh: number): number {
  if (nh === NextHeader.Fragment) return 8;
  if (nh === NextHeader.AH) return (buf[offset + 1]! + 2) * 4;
  return (buf[offset + 1]! + 1) * 8;
}

export const FRAGMENT_HEADER_LENGTH = 8;

/** The Fragment header (RFC 8200 4.5). */
export class FragmentHeader extends WireView {
  check(): string | null {
    return this.length < FRAGMENT_HEADER_LENGTH ? 'too-short' : null;
  }
  get nextHeader(): number { return this.buf[this.offset]!; }
  /** In bytes (a multiple of 8). */
  get fragmentOffset(): number { return ((this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!) & 0xfff8; }
  get moreFragments(): boolean { return (this.buf[this.offset + 3]! & 1) !== 0; }
  get identification(): number {
    const b = this.buf, o = this.offset;
    return ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  }
  /** Offset 0 and M clear: a whole packet in a fragment header (RFC 6946). */
  get isAtomic(): boolean { return this.fragmentOffset === 0 && !this.moreFragments; }
}

/** Write a Fragment header at `offset` (`fragmentOffset` in bytes, a multiple of 8); returns offset + 8. */
export function emitFragmentHeader(
  buf: Uint8Array, offset: number, nextHeader: number, fragmentOffset: number, moreFragments: boolean, identification: number,
): number {
  buf[offset] = nextHeader;
  buf[offset + 1] = 0;
  buf[offset + 2] = fragmentOffset >>> 8;
  buf[offset + 3] = (fragmentOffset & 0xf8) | (moreFragments ? 1 : 0);
  buf[offset + 4] = identification >>> 24;
  buf[offset + 5] = (identification >>> 16) & 0xff;
  buf[offset + 6] = (identification >>> 8) & 0xff;
  buf[offset + 7] = identification & 0xff;
  return offset + FRAGMENT_HEADER_LENGTH;
}

/** An 8-byte Hop-by-Hop header holding Router Alert `value` (0 = MLD) and a PadN; returns offset + 8. */
export function emitRouterAlertHopByHop(buf: Uint8Array, offset: number, nextHeader: number, value = 0): number {
  buf[offset] = nextHeader;
  buf[offset + 1] = 0;
  buf[offset + 2] = Ipv6OptionType.RouterAlert;
  buf[offset + 3] = 2;
  buf[offset + 4] = value >>> 8;
  buf[offset + 5] = value & 0xff;
  buf[offset + 6] = Ipv6OptionType.PadN;
  buf[offset + 7] = 0;
  return offset + 8;
}

/**
 * A Hop-by-Hop or Destination Options header holding the given options, padded (Pad1/PadN)
 * to a multiple of 8; returns the offset after it. For tests and tools; no alignment rules
 * beyond the padding.
 */
export function emitOptionsHeader(
  buf: Uint8Array, offset: number, nextHeader: number, options: readonly { type: number; data: Uint8Array }[],
): number {
  let p = offset + 2;
  for (const o of options) {
    buf[p] = o.type;
    buf[p + 1] = o.data.length;
    buf.set(o.data, p + 2);
    p += 2 + o.data.length;
  }
  const total = (p - offset + 7) & ~7;
  const pad = offset + total - p;
  if (pad === 1) buf[p] = Ipv6OptionType.Pad1;
  else if (pad > 1) {
    buf[p] = Ipv6OptionType.PadN;
    buf[p + 1] = pad - 2;
    buf.fill(0, p + 2, offset + total);
  }
  buf[offset] = nextHeader;
  buf[offset + 1] = total / 8 - 1;
  return offset + total;
}
