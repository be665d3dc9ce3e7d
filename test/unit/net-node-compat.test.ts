// pstack's net behaves as node:net (Node's own test-net-* tests are the reference): each test
// here is a difference found by running those tests, checked over two stacks on a MemoryWire.
// Where Node's behaviour can be observed without a network (argument errors), the expected
// error is taken from node:net itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as nodeNet from 'node:net';
import { makePair, type Pair } from '../helpers/two-stacks.js';
import * as net from '../../src/api/net.js';
import { createServer, connect, Server, Socket, type NetError } from '../../src/api/net.js';
import { TcpState } from '../../src/transport/tcp/tcb.js';

async function withPair(fn: (p: Pair) => Promise<void>, opts: Parameters<typeof makePair>[0] = {}): Promise<void> {
  const p = makePair(opts);
  try {
    await fn(p);
  } finally {
    p.close();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  return assert.fail('did not throw');
}

/** pstack's error matches Node's: class, code, message. */
function sameError(ours: Error & { code?: string }, node: Error & { code?: string }): void {
  assert.equal(ours.constructor, node.constructor, `class of ${ours.message}`);
  assert.equal(ours.name, node.name);
  assert.equal(ours.code, node.code);
  assert.equal(ours.message, node.message);
  assert.equal(String(ours), String(node));
}

// ------------------------------------------------------------------ reading to EOF

test('a socket nobody reads still sees the peer\'s FIN: end, close, and server.close() completes', { timeout: 30_000 }, () => withPair(async (p) => {
  const events: string[] = [];
  let serverSide: net.Socket | null = null;
  const server = createServer(p.b, (s) => {
    serverSide = s;
    // No 'data' listener, no resume(): nothing consumes this socket.
    s.on('end', () => events.push('server end'));
    s.on('close', (hadError: boolean) => events.push(`server close ${hadError}`));
  }).listen(7);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 7 });
  c.on('end', () => events.push('client end'));
  await once(c, 'connect');
  const clientClosed = once(c, 'close');
  c.end();
  await clientClosed;
  await until('the server side to close', () => events.includes('server close false'));
  assert.deepEqual(events.filter((e) => e.startsWith('server')), ['server end', 'server close false']);
  assert.ok(events.includes('client end'), 'our FIN went out (no allowHalfOpen), so the client saw its end too');
  const closed = new Promise<Error | undefined>((r) => server.close(r));
  assert.equal(await closed, undefined, 'close() completes: no connection left');
  assert.equal(serverSide!.destroyed, true);
  await until('no connection in CLOSE_WAIT', () => !p.tcpB.connections().some((t) => t.state === TcpState.CLOSE_WAIT));
}));

test('a client that never reads sees the server\'s FIN too', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.end()).listen(7);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 7 });
  const [hadError] = await once(c, 'close');
  assert.equal(hadError, false);
  assert.equal(c.readableEnded, true);
  server.close();
}));

test('reading is eager only up to the highWaterMark: the rest stays in TCP (backpressure)', { timeout: 30_000 }, () => withPair(async (p) => {
  let serverSide: net.Socket | null = null;
  const server = createServer(p.b, { highWaterMark: 4096 }, (s) => { serverSide = s; }).listen(7);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 7 });
  await once(c, 'connect');
  c.write(Buffer.alloc(200_000, 1));
  await until('data in the server\'s TCP buffer', () => serverSide !== null && serverSide.tcb!.recvBuffer.readable > 0);
  const s = serverSide!;
  await until('every byte to reach the server', () => s.readableLength + s.tcb!.recvBuffer.readable === 200_000);
  await tick();
  assert.equal(s.readableHighWaterMark, 4096, 'the server\'s highWaterMark option reaches its sockets');
  assert.ok(s.readableLength >= 4096 && s.readableLength <= 4096 + 64 * 1024, `stream buffer ${s.readableLength}`);
  assert.equal(s.readableLength + s.tcb!.recvBuffer.readable, 200_000);
  c.destroy();
  server.close();
}));

// ------------------------------------------------------------------ constructors

