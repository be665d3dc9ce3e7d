/**
 * `npm run bench:drop-in`: an unmodified Node program over pstack (`node --import
 * pstack/register`) against the same program over the Linux kernel, in the same run.
 *
 * The program is bench/drop-in-client.mjs (plain JavaScript, global fetch, the `pg` module,
 * node:dns); it measures, each bounded in count and in time:
 *   - fetch requests/s over keep-alive to a tiny response, one at a time and 8 at a time;
 *   - PostgreSQL `SELECT 1` queries/s, one at a time over one connection (the `pg` module);
 *   - name resolution latency, dns.promises.resolve4 of a distinct name each time (so each is
 *     a query to dnsmasq, never a cache hit), median and p90; over pstack also dns.lookup.
 *
 * Set-up, all in namespaces this script creates (pstk-bdi-*, pstk-bdic-*; deleted in finally):
 *   server namespace: tap0 192.0.2.1/24 (created here with `ip tuntap add`) and veth0
 *     203.0.113.1/24; dnsmasq (DHCP on the tap with a reservation 00:00:5e:00:53:01 ->
 *     192.0.2.50; DNS on both addresses, every *.test -> 192.0.2.1, --local=/test/),
 *     PostgreSQL (trust for 192.0.2.0/24 and 203.0.113.0/24, fsync off) and a kernel-side Node
 *     HTTP server (bench/drop-in-server.mjs) on 0.0.0.0:8080.
 *   pstack: the program with `node --import pstack/register` in the server namespace, on tap0,
 *     its address, gateway and DNS server from dnsmasq's DHCP; targets by name (web.test,
 *     db.test).
 *   kernel: the same program with plain `node` in a client namespace, veth1 203.0.113.2/24;
 *     targets by the server's address on that path (203.0.113.1), and dns.setServers to
 *     dnsmasq on 203.0.113.1 (resolve4 uses it; the system's resolv.conf is not touched).
 * The two runs alternate (which one goes first alternates too), PSTACK_BENCH_DROPIN_REPS
 * times each (default 5); each figure is the median over the repetitions. Prints a table with
 * ratios pstack / kernel and writes bench/results-drop-in.json.
 *
 * Environment: PSTACK_BENCH_DROPIN_REPS (1-20, default 5), PSTACK_BENCH_DROPIN_N (requests,
 * queries or names per measurement, default 3000), PSTACK_BENCH_DROPIN_SECONDS (time bound of
 * each measurement, default 5); for finding where the time goes, PSTACK_BENCH_DROPIN_ONLY
 * (fetch, pg or dns: that measurement alone, with frames per operation from the tap's and the
 * veth's counters; no results file) and PSTACK_BENCH_DROPIN_CPU_PROF (a directory:
 * each client run writes a V8 CPU profile there, for bench/cpuprofile-summary.mjs; slows both
 * sides). Needs root, dnsmasq, PostgreSQL (initdb/postgres, run as the postgres user with
 * runuser) and the native addon. Only documentation addresses.
 */

import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, run, ROOT } from '../test/e2e/harness.js';
import { median } from './common.js';

const CLIENT = join(ROOT, 'bench', 'drop-in-client.mjs');
const SERVER = join(ROOT, 'bench', 'drop-in-server.mjs');
const PSTACK_MAC = '00:00:5e:00:53:01';
const PSTACK_ADDR = '192.0.2.50';

const intEnv = (name: string, dflt: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? dflt);
  return Number.isFinite(v) ? Math.min(Math.max(Math.round(v), min), max) : dflt;
};
const REPS = intEnv('PSTACK_BENCH_DROPIN_REPS', 5, 1, 20);
const N = intEnv('PSTACK_BENCH_DROPIN_N', 3000, 10, 100_000);
const SECONDS = intEnv('PSTACK_BENCH_DROPIN_SECONDS', 5, 1, 30);
/** If set, every client run writes a V8 CPU profile there (pstack-N/kernel-N.cpuprofile; see bench/cpuprofile-summary.mjs). */
const PROF_DIR = process.env['PSTACK_BENCH_DROPIN_CPU_PROF'] || null;
const ONLY = process.env['PSTACK_BENCH_DROPIN_ONLY'] || null;
if (ONLY !== null && !['fetch', 'pg', 'dns'].includes(ONLY)) throw new Error(`PSTACK_BENCH_DROPIN_ONLY=${ONLY}: expected fetch, pg or dns`);
/** A client run: 7 measured or warm-up phases of at most SECONDS each, plus start-up and DHCP. */
const CLIENT_TIMEOUT_MS = (9 * SECONDS + 30) * 1000;

