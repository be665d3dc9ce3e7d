import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import {
  COOKIE_PERIOD_MS,
  type CookieTsOptions,
  decodeCookieTimestamp,
  DEFAULT_COOKIE_MSS_TABLE,
  encodeCookieTimestamp,
  SynCookies,
} from '../../src/transport/tcp/syn-cookies.js';

const KEY = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const L = Uint8Array.of(192, 168, 1, 1);
const R = Uint8Array.of(192, 168, 1, 77);

function setup(start = 10 * COOKIE_PERIOD_MS) {
  const clock = new FakeClock(start);
  return { clock, sc: new SynCookies(clock, { key: KEY }) };
}

test('round trip: the cookie carries the (rounded-down) MSS', () => {
  const { sc } = setup();
  for (const [mss, want] of [
    [1460, 1460],
    [1400, 1380],
    [9000, 8960],
    [1220, 1220],
    [536, 536],
    [200, 536],
    [65535, 8960],
  ] as const) {
    const cookie = sc.encode(L, 80, R, 5555, 0x1234_5678, mss);
    assert.equal(sc.decode(L, 80, R, 5555, 0x1234_5678, cookie), want, `mss ${mss}`);
  }
});

test('layout: top 5 bits t mod 32, next 3 bits MSS index', () => {
  const { clock, sc } = setup(37 * COOKIE_PERIOD_MS + 5);
  assert.equal(sc.counter(), 37);
  const cookie = sc.encode(L, 80, R, 5555, 1, 1460);
  assert.equal(cookie >>> 27, 37 & 31);
  assert.equal((cookie >>> 24) & 7, DEFAULT_COOKIE_MSS_TABLE.indexOf(1460));
  clock.advance(COOKIE_PERIOD_MS);
  assert.equal(sc.encode(L, 80, R, 5555, 1, 1460) >>> 27, 38 & 31);
});

test('accepted for t and t-1, rejected when older', () => {
  const { clock, sc } = setup(100 * COOKIE_PERIOD_MS + 63_999);
  const cookie = sc.encode(L, 80, R, 5555, 42, 1460);
  clock.advance(1); // next period
  assert.equal(sc.decode(L, 80, R, 5555, 42, cookie), 1460);
  clock.advance(COOKIE_PERIOD_MS - 1); // still t-1
  assert.equal(sc.decode(L, 80, R, 5555, 42, cookie), 1460);
  clock.advance(1); // t-2: too old
  assert.equal(sc.decode(L, 80, R, 5555, 42, cookie), 0);
  // 32 periods later the 5-bit counter matches again, but the full counter is hashed
  clock.advance(30 * COOKIE_PERIOD_MS);
  assert.equal(sc.counter() & 31, (100 + 32) & 31);
  assert.equal(sc.decode(L, 80, R, 5555, 42, cookie), 0);
});

test('rejects cookies for another tuple, client ISN, key, or with tampered bits', () => {
  const { clock, sc } = setup();
  const cookie = sc.encode(L, 80, R, 5555, 42, 1460);
  assert.equal(sc.decode(L, 80, R, 5556, 42, cookie), 0);
  assert.equal(sc.decode(L, 81, R, 5555, 42, cookie), 0);
  assert.equal(sc.decode(R, 80, L, 5555, 42, cookie), 0);
  assert.equal(sc.decode(L, 80, R, 5555, 43, cookie), 0);
  assert.equal(new SynCookies(clock).decode(L, 80, R, 5555, 42, cookie), 0);
  // flip each bit: the MSS index and the hash are both authenticated
  for (let bit = 0; bit < 32; bit++) {
    assert.equal(sc.decode(L, 80, R, 5555, 42, (cookie ^ (1 << bit)) >>> 0), 0, `bit ${bit}`);
  }
});

