/**
 * ICMPv6 (RFC 4443) as a zero-copy view, plus emit. Unlike ICMP for IPv4 its checksum covers
 * the IPv6 pseudo-header, so verify and emit take the addresses (or the sum the network
 * layer already has). NDP bodies live in ndp.ts, MLD in mld.ts; the type numbers are all here.
 */

import { WireView } from './view.js';
import { fold16, sum16, pseudoHeaderSum6 } from './checksum.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU } from './ipv6.js';

export const ICMPV6_HEADER_LENGTH = 8;
/** The next-header number of ICMPv6. */
export const ICMPV6_PROTOCOL = 58;

export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MldQuery: 130,
  MldReport: 131,
  MldDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
  Mldv2Report: 143,
} as const;

export const Icmpv6UnreachableCode = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  Address: 3,
  Port: 4,
  SourcePolicy: 5,
  RejectRoute: 6,
} as const;

export const Icmpv6TimeExceededCode = { HopLimit: 0, Reassembly: 1 } as const;

export const Icmpv6ParameterProblemCode = {
  ErroneousHeader: 0,
  UnrecognizedNextHeader: 1,
  UnrecognizedOption: 2,
  /** RFC 7112: the first fragment lacks the whole header chain. */
  IncompleteChain: 3,
} as const;

export function icmpv6TypeName(type: number): string {
  switch (type) {
    case 1: return 'Destination Unreachable';
    case 2: return 'Packet Too Big';
    case 3: return 'Time Exceeded';
    case 4: return 'Parameter Problem';
    case 128: return 'Echo Request';
    case 129: return 'Echo Reply';
    case 130: return 'Multicast Listener Query';
    case 131: return 'Multicast Listener Report';
    case 132: return 'Multicast Listener Done';
    case 133: return 'Router Solicitation';
    case 134: return 'Router Advertisement';
    case 135: return 'Neighbor Solicitation';
    case 136: return 'Neighbor Advertisement';
    case 137: return 'Redirect';
    case 143: return 'Multicast Listener Report v2';
    default: return 'Unknown';
  }
}

export function icmpv6CodeName(type: number, code: number): string {
  if (type === 1) {
    return ['No Route to Destination', 'Administratively Prohibited', 'Beyond Scope of Source Address',
      'Address Unreachable', 'Port Unreachable', 'Source Address Failed Policy', 'Reject Route'][code] ?? `code ${code}`;
  }
  if (type === 3) return code === 0 ? 'Hop Limit Exceeded in Transit' : code === 1 ? 'Fragment Reassembly Time Exceeded' : `code ${code}`;
  if (type === 4) {
    return ['Erroneous Header Field', 'Unrecognized Next Header', 'Unrecognized IPv6 Option',
      'Incomplete Header Chain'][code] ?? `code ${code}`;
  }
  return `${code}`;
}

/** Types below 128 are errors (RFC 4443 2.1); they quote the invoking packet. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export interface Icmpv6Repr {
  type: number;
  code: number;
  /** The 4 bytes after the checksum: id/seq for echo, MTU for Packet Too Big, pointer for Parameter Problem. */
  rest: number;
  data: Uint8Array;
}

export class Icmpv6Packet extends WireView {

  /** `length` must be the ICMPv6 message length (the IPv6 upper-layer length). */
  check(): string | null {
    return this.length < ICMPV6_HEADER_LENGTH ? 'too-short' : null;
  }

