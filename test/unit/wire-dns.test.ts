// The DNS codec (src/wire/dns.ts): real answers captured from dnsmasq 2.90, round trips,
// compression (loops, forward pointers, hop bounds), name limits, truncation, and
// properties: parse never throws on random bytes, emit -> parse gives back the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseDns, emitDns, emitDnsQuery, parseDnsHeader, dnsNameToLabels, dnsLabelsToName, dnsNamesEqual, canonicalDnsName,
  dnsTypeName, dnsTypeFromName, dnsFullRcode, DnsType, DnsClass, DnsRcode, EDNS_FLAG_DO,
  type DnsMessage, type DnsRecord, type DnsMessageInit,
} from '../../src/wire/dns.js';
import { parseIpv4 } from '../../src/wire/addr.js';
import { ipv6ToString } from '../../src/wire/addr6.js';
import { runs } from '../helpers/fuzz-runs.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const text = (s: string) => new TextEncoder().encode(s);

function ok(r: DnsMessage | string): DnsMessage {
  if (typeof r === 'string') assert.fail(`parse error: ${r}`);
  return r;
}

/** fast-check's records have a null prototype; assert.deepEqual (strict) compares prototypes. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array || x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) return x.map(plain);
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
}

function bytes(r: Uint8Array | string): Uint8Array {
  if (typeof r === 'string') assert.fail(`emit error: ${r}`);
  return r;
}

// Answers from `dnsmasq --local=/test/ --local-ttl=300 --host-record=host.example.test,192.0.2.81
// --cname=www.example.test,host.example.test ...` to queries with RD set (python socket client).
const REAL = {
  cnameA: '10018580000100020000000003777777076578616d706c6504746573740000010001c00c000500010000012c001304686f7374076578616d706c65047465737400c02e000100010000012c0004c0000251',
  txt: '10028580000100010000000003747874076578616d706c6504746573740000100001c00c001000010000012c001a0b763d73706631202d616c6c0d7365636f6e6420737472696e67',
  mx: '100385800001000100000000076578616d706c65047465737400000f0001c00c000f00010000012c0015000a046d61696c076578616d706c65047465737400',
  srv: '100485800001000100000001055f68747470045f746370076578616d706c6504746573740000210001c00c002100010000012c001900010002005004686f7374076578616d706c65047465737400c03b000100010000012c0004c0000251',
  aaaa: '10058580000100010000000003736978076578616d706c65047465737400001c0001c00c001c00010000012c001020010db8000000000000000000000001',
  nxdomain: '100681830001000000000000076e6f7468657265076578616d706c6504746573740000010001',
  nodata: '10088180000100000000000004686f7374076578616d706c65047465737400001c0001',
  edns: '2001858000010001000000010377656204746573740000010001c00c000100010000012c0004c000025000002904d0000000000000',
};

test('dnsmasq: a CNAME chain to an A record, with a compression pointer into the CNAME data', () => {
  const m = ok(parseDns(hex(REAL.cnameA)));
  assert.deepEqual(m.header, { id: 0x1001, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, z: false, ad: false, cd: false, rcode: 0 });
  assert.deepEqual(m.questions, [{ name: 'www.example.test', type: DnsType.A, class: DnsClass.IN }]);
  assert.deepEqual(m.answers, [
    { name: 'www.example.test', type: DnsType.CNAME, class: 1, ttl: 300, data: { kind: 'name', target: 'host.example.test' } },
    { name: 'host.example.test', type: DnsType.A, class: 1, ttl: 300, data: { kind: 'a', address: parseIpv4('192.0.2.81')! } },
  ]);
  assert.equal(m.edns, null);
  assert.equal(m.partial, undefined);
});

test('dnsmasq: TXT with two strings, MX, SRV with an additional A, AAAA', () => {
  const t = ok(parseDns(hex(REAL.txt)));
  assert.deepEqual(t.answers[0]!.data, { kind: 'txt', strings: [text('v=spf1 -all'), text('second string')] });
  const mx = ok(parseDns(hex(REAL.mx)));
  assert.deepEqual(mx.answers[0]!.data, { kind: 'mx', preference: 10, exchange: 'mail.example.test' });
  const srv = ok(parseDns(hex(REAL.srv)));
  assert.equal(srv.questions[0]!.name, '_http._tcp.example.test');
  assert.deepEqual(srv.answers[0]!.data, { kind: 'srv', priority: 1, weight: 2, port: 80, target: 'host.example.test' });
  assert.equal(srv.additionals[0]!.name, 'host.example.test');
  const six = ok(parseDns(hex(REAL.aaaa)));
  const d = six.answers[0]!.data;
  assert.equal(d.kind, 'aaaa');
  assert.equal(ipv6ToString(d.kind === 'aaaa' ? d.address : new Uint8Array(16)), '2001:db8::1');
});

test('dnsmasq: NXDOMAIN and NODATA (no SOA from a --local zone), and an OPT record', () => {
  const nx = ok(parseDns(hex(REAL.nxdomain)));
  assert.equal(nx.header.rcode, DnsRcode.NXDOMAIN);
  assert.equal(nx.answers.length + nx.authorities.length, 0);
  const nd = ok(parseDns(hex(REAL.nodata)));
  assert.equal(nd.header.rcode, DnsRcode.NOERROR);
  assert.deepEqual(nd.questions, [{ name: 'host.example.test', type: DnsType.AAAA, class: 1 }]);
  assert.equal(nd.answers.length, 0);
  const e = ok(parseDns(hex(REAL.edns)));
  assert.deepEqual(e.edns, { udpPayloadSize: 1232, extendedRcode: 0, version: 0, flags: 0, options: [] });
  assert.equal(e.additionals.length, 0);
  assert.equal(dnsFullRcode(e), 0);
});

test('RFC 1035 4.1.4: the F.ISI.ARPA / FOO.F.ISI.ARPA / ARPA example compresses to pointers, and parses back', () => {
  const msg: DnsMessageInit = {
    header: { id: 1, qr: true },
    answers: [
      { name: 'F.ISI.ARPA', type: DnsType.A, class: 1, ttl: 1, data: { kind: 'a', address: 1 } },
      { name: 'FOO.F.ISI.ARPA', type: DnsType.A, class: 1, ttl: 1, data: { kind: 'a', address: 2 } },
      { name: 'ARPA', type: DnsType.A, class: 1, ttl: 1, data: { kind: 'a', address: 3 } },
      { name: '', type: DnsType.NS, class: 1, ttl: 1, data: { kind: 'name', target: 'ISI.ARPA' } },
    ],
  };
  const b = bytes(emitDns(msg));
  // F.ISI.ARPA at 12 (1+F+3+ISI+4+ARPA+0 = 12 bytes), then FOO + pointer to 12, ARPA as a pointer to 18.
  assert.deepEqual([...b.subarray(12, 24)], [1, 70, 3, 73, 83, 73, 4, 65, 82, 80, 65, 0]);
  const second = 24 + 14;
  assert.deepEqual([...b.subarray(second, second + 6)], [3, 70, 79, 79, 0xc0, 12]);
  const third = second + 6 + 14;
  assert.deepEqual([...b.subarray(third, third + 2)], [0xc0, 18]);
  const m = ok(parseDns(b));
  assert.deepEqual(m.answers.map((a) => a.name), ['F.ISI.ARPA', 'FOO.F.ISI.ARPA', 'ARPA', '']);
  assert.deepEqual(m.answers[3]!.data, { kind: 'name', target: 'ISI.ARPA' });
});

test('a query written into a caller\'s buffer at an offset; too small a buffer is an error', () => {
  const buf = new Uint8Array(100).fill(0xee);
  const q = bytes(emitDnsQuery({ id: 0xbeef, name: 'web.test', type: DnsType.A }, buf, 10));
  assert.equal(q.buffer, buf.buffer);
  assert.equal(q.byteOffset, 10);
  assert.equal(q.length, 12 + 10 + 4);
  assert.equal(buf[9], 0xee);
  const m = ok(parseDns(buf, 10, q.length));
  assert.equal(m.header.id, 0xbeef);
  assert.equal(m.header.rd, true);
  assert.equal(m.header.qr, false);
  assert.match(String(emitDnsQuery({ id: 1, name: 'web.test', type: 1 }, new Uint8Array(20))), /buffer too small/);
  const withEdns = ok(parseDns(bytes(emitDnsQuery({ id: 2, name: 'web.test', type: 28, udpPayloadSize: 1232, dnssecOk: true }))));
  assert.deepEqual(withEdns.edns, { udpPayloadSize: 1232, extendedRcode: 0, version: 0, flags: EDNS_FLAG_DO, options: [] });
});

test('emit refuses bad input with a reason: long labels and names, bad numbers, empty labels', () => {
  assert.match(String(emitDnsQuery({ id: 1, name: 'a'.repeat(64) + '.test', type: 1 })), /label longer than 63/);
  const long = Array.from({ length: 5 }, () => 'b'.repeat(63)).join('.');
  assert.match(String(emitDnsQuery({ id: 1, name: long, type: 1 })), /longer than 255/);
  assert.match(String(emitDnsQuery({ id: 70000, name: 'x.test', type: 1 })), /id 70000/);
  assert.match(String(emitDnsQuery({ id: 1, name: 'x..test', type: 1 })), /empty label/);
  assert.match(String(emitDns({ answers: [{ name: 'x', type: 1, class: 1, ttl: -1, data: { kind: 'a', address: 1 } }] })), /ttl/);
  assert.match(String(emitDns({ answers: [{ name: 'x', type: 16, class: 1, ttl: 1, data: { kind: 'txt', strings: [new Uint8Array(256)] } }] })), /TXT/);
  // A name of exactly 255 bytes in wire form is fine: 3 x 63 + 61 = 250 bytes of labels + 4 lengths + root.
  const max = ['c'.repeat(63), 'c'.repeat(63), 'c'.repeat(63), 'c'.repeat(61)].join('.');
  assert.equal(typeof emitDnsQuery({ id: 1, name: max, type: 1 }), 'object');
  assert.match(String(emitDnsQuery({ id: 1, name: max + 'c', type: 1 })), /longer than 255/);
});

/** A response header (1 question) followed by `rest`. */
function handMade(rest: number[], counts = [1, 1, 0, 0], flags = 0x8180): Uint8Array {
  return Uint8Array.from([0x12, 0x34, flags >> 8, flags & 0xff, 0, counts[0]!, 0, counts[1]!, 0, counts[2]!, 0, counts[3]!, ...rest]);
}

