// pstack route / arp / netstat / stats: argument checking and the tables they print.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseRouteWords, parseRouteNetwork, formatRouteTable, formatArpTable, formatNetstat, formatStats,
  runRoute, runArp, runNetstat, runStats,
} from '../../src/cli/inspect.js';
import { routesJson, arpJson, statsJson } from '../../src/cli/control.js';
import { UsageError } from '../../src/cli/errors.js';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';

const ip = (s: string) => parseIpv4(s)!;

function makeStack() {
  const clock = new FakeClock(0);
  const stack = new Stack({ timers: clock.timers });
  stack.addInterface(new LoopbackDevice(), { address: ip('127.0.0.1'), prefixLength: 8 });
  const iface = stack.addInterface(new CaptureDevice('tap0'), { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.start();
  return { clock, stack, iface };
}

describe('route words', () => {
  test('list, add via a gateway or a device, delete, default', () => {
    assert.deepEqual(parseRouteWords([]), { action: 'list' });
    assert.deepEqual(parseRouteWords(['show']), { action: 'list' });
    assert.deepEqual(parseRouteWords(['add', '203.0.113.0/24', 'via', '192.0.2.1']), { action: 'add', network: '203.0.113.0', prefix: 24, gateway: '192.0.2.1' });
    assert.deepEqual(parseRouteWords(['add', '198.51.100.0/24', 'gw', '192.0.2.1', 'dev', 'tap0']), { action: 'add', network: '198.51.100.0', prefix: 24, gateway: '192.0.2.1', dev: 'tap0' });
    assert.deepEqual(parseRouteWords(['add', '198.51.100.9/32', 'dev', 'tap0']), { action: 'add', network: '198.51.100.9', prefix: 32, dev: 'tap0' });
    assert.deepEqual(parseRouteWords(['del', '203.0.113.0/24']), { action: 'del', network: '203.0.113.0', prefix: 24 });
    assert.deepEqual(parseRouteWords(['delete', 'default']), { action: 'del', network: '0.0.0.0', prefix: 0 });
    assert.deepEqual(parseRouteNetwork('default'), { network: '0.0.0.0', prefix: 0 });
  });

  const bad: Array<[string[], RegExp]> = [
    [['flush'], /unknown route action "flush"/],
    [['add'], /route add needs a network/],
    [['add', '203.0.113.0/24'], /needs "via GATEWAY" or "dev NAME"/],
    [['add', '203.0.113.0'], /invalid network "203\.0\.113\.0": expected NET\/PREFIX/],
    [['add', '203.0.113.0/33', 'via', '192.0.2.1'], /invalid network/],
    [['add', '203.0.113.0/24', 'via'], /"via" needs a value/],
    [['add', '203.0.113.0/24', 'via', 'router'], /invalid gateway "router"/],
    [['add', '203.0.113.0/24', 'metric', '5'], /unknown word "metric"/],
    [['del'], /route del needs a network/],
    [['del', '203.0.113.0/24', 'now'], /unexpected "now"/],
  ];
  for (const [words, message] of bad) {
    test(`route ${words.join(' ')} is a usage error: ${message}`, () => {
      assert.throws(() => parseRouteWords(words), (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes('\n'));
    });
  }
});

describe('command-line errors are usage errors before any connection is tried', () => {
  const cases: Array<[(argv: string[]) => Promise<number>, string[], RegExp]> = [
    [runRoute, ['--bogus'], /Unknown option '--bogus'/],
    [runRoute, ['--tap', 'tap0', '--control', '/x.sock'], /--tap or --control, not both/],
    [runRoute, ['--tap', 'bad/name'], /invalid --tap/],
    [runRoute, ['add', '203.0.113.0/24'], /needs "via GATEWAY"/],
    [runArp, ['-d', 'nope'], /arp -d: invalid address "nope"/],
    [runArp, ['-s', '192.0.2.9'], /arp -s needs an address and a MAC/],
    [runArp, ['-s', '192.0.2.9', 'zz:zz'], /invalid MAC "zz:zz"/],
    [runArp, ['-s', '192.0.2.9', '02:00:00:00:00:09', 'temp'], /unexpected "temp"/],
    [runArp, ['-d', '192.0.2.1', '-s', '192.0.2.9'], /-d or -s, not both/],
    [runArp, ['192.0.2.1'], /use -d IP or -s IP MAC/],
    [runArp, ['-d'], /argument missing/],
    [runNetstat, ['extra'], /unexpected "extra"/],
    [runNetstat, ['-x'], /Unknown option '-x'/],
    [runStats, ['--control'], /argument missing/],
    [runStats, ['now'], /unexpected "now"/],
  ];
  for (const [run, argv, message] of cases) {
    test(`${run.name} ${argv.join(' ')}: ${message}`, async () => {
      await assert.rejects(run(argv), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, message);
        assert.equal(err.message.includes('\n'), false);
        return true;
      });
    });
  }
});

describe('tables', () => {
  test('the routing table has route -n\'s columns and flags', () => {
    const { stack } = makeStack();
    stack.addRoute(ip('203.0.113.0'), 24, ip('192.0.2.1'));
    const text = formatRouteTable(routesJson(stack));
    assert.equal(text,
      'pstack IP routing table\n' +
      'Destination     Gateway         Genmask         Flags Iface   Source          Origin\n' +
      '192.0.2.0       0.0.0.0         255.255.255.0   U     tap0    192.0.2.2       interface\n' +
      '203.0.113.0     192.0.2.1       255.255.255.0   UG    tap0    192.0.2.2       static\n' +
      '127.0.0.0       0.0.0.0         255.0.0.0       U     lo      127.0.0.1       interface\n' +
      '0.0.0.0         192.0.2.1       0.0.0.0         UG    tap0    192.0.2.2       default\n');
  });

  test('the ARP cache reads like arp -a, with state and time to expiry', () => {
    const { stack, iface, clock } = makeStack();
    stack.neighbors.enqueue(iface, ip('192.0.2.1'), new Uint8Array(20));
    stack.neighbors.learn(iface, ip('192.0.2.1'), parseMac('e2:20:76:2d:5d:2d')!, 0, false);
    stack.neighbors.addStatic(iface, ip('192.0.2.9'), parseMac('02:00:00:00:00:09')!);
    stack.neighbors.enqueue(iface, ip('192.0.2.77'), new Uint8Array(20));
    clock.advance(400);
    const text = formatArpTable(arpJson(stack));
    assert.equal(text,
      '? (192.0.2.1) at e2:20:76:2d:5d:2d [ether] on tap0  reachable, expires in 30 seconds\n' +
      '? (192.0.2.2) at 00:00:5e:00:53:01 [ether] PERM on tap0  permanent (pstack\'s own address)\n' +
      '? (192.0.2.9) at 02:00:00:00:00:09 [ether] PERM on tap0  permanent\n' +
      '? (192.0.2.77) at <incomplete> on tap0  resolving, 1 request sent, 1 packet waiting\n');
    clock.advance(2700);
    assert.match(formatArpTable(arpJson(stack)), /\? \(192\.0\.2\.77\) at <incomplete> on tap0  failed \(no reply\), forgotten in 3 seconds\n/);
    clock.advance(27_000);
    assert.match(formatArpTable(arpJson(stack)), /\? \(192\.0\.2\.1\) at e2:20:76:2d:5d:2d \[ether\] on tap0  stale, removed in 60 seconds/);
    assert.equal(formatArpTable([]), '');
  });

  test('netstat reads like netstat -tuna, TCP first', () => {
    const text = formatNetstat([
      { protocol: 'udp', localAddress: '0.0.0.0', localPort: 7, remoteAddress: '0.0.0.0', remotePort: 0, state: '', recvQueue: 0, sendQueue: 0 },
      { protocol: 'tcp', localAddress: '192.0.2.2', localPort: 7, remoteAddress: '192.0.2.1', remotePort: 40000, state: 'ESTABLISHED', recvQueue: 5, sendQueue: 1200 },
      { protocol: 'tcp', localAddress: '0.0.0.0', localPort: 9, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN', recvQueue: 0, sendQueue: 0 },
    ]);
    assert.equal(text,
      'Active Internet connections (servers and established)\n' +
      'Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n' +
      'tcp        5   1200 192.0.2.2:7             192.0.2.1:40000         ESTABLISHED\n' +
      'tcp        0      0 0.0.0.0:9               0.0.0.0:*               LISTEN\n' +
      'udp        0      0 0.0.0.0:7               0.0.0.0:*\n');
  });

  test('stats groups the counters by protocol like netstat -s, drops by reason under their layer, unknown counters by name', () => {
    const { stack } = makeStack();
    stack.counters.icmpIn = 4;
    stack.counters.drop('ipv4: bad-checksum');
    stack.counters.drop('ipv4: bad-checksum');
    stack.counters.drop('ethernet: not-for-us');
    stack.counters.drop('weird');
    const json = statsJson(stack);
    (json.counters as Record<string, unknown>)['tcpRetransmits'] = 3;
    (json.counters as Record<string, unknown>)['somethingNew'] = 1;
    const text = formatStats(json);
    assert.match(text, /^Link:\n    lo \(loopback, 00:00:00:00:00:00, mtu \d+\): 0 frames in \(0 bytes\), 0 frames out \(0 bytes\), 0 send errors\n/);
    assert.match(text, /\n    1 dropped: not-for-us\nArp:\n/);
    assert.match(text, /\nIp:\n    0 total packets received\n[\s\S]*    2 dropped: bad-checksum\nIcmp:\n    4 ICMP messages received\n/);
    assert.match(text, /\nTcp:\n[\s\S]*    3 retransmits\n/);
    assert.match(text, /\nOther:\n    0 internal errors \(bugs caught and counted\)\n    1 something new\n    1 dropped: weird\n$/);
  });
});
