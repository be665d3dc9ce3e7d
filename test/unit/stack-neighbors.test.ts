// The ARP cache on a fake clock: retries then give up, bounded queue, expiry, static entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { NeighborCache, defaultNeighborConfig } from '../../src/stack/neighbors.js';
import { Counters } from '../../src/stack/counters.js';
import { Interface } from '../../src/stack/interface.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';

const ip = (s: string) => parseIpv4(s)!;

function setup(config = {}) {
  const clock = new FakeClock();
  const counters = new Counters();
  const requests: Array<[number, number]> = [];
  const flushed: Uint8Array[] = [];
  const failed: Uint8Array[] = [];
  const iface = new Interface(1, new CaptureDevice(), ip('192.0.2.2'), 24);
  const cache = new NeighborCache(clock.timers, {
    sendRequest: (_i, addr) => requests.push([clock.now(), addr]),
    flushQueue: (_e, p) => flushed.push(...p),
    resolutionFailed: (_e, p) => failed.push(...p),
  }, counters, { ...defaultNeighborConfig, ...config });
  return { clock, counters, requests, flushed, failed, iface, cache };
}

test('unresolved address: one request per second, three in all, then queued packets fail', () => {
  const s = setup();
  const target = ip('192.0.2.1');
  assert.equal(s.cache.lookup(target), null);
  assert.ok(s.cache.enqueue(s.iface, target, Uint8Array.of(1)));
  assert.ok(s.cache.enqueue(s.iface, target, Uint8Array.of(2)));
  assert.deepEqual(s.requests, [[0, target]], 'only one request for two packets');
  s.clock.advance(999);
  assert.equal(s.requests.length, 1);
  s.clock.advance(1);
  assert.equal(s.requests.length, 2);
  s.clock.advance(1000);
  assert.equal(s.requests.length, 3);
  assert.deepEqual(s.failed, []);
  s.clock.advance(1000);
  assert.equal(s.requests.length, 3, 'no fourth request');
  assert.deepEqual(s.failed.map((p) => p[0]), [1, 2]);
  assert.equal(s.cache.get(target)!.state, 'failed');
  assert.equal(s.cache.enqueue(s.iface, target, Uint8Array.of(3)), false, 'failed entry refuses new packets for a while');
  s.clock.advance(defaultNeighborConfig.failedHoldMs);
  assert.equal(s.cache.get(target), undefined, 'failed entry expires');
});

test('a reply flushes the queue in order; the entry goes stale then away', () => {
  const s = setup();
  const target = ip('192.0.2.1');
  s.cache.enqueue(s.iface, target, Uint8Array.of(1));
  s.cache.enqueue(s.iface, target, Uint8Array.of(2));
  const mac = parseMac('02:00:00:00:00:01')!;
  s.cache.learn(s.iface, target, mac, 0, false);
  assert.deepEqual(s.flushed.map((p) => p[0]), [1, 2]);
  assert.deepEqual(s.cache.lookup(target), mac);
  s.clock.advance(defaultNeighborConfig.reachableMs);
  assert.equal(s.cache.get(target)!.state, 'stale');
  assert.deepEqual(s.cache.lookup(target), mac, 'stale entries are still used');
  s.clock.advance(defaultNeighborConfig.staleMs);
  assert.equal(s.cache.get(target), undefined);
  assert.equal(s.requests.length, 1, 'no retries after the reply');
});

test('the queue per address is bounded: the oldest packet is dropped and counted', () => {
  const s = setup({ queuePerEntry: 3 });
  const target = ip('192.0.2.1');
  for (let i = 1; i <= 5; i++) s.cache.enqueue(s.iface, target, Uint8Array.of(i));
  s.cache.learn(s.iface, target, parseMac('02:00:00:00:00:01')!, 0, false);
  assert.deepEqual(s.flushed.map((p) => p[0]), [3, 4, 5]);
  assert.equal(s.counters.drops.get('arp: queue-full'), 2);
});

test('unsolicited information creates nothing; the cache size is bounded', () => {
  const s = setup({ maxEntries: 2 });
  s.cache.learn(s.iface, ip('192.0.2.9'), parseMac('02:00:00:00:00:09')!, 0, false);
  assert.equal(s.cache.size, 0);
  assert.equal(s.counters.drops.get('arp: unsolicited'), 1);
  s.cache.learn(s.iface, ip('192.0.2.10'), parseMac('02:00:00:00:00:0a')!, 0, true);
  s.cache.learn(s.iface, ip('192.0.2.11'), parseMac('02:00:00:00:00:0b')!, 0, true);
  s.cache.learn(s.iface, ip('192.0.2.12'), parseMac('02:00:00:00:00:0c')!, 0, true);
  assert.equal(s.cache.size, 2);
  assert.equal(s.counters.drops.get('arp: cache-full'), 1);
});

test('static entries never expire and are not overwritten by ARP', () => {
  const s = setup();
  const mac = parseMac('02:00:00:00:00:05')!;
  s.cache.addStatic(s.iface, ip('192.0.2.5'), mac);
  s.cache.learn(s.iface, ip('192.0.2.5'), parseMac('02:00:00:00:00:66')!, 0, true);
  s.clock.advance(10 * 60_000);
  assert.deepEqual(s.cache.lookup(ip('192.0.2.5')), mac);
  assert.ok(s.cache.delete(ip('192.0.2.5')));
  assert.equal(s.cache.lookup(ip('192.0.2.5')), null);
});
