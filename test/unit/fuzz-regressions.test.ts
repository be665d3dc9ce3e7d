// One test for each defect the packet battery (test/battery) found in pstack, fixed in
// src/stack and src/wire: each would fail on the code before the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac, ipv4ToString, macToString } from '../../src/wire/addr.js';
import { emitEthernet, EtherType, EthernetFrame } from '../../src/wire/ethernet.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { IcmpPacket, emitIcmpHeader, echoRest } from '../../src/wire/icmp.js';
import { ArpPacket, emitArp } from '../../src/wire/arp.js';
import { checkIpv4Options, timestampAppend, walkIpv4Options } from '../../src/wire/ipv4-options.js';

const ip = (s: string) => parseIpv4(s)!;
const US_MAC = parseMac('00:00:5e:00:53:01')!;
const HOST_MAC = parseMac('02:00:00:00:00:03')!;

function setup(reassembly = {}) {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, reassembly });
  const dev = new CaptureDevice('tap0');
  stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.start();
  // Learn 192.0.2.3 (it asks for us), so answers to it leave at once.
  dev.inject(arpFrame({ op: 1, sha: HOST_MAC, spa: '192.0.2.3', tpa: '192.0.2.2' }));
  dev.take();
  return { clock, stack, dev };
}

function arpFrame(o: { op: number; sha: Uint8Array; spa: string; tpa: string; ethDst?: Uint8Array }): Uint8Array {
  const f = new Uint8Array(42);
  emitEthernet(f, 0, o.ethDst ?? new Uint8Array(6).fill(0xff), HOST_MAC, EtherType.ARP);
  emitArp(f, 14, { op: o.op, senderMac: o.sha, senderIp: ip(o.spa), targetMac: new Uint8Array(6), targetIp: ip(o.tpa) });
  return f;
}

interface IpOpts { src?: string; dst?: string; protocol?: number; id?: number; mf?: boolean; off?: number; tos?: number; options?: Uint8Array }
function ipFrame(payload: Uint8Array, o: IpOpts = {}): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  const f = new Uint8Array(34 + options.length + payload.length);
  emitEthernet(f, 0, US_MAC, HOST_MAC, EtherType.IPv4);
  f.set(payload, 34 + options.length);
  emitIpv4(f, 14, {
    tos: o.tos ?? 0, id: o.id ?? 1, dontFragment: false, moreFragments: o.mf ?? false, fragmentOffset: o.off ?? 0, ttl: 64,
    protocol: o.protocol ?? 1, src: ip(o.src ?? '192.0.2.3'), dst: ip(o.dst ?? '192.0.2.2'), options, payloadLength: payload.length,
  });
  return f;
}

function echo(n = 56, seq = 1): Uint8Array {
  const b = new Uint8Array(8 + n);
  for (let i = 0; i < n; i++) b[8 + i] = i & 0xff;
  emitIcmpHeader(b, 0, 8, 0, echoRest(0x77, seq), n);
  return b;
}

const ipOf = (f: Uint8Array) => new Ipv4Packet(f, 14, f.length - 14);
const ipFrames = (fs: Uint8Array[]) => fs.filter((f) => new EthernetFrame(f).etherType === EtherType.IPv4);

test('ARP: a sender hardware address that is multicast (not only broadcast) is neither answered nor learned', () => {
  const s = setup();
  s.dev.inject(arpFrame({ op: 1, sha: parseMac('01:00:5e:00:00:01')!, spa: '192.0.2.41', tpa: '192.0.2.2' }));
  assert.equal(s.dev.take().length, 0);
  assert.equal(s.stack.neighbors.get(ip('192.0.2.41')), undefined);
  assert.equal(s.stack.counters.drops.get('arp: bad-sender'), 1);
});