test('compression: a pointer to itself, a two-pointer loop and a forward pointer are errors', () => {
  // Question name: a pointer to its own offset (12).
  assert.match(String(parseDns(handMade([0xc0, 12, 0, 1, 0, 1], [1, 0, 0, 0]))), /points forward/);
  // Question "a" + pointer at 14 back to 12: the question is a.a.a... until the bound.
  const loop = String(parseDns(handMade([1, 0x61, 0xc0, 12, 0, 1, 0, 1], [1, 0, 0, 0])));
  assert.match(loop, /longer than 255|more than 127 compression pointers/);
  // Answer name pointing forward, to its own type field.
  const fwd = handMade([3, 0x77, 0x65, 0x62, 0, 0, 1, 0, 1, 0xc0, 25, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, 1]);
  assert.match(String(parseDns(fwd)), /answer 1: .*points forward/);
  // A question whose pointer leads to a later pointer: forward, refused before anything loops.
  assert.match(String(parseDns(handMade([0xc0, 18, 0, 1, 0, 1, 0xc0, 12], [1, 0, 0, 0]))), /points forward/);
});

test('compression: a long chain of backward pointers stops at the hop bound', () => {
  // Answer 1 is opaque data (type NULL) holding the name 'a' and then 140 pointers, each to
  // the one before it; answer 2's name is a pointer to the last of them.
  const body: number[] = [0, 0, 1, 0, 1]; // question: root, A, IN (offset 12..16)
  // Answer 1: name root, type NULL(10), rdata = the pointer area (opaque, unparsed).
  const rdStart = 12 + body.length + 11;
  const area: number[] = [1, 0x61, 0];
  let prev = rdStart;
  for (let i = 0; i < 140; i++) {
    const at = rdStart + area.length;
    area.push(0xc0 | (prev >> 8), prev & 0xff);
    prev = at;
  }
  const a1 = [0, 0, 10, 0, 1, 0, 0, 0, 1, area.length >> 8, area.length & 0xff, ...area];
  // Answer 2: its name is a pointer to the last pointer of the area.
  const a2 = [0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, 1];
  const msg = handMade([...body, ...a1, ...a2], [1, 2, 0, 0]);
  assert.match(String(parseDns(msg)), /answer 2: .*more than 127 compression pointers/);
});

