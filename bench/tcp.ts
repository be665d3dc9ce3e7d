/**
 * TCP throughput between Linux and pstack over a TAP, in a private network namespace.
 *
 *   npx tsc -p . && node dist/bench/tcp.js [--mb 100]
 *
 * Needs root. Creates namespace pstk-bench-<pid>-<rand> (always deleted), and measures:
 *   1. kernel -> pstack: `nc -N` sends N MB of zeros to examples/netcat.js --listen (a sink)
 *   2. pstack -> kernel: examples/netcat.js sends N MB to `nc -l` (a sink)
 *   3. round trip: `nc -N` through `pstack server`'s echo service (both directions at once)
 * Only 192.0.2.0/24 is used. Every step has a timeout.
 */

import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const NETCAT = fileURLToPath(new URL('../examples/netcat.js', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const { values } = parseArgs({ options: { mb: { type: 'string' } } });
const MB = Number(values.mb ?? 100);

const ns = `pstk-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
const children = new Set<ChildProcess>();

function cleanup(): void {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 }); } catch { /* gone */ }
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function start(cmd: string, args: string[]): { child: ChildProcess; output: () => string; waitFor: (re: RegExp, ms?: number) => Promise<void>; done: Promise<number | null> } {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let out = '';
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<number | null>((r) => child.on('close', (c) => { children.delete(child); r(c); }));
  return {
    child,
    output: () => out,
    async waitFor(re, ms = 10_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    done,
  };
}

function shell(script: string, timeoutMs = 120_000): { seconds: number; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', script], { timeout: timeoutMs, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status ?? r.signal}): ${r.stderr?.toString()}`);
  return { seconds: (performance.now() - t0) / 1000, stderr: r.stderr.toString() };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  const bytes = MB * 1_000_000;
  const results: Record<string, string> = {};

  // 1. kernel -> pstack
  {
    const sink = start(process.execPath, [NETCAT, '--stats', '--listen', '5001']);
    await sink.waitFor(/listening on port 5001/);
    const r = shell(`head -c ${bytes} /dev/zero | nc -N 192.0.2.2 5001`);
    await sink.done;
    const m = /\(([\d.]+) MB\/s\)/.exec(sink.output());
    results['kernel -> pstack'] = `${m?.[1] ?? '?'} MB/s (pstack receive side; nc wall time ${(bytes / 1e6 / r.seconds).toFixed(1)} MB/s)`;
  }
  // 2. pstack -> kernel
  {
    const sink = start('bash', ['-c', 'nc -l 5002 > /dev/null']);
    await new Promise((r) => setTimeout(r, 300));
    const r = shell(`head -c ${bytes} /dev/zero | node ${NETCAT} --log-level warn --stats 192.0.2.1 5002 < /dev/stdin`);
    await sink.done;
    const m = /\(([\d.]+) MB\/s\)/.exec(r.stderr);
    results['pstack -> kernel'] = `${m?.[1] ?? '?'} MB/s`;
  }
  // 3. round trip through the echo service
  {
    const server = start(process.execPath, [CLI, 'server']);
    await server.waitFor(/address and port assigned/);
    const r = shell(`head -c ${bytes} /dev/zero | nc -N 192.0.2.2 12345 | wc -c >&2`);
    const n = Number(r.stderr.trim());
    results['echo round trip'] = `${(n / 1e6 / r.seconds).toFixed(1)} MB/s each way (${n} bytes back in ${r.seconds.toFixed(2)} s)`;
    server.child.kill('SIGINT');
    await server.done;
  }
  for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(18)} ${v}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
