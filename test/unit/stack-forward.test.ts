// The stack as a router (RFC 1812) between two capture devices on a fake clock: TTL and the
// incremental checksum, Time Exceeded, Net/Host Unreachable, Fragmentation Needed with the
// next-hop MTU, fragmenting on the way, Record Route, what is never forwarded, and routes
// added and removed at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac, ipv4ToString, macToString } from '../../src/wire/addr.js';
import { emitEthernet, EtherType, EthernetFrame } from '../../src/wire/ethernet.js';
import { emitArp, ArpPacket } from '../../src/wire/arp.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { IcmpPacket, emitIcmpHeader, echoRest } from '../../src/wire/icmp.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { walkIpv4Options, readRecordRoute, buildRecordRouteOption } from '../../src/wire/ipv4-options.js';
import { createSocket } from '../../src/api/dgram.js';

const ip = (s: string) => parseIpv4(s)!;
const MAC_A = parseMac('00:00:5e:00:53:01')!; // our side of link A
const MAC_B = parseMac('00:00:5e:00:53:02')!; // our side of link B
const HOST_A = parseMac('02:00:00:00:00:0a')!; // 192.0.2.1
const HOST_B = parseMac('02:00:00:00:00:0b')!; // 198.51.100.1
const BCAST = parseMac('ff:ff:ff:ff:ff:ff')!;

function setup(opts: { forwarding?: boolean; mtuB?: number } = {}) {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, forwarding: opts.forwarding ?? true });
  const a = new CaptureDevice('tapa', MAC_A, 1500);
  const b = new CaptureDevice('tapb', MAC_B, opts.mtuB ?? 1500);
  stack.addInterface(a, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.addInterface(b, { address: ip('198.51.100.2'), prefixLength: 24 });
  stack.start();
  // Both hosts ask for us first, so both are resolved.
  a.inject(arpRequest(HOST_A, '192.0.2.1', '192.0.2.2'));
  b.inject(arpRequest(HOST_B, '198.51.100.1', '198.51.100.2'));
  a.take();
  b.take();
  return { clock, stack, a, b };
}

function arpRequest(mac: Uint8Array, sender: string, target: string): Uint8Array {
  const f = new Uint8Array(60);
  emitEthernet(f, 0, BCAST, mac, EtherType.ARP);
  emitArp(f, 14, { op: 1, senderMac: mac, senderIp: ip(sender), targetMac: new Uint8Array(6), targetIp: ip(target) });
  return f;
}

interface PacketOpts {
  src?: string;
  dst?: string;
  ttl?: number;
  protocol?: number;
  df?: boolean;
  mf?: boolean;
  fragOffset?: number;
  id?: number;
  tos?: number;
  options?: Uint8Array;
  ethSrc?: Uint8Array;
  ethDst?: Uint8Array;
}

/** A frame from host A (192.0.2.1) to `dst` (default host B) through us. */
function frameFromA(payload: Uint8Array, o: PacketOpts = {}): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  const f = new Uint8Array(14 + 20 + options.length + payload.length);
  emitEthernet(f, 0, o.ethDst ?? MAC_A, o.ethSrc ?? HOST_A, EtherType.IPv4);
  f.set(payload, 34 + options.length);
  emitIpv4(f, 14, {
    tos: o.tos ?? 0, id: o.id ?? 0x1234, dontFragment: o.df ?? false, moreFragments: o.mf ?? false, fragmentOffset: o.fragOffset ?? 0,
    ttl: o.ttl ?? 64, protocol: o.protocol ?? 1, src: ip(o.src ?? '192.0.2.1'), dst: ip(o.dst ?? '198.51.100.1'), options, payloadLength: payload.length,
  });
  return f;
}

function echo(dataLength = 56, seq = 1): Uint8Array {
  const b = new Uint8Array(8 + dataLength);
  for (let i = 0; i < dataLength; i++) b[8 + i] = i & 0xff;
  emitIcmpHeader(b, 0, 8, 0, echoRest(0x4242, seq), dataLength);
  return b;
}

