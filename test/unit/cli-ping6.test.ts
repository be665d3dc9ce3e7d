// pstack ping to IPv6 destinations: the arguments (-4/-6, zones, -I), iputils ping -6's wording
// of ICMPv6 errors, and whole runs between two stacks on an in-memory link with a fake clock.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  Icmp6EchoPath, PingSession, describeIcmpv6Error, formatIpv6Host, parsePingArgs, type PingConfig, type PingSessionOptions,
} from '../../src/cli/ping.js';
import { FatalError, UsageError } from '../../src/cli/errors.js';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { parseIpv6, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { intern6 } from '../../src/stack/ip-address.js';

const ip6 = (s: string) => intern6(parseIpv6(s)!);

function config(argv: string[]): PingConfig {
  const c = parsePingArgs(argv);
  assert.notEqual(c, 'help');
  return c as PingConfig;
}

describe('pstack ping arguments for IPv6', () => {
  test('an IPv6 DEST is an interned address; -6 and -4 set the family; a link-local DEST gets the tap as zone', () => {
    const c = config(['--addr', '2001:db8::2/64', '2001:db8::1']);
    assert.equal(c.destination, ip6('2001:db8::1'));
    assert.equal(c.family, null);
    assert.equal(c.tap.addrs6?.[0]?.addr.prefixLength, 64);
    assert.equal(config(['-6', 'fe80::1']).zone, 'tap0');
    assert.equal(config(['-6', '--tap', 'tap7', '--addr', '192.0.2.2/24', 'fe80::1%tap7']).zone, 'tap7');
    assert.equal(config(['-4', '192.0.2.1']).family, 4);
    assert.equal(config(['-6', 'web.test']).destination, null);
  });

  test('-s allows 65527 data bytes for IPv6 (65535 less the ICMPv6 header) and 65507 for IPv4', () => {
    assert.equal(config(['-s', '65527', '2001:db8::1']).size, 65527);
    assert.throws(() => parsePingArgs(['-s', '65528', '2001:db8::1']), /Maximum is 65527/);
    assert.throws(() => parsePingArgs(['-s', '65508', '192.0.2.1']), /Maximum is 65507/);
  });

  test('-I takes the tap\'s name or an address of the destination\'s family', () => {
    const named = config(['-I', 'tap0', '2001:db8::1']);
    assert.equal(named.interfaceText, 'tap0');
    assert.equal(named.source, null);
    const addressed = config(['-I', '2001:db8::2', '2001:db8::1']);
    assert.equal(addressed.source, ip6('2001:db8::2'));
    assert.equal(addressed.interfaceText, '');
    assert.equal(config(['-I', '192.0.2.2', '192.0.2.1']).source, parseIpv4('192.0.2.2'));
    assert.throws(() => parsePingArgs(['-I', 'eth9', '2001:db8::1']), UsageError);
    assert.throws(() => parsePingArgs(['-I', '192.0.2.2', '2001:db8::1']), UsageError);
  });

  test('wrong combinations fail with one line: family mismatch and a foreign zone exit 2 as iputils; -R, -4 -6 are usage errors', () => {
    const fatal = (argv: string[], re: RegExp) => assert.throws(() => parsePingArgs(argv), (e: unknown) => e instanceof FatalError && e.exitCode === 2 && re.test(e.message));
    fatal(['-4', '2001:db8::1'], /^2001:db8::1: Address family for hostname not supported$/);
    fatal(['-6', '192.0.2.1'], /^192\.0\.2\.1: Address family for hostname not supported$/);
    fatal(['fe80::1%eth0'], /^fe80::1%eth0: Name or service not known$/);
    fatal(['2001:db8::zz'], /Name or service not known/);
    assert.throws(() => parsePingArgs(['-R', '2001:db8::1']), UsageError);
    assert.throws(() => parsePingArgs(['-4', '-6', '192.0.2.1']), UsageError);
  });
});

describe('iputils ping -6 wording', () => {
  test('ICMPv6 errors as pr_icmph prints them', () => {
    assert.equal(describeIcmpv6Error(1, 0, 0), 'Destination unreachable: No route');
    assert.equal(describeIcmpv6Error(1, 1, 0), 'Destination unreachable: Administratively prohibited');
    assert.equal(describeIcmpv6Error(1, 3, 0), 'Destination unreachable: Address unreachable');
    assert.equal(describeIcmpv6Error(1, 4, 0), 'Destination unreachable: Port unreachable');
    assert.equal(describeIcmpv6Error(1, 9, 0), 'Destination unreachable: Unknown code 9');
    assert.equal(describeIcmpv6Error(2, 0, 1280), 'Packet too big: mtu=1280');
    assert.equal(describeIcmpv6Error(3, 0, 0), 'Time exceeded: Hop limit');
    assert.equal(describeIcmpv6Error(3, 1, 0), 'Time exceeded: Defragmentation failure');
    assert.equal(describeIcmpv6Error(4, 1, 40), 'Parameter problem: Unknown header at 40');
    assert.equal(describeIcmpv6Error(200, 0, 0), 'Unknown icmp type: 200');
  });

  test('link-local addresses carry their zone, others do not', () => {
    assert.equal(formatIpv6Host(parseIpv6('fe80::1')!, 'tap0'), 'fe80::1%tap0');
    assert.equal(formatIpv6Host(parseIpv6('2001:db8::1')!, 'tap0'), '2001:db8::1');
  });
});

// ------------------------------------------------------------------------------ two stacks

const MAC_A = parseMac('00:00:5e:00:53:01')!;
const MAC_B = parseMac('02:00:00:00:00:0b')!;

function twoStacks(destination: string, o: Partial<PingSessionOptions> = {}, source: string | null = null) {
  const clock = new FakeClock(1000);
  const wire = new MemoryWire({ mode: 'manual', clock, delayMs: 0.25 });
  const a = new Stack({ timers: clock.timers, ipv6: true });
  const b = new Stack({ timers: clock.timers, ipv6: true });
  const da = wire.createDevice('tap0', MAC_A);
  const db = wire.createDevice('peer', MAC_B);
  // Errors about our own packets (ND giving up) come back over loopback, as on a real host.
  const lo = new LoopbackDevice({ mode: 'manual' });
  a.addInterface(lo, { address: 0x7f000001, prefixLength: 8 });
  a.addInterface(da, { address: parseIpv4('192.0.2.2')!, prefixLength: 24 });
  b.addInterface(db, { address: parseIpv4('192.0.2.1')!, prefixLength: 24 });
  a.ipv6!.addAddress(da, a.devices.indexOf(da), parseIpv6Cidr('2001:db8::2/64')!);
  b.ipv6!.addAddress(db, b.devices.indexOf(db), parseIpv6Cidr('2001:db8::1/64')!);
  a.start();
  b.start();
  const step = (ms: number) => {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      wire.flush();
      lo.flush();
      clock.advance(0.05);
    }
  };
  step(3000); // duplicate address detection on both sides
  const out: string[] = [];
  const dst = ip6(destination);
  const options: PingSessionOptions = {
    destination: dst, destinationText: destination, count: 3, intervalMs: 1000, size: 56, pattern: null, ttl: null,
    lingerMs: 10_000, deadlineMs: null, recordRoute: false, verbose: false, quiet: false, id: 0x4242,
    write: (t) => out.push(t), warn: (t) => out.push(`WARN ${t}`),
    wallClockUs: () => 1_700_000_000_000_000 + Math.round(clock.now() * 1000),
    ...o,
  };
  const path = new Icmp6EchoPath(a.ipv6!, dst, 'tap0', source === null ? null : ip6(source));
  const session = new PingSession(a, options, path);
  void session.start();
  const runToEnd = (limitMs = 60_000) => {
    const end = clock.now() + limitMs;
    while (session.exitCode === null && clock.now() < end) {
      wire.flush();
      lo.flush();
      clock.advance(0.05);
    }
    return session.exitCode ?? -1;
  };
  return { out, session, runToEnd, b };
}

