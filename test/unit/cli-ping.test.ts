// pstack ping: argument checking, iputils' output formats and statistics arithmetic, and whole
// runs between two stacks on an in-memory wire (and against hand-made ICMP errors).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parsePingArgs, parsePattern, buildEchoData, writeTimestamp, readTimestamp, describeWrongData,
  formatTripTime, formatPercentG, integerSqrt, PingStatistics, formatStatistics, formatReplyOptions,
  describeIcmpError, formatQuotedHeader, PingSession, type PingConfig, type PingSessionOptions,
} from '../../src/cli/ping.js';
import { FatalError, UsageError } from '../../src/cli/errors.js';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { CaptureDevice, hex } from '../helpers/capture-device.js';
import { parseIpv4, parseMac, writeIpv4 } from '../../src/wire/addr.js';
import { EthernetFrame, emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { IcmpPacket, emitIcmpHeader, echoRest } from '../../src/wire/icmp.js';
import { buildRecordRouteOption } from '../../src/wire/ipv4-options.js';

const ip = (s: string) => parseIpv4(s)!;

function config(argv: string[]): PingConfig {
  const c = parsePingArgs(argv);
  assert.notEqual(c, 'help');
  return c as PingConfig;
}

describe('pstack ping arguments', () => {
  test('defaults are iputils\' and the host defaults are pstack server\'s, at log level warn', () => {
    const c = config(['192.0.2.1']);
    assert.equal(c.destination, ip('192.0.2.1'));
    assert.equal(c.destinationText, '192.0.2.1');
    assert.equal(c.count, 0);
    assert.equal(c.intervalMs, 1000);
    assert.equal(c.size, 56);
    assert.equal(c.pattern, null);
    assert.equal(c.ttl, null);
    assert.equal(c.lingerMs, 10_000);
    assert.equal(c.deadlineMs, null);
    assert.equal(c.recordRoute, false);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.tap.name, 'tap0');
    assert.deepEqual(c.tap.addr, { address: ip('192.0.2.2'), prefixLength: 24 });
    assert.equal(c.tap.hostAddr?.address, ip('192.0.2.1'));
    assert.equal(c.gateway, ip('192.0.2.1'));
  });

  test('every option is read, short, grouped and long', () => {
    const c = config(['-c', '3', '-i', '0.2', '-s', '1000', '-p', '6162', '-t', '5', '-W', '1.5', '-w', '4', '-Rvq', '192.0.2.1']);
    assert.deepEqual(
      { count: c.count, intervalMs: c.intervalMs, size: c.size, pattern: Array.from(c.pattern!), ttl: c.ttl, lingerMs: c.lingerMs, deadlineMs: c.deadlineMs, rr: c.recordRoute, v: c.verbose, q: c.quiet },
      { count: 3, intervalMs: 200, size: 1000, pattern: [0x61, 0x62], ttl: 5, lingerMs: 1500, deadlineMs: 4000, rr: true, v: true, q: true },
    );
    const l = config(['--count', '2', '--tap', 'pstk9', '--addr', '198.51.100.2/24', '--gateway', 'none', '--log-level', 'debug', '-c3', '198.51.100.1']);
    assert.equal(l.count, 3);
    assert.equal(l.tap.name, 'pstk9');
    assert.equal(l.tap.hostAddr?.address, ip('198.51.100.1'));
    assert.equal(l.gateway, null);
    assert.equal(l.logLevel, 'debug');
    assert.equal(parsePingArgs(['--help']), 'help');
    assert.equal(parsePingArgs(['-h']), 'help');
  });

  test('a name is looked up later, through --dns or a DHCP lease\'s servers', () => {
    const c = parsePingArgs(['--dns', '192.0.2.1,192.0.2.53:5353', 'web.test']);
    assert.ok(c !== 'help');
    assert.equal(c.destination, null);
    assert.equal(c.destinationText, 'web.test');
    assert.deepEqual(c.dns, ['192.0.2.1', '192.0.2.53:5353']);
    const six = parsePingArgs(['--dns', '2001:db8::53,[2001:db8::54]:5353,fe80::1%tap0', 'web.test']);
    assert.ok(six !== 'help');
    assert.deepEqual(six.dns, ['2001:db8::53', '[2001:db8::54]:5353', 'fe80::1%tap0']);
    // As iputils: something that is not an address is a name, and fails only at lookup.
    const n = parsePingArgs(['192.0.2.300']);
    assert.ok(n !== 'help');
    assert.equal(n.destination, null);
    // What cannot be a name at all fails at once, in iputils' words and exit status.
    assert.throws(() => parsePingArgs(['bad..name']), (err: unknown) => err instanceof FatalError && err.exitCode === 2 && /^bad\.\.name: Name or service not known$/.test(err.message));
  });

  const bad: Array<[string[], RegExp]> = [
    [[], /needs a destination/],
    [['192.0.2.1', '192.0.2.3'], /one destination/],
    [['--dns', 'resolver.test', 'web.test'], /invalid --dns/],
    [['-c', '0', '192.0.2.1'], /invalid -c "0"/],
    [['-c', 'x', '192.0.2.1'], /invalid -c "x"/],
    [['-c', '1.5', '192.0.2.1'], /invalid -c "1.5"/],
    [['-c', '-1', '192.0.2.1'], /'-c'.*ambiguous/],
    [['-i', 'fast', '192.0.2.1'], /invalid -i "fast"/],
    [['-i', '0.001', '192.0.2.1'], /cannot flood/],
    [['-s', '65508', '192.0.2.1'], /packet size 65508 is too large\. Maximum is 65507/],
    [['-R', '-s', '65468', '192.0.2.1'], /Maximum is 65467/],
    [['-s', 'big', '192.0.2.1'], /invalid -s "big"/],
    [['-p', 'xyz', '192.0.2.1'], /hex digits/],
    [['-p', '0'.repeat(33), '192.0.2.1'], /at most 16 bytes/],
    [['-t', '0', '192.0.2.1'], /invalid -t "0": expected a time to live from 1 to 255/],
    [['-t', '256', '192.0.2.1'], /invalid -t "256"/],
    [['-W', '0', '192.0.2.1'], /invalid -W "0"/],
    [['-W', 'soon', '192.0.2.1'], /invalid -W "soon"/],
    [['-w', '0', '192.0.2.1'], /invalid -w "0"/],
    [['-Z', '192.0.2.1'], /Unknown option '-Z'/],
    [['-c'], /argument missing/],
    [['--addr', '192.0.2.2', '192.0.2.1'], /invalid --addr/],
    [['--mac', 'nope', '192.0.2.1'], /invalid --mac/],
    [['--log-level', 'loud', '192.0.2.1'], /invalid --log-level/],
    [['--tap', 'a/b', '192.0.2.1'], /invalid --tap/],
    [['--gateway', '192.0.2', '192.0.2.1'], /invalid --gateway/],
  ];
  for (const [argv, message] of bad) {
    test(`${JSON.stringify(argv)} is a usage error: ${message}`, () => {
      assert.throws(() => parsePingArgs(argv), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, message);
        assert.equal(err.message.includes('\n'), false, 'one line');
        assert.equal(err.exitCode, 2);
        return true;
      });
    });
  }

  test('patterns are read as iputils reads them: hex pairs, an odd digit alone at the end', () => {
    assert.deepEqual(Array.from(parsePattern('6162')), [0x61, 0x62]);
    assert.deepEqual(Array.from(parsePattern('616')), [0x61, 0x06]);
    assert.deepEqual(Array.from(parsePattern('ff'.repeat(16))), new Array(16).fill(0xff));
  });
});