/** The single ICMP error in `frames`, checked for well-formedness. */
function icmpOf(frame: Uint8Array) {
  const ipv = new Ipv4Packet(frame, 14);
  assert.equal(ipv.check(), null);
  assert.ok(ipv.verifyChecksum());
  assert.equal(ipv.protocol, 1);
  const icmp = new IcmpPacket(frame, ipv.payloadOffset, ipv.payloadLength);
  assert.ok(icmp.verifyChecksum());
  return { ipv, icmp, quoted: new Ipv4Packet(icmp.buf, icmp.dataOffset, icmp.dataLength) };
}

test('a packet from A to B is forwarded with TTL - 1, a valid checksum, new MACs and the same payload', () => {
  const s = setup();
  const frame = frameFromA(echo(), { ttl: 64 });
  const original = frame.slice();
  s.a.inject(frame);
  frame.fill(0xee); // the receive buffer is reused: the forwarded copy must not depend on it
  assert.equal(s.a.take().length, 0);
  const out = s.b.take();
  assert.equal(out.length, 1);
  const eth = new EthernetFrame(out[0]!);
  assert.equal(eth.dstString(), macToString(HOST_B));
  assert.equal(eth.srcString(), macToString(MAC_B));
  const p = new Ipv4Packet(out[0]!, 14);
  assert.equal(p.check(), null);
  assert.equal(p.ttl, 63);
  assert.ok(p.verifyChecksum(), 'incrementally updated checksum verifies');
  assert.equal(ipv4ToString(p.src), '192.0.2.1');
  assert.equal(ipv4ToString(p.dst), '198.51.100.1');
  assert.equal(p.id, 0x1234);
  // Everything but TTL and checksum is unchanged.
  const got = out[0]!.subarray(14, 14 + p.totalLength);
  const want = original.subarray(14);
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) if (i !== 8 && i !== 10 && i !== 11) assert.equal(got[i], want[i], `byte ${i}`);
  assert.equal(s.stack.counters.ipForwarded, 1);
  assert.equal(s.stack.counters.ipOut, 0, 'forwarded packets are not ipOut (RFC 1213)');
});

test('the DSCP and ECN bits pass through unchanged, whole or fragmented (RFC 3168: a router without a queue never marks)', () => {
  for (const tos of [0x01, 0x02, 0x03, 0xb8 | 0x02]) {
    const s = setup({ mtuB: 576 });
    s.a.inject(frameFromA(echo(), { tos }));
    s.a.inject(frameFromA(echo(1200), { tos, id: 0x4321 }));
    const out = s.b.take();
    assert.ok(out.length >= 4, 'one whole packet and the fragments of the other');
    for (const f of out) assert.equal(new Ipv4Packet(f, 14).tos, tos);
  }
});

test('property: for any header, the forwarded checksum equals a full recomputation', () => {
  const s = setup();
  fc.assert(fc.property(fc.integer({ min: 2, max: 255 }), fc.nat(0xffff), fc.nat(255), fc.uint8Array({ maxLength: 64 }), fc.constantFrom(1, 6, 17, 47), (ttl, id, tos, payload, protocol) => {
    s.a.inject(frameFromA(payload, { ttl, id, tos, protocol }));
    const out = s.b.take();
    assert.equal(out.length, 1);
    const p = new Ipv4Packet(out[0]!, 14);
    assert.equal(p.ttl, ttl - 1);
    const header = out[0]!.slice(14, 34);
    header[10] = header[11] = 0;
    assert.equal(p.checksum, internetChecksum(header, 0, 20));
  }), { numRuns: 500 });
});

test('TTL 1 is not forwarded: Time Exceeded (11/0) to the sender from the incoming address, quoting header + 8', () => {
  const s = setup();
  const frame = frameFromA(echo(), { ttl: 1 });
  s.a.inject(frame);
  assert.equal(s.b.take().length, 0);
  const out = s.a.take();
  assert.equal(out.length, 1);
  assert.equal(new EthernetFrame(out[0]!).dstString(), macToString(HOST_A));
  const { ipv, icmp } = icmpOf(out[0]!);
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
  assert.equal(ipv4ToString(ipv.dst), '192.0.2.1');
  assert.equal(icmp.type, 11);
  assert.equal(icmp.code, 0);
  assert.deepEqual(icmp.data(), frame.subarray(14, 14 + 28));
  assert.equal(s.stack.counters.drops.get('forward: ttl-exceeded'), 1);
  // TTL 0 likewise.
  s.a.inject(frameFromA(echo(), { ttl: 0 }));
  assert.equal(icmpOf(s.a.take()[0]!).icmp.type, 11);
});

