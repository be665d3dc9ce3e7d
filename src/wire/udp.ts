/** UDP (RFC 768) header as a zero-copy view, plus emit. */

import { WireView } from './view.js';
import { fold16, pseudoHeaderSum, sum16 } from './checksum.js';
import type { Ipv4Address } from './addr.js';

export const UDP_HEADER_LENGTH = 8;
/** The IP protocol (IPv4) and next-header (IPv6) number of UDP. */
export const UDP_PROTOCOL = 17;
const PROTO_UDP = UDP_PROTOCOL;

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payloadLength: number;
}

export class UdpDatagram extends WireView {

  /** `length` must be the IP payload length; the UDP length field may not exceed it. */
  check(): string | null {
    if (this.length < UDP_HEADER_LENGTH) return 'too-short';
    const l = this.udpLength;
    if (l < UDP_HEADER_LENGTH || l > this.length) return 'bad-length';
    return null;
  }

  get srcPort(): number { return (this.buf[this.offset]! << 8) | this.buf[this.offset + 1]!; }
  get dstPort(): number { return (this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!; }
  get udpLength(): number { return (this.buf[this.offset + 4]! << 8) | this.buf[this.offset + 5]!; }
  get checksum(): number { return (this.buf[this.offset + 6]! << 8) | this.buf[this.offset + 7]!; }
  get payloadOffset(): number { return this.offset + UDP_HEADER_LENGTH; }
  get payloadLength(): number { return this.udpLength - UDP_HEADER_LENGTH; }
  payload(): Uint8Array { return this.buf.subarray(this.payloadOffset, this.offset + this.udpLength); }

  /** A zero checksum means the sender computed none (RFC 768), which is accepted. */
  verifyChecksum(src: Ipv4Address, dst: Ipv4Address): boolean {
    return this.verifyChecksumWith(pseudoHeaderSum(src, dst, PROTO_UDP, this.udpLength));
  }

  /** Verify against a pseudo-header sum (over udpLength) the network layer computed. */
  verifyChecksumWith(pseudoSum: number): boolean {
    if (this.checksum === 0) return true;
    return fold16(sum16(this.buf, this.offset, this.udpLength, pseudoSum)) === 0xffff;
  }

  parse(): UdpRepr {
    return { srcPort: this.srcPort, dstPort: this.dstPort, payloadLength: this.payloadLength };
  }
}

/**
 * Write the UDP header at `offset` and checksum it with the payload that already follows.
 * A computed checksum of 0 is sent as 0xffff, since 0 means "none" (RFC 768).
 */
export function emitUdp(buf: Uint8Array, offset: number, repr: UdpRepr, src: Ipv4Address, dst: Ipv4Address): number {
  return emitUdpWith(buf, offset, repr, pseudoHeaderSum(src, dst, PROTO_UDP, UDP_HEADER_LENGTH + repr.payloadLength));
}

/** emitUdp with the pseudo-header sum (over the datagram's length) given by the network layer. */
export function emitUdpWith(buf: Uint8Array, offset: number, repr: UdpRepr, pseudoSum: number): number {
  const l = UDP_HEADER_LENGTH + repr.payloadLength;
  buf[offset] = repr.srcPort >>> 8;
  buf[offset + 1] = repr.srcPort & 0xff;
  buf[offset + 2] = repr.dstPort >>> 8;
  buf[offset + 3] = repr.dstPort & 0xff;
  buf[offset + 4] = l >>> 8;
  buf[offset + 5] = l & 0xff;
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  let csum = ~fold16(sum16(buf, offset, l, pseudoSum)) & 0xffff;
  if (csum === 0) csum = 0xffff;
  buf[offset + 6] = csum >>> 8;
  buf[offset + 7] = csum & 0xff;
  return offset + l;
}
