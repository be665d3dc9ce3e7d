// Connecting to a name with several addresses (autoSelectFamily, as Node's net.connect): two
// stacks on a memory wire with IPv4 and IPv6 and a fake clock; the answers come from a `lookup`
// option, so that each test chooses which addresses answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { makePair, type Pair } from '../helpers/two-stacks.js';
import * as net from '../../src/api/net.js';
import { connect, createServer, type NetError } from '../../src/api/net.js';
import type { LookupFunction, TcpStack } from '../../src/api/net/socket.js';
import { Resolver } from '../../src/api/dns.js';
import { attemptOrder } from '../../src/api/net/happy-eyeballs.js';

// 2001:db8::99 and 192.0.2.99 are on the link but nobody has them: SYNs there go unanswered.
const DEAD6 = '2001:db8::99';
const DEAD4 = '192.0.2.99';

async function withPair(fn: (p: Pair) => Promise<void>, opts: Parameters<typeof makePair>[0] = {}): Promise<void> {
  const p = makePair({ fake: true, ipv6: true, ...opts });
  try {
    await fn(p);
  } finally {
    p.close();
  }
}

/** A lookup answering `answer` (all of it with `all`, else its first address), recording the options. */
function fixedLookup(answer: Array<{ address: string; family: number }>, asked: unknown[] = []): LookupFunction {
  return (_host, options, callback) => {
    asked.push({ ...options });
    process.nextTick(() => {
      if (options.all) callback(null, answer);
      else callback(null, answer[0]!.address, answer[0]!.family);
    });
  };
}

/** Run the wire and the fake clock in 5 ms steps, letting deliveries happen, until `done` or `maxMs`. */
async function drive(p: Pair, done: () => boolean, maxMs = 20_000): Promise<void> {
  for (let t = 0; t < maxMs && !done(); t += 5) {
    p.run(5, 1);
    await new Promise((r) => setImmediate(r));
  }
}

function record(socket: net.Socket): string[] {
  const log: string[] = [];
  socket.on('connectionAttempt', (a: string) => log.push(`attempt ${a}`));
  socket.on('connectionAttemptTimeout', (a: string) => log.push(`timeout ${a}`));
  socket.on('connectionAttemptFailed', (a: string, _p: number, _f: number, e: NetError) => log.push(`failed ${a} ${e.code}`));
  socket.on('connect', () => log.push('connect'));
  socket.on('error', (e: NetError) => log.push(`error ${e.code}`));
  return log;
}

test('attempt order: valid addresses once each, families alternating, the first answer\'s family first', () => {
  const v6 = (address: string) => ({ address, family: 6 });
  const v4 = (address: string) => ({ address, family: 4 });
  assert.deepEqual(
    attemptOrder([v6('2001:db8::1'), v6('2001:db8::2'), v4('192.0.2.1'), v4('192.0.2.2'), v4('192.0.2.3'), v6('2001:db8::1'), v4('not-an-ip'), { address: '192.0.2.9', family: 5 }], isIP),
    [v6('2001:db8::1'), v4('192.0.2.1'), v6('2001:db8::2'), v4('192.0.2.2'), v4('192.0.2.3')],
  );
  assert.deepEqual(attemptOrder([v4('192.0.2.1'), v6('2001:db8::1')], isIP), [v4('192.0.2.1'), v6('2001:db8::1')]);
  assert.deepEqual(attemptOrder([v4('x')], isIP), []);
});

