// The IPv6 neighbor cache's NUD state machine (RFC 4861 7.3, appendix C) on a fake clock:
// INCOMPLETE with a queue and retransmitted solicitations, REACHABLE -> STALE -> DELAY ->
// PROBE -> FAILED or back to REACHABLE, the FAILED hold (packets refused at once, no new
// solicitation until it ends, revived by the neighbor), the advertisement rules of 7.2.5, and
// the bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Neighbor6Cache, defaultNeighbor6Config, type Neighbor6Config, type Neighbor6Entry } from '../../src/stack/neighbors6.js';
import { Counters } from '../../src/stack/counters.js';
import { Ipv6Interface } from '../../src/stack/ipv6-interface.js';
import { intern6 } from '../../src/stack/ip-address.js';
import { parseIpv6 } from '../../src/wire/addr6.js';
import { parseMac } from '../../src/wire/addr.js';
import { CaptureDevice } from '../helpers/capture-device.js';

const ip6 = (s: string) => intern6(parseIpv6(s)!);
const MAC1 = parseMac('02:00:00:00:00:01')!;
const MAC2 = parseMac('02:00:00:00:00:02')!;
const TARGET = ip6('2001:db8::1');
const cfg = defaultNeighbor6Config;

function setup(config: Partial<Neighbor6Config> = {}) {
  const clock = new FakeClock();
  const counters = new Counters();
  const solicits: Array<{ at: number; unicast: boolean }> = [];
  const flushed: number[] = [];
  const failed: number[] = [];
  const refused: number[] = [];
  const iface = new Ipv6Interface(1, new CaptureDevice());
  const cache = new Neighbor6Cache(clock.timers, {
    solicit: (_e: Neighbor6Entry, unicast: boolean) => solicits.push({ at: clock.now(), unicast }),
    flushQueue: (_e, p) => flushed.push(...p.map((x) => x[0]!)),
    resolutionFailed: (_e, p) => failed.push(...p.map((x) => x[0]!)),
    refusedWhileFailed: (_e, p) => refused.push(p[0]!),
  }, counters, { ...cfg, ...config });
  return { clock, counters, solicits, flushed, failed, refused, iface, cache };
}

const solicited = { solicited: true, override: true, router: false };

/** A cache with TARGET resolved to MAC1 and REACHABLE at time 0. */
function reachable(config: Partial<Neighbor6Config> = {}) {
  const s = setup(config);
  s.cache.enqueue(s.iface, TARGET, Uint8Array.of(1));
  s.cache.heardAdvertisement(TARGET, MAC1, 0, solicited);
  assert.equal(s.cache.get(TARGET)!.state, 'reachable');
  s.solicits.length = 0;
  s.flushed.length = 0;
  return s;
}

test('INCOMPLETE: one multicast solicitation per RetransTimer, three in all, then the queue fails', () => {
  const s = setup();
  assert.equal(s.cache.resolve(TARGET), null);
  assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(1)));
  assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(2)));
  assert.equal(s.cache.get(TARGET)!.state, 'incomplete');
  assert.deepEqual(s.solicits, [{ at: 0, unicast: false }], 'one solicitation for two packets');
  assert.equal(s.cache.resolve(TARGET), null, 'still unresolved');
  s.clock.advance(cfg.retransmitMs - 1);
  assert.equal(s.solicits.length, 1);
  s.clock.advance(1);
  s.clock.advance(cfg.retransmitMs);
  assert.deepEqual(s.solicits, [
    { at: 0, unicast: false }, { at: cfg.retransmitMs, unicast: false }, { at: 2 * cfg.retransmitMs, unicast: false },
  ]);
  assert.equal(s.failed.length, 0);
  s.clock.advance(cfg.retransmitMs);
  assert.equal(s.solicits.length, 3, 'MAX_MULTICAST_SOLICIT is 3');
  assert.deepEqual(s.failed, [1, 2], 'queued packets reported in order');
  assert.equal(s.cache.get(TARGET)!.state, 'failed', 'held as FAILED');
  assert.equal(s.cache.resolve(TARGET), null);
  s.clock.advance(cfg.failedHoldMs);
  assert.equal(s.cache.get(TARGET), undefined, 'the entry is gone after the hold');
  assert.equal(s.flushed.length, 0);
});

