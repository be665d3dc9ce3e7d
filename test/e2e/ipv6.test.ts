// IPv6 against pstack server on a TAP, driven by Linux's own IPv6 tools from the kernel's side
// (2001:db8::1/64 and its link-local address): ping -6 to pstack's global and link-local
// addresses (fragmented both ways too), nc -6 moving 24 MB through the echo service with a
// SHA-256 check, socat UDP6 to chargen and to a closed port, the kernel's neighbor cache
// learning pstack's MAC, the inspection commands, curl -6 to a program on the API whose server
// listens on ::, and tshark reading pstack's capture with no malformed packet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { e2eUnavailable, Netns, startPstack, startNodeScript, run, CLI, ROOT, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;
let pcapPath: string;
let control: string;
/** pstack's link-local address: fe80:: with the modified EUI-64 of its MAC 00:00:5e:00:53:01. */
const LINK_LOCAL = 'fe80::200:5eff:fe00:5301';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-ipv6-'));
  pcapPath = join(dir, 'ipv6.pcap');
  control = join(dir, 'control.sock');
  ns = await Netns.create('ip6');
  server = await startPstack(ns, ['server', '--addr', '192.0.2.2/24', '--addr', '2001:db8::2/64', '--pcap', pcapPath, '--control', control]);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the kernel side has 2001:db8::1/64; pstack reports its addresses ready after DAD', { skip: skip ?? false }, async () => {
  const r = await ns.must('ip', ['-6', 'addr', 'show', 'dev', 'tap0']);
  assert.match(r.stdout, /inet6 2001:db8::1\/64 scope global/);
  assert.match(server.log, /ipv6 address is ready\n\s+ip:\s+2001:db8::2\/64/);
  assert.match(server.log, new RegExp(`ipv6 address is ready\\n\\s+ip:\\s+${LINK_LOCAL}/64`));
  assert.match(server.log, /interfaces: tap0 192\.0\.2\.2\/24 2001:db8::2\/64/);
});

test('ping -6 answers from the global and the link-local address; the kernel learns our MAC', { skip: skip ?? false }, async () => {
  const g = await ns.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', '2001:db8::2'], { timeoutMs: 20_000 });
  assert.equal(g.code, 0, g.stdout + g.stderr);
  assert.match(g.stdout, /3 packets transmitted, 3 received/);
  assert.match(g.stdout, /from 2001:db8::2: icmp_seq=1 ttl=64/);
  const l = await ns.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', `${LINK_LOCAL}%tap0`], { timeoutMs: 20_000 });
  assert.equal(l.code, 0, l.stdout + l.stderr);
  assert.match(l.stdout, /3 packets transmitted, 3 received/);
  const n = await ns.must('ip', ['-6', 'neigh', 'show', 'dev', 'tap0']);
  assert.match(n.stdout, /2001:db8::2 lladdr 00:00:5e:00:53:01 (REACHABLE|STALE|DELAY|PROBE)/);
});

