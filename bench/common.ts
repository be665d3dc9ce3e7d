/**
 * What the bench scripts share: medians, a process's CPU time and peak memory from /proc, and
 * the pstack host they run on a TAP (the same assembly as `pstack server`).
 */

import { execFileSync } from 'node:child_process';
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