test('names: over 255 bytes through pointers, 64-byte labels, extended label types, all errors', () => {
  // Four 63-byte labels in a question = 257 bytes of wire name.
  const long: number[] = [];
  for (let i = 0; i < 4; i++) long.push(63, ...new Array<number>(63).fill(0x62));
  assert.match(String(parseDns(handMade([...long, 0, 0, 1, 0, 1], [1, 0, 0, 0]))), /longer than 255/);
  assert.match(String(parseDns(handMade([0x40, 0, 0, 1, 0, 1], [1, 0, 0, 0]))), /label type 0x40/);
  assert.match(String(parseDns(handMade([0x80, 0, 0, 1, 0, 1], [1, 0, 0, 0]))), /label type 0x80/);
  // Labels over 63 bytes cannot even be written as a length (0x40 is a label type), so the
  // text side is where 64 is refused:
  assert.match(String(dnsNameToLabels('x'.repeat(64))), /longer than 63/);
});

test('truncated messages: every prefix of a real answer is an error, never a throw', () => {
  const full = hex(REAL.srv);
  for (let n = 0; n < full.length; n++) {
    const r = parseDns(full.subarray(0, n));
    assert.equal(typeof r, 'string', `prefix ${n}`);
  }
  assert.match(String(parseDns(new Uint8Array(5))), /truncated header \(5 bytes, needs 12\)/);
  assert.match(String(parseDns(full.subarray(0, 40))), /question 1: truncated/);
  assert.match(String(parseDns(full.subarray(0, 50))), /answer 1: truncated record header/);
});