test('autoSelectFamily: an unanswered IPv6 address is given up after the attempt timeout, IPv4 connects, no connection left behind', { timeout: 60_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.resume()).listen(80);
  const asked: unknown[] = [];
  const start = p.clock!.now();
  const c = connect(p.a, { host: 'web.test', port: 80, autoSelectFamily: true, lookup: fixedLookup([{ address: DEAD6, family: 6 }, { address: '192.0.2.2', family: 4 }], asked) });
  const log = record(c);
  let connectedAt = 0;
  c.on('connect', () => { connectedAt = p.clock!.now() - start; });
  await drive(p, () => connectedAt !== 0);
  assert.deepEqual(asked, [{ family: undefined, hints: 0, all: true }]);
  assert.deepEqual(log, [`attempt ${DEAD6}`, `timeout ${DEAD6}`, 'attempt 192.0.2.2', 'connect']);
  assert.ok(connectedAt >= 250 && connectedAt < 400, `connected after ${connectedAt} ms (attempt timeout 250)`);
  assert.equal(c.remoteAddress, '192.0.2.2');
  assert.equal(c.remoteFamily, 'IPv4');
  assert.deepEqual(c.autoSelectFamilyAttemptedAddresses, [`${DEAD6}:80`, '192.0.2.2:80']);
  // The IPv6 attempt's connection block is gone: only the IPv4 connection remains.
  assert.deepEqual(p.tcpA.connections().map((t) => typeof t.remoteAddr === 'number' ? 'v4' : 'v6'), ['v4']);
  c.destroy();
  server.close();
}));

test('autoSelectFamilyAttemptTimeout sets how long an attempt may take', { timeout: 60_000 }, () => withPair(async (p) => {
  createServer(p.b).listen(80).unref();
  const start = p.clock!.now();
  const c = connect(p.a, { host: 'web.test', port: 80, autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 50, lookup: fixedLookup([{ address: DEAD6, family: 6 }, { address: '192.0.2.2', family: 4 }]) });
  let connectedAt = 0;
  c.on('connect', () => { connectedAt = p.clock!.now() - start; });
  await drive(p, () => connectedAt !== 0);
  assert.ok(connectedAt >= 50 && connectedAt < 200, `connected after ${connectedAt} ms (attempt timeout 50)`);
  c.destroy();
}));

test('autoSelectFamily: a refused attempt moves on at once', { timeout: 60_000 }, () => withPair(async (p) => {
  // Listening on IPv4 only: the IPv6 SYN is answered with a RST.
  createServer(p.b).listen(80, '192.0.2.2').unref();
  const start = p.clock!.now();
  const c = connect(p.a, { host: 'web.test', port: 80, autoSelectFamily: true, lookup: fixedLookup([{ address: '2001:db8::2', family: 6 }, { address: '192.0.2.2', family: 4 }]) });
  const log = record(c);
  let connectedAt = 0;
  c.on('connect', () => { connectedAt = p.clock!.now() - start; });
  await drive(p, () => connectedAt !== 0);
  assert.deepEqual(log, ['attempt 2001:db8::2', 'failed 2001:db8::2 ECONNREFUSED', 'attempt 192.0.2.2', 'connect']);
  assert.ok(connectedAt < 250, `connected after ${connectedAt} ms, before any attempt timeout`);
  c.destroy();
}));

test('without autoSelectFamily only the first address of the answer is tried', { timeout: 60_000 }, () => withPair(async (p) => {
  createServer(p.b).listen(80).unref();
  const asked: unknown[] = [];
  const c = connect(p.a, { host: 'web.test', port: 80, autoSelectFamily: false, lookup: fixedLookup([{ address: DEAD6, family: 6 }, { address: '192.0.2.2', family: 4 }], asked) });
  const log = record(c);
  let error: NetError | null = null;
  c.on('error', (e: NetError) => { error = e; });
  await drive(p, () => error !== null);
  assert.deepEqual(asked, [{ family: undefined, hints: 0 }]);
  // One SYN retransmission (synRetries 1), then TCP gives up: the IPv4 address is never tried.
  assert.deepEqual(log, [`attempt ${DEAD6}`, 'error ETIMEDOUT']);
  assert.equal(c.autoSelectFamilyAttemptedAddresses, undefined);
  assert.deepEqual(p.tcpA.connections(), []);
}, { tcpA: { synRetries: 1 } }));

