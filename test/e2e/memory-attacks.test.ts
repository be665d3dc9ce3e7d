// Slow attackers from the kernel's side (test/e2e/slow_attackers.py) against `pstack server`:
// sockstress (connections to chargen whose window stays shut), slow readers (a byte a second)
// and half-closed connections in CLOSE_WAIT with a shut window. pstack's resident memory must
// stay inside its budget while they last, a legitimate echo client must keep getting answers,
// and the memory must come back once the attackers reset their connections: to within a few
// megabytes of what the server held before the first attack, within seconds (an idle server
// that kept the attack's storage as uncollected garbage or spare buffers would stay 15-25 MB
// above it). The full-scale versions of slowread and closewait (200, 100 attackers) run in the
// soak (npm run soak).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, ROOT, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
const ATTACKERS = join(ROOT, 'test/e2e/slow_attackers.py');
const KERNEL_CHARGEN = join(ROOT, 'test/e2e/kernel_chargen.py');
/** pstack server's resident set may not pass this during any attack (its defaults' promise). */
const RSS_LIMIT_KB = 200 * 1024;
/**
 * After the attackers are gone, RSS must come back within this much of the server's resident
 * size before the first attack. Measured: the JavaScript heap and the buffers go back to their
 * size before the attack (heap 13 MB, array buffers 1.6 MB), and RSS to 12-14 MB above it: the
 * C allocator keeps pages that its free space is scattered across. 500 sockstress
 * connections left undone keep it 25 MB above and more.
 */
const RECOVERED_KB = 16 * 1024;
/** ...within this long. */
const RECOVERY_MS = 30_000;
/** pstack server's resident size after warming up, before any attack. */
let baselineKb = 0;

let ns: Netns;
/** The Linux kernel as the server (kernel_chargen.py), reached from ns over a veth pair. */
let nsK: Netns;
let server: ServerHandle;
let dir: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${server.child.pid!}/status`, 'utf8'));
  assert.ok(m);
  return Number(m[1]);
}

async function stats(): Promise<{ counters: Record<string, number>; text: string }> {
  const control = join(dir, 'pstack.sock');
  const j = await run(process.execPath, [CLI, 'stats', '--json', '--control', control], { timeoutMs: 10_000 });
  const t = await run(process.execPath, [CLI, 'stats', '--control', control], { timeoutMs: 10_000 });
  assert.equal(j.code, 0, j.stderr);
  return { counters: (JSON.parse(j.stdout) as { counters: Record<string, number> }).counters, text: t.stdout };
}

interface AttackResult { established: number; echo_ok: number; echo_failed: number; echo_max_ms: number; errors: string[] }

/** Run one attack, sampling pstack's RSS all along; then wait for the memory to come back. */
async function attack(mode: string, port: number, count: number, seconds: number) {
  const base = rssKb();
  let peak = base;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssKb());
      await sleep(250);
    }
  })();
  const r = await ns.exec('/usr/bin/python3', [ATTACKERS, mode, '192.0.2.2', String(port), String(count), String(seconds), '12345'],
    { timeoutMs: (seconds + 60) * 1000 });
  running = false;
  await sampler;
  assert.equal(r.code, 0, r.stderr + server.log.slice(-2000));
  const res = JSON.parse(r.stdout) as AttackResult;
  const t0 = Date.now();
  let after = rssKb();
  while (after > baselineKb + RECOVERED_KB && Date.now() - t0 < RECOVERY_MS) {
    await sleep(500);
    after = rssKb();
  }
  const line = `${mode} x${res.established} for ${seconds} s: RSS ${(baselineKb / 1024).toFixed(0)} MB at the start, ${(base / 1024).toFixed(0)} MB before, peak ${(peak / 1024).toFixed(0)} MB, ` +
    `${(after / 1024).toFixed(0)} MB ${((Date.now() - t0) / 1000).toFixed(1)} s after the reset; echo ${res.echo_ok} ok, ${res.echo_failed} failed, slowest ${res.echo_max_ms} ms`;
  console.log(`# ${line}`);
  return { res, base, peak, after, line };
}