describe('payload', () => {
  test('the default filler is byte i at offset i (the timestamp covers the first 16), as seed 003 and the README show', () => {
    const data = buildEchoData(56, null);
    assert.equal(data[16], 0x10);
    assert.equal(data[55], 0x37);
    assert.equal(buildEchoData(300, null)[256], 0);
  });

  test('a pattern repeats from the start of the data, so after the timestamp it reads 6162 6162 like seed 003', () => {
    const data = buildEchoData(56, parsePattern('6162'));
    writeTimestamp(data, 0x6884910e * 1_000_000 + 469377);
    assert.equal(Buffer.from(data.subarray(0, 20)).toString('hex'), '0e9184680000000081290700000000006162' + '6162');
    const odd = buildEchoData(20, parsePattern('616263'));
    assert.equal(Buffer.from(odd.subarray(16)).toString('hex'), '62636162');
  });

  test('the timestamp is a little-endian struct timeval and reads back exactly', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_000_000_000 * 1_000_000 }), (us) => {
      const data = new Uint8Array(16);
      writeTimestamp(data, us);
      assert.equal(readTimestamp(data), us);
    }));
  });

  test('wrong data is reported as iputils does, then the received bytes 32 to a line', () => {
    const sent = buildEchoData(56, null);
    const got = sent.slice();
    assert.equal(describeWrongData(sent, got, 16), '');
    got[20] = 0xff;
    const text = describeWrongData(sent, got, 16);
    assert.match(text, /^\nwrong data byte #20 should be 0x14 but was 0xff\n#16\t10 11 12 13 ff 15 /);
    assert.match(text, /\n#48\t30 31 32 33 34 35 36 37 $/);
  });
});

