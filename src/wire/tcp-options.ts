/**
 * TCP options: MSS (RFC 9293), window scale and timestamps (RFC 7323), SACK-permitted and
 * SACK (RFC 2018). Two forms: a reusable struct filled without allocation for the hot path,
 * and a list form that keeps order and padding, for dissection and byte-exact re-emission.
 */

export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const;

/** Parsed options of one segment; `reset()` before reuse. -1 means "absent". */
export class TcpOptions {
  mss = -1;
  windowScale = -1;
  sackPermitted = false;
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks as [left0, right0, left1, right1, ...]; `sackCount` pairs are valid. */
  readonly sackBlocks = new Array<number>(8).fill(0);
  sackCount = 0;

  reset(): this {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackCount = 0;
    return this;
  }
}

function u32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

function putU32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}

/**
 * Fill `out` from the options in buf[offset, offset+length). Returns null when well formed,
 * else a drop reason: an option whose length is missing, below 2, or past the header end.
 * Options with a wrong fixed length are ignored (as Linux does) rather than trusted.
 */
export function parseTcpOptions(buf: Uint8Array, offset: number, length: number, out: TcpOptions): string | null {
  out.reset();
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const kind = buf[i]!;
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) { i++; continue; }
    if (i + 1 >= end) return 'bad-tcp-option';
    const len = buf[i + 1]!;
    if (len < 2 || i + len > end) return 'bad-tcp-option';
    switch (kind) {
      case TcpOptionKind.MSS:
        if (len === 4) out.mss = (buf[i + 2]! << 8) | buf[i + 3]!;
        break;
      case TcpOptionKind.WindowScale:
        if (len === 3) out.windowScale = Math.min(buf[i + 2]!, 14); // RFC 7323 2.3: clamp to 14
        break;
      case TcpOptionKind.SackPermitted:
        if (len === 2) out.sackPermitted = true;
        break;
      case TcpOptionKind.Timestamps:
        if (len === 10) {
          out.hasTimestamps = true;
          out.tsVal = u32(buf, i + 2);
          out.tsEcr = u32(buf, i + 6);
        }
        break;
      case TcpOptionKind.Sack:
        if ((len - 2) % 8 === 0) {
          const n = Math.min((len - 2) / 8, 4);
          for (let b = 0; b < n; b++) {
            out.sackBlocks[2 * b] = u32(buf, i + 2 + 8 * b);
            out.sackBlocks[2 * b + 1] = u32(buf, i + 6 + 8 * b);
          }
          out.sackCount = n;
        }
        break;
      default:
        break; // unknown options are skipped by their length (RFC 9293 3.2)
    }
    i += len;
  }
  return null;
}

export type TcpOption =
  | { kind: 'EOL' }
  | { kind: 'NOP' }
  | { kind: 'MSS'; value: number }
  | { kind: 'WS'; shift: number }
  | { kind: 'SACK_PERMITTED' }
  | { kind: 'SACK'; blocks: Array<[number, number]> }
  | { kind: 'TS'; tsVal: number; tsEcr: number }
  | { kind: 'UNKNOWN'; type: number; data: Uint8Array };

/** The options in order, for dissection; null when malformed. Trailing bytes after EOL are ignored. */
export function listTcpOptions(buf: Uint8Array, offset: number, length: number): TcpOption[] | null {
  const list: TcpOption[] = [];
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const kind = buf[i]!;
    if (kind === TcpOptionKind.EOL) { list.push({ kind: 'EOL' }); break; }
    if (kind === TcpOptionKind.NOP) { list.push({ kind: 'NOP' }); i++; continue; }
    if (i + 1 >= end) return null;
    const len = buf[i + 1]!;
    if (len < 2 || i + len > end) return null;
    if (kind === TcpOptionKind.MSS && len === 4) list.push({ kind: 'MSS', value: (buf[i + 2]! << 8) | buf[i + 3]! });
    else if (kind === TcpOptionKind.WindowScale && len === 3) list.push({ kind: 'WS', shift: buf[i + 2]! });
    else if (kind === TcpOptionKind.SackPermitted && len === 2) list.push({ kind: 'SACK_PERMITTED' });
    else if (kind === TcpOptionKind.Timestamps && len === 10) list.push({ kind: 'TS', tsVal: u32(buf, i + 2), tsEcr: u32(buf, i + 6) });
    else if (kind === TcpOptionKind.Sack && (len - 2) % 8 === 0) {
      const blocks: Array<[number, number]> = [];
      for (let p = i + 2; p < i + len; p += 8) blocks.push([u32(buf, p), u32(buf, p + 4)]);
      list.push({ kind: 'SACK', blocks });
    } else list.push({ kind: 'UNKNOWN', type: kind, data: buf.slice(i + 2, i + len) });
    i += len;
  }
  return list;
}

