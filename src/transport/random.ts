/**
 * Randomness for ports, ISN keys, cookie secrets and timestamp offsets, from the
 * web-standard `crypto.getRandomValues` (a CSPRNG in Node, browsers, Deno and Bun).
 */

const word = new Uint32Array(1);

/** A uniformly random integer in [min, max). */
export function randomInt(min: number, max: number): number {
  const span = max - min;
  if (span <= 0) return min;
  // Rejection sampling: no modulo bias for spans that do not divide 2^32.
  const limit = Math.floor(0x100000000 / span) * span;
  for (;;) {
    globalThis.crypto.getRandomValues(word);
    const v = word[0]!;
    if (v < limit) return min + (v % span);
  }
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}
