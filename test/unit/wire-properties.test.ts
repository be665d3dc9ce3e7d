// Properties of the pure wire layer: checksums agree with a naive reference, incremental
// updates agree with recomputation, emit/parse round-trips, and no parser throws on garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { internetChecksum, checksumUpdate16, checksumUpdate32, sum16, fold16 } from '../../src/wire/checksum.js';
import { Ipv4Packet, emitIpv4, emitIpv4Simple } from '../../src/wire/ipv4.js';
import { walkIpv4Options, readRecordRoute, recordRouteAppend, buildRecordRouteOption } from '../../src/wire/ipv4-options.js';
import { UdpDatagram, emitUdp } from '../../src/wire/udp.js';
import { TcpSegment, emitTcp } from '../../src/wire/tcp.js';
import { TcpOptions, parseTcpOptions, listTcpOptions, emitTcpOptions } from '../../src/wire/tcp-options.js';
import { EthernetFrame } from '../../src/wire/ethernet.js';
import { ArpPacket } from '../../src/wire/arp.js';
import { IcmpPacket } from '../../src/wire/icmp.js';
import { parseIpv4, ipv4ToString, parseCidr, prefixToMask, maskToPrefix, parseMac, macToString } from '../../src/wire/addr.js';

function naiveChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

const bytesArb = fc.uint8Array({ minLength: 0, maxLength: 2000 });

test('checksum equals the naive RFC 1071 reference for any bytes, even and odd lengths', () => {
  fc.assert(fc.property(bytesArb, (b) => internetChecksum(b, 0, b.length) === naiveChecksum(b)), { numRuns: 500 });
});

test('a buffer with its checksum inserted sums to 0xffff', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 600 }), (raw) => {
    const b = raw.length % 2 ? raw.subarray(0, raw.length - 1) : raw;
    b[0] = 0; b[1] = 0;
    const c = internetChecksum(b, 0, b.length);
    b[0] = c >>> 8; b[1] = c & 0xff;
    return fold16(sum16(b, 0, b.length)) === 0xffff;
  }), { numRuns: 300 });
});

test('RFC 1624 incremental update equals full recomputation (16- and 32-bit fields)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 24, maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }),
    (raw, at, w16, w32) => {
      const b = raw.subarray(0, raw.length & ~1);
      b[0] = 0; b[1] = 0;
      const before = internetChecksum(b, 0, b.length);
      const pos = 2 + 2 * (at % ((b.length - 6) / 2));
      const old16 = (b[pos]! << 8) | b[pos + 1]!;
      b[pos] = w16 >>> 8; b[pos + 1] = w16 & 0xff;
      const inc16 = checksumUpdate16(before, old16, w16);
      const full16 = internetChecksum(b, 0, b.length);
      // 0x0000 and 0xffff are both representations of zero in one's complement.
      assert.equal(inc16 % 0xffff, full16 % 0xffff);
      const old32 = ((b[pos]! << 24) | (b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!) >>> 0;
      b[pos] = w32 >>> 24; b[pos + 1] = (w32 >>> 16) & 0xff; b[pos + 2] = (w32 >>> 8) & 0xff; b[pos + 3] = w32 & 0xff;
      const inc32 = checksumUpdate32(full16, old32, w32);
      assert.equal(inc32 % 0xffff, internetChecksum(b, 0, b.length) % 0xffff);
    }), { numRuns: 500 });
});

test('IPv4 header emit then parse round-trips, with options', () => {
  fc.assert(fc.property(
    fc.record({
      tos: fc.integer({ min: 0, max: 255 }), id: fc.integer({ min: 0, max: 0xffff }), dontFragment: fc.boolean(),
      moreFragments: fc.boolean(), fragmentOffset: fc.integer({ min: 0, max: 8191 }).map((x) => x * 8),
      ttl: fc.integer({ min: 0, max: 255 }), protocol: fc.integer({ min: 0, max: 255 }),
      src: fc.integer({ min: 0, max: 0xffffffff }), dst: fc.integer({ min: 0, max: 0xffffffff }),
      slots: fc.integer({ min: 0, max: 9 }), payloadLength: fc.integer({ min: 0, max: 100 }),
    }),
    (r) => {
      const options = r.slots ? buildRecordRouteOption(r.slots) : new Uint8Array(0);
      const repr = { ...r, options };
      const buf = new Uint8Array(60 + r.payloadLength);
      emitIpv4(buf, 0, repr);
      const ip = new Ipv4Packet(buf, 0, 20 + options.length + r.payloadLength);
      assert.equal(ip.check(), null);
      assert.ok(ip.verifyChecksum());
      const { slots: _s, ...expected } = repr;
      assert.deepEqual(ip.parse(), expected);
    }), { numRuns: 300 });
});