test('no route: Destination Unreachable, Net (3/0)', () => {
  const s = setup();
  const frame = frameFromA(echo(), { dst: '203.0.113.9' });
  s.a.inject(frame);
  assert.equal(s.b.take().length, 0);
  const out = s.a.take();
  assert.equal(out.length, 1);
  const { ipv, icmp, quoted } = icmpOf(out[0]!);
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
  assert.equal(icmp.type, 3);
  assert.equal(icmp.code, 0);
  assert.equal(ipv4ToString(quoted.dst), '203.0.113.9');
  assert.deepEqual(icmp.data(), frame.subarray(14, 14 + 28));
});

test('Fragmentation Needed is not limited per destination (path MTU discovery through us depends on it), only in all', () => {
  const s = setup({ mtuB: 1000 });
  for (let i = 0; i < 20; i++) s.a.inject(frameFromA(echo(1372, i), { df: true }));
  assert.equal(s.a.take().length, 20, 'one source, twenty Fragmentation Needed');
  assert.equal(s.stack.counters.icmpErrorsDestinationLimited, 0);
  for (let i = 0; i < 100; i++) s.a.inject(frameFromA(echo(1372, i), { df: true }));
  assert.equal(s.a.take().length, 30, 'the shared burst of 50 still bounds them');
});

test('too big with DF: Fragmentation Needed (3/4) carrying the next-hop MTU; without DF: fragments', () => {
  const s = setup({ mtuB: 1000 });
  s.a.inject(frameFromA(echo(1372), { df: true }));
  assert.equal(s.b.take().length, 0);
  const out = s.a.take();
  assert.equal(out.length, 1);
  const { icmp } = icmpOf(out[0]!);
  assert.equal(icmp.type, 3);
  assert.equal(icmp.code, 4);
  assert.equal(icmp.rest, 1000, 'RFC 1191: next-hop MTU in the low 16 bits, the high 16 zero');
  assert.equal(icmp.nextHopMtu, 1000);
  // DF clear: fragments of at most 1000 bytes, same id, TTL 63, payload intact.
  const payload = echo(1372);
  s.a.inject(frameFromA(payload, { id: 0x7777 }));
  assert.equal(s.a.take().length, 0);
  const frags = s.b.take();
  assert.equal(frags.length, 2);
  const whole = new Uint8Array(payload.length);
  let last = false;
  for (const f of frags) {
    const p = new Ipv4Packet(f, 14);
    assert.ok(p.verifyChecksum());
    assert.ok(p.totalLength <= 1000);
    assert.equal(p.ttl, 63);
    assert.equal(p.id, 0x7777);
    assert.equal(ipv4ToString(p.src), '192.0.2.1');
    whole.set(p.payload(), p.fragmentOffset);
    if (!p.moreFragments) last = true;
    else assert.equal(p.payloadLength % 8, 0);
  }
  assert.ok(last);
  assert.deepEqual(whole, payload);
  assert.equal(s.stack.counters.ipFragmentsOut, 2);
  assert.equal(s.stack.counters.ipForwarded, 1);
});

test('a fragment is fragmented again with offsets relative to the original datagram', () => {
  const s = setup({ mtuB: 600 });
  const data = Uint8Array.from({ length: 1200 }, (_, i) => i & 0xff);
  // The second fragment of some larger datagram: offset 1480, more fragments follow.
  s.a.inject(frameFromA(data, { id: 9, mf: true, fragOffset: 1480, protocol: 17 }));
  const frags = s.b.take().map((f) => new Ipv4Packet(f, 14));
  assert.equal(frags.length, 3);
  assert.deepEqual(frags.map((p) => p.fragmentOffset), [1480, 1480 + 576, 1480 + 1152]);
  assert.ok(frags.every((p) => p.moreFragments), 'MF stays set: the original continues after us');
  assert.deepEqual(frags.map((p) => p.payloadLength), [576, 576, 48]);
});

