/** Crafted capture files and packets for the capture-reader and drawing tests. */

import { emitIpv4Simple, emitTcp, parseIpv4, TCP_PROTOCOL } from '../../src/wire/index.js';

export interface Rec { time: number; data: Uint8Array; orig?: number }

/** A classic pcap; `ns` uses the nanosecond magic. */
export function pcapFile(linkType: number, records: readonly Rec[], opts: { little?: boolean; ns?: boolean } = {}): Uint8Array {
  const little = opts.little ?? true;
  const total = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, opts.ns ? 0xa1b23c4d : 0xa1b2c3d4, little);
  v.setUint16(4, 2, little); v.setUint16(6, 4, little);
  v.setUint32(16, 262144, little); v.setUint32(20, linkType, little);
  let at = 24;
  for (const r of records) {
    const sec = Math.floor(r.time);
    const frac = Math.round((r.time - sec) * (opts.ns ? 1e9 : 1e6));
    v.setUint32(at, sec, little); v.setUint32(at + 4, frac, little);
    v.setUint32(at + 8, r.data.length, little); v.setUint32(at + 12, r.orig ?? r.data.length, little);
    out.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  return out;
}

function block(type: number, body: Uint8Array, little: boolean): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, little); v.setUint32(4, len, little);
  out.set(body, 8);
  v.setUint32(len - 4, len, little);
  return out;
}

export type NgBlock =
  | { kind: 'idb'; linkType: number; tsresol?: number }
  | { kind: 'epb'; iface: number; ticks: bigint; data: Uint8Array }
  | { kind: 'spb'; data: Uint8Array }
  | { kind: 'other'; type: number; body: Uint8Array }
  | { kind: 'shb'; little: boolean };

/** A pcapng file: a section header in `little` order, then the blocks (a 'shb' starts a new section). */
export function pcapngFile(blocks: readonly NgBlock[], little = true): Uint8Array {
  const parts: Uint8Array[] = [];
  let le = little;
  const shb = (l: boolean) => {
    const body = new Uint8Array(16);
    const v = new DataView(body.buffer);
    v.setUint32(0, 0x1a2b3c4d, l); v.setUint16(4, 1, l); v.setUint16(6, 0, l);
    v.setBigInt64(8, -1n, l);
    return block(0x0a0d0d0a, body, l);
  };
  parts.push(shb(le));
  for (const b of blocks) {
    if (b.kind === 'shb') { le = b.little; parts.push(shb(le)); continue; }
    if (b.kind === 'idb') {
      const body = new Uint8Array(b.tsresol === undefined ? 8 : 8 + 8 + 4);
      const v = new DataView(body.buffer);
      v.setUint16(0, b.linkType, le); v.setUint32(4, 262144, le);
      if (b.tsresol !== undefined) { v.setUint16(8, 9, le); v.setUint16(10, 1, le); body[12] = b.tsresol; /* then opt_endofopt */ }
      parts.push(block(1, body, le));
    } else if (b.kind === 'epb') {
      const body = new Uint8Array(20 + ((b.data.length + 3) & ~3));
      const v = new DataView(body.buffer);
      v.setUint32(0, b.iface, le);
      v.setUint32(4, Number(b.ticks >> 32n), le); v.setUint32(8, Number(b.ticks & 0xffffffffn), le);
      v.setUint32(12, b.data.length, le); v.setUint32(16, b.data.length, le);
      body.set(b.data, 20);
      parts.push(block(6, body, le));
    } else if (b.kind === 'spb') {
      const body = new Uint8Array(4 + ((b.data.length + 3) & ~3));
      new DataView(body.buffer).setUint32(0, b.data.length, le);
      body.set(b.data, 4);
      parts.push(block(3, body, le));
    } else parts.push(block(b.type, b.body, le));
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export interface Seg {
  src: string; sport: number; dst: string; dport: number;
  seq: number; ack?: number; flags: number; win?: number; len?: number;
  /** Raw TCP option bytes (a multiple of 4). */
  options?: number[];
}

/** A raw IPv4 packet (link type 101) carrying one TCP segment. */
export function tcpPacket(s: Seg): Uint8Array {
  const opts = s.options ?? [];
  const len = s.len ?? 0;
  const tcpLen = 20 + opts.length + len;
  const buf = new Uint8Array(20 + tcpLen);
  const src = parseIpv4(s.src)!, dst = parseIpv4(s.dst)!;
  emitIpv4Simple(buf, 0, src, dst, TCP_PROTOCOL, tcpLen, 1, 64, true);
  buf.set(opts, 40);
  emitTcp(buf, 20, { srcPort: s.sport, dstPort: s.dport, seq: s.seq >>> 0, ack: (s.ack ?? 0) >>> 0, flags: s.flags, window: s.win ?? 1000, urgentPointer: 0 }, opts.length, len, src, dst);
  return buf;
}

export function wscaleOption(shift: number): number[] { return [1, 3, 3, shift]; }
export function sackOption(blocks: Array<[number, number]>): number[] {
  const out = [1, 1, 5, 2 + 8 * blocks.length];
  for (const [l, r] of blocks) for (const v of [l, r]) out.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  return out;
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}
