// The packet battery (test/battery/battery.py, scapy) against pstack and against the Linux
// kernel, side by side: pstack must survive every case (still answer ping, and TCP when it
// offers it), count no internal error, and answer like Linux except for the differences
// test/battery/DIFFERENCES.md lists with their reasons.
//
// Namespaces: P holds pstack's TAP (host side 192.0.2.1/24 and 2001:db8::1/64, pstack
// 192.0.2.2/24 and 2001:db8::2/64); KT and K hold a veth pair, KT the tester side (the same
// addresses as P's), K the kernel under test 192.0.2.2/24 and 2001:db8::2/64 with pstack's MAC,
// a default route via 192.0.2.1 and the services pstack offers (echo_server.py).
// The battery runs in P and KT at the same time. Everything is bounded (the battery stops
// itself after --max-seconds; every command has a timeout).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, run, ROOT, CLI, type ServerHandle } from './harness.js';

const PY = '/usr/bin/python3';
const BATTERY = join(ROOT, 'test/battery/battery.py');
const ECHO = join(ROOT, 'test/battery/echo_server.py');

function batteryUnavailable(): string | null {
  const base = e2eUnavailable();
  if (base !== null) return base;
  if (existsSync(PY)) return null;
  const why = `the battery needs ${PY} (Debian's python3 with python3-scapy)`;
  if (process.env['CI']) throw new Error(why);
  return why;
}

interface CaseResult {
  name: string;
  group: string;
  alive?: boolean;
  tcp_alive?: boolean | null;
  answer?: string[];
  details?: string[];
  skipped?: string;
  send_errors?: string[];
}
interface BatteryRun {
  target: string;
  tcp: boolean;
  ipv6: boolean;
  alive_at_start: boolean;
  alive_at_end: boolean;
  seconds: number;
  cases: CaseResult[];
}

/** The rows of DIFFERENCES.md's table: case -> [pstack answer, Linux answer]. */
export function documentedDifferences(markdown: string): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const line of markdown.split('\n')) {
    const m = /^\| `([a-z0-9-]+)` \| `([^`]*)` \| `([^`]*)` \|/.exec(line);
    if (m) rows.set(m[1]!, [m[2]!, m[3]!]);
  }
  return rows;
}

const skip = batteryUnavailable();
let dir: string;
let nsP: Netns;
let nsKT: Netns;
let nsK: Netns;
let server: ServerHandle;
let echo: ChildProcess | null = null;
let pstackRun: BatteryRun;
let linuxRun: BatteryRun;
let serverCode: number | null = null;
let pstackPmtuCache = '';
let linuxPmtuCache = '';

/** IPv6 on, without Duplicate Address Detection (its probes would be chatter in the capture). */
async function ipv6Namespace(ns: Netns): Promise<void> {
  await ns.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0',
    'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
}

