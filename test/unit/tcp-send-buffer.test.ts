import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SendBuffer } from '../../src/transport/tcp/send-buffer.js';
import { POOLED_STORAGE_SIZE, pooledStorageCount, pooledStorageBytes, takeStorage, giveStorage, trimStorage } from '../../src/transport/tcp/bytes.js';

function bytes(from: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) & 0xff;
  return b;
}

test('write accepts up to capacity and reports what it took (backpressure)', () => {
  const sb = new SendBuffer(10, 4);
  assert.equal(sb.write(bytes(0, 6)), 6);
  assert.equal(sb.length, 6);
  assert.equal(sb.free, 4);
  assert.equal(sb.write(bytes(6, 6)), 4);
  assert.equal(sb.free, 0);
  assert.equal(sb.write(bytes(0, 1)), 0);
  assert.deepEqual(sb.peek(0, 10), bytes(0, 10));
  sb.acknowledge(3);
  assert.equal(sb.free, 3);
  assert.deepEqual(sb.peek(0, 7), bytes(3, 7));
});

test('write honours offset/length into the chunk', () => {
  const sb = new SendBuffer(100);
  assert.equal(sb.write(bytes(0, 20), 5, 10), 10);
  assert.deepEqual(sb.peek(0, 10), bytes(5, 10));
  assert.throws(() => sb.write(bytes(0, 4), 2, 3), RangeError);
});

test('copyOut writes straight into a frame at a position, across the ring wrap', () => {
  const sb = new SendBuffer(16, 16);
  sb.write(bytes(0, 12));
  sb.acknowledge(10); // head at 10, 2 bytes left
  sb.write(bytes(12, 10)); // wraps: indices 12..15 then 0..5
  assert.equal(sb.length, 12);
  assert.equal(sb.storageSize, 16);
  const frame = new Uint8Array(20).fill(0xee);
  sb.copyOut(1, frame, 5, 9);
  assert.deepEqual(frame.subarray(5, 14), bytes(11, 9));
  assert.equal(frame[4], 0xee);
  assert.equal(frame[14], 0xee);
  // peek across the wrap returns a copy with the same bytes; contiguous peek is a view
  assert.deepEqual(sb.peek(0, 12), bytes(10, 12));
  const view = sb.peek(0, 3);
  assert.equal(view.buffer.byteLength, 16, 'contiguous peek is a zero-copy view');
  const views: Uint8Array[] = [];
  assert.equal(sb.peekViews(0, 12, views), 2);
  assert.deepEqual(views[0], bytes(10, 6));
  assert.deepEqual(views[1], bytes(16, 6));
  assert.equal(sb.peekViews(0, 0, views), 0);
  assert.equal(sb.byteAt(11), 21);
});

test('range errors: cannot read or acknowledge beyond the data', () => {
  const sb = new SendBuffer(64);
  sb.write(bytes(0, 8));
  const t = new Uint8Array(8);
  assert.throws(() => sb.copyOut(4, t, 0, 5), RangeError);
  assert.throws(() => sb.copyOut(0, t, 4, 5), RangeError);
  assert.throws(() => sb.peek(-1, 1), RangeError);
  assert.throws(() => sb.acknowledge(9), RangeError);
  assert.throws(() => sb.byteAt(8), RangeError);
  sb.acknowledge(8);
  assert.equal(sb.length, 0);
});

test('storage grows on demand and is linearised; capacity can change', () => {
  const sb = new SendBuffer(1000, 8);
  assert.equal(sb.storageSize, 0, 'nothing allocated before the first write');
  sb.write(bytes(0, 6));
  assert.equal(sb.storageSize, 8);
  sb.acknowledge(4);
  sb.write(bytes(6, 5)); // wraps in 8 bytes: 7 held
  assert.equal(sb.write(bytes(11, 100)), 100); // grows to 128
  assert.equal(sb.storageSize, 128);
  assert.deepEqual(sb.peek(0, 107), bytes(4, 107));
  sb.setCapacity(50);
  assert.equal(sb.free, 0);
  assert.equal(sb.write(bytes(0, 1)), 0);
  sb.acknowledge(107);
  assert.equal(sb.free, 50);
  assert.equal(sb.storageSize, 0, 'everything acknowledged: storage given back');
  assert.equal(sb.write(bytes(0, 3)), 3);
  assert.equal(sb.storageSize, 8);
  assert.deepEqual(sb.peek(0, 3), bytes(0, 3));
  sb.clear();
  assert.equal(sb.storageSize, 0);
  assert.throws(() => new SendBuffer(0), RangeError);
});

