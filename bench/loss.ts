/**
 * `npm run bench:loss`: the loss-recovery table. pstack (TAP, with and without offloads) and
 * the Linux kernel (veth, CUBIC) each send MB megabytes (default 100) to a Linux client while
 * a tc filter drops 1%, 3% and 10% of IP packets each way (bench/lossy-send.sh, RUNS transfers
 * of each, interleaved; medians). Prints a Markdown table of MB/s and seconds for
 * docs/benchmarks.md. Needs root and a build (`npx tsc -p .`, which the npm script runs).
 *
 * Reordering is not in the table: this kernel has no sch_netem, and tc and nftables cannot delay a
 * packet; the in-memory wire's reordering is exercised by the unit tests instead.
 *
 *   npm run bench:loss            env: MB (default 100), RUNS (default 3), RATES (per mille,
 *                                 default "10,30,100"), DEADLINE (s per transfer, default 240)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mb = Number(process.env['MB'] ?? 100);
const runs = Number(process.env['RUNS'] ?? 3);
const deadline = Number(process.env['DEADLINE'] ?? 240);
const rates = (process.env['RATES'] ?? '10,30,100').split(',').map(Number);
if (![mb, runs, deadline, ...rates].every((n) => Number.isInteger(n) && n > 0) || runs > 20 || rates.some((r) => r >= 1000)) {
  console.error('bench:loss: MB, RUNS (1-20), DEADLINE and RATES (per mille, below 1000) must be positive integers');
  process.exit(2);
}

const rows: string[] = [];
for (const loss of rates) {
  const r = spawnSync('bash', ['bench/lossy-send.sh', String(runs)], {
    cwd: root, encoding: 'utf8', env: { ...process.env, LOSS: String(loss), MB: String(mb), DEADLINE: String(deadline) },
    timeout: (runs * 3 * (deadline + 15) + 60) * 1000,
  });
  process.stderr.write(r.stdout);
  const m = /median: pstack ([\d.]+), pstack --offload off ([\d.]+), kernel ([\d.]+) MB\/s/.exec(r.stdout);
  if (r.status !== 0 || m === null) {
    console.error(`bench:loss: ${loss / 10}% loss failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
    process.exit(1);
  }
  const cell = (rate: string) => `${rate} MB/s (${(mb / Number(rate)).toFixed(1)} s)`;
  rows.push(`| ${loss / 10}% | ${cell(m[1]!)} | ${cell(m[2]!)} | ${cell(m[3]!)} |`);
}
console.log(`${mb} MB sent to a Linux client, loss each way, median of ${runs}:\n`);
console.log('| loss | pstack (offloads) | pstack --offload off | Linux over veth, CUBIC |');
console.log('| --- | --- | --- | --- |');
for (const row of rows) console.log(row);
