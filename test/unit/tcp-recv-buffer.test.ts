import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RecvBuffer } from '../../src/transport/tcp/recv-buffer.js';
import { POOLED_STORAGE_SIZE } from '../../src/transport/tcp/bytes.js';
import { seqAdd, seqSub } from '../../src/transport/tcp/seq.js';

function bytes(from: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i * 7) & 0xff;
  return b;
}
/** The stream byte at position p (matches bytes(0, ...)[p]). */
const streamByte = (p: number) => (p * 7) & 0xff;
const stream = (n: number) => bytes(0, n);
const slice = (s: Uint8Array, a: number, b: number) => s.subarray(a, b);

function sack(rb: RecvBuffer, rcvNxt: number, max = 4, dsack = true): number[] {
  const out: number[] = [];
  const n = rb.sackBlocks(rcvNxt, out, max, dsack);
  return out.slice(0, 2 * n);
}

test('in-order fast path appends and reports bytes made in-order', () => {
  const rb = new RecvBuffer(1000);
  const s = stream(300);
  assert.equal(rb.insert(0, slice(s, 0, 100)), 100);
  assert.equal(rb.insert(0, slice(s, 100, 300)), 200);
  assert.equal(rb.readable, 300);
  assert.equal(rb.window, 700);
  assert.deepEqual(rb.read(), s);
  assert.equal(rb.window, 1000);
  assert.equal(rb.insert(0, new Uint8Array(0)), 0);
});

test('out-of-order segment is held, then the hole fills and everything advances', () => {
  const rb = new RecvBuffer(1000);
  const s = stream(300);
  assert.equal(rb.insert(100, slice(s, 100, 200)), 0);
  assert.equal(rb.insert(250, slice(s, 250, 300)), 0);
  assert.equal(rb.oooRanges, 2);
  assert.equal(rb.oooBytes, 150);
  assert.equal(rb.readable, 0);
  assert.equal(rb.window, 1000, 'queued data does not shrink the advertised window');
  assert.equal(rb.insert(0, slice(s, 0, 100)), 200, 'fills the first hole: 0..200 in order');
  assert.equal(rb.oooRanges, 1);
  assert.equal(rb.insert(0, slice(s, 200, 250)), 100, 'relative to the new RCV.NXT (200)');
  assert.equal(rb.oooRanges, 0);
  assert.equal(rb.oooBytes, 0);
  assert.deepEqual(rb.read(), s);
  assert.equal(rb.oooSegments, 2);
});

test('overlaps merge, duplicates are counted, partial old data is trimmed', () => {
  const rb = new RecvBuffer(1000);
  const s = stream(500);
  rb.insert(100, slice(s, 100, 200));
  rb.insert(300, slice(s, 300, 400));
  rb.insert(150, slice(s, 150, 350)); // bridges both: one range 100..400
  assert.equal(rb.oooRanges, 1);
  assert.equal(rb.oooBytes, 300);
  assert.equal(rb.duplicateBytes, 100);
  rb.insert(400, slice(s, 400, 450)); // adjacent: merges
  assert.equal(rb.oooRanges, 1);
  assert.equal(rb.oooBytes, 350);
  assert.equal(rb.insert(0, slice(s, 0, 120)), 450);
  assert.equal(rb.duplicateBytes, 120);
  // segment starting 50 bytes before RCV.NXT (=450)
  assert.equal(rb.insert(-50, slice(s, 400, 500)), 50);
  assert.equal(rb.duplicateBytes, 170);
  assert.deepEqual(rb.read(), s);
});

test('data beyond the window is trimmed; wholly outside is ignored', () => {
  const rb = new RecvBuffer(100);
  const s = stream(300);
  assert.equal(rb.insert(0, slice(s, 0, 150)), 100);
  assert.equal(rb.trimmedBytes, 50);
  assert.equal(rb.window, 0);
  assert.equal(rb.insert(0, slice(s, 100, 110)), 0);
  assert.equal(rb.trimmedBytes, 60);
  rb.readInto(new Uint8Array(40));
  assert.equal(rb.window, 40);
  assert.equal(rb.insert(30, slice(s, 130, 200)), 0); // keeps 130..140
  assert.equal(rb.trimmedBytes, 60 + 60);
  assert.equal(rb.oooBytes, 10);
  assert.equal(rb.insert(100, slice(s, 200, 210)), 0, 'starts beyond the window');
  assert.equal(rb.oooBytes, 10);
  assert.equal(rb.insert(0, slice(s, 100, 130)), 40);
  const out = new Uint8Array(100);
  assert.equal(rb.readInto(out), 100);
  assert.deepEqual(out, slice(s, 40, 140));
});

