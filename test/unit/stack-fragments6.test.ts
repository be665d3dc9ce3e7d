// IPv6 reassembly (fragments6.ts) and its bounds on a fake clock: in-order and out-of-order
// completion, overlaps dropping the datagram (RFC 5722), atomic fragments processed on their
// own (RFC 6946), the timeout's Time Exceeded quote, and the datagram, fragment, byte and
// size limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Reassembler6, defaultReassembly6Config, type Fragment6 } from '../../src/stack/fragments6.js';
import type { ReassemblyConfig } from '../../src/stack/fragments.js';
import { Counters } from '../../src/stack/counters.js';
import { Ipv6Interface } from '../../src/stack/ipv6-interface.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH, NextHeader } from '../../src/wire/ipv6.js';
import { emitFragmentHeader, FRAGMENT_HEADER_LENGTH } from '../../src/wire/ipv6-ext.js';
import { parseIpv6 } from '../../src/wire/addr6.js';
import { CaptureDevice } from '../helpers/capture-device.js';

const SRC = parseIpv6('2001:db8::1')!;
const DST = parseIpv6('2001:db8::2')!;
const UDP = 17;

function setup(config: Partial<ReassemblyConfig> = {}) {
  const clock = new FakeClock();
  const counters = new Counters();
  const timedOut: Uint8Array[] = [];
  const iface = new Ipv6Interface(1, new CaptureDevice());
  const r = new Reassembler6(clock.timers, counters, { ...defaultReassembly6Config, ...config }, (first) => timedOut.push(first));
  return { clock, counters, timedOut, iface, r };
}

/** A fragment of `data` at byte `offset` (a multiple of 8), built as it comes off the wire. */
function fragment(data: Uint8Array, offset: number, more: boolean, id = 0x1234, src = SRC): Fragment6 {
  const buf = new Uint8Array(IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH + data.length);
  emitIpv6Header(buf, 0, src, 0, DST, 0, NextHeader.Fragment, FRAGMENT_HEADER_LENGTH + data.length, 64);
  emitFragmentHeader(buf, IPV6_HEADER_LENGTH, UDP, offset, more, id);
  buf.set(data, IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH);
  return {
    buf, ipOffset: 0, fragmentHeaderOffset: IPV6_HEADER_LENGTH, end: buf.length,
    fragmentOffset: offset, moreFragments: more, id, nextHeader: UDP,
  };
}

const payload = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function assertWhole(out: Uint8Array | null, data: Uint8Array): void {
  assert.ok(out !== null, 'reassembled');
  assert.equal(out.length, IPV6_HEADER_LENGTH + data.length);
  assert.equal(out[6], UDP, 'the next header is the fragments\' own, the Fragment header gone');
  assert.equal((out[4]! << 8) | out[5]!, data.length, 'payload length rewritten');
  assert.deepEqual(out.subarray(IPV6_HEADER_LENGTH), data);
}

test('three fragments in any order make the packet; the state is freed', () => {
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
    const s = setup();
    const data = payload(3000);
    const frags = [fragment(data.subarray(0, 1232), 0, true), fragment(data.subarray(1232, 2464), 1232, true), fragment(data.subarray(2464), 2464, false)];
    let out: Uint8Array | null = null;
    for (const [k, i] of order.entries()) {
      out = s.r.add(frags[i]!, s.iface);
      if (k < 2) assert.equal(out, null);
    }
    assertWhole(out, data);
    assert.equal(s.r.datagrams, 0);
    assert.equal(s.r.bufferedBytes, 0);
  }
});

test('an exact duplicate is ignored; any overlap drops the whole datagram (RFC 5722)', () => {
  const s = setup();
  const data = payload(2000);
  assert.equal(s.r.add(fragment(data.subarray(0, 1000), 0, true), s.iface), null);
  assert.equal(s.r.add(fragment(data.subarray(0, 1000), 0, true), s.iface), null);
  assert.equal(s.counters.drops.get('reassembly6: duplicate'), 1);
  assert.equal(s.r.datagrams, 1, 'a duplicate keeps the datagram');
  assertWhole(s.r.add(fragment(data.subarray(1000), 1000, false), s.iface), data);

  const o = setup();
  assert.equal(o.r.add(fragment(data.subarray(0, 1000), 0, true), o.iface), null);
  assert.equal(o.r.add(fragment(data.subarray(992, 1504), 992, true), o.iface), null, 'overlaps the first by 8 bytes');
  assert.equal(o.counters.drops.get('reassembly6: overlap'), 1);
  assert.equal(o.r.datagrams, 0, 'the datagram is gone');
  assert.equal(o.r.bufferedBytes, 0);
  // What was left of it cannot complete a packet.
  assert.equal(o.r.add(fragment(data.subarray(1000), 1000, false), o.iface), null);

  const inside = setup();
  inside.r.add(fragment(data.subarray(0, 1000), 0, true), inside.iface);
  assert.equal(inside.r.add(fragment(data.subarray(8, 16), 8, true), inside.iface), null, 'a fragment inside another');
  assert.equal(inside.counters.drops.get('reassembly6: overlap'), 1);
});

