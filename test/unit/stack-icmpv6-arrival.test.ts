// ICMPv6 errors to a link-local source leave by the interface the offending packet came in on:
// a link-local address names no interface by itself, and the first interface (or wherever the
// neighbor cache happens to know the address) may be the wrong link. Two capture devices on a
// fake clock; the errors are Port Unreachable, Parameter Problem, Destination Unreachable when
// forwarding, and Time Exceeded when a reassembly times out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseMac } from '../../src/wire/addr.js';
import { parseIpv6, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from '../../src/wire/ipv6.js';
import { emitUdpWith } from '../../src/wire/udp.js';
import { emitFragmentHeader } from '../../src/wire/ipv6-ext.js';
import { pseudoHeaderSum6 } from '../../src/wire/checksum.js';
import { Icmpv6Type } from '../../src/wire/icmpv6.js';
import { intern6 } from '../../src/stack/ip-address.js';

const MAC_A = parseMac('00:00:5e:00:53:01')!;
const MAC_B = parseMac('00:00:5e:00:53:02')!;
const PEER = parseMac('02:00:00:00:00:0b')!;
const PEER_LL = 'fe80::99';

function setup(forwarding = false) {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, forwarding, ipv6: { random: () => 0.5, slaac: false } });
  const a = new CaptureDevice('tapa', MAC_A, 1500);
  const b = new CaptureDevice('tapb', MAC_B, 1500);
  stack.addInterface(a, { address: 0xc0000202, prefixLength: 24 });
  stack.addInterface(b, { address: 0xc6336402, prefixLength: 24 });
  const v6 = stack.ipv6!;
  v6.addAddress(a, stack.devices.indexOf(a), parseIpv6Cidr('2001:db8:1::2/64')!);
  v6.addAddress(b, stack.devices.indexOf(b), parseIpv6Cidr('2001:db8:2::2/64')!);
  stack.start();
  clock.advance(5000); // DAD
  a.take();
  b.take();
  return { clock, stack, a, b };
}

/** A frame from fe80::99 on link B to `dst` with `nextHeader` and `payload` (UDP gets its checksum). */
function frame(dst: string, nextHeader: number, payload: Uint8Array, hopLimit = 64): Uint8Array {
  const f = new Uint8Array(14 + IPV6_HEADER_LENGTH + payload.length);
  emitEthernet(f, 0, MAC_B, PEER, EtherType.IPv6);
  const src = parseIpv6(PEER_LL)!;
  const d = parseIpv6(dst)!;
  emitIpv6Header(f, 14, src, 0, d, 0, nextHeader, payload.length, hopLimit);
  f.set(payload, 14 + IPV6_HEADER_LENGTH);
  if (nextHeader === 17) emitUdpWith(f, 54, { srcPort: 40000, dstPort: 9, payloadLength: payload.length - 8 }, pseudoHeaderSum6(src, 0, d, 0, 17, payload.length));
  return f;
}

/** The ICMPv6 types of the frames that left a device. */
function icmpTypes(frames: Uint8Array[]): number[] {
  return frames.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[14 + 6] === 58).map((f) => f[54]!);
}

/** Answer the solicitation for fe80::99 as the peer on link B would. */
function answerNeighbor(s: ReturnType<typeof setup>): void {
  const v6 = s.stack.ipv6!;
  v6.neighbors.heardSolicitation(v6.interfaceOf(s.b)!, intern6(parseIpv6(PEER_LL)!), PEER, 0);
  s.clock.advance(10);
}

for (const [what, dst, nextHeader, payloadLength, wantType, forwarding, hopLimit] of [
  ['Port Unreachable for a UDP datagram to a closed port', '2001:db8:2::2', 17, 20, Icmpv6Type.DestinationUnreachable, false, 64],
  ['Parameter Problem for an unknown next header', '2001:db8:2::2', 253, 16, Icmpv6Type.ParameterProblem, false, 64],
  ['Parameter Problem to a link-local destination of ours on link B', 'fe80::200:5eff:fe00:5302', 253, 16, Icmpv6Type.ParameterProblem, false, 64],
  ['Destination Unreachable (beyond scope) when forwarding a link-local source', '2001:db8:1::1', 17, 20, Icmpv6Type.DestinationUnreachable, true, 64],
] as const) {
  test(`${what}: the error to ${PEER_LL} leaves by interface B, where the packet came in`, () => {
    const s = setup(forwarding);
    s.b.inject(frame(dst, nextHeader, new Uint8Array(payloadLength), hopLimit));
    s.clock.advance(10);
    const outA = s.a.take();
    const outB = s.b.take();
    assert.deepEqual(icmpTypes(outA), [], 'nothing about it goes out of A');
    // The error waits for address resolution on B: a Neighbor Solicitation (135) goes out there.
    assert.deepEqual(icmpTypes(outB), [Icmpv6Type.NeighborSolicitation]);
    answerNeighbor(s);
    assert.deepEqual(icmpTypes(s.b.take()), [wantType]);
    assert.deepEqual(icmpTypes(s.a.take()), []);
    s.stack.close();
  });
}

test('Time Exceeded (reassembly) for a first fragment from fe80::99 that never got the rest leaves by interface B', () => {
  const s = setup();
  // A first fragment (offset 0, M set) of a UDP datagram to our address on link B.
  const payload = new Uint8Array(8 + 16);
  emitFragmentHeader(payload, 0, 17, 0, true, 0x1234);
  const f = frame('2001:db8:2::2', 44, payload);
  s.b.inject(f);
  s.clock.advance(60_000); // the reassembly timeout
  assert.deepEqual(icmpTypes(s.a.take()), [], 'nothing about it goes out of A');
  assert.deepEqual(icmpTypes(s.b.take()), [Icmpv6Type.NeighborSolicitation]);
  answerNeighbor(s);
  assert.deepEqual(icmpTypes(s.b.take()), [Icmpv6Type.TimeExceeded]);
  s.stack.close();
});