test('FAILED hold: sends are refused at once as unreachable with no solicitation; after the hold, resolution starts afresh', () => {
  const s = setup({ failedHoldMs: 3000 });
  s.cache.enqueue(s.iface, TARGET, Uint8Array.of(1));
  s.clock.advance(cfg.retransmitMs * cfg.maxMulticastSolicit);
  assert.equal(s.cache.get(TARGET)!.state, 'failed');
  assert.deepEqual(s.failed, [1]);
  const solicitations = s.solicits.length;
  // Within the hold: each packet is refused at once (the caller answers Address Unreachable), none queued, none solicited.
  assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(2)));
  s.clock.advance(1000);
  assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(3)));
  assert.deepEqual(s.refused, [2, 3]);
  assert.equal(s.solicits.length, solicitations, 'no solicitation during the hold');
  assert.equal(s.cache.get(TARGET)!.queue.length, 0);
  assert.equal(s.counters.drops.get('ndp: failed-hold'), 2);
  // Upper-layer confirmation does not revive a FAILED entry.
  s.cache.confirm(TARGET);
  assert.equal(s.cache.get(TARGET)!.state, 'failed');
  s.clock.advance(1999);
  assert.equal(s.cache.get(TARGET)!.state, 'failed', 'held 3 s from the failure');
  s.clock.advance(1);
  assert.equal(s.cache.get(TARGET), undefined);
  assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(4)));
  assert.equal(s.cache.get(TARGET)!.state, 'incomplete');
  assert.equal(s.solicits.length, solicitations + 1, 'a fresh multicast solicitation');
  assert.deepEqual(s.refused, [2, 3]);
});

test('FAILED hold: a solicitation or an advertisement from the neighbor revives the entry', () => {
  const s = setup();
  s.cache.enqueue(s.iface, TARGET, Uint8Array.of(1));
  s.clock.advance(cfg.retransmitMs * cfg.maxMulticastSolicit);
  assert.equal(s.cache.get(TARGET)!.state, 'failed');
  s.cache.heardAdvertisement(TARGET, MAC2, 0, solicited);
  assert.equal(s.cache.get(TARGET)!.state, 'reachable');
  assert.deepEqual(s.cache.resolve(TARGET), MAC2);
  const other = ip6('2001:db8::2');
  s.cache.enqueue(s.iface, other, Uint8Array.of(2));
  s.clock.advance(cfg.retransmitMs * cfg.maxMulticastSolicit);
  assert.equal(s.cache.get(other)!.state, 'failed');
  s.cache.heardSolicitation(s.iface, other, MAC1, 0);
  assert.equal(s.cache.get(other)!.state, 'stale');
  assert.deepEqual(s.cache.resolve(other), MAC1);
  // An advertisement without a link-layer address has nothing to resolve with.
  const third = ip6('2001:db8::3');
  s.cache.enqueue(s.iface, third, Uint8Array.of(3));
  s.clock.advance(cfg.retransmitMs * cfg.maxMulticastSolicit);
  s.cache.heardAdvertisement(third, null, 0, solicited);
  assert.equal(s.cache.get(third)!.state, 'failed');
});

test('INCOMPLETE: the queue is bounded, the oldest packet giving way', () => {
  const s = setup({ queuePerEntry: 3 });
  for (let i = 1; i <= 5; i++) assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(i)));
  assert.equal(s.counters.drops.get('ndp: queue-full'), 2);
  s.cache.heardAdvertisement(TARGET, MAC1, 0, solicited);
  assert.deepEqual(s.flushed, [3, 4, 5]);
});

test('INCOMPLETE -> REACHABLE on a solicited advertisement; STALE on an unsolicited one; both flush', () => {
  const s = setup();
  s.cache.enqueue(s.iface, TARGET, Uint8Array.of(7));
  s.cache.heardAdvertisement(TARGET, MAC1, 0, solicited);
  assert.equal(s.cache.get(TARGET)!.state, 'reachable');
  assert.deepEqual(s.flushed, [7]);
  assert.deepEqual(s.cache.resolve(TARGET), MAC1);

  const u = setup();
  u.cache.enqueue(u.iface, TARGET, Uint8Array.of(8));
  u.cache.heardAdvertisement(TARGET, MAC2, 0, { solicited: false, override: true, router: true });
  const e = u.cache.get(TARGET)!;
  assert.equal(e.state, 'stale');
  assert.ok(e.isRouter);
  assert.deepEqual(u.flushed, [8]);
  assert.deepEqual(e.mac, MAC2);

  const n = setup();
  n.cache.enqueue(n.iface, TARGET, Uint8Array.of(9));
  n.cache.heardAdvertisement(TARGET, null, 0, solicited);
  assert.equal(n.cache.get(TARGET)!.state, 'incomplete', 'an advertisement without a link-layer address resolves nothing');
  assert.equal(n.flushed.length, 0);
});

