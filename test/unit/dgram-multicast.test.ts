// Multicast through the dgram API on a Stack whose device captures frames: joins go out as
// IGMPv3 reports (TTL 1, Router Alert, to 224.0.0.22), frames to a joined group's MAC reach
// every socket on the port and others are dropped, sends to a group leave to its 01:00:5e MAC
// with TTL 1 and loop back to this host's members; argument checks and errors as Node's on
// Linux (checked against node:dgram on the kernel); `pstack maddr` lists the memberships.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, macToString, readIpv4 } from '../../src/wire/addr.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4Simple } from '../../src/wire/ipv4.js';
import { emitUdp } from '../../src/wire/udp.js';
import { parseIgmp } from '../../src/wire/igmp.js';
import { handleControlRequest, type MaddrJson } from '../../src/cli/control.js';
import { formatMaddr } from '../../src/cli/inspect.js';
import type { UdpSocket, SocketError } from '../../src/api/dgram.js';

const ip = (s: string) => parseIpv4(s)!;
const tick = () => new Promise((r) => setImmediate(r));

function makeStack() {
  const clock = new FakeClock(0);
  const stack = new Stack({ timers: clock.timers, random: () => 0 });
  stack.addInterface(new LoopbackDevice(), { address: ip('127.0.0.1'), prefixLength: 8 });
  const dev = new CaptureDevice('tap0');
  stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.start();
  return { clock, stack, dev };
}

/** A UDP datagram from 192.0.2.1 to `group`:`port`, as a frame to the group's MAC. */
function groupFrame(group: string, port: number, text: string, src = '192.0.2.1'): Uint8Array {
  const g = ip(group);
  const payload = new TextEncoder().encode(text);
  const f = new Uint8Array(14 + 20 + 8 + payload.length);
  emitEthernet(f, 0, Uint8Array.of(1, 0, 0x5e, (g >>> 16) & 0x7f, (g >>> 8) & 0xff, g & 0xff), Uint8Array.of(2, 0, 0, 0, 0, 1), EtherType.IPv4);
  f.set(payload, 42);
  emitUdp(f, 34, { srcPort: 5000, dstPort: port, payloadLength: payload.length }, ip(src), g);
  emitIpv4Simple(f, 14, ip(src), g, 17, 8 + payload.length, 1, 1, false);
  return f;
}

function igmpOf(frame: Uint8Array) {
  const ihl = (frame[14]! & 0x0f) * 4;
  return { ttl: frame[22], dst: readIpv4(frame, 30), routerAlert: ihl === 24 && frame[34] === 0x94, msg: parseIgmp(frame, 14 + ihl, frame.length - 14 - ihl), mac: macToString(frame, 0) };
}

function errorOf(f: () => unknown): Partial<SocketError> & { name?: string } {
  try {
    f();
  } catch (e) {
    const err = e as SocketError;
    return { code: err.code, message: err.message, name: err.name, syscall: err.syscall };
  }
  return {};
}

test('joining sends an IGMPv3 CHANGE_TO_EXCLUDE report; both reuseAddr sockets on the port get the group\'s datagrams; after leaving, none', async () => {
  const { stack, dev, clock } = makeStack();
  const a = stack.createSocket({ type: 'udp4', reuseAddr: true });
  const b = stack.createSocket({ type: 'udp4', reuseAddr: true });
  const got: string[] = [];
  a.on('message', (m, r) => got.push(`a ${m} ${r.address}`));
  b.on('message', (m, r) => got.push(`b ${m} ${r.address}`));
  a.bind(4242);
  b.bind(4242);
  const other = stack.createSocket('udp4');
  other.on('message', (m) => got.push(`other ${m}`));
  other.bind(4243);
  await tick();
  dev.take();
  a.addMembership('239.1.2.3');
  const [report] = dev.take();
  const r = igmpOf(report!);
  assert.equal(r.mac, '01:00:5e:00:00:16');
  assert.equal(r.dst, ip('224.0.0.22'));
  assert.equal(r.ttl, 1);
  assert.ok(r.routerAlert);
  assert.deepEqual(r.msg, { kind: 'report3', records: [{ type: 4, group: ip('239.1.2.3'), sources: [], auxData: new Uint8Array(0) }] });
  dev.inject(groupFrame('239.1.2.3', 4242, 'one'), groupFrame('239.1.2.4', 4242, 'not-joined'), groupFrame('239.129.2.3', 4242, 'same-mac'));
  assert.deepEqual(got, ['a one 192.0.2.1', 'b one 192.0.2.1'], 'Linux: every socket on the port (IP_MULTICAST_ALL)');
  assert.equal(stack.counters.drops.get('ethernet: not-for-us'), 1);
  assert.equal(stack.counters.drops.get('ipv4: multicast-not-joined'), 1);
  a.dropMembership('239.1.2.3');
  const leave = igmpOf(dev.take()[0]!);
  assert.deepEqual(leave.msg, { kind: 'report3', records: [{ type: 3, group: ip('239.1.2.3'), sources: [], auxData: new Uint8Array(0) }] });
  dev.inject(groupFrame('239.1.2.3', 4242, 'two'));
  assert.equal(got.length, 2);
  clock.advance(5000);
  for (const s of [a, b, other]) s.close();
});

