// Peers that behave badly within the rules, attacking `pstack server` from the kernel's side of
// its tap (test/e2e/hostile_peer.py: raw sockets and AF_PACKET), and the Linux kernel the same
// way for comparison:
//  (a) a SYN offering MSS 48 or 1 (nftables rewrites the kernel client's SYN), then a bulk read
//      from chargen, offloads on and off: every segment, a GSO segment by its pieces, fits 48;
//  (b) a forged Fragmentation Needed with MTU 68 for a live bulk connection: segments shrink
//      to the 552-byte floor, no further, and leave without DF;
//  (c) in-window RSTs on one connection: the challenge ACKs on another are the same as without
//      them, and bounded per connection;
//  (d) a UDP flood to closed ports from one source: it gets the per-destination share of
//      Port Unreachables, another source still gets all of its own.
//
// Namespaces: P (pstack, offloads on, tap host side 192.0.2.1; also the attacker and the Linux
// client), Q (pstack --offload off), L (Linux, 198.51.100.2, on a veth from P at 198.51.100.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, run, ROOT, type ServerHandle } from './harness.js';

const PY = '/usr/bin/python3';
const HELPER = join(ROOT, 'test/e2e/hostile_peer.py');

function unavailable(): string | null {
  const base = e2eUnavailable();
  if (base !== null) return base;
  if (existsSync(PY) && existsSync('/usr/sbin/nft')) return null;
  const why = `these tests need ${PY} and nft`;
  if (process.env['CI']) throw new Error(why);
  return why;
}

const skip = unavailable();
let nsP: Netns;
let nsQ: Netns;
let nsL: Netns;
let pstackP: ServerHandle;
let pstackQ: ServerHandle;
let linux: ChildProcess | null = null;
const compared: Record<string, unknown> = {};