describe('output formats', () => {
  test('reply times are rounded like iputils: three decimals below 1 ms, then two, one, none', () => {
    assert.equal(formatTripTime(0), '0.000 ms');
    assert.equal(formatTripTime(321), '0.321 ms');
    assert.equal(formatTripTime(999), '0.999 ms');
    assert.equal(formatTripTime(1000), '1.00 ms');
    assert.equal(formatTripTime(3215), '3.22 ms');
    assert.equal(formatTripTime(9994), '9.99 ms');
    assert.equal(formatTripTime(9995), '10.0 ms');
    assert.equal(formatTripTime(53041), '53.0 ms');
    assert.equal(formatTripTime(99949), '99.9 ms');
    assert.equal(formatTripTime(99950), '100 ms');
    assert.equal(formatTripTime(1234567), '1235 ms');
  });

  test('the loss is printed with C\'s %g of a float', () => {
    assert.equal(formatPercentG(0), '0');
    assert.equal(formatPercentG(100), '100');
    assert.equal(formatPercentG(50), '50');
    assert.equal(formatPercentG(100 / 3), '33.3333');
    assert.equal(formatPercentG(200 / 3), '66.6667');
    assert.equal(formatPercentG(100 / 7), '14.2857');
    assert.equal(formatPercentG(0.5), '0.5');
    assert.equal(formatPercentG(100 / 1e7), '1e-05');
  });

  test('the integer square root takes llsqrt\'s steps, last one included', () => {
    assert.equal(integerSqrt(0n), 0n);
    assert.equal(integerSqrt(1n), 1n);
    assert.equal(integerSqrt(3n), 2n);
    assert.equal(integerSqrt(3540n), 59n);
    assert.equal(integerSqrt(64n), 8n);
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 1n << 62n }), (a) => {
      const r = integerSqrt(a);
      // Newton from above stops at the floor or one past it.
      const floor = r * r > a ? r - 1n : r;
      assert.ok(floor * floor <= a && (floor + 1n) * (floor + 1n) > a, `${a} -> ${r}`);
    }));
  });

  function statsOf(times: number[], transmitted = times.length): PingStatistics {
    const s = new PingStatistics();
    s.transmitted = transmitted;
    for (const t of times) {
      s.addRoundTrip(t);
      s.received++;
    }
    return s;
  }

  test('statistics match iputils\' output for the same round trips, mdev included', () => {
    // Round trips and the lines iputils printed for them (ping -R, ping -s 20, ping -i 0.2 on loopback).
    assert.equal(formatStatistics(statsOf([237, 118]), '127.0.0.1', 1024, true),
      '\n--- 127.0.0.1 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, time 1024ms\nrtt min/avg/max/mdev = 0.118/0.177/0.237/0.059 ms\n');
    assert.match(formatStatistics(statsOf([29, 45]), 'x', 0, true), /rtt min\/avg\/max\/mdev = 0\.029\/0\.037\/0\.045\/0\.008 ms/);
    assert.match(formatStatistics(statsOf([45, 47]), 'x', 0, true), /= 0\.045\/0\.046\/0\.047\/0\.001 ms/);
    assert.match(formatStatistics(statsOf([324]), 'x', 0, true), /= 0\.324\/0\.324\/0\.324\/0\.000 ms/);
  });

  test('errors, duplicates, loss and pipe are worded as iputils does; no times means an empty last line', () => {
    const s = new PingStatistics();
    s.transmitted = 5;
    s.errors = 5;
    s.pipesize = 5;
    assert.equal(formatStatistics(s, '192.0.2.77', 814, true),
      '\n--- 192.0.2.77 ping statistics ---\n5 packets transmitted, 0 received, +5 errors, 100% packet loss, time 814ms\npipe 5\n');
    const none = new PingStatistics();
    none.transmitted = 2;
    assert.equal(formatStatistics(none, '192.0.2.77', 1024, true), '\n--- 192.0.2.77 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time 1024ms\n\n');
    const d = statsOf([100, 200, 300], 3);
    d.duplicates = 1;
    d.received = 2;
    assert.match(formatStatistics(d, 'x', 2000, true), /3 packets transmitted, 2 received, \+1 duplicates, 33\.3333% packet loss, time 2000ms\nrtt min\/avg\/max\/mdev = 0\.100\/0\.200\/0\.300\/0\.081 ms\n$/);
    assert.equal(formatStatistics(statsOf([100]), 'x', 0, false), '\n--- x ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\n\n');
    const both = statsOf([1000, 2000], 3);
    both.pipesize = 2;
    assert.match(formatStatistics(both, 'x', 1, true), /mdev = 1\.000\/1\.500\/2\.000\/0\.500 ms, pipe 2\n$/);
  });

  test('avg lies between min and max and mdev is at most half the spread, for any round trips', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 200 }), (times) => {
      const rtt = statsOf(times).roundTrip()!;
      assert.ok(BigInt(rtt.min) <= rtt.avg && rtt.avg <= BigInt(rtt.max));
      assert.ok(rtt.mdev <= BigInt(Math.ceil((rtt.max - rtt.min) / 2)) + 1n, `${times} -> ${rtt.mdev}`);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      const sd = Math.sqrt(times.reduce((a, b) => a + (b - mean) ** 2, 0) / times.length);
      assert.ok(Math.abs(Number(rtt.mdev) - sd) <= 2, `${times}: ${rtt.mdev} vs ${sd}`);
    }));
  });

  test('pipe is the most requests ever outstanding when one was answered, sequence wrap included', () => {
    const s = new PingStatistics();
    s.transmitted = 5;
    s.acknowledge(5);
    assert.equal(s.pipesize, 1);
    s.acknowledge(1);
    assert.equal(s.pipesize, 5);
    s.transmitted = 65537; // seq 1 again
    s.acknowledge(65535);
    assert.equal(s.pipesize, 5);
    s.acknowledge(65530);
    assert.equal(s.pipesize, 8);
  });

  function recordRoute(addresses: string[], slots = 9): Uint8Array {
    const opt = buildRecordRouteOption(slots);
    addresses.forEach((a, i) => writeIpv4(opt, 3 + 4 * i, ip(a)));
    opt[2] = 4 + 4 * addresses.length;
    return opt;
  }

  test('Record Route is printed as iputils prints it: RR: and tab-indented lines, then (same route)', () => {
    const previous = { route: null as string | null };
    const opt = recordRoute(['192.0.2.2', '192.0.2.1', '192.0.2.1', '192.0.2.2']);
    assert.equal(formatReplyOptions(opt, 0, opt.length, previous), '\nRR: \t192.0.2.2\n\t192.0.2.1\n\t192.0.2.1\n\t192.0.2.2\n');
    assert.equal(formatReplyOptions(opt, 0, opt.length, previous), '\t(same route)');
    const other = recordRoute(['192.0.2.2', '192.0.2.1']);
    assert.equal(formatReplyOptions(other, 0, other.length, previous), '\nRR: \t192.0.2.2\n\t192.0.2.1\n');
    // Nine slots all used (pointer 40 > length 39): all nine are printed, as in seed 002.
    const full = recordRoute(['10.0.10.30', '10.163.4.54', '115.238.118.186', '115.238.118.185', '101.4.115.157', '101.4.116.74', '101.4.116.73', '101.4.119.5', '202.114.1.186']);
    assert.equal(full[2], 40);
    const text = formatReplyOptions(full, 0, full.length, { route: null });
    assert.equal(text.split('\n\t').length, 9);
    assert.match(text, /^\nRR: \t10\.0\.10\.30\n/);
    assert.match(text, /\t202\.114\.1\.186\n$/);
    // Nothing recorded, a NOP, a malformed length: no crash, iputils' words.
    assert.equal(formatReplyOptions(recordRoute([]), 0, 40, { route: null }), '');
    assert.equal(formatReplyOptions(Uint8Array.of(1, 0, 0, 0), 0, 4, { route: null }), '\nNOP');
    assert.equal(formatReplyOptions(Uint8Array.of(7, 200, 4, 0), 0, 4, { route: null }), '');
    assert.equal(formatReplyOptions(Uint8Array.of(0x44, 4, 5, 0), 0, 4, { route: null }), '\nunknown option 44');
  });

  test('ICMP errors are worded as iputils\' pr_icmph', () => {
    assert.equal(describeIcmpError(3, 0, 0), 'Destination Net Unreachable');
    assert.equal(describeIcmpError(3, 1, 0), 'Destination Host Unreachable');
    assert.equal(describeIcmpError(3, 3, 0), 'Destination Port Unreachable');
    assert.equal(describeIcmpError(3, 4, 1400), 'Frag needed and DF set (mtu = 1400)');
    assert.equal(describeIcmpError(3, 13, 0), 'Packet filtered');
    assert.equal(describeIcmpError(3, 99, 0), 'Dest Unreachable, Bad Code: 99');
    assert.equal(describeIcmpError(11, 0, 0), 'Time to live exceeded');
    assert.equal(describeIcmpError(11, 1, 0), 'Frag reassembly time exceeded');
    assert.equal(describeIcmpError(12, 0, 20), 'Parameter problem: pointer = 20');
    assert.equal(describeIcmpError(5, 1, ip('192.0.2.9')), 'Redirect Host(New nexthop: 192.0.2.9)');
    assert.equal(describeIcmpError(4, 0, 0), 'Source Quench');
  });
});