before(async () => {
  if (skip) return;
  const scapy = await run(PY, ['-c', 'import scapy']);
  if (scapy.code !== 0) throw new Error(`${PY} cannot import scapy (apt-get install python3-scapy): ${scapy.stderr}`);
  dir = process.env['BATTERY_OUT'] ?? mkdtempSync(join(tmpdir(), 'pstack-battery-'));
  nsP = await Netns.create('batp');
  nsKT = await Netns.create('batkt');
  nsK = await Netns.create('batk');
  for (const ns of [nsP, nsKT, nsK]) await ipv6Namespace(ns);

  // pstack, with the tester's side of the TAP allowed larger frames than pstack's MTU.
  // The kernel's per-destination ICMP and per-socket challenge-ACK limits are off below
  // (icmp_ratelimit=0, tcp_invalid_ratelimit=0); so are pstack's, for the same reason.
  server = await startPstack(nsP, ['server', '--addr', '192.0.2.2/24', '--addr', '2001:db8::2/64',
    '--control', join(dir, 'control.sock'), '--limit', 'icmp.destinationIntervalMs=0', '--limit', 'tcp.challengeAckIntervalMs=0']);
  await nsP.must('ip', ['link', 'set', 'tap0', 'mtu', '9000']);

  // The Linux kernel under test, with the same addresses, MAC and services.
  const link = await run('ip', ['link', 'add', 'bt0', 'netns', nsKT.name, 'type', 'veth', 'peer', 'name', 'bk0', 'netns', nsK.name]);
  assert.equal(link.code, 0, link.stderr);
  await nsKT.must('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'bt0']);
  await nsKT.must('ip', ['-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'bt0', 'nodad']);
  await nsKT.must('ip', ['link', 'set', 'bt0', 'mtu', '9000', 'up']);
  await nsK.must('ip', ['link', 'set', 'bk0', 'address', '00:00:5e:00:53:01']);
  await nsK.must('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'bk0']);
  await nsK.must('ip', ['-6', 'addr', 'add', '2001:db8::2/64', 'dev', 'bk0', 'nodad']);
  await nsK.must('ip', ['link', 'set', 'bk0', 'up']);
  await nsK.must('ip', ['route', 'add', 'default', 'via', '192.0.2.1']);
  await nsK.must('ethtool', ['-K', 'bk0', 'tx', 'off']);
  await nsK.must('sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0']);
  // One challenge ACK or duplicate ACK per socket per 500 ms is Linux's limiter's state, not
  // behaviour: the TCP cases answer an invalid segment, then probe the same connection.
  await nsK.must('sysctl', ['-qw', 'net.ipv4.tcp_invalid_ratelimit=0']);
  echo = nsK.spawn(PY, [ECHO, '192.0.2.2', '2001:db8::2']);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('echo_server.py did not start')), 10_000);
    echo!.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });

  // BATTERY_ONLY=case,case runs only those cases (when working on them; the tests then fail on the count).
  const only = process.env['BATTERY_ONLY'] ? ['--only', process.env['BATTERY_ONLY']] : [];
  const pOut = join(dir, 'pstack.json');
  const kOut = join(dir, 'linux.json');
  const [p, k] = await Promise.all([
    nsP.exec(PY, [BATTERY, 'run', '--iface', 'tap0', '--label', 'pstack', '--out', pOut, '--max-seconds', '180', ...only], { timeoutMs: 240_000 }),
    nsKT.exec(PY, [BATTERY, 'run', '--iface', 'bt0', '--label', 'linux', '--out', kOut, '--max-seconds', '180', ...only], { timeoutMs: 240_000 }),
  ]);
  assert.equal(p.code, 0, `battery against pstack failed:\n${p.stdout}\n${p.stderr}`);
  assert.equal(k.code, 0, `battery against Linux failed:\n${k.stdout}\n${k.stderr}`);
  pstackRun = JSON.parse(readFileSync(pOut, 'utf8')) as BatteryRun;
  linuxRun = JSON.parse(readFileSync(kOut, 'utf8')) as BatteryRun;
  pstackPmtuCache = (await run(process.execPath, [CLI, 'route', 'cache', '--json', '--control', join(dir, 'control.sock')])).stdout;
  linuxPmtuCache = (await nsK.must('ip', ['-6', 'route', 'show', 'cache'])).stdout;
  serverCode = await server.stop();
});

after(async () => {
  if (skip) return;
  await server?.stop();
  echo?.kill('SIGKILL');
  for (const ns of [nsP, nsKT, nsK]) await ns?.destroy();
  if (dir && !process.env['BATTERY_OUT']) rmSync(dir, { recursive: true, force: true });
});

test('the battery has at least 250 distinct cases and ran them all on both targets', { skip: skip ?? false }, () => {
  const names = pstackRun.cases.map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.length >= 250, `${names.length} cases`);
  const notRun = (r: BatteryRun) => r.cases.filter((c) => c.skipped !== undefined && !c.skipped.startsWith('target lacks')).map((c) => c.name);
  assert.deepEqual(notRun(pstackRun), []);
  assert.deepEqual(notRun(linuxRun), []);
  assert.ok(linuxRun.alive_at_start && pstackRun.alive_at_start);
});

test('both targets answered ping -6 and ran the IPv6 cases', { skip: skip ?? false }, () => {
  assert.ok(pstackRun.ipv6, 'pstack answers ping -6 after the warm-up');
  assert.ok(linuxRun.ipv6, 'Linux answers ping -6 after the warm-up');
});

