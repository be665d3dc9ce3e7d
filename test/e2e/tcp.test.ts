// pstack's TCP against Linux's, over a real TAP in namespaces of their own: nc, socat, curl
// and Python clients talk to pstack services, and pstack clients talk to Linux servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { e2eUnavailable, Netns, startPstack, startNodeScript, ROOT, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const CLIENTS = join(ROOT, 'test/e2e/tcp_clients.py');

let dir: string;
let ns: Netns; // pstack server (info) with the TCP echo service
let server: ServerHandle;
let nsDebug: Netns; // pstack server at debug level, for the dissected handshake
let debugServer: ServerHandle;
let nsHttp: Netns; // examples/http-server.js
let httpServer: ServerHandle;
let nsClient: Netns; // pstack clients against Linux servers

/** Start an example script (node) in a namespace and wait for its ready line. */
function startExample(n: Netns, script: string, args: string[], ready: RegExp): Promise<ServerHandle> {
  return startNodeScript(n, join(EXAMPLES, script), args, ready);
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-tcp-e2e-'));
  [ns, nsDebug, nsHttp, nsClient] = await Promise.all([Netns.create('tcp'), Netns.create('tcpdbg'), Netns.create('http'), Netns.create('tcpcli')]);
  [server, debugServer, httpServer] = await Promise.all([
    startPstack(ns, ['server']),
    startPstack(nsDebug, ['server', '--log-level', 'debug']),
    startExample(nsHttp, 'http-server.js', ['--port', '8080'], /pstack http server listening on port 8080/),
  ]);
});

