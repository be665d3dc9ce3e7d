// ICMPv6 (src/wire/icmpv6.ts) and NDP (src/wire/ndp.ts) on real frames built by scapy and
// checked with tshark -V: each decodes to tshark's facts, verifies its checksum and re-emits
// byte for byte; then RFC 4861 validation, error quoting, and properties on random input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ipv6Packet } from '../../src/wire/ipv6.js';
import {
  Icmpv6Packet, Icmpv6Type, emitIcmpv6, emitIcmpv6Error, echoRest6, icmpv6QuoteLength, icmpv6TypeName, icmpv6CodeName,
  isIcmpv6Error, ICMPV6_HEADER_LENGTH,
} from '../../src/wire/icmpv6.js';
import {
  parseNdp, emitNdp, validateNdpAddressing, ndpMessageLength, emitNeighborSolicitation, emitNeighborAdvertisement,
  parseNdpOptions, type NdpMessage, type NdpMessageInit,
} from '../../src/wire/ndp.js';
import { parseIpv6, ipv6ToString } from '../../src/wire/addr6.js';
import { macToString, parseMac } from '../../src/wire/addr.js';
import { ipv6Frame } from '../helpers/ipv6-frames.js';
import { runs } from '../helpers/fuzz-runs.js';

const v6 = (t: string) => parseIpv6(t)!;

/** The IPv6 header and the ICMPv6 message (checksum verified) of a frame without extension headers. */
function icmpOf(name: string) {
  const f = ipv6Frame(name);
  const ip = new Ipv6Packet(f, 14);
  assert.equal(ip.check(), null, name);
  assert.equal(ip.nextHeader, 58, name);
  const icmp = new Icmpv6Packet(f, ip.payloadOffset, ip.payloadLength);
  assert.equal(icmp.check(), null);
  assert.ok(icmp.verifyChecksum(f, ip.srcOffset, f, ip.dstOffset), `${name} checksum`);
  return { f, ip, icmp };
}

/** Parse the NDP message of a frame, check the addressing rules, and re-emit it byte for byte. */
function ndpOf(name: string): NdpMessage {
  const { f, ip, icmp } = icmpOf(name);
  const m = parseNdp(f, icmp.offset, icmp.length);
  assert.ok(typeof m !== 'string', `${name}: ${String(m)}`);
  assert.equal(validateNdpAddressing(m, ip.hopLimit, f, ip.srcOffset, f, ip.dstOffset), null, name);
  assert.equal(ndpMessageLength(m), icmp.length);
  const out = new Uint8Array(icmp.length + 3);
  assert.equal(emitNdp(out, 3, m, ip.src, ip.dst), out.length);
  assert.deepEqual(out.subarray(3), f.subarray(icmp.offset, icmp.offset + icmp.length), `${name} re-emitted`);
  return m;
}

test('echo request and reply (tshark: id 0x1234, seq 7, data "pstack-v6", checksums good)', () => {
  for (const [name, type] of [['echo-request', 128], ['echo-reply', 129]] as const) {
    const { f, ip, icmp } = icmpOf(name);
    assert.equal(icmp.type, type);
    assert.equal(icmp.code, 0);
    assert.equal(icmp.echoId, 0x1234);
    assert.equal(icmp.echoSeq, 7);
    assert.equal(new TextDecoder().decode(icmp.data()), 'pstack-v6');
    const out = new Uint8Array(icmp.length);
    emitIcmpv6(out, 0, { type, code: 0, rest: echoRest6(0x1234, 7), data: icmp.data() }, ip.src, ip.dst);
    assert.deepEqual(out, f.subarray(icmp.offset));
  }
});

