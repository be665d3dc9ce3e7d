// The stack core driven frame by frame with the seed frames and hand-built ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice, hex, toHex } from '../helpers/capture-device.js';
import { parseIpv4, parseMac, ipv4ToString } from '../../src/wire/addr.js';
import { EthernetFrame, emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { IcmpPacket, emitIcmpHeader, echoRest } from '../../src/wire/icmp.js';
import { ArpPacket } from '../../src/wire/arp.js';
import { walkIpv4Options, readRecordRoute, buildRecordRouteOption } from '../../src/wire/ipv4-options.js';

const vectors: Array<{ name: string; hex: string }> = JSON.parse(
  readFileSync(new URL('../../../test/vectors/seed-frames.json', import.meta.url), 'utf8'),
).vectors;
const vec = (name: string) => hex(vectors.find((v) => v.name === name)!.hex);
const ip = (s: string) => parseIpv4(s)!;
const HOST_MAC = parseMac('e2:20:76:2d:5d:2d')!;

function setup() {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers });
  const dev = new CaptureDevice('tap0');
  stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.start();
  return { clock, stack, dev };
}

/** An Ethernet frame from the host carrying an IPv4 packet built by the test. */
function ipFrame(opts: { src?: string; dst?: string; protocol: number; payload: Uint8Array; options?: Uint8Array; id?: number; mf?: boolean; fragOffset?: number; ttl?: number }): Uint8Array {
  const options = opts.options ?? new Uint8Array(0);
  const f = new Uint8Array(14 + 20 + options.length + opts.payload.length);
  emitEthernet(f, 0, parseMac('00:00:5e:00:53:01')!, HOST_MAC, EtherType.IPv4);
  f.set(opts.payload, 34 + options.length);
  emitIpv4(f, 14, {
    tos: 0, id: opts.id ?? 1, dontFragment: false, moreFragments: opts.mf ?? false, fragmentOffset: opts.fragOffset ?? 0,
    ttl: opts.ttl ?? 64, protocol: opts.protocol, src: ip(opts.src ?? '192.0.2.1'), dst: ip(opts.dst ?? '192.0.2.2'),
    options, payloadLength: opts.payload.length,
  });
  return f;
}

function echoRequest(id: number, seq: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  b.set(data, 8);
  emitIcmpHeader(b, 0, 8, 0, echoRest(id, seq), data.length);
  return b;
}

function learnHost(s: ReturnType<typeof setup>) {
  s.dev.inject(vec('seed001-incoming-10'));
  s.dev.take();
}

test('ARP request from the seed is answered with exactly the seed reply frame', () => {
  const s = setup();
  s.dev.inject(vec('seed001-incoming-10'));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  assert.equal(toHex(out[0]!), vectors.find((v) => v.name === 'seed001-outgoing-11')!.hex);
  assert.equal(s.stack.neighbors.get(ip('192.0.2.1'))!.state, 'reachable', 'the asker is learned (RFC 826 merge)');
});

test('ARP request for another address is not answered and learns nothing', () => {
  const s = setup();
  const f = vec('seed001-incoming-10');
  f[41] = 99; // target 192.0.2.99
  s.dev.inject(f);
  assert.equal(s.dev.take().length, 0);
  assert.equal(s.stack.neighbors.get(ip('192.0.2.1')), undefined);
  assert.equal(s.stack.counters.drops.get('arp: not-for-us'), 1);
});

test('echo request from the seed is answered with id, sequence and data preserved', () => {
  const s = setup();
  learnHost(s);
  const req = vec('seed000-incoming-2');
  s.dev.inject(req);
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const reply = out[0]!;
  const eth = new EthernetFrame(reply);
  assert.equal(eth.dstString(), 'e2:20:76:2d:5d:2d');
  assert.equal(eth.srcString(), '00:00:5e:00:53:01');
  const ipv = new Ipv4Packet(reply, 14);
  assert.equal(ipv.check(), null);
  assert.ok(ipv.verifyChecksum());
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
  assert.equal(ipv4ToString(ipv.dst), '192.0.2.1');
  assert.equal(ipv.totalLength, 84);
  const icmp = new IcmpPacket(reply, 34, 64);
  assert.ok(icmp.verifyChecksum());
  assert.equal(icmp.type, 0);
  assert.equal(icmp.echoId, 17);
  assert.equal(icmp.echoSeq, 1);
  assert.equal(toHex(icmp.data()), toHex(req.subarray(42)));
  // The reply differs from the request only in type and checksum: the seed's own reply had 0x8999.
  assert.equal(icmp.checksum, 0x8999);
  assert.equal(s.stack.counters.icmpEchoRepliesOut, 1);
});

