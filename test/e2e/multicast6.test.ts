// IPv6 multicast between pstack and the Linux kernel on a TAP in a namespace the test creates:
// a pstack program (fixtures/multicast6-app.ts: two udp6 sockets sharing port 4242 with
// reuseAddr, joined to ff02::4242) and the kernel's side send each other datagrams through the
// group (socat joined with ipv6-join-group receives; a kernel udp6 socket sends); after
// dropMembership pstack takes none. pstack's MLDv2 reports (its solicited-node groups, the
// joins, the leaves) are captured with tcpdump on the tap: from a link-local address, hop limit
// 1, Router Alert, to ff02::16, with the right records; tshark finds nothing malformed; and
// `pstack`'s counters show them. Only 192.0.2.0/24, 2001:db8::/32, fe80::/10 and ff02::/16 on
// the namespace's own link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startNodeScript, run, type ServerHandle } from './harness.js';

const APP = fileURLToPath(new URL('./fixtures/multicast6-app.js', import.meta.url));
const GROUP = 'ff02::4242';
const skip = e2eUnavailable();
let ns: Netns;
let app: ServerHandle;
let dir: string;
let pcapPath: string;
let capture: ChildProcess | null = null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One command line to the app's control port (unicast IPv4, from the kernel's side). */
async function command(text: string): Promise<void> {
  const r = await ns.exec('socat', ['-u', '-', 'UDP4-SENDTO:192.0.2.2:9000'], { input: text + '\n', timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
}

/** A datagram from the kernel to `group`:`port`, out of tap0 (a udp6 socket with IPV6_MULTICAST_IF). */
async function kernelSend(text: string, port: number, group = GROUP): Promise<void> {
  const script = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("tap0"))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
s.sendto(sys.argv[1].encode() + b"\\n", (sys.argv[2], int(sys.argv[3]), 0, socket.if_nametoindex("tap0")))
`;
  const r = await ns.exec('/usr/bin/python3', ['-c', script, text, group, String(port)], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
}

/** Ask the app for its counters: the next "stats" line, as numbers by name. */
async function stats(): Promise<Record<string, number>> {
  const count = () => app.log.split('\n').filter((l) => l.startsWith('stats ')).length;
  const seen = count();
  await command('stats');
  const end = Date.now() + 10_000;
  while (count() <= seen) {
    assert.ok(Date.now() < end, `no stats answer:\n${app.log}`);
    await sleep(50);
  }
  const line = app.log.split('\n').filter((l) => l.startsWith('stats ')).pop()!;
  return Object.fromEntries(line.slice(6).split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-mcast6-'));
  pcapPath = join(dir, 'tap0.pcap');
  ns = await Netns.create('mcast6');
  app = await startNodeScript(ns, APP, [], /multicast6 app ready/, 60_000);
  // Capture on the kernel's side of the tap from here on (the tap exists once pstack opened it).
  capture = ns.spawn('tcpdump', ['-i', 'tap0', '-U', '-n', '-w', pcapPath, 'icmp6 or ip6 proto 0 or udp']);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 15_000);
    capture!.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (/listening on/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
});

after(async () => {
  if (skip) return;
  if (capture !== null && capture.exitCode === null) capture.kill('SIGINT');
  await app?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('socat joined to ff02::4242 on the kernel side receives what a pstack udp6 socket sends to the group', { skip: skip ?? false }, async () => {
  const receiver = ns.spawn('socat', ['-u', `UDP6-RECVFROM:4243,ipv6-join-group=[${GROUP}]:tap0,reuseaddr`, '-']);
  let got = '';
  let err = '';
  receiver.stdout!.on('data', (b: Buffer) => (got += b.toString()));
  receiver.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<number | null>((resolve) => receiver.on('close', resolve));
  try {
    // The kernel joined once /proc/net/igmp6 lists the group on tap0.
    const end = Date.now() + 10_000;
    for (;;) {
      const igmp6 = await ns.exec('cat', ['/proc/net/igmp6']);
      if (/tap0\s+ff020000000000000000000000004242/i.test(igmp6.stdout)) break;
      assert.ok(Date.now() < end, `the kernel never joined: ${igmp6.stdout} ${err}`);
      await sleep(100);
    }
    await command('send hello-kernel');
    await app.waitForLog(/sent hello-kernel/, 10_000);
    const code = await Promise.race([done, sleep(10_000).then(() => 'timeout')]);
    assert.equal(code, 0, `socat: ${code} ${got} ${err}`);
    assert.equal(got, 'hello-kernel');
  } finally {
    if (receiver.exitCode === null) receiver.kill('SIGTERM');
  }
});

test('both pstack udp6 sockets sharing the port receive what the kernel sends to the group', { skip: skip ?? false }, async () => {
  await kernelSend('hello-pstack', 4242);
  await app.waitForLog(/a got hello-pstack from (fe80::|2001:db8::1)/, 10_000);
  await app.waitForLog(/b got hello-pstack from (fe80::|2001:db8::1)/, 10_000);
});

test('a new join is reported; after dropMembership the group\'s datagrams are dropped at the link and the leave is reported', { skip: skip ?? false }, async () => {
  await command('join ff02::4243');
  await app.waitForLog(/joined ff02::4243/, 10_000);
  await command('drop');
  await app.waitForLog(/dropped/, 10_000);
  const before = await stats();
  await kernelSend('after-drop', 4242);
  await sleep(500);
  const now = await stats();
  assert.ok(now['notForUs']! - before['notForUs']! >= 1, 'the left group\'s 33:33 MAC is no longer taken');
  assert.equal(now['internalErrors'], 0);
  assert.doesNotMatch(app.log, /got after-drop/);
  assert.ok(now['mldReportsOut']! >= 6, `solicited-node groups, two joins and a leave, each twice: ${JSON.stringify(now)}`);
  // Let the leave's repeat (within 1 s) go out before the capture ends.
  await sleep(2500);
});

test('the capture: MLDv2 reports from pstack\'s link-local address with hop limit 1 and Router Alert, the right records; nothing malformed', { skip: skip ?? false }, async () => {
  capture!.kill('SIGINT');
  await new Promise((r) => capture!.exitCode !== null ? r(null) : capture!.on('close', r));
  const fields = await run('tshark', ['-r', pcapPath, '-Y', 'icmpv6.type == 143 && eth.src == 00:00:5e:00:53:01', '-T', 'fields',
    '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'ipv6.hlim', '-e', 'ipv6.opt.type', '-e', 'icmpv6.mldr.mar.record_type', '-e', 'icmpv6.mldr.mar.multicast_address'], { timeoutMs: 60_000 });
  assert.equal(fields.code, 0, fields.stderr);
  const lines = fields.stdout.trim().split('\n').filter((l) => l !== '');
  // Pending records share a report: the join of ff02::4243 and its repeat, the leave and its repeat, at least three reports.
  assert.ok(lines.length >= 3, `MLDv2 reports captured:\n${fields.stdout}`);
  for (const l of lines) {
    const [src, dst, hlim, opt] = l.split('\t');
    assert.match(src!, /^fe80::/, l);
    assert.equal(dst, 'ff02::16', l);
    assert.equal(hlim, '1', l);
    assert.match(opt!, /(^|,)(0x05|5)(,|$)/, `Router Alert (option type 5) in ${l}`);
  }
  const has = (type: number, group: string) => lines.some((l) => {
    const [, , , , types, groups] = l.split('\t');
    const t = types!.split(',');
    const g = groups!.split(',');
    return t.some((x, i) => Number(x) === type && g[i] === group);
  });
  assert.ok(has(4, 'ff02::4243'), `CHANGE_TO_EXCLUDE for the new join:\n${fields.stdout}`);
  assert.ok(has(3, GROUP), `CHANGE_TO_INCLUDE {} (the leave):\n${fields.stdout}`);
  assert.ok(!lines.some((l) => /\bff02::1(,|$)/.test(l.split('\t')[5]!)), 'ff02::1 never reported');
  const udp = await run('tshark', ['-r', pcapPath, '-Y', `ipv6.dst == ${GROUP} && udp.dstport == 4243 && eth.dst == 33:33:00:00:42:42 && ipv6.hlim == 1 && eth.src == 00:00:5e:00:53:01`], { timeoutMs: 60_000 });
  assert.match(udp.stdout, /UDP/, 'pstack\'s datagram to the group, to its 33:33 MAC with hop limit 1');
  const bad = await run('tshark', ['-r', pcapPath, '-o', 'udp.check_checksum:TRUE', '-Y', '_ws.malformed || (eth.src == 00:00:5e:00:53:01 && (_ws.expert.severity == error || icmpv6.checksum.status == "Bad" || udp.checksum.status == "Bad"))'], { timeoutMs: 60_000 });
  assert.equal(bad.stdout.trim(), '', `malformed packets:\n${bad.stdout}`);
});