test('emitIpv4Simple matches emitIpv4 without options', () => {
  const a = new Uint8Array(20), b = new Uint8Array(20);
  emitIpv4Simple(a, 0, 0xc0000202, 0xc0000201, 1, 64, 7, 64, true);
  emitIpv4(b, 0, { tos: 0, id: 7, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1, src: 0xc0000202, dst: 0xc0000201, options: new Uint8Array(0), payloadLength: 64 });
  assert.deepEqual(a, b);
});

test('Record Route: append records at the pointer, advances it, and stops when full', () => {
  const opt = buildRecordRouteOption(2);
  const buf = new Uint8Array(opt);
  const walk = walkIpv4Options(buf, 0, buf.length);
  assert.equal(walk.error, null);
  const rr = walk.options[0]!;
  assert.ok(recordRouteAppend(buf, rr, 0xc0000202));
  assert.ok(recordRouteAppend(buf, rr, 0xc6336401));
  assert.equal(recordRouteAppend(buf, rr, 0xcb007101), false);
  const read = readRecordRoute(buf, rr)!;
  assert.equal(read.pointer, 12);
  assert.deepEqual(read.recorded.map(ipv4ToString), ['192.0.2.2', '198.51.100.1']);
});

test('IPv4 option walker rejects lying lengths instead of reading past the header', () => {
  assert.equal(walkIpv4Options(Uint8Array.from([7, 40, 4, 0]), 0, 4).error, 'bad-option-length');
  assert.equal(walkIpv4Options(Uint8Array.from([7, 1, 4, 0]), 0, 4).error, 'bad-option-length');
  assert.equal(walkIpv4Options(Uint8Array.from([1, 1, 1, 7]), 0, 4).error, 'option-truncated');
  assert.equal(walkIpv4Options(Uint8Array.from([1, 0, 7, 99]), 0, 4).error, null, 'bytes after EOL are ignored');
});

test('UDP emit then verify, and a zero checksum is accepted as none', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (payload, sp, dp) => {
    const buf = new Uint8Array(8 + payload.length);
    buf.set(payload, 8);
    emitUdp(buf, 0, { srcPort: sp, dstPort: dp, payloadLength: payload.length }, 0xc0000201, 0xc0000202);
    const u = new UdpDatagram(buf);
    assert.equal(u.check(), null);
    assert.ok(u.verifyChecksum(0xc0000201, 0xc0000202));
    assert.notEqual(u.checksum, 0);
    assert.equal(u.srcPort, sp);
    assert.equal(u.dstPort, dp);
    buf[6] = 0; buf[7] = 0;
    assert.ok(u.verifyChecksum(0xc0000201, 0xc0000202));
  }), { numRuns: 200 });
});

test('TCP options emitted in the Linux layout parse back to the same values', () => {
  fc.assert(fc.property(
    fc.record({
      mss: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })),
      windowScale: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 14 })),
      sackPermitted: fc.boolean(), timestamps: fc.boolean(),
      tsVal: fc.integer({ min: 0, max: 0xffffffff }), tsEcr: fc.integer({ min: 0, max: 0xffffffff }),
      sackBlocks: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 8, maxLength: 8 }),
      sackCount: fc.integer({ min: 0, max: 4 }),
    }),
    (o) => {
      const buf = new Uint8Array(60);
      const len = emitTcpOptions(buf, 0, o);
      assert.equal(len % 4, 0);
      assert.ok(len <= 40);
      const parsed = new TcpOptions();
      assert.equal(parseTcpOptions(buf, 0, len, parsed), null);
      assert.equal(parsed.mss, o.mss);
      assert.equal(parsed.windowScale, o.windowScale);
      assert.equal(parsed.sackPermitted, o.sackPermitted);
      assert.equal(parsed.hasTimestamps, o.timestamps);
      if (o.timestamps) { assert.equal(parsed.tsVal, o.tsVal); assert.equal(parsed.tsEcr, o.tsEcr); }
      assert.ok(parsed.sackCount <= o.sackCount);
      for (let i = 0; i < 2 * parsed.sackCount; i++) assert.equal(parsed.sackBlocks[i], o.sackBlocks[i]);
    }), { numRuns: 300 });
});

