// The resolver with IPv6 name servers: Node's setServers forms for IPv6 ('[2001:db8::1]:5353',
// zones), servers learnt from the network (a DHCP lease, router advertisements with RDNSS and
// DNSSL, with their lifetimes) used only while none were set, and real exchanges with a small
// DNS server on a second stack over IPv6 (UDP, then TCP after a truncated answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Stack } from '../../src/api/stack.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { FakeClock } from '../../src/time/clock.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { parseIpv6, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { createSocket } from '../../src/api/dgram.js';
import { createServer, type Socket } from '../../src/api/net.js';
import { Resolver } from '../../src/api/dns.js';
import { parseServer, parseServerList, formatServer } from '../../src/api/dns/servers.js';
import { orderAddresses } from '../../src/api/dns/order.js';
import { DnsType, emitDns, parseDns, canonicalDnsName, type DnsMessage, type DnsMessageInit, type DnsRecord } from '../../src/wire/dns.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { raFrame } from '../helpers/router-frames.js';

test('setServers takes Node\'s IPv6 forms; getServers shows them as Node does, zones kept', () => {
  const stack = new Stack();
  const r = new Resolver(stack);
  assert.deepEqual(r.getServers(), ['127.0.0.1']);
  r.setServers(['2001:db8::1', '[2001:db8::2]:5353', '[2001:db8::3]:53', '2001:0db8:0:0::4', 'fe80::1%tap0', '[fe80::2%tap1]:5300', '192.0.2.1:5353', '[192.0.2.2]:54']);
  assert.deepEqual(r.getServers(), ['2001:db8::1', '[2001:db8::2]:5353', '2001:db8::3', '2001:db8::4', 'fe80::1%tap0', '[fe80::2%tap1]:5300', '192.0.2.1:5353', '192.0.2.2:54']);
  for (const bad of ['2001:db8::zz', '[2001:db8::1]:0', '[2001:db8::1]:65536', '[2001:db8::1]x', 'fe80::1%', '2001:db8::1]:53', '[web.test]:53', '192.0.2.1:0']) {
    assert.throws(() => r.setServers([bad]), { code: 'ERR_INVALID_IP_ADDRESS' }, bad);
  }
  // A 9th group is the port only in brackets: '2001:db8::1:5353' is an address.
  assert.deepEqual(parseServer('2001:db8::1:5353'), { host: '2001:db8::1:5353', port: 53, family: 6, zone: '' });
  // A zone on a global address means nothing and is dropped.
  assert.equal(formatServer(parseServer('2001:db8::1%tap0')), '2001:db8::1');
  assert.deepEqual(parseServerList(' 192.0.2.1 , [2001:db8::1]:5353,'), { servers: ['192.0.2.1', '[2001:db8::1]:5353'] });
  assert.deepEqual(parseServerList('192.0.2.1,nope'), { bad: 'nope' });
  stack.close();
});

test('discovered servers and search domains are used only while none were set, in the order their sources came', () => {
  const stack = new Stack();
  const r = new Resolver(stack);
  r.setDiscoveredServers('dhcp:tap0', ['192.0.2.1']);
  r.setDiscoveredServers('router-advertisement', ['2001:db8::53', 'fe80::1%tap0', '192.0.2.1', 'junk']);
  assert.deepEqual(r.getServers(), ['192.0.2.1', '2001:db8::53', 'fe80::1%tap0']);
  r.setDiscoveredSearch('router-advertisement', ['six.test.', 'corp.test']);
  r.setDiscoveredSearch('dhcp:tap0', ['corp.test', 'four.test']);
  assert.deepEqual(r.getSearch(), ['six.test', 'corp.test', 'four.test']);
  r.setDiscoveredServers('dhcp:tap0', []);
  assert.deepEqual(r.getServers(), ['2001:db8::53', 'fe80::1%tap0', '192.0.2.1']);
  r.setDiscoveredServers('router-advertisement', []);
  assert.deepEqual(r.getServers(), ['127.0.0.1'], 'all withdrawn: the default again');
  const explicit = new Resolver(stack, { servers: ['[2001:db8::9]:5353'], search: ['mine.test'] });
  explicit.setDiscoveredServers('router-advertisement', ['2001:db8::53']);
  explicit.setDiscoveredSearch('router-advertisement', ['six.test']);
  assert.deepEqual(explicit.getServers(), ['[2001:db8::9]:5353']);
  assert.deepEqual(explicit.getSearch(), ['mine.test']);
  // setServers([]) is explicit too: nothing is asked (ECONNREFUSED), as with Node.
  r.setDiscoveredServers('router-advertisement', ['2001:db8::53']);
  r.setServers([]);
  assert.deepEqual(r.getServers(), []);
  stack.close();
});

