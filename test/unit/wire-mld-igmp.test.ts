// MLD (src/wire/mld.ts) and IGMP (src/wire/igmp.ts) on real frames (scapy-built, facts from
// tshark -V): decode, checksum, byte-exact re-emit; the float codes; properties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ipv6Packet } from '../../src/wire/ipv6.js';
import { walkIpv6Headers, Ipv6HeaderChain } from '../../src/wire/ipv6-ext.js';
import { Icmpv6Packet } from '../../src/wire/icmpv6.js';
import {
  parseMld, emitMld, mldMessageLength, mldMaxResponseDelay, encodeMldMaxResponseCode, decodeQqic, encodeQqic,
  multicastRecordTypeName, type MldMessage, type MldMessageInit,
} from '../../src/wire/mld.js';
import { parseIgmp, emitIgmp, igmpMessageLength, verifyIgmpChecksum, igmpTypeName, type IgmpMessage, type IgmpMessageInit } from '../../src/wire/igmp.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { checkIpv4Options } from '../../src/wire/ipv4-options.js';
import { ipv6ToString, parseIpv6 } from '../../src/wire/addr6.js';
import { ipv4ToString } from '../../src/wire/addr.js';
import { ipv6Frame } from '../helpers/ipv6-frames.js';
import { runs } from '../helpers/fuzz-runs.js';

const chain = new Ipv6HeaderChain();

function mldOf(name: string): MldMessage {
  const f = ipv6Frame(name);
  const ip = new Ipv6Packet(f, 14);
  assert.equal(ip.check(), null);
  assert.equal(ip.hopLimit, 1);
  const c = walkIpv6Headers(f, 14, chain);
  assert.deepEqual([c.error, c.routerAlert, c.protocol], [null, 0, 58], name);
  const icmp = new Icmpv6Packet(f, c.protocolOffset, c.protocolLength);
  assert.ok(icmp.verifyChecksum(f, ip.srcOffset, f, ip.dstOffset), `${name} checksum`);
  const m = parseMld(f, icmp.offset, icmp.length);
  assert.ok(typeof m !== 'string', `${name}: ${String(m)}`);
  assert.equal(mldMessageLength(m as MldMessageInit), icmp.length);
  const out = new Uint8Array(icmp.length);
  emitMld(out, 0, m as MldMessageInit, ip.src, ip.dst);
  assert.deepEqual(out, f.subarray(icmp.offset, icmp.offset + icmp.length), `${name} re-emitted`);
  return m;
}

const s6 = (a: Uint8Array[]) => a.map((x) => ipv6ToString(x));

test('MLDv1 query (delay 10000 ms, general), report and done for ff02::fb', () => {
  const q = mldOf('mldv1-query');
  assert.ok(q.kind === 'query' && q.version === 1 && q.maxResponseDelay === 10000 && ipv6ToString(q.group) === '::');
  const r = mldOf('mldv1-report');
  assert.ok(r.kind === 'report' && ipv6ToString(r.group) === 'ff02::fb');
  const d = mldOf('mldv1-done');
  assert.ok(d.kind === 'done' && ipv6ToString(d.group) === 'ff02::fb');
});

test('MLDv2 query: ff15::1234, S set, QRV 2, QQIC 125, two sources (tshark flags 0x0a)', () => {
  const q = mldOf('mldv2-query');
  assert.equal(q.kind, 'query');
  if (q.kind !== 'query') return;
  assert.deepEqual([q.version, q.maxResponseDelay, ipv6ToString(q.group), q.suppressRouterSide, q.robustness, q.qqic, q.queryInterval],
    [2, 10000, 'ff15::1234', true, 2, 125, 125]);
  assert.deepEqual(s6(q.sources), ['2001:db8::7', '2001:db8::8']);
});

