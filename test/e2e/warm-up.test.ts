// The start-up warm-up of `pstack server` on a real TAP: it runs (the start-up block says how
// many connections), none of it shows in the server's counters or on the tap, the first real
// connection is counted as the first, and --no-warmup turns it off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
// A tap of our own name and a control socket of our own: other tests' servers may run meanwhile.
const tap = `wup${process.pid % 10000}`;
let dir: string;
let ns: Netns;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-warm-up-'));
  ns = await Netns.create('wup');
});

after(async () => {
  if (skip) return;
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function stats(control: string): Promise<{ counters: Record<string, number>; devices: Array<{ name: string; counters: Record<string, number> }> }> {
  const r = await run(process.execPath, [CLI, 'stats', '--json', '--control', control]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('pstack server warms up before it starts; nothing of it is counted or reaches the tap', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const control = join(dir, 'a.sock');
  let server: ServerHandle | undefined;
  try {
    server = await startPstack(ns, ['server', '--tap', tap, '--control', control], /pstack server started[\s\S]*try:/, 30_000);
    const m = server.log.match(/warm-up:\s+(\d+) connections in (\d+) ms/);
    assert.ok(m, server.log);
    assert.ok(Number(m[1]) > 0, `warm-up connections: ${m[1]}`);
    const before = await stats(control);
    assert.equal(before.counters['tcpPassiveOpens'], 0, 'no connection accepted yet');
    assert.equal(before.counters['tcpActiveOpens'], 0);
    assert.equal(before.counters['tcpConnectionsReset'] ?? 0, 0);
    const dev = before.devices.find((d) => d.name === tap)!;
    // Only the stack's own start-up frames may have gone out (ARP, at most a few), never
    // hundreds of warm-up segments.
    assert.ok(dev.counters['framesOut']! < 10, `frames out on ${tap}: ${dev.counters['framesOut']}`);
    const echo = await ns.exec('bash', ['-c', 'printf warm | nc -N -w 5 192.0.2.2 12345'], { timeoutMs: 20_000 });
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, 'warm');
    const afterEcho = await stats(control);
    assert.equal(afterEcho.counters['tcpPassiveOpens'], 1, 'the first real connection is the first counted');
  } finally {
    await server?.stop();
  }
});

test('pstack server --no-warmup starts without it', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const server = await startPstack(ns, ['server', '--tap', tap, '--control', join(dir, 'b.sock'), '--no-warmup'], /pstack server started[\s\S]*try:/, 30_000);
  try {
    assert.match(server.log, /warm-up:\s+off/);
  } finally {
    await server.stop();
  }
});