test('TCP segment emit then verify checksum, flags and ports', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0, max: 0xffffffff }), (payload, flags, seq) => {
    const buf = new Uint8Array(20 + payload.length);
    buf.set(payload, 20);
    emitTcp(buf, 0, { srcPort: 1, dstPort: 2, seq, ack: 5, flags, window: 100, urgentPointer: 0 }, 0, payload.length, 0xc0000201, 0xc0000202);
    const t = new TcpSegment(buf);
    assert.equal(t.check(), null);
    assert.ok(t.verifyChecksum(0xc0000201, 0xc0000202));
    assert.equal(t.flags, flags);
    assert.equal(t.seq, seq);
    assert.equal(t.payloadLength, payload.length);
  }), { numRuns: 200 });
});

test('no parser throws on arbitrary bytes, and accessors stay inside the checked length', () => {
  const tcpOpts = new TcpOptions();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
    const eth = new EthernetFrame(b);
    if (eth.check() === null) { void eth.etherType; eth.payload(); }
    const arp = new ArpPacket(b);
    if (arp.check() === null) arp.parse();
    const ip = new Ipv4Packet(b);
    if (ip.check() === null) {
      ip.verifyChecksum();
      const w = walkIpv4Options(b, ip.optionsOffset, ip.optionsLength);
      for (const o of w.options) if (o.type === 7) readRecordRoute(b, o);
      assert.ok(ip.payloadOffset + ip.payloadLength <= b.length);
    }
    const icmp = new IcmpPacket(b);
    if (icmp.check() === null) { icmp.verifyChecksum(); icmp.parse(); }
    const udp = new UdpDatagram(b);
    if (udp.check() === null) { udp.verifyChecksum(1, 2); assert.ok(udp.payloadOffset + udp.payloadLength <= b.length); }
    const tcp = new TcpSegment(b);
    if (tcp.check() === null) {
      parseTcpOptions(b, tcp.optionsOffset, tcp.optionsLength, tcpOpts);
      listTcpOptions(b, tcp.optionsOffset, tcp.optionsLength);
      tcp.verifyChecksum(1, 2);
      assert.ok(tcp.payloadOffset <= b.length);
    }
  }), { numRuns: 3000 });
});

test('a TCP option whose length overruns the header is malformed', () => {
  const out = new TcpOptions();
  assert.equal(parseTcpOptions(Uint8Array.from([2, 4, 5]), 0, 3, out), 'bad-tcp-option');
  assert.equal(parseTcpOptions(Uint8Array.from([8, 10, 0, 0]), 0, 4, out), 'bad-tcp-option');
  assert.equal(parseTcpOptions(Uint8Array.from([5, 0, 0, 0]), 0, 4, out), 'bad-tcp-option');
  assert.equal(listTcpOptions(Uint8Array.from([1, 3]), 0, 2), null);
});

test('address text forms', () => {
  assert.equal(parseIpv4('192.0.2.2'), 0xc0000202);
  assert.equal(parseIpv4('192.0.2.256'), null);
  assert.equal(parseIpv4('192.0.2'), null);
  assert.equal(parseIpv4('1.2.3.04x'), null);
  assert.deepEqual(parseCidr('192.0.2.2/24'), { address: 0xc0000202, prefixLength: 24 });
  assert.equal(parseCidr('192.0.2.2/33'), null);
  assert.equal(prefixToMask(24), 0xffffff00);
  assert.equal(prefixToMask(0), 0);
  assert.equal(prefixToMask(32), 0xffffffff);
  assert.equal(maskToPrefix(0xffffff00), 24);
  assert.equal(macToString(parseMac('00:00:5E:00:53:01')!), '00:00:5e:00:53:01');
  assert.equal(parseMac('00:00:5e:00:53'), null);
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => parseIpv4(ipv4ToString(a)) === a));
});