test('Server() and Socket() work without new, and both can be subclassed', { timeout: 30_000 }, () => withPair(async (p) => {
  const callServer = Server as unknown as (stack: unknown) => net.Server;
  const callSocket = Socket as unknown as (stack: unknown) => net.Socket;
  const s = callServer(p.b);
  assert.ok(s instanceof Server);
  assert.equal(typeof s.listen, 'function');
  const k = callSocket(p.a);
  assert.ok(k instanceof Socket);
  assert.ok(k instanceof (await import('node:stream')).Duplex);

  class MyServer extends Server {
    hello(): string {
      return 'mine';
    }
  }
  class MySocket extends Socket {
    hello(): string {
      return 'mine too';
    }
  }
  const ms = new MyServer(p.b, (sock) => sock.end('hi'));
  assert.ok(ms instanceof Server && ms instanceof MyServer);
  assert.equal(ms.hello(), 'mine');
  ms.listen(7);
  await once(ms, 'listening');
  const sock = new MySocket(p.a);
  assert.ok(sock instanceof Socket && sock instanceof MySocket);
  assert.equal(sock.hello(), 'mine too');
  sock.connect(7, '192.0.2.2');
  sock.setEncoding('utf8');
  let got = '';
  sock.on('data', (d: string) => { got += d; });
  await once(sock, 'close');
  assert.equal(got, 'hi');
  ms.close();
}));

// ------------------------------------------------------------------ argument errors

