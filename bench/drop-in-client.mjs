// The client program of `npm run bench:drop-in`: an ordinary Node program that knows nothing
// of pstack. The bench runs it unchanged under `node --import pstack/register` (over pstack) and
// under plain `node` (over the kernel), and compares what it prints. It reads only its targets
// and counts from the environment:
//
//   BENCH_WEB_URL    the keep-alive HTTP server (default http://web.test:8080/)
//   BENCH_PG_HOST    PostgreSQL's host (default db.test)
//   BENCH_DNS_SERVER if set, dns.setServers([it]) first (the kernel's side has no resolv.conf
//                    of the lab's, and the system's is not touched)
//   BENCH_DNS_SUFFIX names resolved are n<run>-<i>.<suffix> (default test): each one distinct,
//                    so every resolution is a query to the DNS server, not a cache hit
//   BENCH_LOOKUP     if 1, also time dns.promises.lookup (over pstack it is pstack's resolver;
//                    over the kernel it would be getaddrinfo and the system's resolv.conf)
//   BENCH_N          requests / queries / names per measurement (default 2000)
//   BENCH_WARMUP     of each before measuring (default 300)
//   BENCH_SECONDS    time bound of each measurement (default 5)
//   BENCH_CONC       concurrent fetch workers (default 8)
//   BENCH_ONLY       fetch, pg or dns: that measurement alone (for profiling)
//
// Prints one line of JSON: fetch requests/s sequential and concurrent over keep-alive, pg
// `SELECT 1` queries/s over one connection, and name resolution latency (median, p90, in ms).
import dns from 'node:dns';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const env = process.env;
const WEB = env.BENCH_WEB_URL ?? 'http://web.test:8080/';
const PG_HOST = env.BENCH_PG_HOST ?? 'db.test';
const N = Math.min(Math.max(Number(env.BENCH_N ?? 2000) || 2000, 10), 100_000);
const WARMUP = Math.min(Math.max(Number(env.BENCH_WARMUP ?? 300) || 0, 0), 10_000);
const SECONDS = Math.min(Math.max(Number(env.BENCH_SECONDS ?? 5) || 5, 0.5), 60);
const CONC = Math.min(Math.max(Number(env.BENCH_CONC ?? 8) || 8, 1), 64);
const SUFFIX = env.BENCH_DNS_SUFFIX ?? 'test';
if (env.BENCH_DNS_SERVER) dns.setServers([env.BENCH_DNS_SERVER]);
const ONLY = env.BENCH_ONLY ?? null;
const tag = `${process.pid}${Math.floor(Math.random() * 1e6)}`;

/** Run `op` up to `n` times or for `seconds`, whichever comes first; ops per second. */
async function rate(n, seconds, workers, op) {
  let started = 0;
  let done = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const worker = async () => {
    while (started < n && performance.now() < end) {
      started++;
      await op();
      done++;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  // The process's own CPU per operation: with pstack this includes the whole TCP/IP stack and
  // the kernel's work inside its tap writes; with the kernel, its system calls.
  const cpuUsPerOp = Number(((c.user + c.system) / Math.max(done, 1)).toFixed(1));
  return { count: done, seconds: Number(s.toFixed(3)), perSecond: Number((done / s).toFixed(1)), cpuUsPerOp };
}

/** Time `op(i)` up to `n` times or for `seconds`; median and p90 in ms. */
async function latency(n, seconds, op) {
  const times = [];
  const end = performance.now() + seconds * 1000;
  for (let i = 0; i < n && performance.now() < end; i++) {
    const t = performance.now();
    await op(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const at = (q) => Number(times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(4));
  return { count: times.length, medianMs: at(0.5), p90Ms: at(0.9) };
}

const out = {};
// Every operation, warm-up included (the bench divides the interface's frame counters by it).
out.ops = 0;
const get = async () => {
  out.ops++;
  const res = await fetch(WEB);
  await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
};

if (ONLY === null || ONLY === 'fetch') {
  await rate(WARMUP, SECONDS, 1, get);
  out.fetchSeq = await rate(N, SECONDS, 1, get);
  await rate(WARMUP, SECONDS, CONC, get);
  out.fetchConc = await rate(N, SECONDS, CONC, get);
}

if (ONLY === null || ONLY === 'pg') {
  const client = new pg.Client({ host: PG_HOST, port: 5432, user: 'postgres', database: 'postgres' });
  await client.connect();
  const select = async () => {
    out.ops++;
    const r = await client.query('SELECT 1');
    if (r.rows.length !== 1) throw new Error('SELECT 1 gave no row');
  };
  await rate(WARMUP, SECONDS, 1, select);
  out.pg = await rate(N, SECONDS, 1, select);
  await client.end();
}

if (ONLY === null || ONLY === 'dns') {
  const name = (what, i) => `n${tag}-${what}${i}.${SUFFIX}`;
  const resolve4 = (what) => async (i) => {
    out.ops++;
    const a = await dns.promises.resolve4(name(what, i));
    if (a.length === 0) throw new Error('no address');
  };
  await latency(Math.min(WARMUP, 200), SECONDS, resolve4('w'));
  out.resolve4 = await latency(Math.min(N, 1000), SECONDS, resolve4('r'));
  if (env.BENCH_LOOKUP === '1') {
    const lookup = (what) => async (i) => { out.ops++; await dns.promises.lookup(name(what, i), { family: 4 }); };
    await latency(Math.min(WARMUP, 200), SECONDS, lookup('v'));
    out.lookup = await latency(Math.min(N, 1000), SECONDS, lookup('l'));
  }
}

process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
