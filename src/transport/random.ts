/**
 * Randomness for ports, ISN keys, cookie secrets and timestamp offsets, from the
 * web-standard `crypto.getRandomValues` (a CSPRNG in Node, browsers, Deno and Bun).
 *
 * Words are drawn 256 at a time: a call to getRandomValues costs microseconds whatever its
 * size (in Node it crosses into the native side), and a connection needs two or three words.
 */

const POOL_WORDS = 256;
const pool = new Uint32Array(POOL_WORDS);
let next = POOL_WORDS;

function word(): number {
  if (next === POOL_WORDS) {
    globalThis.crypto.getRandomValues(pool);
    next = 0;
  }
  return pool[next++]!;
}

/** A uniformly random integer in [min, max). */
export function randomInt(min: number, max: number): number {
  const span = max - min;
  if (span <= 0) return min;
  // Rejection sampling: no modulo bias for spans that do not divide 2^32.
  const limit = Math.floor(0x100000000 / span) * span;
  for (;;) {
    const v = word();
    if (v < limit) return min + (v % span);
  }
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}