test('MLDv2 report: CHANGE_TO_EXCLUDE ff02::fb, MODE_IS_INCLUDE ff15::1234 from two sources', () => {
  const r = mldOf('mldv2-report');
  assert.equal(r.kind, 'report2');
  if (r.kind !== 'report2') return;
  assert.deepEqual(r.records.map((x) => [multicastRecordTypeName(x.type), ipv6ToString(x.group), s6(x.sources), x.auxData.length]), [
    ['CHANGE_TO_EXCLUDE_MODE', 'ff02::fb', [], 0], ['MODE_IS_INCLUDE', 'ff15::1234', ['2001:db8::7', '2001:db8::8'], 0]]);
});

test('MLD malformed: odd query lengths, truncated sources and records', () => {
  const q = new Uint8Array(28);
  q[0] = 130;
  assert.equal(parseMld(q, 0, 25), 'bad-length');
  assert.equal(parseMld(q, 0, 20), 'too-short');
  q[27] = 1;
  assert.equal(parseMld(q, 0, 28), 'truncated-sources');
  const r = new Uint8Array(28);
  r[0] = 143; r[7] = 1;
  assert.equal(parseMld(r, 0, 27), 'truncated-record');
  assert.equal(parseMld(r, 0, 28).toString(), '[object Object]');
  r[11] = 1; // one source, not present
  assert.equal(parseMld(r, 0, 28), 'truncated-record');
  assert.equal(parseMld(new Uint8Array(24), 0, 24), 'not-mld');
});

test('the floating-point codes: RFC 3810 / 3376 examples and round trips', () => {
  assert.equal(mldMaxResponseDelay(0x7fff), 32767);
  assert.equal(mldMaxResponseDelay(0x8000), 32768);
  assert.equal(mldMaxResponseDelay(0xffff), (0x1fff) << 10);
  assert.equal(decodeQqic(127), 127);
  assert.equal(decodeQqic(0x80), 128);
  assert.equal(decodeQqic(0xff), 31744);
  fc.assert(fc.property(fc.integer({ min: 0, max: 0x1fff << 10 }), (ms) => {
    const d = mldMaxResponseDelay(encodeMldMaxResponseCode(ms));
    assert.ok(d <= ms && ms - d < Math.max(1, ms / 4096 + 1024), `${ms} -> ${d}`);
  }), runs(500));
  fc.assert(fc.property(fc.integer({ min: 0, max: 31744 }), (s) => {
    const d = decodeQqic(encodeQqic(s));
    assert.ok(d <= s && s - d <= s / 16 + 1, `${s} -> ${d}`);
  }), runs(500));
});

function igmpOf(name: string): IgmpMessage {
  const f = ipv6Frame(name);
  const ip = new Ipv4Packet(f, 14);
  assert.equal(ip.check(), null);
  assert.equal(ip.protocol, 2);
  assert.equal(ip.ttl, 1);
  assert.ok(checkIpv4Options(f, ip.optionsOffset, ip.optionsLength).routerAlert !== null, `${name} router alert`);
  assert.ok(verifyIgmpChecksum(f, ip.payloadOffset, ip.payloadLength));
  const m = parseIgmp(f, ip.payloadOffset, ip.payloadLength);
  assert.ok(typeof m !== 'string', `${name}: ${String(m)}`);
  assert.equal(igmpMessageLength(m as IgmpMessageInit), ip.payloadLength);
  const out = new Uint8Array(ip.payloadLength);
  emitIgmp(out, 0, m as IgmpMessageInit);
  assert.deepEqual(out, f.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength), `${name} re-emitted`);
  return m;
}

test('IGMPv3 report to 224.0.0.22: CHANGE_TO_EXCLUDE 239.1.2.3, MODE_IS_INCLUDE 232.1.1.1 from two (tshark checksum 0x12ad)', () => {
  const r = igmpOf('igmpv3-report');
  assert.equal(r.kind, 'report3');
  if (r.kind !== 'report3') return;
  assert.deepEqual(r.records.map((x) => [x.type, ipv4ToString(x.group), x.sources.map(ipv4ToString)]),
    [[4, '239.1.2.3', []], [1, '232.1.1.1', ['192.0.2.9', '198.51.100.9']]]);
  assert.equal(igmpTypeName(0x22), 'Membership Report v3');
});

