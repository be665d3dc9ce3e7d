// The whole input path under fuzz: a Stack on a CaptureDevice (with small limits, so they are
// reached) fed arbitrary, structured and mutated frames, fragments included, with the clock
// moving. After every step: nothing escaped, no internal error was counted or logged, every
// limit holds (ARP cache entries and queues, reassembly datagrams and bytes), and every frame
// the stack sent is well formed (IPv4 header and ICMP/UDP checksums).
// FUZZ_RUNS (see scripts/fuzz.sh) multiplies the number of runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { emitEthernet, EtherType, EthernetFrame } from '../../src/wire/ethernet.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { IcmpPacket, emitIcmpHeader } from '../../src/wire/icmp.js';
import { UdpDatagram, emitUdp } from '../../src/wire/udp.js';
import { emitArp } from '../../src/wire/arp.js';
import { runs } from '../helpers/fuzz-runs.js';

// Lengths up to each arbitrary's maximum, not fast-check's small default (about 10).
fc.configureGlobal({ ...fc.readConfigureGlobal(), baseSize: 'medium' });

const ip = (s: string) => parseIpv4(s)!;
const US = ip('192.0.2.2');
const US_MAC = parseMac('00:00:5e:00:53:01')!;
const LIMITS = {
  neighbor: { maxEntries: 8, queuePerEntry: 4 },
  reassembly: { maxDatagrams: 4, maxBytes: 150_000, maxFragmentsPerDatagram: 6 },
};

function setup() {
  const clock = new FakeClock();
  const errors: string[] = [];
  const stack = new Stack({
    timers: clock.timers,
    neighbor: LIMITS.neighbor,
    reassembly: LIMITS.reassembly,
    events: { event() {}, error(title, details) { errors.push(`${title} ${JSON.stringify(details)}`); } },
  });
  const dev = new CaptureDevice('tap0');
  stack.addInterface(dev, { address: US, prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.start();
  return { clock, stack, dev, errors };
}

type S = ReturnType<typeof setup>;

/** Addresses a frame may claim: ours, on-link hosts, off-link, and every special kind. */
const anyAddr = fc.oneof(
  fc.constantFrom('192.0.2.2', '192.0.2.1', '192.0.2.3', '192.0.2.255', '192.0.2.0', '255.255.255.255', '0.0.0.0', '127.0.0.1', '224.0.0.1', '198.51.100.7', '203.0.113.9'),
  fc.nat(40).map((n) => `192.0.2.${10 + n}`),
).map(ip);
const anyMac = fc.oneof(fc.constant(US_MAC), fc.constant(new Uint8Array(6).fill(0xff)), fc.uint8Array({ minLength: 6, maxLength: 6 }));

interface IpFields {
  src: number; dst: number; protocol: number; id: number; mf: boolean; off: number; ttl: number; tos: number; df: boolean; options: Uint8Array;
}
type L4 = { kind: 'icmp' | 'raw'; b: Uint8Array } | { kind: 'udp'; sport: number; dport: number; data: Uint8Array };

const ipv4Fields: fc.Arbitrary<IpFields> = fc.record({
  src: anyAddr, dst: fc.oneof(fc.constant(US), anyAddr), protocol: fc.constantFrom(1, 6, 17, 2, 253),
  id: fc.nat(7), mf: fc.boolean(), off: fc.oneof(fc.constant(0), fc.nat(40).map((n) => n * 8), fc.nat(8191).map((n) => n * 8)),
  ttl: fc.nat(255), tos: fc.nat(255), df: fc.boolean(),
  options: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 40 }).map((o) => o.slice(0, o.length & ~3)),
    fc.constantFrom(Uint8Array.of(7, 7, 4, 0, 0, 0, 0, 0), Uint8Array.of(68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(131, 7, 4, 198, 51, 100, 1, 0))),
});

/** An L4 payload: ICMP (echo or error) or UDP with a right checksum, or any bytes. */
const l4: fc.Arbitrary<L4> = fc.oneof(
  fc.record({ type: fc.constantFrom(8, 0, 3, 11, 12, 5, 13, 42), code: fc.nat(15), rest: fc.nat(0xffffffff), data: fc.uint8Array({ maxLength: 300 }) })
    .map(({ type, code, rest, data }) => { const b = new Uint8Array(8 + data.length); b.set(data, 8); emitIcmpHeader(b, 0, type, code, rest, data.length); return { kind: 'icmp' as const, b }; }),
  fc.record({ sport: fc.constantFrom(7, 19, 5353, 40000), dport: fc.constantFrom(7, 9, 0, 12345), data: fc.uint8Array({ maxLength: 300 }) })
    .map(({ sport, dport, data }) => ({ kind: 'udp' as const, sport, dport, data })),
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ kind: 'raw' as const, b })),
);

