// The Node-style net API over two pstack stacks joined by a MemoryWire (no root needed):
// stream semantics, backpressure, half-close, error codes, and Node's http on top.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { makePair, type Pair } from '../helpers/two-stacks.js';
import { createServer, connect, serveHttp, type Socket, type NetError } from '../../src/api/net.js';

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function withPair(fn: (p: Pair) => Promise<void>, opts: Parameters<typeof makePair>[0] = {}): Promise<void> {
  const p = makePair(opts);
  // Open sockets and listening servers hold the event loop, but the stacks' timers are unref'd
  // and a fake-clock test waits between them: hold it open while the test runs.
  const hold = setInterval(() => {}, 1000);
  try {
    await fn(p);
  } finally {
    clearInterval(hold);
    p.close();
  }
}

function collect(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

test('echo: connect, data both ways, end, close; addresses and byte counts', { timeout: 30_000 }, () => withPair(async (p) => {
  let serverSide: Socket | null = null;
  const server = createServer(p.b, (s) => {
    serverSide = s;
    s.pipe(s);
  }).listen(7);
  await once(server, 'listening');
  assert.deepEqual(server.address(), { address: '0.0.0.0', family: 'IPv4', port: 7 });
  const c = connect(p.a, { host: '192.0.2.2', port: 7 });
  assert.equal(c.pending, true);
  assert.equal(c.readyState, 'opening');
  await once(c, 'connect');
  assert.equal(c.readyState, 'open');
  assert.equal(c.remoteAddress, '192.0.2.2');
  assert.equal(c.remotePort, 7);
  assert.equal(c.remoteFamily, 'IPv4');
  assert.equal(c.localAddress, '192.0.2.1');
  assert.ok(c.localPort! >= 49152);
  assert.deepEqual(c.address(), { address: '192.0.2.1', family: 'IPv4', port: c.localPort });
  const closed = once(c, 'close');
  const body = collect(c);
  c.end('hello pstack\n');
  assert.equal((await body).toString(), 'hello pstack\n');
  await closed;
  assert.equal(c.bytesRead, 13);
  assert.equal(c.bytesWritten, 13);
  assert.equal(serverSide!.remoteAddress, '192.0.2.1');
  assert.equal(serverSide!.remotePort, c.localPort);
  server.close();
}));

test('backpressure: write() returns false once the send buffer is full, and drain follows', { timeout: 30_000 }, () => withPair(async (p) => {
  let serverSide: Socket | null = null;
  const server = createServer(p.b, { pauseOnConnect: true }, (s) => { serverSide = s; }).listen(9);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 9 });
  await once(c, 'connect');
  const chunk = randomBytes(64 * 1024);
  let written = 0;
  // The peer reads nothing: its 1 MiB receive buffer fills, its window closes, then our
  // send buffer (sized to twice the congestion window, not to its 1 MiB maximum) fills.
  // Until then every 'drain' comes as ACKs free room.
  for (;;) {
    written += chunk.length;
    if (c.write(chunk)) continue;
    const drained = await Promise.race([once(c, 'drain').then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);
    if (!drained) break;
    if (written > 64 * 1024 * 1024) assert.fail('never blocked');
  }
  assert.ok(written >= 1024 * 1024 + 16 * 1024, `accepted ${written} bytes before pushing back`);
  assert.ok(c.tcb!.sendBuffer.capacity <= 1024 * 1024 && c.tcb!.sendBuffer.capacity >= 2 * c.tcb!.cc.cwnd, `send buffer ${c.tcb!.sendBuffer.capacity}, cwnd ${c.tcb!.cc.cwnd}`);
  // The last few hundred bytes of the peer's window may still be open: sender-side silly
  // window avoidance holds less than a segment back until its override timer fires.
  assert.ok(c.tcb!.sndWnd < c.tcb!.smss, `blocked by the peer's closed window (${c.tcb!.sndWnd} bytes open)`);
  assert.equal(c.tcb!.sendBuffer.free, 0, 'the send buffer is full');
  assert.ok(c.writableLength > 0, 'the rest waits in the stream');
  const got = collect(serverSide!);
  const drain = once(c, 'drain');
  serverSide!.resume();
  await drain;
  c.end();
  const all = await got;
  assert.equal(all.length, written);
  server.close();
}));

test('pause() closes the receive window (zero-window probing) and resume() reopens it', { timeout: 30_000 }, () => withPair(async (p) => {
  let serverSide: Socket | null = null;
  const server = createServer(p.b, (s) => {
    serverSide = s;
    s.pause();
  }).listen(9);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 9 });
  await once(c, 'connect');
  const data = randomBytes(3 * 1024 * 1024);
  c.end(data);
  // Wait until the sender sees a zero window.
  for (let i = 0; i < 200 && !(c.tcb!.sndWnd === 0 && c.tcb!.unsentBytes > 0); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(c.tcb!.sndWnd, 0, 'the peer advertises a zero window');
  assert.ok(serverSide!.tcb!.recvBuffer.readable >= 1024 * 1024 - 65536, 'the receiver buffered a window full');
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(p.tcpA.stats.windowProbes >= 1, 'the sender probes the zero window');
  const got = collect(serverSide!);
  serverSide!.resume();
  assert.equal(sha(await got), sha(data));
  server.close();
}));