export function tcpOptionLength(option: TcpOption): number {
  switch (option.kind) {
    case 'EOL': case 'NOP': return 1;
    case 'MSS': return 4;
    case 'WS': return 3;
    case 'SACK_PERMITTED': return 2;
    case 'TS': return 10;
    case 'SACK': return 2 + 8 * option.blocks.length;
    case 'UNKNOWN': return 2 + option.data.length;
  }
}

/** Write options in list order; pads with zeros (EOL) to a multiple of 4. Returns bytes written. */
export function emitTcpOptionList(buf: Uint8Array, offset: number, list: readonly TcpOption[]): number {
  let i = offset;
  for (const o of list) {
    switch (o.kind) {
      case 'EOL': buf[i++] = 0; break;
      case 'NOP': buf[i++] = 1; break;
      case 'MSS': buf[i] = 2; buf[i + 1] = 4; buf[i + 2] = o.value >>> 8; buf[i + 3] = o.value & 0xff; i += 4; break;
      case 'WS': buf[i] = 3; buf[i + 1] = 3; buf[i + 2] = o.shift; i += 3; break;
      case 'SACK_PERMITTED': buf[i] = 4; buf[i + 1] = 2; i += 2; break;
      case 'TS': buf[i] = 8; buf[i + 1] = 10; putU32(buf, i + 2, o.tsVal); putU32(buf, i + 6, o.tsEcr); i += 10; break;
      case 'SACK':
        buf[i] = 5; buf[i + 1] = 2 + 8 * o.blocks.length;
        for (let b = 0; b < o.blocks.length; b++) { putU32(buf, i + 2 + 8 * b, o.blocks[b]![0]); putU32(buf, i + 6 + 8 * b, o.blocks[b]![1]); }
        i += 2 + 8 * o.blocks.length;
        break;
      case 'UNKNOWN': buf[i] = o.type; buf[i + 1] = 2 + o.data.length; buf.set(o.data, i + 2); i += 2 + o.data.length; break;
    }
  }
  while ((i - offset) % 4 !== 0) buf[i++] = 0;
  return i - offset;
}

/** What the output path wants to send; -1 / false / 0 leave an option out. */
export interface TcpOptionsOut {
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  timestamps: boolean;
  tsVal: number;
  tsEcr: number;
  /** SACK blocks as pairs in `sackBlocks`; `sackCount` of them are sent. */
  sackBlocks: number[];
  sackCount: number;
}

/**
 * Write options in the layout Linux uses, so captures look familiar and headers stay
 * 4-byte aligned: SYN: MSS, SACK_PERM+TS (or NOP NOP TS / NOP NOP SACK_PERM), NOP WS;
 * data: NOP NOP TS, NOP NOP SACK. Returns bytes written (a multiple of 4, at most 40).
 */
export function emitTcpOptions(buf: Uint8Array, offset: number, o: TcpOptionsOut): number {
  let i = offset;
  if (o.mss >= 0) { buf[i] = 2; buf[i + 1] = 4; buf[i + 2] = o.mss >>> 8; buf[i + 3] = o.mss & 0xff; i += 4; }
  if (o.sackPermitted && o.timestamps) {
    buf[i] = 4; buf[i + 1] = 2; buf[i + 2] = 8; buf[i + 3] = 10; i += 4;
    putU32(buf, i, o.tsVal); putU32(buf, i + 4, o.tsEcr); i += 8;
  } else if (o.timestamps) {
    buf[i] = 1; buf[i + 1] = 1; buf[i + 2] = 8; buf[i + 3] = 10; i += 4;
    putU32(buf, i, o.tsVal); putU32(buf, i + 4, o.tsEcr); i += 8;
  } else if (o.sackPermitted) {
    buf[i] = 1; buf[i + 1] = 1; buf[i + 2] = 4; buf[i + 3] = 2; i += 4;
  }
  if (o.windowScale >= 0) { buf[i] = 1; buf[i + 1] = 3; buf[i + 2] = 3; buf[i + 3] = o.windowScale; i += 4; }
  const room = Math.floor((40 - (i - offset) - 4) / 8);
  const n = Math.min(o.sackCount, room, 4);
  if (n > 0) {
    buf[i] = 1; buf[i + 1] = 1; buf[i + 2] = 5; buf[i + 3] = 2 + 8 * n; i += 4;
    for (let b = 0; b < n; b++) { putU32(buf, i, o.sackBlocks[2 * b]!); putU32(buf, i + 4, o.sackBlocks[2 * b + 1]!); i += 8; }
  }
  return i - offset;
}
