// TCP through a lossy, duplicating link on the kernel side: the transfer must still arrive
// intact. This kernel is built without sch_netem (CONFIG_NET_SCH_NETEM is not set), so the
// loss is a tc filter on the tap (impair.ts: a packet dropped by nftables' egress hook is
// sent again by the kernel at once, so it would be lost only toward the kernel) and the
// duplication toward pstack is nftables'. Every test checks the drop counters of both
// directions. Reordering has no equivalent here; the unit tests cover it on the in-memory
// wire (tcp-transfer, tcp-rack).
//
// Then 20 MB echoed through 1%, 3% and 10% loss each way, pstack (with --offload off, so a
// dropped packet is one wire segment) next to Linux talking to Linux over a veth pair with the
// same rules, in the same run: intact, within a generous bound, and pstack's counters show
// RACK and the tail loss probe at work. bench/loss.ts makes the full table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';
import { kernelRetransSegs, lossCounters, setRandomLoss } from './impair.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;

const DUPLICATE = `
table netdev impair {
  chain to_pstack {
    type filter hook egress device "tap0" priority 0;
    ip protocol tcp numgen random mod 100 < 2 counter dup to "tap0"
  }
}
`;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-impair-'));
  ns = await Netns.create('lossy');
  server = await startPstack(ns, ['server', '--control', 'none']);
  await ns.must('nft', ['-f', '-'], { input: DUPLICATE });
  await setRandomLoss(ns, 'tap0', 50);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('5 MB echoed through 5% loss each way and 2% duplication arrives intact', { skip: skip ?? false }, async () => {
  const input = randomBytes(5 * 1024 * 1024);
  const inPath = join(dir, 'in.bin');
  const outPath = join(dir, 'out.bin');
  writeFileSync(inPath, input);
  const retransBefore = await kernelRetransSegs(ns);
  const r = await ns.exec('sh', ['-c', `nc -N 192.0.2.2 12345 < ${inPath} > ${outPath}`], { timeoutMs: 150_000 });
  assert.equal(r.code, 0, r.stderr);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(readFileSync(outPath)), sha(input));
  // The impairment really happened: packets were lost both ways and duplicated.
  const counters = (await ns.must('nft', ['list', 'table', 'netdev', 'impair'])).stdout;
  const dups = [...counters.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(dups.length, 1);
  assert.ok(dups[0]! > 0, 'segments were duplicated toward pstack');
  const lost = await lossCounters(ns, 'tap0');
  // (pstack sends with TSO here: its 5 MB leave in a few hundred large frames, so 5% of what
  // comes from it is some 40 frames.)
  assert.ok(lost.egress > 50 && lost.ingress > 10, `packets lost both ways: ${JSON.stringify(lost)}`);
  // ...and the kernel's sender saw its losses as losses (a drop it is told about is no loss).
  assert.ok(await kernelRetransSegs(ns) - retransBefore > 50, 'the kernel retransmitted toward pstack');
  assert.equal(server.child.exitCode, null);
});