test('a TC response cut inside its records parses as partial, with its header and question', () => {
  const full = Uint8Array.from(hex(REAL.cnameA));
  full[2]! |= 0x02; // TC
  const cut = ok(parseDns(full.subarray(0, 50)));
  assert.equal(cut.header.tc, true);
  assert.equal(cut.partial, true);
  assert.equal(cut.questions[0]!.name, 'www.example.test');
  assert.equal(cut.answers.length, 0);
  // With the question cut, it is still an error.
  assert.equal(typeof parseDns(full.subarray(0, 20)), 'string');
});

test('record data: wrong A/AAAA lengths, a name not filling its rdata, OPT misuse are errors', () => {
  const q = [0, 0, 1, 0, 1];
  const rr = (type: number, rd: number[], name = [0], cls = 1) => [...name, 0, type, cls >> 8, cls & 0xff, 0, 0, 0, 1, rd.length >> 8, rd.length & 0xff, ...rd];
  assert.match(String(parseDns(handMade([...q, ...rr(1, [1, 2, 3])]))), /A data is 3 bytes/);
  assert.match(String(parseDns(handMade([...q, ...rr(28, [1, 2, 3, 4])]))), /AAAA data is 4 bytes/);
  assert.match(String(parseDns(handMade([...q, ...rr(5, [1, 0x61, 0, 9])]))), /too many/);
  assert.match(String(parseDns(handMade([...q, ...rr(15, [0, 1])]))), /MX data too short/);
  assert.match(String(parseDns(handMade([...q, ...rr(16, [5, 0x61])]))), /TXT string runs past/);
  assert.match(String(parseDns(handMade([...q, ...rr(41, [])]))), /OPT record outside the additional section/);
  assert.match(String(parseDns(handMade([...q, ...rr(41, []), ...rr(41, [])], [1, 0, 0, 2]))), /second OPT/);
  assert.match(String(parseDns(handMade([...q, ...rr(41, [0, 1, 0, 5])], [1, 0, 0, 1]))), /EDNS option 1 runs past/);
  // A in class CH is not an address: kept raw.
  const ch = ok(parseDns(handMade([...q, ...rr(1, [1, 2], [0], 3)])));
  assert.deepEqual(ch.answers[0]!.data, { kind: 'raw', bytes: Uint8Array.from([1, 2]) });
  // An unknown type keeps its bytes.
  const unk = ok(parseDns(handMade([...q, ...rr(999, [9, 8, 7])])));
  assert.deepEqual(unk.answers[0]!.data, { kind: 'raw', bytes: Uint8Array.from([9, 8, 7]) });
  assert.equal(dnsTypeName(999), 'TYPE999');
});

test('names as text: escapes, case-insensitive equality, trailing dots', () => {
  const labels = dnsNameToLabels('a\\.b.c\\\\d.\\032x.');
  assert.ok(Array.isArray(labels));
  assert.deepEqual(labels.map((l) => [...l]), [[0x61, 0x2e, 0x62], [0x63, 0x5c, 0x64], [0x20, 0x78]]);
  assert.equal(dnsLabelsToName(labels), 'a\\.b.c\\\\d.\\032x');
  assert.ok(dnsNamesEqual('WWW.Example.TEST.', 'www.example.test'));
  assert.ok(dnsNamesEqual('\\065.test', 'a.test'));
  assert.ok(!dnsNamesEqual('a.test', 'b.test'));
  assert.ok(!dnsNamesEqual('a..test', 'a..test'.toUpperCase()));
  assert.equal(canonicalDnsName('Web.Test.'), 'web.test');
  assert.deepEqual(dnsNameToLabels('.'), []);
  assert.match(String(dnsNameToLabels('a.\\999')), /bad escape/);
  assert.equal(dnsTypeFromName('mx'), 15);
  assert.equal(dnsTypeFromName('TYPE65'), 65);
  assert.equal(dnsTypeFromName('bogus'), null);
});


