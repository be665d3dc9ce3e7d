// The start-up warm-up (src/api/warm-up.ts): connections really run, within their bounds, and
// nothing is left behind: not in the stack being started, not in the warm-up's own stacks,
// not on the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmUp } from '../../src/api/warm-up.js';
import { Stack } from '../../src/api/stack.js';
import { loopHolds } from '../../src/api/net.js';
import { memoryTapPair, memoryTapQueued } from '../../src/link/memory-tap.js';
import { TapDevice } from '../../src/link/tap.js';
import { RxFlags, type Device, type FrameReceiver } from '../../src/link/device.js';

/** Handles of the kinds a stack could leave armed (timers, immediates), by kind. */
function activeHandles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) if (kind === 'Timeout' || kind === 'Immediate') out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

test('warm-up: connections echo and close; the stack being started sees nothing and is left as new', { timeout: 60_000 }, async () => {
  // A stack set up as openTapHost sets it up (address configured, not started yet), on a device
  // that records every frame written to it.
  const written: Uint8Array[] = [];
  const device: Device = {
    name: 'tap-under-test', type: 'ethernet', mac: Uint8Array.of(0x02, 0, 0x5e, 0, 0x53, 0x09), mtu: 1500,
    counters: { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, sendErrors: 0 },
    offloads: { txChecksum: true, tsoMaxBytes: 65535, tso6MaxBytes: 65535 },
    open(_receiver: FrameReceiver) {},
    send(frame: Uint8Array) { written.push(frame.slice()); },
    close() {},
  };
  const stack = new Stack();
  stack.addInterface(device, { address: 0xc0000202, prefixLength: 24 });
  const fresh = JSON.stringify(new Stack().counters.toJSON());
  const neighborsBefore = stack.neighbors.size; // the interface's own entry
  const holdsBefore = loopHolds();
  const handlesBefore = activeHandles();

  const report = await warmUp({ budgetMs: 5_000, maxWallMs: 30_000, maxConnections: 40 });

  assert.equal(report.failures, 0);
  assert.equal(report.connections, 40, 'every connection echoed its byte and closed');
  assert.deepEqual(report.left, { connections: 0, timeWait: 0, timers: 0, queuedFrames: 0 });
  assert.equal(written.length, 0, 'no frame reached the device');
  assert.equal(JSON.stringify(stack.counters.toJSON()), fresh, 'counters as a new stack has them');
  assert.equal(stack.tcp.connectionCount, 0);
  assert.equal(stack.tcp.timeWaitCount, 0);
  assert.equal(stack.tcp.endpoints().length, 0, 'no listener, no socket');
  assert.equal(stack.neighbors.size, neighborsBefore, 'no ARP entry learnt');
  assert.equal(stack.timers.size, 0, 'no timer');
  assert.equal(loopHolds(), holdsBefore, 'nothing holds the event loop');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(activeHandles(), handlesBefore, 'no timer or immediate left armed');
  stack.close();
});

test('warm-up: stops at its connection bound and at its time bound', { timeout: 60_000 }, async () => {
  const few = await warmUp({ maxConnections: 3, inFlight: 1 });
  assert.equal(few.connections, 3);
  assert.equal(few.failures, 0);
  // A budget of 0 ms of CPU time starts nothing.
  const none = await warmUp({ budgetMs: 0 });
  assert.equal(none.connections, 0);
  assert.equal(none.failures, 0);
  // The wall-clock cap ends it even when the CPU budget would allow more (checked between
  // connections, so one round of connections in flight may finish after it).
  const capped = await warmUp({ budgetMs: 60_000, maxWallMs: 200, maxConnections: 1_000_000 });
  assert.ok(capped.elapsedMs < 10_000, `took ${capped.elapsedMs} ms`);
  assert.ok(capped.connections < 1_000_000);
  assert.deepEqual(capped.left, { connections: 0, timeWait: 0, timers: 0, queuedFrames: 0 });
});

test('memory tap pair: TapDevices that read what the other wrote, after the write returns, in one batch, as a TAP with offloads', async () => {
  const [a, b] = memoryTapPair({ name: 'a', mac: Uint8Array.of(2, 0, 0, 0, 0, 1) }, { name: 'b', mac: Uint8Array.of(2, 0, 0, 0, 0, 2) });
  assert.ok(a instanceof TapDevice && b instanceof TapDevice);
  assert.equal(a.offloads.txChecksum, true);
  assert.ok(a.offloads.tsoMaxBytes > 0 && a.offloads.tso6MaxBytes > 0, 'TSO for IPv4 and IPv6');
  const got: Array<[number, number, number]> = [];
  let batches = 0;
  b.open({ receiveFrame: (_d: Device, frame: Uint8Array, flags?: number) => got.push([frame[0]!, frame.length, flags ?? 0]), endBatch: () => batches++ });
  const frame = new Uint8Array(60);
  frame[0] = 1;
  a.send(frame);
  frame[0] = 2; // the writer may reuse its buffer at once
  a.send(frame, 0, 34, 16);
  assert.equal(got.length, 0, 'nothing read inside the write');
  assert.equal(memoryTapQueued(b), 2);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(got, [[1, 60, RxFlags.ChecksumOk], [2, 60, RxFlags.ChecksumOk]], 'the virtio-net header is taken off; checksums vouched for');
  assert.equal(batches, 1);
  assert.equal(memoryTapQueued(b), 0);
  assert.equal(a.counters.framesOut, 2);
  assert.equal(b.counters.framesIn, 2);
  b.close();
  a.send(frame);
  assert.equal(a.counters.sendErrors, 1, 'a closed peer takes nothing');
  a.close();
});

test('pstack server: the warm-up is on by default; --no-warmup and --warmup-ms change it; a bad value is one clear line', async () => {
  const { parseServerArgs } = await import('../../src/cli/server.js');
  const { UsageError } = await import('../../src/cli/errors.js');
  const { DEFAULT_WARM_UP_BUDGET_MS } = await import('../../src/api/warm-up.js');
  const config = (argv: string[]) => {
    const c = parseServerArgs(argv);
    assert.notEqual(c, 'help');
    return c as Exclude<typeof c, 'help'>;
  };
  assert.equal(config([]).warmUpMs, DEFAULT_WARM_UP_BUDGET_MS);
  assert.equal(config(['--no-warmup']).warmUpMs, 0);
  assert.equal(config(['--warmup-ms', '250']).warmUpMs, 250);
  for (const bad of ['-1', 'soon', '60001']) {
    assert.throws(() => parseServerArgs([`--warmup-ms=${bad}`]), (e: unknown) => e instanceof UsageError && /--warmup-ms/.test(e.message) && !e.message.includes('\n'));
  }
});
