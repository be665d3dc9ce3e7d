/** Bounds-safe helpers every decoder of untrusted bytes in observe/ uses. */

export function hex(n: number, digits: number): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

/** Clamp a caller's (offset, length) to what buf really holds, so no reader goes past its end. */
export function available(buf: Uint8Array, offset: number, length: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) return 0;
  if (!Number.isFinite(length) || length <= 0) return 0;
  return Math.min(Math.floor(length), buf.length - offset);
}

export function validOffset(buf: Uint8Array, offset: number): number {
  return Number.isInteger(offset) && offset >= 0 && offset <= buf.length ? offset : buf.length;
}