test('forgery: random cookies are accepted at about 2^-24 (none in 200k tries)', () => {
  const { sc } = setup();
  let accepted = 0;
  let x = 12345;
  for (let i = 0; i < 200_000; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    if (sc.decode(L, 80, R, 5555, 42, x) !== 0) accepted++;
  }
  assert.equal(accepted, 0);
});

test('IPv6 tuples work; mixed address families are refused', () => {
  const { sc } = setup();
  const l6 = new Uint8Array(16);
  l6[15] = 1;
  const r6 = new Uint8Array(16);
  r6[15] = 2;
  const c = sc.encode(l6, 443, r6, 6000, 7, 1440);
  assert.equal(sc.decode(l6, 443, r6, 6000, 7, c), 1440);
  assert.throws(() => sc.encode(L, 443, r6, 6000, 7, 1440), RangeError);
});

test('MSS table validation', () => {
  const clock = new FakeClock();
  assert.throws(() => new SynCookies(clock, { mssTable: [] }), RangeError);
  assert.throws(() => new SynCookies(clock, { mssTable: [1460, 536] }), RangeError);
  assert.throws(() => new SynCookies(clock, { mssTable: [1, 2, 3, 4, 5, 6, 7, 8, 9] }), RangeError);
  const sc = new SynCookies(clock, { key: KEY, mssTable: [536, 1460] });
  const c = sc.encode(L, 1, R, 2, 3, 1500);
  assert.equal((c >>> 24) & 7, 1);
  assert.equal(sc.decode(L, 1, R, 2, 3, c), 1460);
  // index 5 does not exist in a 2-entry table: rejected without hashing
  assert.equal(sc.decode(L, 1, R, 2, 3, ((c & ~(7 << 24)) | (5 << 24)) >>> 0), 0);
});

test('timestamp carries window scale, SACK-permitted and ECN in its low 6 bits (Linux style)', () => {
  const out: CookieTsOptions = { wscale: 0, sackOk: false, ecn: false };
  const ts = encodeCookieTimestamp(1_000_000, 7, true, false);
  assert.equal(ts & 0x3f, 7 | 0x10);
  assert.ok(ts <= 1_000_000 && 1_000_000 - ts < 64, 'never in the future, at most 63 ticks back');
  assert.equal(decodeCookieTimestamp(ts, out), true);
  assert.deepEqual(out, { wscale: 7, sackOk: true, ecn: false });
  const ts2 = encodeCookieTimestamp(1_000_000, -1, false, true);
  assert.equal(ts2 & 0x3f, 0xf | 0x20);
  decodeCookieTimestamp(ts2, out);
  assert.deepEqual(out, { wscale: -1, sackOk: false, ecn: true });
  // low bits of the clock larger than the options: keeps the same 64-tick block
  assert.equal(encodeCookieTimestamp(0x1_003f, 2, false, false), 0x1_0002);
  // options larger than the clock's low bits: moved back one block
  assert.equal(encodeCookieTimestamp(0x1_0000, 2, false, false), 0x0_ffc2);
  // wrap of the TS clock
  assert.equal(encodeCookieTimestamp(0x5, 14, true, true), (0 - 64 + (14 | 0x30)) >>> 0);
  assert.equal(encodeCookieTimestamp(100, 20, false, false) & 0xf, 14, 'shift capped at 14');
});

test('timestamp echo age check', () => {
  const out: CookieTsOptions = { wscale: 0, sackOk: false, ecn: false };
  const ts = encodeCookieTimestamp(500_000, 3, true, true);
  assert.equal(decodeCookieTimestamp(ts, out, 500_000 + 1000), true);
  assert.equal(decodeCookieTimestamp(ts, out, ts - 1), false, 'echo from the future');
  assert.equal(decodeCookieTimestamp(ts, out, ts + 2 * COOKIE_PERIOD_MS + 1), false, 'too old');
  assert.equal(decodeCookieTimestamp(ts, out, ts + 2 * COOKIE_PERIOD_MS), true);
});