test('RDNSS and DNSSL from router advertisements feed the stack\'s resolver for their lifetime; a link-local server gets its zone', () => {
  const clock = new FakeClock(1_000_000);
  const dev = new CaptureDevice();
  const stack = new Stack({ timers: clock.timers, ipv6: { random: () => 0.5 } });
  stack.addInterface(dev, { address: parseIpv4('192.0.2.2')!, prefixLength: 24 });
  stack.start();
  clock.advance(1000); // DAD of the link-local address
  assert.deepEqual(stack.resolver.getServers(), ['127.0.0.1']);
  dev.inject(raFrame({
    rdnss: [{ lifetime: 600, servers: ['2001:db8:1::53', 'fe80::53'] }],
    dnssl: [{ lifetime: 300, domains: ['six.test', 'Corp.Test.'] }],
  }));
  assert.deepEqual(stack.resolver.getServers(), ['2001:db8:1::53', `fe80::53%${dev.name}`]);
  assert.deepEqual(stack.resolver.getSearch(), ['six.test', 'corp.test']);
  clock.advance(300_000);
  assert.deepEqual(stack.resolver.getSearch(), [], 'the DNSSL lifetime ended');
  // Refreshed for one server; the other runs out at 600 s.
  dev.inject(raFrame({ rdnss: [{ lifetime: 600, servers: ['2001:db8:1::53'] }] }));
  clock.advance(300_000);
  assert.deepEqual(stack.resolver.getServers(), ['2001:db8:1::53']);
  clock.advance(300_000);
  assert.deepEqual(stack.resolver.getServers(), ['127.0.0.1'], 'every RDNSS lifetime ended');
  // Explicit servers are never replaced by advertised ones.
  stack.resolver.setServers(['192.0.2.1']);
  dev.inject(raFrame({ rdnss: [{ lifetime: 600, servers: ['2001:db8:1::53'] }] }));
  assert.deepEqual(stack.resolver.getServers(), ['192.0.2.1']);
  stack.close();
});

test('lookup order: verbatim is RFC 6724 (reachable first, then ::/0 40 > IPv4 35 > ULA 3), stable; ipv4first and ipv6first', () => {
  type A = { address: string; family: 4 | 6 };
  const list: A[] = [
    { address: '192.0.2.1', family: 4 }, { address: 'fd00::1', family: 6 }, { address: '2001:db8::1', family: 6 },
    { address: '192.0.2.2', family: 4 }, { address: '2001:db8::2', family: 6 },
  ];
  const all = () => true;
  const names = (l: A[]) => l.map((a) => a.address);
  assert.deepEqual(names(orderAddresses(list, 'verbatim', all)), ['2001:db8::1', '2001:db8::2', '192.0.2.1', '192.0.2.2', 'fd00::1']);
  // No route for IPv6 (an IPv4-only stack, or no IPv6 default route): IPv4 first.
  assert.deepEqual(names(orderAddresses(list, 'verbatim', (a) => a.family === 4)), ['192.0.2.1', '192.0.2.2', '2001:db8::1', '2001:db8::2', 'fd00::1']);
  assert.deepEqual(names(orderAddresses(list, 'ipv4first', all)), ['192.0.2.1', '192.0.2.2', 'fd00::1', '2001:db8::1', '2001:db8::2']);
  assert.deepEqual(names(orderAddresses(list, 'ipv6first', all)), ['fd00::1', '2001:db8::1', '2001:db8::2', '192.0.2.1', '192.0.2.2']);
  assert.deepEqual(names(orderAddresses([{ address: '2001::1', family: 6 }, { address: '192.0.2.1', family: 4 }], 'verbatim', all)), ['192.0.2.1', '2001::1'], 'Teredo (5) after IPv4');
});

// ------------------------------------------------------------------ real exchanges over IPv6

const rec = (name: string, type: number, data: DnsRecord['data']): DnsRecord => ({ name, type, class: 1, ttl: 300, data });
const ZONE: DnsRecord[] = [
  rec('dual.test', DnsType.AAAA, { kind: 'aaaa', address: parseIpv6('2001:db8::80')! }),
  rec('dual.test', DnsType.AAAA, { kind: 'aaaa', address: parseIpv6('2001:db8::81')! }),
  rec('dual.test', DnsType.A, { kind: 'a', address: parseIpv4('192.0.2.80')! }),
  rec('six.test', DnsType.AAAA, { kind: 'aaaa', address: parseIpv6('2001:db8::86')! }),
  rec('big.test', DnsType.TXT, { kind: 'txt', strings: Array.from({ length: 12 }, (_, i) => new TextEncoder().encode(String(i % 10).repeat(200))) }),
];