test('arguments are checked synchronously with Node\'s errors', { timeout: 30_000 }, () => withPair(async (p) => {
  const ours = (fn: (s: net.Socket) => unknown) => thrown(() => fn(new Socket(p.a)));
  const nodes = (fn: (s: nodeNet.Socket) => unknown) => thrown(() => fn(new nodeNet.Socket()));
  const cases: Array<[string, (s: { connect(...a: unknown[]): unknown }) => unknown]> = [
    ['no port', (s) => s.connect({})],
    ['no options', (s) => s.connect()],
    ['port -1', (s) => s.connect({ port: -1 })],
    ['port 65536', (s) => s.connect(65536)],
    ['port 1.5', (s) => s.connect({ port: 1.5 })],
    ['port \'\'', (s) => s.connect({ port: '' })],
    ['port true', (s) => s.connect({ port: true })],
    ['port object', (s) => s.connect({ port: {} })],
    ['bad localAddress', (s) => s.connect({ port: 80, host: '127.0.0.1', localAddress: 'not-an-ip' })],
    ['bad localPort', (s) => s.connect({ port: 80, host: '127.0.0.1', localPort: '12' })],
    ['bad autoSelectFamily', (s) => s.connect({ port: 80, host: '127.0.0.1', autoSelectFamily: 'yes' })],
    ['bad lookup', (s) => s.connect({ port: 80, host: 'example', lookup: 42 })],
    ['bad hints', (s) => s.connect({ port: 80, hints: 12345 })],
  ];
  for (const [name, fn] of cases) {
    const n = nodes(fn as (s: nodeNet.Socket) => unknown);
    const o = ours(fn as (s: net.Socket) => unknown);
    assert.ok(o.code !== undefined, name);
    sameError(o, n);
  }
  // setTimeout as Node's: a string is a type error, a negative or infinite value out of range.
  for (const v of ['100', -1, Infinity, NaN] as unknown[]) {
    sameError(ours((s) => s.setTimeout(v as number)), nodes((s) => s.setTimeout(v as number)));
  }
  sameError(ours((s) => s.setTimeout(10, 'cb' as unknown as () => void)), nodes((s) => s.setTimeout(10, 'cb' as unknown as () => void)));
  // The socket options Node checks in its constructor.
  sameError(thrown(() => new Socket(p.a, { objectMode: true } as never)), thrown(() => new nodeNet.Socket({ objectMode: true } as never)));
  sameError(thrown(() => new Socket(p.a, { keepAliveInitialDelay: '1' } as never)), thrown(() => new nodeNet.Socket({ keepAliveInitialDelay: '1' } as never)));
  // listen() and the Server constructor.
  const listenCases: unknown[][] = [[{ port: -1 }], [{ port: 65536 }], [{ port: 'abc1' } as unknown], [{}], [{ host: '127.0.0.1' }], [{ port: 1.5 }], [{ port: true }]];
  for (const args of listenCases) {
    const n = thrown(() => nodeNet.createServer().listen(...(args as [])));
    const o = thrown(() => createServer(p.b).listen(...(args as [])));
    sameError(o, n);
  }
  sameError(thrown(() => createServer(p.b, 'x' as never)), thrown(() => nodeNet.createServer('x' as never)));
  sameError(thrown(() => createServer(p.b, { highWaterMark: 'x' } as never)), thrown(() => nodeNet.createServer({ highWaterMark: 'x' } as never)));
  const srv = createServer(p.b).listen(0);
  sameError(thrown(() => srv.listen(0)), (() => {
    const ns = nodeNet.createServer();
    (ns as unknown as { _handle: unknown })._handle = {};
    const e = thrown(() => ns.listen(0));
    (ns as unknown as { _handle: unknown })._handle = null;
    return e;
  })());
  srv.close();
  // A missing stack is a type error too.
  assert.throws(() => new Socket(undefined as never), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createServer(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
}));

// ------------------------------------------------------------------ reset, EADDRINUSE, messages

test('resetAndDestroy() before connect gives ERR_SOCKET_CLOSED; a reset reads "read ECONNRESET"', { timeout: 30_000 }, () => withPair(async (p) => {
  const s = new Socket(p.a);
  const errored = once(s, 'error');
  s.resetAndDestroy();
  const [err] = (await errored) as [Error & { code: string }];
  sameError(err, await new Promise<Error>((resolve) => new nodeNet.Socket().on('error', resolve).resetAndDestroy()));
  assert.equal(err.code, 'ERR_SOCKET_CLOSED');

  const server = createServer(p.b, (sock) => sock.once('data', () => sock.resetAndDestroy())).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  c.write('x');
  const events: string[] = [];
  c.on('close', (hadError: boolean) => events.push(`close ${hadError}`));
  const [reset] = (await once(c, 'error')) as [NetError];
  assert.equal(reset.message, 'read ECONNRESET');
  assert.equal(reset.code, 'ECONNRESET');
  assert.equal(reset.errno, -104);
  assert.equal(reset.syscall, 'read');
  assert.equal(reset.address, undefined);
  assert.equal(reset.port, undefined);
  await once(c, 'close');
  assert.deepEqual(events, ['close true']);
  server.close();
}));

test('resetAndDestroy() on an unconnected socket: error then a close without arguments', { timeout: 30_000 }, () => withPair(async (p) => {
  const s = new Socket(p.a);
  const order: string[] = [];
  s.on('error', (e: Error & { code: string }) => order.push(`error ${e.code}`));
  s.on('close', (...args: unknown[]) => order.push(`close ${args.length}`));
  s.resetAndDestroy();
  await until('close', () => order.length === 2);
  assert.deepEqual(order, ['error ERR_SOCKET_CLOSED', 'close 0']);
}));

test('connecting from a localPort a listener holds fails with EADDRINUSE (bind)', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.a).listen(5555);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80, localPort: 5555 });
  const [err] = (await once(c, 'error')) as [NetError];
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.errno, -98);
  assert.equal(err.syscall, 'bind');
  assert.equal(err.address, '0.0.0.0');
  assert.equal(err.port, 5555);
  assert.equal(err.message, 'bind EADDRINUSE 0.0.0.0:5555');
  assert.equal(p.tcpA.stats.activeOpens, 0, 'no SYN was sent');
  server.close();
}));

test('listen EADDRINUSE carries Node\'s message and fields', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b).listen(80);
  await once(server, 'listening');
  const dup = createServer(p.b).listen(80);
  const [err] = (await once(dup, 'error')) as [NetError];
  assert.equal(err.message, 'listen EADDRINUSE: address already in use 0.0.0.0:80');
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.errno, -98);
  assert.equal(err.syscall, 'listen');
  assert.equal(err.address, '0.0.0.0');
  assert.equal(err.port, 80);
  assert.equal(dup.listening, false);
  server.close();
}));

// ------------------------------------------------------------------ server lifecycle