test('Record Route: the outgoing interface address is recorded and the checksum fixed', () => {
  const s = setup();
  const rr = buildRecordRouteOption(9);
  rr.set([192, 0, 2, 1], 3); // as Linux sends it: the sender recorded itself
  rr[2] = 8;
  s.a.inject(frameFromA(echo(), { options: rr }));
  const out = s.b.take();
  assert.equal(out.length, 1);
  const p = new Ipv4Packet(out[0]!, 14);
  assert.ok(p.verifyChecksum());
  assert.equal(p.ttl, 63);
  const walk = walkIpv4Options(out[0]!, p.optionsOffset, p.optionsLength);
  const route = readRecordRoute(out[0]!, walk.options.find((o) => o.type === 7)!)!;
  assert.deepEqual(route.recorded.map(ipv4ToString), ['192.0.2.1', '198.51.100.2']);
  // A full option is forwarded unchanged (RFC 791).
  const full = buildRecordRouteOption(1);
  full.set([192, 0, 2, 1], 3);
  full[2] = 8;
  s.a.inject(frameFromA(echo(), { options: full }));
  const p2 = new Ipv4Packet(s.b.take()[0]!, 14);
  assert.ok(p2.verifyChecksum());
  assert.equal(readRecordRoute(p2.buf, walkIpv4Options(p2.buf, p2.optionsOffset, p2.optionsLength).options[0]!)!.recorded.length, 1);
  // Record Route in a packet that must be fragmented: recorded in the first fragment only.
  const s2 = setup({ mtuB: 800 });
  s2.a.inject(frameFromA(echo(1200), { options: buildRecordRouteOption(2) }));
  const frags = s2.b.take().map((f) => new Ipv4Packet(f, 14));
  assert.equal(frags.length, 2);
  assert.ok(frags.every((f) => f.verifyChecksum()));
  const first = readRecordRoute(frags[0]!.buf, walkIpv4Options(frags[0]!.buf, frags[0]!.optionsOffset, frags[0]!.optionsLength).options[0]!)!;
  assert.deepEqual(first.recorded.map(ipv4ToString), ['198.51.100.2']);
  assert.equal(frags[1]!.headerLength, 20, 'RR is not a copied option');
});

test('Timestamp option: the router adds its address and time; a malformed Record Route gets Parameter Problem', () => {
  const s = setup();
  // Flag 1 (address and timestamp), room for two entries, the sender's already made.
  const ts = new Uint8Array(20);
  ts.set([68, 20, 13, 1, 192, 0, 2, 1, 0, 0, 0, 1]);
  s.a.inject(frameFromA(echo(), { options: ts }));
  const out = s.b.take();
  assert.equal(out.length, 1);
  const p = new Ipv4Packet(out[0]!, 14);
  assert.ok(p.verifyChecksum());
  const opt = out[0]!.subarray(p.optionsOffset, p.optionsOffset + 20);
  assert.equal(opt[2], 21, 'pointer advanced past our entry');
  assert.deepEqual([...opt.subarray(12, 16)], [198, 51, 100, 2]);
  // An RR whose pointer leaves no room for a whole address is malformed (Linux's check too).
  const bad = Uint8Array.of(7, 9, 8, 192, 0, 2, 1, 0, 0, 0, 0, 0);
  s.a.inject(frameFromA(echo(), { options: bad }));
  assert.equal(s.b.take().length, 0);
  const err = s.a.take();
  assert.equal(err.length, 1);
  assert.equal(icmpOf(err[0]!).icmp.type, 12);
  assert.equal(icmpOf(err[0]!).icmp.pointer, 22);
});

test('next hop silent to ARP: Host Unreachable (3/1) to the original sender after the retries', () => {
  const s = setup();
  const frame = frameFromA(echo(), { dst: '198.51.100.77' });
  s.a.inject(frame);
  const arp = s.b.take();
  assert.equal(arp.length, 1);
  assert.equal(ipv4ToString(new ArpPacket(arp[0]!, 14).targetIp), '198.51.100.77');
  s.clock.advance(2_999);
  assert.equal(s.a.take().length, 0);
  assert.equal(s.b.take().length, 2, 'two more ARP requests, a second apart');
  s.clock.advance(1);
  const out = s.a.take();
  assert.equal(out.length, 1);
  const { ipv, icmp, quoted } = icmpOf(out[0]!);
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2', 'from the router, towards the sender');
  assert.equal(ipv4ToString(ipv.dst), '192.0.2.1');
  assert.equal(icmp.type, 3);
  assert.equal(icmp.code, 1);
  assert.equal(ipv4ToString(quoted.src), '192.0.2.1');
  assert.equal(ipv4ToString(quoted.dst), '198.51.100.77');
  // While the failure is remembered, a new packet is answered at once, with no new ARP storm.
  s.a.inject(frameFromA(echo(56, 2), { dst: '198.51.100.77' }));
  assert.equal(s.b.take().length, 0);
  const again = s.a.take();
  assert.equal(again.length, 1);
  assert.equal(icmpOf(again[0]!).icmp.code, 1);
});

