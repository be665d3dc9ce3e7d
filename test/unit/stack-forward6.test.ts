// The stack as an IPv6 router (forward6.ts) between two capture devices on a fake clock: the
// hop limit, Time Exceeded, Packet Too Big with the next link's MTU, no route, link-local
// sources (beyond scope) and destinations, multicast, forwarding off, Address Unreachable
// after Neighbor Discovery fails, and the rate limit on the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseMac } from '../../src/wire/addr.js';
import { parseIpv6, ipv6ToString, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from '../../src/wire/ipv6.js';
import { Icmpv6Type } from '../../src/wire/icmpv6.js';
import { intern6 } from '../../src/stack/ip-address.js';

const MAC_A = parseMac('00:00:5e:00:53:01')!;
const MAC_B = parseMac('00:00:5e:00:53:02')!;
const HOST_A = parseMac('02:00:00:00:00:0a')!; // 2001:db8:1::1
const HOST_B = parseMac('02:00:00:00:00:0b')!; // 2001:db8:2::1
const UDP = 17;

function setup(opts: { forwarding?: boolean; mtuB?: number } = {}) {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, forwarding: opts.forwarding ?? true, ipv6: { random: () => 0.5 } });
  const a = new CaptureDevice('tapa', MAC_A, 1500);
  const b = new CaptureDevice('tapb', MAC_B, opts.mtuB ?? 1500);
  stack.addInterface(a, { address: 0xc0000202, prefixLength: 24 });
  stack.addInterface(b, { address: 0xc6336402, prefixLength: 24 });
  const v6 = stack.ipv6!;
  v6.addAddress(a, stack.devices.indexOf(a), parseIpv6Cidr('2001:db8:1::2/64')!);
  v6.addAddress(b, stack.devices.indexOf(b), parseIpv6Cidr('2001:db8:2::2/64')!);
  stack.start();
  clock.advance(5000); // DAD
  // Both hosts are known neighbors (as after they solicited us).
  v6.neighbors.heardSolicitation(v6.interfaceOf(a)!, intern6(parseIpv6('2001:db8:1::1')!), HOST_A, 0);
  v6.neighbors.heardSolicitation(v6.interfaceOf(b)!, intern6(parseIpv6('2001:db8:2::1')!), HOST_B, 0);
  a.take();
  b.take();
  return { clock, stack, a, b };
}

interface PacketOpts {
  src?: string;
  dst?: string;
  hopLimit?: number;
  size?: number;
  ethDst?: Uint8Array;
}

/** A frame from host A to `dst` (default host B) with a UDP-numbered payload of `size` bytes. */
function frameFromA(o: PacketOpts = {}): Uint8Array {
  const size = o.size ?? 100;
  const f = new Uint8Array(14 + IPV6_HEADER_LENGTH + size);
  emitEthernet(f, 0, o.ethDst ?? MAC_A, HOST_A, EtherType.IPv6);
  emitIpv6Header(f, 14, parseIpv6(o.src ?? '2001:db8:1::1')!, 0, parseIpv6(o.dst ?? '2001:db8:2::1')!, 0, UDP, size, o.hopLimit ?? 64);
  for (let i = 0; i < size; i++) f[14 + IPV6_HEADER_LENGTH + i] = i & 0xff;
  return f;
}

interface Icmp6Seen { src: string; dst: string; type: number; code: number; rest: number; quoteHopLimit: number }

/** The ICMPv6 messages (not Neighbor Discovery) among `frames`. */
function icmpErrors(frames: Uint8Array[]): Icmp6Seen[] {
  const out: Icmp6Seen[] = [];
  for (const f of frames) {
    if (((f[12]! << 8) | f[13]!) !== EtherType.IPv6 || f[14 + 6] !== 58) continue;
    const t = 14 + IPV6_HEADER_LENGTH;
    if (f[t]! >= 128) continue;
    out.push({
      src: ipv6ToString(f, 14 + 8), dst: ipv6ToString(f, 14 + 24), type: f[t]!, code: f[t + 1]!,
      rest: ((f[t + 4]! << 24) | (f[t + 5]! << 16) | (f[t + 6]! << 8) | f[t + 7]!) >>> 0,
      quoteHopLimit: f[t + 8 + 7]!,
    });
  }
  return out;
}

test('a packet for B leaves on link B to B\'s MAC with the hop limit one less, bytes otherwise unchanged', () => {
  const s = setup();
  const f = frameFromA({ hopLimit: 2 });
  s.a.inject(f);
  const out = s.b.take();
  assert.equal(out.length, 1);
  const g = out[0]!;
  assert.deepEqual(g.subarray(0, 6), HOST_B);
  assert.deepEqual(g.subarray(6, 12), MAC_B);
  assert.equal(g[14 + 7], 1, 'hop limit decremented');
  const expected = f.slice(14);
  expected[7] = 1;
  assert.deepEqual(g.subarray(14, 14 + expected.length), expected);
  assert.equal(s.a.take().length, 0);
  assert.equal(s.stack.counters.ip6Forwarded, 1);
});

test('hop limit 1 or 0: Time Exceeded code 0 from our address on A\'s link, nothing forwarded', () => {
  for (const hopLimit of [1, 0]) {
    const s = setup();
    s.a.inject(frameFromA({ hopLimit }));
    assert.equal(s.b.take().length, 0);
    const errs = icmpErrors(s.a.take());
    assert.deepEqual(errs.map((e) => [e.src, e.dst, e.type, e.code, e.quoteHopLimit]),
      [['2001:db8:1::2', '2001:db8:1::1', Icmpv6Type.TimeExceeded, 0, hopLimit]]);
    assert.equal(s.stack.counters.drops.get('forward6: hop-limit-exceeded'), 1);
  }
});

