// The stub resolver (src/api/dns.ts) on stack A asking a small DNS server that runs on stack B
// (192.0.2.2, UDP and TCP port 53, answering from a table with the wire codec), over a
// MemoryWire: answers, CNAME chains, negative answers and their caching, TC -> TCP, timeouts,
// spoofed and malformed answers, TTL expiry, search domains, hosts and lookup().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { makePair, type Pair } from '../helpers/two-stacks.js';
import { createSocket, type RemoteInfo, type UdpSocket } from '../../src/api/dgram.js';
import { createServer, type Server, type Socket } from '../../src/api/net.js';
import { Resolver, type ResolverOptions, type DnsError } from '../../src/api/dns.js';
import {
  DnsRcode, DnsType, canonicalDnsName, emitDns, parseDns, type DnsMessage, type DnsMessageInit, type DnsRecord,
} from '../../src/wire/dns.js';
import { parseIpv4 } from '../../src/wire/addr.js';
import { parseIpv6 } from '../../src/wire/addr6.js';

const SOA: DnsRecord = {
  name: 'test', type: DnsType.SOA, class: 1, ttl: 3600,
  data: { kind: 'soa', mname: 'ns.test', rname: 'hostmaster.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
};
const a = (name: string, addr: string, ttl = 300): DnsRecord => ({ name, type: DnsType.A, class: 1, ttl, data: { kind: 'a', address: parseIpv4(addr)! } });
const aaaa = (name: string, addr: string, ttl = 300): DnsRecord => ({ name, type: DnsType.AAAA, class: 1, ttl, data: { kind: 'aaaa', address: parseIpv6(addr)! } });
const cname = (name: string, target: string, ttl = 300): DnsRecord => ({ name, type: DnsType.CNAME, class: 1, ttl, data: { kind: 'name', target } });
const txt = (name: string, ...strings: string[]): DnsRecord => ({ name, type: DnsType.TXT, class: 1, ttl: 300, data: { kind: 'txt', strings: strings.map((s) => new TextEncoder().encode(s)) } });

const ZONE: DnsRecord[] = [
  a('web.test', '192.0.2.80'), aaaa('dual.test', '2001:db8::80'), a('dual.test', '192.0.2.81'),
  cname('www.web.test', 'alias.web.test'), cname('alias.web.test', 'web.test', 120),
  cname('loop1.test', 'loop2.test'), cname('loop2.test', 'loop1.test'),
  a('ttl.test', '192.0.2.5', 5), a('zero.test', '192.0.2.6', 0),
  a('host.corp.test', '192.0.2.10'), a('a.b', '192.0.2.11'), a('a.b.corp.test', '192.0.2.12'),
  { name: 'web.test', type: DnsType.MX, class: 1, ttl: 300, data: { kind: 'mx', preference: 10, exchange: 'mail.web.test' } },
  { name: '_http._tcp.web.test', type: DnsType.SRV, class: 1, ttl: 300, data: { kind: 'srv', priority: 1, weight: 5, port: 8080, target: 'web.test' } },
  { name: 'test', type: DnsType.NS, class: 1, ttl: 300, data: { kind: 'name', target: 'ns.test' } },
  { name: '80.2.0.192.in-addr.arpa', type: DnsType.PTR, class: 1, ttl: 300, data: { kind: 'name', target: 'web.test' } },
  SOA, txt('web.test', 'v=spf1 -all', 'hello'),
  txt('big.test', ...Array.from({ length: 12 }, (_, i) => String(i % 10).repeat(200))),
];

/** The answer the table gives: records (following CNAMEs), NXDOMAIN or NODATA with the SOA. */
function answerFor(q: DnsMessage): DnsMessageInit {
  const question = q.questions[0]!;
  const header = { id: q.header.id, qr: true, aa: true, rd: q.header.rd, ra: true };
  const answers: DnsRecord[] = [];
  let name = canonicalDnsName(question.name)!;
  for (let hop = 0; hop < 10; hop++) {
    const here = ZONE.filter((rr) => rr.name === name);
    if (here.length === 0) {
      return answers.length > 0 ? { header, questions: q.questions, answers } : { header: { ...header, rcode: DnsRcode.NXDOMAIN }, questions: q.questions, authorities: [SOA] };
    }
    const wanted = here.filter((rr) => rr.type === question.type);
    if (wanted.length > 0) return { header, questions: q.questions, answers: [...answers, ...wanted] };
    const c = here.find((rr) => rr.type === DnsType.CNAME);
    if (c === undefined || c.data.kind !== 'name') return { header, questions: q.questions, answers, authorities: [SOA] };
    answers.push(c);
    name = c.data.target;
  }
  return { header, questions: q.questions, answers };
}

function encode(m: DnsMessageInit): Uint8Array {
  const b = emitDns(m);
  if (typeof b === 'string') throw new Error(b);
  return b;
}

interface DnsServer {
  udp: UdpSocket;
  other: UdpSocket;
  tcp: Server;
  /** Queries seen, by name, and every query's id and source port. */
  seen: Map<string, number>;
  log: { name: string; id: number; port: number; edns: boolean; via: 'udp' | 'tcp' }[];
}

type Special = (q: DnsMessage, rinfo: RemoteInfo, s: DnsServer) => boolean;

/** A server on B: UDP 53 (and a second socket on 5353 for spoofing), TCP 53. `special` may answer first. */
async function startServer(p: Pair, special: Special = () => false): Promise<DnsServer> {
  const s = { seen: new Map<string, number>(), log: [] } as unknown as DnsServer;
  const note = (q: DnsMessage, port: number, via: 'udp' | 'tcp') => {
    const name = canonicalDnsName(q.questions[0]?.name ?? '') ?? '?';
    s.seen.set(name, (s.seen.get(name) ?? 0) + 1);
    s.log.push({ name, id: q.header.id, port, edns: q.edns !== null, via });
  };
  s.udp = createSocket(p.b, 'udp4', (msg, rinfo) => {
    const q = parseDns(msg);
    if (typeof q === 'string' || q.questions.length !== 1) return;
    note(q, rinfo.port, 'udp');
    if (special(q, rinfo, s)) return;
    let reply = answerFor(q);
    // Over UDP, big.test does not fit: TC with the question only.
    if (q.questions[0]!.name === 'big.test') reply = { header: { ...reply.header, tc: true }, questions: q.questions };
    s.udp.send(encode(reply), rinfo.port, rinfo.address);
  });
  s.udp.bind(53);
  // The spare socket (5353) only answers tc.test, truncated; no TCP listens on 5353.
  s.other = createSocket(p.b, 'udp4', (msg, rinfo) => {
    const q = parseDns(msg);
    if (typeof q === 'string' || q.questions[0]?.name !== 'tc.test') return;
    s.other.send(encode({ header: { id: q.header.id, qr: true, tc: true }, questions: q.questions }), rinfo.port, rinfo.address);
  });
  s.other.bind(5353);
  s.tcp = createServer(p.b, (sock: Socket) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = parseDns(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (typeof q === 'string') continue;
        note(q, sock.remotePort ?? 0, 'tcp');
        const body = encode(answerFor(q));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(body.length);
        sock.write(Buffer.concat([len, body]));
      }
    });
  }).listen(53);
  await Promise.all([once(s.udp, 'listening'), once(s.other, 'listening'), once(s.tcp, 'listening')]);
  return s;
}