function answer(q: DnsMessage, truncate: boolean): Uint8Array {
  const question = q.questions[0]!;
  const name = canonicalDnsName(question.name);
  const answers = ZONE.filter((rr) => rr.name === name && rr.type === question.type);
  const m: DnsMessageInit = { header: { id: q.header.id, qr: true, aa: true, rd: q.header.rd, tc: truncate && name === 'big.test' }, questions: q.questions, answers: truncate && name === 'big.test' ? [] : answers };
  const b = emitDns(m);
  if (typeof b === 'string') throw new Error(b);
  return b;
}

test('queries go to an IPv6 server over UDP6, and over TCP6 after a truncated answer; resolve6, lookup family 6 and all', { timeout: 30_000 }, async () => {
  const wire = new MemoryWire({ mode: 'auto' });
  const mk = (name: string, mac: string, v4: string, v6: string) => {
    const stack = new Stack({ ipv6: { ndp: { dadTransmits: 0 } } });
    const dev = wire.createDevice(name, parseMac(mac)!);
    stack.addInterface(dev, { address: parseIpv4(v4)!, prefixLength: 24 });
    stack.ipv6!.addAddress(dev, stack.devices.indexOf(dev), parseIpv6Cidr(v6)!);
    stack.start();
    return stack;
  };
  const a = mk('a', '00:00:5e:00:53:0a', '192.0.2.1', '2001:db8::1/64');
  const b = mk('b', '00:00:5e:00:53:0b', '192.0.2.2', '2001:db8::2/64');
  const hold = setInterval(() => {}, 1000);
  const from: string[] = [];
  const udp = createSocket(b, { type: 'udp6', ipv6Only: true }, (msg, rinfo) => {
    const q = parseDns(msg);
    if (typeof q === 'string') return;
    from.push(`udp ${rinfo.address}`);
    udp.send(answer(q, true), rinfo.port, rinfo.address);
  });
  udp.bind(53);
  const tcp = createServer(b, (sock: Socket) => {
    from.push(`tcp ${sock.remoteAddress ?? '?'}`);
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = parseDns(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      if (typeof q === 'string') return;
      const body = answer(q, false);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(body.length);
      sock.write(Buffer.concat([len, body]));
    });
  }).listen({ port: 53, host: '2001:db8::2' });
  try {
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    const r = new Resolver(a, { servers: ['2001:db8::2'], timeout: 1000, tries: 2 });
    assert.deepEqual(await r.resolve6('dual.test'), ['2001:db8::80', '2001:db8::81']);
    assert.deepEqual(await r.resolve4('dual.test'), ['192.0.2.80']);
    assert.deepEqual(await r.lookup('six.test', { family: 6 }), { address: '2001:db8::86', family: 6 });
    assert.deepEqual(await r.lookup('six.test', 6), { address: '2001:db8::86', family: 6 });
    // Node's default order, 'verbatim', is getaddrinfo's: both families reachable, IPv6 first (RFC 6724 precedence).
    const v6first = [{ address: '2001:db8::80', family: 6 }, { address: '2001:db8::81', family: 6 }, { address: '192.0.2.80', family: 4 }];
    const v4first = [{ address: '192.0.2.80', family: 4 }, { address: '2001:db8::80', family: 6 }, { address: '2001:db8::81', family: 6 }];
    assert.deepEqual(await r.lookup('dual.test', { all: true }), v6first);
    assert.deepEqual(await r.lookup('dual.test'), v6first[0]);
    assert.deepEqual(await r.lookup('dual.test', { all: true, order: 'ipv6first' }), v6first);
    assert.deepEqual(await r.lookup('dual.test', { all: true, order: 'ipv4first' }), v4first);
    assert.deepEqual(await r.lookup('dual.test', { all: true, verbatim: false }), v4first);
    assert.deepEqual(await r.lookup('localhost', { all: true }), [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]);
    const txt = await r.resolveTxt('big.test');
    assert.equal(txt[0]!.length, 12);
    assert.equal(r.stats.truncated, 1);
    assert.equal(r.stats.tcpSent, 1);
    assert.ok(from.includes('tcp 2001:db8::1'), from.join(', '));
    assert.ok(from.every((f) => f.endsWith(' 2001:db8::1')), `every query came over IPv6 from 2001:db8::1: ${from.join(', ')}`);
    // A server on a port nobody listens: ICMPv6 port unreachable, then the next (IPv4-mapped none) - ETIMEOUT or ECONNREFUSED.
    const dead = new Resolver(a, { servers: ['[2001:db8::2]:5399'], timeout: 200, tries: 1 });
    await assert.rejects(dead.resolve6('dual.test'), (e: Error & { code?: string }) => e.code === 'ETIMEOUT' || e.code === 'ECONNREFUSED');
  } finally {
    clearInterval(hold);
    udp.close();
    tcp.close();
    a.close();
    b.close();
    wire.close();
  }
});