test('ARP: an RFC 5227 probe (sender 0.0.0.0) for our address is answered to the prober, and learns nothing', () => {
  const s = setup();
  const prober = parseMac('02:00:00:00:0a:01')!;
  s.dev.inject(arpFrame({ op: 1, sha: prober, spa: '0.0.0.0', tpa: '192.0.2.2' }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const a = new ArpPacket(out[0]!, 14);
  assert.equal(a.op, 2);
  assert.equal(ipv4ToString(a.senderIp), '192.0.2.2');
  assert.equal(ipv4ToString(a.targetIp), '0.0.0.0');
  assert.equal(a.targetMacString(), macToString(prober));
  assert.equal(macToString(out[0]!, 0), macToString(prober), 'sent to the prober, not broadcast');
  assert.equal(s.stack.neighbors.get(0), undefined);
  // A probe for another address is not ours to answer.
  s.dev.inject(arpFrame({ op: 1, sha: prober, spa: '0.0.0.0', tpa: '192.0.2.66' }));
  assert.equal(s.dev.take().length, 0);
});

test('IPv4: a source of 0.0.0.0 or of our network broadcast address is dropped, not answered', () => {
  const s = setup();
  s.dev.inject(ipFrame(echo(), { src: '0.0.0.0' }));
  s.dev.inject(ipFrame(echo(), { src: '0.1.2.3' }));
  s.dev.inject(ipFrame(echo(), { src: '192.0.2.255' }));
  assert.equal(s.dev.take().length, 0);
  assert.equal(s.stack.counters.drops.get('ipv4: martian-source'), 3);
  // The limited broadcast from 0.0.0.0 (a DHCP client's) is still received (and, being a
  // broadcast ping, ignored by ICMP rather than dropped as a martian).
  s.dev.inject(ipFrame(echo(), { src: '0.0.0.0', dst: '255.255.255.255' }));
  assert.equal(s.stack.counters.drops.get('ipv4: martian-source'), 3);
  assert.equal(s.stack.counters.drops.get('icmp: broadcast-echo'), 1);
});

test('options: malformed Record Route, Timestamp, source route and Router Alert get Parameter Problem where Linux points', () => {
  const cases: Array<[string, number[], number]> = [
    ['RR pointer 3', [7, 7, 3, 0, 0, 0, 0, 0], 22],
    ['RR pointer leaves no room', [7, 9, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0], 22],
    ['RR length 2', [7, 2, 1, 1], 21],
    ['RR twice', [7, 7, 4, 0, 0, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0, 0], 28],
    ['TS pointer 4', [68, 12, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0], 22],
    ['TS length 3', [68, 3, 5, 0], 21],
    ['TS full with overflow 15', [68, 8, 13, 0xf0, 0, 0, 0, 0], 23],
    ['TS addresses without room', [68, 8, 5, 1, 0, 0, 0, 0], 22],
    ['LSRR pointer 1', [1, 131, 7, 1, 198, 51, 100, 9], 23],
    ['RA length 2', [148, 2, 1, 1], 21],
  ];
  for (const [name, opt, pointer] of cases) {
    const s = setup();
    s.dev.inject(ipFrame(echo(), { options: Uint8Array.from(opt) }));
    const out = s.dev.take();
    assert.equal(out.length, 1, name);
    const icmp = new IcmpPacket(out[0]!, 34);
    assert.equal(icmp.type, 12, name);
    assert.equal(icmp.pointer, pointer, name);
  }
  // The check itself on good options.
  const good = Uint8Array.from([1, 7, 7, 4, 0, 0, 0, 0, 68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 148, 4, 0, 0]);
  const r = checkIpv4Options(good, 0, good.length);
  assert.equal(r.error, null);
  assert.equal(r.rr?.offset, 1);
  assert.equal(r.ts?.offset, 8);
  assert.equal(r.routerAlert?.offset, 20);
});

test('options: a source-routed datagram for us is dropped silently (accept_source_route=0)', () => {
  const s = setup();
  s.dev.inject(ipFrame(echo(), { options: Uint8Array.from([1, 131, 7, 4, 198, 51, 100, 9]) }));
  s.dev.inject(ipFrame(echo(), { options: Uint8Array.from([1, 137, 7, 4, 198, 51, 100, 9]) }));
  assert.equal(s.dev.take().length, 0);
  assert.equal(s.stack.counters.drops.get('ipv4: source-route'), 2);
});

test('options: a Timestamp option in an echo request is filled in on arrival and departure and echoed (RFC 1122 3.2.2.6)', () => {
  const s = setup();
  s.dev.inject(ipFrame(echo(), { options: Uint8Array.from([68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const reply = ipOf(out[0]!);
  assert.ok(reply.verifyChecksum());
  assert.equal(reply.optionsLength, 12);
  const o = reply.optionsOffset;
  assert.deepEqual([...reply.buf.subarray(o, o + 4)], [68, 12, 13, 0], 'two timestamps recorded, pointer past them');
  // Addresses and timestamps (flag 1), room for one entry: our address goes in; a full option counts an overflow.
  const opt = Uint8Array.from([68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const walk = walkIpv4Options(opt, 0, opt.length);
  assert.ok(timestampAppend(opt, walk.options[0]!, ip('192.0.2.2'), 1234, true));
  assert.deepEqual([...opt], [68, 12, 13, 1, 192, 0, 2, 2, 0, 0, 4, 210]);
  assert.ok(timestampAppend(opt, walk.options[0]!, ip('192.0.2.2'), 99, true));
  assert.equal(opt[3], 0x11, 'overflow counted');
  assert.equal(timestampAppend(opt, walk.options[0]!, ip('192.0.2.2'), 99, false), false, 'not again on departure');
});

test('ICMP errors carry precedence 6 (TOS 0xc0 plus the original TOS bits), RFC 1812 4.3.2.5', () => {
  const s = setup();
  s.dev.inject(ipFrame(new Uint8Array(20), { protocol: 253, tos: 0xb8 }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  assert.equal(ipOf(out[0]!).tos, 0xc0 | (0xb8 & 0x1e));
});

function fragmentsOf(payload: Uint8Array, chunks: Array<[number, number, boolean]>, id: number): Uint8Array[] {
  return chunks.map(([off, len, mf]) => ipFrame(payload.subarray(off, off + len), { id, mf, off }));
}

test('reassembly: a duplicate fragment (or one inside data already received) is ignored, not fatal', () => {
  const s = setup();
  const p = echo(224);
  const [a, b] = fragmentsOf(p, [[0, 160, true], [160, 72, false]], 5);
  const [inner] = fragmentsOf(p, [[80, 40, true]], 5);
  s.dev.inject(a!, a!, inner!, b!);
  const out = ipFrames(s.dev.take());
  assert.equal(out.length, 1, 'the echo reply');
  assert.equal(new IcmpPacket(out[0]!, 34).type, 0);
  assert.equal(s.stack.counters.drops.get('reassembly: duplicate'), 2);
  assert.equal(s.stack.reassembler.datagrams, 0);
});

test('reassembly: a last fragment ending before data already received drops the datagram (no Time Exceeded later)', () => {
  const s = setup();
  const p = echo(224);
  const [far, last] = fragmentsOf(p, [[160, 40, true], [80, 40, false]], 6);
  s.dev.inject(far!, last!);
  assert.equal(s.stack.counters.drops.get('reassembly: past-end'), 1);
  assert.equal(s.stack.reassembler.datagrams, 0);
  s.clock.advance(31_000);
  assert.equal(ipFrames(s.dev.take()).length, 0);
});

test('reassembly: a fragment reaching past 65535 bytes drops the whole datagram, so no Time Exceeded follows', () => {
  const s = setup();
  const p = echo(224);
  const [first] = fragmentsOf(p, [[0, 80, true]], 7);
  s.dev.inject(first!, ipFrame(new Uint8Array(200), { id: 7, off: 65448 }));
  assert.equal(s.stack.counters.drops.get('reassembly: oversized'), 1);
  assert.equal(s.stack.reassembler.datagrams, 0);
  s.clock.advance(31_000);
  assert.equal(ipFrames(s.dev.take()).length, 0);
});

test('reassembly: memory counts the buffers held, and when full the oldest incomplete datagram gives way', () => {
  const s = setup({ maxDatagrams: 4, maxBytes: 140_000 });
  // Each tiny fragment far into its datagram holds a buffer reaching its offset.
  for (let i = 0; i < 3; i++) s.dev.inject(ipFrame(new Uint8Array(8), { id: 100 + i, mf: true, off: 60_000 }));
  const r = s.stack.reassembler;
  assert.ok(r.bufferedBytes <= 140_000, `${r.bufferedBytes}`);
  assert.ok(r.datagrams < 3, 'the byte limit evicted the oldest');
  for (let i = 0; i < 10; i++) s.dev.inject(ipFrame(new Uint8Array(8), { id: 200 + i, mf: true, off: 64 }));
  assert.equal(r.datagrams, 4);
  assert.ok((s.stack.counters.drops.get('reassembly: evicted-memory-limit') ?? 0) > 0);
  assert.ok((s.stack.counters.drops.get('reassembly: evicted-datagram-limit') ?? 0) > 0);
  // A real fragmented ping still gets through the flood.
  const p = echo(224);
  s.dev.inject(...fragmentsOf(p, [[0, 120, true], [120, 112, false]], 300));
  const out = ipFrames(s.dev.take());
  assert.equal(out.length, 1);
  assert.equal(new IcmpPacket(out[0]!, 34).type, 0);
  assert.ok(r.datagrams <= 4 && r.bufferedBytes <= 140_000);
});

test('reassembly: the default table holds many more stray datagrams than 64 without evicting', () => {
  const s = setup();
  for (let i = 0; i < 200; i++) s.dev.inject(ipFrame(new Uint8Array(16), { id: 1000 + i, mf: true, off: 64 }));
  assert.equal(s.stack.reassembler.datagrams, 200);
  assert.equal(s.stack.counters.drops.get('reassembly: evicted-datagram-limit'), undefined);
  assert.equal(s.stack.counters.drops.get('reassembly: evicted-memory-limit'), undefined);
  const p = echo(224);
  s.dev.inject(...fragmentsOf(p, [[0, 120, true], [120, 112, false]], 5000));
  assert.equal(ipFrames(s.dev.take()).length, 1);
});