async function withServer(fn: (p: Pair, s: DnsServer, resolver: (o?: ResolverOptions) => Resolver) => Promise<void>, special?: Special): Promise<void> {
  const p = makePair();
  const hold = setInterval(() => {}, 1000);
  const resolvers: Resolver[] = [];
  try {
    const s = await startServer(p, special);
    await fn(p, s, (o = {}) => {
      const r = new Resolver(p.a, { servers: ['192.0.2.2'], timeout: 500, tries: 2, ...o });
      resolvers.push(r);
      return r;
    });
    s.udp.close();
    s.other.close();
    s.tcp.close();
  } finally {
    for (const r of resolvers) r.cancel();
    clearInterval(hold);
    p.close();
  }
}

async function rejects(p: Promise<unknown>, code: string, syscall: string, hostname: string): Promise<DnsError> {
  try {
    await p;
  } catch (e) {
    const err = e as DnsError;
    assert.equal(err.code, code, err.message);
    assert.equal(err.syscall, syscall);
    assert.equal(err.hostname, hostname);
    assert.equal(err.message, `${syscall} ${code} ${hostname}`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

test('resolve4, with TTLs; resolve(name, rrtype) for MX, TXT, SRV, NS, SOA, AAAA; reverse()', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk();
  assert.deepEqual(await r.resolve4('web.test'), ['192.0.2.80']);
  assert.deepEqual(await r.resolve4('dual.test', { ttl: true }), [{ address: '192.0.2.81', ttl: 300 }]);
  assert.deepEqual(await r.resolve6('dual.test'), ['2001:db8::80']);
  assert.deepEqual(await r.resolveMx('web.test'), [{ priority: 10, exchange: 'mail.web.test' }]);
  assert.deepEqual(await r.resolveTxt('web.test'), [['v=spf1 -all', 'hello']]);
  assert.deepEqual(await r.resolveSrv('_http._tcp.web.test'), [{ name: 'web.test', port: 8080, priority: 1, weight: 5 }]);
  assert.deepEqual(await r.resolveNs('test'), ['ns.test']);
  assert.deepEqual(await r.resolveSoa('test'), { nsname: 'ns.test', hostmaster: 'hostmaster.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minttl: 60 });
  assert.deepEqual(await r.resolve('web.test', 'MX'), [{ priority: 10, exchange: 'mail.web.test' }]);
  assert.deepEqual(await r.resolve('test', 'SOA'), await r.resolveSoa('test'));
  assert.deepEqual(await r.reverse('192.0.2.80'), ['web.test']);
  assert.throws(() => r.resolve('web.test', 'BOGUS'), { code: 'ERR_INVALID_ARG_VALUE' });
  await rejects(r.reverse('not-an-ip'), 'EINVAL', 'getHostByAddr', 'not-an-ip');
  // Every query had its own ID, from a port in the dynamic range, with EDNS.
  const ids = new Set(s.log.map((l) => l.id));
  assert.equal(ids.size, s.log.length);
  assert.ok(s.log.every((l) => l.port >= 49152 && l.edns && l.via === 'udp'));
  assert.ok(new Set(s.log.map((l) => l.port)).size > 1, 'source ports vary');
}));

test('a CNAME chain in the answer is followed; the TTL is the chain\'s smallest; a CNAME loop is EBADRESP', { timeout: 30_000 }, () => withServer(async (_p, _s, mk) => {
  const r = mk();
  assert.deepEqual(await r.resolve4('www.web.test', { ttl: true }), [{ address: '192.0.2.80', ttl: 120 }]);
  assert.deepEqual(await r.resolveCname('www.web.test'), ['alias.web.test']);
  await rejects(r.resolve4('loop1.test'), 'EBADRESP', 'queryA', 'loop1.test');
}));

test('NXDOMAIN is ENOTFOUND and is cached by the SOA; NODATA is ENODATA', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk();
  await rejects(r.resolve4('nothere.test'), 'ENOTFOUND', 'queryA', 'nothere.test');
  await rejects(r.resolve4('NotHere.test'), 'ENOTFOUND', 'queryA', 'NotHere.test');
  assert.equal(s.seen.get('nothere.test'), 1, 'the second answer came from the negative cache');
  await rejects(r.resolve6('web.test'), 'ENODATA', 'queryAaaa', 'web.test');
  await rejects(r.resolve6('web.test'), 'ENODATA', 'queryAaaa', 'web.test');
  assert.equal(s.log.filter((l) => l.name === 'web.test').length, 1);
  assert.equal(r.stats.cacheHits, 2);
}));

test('a truncated UDP answer is asked again over TCP', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk();
  const got = await r.resolveTxt('big.test');
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 12);
  assert.equal(got[0]![11], '1'.repeat(200));
  assert.deepEqual(s.log.filter((l) => l.name === 'big.test').map((l) => l.via), ['udp', 'tcp']);
  assert.equal(r.stats.truncated, 1);
  assert.equal(r.stats.tcpSent, 1);
  // Truncated, and nobody listens for TCP there: the connection is refused.
  r.setServers(['192.0.2.2:5353']);
  await rejects(r.resolve4('tc.test'), 'ECONNREFUSED', 'queryA', 'tc.test');
}));

