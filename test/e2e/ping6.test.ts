// pstack ping -6 against the Linux kernel: pstack opens tap0 in a namespace of its own and pings
// the kernel's side (2001:db8::1/64 and its link-local address), printing what iputils ping -6
// prints: replies, fragmented 4000-byte echoes, and Address unreachable for a silent address.
// tap0 is made persistent beforehand with a fixed MAC, so the kernel's link-local address is
// known (fe80::ff:fe00:b, the modified EUI-64 of 02:00:00:00:00:0b); DAD is off in the namespace
// so that address answers at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable, Netns, CLI, type RunResult } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
const KERNEL_LINK_LOCAL = 'fe80::ff:fe00:b';

before(async () => {
  if (skip) return;
  ns = await Netns.create('ping6');
  await ns.must('sysctl', ['-q', '-w', 'net.ipv6.conf.default.accept_dad=0']);
  await ns.must('ip', ['tuntap', 'add', 'tap0', 'mode', 'tap']);
  await ns.must('ip', ['link', 'set', 'tap0', 'address', '02:00:00:00:00:0b']);
});

after(async () => {
  if (skip) return;
  await ns?.destroy();
});

function pstackPing(args: string[], timeoutMs = 40_000): Promise<RunResult> {
  return ns.exec(process.execPath, [CLI, 'ping', ...args], { timeoutMs });
}

function explain(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

const RTT = /^rtt min\/avg\/max\/mdev = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/;

test('pstack ping 2001:db8::1 --addr 2001:db8::2/64: three replies, iputils ping -6 lines, exit 0', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-c', '3', '-i', '0.2', '--addr', '2001:db8::2/64', '2001:db8::1']);
  assert.equal(r.code, 0, explain(r));
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'PING 2001:db8::1(2001:db8::1) 56 data bytes');
  for (let seq = 1; seq <= 3; seq++) assert.match(lines[seq]!, new RegExp(`^64 bytes from 2001:db8::1: icmp_seq=${seq} ttl=64 time=\\d+(\\.\\d+)? ms$`));
  assert.equal(lines[4], '');
  assert.equal(lines[5], '--- 2001:db8::1 ping statistics ---');
  assert.match(lines[6]!, /^3 packets transmitted, 3 received, 0% packet loss, time \d+ms$/);
  assert.match(lines[7]!, RTT);
  assert.equal(r.stderr, '');
});

test('pstack ping -6 to the kernel\'s link-local address with zone %tap0 (no global address at all)', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-6', '-c', '2', '-i', '0.2', `${KERNEL_LINK_LOCAL}%tap0`]);
  assert.equal(r.code, 0, explain(r));
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], `PING ${KERNEL_LINK_LOCAL}%tap0(${KERNEL_LINK_LOCAL}%tap0) 56 data bytes`);
  assert.match(lines[1]!, new RegExp(`^64 bytes from ${KERNEL_LINK_LOCAL}%tap0: icmp_seq=1 ttl=64 time=`));
  assert.match(lines[2]!, /icmp_seq=2 ttl=64/);
  assert.equal(lines[4], `--- ${KERNEL_LINK_LOCAL}%tap0 ping statistics ---`);
  assert.match(lines[5]!, /^2 packets transmitted, 2 received, 0% packet loss/);
});

test('-s 4000 -p 6162 -t 5 -I tap0: fragmented both ways, 4008 bytes back with the pattern intact', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-6', '-c', '2', '-i', '0.3', '-s', '4000', '-p', '6162', '-t', '5', '-I', 'tap0', '--addr', '2001:db8::2/64', '2001:db8::1']);
  assert.equal(r.code, 0, explain(r));
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'PATTERN: 0x6162');
  assert.equal(lines[1], 'PING 2001:db8::1(2001:db8::1) from 2001:db8::2 tap0: 4000 data bytes');
  assert.match(lines[2]!, /^4008 bytes from 2001:db8::1: icmp_seq=1 ttl=64 time=\S+ ms$/, 'no "wrong data byte" report');
  assert.match(lines[3]!, /^4008 bytes from 2001:db8::1: icmp_seq=2 ttl=64 time=\S+ ms$/);
  assert.match(r.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
});

test('-q -w 2: only the header and the statistics', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-q', '-w', '2', '-i', '0.5', '--addr', '2001:db8::2/64', '2001:db8::1']);
  assert.equal(r.code, 0, explain(r));
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'PING 2001:db8::1(2001:db8::1) 56 data bytes');
  assert.equal(lines[1], '');
  assert.equal(lines[2], '--- 2001:db8::1 ping statistics ---');
  assert.match(lines[3]!, /^4 packets transmitted, 4 received, 0% packet loss, time \d+ms$/);
  assert.match(lines[4]!, RTT);
});

test('an address nobody has: Destination unreachable: Address unreachable from pstack\'s own address, exit 1', { skip: skip ?? false }, async () => {
  const r = await pstackPing(['-c', '2', '-i', '0.5', '--addr', '2001:db8::2/64', '2001:db8::99']);
  assert.equal(r.code, 1, explain(r));
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'PING 2001:db8::99(2001:db8::99) 56 data bytes');
  assert.equal(lines[1], 'From 2001:db8::2 icmp_seq=1 Destination unreachable: Address unreachable');
  assert.equal(lines[2], 'From 2001:db8::2 icmp_seq=2 Destination unreachable: Address unreachable');
  assert.match(r.stdout, /^2 packets transmitted, 0 received, \+2 errors, 100% packet loss, time \d+ms$/m);
});

test('wrong usage: -4 with an IPv6 address, a zone that is not the tap, -R with IPv6 (one line, exit 2)', { skip: skip ?? false }, async () => {
  const a = await pstackPing(['-4', '-c', '1', '2001:db8::1']);
  assert.equal(a.code, 2, explain(a));
  assert.match(a.stderr, /2001:db8::1: Address family for hostname not supported/);
  const b = await pstackPing(['-c', '1', `${KERNEL_LINK_LOCAL}%eth7`]);
  assert.equal(b.code, 2, explain(b));
  assert.match(b.stderr, /Name or service not known/);
  const c = await pstackPing(['-R', '-c', '1', '2001:db8::1']);
  assert.notEqual(c.code, 0, explain(c));
  assert.match(c.stderr, /IPv4 option/);
});