test('larger than link B\'s MTU: Packet Too Big with that MTU; never fragmented; a fitting one passes', () => {
  const s = setup({ mtuB: 1400 });
  s.a.inject(frameFromA({ size: 1361 }));
  assert.equal(s.b.take().length, 0);
  const errs = icmpErrors(s.a.take());
  assert.deepEqual(errs.map((e) => [e.src, e.type, e.code, e.rest]), [['2001:db8:1::2', Icmpv6Type.PacketTooBig, 0, 1400]]);
  s.a.inject(frameFromA({ size: 1360 }));
  assert.equal(s.b.take().length, 1, 'exactly the MTU fits');
});

test('Packet Too Big is not limited per destination (path MTU discovery needs every one)', () => {
  const s = setup({ mtuB: 1280 });
  for (let i = 0; i < 5; i++) {
    s.clock.advance(10);
    s.a.inject(frameFromA({ size: 1300 }));
  }
  assert.equal(icmpErrors(s.a.take()).length, 5);
});

test('no route: Destination Unreachable code 0; the errors are rate-limited per destination', () => {
  const s = setup();
  s.a.inject(frameFromA({ dst: '2001:db8:3::1' }));
  const errs = icmpErrors(s.a.take());
  assert.deepEqual(errs.map((e) => [e.src, e.type, e.code]), [['2001:db8:1::2', Icmpv6Type.DestinationUnreachable, 0]]);
  for (let i = 0; i < 50; i++) s.a.inject(frameFromA({ dst: '2001:db8:3::1' }));
  const more = icmpErrors(s.a.take()).length;
  assert.ok(more < 50, `rate-limited: ${more} of 50 answered`);
  assert.ok(s.stack.counters.icmp6ErrorsRateLimited > 0);
  assert.equal(s.stack.counters.drops.get('forward6: no-route'), 51);
});

test('a link-local source is not forwarded: Destination Unreachable code 2 (beyond scope)', () => {
  const s = setup();
  // A's link-local address is known (the error to it needs no resolution first).
  s.stack.ipv6!.neighbors.heardSolicitation(s.stack.ipv6!.interfaceOf(s.a)!, intern6(parseIpv6('fe80::a')!), HOST_A, 0);
  s.a.inject(frameFromA({ src: 'fe80::a' }));
  assert.equal(s.b.take().length, 0);
  const errs = icmpErrors(s.a.take());
  assert.deepEqual(errs.map((e) => [e.dst, e.type, e.code]), [['fe80::a', Icmpv6Type.DestinationUnreachable, 2]]);
});

test('link-local and multicast destinations are never forwarded, and draw no error', () => {
  const s = setup();
  s.a.inject(frameFromA({ dst: 'fe80::b' }));
  s.a.inject(frameFromA({ dst: 'ff0e::1', ethDst: parseMac('33:33:00:00:00:01')! }));
  s.a.inject(frameFromA({ dst: 'ff02::1', ethDst: parseMac('33:33:00:00:00:01')! }));
  assert.equal(s.b.take().length, 0);
  assert.equal(icmpErrors(s.a.take()).length, 0);
  assert.equal(s.stack.counters.ip6Forwarded, 0);
  assert.equal(s.stack.counters.drops.get('forward6: link-local-destination'), 1);
});

test('forwarding off: a packet not for us is dropped silently', () => {
  const s = setup({ forwarding: false });
  s.a.inject(frameFromA());
  assert.equal(s.b.take().length, 0);
  assert.equal(s.a.take().length, 0);
  assert.equal(s.stack.counters.drops.get('ipv6: not-for-us'), 1);
});

test('a silent host on B\'s network: solicitations, then Address Unreachable (code 3) to A', () => {
  const s = setup();
  s.a.inject(frameFromA({ dst: '2001:db8:2::77' }));
  // Router solicitations and MLD reports of the layer's own start may go out beside them.
  const solicitations = (frames: Uint8Array[]) => frames.filter((f) => f[14 + 6] === 58 && f[14 + 40] === 135).length;
  assert.equal(solicitations(s.b.take()), 1, 'a Neighbor Solicitation');
  assert.equal(icmpErrors(s.a.take()).length, 0, 'no error while resolving');
  s.clock.advance(3000);
  assert.equal(solicitations(s.b.take()), 2, 'two more solicitations');
  const errs = icmpErrors(s.a.take());
  assert.deepEqual(errs.map((e) => [e.src, e.dst, e.type, e.code]), [['2001:db8:1::2', '2001:db8:1::1', Icmpv6Type.DestinationUnreachable, 3]]);
});

test('back to the sender on the same link: dropped, not bounced', () => {
  const s = setup();
  s.stack.ipv6!.neighbors.heardSolicitation(s.stack.ipv6!.interfaceOf(s.b)!, intern6(parseIpv6('2001:db8:2::5')!), HOST_B, 0);
  s.b.inject(frameFromA({ src: '2001:db8:2::5', dst: '2001:db8:2::5' }).map((x, i) => (i >= 6 && i < 12 ? HOST_B[i - 6]! : i < 6 ? MAC_B[i]! : x)));
  assert.equal(s.b.take().length, 0);
  assert.equal(s.stack.counters.drops.get('forward6: back-to-sender'), 1);
});
