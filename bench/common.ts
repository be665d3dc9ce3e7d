/**
 * What the bench scripts share: medians, a process's CPU time and peak memory from /proc,
 * long-running services in a namespace, and the pstack host they run on a TAP (the same
 * assembly as `pstack server`).
 */

import { execFileSync, type ChildProcess } from 'node:child_process';
import type { Netns } from '../test/e2e/harness.js';
import { readFileSync } from 'node:fs';
import { startHost, type RunningHost } from '../src/cli/host.js';
import { createLogger, type LogThreshold } from '../src/observe/log.js';
import { DEFAULT_TAP_MAC } from '../src/link/tap.js';
import { parseCidr } from '../src/wire/addr.js';

/** Median of the finite values (NaN for none). */
export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { return 100; }
})();

/** utime + stime of a process, in seconds (NaN when it cannot be read). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return NaN; }
}

/** Peak resident set size (VmHWM) of a process, in MB (NaN when it cannot be read). */
export function peakRssMb(pid: number | undefined): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

/**
 * pstack as `pstack server` assembles it, on tap0 in the current namespace: 192.0.2.2/24,
 * the kernel's side 192.0.2.1/24, no gateway.
 */
export function startBenchHost(opts: { logLevel?: LogThreshold; busyPoll?: number | 'always' } = {}): Promise<RunningHost> {
  return startHost({
    taps: [{ name: 'tap0', addr: parseCidr('192.0.2.2/24')!, hostAddr: parseCidr('192.0.2.1/24')!, mac: DEFAULT_TAP_MAC }],
    gateway: null,
    mtu: 1500,
    forwarding: false,
    pcapPath: null,
    logger: createLogger({ level: opts.logLevel ?? 'warn', stream: process.stderr }),
    busyPoll: opts.busyPoll,
  });
}

export /** Start a long-running process in a namespace and wait for a line on stderr. */
async function startService(ns: Netns, cmd: string, args: string[], ready: RegExp, timeoutMs = 15_000): Promise<{ child: ChildProcess; log: () => string; stop: () => Promise<void> }> {
  const child = ns.spawn(cmd, args);
  let log = '';
  let exited = false;
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => { exited = true; r(); }));
  const end = Date.now() + timeoutMs;
  while (!ready.test(log)) {
    if (exited) throw new Error(`${cmd} exited before it was ready:\n${log}`);
    if (Date.now() > end) { child.kill('SIGKILL'); throw new Error(`${cmd} not ready after ${timeoutMs} ms:\n${log}`); }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    log: () => log,
    async stop() {
      if (exited) return;
      child.kill('SIGINT');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(kill);
    },
  };
}