// ------------------------------------------------------------------------------ whole runs

const MAC_A = parseMac('00:00:5e:00:53:01')!;
const MAC_B = parseMac('02:00:00:00:00:0b')!;

interface Run {
  clock: FakeClock;
  out: string[];
  warnings: string[];
  session: PingSession;
  /** Move fake time forward in small steps, delivering frames, until the run ends (bounded). */
  runToEnd(limitMs?: number): number;
  /** Move fake time forward by `ms`, delivering frames. */
  runFor(ms: number): void;
}

function sessionOptions(clock: FakeClock, out: string[], warnings: string[], o: Partial<PingSessionOptions>): PingSessionOptions {
  return {
    destination: ip('192.0.2.1'), destinationText: '192.0.2.1', count: 3, intervalMs: 1000, size: 56, pattern: null, ttl: null,
    lingerMs: 10_000, deadlineMs: null, recordRoute: false, verbose: false, quiet: false, id: 0x4242,
    write: (t) => out.push(t), warn: (t) => warnings.push(t),
    // Wall-clock microseconds follow the fake clock, so round trips are exact.
    wallClockUs: () => 1_700_000_000_000_000 + Math.round(clock.now() * 1000),
    ...o,
  };
}

/** pstack (192.0.2.2) and a peer stack (192.0.2.1) on one in-memory segment with 0.25 ms latency. */
function twoStacks(o: Partial<PingSessionOptions> = {}): Run {
  const clock = new FakeClock(1000);
  const wire = new MemoryWire({ mode: 'manual', clock, delayMs: 0.25 });
  const a = new Stack({ timers: clock.timers });
  const b = new Stack({ timers: clock.timers });
  a.addInterface(wire.createDevice('tap0', MAC_A), { address: ip('192.0.2.2'), prefixLength: 24 });
  b.addInterface(wire.createDevice('peer', MAC_B), { address: ip('192.0.2.1'), prefixLength: 24 });
  a.start();
  b.start();
  const out: string[] = [];
  const warnings: string[] = [];
  const session = new PingSession(a, sessionOptions(clock, out, warnings, o));
  void session.start();
  return {
    clock, out, warnings, session,
    runToEnd(limitMs = 60_000) {
      const end = clock.now() + limitMs;
      while (session.exitCode === null && clock.now() < end) {
        wire.flush();
        clock.advance(0.05);
      }
      return session.exitCode ?? -1;
    },
    runFor(ms) {
      const end = clock.now() + ms;
      while (clock.now() < end) {
        wire.flush();
        clock.advance(0.05);
      }
    },
  };
}

