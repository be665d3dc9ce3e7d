// IPv6 addresses (src/wire/addr6.ts): RFC 4291 text in, RFC 5952 text out (the RFC's own
// examples, and WHATWG URL's serializer as an independent oracle), classification, prefixes,
// derived addresses, interface identifiers, and the IPv6 fixed header on real frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHmac, createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  parseIpv6, ipv6ToString, parseScopedIpv6, parseIpv6Cidr, ipv6PrefixMatch, ipv6Prefix, commonPrefixLength,
  isUnspecifiedIpv6, isLoopbackIpv6, isLinkLocalIpv6, isMulticastIpv6, multicastScope, isV4MappedIpv6,
  isDocumentationIpv6, isUniqueLocalIpv6, isSolicitedNodeMulticast, ipv6Kind, solicitedNodeMulticast, multicastMac6,
  eui64InterfaceId, linkLocalFromMac, stablePrivacyInterfaceId, isReservedInterfaceId, readIpv6, writeIpv6,
  ipv6Equals, compareIpv6, v4MappedToIpv4, ipv4ToV4Mapped, isLinkLocalMulticastIpv6, ipv6FromPrefixAndIid,
} from '../../src/wire/addr6.js';
import { sha256, hmacSha256 } from '../../src/wire/sha256.js';
import { Ipv6Packet, emitIpv6, IPV6_HEADER_LENGTH, NextHeader } from '../../src/wire/ipv6.js';
import { EthernetFrame, EtherType } from '../../src/wire/ethernet.js';
import { fold16, sum16 } from '../../src/wire/checksum.js';
import { macToString, parseMac } from '../../src/wire/addr.js';
import { runs } from '../helpers/fuzz-runs.js';

const frames: Record<string, string> = JSON.parse(readFileSync(new URL('../../../test/unit/fixtures/ipv6-frames.json', import.meta.url), 'utf8'));
const frame = (name: string) => Uint8Array.from(Buffer.from(frames[name]!, 'hex'));
const v6 = (t: string) => parseIpv6(t)!;

test('RFC 5952 section 4 and 5 examples format canonically', () => {
  const cases: [string, string][] = [
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3: first of equal runs
    ['2001:0db8:0:0:0:0:2:1', '2001:db8::2:1'], // 4.1 leading zeros, 4.2.1 longest
    ['2001:db8::0:1', '2001:db8::1'],
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2: one zero group is not '::'
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3: the longest run
    ['2001:DB8::1', '2001:db8::1'], // 4.3 lowercase
    ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // 5: mapped keeps the dotted quad
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
    ['::', '::'], ['::1', '::1'], ['fe80::', 'fe80::'], ['1::', '1::'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::192.0.2.1', '::c000:201'], // deprecated IPv4-compatible: hex, not dotted
    ['1:2:3:4:5:6:192.0.2.1', '1:2:3:4:5:6:c000:201'],
    ['0:0:0:0:0:0:0:0', '::'], ['1:0:0:0:0:0:0:0', '1::'], ['0:0:1:0:0:0:0:0', '0:0:1::'],
  ];
  for (const [input, out] of cases) {
    const b = parseIpv6(input);
    assert.ok(b !== null, input);
    assert.equal(ipv6ToString(b), out, input);
  }
});

test('malformed IPv6 text is refused', () => {
  for (const bad of ['', ':', '1:2:3:4:5:6:7', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:8:9', '::1.2.3', '1.2.3.4',
    '1.2.3.4::', '1.2.3.4::1', '::1.2.3.04', '::256.1.1.1', ':1::', '1::2:', ':::', '1:2:3:4:5:6:7::8:9', '::1%eth0',
    '1:2:3:4:5:6:7:8::', 'fe80::1/64', ' ::1']) {
    assert.equal(parseIpv6(bad), null, bad);
  }
  // '::' standing for one group is allowed by RFC 4291 (5952 only says not to write it).
  assert.equal(ipv6ToString(v6('1:2:3:4:5:6:7::')), '1:2:3:4:5:6:7:0');
});

test('zones are split off and returned separately', () => {
  const s = parseScopedIpv6('fe80::1%tap0')!;
  assert.equal(ipv6ToString(s.address), 'fe80::1');
  assert.equal(s.zone, 'tap0');
  assert.equal(parseScopedIpv6('2001:db8::1')!.zone, null);
  assert.equal(parseScopedIpv6('fe80::1%'), null);
  assert.equal(parseScopedIpv6('fe80::1%a%b'), null);
  assert.equal(parseScopedIpv6('fe80::x%eth0'), null);
});

test('ipv6ToString agrees with WHATWG URL serialization and parse inverts it', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, sparse) => {
    if (sparse) for (let i = 0; i < 16; i++) if (bytes[i]! & 1) bytes[i] = 0; // more zero runs
    const text = ipv6ToString(bytes);
    assert.deepEqual(parseIpv6(text), bytes);
    if (!isV4MappedIpv6(bytes)) assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
  }), runs(500));
});