/** Echo `path` through `addr`:12345 from `from` with nc; seconds taken and the reply's SHA-256. */
async function echoThrough(from: Netns, addr: string, inPath: string, outPath: string): Promise<{ seconds: number; sha: string }> {
  const t0 = performance.now();
  const r = await from.exec('sh', ['-c', `timeout 280 nc -N ${addr} 12345 < ${inPath} > ${outPath}`], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  return { seconds: (performance.now() - t0) / 1000, sha: createHash('sha256').update(readFileSync(outPath)).digest('hex') };
}

test('20 MB echoed through 1%, 3% and 10% loss: intact, next to Linux over a veth, RACK-TLP at work', { skip: skip ?? false, timeout: 1_500_000 }, async (t) => {
  const rackNs = await Netns.create('rackp');
  const ka = await Netns.create('racka');
  const kb = await Netns.create('rackb');
  const control = join(dir, 'rack-control.sock');
  let rackServer: ServerHandle | null = null;
  let echo: ReturnType<Netns['spawn']> | null = null;
  try {
    rackServer = await startPstack(rackNs, ['server', '--control', control, '--offload', 'off']);
    await ka.must('ip', ['link', 'add', 'vrack0', 'type', 'veth', 'peer', 'name', 'vrack1', 'netns', kb.name]);
    await ka.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vrack0']);
    await kb.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vrack1']);
    await ka.must('ip', ['link', 'set', 'vrack0', 'up']);
    await kb.must('ip', ['link', 'set', 'vrack1', 'up']);
    for (const [n, dev] of [[ka, 'vrack0'], [kb, 'vrack1']] as const) {
      await n.must('ethtool', ['-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }
    // CUBIC everywhere, as pstack (this VM's default may be BBR).
    for (const n of [rackNs, ka, kb]) await n.exec('sysctl', ['-qw', 'net.ipv4.tcp_congestion_control=cubic']);
    echo = kb.spawn('socat', ['TCP-LISTEN:12345,reuseaddr,fork', 'EXEC:cat']);
    const input = randomBytes(20 * 1024 * 1024);
    const inPath = join(dir, 'rack-in.bin');
    const outPath = join(dir, 'rack-out.bin');
    writeFileSync(inPath, input);
    const want = createHash('sha256').update(input).digest('hex');
    for (let i = 0; i < 50; i++) {
      if ((await kb.exec('sh', ['-c', 'ss -ltn | grep -q ":12345 "'])).code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows: string[] = [];
    for (const perMille of [10, 30, 100]) {
      await setRandomLoss(rackNs, 'tap0', perMille);
      await setRandomLoss(ka, 'vrack0', perMille);
      const retransBefore = [await kernelRetransSegs(rackNs), await kernelRetransSegs(ka)];
      const p = await echoThrough(rackNs, '192.0.2.2', inPath, outPath);
      assert.equal(p.sha, want, `pstack, ${perMille / 10}% loss: intact`);
      const k = await echoThrough(ka, '198.51.100.2', inPath, outPath);
      assert.equal(k.sha, want, `Linux, ${perMille / 10}% loss: intact`);
      // 20 MB is about 15,000 segments each way: both directions really lost packets.
      for (const [where, dev] of [[rackNs, 'tap0'], [ka, 'vrack0']] as const) {
        const lost = await lossCounters(where, dev);
        assert.ok(lost.egress > perMille && lost.ingress > perMille, `${dev}, ${perMille / 10}% loss: dropped both ways ${JSON.stringify(lost)}`);
      }
      const retrans = [await kernelRetransSegs(rackNs) - retransBefore[0]!, await kernelRetransSegs(ka) - retransBefore[1]!];
      assert.ok(retrans[0]! > perMille && retrans[1]! > perMille, `the kernel's senders retransmitted: ${retrans.join(', ')}`);
      rows.push(`${perMille / 10}% loss: pstack ${p.seconds.toFixed(1)} s, Linux ${k.seconds.toFixed(1)} s`);
      t.diagnostic(rows.at(-1)!);
    }
    const stats = await run(process.execPath, [CLI, 'stats', '--control', control]);
    assert.equal(stats.code, 0, stats.stderr);
    const count = (words: string): number => Number(stats.stdout.match(new RegExp(`(\\d+) ${words}\\n`))?.[1] ?? -1);
    t.diagnostic(stats.stdout.split('\n').filter((l) => /rack|loss probe|lost|reorder|retrans|timeouts|recover/i.test(l)).join(' |'));
    assert.ok(count('rack losses') > 100, 'RACK judged segments lost');
    assert.ok(count('tail loss probes') > 0, 'tail loss probes were sent');
    assert.ok(count('fast retransmits') > 0, 'RACK started fast recovery');
    assert.equal(rackServer.child.exitCode, null);
  } finally {
    echo?.kill('SIGTERM');
    if (rackServer !== null) assert.equal(await rackServer.stop(), 0);
    await rackNs.destroy();
    await ka.destroy();
    await kb.destroy();
  }
});

test('the server shuts down cleanly afterwards with no internal errors', { skip: skip ?? false }, async () => {
  assert.equal(await server.stop(), 0);
  assert.match(server.log, /internal errors: 0/);
});