describe('ping runs between two stacks', () => {
  test('three requests, three replies with exact times, the statistics and exit 0', () => {
    const r = twoStacks();
    assert.equal(r.runToEnd(), 0);
    const text = r.out.join('');
    assert.match(text, /^PING 192\.0\.2\.1 \(192\.0\.2\.1\) 56\(84\) bytes of data\.\n/);
    for (const seq of [1, 2, 3]) assert.match(text, new RegExp(`\\n64 bytes from 192\\.0\\.2\\.1: icmp_seq=${seq} ttl=64 time=\\d+\\.\\d+ ms\\n`));
    assert.match(text, /\n\n--- 192\.0\.2\.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2000ms\nrtt min\/avg\/max\/mdev = /);
    assert.doesNotMatch(text, /wrong data|DUP|truncated/);
    assert.deepEqual(r.warnings, []);
  });

  test('a 1000-byte pattern is echoed and checked; -s 8 has no times; -q prints only the head and tail', () => {
    const p = twoStacks({ count: 2, size: 1000, pattern: parsePattern('6162') });
    assert.equal(p.runToEnd(), 0);
    assert.match(p.out[0]!, /^PATTERN: 0x6162\n$/);
    assert.match(p.out.join(''), /1000\(1028\) bytes of data\.\n1008 bytes from 192\.0\.2\.1: icmp_seq=1 ttl=64 time=/);
    const small = twoStacks({ count: 1, size: 8 });
    assert.equal(small.runToEnd(), 0);
    assert.match(small.out.join(''), /\n16 bytes from 192\.0\.2\.1: icmp_seq=1 ttl=64\n/);
    assert.match(small.out.join(''), /time 0ms\n\n$/);
    const quiet = twoStacks({ count: 2, quiet: true });
    assert.equal(quiet.runToEnd(), 0);
    assert.equal(quiet.out.length, 2);
  });

  test('-R sends 124-byte datagrams and prints the route recorded on the way out and back', () => {
    const r = twoStacks({ count: 2, recordRoute: true });
    assert.equal(r.runToEnd(), 0);
    const text = r.out.join('');
    assert.match(text, /56\(124\) bytes of data/);
    // Our address as the request leaves, the peer's as it arrives and as the reply leaves.
    assert.match(text, /icmp_seq=1 ttl=64 time=[\d.]+ ms\nRR: \t192\.0\.2\.2\n\t192\.0\.2\.1\n\t192\.0\.2\.1\n\t192\.0\.2\.2\n\n/);
    assert.match(text, /icmp_seq=2 ttl=64 time=[\d.]+ ms\t\(same route\)\n/);
  });

  test('an address nobody answers: Host Unreachable from ourselves once ARP gives up, even after -W, exit 1', () => {
    const r = twoStacks({ destination: ip('192.0.2.77'), destinationText: '192.0.2.77', count: 2, lingerMs: 1000 });
    assert.equal(r.runToEnd(), 1);
    const text = r.out.join('');
    assert.match(text, /\nFrom 192\.0\.2\.2 icmp_seq=1 Destination Host Unreachable\nFrom 192\.0\.2\.2 icmp_seq=2 Destination Host Unreachable\n/);
    assert.match(text, /2 packets transmitted, 0 received, \+2 errors, 100% packet loss, time 1000ms\npipe 2\n$/);
    assert.ok(r.clock.now() >= 1000 + 3000, 'waited for ARP to give up');
  });

  test('requests while ARP is in its failed hold are reported at once, as Linux reports them', () => {
    const r = twoStacks({ destination: ip('192.0.2.77'), destinationText: '192.0.2.77', count: 6, intervalMs: 1000, lingerMs: 1000 });
    assert.equal(r.runToEnd(), 1);
    const text = r.out.join('');
    for (let seq = 1; seq <= 6; seq++) assert.match(text, new RegExp(`From 192\\.0\\.2\\.2 icmp_seq=${seq} Destination Host Unreachable`));
    assert.match(text, /6 packets transmitted, 0 received, \+6 errors/);
  });

  test('-w ends the run: exit 1 when fewer than -c replies came back, 0 without -c', () => {
    const short = twoStacks({ count: 10, deadlineMs: 2500 });
    assert.equal(short.runToEnd(), 1);
    assert.match(short.out.join(''), /3 packets transmitted, 3 received, 0% packet loss/);
    // As iputils: a request due exactly at the deadline is not sent.
    const exact = twoStacks({ count: 0, intervalMs: 200, deadlineMs: 1000 });
    assert.equal(exact.runToEnd(), 0);
    assert.match(exact.out.join(''), /5 packets transmitted, 5 received, 0% packet loss, time 800ms/);
    const open = twoStacks({ count: 0, deadlineMs: 2500 });
    assert.equal(open.runToEnd(), 0);
  });

  test('interrupting prints the statistics at once', () => {
    const r = twoStacks({ count: 0 });
    r.runFor(1500);
    r.session.interrupt();
    r.session.interrupt();
    assert.equal(r.session.exitCode, 0);
    assert.equal(r.out.filter((t) => t.includes('ping statistics')).length, 1);
    assert.match(r.out.join(''), /2 packets transmitted, 2 received, 0% packet loss, time 1000ms/);
    const silent = twoStacks({ destination: ip('192.0.2.77'), destinationText: '192.0.2.77', count: 0 });
    silent.runFor(500);
    silent.session.interrupt();
    assert.equal(silent.session.exitCode, 1);
  });
});

