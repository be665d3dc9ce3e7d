import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SackScoreboard, type SeqRange } from '../../src/transport/tcp/sack.js';
import { seqAdd } from '../../src/transport/tcp/seq.js';

function ranges(sb: SackScoreboard): number[] {
  const out: number[] = [];
  const r: SeqRange = { start: 0, end: 0 };
  for (let k = 0; k < sb.rangeCount; k++) {
    sb.rangeAt(k, r);
    out.push(r.start, r.end);
  }
  return out;
}

test('records and merges valid blocks, returns newly SACKed bytes', () => {
  const sb = new SackScoreboard(64, 1000);
  assert.equal(sb.update(1000, 5000, [2000, 2500], 1), 500);
  assert.equal(sb.update(1000, 5000, [3000, 3500, 2000, 2500], 2), 500, 'repeat of 2000..2500 adds nothing');
  assert.deepEqual(ranges(sb), [2000, 2500, 3000, 3500]);
  assert.equal(sb.update(1000, 5000, [2400, 3100], 1), 500, 'bridges the gap');
  assert.deepEqual(ranges(sb), [2000, 3500]);
  assert.equal(sb.update(1000, 5000, [3500, 3600], 1), 100, 'adjacent merges');
  assert.deepEqual(ranges(sb), [2000, 3600]);
  assert.equal(sb.sackedBytes, 1600);
  assert.equal(sb.highestSacked, 3600);
});

test('validation: beyond SND.NXT, empty/reversed and wholly-old blocks are ignored', () => {
  const sb = new SackScoreboard(64, 1000);
  assert.equal(sb.update(1000, 5000, [4000, 5001], 1), 0);
  assert.equal(sb.update(1000, 5000, [3000, 3000], 1), 0);
  assert.equal(sb.update(1000, 5000, [3000, 2000], 1), 0);
  assert.equal(sb.invalidBlocks, 3);
  assert.equal(sb.update(1000, 5000, [2000, 3000, 500, 900], 2), 1000, 'second block below UNA: ignored');
  assert.equal(sb.lastDsack, false);
  assert.equal(sb.update(1000, 5000, [2000, 3000, 800, 1200], 2), 200, 'straddling UNA: trimmed');
  assert.deepEqual(ranges(sb), [1000, 1200, 2000, 3000]);
  assert.equal(sb.update(1000, 5000, [4000, 5000], 1), 1000, 'right edge == SND.NXT is valid');
});

test('D-SACK detection (RFC 2883 section 4): below the ACK, or inside the second block', () => {
  const sb = new SackScoreboard(64, 1000);
  assert.equal(sb.update(1000, 5000, [500, 700], 1), 0);
  assert.equal(sb.lastDsack, true);
  assert.equal(sb.dsackStart, 500);
  assert.equal(sb.dsackEnd, 700);
  assert.equal(sb.update(1000, 5000, [2000, 2100, 1500, 2500], 2), 1000);
  assert.equal(sb.lastDsack, true, 'first block inside second block');
  assert.equal(sb.dsackCount, 2);
  assert.deepEqual(ranges(sb), [1500, 2500]);
  assert.equal(sb.update(1000, 5000, [3000, 3100], 1), 100);
  assert.equal(sb.lastDsack, false);
  // A D-SACK straddling SND.UNA (left edge < ACK) is still a D-SACK, not recorded.
  assert.equal(sb.update(1000, 5000, [900, 1100], 1), 0);
  assert.equal(sb.lastDsack, true);
});

test('advancing SND.UNA drops and trims ranges', () => {
  const sb = new SackScoreboard(64, 0);
  sb.update(0, 10_000, [1000, 2000, 3000, 4000], 2);
  sb.advance(1500);
  assert.deepEqual(ranges(sb), [1500, 2000, 3000, 4000]);
  assert.equal(sb.sackedBytes, 1500);
  sb.update(4000, 10_000, [], 0);
  assert.equal(sb.rangeCount, 0);
  assert.equal(sb.sackedBytes, 0);
  assert.equal(sb.sndUna, 4000);
  sb.advance(3000); // going backwards is ignored
  assert.equal(sb.sndUna, 4000);
});

test('isSacked and nextHole', () => {
  const sb = new SackScoreboard(64, 0);
  sb.update(0, 1000, [200, 300, 400, 500], 2);
  assert.equal(sb.isSacked(200, 100), true);
  assert.equal(sb.isSacked(250, 50), true);
  assert.equal(sb.isSacked(250, 51), false);
  assert.equal(sb.isSacked(100, 10), false);
  assert.equal(sb.isSacked(600, 10), false);
  const h: SeqRange = { start: -1, end: -1 };
  assert.equal(sb.nextHole(0, 1000, h), true);
  assert.deepEqual(h, { start: 0, end: 200 });
  assert.equal(sb.nextHole(250, 1000, h), true);
  assert.deepEqual(h, { start: 300, end: 400 });
  assert.equal(sb.nextHole(450, 1000, h), true);
  assert.deepEqual(h, { start: 500, end: 1000 });
  assert.equal(sb.nextHole(1000, 1000, h), false);
  assert.equal(sb.nextHole(450, 500, h), false, 'nothing un-SACKed below SND.NXT');
});