test('bounded number of ranges: a segment that would add one more is dropped and counted', () => {
  const rb = new RecvBuffer(10_000, { maxOooRanges: 3 });
  const s = stream(1000);
  for (const at of [100, 300, 500]) rb.insert(at, slice(s, at, at + 10));
  assert.equal(rb.insert(700, slice(s, 700, 710)), 0);
  assert.equal(rb.oooRanges, 3);
  assert.equal(rb.droppedSegments, 1);
  assert.equal(rb.droppedBytes, 10);
  rb.insert(110, slice(s, 110, 120)); // merging is still allowed
  assert.equal(rb.oooRanges, 3);
  assert.equal(rb.oooBytes, 40);
  assert.equal(rb.droppedSegments, 1);
});

test('bounded out-of-order bytes', () => {
  const rb = new RecvBuffer(10_000, { maxOooBytes: 25 });
  const s = stream(1000);
  rb.insert(100, slice(s, 100, 120));
  assert.equal(rb.insert(200, slice(s, 200, 210)), 0);
  assert.equal(rb.droppedBytes, 10);
  assert.equal(rb.insert(110, slice(s, 110, 125)), 0, 'adds 5 new bytes: 25 total, allowed');
  assert.equal(rb.oooBytes, 25);
  assert.equal(rb.insert(90, slice(s, 90, 130)), 0, 'would add 15: dropped');
  assert.equal(rb.droppedSegments, 2);
  assert.equal(rb.oooBytes, 25);
});

test('SACK blocks: most recent first, then the others by recency, limit honoured (RFC 2018 4)', () => {
  const rb = new RecvBuffer(10_000);
  const s = stream(2000);
  const nxt = 0xffff_ff00; // blocks straddle the sequence wrap
  rb.insert(100, slice(s, 100, 200));
  rb.insert(300, slice(s, 300, 400));
  rb.insert(500, slice(s, 500, 600));
  assert.deepEqual(sack(rb, nxt), [
    seqAdd(nxt, 500), seqAdd(nxt, 600),
    seqAdd(nxt, 300), seqAdd(nxt, 400),
    seqAdd(nxt, 100), seqAdd(nxt, 200),
  ]);
  rb.insert(250, slice(s, 250, 300)); // extends 300..400 to 250..400: now most recent
  assert.deepEqual(sack(rb, nxt, 2), [seqAdd(nxt, 250), seqAdd(nxt, 400), seqAdd(nxt, 500), seqAdd(nxt, 600)]);
  assert.equal(seqAdd(nxt, 250), 0xffff_fffa);
  rb.insert(700, slice(s, 700, 800));
  rb.insert(900, slice(s, 900, 1000));
  const three = sack(rb, nxt, 3);
  assert.deepEqual(three, [
    seqAdd(nxt, 900), seqAdd(nxt, 1000),
    seqAdd(nxt, 700), seqAdd(nxt, 800),
    seqAdd(nxt, 250), seqAdd(nxt, 400),
  ]);
  // The ACK-advancing segment is not reported; the rest keep their order.
  assert.equal(rb.insert(0, slice(s, 0, 100)), 200);
  const nxt2 = seqAdd(nxt, 200);
  assert.deepEqual(sack(rb, nxt2, 4), [
    seqAdd(nxt, 900), seqAdd(nxt, 1000),
    seqAdd(nxt, 700), seqAdd(nxt, 800),
    seqAdd(nxt, 250), seqAdd(nxt, 400),
    seqAdd(nxt, 500), seqAdd(nxt, 600),
  ]);
  assert.equal(rb.sackBlocks(nxt2, [], 0), 0);
});

