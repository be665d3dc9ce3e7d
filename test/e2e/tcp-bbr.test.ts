// BBR through random loss, pstack next to Linux. A tc filter drops 2% of the packets each way
// (impair.ts; this kernel has no sch_netem): on pstack's tap, and on one end of a veth pair
// joining two kernel namespaces. The sender is a chargen server (RFC 864 pattern): pstack's own (port 19)
// with --congestion bbr and with cubic, and Linux's (chargen.py serve) with
// net.ipv4.tcp_congestion_control=bbr. A Linux client reads 20 MB and checks every byte
// (chargen.py read). Offloads are off everywhere, so a drop is one wire segment. The test
// checks that every transfer is intact and bounded, that the rules really dropped packets
// both ways, and that pstack ss shows the BBR model. It reports the median times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, ROOT, type ServerHandle } from './harness.js';
import { kernelRetransSegs, lossCounters, setRandomLoss } from './impair.js';

const skip = e2eUnavailable();
const CHARGEN = join(ROOT, 'test/e2e/chargen.py');
const BYTES = 20 * 1000 * 1000;
/** Packets dropped, per mille, each way. */
const LOSS_PER_MILLE = 20;
const RUNS = 3;
/** The bound on one transfer (s): far above what either stack takes, so only a stall fails it. */
const TRANSFER_LIMIT_S = 25;

let pns: Netns;
let ka: Netns;
let kb: Netns;
let control: string;

/** Use BBR for this namespace's kernel sockets (the setting is per network namespace). */
async function kernelBbr(where: Netns): Promise<void> {
  const avail = (await where.must('sysctl', ['-n', 'net.ipv4.tcp_available_congestion_control'])).stdout;
  if (!/\bbbr\b/.test(avail)) await run('modprobe', ['tcp_bbr']); // a modular kernel
  await where.must('sysctl', ['-qw', 'net.ipv4.tcp_congestion_control=bbr']);
  assert.equal((await where.must('sysctl', ['-n', 'net.ipv4.tcp_congestion_control'])).stdout.trim(), 'bbr');
}

