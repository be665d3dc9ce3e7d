/**
 * `npm run bench`: pstack against the Linux kernel on the same machine, in the same run.
 *
 * pstack runs `pstack server` on a TAP in a namespace of its own; the kernel reference is a
 * veth pair between two namespaces. Both are pinged by the same iputils ping:
 *   - paced RTT: 200 pings at 10 ms intervals (median of the per-ping RTTs, and the mean);
 *   - flood: `ping -f` for 5 s, replies per second.
 * Both sides are warmed up with 2 s of flood first (JIT warm-up for pstack; caches for both).
 * Results are printed with ratios (pstack / kernel) and written to bench/results.json.
 * Only documentation addresses, only namespaces this script creates; all loops bounded.
 */

import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { Netns, startPstack, ROOT } from '../test/e2e/harness.js';

interface PingStats {
  sent: number;
  received: number;
  rttAvgMs: number;
  rttMedianMs: number;
}

function parsePaced(out: string): PingStats {
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sent = Number(out.match(/(\d+) packets transmitted/)?.[1] ?? 0);
  const received = Number(out.match(/(\d+) received/)?.[1] ?? 0);
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : NaN;
  const avg = Number(out.match(/rtt min\/avg\/max\/mdev = [\d.]+\/([\d.]+)\//)?.[1] ?? NaN);
  return { sent, received, rttAvgMs: avg, rttMedianMs: median };
}

async function pacedPing(ns: Netns, dst: string): Promise<PingStats> {
  const r = await ns.exec('ping', ['-c', '200', '-i', '0.01', '-W', '1', dst], { timeoutMs: 30_000 });
  return parsePaced(r.stdout);
}

async function floodPing(ns: Netns, dst: string, seconds: number): Promise<{ received: number; perSecond: number }> {
  const r = await ns.exec('ping', ['-f', '-q', '-w', String(seconds), dst], { timeoutMs: (seconds + 10) * 1000 });
  const received = Number(r.stdout.match(/(\d+) received/)?.[1] ?? 0);
  return { received, perSecond: received / seconds };
}

async function main(): Promise<void> {
  const floodSeconds = Number(process.env['PSTACK_BENCH_FLOOD_SECONDS'] ?? 5);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
  };

  // Kernel reference: veth between two namespaces.
  const ka = await Netns.create('bka');
  const kb = await Netns.create('bkb');
  const ps = await Netns.create('bps');
  try {
    await ka.must('ip', ['link', 'add', 'vbench0', 'type', 'veth', 'peer', 'name', 'vbench1', 'netns', kb.name]);
    await ka.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vbench0']);
    await ka.must('ip', ['link', 'set', 'vbench0', 'up']);
    await kb.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vbench1']);
    await kb.must('ip', ['link', 'set', 'vbench1', 'up']);
    // Offloads off, as a TAP-attached stack has none by default: compare like with like.
    await ka.exec('ethtool', ['-K', 'vbench0', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    await kb.exec('ethtool', ['-K', 'vbench1', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    await ka.exec('ping', ['-c', '2', '-i', '0.2', '198.51.100.2']);

    const server = await startPstack(ps, ['server', '--log-level', 'warn'], /pstack server started|^/);
    try {
      await ps.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '192.0.2.2']);
      // Warm up both sides the same way (2 s of flood) before measuring: pstack's code is
      // interpreted until V8 has seen it run often, and a paced run alone never gets it there.
      await floodPing(ka, '198.51.100.2', 2);
      await floodPing(ps, '192.0.2.2', 2);
      process.stderr.write('paced ping (200 x 10 ms)...\n');
      const kernelPaced = await pacedPing(ka, '198.51.100.2');
      const pstackPaced = await pacedPing(ps, '192.0.2.2');
      process.stderr.write(`flood ping (${floodSeconds} s each)...\n`);
      const kernelFlood = await floodPing(ka, '198.51.100.2', floodSeconds);
      const pstackFlood = await floodPing(ps, '192.0.2.2', floodSeconds);
      results['ping'] = {
        kernel: { paced: kernelPaced, flood: kernelFlood },
        pstack: { paced: pstackPaced, flood: pstackFlood },
        ratios: {
          pacedRttMedian: pstackPaced.rttMedianMs / kernelPaced.rttMedianMs,
          floodRepliesPerSecond: pstackFlood.perSecond / kernelFlood.perSecond,
        },
      };
      const f = (n: number, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
      const lines = [
        '',
        'metric                          pstack      kernel(veth)   pstack/kernel',
        `ping paced RTT median (ms)      ${f(pstackPaced.rttMedianMs).padEnd(12)}${f(kernelPaced.rttMedianMs).padEnd(15)}${f(pstackPaced.rttMedianMs / kernelPaced.rttMedianMs, 2)}`,
        `ping paced RTT mean (ms)        ${f(pstackPaced.rttAvgMs).padEnd(12)}${f(kernelPaced.rttAvgMs).padEnd(15)}${f(pstackPaced.rttAvgMs / kernelPaced.rttAvgMs, 2)}`,
        `ping paced replies              ${String(pstackPaced.received).padEnd(12)}${String(kernelPaced.received).padEnd(15)}`,
        `ping -f replies/s               ${f(pstackFlood.perSecond, 0).padEnd(12)}${f(kernelFlood.perSecond, 0).padEnd(15)}${f(pstackFlood.perSecond / kernelFlood.perSecond, 2)}`,
        '',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    } finally {
      const code = await server.stop();
      if (code !== 0) process.stderr.write(`pstack server exited with ${code}\n${server.log.slice(-2000)}\n`);
    }
  } finally {
    await ps.destroy();
    await ka.destroy();
    await kb.destroy();
  }
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
  process.stderr.write('wrote bench/results.json\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