async function helper(ns: Netns, args: string[]): Promise<Record<string, any>> {
  const r = await ns.exec('timeout', ['90', PY, HELPER, ...args], { timeoutMs: 100_000 });
  assert.equal(r.code, 0, `hostile_peer.py ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** Every SYN leaving `ns` offers MSS `mss` (null: as the kernel chose). */
async function rewriteSynMss(ns: Netns, mss: number | null): Promise<void> {
  await ns.exec('nft', ['delete', 'table', 'ip', 'hostile']);
  if (mss === null) return;
  await ns.must('nft', ['-f', '-'], {
    input: `table ip hostile {\n  chain out { type filter hook output priority -150; tcp flags syn tcp option maxseg size set ${mss}; }\n}\n`,
  });
}

before(async () => {
  if (skip) return;
  nsP = await Netns.create('hostp');
  nsQ = await Netns.create('hostq');
  nsL = await Netns.create('hostl');
  [pstackP, pstackQ] = await Promise.all([
    startPstack(nsP, ['server', '--control', 'none']),
    startPstack(nsQ, ['server', '--control', 'none', '--offload', 'off']),
  ]);
  const link = await run('ip', ['link', 'add', 'hp0', 'netns', nsP.name, 'type', 'veth', 'peer', 'name', 'hl0', 'netns', nsL.name]);
  assert.equal(link.code, 0, link.stderr);
  await nsP.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'hp0']);
  await nsP.must('ip', ['addr', 'add', '198.51.100.3/24', 'dev', 'hp0']);
  await nsP.must('ip', ['link', 'set', 'hp0', 'up']);
  await nsP.must('ip', ['addr', 'add', '192.0.2.3/24', 'dev', 'tap0']);
  await nsL.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'hl0']);
  await nsL.must('ip', ['link', 'set', 'hl0', 'up']);
  linux = nsL.spawn(PY, [HELPER, 'serve', '198.51.100.2']);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('hostile_peer.py serve did not start')), 10_000);
    linux!.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  // Both neighbours known before anything is measured.
  await nsP.must('ping', ['-c', '1', '-W', '2', '192.0.2.2']);
  await nsP.must('ping', ['-c', '1', '-W', '2', '198.51.100.2']);
});

after(async () => {
  if (skip) return;
  console.log(`hostile peers, pstack and Linux side by side: ${JSON.stringify(compared)}`);
  const codes = [await pstackP?.stop(), await pstackQ?.stop()];
  linux?.kill('SIGKILL');
  for (const ns of [nsP, nsQ, nsL]) await ns?.destroy();
  assert.deepEqual(codes, [0, 0], 'both pstack servers exit cleanly');
  assert.match(pstackP.log, /internal errors: 0\b/);
  assert.match(pstackQ.log, /internal errors: 0\b/);
});

for (const offered of [48, 1]) {
  test(`(a) a SYN offering MSS ${offered}: no segment pstack sends exceeds 48 bytes, offloads on or off`, { skip: skip ?? false }, async () => {
    const BYTES = '200000';
    try {
      await rewriteSynMss(nsP, offered);
      await rewriteSynMss(nsQ, offered);
      const on = await helper(nsP, ['mss', 'tap0', '192.0.2.2', '19', BYTES]);
      const off = await helper(nsQ, ['mss', 'tap0', '192.0.2.2', '19', BYTES]);
      const kernel = await helper(nsP, ['mss', 'hp0', '198.51.100.2', '19', BYTES]);
      compared[`mss${offered}`] = { pstackTso: on, pstackOffloadOff: off, linux: kernel };
      for (const [name, r] of [['offloads on', on], ['offloads off', off]] as const) {
        assert.equal(r['synMss'], offered, `${name}: the SYN offered MSS ${offered}`);
        assert.ok(r['received'] >= Number(BYTES), `${name}: ${r['received']} bytes read`);
        assert.ok(r['segments'] > 20, `${name}: segments measured`);
        assert.equal(r['maxSegment'], 48, `${name}: every segment (data and options) within the floor of 48: ${JSON.stringify(r['sizes'])}`);
      }
      assert.ok(on['gso'] > 0, 'offloads on: pstack handed GSO segments to the tap');
      assert.equal(off['gso'], 0);
      // Linux, the same attack: the same floor.
      assert.ok(kernel['maxSegment'] <= 48, `Linux: ${JSON.stringify(kernel)}`);
    } finally {
      await rewriteSynMss(nsP, null);
      await rewriteSynMss(nsQ, null);
    }
  });
}

test('(b) a forged Fragmentation Needed with MTU 68: segments stay at the 552-byte floor, without DF', { skip: skip ?? false }, async (t) => {
  const r = await helper(nsP, ['pmtu', 'tap0', '192.0.2.2', '19', '192.0.2.1', '68']);
  const kernel = await helper(nsP, ['pmtu', 'hp0', '198.51.100.2', '19', '198.51.100.1', '68']);
  compared['pmtu68'] = { pstack: { before: r['before']?.sizes, after: r['after'] }, linux: { before: kernel['before']?.sizes, after: kernel['after'] } };
  assert.ok(r['forged'], 'the ICMP was sent');
  assert.equal(r['before']['maxSegment'], 1460, 'full-sized segments before');
  const a = r['after'];
  assert.ok(a['segments'] > 10, `${JSON.stringify(a)}; received ${r['received']} bytes`);
  assert.equal(a['maxSegment'], 552 - 40, `the floor, not 68: ${JSON.stringify(a['sizes'])}`);
  assert.equal(a['df'], 0, 'DF off once the MTU is held at the floor');
  // Linux beside it, when its transfer was still running after the forged message (on a loaded
  // machine the kernel's bulk read can end first, leaving nothing to measure).
  if (kernel['after']['segments'] > 10) assert.equal(kernel['after']['maxSegment'], 552 - 40, `Linux does the same: ${JSON.stringify(kernel['after'])}`);
  else t.diagnostic(`Linux: no segments after the forged message to compare: ${JSON.stringify(kernel['after'])}`);
});

test('(c) in-window RSTs on one connection leave the challenge ACKs on another unchanged, bounded per connection', { skip: skip ?? false }, async () => {
  const r = await helper(nsP, ['challenge', 'tap0', '192.0.2.2', '12345', '200']);
  const kernel = await helper(nsP, ['challenge', 'hp0', '198.51.100.2', '12345', '200']);
  compared['challenge'] = { pstack: r, linux: kernel };
  assert.ok(r['alive'], 'both connections still work');
  const rounds = r['rounds'] as Array<{ attack: boolean; onA: number; onB: number }>;
  for (const x of rounds) {
    // 10 probes over ~1 s: one challenge ACK per 500 ms.
    assert.ok(x.onB >= 1 && x.onB <= 3, JSON.stringify(rounds));
    if (x.attack) assert.ok(x.onA <= 1, `200 RSTs at once on A draw one challenge ACK: ${JSON.stringify(rounds)}`);
  }
  const quiet = rounds.filter((x) => !x.attack).map((x) => x.onB);
  const attacked = rounds.filter((x) => x.attack).map((x) => x.onB);
  assert.ok(Math.abs(Math.max(...attacked) - Math.max(...quiet)) <= 1 && Math.abs(Math.min(...attacked) - Math.min(...quiet)) <= 1,
    `B's count does not depend on the attack on A: ${JSON.stringify(rounds)}`);
});

test('(d) a UDP flood to closed ports from one source gets the per-destination share of errors; another source gets its own', { skip: skip ?? false }, async () => {
  const r = await helper(nsP, ['icmpflood', '192.0.2.2', '192.0.2.1', '192.0.2.3', '500']);
  const kernel = await helper(nsP, ['icmpflood', '198.51.100.2', '198.51.100.1', '198.51.100.3', '500']);
  compared['icmpflood'] = { pstack: r, linux: kernel };
  // A burst of 6, then one a second.
  const most = 6 + Math.ceil(r['seconds'] + 1);
  assert.ok(r['fromFlooded'] >= 6 && r['fromFlooded'] <= most, JSON.stringify(r));
  assert.equal(r['fromOther'], 5, `the other source still gets every error: ${JSON.stringify(r)}`);
  assert.ok(kernel['fromFlooded'] <= most, `Linux: ${JSON.stringify(kernel)}`);
});
