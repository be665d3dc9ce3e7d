/** IPv4 (RFC 791) header as a zero-copy view, plus emit. Options live in ipv4-options.ts. */

import { WireView } from './view.js';
import { internetChecksum, sum16, fold16 } from './checksum.js';
import { readIpv4, writeIpv4, type Ipv4Address } from './addr.js';

export const IPV4_MIN_HEADER = 20;
export const IPV4_MAX_HEADER = 60;

export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
} as const;

export function ipProtocolName(protocol: number): string {
  switch (protocol) {
    case 1: return 'ICMP';
    case 2: return 'IGMP';
    case 6: return 'TCP';
    case 17: return 'UDP';
    case 41: return 'IPv6';
    case 47: return 'GRE';
    case 50: return 'ESP';
    default: return 'unknown';
  }
}

export interface Ipv4Repr {
  tos: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: Ipv4Address;
  dst: Ipv4Address;
  /** Raw option bytes, a multiple of 4 long (padded with EOL), at most 40. */
  options: Uint8Array;
  /** Payload length in bytes (total length minus header). */
  payloadLength: number;
}

/** `length` is the bytes available, which may exceed totalLength (link padding) until trimmed. */
export class Ipv4Packet extends WireView {

  /**
   * Structural validation in the order RFC 1122 3.2.1.1 lists: length, version, header
   * length, total length. The checksum is separate so it can be skipped when a device vouches.
   */
  check(): string | null {
    if (this.length < IPV4_MIN_HEADER) return 'too-short';
    if (this.version !== 4) return 'bad-version';
    const ihl = this.headerLength;
    if (ihl < IPV4_MIN_HEADER) return 'bad-header-length';
    if (ihl > this.length) return 'too-short';
    const total = this.totalLength;
    if (total < ihl) return 'bad-total-length';
    if (total > this.length) return 'truncated';
    return null;
  }

  get version(): number { return this.buf[this.offset]! >>> 4; }
  get ihl(): number { return this.buf[this.offset]! & 0x0f; }
  get headerLength(): number { return (this.buf[this.offset]! & 0x0f) * 4; }
  get tos(): number { return this.buf[this.offset + 1]!; }
  get totalLength(): number { return (this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!; }
  get id(): number { return (this.buf[this.offset + 4]! << 8) | this.buf[this.offset + 5]!; }
  /** The three flag bits (reserved, DF, MF) as a number 0..7. */
  get flags(): number { return this.buf[this.offset + 6]! >>> 5; }
  get dontFragment(): boolean { return (this.buf[this.offset + 6]! & 0x40) !== 0; }
  get moreFragments(): boolean { return (this.buf[this.offset + 6]! & 0x20) !== 0; }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number { return (((this.buf[this.offset + 6]! & 0x1f) << 8) | this.buf[this.offset + 7]!) * 8; }
  get isFragment(): boolean { return this.moreFragments || this.fragmentOffset !== 0; }
  get ttl(): number { return this.buf[this.offset + 8]!; }
  set ttl(v: number) { this.buf[this.offset + 8] = v; }
  get protocol(): number { return this.buf[this.offset + 9]!; }
  get checksum(): number { return (this.buf[this.offset + 10]! << 8) | this.buf[this.offset + 11]!; }
  set checksum(v: number) { this.buf[this.offset + 10] = v >>> 8; this.buf[this.offset + 11] = v & 0xff; }
  get src(): Ipv4Address { return readIpv4(this.buf, this.offset + 12); }
  get dst(): Ipv4Address { return readIpv4(this.buf, this.offset + 16); }
  get optionsOffset(): number { return this.offset + IPV4_MIN_HEADER; }
  get optionsLength(): number { return this.headerLength - IPV4_MIN_HEADER; }
  get payloadOffset(): number { return this.offset + this.headerLength; }
  get payloadLength(): number { return this.totalLength - this.headerLength; }
  payload(): Uint8Array { return this.buf.subarray(this.payloadOffset, this.offset + this.totalLength); }

  verifyChecksum(): boolean {
    return fold16(sum16(this.buf, this.offset, this.headerLength)) === 0xffff;
  }

  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.buf, this.offset, this.headerLength);
  }

  parse(): Ipv4Repr {
    return {
      tos: this.tos,
      id: this.id,
      dontFragment: this.dontFragment,
      moreFragments: this.moreFragments,
      fragmentOffset: this.fragmentOffset,
      ttl: this.ttl,
      protocol: this.protocol,
      src: this.src,
      dst: this.dst,
      options: this.buf.slice(this.optionsOffset, this.optionsOffset + this.optionsLength),
      payloadLength: this.payloadLength,
    };
  }
}

/**
 * Write an IPv4 header (with options and checksum) at `offset`; returns the payload offset.
 * The payload itself is the caller's: headers are emitted into a buffer that already holds it.
 */
export function emitIpv4(buf: Uint8Array, offset: number, repr: Ipv4Repr): number {
  const optLen = repr.options.length;
  const headerLength = IPV4_MIN_HEADER + optLen;
  const total = headerLength + repr.payloadLength;
  buf[offset] = 0x40 | (headerLength >>> 2);
  buf[offset + 1] = repr.tos;
  buf[offset + 2] = total >>> 8;
  buf[offset + 3] = total & 0xff;
  buf[offset + 4] = repr.id >>> 8;
  buf[offset + 5] = repr.id & 0xff;
  const frag = repr.fragmentOffset >>> 3;
  buf[offset + 6] = (repr.dontFragment ? 0x40 : 0) | (repr.moreFragments ? 0x20 : 0) | ((frag >>> 8) & 0x1f);
  buf[offset + 7] = frag & 0xff;
  buf[offset + 8] = repr.ttl;
  buf[offset + 9] = repr.protocol;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  writeIpv4(buf, offset + 12, repr.src);
  writeIpv4(buf, offset + 16, repr.dst);
  if (optLen > 0) buf.set(repr.options, offset + IPV4_MIN_HEADER);
  const csum = internetChecksum(buf, offset, headerLength);
  buf[offset + 10] = csum >>> 8;
  buf[offset + 11] = csum & 0xff;
  return offset + headerLength;
}

/** Fast path for the common case: a 20-byte header with no options. */
export function emitIpv4Simple(
  buf: Uint8Array, offset: number, src: Ipv4Address, dst: Ipv4Address, protocol: number,
  payloadLength: number, id: number, ttl: number, dontFragment: boolean, tos = 0,
): number {
  const total = IPV4_MIN_HEADER + payloadLength;
  buf[offset] = 0x45;
  buf[offset + 1] = tos;
  buf[offset + 2] = total >>> 8;
  buf[offset + 3] = total & 0xff;
  buf[offset + 4] = id >>> 8;
  buf[offset + 5] = id & 0xff;
  buf[offset + 6] = dontFragment ? 0x40 : 0;
  buf[offset + 7] = 0;
  buf[offset + 8] = ttl;
  buf[offset + 9] = protocol;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  writeIpv4(buf, offset + 12, src);
  writeIpv4(buf, offset + 16, dst);
  const csum = internetChecksum(buf, offset, IPV4_MIN_HEADER);
  buf[offset + 10] = csum >>> 8;
  buf[offset + 11] = csum & 0xff;
  return offset + IPV4_MIN_HEADER;
}
