import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObserverHub } from '../../src/stack/observer-hub.js';
import type { PacketObserver } from '../../src/stack/observer.js';
import type { Device } from '../../src/link/device.js';

const device = { name: 'tap0', type: 'ethernet' } as unknown as Device;

function recorder(log: string[], name: string): PacketObserver {
  return { frame: (direction, _d, buf, offset, length) => { log.push(`${name}:${direction}:${buf[offset]}:${length}`); } };
}

test('the hook is null without watchers, the watcher itself with one, a fan-out with more', () => {
  let installed: PacketObserver | null | undefined;
  const hub = new ObserverHub((o) => { installed = o; });
  assert.equal(installed, null);
  const log: string[] = [];
  const a = recorder(log, 'a');
  const stopA = hub.add(a);
  assert.equal(installed, a);
  const stopB = hub.add(recorder(log, 'b'));
  assert.notEqual(installed, a);
  (installed as unknown as PacketObserver).frame('incoming', device, new Uint8Array([9, 8, 7]), 1, 2);
  assert.deepEqual(log, ['a:incoming:8:2', 'b:incoming:8:2']);
  stopA();
  stopA();
  assert.equal(hub.size, 1);
  stopB();
  assert.equal(installed, null);
  assert.equal(hub.size, 0);
});

test('a watcher that removes itself while called does not disturb the others', () => {
  let installed: PacketObserver | null = null;
  const hub = new ObserverHub((o) => { installed = o; });
  const log: string[] = [];
  let stop: () => void = () => {};
  stop = hub.add({ frame: () => { log.push('once'); stop(); } });
  hub.add(recorder(log, 'b'));
  (installed as unknown as PacketObserver).frame('outgoing', device, new Uint8Array([1]), 0, 1);
  (installed as unknown as PacketObserver).frame('outgoing', device, new Uint8Array([2]), 0, 1);
  assert.deepEqual(log, ['once', 'b:outgoing:1:1', 'b:outgoing:2:1']);
});