test('errors: Packet Too Big MTU 1280 quoting to 1280 bytes, unreachable port, hop limit, pointer 42', () => {
  const ptb = icmpOf('packet-too-big');
  assert.equal(ptb.icmp.type, Icmpv6Type.PacketTooBig);
  assert.equal(ptb.icmp.mtu, 1280);
  assert.equal(ptb.ip.totalLength, 1280);
  const quoted = new Ipv6Packet(ptb.f, ptb.icmp.dataOffset, ptb.icmp.dataLength);
  assert.equal(ipv6ToString(quoted.dst), '2001:db8:9::1');
  const du = icmpOf('dest-unreach');
  assert.equal(du.icmp.type, 1);
  assert.equal(icmpv6CodeName(1, du.icmp.code), 'Port Unreachable');
  const te = icmpOf('time-exceeded');
  assert.equal(icmpv6CodeName(te.icmp.type, te.icmp.code), 'Hop Limit Exceeded in Transit');
  const pp = icmpOf('param-problem');
  assert.equal(pp.icmp.type, 4);
  assert.equal(pp.icmp.pointer, 42);
  assert.equal(icmpv6TypeName(4), 'Parameter Problem');
  assert.ok(isIcmpv6Error(4) && !isIcmpv6Error(128));
  // Re-emitting the unreachable from its invoking packet gives the same bytes.
  const out = new Uint8Array(du.icmp.length);
  emitIcmpv6Error(out, 0, 1, 4, 0, du.f, du.icmp.dataOffset, du.icmp.dataLength, du.ip.src, du.ip.dst);
  assert.deepEqual(out, du.f.subarray(du.icmp.offset));
});

test('an error quotes as much of the invoking packet as fits in 1280 bytes, and checksums', () => {
  assert.equal(icmpv6QuoteLength(100), 100);
  assert.equal(icmpv6QuoteLength(1500), 1232);
  assert.equal(icmpv6QuoteLength(1500, 8), 1224);
  const invoking = new Uint8Array(2000).map((_, i) => i & 0xff);
  const buf = new Uint8Array(1300);
  const src = v6('2001:db8::2'), dst = v6('2001:db8::1');
  const end = emitIcmpv6Error(buf, 40, Icmpv6Type.PacketTooBig, 0, 1280, invoking, 10, 1990, src, dst);
  assert.equal(end, 1280);
  const icmp = new Icmpv6Packet(buf, 40, end - 40);
  assert.ok(icmp.verifyChecksum(src, 0, dst, 0));
  assert.equal(icmp.mtu, 1280);
  assert.equal(icmp.data()[0], 10);
  assert.equal(icmp.dataLength, 1232);
  buf[100] ^= 1;
  assert.ok(!icmp.verifyChecksum(src, 0, dst, 0));
});

test('NS with source link-layer, DAD NS, NA R/S/O (tshark facts)', () => {
  const ns = ndpOf('ns');
  assert.equal(ns.kind, 'ns');
  if (ns.kind !== 'ns') return;
  assert.equal(ipv6ToString(ns.target), '2001:db8::2');
  assert.equal(macToString(ns.options.sourceLinkLayer!), '02:00:00:00:00:01');
  const dad = ndpOf('ns-dad');
  assert.ok(dad.kind === 'ns' && dad.options.sourceLinkLayer === null);
  const na = ndpOf('na');
  assert.ok(na.kind === 'na' && na.router && na.solicited && na.override);
  assert.equal(macToString(na.options.targetLinkLayer!), '02:00:00:00:00:02');
});

test('RS and RA with MTU, prefix, RDNSS, DNSSL (tshark: flags 0xc8 = M, O, Prf high)', () => {
  const rs = ndpOf('rs');
  assert.ok(rs.kind === 'rs' && macToString(rs.options.sourceLinkLayer!) === '02:00:00:00:00:01');
  const ra = ndpOf('ra');
  assert.equal(ra.kind, 'ra');
  if (ra.kind !== 'ra') return;
  assert.deepEqual([ra.curHopLimit, ra.managed, ra.other, ra.preference, ra.routerLifetime, ra.reachableTime, ra.retransTimer],
    [64, true, true, 1, 1800, 30000, 1000]);
  assert.equal(ra.options.mtu, 1500);
  assert.equal(ra.options.prefixes.length, 1);
  const p = ra.options.prefixes[0]!;
  assert.deepEqual([ipv6ToString(p.prefix), p.prefixLength, p.onLink, p.autonomous, p.validLifetime, p.preferredLifetime],
    ['2001:db8:1::', 64, true, true, 86400, 14400]);
  assert.deepEqual(ra.options.rdnss.map((r) => [r.lifetime, r.servers.map((s) => ipv6ToString(s))]), [[600, ['2001:db8::53', '2001:db8::54']]]);
  assert.deepEqual(ra.options.dnssl, [{ lifetime: 600, domains: ['example.test', 'lab.example'] }]);
  assert.deepEqual(ra.options.unknown, []);
  assert.deepEqual(ra.options.malformed, []);
});