test('listen() then close() in the same tick: no \'listening\', and \'close\' comes', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b);
  let listening = 0;
  server.on('listening', () => listening++);
  server.listen(80);
  server.close();
  await once(server, 'close');
  await tick();
  assert.equal(listening, 0);
  // listen() after that works as usual.
  server.listen(80);
  await once(server, 'listening');
  assert.equal(listening, 1);
  server.close();
}));

test('close() on a server that is not listening: callback with ERR_SERVER_NOT_RUNNING, and \'close\'', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b);
  let closeEvents = 0;
  server.on('close', () => closeEvents++);
  const err = await new Promise<Error | undefined>((resolve) => server.close(resolve));
  const nodeErr = await new Promise<Error | undefined>((resolve) => nodeNet.createServer().close(resolve));
  sameError(err!, nodeErr!);
  assert.equal(closeEvents, 1);
}));

test('server \'close\' waits for the last connection; getConnections counts them', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.resume()).listen(80);
  await once(server, 'listening');
  const a = connect(p.a, { host: '192.0.2.2', port: 80 });
  const b = connect(p.a, { host: '192.0.2.2', port: 80 });
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  await until('two connections', () => server._connections === 2);
  assert.equal(await new Promise((r) => server.getConnections((_e, n) => r(n))), 2);
  let closed = false;
  server.close(() => { closed = true; });
  a.end();
  await once(a, 'close');
  await tick();
  assert.equal(closed, false, 'one connection left');
  b.end();
  await once(server, 'close');
  assert.equal(closed, true);
}));

test('signal: aborting closes a listening server and destroys a connecting socket', { timeout: 30_000 }, () => withPair(async (p) => {
  const ac = new AbortController();
  const server = createServer(p.b).listen({ port: 80, signal: ac.signal });
  await once(server, 'listening');
  const closed = once(server, 'close');
  ac.abort();
  await closed;
  assert.equal(server.listening, false);

  const ac2 = new AbortController();
  const c = connect(p.a, { host: '192.0.2.99', port: 80, signal: ac2.signal });
  ac2.abort();
  const [err] = (await once(c, 'error')) as [Error & { code: string }];
  assert.equal(err.name, 'AbortError');
  assert.equal(err.code, 'ABORT_ERR');
  assert.equal(c.destroyed, true);
  // An already aborted signal closes the server on the next tick.
  const s2 = createServer(p.b).listen({ port: 81, signal: AbortSignal.abort() });
  await once(s2, 'close');
  assert.throws(() => createServer(p.b).listen({ port: 82, signal: 'x' as never }), { code: 'ERR_INVALID_ARG_TYPE' });
}));

// ------------------------------------------------------------------ socket state and events

test('event order: lookup (names only), connect, ready, end, close; hadError false; remoteAddress undefined while connecting', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.end('bye')).listen(80);
  await once(server, 'listening');
  const record = (s: net.Socket, events: string[]) => {
    for (const ev of ['lookup', 'connect', 'ready', 'end', 'close', 'error']) {
      s.on(ev, (...args: unknown[]) => events.push(ev === 'lookup' ? `lookup ${args[1]} ${args[2]} ${args[3]}` : ev === 'close' ? `close ${args[0]}` : ev));
    }
    s.resume();
  };
  // An IPv4 literal: no 'lookup'.
  const literal: string[] = [];
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  assert.equal(c.remoteAddress, undefined, 'not known while connecting');
  assert.equal(c.remotePort, undefined);
  assert.equal(c.remoteFamily, undefined);
  assert.equal(c.connecting, true);
  assert.equal(c.readyState, 'opening');
  record(c, literal);
  await once(c, 'close');
  assert.deepEqual(literal, ['connect', 'ready', 'end', 'close false']);
  assert.equal(c.remoteAddress, '192.0.2.2');

  // A name, resolved by the lookup option: 'lookup' first, with (err, address, family, host).
  const named: string[] = [];
  const lookup: net.LookupFunction = (host, opts, cb) => {
    assert.equal(host, 'server.example');
    setImmediate(() => {
      if (opts.all) cb(null, [{ address: '192.0.2.2', family: 4 }]);
      else cb(null, '192.0.2.2', 4);
    });
  };
  const d = connect(p.a, { host: 'server.example', port: 80, lookup });
  record(d, named);
  await once(d, 'close');
  assert.deepEqual(named, ['lookup 192.0.2.2 4 server.example', 'connect', 'ready', 'end', 'close false']);

  // An unknown name (a stack without a resolver of its own knows only literals and
  // 'localhost'): 'lookup' with the error, then 'error' ENOTFOUND.
  const unknown: string[] = [];
  const e = connect({ tcp: p.a.tcp }, { host: 'nowhere.invalid', port: 80 });
  record(e, unknown);
  const [err] = (await once(e, 'error')) as [NetError];
  assert.equal(err.code, 'ENOTFOUND');
  assert.equal(err.syscall, 'getaddrinfo');
  assert.equal(err.message, 'getaddrinfo ENOTFOUND nowhere.invalid');
  await once(e, 'close');
  assert.deepEqual(unknown, ['lookup undefined undefined nowhere.invalid', 'error', 'close true']);
  server.close();
}));

