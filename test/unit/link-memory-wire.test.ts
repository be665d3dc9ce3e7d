import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Device, FrameReceiver } from '../../src/link/device.js';
import { MemoryWire, type MemoryWireOptions, mulberry32 } from '../../src/link/memory-wire.js';
import { FakeClock } from '../../src/time/clock.js';

const MAC_A = Uint8Array.of(0x00, 0x00, 0x5e, 0x00, 0x53, 0x0a);
const MAC_B = Uint8Array.of(0x00, 0x00, 0x5e, 0x00, 0x53, 0x0b);
const MAC_C = Uint8Array.of(0x00, 0x00, 0x5e, 0x00, 0x53, 0x0c);

/** A 60-byte frame whose first four bytes carry a sequence number. */
function numberedFrame(seq: number, length = 60): Uint8Array {
  const frame = new Uint8Array(length);
  new DataView(frame.buffer).setUint32(0, seq);
  return frame;
}

function seqOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset).getUint32(0);
}

/** Records what a device receives: frames (copied) and the batch boundaries. */
class Recorder implements FrameReceiver {
  readonly frames: Uint8Array[] = [];
  readonly batchSizes: number[] = [];
  private inBatch = 0;
  constructor(private readonly onFrame?: (device: Device, frame: Uint8Array) => void) {}
  receiveFrame(device: Device, frame: Uint8Array): void {
    this.frames.push(frame.slice());
    this.inBatch++;
    this.onFrame?.(device, frame);
  }
  endBatch(): void {
    this.batchSizes.push(this.inBatch);
    this.inBatch = 0;
  }
  get seqs(): number[] {
    return this.frames.map(seqOf);
  }
}

function setup(opts: MemoryWireOptions = {}) {
  const wire = new MemoryWire({ mode: 'manual', ...opts });
  const a = wire.createDevice('a', MAC_A);
  const b = wire.createDevice('b', MAC_B);
  const ra = new Recorder();
  const rb = new Recorder();
  a.open(ra);
  b.open(rb);
  return { wire, a, b, ra, rb };
}