test('Redirect with target link-layer and redirected header (tshark: target fe80::3, dst 2001:db8:5::9)', () => {
  const r = ndpOf('redirect');
  assert.equal(r.kind, 'redirect');
  if (r.kind !== 'redirect') return;
  assert.equal(ipv6ToString(r.target), 'fe80::3');
  assert.equal(ipv6ToString(r.destination), '2001:db8:5::9');
  assert.equal(macToString(r.options.targetLinkLayer!), '02:00:00:00:00:03');
  const quoted = new Ipv6Packet(r.options.redirectedHeader!, 0);
  assert.equal(quoted.dstString(), '2001:db8:5::9');
  assert.equal(r.options.redirectedHeader!.length, 48);
});

test('RFC 4861 validation: code, length, option length 0, truncated option, multicast target, addressing', () => {
  const { f, icmp } = icmpOf('ns');
  const ns = f.slice(icmp.offset, icmp.offset + icmp.length);
  assert.ok(typeof parseNdp(ns, 0, ns.length) !== 'string');
  const bad = (mutate: (b: Uint8Array) => void, len = ns.length) => { const b = ns.slice(); mutate(b); return parseNdp(b, 0, len); };
  assert.equal(bad((b) => { b[1] = 1; }), 'bad-code');
  assert.equal(bad(() => {}, 23), 'too-short');
  assert.equal(bad((b) => { b[25] = 0; }), 'zero-length-option');
  assert.equal(bad((b) => { b[25] = 2; }), 'truncated-option');
  assert.equal(bad(() => {}, 25), 'truncated-option');
  assert.equal(bad((b) => { b[8] = 0xff; }), 'multicast-target');
  assert.equal(parseNdp(ns, 0, 3), 'too-short');
  const echo = icmpOf('echo-request');
  assert.equal(parseNdp(echo.f, echo.icmp.offset, echo.icmp.length), 'not-ndp');
  // A known option with a wrong length is ignored (counted), an unknown one skipped.
  const o = parseNdpOptions(Uint8Array.from([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 1, 0, 0, 0, 0, 0, 0]), 0, 24);
  assert.ok(typeof o !== 'string');
  assert.deepEqual([o.malformed, o.unknown, o.sourceLinkLayer], [[1], [200], null]);
  const m = parseNdp(ns, 0, ns.length) as NdpMessage;
  const S = v6('2001:db8::1'), U = v6('::'), SN = v6('ff02::1:ff00:2'), LL = v6('fe80::1'), ALL = v6('ff02::1');
  assert.equal(validateNdpAddressing(m, 64, S, 0, SN, 0), 'hop-limit-not-255');
  assert.equal(validateNdpAddressing(m, 255, U, 0, SN, 0), 'dad-with-source-link-layer');
  assert.equal(validateNdpAddressing({ kind: 'ns', target: S, options: { ...m.options, sourceLinkLayer: null } }, 255, U, 0, ALL, 0), 'dad-not-to-solicited-node');
  const na = ndpOf('na');
  assert.equal(validateNdpAddressing(na, 255, S, 0, ALL, 0), 'solicited-to-multicast');
  const ra = ndpOf('ra');
  assert.equal(validateNdpAddressing(ra, 255, S, 0, ALL, 0), 'source-not-link-local');
  assert.equal(validateNdpAddressing(ra, 255, LL, 0, ALL, 0), null);
});