test('connect with autoSelectFamily (either way) and \'localhost\' on a loopback stack', { timeout: 30_000 }, async () => {
  const { Stack } = await import('../../src/api/stack.js');
  const { LoopbackDevice } = await import('../../src/link/loopback.js');
  const { parseIpv4 } = await import('../../src/wire/addr.js');
  const stack = new Stack();
  stack.addInterface(new LoopbackDevice(), { address: parseIpv4('127.0.0.1')!, prefixLength: 8 });
  stack.start();
  try {
    const server = createServer(stack, (s) => s.end('x')).listen(7);
    await once(server, 'listening');
    for (const autoSelectFamily of [true, false, undefined]) {
      // Without the stack's resolver: 'localhost' is 127.0.0.1 only.
      const c = connect({ tcp: stack.tcp }, { port: 7, autoSelectFamily });
      const lookups: unknown[] = [];
      c.on('lookup', (...args: unknown[]) => lookups.push(args));
      c.resume();
      await once(c, 'close');
      assert.deepEqual(lookups, [[null, '127.0.0.1', 4, 'localhost']], `autoSelectFamily ${autoSelectFamily}`);
    }
    server.close();
  } finally {
    stack.close();
  }
});

test('ECONNREFUSED and ETIMEDOUT carry code, errno, syscall, address, port', { timeout: 30_000 }, () => withPair(async (p) => {
  const c = connect(p.a, { host: '192.0.2.2', port: 4444 });
  const closeArgs: unknown[] = [];
  c.on('close', (...a: unknown[]) => closeArgs.push(...a));
  const [err] = (await once(c, 'error')) as [NetError];
  assert.deepEqual({ ...err }, { errno: -111, code: 'ECONNREFUSED', syscall: 'connect', address: '192.0.2.2', port: 4444 });
  assert.equal(err.message, 'connect ECONNREFUSED 192.0.2.2:4444');
  await until('close', () => closeArgs.length === 1);
  assert.deepEqual(closeArgs, [true]);
}));

test('ETIMEDOUT: "connect ETIMEDOUT address:port" (fake clock)', { timeout: 30_000 }, () => withPair(async (p) => {
  createServer(p.b).listen(80).unref();
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  let error: NetError | null = null;
  c.on('error', (e: NetError) => { error = e; });
  for (let t = 0; t < 20_000 && error === null; t += 100) {
    p.run(100, 10);
    await tick();
  }
  assert.ok(error !== null);
  const e = error as NetError;
  assert.deepEqual({ ...e }, { errno: -110, code: 'ETIMEDOUT', syscall: 'connect', address: '192.0.2.2', port: 80 });
  assert.equal(e.message, 'connect ETIMEDOUT 192.0.2.2:80');
}, { fake: true, tcpA: { synRetries: 1 }, tcpB: { maxSynBacklog: 0, synCookies: false } }));

test('\'timeout\' is emitted once per setTimeout(), as Node\'s', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.resume()).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  let timeouts = 0;
  c.setTimeout(30, () => timeouts++);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(timeouts, 1);
  c.write('activity does not bring it back');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(timeouts, 1);
  c.setTimeout(30);
  await once(c, 'timeout');
  assert.equal(timeouts, 1, 'the first callback was a once listener');
  c.destroy();
  server.close();
}));

