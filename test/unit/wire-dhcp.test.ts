// The DHCP codec (src/wire/dhcp.ts): round trips, hand-built OFFER/ACK bytes as real servers
// send them, malformed framing and options, and properties: parse never throws on any bytes,
// and what emit writes parses back to what was emitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BOOTP_MIN_LENGTH, DHCP_FLAG_BROADCAST, DhcpMessageType, createDhcpMessage, decodeClasslessRoutes, decodeDomainSearch,
  dhcpMessageLength, emitDhcp, encodeClasslessRoutes, encodeDhcp, encodeDomainSearch, parseDhcp, type DhcpMessage,
  type DhcpParseResult,
} from '../../src/wire/dhcp.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { runs } from '../helpers/fuzz-runs.js';

const ip = (s: string) => parseIpv4(s)!;
const MAC = parseMac('00:0b:82:01:fc:42')!;

function hex(text: string): number[] {
  const clean = text.replace(/\s+/g, '');
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 2) out.push(parseInt(clean.slice(i, i + 2), 16));
  return out;
}

/** The fixed header and cookie of a reply, built byte by byte (not by the emitter under test). */
function replyHeader(xid: number, yiaddr: string, siaddr: string, flags = 0): number[] {
  const b = new Array<number>(240).fill(0);
  b[0] = 2; b[1] = 1; b[2] = 6; b[3] = 0;
  b[4] = xid >>> 24; b[5] = (xid >>> 16) & 0xff; b[6] = (xid >>> 8) & 0xff; b[7] = xid & 0xff;
  b[10] = flags >>> 8; b[11] = flags & 0xff;
  yiaddr.split('.').forEach((o, i) => { b[16 + i] = Number(o); });
  siaddr.split('.').forEach((o, i) => { b[20 + i] = Number(o); });
  MAC.forEach((v, i) => { b[28 + i] = v; });
  b[236] = 99; b[237] = 130; b[238] = 83; b[239] = 99;
  return b;
}