test('parseIpv6 never throws on arbitrary text', () => {
  fc.assert(fc.property(fc.string({ maxLength: 50 }), (t) => { parseIpv6(t); parseScopedIpv6(t); parseIpv6Cidr(t); }), runs(500));
  fc.assert(fc.property(fc.stringMatching(/^[0-9a-f:.%]{0,46}$/), (t) => {
    const b = parseIpv6(t);
    if (b !== null) assert.deepEqual(parseIpv6(ipv6ToString(b)), b);
  }), runs(500));
});

test('CIDR parse and prefix arithmetic', () => {
  const c = parseIpv6Cidr('2001:db8::2/64')!;
  assert.equal(ipv6ToString(c.address), '2001:db8::2');
  assert.equal(c.prefixLength, 64);
  for (const bad of ['2001:db8::2', '2001:db8::2/129', '2001:db8::2/', '2001:db8::2/064', 'x/64', '2001:db8::2/6 4']) {
    assert.equal(parseIpv6Cidr(bad), null, bad);
  }
  assert.equal(ipv6ToString(ipv6Prefix(v6('2001:db8:1:2:3:4:5:6'), 64)), '2001:db8:1:2::');
  assert.equal(ipv6ToString(ipv6Prefix(v6('2001:db8:1:2:3:4:5:6'), 36)), '2001:db8::');
  assert.equal(ipv6ToString(ipv6Prefix(v6('2001:db8:1:2:3:4:5:6'), 0)), '::');
  assert.ok(ipv6PrefixMatch(v6('2001:db8::1'), 0, v6('2001:db8::ffff'), 0, 64));
  assert.ok(ipv6PrefixMatch(v6('fe80::1'), 0, v6('febf::'), 0, 10));
  assert.ok(!ipv6PrefixMatch(v6('fe80::1'), 0, v6('fec0::'), 0, 10));
  assert.ok(ipv6PrefixMatch(v6('::1'), 0, v6('::2'), 0, 126));
  assert.ok(!ipv6PrefixMatch(v6('::1'), 0, v6('::2'), 0, 127));
  assert.equal(commonPrefixLength(v6('2001:db8::1'), v6('2001:db8::1')), 128);
  assert.equal(commonPrefixLength(v6('2001:db8::1'), v6('2001:db8::')), 127);
  assert.equal(commonPrefixLength(v6('8000::'), v6('::')), 0);
});