test('the path MTU caches: Packet Too Big lowers an IPv6 path to 1280, never below (RFC 8201 4)', { skip: skip ?? false }, () => {
  const entries = (JSON.parse(pstackPmtuCache) as { entries: Array<{ destination: string; mtu: number; family: string }> }).entries;
  const v6 = entries.filter((e) => e.family === 'inet6');
  for (const e of v6) assert.ok(e.mtu >= 1280 && e.mtu < 1500, `pstack route cache: ${e.destination} mtu ${e.mtu}`);
  // A report of 1280 about a UDP echo reply lowers the path MTU in both; one of 600 is
  // discarded by both (RFC 8201 4); reports about what the target never sent lower nothing.
  const addrOf = (name: string) => `2001:db8::a:${pstackRun.cases.findIndex((c) => c.name === name).toString(16)}`;
  const linuxMtu = (addr: string) => new RegExp(`^${addr} .* mtu (\\d+)`, 'm').exec(linuxPmtuCache)?.[1];
  const at1280 = addrOf('ptb-udp-mtu-1280');
  assert.deepEqual(v6.filter((e) => e.destination === at1280).map((e) => e.mtu), [1280], pstackPmtuCache);
  assert.equal(linuxMtu(at1280), '1280', linuxPmtuCache);
  for (const name of ['ptb-udp-mtu-below-1280', 'ptb-udp-quote-not-from-target', 'ptb-no-such-connection']) {
    assert.deepEqual(v6.filter((e) => e.destination === addrOf(name)), [], `${name}: ${pstackPmtuCache}`);
    assert.equal(linuxMtu(addrOf(name)), undefined, `${name}: ${linuxPmtuCache}`);
  }
  for (const m of linuxPmtuCache.matchAll(/mtu (\d+)/g)) assert.ok(Number(m[1]) >= 1280, linuxPmtuCache);
});

test('pstack answers ping after every case (and TCP, when it offers it)', { skip: skip ?? false }, () => {
  const dead = pstackRun.cases.filter((c) => c.alive === false).map((c) => c.name);
  assert.deepEqual(dead, [], `pstack stopped answering ping after: ${dead.join(', ')}`);
  if (pstackRun.tcp) {
    const noTcp = pstackRun.cases.filter((c) => c.tcp_alive === false).map((c) => c.name);
    assert.deepEqual(noTcp, [], `pstack stopped accepting TCP after: ${noTcp.join(', ')}`);
  }
  assert.ok(pstackRun.alive_at_end, 'pstack answers ping at the end');
  // The same of Linux, which says the battery itself is sound.
  assert.deepEqual(linuxRun.cases.filter((c) => c.alive === false).map((c) => c.name), []);
});

test('pstack shuts down cleanly and counted no internal error', { skip: skip ?? false }, () => {
  assert.equal(serverCode, 0, server.log.slice(-3000));
  assert.match(server.log, /internal errors: 0\b/, server.log.slice(-3000));
  assert.doesNotMatch(server.log, /\[E\]/, 'no error was logged');
});

test('pstack answers like Linux except for the documented deliberate differences', { skip: skip ?? false }, () => {
  const documented = documentedDifferences(readFileSync(join(ROOT, 'test/battery/DIFFERENCES.md'), 'utf8'));
  const linux = new Map(linuxRun.cases.map((c) => [c.name, c]));
  const report: string[] = [];
  const actual = new Map<string, [string, string]>();
  for (const p of pstackRun.cases) {
    const k = linux.get(p.name);
    if (p.answer === undefined || k?.answer === undefined) continue; // a service one side lacks
    const a = p.answer.join(' ; ');
    const b = k.answer.join(' ; ');
    if (a !== b) actual.set(p.name, [a, b]);
  }
  for (const [name, [a, b]] of actual) {
    const doc = documented.get(name);
    if (doc === undefined) report.push(`undocumented difference ${name}\n  pstack: ${a}\n  linux:  ${b}`);
    else if (doc[0] !== a || doc[1] !== b) report.push(`${name} differs otherwise than documented\n  pstack: ${a}\n  linux:  ${b}\n  documented pstack: ${doc[0]}\n  documented linux:  ${doc[1]}`);
  }
  for (const name of documented.keys()) {
    const p = pstackRun.cases.find((c) => c.name === name);
    if (p === undefined) report.push(`documented difference ${name} is not a case`);
    else if (!actual.has(name) && p.answer !== undefined && linux.get(name)?.answer !== undefined) {
      report.push(`documented difference ${name} is gone (both: ${p.answer.join(' ; ')}): remove it from DIFFERENCES.md`);
    }
  }
  if (report.length > 0) writeFileSync(join(dir, 'report.txt'), report.join('\n') + '\n');
  assert.deepEqual(report, [], report.join('\n'));
});