function bytes(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

function ok(r: DhcpParseResult): DhcpMessage {
  assert.equal(r.error, null, `parse error ${r.error}`);
  return r.message!;
}

test('an OFFER as the Wireshark sample capture has it parses field by field', () => {
  // dhcp.pcap: 192.168.0.1 offers 192.168.0.10 to 00:0b:82:01:fc:42, xid 0x00003d1d.
  const offer = bytes(
    replyHeader(0x3d1d, '192.168.0.10', '192.168.0.1'),
    hex('350102 0104ffffff00 3a0400000708 3b0400000c4e 330400000e10 3604c0a80001 ff'),
    new Array<number>(26).fill(0),
  );
  const r = parseDhcp(offer);
  const m = ok(r);
  assert.deepEqual(r.problems, []);
  assert.equal(m.op, 2);
  assert.equal(m.htype, 1);
  assert.equal(m.hlen, 6);
  assert.equal(m.xid, 0x3d1d);
  assert.equal(m.yiaddr, ip('192.168.0.10'));
  assert.equal(m.siaddr, ip('192.168.0.1'));
  assert.deepEqual([...m.chaddr.subarray(0, 6)], [...MAC]);
  assert.deepEqual(m.options, {
    messageType: DhcpMessageType.Offer,
    subnetMask: ip('255.255.255.0'),
    renewalTime: 1800,
    rebindingTime: 3150,
    leaseTime: 3600,
    serverId: ip('192.168.0.1'),
  });
});

test('an ACK with routers, DNS, domain, MTU, compressed search list and classless routes', () => {
  const ack = bytes(
    replyHeader(0xdeadbeef, '10.0.5.23', '0.0.0.0', DHCP_FLAG_BROADCAST),
    hex('350105 3604 0a000001 3304 00015180 0104 ffffff00'),
    hex('0308 0a000501 0a000502'), // routers
    hex('0608 08080808 01010101'), // DNS
    hex('0f0b'), [...'example.org'].map((c) => c.charCodeAt(0)),
    hex('1a02 05dc'), // MTU 1500
    // RFC 3397 section 3's example: eng.apple.com and marketing.apple.com, the second by pointer.
    hex('771b 03656e67 056170706c65 03636f6d 00 096d61726b6574696e67 c004'),
    // RFC 3442: 0/0 via 10.0.5.1, 10.0.0.0/8 via 10.0.5.2, 10.17.0.0/16 via 10.0.5.3, 192.0.2.128/25 on link.
    hex('791b 00 0a000501 080a 0a000502 100a11 0a000503 19c00002 80 00000000'),
    hex('ff'),
  );
  const m = ok(parseDhcp(ack));
  assert.equal(m.flags, DHCP_FLAG_BROADCAST);
  assert.deepEqual(m.options, {
    messageType: DhcpMessageType.Ack,
    serverId: ip('10.0.0.1'),
    leaseTime: 86400,
    subnetMask: ip('255.255.255.0'),
    routers: [ip('10.0.5.1'), ip('10.0.5.2')],
    dnsServers: [ip('8.8.8.8'), ip('1.1.1.1')],
    domainName: 'example.org',
    interfaceMtu: 1500,
    domainSearch: ['eng.apple.com', 'marketing.apple.com'],
    classlessRoutes: [
      { destination: 0, prefixLength: 0, router: ip('10.0.5.1') },
      { destination: ip('10.0.0.0'), prefixLength: 8, router: ip('10.0.5.2') },
      { destination: ip('10.17.0.0'), prefixLength: 16, router: ip('10.0.5.3') },
      { destination: ip('192.0.2.128'), prefixLength: 25, router: 0 },
    ],
  });
});

function fullMessage(): DhcpMessage {
  const chaddr = new Uint8Array(16);
  chaddr.set(MAC);
  const sname = new Uint8Array(64);
  sname.set([...'dhcp.example'].map((c) => c.charCodeAt(0)));
  const file = new Uint8Array(128);
  file.set([...'/boot/pxelinux.0'].map((c) => c.charCodeAt(0)));
  return createDhcpMessage({
    op: 2, xid: 0x12345678, secs: 7, flags: DHCP_FLAG_BROADCAST, hops: 1,
    ciaddr: ip('10.0.0.9'), yiaddr: ip('10.0.0.10'), siaddr: ip('10.0.0.1'), giaddr: ip('10.0.9.1'),
    chaddr, sname, file,
    options: {
      messageType: DhcpMessageType.Ack,
      serverId: ip('10.0.0.1'),
      clientId: Uint8Array.from([1, ...MAC]),
      requestedIp: ip('10.0.0.10'),
      maxMessageSize: 1500,
      hostName: 'pstack',
      parameterRequestList: [1, 121, 3, 6, 15, 119, 26],
      leaseTime: 600,
      renewalTime: 300,
      rebindingTime: 525,
      subnetMask: ip('255.255.0.0'),
      routers: [ip('10.0.0.1')],
      dnsServers: [ip('10.0.0.2'), ip('10.0.0.3')],
      domainName: 'lab.example',
      domainSearch: ['lab.example', 'example', ''],
      interfaceMtu: 9000,
      classlessRoutes: [{ destination: ip('172.16.0.0'), prefixLength: 12, router: ip('10.0.0.1') }],
      message: 'hello',
      other: [{ code: 42, data: Uint8Array.from([10, 0, 0, 4]) }, { code: 224, data: new Uint8Array(0) }],
    },
  });
}

test('every field and option round-trips through emit and parse', () => {
  const m = fullMessage();
  const wire = encodeDhcp(m);
  assert.equal(wire.length, dhcpMessageLength(m));
  assert.equal(wire[240], 53, 'message type comes first');
  const r = parseDhcp(wire);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(ok(r), m);
});

test('emit pads to the BOOTP minimum, writes at an offset, and refuses a buffer without room', () => {
  const small = createDhcpMessage({ op: 1, xid: 1, options: { messageType: DhcpMessageType.Discover } });
  assert.equal(dhcpMessageLength(small), BOOTP_MIN_LENGTH);
  assert.equal(dhcpMessageLength(small, { minLength: 0 }), 244);
  const buf = new Uint8Array(400).fill(0xaa);
  assert.equal(emitDhcp(buf, 50, small), 300);
  assert.equal(buf[49], 0xaa);
  assert.equal(buf[350], 0xaa);
  assert.deepEqual(ok(parseDhcp(buf, 50, 300)).options, { messageType: 1 });
  const tight = new Uint8Array(299).fill(0xaa);
  assert.equal(emitDhcp(tight, 0, small), -1);
  assert.ok(tight.every((b) => b === 0xaa), 'nothing written');
});

test('options longer than 255 bytes are split on emit and joined on parse (RFC 3396)', () => {
  const names = Array.from({ length: 40 }, (_, i) => `zone${i}.example.net`);
  const blob = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
  const m = createDhcpMessage({ op: 2, xid: 9, options: { messageType: 5, domainSearch: names, other: [{ code: 43, data: blob }] } });
  const wire = encodeDhcp(m);
  const r = parseDhcp(wire);
  assert.deepEqual(ok(r).options.domainSearch, names);
  assert.deepEqual(ok(r).options.other, [{ code: 43, data: blob }]);
  // A fixed-size option sent twice is concatenated, so it has a bad length.
  const twice = bytes(replyHeader(1, '0.0.0.0', '0.0.0.0'), hex('350105 0104ffffff00 0104ffffff00 ff'));
  const t = parseDhcp(twice);
  assert.equal(ok(t).options.subnetMask, undefined);
  assert.deepEqual(t.problems, [{ code: 1, reason: 'bad-length' }]);
});

test('option overload (52): options in file, then sname, are read', () => {
  const b = bytes(replyHeader(5, '10.0.0.10', '0.0.0.0'), hex('350102 340103 ff'));
  // sname (offset 44): server id; file (offset 108): lease time and a part of the mask's list.
  b.set(hex('3604 0a000001 ff'), 44);
  b.set(hex('3304 00000e10 0304 0a000001 ff'), 108);
  const r = parseDhcp(b);
  const m = ok(r);
  assert.equal(r.error === null && r.overload, 3);
  assert.equal(m.options.serverId, ip('10.0.0.1'));
  assert.equal(m.options.leaseTime, 3600);
  assert.deepEqual(m.options.routers, [ip('10.0.0.1')]);
  assert.deepEqual(m.sname.subarray(0, 7), Uint8Array.from(hex('3604 0a000001 ff')), 'sname bytes preserved');
  // An overload value outside 1..3 cannot be trusted to frame the rest.
  assert.equal(parseDhcp(bytes(replyHeader(5, '0.0.0.0', '0.0.0.0'), hex('350102 340104 ff'))).error, 'bad-overload');
});

test('framing errors reject the whole message', () => {
  const head = replyHeader(1, '10.0.0.10', '10.0.0.1');
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', new Uint8Array(0), 'too-short'],
    ['header without cookie', Uint8Array.from(head.slice(0, 236)), 'too-short'],
    ['wrong cookie', bytes(head.slice(0, 236), [99, 130, 83, 98], [255]), 'bad-magic-cookie'],
    ['op 3', bytes([3], head.slice(1), [255]), 'bad-op'],
    ['hlen 17', bytes(head.slice(0, 2), [17], head.slice(3), [255]), 'bad-hlen'],
    ['length past the end', bytes(head, hex('350105 0304 0a00')), 'option-past-end'],
    ['length byte missing', bytes(head, hex('350105 03')), 'option-truncated'],
    ['no END', bytes(head, hex('350105 0104ffffff00')), 'missing-end'],
    ['no END, padding only', bytes(head, hex('350105 000000')), 'missing-end'],
    ['message type of length 2', bytes(head, hex('35020505 ff')), 'bad-message-type'],
    ['message type 0', bytes(head, hex('350100 ff')), 'bad-message-type'],
  ];
  for (const [name, b, error] of cases) {
    const r = parseDhcp(b);
    assert.equal(r.error, error, name);
    assert.equal(r.message, null, name);
  }
  // A window: the same bytes are fine when the END lies inside it, not when it is cut off.
  const msg = bytes([0xee, 0xee], head, hex('350105 ff'), [0xee]);
  assert.equal(parseDhcp(msg, 2, 244).error, null);
  assert.equal(parseDhcp(msg, 2, 243).error, 'missing-end');
  assert.equal(parseDhcp(msg, -1, 10).error, 'too-short');
  assert.equal(parseDhcp(msg, 2, NaN).error, 'too-short');
});

