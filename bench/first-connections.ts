/**
 * The "first connections after start" rows of `npm run bench`: how fast a server that has
 * just started takes its first connections (connect, 1-byte echo, close, one at a time, with
 * bench/cps_client.c), before anything has warmed it up. Each repetition starts every server
 * afresh and measures its first FIRST_CONNECTIONS connections:
 *
 *   - pstack (bench/peer.ts) as it starts by default, with its start-up warm-up;
 *   - pstack started with --no-warmup;
 *   - the kernel over veth, with and without offloads (tcp_bench.py's server started afresh).
 *
 * The order rotates from one repetition to the next, so the machine's drifts fall on all
 * alike; medians of the repetitions. The clock starts when the server says it is ready (for
 * pstack: listening, after the warm-up), so the warm-up's own time is not in the rate; it is
 * reported beside it.
 */

import { fileURLToPath } from 'node:url';
import type { Netns } from '../test/e2e/harness.js';
import { median, startService } from './common.js';

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url));

/**
 * Every process of these rows (servers and client) runs at nice -10, the priority `pstack
 * server` takes by default: on a machine busy with other work, a client and a server that
 * must each be woken twice per connection otherwise measure mostly the wait for a CPU.
 */
const NICE = ['-n', '-10'];

/** Connections measured after each start: the figure the product promises. */
export const FIRST_CONNECTIONS = 1000;

/**
 * pstack by default, without warm-up, with a warm-up budget of N ms (`pstack@N`), after
 * TRAFFIC_WARM_UP real connections (`pstackAfterTraffic`: the ceiling a warm-up can reach), the kernel.
 */
type Variant = 'pstack' | 'pstackNoWarmup' | 'pstackAfterTraffic' | 'kernel' | 'kernelOffload' | `pstack@${number}`;

/** Real connections that warm `pstackAfterTraffic` before its measured ones. */
const TRAFFIC_WARM_UP = 4000;

export interface FirstConnectionsSetup {
  /** pstack's namespace (the client runs there too, against 192.0.2.2). */
  ps: Netns;
  /** The kernel's client and server namespaces: veth 198.51.100.0/24 (offloads off), 203.0.113.0/24 (on). */
  ka: Netns;
  kb: Netns;
  python: string;
  pyBench: string;
  cpsClient: string;
  reps: number;
  /** Further pstack variants with these warm-up budgets (ms of CPU time), for exploring. */
  warmUpBudgets?: number[];
  log: (s: string) => void;
}

export async function firstConnectionsSection(setup: FirstConnectionsSetup, rows: [string, number, number, number?, number?][]): Promise<Record<string, unknown>> {
  const { ps, ka, kb, python, pyBench, cpsClient, reps, log } = setup;
  const variants: Variant[] = ['pstack', 'pstackNoWarmup', 'pstackAfterTraffic', 'kernel', 'kernelOffload', ...(setup.warmUpBudgets ?? []).map((ms): Variant => `pstack@${ms}`)];
  const rates = Object.fromEntries(variants.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  const warmUps: Record<string, string[]> = {};
  const client = async (ns: Netns, addr: string, n = FIRST_CONNECTIONS): Promise<number> => {
    const r = await ns.exec('nice', [...NICE, cpsClient, addr, String(n), '1'], { timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`cps_client ${addr} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { count: number; seconds: number };
    if (out.count !== n) throw new Error(`cps_client ${addr}: ${out.count} of ${n} connections`);
    return out.count / out.seconds;
  };
  const one = async (v: Variant): Promise<number> => {
    if (v.startsWith('pstack')) {
      const flags = v === 'pstackNoWarmup' || v === 'pstackAfterTraffic' ? ['--no-warmup'] : v.startsWith('pstack@') ? ['--warmup-ms', v.slice(7)] : [];
      const peer = await startService(ps, 'nice', [...NICE, process.execPath, PEER, '--log-level', 'warn', ...flags], /bench peer ready.*\n/);
      try {
        const m = peer.log().match(/warm-up: ([^)]*)\)/);
        if (m && v !== 'pstackNoWarmup' && v !== 'pstackAfterTraffic') (warmUps[v] ??= []).push(m[1]!);
        if (v === 'pstackAfterTraffic') await client(ps, '192.0.2.2', TRAFFIC_WARM_UP);
        return await client(ps, '192.0.2.2');
      } finally {
        await peer.stop();
      }
    }
    const addr = v === 'kernel' ? '198.51.100.2' : '203.0.113.2';
    const server = await startService(kb, 'nice', [...NICE, python, pyBench, 'server', addr], /bench server ready/);
    try {
      return await client(ka, addr);
    } finally {
      await server.stop();
    }
  };
  for (let i = 0; i < reps; i++) {
    log(`first ${FIRST_CONNECTIONS} connections after start, repetition ${i + 1}/${reps}...`);
    const order = variants.map((_, k) => variants[(k + i) % variants.length]!);
    for (const v of order) rates[v].push(await one(v));
  }
  const med = (v: Variant) => median(rates[v]);
  rows.push([`TCP first ${FIRST_CONNECTIONS} connections/s after start`, med('pstack'), med('kernel'), undefined, med('kernelOffload')]);
  rows.push([`  the same, pstack --no-warmup`, med('pstackNoWarmup'), med('kernel'), undefined, med('kernelOffload')]);
  rows.push([`  pstack after ${TRAFFIC_WARM_UP} connections, --no-warmup`, med('pstackAfterTraffic'), med('kernel'), undefined, med('kernelOffload')]);
  for (const v of variants) if (v.startsWith('pstack@')) rows.push([`  the same, warm-up of ${v.slice(7)} ms`, med(v), med('kernel'), undefined, med('kernelOffload')]);
  const pairwise = (a: Variant, b: Variant) => rates[a].map((x, k) => x / rates[b][k]!);
  return {
    connections: FIRST_CONNECTIONS,
    runs: rates,
    medians: Object.fromEntries(variants.map((v) => [v, med(v)])),
    ratios: {
      pstackToKernelOffload: med('pstack') / med('kernelOffload'),
      pstackNoWarmupToKernelOffload: med('pstackNoWarmup') / med('kernelOffload'),
      warmUpGain: med('pstack') / med('pstackNoWarmup'),
      perRepetitionPstackToKernelOffload: pairwise('pstack', 'kernelOffload'),
      perRepetitionNoWarmupToKernelOffload: pairwise('pstackNoWarmup', 'kernelOffload'),
    },
    warmUps,
  };
}
