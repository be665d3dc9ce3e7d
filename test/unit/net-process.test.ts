// pstack's sockets in a whole process, as node:net's: a listening server or an open socket
// keeps the process alive (and ref()/unref() and closing release it), and an exception thrown
// by the program's own handler is an uncaught exception with the program's stack trace,
// after which the stack still works. Each case runs a small program in a child process over
// a loopback stack (no root needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const url = (path: string) => new URL(path, import.meta.url).href;
const prelude = (stackOptions = {}) => `
import { Stack } from '${url('../../src/api/stack.js')}';
import { LoopbackDevice } from '${url('../../src/link/loopback.js')}';
import { parseIpv4 } from '${url('../../src/wire/addr.js')}';
import * as net from '${url('../../src/api/net.js')}';
import * as dgram from '${url('../../src/api/dgram.js')}';
const stack = new Stack(${JSON.stringify(stackOptions)});
stack.addInterface(new LoopbackDevice(), { address: parseIpv4('127.0.0.1'), prefixLength: 8 });
stack.start();
const t0 = Date.now();
const log = (...a) => console.log(...a);
process.on('exit', (code) => log('exit', code));
/** Run fn after ms without keeping the process alive itself. */
const later = (ms, fn) => setTimeout(fn, ms).unref();
`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  lines: string[];
}

/** Run `body` (after the prelude) as an ES module in a child; killed after `timeoutMs`. */
function run(body: string, timeoutMs = 10_000, stackOptions: object = {}): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', prelude(stackOptions) + body], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, lines: stdout.trim().split('\n') });
    });
  });
}

// ------------------------------------------------------------------ the event loop

test('a listening server keeps the process alive; closing it lets the process exit', { timeout: 30_000 }, async () => {
  const r = await run(`
    const server = net.createServer(stack, () => {}).listen(7, () => log('listening'));
    later(400, () => server.close(() => log('closed', Date.now() - t0 >= 400)));
  `);
  assert.equal(r.signal, null, r.stderr);
  assert.deepEqual(r.lines, ['listening', 'closed true', 'exit 0'], r.stderr);
});

test('server.unref() lets the process exit while it listens; ref() holds it again', { timeout: 30_000 }, async () => {
  const r = await run(`
    const server = net.createServer(stack, () => {}).listen(7, () => log('listening'));
    server.unref();
    later(2000, () => log('still running'));
  `);
  assert.deepEqual(r.lines, ['listening', 'exit 0'], r.stderr);
  const again = await run(`
    const server = net.createServer(stack, () => {}).listen(7).unref();
    server.ref();
    later(300, () => { log('still running'); server.close(); });
  `);
  assert.deepEqual(again.lines, ['still running', 'exit 0'], again.stderr);
});

test('an open connection keeps the process alive until it closes, even with the server unref\'d', { timeout: 30_000 }, async () => {
  const r = await run(`
    const server = net.createServer(stack, (s) => s.on('close', () => log('server side closed'))).listen(7);
    server.unref();
    const c = net.connect(stack, 7, '127.0.0.1', () => log('connected'));
    later(400, () => c.end());
    c.resume();
    c.on('close', () => log('client closed', Date.now() - t0 >= 400));
  `);
  assert.deepEqual([...r.lines].sort(), ['client closed true', 'connected', 'exit 0', 'server side closed'], r.stderr);
  assert.equal(r.lines.at(-1), 'exit 0');
});

test('socket.unref() on both ends lets the process exit with the connection open', { timeout: 30_000 }, async () => {
  const r = await run(`
    const server = net.createServer(stack, (s) => { s.unref(); log('accepted'); }).listen(7);
    server.unref();
    const c = net.connect(stack, 7, '127.0.0.1', () => log('connected'));
    c.unref(); // before the connection exists, as Node allows
    later(3000, () => log('still running'));
  `);
  assert.deepEqual(r.lines, ['connected', 'accepted', 'exit 0'], r.stderr);
});

test('a connecting socket keeps the process alive until its error', { timeout: 30_000 }, async () => {
  const r = await run(`
    const c = net.connect(stack, 9, '127.0.0.1');
    c.on('error', (e) => log('error', e.code));
    c.on('close', (hadError) => log('close', hadError));
  `);
  assert.deepEqual(r.lines, ['error ECONNREFUSED', 'close true', 'exit 0'], r.stderr);
});

test('closing the stack releases what its sockets and servers held', { timeout: 30_000 }, async () => {
  const r = await run(`
    net.createServer(stack, () => {}).listen(7);
    const c = net.connect(stack, 7, '127.0.0.1', () => log('connected'));
    later(300, () => { log('closing the stack'); stack.close(); });
  `);
  assert.deepEqual(r.lines, ['connected', 'closing the stack', 'exit 0'], r.stderr);
});

test('a socket destroyed right after a write stays until TCP has delivered it (as the kernel would after close(2))', { timeout: 30_000 }, async () => {
  const r = await run(`
    const server = net.createServer(stack, (s) => {
      s.write(Buffer.alloc(100_000, 1)); // all of it fits in TCP's send buffer (twice the initial window)
      s.destroy(); // and the socket is gone: only TCP holds the data now
      server.close();
    }).listen(7);
    const c = net.connect(stack, 7, '127.0.0.1');
    c.unref(); // the receiver does not keep the process alive,
    c.pause(); // and it reads nothing for a while: the window closes, the sender waits (timers)
    later(300, () => c.resume());
    let n = 0;
    c.on('data', (d) => { n += d.length; });
    c.on('end', () => log('received', n));
  `, 10_000, { tcp: { recvBufferSize: 100_000 } });
  assert.deepEqual(r.lines, ['received 100000', 'exit 0'], r.stderr);
});