test('D-SACK (RFC 2883): duplicate below RCV.NXT is reported first, once', () => {
  const rb = new RecvBuffer(10_000);
  const s = stream(1000);
  const nxt0 = 5000;
  rb.insert(0, slice(s, 0, 300));
  rb.insert(200, slice(s, 500, 600)); // offsets are from RCV.NXT (300)
  rb.insert(-200, slice(s, 100, 200)); // entirely old
  assert.equal(rb.hasDsack, true);
  const nxt = nxt0 + 300;
  assert.deepEqual(sack(rb, nxt), [nxt0 + 100, nxt0 + 200, nxt0 + 500, nxt0 + 600]);
  assert.equal(rb.hasDsack, false);
  assert.deepEqual(sack(rb, nxt), [nxt0 + 500, nxt0 + 600]);
  // partly old: only the old part is D-SACKed
  assert.equal(rb.insert(-20, slice(s, 280, 320)), 20);
  assert.deepEqual(sack(rb, nxt + 20), [nxt0 + 280, nxt0 + 300, nxt0 + 500, nxt0 + 600]);
  // can be suppressed
  rb.insert(-10, slice(s, 310, 320));
  assert.deepEqual(sack(rb, nxt + 20, 4, false), [nxt0 + 500, nxt0 + 600]);
});

test('D-SACK of an already-queued out-of-order segment: then its enclosing block', () => {
  const rb = new RecvBuffer(10_000);
  const s = stream(1000);
  rb.insert(100, slice(s, 100, 300));
  rb.insert(500, slice(s, 500, 600));
  rb.insert(150, slice(s, 150, 200)); // duplicate inside 100..300
  assert.equal(rb.duplicateBytes, 50);
  assert.deepEqual(sack(rb, 0), [150, 200, 100, 300, 500, 600]);
  // A fresh non-duplicate segment clears a D-SACK not yet reported
  rb.insert(-1, slice(s, 0, 1).subarray(0, 0)); // empty: no effect
  rb.insert(150, slice(s, 150, 200));
  rb.insert(700, slice(s, 700, 710));
  assert.deepEqual(sack(rb, 0, 1), [700, 710]);
});

test('peekViews/consume and readInto across the ring wrap; storage grows with queued data', () => {
  const rb = new RecvBuffer(64, { initialStorage: 16 });
  const s = stream(200);
  assert.equal(rb.storageSize, 0, 'nothing allocated before data arrives');
  rb.insert(0, slice(s, 0, 12));
  assert.equal(rb.storageSize, 16);
  rb.consume(10);
  rb.insert(0, slice(s, 12, 20)); // wraps within 16
  const views: Uint8Array[] = [];
  assert.equal(rb.peekViews(views), 2);
  assert.deepEqual([...views[0]!, ...views[1]!], [...slice(s, 10, 20)]);
  rb.insert(20, slice(s, 40, 50)); // needs 10 + 30 bytes of storage: grows to 64
  assert.equal(rb.storageSize, 64);
  assert.equal(rb.insert(0, slice(s, 20, 40)), 30);
  assert.deepEqual(rb.read(5), slice(s, 10, 15));
  assert.deepEqual(rb.read(), slice(s, 15, 50));
  assert.equal(rb.peekViews(views), 0);
  assert.equal(rb.storageSize, 0, 'everything read: storage given back');
  assert.throws(() => rb.consume(1), RangeError);
  assert.equal(rb.insert(0, slice(s, 50, 60)), 10);
  assert.deepEqual(rb.read(), slice(s, 50, 60));
});

test('storage is kept while out-of-order data waits, and given back once it is all read', () => {
  const rb = new RecvBuffer(1 << 20);
  const s = stream(3000);
  assert.equal(rb.storageSize, 0);
  assert.equal(rb.insert(1000, slice(s, 1000, 2000)), 0);
  assert.equal(rb.storageSize, POOLED_STORAGE_SIZE);
  assert.equal(rb.insert(0, slice(s, 0, 500)), 500);
  assert.deepEqual(rb.read(), slice(s, 0, 500));
  assert.equal(rb.storageSize, POOLED_STORAGE_SIZE, 'queued data still held');
  assert.deepEqual(sack(rb, 500, 4), [1000, 2000]);
  assert.equal(rb.insert(0, slice(s, 500, 1000)), 1500);
  assert.deepEqual(rb.read(), slice(s, 500, 2000));
  assert.equal(rb.storageSize, 0);
  rb.insert(0, slice(s, 2000, 2100));
  rb.clear();
  assert.equal(rb.storageSize, 0);
});