test('our own datagram to a silent host: the error is delivered locally, nothing goes on the wire', () => {
  const s = setup();
  const errors: Array<[string, number, number]> = [];
  s.stack.icmp.listeners.add({ error: (from, type, code) => errors.push([ipv4ToString(from), type, code]) });
  const sock = createSocket(s.stack, 'udp4');
  const sockErrors: unknown[] = [];
  sock.on('error', (e) => sockErrors.push(e));
  sock.send('hello?', 9, '198.51.100.77');
  assert.equal(s.b.take().length, 1, 'ARP request');
  s.clock.advance(3_000);
  s.b.take();
  assert.equal(s.a.take().length + s.b.take().length, 0, 'no ICMP sent to ourselves over a wire');
  assert.deepEqual(errors, [['198.51.100.2', 3, 1]]);
  assert.equal(sockErrors.length, 0, 'Host Unreachable is a soft error for UDP');
  sock.close();
});

test('no ICMP error about an ICMP error, even when it cannot be forwarded', () => {
  const s = setup();
  // An ICMP Port Unreachable quoting some datagram, in transit with TTL 1, then to nowhere.
  const quote = frameFromA(new Uint8Array(8), { src: '198.51.100.1', dst: '192.0.2.1', protocol: 17 }).subarray(14);
  const err = new Uint8Array(8 + quote.length);
  err.set(quote, 8);
  emitIcmpHeader(err, 0, 3, 3, 0, quote.length);
  s.a.inject(frameFromA(err, { ttl: 1 }));
  s.a.inject(frameFromA(err, { dst: '203.0.113.9' }));
  s.a.inject(frameFromA(err, { dst: '198.51.100.77' }));
  s.clock.advance(5_000);
  assert.equal(s.a.take().length, 0);
  assert.equal(s.b.take().filter((f) => new EthernetFrame(f).etherType === EtherType.IPv4).length, 0);
  assert.equal(s.stack.counters.icmpErrorsOut, 0);
  // An echo request (not an error) in the same situation does get one.
  s.a.inject(frameFromA(echo(), { ttl: 1 }));
  assert.equal(s.a.take().length, 1);
});

test('never forwarded: link broadcasts, martians, directed broadcasts, source routes; nothing answered', () => {
  const s = setup();
  s.a.inject(frameFromA(echo(), { ethDst: BCAST }));
  s.a.inject(frameFromA(echo(), { src: '0.0.0.0' }));
  s.a.inject(frameFromA(echo(), { dst: '127.0.0.1' }));
  s.a.inject(frameFromA(echo(), { dst: '169.254.1.1' }));
  s.a.inject(frameFromA(echo(), { src: '169.254.1.1' }));
  s.a.inject(frameFromA(echo(), { dst: '240.0.0.1' }));
  s.a.inject(frameFromA(echo(), { dst: '198.51.100.255' }));
  s.a.inject(frameFromA(echo(), { options: Uint8Array.of(131, 7, 4, 198, 51, 100, 1, 0) }));
  assert.equal(s.a.take().length, 0);
  assert.equal(s.b.take().length, 0);
  const d = s.stack.counters.drops;
  assert.equal(d.get('forward: link-broadcast'), 1);
  assert.equal(d.get('forward: martian-source'), 2);
  assert.equal(d.get('forward: martian-destination'), 3);
  assert.equal(d.get('forward: directed-broadcast'), 1);
  assert.equal(d.get('forward: source-route'), 1);
  assert.equal(s.stack.counters.ipForwarded, 0);
});

test('a bad option in transit gets Parameter Problem pointing at it', () => {
  const s = setup();
  s.a.inject(frameFromA(echo(), { options: Uint8Array.of(1, 7, 40, 4) }));
  const out = s.a.take();
  assert.equal(out.length, 1);
  const { icmp } = icmpOf(out[0]!);
  assert.equal(icmp.type, 12);
  assert.equal(icmp.pointer, 22);
  assert.equal(s.b.take().length, 0);
});