test('IGMPv3 general query (10.0 s, QRV 2, QQIC 125), v2 report and leave for 239.1.2.3', () => {
  const q = igmpOf('igmpv3-query');
  assert.ok(q.kind === 'query');
  if (q.kind !== 'query') return;
  assert.deepEqual([q.version, q.maxResponseTime, q.group, q.robustness, q.queryInterval, q.sources], [3, 100, 0, 2, 125, []]);
  const r = igmpOf('igmpv2-report');
  assert.ok(r.kind === 'report' && r.version === 2 && ipv4ToString(r.group) === '239.1.2.3');
  const l = igmpOf('igmpv2-leave');
  assert.ok(l.kind === 'leave' && ipv4ToString(l.group) === '239.1.2.3');
  const v1 = new Uint8Array(8);
  emitIgmp(v1, 0, { kind: 'query', version: 1, maxResponseCode: 0, group: 0 });
  const p = parseIgmp(v1, 0, 8);
  assert.ok(typeof p !== 'string' && p.kind === 'query' && p.version === 1 && p.maxResponseTime === 100);
  assert.equal(parseIgmp(new Uint8Array(10).fill(0x11, 0, 1), 0, 10), 'bad-length');
  assert.equal(parseIgmp(v1, 0, 7), 'too-short');
});

const plain = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
const a6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const a4 = fc.integer({ min: 0, max: 0xffffffff });
const aux = fc.uint8Array({ maxLength: 8 }).map((b) => { const n = new Uint8Array((b.length + 3) & ~3); n.set(b); return n; });

test('emit -> parse identity for MLDv2 and IGMPv3 messages; parse never throws', () => {
  const src = parseIpv6('fe80::1')!, dst = parseIpv6('ff02::16')!;
  fc.assert(fc.property(fc.array(fc.record({ type: fc.integer({ min: 1, max: 6 }), group: a6, sources: fc.array(a6, { maxLength: 3 }), auxData: aux }), { maxLength: 4 }), (records) => {
    const m = { kind: 'report2' as const, records };
    const buf = new Uint8Array(mldMessageLength(m));
    emitMld(buf, 0, m, src, dst);
    assert.ok(new Icmpv6Packet(buf).verifyChecksum(src, 0, dst, 0));
    assert.deepEqual(plain(parseMld(buf, 0, buf.length)), plain(m));
  }), runs(200));
  fc.assert(fc.property(fc.record({ maxResponseCode: fc.integer({ min: 0, max: 0xffff }), group: a6, suppressRouterSide: fc.boolean(), robustness: fc.integer({ min: 0, max: 7 }), qqic: fc.integer({ min: 0, max: 255 }), sources: fc.array(a6, { maxLength: 3 }) }), (q) => {
    const m = { kind: 'query' as const, version: 2 as const, ...q };
    const buf = new Uint8Array(mldMessageLength(m));
    emitMld(buf, 0, m, src, dst);
    const p = parseMld(buf, 0, buf.length);
    assert.ok(typeof p !== 'string' && p.kind === 'query');
    assert.deepEqual(plain({ ...p, maxResponseDelay: 0, queryInterval: 0 }), plain({ ...m, maxResponseDelay: 0, queryInterval: 0 }));
  }), runs(200));
  fc.assert(fc.property(fc.array(fc.record({ type: fc.integer({ min: 1, max: 6 }), group: a4, sources: fc.array(a4, { maxLength: 3 }), auxData: aux }), { maxLength: 4 }), (records) => {
    const m = { kind: 'report3' as const, records };
    const buf = new Uint8Array(igmpMessageLength(m));
    emitIgmp(buf, 0, m);
    assert.ok(verifyIgmpChecksum(buf, 0, buf.length));
    assert.deepEqual(plain(parseIgmp(buf, 0, buf.length)), plain(m));
  }), runs(200));
  fc.assert(fc.property(fc.constantFrom(130, 131, 132, 143, 0x11, 0x12, 0x16, 0x17, 0x22), fc.uint8Array({ maxLength: 100 }), (t, body) => {
    const b = Uint8Array.from([t, ...body]);
    parseMld(b, 0, b.length);
    parseIgmp(b, 0, b.length);
  }), runs(1000));
});