test('classification', () => {
  assert.ok(isUnspecifiedIpv6(v6('::')) && !isUnspecifiedIpv6(v6('::1')));
  assert.ok(isLoopbackIpv6(v6('::1')) && !isLoopbackIpv6(v6('::2')) && !isLoopbackIpv6(v6('1::1')));
  assert.ok(isLinkLocalIpv6(v6('fe80::1')) && isLinkLocalIpv6(v6('febf::1')) && !isLinkLocalIpv6(v6('fec0::1')));
  assert.ok(isMulticastIpv6(v6('ff02::1')) && !isMulticastIpv6(v6('fe02::1')));
  assert.equal(multicastScope(v6('ff02::1')), 2);
  assert.equal(multicastScope(v6('ff15::1234')), 5);
  assert.equal(multicastScope(v6('ff0e::1')), 14);
  assert.equal(multicastScope(v6('2001:db8::1')), -1);
  assert.ok(isLinkLocalMulticastIpv6(v6('ff02::fb')) && !isLinkLocalMulticastIpv6(v6('ff05::fb')));
  assert.ok(isV4MappedIpv6(v6('::ffff:192.0.2.1')) && !isV4MappedIpv6(v6('::fffe:192.0.2.1')));
  assert.equal(v4MappedToIpv4(v6('::ffff:192.0.2.1')), 0xc0000201);
  assert.equal(ipv6ToString(ipv4ToV4Mapped(0xc6336401)), '::ffff:198.51.100.1');
  assert.ok(isDocumentationIpv6(v6('2001:db8:ffff::1')) && !isDocumentationIpv6(v6('2001:db9::1')));
  assert.ok(isUniqueLocalIpv6(v6('fd00::1')) && isUniqueLocalIpv6(v6('fc00::1')) && !isUniqueLocalIpv6(v6('fe00::1')));
  assert.ok(isSolicitedNodeMulticast(v6('ff02::1:ff00:2')) && !isSolicitedNodeMulticast(v6('ff02::1:fe00:2')));
  const kinds = ['::', '::1', 'ff02::1', 'fe80::1', '::ffff:1.2.3.4', '2001:db8::1', 'fd00::1', '2a00::1'].map((t) => ipv6Kind(v6(t)));
  assert.deepEqual(kinds, ['unspecified', 'loopback', 'multicast', 'link-local', 'v4-mapped', 'documentation', 'unique-local', 'global']);
});

test('bytes at offsets, equality and order', () => {
  const buf = new Uint8Array(40);
  writeIpv6(buf, 7, v6('2001:db8::7'));
  assert.equal(ipv6ToString(buf, 7), '2001:db8::7');
  assert.deepEqual(readIpv6(buf, 7), v6('2001:db8::7'));
  assert.ok(ipv6Equals(buf, 7, v6('2001:db8::7')));
  assert.ok(!ipv6Equals(buf, 7, v6('2001:db8::8')));
  const sorted = ['2001:db8::10', '::1', 'fe80::1', '2001:db8::2'].map(v6).sort((a, b) => compareIpv6(a, b)).map((a) => ipv6ToString(a));
  assert.deepEqual(sorted, ['::1', '2001:db8::2', '2001:db8::10', 'fe80::1']);
});

test('solicited-node group, its MAC, EUI-64 and the link-local address', () => {
  assert.equal(ipv6ToString(solicitedNodeMulticast(v6('2001:db8::abcd:1234:5678'))), 'ff02::1:ff34:5678');
  const out = new Uint8Array(20);
  solicitedNodeMulticast(v6('fe80::2'), 0, out, 4);
  assert.equal(ipv6ToString(out, 4), 'ff02::1:ff00:2');
  assert.equal(macToString(multicastMac6(v6('ff02::1:ff34:5678'))), '33:33:ff:34:56:78');
  assert.equal(macToString(multicastMac6(v6('ff02::16'))), '33:33:00:00:00:16');
  const mac = parseMac('02:00:00:00:00:01')!;
  assert.deepEqual([...eui64InterfaceId(mac)], [0, 0, 0, 0xff, 0xfe, 0, 0, 1]);
  assert.equal(ipv6ToString(linkLocalFromMac(mac)), 'fe80::ff:fe00:1'); // as the kernel derives it (frames 'rs'/'ra')
  assert.equal(ipv6ToString(linkLocalFromMac(parseMac('52:54:00:12:34:56')!)), 'fe80::5054:ff:fe12:3456');
});