// ------------------------------------------------------------------------------ hand-made answers

const HOST_MAC = parseMac('e2:20:76:2d:5d:2d')!;

function captureRun(o: Partial<PingSessionOptions> = {}) {
  const clock = new FakeClock(1000);
  const stack = new Stack({ timers: clock.timers });
  const dev = new CaptureDevice('tap0');
  const iface = stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.neighbors.addStatic(iface, ip('192.0.2.1'), HOST_MAC);
  stack.start();
  const out: string[] = [];
  const warnings: string[] = [];
  const session = new PingSession(stack, sessionOptions(clock, out, warnings, { destination: ip('203.0.113.1'), destinationText: '203.0.113.1', ...o }));
  void session.start();
  return { clock, stack, dev, out, warnings, session, get code() { return session.exitCode; } };
}

/** A frame from the gateway carrying `icmp` (type, code, rest) whose data is `data`. */
function icmpFrame(src: string, type: number, code: number, rest: number, data: Uint8Array, ipOptions = new Uint8Array(0)): Uint8Array {
  const icmpLength = 8 + data.length;
  const f = new Uint8Array(14 + 20 + ipOptions.length + icmpLength);
  emitEthernet(f, 0, MAC_A, HOST_MAC, EtherType.IPv4);
  const l4 = 34 + ipOptions.length;
  f.set(data, l4 + 8);
  emitIcmpHeader(f, l4, type, code, rest, data.length);
  emitIpv4(f, 14, {
    tos: 0, id: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 60, protocol: 1,
    src: ip(src), dst: ip('192.0.2.2'), options: ipOptions, payloadLength: icmpLength,
  });
  return f;
}

