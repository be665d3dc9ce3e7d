// A SYN flood against pstack: hping3 floods a listening port from spoofed sources (fixed
// documentation addresses in 203.0.113.0/24, reached through the default gateway, so every
// SYN-ACK really goes out), bounded with `timeout`, while legitimate clients must still get
// through; afterwards the server's memory must be bounded and its counters must show that the
// SYN queue overflowed into SYN cookies.
//
// Two namespaces, flooded at the same time:
//  - S: `pstack server` (TCP echo on 12345, control socket for `pstack stats --json`);
//  - H: examples/http-server.js on port 8080, fetched with curl during the flood.
// Then the same flood against pstack alone (at its default priority, then as an ordinary
// process, nice 0) and against the Linux kernel (an echo server in a third namespace K, behind
// a veth pair from S), each while a legitimate client connects every 0.4 s: the connect times
// are reported side by side (docs/benchmarks.md#syn-flood). The assertion is generous (the
// machine is shared): every legitimate connection completes, the median within 500 ms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, startNodeScript, run, CLI, ROOT, type ServerHandle } from './harness.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const LEGIT = join(ROOT, 'test/e2e/legit_connects.py');
const KERNEL_SERVER = join(ROOT, 'test/e2e/kernel_chargen.py');
/** The comparison: seconds of flood per server, and legitimate connections made meanwhile. */
const COMPARE_SECONDS = 10;
const LEGIT_COUNT = 20;
/**
 * The median legitimate connect time during the flood may not pass this (measured on a loaded
 * 2-core machine: pstack 1-60 ms, the kernel under 1 ms; a server that let the flood crowd out
 * the legitimate SYNs would show the client's 1 s retransmission timeout).
 */
const MEDIAN_CONNECT_MS = 500;
/** Legitimate connects (of LEGIT_COUNT) allowed to time out while the tap's queue overflows. */
const MAX_LEGIT_FAILED = 4;
/** Spoofed flood sources, one per hping3 (TEST-NET-3, routed through the gateway). */
const FLOOD_SOURCES = ['203.0.113.77', '203.0.113.78'];
const FLOOD_SECONDS = 5;
const ROUNDS = 3;
const RSS_LIMIT_KB = 300 * 1024;
const HEAP_MB = 128;
/** Growth allowed in the last flood over the most the earlier ones needed (a plateau). */
const RSS_GROWTH_KB = 96 * 1024;

function floodUnavailable(): string | null {
  const base = e2eUnavailable();
  if (base !== null) return base;
  const missing = ['hping3', 'curl'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length === 0) return null;
  const why = `the SYN-flood test needs ${missing.join(', ')}`;
  if (process.env['CI']) throw new Error(why);
  return why;
}

const skip = floodUnavailable();
let dir: string;
let nsS: Netns;
let nsH: Netns;
let server: ServerHandle;
let http: ServerHandle;
const control = () => join(dir, 'pstack.sock');

/** examples/http-server.js in a namespace. */
function startHttp(ns: Netns): Promise<ServerHandle> {
  return startNodeScript(ns, join(EXAMPLES, 'http-server.js'), ['--port', '8080'], /pstack http server listening on port 8080/);
}

/** VmRSS of a process in kB (`ip netns exec` execs the command, so the pid is node's). */
function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(readFileSync(`/proc/${pid}/comm`, 'utf8'), /node/);
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(m, status);
  return Number(m[1]);
}

