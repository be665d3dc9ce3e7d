/** ICMP for IPv4 (RFC 792), as a zero-copy view plus emit. */

import { WireView } from './view.js';
import { internetChecksum, sum16, fold16 } from './checksum.js';

export const ICMP_HEADER_LENGTH = 8;

export const IcmpType = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
} as const;

export const UnreachableCode = {
  Net: 0,
  Host: 1,
  Protocol: 2,
  Port: 3,
  FragmentationNeeded: 4,
  SourceRouteFailed: 5,
  NetUnknown: 6,
  HostUnknown: 7,
  AdminProhibited: 13,
} as const;

export const TimeExceededCode = { TtlExceeded: 0, ReassemblyTimeout: 1 } as const;

export function icmpTypeName(type: number): string {
  switch (type) {
    case 0: return 'Echo Reply';
    case 3: return 'Destination Unreachable';
    case 4: return 'Source Quench';
    case 5: return 'Redirect';
    case 8: return 'Echo';
    case 11: return 'Time Exceeded';
    case 12: return 'Parameter Problem';
    case 13: return 'Timestamp';
    case 14: return 'Timestamp Reply';
    default: return 'Unknown';
  }
}

export function icmpCodeName(type: number, code: number): string {
  if (type === 3) {
    return ['Net Unreachable', 'Host Unreachable', 'Protocol Unreachable', 'Port Unreachable',
      'Fragmentation Needed', 'Source Route Failed', 'Net Unknown', 'Host Unknown', 'Source Host Isolated',
      'Net Prohibited', 'Host Prohibited', 'Net Unreachable for TOS', 'Host Unreachable for TOS',
      'Communication Prohibited', 'Host Precedence Violation', 'Precedence Cutoff'][code] ?? `code ${code}`;
  }
  if (type === 11) return code === 0 ? 'TTL Exceeded in Transit' : code === 1 ? 'Fragment Reassembly Time Exceeded' : `code ${code}`;
  if (type === 12) return code === 0 ? 'Pointer Indicates the Error' : code === 1 ? 'Missing a Required Option' : code === 2 ? 'Bad Length' : `code ${code}`;
  return `${code}`;
}

/** Error messages carry the offending datagram's header; queries do not. */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

export interface IcmpRepr {
  type: number;
  code: number;
  /** The 4 bytes after the checksum: id/seq for echo, MTU for frag-needed, pointer for param problem. */
  rest: number;
  data: Uint8Array;
}

export class IcmpPacket extends WireView {

  check(): string | null {
    return this.length < ICMP_HEADER_LENGTH ? 'too-short' : null;
  }

  get type(): number { return this.buf[this.offset]!; }
  get code(): number { return this.buf[this.offset + 1]!; }
  get checksum(): number { return (this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!; }
  get rest(): number {
    const b = this.buf, o = this.offset;
    return ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  }
  /** Echo identifier. */
  get echoId(): number { return (this.buf[this.offset + 4]! << 8) | this.buf[this.offset + 5]!; }
  /** Echo sequence number. */
  get echoSeq(): number { return (this.buf[this.offset + 6]! << 8) | this.buf[this.offset + 7]!; }
  /** Next-hop MTU of a Fragmentation Needed message (RFC 1191). */
  get nextHopMtu(): number { return (this.buf[this.offset + 6]! << 8) | this.buf[this.offset + 7]!; }
  /** Pointer of a Parameter Problem message. */
  get pointer(): number { return this.buf[this.offset + 4]!; }
  get dataOffset(): number { return this.offset + ICMP_HEADER_LENGTH; }
  get dataLength(): number { return this.length - ICMP_HEADER_LENGTH; }
  data(): Uint8Array { return this.buf.subarray(this.dataOffset, this.offset + this.length); }

  verifyChecksum(): boolean {
    return fold16(sum16(this.buf, this.offset, this.length)) === 0xffff;
  }

  parse(): IcmpRepr {
    return { type: this.type, code: this.code, rest: this.rest, data: this.buf.slice(this.dataOffset, this.offset + this.length) };
  }
}

/**
 * Write the 8-byte ICMP header at `offset` and checksum it together with the `dataLength`
 * bytes that already follow it in `buf`. Returns the offset after the data.
 */
export function emitIcmpHeader(buf: Uint8Array, offset: number, type: number, code: number, rest: number, dataLength: number): number {
  buf[offset] = type;
  buf[offset + 1] = code;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf[offset + 4] = rest >>> 24;
  buf[offset + 5] = (rest >>> 16) & 0xff;
  buf[offset + 6] = (rest >>> 8) & 0xff;
  buf[offset + 7] = rest & 0xff;
  const total = ICMP_HEADER_LENGTH + dataLength;
  const csum = internetChecksum(buf, offset, total);
  buf[offset + 2] = csum >>> 8;
  buf[offset + 3] = csum & 0xff;
  return offset + total;
}

/** Write a whole ICMP message (header and a copy of repr.data); returns the offset after it. */
export function emitIcmp(buf: Uint8Array, offset: number, repr: IcmpRepr): number {
  buf.set(repr.data, offset + ICMP_HEADER_LENGTH);
  return emitIcmpHeader(buf, offset, repr.type, repr.code, repr.rest, repr.data.length);
}

export function echoRest(id: number, seq: number): number {
  return (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
}