test('a malformed option is left out and reported, and the rest is kept', () => {
  const head = replyHeader(1, '10.0.0.10', '10.0.0.1');
  const cases: Array<[string, number[], number, string]> = [
    ['mask of 3 bytes', hex('0103ffffff'), 1, 'bad-length'],
    ['lease time of 2 bytes', hex('33020e10'), 51, 'bad-length'],
    ['server id of 5 bytes', hex('36050a00000100'), 54, 'bad-length'],
    ['routers not a multiple of 4', hex('03060a0000010a00'), 3, 'bad-length'],
    ['empty DNS list', hex('0600'), 6, 'bad-length'],
    ['MTU below 68', hex('1a020040'), 26, 'bad-value'],
    ['max message size below 576', hex('39020100'), 57, 'bad-value'],
    ['client id of 1 byte', hex('3d0101'), 61, 'bad-length'],
    ['route with prefix 33', hex('7909 21 0a000001 0a000001'), 121, 'bad-prefix'],
    ['route cut short', hex('7906 18 0a0000 0a00'), 121, 'route-truncated'],
    ['search name with a forward pointer', hex('7704 c002 0000'), 119, 'bad-pointer'],
    ['search name pointing at itself', hex('7702 c000'), 119, 'bad-pointer'],
    ['search name with a 0x40 label', hex('7703 410000'), 119, 'bad-label'],
    ['search name without its root', hex('7704 03636f6d'), 119, 'name-truncated'],
  ];
  for (const [name, option, code, reason] of cases) {
    const r = parseDhcp(bytes(head, hex('350105'), option, hex('3304 00000e10 ff')));
    const m = ok(r);
    assert.deepEqual(r.problems, [{ code, reason }], name);
    assert.equal(m.options.messageType, 5, name);
    assert.equal(m.options.leaseTime, code === 51 ? undefined : 3600, name);
  }
});