test('a source-specific membership takes only its source; closing the socket leaves the group', async () => {
  const { stack, dev } = makeStack();
  const s = stack.createSocket('udp4');
  const got: string[] = [];
  s.on('message', (m, r) => got.push(`${m} ${r.address}`));
  s.bind(5000);
  await tick();
  s.addSourceSpecificMembership('192.0.2.1', '232.1.1.1');
  const join = igmpOf(dev.take()[0]!);
  assert.deepEqual(join.msg, { kind: 'report3', records: [{ type: 5, group: ip('232.1.1.1'), sources: [ip('192.0.2.1')], auxData: new Uint8Array(0) }] });
  dev.inject(groupFrame('232.1.1.1', 5000, 'wanted'), groupFrame('232.1.1.1', 5000, 'unwanted', '192.0.2.9'));
  assert.deepEqual(got, ['wanted 192.0.2.1']);
  assert.equal(stack.counters.drops.get('ipv4: multicast-not-joined'), 1);
  s.close();
  const left = igmpOf(dev.take()[0]!);
  assert.deepEqual(left.msg, { kind: 'report3', records: [{ type: 6, group: ip('232.1.1.1'), sources: [ip('192.0.2.1')], auxData: new Uint8Array(0) }] });
});

test('sending to a group: its 01:00:5e MAC, TTL 1 (setMulticastTTL), a copy to this host\'s members unless setMulticastLoopback(false)', async () => {
  const { stack, dev } = makeStack();
  const member = stack.createSocket('udp4');
  const got: string[] = [];
  member.on('message', (m, r) => got.push(`${m} ${r.address}`));
  member.bind(6000);
  await tick();
  member.addMembership('239.255.0.9');
  const sender = stack.createSocket('udp4');
  sender.bind(0);
  await tick();
  dev.take();
  const sent = await new Promise<number | undefined>((resolve, reject) => sender.send('hi', 6000, '239.255.0.9', (err, n) => (err ? reject(err) : resolve(n))));
  assert.equal(sent, 2);
  const [frame] = dev.take();
  assert.equal(macToString(frame!, 0), '01:00:5e:7f:00:09');
  assert.equal(frame![22], 1, 'TTL 1');
  await tick();
  assert.deepEqual(got, ['hi 192.0.2.2']);
  sender.setMulticastTTL(7);
  sender.setMulticastLoopback(false);
  sender.send('quiet', 6000, '239.255.0.9');
  await tick();
  await tick();
  assert.equal(dev.take()[0]![22], 7);
  assert.deepEqual(got, ['hi 192.0.2.2']);
  assert.equal(stack.counters.ipMulticastOut, 2);
  member.close();
  sender.close();
});

