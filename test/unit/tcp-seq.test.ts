import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  seqAdd,
  seqGeq,
  seqGt,
  seqInRange,
  seqInRangeOpenClosed,
  seqLeq,
  seqLt,
  seqMax,
  seqMin,
  seqNorm,
  seqSub,
} from '../../src/transport/tcp/seq.js';

test('comparisons without wrap', () => {
  assert.equal(seqLt(1, 2), true);
  assert.equal(seqLt(2, 1), false);
  assert.equal(seqLt(5, 5), false);
  assert.equal(seqLeq(5, 5), true);
  assert.equal(seqGt(2, 1), true);
  assert.equal(seqGt(1, 1), false);
  assert.equal(seqGeq(1, 1), true);
  assert.equal(seqGeq(0, 1), false);
});

test('comparisons across the 2^32 wrap', () => {
  const hi = 0xffff_fff0;
  const lo = 0x0000_0010; // 32 after hi
  assert.equal(seqLt(hi, lo), true);
  assert.equal(seqGt(lo, hi), true);
  assert.equal(seqLeq(hi, lo), true);
  assert.equal(seqGeq(lo, hi), true);
  assert.equal(seqSub(lo, hi), 32);
  assert.equal(seqSub(hi, lo), -32);
  assert.equal(seqAdd(hi, 32), lo);
  assert.equal(seqAdd(lo, -32), hi);
  assert.equal(seqAdd(0xffff_ffff, 1), 0);
});

test('signed inputs are treated as the same 32-bit patterns', () => {
  assert.equal(seqLt(-1, 0), true); // -1 is 0xffffffff
  assert.equal(seqSub(0, -1), 1);
  assert.equal(seqNorm(-1), 0xffff_ffff);
  assert.equal(seqAdd(-1, 0), 0xffff_ffff);
});

test('2^31 boundary: differences of exactly 2^31 compare as "before" both ways (undefined zone)', () => {
  // (a - b)|0 == -2^31 for both orders; RFC 1982 leaves this undefined, TCP windows never
  // get there. Pin the behaviour so it cannot change silently.
  assert.equal(seqSub(0x8000_0000, 0), -0x8000_0000);
  assert.equal(seqLt(0x8000_0000, 0), true);
  assert.equal(seqLt(0, 0x8000_0000), true);
  assert.equal(seqGt(0x7fff_ffff, 0), true);
});

test('max/min and ranges', () => {
  assert.equal(seqMax(0xffff_fff0, 5), 5);
  assert.equal(seqMin(0xffff_fff0, 5), 0xffff_fff0);
  assert.equal(seqMax(-1, -2), 0xffff_ffff);
  // RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND across the wrap
  assert.equal(seqInRange(0xffff_ffff, 0xffff_fff0, 0x10), true);
  assert.equal(seqInRange(0x0f, 0xffff_fff0, 0x10), true);
  assert.equal(seqInRange(0x10, 0xffff_fff0, 0x10), false);
  assert.equal(seqInRange(0xffff_ffef, 0xffff_fff0, 0x10), false);
  assert.equal(seqInRange(7, 7, 7), false); // empty window accepts nothing
  // SND.UNA < SEG.ACK =< SND.NXT
  assert.equal(seqInRangeOpenClosed(100, 100, 200), false);
  assert.equal(seqInRangeOpenClosed(101, 100, 200), true);
  assert.equal(seqInRangeOpenClosed(200, 100, 200), true);
  assert.equal(seqInRangeOpenClosed(201, 100, 200), false);
  assert.equal(seqInRangeOpenClosed(3, 0xffff_fffe, 3), true);
});

test('property: for |d| < 2^31, a + d compares to a as d compares to 0', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: -0x7fff_ffff, max: 0x7fff_ffff }), (a, d) => {
      const b = seqAdd(a, d);
      assert.equal(b >= 0 && b <= 0xffff_ffff && Number.isInteger(b), true);
      assert.equal(seqSub(b, a), d);
      assert.equal(seqGt(b, a), d > 0);
      assert.equal(seqLt(b, a), d < 0);
      assert.equal(seqGeq(b, a), d >= 0);
      assert.equal(seqLeq(b, a), d <= 0);
      assert.equal(seqMax(a, b), d >= 0 ? b : a);
    }),
  );
});