// ---------------------------------------------------------------------------------------
// Properties

const labelArb = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => b.map((x) => (x % 3 === 0 ? 0x61 + (x % 26) : x)));
const nameArb = fc.array(fc.constantFrom('a', 'b', 'web', 'Test', 'x-y'), { minLength: 0, maxLength: 4 })
  .chain((base) => fc.array(labelArb, { maxLength: 2 }).map((raw) => [...raw.map((l) => dnsLabelsToName([l])), ...base].join('.')));
const u16Arb = fc.integer({ min: 0, max: 0xffff });
const u32Arb = fc.integer({ min: 0, max: 0xffffffff });
const rdataArb = fc.oneof(
  fc.record({ type: fc.constant(1), data: u32Arb.map((address) => ({ kind: 'a' as const, address })) }),
  fc.record({ type: fc.constant(28), data: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((address) => ({ kind: 'aaaa' as const, address })) }),
  fc.record({ type: fc.constantFrom(2, 5, 12), data: nameArb.map((target) => ({ kind: 'name' as const, target })) }),
  fc.record({ type: fc.constant(15), data: fc.record({ kind: fc.constant('mx' as const), preference: u16Arb, exchange: nameArb }) }),
  fc.record({ type: fc.constant(16), data: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 3 }).map((strings) => ({ kind: 'txt' as const, strings })) }),
  fc.record({ type: fc.constant(33), data: fc.record({ kind: fc.constant('srv' as const), priority: u16Arb, weight: u16Arb, port: u16Arb, target: nameArb }) }),
  fc.record({
    type: fc.constant(6),
    data: fc.record({ kind: fc.constant('soa' as const), mname: nameArb, rname: nameArb, serial: u32Arb, refresh: u32Arb, retry: u32Arb, expire: u32Arb, minimum: u32Arb }),
  }),
  fc.record({ type: fc.constantFrom(10, 99, 65280), data: fc.uint8Array({ maxLength: 30 }).map((b) => ({ kind: 'raw' as const, bytes: b })) }),
);
const recordArb: fc.Arbitrary<DnsRecord> = fc.record({ name: nameArb, ttl: u32Arb, rd: rdataArb })
  .map(({ name, ttl, rd }) => ({ name, type: rd.type, class: 1, ttl, data: rd.data }));
const messageArb: fc.Arbitrary<DnsMessage> = fc.record({
  header: fc.record({
    id: u16Arb, qr: fc.boolean(), opcode: fc.integer({ min: 0, max: 15 }), aa: fc.boolean(), tc: fc.constant(false), rd: fc.boolean(), ra: fc.boolean(),
    z: fc.boolean(), ad: fc.boolean(), cd: fc.boolean(), rcode: fc.integer({ min: 0, max: 15 }),
  }),
  questions: fc.array(fc.record({ name: nameArb, type: u16Arb, class: u16Arb }), { maxLength: 2 }),
  answers: fc.array(recordArb, { maxLength: 4 }),
  authorities: fc.array(recordArb, { maxLength: 2 }),
  additionals: fc.array(recordArb, { maxLength: 2 }),
  edns: fc.option(fc.record({
    udpPayloadSize: u16Arb, extendedRcode: fc.integer({ min: 0, max: 255 }), version: fc.integer({ min: 0, max: 255 }), flags: u16Arb,
    options: fc.array(fc.record({ code: u16Arb, data: fc.uint8Array({ maxLength: 10 }) }), { maxLength: 2 }),
  }), { nil: null }),
});

test('property: emit -> parse gives back the message, and re-emitting gives the same bytes', () => {
  fc.assert(fc.property(messageArb, (m) => {
    const b = bytes(emitDns(m));
    const back = ok(parseDns(b));
    assert.deepEqual(back, plain(m));
    assert.deepEqual(bytes(emitDns(back)), b);
  }), runs(300));
});

test('property: parse never throws on random bytes, or on real answers with bytes flipped', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
    const r = parseDns(b);
    assert.ok(typeof r === 'string' || typeof r === 'object');
    parseDnsHeader(b);
  }), runs(1000));
  const seeds = Object.values(REAL).map(hex);
  fc.assert(fc.property(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(), (si, flips, cut) => {
    const b = Uint8Array.from(seeds[si]!);
    for (const [at, v] of flips) b[at % b.length] = v;
    const r = parseDns(b.subarray(0, b.length - (cut % 4)));
    if (typeof r !== 'string') assert.ok(bytes(emitDns(r)).length >= 12);
  }), runs(2000));
});