test('net.setDefaultAutoSelectFamily(false) turns it off for connect() without the option', { timeout: 60_000 }, () => withPair(async (p) => {
  createServer(p.b).listen(80).unref();
  const before = net.getDefaultAutoSelectFamily();
  assert.equal(before, true, 'Node 20\'s default');
  assert.equal(net.getDefaultAutoSelectFamilyAttemptTimeout(), 250);
  net.setDefaultAutoSelectFamily(false);
  try {
    const asked: unknown[] = [];
    const c = connect(p.a, { host: 'web.test', port: 80, lookup: fixedLookup([{ address: '192.0.2.2', family: 4 }, { address: DEAD6, family: 6 }], asked) });
    let connected = false;
    c.on('connect', () => { connected = true; });
    await drive(p, () => connected);
    assert.deepEqual(asked, [{ family: undefined, hints: 0 }]);
    assert.equal(c.remoteAddress, '192.0.2.2');
    c.destroy();
  } finally {
    net.setDefaultAutoSelectFamily(before);
  }
}));

test('autoSelectFamily: when every attempt fails, an AggregateError with the first error\'s code; nothing left behind', { timeout: 60_000 }, () => withPair(async (p) => {
  const c = connect(p.a, { host: 'web.test', port: 80, autoSelectFamily: true, lookup: fixedLookup([{ address: DEAD6, family: 6 }, { address: DEAD4, family: 4 }]) });
  const log = record(c);
  let error: (AggregateError & { code?: string }) | null = null;
  c.on('error', (e: AggregateError & { code?: string }) => { error = e; });
  let closed = false;
  c.on('close', () => { closed = true; });
  await drive(p, () => closed);
  const e = error as (AggregateError & { code?: string }) | null;
  assert.ok(e instanceof AggregateError);
  assert.equal(e.code, 'ETIMEDOUT');
  assert.deepEqual(e.errors.map((x: NetError) => x.message), [`connect ETIMEDOUT ${DEAD6}:80`, `connect EHOSTUNREACH ${DEAD4}:80`]);
  assert.deepEqual(log, [`attempt ${DEAD6}`, `timeout ${DEAD6}`, `attempt ${DEAD4}`, `failed ${DEAD4} EHOSTUNREACH`, 'error ETIMEDOUT']);
  assert.deepEqual(p.tcpA.connections(), []);
}));

test('destroy() during the attempts: no further attempt, no connection left behind', { timeout: 60_000 }, () => withPair(async (p) => {
  const c = connect(p.a, { host: 'web.test', port: 80, autoSelectFamily: true, lookup: fixedLookup([{ address: DEAD6, family: 6 }, { address: DEAD4, family: 4 }]) });
  const log = record(c);
  await drive(p, () => log.length > 0);
  assert.deepEqual(log, [`attempt ${DEAD6}`]);
  assert.equal(p.tcpA.connections().length, 1);
  c.destroy();
  let closed = false;
  c.on('close', () => { closed = true; });
  await drive(p, () => false, 1000);
  assert.ok(closed);
  assert.deepEqual(log, [`attempt ${DEAD6}`]);
  assert.deepEqual(p.tcpA.connections(), []);
}));

test('through a resolver: the answer\'s order (IPv6 first) decides the first attempt, by default with autoSelectFamily', { timeout: 60_000 }, () => withPair(async (p) => {
  createServer(p.b).listen(80).unref();
  const resolver = new Resolver(p.a, { hosts: { 'web.test': ['192.0.2.2', DEAD6] } });
  const stack: TcpStack & { resolver: Resolver } = { tcp: p.tcpA, ipv6: p.a.ipv6, resolver };
  const c = connect(stack, { host: 'web.test', port: 80 });
  const log = record(c);
  let connected = false;
  c.on('connect', () => { connected = true; });
  await drive(p, () => connected);
  assert.deepEqual(log, [`attempt ${DEAD6}`, `timeout ${DEAD6}`, 'attempt 192.0.2.2', 'connect']);
  c.destroy();
  const single = connect(stack, { host: 'web.test', port: 80, autoSelectFamily: false });
  const singleLog = record(single);
  await drive(p, () => singleLog.length > 0);
  assert.deepEqual(singleLog, [`attempt ${DEAD6}`]);
  single.destroy();
}));
