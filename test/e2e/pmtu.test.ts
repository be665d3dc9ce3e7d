// Path MTU discovery against a real router: pstack's tap leads into namespace K, where the
// kernel routes to a far namespace F behind a veth with MTU 1280. pstack's large DF segments
// draw real ICMP Fragmentation Needed from the kernel; pstack learns the path MTU, resends
// smaller, and the transfer completes (a sender without path MTU discovery would stall: the
// router drops what does not fit). `pstack route cache` and `pstack stats` show what it learned.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let k: Netns;
let f: Netns;
let server: ServerHandle;
let dir: string;
let control: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-pmtu-'));
  control = join(dir, 'control.sock');
  k = await Netns.create('pmk');
  f = await Netns.create('pmf');
  server = await startPstack(k, ['server', '--addr', '192.0.2.2/24', '--control', control]);
  // K routes between pstack's tap (192.0.2.0/24) and F (198.51.100.0/24) over a 1280-byte link.
  await k.must('ip', ['link', 'add', 'pmk0', 'mtu', '1280', 'type', 'veth', 'peer', 'name', 'pmf0', 'mtu', '1280']);
  await k.must('ip', ['link', 'set', 'pmf0', 'netns', f.name]);
  await k.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'pmk0']);
  await k.must('ip', ['link', 'set', 'pmk0', 'up']);
  await k.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await f.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'pmf0']);
  await f.must('ip', ['link', 'set', 'pmf0', 'up']);
  // F advertises MSS 1460 as a host on a 1500-byte LAN behind a smaller hop would: pstack's
  // full-sized segments then meet the 1280-byte link only at K, which drops them (DF) and
  // answers Fragmentation Needed with MTU 1280.
  await f.must('ip', ['route', 'add', 'default', 'via', '198.51.100.1', 'advmss', '1460']);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  for (const ns of [f, k]) await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => run(process.execPath, [CLI, ...args, '--control', control], { timeoutMs: 15_000 });

test('a TCP transfer from pstack to a host behind a 1280-byte link completes; the path MTU is learned from the kernel router', { skip: skip ?? false }, async () => {
  const data = randomBytes(2 * 1024 * 1024);
  const file = join(dir, 'in.bin');
  writeFileSync(file, data);
  const want = createHash('sha256').update(data).digest('hex');
  // nc in F sends to pstack's echo service; the echo comes back in pstack's full-sized segments.
  const r = await f.exec('bash', ['-c', `timeout 60 nc -N 192.0.2.2 12345 < ${file} | sha256sum`], { timeoutMs: 70_000 });
  assert.equal(r.code, 0, r.stderr + server.log.slice(-2000));
  assert.equal(r.stdout.split(' ')[0], want, 'the echo came back whole through the 1280-byte link');
  const stats = await cli(['stats', '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const counters = (JSON.parse(stats.stdout) as { counters: Record<string, number> }).counters;
  assert.ok(counters['pmtuLowered']! >= 1, `pmtuLowered ${counters['pmtuLowered']}`);
  assert.ok(counters['tcpPmtuShrinks']! >= 1 || counters['pmtuShrinks']! >= 1, JSON.stringify(counters).slice(0, 400));
  assert.equal(counters['pmtuBelowFloor'], 0);
});

test('pstack route cache shows the learned path MTU to the far host', { skip: skip ?? false }, async () => {
  const r = await cli(['route', 'cache']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^198\.51\.100\.2 mtu 1280 expires \d+sec$/m);
  const j = await cli(['route', 'cache', '--json']);
  const entries = (JSON.parse(j.stdout) as { entries: Array<{ destination: string; mtu: number; family: string }> }).entries;
  assert.deepEqual(entries.map((e) => [e.destination, e.mtu, e.family]), [['198.51.100.2', 1280, 'inet']]);
});

test('ping -s 1400 from the far host: pstack fragments its replies to the cached path MTU', { skip: skip ?? false }, async () => {
  const counters0 = JSON.parse((await cli(['stats', '--json'])).stdout).counters as Record<string, number>;
  const before = counters0['ipFragmentsOut'] ?? 0;
  // pstack's Echo Reply (no DF) to F is fragmented by pstack itself to the cached path MTU;
  // without the cache it would leave whole (1428 bytes fit the tap) for the router to cut.
  const p = await f.exec('ping', ['-c', '2', '-i', '0.3', '-W', '3', '-s', '1400', '192.0.2.2'], { timeoutMs: 20_000 });
  assert.equal(p.code, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /2 received/);
  const counters1 = JSON.parse((await cli(['stats', '--json'])).stdout).counters as Record<string, number>;
  assert.ok((counters1['ipFragmentsOut'] ?? 0) >= before + 4, `pstack fragmented its replies itself: ${before} -> ${counters1['ipFragmentsOut']}`);
});