test('no answer: ETIMEOUT after `tries` attempts of `timeout` ms, each with a new ID', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk({ timeout: 150, tries: 3 });
  const t0 = Date.now();
  await rejects(r.resolve4('silent.test'), 'ETIMEOUT', 'queryA', 'silent.test');
  const took = Date.now() - t0;
  assert.ok(took >= 440 && took < 3000, `took ${took} ms`);
  const seen = s.log.filter((l) => l.name === 'silent.test');
  assert.equal(seen.length, 3);
  assert.equal(new Set(seen.map((l) => l.id)).size, 3);
  assert.equal(r.stats.timeouts, 3);
}, (q) => q.questions[0]!.name === 'silent.test'));

test('failover: a dead server times out, the next one answers; REFUSED moves on too; getServers', { timeout: 30_000 }, () => withServer(async (_p, _s, mk) => {
  const r = mk({ servers: ['192.0.2.2:5300', '192.0.2.2'], timeout: 150, tries: 1 });
  assert.deepEqual(r.getServers(), ['192.0.2.2:5300', '192.0.2.2']);
  assert.deepEqual(await r.resolve4('web.test'), ['192.0.2.80']);
  r.setServers(['192.0.2.2:5353']);
  // The spare socket on 5353 answers only tc.test: ETIMEOUT with a single try.
  await rejects(r.resolve4('dual.test'), 'ETIMEOUT', 'queryA', 'dual.test');
  assert.throws(() => r.setServers(['::1:']), { code: 'ERR_INVALID_IP_ADDRESS' });
  assert.throws(() => r.setServers(['192.0.2.300']), { code: 'ERR_INVALID_IP_ADDRESS' });
  r.setServers(['192.0.2.2']);
  await rejects(r.resolve4('refused.test'), 'EREFUSED', 'queryA', 'refused.test');
  await rejects(r.resolve4('servfail.test'), 'ESERVFAIL', 'queryA', 'servfail.test');
}, (q, rinfo, s) => {
  const name = q.questions[0]!.name;
  const rcode = name === 'refused.test' ? DnsRcode.REFUSED : name === 'servfail.test' ? DnsRcode.SERVFAIL : -1;
  if (rcode < 0) return false;
  s.udp.send(encode({ header: { id: q.header.id, qr: true, rcode }, questions: q.questions }), rinfo.port, rinfo.address);
  return true;
}));