test('setCapacity only grows', () => {
  const rb = new RecvBuffer(100);
  rb.setCapacity(200);
  assert.equal(rb.window, 200);
  assert.throws(() => rb.setCapacity(50), RangeError);
});

test('property: random arrival order, overlaps and duplicates reassemble the stream', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3000 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 400 })), { maxLength: 40 }),
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.integer({ min: 0, max: 1 << 30 }),
      (len, extra, isn, seed) => {
        const s = stream(len);
        // A partition of the stream (so it is complete) plus random overlapping extras.
        const segs: Array<[number, number]> = [];
        let r = seed;
        const rnd = (n: number) => {
          r = (Math.imul(r, 1103515245) + 12345) >>> 0;
          return r % n;
        };
        for (let p = 0; p < len; ) {
          const n = 1 + rnd(300);
          segs.push([p, Math.min(len, p + n)]);
          p += n;
        }
        for (const [a, n] of extra) {
          const st = a % len;
          segs.push([st, Math.min(len, st + n)]);
        }
        for (let i = segs.length - 1; i > 0; i--) {
          const j = rnd(i + 1);
          [segs[i], segs[j]] = [segs[j]!, segs[i]!];
        }
        const rb = new RecvBuffer(len, { initialStorage: 16, maxOooRanges: 1000 });
        let delivered = 0; // RCV.NXT offset from ISN
        const received = new Uint8Array(len);
        for (const [a, b] of segs) {
          const got = rb.insert(a - delivered, s, a, b - a);
          for (let p = a; p < b; p++) received[p] = 1;
          delivered += got;
          // Invariant: RCV.NXT is the first byte not yet received.
          let firstHole = 0;
          while (firstHole < len && received[firstHole]) firstHole++;
          assert.equal(delivered, firstHole);
          assert.equal(rb.readable, delivered);
          // Every SACK block describes received bytes above RCV.NXT, and the set of
          // blocks (unlimited) is exactly the received data above RCV.NXT.
          const rcvNxt = seqAdd(isn, delivered);
          const out: number[] = [];
          const nb = rb.sackBlocks(rcvNxt, out, 1000, false);
          let covered = 0;
          for (let k = 0; k < nb; k++) {
            const l = seqSub(out[2 * k]!, rcvNxt) + delivered;
            const e = seqSub(out[2 * k + 1]!, rcvNxt) + delivered;
            assert.ok(l > delivered && e > l && e <= len);
            for (let p = l; p < e; p++) assert.equal(received[p], 1);
            assert.ok(l === 0 || !received[l - 1], 'blocks are maximal');
            covered += e - l;
          }
          let above = 0;
          for (let p = delivered; p < len; p++) above += received[p]!;
          assert.equal(covered, above);
          assert.equal(rb.oooBytes, above);
        }
        assert.equal(delivered, len);
        const out = rb.read();
        assert.equal(out.length, len);
        for (let p = 0; p < len; p++) if (out[p] !== streamByte(p)) assert.fail(`byte ${p}`);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: small window, interleaved reads, drops and retransmissions still deliver the stream', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4000 }),
      fc.integer({ min: 1, max: 600 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.tuple(fc.integer({ min: -100, max: 700 }), fc.integer({ min: 1, max: 300 }), fc.nat(1000)), {
        maxLength: 200,
      }),
      (len, cap, maxRanges, steps) => {
        const s = stream(len);
        const rb = new RecvBuffer(cap, { initialStorage: 8, maxOooRanges: maxRanges });
        const got: number[] = [];
        let nxt = 0;
        const deliver = (a: number, n: number) => {
          const b = Math.min(len, a + n);
          if (a < 0 || a >= b) return;
          nxt += rb.insert(a - nxt, s, a, b - a);
          assert.ok(rb.readable <= cap);
        };
        const readSome = (n: number) => {
          const out = rb.read(n);
          for (const x of out) got.push(x);
        };
        for (const [off, n, rd] of steps) {
          deliver(nxt + off, n); // may be old, in window, or beyond it
          if (rd % 3 === 0) readSome(rd);
        }
        // Then a well-behaved sender finishes the job.
        let guard = 0;
        while (got.length < len) {
          deliver(nxt, 97);
          readSome(1 + (guard % 500));
          if (++guard > 100_000) assert.fail('no progress');
        }
        assert.equal(got.length, len);
        for (let p = 0; p < len; p++) if (got[p] !== streamByte(p)) assert.fail(`byte ${p}`);
      },
    ),
    { numRuns: 300 },
  );
});