test('half-close with allowHalfOpen: the server answers after the client\'s FIN', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, { allowHalfOpen: true }, async (s) => {
    const req = await collect(s);
    assert.equal(s.writable, true, 'still writable after the peer\'s FIN');
    s.end(`got ${req.length} bytes`);
  }).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80, allowHalfOpen: true });
  const closed = once(c, 'close'); // 'close' follows 'end' within the same tick
  const reply = collect(c);
  c.end(Buffer.alloc(5000, 1));
  assert.equal((await reply).toString(), 'got 5000 bytes');
  await closed;
  server.close();
}));

test('without allowHalfOpen the peer\'s FIN ends our side too', { timeout: 30_000 }, () => withPair(async (p) => {
  let serverClosed: Promise<unknown> = Promise.resolve();
  const server = createServer(p.b, (s) => {
    serverClosed = once(s, 'close');
    s.resume();
  }).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  const ended = once(c, 'end');
  c.resume(); // 'end' comes once the stream is read to its end, as in Node
  c.end('bye');
  await ended;
  await serverClosed;
  server.close();
}));

test('ECONNREFUSED when the SYN is answered with a RST', { timeout: 30_000 }, () => withPair(async (p) => {
  const c = connect(p.a, { host: '192.0.2.2', port: 4444 });
  const [err] = (await once(c, 'error')) as [NetError];
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(err.errno, -111);
  assert.equal(err.syscall, 'connect');
  assert.equal(err.address, '192.0.2.2');
  assert.equal(err.port, 4444);
  assert.match(err.message, /^connect ECONNREFUSED 192\.0\.2\.2:4444$/);
  assert.equal(p.b.counters.drops.get('tcp: no-connection'), 1);
}));

test('ETIMEDOUT when SYNs go unanswered (fake clock)', { timeout: 30_000 }, () => withPair(async (p) => {
  // The listener's SYN queue holds nothing and cookies are off: SYNs are silently dropped.
  createServer(p.b).listen(80);
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  let error: NetError | null = null;
  c.on('error', (e: NetError) => { error = e; });
  for (let t = 0; t < 20_000 && error === null; t += 100) {
    p.run(100, 10);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(error !== null);
  assert.equal((error as NetError).code, 'ETIMEDOUT');
  assert.equal(p.tcpA.stats.timeouts, 4, 'SYN at 0 s, retransmitted at 1, 3, 7 s; given up at 15 s');
}, { fake: true, tcpA: { synRetries: 3 }, tcpB: { maxSynBacklog: 0, synCookies: false } }));

test('EHOSTUNREACH when the address does not answer ARP (fake clock)', { timeout: 30_000 }, () => withPair(async (p) => {
  const c = connect(p.a, { host: '192.0.2.99', port: 80 });
  let error: NetError | null = null;
  c.on('error', (e: NetError) => { error = e; });
  for (let t = 0; t < 10_000 && error === null; t += 100) {
    p.run(100, 10);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal((error as NetError | null)?.code, 'EHOSTUNREACH');
}, { fake: true }));

test('ECONNRESET when the peer resets an established connection', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => {
    s.once('data', () => s.resetAndDestroy());
  }).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  c.write('trigger');
  const [err] = (await once(c, 'error')) as [NetError];
  assert.equal(err.code, 'ECONNRESET');
  assert.equal(c.destroyed, true);
  server.close();
}));

test('destroy() with unread data sends a RST (close(2) semantics)', { timeout: 30_000 }, () => withPair(async (p) => {
  // pauseOnConnect: nothing reads, so the data stays in TCP's receive buffer.
  const server = createServer(p.b, { pauseOnConnect: true }).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  let serverSock: Socket | null = null;
  server.once('connection', (s: Socket) => { serverSock = s; });
  await once(c, 'connect');
  c.write('unread');
  for (let i = 0; i < 100 && (serverSock === null || (serverSock as Socket).tcb!.recvBuffer.readable === 0); i++) await new Promise((r) => setTimeout(r, 5));
  const errP = once(c, 'error');
  serverSock!.destroy();
  const [err] = (await errP) as [NetError];
  assert.equal(err.code, 'ECONNRESET');
  server.close();
}));