test('spoofed answers (wrong ID, wrong source port, wrong question) are dropped; the real one is taken', { timeout: 30_000 }, () => withServer(async (_p, _s, mk) => {
  const r = mk();
  assert.deepEqual(await r.resolve4('spoof.test'), ['192.0.2.80']);
  assert.equal(r.stats.dropped, 3);
}, (q, rinfo, s) => {
  if (q.questions[0]!.name !== 'spoof.test') return false;
  const fake = (id: number, name: string) => encode({ header: { id, qr: true, ra: true }, questions: [{ name, type: 1, class: 1 }], answers: [a(name, '192.0.2.66')] });
  s.udp.send(fake(q.header.id ^ 0x5555, 'spoof.test'), rinfo.port, rinfo.address);
  s.other.send(fake(q.header.id, 'spoof.test'), rinfo.port, rinfo.address);
  s.udp.send(fake(q.header.id, 'other.test'), rinfo.port, rinfo.address);
  setTimeout(() => s.udp.send(encode({ header: { id: q.header.id, qr: true }, questions: q.questions, answers: [a('spoof.test', '192.0.2.80')] }), rinfo.port, rinfo.address), 20);
  return true;
}));

test('an answer with a compression loop is dropped as malformed, and the query ends in EBADRESP', { timeout: 30_000 }, () => withServer(async (_p, _s, mk) => {
  const r = mk({ timeout: 150, tries: 1 });
  await rejects(r.resolve4('evil.test'), 'EBADRESP', 'queryA', 'evil.test');
  assert.equal(r.stats.malformed, 1);
}, (q, rinfo, s) => {
  if (q.questions[0]!.name !== 'evil.test') return false;
  const head = encode({ header: { id: q.header.id, qr: true }, questions: q.questions });
  const b = Buffer.from(head);
  b.writeUInt16BE(1, 6); // one answer:
  const at = b.length;   // 'a' then a pointer back to 'a': a.a.a.a... forever
  const answer = Buffer.from([1, 0x61, 0xc0 | (at >> 8), at & 0xff, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
  s.udp.send(Buffer.concat([b, answer]), rinfo.port, rinfo.address);
  return true;
}));

test('the cache honours TTLs: counted down while cached, asked again once expired; TTL 0 is not cached', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  let now = 1_000_000;
  const r = mk({ now: () => now });
  assert.deepEqual(await r.resolve4('ttl.test', { ttl: true }), [{ address: '192.0.2.5', ttl: 5 }]);
  now += 3000;
  assert.deepEqual(await r.resolve4('ttl.test', { ttl: true }), [{ address: '192.0.2.5', ttl: 2 }]);
  assert.equal(s.seen.get('ttl.test'), 1);
  now += 2500;
  assert.deepEqual(await r.resolve4('ttl.test', { ttl: true }), [{ address: '192.0.2.5', ttl: 5 }]);
  assert.equal(s.seen.get('ttl.test'), 2);
  await r.resolve4('zero.test');
  await r.resolve4('zero.test');
  assert.equal(s.seen.get('zero.test'), 2);
  // The negative cache expires by the SOA's minimum (60 s).
  await rejects(r.resolve4('gone.test'), 'ENOTFOUND', 'queryA', 'gone.test');
  now += 59_000;
  await rejects(r.resolve4('gone.test'), 'ENOTFOUND', 'queryA', 'gone.test');
  assert.equal(s.seen.get('gone.test'), 1);
  now += 2000;
  await rejects(r.resolve4('gone.test'), 'ENOTFOUND', 'queryA', 'gone.test');
  assert.equal(s.seen.get('gone.test'), 2);
}));

