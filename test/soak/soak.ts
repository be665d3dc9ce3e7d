/**
 * Soak: `pstack server` on a TAP in a namespace of its own, under mixed traffic from the
 * kernel's side through a lossy link for a long time (10 minutes by default), its memory
 * sampled all along. Passes when the resident set after the run is within 10% of what it was
 * after the warm-up (no growth: nothing leaks), every echo came back intact, and pstack still
 * answers ping and TCP at the end. Run with `npm run soak` (scripts/soak.sh); not part of
 * `npm test`.
 *
 *   node dist/test/soak/soak.js [--seconds N] [--loss PERCENT]      (or SOAK_SECONDS=N)
 *
 * Traffic: ping every 0.2 s; TCP echo connections churning (4 workers of short ones, 1-16 KB,
 * and one of bulk transfers, 2-8 MB, every echo hashed); a UDP echo stream (a datagram every
 * 20 ms); bursts of malformed frames (test/e2e/inject_frames.py) every 30 s; after the warm-up,
 * slow attackers in turn, again and again (500 sockstress connections to chargen, 200 slow
 * readers, 100 half-closed connections with a shut window: test/e2e/slow_attackers.py), each
 * holding on for up to 15 s and then resetting, the peak RSS during each recorded. The link drops
 * PERCENT of IP packets each way (a tc filter on the tap, test/e2e/impair.ts: this kernel has no
 * sch_netem) and duplicates 1% toward pstack (nftables).
 *
 * Safety: one namespace with a unique name (deleted at the end, also on failure or Ctrl-C),
 * addresses in 192.0.2.0/24 only, every process bounded by the run's deadline.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { e2eUnavailable, Netns, CLI, ROOT } from '../e2e/harness.js';
import { lossCounters, setRandomLoss } from '../e2e/impair.js';
import { controlRequest } from '../../src/cli/control.js';
import type { DriverSummary } from './driver.js';

const DRIVER = fileURLToPath(new URL('./driver.js', import.meta.url));
const INJECT = join(ROOT, 'test/e2e/inject_frames.py');
const ATTACKERS = join(ROOT, 'test/e2e/slow_attackers.py');
/** Slow attackers on chargen, in turn, after the warm-up (test/e2e/slow_attackers.py): mode and count. */
const ATTACKS = [['sockstress', 500], ['slowread', 200], ['closewait', 100]] as const;
const PSTACK_IP = '192.0.2.2';
const PSTACK_MAC = '00:00:5e:00:53:01';
/** Final RSS may exceed the post-warm-up RSS by at most this fraction. */
const RSS_TOLERANCE = 0.1;
/** pstack's resident set may not pass this while the slow attackers hold on (the budget's promise). */
const ATTACK_RSS_LIMIT_KB = 200 * 1024;

interface Sample {
  t: number;
  rssKb: number;
  tcpConnections: number;
  framesIn: number;
  drops: number;
  internalErrors: number;
  arpEntries: number;
}

function options() {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, loss: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: soak [--seconds N (default $SOAK_SECONDS or 600)] [--loss PERCENT (default 3)]\n');
    process.exit(0);
  }
  const seconds = Number(values.seconds ?? process.env['SOAK_SECONDS'] ?? 600);
  const loss = Number(values.loss ?? 3);
  if (!Number.isInteger(seconds) || seconds < 20 || seconds > 86_400) throw new Error('--seconds: a whole number from 20 to 86400');
  if (!Number.isInteger(loss) || loss < 0 || loss > 50) throw new Error('--loss: a whole percentage from 0 to 50');
  return { seconds, loss };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Collect a child's stdout (bounded) and its exit. */
function collect(child: ChildProcess, limit = 1 << 20): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => { if (out.length < limit) out += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-8192); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