test('IsLost: DupThresh SACKed segments, or more than 2*SMSS bytes, above (RFC 6675 section 4)', () => {
  const smss = 100;
  const sb = new SackScoreboard(64, 0);
  sb.update(0, 2000, [200, 300], 1);
  assert.equal(sb.isLost(100, smss), false);
  sb.update(0, 2000, [400, 500, 600, 700], 2);
  assert.equal(sb.isLost(100, smss), true, 'three SACKed segments above');
  assert.equal(sb.isLost(350, smss), false, 'only two above');
  assert.equal(sb.isLost(700, smss), false);
  const b = new SackScoreboard(64, 0);
  b.update(0, 2000, [200, 400], 1);
  assert.equal(b.isLost(0, smss), false, 'exactly 2*SMSS is not "more than"');
  b.update(0, 2000, [400, 401], 1);
  assert.equal(b.isLost(0, smss), true, '201 bytes > 2*SMSS');
  assert.equal(b.isLost(399, smss), false);
  // bytes strictly greater than SeqNumber count
  const c = new SackScoreboard(64, 0);
  c.update(0, 2000, [100, 401], 1);
  assert.equal(c.isLost(99, smss), true);
  assert.equal(c.isLost(199, smss), true, '201 bytes (200..400) above 199');
  assert.equal(c.isLost(200, smss), false, '200 bytes above 200: not more than 2*SMSS');
});

/** RFC 6675 SetPipe and IsLost evaluated octet by octet, as the RFC writes them. */
function bruteIsLost(sacked: Uint8Array, seq: number, smss: number, top: number): boolean {
  // Segments lower bound per maximal SACKed run above seq, as in the implementation.
  let segs = 0;
  let p = seq + 1;
  while (p < top) {
    if (!sacked[p]) {
      p++;
      continue;
    }
    let e = p;
    while (e < top && sacked[e]) e++;
    segs += Math.ceil((e - p) / smss);
    p = e;
  }
  return segs >= 3;
}

test('property: pipe() equals the per-octet RFC 6675 SetPipe, NextSeg matches its definition', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.integer({ min: 1, max: 600 }),
      fc.array(fc.tuple(fc.nat(599), fc.integer({ min: 1, max: 120 })), { maxLength: 12 }),
      fc.nat(600),
      fc.integer({ min: 1, max: 100 }),
      (una, len, blocks, rtx, smss) => {
        const nxt = seqAdd(una, len);
        const sb = new SackScoreboard(64, una);
        const sacked = new Uint8Array(len);
        for (const [a, n] of blocks) {
          const s = a % len;
          const e = Math.min(len, s + n);
          sb.update(una, nxt, [seqAdd(una, s), seqAdd(una, e)], 1);
          for (let p = s; p < e; p++) sacked[p] = 1;
        }
        let total = 0;
        for (const x of sacked) total += x;
        assert.equal(sb.sackedBytes, total);
        sb.startRecovery();
        const hr = Math.min(rtx, len);
        sb.markRetransmitted(seqAdd(una, hr));
        let pipe = 0;
        for (let p = 0; p < len; p++) {
          if (sacked[p]) continue;
          if (!bruteIsLost(sacked, p, smss, len)) pipe++;
          if (p < hr) pipe++;
        }
        assert.equal(sb.pipe(nxt, smss), pipe);
        for (let p = 0; p < len; p++) {
          if (!sacked[p]) assert.equal(sb.isLost(seqAdd(una, p), smss), bruteIsLost(sacked, p, smss, len));
        }
        // NextSeg rule (1): lowest un-SACKed, lost byte at or above HighRxt.
        let s2 = -1;
        for (let p = hr; p < len; p++) {
          if (!sacked[p] && bruteIsLost(sacked, p, smss, len)) {
            s2 = p;
            break;
          }
        }
        const out: SeqRange = { start: 0, end: 0 };
        const found = sb.nextSegment(nxt, smss, out);
        // Rule (1) as implemented looks at the first hole at/after HighRxt only; holes are
        // lost in a prefix, so the first lost byte >= HighRxt is in that hole or none is.
        assert.equal(found, s2 >= 0);
        if (found) {
          assert.equal(out.start, seqAdd(una, s2));
          let e = s2;
          while (e < len && !sacked[e] && e - s2 < smss) e++;
          assert.equal(out.end, seqAdd(una, e));
        }
        // Rule (3): first un-SACKed byte at/after HighRxt.
        let s3 = -1;
        for (let p = hr; p < len; p++) if (!sacked[p]) { s3 = p; break; }
        assert.equal(sb.nextSegment(nxt, smss, out, false), s3 >= 0);
        if (s3 >= 0) assert.equal(out.start, seqAdd(una, s3));
        // Rule (4) rescue: ends at the highest un-SACKed byte.
        let hi = -1;
        for (let p = len - 1; p >= 0; p--) if (!sacked[p]) { hi = p; break; }
        assert.equal(sb.rescueSegment(nxt, smss, out), hi >= 0);
        if (hi >= 0) {
          assert.equal(out.end, seqAdd(una, hi + 1));
          let lo = hi;
          while (lo > 0 && !sacked[lo - 1] && hi + 1 - lo < smss) lo--;
          assert.equal(out.start, seqAdd(una, lo));
        }
      },
    ),
    { numRuns: 400 },
  );
});