test('takeAll hands over the storage of a bulk read, refuses when it must not, and never writes a handed-over view again', () => {
  const s = stream(70_000);
  const rb = new RecvBuffer(1 << 20);
  assert.equal(rb.takeAll(), null, 'nothing to take');
  assert.equal(rb.insert(0, s, 0, 60_000), 60_000); // fills 60,000 of a 64 KiB ring
  const taken = rb.takeAll()!;
  assert.deepEqual(taken, s.subarray(0, 60_000));
  assert.equal(rb.readable, 0);
  assert.equal(rb.storageSize, 0, 'the storage went with the view');
  assert.equal(rb.window, 1 << 20);
  // New data goes to new storage: the view keeps its bytes.
  rb.insert(0, new Uint8Array(50_000).fill(0xee));
  assert.deepEqual(taken, s.subarray(0, 60_000));
  assert.equal(rb.read().length, 50_000);

  // A small read in a large ring is copied instead (it would pin the array).
  rb.insert(0, s, 0, 100);
  assert.equal(rb.takeAll(), null);
  assert.deepEqual(rb.read(), s.subarray(0, 100));

  // Not while data waits out of order in the same storage.
  const ooo = new RecvBuffer(1 << 20, { initialStorage: 4096 });
  ooo.insert(0, s, 0, 3000);
  ooo.insert(500, s, 3500, 500); // offsets count from RCV.NXT: stream bytes 3500-3999
  assert.equal(ooo.storageSize, 4096);
  assert.equal(ooo.takeAll(), null);
  assert.deepEqual(ooo.read(), s.subarray(0, 3000));
  assert.equal(ooo.insert(0, s, 3000, 500), 1000, 'the hole filled, the queued bytes were kept');
  assert.deepEqual(ooo.read(), s.subarray(3000, 4000));

  // Nor when the bytes wrap around the ring's end.
  const wrap = new RecvBuffer(4096, { initialStorage: 4096 });
  wrap.insert(0, s, 0, 3000);
  assert.equal(wrap.readInto(new Uint8Array(1000)), 1000);
  wrap.insert(0, s, 3000, 1500); // 3500 readable, from index 1000 across the end
  assert.equal(wrap.takeAll(), null);
  assert.deepEqual(wrap.read(), s.subarray(1000, 4500));
});

test('property: takeAll, reads and out-of-order arrivals deliver the stream, and taken views stay intact', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20_000 }),
      fc.array(fc.tuple(fc.integer({ min: -200, max: 3000 }), fc.integer({ min: 1, max: 4000 }), fc.nat(5)), { maxLength: 120 }),
      (len, steps) => {
        const s = stream(len);
        const rb = new RecvBuffer(8192, { initialStorage: 512 });
        const taken: Array<[number, Uint8Array]> = [];
        const got: number[] = [];
        let nxt = 0;
        const take = (how: number) => {
          if (how === 0) {
            const v = rb.takeAll();
            if (v !== null) {
              taken.push([got.length, v]);
              for (const x of v) got.push(x);
            }
          } else if (how === 1) {
            for (const x of rb.read(1 + ((nxt * 13) % 3000))) got.push(x);
          }
        };
        for (const [off, n, how] of steps) {
          const a = nxt + off;
          const b = Math.min(len, a + n);
          if (a >= 0 && a < b) nxt += rb.insert(a - nxt, s, a, b - a);
          take(how % 3);
        }
        let guard = 0;
        while (got.length < len) {
          const b = Math.min(len, nxt + 1000);
          if (nxt < b) nxt += rb.insert(0, s, nxt, b - nxt);
          take(guard % 2);
          if (++guard > 10_000) assert.fail('no progress');
        }
        for (let p = 0; p < len; p++) if (got[p] !== streamByte(p)) assert.fail(`byte ${p}`);
        // Everything handed over still holds what it held: the buffer never wrote it again.
        for (const [at, v] of taken) for (let i = 0; i < v.length; i++) if (v[i] !== streamByte(at + i)) assert.fail(`taken view at ${at} changed`);
      },
    ),
    { numRuns: 300 },
  );
});