interface Rate { count: number; seconds: number; perSecond: number; cpuUsPerOp: number }
interface Latency { count: number; medianMs: number; p90Ms: number }
interface ClientResult { ops?: number; framesOut?: number; framesIn?: number; fetchSeq?: Rate; fetchConc?: Rate; pg?: Rate; resolve4?: Latency; lookup?: Latency }

const PG_BIN = (() => {
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
    return versions.length > 0 ? `/usr/lib/postgresql/${versions[versions.length - 1]}/bin` : null;
  } catch {
    return null;
  }
})();

async function have(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`])).code === 0;
}

async function main(): Promise<void> {
  const unavailable = e2eUnavailable();
  if (unavailable) throw new Error(unavailable.replace('end-to-end tests', 'the drop-in bench'));
  const missing = [...(await have('dnsmasq')) ? [] : ['dnsmasq'], ...(await have('runuser')) ? [] : ['runuser'], ...PG_BIN ? [] : ['postgresql']];
  if (missing.length > 0) throw new Error(`the drop-in bench needs ${missing.join(', ')}`);
  // `--import pstack/register` resolves from the working directory: the package itself.
  process.chdir(ROOT);

  const started = Date.now();
  const load = loadavg();
  let ns: Netns | undefined;
  let cns: Netns | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'pstack-bench-dropin-'));
  chmodSync(dir, 0o755);
  const pgData = join(dir, 'pg');
  const servers: ChildProcess[] = [];
  const logs = new Map<string, string>();
  const serve = (name: string, cmd: string, args: string[]): void => {
    const child = ns!.spawn(cmd, args);
    logs.set(name, '');
    const add = (b: Buffer) => logs.set(name, (logs.get(name)! + b.toString()).slice(-20_000));
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    servers.push(child);
  };
  const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} did not come up:\n${[...logs].map(([k, v]) => `--- ${k}\n${v}`).join('\n')}`);
  };

  try {
    ns = await Netns.create('bdi');
    cns = await Netns.create('bdic');
    await ns.must('ip', ['tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
    await ns.must('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'tap0']);
    await ns.must('ip', ['link', 'set', 'tap0', 'up']);
    await ns.must('ip', ['link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', cns.name]);
    await ns.must('ip', ['addr', 'add', '203.0.113.1/24', 'dev', 'veth0']);
    await ns.must('ip', ['link', 'set', 'veth0', 'up']);
    await cns.must('ip', ['addr', 'add', '203.0.113.2/24', 'dev', 'veth1']);
    await cns.must('ip', ['link', 'set', 'veth1', 'up']);

    serve('dnsmasq', 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces',
      '--interface=tap0', '--interface=veth0', '--listen-address=192.0.2.1', '--listen-address=203.0.113.1',
      `--dhcp-leasefile=${join(dir, 'leases')}`, '--dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,10m',
      `--dhcp-host=${PSTACK_MAC},${PSTACK_ADDR}`, '--dhcp-option=option:router,192.0.2.1',
      '--no-ping', '--local=/test/', '--address=/test/192.0.2.1',
    ]);

    mkdirSync(pgData);
    const pgUid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const pgGid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    chownSync(pgData, pgUid, pgGid);
    const init = await run('runuser', ['-u', 'postgres', '--', join(PG_BIN!, 'initdb'), '-D', pgData, '-A', 'trust', '-U', 'postgres'], { timeoutMs: 90_000 });
    if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    appendFileSync(join(pgData, 'pg_hba.conf'), 'host all all 192.0.2.0/24 trust\nhost all all 203.0.113.0/24 trust\n');
    serve('postgres', 'runuser', ['-u', 'postgres', '--', join(PG_BIN!, 'postgres'), '-D', pgData,
      '-c', 'listen_addresses=192.0.2.1,203.0.113.1', '-c', `unix_socket_directories=${pgData}`, '-c', 'fsync=off']);
    serve('http', process.execPath, [SERVER]);

    await until('the HTTP server', () => logs.get('http')!.includes('server ready'));
    await until('dnsmasq', () => /DHCP, IP range 192\.0\.2\.50/.test(logs.get('dnsmasq')!));
    for (const host of ['192.0.2.1', '203.0.113.1']) {
      await until(`postgres on ${host}`, async () => (await ns!.exec(join(PG_BIN!, 'pg_isready'), ['-h', host, '-p', '5432'], { timeoutMs: 5000 })).code === 0, 60_000);
    }

    const counts = [`BENCH_N=${N}`, `BENCH_SECONDS=${SECONDS}`, ...ONLY ? [`BENCH_ONLY=${ONLY}`] : []];
    const prof = PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [];
    let profSeq = 0;
    const profName = (side: string): string[] => (PROF_DIR ? [`--cpu-prof-name=${side}-${++profSeq}.cpuprofile`] : []);
    // Frames the client's side of its path sent and received: tap0 in the server namespace
    // (its rx is what pstack wrote), veth1 in the client namespace.
    const frames = async (side: 'pstack' | 'kernel'): Promise<{ out: number; in: number }> => {
      const [n, dev, outStat, inStat] = side === 'pstack' ? [ns!, 'tap0', 'rx_packets', 'tx_packets'] : [cns!, 'veth1', 'tx_packets', 'rx_packets'];
      const read = async (stat: string) => Number((await n.exec('cat', [`/sys/class/net/${dev}/statistics/${stat}`])).stdout.trim());
      return { out: await read(outStat), in: await read(inStat) };
    };
    const runClient = async (side: 'pstack' | 'kernel'): Promise<ClientResult> => {
      const before = await frames(side);
      const r = side === 'pstack'
        ? await ns!.exec('env', ['PSTACK_TAP=tap0', 'BENCH_LOOKUP=1', ...counts, process.execPath, ...prof, ...profName('pstack'), '--import', 'pstack/register', CLIENT], { timeoutMs: CLIENT_TIMEOUT_MS })
        : await cns!.exec('env', ['BENCH_WEB_URL=http://203.0.113.1:8080/', 'BENCH_PG_HOST=203.0.113.1', 'BENCH_DNS_SERVER=203.0.113.1', ...counts, process.execPath, ...prof, ...profName('kernel'), CLIENT], { timeoutMs: CLIENT_TIMEOUT_MS });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      if (r.code !== 0 || !line.startsWith('{')) throw new Error(`the ${side} client failed (${r.code ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
      const after = await frames(side);
      const result = JSON.parse(line) as ClientResult;
      result.framesOut = after.out - before.out;
      result.framesIn = after.in - before.in;
      return result;
    };

    const results: Record<'pstack' | 'kernel', ClientResult[]> = { pstack: [], kernel: [] };
    for (let i = 0; i < REPS; i++) {
      const order: Array<'pstack' | 'kernel'> = i % 2 === 0 ? ['pstack', 'kernel'] : ['kernel', 'pstack'];
      for (const side of order) {
        const r = await runClient(side);
        results[side].push(r);
        process.stderr.write(`rep ${i + 1}/${REPS} ${side}: fetch ${r.fetchSeq?.perSecond}/s, x8 ${r.fetchConc?.perSecond}/s, pg ${r.pg?.perSecond}/s, resolve4 ${r.resolve4?.medianMs} ms, lookup ${r.lookup?.medianMs} ms\n`);
      }
    }

    // The pstack client's lease came from dnsmasq, and its requests from that address.
    if (!new RegExp(`DHCPACK\\(tap0\\) ${PSTACK_ADDR.replace(/\./g, '\\.')} ${PSTACK_MAC}`).test(logs.get('dnsmasq')!)) {
      throw new Error(`dnsmasq never leased ${PSTACK_ADDR} to pstack:\n${logs.get('dnsmasq')}`);
    }

    type Row = { metric: string; unit: string; better: 'higher' | 'lower'; get: (r: ClientResult) => number | undefined };
    const rows: Row[] = [
      { metric: 'fetch, keep-alive, one at a time', unit: 'req/s', better: 'higher', get: (r) => r.fetchSeq?.perSecond },
      { metric: 'fetch, keep-alive, 8 at a time', unit: 'req/s', better: 'higher', get: (r) => r.fetchConc?.perSecond },
      { metric: 'pg SELECT 1, one connection', unit: 'queries/s', better: 'higher', get: (r) => r.pg?.perSecond },
      { metric: 'dns.resolve4, distinct names, median', unit: 'ms', better: 'lower', get: (r) => r.resolve4?.medianMs },
      { metric: 'dns.resolve4, distinct names, p90', unit: 'ms', better: 'lower', get: (r) => r.resolve4?.p90Ms },
      { metric: 'dns.lookup, distinct names, median (pstack only)', unit: 'ms', better: 'lower', get: (r) => r.lookup?.medianMs },
      ...ONLY === null ? [] : [
        // Only for one measurement alone (PSTACK_BENCH_DROPIN_ONLY): warm-up included; DHCP and ARP add a few.
        { metric: `frames sent per ${ONLY} operation`, unit: 'frames', better: 'lower' as const, get: (r: ClientResult) => (r.framesOut ?? NaN) / (r.ops ?? NaN) },
        { metric: `frames received per ${ONLY} operation`, unit: 'frames', better: 'lower' as const, get: (r: ClientResult) => (r.framesIn ?? NaN) / (r.ops ?? NaN) },
      ],
      { metric: 'client CPU per fetch, one at a time', unit: 'us', better: 'lower', get: (r) => r.fetchSeq?.cpuUsPerOp },
      { metric: 'client CPU per fetch, 8 at a time', unit: 'us', better: 'lower', get: (r) => r.fetchConc?.cpuUsPerOp },
      { metric: 'client CPU per pg query', unit: 'us', better: 'lower', get: (r) => r.pg?.cpuUsPerOp },
    ];
    const summary = rows.map((row) => {
      const p = results.pstack.map(row.get).filter((v): v is number => v !== undefined);
      const k = results.kernel.map(row.get).filter((v): v is number => v !== undefined);
      const pm = median(p);
      const km = median(k);
      return {
        metric: row.metric, unit: row.unit, better: row.better,
        pstack: pm, kernel: km, ratio: Number.isFinite(pm) && Number.isFinite(km) && km > 0 ? pm / km : NaN,
        pstackRange: p.length ? [Math.min(...p), Math.max(...p)] : [], kernelRange: k.length ? [Math.min(...k), Math.max(...k)] : [],
      };
    });

    const f = (v: number) => (!Number.isFinite(v) ? '' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3));
    const lines = [
      `| metric | pstack | kernel | pstack / kernel |`,
      `| --- | --- | --- | --- |`,
      ...summary.map((s) => `| ${s.metric} (${s.unit}, ${s.better} is better) | ${f(s.pstack)} (${s.pstackRange.map(f).join('-')}) | ${f(s.kernel)} (${s.kernelRange.map(f).join('-')}) | ${Number.isFinite(s.ratio) ? s.ratio.toFixed(2) : ''} |`),
      '',
      `medians of ${REPS} interleaved runs each (range in brackets); up to ${N} requests/queries per measurement, at most ${SECONDS} s each; load average at start ${load.map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ];
    console.log(lines.join('\n'));
    // A partial or profiled run does not overwrite the full run's figures.
    if (ONLY === null && PROF_DIR === null) writeFileSync(join(ROOT, 'bench', 'results-drop-in.json'), `${JSON.stringify({
      date: new Date().toISOString(), node: process.version, loadAverageAtStart: load,
      config: { reps: REPS, n: N, seconds: SECONDS }, summary, runs: results,
    }, null, 2)}\n`);
  } finally {
    // Stop PostgreSQL (fast shutdown), then the servers, then anything left by its own pid,
    // before the namespaces go.
    if (existsSync(join(pgData, 'postmaster.pid'))) {
      await run('runuser', ['-u', 'postgres', '--', join(PG_BIN!, 'pg_ctl'), 'stop', '-m', 'fast', '-t', '10', '-D', pgData], { timeoutMs: 15_000 }).catch(() => {});
    }
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGTERM');
    const end = Date.now() + 10_000;
    while (Date.now() < end && servers.some((s) => s.exitCode === null && s.signalCode === null)) await new Promise((r) => setTimeout(r, 100));
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    try {
      const pid = Number(readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 1 && existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
    } catch { /* postgres is gone (its pid file with it) */ }
    await cns?.destroy();
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
