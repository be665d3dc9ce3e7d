/** TCP header (RFC 9293 section 3.1) as a zero-copy view, plus emit. */

import { WireView } from './view.js';
import { fold16, pseudoHeaderSum, sum16 } from './checksum.js';
import type { Ipv4Address } from './addr.js';

export const TCP_MIN_HEADER = 20;
export const TCP_MAX_HEADER = 60;
/** The IP protocol (IPv4) and next-header (IPv6) number of TCP. */
export const TCP_PROTOCOL = 6;
const PROTO_TCP = TCP_PROTOCOL;

export const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  /** The historical ECN-nonce bit (RFC 3540, now obsolete), the low bit of byte 12. */
  NS: 0x100,
} as const;

/** Flags as tcpdump prints them in brackets, e.g. "S.", "P.", "F.", "R". */
export function tcpFlagsShort(flags: number): string {
  let s = '';
  if (flags & TcpFlag.SYN) s += 'S';
  if (flags & TcpFlag.FIN) s += 'F';
  if (flags & TcpFlag.PSH) s += 'P';
  if (flags & TcpFlag.RST) s += 'R';
  if (flags & TcpFlag.URG) s += 'U';
  if (flags & TcpFlag.ECE) s += 'E';
  if (flags & TcpFlag.CWR) s += 'W';
  if (flags & TcpFlag.ACK) s += '.';
  return s || 'none';
}

/** Nine-position picture like the old pstack log: NCEUAPRSF, '-' where clear ("----A--S-"). */
export function tcpFlagsPicture(flags: number): string {
  const letters = 'NCEUAPRSF';
  let s = '';
  for (let i = 0; i < 9; i++) s += flags & (0x100 >>> i) ? letters[i] : '-';
  return s;
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgentPointer: number;
}

/** `length` is the whole segment, header plus payload: the IP payload length. */
export class TcpSegment extends WireView {

  check(): string | null {
    if (this.length < TCP_MIN_HEADER) return 'too-short';
    const hl = this.headerLength;
    if (hl < TCP_MIN_HEADER || hl > this.length) return 'bad-header-length';
    return null;
  }

  get srcPort(): number { return (this.buf[this.offset]! << 8) | this.buf[this.offset + 1]!; }
  get dstPort(): number { return (this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!; }
  get seq(): number {
    const b = this.buf, o = this.offset + 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  get ack(): number {
    const b = this.buf, o = this.offset + 8;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  /** Data offset field in 32-bit words. */
  get dataOffsetWords(): number { return this.buf[this.offset + 12]! >>> 4; }
  get headerLength(): number { return (this.buf[this.offset + 12]! >>> 4) * 4; }
  get flags(): number { return ((this.buf[this.offset + 12]! & 1) << 8) | this.buf[this.offset + 13]!; }
  get window(): number { return (this.buf[this.offset + 14]! << 8) | this.buf[this.offset + 15]!; }
  get checksum(): number { return (this.buf[this.offset + 16]! << 8) | this.buf[this.offset + 17]!; }
  get urgentPointer(): number { return (this.buf[this.offset + 18]! << 8) | this.buf[this.offset + 19]!; }
  get optionsOffset(): number { return this.offset + TCP_MIN_HEADER; }
  get optionsLength(): number { return this.headerLength - TCP_MIN_HEADER; }
  get payloadOffset(): number { return this.offset + this.headerLength; }
  get payloadLength(): number { return this.length - this.headerLength; }
  payload(): Uint8Array { return this.buf.subarray(this.payloadOffset, this.offset + this.length); }

  verifyChecksum(src: Ipv4Address, dst: Ipv4Address): boolean {
    return this.verifyChecksumWith(pseudoHeaderSum(src, dst, PROTO_TCP, this.length));
  }

  /** Verify against a pseudo-header sum the network layer computed (any IP version). */
  verifyChecksumWith(pseudoSum: number): boolean {
    return fold16(sum16(this.buf, this.offset, this.length, pseudoSum)) === 0xffff;
  }

  parse(): TcpRepr {
    return {
      srcPort: this.srcPort, dstPort: this.dstPort, seq: this.seq, ack: this.ack,
      flags: this.flags, window: this.window, urgentPointer: this.urgentPointer,
    };
  }
}

/** Offset of the checksum field in the TCP header. */
export const TCP_CHECKSUM_OFFSET = 16;

/**
 * Write a TCP header at `offset`. The options (`optionsLength` bytes, a multiple of 4) must
 * already be at offset+20 and the payload right after them; the checksum covers all of it.
 * With `partialChecksum` the checksum field gets only the folded pseudo-header sum, for a
 * device with checksum offload to complete (the way Linux hands CHECKSUM_PARTIAL to a NIC).
 * Returns the offset after the payload.
 */
export function emitTcp(
  buf: Uint8Array, offset: number, repr: TcpRepr, optionsLength: number, payloadLength: number,
  src: Ipv4Address, dst: Ipv4Address, partialChecksum = false,
): number {
  const len = TCP_MIN_HEADER + optionsLength + payloadLength;
  return emitTcpWith(buf, offset, repr, optionsLength, payloadLength, pseudoHeaderSum(src, dst, PROTO_TCP, len), partialChecksum);
}

/** emitTcp with the pseudo-header sum (over the segment's length) given by the network layer. */
export function emitTcpWith(
  buf: Uint8Array, offset: number, repr: TcpRepr, optionsLength: number, payloadLength: number,
  pseudoSum: number, partialChecksum = false,
): number {
  const hl = TCP_MIN_HEADER + optionsLength;
  const o = offset;
  buf[o] = repr.srcPort >>> 8; buf[o + 1] = repr.srcPort & 0xff;
  buf[o + 2] = repr.dstPort >>> 8; buf[o + 3] = repr.dstPort & 0xff;
  buf[o + 4] = repr.seq >>> 24; buf[o + 5] = (repr.seq >>> 16) & 0xff; buf[o + 6] = (repr.seq >>> 8) & 0xff; buf[o + 7] = repr.seq & 0xff;
  buf[o + 8] = repr.ack >>> 24; buf[o + 9] = (repr.ack >>> 16) & 0xff; buf[o + 10] = (repr.ack >>> 8) & 0xff; buf[o + 11] = repr.ack & 0xff;
  buf[o + 12] = ((hl >>> 2) << 4) | ((repr.flags >>> 8) & 1);
  buf[o + 13] = repr.flags & 0xff;
  buf[o + 14] = repr.window >>> 8; buf[o + 15] = repr.window & 0xff;
  buf[o + 16] = 0; buf[o + 17] = 0;
  buf[o + 18] = repr.urgentPointer >>> 8; buf[o + 19] = repr.urgentPointer & 0xff;
  const len = hl + payloadLength;
  const csum = partialChecksum
    ? fold16(pseudoSum)
    : ~fold16(sum16(buf, o, len, pseudoSum)) & 0xffff;
  buf[o + 16] = csum >>> 8;
  buf[o + 17] = csum & 0xff;
  return o + len;
}