test('argument checks and errors as Node\'s dgram on Linux', async () => {
  const { stack } = makeStack();
  const s = stack.createSocket('udp4');
  assert.deepEqual(errorOf(() => s.setMulticastTTL(2)), { code: 'EBADF', message: 'setMulticastTTL EBADF', name: 'Error', syscall: 'setMulticastTTL' });
  assert.equal(errorOf(() => s.setMulticastLoopback(true)).code, 'EBADF');
  assert.equal(errorOf(() => s.setMulticastInterface('192.0.2.2')).code, 'EBADF');
  s.bind(0);
  await tick();
  s.addMembership('239.255.0.1');
  const cases: [string, () => unknown, string, string?][] = [
    ['join again', () => s.addMembership('239.255.0.1'), 'EADDRINUSE', 'addMembership EADDRINUSE'],
    ['IPv6 group', () => s.addMembership('ff02::1:3'), 'ENOPROTOOPT'],
    ['unicast group', () => s.addMembership('192.0.2.1'), 'EINVAL'],
    ['not an address', () => s.addMembership('foo'), 'EINVAL'],
    ['no group', () => s.addMembership(''), 'ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified'],
    ['interface not ours', () => s.addMembership('239.255.0.2', '192.0.2.77'), 'ENODEV'],
    ['interface not text', () => s.addMembership('239.255.0.2', 5 as unknown as string), 'EINVAL'],
    ['leave a group not joined', () => s.dropMembership('239.255.0.9'), 'EADDRNOTAVAIL', 'dropMembership EADDRNOTAVAIL'],
    ['source not text', () => s.addSourceSpecificMembership(1 as unknown as string, '232.1.1.1'), 'ERR_INVALID_ARG_TYPE', 'The "sourceAddress" argument must be of type string. Received type number (1)'],
    ['drop a source never added', () => s.dropSourceSpecificMembership('192.0.2.9', '232.1.1.9'), 'EINVAL'],
    ['TTL 256', () => s.setMulticastTTL(256), 'EINVAL', 'setMulticastTTL EINVAL'],
    ['TTL as text', () => s.setMulticastTTL('3' as unknown as number), 'ERR_INVALID_ARG_TYPE', 'The "ttl" argument must be of type number. Received type string (\'3\')'],
    ['interface not ours (IP_MULTICAST_IF)', () => s.setMulticastInterface('198.51.100.1'), 'EADDRNOTAVAIL'],
    ['interface not an address', () => s.setMulticastInterface('zz'), 'EINVAL'],
    ['interface IPv6', () => s.setMulticastInterface('::1'), 'ENOPROTOOPT'],
  ];
  for (const [what, f, code, message] of cases) {
    const e = errorOf(f);
    assert.equal(e.code, code, what);
    if (message !== undefined) assert.equal(e.message, message, what);
  }
  s.addSourceSpecificMembership('192.0.2.1', '232.1.1.1');
  assert.equal(errorOf(() => s.addSourceSpecificMembership('192.0.2.1', '232.1.1.1')).code, 'EADDRNOTAVAIL');
  assert.equal(errorOf(() => s.dropSourceSpecificMembership('192.0.2.9', '232.1.1.1')).code, 'EADDRNOTAVAIL');
  assert.equal(s.setMulticastTTL(0), 0);
  assert.equal(s.setMulticastLoopback('yes'), 'yes');
  s.setMulticastInterface('0.0.0.0');
  let n = 2;
  for (; n < 25; n++) {
    const e = errorOf(() => s.addMembership(`239.1.2.${n}`));
    if (e.code !== undefined) {
      assert.equal(e.code, 'ENOBUFS');
      break;
    }
  }
  assert.equal(n, 20, 'Linux\'s igmp_max_memberships: 20 groups per socket');
  s.close();
  assert.equal(errorOf(() => s.addMembership('239.255.0.1')).code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
  // As with Node: a membership binds an unbound socket, and bind() then fails with EINVAL.
  const u: UdpSocket = stack.createSocket('udp4');
  u.addMembership('239.255.0.3');
  const err = await new Promise<SocketError>((resolve) => {
    u.on('error', resolve);
    u.bind(0);
  });
  assert.equal(err.message, 'bind EINVAL 0.0.0.0');
  u.close();
});

test('pstack maddr lists each interface\'s groups with their MAC, filter and users, like ip maddr', async () => {
  const { stack } = makeStack();
  const s = stack.createSocket('udp4');
  s.bind(0);
  await tick();
  s.addMembership('239.255.42.1');
  s.addSourceSpecificMembership('192.0.2.1', '232.1.1.1');
  const r = handleControlRequest(stack, { cmd: 'maddr' });
  assert.equal(r.ok, true);
  const interfaces = r['interfaces'] as MaddrJson[];
  assert.equal(formatMaddr(interfaces), [
    '1:\ttap0 (IGMPv3)',
    '\tlink  01:00:5e:00:00:01',
    '\tinet  224.0.0.1',
    '\tlink  01:00:5e:7f:2a:01',
    '\tinet  239.255.42.1  EXCLUDE {}  users 1',
    '\tlink  01:00:5e:01:01:01',
    '\tinet  232.1.1.1  INCLUDE {192.0.2.1}  users 1',
    '',
  ].join('\n'));
  s.close();
});

test('a router does not route multicast: a datagram to a group it has not joined is dropped and counted', async () => {
  const { stack, dev } = makeStack();
  stack.forwarding = true;
  const s = stack.createSocket('udp4');
  s.bind(7000);
  await tick();
  s.addMembership('239.255.0.5');
  dev.take();
  // 239.127.0.5 shares 239.255.0.5's MAC, so it passes the link and reaches IP.
  dev.inject(groupFrame('239.127.0.5', 7000, 'transit'));
  assert.equal(stack.counters.drops.get('ipv4: multicast-not-routed'), 1);
  assert.equal(stack.counters.ipForwarded, 0);
  assert.deepEqual(dev.take(), []);
  s.close();
});