test('an advertisement for an address we hold no entry for creates none', () => {
  const s = setup();
  s.cache.heardAdvertisement(TARGET, MAC1, 0, solicited);
  s.cache.heardAdvertisement(TARGET, MAC1, 0, { solicited: false, override: true, router: false });
  assert.equal(s.cache.get(TARGET), undefined);
  assert.equal(s.cache.size, 0);
  assert.equal(s.counters.drops.get('ndp: unsolicited-advertisement'), 2);
});

test('REACHABLE -> STALE after ReachableTime; a send starts DELAY; PROBE then back to REACHABLE on a solicited NA', () => {
  const s = reachable();
  s.clock.advance(cfg.reachableMs - 1);
  assert.equal(s.cache.get(TARGET)!.state, 'reachable');
  s.clock.advance(1);
  assert.equal(s.cache.get(TARGET)!.state, 'stale');
  assert.equal(s.solicits.length, 0, 'STALE sends nothing by itself');
  s.clock.advance(1000);
  assert.deepEqual(s.cache.resolve(TARGET), MAC1, 'a STALE entry is still used');
  assert.equal(s.cache.get(TARGET)!.state, 'delay');
  s.clock.advance(cfg.delayFirstProbeMs - 1);
  assert.equal(s.cache.get(TARGET)!.state, 'delay');
  assert.equal(s.solicits.length, 0);
  s.clock.advance(1);
  assert.equal(s.cache.get(TARGET)!.state, 'probe');
  assert.equal(s.solicits.length, 1);
  assert.equal(s.solicits[0]!.unicast, true, 'PROBE solicits by unicast');
  s.cache.heardAdvertisement(TARGET, MAC1, 0, solicited);
  assert.equal(s.cache.get(TARGET)!.state, 'reachable');
  s.clock.advance(10 * cfg.retransmitMs);
  assert.equal(s.solicits.length, 1, 'no more probes once confirmed');
});

test('DELAY -> REACHABLE on upper-layer confirmation, without probing', () => {
  const s = reachable();
  s.clock.advance(cfg.reachableMs);
  s.cache.resolve(TARGET);
  assert.equal(s.cache.get(TARGET)!.state, 'delay');
  s.cache.confirm(TARGET);
  assert.equal(s.cache.get(TARGET)!.state, 'reachable');
  s.clock.advance(cfg.delayFirstProbeMs);
  assert.equal(s.solicits.length, 0);
});

test('PROBE: MAX_UNICAST_SOLICIT probes one RetransTimer apart, then FAILED for the hold, then removed', () => {
  const s = reachable();
  s.clock.advance(cfg.reachableMs);
  s.cache.resolve(TARGET);
  s.clock.advance(cfg.delayFirstProbeMs);
  const t0 = s.clock.now();
  s.clock.advance(cfg.retransmitMs * cfg.maxUnicastSolicit - 1);
  assert.deepEqual(s.solicits.map((x) => [x.at - t0, x.unicast]), [[0, true], [cfg.retransmitMs, true], [2 * cfg.retransmitMs, true]]);
  assert.equal(s.cache.get(TARGET)!.state, 'probe');
  s.clock.advance(1);
  assert.equal(s.cache.get(TARGET)!.state, 'failed', 'unreachable: FAILED');
  assert.equal(s.solicits.length, 3);
  s.clock.advance(cfg.failedHoldMs);
  assert.equal(s.cache.get(TARGET), undefined, 'the entry goes after the hold');
  // The next packet starts resolution afresh.
  assert.ok(s.cache.enqueue(s.iface, TARGET, Uint8Array.of(5)));
  assert.equal(s.cache.get(TARGET)!.state, 'incomplete');
  assert.equal(s.solicits.at(-1)!.unicast, false);
});

test('an unused STALE entry is collected after staleMs', () => {
  const s = reachable();
  s.clock.advance(cfg.reachableMs);
  assert.equal(s.cache.get(TARGET)!.state, 'stale');
  s.clock.advance(cfg.staleMs - 1);
  assert.ok(s.cache.get(TARGET) !== undefined);
  s.clock.advance(1);
  assert.equal(s.cache.get(TARGET), undefined);
  assert.equal(s.failed.length, 0, 'nothing was queued');
});