test('an atomic fragment (offset 0, M clear) is a packet of its own and leaves pending datagrams alone (RFC 6946)', () => {
  const s = setup();
  const small = payload(100, 3);
  assertWhole(s.r.add(fragment(small, 0, false, 7), s.iface), small);
  assert.equal(s.r.datagrams, 0);
  // A pending datagram with the same identification is not disturbed by an atomic fragment.
  const data = payload(2000);
  s.r.add(fragment(data.subarray(1000), 1000, false, 9), s.iface);
  assertWhole(s.r.add(fragment(small, 0, false, 9), s.iface), small);
  assert.equal(s.r.datagrams, 1, 'the pending datagram is still there');
  assertWhole(s.r.add(fragment(data.subarray(0, 1000), 0, true, 9), s.iface), data);
  assert.equal(s.counters.drops.get('reassembly6: overlap'), undefined);
});

test('timeout: the datagram is dropped after 60 s; Time Exceeded quotes the first fragment only when it came', () => {
  const s = setup();
  const data = payload(2000);
  s.r.add(fragment(data.subarray(0, 1000), 0, true, 1), s.iface);
  s.r.add(fragment(data.subarray(1000), 1000, false, 2), s.iface);
  s.clock.advance(defaultReassembly6Config.timeoutMs - 1);
  assert.equal(s.r.datagrams, 2);
  s.clock.advance(1);
  assert.equal(s.r.datagrams, 0);
  assert.equal(s.r.bufferedBytes, 0);
  assert.equal(s.counters.drops.get('reassembly6: timeout'), 2);
  assert.equal(s.timedOut.length, 1, 'only the datagram whose first fragment came');
  const quote = s.timedOut[0]!;
  assert.equal(quote[6], NextHeader.Fragment, 'the quote is the fragment as received');
  assert.equal(quote.length, IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH + 1000);
});

test('limits: datagrams (oldest evicted), fragments per datagram, buffered bytes, 65535-byte payload', () => {
  const data = payload(2000);
  const d = setup({ maxDatagrams: 2 });
  for (let id = 1; id <= 3; id++) d.r.add(fragment(data.subarray(0, 1000), 0, true, id), d.iface);
  assert.equal(d.r.datagrams, 2);
  assert.equal(d.counters.drops.get('reassembly6: evicted-datagram-limit'), 1);
  assert.equal(d.r.add(fragment(data.subarray(1000), 1000, false, 1), d.iface), null, 'datagram 1 was the one evicted');
  assertWhole(d.r.add(fragment(data.subarray(1000), 1000, false, 3), d.iface), data);

  const f = setup({ maxFragmentsPerDatagram: 4 });
  for (let i = 0; i < 4; i++) assert.equal(f.r.add(fragment(payload(8), 8 * i, true), f.iface), null);
  assert.equal(f.r.add(fragment(payload(8), 32, true), f.iface), null);
  assert.equal(f.counters.drops.get('reassembly6: too-many-fragments'), 1);
  assert.equal(f.r.datagrams, 0);

  const b = setup({ maxBytes: 2500 });
  b.r.add(fragment(data.subarray(0, 1000), 0, true, 1), b.iface);
  b.r.add(fragment(data.subarray(0, 1000), 0, true, 2), b.iface);
  assert.equal(b.r.bufferedBytes, 2000);
  b.r.add(fragment(data.subarray(0, 1000), 0, true, 3), b.iface);
  assert.equal(b.r.bufferedBytes, 2000, 'the oldest gave way');
  assert.equal(b.counters.drops.get('reassembly6: evicted-memory-limit'), 1);
  assert.equal(b.r.datagrams, 2);
  const alone = setup({ maxBytes: 1000 });
  assert.equal(alone.r.add(fragment(payload(8), 65528 - 8, true), alone.iface), null);
  assert.equal(alone.counters.drops.get('reassembly6: memory-limit'), 1, 'one datagram bigger than the whole budget');
  assert.equal(alone.r.bufferedBytes, 0);

  const o = setup();
  assert.equal(o.r.add(fragment(payload(16), 65528, false), o.iface), null);
  assert.equal(o.counters.drops.get('reassembly6: oversized'), 1);
  assert.equal(o.r.datagrams, 0);
});

test('inconsistent ends: a second last fragment with another length, data past the end, an empty middle fragment', () => {
  const data = payload(2000);
  const c = setup();
  c.r.add(fragment(data.subarray(1000), 1000, false), c.iface);
  c.r.add(fragment(data.subarray(1000, 1504), 1000, false), c.iface);
  assert.equal(c.counters.drops.get('reassembly6: conflicting-length'), 1);
  assert.equal(c.r.datagrams, 0);

  const p = setup();
  p.r.add(fragment(data.subarray(0, 1000), 1000, false), p.iface);
  p.r.add(fragment(data.subarray(0, 1000), 2000, true), p.iface);
  assert.equal(p.counters.drops.get('reassembly6: past-end'), 1);

  const e = setup();
  assert.equal(e.r.add(fragment(new Uint8Array(0), 8, true), e.iface), null);
  assert.equal(e.counters.drops.get('reassembly6: bad-fragment-length'), 1);
  assert.equal(e.r.datagrams, 0);
});

test('fragments of different sources with one identification are kept apart', () => {
  const s = setup();
  const a = payload(2000, 1);
  const b = payload(2000, 2);
  const other = parseIpv6('2001:db8::99')!;
  s.r.add(fragment(a.subarray(0, 1000), 0, true, 5), s.iface);
  s.r.add(fragment(b.subarray(0, 1000), 0, true, 5, other), s.iface);
  assert.equal(s.r.datagrams, 2);
  assertWhole(s.r.add(fragment(b.subarray(1000), 1000, false, 5, other), s.iface), b);
  assertWhole(s.r.add(fragment(a.subarray(1000), 1000, false, 5), s.iface), a);
});
