/**
 * Byte dumps in the two layouts people compare against: the old pstack's "payload:" field
 * (space-separated pairs, 20 per line) and tcpdump's -X (offset, 2-byte groups, ASCII).
 *
 * Both clamp the range to the buffer, so a bogus length from a malformed header can never
 * make them read past the end or throw.
 */

/** "00".."ff", so formatting a byte is an array load rather than toString + pad. */
export const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The part of [offset, offset+length) that lies inside buf, as [start, end). */
function clampRange(buf: Uint8Array, offset: number, length: number): [number, number] {
  const start = Math.max(0, Math.min(Number.isFinite(offset) ? Math.floor(offset) : 0, buf.length));
  const want = Number.isFinite(length) ? Math.floor(length) : 0;
  const end = Math.max(start, Math.min(start + Math.max(0, want), buf.length));
  return [start, end];
}

/** One string per line of `perLine` space-separated hex bytes; empty array for no bytes. */
export function hexByteLines(buf: Uint8Array, offset: number, length: number, perLine = 20): string[] {
  const [start, end] = clampRange(buf, offset, length);
  const step = perLine >= 1 ? Math.floor(perLine) : 20;
  const lines: string[] = [];
  for (let lineStart = start; lineStart < end; lineStart += step) {
    const lineEnd = Math.min(lineStart + step, end);
    let s = HEX_BYTE[buf[lineStart]!]!;
    for (let i = lineStart + 1; i < lineEnd; i++) s += ' ' + HEX_BYTE[buf[i]!]!;
    lines.push(s);
  }
  return lines;
}

export interface HexBytesOptions {
  /** Bytes per line; the old pstack used 20. */
  perLine?: number;
  /** Put before every line but the first (which follows a label): spaces or a count of them. */
  indent?: string | number;
}

/**
 * The old pstack's payload field value: "45 00 00 54 ..." with 20 bytes a line, continuation
 * lines indented so that they line up under the first byte after the label.
 */
export function hexBytes(buf: Uint8Array, offset: number, length: number, options: HexBytesOptions = {}): string {
  const indent = typeof options.indent === 'number' ? ' '.repeat(Math.max(0, options.indent)) : options.indent ?? '';
  return hexByteLines(buf, offset, length, options.perLine ?? 20).join('\n' + indent);
}

const TCPDUMP_BYTES_PER_LINE = 16;
/** Hex column width: 8 groups of " xxxx"; tcpdump pads short lines to it ("%-*s"). */
const TCPDUMP_HEX_COLUMN = 40;

/**
 * tcpdump -X layout, one string per line, each starting with `indent` (tcpdump uses a tab):
 *
 *   0x0000:  4500 0054 99d2 4000 4001 48b1 ac11 0001  E..T..@.@.H.....
 *
 * Reproduces tcpdump's hex_and_ascii_print_with_offset exactly: each 2-byte group is
 * " xxxx", an odd last byte is " xx", the hex column is padded to 40 characters on a short
 * last line so the ASCII column stays aligned, then two spaces and the ASCII. Like tcpdump,
 * the ASCII column shows only graphic characters (0x21-0x7e): a space byte prints as '.'.
 */
export function hexdumpX(buf: Uint8Array, offset: number, length: number, indent = '\t'): string[] {
  const [start, end] = clampRange(buf, offset, length);
  const lines: string[] = [];
  for (let lineStart = start; lineStart < end; lineStart += TCPDUMP_BYTES_PER_LINE) {
    const lineEnd = Math.min(lineStart + TCPDUMP_BYTES_PER_LINE, end);
    let hex = '';
    let ascii = '';
    for (let i = lineStart; i < lineEnd; i += 2) {
      const b1 = buf[i]!;
      hex += ' ' + HEX_BYTE[b1]!;
      ascii += b1 > 0x20 && b1 < 0x7f ? String.fromCharCode(b1) : '.';
      if (i + 1 < lineEnd) {
        const b2 = buf[i + 1]!;
        hex += HEX_BYTE[b2]!;
        ascii += b2 > 0x20 && b2 < 0x7f ? String.fromCharCode(b2) : '.';
      }
    }
    const where = (lineStart - start).toString(16).padStart(4, '0');
    lines.push(`${indent}0x${where}: ${hex.padEnd(TCPDUMP_HEX_COLUMN)}  ${ascii}`);
  }
  return lines;
}
