import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { IsnGenerator, ISN_TICKS_PER_MS } from '../../src/transport/tcp/isn.js';
import { SipHash24 } from '../../src/transport/tcp/siphash.js';
import { seqSub } from '../../src/transport/tcp/seq.js';

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);

test('SipHash-2-4 reference vectors (key 00..0f, message 00..len-1)', () => {
  // From the SipHash paper / reference implementation (and `openssl mac SIPHASH`),
  // as the little-endian byte string of the 64-bit output.
  const vectors: Record<number, string> = {
    0: '310e0edd47db6f72',
    1: 'fd67dc93c539f874',
    7: '37d1018bf50002ab',
    8: '6224939a79f5f593',
    15: 'e545be4961ca29a1',
    16: 'db9bc2577fcc2a3f',
    63: '724506eb4c328a95',
  };
  const sip = new SipHash24(KEY);
  const out = new Uint32Array(2);
  for (const [len, hex] of Object.entries(vectors)) {
    const msg = Uint8Array.from({ length: Number(len) }, (_, i) => i);
    const lo = sip.hash(msg, 0, msg.length, out);
    const bytes = new Uint8Array(out.buffer);
    assert.equal(Buffer.from(bytes).toString('hex'), hex, `len ${len}`);
    assert.equal(lo, out[0]);
  }
  // offset/length into a larger buffer
  const big = Uint8Array.from({ length: 40 }, (_, i) => (i - 5) & 0xff);
  sip.hash(big, 5, 15, out);
  assert.equal(Buffer.from(new Uint8Array(out.buffer)).toString('hex'), 'e545be4961ca29a1');
  assert.throws(() => new SipHash24(new Uint8Array(8)), RangeError);
});

const A = Uint8Array.of(10, 0, 0, 1);
const B = Uint8Array.of(10, 0, 0, 2);

test('ISN = M + F: M is a 4 µs clock, F a keyed hash of the tuple (RFC 6528)', () => {
  const clock = new FakeClock(1000);
  const gen = new IsnGenerator(clock, KEY);
  const f = gen.offset(A, 80, B, 40000);
  assert.equal(gen.next(A, 80, B, 40000), (1000 * ISN_TICKS_PER_MS + f) >>> 0);
  clock.advance(1); // 1 ms = 250 ticks
  assert.equal(seqSub(gen.next(A, 80, B, 40000), (1000 * 250 + f) >>> 0), 250);
  clock.advance(0.004); // one tick
  assert.equal(seqSub(gen.next(A, 80, B, 40000), (1000 * 250 + f) >>> 0), 251);
});

test('same tuple advances with the clock, wrapping modulo 2^32', () => {
  const clock = new FakeClock(0);
  const gen = new IsnGenerator(clock, KEY);
  const first = gen.next(A, 80, B, 40000);
  let prev = first;
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    const isn = gen.next(A, 80, B, 40000);
    assert.equal(seqSub(isn, prev), 250_000);
    prev = isn;
  }
  // 2^32 ticks of 4 µs is about 4.77 hours: the ISN wraps and comes back.
  clock.advance(2 ** 32 / 250 - 10_000);
  assert.equal(gen.next(A, 80, B, 40000), first);
});

test('different tuples give unrelated ISNs', () => {
  const clock = new FakeClock(0);
  const gen = new IsnGenerator(clock, KEY);
  const base = gen.offset(A, 80, B, 40000);
  const variants = [
    gen.offset(A, 80, B, 40001),
    gen.offset(A, 81, B, 40000),
    gen.offset(B, 80, A, 40000),
    gen.offset(A, 80, Uint8Array.of(10, 0, 0, 3), 40000),
    gen.offset(new Uint8Array(16), 80, new Uint8Array(16), 40000),
  ];
  for (const v of variants) {
    assert.notEqual(v, base);
    // unrelated: far apart in sequence space and many differing bits
    const diff = (v ^ base) >>> 0;
    let bits = 0;
    for (let x = diff; x; x &= x - 1) bits++;
    assert.ok(bits >= 6, `only ${bits} bits differ`);
  }
  // Over many consecutive ports, offsets look uniform: mean bit density close to 1/2 and
  // no two adjacent ports land within 2^20 of each other (probability ~ 2^-12 each).
  let ones = 0;
  let close = 0;
  let prev = gen.offset(A, 80, B, 1024);
  for (let port = 1025; port < 1024 + 4096; port++) {
    const o = gen.offset(A, 80, B, port);
    for (let x = o; x; x &= x - 1) ones++;
    if (Math.abs(seqSub(o, prev)) < 2 ** 20) close++;
    prev = o;
  }
  const density = ones / (4095 * 32);
  assert.ok(density > 0.48 && density < 0.52, `density ${density}`);
  assert.ok(close <= 8, `close ${close}`);
});

test('a different key gives different ISNs; default key is random', () => {
  const clock = new FakeClock(0);
  const k2 = KEY.slice();
  k2[0] ^= 1;
  const a = new IsnGenerator(clock, KEY).offset(A, 80, B, 40000);
  const b = new IsnGenerator(clock, k2).offset(A, 80, B, 40000);
  assert.notEqual(a, b);
  const r1 = new IsnGenerator(clock).offset(A, 80, B, 40000);
  const r2 = new IsnGenerator(clock).offset(A, 80, B, 40000);
  assert.notEqual(r1, r2);
  assert.throws(() => new IsnGenerator(clock, KEY).next(Uint8Array.of(1, 2, 3), 1, B, 2), RangeError);
});
