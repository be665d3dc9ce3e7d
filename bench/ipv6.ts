/**
 * The bench's "IPv6 beside IPv4" rows: the same TCP transfers (kernel -> pstack, pstack ->
 * kernel, echo) and paced ping to one pstack (bench/peer.ts with an IPv4 and an IPv6 address)
 * and to the kernel (a veth pair with both families), in the same run, alternating the order
 * so that drifts in a shared machine's load fall on both. Medians of the repetitions; for
 * pstack also its CPU seconds per GB moved (utime+stime from /proc), which a loaded machine's
 * waits do not inflate as they do throughput.
 * Addresses: 192.0.2.0/24 and 2001:db8::/64 on pstack's tap, 198.51.100.0/24 and
 * 2001:db8:100::/64 on the veth.
 */

import { type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Netns, ROOT } from '../test/e2e/harness.js';
import { readFileSync } from 'node:fs';
import { cpuSeconds, median } from './common.js';

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url));
const PY_BENCH = join(ROOT, 'bench', 'tcp_bench.py');

type Row = [string, number, number, number?, number?];

interface Service { child: ChildProcess; stop(): Promise<void> }

async function start(ns: Netns, cmd: string, args: string[], ready: RegExp): Promise<Service> {
  const child = ns.spawn(cmd, args);
  let log = '';
  let exited = false;
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => { exited = true; r(); }));
  const end = Date.now() + 20_000;
  while (!ready.test(log)) {
    if (exited || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} not ready:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    async stop() {
      if (exited) return;
      child.kill('SIGINT');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(kill);
    },
  };
}

/** Median RTT (ms) of `count` pings 10 ms apart. */
async function pacedRtt(ns: Netns, dst: string, count: number): Promise<number> {
  const r = await ns.exec('ping', ['-c', String(count), '-i', '0.01', '-W', '1', dst], { timeoutMs: 60_000 });
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length === 0) throw new Error(`ping ${dst}: no replies\n${r.stdout}${r.stderr}`);
  return median(times);
}