test('ping -6 with 4000 and 60000 bytes: fragments reassembled, the reply fragmented', { skip: skip ?? false }, async () => {
  for (const size of ['4000', '60000']) {
    const r = await ns.exec('ping', ['-6', '-c', '2', '-i', '0.3', '-W', '3', '-s', size, '2001:db8::2'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 packets transmitted, 2 received/);
    assert.match(r.stdout, new RegExp(`${Number(size) + 8} bytes from 2001:db8::2`));
  }
});

test('nc -6 moves 24 MB through the echo service, SHA-256 intact, within 60 s', { skip: skip ?? false }, async () => {
  const data = randomBytes(24 * 1024 * 1024);
  const f = join(dir, 'in.bin');
  writeFileSync(f, data);
  const want = createHash('sha256').update(data).digest('hex');
  const started = Date.now();
  const r = await ns.exec('bash', ['-c', `timeout 60 nc -6 -N 2001:db8::2 12345 < ${f} | sha256sum`], { timeoutMs: 70_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split(' ')[0], want);
  assert.ok(Date.now() - started < 60_000);
});

test('socat UDP6 gets a chargen line; a closed port is refused (ICMPv6 Port Unreachable)', { skip: skip ?? false }, async () => {
  const c = await ns.exec('socat', ['-t', '2', '-', 'UDP6:[2001:db8::2]:19'], { input: 'x\n', timeoutMs: 10_000 });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^ !"#\$%&'\(\)\*\+,-\.\/0123456789/);
  const closed = await ns.exec('socat', ['-t', '2', '-', 'UDP6:[2001:db8::2]:10'], { input: 'anyone?\n', timeoutMs: 10_000 });
  assert.notEqual(closed.code, 0);
  assert.match(closed.stderr, /Connection refused/);
  const tcpClosed = await ns.exec('nc', ['-6', '-z', '-w', '2', '2001:db8::2', '10'], { timeoutMs: 10_000 });
  assert.notEqual(tcpClosed.code, 0, 'a closed TCP port answers with RST');
});

test('pstack addr, neigh, netstat and stats show IPv6', { skip: skip ?? false }, async () => {
  const addr = await run(process.execPath, [CLI, 'addr', '--control', control]);
  assert.equal(addr.code, 0, addr.stderr);
  assert.match(addr.stdout, /tap0:[^]*inet6 2001:db8::2\/64 scope global/);
  assert.match(addr.stdout, new RegExp(`inet6 ${LINK_LOCAL}/64 scope link`));
  const neigh = await run(process.execPath, [CLI, 'neigh', '--control', control]);
  assert.equal(neigh.code, 0, neigh.stderr);
  assert.match(neigh.stdout, /2001:db8::1 dev tap0 lladdr [0-9a-f:]{17} (REACHABLE|STALE|DELAY|PROBE)/);
  const netstat = await run(process.execPath, [CLI, 'netstat', '--control', control]);
  assert.match(netstat.stdout, /udp .*2001:db8::2:19 /);
  const stats = await run(process.execPath, [CLI, 'stats', '--control', control]);
  assert.match(stats.stdout, /Ip6:\n\s+\d+ total packets received/);
  assert.match(stats.stdout, /Icmp6:[^]*\n\s+[1-9]\d* echo requests received/);
  assert.match(stats.stdout, /Ndp:[^]*\n\s+[1-9]\d* neighbor advertisements sent/);
});

test('tshark reads the capture: NDP, echo and TCP over IPv6, nothing malformed', { skip: skip ?? false }, async () => {
  // Stop the server so the capture is complete and flushed.
  assert.equal(await server.stop(), 0);
  const malformed = await run('tshark', ['-n', '-r', pcapPath, '-Y', '_ws.malformed || tcp.checksum.status == 0 || icmpv6.checksum.status == 0'], { timeoutMs: 120_000 });
  assert.equal(malformed.code, 0, malformed.stderr);
  assert.equal(malformed.stdout.trim(), '', 'no malformed frames');
  const kinds = await run('tshark', ['-n', '-r', pcapPath, '-Y', 'ipv6.src == 2001:db8::2 || ipv6.src == :: || ipv6.src == fe80::200:5eff:fe00:5301', '-T', 'fields', '-e', 'icmpv6.type', '-e', 'tcp.srcport'], { timeoutMs: 120_000 });
  const types = new Set(kinds.stdout.split('\n').map((l) => l.split('\t')[0]).filter((t) => t !== ''));
  for (const t of ['135', '136', '129', '1']) assert.ok(types.has(t), `pstack sent ICMPv6 type ${t}`);
  assert.match(kinds.stdout, /\t12345\n/, 'TCP from the echo port');
});

test('a program on the API: listen() with no host takes ::, curl -6 and IPv4 reach it; it reaches the kernel over tcp6 and udp6', { skip: skip ?? false }, async () => {
  // The kernel's echo servers the program talks to (on ::: tap0 and 2001:db8::1 come back only with the program).
  const tcpEcho = ns.spawn('socat', ['TCP6-LISTEN:7001,reuseaddr', 'EXEC:cat']);
  const udpEcho = ns.spawn('socat', ['UDP6-RECVFROM:7002', 'EXEC:cat']);
  await new Promise((r) => setTimeout(r, 300));
  const app = await startNodeScript(ns, join(ROOT, 'test/e2e/fixtures/ipv6-app.mjs'), ['tap0', '7001', '7002'], /app ready.*\n/, 30_000);
  try {
    assert.match(app.log, /listening on :: port 8080 family IPv6/);
    const c6 = await ns.exec('curl', ['-s', '-g', '-6', '--max-time', '10', 'http://[2001:db8::2]:8080/'], { timeoutMs: 15_000 });
    assert.equal(c6.code, 0, c6.stderr);
    assert.equal(c6.stdout, 'hello 2001:db8::1 (IPv6) from pstack\n');
    const c4 = await ns.exec('curl', ['-s', '--max-time', '10', 'http://192.0.2.2:8080/'], { timeoutMs: 15_000 });
    assert.equal(c4.stdout, 'hello ::ffff:192.0.2.1 (IPv6) from pstack\n');
    await app.waitForLog(/tcp got: hello kernel over tcp6/, 15_000);
    assert.match(app.log, /tcp connected from 2001:db8::2 to 2001:db8::1/);
    await app.waitForLog(/udp got: hello kernel over udp6 from 2001:db8::1/, 15_000);
  } finally {
    await app.stop();
    tcpEcho.kill();
    udpEcho.kill();
  }
});