after(async () => {
  if (skip) return;
  await Promise.all([server?.stop(), debugServer?.stop(), httpServer?.stop()]);
  await Promise.all([ns?.destroy(), nsDebug?.destroy(), nsHttp?.destroy(), nsClient?.destroy()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the echo service announces itself like the old pstack', { skip: skip ?? false }, async () => {
  await server.waitForLog(/address and port assigned: addr = 192\.0\.2\.2, port = 12345/);
});

test('nc 192.0.2.2 12345 echoes lines, and the log shows the accepted connection', { skip: skip ?? false }, async () => {
  const input = 'hello pstack\nsecond line\nthe third and last line\n';
  const r = await ns.exec('nc', ['-N', '-w', '5', '192.0.2.2', '12345'], { input, timeoutMs: 15_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, input);
  const m = await server.waitForLog(/connection accepted\n\s+Host: 192\.0\.2\.1\n\s+Port: (\d+)/);
  assert.ok(Number(m[1]) > 1024);
});

test('a 50 MB round trip through the echo service comes back intact (SHA-256)', { skip: skip ?? false }, async () => {
  const f = join(dir, 'in.bin');
  const g = join(dir, 'out.bin');
  writeFileSync(f, randomBytes(50 * 1024 * 1024));
  const r = await ns.exec('bash', ['-c', `nc -N 192.0.2.2 12345 < ${f} > ${g}`], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256File(g), sha256File(f));
});

test('200 concurrent connections all get their echo', { skip: skip ?? false }, async () => {
  const r = await ns.exec('python3', [CLIENTS, '192.0.2.2', '12345', 'concurrent', '200', '20000'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.failed, 0, JSON.stringify(res));
  assert.equal(res.ok, 200);
});

test('1,000 sequential connections all complete', { skip: skip ?? false }, async () => {
  const r = await ns.exec('python3', [CLIENTS, '192.0.2.2', '12345', 'sequential', '1000', '100'], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.failed, 0, JSON.stringify(res));
  assert.equal(res.ok, 1000);
});

test('a closed port refuses at once (RST)', { skip: skip ?? false }, async () => {
  const r = await ns.exec('nc', ['-z', '-v', '-w', '3', '192.0.2.2', '10'], { timeoutMs: 10_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /refused/i);
});

/** The log's entries (a title line and its indented detail lines), as strings. */
function logEntries(log: string): string[] {
  return log.split(/\n(?=\d\d:\d\d:\d\d\.\d{3} )/);
}

test('the debug log decodes the handshake: S, S., . with MSS, SACK_PERM, TS and WS', { skip: skip ?? false }, async () => {
  const r = await nsDebug.exec('nc', ['-N', '-w', '5', '192.0.2.2', '12345'], { input: 'x\n', timeoutMs: 15_000 });
  assert.equal(r.stdout, 'x\n');
  await debugServer.waitForLog(/connection accepted/);
  const tcp = logEntries(debugServer.log).filter((e) => e.includes('tcp segment'));
  const field = (e: string, name: string) => new RegExp(`\\n\\s+${name}:\\s+([^\\n]*)`).exec(e)?.[1] ?? '';
  // Linux's SYN in, pstack's SYN-ACK out (flags picture NCEUAPRSF), then the ACK in.
  const syn = tcp.find((e) => e.includes('incoming tcp segment') && field(e, 'dst port') === '12345' && field(e, 'flag') === '-------S- (0x002)');
  assert.ok(syn, 'SYN decoded');
  const synOpts = field(syn, 'options');
  assert.match(synOpts, /MSS 1460/);
  assert.match(synOpts, /SACK_PERM/);
  assert.match(synOpts, /TS val \d+ ecr 0/);
  assert.match(synOpts, /WS \d+/);
  const synAck = tcp.find((e) => e.includes('outgoing tcp segment') && field(e, 'src port') === '12345' && field(e, 'flag') === '----A--S- (0x012)');
  assert.ok(synAck, 'SYN-ACK decoded');
  assert.match(field(synAck, 'checksum'), /\(ok\)/);
  assert.match(field(synAck, 'options'), /^MSS 1460, SACK_PERM, TS val \d+ ecr \d+, NOP, WS 5$/);
  const ack = tcp.find((e) => e.includes('incoming tcp segment') && field(e, 'dst port') === '12345' && field(e, 'flag') === '----A---- (0x010)');
  assert.ok(ack, 'the final ACK');
});

test('curl fetches from Node\'s http server running on pstack', { skip: skip ?? false }, async () => {
  const r = await nsHttp.exec('curl', ['-sS', '--max-time', '10', 'http://192.0.2.2:8080/'], { timeoutMs: 15_000 });
  assert.equal(r.code, 0, r.stderr + httpServer.log.slice(-2000));
  assert.match(r.stdout, /^hello from pstack: you are 192\.0\.2\.1:\d+, I am 192\.0\.2\.2:8080\n$/);
  const out = join(dir, 'curl.bin');
  const big = await nsHttp.exec('curl', ['-sS', '--max-time', '30', '-D', '-', '-o', out, 'http://192.0.2.2:8080/bytes/20000000'], { timeoutMs: 40_000 });
  assert.equal(big.code, 0, big.stderr);
  const want = /x-sha256: ([0-9a-f]{64})/i.exec(big.stdout)![1];
  assert.equal(sha256File(out), want);
  // Keep-alive: two requests over one connection.
  const two = await nsHttp.exec('curl', ['-sS', '--max-time', '10', 'http://192.0.2.2:8080/', 'http://192.0.2.2:8080/'], { timeoutMs: 15_000 });
  assert.equal(two.stdout.match(/hello from pstack/g)?.length, 2);
});

/** Wait until a spawned process has printed `pattern` on stdout or stderr. */
async function waitOutput(child: ReturnType<Netns['spawn']>, pattern: RegExp, ms = 10_000): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${out}`)), ms);
    const on = (b: Buffer) => {
      out += b.toString();
      if (pattern.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
  });
}

test('a pstack client sends a file to Linux socat, and receives one from it (SHA-256)', { skip: skip ?? false }, async () => {
  const f = join(dir, 'cli-up.bin');
  const got = join(dir, 'cli-up-got.bin');
  const down = join(dir, 'cli-down.bin');
  const g = join(dir, 'cli-down-got.bin');
  writeFileSync(f, randomBytes(20 * 1024 * 1024));
  writeFileSync(down, randomBytes(20 * 1024 * 1024));
  const netcat = join(EXAMPLES, 'netcat.js');
  // pstack -> Linux: socat writes what it receives to a file (-u: one direction only).
  const sink = nsClient.spawn('socat', ['-u', '-T', '30', 'TCP-LISTEN:5000,reuseaddr', `CREATE:${got}`]);
  try {
    // The tap (and so 192.0.2.1) exists only once netcat.js runs; socat listens on every
    // address, so it takes the connection as soon as the SYN comes.
    const up = await nsClient.exec('bash', ['-c', `timeout 40 node ${netcat} --log-level warn --stats --pcap ${dir}/up.pcap 192.0.2.1 5000 < ${f} > /dev/null`], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /sent 20971520 received 0/);
    await new Promise((r) => { if (sink.exitCode !== null) r(null); else sink.on('close', r); });
    assert.equal(sha256File(got), sha256File(f));
  } finally {
    sink.kill('SIGKILL');
  }
  // Linux -> pstack: socat sends a file and closes.
  const source = nsClient.spawn('socat', ['-u', '-T', '30', `FILE:${down}`, 'TCP-LISTEN:5001,reuseaddr']);
  try {
    const r = await nsClient.exec('bash', ['-c', `timeout 40 node ${netcat} --log-level warn --stats --pcap ${dir}/down.pcap 192.0.2.1 5001 < /dev/null > ${g}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256File(g), sha256File(down));
  } finally {
    source.kill('SIGKILL');
  }
});

test('a pstack client round-trips 20 MB through a Linux echo server (SHA-256)', { skip: skip ?? false }, async () => {
  const f = join(dir, 'echo-in.bin');
  const g = join(dir, 'echo-out.bin');
  writeFileSync(f, randomBytes(20 * 1024 * 1024));
  const echo = nsClient.spawn('python3', [CLIENTS, '0.0.0.0', '5002', 'echo-server', '1']);
  try {
    await waitOutput(echo, /listening/);
    const r = await nsClient.exec('bash', ['-c', `timeout 40 node ${join(EXAMPLES, 'netcat.js')} --log-level warn --stats --pcap ${dir}/echo.pcap 192.0.2.1 5002 < ${f} > ${g}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /sent 20971520 received 20971520/);
    assert.equal(sha256File(g), sha256File(f));
  } finally {
    echo.kill('SIGKILL');
  }
});

test('Node\'s http client over pstack fetches a file from a Linux HTTP server', { skip: skip ?? false }, async () => {
  const www = join(dir, 'www');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(www);
  const blob = randomBytes(3 * 1024 * 1024);
  writeFileSync(join(www, 'blob'), blob);
  const py = nsClient.spawn('python3', ['-m', 'http.server', '8000', '--directory', www]);
  try {
    await new Promise((r) => setTimeout(r, 500)); // python binds 0.0.0.0:8000
    const r = await nsClient.exec(process.execPath, [join(EXAMPLES, 'http-client.js'), '--log-level', 'warn', '--sha256', 'http://192.0.2.1:8000/blob'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `status 200 length ${blob.length} sha256 ${createHash('sha256').update(blob).digest('hex')}`);
  } finally {
    py.kill('SIGKILL');
  }
});

test('Ctrl-C after all that: clean exit, TCP counters, no internal errors', { skip: skip ?? false }, async () => {
  const code = await server.stop();
  assert.equal(code, 0, server.log.slice(-3000));
  assert.match(server.log, /tcp in\/out:\s+[1-9]\d* \/ [1-9]\d*/);
  assert.match(server.log, /internal errors: 0/);
});