/** hping3 SYN floods from fixed spoofed documentation addresses, each bounded by `timeout`. */
function flood(ns: Netns, port: number, dst = '192.0.2.2', seconds = FLOOD_SECONDS): Promise<unknown> {
  return Promise.all(FLOOD_SOURCES.map((src) =>
    ns.exec('timeout', [String(seconds), 'hping3', '-q', '-S', '-p', String(port), '--flood', '-a', src, dst],
      { timeoutMs: (seconds + 5) * 1000 })));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP echo exchange with pstack's echo service (python3, bounded). */
async function echoOnce(ns: Netns, timeout = 3): Promise<string> {
  const py = `import socket;s=socket.create_connection(("192.0.2.2",12345),timeout=${timeout});s.sendall(b"legit\\n");print(s.recv(64).decode().strip())`;
  const r = await ns.exec('python3', ['-c', py], { timeoutMs: (timeout + 3) * 1000 });
  return r.code === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim().split('\n').at(-1)}`;
}

async function curlOnce(ns: Netns, maxTime = 3): Promise<string> {
  const r = await ns.exec('curl', ['-s', '--max-time', String(maxTime), 'http://192.0.2.2:8080/'], { timeoutMs: (maxTime + 3) * 1000 });
  return r.code === 0 ? r.stdout : `curl failed (${r.code}): ${r.stderr}`;
}

/**
 * A legitimate client during the flood: --flood sends faster than the TAP device's queue is
 * drained, so the link (not pstack) drops a share of every sender's frames, the legitimate
 * SYN's included; like a person, the client tries again (3 tries of 1.5 s, each with a SYN
 * retransmission, within the flood).
 */
async function legit(once: (t: number) => Promise<string>, ok: RegExp): Promise<string> {
  let last = '';
  for (let i = 0; i < 3; i++) {
    last = await once(1.5);
    if (ok.test(last)) return last;
  }
  return last;
}

async function stats(): Promise<Record<string, number>> {
  const r = await run(process.execPath, [CLI, 'stats', '--json', '--control', control()], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { counters: Record<string, number> }).counters;
}

interface Round { during: string[]; rssS: number; rssH: number }
const rounds: Round[] = [];
let rssBefore: { s: number; h: number };
let nsK: Netns;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-synflood-'));
  nsS = await Netns.create('synfs');
  nsH = await Netns.create('synfh');
  // Both servers run with V8's old space capped (HEAP_MB): the garbage a flood makes is then
  // collected rather than left to grow the heap lazily, and memory a flood really kept would
  // end the process (out of memory) instead of going unnoticed.
  const saved = process.env['NODE_OPTIONS'];
  process.env['NODE_OPTIONS'] = `${saved ?? ''} --max-old-space-size=${HEAP_MB}`.trim();
  try {
    [server, http] = await Promise.all([
      startPstack(nsS, ['server', '--control', control()]),
      startHttp(nsH),
    ]);
  } finally {
    if (saved === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = saved;
  }
  // Warm up both (ARP, JIT), then take the baseline.
  assert.equal(await echoOnce(nsS), 'legit');
  assert.match(await curlOnce(nsH), /hello from pstack/);
  rssBefore = { s: rssKb(server.child.pid!), h: rssKb(http.child.pid!) };
  for (let i = 0; i < ROUNDS; i++) {
    const flooding = Promise.all([flood(nsS, 12345), flood(nsH, 8080)]);
    await sleep(500);
    const during = await Promise.all([
      legit((t) => echoOnce(nsS, t), /^legit$/),
      legit((t) => curlOnce(nsH, t), /hello from pstack/),
    ]);
    await flooding;
    rounds.push({ during, rssS: rssKb(server.child.pid!), rssH: rssKb(http.child.pid!) });
  }
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await http?.stop();
  for (const ns of [nsS, nsH, nsK]) await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('legitimate clients get through during a SYN flood (echo service and curl to the HTTP example)', { skip: skip ?? false }, () => {
  for (const r of rounds) {
    assert.equal(r.during[0], 'legit');
    assert.match(r.during[1]!, /hello from pstack/);
  }
});

test('memory stays bounded under the flood', { skip: skip ?? false }, () => {
  const info = JSON.stringify({ before: rssBefore, rounds: rounds.map((r) => ({ s: r.rssS, h: r.rssH })) });
  for (const r of rounds) {
    assert.ok(r.rssS < RSS_LIMIT_KB && r.rssH < RSS_LIMIT_KB, info);
  }
  // Another flood as long as the earlier ones must not need much more memory: the queues are
  // bounded, so memory reaches a plateau.
  const last = rounds.at(-1)!;
  const earlier = rounds.slice(0, -1);
  assert.ok(last.rssS < Math.max(...earlier.map((r) => r.rssS)) + RSS_GROWTH_KB, info);
  assert.ok(last.rssH < Math.max(...earlier.map((r) => r.rssH)) + RSS_GROWTH_KB, info);
  console.log(`VmRSS kB ${info}`);
});

/** A device's counter in its namespace (/sys/class/net/DEV/statistics/NAME). */
async function devStat(ns: Netns, dev: string, name: string): Promise<number> {
  const r = await ns.must('cat', [`/sys/class/net/${dev}/statistics/${name}`]);
  return Number(r.stdout);
}

interface Connects { connect_ms: number[]; failed: number; errors: string[] }

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Flood `dst` from nsS for COMPARE_SECONDS while a legitimate client connects to it every 0.4 s. */
async function floodedConnects(dst: string): Promise<{ c: Connects; line: string }> {
  const flooding = flood(nsS, 12345, dst, COMPARE_SECONDS);
  await sleep(1000);
  const r = await nsS.exec('/usr/bin/python3', [LEGIT, dst, '12345', String(LEGIT_COUNT), '0.4', '5'], { timeoutMs: 120_000 });
  await flooding;
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as Connects;
  const t = [...c.connect_ms].sort((a, b) => a - b);
  const line = `median ${percentile(t, 0.5)} ms, 90th percentile ${percentile(t, 0.9)} ms, slowest ${t.at(-1)} ms, ${c.failed} of ${LEGIT_COUNT} failed`;
  return { c, line };
}

test('connect times during the flood, pstack beside the Linux kernel', { skip: skip ?? false, timeout: 240_000 }, async () => {
  nsK = await Netns.create('synfk');
  await nsS.must('ip', ['link', 'add', 'vk0', 'type', 'veth', 'peer', 'name', 'vk1', 'netns', nsK.name]);
  await nsS.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vk0']);
  await nsS.must('ip', ['link', 'set', 'vk0', 'up']);
  await nsK.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vk1']);
  await nsK.must('ip', ['link', 'set', 'vk1', 'up']);
  // The kernel's SYN-ACKs go back through S as pstack's go through its gateway (S drops them).
  await nsK.must('ip', ['route', 'add', 'default', 'via', '198.51.100.1']);
  const k = nsK.spawn('/usr/bin/python3', [KERNEL_SERVER, '198.51.100.2', String(COMPARE_SECONDS + 60)]);
  try {
    await new Promise<void>((resolve, reject) => {
      k.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('ready')) resolve(); });
      k.on('close', (code) => reject(new Error(`kernel_chargen.py exited ${code}`)));
    });
    /** Flood pstack and measure, with the tap's counters. */
    const measurePstack = async () => {
      const cookies0 = (await stats())['tcpSynCookiesSent'] ?? 0;
      const [rx0, drop0] = [await devStat(nsS, 'tap0', 'tx_packets'), await devStat(nsS, 'tap0', 'tx_dropped')];
      const m = await floodedConnects('192.0.2.2');
      const [rx1, drop1] = [await devStat(nsS, 'tap0', 'tx_packets'), await devStat(nsS, 'tap0', 'tx_dropped')];
      const cookies = ((await stats())['tcpSynCookiesSent'] ?? 0) - cookies0;
      const offered = (rx1 - rx0 + drop1 - drop0) / COMPARE_SECONDS;
      const text = `flood offered ${(offered / 1000).toFixed(1)}k SYN/s, ${((rx1 - rx0) / COMPARE_SECONDS / 1000).toFixed(1)}k/s read by pstack ` +
        `(${(100 * (drop1 - drop0) / Math.max(1, rx1 - rx0 + drop1 - drop0)).toFixed(0)}% dropped at the tap's queue), ${cookies} SYN cookies sent; legitimate connects: ${m.line}`;
      return { ...m, cookies, text };
    };
    const pid = String(server.child.pid!);
    const nice = (await run('ps', ['-o', 'ni=', '-p', pid])).stdout.trim();
    const p = await measurePstack();
    // The same at an ordinary process's priority (--nice=0), then back.
    await run('renice', ['-n', '0', '-p', pid]);
    const p0 = await measurePstack();
    await run('renice', ['-n', nice, '-p', pid]);
    const kRx0 = await devStat(nsK, 'vk1', 'rx_packets');
    const kd = await floodedConnects('198.51.100.2');
    const kRx = await devStat(nsK, 'vk1', 'rx_packets') - kRx0;
    console.log(`# pstack (nice ${nice}): ${p.text}`);
    console.log(`# pstack (nice 0): ${p0.text}`);
    console.log(`# Linux: flood ${(kRx / COMPARE_SECONDS / 1000).toFixed(1)}k SYN/s received; legitimate connects: ${kd.line}`);
    console.log(`# load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    const cookies = p.cookies;
    // When the flood outruns pstack's reads, the kernel drops frames at the tap's queue before
    // pstack sees them, legitimate SYNs among them: a client that loses its SYN three times in a
    // row gives up within its 5 s. Most must still get through, at a median of a few ms.
    assert.ok(p.c.failed <= MAX_LEGIT_FAILED, `pstack: ${p.line} ${p.c.errors.join('; ')}`);
    assert.ok(percentile([...p.c.connect_ms].sort((a, b) => a - b), 0.5) < MEDIAN_CONNECT_MS, `pstack: ${p.line}`);
    assert.ok(cookies > 0, 'the flood reached pstack');
    assert.equal(kd.c.failed, 0, `Linux: ${kd.line} ${kd.c.errors.join('; ')}`);
  } finally {
    k.kill('SIGKILL');
  }
});

test('the SYN queue overflowed into SYN cookies, and the server still works afterwards', { skip: skip ?? false }, async () => {
  const c = await stats();
  assert.ok((c['tcpSynCookiesSent'] ?? 0) > 0, JSON.stringify(c));
  assert.equal(await echoOnce(nsS), 'legit');
  assert.match(await curlOnce(nsH), /hello from pstack/);
  assert.equal(await server.stop(), 0, server.log.slice(-3000));
  assert.match(server.log, /internal errors: 0\b/, server.log.slice(-3000));
});