test('packets for our other interface are delivered, not forwarded; forwarding off drops transit', () => {
  const s = setup();
  s.a.inject(frameFromA(echo(), { dst: '198.51.100.2' }));
  const out = s.a.take();
  assert.equal(out.length, 1);
  const { ipv, icmp } = icmpOf(out[0]!);
  assert.equal(icmp.type, 0, 'echo reply');
  assert.equal(ipv4ToString(ipv.src), '198.51.100.2');
  assert.equal(s.b.take().length, 0);
  const off = setup({ forwarding: false });
  off.a.inject(frameFromA(echo()));
  assert.equal(off.b.take().length + off.a.take().length, 0);
  assert.equal(off.stack.counters.drops.get('ipv4: not-for-us'), 1);
});

test('a route back out the incoming interface is followed, but never straight back to the sender', () => {
  const s = setup();
  // 203.0.113.0/24 lives behind 192.0.2.3, on A's own link.
  s.a.inject(arpRequest(parseMac('02:00:00:00:00:03')!, '192.0.2.3', '192.0.2.2'));
  s.a.take();
  s.stack.addRoute(ip('203.0.113.0'), 24, ip('192.0.2.3'));
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.5' }));
  const out = s.a.take();
  assert.equal(out.length, 1);
  assert.equal(new EthernetFrame(out[0]!).dstString(), '02:00:00:00:00:03');
  s.stack.addRoute(ip('203.0.113.0'), 24, ip('192.0.2.1'));
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.5' }));
  assert.equal(s.a.take().length, 0);
  assert.equal(s.stack.counters.drops.get('forward: back-to-sender'), 1);
});

test('routes added and removed at run time take effect for forwarded packets at once', () => {
  const s = setup();
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.9' }));
  assert.equal(icmpOf(s.a.take()[0]!).icmp.code, 0, 'no route yet');
  // A gateway on B's link for 203.0.113.0/24; it has answered ARP before.
  const GW = parseMac('02:00:00:00:00:0c')!;
  s.b.inject(arpRequest(GW, '198.51.100.3', '198.51.100.2'));
  s.b.take();
  const route = s.stack.addRoute(ip('203.0.113.0'), 24, ip('198.51.100.3'));
  assert.equal(route.iface.device.name, 'tapb');
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.9' }));
  const out = s.b.take();
  assert.equal(out.length, 1);
  assert.equal(new EthernetFrame(out[0]!).dstString(), macToString(GW), 'sent to the gateway');
  assert.equal(ipv4ToString(new Ipv4Packet(out[0]!, 14).dst), '203.0.113.9', 'addressed to the destination');
  // A more specific route wins; removing it falls back.
  s.stack.addRoute(ip('203.0.113.128'), 25, 0, 'tapa');
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.200' }));
  assert.equal(s.b.take().length, 0);
  assert.equal(s.a.take().length, 1, 'ARP request on A for the directly attached /25');
  assert.ok(s.stack.removeRoute(ip('203.0.113.128'), 25));
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.200' }));
  assert.equal(s.b.take().length, 1);
  assert.ok(s.stack.removeRoute(ip('203.0.113.0'), 24));
  assert.equal(s.stack.removeRoute(ip('203.0.113.0'), 24), false);
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.9' }));
  assert.equal(icmpOf(s.a.take()[0]!).icmp.code, 0, 'route gone: Net Unreachable again');
  // A default route catches everything else.
  s.stack.addRoute(0, 0, ip('198.51.100.3'));
  s.a.inject(frameFromA(echo(), { dst: '203.0.113.9' }));
  assert.equal(s.b.take().length, 1);
  assert.throws(() => s.stack.addRoute(ip('203.0.113.0'), 24, ip('203.0.113.1')), /not on any attached network/);
});

test('ICMP errors from the router are rate limited per destination (a burst of 6, as Linux)', () => {
  const s = setup();
  for (let i = 0; i < 200; i++) s.a.inject(frameFromA(echo(8, i), { ttl: 1 }));
  assert.equal(s.a.take().length, 6, 'one source: the per-destination burst');
  assert.equal(s.stack.counters.icmpErrorsDestinationLimited, 194);
  assert.equal(s.stack.counters.icmpErrorsRateLimited, 194);
});