async function transfer(ns: Netns, python: string, addr: string, test: string, bytes: number): Promise<number> {
  const r = await ns.exec(python, [PY_BENCH, '--deadline', '60', 'client', addr, test, String(bytes)], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`tcp_bench.py client ${addr} ${test} failed: ${r.stderr.trim()}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { count: number; seconds: number };
  if (res.count !== bytes) throw new Error(`${addr} ${test}: ${res.count} of ${bytes} bytes`);
  return res.count / 1e6 / res.seconds;
}

/**
 * Rows "… IPv4" and "… IPv6" (pstack, kernel) for TCP sink/source/echo and paced ping; the
 * result object has every run. `mb` per transfer, `reps` repetitions, `pings` per paced run.
 */
export async function ipv6Section(python: string, mb: number, reps: number, pings: number, rows: Row[], log: (s: string) => void): Promise<Record<string, unknown>> {
  const ka = await Netns.create('b6ka');
  const kb = await Netns.create('b6kb');
  const ps = await Netns.create('b6ps');
  const services: Service[] = [];
  try {
    await ka.must('ip', ['link', 'add', 'vb6a', 'type', 'veth', 'peer', 'name', 'vb6b', 'netns', kb.name]);
    await ka.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vb6a']);
    await ka.must('ip', ['-6', 'addr', 'add', '2001:db8:100::1/64', 'dev', 'vb6a', 'nodad']);
    await ka.must('ip', ['link', 'set', 'vb6a', 'up']);
    await kb.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vb6b']);
    await kb.must('ip', ['-6', 'addr', 'add', '2001:db8:100::2/64', 'dev', 'vb6b', 'nodad']);
    await kb.must('ip', ['link', 'set', 'vb6b', 'up']);
    // Offloads off on the veth, as in the main kernel rows.
    await ka.exec('ethtool', ['-K', 'vb6a', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    await kb.exec('ethtool', ['-K', 'vb6b', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    const peer = await start(ps, process.execPath, [PEER, '--log-level', 'warn', '--addr6', '2001:db8::2/64'], /bench peer ready/);
    services.push(peer);
    // `ip netns exec` execs node in place: the same pid, node's once it answers.
    const peerPid = readFileSync(`/proc/${peer.child.pid}/comm`, 'utf8').trim().startsWith('node') ? peer.child.pid : undefined;
    services.push(await start(kb, python, [PY_BENCH, 'server', '198.51.100.2'], /bench server ready/));
    services.push(await start(kb, python, [PY_BENCH, 'server', '2001:db8:100::2'], /bench server ready/));
    const targets = {
      pstack4: { ns: ps, addr: '192.0.2.2' },
      pstack6: { ns: ps, addr: '2001:db8::2' },
      kernel4: { ns: ka, addr: '198.51.100.2' },
      kernel6: { ns: ka, addr: '2001:db8:100::2' },
    } as const;
    type T = keyof typeof targets;
    const names = Object.keys(targets) as T[];
    const bytes = Math.round(mb * 1e6);
    log('IPv6 beside IPv4: warm-up...');
    for (const t of names) {
      await pacedRtt(targets[t].ns, targets[t].addr, 50);
      for (const test of ['sink', 'source', 'echo']) await transfer(targets[t].ns, python, targets[t].addr, test, Math.min(bytes, 20_000_000));
    }
    const tests = ['sink', 'source', 'echo'] as const;
    const runs: Record<string, Record<T, number[]>> = {};
    for (const k of [...tests, 'ping']) runs[k] = { pstack4: [], pstack6: [], kernel4: [], kernel6: [] };
    /** pstack's CPU seconds per GB moved, per test and family. */
    const cpu: Record<string, { pstack4: number[]; pstack6: number[] }> = {};
    for (const k of tests) cpu[k] = { pstack4: [], pstack6: [] };
    for (let i = 0; i < reps; i++) {
      log(`IPv6 beside IPv4: repetition ${i + 1}/${reps} (${mb} MB transfers, ${pings} pings)...`);
      const order = i % 2 ? [...names] : [...names].reverse();
      for (const t of order) runs['ping']![t].push(await pacedRtt(targets[t].ns, targets[t].addr, pings));
      for (const test of tests) {
        for (const t of order) {
          const c0 = cpuSeconds(peerPid);
          runs[test]![t].push(await transfer(targets[t].ns, python, targets[t].addr, test, bytes));
          if (t === 'pstack4' || t === 'pstack6') cpu[test]![t].push((cpuSeconds(peerPid) - c0) / (bytes / 1e9));
        }
      }
    }
    const med = (k: string, t: T) => median(runs[k]![t]);
    const labels: Record<string, string> = { sink: 'TCP kernel -> pstack (MB/s)', source: 'TCP pstack -> kernel (MB/s)', echo: 'TCP echo round trip (MB/s)', ping: 'ping paced RTT median (ms)' };
    for (const k of ['ping', ...tests]) {
      rows.push([`${labels[k]!} IPv4`, med(k, 'pstack4'), med(k, 'kernel4')]);
      rows.push([`${labels[k]!} IPv6`, med(k, 'pstack6'), med(k, 'kernel6')]);
    }
    const cpuLabels: Record<string, string> = { sink: 'CPU s/GB, kernel -> pstack', source: 'CPU s/GB, pstack -> kernel', echo: 'CPU s/GB, echo (GB each way)' };
    for (const k of tests) {
      rows.push([`${cpuLabels[k]!} IPv4`, median(cpu[k]!.pstack4), NaN]);
      rows.push([`${cpuLabels[k]!} IPv6`, median(cpu[k]!.pstack6), NaN]);
    }
    const summary: Record<string, unknown> = { mb, reps, pings, runs, pstackCpuSecondsPerGb: cpu };
    for (const k of ['ping', ...tests]) summary[`${k}Ipv6OverIpv4`] = { pstack: med(k, 'pstack6') / med(k, 'pstack4'), kernel: med(k, 'kernel6') / med(k, 'kernel4') };
    return summary;
  } finally {
    for (const s of services) await s.stop();
    await ps.destroy();
    await ka.destroy();
    await kb.destroy();
  }
}