test('setTimeout emits timeout after idleness; setNoDelay and setKeepAlive reach the TCB', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.resume()).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  c.setNoDelay(true);
  assert.equal(c.tcb!.noDelay, true);
  c.setKeepAlive(true, 5000);
  assert.equal(c.tcb!.keepAlive, true);
  assert.equal(c.tcb!.keepAliveIdleMs, 5000);
  const t0 = Date.now();
  c.setTimeout(80);
  assert.equal(c.timeout, 80);
  await once(c, 'timeout');
  assert.ok(Date.now() - t0 >= 70);
  c.setTimeout(0);
  c.destroy();
  server.close();
}));

test('server: EADDRINUSE, close() waits for connections, getConnections, maxConnections', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.resume()).listen(80);
  await once(server, 'listening');
  const dup = createServer(p.b).listen(80);
  const [err] = (await once(dup, 'error')) as [NetError];
  assert.equal(err.code, 'EADDRINUSE');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  await new Promise((r) => setTimeout(r, 10));
  const n = await new Promise<number>((r) => server.getConnections((_e, k) => r(k)));
  assert.equal(n, 1);
  let closed = false;
  server.close(() => { closed = true; });
  assert.equal(server.listening, false);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(closed, false, 'still serving one connection');
  const refused = connect(p.a, { host: '192.0.2.2', port: 80 });
  const [e2] = (await once(refused, 'error')) as [NetError];
  assert.equal(e2.code, 'ECONNREFUSED', 'no longer listening');
  c.end();
  await once(server, 'close');
  // maxConnections: the extra connection is closed at once and reported as 'drop'.
  const limited = createServer(p.b, (s) => s.resume()).listen(81);
  limited.maxConnections = 1;
  await once(limited, 'listening');
  const first = connect(p.a, { host: '192.0.2.2', port: 81 });
  await once(first, 'connect');
  const dropped = once(limited, 'drop');
  const second = connect(p.a, { host: '192.0.2.2', port: 81 });
  second.resume();
  await dropped;
  await once(second, 'end');
  first.destroy();
  second.destroy();
  limited.close();
}));

test('Node http: server and client over two pstack stacks (GET, POST with a 2 MB body, keep-alive)', { timeout: 30_000 }, () => withPair(async (p) => {
  const httpServer = http.createServer((req, res) => {
    if (req.method === 'POST') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => { h.update(d); n += d.length; });
      req.on('end', () => res.end(JSON.stringify({ n, sha: h.digest('hex') })));
      return;
    }
    res.end(`hello ${req.url} from ${req.socket.localAddress}`);
  });
  const server = serveHttp(createServer(p.b), httpServer).listen(8080);
  await once(server, 'listening');
  // A keep-alive agent makes its sockets with its own createConnection: give it pstack's.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let made = 0;
  (agent as unknown as { createConnection: () => Socket }).createConnection = () => {
    made++;
    return connect(p.a, { host: '192.0.2.2', port: 8080 });
  };
  const request = (opts: http.RequestOptions, body?: Buffer) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '192.0.2.2', port: 8080, agent, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const r1 = await request({ path: '/one' });
  assert.equal(r1.status, 200);
  assert.equal(r1.body, 'hello /one from 192.0.2.2');
  const r2 = await request({ path: '/two' });
  assert.equal(r2.body, 'hello /two from 192.0.2.2');
  const big = randomBytes(2 * 1024 * 1024);
  const r3 = await request({ path: '/up', method: 'POST' }, big);
  assert.deepEqual(JSON.parse(r3.body), { n: big.length, sha: sha(big) });
  assert.equal(made, 1, 'three requests over one kept-alive pstack connection');
  agent.destroy();
  // And the plain form, with no agent: createConnection alone.
  const plain = await new Promise<string>((resolve, reject) => {
    const req = http.request({ path: '/plain', createConnection: () => connect(p.a, { host: '192.0.2.2', port: 8080 }) }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { s += d; });
      res.on('end', () => resolve(s));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(plain, 'hello /plain from 192.0.2.2');
  server.close();
  server.destroyAll();
  httpServer.close();
}));

test('loopback: a stack talks to itself over 127.0.0.1 with 64 KiB segments', { timeout: 30_000 }, async () => {
  const { Stack } = await import('../../src/api/stack.js');
  const { LoopbackDevice } = await import('../../src/link/loopback.js');
  const { parseIpv4 } = await import('../../src/wire/addr.js');
  const stack = new Stack();
  stack.addInterface(new LoopbackDevice(), { address: parseIpv4('127.0.0.1')!, prefixLength: 8 });
  stack.start();
  const hold = setInterval(() => {}, 1000);
  try {
    const server = createServer(stack, (s) => s.pipe(s)).listen(7);
    await once(server, 'listening');
    const c = connect(stack, { port: 7 }); // host defaults to localhost
    const data = randomBytes(8 * 1024 * 1024);
    const got = collect(c);
    c.end(data);
    assert.equal(sha(await got), sha(data));
    assert.equal(c.tcb!.smss, 65535 - 40 - 12, 'MSS from the loopback MTU, less timestamps');
    server.close();
  } finally {
    clearInterval(hold);
    stack.close();
  }
});