test('a bound UDP socket keeps the process alive until closed or unref\'d', { timeout: 30_000 }, async () => {
  const r = await run(`
    const u = dgram.createSocket(stack, 'udp4');
    u.bind(5353, () => log('bound'));
    later(300, () => u.close(() => log('closed')));
  `);
  assert.deepEqual(r.lines, ['bound', 'closed', 'exit 0'], r.stderr);
  const unrefd = await run(`
    const u = dgram.createSocket(stack, 'udp4');
    u.bind(5353, () => log('bound'));
    u.unref();
    later(3000, () => log('still running'));
  `);
  assert.deepEqual(unrefd.lines, ['bound', 'exit 0'], unrefd.stderr);
});

// ------------------------------------------------------------------ exceptions from the program's handlers

const ECHO = `
const server = net.createServer(stack, (s) => {
  let n = 0;
  s.on('data', (d) => {
    if (n++ === 0) throw new Error('boom from a data handler');
    s.write(d);
  });
}).listen(7);
const c = net.connect(stack, 7, '127.0.0.1');
c.setEncoding('utf8');
c.write('first');
c.on('data', (d) => { log('echo', d); c.end(); });
c.on('close', () => server.close(() => log('server closed')));
`;

test('an exception thrown in a \'data\' handler ends the process with its stack trace', { timeout: 30_000 }, async () => {
  const r = await run(ECHO);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.lines, ['exit 1']);
  // Node prints the line that threw (the program's, not one inside pstack) and the stack.
  assert.match(r.stderr, /if \(n\+\+ === 0\) throw new Error\('boom from a data handler'\);\n\s+\^\n\nError: boom from a data handler\n\s+at \S+\.<anonymous> \(file:\/\/\/.*\[eval1\]:\d+:\d+\)/, r.stderr);
  assert.doesNotMatch(r.stderr, /PSTACK|internal error/);
});

test('with an uncaughtException handler the program catches it and the stack carries on', { timeout: 30_000 }, async () => {
  const r = await run(`
    process.on('uncaughtException', (err) => {
      log('caught', err.message);
      c.write('second');
    });
    ${ECHO}
  `);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.lines, ['caught boom from a data handler', 'echo second', 'server closed', 'exit 0'], r.stderr);
});

test('exceptions from \'connection\', \'connect\' and write callbacks reach the process too, and the rest still happens', { timeout: 30_000 }, async () => {
  const r = await run(`
    let caught = [];
    process.on('uncaughtException', (err) => { caught.push(err.message); });
    const server = net.createServer(stack, (s) => {
      s.on('end', () => { log('server end'); });
      s.resume();
      throw new Error('from connection');
    }).listen(7);
    const c = net.connect(stack, 7, '127.0.0.1', () => {
      c.write('x', () => { throw new Error('from a write callback'); });
      throw new Error('from connect');
    });
    later(200, () => c.end());
    c.on('close', () => {
      server.close(() => { log(caught.sort().join(', ')); });
    });
  `);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.lines, ['server end', 'from a write callback, from connect, from connection', 'exit 0'], r.stderr);
});

test('an exception in a UDP \'message\' handler is an uncaught exception with its stack trace', { timeout: 30_000 }, async () => {
  const r = await run(`
    const u = dgram.createSocket(stack, 'udp4', () => { throw new Error('boom from a message handler'); });
    u.bind(5353, () => u.send('x', 5353, '127.0.0.1'));
  `);
  assert.equal(r.code, 1, r.stderr);
  // Datagrams are emitted as they arrive (inside the stack's batch), so the exception is
  // rethrown from there on the next tick: its own stack still names the handler.
  assert.match(r.stderr, /Error: boom from a message handler\n\s+at .*\[eval1\]:\d+:\d+\)/, r.stderr);
  assert.doesNotMatch(r.stderr, /PSTACK|internal error/);
});

// The TAP device's receive path (src/link/tap.ts), with a stand-in for the native addon so no
// root or /dev/net/tun is needed: the device hands a batch of three frames to a receiver
// whose first call throws.
const TAP = `
import { TapDevice } from '${url('../../src/link/tap.js')}';
let onBatch = null;
const native = {
  start(_handle, batch) { onBatch = batch; }, setBusyPoll() {}, write() { return 0; }, close() {},
  ref() {}, unref() {}, stats() { return {}; }, lastWakeup() { return 0; },
};
const opened = {
  handle: {}, fd: -1, name: 'fake0', frames: new ArrayBuffer(4 * 2048), offsets: Int32Array.of(0, 2048, 4096, 6144),
  lengths: new Int32Array(4).fill(60), frameSlot: 2048, maxFrames: 4, vnetHeader: 0, offloads: 0,
};
const device = new TapDevice(native, opened, 1500, new Uint8Array(6), undefined, 0);
let frames = 0;
device.open({
  receiveFrame() { if (++frames === 1) throw new Error('boom from a receiver'); },
  endBatch() { log('batch done', frames, device.receiveErrors); },
});
setTimeout(() => onBatch(3), 10);
`;

test('a TAP receiver\'s exception: the batch completes, then it is the process\'s uncaught exception', { timeout: 30_000 }, async () => {
  const r = await run(TAP);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.lines, ['batch done 3 1', 'exit 1']);
  assert.match(r.stderr, /Error: boom from a receiver\n\s+at Object\.receiveFrame \(.*\[eval1\]:\d+:\d+\)/, r.stderr);
  assert.doesNotMatch(r.stderr, /PSTACK_TAP_RECEIVER_ERROR/);
  const caught = await run(`
    process.on('uncaughtException', (err) => log('caught', err.message));
    ${TAP}
  `);
  assert.equal(caught.code, 0, caught.stderr);
  assert.deepEqual(caught.lines, ['batch done 3 1', 'caught boom from a receiver', 'exit 0']);
});