test('SHA-256 and HMAC match node:crypto', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 100 }), (key, msg) => {
    assert.equal(Buffer.from(sha256(msg)).toString('hex'), createHash('sha256').update(msg).digest('hex'));
    assert.equal(Buffer.from(hmacSha256(key, msg)).toString('hex'), createHmac('sha256', key).update(msg).digest('hex'));
  }), runs(200));
  assert.equal(Buffer.from(sha256(new TextEncoder().encode('abc'))).toString('hex'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('RFC 7217 identifiers: stable per input, different across prefix, interface, counter and key', () => {
  const key = new TextEncoder().encode('a secret of the host');
  const p1 = v6('2001:db8:1::'), p2 = v6('2001:db8:2::');
  const a = stablePrivacyInterfaceId(key, p1, 'tap0', 0);
  assert.deepEqual(stablePrivacyInterfaceId(key, p1, 'tap0', 0), a);
  assert.equal(a.dadCounter, 0);
  assert.equal(a.iid.length, 8);
  const msg = new Uint8Array([...p1.subarray(0, 8), ...new TextEncoder().encode('tap0'), 0, 0, 0, 0, 0]);
  assert.deepEqual([...a.iid], [...createHmac('sha256', key).update(msg).digest().subarray(0, 8)]);
  const others = [stablePrivacyInterfaceId(key, p2, 'tap0', 0), stablePrivacyInterfaceId(key, p1, 'tap1', 0),
    stablePrivacyInterfaceId(key, p1, 'tap0', 1), stablePrivacyInterfaceId(new Uint8Array(16), p1, 'tap0', 0)];
  for (const o of others) assert.notDeepEqual(o.iid, a.iid);
  assert.equal(ipv6ToString(ipv6FromPrefixAndIid(p1, a.iid)).startsWith('2001:db8:1:0:'), true);
  assert.ok(isReservedInterfaceId(new Uint8Array(8)));
  assert.ok(isReservedInterfaceId(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80])));
  assert.ok(!isReservedInterfaceId(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])));
  assert.ok(isReservedInterfaceId(Uint8Array.from([0x02, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x52, 0x13])));
});

test('IPv6 fixed header of a real echo request (tshark: tc 0xb8, flow 0x12345, plen 17, nh 58, hlim 64)', () => {
  const f = frame('echo-request');
  const eth = new EthernetFrame(f);
  assert.equal(eth.etherType, EtherType.IPv6);
  const ip = new Ipv6Packet(f, eth.payloadOffset, eth.payloadLength);
  assert.equal(ip.check(), null);
  assert.equal(ip.version, 6);
  assert.equal(ip.trafficClass, 0xb8);
  assert.equal(ip.dscp, 46);
  assert.equal(ip.ecn, 0);
  assert.equal(ip.flowLabel, 0x12345);
  assert.equal(ip.payloadLength, 17);
  assert.equal(ip.nextHeader, NextHeader.ICMPv6);
  assert.equal(ip.hopLimit, 64);
  assert.equal(ip.srcString(), '2001:db8::1');
  assert.equal(ip.dstString(), '2001:db8::2');
  // The ICMPv6 checksum covers the pseudo-header: the sum over both must fold to 0xffff.
  assert.equal(fold16(sum16(f, ip.payloadOffset, ip.payloadLength, ip.pseudoHeaderSum(58, ip.payloadLength))), 0xffff);
  const out = new Uint8Array(f.length);
  out.set(f);
  out.fill(0, eth.payloadOffset, eth.payloadOffset + IPV6_HEADER_LENGTH);
  assert.equal(emitIpv6(out, eth.payloadOffset, ip.parse()), eth.payloadOffset + IPV6_HEADER_LENGTH);
  assert.deepEqual(out, f);
});

test('IPv6 header checks: short, version, truncated; emit then parse is the identity', () => {
  const f = frame('udp').subarray(14);
  assert.equal(new Ipv6Packet(f, 0, 39).check(), 'too-short');
  assert.equal(new Ipv6Packet(f, 0, f.length - 1).check(), 'truncated');
  const bad = f.slice();
  bad[0] = 0x45;
  assert.equal(new Ipv6Packet(bad).check(), 'bad-version');
  fc.assert(fc.property(fc.record({
    trafficClass: fc.integer({ min: 0, max: 255 }), flowLabel: fc.integer({ min: 0, max: 0xfffff }),
    payloadLength: fc.integer({ min: 0, max: 64 }), nextHeader: fc.integer({ min: 0, max: 255 }),
    hopLimit: fc.integer({ min: 0, max: 255 }), src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  }), fc.integer({ min: 0, max: 9 }), (repr, at) => {
    const buf = new Uint8Array(at + 40 + repr.payloadLength);
    emitIpv6(buf, at, repr);
    const p = new Ipv6Packet(buf, at);
    assert.equal(p.check(), null);
    assert.deepEqual(p.parse(), { ...repr });
  }), runs(300));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
    const p = new Ipv6Packet(b);
    if (p.check() === null) p.parse();
  }), runs(300));
});
