/** Ethernet II frames (IEEE 802.3 with an EtherType), as a zero-copy view plus emit. */

import { WireView } from './view.js';
import { macToString } from './addr.js';

export const ETHERNET_HEADER_LENGTH = 14;
/** Frames shorter than this (without FCS) are padded on output, as 802.3 requires. */
export const ETHERNET_MIN_FRAME = 60;

export const EtherType = {
  IPv4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPv6: 0x86dd,
} as const;

export function etherTypeName(type: number): string {
  switch (type) {
    case EtherType.IPv4: return 'IPv4';
    case EtherType.ARP: return 'ARP';
    case EtherType.IPv6: return 'IPv6';
    case EtherType.VLAN: return '802.1Q';
    default: return 'unknown';
  }
}

export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
}

export class EthernetFrame extends WireView {

  /** null when the header is readable; otherwise the drop reason. */
  check(): string | null {
    return this.length < ETHERNET_HEADER_LENGTH ? 'too-short' : null;
  }

  get dstOffset(): number { return this.offset; }
  get srcOffset(): number { return this.offset + 6; }
  get etherType(): number { return (this.buf[this.offset + 12]! << 8) | this.buf[this.offset + 13]!; }
  get payloadOffset(): number { return this.offset + ETHERNET_HEADER_LENGTH; }
  get payloadLength(): number { return this.length - ETHERNET_HEADER_LENGTH; }
  payload(): Uint8Array { return this.buf.subarray(this.payloadOffset, this.offset + this.length); }
  dstString(): string { return macToString(this.buf, this.offset); }
  srcString(): string { return macToString(this.buf, this.offset + 6); }

  parse(): EthernetRepr {
    return {
      dst: this.buf.slice(this.offset, this.offset + 6),
      src: this.buf.slice(this.offset + 6, this.offset + 12),
      etherType: this.etherType,
    };
  }
}

/** Write the 14-byte header at `offset`; returns the payload offset. */
export function emitEthernet(buf: Uint8Array, offset: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  // Byte by byte: buf.set(x.subarray(0, 6)) would allocate two views per frame.
  for (let i = 0; i < 6; i++) {
    buf[offset + i] = dst[i]!;
    buf[offset + 6 + i] = src[i]!;
  }
  buf[offset + 12] = etherType >>> 8;
  buf[offset + 13] = etherType & 0xff;
  return offset + ETHERNET_HEADER_LENGTH;
}

/** Zero the bytes from `frameLength` up to the 60-byte minimum; returns the padded length. */
export function padFrame(buf: Uint8Array, offset: number, frameLength: number): number {
  if (frameLength >= ETHERNET_MIN_FRAME) return frameLength;
  buf.fill(0, offset + frameLength, offset + ETHERNET_MIN_FRAME);
  return ETHERNET_MIN_FRAME;
}
