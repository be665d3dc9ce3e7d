// IPv4 multicast between pstack and the Linux kernel on a TAP in a namespace the test creates:
// a pstack program (fixtures/multicast-app.ts for IPv4, started by multicast-rig.ts: two
// sockets sharing port 4242 with reuseAddr, joined to 239.255.42.1) and socat on the kernel's side send each other datagrams through the
// group; after dropMembership pstack takes none; pstack's IGMPv3 reports (the join, the answers
// to a General and a Group-Specific Query that scapy sends as a querier would, the leave) and
// its IGMPv2 report once an IGMPv2 querier is heard are
// captured with tcpdump on the tap, and tshark finds nothing malformed. Only 192.0.2.0/24 and
// 239.255.42.0/24 on the namespace's own link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable, run } from './harness.js';
import { startMulticastRig, sleep, type MulticastRig } from './multicast-rig.js';

const GROUP = '239.255.42.1';
const skip = e2eUnavailable() ?? ((await run('/usr/bin/python3', ['-c', 'import scapy'])).code === 0 ? null : 'python3-scapy is not installed');
let rig: MulticastRig;

/** A datagram from the kernel to the group, out of the tap. */
async function kernelSend(text: string, port: number, group = GROUP): Promise<void> {
  const r = await rig.ns.exec('socat', ['-u', '-', `UDP4-DATAGRAM:${group}:${port},ip-multicast-if=192.0.2.1,ip-multicast-ttl=1`], { input: text + '\n', timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  if (skip) return;
  rig = await startMulticastRig(4, 'mcast', 'igmp or udp');
});

after(async () => {
  if (skip) return;
  await rig?.close();
});

test('socat joined to the group on the kernel side receives what a pstack socket sends to it', { skip: skip ?? false }, async () => {
  const receiver = rig.ns.spawn('socat', ['-u', `UDP4-RECVFROM:4243,ip-add-membership=${GROUP}:192.0.2.1,reuseaddr`, '-']);
  let got = '';
  receiver.stdout!.on('data', (b: Buffer) => (got += b.toString()));
  const done = new Promise<number | null>((resolve) => receiver.on('close', resolve));
  try {
    // The kernel joined once /proc/net/igmp lists the group (hex, host order) on tap0.
    const end = Date.now() + 10_000;
    for (;;) {
      const igmp = await rig.ns.exec('cat', ['/proc/net/igmp']);
      if (/tap0[\s\S]*012AFFEF/i.test(igmp.stdout)) break;
      assert.ok(Date.now() < end, `the kernel never joined: ${igmp.stdout}`);
      await sleep(100);
    }
    await rig.command('send hello-kernel');
    await rig.app.waitForLog(/sent hello-kernel/, 10_000);
    const code = await Promise.race([done, sleep(10_000).then(() => 'timeout')]);
    assert.equal(code, 0, `socat: ${code} ${got}`);
    assert.equal(got, 'hello-kernel');
  } finally {
    if (receiver.exitCode === null) receiver.kill('SIGTERM');
  }
});

test('both pstack sockets sharing the port receive what the kernel sends to the group, and their own host\'s sends (loopback)', { skip: skip ?? false }, async () => {
  await kernelSend('hello-pstack', 4242);
  await rig.app.waitForLog(/a got hello-pstack from 192\.0\.2\.1/, 10_000);
  await rig.app.waitForLog(/b got hello-pstack from 192\.0\.2\.1/, 10_000);
  await rig.command('send-local hello-self');
  await rig.app.waitForLog(/a got hello-self from 192\.0\.2\.2/, 10_000);
  await rig.app.waitForLog(/b got hello-self from 192\.0\.2\.2/, 10_000);
});

test('pstack answers a querier: General and Group-Specific IGMPv3 Queries get Current-State Reports', { skip: skip ?? false }, async () => {
  const script = `
from scapy.all import Ether, IP, sendp
from scapy.layers.inet import IPOption_Router_Alert
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mq
def query(group):
    dst = "224.0.0.1" if group == "0.0.0.0" else group
    p = Ether(src="02:00:00:00:00:01") / IP(src="192.0.2.1", dst=dst, ttl=1, options=[IPOption_Router_Alert()]) / IGMPv3(type=0x11, mrcode=10) / IGMPv3mq(gaddr=group, qrv=2, qqic=125)
    sendp(p, iface="tap0", verbose=False)
query("0.0.0.0")
query("${GROUP}")
print("queried")
`;
  const r = await rig.ns.exec('/usr/bin/python3', ['-c', script], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  // Max Resp Time 1 s: both answers are out well within 3 s.
  await sleep(3000);
  const c = await rig.stats();
  assert.equal(c['igmpQueriesIn'], 2, 'both queries counted');
  assert.ok(c['igmpReportsOut']! >= 3, 'the join and both answers');
});

test('a new join is reported (CHANGE_TO_EXCLUDE); after dropMembership the group\'s datagrams are dropped, counted, and the leave is reported', { skip: skip ?? false }, async () => {
  await rig.command('join 239.255.42.2');
  await rig.app.waitForLog(/joined 239\.255\.42\.2/, 10_000);
  await rig.command('drop');
  await rig.app.waitForLog(/dropped/, 10_000);
  const before = await rig.stats();
  // The left group's MAC is no longer listened to: dropped at the link.
  await kernelSend('after-drop', 4242);
  // 239.127.42.2 shares its MAC with the joined 239.255.42.2 (RFC 1112 maps 23 bits): dropped by IP.
  await kernelSend('alias', 4242, '239.127.42.2');
  await sleep(500);
  const now = await rig.stats();
  assert.equal(now['notJoined']! - before['notJoined']!, 1, 'the aliased group dropped by IP (not joined)');
  assert.ok(now['notForUs']! - before['notForUs']! >= 1, 'the left group dropped at the link');
  assert.equal(now['internalErrors'], 0);
  assert.doesNotMatch(rig.app.log, /got after-drop|got alias/);
  // Let the leave's repeat (within 1 s) go out before the capture ends.
  await sleep(2500);
});

test('an IGMPv2 querier puts pstack in v2 compatibility mode: its General Query gets a v2 Membership Report', { skip: skip ?? false }, async () => {
  const script = `
from scapy.all import Ether, IP, sendp
from scapy.layers.inet import IPOption_Router_Alert
from scapy.contrib.igmp import IGMP
p = Ether(src="02:00:00:00:00:01") / IP(src="192.0.2.1", dst="224.0.0.1", ttl=1, options=[IPOption_Router_Alert()]) / IGMP(type=0x11, mrcode=10, gaddr="0.0.0.0")
sendp(p, iface="tap0", verbose=False)
`;
  const before = await rig.stats();
  const r = await rig.ns.exec('/usr/bin/python3', ['-c', script], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  await sleep(2500);
  const now = await rig.stats();
  assert.equal(now['igmpQueriesIn']! - before['igmpQueriesIn']!, 1);
  assert.equal(now['igmpReportsOut']! - before['igmpReportsOut']!, 1, 'one v2 report for the one group still joined');
});

test('the capture: IGMPv3 reports from pstack with the right records, TTL 1 and Router Alert; nothing malformed', { skip: skip ?? false }, async () => {
  await rig.stopCapture();
  const fields = await run('tshark', ['-r', rig.pcapPath, '-Y', 'igmp.type == 0x22 && ip.src == 192.0.2.2', '-T', 'fields', '-e', 'ip.ttl', '-e', 'ip.opt.type', '-e', 'igmp.record_type', '-e', 'igmp.maddr'], { timeoutMs: 60_000 });
  assert.equal(fields.code, 0, fields.stderr);
  const lines = fields.stdout.trim().split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 4, `IGMPv3 reports captured:\n${fields.stdout}`);
  for (const l of lines) {
    const [ttl, opt] = l.split('\t');
    assert.equal(ttl, '1', l);
    assert.match(opt!, /148/, `Router Alert (type 148) in ${l}`);
  }
  const has = (type: number, group: string) => lines.some((l) => {
    const [, , types, groups] = l.split('\t');
    const t = types!.split(',');
    const g = groups!.split(',');
    return t.some((x, i) => Number(x) === type && g[i] === group);
  });
  assert.ok(has(2, GROUP), `MODE_IS_EXCLUDE for ${GROUP} (query answers):\n${fields.stdout}`);
  assert.ok(has(4, '239.255.42.2'), `CHANGE_TO_EXCLUDE for the new join:\n${fields.stdout}`);
  assert.ok(has(3, GROUP), `CHANGE_TO_INCLUDE {} (the leave):\n${fields.stdout}`);
  const v2 = await run('tshark', ['-r', rig.pcapPath, '-Y', 'igmp.type == 0x16 && ip.src == 192.0.2.2 && ip.dst == 239.255.42.2 && igmp.maddr == 239.255.42.2 && ip.ttl == 1'], { timeoutMs: 60_000 });
  assert.match(v2.stdout, /IGMPv2/, `pstack's v2 report to the group:\n${v2.stdout}${v2.stderr}`);
  const udp = await run('tshark', ['-r', rig.pcapPath, '-Y', `ip.src == 192.0.2.2 && ip.dst == ${GROUP} && udp && eth.dst == 01:00:5e:7f:2a:01 && ip.ttl == 1`], { timeoutMs: 60_000 });
  assert.match(udp.stdout, /UDP/, 'pstack\'s datagram to the group, to its 01:00:5e MAC with TTL 1');
  // (The kernel's own UDP checksums are left to offload on the tap: only pstack's are checked.)
  const bad = await run('tshark', ['-r', rig.pcapPath, '-o', 'udp.check_checksum:TRUE', '-Y', '_ws.malformed || (eth.src == 00:00:5e:00:53:01 && (_ws.expert.severity == error || igmp.checksum.status == "Bad" || udp.checksum.status == "Bad"))'], { timeoutMs: 60_000 });
  assert.equal(bad.code, 0, bad.stderr);
  assert.equal(bad.stdout.trim(), '', 'no malformed packet');
});