test('an idle buffer holds no storage; default-sized storage is reused through the shared pool', () => {
  const a = new SendBuffer(1 << 20);
  const b = new SendBuffer(1 << 20);
  assert.equal(a.storageSize + b.storageSize, 0);
  a.write(bytes(0, 100));
  assert.equal(a.storageSize, POOLED_STORAGE_SIZE);
  const pooled = pooledStorageCount();
  a.acknowledge(100);
  assert.equal(a.storageSize, 0);
  assert.equal(pooledStorageCount(), pooled + 1, 'returned to the pool');
  b.write(bytes(7, 10));
  assert.equal(pooledStorageCount(), pooled, 'taken from the pool');
  assert.deepEqual(b.peek(0, 10), bytes(7, 10));
  // Grown storage is pooled too, by size: a bulk sender or receiver that drains its buffer
  // reuses its array instead of leaving it to the garbage collector.
  b.write(bytes(0, 10_000));
  assert.equal(b.storageSize, 16384);
  const beforeDrain = pooledStorageCount();
  b.acknowledge(10_010);
  assert.equal(pooledStorageCount(), beforeDrain + 1, 'the grown array returned');
  const c = new SendBuffer(1 << 20);
  c.write(bytes(3, 10_000));
  assert.equal(c.storageSize, 16384);
  assert.equal(pooledStorageCount(), beforeDrain, 'and taken again by a buffer of that size');
  assert.deepEqual(c.peek(0, 10_000), bytes(3, 10_000));
});

test('the shared free lists hold at most 4 MiB and only power-of-two arrays, each returned by its size', () => {
  const arrays = Array.from({ length: 100 }, () => takeStorage(65536));
  for (const a of arrays) giveStorage(a);
  assert.ok(pooledStorageBytes() <= 4 * 1024 * 1024, `${pooledStorageBytes()} bytes pooled`);
  assert.ok(pooledStorageBytes() >= 4 * 1024 * 1024 - 65536, 'filled up to the bound');
  const before = pooledStorageBytes();
  giveStorage(new Uint8Array(3000));
  assert.equal(pooledStorageBytes(), before, 'not a power of two: left to the garbage collector');
  const taken = takeStorage(65536);
  assert.equal(taken.length, 65536);
  assert.ok(arrays.includes(taken), 'a pooled array of that size');
  assert.equal(takeStorage(131072).length, 131072);
  giveStorage(taken);
});

test('default capacity is 256 KiB', () => {
  assert.equal(new SendBuffer().capacity, 256 * 1024);
});

test('property: any interleaving of writes/acks/copyOuts behaves like a byte queue', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('w' as const), n: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ k: fc.constant('a' as const), f: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ k: fc.constant('c' as const), f: fc.double({ min: 0, max: 1, noNaN: true }), g: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 700 }), fc.array(op, { maxLength: 60 }), (cap, ops) => {
      const sb = new SendBuffer(cap, 16);
      const model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if (o.k === 'w') {
          const chunk = bytes(next, o.n);
          const took = sb.write(chunk);
          assert.equal(took, Math.min(o.n, cap - model.length));
          for (let i = 0; i < took; i++) model.push(chunk[i]!);
          next += took;
        } else if (o.k === 'a') {
          const n = Math.floor(o.f * model.length);
          sb.acknowledge(n);
          model.splice(0, n);
        } else {
          const off = Math.floor(o.f * model.length);
          const len = Math.floor(o.g * (model.length - off));
          const out = new Uint8Array(len + 3);
          sb.copyOut(off, out, 3, len);
          assert.deepEqual(Array.from(out.subarray(3)), model.slice(off, off + len));
        }
        assert.equal(sb.length, model.length);
        assert.equal(sb.free, cap - model.length);
      }
    }),
  );
});

test('trimStorage empties the free lists; storage is then allocated anew', () => {
  giveStorage(new Uint8Array(8192));
  assert.ok(pooledStorageBytes() >= 8192);
  trimStorage();
  assert.equal(pooledStorageBytes(), 0);
  assert.equal(pooledStorageCount(), 0);
  const s = takeStorage(8192);
  assert.equal(s.length, 8192);
  assert.equal(pooledStorageCount(), 0);
});