test('RFC 4861 7.2.5: without the override flag a different address is not taken; REACHABLE becomes STALE', () => {
  const s = reachable();
  s.cache.heardAdvertisement(TARGET, MAC2, 0, { solicited: true, override: false, router: false });
  const e = s.cache.get(TARGET)!;
  assert.deepEqual(e.mac, MAC1, 'address kept');
  assert.equal(e.state, 'stale');
  // The same address without override is a plain confirmation.
  s.cache.heardAdvertisement(TARGET, MAC1, 0, { solicited: true, override: false, router: false });
  assert.equal(e.state, 'reachable');
  // STALE stays STALE (not changed to REACHABLE) on a non-override different address.
  s.clock.advance(cfg.reachableMs);
  assert.equal(e.state, 'stale');
  s.cache.heardAdvertisement(TARGET, MAC2, 0, { solicited: false, override: false, router: false });
  assert.equal(e.state, 'stale');
  assert.deepEqual(e.mac, MAC1);
});

test('RFC 4861 7.2.5: with override a different address is taken: REACHABLE when solicited, STALE when not', () => {
  const s = reachable();
  s.cache.heardAdvertisement(TARGET, MAC2, 0, { solicited: false, override: true, router: true });
  const e = s.cache.get(TARGET)!;
  assert.deepEqual(e.mac, MAC2);
  assert.equal(e.state, 'stale');
  assert.ok(e.isRouter, 'the R flag is recorded');
  s.cache.heardAdvertisement(TARGET, MAC1, 0, { solicited: true, override: true, router: false });
  assert.deepEqual(e.mac, MAC1);
  assert.equal(e.state, 'reachable');
  assert.equal(e.isRouter, false);
  // Unsolicited, same address, override: no state change (nothing new learned).
  s.clock.advance(cfg.reachableMs);
  assert.equal(e.state, 'stale');
  s.cache.heardAdvertisement(TARGET, MAC1, 0, { solicited: false, override: true, router: false });
  assert.equal(e.state, 'stale');
});

test('a solicitation aimed at us creates a STALE entry, completes an INCOMPLETE one, and a new address makes it STALE', () => {
  const s = setup();
  s.cache.heardSolicitation(s.iface, TARGET, MAC1, 0);
  assert.equal(s.cache.get(TARGET)!.state, 'stale');
  assert.deepEqual(s.cache.get(TARGET)!.mac, MAC1);

  const t = setup();
  t.cache.enqueue(t.iface, TARGET, Uint8Array.of(3));
  t.cache.heardSolicitation(t.iface, TARGET, MAC1, 0);
  assert.equal(t.cache.get(TARGET)!.state, 'stale');
  assert.deepEqual(t.flushed, [3]);

  const r = reachable();
  r.cache.heardSolicitation(r.iface, TARGET, MAC1, 0);
  assert.equal(r.cache.get(TARGET)!.state, 'reachable', 'the same address changes nothing');
  r.cache.heardSolicitation(r.iface, TARGET, MAC2, 0);
  assert.equal(r.cache.get(TARGET)!.state, 'stale');
  assert.deepEqual(r.cache.get(TARGET)!.mac, MAC2);
});

test('the cache is bounded: new entries are refused (and counted) when full', () => {
  const s = setup({ maxEntries: 2 });
  assert.ok(s.cache.enqueue(s.iface, ip6('2001:db8::a'), Uint8Array.of(1)));
  s.cache.heardSolicitation(s.iface, ip6('2001:db8::b'), MAC1, 0);
  assert.equal(s.cache.enqueue(s.iface, ip6('2001:db8::c'), Uint8Array.of(2)), false);
  s.cache.heardSolicitation(s.iface, ip6('2001:db8::d'), MAC2, 0);
  assert.equal(s.cache.size, 2);
  assert.equal(s.counters.drops.get('ndp: cache-full'), 2);
  assert.equal(s.solicits.length, 1, 'no solicitation for a refused address');
});

test('delete and clear disarm the timers: nothing fires afterwards', () => {
  const s = setup();
  s.cache.enqueue(s.iface, TARGET, Uint8Array.of(1));
  s.cache.heardSolicitation(s.iface, ip6('2001:db8::b'), MAC1, 0);
  assert.ok(s.cache.delete(TARGET));
  assert.deepEqual(s.failed, [1], 'a deleted INCOMPLETE entry reports its queue');
  s.cache.clear();
  s.clock.advance(10 * cfg.staleMs);
  assert.equal(s.solicits.length, 1);
  assert.equal(s.cache.size, 0);
});
