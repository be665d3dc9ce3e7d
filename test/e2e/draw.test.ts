// pstack draw on real captures: the kernel pings pstack and echoes a transfer through it while
// nftables drops 5% of pstack's TCP data segments (offloads off, so segments are MSS-sized) on the kernel side of the tap. tcpdump (which sees
// a frame before the netdev ingress hook drops it) and pstack's own --pcap both record it; the
// ladder and time-sequence pictures of both files must show the handshake, the pings and the
// retransmissions the loss caused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';
import { xmlProblem } from '../helpers/xml-check.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;
let ownPcap: string;
let kernelPcap: string;
let dropped = 0;

const RULES = `
table netdev impair {
  chain from_pstack {
    type filter hook ingress device "tap0" priority 0;
    ip protocol tcp ip length > 100 numgen random mod 100 < 5 counter drop
  }
}
`;

function waitFor(child: ChildProcess, pattern: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${log}`)), ms);
    const on = (b: Buffer) => { log += b.toString(); if (pattern.test(log)) { clearTimeout(timer); resolve(); } };
    child.stderr!.on('data', on);
    child.stdout!.on('data', on);
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-draw-'));
  ownPcap = join(dir, 'pstack.pcap');
  kernelPcap = join(dir, 'tcpdump.pcap');
  ns = await Netns.create('draw');
  server = await startPstack(ns, ['server', '--control', 'none', '--offload', 'off', '--pcap', ownPcap]);
  const tcpdump = ns.spawn('tcpdump', ['-i', 'tap0', '-n', '-U', '-B', '8192', '-w', kernelPcap]);
  await waitFor(tcpdump, /listening on/, 15_000);
  await ns.must('nft', ['-f', '-'], { input: RULES });
  const ping = await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '192.0.2.2']);
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  const input = join(dir, 'in.bin');
  writeFileSync(input, randomBytes(300 * 1024));
  const r = await ns.exec('sh', ['-c', `nc -N 192.0.2.2 12345 < ${input} > ${join(dir, 'out.bin')}`], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(dir, 'out.bin')).length, 300 * 1024);
  const counters = (await ns.must('nft', ['list', 'table', 'netdev', 'impair'])).stdout;
  dropped = Number(/counter packets (\d+)/.exec(counters)![1]);
  // tcpdump may lag behind on a busy machine: wait until it has written pstack's FIN.
  for (let i = 0; i < 100; i++) {
    const fins = await run('tcpdump', ['-r', kernelPcap, '-nn', 'tcp src port 12345 and tcp[13] & 1 != 0']);
    if (fins.stdout.trim() !== '') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 300));
  const closed = new Promise((resolve) => tcpdump.on('close', resolve));
  tcpdump.kill('SIGINT');
  await closed;
  assert.equal(await server.stop(), 0);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function draw(args: string[]): Promise<{ svg: string; stderr: string }> {
  const r = await run(process.execPath, [CLI, 'draw', ...args], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return { svg: r.stdout, stderr: r.stderr };
}

for (const which of ['tcpdump', 'pstack'] as const) {
  test(`ladder of the ${which} capture: one arrow per packet, pings, handshake and retransmissions`, { skip: skip ?? false, timeout: 120_000 }, async () => {
    assert.ok(dropped > 0, 'the loss rule fired');
    const file = which === 'tcpdump' ? kernelPcap : ownPcap;
    const count = await run('tcpdump', ['-r', file, '-nn'], { timeoutMs: 60_000 });
    const packets = count.stdout.trim().split('\n').length;
    const { svg } = await draw(['ladder', file, '-c', '100000']);
    assert.equal(xmlProblem(svg), null);
    const arrows = svg.match(/<g class="arrow /g)?.length ?? 0;
    const other = Number(/(\d+) packets of other kinds not drawn/.exec(svg)?.[1] ?? 0);
    assert.equal(arrows + other, packets, `${arrows} arrows + ${other} undrawn = the ${packets} packets tcpdump reads`);
    assert.equal(svg.match(/ICMP Echo, id \d+, seq \d/g)?.length, 3);
    assert.equal(svg.match(/ICMP Echo Reply, id \d+, seq \d/g)?.length, 3);
    assert.match(svg, /TCP \d+ → 12345 \[S\] seq 0,/);
    assert.match(svg, /TCP 12345 → \d+ \[S\.\] seq 0, ack 1,/);
    assert.match(svg, /\[FP?\.\]/);
    assert.match(svg, /<g class="arrow retransmission">/);
    assert.match(svg, />192\.0\.2\.2</);
  });

  test(`timeseq of the ${which} capture: the busiest direction by default, pstack's with --conn, retransmissions marked`, { skip: skip ?? false, timeout: 120_000 }, async () => {
    const file = which === 'tcpdump' ? kernelPcap : ownPcap;
    // Without --conn: the busiest direction (either way carries the 300 KiB, plus retransmissions).
    const busiest = (await draw(['timeseq', file])).svg;
    assert.equal(xmlProblem(busiest), null);
    const bytes = Number(/<title>[^<]*192\.0\.2\.\d:\d+ → 192\.0\.2\.\d:\d+ \((\d+) bytes\)/.exec(busiest)![1]);
    assert.ok(bytes >= 300 * 1024, `${bytes} bytes`);
    // pstack's direction, named: the one the loss rule hit.
    const { svg: ladder } = await draw(['ladder', file, '-c', '20']);
    const port = /TCP (\d+) → 12345 \[S\]/.exec(ladder)![1];
    const { svg } = await draw(['timeseq', file, '--conn', `192.0.2.2:12345-192.0.2.1:${port}`]);
    assert.equal(xmlProblem(svg), null);
    assert.match(svg, new RegExp(`<title>[^<]*192\\.0\\.2\\.2:12345 → 192\\.0\\.2\\.1:${port} \\(\\d+ bytes\\)`));
    const retrans = Number(/(\d+) retransmissions/.exec(svg)![1]);
    assert.ok(retrans > 0, `retransmissions drawn (${dropped} segments dropped)`);
    assert.match(svg, /class="retransmission" data-count="\d+"/);
    assert.match(svg, /class="segment" data-count="\d+"/);
    assert.match(svg, /class="ack"/);
    assert.match(svg, /class="window"/);
    assert.match(svg, /class="marker SYN"/);
    assert.match(svg, /class="marker FIN"/);
  });
}

test('draw reports a missing file and a bad flag in one line', { timeout: 60_000 }, async () => {
  const missing = await run(process.execPath, [CLI, 'draw', 'ladder', '/nonexistent/x.pcap']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'pstack: cannot read /nonexistent/x.pcap: no such file\n');
  const bad = await run(process.execPath, [CLI, 'draw', 'ladder', 'x.pcap', '--conn', 'nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pstack: invalid --conn "nope"/);
  const notCapture = await run(process.execPath, [CLI, 'draw', 'timeseq', CLI]);
  assert.equal(notCapture.code, 1);
  assert.match(notCapture.stderr, /^pstack: .*main\.js: no packets \(not a pcap or pcapng file \(magic 0x[0-9a-f]{8}\)\)\n$/);
  const kind = await run(process.execPath, [CLI, 'draw', 'pie', 'x.pcap']);
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /unknown picture "pie"/);
});
