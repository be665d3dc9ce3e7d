// A SYN flood against pstack (issue 6): hping3 floods a listening port from spoofed sources
// (fixed documentation addresses in 192.0.2.0/24, which nobody answers ARP for), bounded with
// `timeout`, while legitimate clients must still get through; afterwards the server's memory
// must be bounded and its counters must show that the SYN queue overflowed into SYN cookies.
//
// Two namespaces, flooded at the same time:
//  - S: `pstack server` (TCP echo on 12345, control socket for `pstack stats --json`);
//  - H: examples/http-server.js on port 8080, fetched with curl during the flood.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, startNodeScript, run, CLI, type ServerHandle } from './harness.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
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
function flood(ns: Netns, port: number): Promise<unknown> {
  return Promise.all(['192.0.2.77', '192.0.2.78'].map((src) =>
    ns.exec('timeout', [String(FLOOD_SECONDS), 'hping3', '-q', '-S', '-p', String(port), '--flood', '-a', src, '192.0.2.2'],
      { timeoutMs: (FLOOD_SECONDS + 5) * 1000 })));
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
  for (const ns of [nsS, nsH]) await ns?.destroy();
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

test('the SYN queue overflowed into SYN cookies, and the server still works afterwards', { skip: skip ?? false }, async () => {
  const c = await stats();
  assert.ok((c['tcpSynCookiesSent'] ?? 0) > 0, JSON.stringify(c));
  assert.equal(await echoOnce(nsS), 'legit');
  assert.match(await curlOnce(nsH), /hello from pstack/);
  assert.equal(await server.stop(), 0, server.log.slice(-3000));
  assert.match(server.log, /internal errors: 0\b/, server.log.slice(-3000));
});