test('echo request before ARP resolution is queued, and answered once the host answers our ARP', () => {
  const s = setup();
  s.dev.inject(vec('seed000-incoming-2'));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const arp = new ArpPacket(out[0]!, 14);
  assert.equal(arp.op, 1);
  assert.equal(ipv4ToString(arp.targetIp), '192.0.2.1');
  // The host's reply: swap the seed's ARP reply roles.
  const reply = vec('seed000-outgoing-1');
  reply.set(parseMac('00:00:5e:00:53:01')!, 0);
  reply.set(HOST_MAC, 6);
  reply.set(HOST_MAC, 22); reply.set(hex('c0000201'), 28);
  reply.set(parseMac('00:00:5e:00:53:01')!, 32); reply.set(hex('c0000202'), 38);
  s.dev.inject(reply);
  const after = s.dev.take();
  assert.equal(after.length, 1);
  assert.equal(new IcmpPacket(after[0]!, 34).type, 0);
});

test('Record Route in an echo request is echoed with our address recorded', () => {
  const s = setup();
  learnHost(s);
  const rr = buildRecordRouteOption(9);
  // As Linux sends it: the sender already recorded its own outgoing address.
  rr.set(hex('c0000201'), 3); rr[2] = 8;
  s.dev.inject(ipFrame({ protocol: 1, payload: echoRequest(5, 1, new Uint8Array(56)), options: rr }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const ipv = new Ipv4Packet(out[0]!, 14);
  assert.ok(ipv.verifyChecksum());
  assert.equal(ipv.headerLength, 60);
  const walk = walkIpv4Options(out[0]!, ipv.optionsOffset, ipv.optionsLength);
  const route = readRecordRoute(out[0]!, walk.options.find((o) => o.type === 7)!)!;
  assert.deepEqual(route.recorded.map(ipv4ToString), ['192.0.2.1', '192.0.2.2', '192.0.2.2']);
  const icmp = new IcmpPacket(out[0]!, 14 + 60, ipv.payloadLength);
  assert.ok(icmp.verifyChecksum());
  assert.equal(icmp.echoId, 5);
});

test('bad checksums, short frames and foreign packets are counted and dropped', () => {
  const s = setup();
  learnHost(s);
  const bad = vec('seed000-incoming-2');
  bad[24] ^= 0xff; // IP header checksum
  s.dev.inject(bad);
  const badIcmp = vec('seed000-incoming-2');
  badIcmp[40] ^= 0xff;
  s.dev.inject(badIcmp);
  s.dev.inject(new Uint8Array(10));
  s.dev.inject(vec('seed000-incoming-2').subarray(0, 30));
  s.dev.inject(vec('seed000-incoming-2').subarray(0, 60));
  s.dev.inject(ipFrame({ protocol: 1, dst: '192.0.2.77', payload: echoRequest(1, 1, new Uint8Array(8)) }));
  const notOurMac = vec('seed000-incoming-2');
  notOurMac[5] = 9;
  s.dev.inject(notOurMac);
  assert.equal(s.dev.take().length, 0);
  const d = s.stack.counters.drops;
  assert.equal(d.get('ipv4: bad-checksum'), 1);
  assert.equal(d.get('icmp: bad-checksum'), 1);
  assert.equal(d.get('ethernet: too-short'), 1);
  assert.equal(d.get('ipv4: too-short'), 1);
  assert.equal(d.get('ipv4: truncated'), 1);
  assert.equal(d.get('ipv4: not-for-us'), 1);
  assert.equal(d.get('ethernet: not-for-us'), 1);
});

test('an unknown protocol gets Protocol Unreachable quoting the header and 8 bytes', () => {
  const s = setup();
  learnHost(s);
  s.dev.inject(ipFrame({ protocol: 99, payload: Uint8Array.from({ length: 20 }, (_, i) => i) }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const ipv = new Ipv4Packet(out[0]!, 14);
  const icmp = new IcmpPacket(out[0]!, 34, ipv.payloadLength);
  assert.ok(icmp.verifyChecksum());
  assert.equal(icmp.type, 3);
  assert.equal(icmp.code, 2);
  assert.equal(icmp.dataLength, 28);
  const quoted = new Ipv4Packet(icmp.buf, icmp.dataOffset, icmp.dataLength);
  assert.equal(quoted.protocol, 99);
  assert.equal(toHex(icmp.data().subarray(20)), '0001020304050607');
});

test('a lying IP option length gets Parameter Problem pointing at it', () => {
  const s = setup();
  learnHost(s);
  const opts = Uint8Array.from([1, 7, 40, 4]); // NOP, then RR claiming 40 bytes in a 4-byte area
  s.dev.inject(ipFrame({ protocol: 1, payload: echoRequest(1, 1, new Uint8Array(8)), options: opts }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const icmp = new IcmpPacket(out[0]!, 34);
  assert.equal(icmp.type, 12);
  assert.equal(icmp.pointer, 22, 'offset of the bad length byte within the header');
});

test('fragments reassemble (any order) and the echo reply is fragmented back', () => {
  const s = setup();
  learnHost(s);
  const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const whole = echoRequest(7, 3, data);
  const parts = [
    ipFrame({ protocol: 1, id: 42, mf: true, fragOffset: 0, payload: whole.subarray(0, 1480) }),
    ipFrame({ protocol: 1, id: 42, mf: true, fragOffset: 1480, payload: whole.subarray(1480, 2960) }),
    ipFrame({ protocol: 1, id: 42, mf: false, fragOffset: 2960, payload: whole.subarray(2960) }),
  ];
  s.dev.inject(parts[2]!, parts[0]!, parts[1]!);
  const out = s.dev.take();
  assert.equal(out.length, 3, 'reply leaves as three fragments');
  const payload = new Uint8Array(whole.length);
  for (const f of out) {
    const p = new Ipv4Packet(f, 14);
    assert.ok(p.verifyChecksum());
    assert.ok(p.totalLength <= 1500);
    payload.set(p.payload(), p.fragmentOffset);
  }
  const icmp = new IcmpPacket(payload);
  assert.ok(icmp.verifyChecksum());
  assert.equal(icmp.type, 0);
  assert.equal(toHex(icmp.data()), toHex(data));
  assert.equal(s.stack.reassembler.datagrams, 0);
  assert.equal(s.stack.reassembler.bufferedBytes, 0);
});

test('overlapping fragments drop the datagram; a timed-out first fragment gets Time Exceeded code 1', () => {
  const s = setup();
  learnHost(s);
  const whole = echoRequest(7, 3, new Uint8Array(2000));
  s.dev.inject(ipFrame({ protocol: 1, id: 1, mf: true, fragOffset: 0, payload: whole.subarray(0, 1000) }));
  s.dev.inject(ipFrame({ protocol: 1, id: 1, mf: false, fragOffset: 992, payload: whole.subarray(992) }));
  assert.equal(s.stack.counters.drops.get('reassembly: overlap'), 1);
  assert.equal(s.dev.take().length, 0);
  s.dev.inject(ipFrame({ protocol: 1, id: 2, mf: true, fragOffset: 0, payload: whole.subarray(0, 1000) }));
  s.clock.advance(30_000);
  // The host's ARP entry went stale at the same moment, so a refreshing ARP request may go too.
  const out = s.dev.take().filter((f) => new EthernetFrame(f).etherType === EtherType.IPv4);
  assert.equal(out.length, 1);
  const icmp = new IcmpPacket(out[0]!, 34);
  assert.equal(icmp.type, 11);
  assert.equal(icmp.code, 1);
  assert.equal(s.stack.reassembler.datagrams, 0);
});

test('a datagram reassembling past 65535 bytes (ping of death) is dropped', () => {
  const s = setup();
  learnHost(s);
  s.dev.inject(ipFrame({ protocol: 1, id: 9, mf: false, fragOffset: 65528, payload: new Uint8Array(100) }));
  assert.equal(s.stack.counters.drops.get('reassembly: oversized'), 1);
  assert.equal(s.stack.reassembler.datagrams, 0);
});

test('random and truncated frames never throw and leave the stack answering ping', () => {
  const s = setup();
  learnHost(s);
  const seeds = vectors.map((v) => hex(v.hex));
  fc.assert(fc.property(fc.nat(seeds.length - 1), fc.nat(200), fc.uint8Array({ maxLength: 200 }), fc.nat(), (which, cut, noise, pos) => {
    const base = seeds[which]!.slice(0, Math.max(0, seeds[which]!.length - (cut % 60)));
    if (base.length > 0) base[pos % base.length] = noise[0] ?? 0;
    s.dev.inject(base);
    s.dev.inject(noise);
    const mutated = seeds[which]!.slice();
    for (let i = 0; i < noise.length && i < mutated.length; i += 7) mutated[(pos + i) % mutated.length] = noise[i]!;
    s.dev.inject(mutated);
  }), { numRuns: 3000 });
  assert.equal(s.stack.counters.internalErrors, 0);
  s.dev.take();
  s.dev.inject(vec('seed001-incoming-10'));
  s.dev.inject(vec('seed000-incoming-2'));
  const out = s.dev.take();
  assert.ok(out.some((f) => f.length >= 98 && new IcmpPacket(f, 34).type === 0), 'still answers ping');
});

test('echo replies answered in place (frame >= 60 bytes) equal the general path\'s replies byte for byte', () => {
  // The general path (replyToEcho) still answers frames under the Ethernet minimum, echoes
  // with options, and loopback; the in-place path must produce exactly what it would have.
  const expected = (req: Uint8Array, id: number): Uint8Array => {
    const reqIp = new Ipv4Packet(req, 14);
    const data = req.subarray(14 + 20 + 8, 14 + reqIp.totalLength);
    const f = new Uint8Array(Math.max(60, 14 + 20 + 8 + data.length));
    emitEthernet(f, 0, HOST_MAC, parseMac('00:00:5e:00:53:01')!, EtherType.IPv4);
    f.set(data, 42);
    const reqIcmp = new IcmpPacket(req, 34, reqIp.totalLength - 20);
    emitIcmpHeader(f, 34, 0, 0, echoRest(reqIcmp.echoId, reqIcmp.echoSeq), data.length);
    emitIpv4(f, 14, {
      tos: reqIp.tos, id, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1,
      src: reqIp.dst, dst: reqIp.src, options: new Uint8Array(0), payloadLength: 8 + data.length,
    });
    return f;
  };
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 1400 }),
      fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.boolean(),
      (data, id, seq, tos, code, dontFragment) => {
        const s = setup();
        learnHost(s);
        const icmp = echoRequest(id, seq, data);
        // RFC 792 gives echo code 0; a request with another is answered all the same, with 0.
        emitIcmpHeader(icmp, 0, 8, code, echoRest(id, seq), data.length);
        const req = ipFrame({ protocol: 1, payload: icmp, ttl: 3 });
        req[15] = tos;
        if (dontFragment) req[20] |= 0x40;
        new Ipv4Packet(req, 14).fillChecksum();
        const want = expected(req.slice(), 1 + s.stack.counters.ipOut);
        s.dev.inject(req);
        const out = s.dev.take();
        assert.equal(out.length, 1);
        assert.equal(toHex(out[0]!), toHex(want));
      },
    ),
    { numRuns: 200 },
  );
});

test('warm() replays the last echo answered in place: nothing sent, counted, queued or changed', () => {
  const s = setup();
  learnHost(s);
  const host = ip('192.0.2.1');
  s.stack.warm(s.dev);
  assert.equal(s.stack.warmReplays, 0, 'nothing to replay before an echo was answered');

  const first = echoRequest(7, 1, new Uint8Array(56).fill(0x61));
  s.dev.inject(ipFrame({ protocol: 1, payload: first }));
  const reply1 = s.dev.take();
  assert.equal(reply1.length, 1);
  const counters = JSON.stringify(s.stack.counters.toJSON());
  const entry = () => { const e = s.stack.neighbors.get(host)!; return `${e.state} ${e.expiresAt} ${e.requestsSent} ${e.queue.length} ${toHex(e.mac)}`; };
  const neighbor = entry();
  for (let i = 0; i < 5; i++) s.stack.warm(s.dev);
  assert.equal(s.stack.warmReplays, 5);
  assert.equal(s.dev.take().length, 0, 'a replay sends nothing');
  assert.equal(JSON.stringify(s.stack.counters.toJSON()), counters, 'a replay counts nothing');
  assert.equal(entry(), neighbor);

  // The IP identification goes on from the real replies only.
  s.dev.inject(ipFrame({ protocol: 1, payload: echoRequest(7, 2, new Uint8Array(56).fill(0x62)) }));
  const reply2 = s.dev.take();
  assert.equal(reply2.length, 1);
  assert.equal(new Ipv4Packet(reply2[0]!, 14).id, (new Ipv4Packet(reply1[0]!, 14).id + 1) & 0xffff);

  // A stale neighbour is probed by real traffic, never by a replay.
  s.clock.advance(31_000);
  assert.equal(s.stack.neighbors.get(host)!.state, 'stale');
  s.stack.warm(s.dev);
  assert.equal(s.dev.take().length, 0);
  assert.equal(s.stack.neighbors.get(host)!.requestsSent, 0);

  // An unresolved next hop: a replay queues nothing that would leave once ARP answers.
  s.stack.neighbors.delete(host);
  s.stack.warm(s.dev);
  assert.equal(s.stack.warmReplays, 7);
  assert.equal(s.dev.take().length, 0, 'no ARP request');
  assert.equal(s.stack.neighbors.get(host), undefined, 'no entry created');
  learnHost(s);
  assert.equal(s.dev.take().length, 0, 'nothing was queued');
  // That replay reached no output, so it is forgotten until the next echo.
  s.stack.warm(s.dev);
  assert.equal(s.stack.warmReplays, 7);
  s.dev.inject(ipFrame({ protocol: 1, payload: echoRequest(7, 3, new Uint8Array(56)) }));
  assert.equal(s.dev.take().length, 1);

  // Another device, or an observer watching frames: no replay.
  s.stack.warm(new CaptureDevice('tap1'));
  s.stack.observer = { frame() {} };
  s.stack.warm(s.dev);
  assert.equal(s.stack.warmReplays, 7);
  s.stack.observer = null;
  s.stack.warm(s.dev);
  assert.equal(s.stack.warmReplays, 8);
});

test('a neighbour\'s address changed by an ARP request is used but re-asked by broadcast, and the owner\'s answer wins', () => {
  const s = setup();
  learnHost(s);
  const host = ip('192.0.2.1');
  const bogus = parseMac('02:00:23:00:00:99')!;
  // A request claiming the host's address from another MAC (in the soak: a mangled frame).
  const spoof = vec('seed001-incoming-10');
  spoof.set(bogus, 6);
  spoof.set(bogus, 22);
  s.dev.inject(spoof);
  s.dev.take(); // our reply to it
  assert.equal(s.stack.neighbors.get(host)!.state, 'stale');
  assert.equal(toHex(s.stack.neighbors.get(host)!.mac), toHex(bogus));
  // The next packet to the host goes out, and a broadcast request asks who really has it.
  s.dev.inject(ipFrame({ protocol: 1, payload: echoRequest(9, 1, new Uint8Array(56)) }));
  const out = s.dev.take();
  assert.equal(out.length, 2);
  const arp = out.find((f) => f[12] === 0x08 && f[13] === 0x06)!;
  assert.ok(arp !== undefined, 'an ARP request');
  assert.equal(toHex(arp.subarray(0, 6)), 'ffffffffffff');
  assert.equal(new ArpPacket(arp, 14).op, 1);
  // The owner answers: its own address is back, reachable.
  const answer = new Uint8Array(42);
  answer.set(parseMac('00:00:5e:00:53:01')!, 0);
  answer.set(HOST_MAC, 6);
  answer.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
  answer.set(HOST_MAC, 22);
  answer.set([192, 0, 2, 1], 28);
  answer.set(parseMac('00:00:5e:00:53:01')!, 32);
  answer.set([192, 0, 2, 2], 38);
  s.dev.inject(answer);
  assert.equal(s.stack.neighbors.get(host)!.state, 'reachable');
  assert.equal(toHex(s.stack.neighbors.get(host)!.mac), toHex(HOST_MAC));
  s.dev.inject(ipFrame({ protocol: 1, payload: echoRequest(9, 2, new Uint8Array(56)) }));
  const reply = s.dev.take();
  assert.equal(reply.length, 1);
  assert.equal(toHex(reply[0]!.subarray(0, 6)), toHex(HOST_MAC));
  // The same address heard again from a request keeps the entry reachable (no needless probe).
  learnHost(s);
  assert.equal(s.stack.neighbors.get(host)!.state, 'reachable');
});