test('the allocation-free NS/NA emitters equal the general emitter and the real frames', () => {
  const { f, ip, icmp } = icmpOf('ns');
  const out = new Uint8Array(icmp.length);
  emitNeighborSolicitation(out, 0, f, icmp.offset + 8, parseMac('02:00:00:00:00:01'), ip.src, ip.dst);
  assert.deepEqual(out, f.subarray(icmp.offset));
  const na = icmpOf('na');
  const out2 = new Uint8Array(na.icmp.length);
  emitNeighborAdvertisement(out2, 0, v6('2001:db8::2'), 0, parseMac('02:00:00:00:00:02'), true, true, true, na.ip.src, na.ip.dst);
  assert.deepEqual(out2, na.f.subarray(na.icmp.offset));
});

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => { if (a[0] === 0xff) a[0] = 0x20; return a; });
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);
const options = fc.record({
  sourceLinkLayer: fc.option(mac), targetLinkLayer: fc.option(mac), mtu: fc.option(fc.integer({ min: 0, max: 0xffffffff })),
  prefixes: fc.array(fc.record({
    prefixLength: fc.integer({ min: 0, max: 128 }), onLink: fc.boolean(), autonomous: fc.boolean(),
    validLifetime: fc.integer({ min: 0, max: 0xffffffff }), preferredLifetime: fc.integer({ min: 0, max: 0xffffffff }), prefix: addr,
  }), { maxLength: 2 }),
  rdnss: fc.array(fc.record({ lifetime: fc.integer({ min: 0, max: 0xffffffff }), servers: fc.array(addr, { minLength: 1, maxLength: 3 }) }), { maxLength: 2 }),
  dnssl: fc.array(fc.record({ lifetime: fc.integer({ min: 0, max: 0xffffffff }), domains: fc.array(fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.')), { minLength: 1, maxLength: 3 }) }), { maxLength: 2 }),
  redirectedHeader: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => { const n = new Uint8Array((b.length + 7) & ~7); n.set(b); return n; })),
  unknown: fc.constant([] as number[]), malformed: fc.constant([] as number[]),
});
const message: fc.Arbitrary<NdpMessage> = fc.oneof(
  fc.record({ kind: fc.constant('rs' as const), options }),
  fc.record({
    kind: fc.constant('ra' as const), curHopLimit: fc.integer({ min: 0, max: 255 }), managed: fc.boolean(), other: fc.boolean(),
    preference: fc.constantFrom(-1, 0, 1), routerLifetime: fc.integer({ min: 0, max: 0xffff }),
    reachableTime: fc.integer({ min: 0, max: 0xffffffff }), retransTimer: fc.integer({ min: 0, max: 0xffffffff }), options,
  }),
  fc.record({ kind: fc.constant('ns' as const), target: addr, options }),
  fc.record({ kind: fc.constant('na' as const), router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: addr, options }),
  fc.record({ kind: fc.constant('redirect' as const), target: addr, destination: addr, options }),
);

/** fast-check records have a null prototype; compare as plain JSON-ish data. */
const plain = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));

test('emit -> parse is the identity for every NDP message and option', () => {
  const src = v6('fe80::1'), dst = v6('ff02::1');
  fc.assert(fc.property(message, fc.integer({ min: 0, max: 7 }), (m, at) => {
    const len = ndpMessageLength(m as NdpMessageInit);
    const buf = new Uint8Array(at + len);
    assert.equal(emitNdp(buf, at, m as NdpMessageInit, src, dst), at + len);
    assert.ok(new Icmpv6Packet(buf, at, len).verifyChecksum(src, 0, dst, 0));
    assert.deepEqual(plain(parseNdp(buf, at, len)), plain(m));
  }), runs(300));
});

test('parseNdp never throws on random bytes', () => {
  fc.assert(fc.property(fc.constantFrom(133, 134, 135, 136, 137), fc.uint8Array({ maxLength: 120 }), (type, body) => {
    const b = new Uint8Array(body.length + 2);
    b.set(body, 2);
    b[0] = type;
    const r = parseNdp(b, 0, b.length);
    assert.ok(typeof r === 'string' || typeof r === 'object');
  }), runs(1000));
  assert.equal(ICMPV6_HEADER_LENGTH, 8);
});
