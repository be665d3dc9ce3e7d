import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Device, FrameReceiver } from '../../src/link/device.js';
import { LoopbackDevice } from '../../src/link/loopback.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function packet(seq: number, length = 40): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45; // looks like IPv4: loopback frames have no Ethernet header
  new DataView(p.buffer).setUint32(4, seq);
  return p;
}

const seqOf = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getUint32(4);

describe('LoopbackDevice', () => {
  test('is "lo": loopback type, zero MAC, MTU 65535', () => {
    const lo = new LoopbackDevice();
    assert.equal(lo.name, 'lo');
    assert.equal(lo.type, 'loopback');
    assert.deepEqual([...lo.mac], [0, 0, 0, 0, 0, 0]);
    assert.equal(lo.mtu, 65535);
  });

  test('delivers a copy asynchronously, in one batch with one endBatch', async () => {
    const lo = new LoopbackDevice();
    const seen: number[] = [];
    const batches: number[] = [];
    lo.open({
      receiveFrame: (device, frame) => {
        assert.equal(device, lo);
        seen.push(seqOf(frame));
      },
      endBatch: () => batches.push(seen.length),
    });
    const reused = packet(1);
    lo.send(reused);
    reused.fill(0); // the sender may reuse its buffer as soon as send() returns
    lo.send(packet(2));
    lo.send(packet(3));
    assert.deepEqual(seen, [], 'nothing is delivered inside send()');
    assert.equal(lo.queued, 3);
    await nextTurn();
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(batches, [3]);
    assert.deepEqual(lo.counters, { framesIn: 3, framesOut: 3, bytesIn: 120, bytesOut: 120, sendErrors: 0 });
  });

  test('a reply sent from inside receiveFrame is never delivered re-entrantly', async () => {
    const lo = new LoopbackDevice();
    let depth = 0;
    let maxDepth = 0;
    const seen: number[] = [];
    const batches: number[][] = [];
    let current: number[] = [];
    const done = new Promise<void>((resolve) => {
      lo.open({
        receiveFrame: (device, frame) => {
          depth++;
          maxDepth = Math.max(maxDepth, depth);
          const seq = seqOf(frame);
          seen.push(seq);
          current.push(seq);
          // Each packet triggers the next one, ten hops in all.
          if (seq < 10) device.send(packet(seq + 1));
          depth--;
        },
        endBatch: () => {
          batches.push(current);
          current = [];
          if (seen.length === 10) resolve();
        },
      });
    });
    lo.send(packet(1));
    await done;
    assert.equal(maxDepth, 1);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(
      batches,
      seen.map((s) => [s]),
      'each reply comes in the next batch',
    );
  });

  test('manual mode delivers only on flush(), replies included, and flush() inside delivery is a no-op', () => {
    const lo = new LoopbackDevice({ mode: 'manual' });
    const seen: number[] = [];
    let nestedFlush = -1;
    lo.open({
      receiveFrame: (device, frame) => {
        const seq = seqOf(frame);
        seen.push(seq);
        if (seq === 1) {
          device.send(packet(2));
          nestedFlush = lo.flush();
        }
      },
      endBatch: () => {},
    });
    lo.send(packet(1));
    assert.deepEqual(seen, []);
    assert.equal(lo.flush(), 2);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(nestedFlush, 0);
  });

  test('large packets and many of them survive the packed queue growing', async () => {
    const lo = new LoopbackDevice();
    const lengths: number[] = [];
    const contentOk: boolean[] = [];
    lo.open({
      receiveFrame: (_d, frame) => {
        lengths.push(frame.length);
        contentOk.push(frame[frame.length - 1] === (frame.length & 0xff));
      },
      endBatch: () => {},
    });
    const sizes = [65535, 20, 1500, 65535, 65535, 9000];
    for (const size of sizes) {
      const p = packet(0, size);
      p[size - 1] = size & 0xff;
      lo.send(p);
    }
    await nextTurn();
    assert.deepEqual(lengths, sizes);
    assert.ok(contentOk.every(Boolean));
  });

  test('oversize packets and sends after close are send errors; close stops delivery', async () => {
    const lo = new LoopbackDevice({ mtu: 100 });
    const seen: number[] = [];
    lo.open({ receiveFrame: (_d, f) => seen.push(seqOf(f)), endBatch: () => {} });
    lo.send(packet(1, 101));
    assert.equal(lo.counters.sendErrors, 1);
    lo.send(packet(2));
    lo.close();
    lo.close();
    lo.send(packet(3));
    await nextTurn();
    assert.deepEqual(seen, []);
    assert.equal(lo.counters.sendErrors, 2);
  });

  test('a throwing receiver is counted and the rest of the batch still arrives', async () => {
    const errors: unknown[] = [];
    const lo = new LoopbackDevice({ onError: (e) => errors.push(e) });
    const seen: number[] = [];
    let ended = 0;
    const receiver: FrameReceiver = {
      receiveFrame: (_d: Device, f: Uint8Array) => {
        if (seqOf(f) === 1) throw new Error('bad packet');
        seen.push(seqOf(f));
      },
      endBatch: () => {
        ended++;
      },
    };
    lo.open(receiver);
    lo.send(packet(1));
    lo.send(packet(2));
    await nextTurn();
    assert.deepEqual(seen, [2]);
    assert.equal(ended, 1);
    assert.equal(lo.receiveErrors, 1);
    assert.equal(errors.length, 1);
  });
});