test('pipe, NextSeg and the rescue segment on a worked example', () => {
  const smss = 100;
  const sb = new SackScoreboard(64, 0);
  sb.update(0, 1000, [200, 300, 400, 500, 600, 700], 3);
  // holes: 0..200 lost (3 segments above); 300..400, 500..600, 700..1000 not lost
  assert.equal(sb.pipe(1000, smss), 500);
  sb.startRecovery();
  const out: SeqRange = { start: 0, end: 0 };
  assert.equal(sb.nextSegment(1000, smss, out), true);
  assert.deepEqual(out, { start: 0, end: 100 });
  sb.markRetransmitted(100);
  assert.equal(sb.pipe(1000, smss), 600, 'retransmitted lost bytes are back in the pipe');
  assert.equal(sb.nextSegment(1000, smss, out), true);
  assert.deepEqual(out, { start: 100, end: 200 });
  sb.markRetransmitted(200);
  assert.equal(sb.nextSegment(1000, smss, out), false, '300..400 is not lost');
  assert.equal(sb.nextSegment(1000, smss, out, false), true);
  assert.deepEqual(out, { start: 300, end: 400 });
  assert.equal(sb.rescueSegment(1000, smss, out), true);
  assert.deepEqual(out, { start: 900, end: 1000 });
  assert.equal(sb.pipe(1000, smss), 700);
  // cumulative ACK of the retransmissions; 200..300 stays SACKed
  sb.update(200, 1000, [400, 500, 600, 700], 2);
  assert.equal(sb.highRetransmitted, 200);
  assert.deepEqual(ranges(sb), [200, 300, 400, 500, 600, 700]);
  assert.equal(sb.pipe(1000, smss), 100 + 100 + 300, '300..400 has only 2 SACKed segments above: not lost');
  sb.update(300, 1000, [], 0);
  assert.equal(sb.highRetransmitted, 300, 'HighRxt follows SND.UNA up');
  assert.equal(sb.pipe(1000, smss), 500);
});

test('reset on RTO forgets SACK state and HighRxt (RFC 6675 5.1)', () => {
  const sb = new SackScoreboard(64, 0);
  sb.update(0, 1000, [200, 300], 1);
  sb.markRetransmitted(100);
  sb.reset(50);
  assert.equal(sb.rangeCount, 0);
  assert.equal(sb.sackedBytes, 0);
  assert.equal(sb.highRetransmitted, 50);
  assert.equal(sb.pipe(1000, 100), 950);
});

test('bounded ranges: keeps the lowest, evicting the highest', () => {
  const sb = new SackScoreboard(2, 0);
  sb.update(0, 10_000, [1000, 1100, 3000, 3100], 2);
  assert.equal(sb.update(0, 10_000, [5000, 5100], 1), 0, 'above everything: not kept');
  assert.equal(sb.update(0, 10_000, [2000, 2100], 1), 100, 'lower: evicts 3000..3100');
  assert.deepEqual(ranges(sb), [1000, 1100, 2000, 2100]);
  assert.equal(sb.sackedBytes, 200);
  assert.equal(sb.evictedRanges, 2);
});

test('works across the sequence-number wrap', () => {
  const una = 0xffff_ff00;
  const sb = new SackScoreboard(64, una);
  const nxt = seqAdd(una, 1000);
  assert.equal(sb.update(una, nxt, [0xffff_ffc0, 0x40], 1), 128);
  assert.equal(sb.isSacked(0xffff_fff0, 0x20), true);
  const h: SeqRange = { start: 0, end: 0 };
  sb.nextHole(una, nxt, h);
  assert.deepEqual(h, { start: una, end: 0xffff_ffc0 });
  sb.nextHole(0, nxt, h);
  assert.deepEqual(h, { start: 0x40, end: nxt });
  sb.advance(0x10);
  assert.deepEqual(ranges(sb), [0x10, 0x40]);
  assert.equal(sb.sackedBytes, 0x30);
});
