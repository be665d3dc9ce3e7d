/**
 * A/B of the TAP busy-poll modes on one running pstack host, interleaved round by round so
 * that the noise of a shared machine falls on every mode alike (npm run bench runs the modes
 * one after another, a minute apart):
 *
 *   npx tsc -p . && node dist/bench/ping-ab.js [--modes 0,50,200,always] [--rounds 4] [--flood-seconds 2]
 *
 * Needs root. Creates its own namespaces (deleted at the end, whatever happens): pstack on a
 * TAP in one (the same assembly as `pstack server`, in a child process whose busy polling is
 * switched between modes through its stdin), and the kernel over a veth pair between two
 * others. Per round and mode: paced ping (100 at 10 ms, median RTT), ping -f with ping on
 * CPU 0 and pstack on CPU 1, and both on CPU 0; the kernel's paced and pinned flood figures
 * once per round. Prints medians over rounds and pstack's CPU use (utime+stime, % of one CPU).
 * Only documentation addresses; every ping bounded in count and time.
 */

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { Netns } from '../test/e2e/harness.js';
import { cpuSeconds, median, startBenchHost } from './common.js';

const SELF = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    inner: { type: 'boolean' },
    modes: { type: 'string' },
    rounds: { type: 'string' },
    'flood-seconds': { type: 'string' },
  },
  strict: true,
});

async function inner(): Promise<void> {
  const host = await startBenchHost();
  const tap = host.taps[0]!;
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const mode = line.trim();
    tap.setBusyPoll(mode === 'always' ? 'always' : Number(mode));
    process.stdout.write(`mode ${mode}\n`);
  });
  lines.on('close', () => {
    host.close();
    process.exit(0);
  });
  process.stdout.write('ready\n');
}

async function outer(): Promise<void> {
  const modes = (values.modes ?? '0,50,200,always').split(',');
  const rounds = Math.min(Math.max(Number(values.rounds ?? 4), 1), 20);
  const floodSeconds = Math.min(Math.max(Number(values['flood-seconds'] ?? 2), 1), 5);
  const ps = await Netns.create('abp');
  const ka = await Netns.create('abka');
  const kb = await Netns.create('abkb');
  try {
    await ka.must('ip', ['link', 'add', 'vab0', 'type', 'veth', 'peer', 'name', 'vab1', 'netns', kb.name]);
    await ka.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vab0']);
    await ka.must('ip', ['link', 'set', 'vab0', 'up']);
    await kb.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vab1']);
    await kb.must('ip', ['link', 'set', 'vab1', 'up']);
    const child = spawn('ip', ['netns', 'exec', ps.name, process.execPath, SELF, '--inner'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out = createInterface({ input: child.stdout! });
    const waiters: ((line: string) => void)[] = [];
    out.on('line', (line) => waiters.shift()?.(line));
    const next = () => new Promise<string>((r) => waiters.push(r));
    const timeout = setTimeout(() => child.kill('SIGKILL'), (rounds * modes.length * (2 * floodSeconds + 4) + 120) * 1000);
    try {
      if ((await next()) !== 'ready') throw new Error('inner host did not start');
      const pid = child.pid!;
      const paced = async (ns: Netns, dst: string) => {
        const r = await ns.exec('ping', ['-c', '100', '-i', '0.01', '-W', '1', dst], { timeoutMs: 20_000 });
        return median([...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])));
      };
      const flood = async (ns: Netns, dst: string) => {
        const r = await ns.exec('taskset', ['-c', '0', 'ping', '-f', '-q', '-c', String(floodSeconds * 200_000), '-w', String(floodSeconds), dst], { timeoutMs: (floodSeconds + 10) * 1000 });
        return Number(r.stdout.match(/(\d+) received/)?.[1] ?? 0) / floodSeconds;
      };
      const pin = (cpus: string) => execFileSync('taskset', ['-apc', cpus, String(pid)], { stdio: 'ignore', timeout: 5000 });
      await ps.exec('ping', ['-c', '2', '-w', '5', '192.0.2.2']);
      await flood(ps, '192.0.2.2'); // JIT warm-up
      await flood(ka, '198.51.100.2');
      type Row = { paced: number[]; cross: number[]; same: number[]; cpuPaced: number[]; cpuCross: number[]; cpuIdle: number[] };
      const rows = new Map<string, Row>(modes.map((m) => [m, { paced: [], cross: [], same: [], cpuPaced: [], cpuCross: [], cpuIdle: [] }]));
      const kernel = { paced: [] as number[], flood: [] as number[] };
      for (let round = 1; round <= rounds; round++) {
        kernel.paced.push(await paced(ka, '198.51.100.2'));
        kernel.flood.push(await flood(ka, '198.51.100.2'));
        // Rotate the order so no mode always follows the same one.
        const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
        for (const mode of order) {
          const row = rows.get(mode)!;
          child.stdin!.write(`${mode}\n`);
          await next();
          const measure = async <T>(what: () => Promise<T>, cpu: number[]): Promise<T> => {
            const c0 = cpuSeconds(pid);
            const t0 = performance.now();
            const v = await what();
            cpu.push(((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100);
            return v;
          };
          pin('0-1');
          await measure(() => new Promise((r) => setTimeout(r, 500)), row.cpuIdle);
          row.paced.push(await measure(() => paced(ps, '192.0.2.2'), row.cpuPaced));
          pin('1');
          row.cross.push(await measure(() => flood(ps, '192.0.2.2'), row.cpuCross));
          pin('0');
          row.same.push(await flood(ps, '192.0.2.2'));
          pin('0-1');
        }
        process.stderr.write(`round ${round}/${rounds} done\n`);
      }
      child.stdin!.end();
      const kp = median(kernel.paced), kf = median(kernel.flood);
      const f = (n: number, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
      const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
      const lines = [
        `medians over ${rounds} interleaved rounds; kernel (veth): paced ${f(kp)} ms, ping -f with ping on CPU 0 ${k(kf)}/s`,
        `${'busy-poll'.padEnd(10)}${'paced ms'.padEnd(10)}${'x kernel'.padEnd(10)}${'-f other CPU'.padEnd(14)}${'-f same CPU'.padEnd(13)}CPU % idle / paced / -f other CPU`,
      ];
      for (const [mode, r] of rows) {
        lines.push(`${mode.padEnd(10)}${f(median(r.paced)).padEnd(10)}${f(median(r.paced) / kp, 2).padEnd(10)}${k(median(r.cross)).padEnd(14)}${k(median(r.same)).padEnd(13)}${f(median(r.cpuIdle), 0)} / ${f(median(r.cpuPaced), 0)} / ${f(median(r.cpuCross), 0)}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    } finally {
      clearTimeout(timeout);
      child.kill('SIGKILL');
    }
  } finally {
    await ps.destroy();
    await ka.destroy();
    await kb.destroy();
  }
}

(values.inner ? inner() : outer()).catch((err) => {
  process.stderr.write(`ping-ab: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
