/**
 * The IPv6 fixed header (RFC 8200 section 3) as a zero-copy view, plus emit. Extension headers
 * are walked in ipv6-ext.ts; addresses and their text forms live in addr6.ts.
 */

import { WireView } from './view.js';
import { pseudoHeaderSum6 } from './checksum.js';
import { readIpv6, writeIpv6, ipv6ToString, type Ipv6Address } from './addr6.js';

export const IPV6_HEADER_LENGTH = 40;
/** Every link must carry this much (RFC 8200 5); ICMPv6 errors are cut to fit in it. */
export const IPV6_MIN_MTU = 1280;

/** Next-header numbers this stack knows (IANA "Assigned Internet Protocol Numbers"). */
export const NextHeader = {
  HopByHop: 0,
  ICMP: 1,
  IGMP: 2,
  TCP: 6,
  UDP: 17,
  IPv6: 41,
  Routing: 43,
  Fragment: 44,
  ESP: 50,
  AH: 51,
  ICMPv6: 58,
  NoNextHeader: 59,
  DestinationOptions: 60,
  Mobility: 135,
} as const;

export function nextHeaderName(nh: number): string {
  switch (nh) {
    case 0: return 'Hop-by-Hop Options';
    case 1: return 'ICMP';
    case 2: return 'IGMP';
    case 6: return 'TCP';
    case 17: return 'UDP';
    case 41: return 'IPv6';
    case 43: return 'Routing';
    case 44: return 'Fragment';
    case 50: return 'ESP';
    case 51: return 'AH';
    case 58: return 'ICMPv6';
    case 59: return 'No Next Header';
    case 60: return 'Destination Options';
    case 135: return 'Mobility';
    default: return 'unknown';
  }
}

export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the fixed header (extension headers included). */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Ipv6Address;
  dst: Ipv6Address;
}

/** `length` is the bytes available, which may exceed 40 + payloadLength (link padding). */
export class Ipv6Packet extends WireView {

  /** Structural validation: room for the header, version 6, the payload present. */
  check(): string | null {
    if (this.length < IPV6_HEADER_LENGTH) return 'too-short';
    if (this.version !== 6) return 'bad-version';
    if (IPV6_HEADER_LENGTH + this.payloadLength > this.length) return 'truncated';
    return null;
  }

  get version(): number { return this.buf[this.offset]! >>> 4; }
  get trafficClass(): number { return ((this.buf[this.offset]! & 0x0f) << 4) | (this.buf[this.offset + 1]! >>> 4); }
  /** The DSCP (upper six bits of the traffic class). */
  get dscp(): number { return this.trafficClass >>> 2; }
  /** The ECN codepoint (lower two bits of the traffic class). */
  get ecn(): number { return this.trafficClass & 3; }
  get flowLabel(): number {
    const b = this.buf, o = this.offset;
    return ((b[o + 1]! & 0x0f) << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }
  get payloadLength(): number { return (this.buf[this.offset + 4]! << 8) | this.buf[this.offset + 5]!; }
  get nextHeader(): number { return this.buf[this.offset + 6]!; }
  get hopLimit(): number { return this.buf[this.offset + 7]!; }
  set hopLimit(v: number) { this.buf[this.offset + 7] = v; }
  get srcOffset(): number { return this.offset + 8; }
  get dstOffset(): number { return this.offset + 24; }
  /** A copy of the source address (the in-place form is buf at srcOffset). */
  get src(): Ipv6Address { return readIpv6(this.buf, this.offset + 8); }
  get dst(): Ipv6Address { return readIpv6(this.buf, this.offset + 24); }
  srcString(): string { return ipv6ToString(this.buf, this.offset + 8); }
  dstString(): string { return ipv6ToString(this.buf, this.offset + 24); }
  get payloadOffset(): number { return this.offset + IPV6_HEADER_LENGTH; }
  /** The packet's length without link padding. */
  get totalLength(): number { return IPV6_HEADER_LENGTH + this.payloadLength; }
  payload(): Uint8Array { return this.buf.subarray(this.payloadOffset, this.payloadOffset + this.payloadLength); }

  /** The unfolded pseudo-header sum for an upper layer of `upperLength` bytes with protocol `nextHeader`. */
  pseudoHeaderSum(nextHeader: number, upperLength: number): number {
    return pseudoHeaderSum6(this.buf, this.offset + 8, this.buf, this.offset + 24, nextHeader, upperLength);
  }

  parse(): Ipv6Repr {
    return {
      trafficClass: this.trafficClass,
      flowLabel: this.flowLabel,
      payloadLength: this.payloadLength,
      nextHeader: this.nextHeader,
      hopLimit: this.hopLimit,
      src: this.src,
      dst: this.dst,
    };
  }
}

/**
 * Write the 40-byte fixed header at `offset`; returns the payload offset. The payload (with
 * any extension headers) is the caller's, in the same buffer.
 */
export function emitIpv6(buf: Uint8Array, offset: number, repr: Ipv6Repr): number {
  return emitIpv6Header(buf, offset, repr.src, 0, repr.dst, 0, repr.nextHeader, repr.payloadLength, repr.hopLimit,
    repr.trafficClass, repr.flowLabel);
}

/** emitIpv6 without a repr object: addresses are read in place at srcOffset/dstOffset. */
export function emitIpv6Header(
  buf: Uint8Array, offset: number, src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number,
  nextHeader: number, payloadLength: number, hopLimit: number, trafficClass = 0, flowLabel = 0,
): number {
  buf[offset] = 0x60 | ((trafficClass >>> 4) & 0x0f);
  buf[offset + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
  buf[offset + 2] = (flowLabel >>> 8) & 0xff;
  buf[offset + 3] = flowLabel & 0xff;
  buf[offset + 4] = payloadLength >>> 8;
  buf[offset + 5] = payloadLength & 0xff;
  buf[offset + 6] = nextHeader;
  buf[offset + 7] = hopLimit;
  writeIpv6(buf, offset + 8, src, srcOffset);
  writeIpv6(buf, offset + 24, dst, dstOffset);
  return offset + IPV6_HEADER_LENGTH;
}
