// `pstack server --addr dhcp` against a real dnsmasq on the kernel's side of the tap: the
// lease (address, router, lifetime) is taken, the address answers ping from the kernel, the
// lease shows in dnsmasq's lease file, a clean stop gives it back (DHCPRELEASE), and names
// resolve through the DNS server the lease names (pstack ping NAME). Only
// 192.0.2.0/24, inside a namespace the test creates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const noDnsmasq = (await run('sh', ['-c', 'command -v dnsmasq'])).code === 0 ? null : 'dnsmasq is not installed';
const skip = e2eUnavailable() ?? noDnsmasq;
let ns: Netns;
let dir: string;
let dnsmasq: ChildProcess | null = null;
let dnsmasqLog = '';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-dhcp-'));
  ns = await Netns.create('dhcp');
  // The kernel's side: a tap with an address, and a DHCP server on it. pstack configures nothing here.
  await ns.must('ip', ['tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
  await ns.must('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'tap0']);
  await ns.must('ip', ['link', 'set', 'tap0', 'up']);
  dnsmasq = ns.spawn('dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--log-dhcp',
    '--interface=tap0', '--bind-interfaces', '--listen-address=192.0.2.1',
    '--local=/test/', '--address=/gateway.test/192.0.2.1', '--domain=lab.test', '--dhcp-option=option:domain-search,lab.test',
    '--host-record=printer.lab.test,192.0.2.1',
    `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,2m', '--dhcp-option=option:router,192.0.2.1',
    '--dhcp-authoritative',
  ]);
  dnsmasq.stderr!.on('data', (b: Buffer) => (dnsmasqLog += b.toString()));
  dnsmasq.stdout!.on('data', (b: Buffer) => (dnsmasqLog += b.toString()));
  // Ready once it listens on 67.
  for (let i = 0; i < 50 && !/DHCP, IP range/.test(dnsmasqLog); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(dnsmasqLog, /DHCP, IP range 192\.0\.2\.50/, dnsmasqLog);
});

after(async () => {
  if (skip) return;
  dnsmasq?.kill('SIGTERM');
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('pstack server --addr dhcp leases an address from dnsmasq, answers ping on it, and releases it on exit', { skip: skip ?? false }, async () => {
  let server: ServerHandle | null = null;
  try {
    server = await startPstack(ns, ['server', '--tap', 'tap0', '--addr', 'dhcp', '--control', 'none', '--log-level', 'debug'], /pstack server started/, 30_000);
    const m = server.log.match(/tap0 (192\.0\.2\.(\d+))\/24 \(dhcp from 192\.0\.2\.1\)/);
    assert.ok(m, server.log);
    const address = m[1]!;
    assert.ok(Number(m[2]) >= 50 && Number(m[2]) <= 60, `leased ${address}`);
    assert.match(server.log, /default gateway was registered[\s\S]*next hop:\s+192\.0\.2\.1/);
    // The kernel's side was left as it was: one address, the one the test gave it.
    const addrs = await ns.must('ip', ['-4', '-o', 'addr', 'show', 'dev', 'tap0']);
    assert.equal(addrs.stdout.trim().split('\n').length, 1, addrs.stdout);
    const ping = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', address], { timeoutMs: 10_000 });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(readFileSync(join(dir, 'leases'), 'utf8'), new RegExp(` ${address.replace(/\./g, '\\.')} `));
    assert.match(dnsmasqLog, /DHCPACK\(tap0\)/);
    const code = await server.stop();
    server = null;
    assert.equal(code, 0);
    for (let i = 0; i < 30 && !/DHCPRELEASE\(tap0\)/.test(dnsmasqLog); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(dnsmasqLog, new RegExp(`DHCPRELEASE\\(tap0\\) ${address.replace(/\./g, '\\.')}`));
  } finally {
    await server?.stop();
  }
});

test('with no DHCP server on the link, --addr dhcp gives up with one clear line and a non-zero exit', { skip: skip ?? false }, async () => {
  const quiet = await Netns.create('dhcpnone');
  try {
    const r = await quiet.exec(process.execPath, [CLI, 'server', '--tap', 'tap9', '--addr', 'dhcp', '--control', 'none', '--dhcp-timeout', '3'], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no DHCP lease on tap9 within 3 s/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    await quiet.destroy();
  }
  assert.equal(existsSync(join(dir, 'leases')), true);
});

test('pstack ping NAME resolves through the DNS server of its DHCP lease (search domain included), as iputils prints it', { skip: skip ?? false }, async () => {
  const r = await ns.exec(process.execPath, [CLI, 'ping', '--tap', 'tap0', '--addr', 'dhcp', '-c', '2', '-i', '0.2', 'gateway.test'], { timeoutMs: 40_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^PING gateway\.test \(192\.0\.2\.1\) 56\(84\) bytes of data\.$/m);
  assert.match(r.stdout, /64 bytes from 192\.0\.2\.1: icmp_seq=1 ttl=64/);
  assert.match(r.stdout, /--- gateway\.test ping statistics ---/);
  // A short name takes the lease's search domain.
  const s = await ns.exec(process.execPath, [CLI, 'ping', '--tap', 'tap0', '--addr', 'dhcp', '-c', '1', 'printer'], { timeoutMs: 40_000 });
  assert.equal(s.code, 0, s.stdout + s.stderr);
  assert.match(s.stdout, /^PING printer \(192\.0\.2\.1\)/m);
  const n = await ns.exec(process.execPath, [CLI, 'ping', '--tap', 'tap0', '--addr', 'dhcp', '-c', '1', 'nosuch.test'], { timeoutMs: 40_000 });
  assert.equal(n.code, 2, n.stdout + n.stderr);
  assert.equal(n.stderr, 'pstack: nosuch.test: Name or service not known\n');
});