async function main(): Promise<number> {
  const { seconds, loss } = options();
  const skip = e2eUnavailable();
  if (skip !== null) {
    process.stderr.write(`soak: cannot run: ${skip}\n`);
    return 2;
  }
  const warmupSeconds = Math.max(10, Math.round(seconds * 0.2));
  const sampleMs = Math.min(10_000, Math.max(2_000, Math.round((seconds * 1000) / 60)));
  const dir = mkdtempSync(join(tmpdir(), 'pstack-soak-'));
  const control = join(dir, 'control.sock');
  const logPath = join(dir, 'server.log');
  const children: ChildProcess[] = [];
  let ns: Netns | null = null;
  const failures: string[] = [];
  try {
    ns = await Netns.create('soak');
    process.stdout.write(`soak: ${seconds} s (warm-up ${warmupSeconds} s, a sample every ${sampleMs / 1000} s), ${loss}% loss each way, namespace ${ns.name}\n`);

    // The server writes its log straight to a file: no pipe to fall behind, nothing kept in memory here.
    const logFd = openSync(logPath, 'w');
    const server = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'server', '--control', control], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    children.push(server);
    process.on('exit', () => server.kill('SIGKILL'));
    let serverExit: number | null | undefined;
    const serverClosed = new Promise<number | null>((resolve) => server.on('close', (code) => { serverExit = code; resolve(code); }));
    const log = () => readFileSync(logPath, 'utf8');
    for (let i = 0; !/pstack server started/.test(log()); i++) {
      if (serverExit !== undefined || i > 150) throw new Error(`pstack server did not start:\n${log()}`);
      await sleep(100);
    }
    // `ip netns exec` execs the command: the child's pid is pstack's own node process.
    const pid = server.pid!;
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server')) throw new Error(`pid ${pid} is not the pstack server`);

    await ns.must('nft', ['-f', '-'], {
      input: `
table netdev soak {
  chain to_pstack {
    type filter hook egress device "tap0" priority 0;
    meta protocol ip numgen random mod 100 < 1 counter dup to "tap0"
  }
}
`,
    });
    await setRandomLoss(ns, 'tap0', loss * 10);

    const t0 = Date.now();
    const deadline = t0 + seconds * 1000;
    process.env['PSTACK_SOAK_CONTROL'] = control; // the driver asks pstack about a connection that timed out
    const driver = ns.spawn(process.execPath, [DRIVER, PSTACK_IP, String(seconds)]);
    children.push(driver);
    const driverDone = collect(driver);
    const ping = ns.spawn('ping', ['-q', '-i', '0.2', '-W', '1', '-w', String(seconds), PSTACK_IP]);
    children.push(ping);
    const pingDone = collect(ping);

    let injections = 0;
    let injected = 0;
    const injector = (async () => {
      while (Date.now() + 30_000 < deadline) {
        await sleep(30_000);
        const r = await ns!.exec('/usr/bin/python3', [INJECT, 'tap0', '1000', String(1000 + injections), PSTACK_MAC, PSTACK_IP, '192.0.2.99'], { timeoutMs: 70_000 });
        injections++;
        injected += Number(/(\d+)/.exec(r.stdout)?.[1] ?? 0);
      }
    })();

    const attackLines: string[] = [];
    let attackPeakKb = 0;
    const attackers = (async () => {
      const hold = Math.min(15, Math.max(5, Math.floor(seconds / 10)));
      // The first attack starts inside the warm-up, so the baseline the end is compared with
      // already holds what an attack leaves behind (the garbage collector's heap grows once).
      await sleep((warmupSeconds * 1000) / 2);
      for (let i = 0; Date.now() + (hold + 40) * 1000 < deadline; i++) {
        const [mode, count] = ATTACKS[i % ATTACKS.length]!;
        let running = true;
        let peak = 0;
        const sampler = (async () => {
          while (running) {
            try { peak = Math.max(peak, rssKb(pid)); } catch { /* exited: reported below */ }
            await sleep(500);
          }
        })();
        const r = await ns!.exec('/usr/bin/python3', [ATTACKERS, mode, PSTACK_IP, '19', String(count), String(hold), '12345'], { timeoutMs: (hold + 60) * 1000 });
        running = false;
        await sampler;
        attackPeakKb = Math.max(attackPeakKb, peak);
        attackLines.push(`${mode}: ${r.stdout.trim() || r.stderr.trim().split('\n').pop()}, pstack peak RSS ${(peak / 1024).toFixed(1)} MB`);
        process.stdout.write(`soak: attack ${attackLines.at(-1)}\n`);
      }
    })();

    const samples: Sample[] = [];
    let warmupIndex = -1;
    const takeSample = async () => {
      const t = (Date.now() - t0) / 1000;
      const rss = rssKb(pid);
      const stats = await controlRequest(control, { cmd: 'stats' });
      const netstat = await controlRequest(control, { cmd: 'netstat' });
      const c = (stats['counters'] ?? {}) as Record<string, unknown>;
      const drops = Object.values((c['drops'] ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
      const endpoints = (netstat['endpoints'] ?? []) as Array<{ protocol: string; state: string }>;
      samples.push({
        t, rssKb: rss,
        tcpConnections: endpoints.filter((e) => e.protocol === 'tcp' && e.state !== 'LISTEN').length,
        framesIn: Number(c['framesIn'] ?? 0), drops, internalErrors: Number(c['internalErrors'] ?? 0),
        arpEntries: Number(stats['arpEntries'] ?? 0),
      });
      if (warmupIndex < 0 && t >= warmupSeconds) warmupIndex = samples.length - 1;
    };
    while (Date.now() < deadline) {
      if (serverExit !== undefined) throw new Error(`pstack server exited (${serverExit}) during the soak:\n${log().slice(-4000)}`);
      await takeSample();
      const next = Math.min(deadline, Date.now() + sampleMs);
      await sleep(Math.max(0, next - Date.now()));
    }
    await takeSample();
    const endIndex = samples.length - 1;

    const d = await driverDone;
    await injector;
    await attackers;
    const p = await pingDone;
    const summary: DriverSummary | null = (() => {
      try { return JSON.parse(d.out.trim().split('\n').pop() ?? '') as DriverSummary; } catch { return null; }
    })();
    // Settled state after the traffic: a last sample once retransmissions and FINs are done.
    await sleep(5000);
    await takeSample();

    // After the run, on a clean link: pstack still answers ping and TCP.
    const lost = await lossCounters(ns, 'tap0');
    process.stdout.write(`packets dropped on the link: ${lost.egress} toward pstack, ${lost.ingress} from it\n`);
    await setRandomLoss(ns, 'tap0', 0);
    await ns.must('nft', ['delete', 'table', 'netdev', 'soak']);
    const pingAfter = await ns.exec('ping', ['-c', '3', '-i', '0.3', '-W', '2', PSTACK_IP], { timeoutMs: 15_000 });
    const tcpAfter = await ns.exec(process.execPath, [DRIVER, PSTACK_IP, '--check'], { timeoutMs: 30_000 });

    const stats = await controlRequest(control, { cmd: 'stats' });
    server.kill('SIGINT');
    const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    const exitCode = await serverClosed;
    clearTimeout(killer);
    const finalLog = log();

    // ---------------------------------------------------------------- report
    const row = (s: Sample) =>
      `${s.t.toFixed(0).padStart(6)}  ${(s.rssKb / 1024).toFixed(1).padStart(8)}  ${String(s.tcpConnections).padStart(6)}  ${String(s.arpEntries).padStart(4)}  ${String(s.framesIn).padStart(10)}  ${String(s.drops).padStart(8)}  ${String(s.internalErrors).padStart(6)}`;
    process.stdout.write('\n     t   RSS(MB)  tcp-cb   arp   frames-in     drops  errors\n');
    samples.forEach((s, i) => process.stdout.write(row(s) + (i === warmupIndex ? '   <- warm-up' : i === endIndex ? '   <- end of traffic' : i === samples.length - 1 ? '   <- settled' : '') + '\n'));

    // Medians of three samples smooth the garbage collector's sawtooth.
    const warmRss = median(samples.slice(warmupIndex, warmupIndex + 3).map((s) => s.rssKb));
    const finalRss = median(samples.slice(Math.max(0, endIndex - 2), endIndex + 1).map((s) => s.rssKb));
    const growth = (finalRss - warmRss) / warmRss;
    const peakRss = Math.max(...samples.map((s) => s.rssKb));
    const settledRss = samples[samples.length - 1]!.rssKb;
    const pingStats = /(\d+) packets transmitted, (\d+) received/.exec(p.out);
    const tcpTotal = (summary?.shortOk ?? 0) + (summary?.shortFailed ?? 0) + (summary?.bulkOk ?? 0) + (summary?.bulkFailed ?? 0);
    const tcpOk = (summary?.shortOk ?? 0) + (summary?.bulkOk ?? 0);
    const counters = (stats['counters'] ?? {}) as Record<string, unknown>;
    const limitsHit = [...finalLog.matchAll(/^\s*(\S+) = \d+: (\d+) hits$/gm)].filter((m) => m[2] !== '0').map((m) => `${m[1]} ${m[2]}`);

    process.stdout.write(`
RSS: ${(warmRss / 1024).toFixed(1)} MB after warm-up, ${(finalRss / 1024).toFixed(1)} MB at the end (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%, limit +${RSS_TOLERANCE * 100}%), peak ${(peakRss / 1024).toFixed(1)} MB, settled ${(settledRss / 1024).toFixed(1)} MB
TCP echo: ${summary?.shortOk ?? '?'} short and ${summary?.bulkOk ?? '?'} bulk connections intact, ${(summary?.shortFailed ?? 0) + (summary?.bulkFailed ?? 0)} failed, ${summary?.corrupt ?? '?'} corrupt, ${((summary?.bytesEchoed ?? 0) / 1e6).toFixed(1)} MB echoed
UDP echo: ${summary?.udpEchoed ?? '?'} of ${summary?.udpSent ?? '?'} datagrams back (loss expected), ${summary?.udpCorrupt ?? '?'} corrupt
ping: ${pingStats ? `${pingStats[2]} of ${pingStats[1]} answered` : 'no summary'}
malformed frames: ${injected} in ${injections} bursts
slow attackers: ${attackLines.length} attacks, pstack peak RSS during them ${(attackPeakKb / 1024).toFixed(1)} MB
pstack: ${counters['framesIn']} frames in, ${counters['framesOut']} out, ${counters['internalErrors']} internal errors; limits hit: ${limitsHit.join(', ') || 'none'}
pstack drops: ${Object.entries((counters['drops'] ?? {}) as Record<string, number>).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}
`);
    if (summary?.errors.length) process.stdout.write(`driver errors (first ${summary.errors.length}): ${summary.errors.join('; ')}\n`);

    if (attackPeakKb > ATTACK_RSS_LIMIT_KB) failures.push(`RSS reached ${(attackPeakKb / 1024).toFixed(1)} MB under the slow attackers (limit ${ATTACK_RSS_LIMIT_KB / 1024} MB)`);
    if (growth > RSS_TOLERANCE) failures.push(`RSS grew ${(growth * 100).toFixed(1)}% after the warm-up (more than ${RSS_TOLERANCE * 100}%)`);
    if (summary === null) failures.push(`the traffic driver gave no summary (exit ${d.code}): ${d.err.slice(-500)}`);
    else {
      if (summary.corrupt > 0 || summary.udpCorrupt > 0) failures.push(`${summary.corrupt} TCP and ${summary.udpCorrupt} UDP echoes came back corrupt`);
      if (tcpTotal === 0 || tcpOk / tcpTotal < 0.95) failures.push(`only ${tcpOk} of ${tcpTotal} TCP echo connections succeeded`);
      if (summary.bulkOk === 0) failures.push('no bulk transfer completed');
      if (summary.udpEchoed < summary.udpSent * 0.8) failures.push(`only ${summary.udpEchoed} of ${summary.udpSent} UDP echoes came back`);
    }
    if (pingStats === null || Number(pingStats[2]) < Number(pingStats[1]) * 0.8) failures.push(`ping during the soak: ${pingStats?.[0] ?? 'no summary'}`);
    if (pingAfter.code !== 0) failures.push(`pstack does not answer ping after the soak: ${pingAfter.stdout.trim().split('\n').pop()}`);
    if (tcpAfter.code !== 0 || !/ok/.test(tcpAfter.stdout)) failures.push(`pstack does not answer TCP after the soak: ${tcpAfter.stdout.trim()} ${tcpAfter.stderr.trim()}`);
    if (Number(counters['internalErrors'] ?? 0) !== 0) failures.push(`${counters['internalErrors']} internal errors counted`);
    if (exitCode !== 0) failures.push(`pstack server exited with ${exitCode} on SIGINT`);
    process.stdout.write(`\nverdict: ${failures.length === 0 ? 'PASS' : 'FAIL'}\n${failures.map((f) => `  - ${f}\n`).join('')}`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await ns?.destroy();
    // The server's log is kept when the run failed, for a look at what happened.
    if (failures.length > 0 && existsSync(logPath)) process.stdout.write(`server log kept: ${logPath}\n`);
    else if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