test('the highWaterMark option is honoured', { timeout: 30_000 }, () => withPair(async (p) => {
  const s = new Socket(p.a, { highWaterMark: 1234 });
  assert.equal(s.readableHighWaterMark, 1234);
  assert.equal(s.writableHighWaterMark, 1234);
  const t = new Socket(p.a, { readableHighWaterMark: 99 });
  assert.equal(t.readableHighWaterMark, 99);
  assert.equal(t.writableHighWaterMark, new nodeNet.Socket({ readableHighWaterMark: 99 } as never).writableHighWaterMark);
  const c = connect(p.a, { host: '192.0.2.2', port: 9, highWaterMark: 777 });
  assert.equal(c.writableHighWaterMark, 777);
  c.on('error', () => {});
  c.destroy();
}));

test('bufferSize and writableLength count writes made while connecting', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, (s) => s.resume()).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  assert.equal(c.bufferSize, 0);
  c.write('foo');
  assert.equal(c.bufferSize, 3);
  assert.equal(c.writableLength, 3);
  c.write('barbaz');
  assert.equal(c.bufferSize, 9);
  assert.equal(c.bytesWritten, 9);
  await once(c, 'connect');
  await until('the writes to reach TCP', () => c.bufferSize === 0);
  assert.equal(c.bytesWritten, 9);
  const finished = once(c, 'finish');
  c.end();
  await finished;
  assert.equal(c.bufferSize, 0);
  c.destroy();
  assert.equal(new Socket(p.a).bufferSize, undefined, 'no connection, no buffer size (as Node)');
  server.close();
}));

test('bytesWritten after end(10 MB) counts each byte once', { timeout: 60_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, { pauseOnConnect: true }, () => {}).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80 });
  await once(c, 'connect');
  const size = 10 * 1024 * 1024;
  c.end(Buffer.alloc(size, 7));
  assert.equal(c.bytesWritten, size);
  await until('the send buffer to fill', () => c.tcb!.sendBuffer.free === 0);
  assert.equal(c.bytesWritten, size, 'part in TCP\'s send buffer, the rest in the stream: still 10 MB');
  c.destroy();
  server.close();
  server.destroyAll();
}));

test('write() before connect() fails with ERR_SOCKET_CLOSED, as Node\'s', { timeout: 30_000 }, () => withPair(async (p) => {
  const s = new Socket(p.a);
  s.on('error', () => {});
  const ours = await new Promise<Error>((resolve) => s.write('x', (e) => resolve(e!)));
  const theirs = await new Promise<Error>((resolve) => {
    const n = new nodeNet.Socket();
    n.on('error', () => {});
    n.write('x', (e) => resolve(e as Error));
  });
  sameError(ours, theirs);
}));

test('allowHalfOpen: a socket stays writable after the peer\'s FIN; without it, writes after the FIN fail with EPIPE', { timeout: 30_000 }, () => withPair(async (p) => {
  const server = createServer(p.b, { allowHalfOpen: true }, (s) => {
    s.resume();
    s.on('end', () => {
      assert.equal(s.writable, true);
      s.end('late reply');
    });
  }).listen(80);
  await once(server, 'listening');
  const c = connect(p.a, { host: '192.0.2.2', port: 80, allowHalfOpen: true });
  c.setEncoding('utf8');
  let got = '';
  c.on('data', (d: string) => { got += d; });
  c.end('request');
  await once(c, 'close');
  assert.equal(got, 'late reply');
  server.close();
}));

test('exports: isIP, isIPv4, isIPv6, SocketAddress, BlockList, createConnection, Stream', () => {
  assert.equal(net.isIP('192.0.2.1'), 4);
  assert.equal(net.isIP('::1'), 6);
  assert.equal(net.isIP('x'), 0);
  assert.equal(net.isIPv4('10.0.0.1'), true);
  assert.equal(net.isIPv6('10.0.0.1'), false);
  assert.equal(net.SocketAddress, nodeNet.SocketAddress);
  assert.equal(net.BlockList, nodeNet.BlockList);
  const list = new net.BlockList();
  list.addSubnet('192.0.2.0', 24);
  assert.equal(list.check('192.0.2.7'), true);
  assert.equal(net.createConnection, net.connect);
  assert.equal(net.Stream, net.Socket);
});