  get type(): number { return this.buf[this.offset]!; }
  get code(): number { return this.buf[this.offset + 1]!; }
  get checksum(): number { return (this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!; }
  get rest(): number {
    const b = this.buf, o = this.offset;
    return ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  }
  get echoId(): number { return (this.buf[this.offset + 4]! << 8) | this.buf[this.offset + 5]!; }
  get echoSeq(): number { return (this.buf[this.offset + 6]! << 8) | this.buf[this.offset + 7]!; }
  /** The MTU of a Packet Too Big message. */
  get mtu(): number { return this.rest; }
  /** The pointer of a Parameter Problem message (a byte offset into the invoking packet). */
  get pointer(): number { return this.rest; }
  get dataOffset(): number { return this.offset + ICMPV6_HEADER_LENGTH; }
  get dataLength(): number { return this.length - ICMPV6_HEADER_LENGTH; }
  data(): Uint8Array { return this.buf.subarray(this.dataOffset, this.offset + this.length); }

  /** Verify against the pseudo-header sum (next header 58, this.length) the network layer computed. */
  verifyChecksumWith(pseudoSum: number): boolean {
    return fold16(sum16(this.buf, this.offset, this.length, pseudoSum)) === 0xffff;
  }

  /** Verify with the addresses read in place (e.g. from the IPv6 header of this packet). */
  verifyChecksum(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): boolean {
    return this.verifyChecksumWith(pseudoHeaderSum6(src, srcOffset, dst, dstOffset, ICMPV6_PROTOCOL, this.length));
  }

  parse(): Icmpv6Repr {
    return { type: this.type, code: this.code, rest: this.rest, data: this.buf.slice(this.dataOffset, this.offset + this.length) };
  }
}

/**
 * Compute and store the checksum of the `length`-byte ICMPv6 message at `offset` (its checksum
 * field is overwritten) for the given addresses (16 bytes at offset 0 of each).
 */
export function fillIcmpv6Checksum(buf: Uint8Array, offset: number, length: number, src: Uint8Array, dst: Uint8Array): void {
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  const csum = ~fold16(sum16(buf, offset, length, pseudoHeaderSum6(src, 0, dst, 0, ICMPV6_PROTOCOL, length))) & 0xffff;
  buf[offset + 2] = csum >>> 8;
  buf[offset + 3] = csum & 0xff;
}

/**
 * Write the 8-byte header at `offset` and checksum it with the `dataLength` bytes already
 * following it, for the given pseudo-header sum (next header 58, length 8 + dataLength).
 * Returns the offset after the data.
 */
export function emitIcmpv6HeaderWith(
  buf: Uint8Array, offset: number, type: number, code: number, rest: number, dataLength: number, pseudoSum: number,
): number {
  buf[offset] = type;
  buf[offset + 1] = code;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf[offset + 4] = rest >>> 24;
  buf[offset + 5] = (rest >>> 16) & 0xff;
  buf[offset + 6] = (rest >>> 8) & 0xff;
  buf[offset + 7] = rest & 0xff;
  const total = ICMPV6_HEADER_LENGTH + dataLength;
  const csum = ~fold16(sum16(buf, offset, total, pseudoSum)) & 0xffff;
  buf[offset + 2] = csum >>> 8;
  buf[offset + 3] = csum & 0xff;
  return offset + total;
}

/** emitIcmpv6HeaderWith for addresses (16 bytes at offset 0 of src and dst). */
export function emitIcmpv6Header(
  buf: Uint8Array, offset: number, type: number, code: number, rest: number, dataLength: number,
  src: Uint8Array, dst: Uint8Array,
): number {
  const pseudo = pseudoHeaderSum6(src, 0, dst, 0, ICMPV6_PROTOCOL, ICMPV6_HEADER_LENGTH + dataLength);
  return emitIcmpv6HeaderWith(buf, offset, type, code, rest, dataLength, pseudo);
}

/** Write a whole message (header and a copy of repr.data); returns the offset after it. */
export function emitIcmpv6(buf: Uint8Array, offset: number, repr: Icmpv6Repr, src: Uint8Array, dst: Uint8Array): number {
  buf.set(repr.data, offset + ICMPV6_HEADER_LENGTH);
  return emitIcmpv6Header(buf, offset, repr.type, repr.code, repr.rest, repr.data.length, src, dst);
}

export function echoRest6(id: number, seq: number): number {
  return (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
}

/**
 * How many bytes of an invoking packet an error may quote so that the whole error packet
 * (IPv6 header, ICMPv6 header, quote) fits in the minimum MTU (RFC 4443 2.4 (c)).
 * `extraHeaders` is the length of any extension headers the error itself carries.
 */
export function icmpv6QuoteLength(invokingLength: number, extraHeaders = 0): number {
  return Math.max(0, Math.min(invokingLength, IPV6_MIN_MTU - IPV6_HEADER_LENGTH - extraHeaders - ICMPV6_HEADER_LENGTH));
}

/**
 * Write an error message (type < 128) at `offset`, quoting as much of the invoking packet
 * (`invoking[invokingOffset, +invokingLength)`, starting at its IPv6 header) as fits in 1280
 * bytes. `rest` is the MTU for Packet Too Big, the pointer for Parameter Problem, else 0.
 * Returns the offset after the message.
 */
export function emitIcmpv6Error(
  buf: Uint8Array, offset: number, type: number, code: number, rest: number,
  invoking: Uint8Array, invokingOffset: number, invokingLength: number, src: Uint8Array, dst: Uint8Array,
): number {
  const quote = icmpv6QuoteLength(invokingLength);
  buf.set(invoking.subarray(invokingOffset, invokingOffset + quote), offset + ICMPV6_HEADER_LENGTH);
  return emitIcmpv6Header(buf, offset, type, code, rest, quote, src, dst);
}