/** Read BYTES of chargen from addr:port in `from`, checked; the seconds it took. */
async function sink(from: Netns, addr: string, port: number): Promise<number> {
  const r = await from.exec('/usr/bin/python3', [CHARGEN, 'read', addr, String(port), String(BYTES), String(TRANSFER_LIMIT_S)], { timeoutMs: (TRANSFER_LIMIT_S + 10) * 1000 });
  assert.equal(r.code, 0, `chargen from ${addr}:${port}: ${r.stderr}`);
  const m = r.stdout.match(/seconds ([\d.]+)/);
  assert.ok(m, r.stdout);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

before(async () => {
  if (skip) return;
  pns = await Netns.create('bbrp');
  ka = await Netns.create('bbra');
  kb = await Netns.create('bbrb');
  control = `/run/pstack/bbr-${process.pid}.sock`;
  await ka.must('ip', ['link', 'add', 'vbbr0', 'type', 'veth', 'peer', 'name', 'vbbr1', 'netns', kb.name]);
  await ka.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vbbr0']);
  await kb.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vbbr1']);
  await ka.must('ip', ['link', 'set', 'vbbr0', 'up']);
  await kb.must('ip', ['link', 'set', 'vbbr1', 'up']);
  for (const [n, dev] of [[ka, 'vbbr0'], [kb, 'vbbr1']] as const) {
    await n.must('ethtool', ['-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }
  for (const n of [pns, ka, kb]) await kernelBbr(n);
});

after(async () => {
  if (skip) return;
  await pns?.destroy();
  await ka?.destroy();
  await kb?.destroy();
});

/** Start pstack with `congestion` in pns, the loss rules on its tap (fresh counters). */
async function startWith(congestion: string): Promise<ServerHandle> {
  const server = await startPstack(pns, ['server', '--control', control, '--offload', 'off', '--congestion', congestion]);
  await setRandomLoss(pns, 'tap0', LOSS_PER_MILLE);
  await pns.must('ethtool', ['-K', 'tap0', 'gro', 'off']);
  return server;
}

test('20 MB through 2% loss each way: pstack BBR, pstack CUBIC and Linux BBR, intact; medians reported', { skip: skip ?? false, timeout: 600_000 }, async (t) => {
  const times: Record<string, number[]> = { 'pstack bbr': [], 'pstack cubic': [], 'linux bbr': [] };
  // Linux to Linux over the veth, BBR sending.
  await setRandomLoss(ka, 'vbbr0', LOSS_PER_MILLE);
  const retransBefore = await kernelRetransSegs(kb);
  const k = kb.spawn('/usr/bin/python3', [CHARGEN, 'serve', '198.51.100.2', '19', '300']);
  try {
    await new Promise<void>((resolve, reject) => {
      k.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('ready')) resolve(); });
      k.on('close', (code) => reject(new Error(`chargen.py serve exited ${code}`)));
    });
    for (let i = 0; i < RUNS; i++) times['linux bbr']!.push(await sink(ka, '198.51.100.2', 19));
  } finally {
    k.kill('SIGTERM');
  }
  const kernelDrops = await lossCounters(ka, 'vbbr0');
  assert.ok(kernelDrops.egress > 0 && kernelDrops.ingress > 0, `the veth filters dropped both ways: ${JSON.stringify(kernelDrops)}`);
  assert.ok((await kernelRetransSegs(kb)) > retransBefore, 'the kernel sender retransmitted');

  for (const congestion of ['bbr', 'cubic']) {
    const server = await startWith(congestion);
    try {
      for (let i = 0; i < RUNS; i++) times[`pstack ${congestion}`]!.push(await sink(pns, '192.0.2.2', 19));
      const stats = await run(process.execPath, [CLI, 'stats', '--control', control]);
      assert.equal(stats.code, 0, stats.stderr);
      t.diagnostic(`pstack ${congestion}: ` + stats.stdout.split('\n').filter((l) => /timeouts|retrans|loss probe|rack losses|fast retrans/i.test(l)).map((l) => l.trim()).join(', '));
      const drops = await lossCounters(pns, 'tap0');
      t.diagnostic(`pstack ${congestion}: the tap's filters dropped ${drops.egress} toward pstack, ${drops.ingress} from it`);
      assert.ok(drops.egress > 0 && drops.ingress > 0, `the tap filters dropped both ways: ${JSON.stringify(drops)}`);
      if (congestion === 'bbr') {
        // A connection of its own, left open, to see the model in pstack ss.
        const reader = pns.spawn('/usr/bin/python3', ['-c', 'import socket,time;s=socket.create_connection(("192.0.2.2",19));s.recv(1<<16);time.sleep(20)']);
        try {
          let ss = '';
          for (let i = 0; i < 100 && !/bbr:\(bw:/.test(ss); i++) {
            await new Promise((r) => setTimeout(r, 200));
            const r = await run(process.execPath, [CLI, 'ss', '--control', control]);
            assert.equal(r.code, 0, r.stderr);
            ss = r.stdout;
          }
          t.diagnostic(ss.split('\n').filter((l) => /bbr/.test(l)).join(' | '));
          assert.match(ss, /bbr:\(bw:[\d.]+[KMG]?bps,mrtt:[\d.]+,pacing_gain:[\d.]+,cwnd_gain:[\d.]+\) pacing_rate [\d.]+[KMG]?bps bbr_state:\w+/);
        } finally {
          reader.kill('SIGTERM');
        }
      }
      assert.equal(server.child.exitCode, null);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.doesNotMatch(server.log, /internal errors: [1-9]|uncaught/i);
  }

  const line = Object.entries(times).map(([k, v]) => `${k} ${median(v).toFixed(2)} s (${v.map((x) => x.toFixed(2)).join(', ')})`).join('; ');
  t.diagnostic(`20 MB through 2% loss each way, medians of ${RUNS}: ${line}`);
});