describe('ping -6 runs between two stacks', () => {
  test('three requests, three replies, iputils ping -6 lines, exit 0', () => {
    const r = twoStacks('2001:db8::1');
    assert.equal(r.runToEnd(), 0);
    const text = r.out.join('');
    assert.match(text, /^PING 2001:db8::1\(2001:db8::1\) 56 data bytes\n/);
    for (const seq of [1, 2, 3]) assert.match(text, new RegExp(`\\n64 bytes from 2001:db8::1: icmp_seq=${seq} ttl=64 time=\\d+\\.\\d+ ms\\n`));
    assert.match(text, /\n\n--- 2001:db8::1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2000ms\nrtt min\/avg\/max\/mdev = /);
    assert.doesNotMatch(text, /wrong data|DUP|truncated|WARN/);
  });

  test('to the peer\'s link-local address: the zone in every line; a 3000-byte echo comes back in fragments', () => {
    const ll = 'fe80::ff:fe00:b';
    const r = twoStacks(ll, { destinationText: `${ll}%tap0`, count: 1 });
    assert.equal(r.runToEnd(), 0);
    assert.match(r.out.join(''), /^PING fe80::ff:fe00:b%tap0\(fe80::ff:fe00:b%tap0\) 56 data bytes\n64 bytes from fe80::ff:fe00:b%tap0: icmp_seq=1 ttl=64 /);
    const big = twoStacks('2001:db8::1', { count: 1, size: 3000 });
    assert.equal(big.runToEnd(), 0);
    assert.match(big.out.join(''), /\n3008 bytes from 2001:db8::1: icmp_seq=1 ttl=64 time=/);
    assert.doesNotMatch(big.out.join(''), /wrong data/);
  });

  test('-I with an address prints "from SRC :" in the header; -t sets the hop limit of the requests', () => {
    const r = twoStacks('2001:db8::1', { count: 1, interfaceText: '', ttl: 7 }, '2001:db8::2');
    assert.equal(r.runToEnd(), 0);
    assert.match(r.out.join(''), /^PING 2001:db8::1\(2001:db8::1\) from 2001:db8::2 : 56 data bytes\n/);
  });

  test('an address nobody answers for: Address unreachable from our own address once ND gives up, exit 1', () => {
    const r = twoStacks('2001:db8::99', { count: 2, intervalMs: 500, lingerMs: 1000 });
    assert.equal(r.runToEnd(), 1);
    const text = r.out.join('');
    assert.match(text, /\nFrom 2001:db8::2 icmp_seq=1 Destination unreachable: Address unreachable\n/);
    assert.match(text, /\nFrom 2001:db8::2 icmp_seq=2 Destination unreachable: Address unreachable\n/);
    assert.match(text, /\n2 packets transmitted, 0 received, \+2 errors, 100% packet loss, time 500ms\n/);
  });
});
