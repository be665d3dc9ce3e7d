// pstack ping as a learner runs it: pstack opens tap0 in a namespace of its own and pings the
// Linux kernel on the other side (and, through the kernel acting as a router, a second
// namespace), printing what iputils ping prints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, run, CLI, type RunResult } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
let far: Netns;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-ping-'));
  ns = await Netns.create('ping');
  // A second network behind the kernel: ns routes between tap0 (192.0.2.1) and a veth to far.
  far = await Netns.create('pfar');
  await ns.must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  await ns.must('ip', ['link', 'add', 'vrouter', 'type', 'veth', 'peer', 'name', 'vfar', 'netns', far.name]);
  await ns.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vrouter']);
  await ns.must('ip', ['link', 'set', 'vrouter', 'up']);
  await far.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vfar']);
  await far.must('ip', ['link', 'set', 'vfar', 'up']);
  await far.must('ip', ['route', 'add', 'default', 'via', '198.51.100.1']);
});

after(async () => {
  if (skip) return;
  await far?.destroy();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function pstackPing(args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return ns.exec(process.execPath, [CLI, 'ping', ...args], { timeoutMs });
}

function explain(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

test('pstack ping -c 3 -i 0.2 192.0.2.1: three replies from the kernel, iputils\' statistics, exit 0', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-c', '3', '-i', '0.2', '192.0.2.1']);
  assert.equal(r.code, 0, explain(r));
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.');
  for (let seq = 1; seq <= 3; seq++) assert.match(lines[seq]!, new RegExp(`^64 bytes from 192\\.0\\.2\\.1: icmp_seq=${seq} ttl=64 time=\\d+(\\.\\d+)? ms$`));
  assert.equal(lines[4], '');
  assert.equal(lines[5], '--- 192.0.2.1 ping statistics ---');
  assert.match(lines[6]!, /^3 packets transmitted, 3 received, 0% packet loss, time \d+ms$/);
  assert.match(lines[7]!, /^rtt min\/avg\/max\/mdev = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/);
  assert.equal(r.stderr, '', 'nothing logged at the default level');
});

test('-s 1000 -p 6162: the kernel echoes 1008 bytes and pstack finds its pattern intact', { skip: skip ?? false }, async () => {
  const pcap = join(dir, 'pattern.pcap');
  const r = await pstackPing(['-c', '2', '-i', '0.2', '-s', '1000', '-p', '6162', '--pcap', pcap, '192.0.2.1']);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /^PATTERN: 0x6162\nPING 192\.0\.2\.1 \(192\.0\.2\.1\) 1000\(1028\) bytes of data\.\n/);
  assert.match(r.stdout, /\n1008 bytes from 192\.0\.2\.1: icmp_seq=1 ttl=64 time=/);
  assert.match(r.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
  assert.doesNotMatch(r.stdout, /wrong data byte/);
  // On the wire: a 16-byte timestamp, then abab... to the end, as in seed 003.
  const t = await run('tshark', ['-r', pcap, '-Y', 'icmp.type == 8', '-T', 'fields', '-e', 'data.data'], { timeoutMs: 60_000 });
  assert.equal(t.code, 0, t.stderr);
  // (tshark shows the data after what it takes for a timestamp, 8 or 16 bytes.)
  const data = t.stdout.trim().split('\n')[0]!.replace(/:/g, '');
  assert.ok(data.length >= 1968, data);
  assert.equal(data.slice(-1968), '6162'.repeat(492));
});

test('-R prints the recorded route (pstack, then the kernel) and (same route) after', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-c', '2', '-i', '0.2', '-R', '192.0.2.1']);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /^PING 192\.0\.2\.1 \(192\.0\.2\.1\) 56\(124\) bytes of data\.\n/);
  // As between two Linux hosts: each end records itself on the way in and on the way out.
  assert.match(r.stdout, /icmp_seq=1 ttl=64 time=[\d.]+ ms\nRR: \t192\.0\.2\.2\n\t192\.0\.2\.1\n\t192\.0\.2\.1\n\t192\.0\.2\.2\n\n/);
  assert.match(r.stdout, /icmp_seq=2 ttl=64 time=[\d.]+ ms\t\(same route\)\n/);
});

test('through the kernel as a router: replies with ttl 63, and -t 1 gets Time to live exceeded', { skip: skip ?? false }, async () => {
  const ok = await pstackPing(['-c', '2', '-i', '0.2', '198.51.100.2']);
  assert.equal(ok.code, 0, explain(ok));
  assert.match(ok.stdout, /64 bytes from 198\.51\.100\.2: icmp_seq=1 ttl=63 time=/);
  const ttl = await pstackPing(['-c', '2', '-i', '0.2', '-W', '1', '-t', '1', '198.51.100.2']);
  assert.equal(ttl.code, 1, explain(ttl));
  assert.match(ttl.stdout, /\nFrom 192\.0\.2\.1 icmp_seq=1 Time to live exceeded\n/);
  assert.match(ttl.stdout, /2 packets transmitted, 0 received, \+\d errors, 100% packet loss/);
  const verbose = await pstackPing(['-c', '1', '-W', '1', '-t', '1', '-v', '198.51.100.2']);
  assert.match(verbose.stdout, /Time to live exceeded\nVr HL TOS  Len   ID Flg  off TTL Pro  cks      Src      Dst Data\n 4  5  00 0054 [0-9a-f]{4}   0 0000  01  01 [0-9a-f]{4} 192\.0\.2\.2  198\.51\.100\.2 \noriginal datagram: 192\.0\.2\.2 > 198\.51\.100\.2, ICMP \(1\), Echo \(8\) id \d+ seq 1\n/, explain(verbose));
});

test('a host nobody answers for: Destination Host Unreachable from pstack itself once ARP gives up, exit 1', { skip: skip ?? false }, async () => {
  const started = Date.now();
  const r = await pstackPing(['-c', '2', '-W', '1', '192.0.2.77']);
  assert.equal(r.code, 1, explain(r));
  assert.match(r.stdout, /\nFrom 192\.0\.2\.2 icmp_seq=1 Destination Host Unreachable\n/);
  assert.match(r.stdout, /\nFrom 192\.0\.2\.2 icmp_seq=2 Destination Host Unreachable\n/);
  assert.match(r.stdout, /2 packets transmitted, 0 received, \+2 errors, 100% packet loss, time \d+ms\npipe 2\n$/);
  assert.ok(Date.now() - started >= 2500, 'ARP retried for about three seconds');
});

test('a host behind the router nobody answers for: Destination Host Unreachable from the router', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-c', '1', '-W', '5', '198.51.100.77']);
  assert.equal(r.code, 1, explain(r));
  assert.match(r.stdout, /\nFrom 192\.0\.2\.1 icmp_seq=1 Destination Host Unreachable\n/);
});