test('a search list whose pointers chain back stays within 255 bytes per name', () => {
  // Each name is one label plus a pointer to the previous name: the chain grows until too long.
  const data: number[] = [];
  let prev = -1;
  for (let i = 0; i < 70; i++) {
    const at = data.length;
    data.push(3, 0x61, 0x62, 0x63);
    if (prev < 0) data.push(0); else data.push(0xc0 | (prev >> 8), prev & 0xff);
    prev = at;
  }
  const r = decodeDomainSearch(Uint8Array.from(data));
  assert.deepEqual(r, { problem: 'name-too-long' });
  const short = decodeDomainSearch(Uint8Array.from(data.slice(0, 5 + 6 * 9)));
  assert.ok(Array.isArray(short));
  assert.equal(short.at(-1), Array(10).fill('abc').join('.'));
});

test('classless route and search list encoders reject what has no encoding', () => {
  assert.throws(() => encodeClasslessRoutes([{ destination: 0, prefixLength: 33, router: 0 }]), RangeError);
  assert.throws(() => encodeDomainSearch(['a..b']), RangeError);
  assert.throws(() => encodeDomainSearch(['x'.repeat(64)]), RangeError);
  // Bits past the prefix are not sent, and not read back.
  const enc = encodeClasslessRoutes([{ destination: ip('10.1.2.3'), prefixLength: 9, router: ip('10.0.0.1') }]);
  assert.deepEqual([...enc], [9, 10, 1, 10, 0, 0, 1]);
  assert.deepEqual(decodeClasslessRoutes(enc), [{ destination: ip('10.0.0.0'), prefixLength: 9, router: ip('10.0.0.1') }]);
});

test('property: parse never throws, whatever the bytes (raw, and after a valid header)', () => {
  const head = Uint8Array.from(replyHeader(1, '10.0.0.10', '10.0.0.1'));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), fc.boolean(), fc.integer({ min: -2, max: 800 }), (tail, withHead, len) => {
    const b = withHead ? bytes([...head], [...tail]) : tail;
    const r = parseDhcp(b);
    assert.ok((r.error === null) !== (r.message === null));
    parseDhcp(b, 0, len);
  }), runs(1000));
});

test('property: option bytes of valid framing never throw and keep every well-formed option', () => {
  const head = Uint8Array.from(replyHeader(1, '10.0.0.10', '10.0.0.1'));
  const option = fc.record({ code: fc.integer({ min: 1, max: 254 }), data: fc.uint8Array({ maxLength: 40 }) });
  fc.assert(fc.property(fc.array(option, { maxLength: 12 }), (opts) => {
    const body: number[] = [53, 1, 5];
    for (const o of opts) body.push(o.code, o.data.length, ...o.data);
    body.push(255);
    const r = parseDhcp(bytes([...head], body));
    // Framing is valid, so only a malformed message type (or overload) can fail the message.
    if (r.error !== null) assert.ok(['bad-message-type', 'bad-overload', 'option-past-end', 'missing-end', 'option-truncated'].includes(r.error), r.error);
  }), runs(1000));
});

test('property: emitted messages parse back to themselves', () => {
  const addr = fc.integer({ min: 0, max: 0xffffffff });
  const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  const route = fc.integer({ min: 0, max: 32 }).chain((p) => fc.record({
    destination: addr.map((a) => (p === 0 ? 0 : (a & (0xffffffff << (32 - p))) >>> 0)),
    prefixLength: fc.constant(p),
    router: addr,
  }));
  const opts = fc.record({
    messageType: fc.integer({ min: 1, max: 18 }),
    serverId: addr,
    leaseTime: addr,
    subnetMask: addr,
    routers: fc.array(addr, { minLength: 1, maxLength: 70 }),
    dnsServers: fc.array(addr, { minLength: 1, maxLength: 4 }),
    domainName: name,
    domainSearch: fc.array(name, { minLength: 1, maxLength: 30 }),
    classlessRoutes: fc.array(route, { minLength: 1, maxLength: 40 }),
    interfaceMtu: fc.integer({ min: 68, max: 65535 }),
    parameterRequestList: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 20 }),
  }, { requiredKeys: ['messageType'] });
  fc.assert(fc.property(opts, addr, addr, fc.integer({ min: 0, max: 0xffff }), (options, xid, yiaddr, secs) => {
    const m = createDhcpMessage({ op: 2, xid, yiaddr, secs, options: JSON.parse(JSON.stringify(options)) as typeof options });
    const r = parseDhcp(encodeDhcp(m));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(ok(r), m);
  }), runs(200));
});
