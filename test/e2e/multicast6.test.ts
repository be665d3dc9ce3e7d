// IPv6 multicast between pstack and the Linux kernel on a TAP in a namespace the test creates:
// a pstack program (fixtures/multicast-app.ts for IPv6, started by multicast-rig.ts: two udp6
// sockets sharing port 4242 with reuseAddr, joined to ff02::4242) and the kernel's side send
// each other datagrams through the group (socat joined with ipv6-join-group receives; a kernel
// udp6 socket sends); after dropMembership pstack takes none. pstack's MLDv2 reports (its
// solicited-node groups, the joins, the leaves) are captured with tcpdump on the tap: from a
// link-local address, hop limit 1, Router Alert, to ff02::16, with the right records; tshark
// finds nothing malformed; and `pstack`'s counters show them. Only 192.0.2.0/24,
// 2001:db8::/32, fe80::/10 and ff02::/16 on the namespace's own link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable, run } from './harness.js';
import { startMulticastRig, sleep, type MulticastRig } from './multicast-rig.js';

const GROUP = 'ff02::4242';
const skip = e2eUnavailable();
let rig: MulticastRig;

/** A datagram from the kernel to `group`:`port`, out of tap0 (a udp6 socket with IPV6_MULTICAST_IF). */
async function kernelSend(text: string, port: number, group = GROUP): Promise<void> {
  const script = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("tap0"))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
s.sendto(sys.argv[1].encode() + b"\\n", (sys.argv[2], int(sys.argv[3]), 0, socket.if_nametoindex("tap0")))
`;
  const r = await rig.ns.exec('/usr/bin/python3', ['-c', script, text, group, String(port)], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  if (skip) return;
  rig = await startMulticastRig(6, 'mcast6', 'icmp6 or ip6 proto 0 or udp');
});

after(async () => {
  if (skip) return;
  await rig?.close();
});

test('socat joined to ff02::4242 on the kernel side receives what a pstack udp6 socket sends to the group', { skip: skip ?? false }, async () => {
  const receiver = rig.ns.spawn('socat', ['-u', `UDP6-RECVFROM:4243,ipv6-join-group=[${GROUP}]:tap0,reuseaddr`, '-']);
  let got = '';
  let err = '';
  receiver.stdout!.on('data', (b: Buffer) => (got += b.toString()));
  receiver.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<number | null>((resolve) => receiver.on('close', resolve));
  try {
    // The kernel joined once /proc/net/igmp6 lists the group on tap0.
    const end = Date.now() + 10_000;
    for (;;) {
      const igmp6 = await rig.ns.exec('cat', ['/proc/net/igmp6']);
      if (/tap0\s+ff020000000000000000000000004242/i.test(igmp6.stdout)) break;
      assert.ok(Date.now() < end, `the kernel never joined: ${igmp6.stdout} ${err}`);
      await sleep(100);
    }
    await rig.command('send hello-kernel');
    await rig.app.waitForLog(/sent hello-kernel/, 10_000);
    const code = await Promise.race([done, sleep(10_000).then(() => 'timeout')]);
    assert.equal(code, 0, `socat: ${code} ${got} ${err}`);
    assert.equal(got, 'hello-kernel');
  } finally {
    if (receiver.exitCode === null) receiver.kill('SIGTERM');
  }
});

test('both pstack udp6 sockets sharing the port receive what the kernel sends to the group', { skip: skip ?? false }, async () => {
  await kernelSend('hello-pstack', 4242);
  await rig.app.waitForLog(/a got hello-pstack from (fe80::|2001:db8::1)/, 10_000);
  await rig.app.waitForLog(/b got hello-pstack from (fe80::|2001:db8::1)/, 10_000);
});

test('a new join is reported; after dropMembership the group\'s datagrams are dropped at the link and the leave is reported', { skip: skip ?? false }, async () => {
  await rig.command('join ff02::4243');
  await rig.app.waitForLog(/joined ff02::4243/, 10_000);
  await rig.command('drop');
  await rig.app.waitForLog(/dropped/, 10_000);
  const before = await rig.stats();
  await kernelSend('after-drop', 4242);
  await sleep(500);
  const now = await rig.stats();
  assert.ok(now['notForUs']! - before['notForUs']! >= 1, 'the left group\'s 33:33 MAC is no longer taken');
  assert.equal(now['internalErrors'], 0);
  assert.doesNotMatch(rig.app.log, /got after-drop/);
  assert.ok(now['mldReportsOut']! >= 6, `solicited-node groups, two joins and a leave, each twice: ${JSON.stringify(now)}`);
  // Let the leave's repeat (within 1 s) go out before the capture ends.
  await sleep(2500);
});

test('the capture: MLDv2 reports from pstack\'s link-local address with hop limit 1 and Router Alert, the right records; nothing malformed', { skip: skip ?? false }, async () => {
  await rig.stopCapture();
  const fields = await run('tshark', ['-r', rig.pcapPath, '-Y', 'icmpv6.type == 143 && eth.src == 00:00:5e:00:53:01', '-T', 'fields',
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
  const udp = await run('tshark', ['-r', rig.pcapPath, '-Y', `ipv6.dst == ${GROUP} && udp.dstport == 4243 && eth.dst == 33:33:00:00:42:42 && ipv6.hlim == 1 && eth.src == 00:00:5e:00:53:01`], { timeoutMs: 60_000 });
  assert.match(udp.stdout, /UDP/, 'pstack\'s datagram to the group, to its 33:33 MAC with hop limit 1');
  const bad = await run('tshark', ['-r', rig.pcapPath, '-o', 'udp.check_checksum:TRUE', '-Y', '_ws.malformed || (eth.src == 00:00:5e:00:53:01 && (_ws.expert.severity == error || icmpv6.checksum.status == "Bad" || udp.checksum.status == "Bad"))'], { timeoutMs: 60_000 });
  assert.equal(bad.stdout.trim(), '', `malformed packets:\n${bad.stdout}`);
});