function buildIpFrame(f: IpFields, payload: L4, ethDst: Uint8Array): Uint8Array {
  let body: Uint8Array;
  let protocol = f.protocol;
  if (payload.kind === 'udp') {
    body = new Uint8Array(8 + payload.data.length);
    body.set(payload.data, 8);
    emitUdp(body, 0, { srcPort: payload.sport, dstPort: payload.dport, payloadLength: payload.data.length }, f.src, f.dst);
    protocol = 17;
  } else {
    body = payload.b;
    if (payload.kind === 'icmp') protocol = 1;
  }
  const frame = new Uint8Array(14 + 20 + f.options.length + body.length);
  emitEthernet(frame, 0, ethDst, parseMac('02:00:00:00:00:03')!, EtherType.IPv4);
  frame.set(body, 34 + f.options.length);
  emitIpv4(frame, 14, {
    tos: f.tos, id: f.id, dontFragment: f.df, moreFragments: f.mf, fragmentOffset: f.off & 0xfff8, ttl: f.ttl, protocol,
    src: f.src, dst: f.dst, options: f.options, payloadLength: body.length,
  });
  return frame;
}

const arpFrame = fc.record({
  op: fc.constantFrom(1, 2, 3), sha: anyMac, spa: anyAddr, tpa: fc.oneof(fc.constant(US), anyAddr), ethDst: anyMac,
}).map(({ op, sha, spa, tpa, ethDst }) => {
  const f = new Uint8Array(42);
  emitEthernet(f, 0, ethDst, sha, EtherType.ARP);
  emitArp(f, 14, { op, senderMac: sha, senderIp: spa, targetMac: new Uint8Array(6), targetIp: tpa });
  return f;
});

const ipFrame = fc.tuple(ipv4Fields, l4, fc.oneof(fc.constant(US_MAC), anyMac)).map(([f, p, d]) => buildIpFrame(f, p, d));

/** Fragments of one echo request or UDP datagram, shuffled, duplicated or cut. */
const fragmentSet = fc.record({
  id: fc.nat(7), size: fc.nat(3000), cut: fc.constantFrom(8, 16, 64, 512, 1480), order: fc.array(fc.nat(1000), { maxLength: 12 }), udp: fc.boolean(),
}).map(({ id, size, cut, order, udp }) => {
  const body = new Uint8Array(8 + size);
  if (udp) emitUdp(body, 0, { srcPort: 40000, dstPort: 7, payloadLength: size }, ip('192.0.2.3'), US);
  else emitIcmpHeader(body, 0, 8, 0, 0x12340001, size);
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < body.length; off += cut) {
    const len = Math.min(cut, body.length - off);
    const f = new Uint8Array(34 + len);
    emitEthernet(f, 0, US_MAC, parseMac('02:00:00:00:00:03')!, EtherType.IPv4);
    f.set(body.subarray(off, off + len), 34);
    emitIpv4(f, 14, { tos: 0, id, dontFragment: false, moreFragments: off + len < body.length, fragmentOffset: off, ttl: 64, protocol: udp ? 17 : 1, src: ip('192.0.2.3'), dst: US, options: new Uint8Array(0), payloadLength: len });
    pieces.push(f);
  }
  if (order.length === 0) return pieces;
  return order.map((i) => pieces[i % pieces.length]!);
});

const mutate = (frames: Uint8Array[], edits: Array<[number, number]>, cut: number) => frames.map((f) => {
  const m = f.slice(0, Math.max(0, f.length - (cut % 24)));
  for (const [pos, val] of edits) if (m.length > 0) m[pos % m.length] = val;
  return m;
});

type Step = { kind: 'frames'; frames: Uint8Array[] } | { kind: 'advance'; ms: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: ipFrame.map((f) => ({ kind: 'frames' as const, frames: [f] })) },
  { weight: 2, arbitrary: arpFrame.map((f) => ({ kind: 'frames' as const, frames: [f] })) },
  { weight: 2, arbitrary: fragmentSet.map((frames) => ({ kind: 'frames' as const, frames })) },
  { weight: 2, arbitrary: fc.tuple(fc.oneof(ipFrame, arpFrame), fc.array(fc.tuple(fc.nat(600), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(100))
    .map(([f, edits, cut]) => ({ kind: 'frames' as const, frames: mutate([f], edits, cut) })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ kind: 'frames' as const, frames: [b] })) },
  { weight: 1, arbitrary: fc.constantFrom(10, 500, 1_100, 5_000, 31_000).map((ms) => ({ kind: 'advance' as const, ms })) },
);

