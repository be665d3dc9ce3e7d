// A limit set on pstack server's command line takes effect on real traffic: with
// --limit tcp.maxConnections=2, two connections from the kernel hold the table full and a
// third is refused (the kernel's connect gets ECONNREFUSED from pstack's RST); pstack stats
// shows the limit and its hit, and so does the shutdown log. A wrong --limit is one line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;
let control: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-limits-'));
  control = join(dir, 'control.sock');
  ns = await Netns.create('limits');
  server = await startPstack(ns, ['server', '--control', control, '--limit', 'tcp.maxConnections=2']);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Two connections held open, then a third: Python's sockets, as the kernel's client side.
const CLIENTS = `
import socket, sys
held = []
for i in range(2):
    s = socket.create_connection(("192.0.2.2", 12345), timeout=5)
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"
    held.append(s)
try:
    socket.create_connection(("192.0.2.2", 12345), timeout=5)
    print("third: connected")
except ConnectionRefusedError:
    print("third: refused")
except Exception as e:
    print("third: " + type(e).__name__)
for s in held:
    s.close()
`;

test('--limit tcp.maxConnections=2: a third connection is refused, and the hit is counted', { skip: skip ?? false }, async () => {
  assert.match(server.log, /limits: +tcp\.maxConnections=2/);
  const r = await ns.exec('/usr/bin/python3', ['-c', CLIENTS], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'third: refused');
  const stats = await run(process.execPath, [CLI, 'stats', '--control', control]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /tcp\.maxConnections = 2: hit 1 times/);
  assert.match(stats.stdout, /1 dropped: max-connections/);
  assert.equal(await server.stop(), 0);
  assert.match(server.log, /tcp\.maxConnections = 2: 1 hits/);
});

test('a wrong --limit is one clear line and a non-zero exit', { skip: skip ?? false }, async () => {
  const r = await run(process.execPath, [CLI, 'server', '--limit', 'tcp.maxConections=2']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'pstack: unknown limit "tcp.maxConections" (--limit help lists the names)\n');
  const help = await run(process.execPath, [CLI, 'server', '--limit', 'help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /tcp\.maxConnections +65536 /);
});