test('no route at all: "connect: Network is unreachable" and exit 2, as iputils', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-c', '1', '--gateway', 'none', '203.0.113.1']);
  assert.equal(r.code, 2, explain(r));
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'pstack: connect: Network is unreachable\n');
});

test('-w ends the run on time; Ctrl-C prints the statistics and exits by the same rule', { skip: skip ?? false }, async () => {
  const started = Date.now();
  const w = await pstackPing(['-w', '1', '-i', '0.2', '192.0.2.1']);
  assert.equal(w.code, 0, explain(w));
  assert.match(w.stdout, /\n5 packets transmitted, 5 received, 0% packet loss, time \d+ms\n/);
  assert.ok(Date.now() - started < 10_000);

  const child = ns.spawn(process.execPath, [CLI, 'ping', '-i', '0.2', '192.0.2.1']);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  while (!/icmp_seq=3 /.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  const code = await exited;
  clearTimeout(killer);
  assert.equal(code, 0, out);
  assert.match(out, /\n\n--- 192\.0\.2\.1 ping statistics ---\n\d+ packets transmitted, \d+ received/);
  assert.match(out, /rtt min\/avg\/max\/mdev = /);
});

test('mistakes are one line and exit 2: bad flags, no permission', { skip: skip ?? false }, async () => {
  const bad = await run(process.execPath, [CLI, 'ping', '-c', '0', '192.0.2.1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pstack: invalid -c "0"/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const none = await run(process.execPath, [CLI, 'ping']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /needs a destination/);
  const nobody = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'ping', '--tap', 'pstknoperm1', '192.0.2.1']);
  assert.equal(nobody.code, 2, nobody.stderr);
  assert.equal(nobody.stderr.trim().split('\n').length, 1, nobody.stderr);
  assert.match(nobody.stderr, /^pstack: permission denied opening TAP device pstknoperm1: run as root/);
  const help = await run(process.execPath, [CLI, 'ping', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: pstack ping \[options\] DEST/);
});