function checkSent(frames: Uint8Array[]): void {
  for (const f of frames) {
    const eth = new EthernetFrame(f);
    assert.equal(eth.check(), null, 'sent frame has an Ethernet header');
    if (eth.etherType !== EtherType.IPv4) continue;
    const p = new Ipv4Packet(f, 14, f.length - 14);
    assert.equal(p.check(), null, 'sent IPv4 packet is well formed');
    assert.ok(p.verifyChecksum(), 'sent IPv4 header checksum');
    if (p.isFragment) continue;
    p.length = p.totalLength;
    if (p.protocol === 1) assert.ok(new IcmpPacket(p.buf, p.payloadOffset, p.payloadLength).verifyChecksum(), 'sent ICMP checksum');
    if (p.protocol === 17) {
      const u = new UdpDatagram(p.buf, p.payloadOffset, p.payloadLength);
      assert.equal(u.check(), null);
      assert.ok(u.verifyChecksum(p.src, p.dst), 'sent UDP checksum');
    }
  }
}

function checkInvariants(s: S): void {
  assert.equal(s.stack.counters.internalErrors, 0, s.errors.join('\n'));
  assert.deepEqual(s.errors, []);
  assert.ok(s.stack.neighbors.size <= LIMITS.neighbor.maxEntries, `neighbors ${s.stack.neighbors.size}`); // our own static entry included
  for (const e of s.stack.neighbors.all()) assert.ok(e.queue.length <= LIMITS.neighbor.queuePerEntry, `ARP queue ${e.queue.length}`);
  assert.ok(s.stack.reassembler.datagrams <= LIMITS.reassembly.maxDatagrams, `datagrams ${s.stack.reassembler.datagrams}`);
  assert.ok(s.stack.reassembler.bufferedBytes <= LIMITS.reassembly.maxBytes, `bytes ${s.stack.reassembler.bufferedBytes}`);
  assert.ok(s.stack.reassembler.bufferedBytes >= 0);
}

test('fuzz the stack input path: no exception, no internal error, limits hold, sent frames well formed', () => {
  fc.assert(fc.property(fc.array(step, { minLength: 4, maxLength: 40, size: 'max' }), (steps) => {
    const s = setup();
    for (const st of steps) {
      if (st.kind === 'advance') s.clock.advance(st.ms);
      else s.dev.inject(...st.frames);
      checkSent(s.dev.take());
      checkInvariants(s);
    }
    // Whatever happened, the stack still answers ARP and ping.
    s.clock.advance(120_000);
    s.dev.take();
    const arp = new Uint8Array(42);
    const host = parseMac('02:00:00:00:00:03')!;
    emitEthernet(arp, 0, new Uint8Array(6).fill(0xff), host, EtherType.ARP);
    emitArp(arp, 14, { op: 1, senderMac: host, senderIp: ip('192.0.2.3'), targetMac: new Uint8Array(6), targetIp: US });
    const echo = buildIpFrame({ src: ip('192.0.2.3'), dst: US, protocol: 1, id: 9, mf: false, off: 0, ttl: 64, tos: 0, df: false, options: new Uint8Array(0) },
      { kind: 'icmp', b: (() => { const b = new Uint8Array(16); emitIcmpHeader(b, 0, 8, 0, 0xabcd0001, 8); return b; })() }, US_MAC);
    s.dev.inject(arp, echo);
    const out = s.dev.take();
    checkSent(out);
    assert.ok(out.some((f) => f.length >= 42 && new EthernetFrame(f).etherType === EtherType.IPv4 && new IcmpPacket(f, 34).type === 0), 'still answers ping');
    s.stack.close();
  }), runs(150));
});

test('fuzz: floods of distinct ARP senders and of incomplete datagrams stay within the limits', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(250), fc.nat(0xffff), fc.nat(8000)), { minLength: 1, maxLength: 120, size: 'max' }), (items) => {
    const s = setup();
    for (const [host, id, off] of items) {
      const mac = Uint8Array.of(2, 0, 0, 1, host >> 8, host & 0xff);
      const arp = new Uint8Array(42);
      emitEthernet(arp, 0, new Uint8Array(6).fill(0xff), mac, EtherType.ARP);
      emitArp(arp, 14, { op: 1, senderMac: mac, senderIp: ip(`192.0.2.${3 + (host % 250)}`), targetMac: new Uint8Array(6), targetIp: US });
      const frag = buildIpFrame({ src: ip('192.0.2.3'), dst: US, protocol: 1, id, mf: true, off: off * 8, ttl: 64, tos: 0, df: false, options: new Uint8Array(0) },
        { kind: 'raw', b: new Uint8Array(16) }, US_MAC);
      // Pings from hosts we do not know make the stack queue replies while it asks for them.
      const ping = buildIpFrame({ src: ip(`192.0.2.${3 + ((host * 7) % 250)}`), dst: US, protocol: 1, id: 1, mf: false, off: 0, ttl: 64, tos: 0, df: false, options: new Uint8Array(0) },
        { kind: 'icmp', b: (() => { const b = new Uint8Array(8); emitIcmpHeader(b, 0, 8, 0, host, 0); return b; })() }, US_MAC);
      s.dev.inject(arp, frag, ping, ping, ping, ping, ping, ping);
      checkSent(s.dev.take());
      checkInvariants(s);
    }
    s.stack.close();
  }), runs(40));
});
