/**
 * TCP sequence-number arithmetic (RFC 9293 section 3.4, "Sequence Numbers").
 *
 * Sequence numbers live in a 32-bit space and wrap: "it is essential to remember that the
 * actual sequence number space is finite, though very large ... all arithmetic dealing with
 * sequence numbers must be performed modulo 2**32". Comparisons therefore look at the signed
 * 32-bit difference `(a - b) | 0`: `a` is "after" `b` when that difference is positive. This
 * is the classic serial-number arithmetic (RFC 1982) that every TCP uses; it is only
 * meaningful when the two numbers are less than 2^31 apart, which the window rules guarantee.
 *
 * Every function accepts any 32-bit pattern (signed or unsigned JS numbers) and the ones that
 * produce a sequence number return it normalised to an unsigned integer in [0, 2^32).
 * They are tiny and monomorphic so V8 inlines them on hot paths.
 */

/** a < b (a is before b), modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b, modulo 2^32. */
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b (a is after b), modulo 2^32. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b, modulo 2^32. */
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n as an unsigned sequence number (n may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * Signed distance a - b in [-2^31, 2^31): how far `a` is after `b`. Use it to turn a sequence
 * number into an offset from a reference point, e.g. `seqSub(seg.seq, rcvNxt)`.
 */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** Normalise any 32-bit pattern to an unsigned sequence number. */
export function seqNorm(a: number): number {
  return a >>> 0;
}

/** The later of a and b. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a >>> 0 : b >>> 0;
}

/** The earlier of a and b. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a >>> 0 : b >>> 0;
}

/**
 * lo <= x < hi, modulo 2^32 — the RFC 9293 section 3.4 acceptability form
 * "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND". Evaluated as an unsigned offset from `lo`, so it
 * is correct even for windows of 2^31 or more bytes; an empty range (hi == lo) holds nothing.
 */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) < ((hi - lo) >>> 0);
}

/** lo < x <= hi, modulo 2^32 — the form "SND.UNA < SEG.ACK =< SND.NXT". */
export function seqInRangeOpenClosed(x: number, lo: number, hi: number): boolean {
  const d = (x - lo) >>> 0;
  return d !== 0 && d <= ((hi - lo) >>> 0);
}
