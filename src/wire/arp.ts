/** ARP for IPv4 over Ethernet (RFC 826), as a zero-copy view plus emit. */

import { WireView } from './view.js';
import { macToString, readIpv4, writeIpv4, type Ipv4Address } from './addr.js';

export const ARP_PACKET_LENGTH = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;

export const ArpOp = { Request: 1, Reply: 2 } as const;

export function arpOpName(op: number): string {
  return op === 1 ? 'REQUEST' : op === 2 ? 'REPLY' : 'UNKNOWN';
}

export interface ArpRepr {
  op: number;
  senderMac: Uint8Array;
  senderIp: Ipv4Address;
  targetMac: Uint8Array;
  targetIp: Ipv4Address;
}

export class ArpPacket extends WireView {

  /** Only Ethernet/IPv4 ARP is understood; anything else is a drop reason. */
  check(): string | null {
    if (this.length < ARP_PACKET_LENGTH) return 'too-short';
    if (this.hardwareType !== ARP_HTYPE_ETHERNET || this.protocolType !== ARP_PTYPE_IPV4) return 'unsupported-arp';
    if (this.hardwareLength !== 6 || this.protocolLength !== 4) return 'unsupported-arp';
    return null;
  }

  get hardwareType(): number { return (this.buf[this.offset]! << 8) | this.buf[this.offset + 1]!; }
  get protocolType(): number { return (this.buf[this.offset + 2]! << 8) | this.buf[this.offset + 3]!; }
  get hardwareLength(): number { return this.buf[this.offset + 4]!; }
  get protocolLength(): number { return this.buf[this.offset + 5]!; }
  get op(): number { return (this.buf[this.offset + 6]! << 8) | this.buf[this.offset + 7]!; }
  get senderMacOffset(): number { return this.offset + 8; }
  get senderIp(): Ipv4Address { return readIpv4(this.buf, this.offset + 14); }
  get targetMacOffset(): number { return this.offset + 18; }
  get targetIp(): Ipv4Address { return readIpv4(this.buf, this.offset + 24); }
  senderMacString(): string { return macToString(this.buf, this.offset + 8); }
  targetMacString(): string { return macToString(this.buf, this.offset + 18); }

  parse(): ArpRepr {
    return {
      op: this.op,
      senderMac: this.buf.slice(this.offset + 8, this.offset + 14),
      senderIp: this.senderIp,
      targetMac: this.buf.slice(this.offset + 18, this.offset + 24),
      targetIp: this.targetIp,
    };
  }
}

/** Write a 28-byte Ethernet/IPv4 ARP packet at `offset`; returns the offset after it. */
export function emitArp(buf: Uint8Array, offset: number, repr: ArpRepr): number {
  buf[offset] = 0;
  buf[offset + 1] = ARP_HTYPE_ETHERNET;
  buf[offset + 2] = ARP_PTYPE_IPV4 >>> 8;
  buf[offset + 3] = ARP_PTYPE_IPV4 & 0xff;
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  buf[offset + 6] = repr.op >>> 8;
  buf[offset + 7] = repr.op & 0xff;
  buf.set(repr.senderMac.subarray(0, 6), offset + 8);
  writeIpv4(buf, offset + 14, repr.senderIp);
  buf.set(repr.targetMac.subarray(0, 6), offset + 18);
  writeIpv4(buf, offset + 24, repr.targetIp);
  return offset + ARP_PACKET_LENGTH;
}