test('search domains with ndots: short names try the search list first, long names themselves first', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk({ search: ['corp.test'], ndots: 1 });
  assert.deepEqual(await r.resolve4('host'), ['192.0.2.10']);
  assert.deepEqual(s.log.map((l) => l.name), ['host.corp.test']);
  assert.deepEqual(await r.resolve4('a.b'), ['192.0.2.11']); // 1 dot >= ndots 1: as is first
  const r2 = mk({ search: ['corp.test'], ndots: 2 });
  assert.deepEqual(await r2.resolve4('a.b'), ['192.0.2.12']); // 1 dot < 2: search first
  assert.deepEqual(await r2.resolve4('web.test.'), ['192.0.2.80']); // absolute: as is only
  s.log.length = 0;
  await rejects(r2.resolve4('nope'), 'ENOTFOUND', 'queryA', 'nope');
  assert.deepEqual(s.log.map((l) => l.name), ['nope.corp.test', 'nope']);
  // NODATA for one candidate and NXDOMAIN for the other: ENODATA (glibc's rule).
  await rejects(r2.resolve6('host'), 'ENODATA', 'queryAaaa', 'host');
}));

test('lookup: literals, hosts table, A then AAAA, all, family; errors with getaddrinfo', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk({ hosts: '192.0.2.77 printer.test printer # office\n2001:db8::77 printer.test', search: [] });
  assert.deepEqual(await r.lookup('192.0.2.9'), { address: '192.0.2.9', family: 4 });
  assert.deepEqual(await r.lookup('2001:DB8::1'), { address: '2001:db8::1', family: 6 });
  assert.deepEqual(await r.lookup('localhost'), { address: '127.0.0.1', family: 4 });
  assert.deepEqual(await r.lookup('localhost', { family: 6 }), { address: '::1', family: 6 });
  assert.deepEqual(await r.lookup('Printer.test', { all: true }), [{ address: '192.0.2.77', family: 4 }, { address: '2001:db8::77', family: 6 }]);
  assert.equal(s.log.length, 0, 'none of these asked the server');
  assert.deepEqual(await r.lookup('web.test'), { address: '192.0.2.80', family: 4 });
  assert.deepEqual(await r.lookup('dual.test', { all: true }), [{ address: '192.0.2.81', family: 4 }, { address: '2001:db8::80', family: 6 }]);
  assert.deepEqual(await r.lookup('dual.test', 6), { address: '2001:db8::80', family: 6 });
  assert.deepEqual(await r.lookup('dual.test', { all: true, order: 'ipv6first' }), [{ address: '2001:db8::80', family: 6 }, { address: '192.0.2.81', family: 4 }]);
  const e = await rejects(r.lookup('nothere.test'), 'ENOTFOUND', 'getaddrinfo', 'nothere.test');
  assert.equal(e.errno, -3008);
  await rejects(r.lookup('web.test', { family: 6 }), 'ENODATA', 'getaddrinfo', 'web.test');
  await rejects(r.resolve4('a..b'), 'EBADNAME', 'queryA', 'a..b');
}));

test('cancel(): queries in flight fail with ECANCELLED', { timeout: 30_000 }, () => withServer(async (_p, _s, mk) => {
  const r = mk({ timeout: 10_000 });
  const pending = r.resolve4('silent.test');
  setTimeout(() => r.cancel(), 50);
  await rejects(pending, 'ECANCELLED', 'queryA', 'silent.test');
}, (q) => q.questions[0]!.name === 'silent.test'));

test('a server that answers FORMERR to EDNS is asked again without it', { timeout: 30_000 }, () => withServer(async (_p, s, mk) => {
  const r = mk();
  assert.deepEqual(await r.resolve4('old.test'), ['192.0.2.80']);
  assert.deepEqual(s.log.map((l) => l.edns), [true, false]);
}, (q, rinfo, s) => {
  if (q.questions[0]!.name !== 'old.test') return false;
  const reply = q.edns !== null
    ? { header: { id: q.header.id, qr: true, rcode: DnsRcode.FORMERR }, questions: q.questions }
    : { header: { id: q.header.id, qr: true }, questions: q.questions, answers: [a('old.test', '192.0.2.80')] };
  s.udp.send(encode(reply), rinfo.port, rinfo.address);
  return true;
}));