/** Pages of memory the kernel's TCP sockets hold (/proc/net/sockstat; counted machine-wide). */
function kernelTcpMemKb(): number {
  const m = /^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return m === null ? 0 : Number(m[1]) * 4;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-memattack-'));
  ns = await Netns.create('memat');
  server = await startPstack(ns, ['server', '--control', join(dir, 'pstack.sock')]);
  // Warm up (ARP, JIT) before the baseline.
  nsK = await Netns.create('memak');
  await ns.must('ip', ['link', 'add', 'vk0', 'type', 'veth', 'peer', 'name', 'vk1', 'netns', nsK.name]);
  await ns.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vk0']);
  await ns.must('ip', ['link', 'set', 'vk0', 'up']);
  await nsK.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vk1']);
  await nsK.must('ip', ['link', 'set', 'vk1', 'up']);
  const warm = await ns.exec('/usr/bin/python3', ['-c', 'import socket;s=socket.create_connection(("192.0.2.2",12345),timeout=5);s.sendall(b"x");print(s.recv(1))']);
  assert.equal(warm.code, 0, warm.stderr);
  await sleep(1000);
  baselineKb = rssKb();
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  await nsK?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const [mode, count, seconds] of [['sockstress', 500, 8], ['slowread', 100, 6], ['closewait', 60, 6]] as const) {
  test(`${mode}: ${count} attackers on chargen; RSS stays in budget, echo keeps working, memory comes back`, { skip: skip ?? false, timeout: 180_000 }, async () => {
    const a = await attack(mode, 19, count, seconds);
    assert.ok(a.res.established >= count * 0.95, a.line);
    assert.ok(a.peak < RSS_LIMIT_KB, a.line);
    assert.ok(a.res.echo_ok >= seconds - 2 && a.res.echo_failed === 0, `${a.line} ${a.res.errors.join('; ')}`);
    assert.ok(a.res.echo_max_ms < 2000, a.line);
    assert.ok(a.after <= baselineKb + RECOVERED_KB, `memory not given back within ${RECOVERY_MS / 1000} s: ${a.line}`);
  });
}

test('the Linux kernel under the same sockstress, for comparison (its TCP socket memory)', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const k = nsK.spawn('/usr/bin/python3', [KERNEL_CHARGEN, '198.51.100.2', '40']);
  await new Promise<void>((resolve, reject) => {
    k.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('ready')) resolve(); });
    k.on('close', (code) => reject(new Error(`kernel_chargen.py exited ${code}`)));
  });
  const base = kernelTcpMemKb();
  let peak = base;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, kernelTcpMemKb());
      await sleep(250);
    }
  })();
  const r = await ns.exec('/usr/bin/python3', [ATTACKERS, 'sockstress', '198.51.100.2', '19', '500', '8', '12345'], { timeoutMs: 90_000 });
  running = false;
  await sampler;
  k.kill('SIGKILL');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as AttackResult;
  console.log(`# Linux: sockstress x${res.established} for 8 s: TCP socket memory +${((peak - base) / 1024).toFixed(1)} MB at the peak (machine-wide count); echo ${res.echo_ok} ok, ${res.echo_failed} failed`);
  assert.ok(res.established >= 475 && res.echo_failed === 0, JSON.stringify(res));
  assert.ok(peak > base, 'the kernel buffered the attackers\' data');
});

test('pstack stats shows the buffer budget and the server exits cleanly', { skip: skip ?? false }, async () => {
  const s = await stats();
  assert.match(s.text, /^Memory:$/m);
  assert.match(s.text, /buffers hold [\d.]+ MB of 64\.0 MB \(peak [\d.]+ MB\)/);
  assert.match(s.text, /process: rss [\d.]+ MB/);
  assert.ok(s.counters['memoryPeakBytes']! > 0, JSON.stringify(s.counters));
  assert.equal(await server.stop(), 0, server.log.slice(-3000));
  assert.match(server.log, /internal errors: 0\b/);
});