describe('MemoryWire', () => {
  test('delivers a copy to the other devices, asynchronously, never to the sender', async () => {
    const wire = new MemoryWire();
    const a = wire.createDevice('a', MAC_A);
    const b = wire.createDevice('b', MAC_B);
    const c = wire.createDevice('c', MAC_C);
    const [ra, rb, rc] = [new Recorder(), new Recorder(), new Recorder()];
    a.open(ra);
    b.open(rb);
    c.open(rc);
    const frame = numberedFrame(7);
    a.send(frame);
    assert.equal(rb.frames.length, 0, 'nothing is delivered inside send()');
    frame.fill(0xff); // the caller may reuse its buffer at once
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(rb.seqs, [7]);
    assert.deepEqual(rc.seqs, [7]);
    assert.equal(ra.frames.length, 0);
    assert.equal(a.type, 'ethernet');
    assert.deepEqual([...b.mac], [...MAC_B]);
    assert.equal(b.mtu, 1500);
  });

  test('frames sent in one turn arrive as one batch closed by one endBatch', async () => {
    const wire = new MemoryWire();
    const a = wire.createDevice('a', MAC_A);
    const b = wire.createDevice('b', MAC_B);
    const rb = new Recorder();
    b.open(rb);
    a.open(new Recorder());
    for (let i = 0; i < 7; i++) a.send(numberedFrame(i));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(rb.seqs, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(rb.batchSizes, [7]);
  });

  test('manual mode: nothing moves until flush(), which also delivers the replies', () => {
    const wire = new MemoryWire({ mode: 'manual' });
    const a = wire.createDevice('a', MAC_A);
    const b = wire.createDevice('b', MAC_B);
    const ra = new Recorder();
    // b answers every frame once, with seq + 100, from inside receiveFrame.
    const rb = new Recorder((device, frame) => {
      const seq = seqOf(frame);
      if (seq < 100) device.send(numberedFrame(seq + 100));
    });
    a.open(ra);
    b.open(rb);
    a.send(numberedFrame(1));
    a.send(numberedFrame(2));
    assert.equal(wire.pending, 2);
    assert.equal(rb.frames.length, 0);
    assert.equal(wire.flush(), 4);
    assert.deepEqual(rb.seqs, [1, 2]);
    assert.deepEqual(ra.seqs, [101, 102]);
    assert.deepEqual(rb.batchSizes, [2]);
    assert.deepEqual(ra.batchSizes, [2]);
    assert.equal(wire.pending, 0);
    assert.equal(wire.flush(), 0);
  });

  test('flush() stops after maxRounds when two devices ping-pong forever', () => {
    const wire = new MemoryWire({ mode: 'manual' });
    const a = wire.createDevice('a', MAC_A);
    const b = wire.createDevice('b', MAC_B);
    const echo = new Recorder((device, frame) => device.send(frame));
    a.open(echo);
    b.open(new Recorder((device, frame) => device.send(frame)));
    a.send(numberedFrame(1));
    // Each round delivers the one frame in flight; its echo waits for the next round.
    assert.equal(wire.flush(10), 10);
    assert.equal(wire.pending, 1);
  });

  test('counts frames and bytes, refuses oversize frames and sends on a closed device', () => {
    const { wire, a, b, rb } = setup();
    a.send(numberedFrame(1, 100));
    a.send(new Uint8Array(1500 + 14 + 4 + 1));
    wire.flush();
    assert.equal(rb.frames.length, 1);
    assert.deepEqual(a.counters, { framesOut: 1, framesIn: 0, bytesOut: 100, bytesIn: 0, sendErrors: 1 });
    assert.deepEqual(b.counters, { framesOut: 0, framesIn: 1, bytesOut: 0, bytesIn: 100, sendErrors: 0 });
    b.close();
    b.close();
    b.send(numberedFrame(2));
    assert.equal(b.counters.sendErrors, 1);
    a.send(numberedFrame(3));
    wire.flush();
    assert.equal(rb.frames.length, 1);
    assert.equal(wire.stats.undeliverable, 1);
    assert.throws(() => b.open(rb), /closed/);
  });

  test('frames to a device that is not open are undeliverable, not queued', () => {
    const wire = new MemoryWire({ mode: 'manual' });
    const a = wire.createDevice('a', MAC_A);
    const b = wire.createDevice('b', MAC_B);
    a.send(numberedFrame(1));
    const rb = new Recorder();
    b.open(rb);
    wire.flush();
    assert.equal(rb.frames.length, 0);
    assert.equal(wire.stats.undeliverable, 1);
  });

  test('a throwing receiver loses only its own frame; the batch and endBatch go on', () => {
    const errors: unknown[] = [];
    const { wire, a, b, rb } = setup({ onError: (error) => errors.push(error) });
    let calls = 0;
    const throwing: FrameReceiver = {
      receiveFrame: (device, frame) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        rb.receiveFrame(device, frame);
      },
      endBatch: () => rb.endBatch(),
    };
    b.open(throwing);
    for (let i = 0; i < 3; i++) a.send(numberedFrame(i));
    wire.flush();
    assert.deepEqual(rb.seqs, [1, 2]);
    assert.equal(rb.batchSizes.length, 1);
    assert.equal(b.receiveErrors, 1);
    assert.equal(errors.length, 1);
    assert.match(String(b.lastReceiveError), /boom/);
  });

  test('delayMs holds frames until the clock reaches them (FakeClock, manual)', () => {
    const clock = new FakeClock(1000);
    const { wire, a, rb } = setup({ delayMs: 10, clock });
    a.send(numberedFrame(1));
    clock.advance(5);
    a.send(numberedFrame(2));
    assert.equal(wire.flush(), 0);
    clock.advance(4.5);
    assert.equal(wire.flush(), 0);
    clock.advance(0.5);
    assert.equal(wire.flush(), 1);
    assert.deepEqual(rb.seqs, [1]);
    clock.advance(5);
    assert.equal(wire.flush(), 1);
    assert.deepEqual(rb.seqs, [1, 2]);
  });

  test('rateBytesPerMs queues frames behind each other; queueBytes drops beyond the queue', () => {
    const clock = new FakeClock(1000);
    // 100 bytes per ms: a 100-byte frame takes 1 ms; the queue holds 250 bytes of waiting.
    const { wire, a, rb } = setup({ delayMs: 2, rateBytesPerMs: 100, queueBytes: 250, clock });
    for (let i = 1; i <= 5; i++) a.send(numberedFrame(i, 100));
    // Frames 1..4 wait 0, 100, 200, 300 bytes' worth: 4 is beyond the queue, and 5 too.
    assert.equal(wire.stats.overflowed, 2);
    clock.advance(2.999);
    assert.equal(wire.flush(), 0, 'serialization (1 ms) and delay (2 ms) first');
    clock.advance(0.001);
    assert.equal(wire.flush(), 1);
    clock.advance(1);
    assert.equal(wire.flush(), 1);
    clock.advance(1);
    assert.equal(wire.flush(), 1);
    assert.deepEqual(rb.seqs, [1, 2, 3]);
    // The link is idle again: the next frame goes without queueing.
    a.send(numberedFrame(6, 100));
    clock.advance(3);
    assert.equal(wire.flush(), 1);
    assert.deepEqual(rb.seqs, [1, 2, 3, 6]);
    assert.throws(() => new MemoryWire({ rateBytesPerMs: -1 }), RangeError);
    assert.throws(() => new MemoryWire({ queueBytes: -1 }), RangeError);
  });

  test('delayMs in auto mode delivers by itself after the delay', async () => {
    const wire = new MemoryWire({ delayMs: 30 });
    const a = wire.createDevice('a', MAC_A);
    const b = wire.createDevice('b', MAC_B);
    let arrived = 0;
    const received = new Promise<void>((resolve) => {
      b.open({
        receiveFrame: () => {
          arrived = performance.now();
        },
        endBatch: () => resolve(),
      });
    });
    a.open(new Recorder());
    const sent = performance.now();
    a.send(numberedFrame(1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(arrived, 0);
    await received;
    assert.ok(arrived - sent >= 29, `arrived after ${arrived - sent} ms`);
  });

  describe('impairments', () => {
    const N = 2000;

    function run(opts: MemoryWireOptions) {
      const { wire, a, rb } = setup(opts);
      for (let i = 0; i < N; i++) {
        a.send(numberedFrame(i));
        // Deliver every 10 frames, so reordering has neighbours within a batch and across batches.
        if (i % 10 === 9) wire.flush();
      }
      wire.flush();
      return { stats: { ...wire.stats }, seqs: rb.seqs };
    }

    test('loss: the same seed drops the same frames; another seed others', () => {
      const first = run({ lossRate: 0.25, seed: 42 });
      const again = run({ lossRate: 0.25, seed: 42 });
      const other = run({ lossRate: 0.25, seed: 43 });
      assert.deepEqual(again.seqs, first.seqs);
      assert.notDeepEqual(other.seqs, first.seqs);
      assert.equal(first.stats.dropped + first.seqs.length, N);
      assert.equal(first.stats.delivered, first.seqs.length);
      assert.ok(Math.abs(first.stats.dropped - N * 0.25) < N * 0.05, `dropped ${first.stats.dropped}`);
      assert.deepEqual(
        first.seqs,
        [...first.seqs].sort((x, y) => x - y),
        'loss alone never reorders',
      );
    });

    test('duplication: every extra copy is counted and follows its original', () => {
      const result = run({ duplicateRate: 0.1, seed: 7 });
      assert.equal(result.seqs.length, N + result.stats.duplicated);
      assert.ok(result.stats.duplicated > N * 0.05 && result.stats.duplicated < N * 0.15);
      let pairs = 0;
      for (let i = 1; i < result.seqs.length; i++) if (result.seqs[i] === result.seqs[i - 1]) pairs++;
      assert.equal(pairs, result.stats.duplicated);
      assert.deepEqual(run({ duplicateRate: 0.1, seed: 7 }).seqs, result.seqs);
    });

    test('reordering: each counted reorder is one frame overtaken by the next; nothing is lost', () => {
      const result = run({ reorderRate: 0.2, seed: 99 });
      assert.equal(result.seqs.length, N);
      assert.deepEqual(
        [...result.seqs].sort((x, y) => x - y),
        Array.from({ length: N }, (_, i) => i),
      );
      let inversions = 0;
      for (let i = 1; i < result.seqs.length; i++) if (result.seqs[i]! < result.seqs[i - 1]!) inversions++;
      assert.ok(result.stats.reordered > N * 0.1, `reordered ${result.stats.reordered}`);
      assert.equal(inversions, result.stats.reordered);
      assert.deepEqual(run({ reorderRate: 0.2, seed: 99 }).seqs, result.seqs);
    });

    test('all impairments together stay deterministic and add up', () => {
      const opts = { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1, seed: 2024 };
      const first = run(opts);
      assert.deepEqual(run(opts).seqs, first.seqs);
      const s = first.stats;
      assert.equal(s.sent, N);
      assert.equal(s.delivered, N - s.dropped + s.duplicated);
      assert.equal(first.seqs.length, s.delivered);
    });
  });

  test('mulberry32 is deterministic and uniform enough', () => {
    const r1 = mulberry32(5);
    const r2 = mulberry32(5);
    const values = Array.from({ length: 10000 }, () => r1());
    assert.deepEqual(
      Array.from({ length: 10000 }, () => r2()),
      values,
    );
    assert.ok(values.every((v) => v >= 0 && v < 1));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  });

  test('rejects rates outside 0..1', () => {
    assert.throws(() => new MemoryWire({ lossRate: 1.5 }), RangeError);
    assert.throws(() => new MemoryWire({ reorderRate: -0.1 }), RangeError);
    assert.throws(() => new MemoryWire({ delayMs: -1 }), RangeError);
  });
});