/** The IP datagram inside a frame pstack sent. */
function sentDatagram(frame: Uint8Array): Uint8Array {
  const eth = new EthernetFrame(frame, 0, frame.length);
  const p = new Ipv4Packet(frame, eth.payloadOffset, eth.payloadLength);
  return frame.slice(eth.payloadOffset, eth.payloadOffset + p.totalLength);
}

describe('ping against hand-made answers', () => {
  test('errors from a router are matched to our request by the quoted ICMP header, others are ignored', () => {
    const r = captureRun({ count: 3, verbose: true });
    const [first] = r.dev.take();
    const datagram = sentDatagram(first!);
    const quoted = datagram.slice(0, 28);
    // Someone else's echo (another id) and a reply with another id: not ours, not printed.
    const otherId = quoted.slice();
    otherId[24] ^= 0xff;
    r.dev.inject(icmpFrame('192.0.2.1', 11, 0, 0, otherId));
    const icmp = new IcmpPacket(datagram, 20, datagram.length - 20);
    const foreignReply = datagram.slice(20);
    foreignReply[4] ^= 0xff;
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(icmp.echoId ^ 0xff00, 1), foreignReply.subarray(8)));
    assert.equal(r.out.length, 1);
    r.dev.inject(icmpFrame('198.51.100.1', 11, 0, 0, quoted));
    const text = r.out.join('');
    assert.match(text, /\nFrom 198\.51\.100\.1 icmp_seq=1 Time to live exceeded\nVr HL TOS  Len   ID Flg  off TTL Pro  cks      Src      Dst Data\n 4  5  00 0054 0001   0 0000  40  01 [0-9a-f]{4} 192\.0\.2\.2  203\.0\.113\.1 \noriginal datagram: 192\.0\.2\.2 > 203\.0\.113\.1, ICMP \(1\), Echo \(8\) id 16962 seq 1\n/);
    r.clock.advance(1000);
    const second = sentDatagram(r.dev.take()[0]!);
    r.dev.inject(icmpFrame('192.0.2.1', 3, 4, 1400, second.slice(0, 28)));
    assert.match(r.out.join(''), /From 192\.0\.2\.1 icmp_seq=2 Frag needed and DF set \(mtu = 1400\)\n/);
    r.clock.advance(1000);
    const third = sentDatagram(r.dev.take()[0]!);
    r.dev.inject(icmpFrame('192.0.2.1', 5, 1, ip('192.0.2.9'), third.slice(0, 28)));
    assert.match(r.out.join(''), /From 192\.0\.2\.1: icmp_seq=3 Redirect Host\(New nexthop: 192\.0\.2\.9\)\n/);
    // A redirect is not a failure: the run goes on until -W.
    assert.equal(r.code, null);
    r.dev.inject(icmpFrame('203.0.113.1', 3, 3, 0, third.slice(0, 28)));
    assert.equal(r.code, 1);
    assert.match(r.out.join(''), /3 packets transmitted, 0 received, \+3 errors, 100% packet loss/);
  });

  test('echoed data is checked, duplicates are flagged, and a short reply is truncated', () => {
    const r = captureRun({ count: 2 });
    const request = sentDatagram(r.dev.take()[0]!);
    const data = request.slice(28);
    r.clock.advance(0.4);
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(0x4242, 1), data));
    r.clock.advance(0.1);
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(0x4242, 1), data));
    const bad = data.slice();
    bad[30] = 0;
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(0x4242, 1), bad));
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(0x4242, 1), data.subarray(0, 20)));
    const lines = r.out.join('').split('\n');
    assert.equal(lines[1], '64 bytes from 203.0.113.1: icmp_seq=1 ttl=60 time=0.400 ms');
    assert.equal(lines[2], '64 bytes from 203.0.113.1: icmp_seq=1 ttl=60 time=0.500 ms (DUP!)');
    assert.equal(lines[3], '64 bytes from 203.0.113.1: icmp_seq=1 ttl=60 time=0.500 ms (DUP!)');
    assert.equal(lines[4], 'wrong data byte #30 should be 0x1e but was 0x0');
    assert.match(r.out.join(''), /\n28 bytes from 203\.0\.113\.1: icmp_seq=1 ttl=60 \(truncated\)\n/);
    r.clock.advance(1000);
    const second = sentDatagram(r.dev.take()[0]!);
    r.clock.advance(2);
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(0x4242, 2), second.slice(28)));
    assert.equal(r.code, 0);
    assert.match(r.out.join(''), /2 packets transmitted, 2 received, \+3 duplicates, 0% packet loss, time 1000ms\nrtt min\/avg\/max\/mdev = 0\.400\/0\.880\/2\.500\/0\.810 ms\n$/);
  });

  test('a timestamp from the future is a warning, not a negative time', () => {
    const r = captureRun({ count: 1 });
    const request = sentDatagram(r.dev.take()[0]!);
    const data = request.slice(28);
    writeTimestamp(data, 1_700_000_000_000_000 + 10_000_000_000);
    r.dev.inject(icmpFrame('203.0.113.1', 0, 0, echoRest(0x4242, 1), data));
    assert.match(r.warnings.join(''), /time of day goes back/);
    assert.match(r.out.join(''), /time=0\.000 ms/);
    assert.equal(r.code, 0);
  });

  test('the quoted-header dump reads any bytes without throwing', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
      formatQuotedHeader(bytes, null);
      const msg = new Uint8Array(8 + bytes.length);
      msg.set(bytes, 8);
      msg[0] = 3;
      formatQuotedHeader(bytes, new IcmpPacket(msg, 0, msg.length));
    }));
    assert.equal(formatQuotedHeader(hex('4500'), null), '');
  });
});
