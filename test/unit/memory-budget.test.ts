// The stack-wide buffer budget (stack/memory-budget.ts): accounting and pressure transitions on
// a fake clock, and the rings charging it (send and receive buffers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBudget, memoryConfigFrom, defaultMemoryConfig } from '../../src/stack/memory-budget.js';
import { SendBuffer } from '../../src/transport/tcp/send-buffer.js';
import { RecvBuffer } from '../../src/transport/tcp/recv-buffer.js';

function budget(low = 100, pressure = 200, max = 300) {
  let now = 0;
  const b = new MemoryBudget({ lowBytes: low, pressureBytes: pressure, maxBytes: max }, () => now);
  return { b, advance: (ms: number) => { now += ms; } };
}

test('charges are counted and released; beyond the hard limit they are refused', () => {
  const { b } = budget();
  assert.equal(b.charge(250), true);
  assert.equal(b.allocatedBytes, 250);
  assert.equal(b.charge(60), false);
  assert.equal(b.allocatedBytes, 250);
  assert.equal(b.charge(50), true);
  assert.equal(b.overLimit, true);
  b.release(300);
  assert.equal(b.allocatedBytes, 0);
  const s = b.stats();
  assert.equal(s.refusedCharges, 1);
  assert.equal(s.refusedBytes, 60);
  assert.equal(s.peakBytes, 300);
});

test('forced charges pass the hard limit and are counted as such', () => {
  const { b } = budget();
  b.chargeForced(280);
  b.chargeForced(50);
  assert.equal(b.allocatedBytes, 330);
  assert.equal(b.stats().forcedBytes, 30);
  assert.equal(b.charge(1), false);
});

test('pressure: entered above pressureBytes, left only below lowBytes (hysteresis), timed', () => {
  const { b, advance } = budget();
  b.charge(200);
  assert.equal(b.underPressure, false, 'at the threshold, not above it');
  b.charge(1);
  assert.equal(b.underPressure, true);
  advance(1500);
  b.release(51); // 150: below pressure, above low
  assert.equal(b.underPressure, true);
  assert.equal(b.stats().pressureMs, 1500);
  advance(500);
  b.release(51); // 99
  assert.equal(b.underPressure, false);
  advance(10_000);
  const s = b.stats();
  assert.equal(s.pressureEntered, 1);
  assert.equal(s.pressureMs, 2000);
  assert.equal(s.underPressure, 0);
  assert.equal(s.lastPressureAgoMs, 12_000);
  b.charge(150);
  assert.equal(b.stats().pressureEntered, 2);
});

test('thresholds must be ordered; a lower hard limit alone brings the others down', () => {
  assert.throws(() => new MemoryBudget({ lowBytes: 3, pressureBytes: 2, maxBytes: 1 }, () => 0), RangeError);
  assert.deepEqual(memoryConfigFrom(), defaultMemoryConfig);
  const c = memoryConfigFrom({ maxBytes: 8 << 20 });
  assert.equal(c.pressureBytes, 6 << 20);
  assert.equal(c.lowBytes, 4 << 20);
});

test('a send buffer charges its storage and gives it back; refused growth means a shorter write', () => {
  const { b } = budget(0, 8192, 8192);
  const sb = new SendBuffer(65536, 4096, b);
  assert.equal(sb.write(new Uint8Array(6000)), 6000);
  assert.equal(b.allocatedBytes, 8192);
  assert.equal(sb.write(new Uint8Array(6000)), 8192 - 6000, 'only what the storage holds');
  assert.equal(sb.memoryRefusals, 1);
  sb.acknowledge(8192);
  assert.equal(b.allocatedBytes, 0);
  // Past the limit the first 4 KB are still guaranteed.
  b.chargeForced(8192);
  assert.equal(sb.write(new Uint8Array(6000)), 4096);
  sb.clear();
  assert.equal(b.allocatedBytes, 8192);
});

test('a receive buffer: in-order data is guaranteed its minimum, out-of-order data nothing; takeAll hands the storage over', () => {
  const { b } = budget(0, 1 << 20, 1 << 20);
  b.chargeForced(1 << 20);
  const rb = new RecvBuffer(65536, { account: b, guaranteedStorage: 8192 });
  assert.equal(rb.insert(0, new Uint8Array(8000)), 8000);
  assert.equal(rb.insert(8000, new Uint8Array(1000)), 0, 'beyond the guarantee: dropped');
  assert.equal(rb.insert(5000, new Uint8Array(10), 0), 0, 'out of order, needing more storage: dropped');
  assert.equal(rb.memoryDroppedSegments, 2);
  assert.equal(rb.oooRanges, 0);
  const rb2 = new RecvBuffer(65536, { account: b, guaranteedStorage: 8192 });
  assert.equal(rb2.insert(10, new Uint8Array(100)), 0);
  assert.equal(rb2.oooRanges, 0, 'out of order: never guaranteed');
  b.release(1 << 20);
  const before = b.allocatedBytes;
  assert.equal(before, 8192);
  assert.ok(rb.takeAll() !== null);
  assert.equal(b.allocatedBytes, 0, 'the application holds it now');
});

test('onGiveBack: called once the buffers have released giveBackBytes from their high point and hold less than low', () => {
  const { b } = budget(8 << 20, 12 << 20, 16 << 20);
  let calls = 0;
  b.onGiveBack = () => calls++;
  b.charge(6 << 20);
  b.release(3 << 20);
  assert.equal(calls, 0, 'released less than giveBackBytes');
  b.charge(8 << 20); // 11 MB held, the high point
  b.release(5 << 20); // 6 MB: below low, 5 MB given back
  assert.equal(calls, 1);
  b.release(1 << 20);
  assert.equal(calls, 1, 'counted from the new high point');
  b.release(4 << 20); // 1 MB: 5 MB below the 6 MB point
  assert.equal(calls, 2);
  b.charge(14 << 20); // 15 MB, under pressure
  b.release(5 << 20); // 10 MB: still above low
  assert.equal(calls, 2, 'not while above low');
  b.release(3 << 20);
  assert.equal(calls, 3);
});
