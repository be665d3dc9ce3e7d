// The path MTU cache (RFC 1191, RFC 8201) on its own on a fake clock, then as TCP and UDP use
// it on a stack: Fragmentation Needed about one connection shrinks every connection to that
// host, expiry lets segments grow again, UDP with path MTU discovery sends DF and gets EMSGSIZE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathMtuCache } from '../../src/stack/path-mtu.js';
import { FakeClock } from '../../src/time/clock.js';
import { IPV4_MIN_PMTU } from '../../src/stack/ipv4-output.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import { ScriptedPeer, F, PEER, US, tsOpt } from '../helpers/tcp-peer.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4, Ipv4Packet } from '../../src/wire/ipv4.js';
import { emitIcmpHeader } from '../../src/wire/icmp.js';
import { createSocket } from '../../src/api/dgram.js';
import { ipv4ToString } from '../../src/wire/addr.js';

const TEN_MINUTES = 600_000;

function cache(clock: FakeClock, floor = 552, maxEntries = 4): PathMtuCache<number> {
  return new PathMtuCache<number>(clock, { floor, expiresMs: TEN_MINUTES, maxEntries });
}

test('PathMtuCache: lowered by a report, never raised by one, the link MTU bounds it', () => {
  const clock = new FakeClock(0);
  const c = cache(clock);
  assert.equal(c.get(1, 1500), 1500, 'unknown: the link MTU');
  const g0 = c.generation;
  assert.equal(c.lower(1, 1400, 1500), 1400);
  assert.notEqual(c.generation, g0, 'a lowering changes the generation');
  assert.equal(c.get(1, 1500), 1400);
  assert.equal(c.lower(1, 1450, 1500), 1400, 'a larger report does not raise it');
  assert.equal(c.lower(1, 9000, 1500), 1400);
  assert.equal(c.lower(1, 1300, 1500), 1300, 'a smaller one lowers it again');
  assert.equal(c.get(1, 1200), 1200, 'a smaller link MTU wins');
  assert.equal(c.lower(2, 1600, 1500), 1500, 'a report above the link MTU changes nothing');
  assert.equal(c.size, 1);
  assert.equal(c.stats.lowered, 2);
  assert.equal(c.stats.ignored, 3);
});

test('PathMtuCache: below the floor means the floor, and locks the path (DF off)', () => {
  const clock = new FakeClock(0);
  const v4 = cache(clock);
  assert.equal(v4.lower(1, 68, 1500), 552);
  assert.equal(v4.lower(1, 0, 1500), 552, 'MTU 0 (pre-RFC 1191 router) is the floor too');
  assert.equal(v4.get(1, 1500), 552);
  assert.equal(v4.locked(1), true);
  assert.equal(v4.stats.belowFloor, 2);
  assert.equal(v4.lower(2, 552, 1500), 552);
  assert.equal(v4.locked(2), false, 'a report at the floor does not lock');
  const v6 = cache(clock, 1280);
  assert.equal(v6.lower(3, 1000, 1500), 1280, 'IPv6: a Packet Too Big below 1280 means 1280 (RFC 8201)');
  assert.equal(v6.get(3, 1500), 1280);
});

test('PathMtuCache: entries expire after ten minutes on the clock, and the link MTU is back', () => {
  const clock = new FakeClock(0);
  const c = cache(clock);
  c.lower(1, 1400, 1500);
  clock.advance(TEN_MINUTES - 1);
  assert.equal(c.get(1, 1500), 1400);
  const g = c.generation;
  clock.advance(1);
  assert.equal(c.get(1, 1500), 1500);
  assert.notEqual(c.generation, g, 'expiry changes the generation (TCP grows its segments again)');
  assert.equal(c.stats.expired, 1);
  assert.equal(c.size, 0);
  // list() drops expired entries too.
  c.lower(2, 1400, 1500);
  clock.advance(TEN_MINUTES);
  assert.deepEqual(c.list(), []);
  assert.equal(c.stats.expired, 2);
});

test('PathMtuCache: bounded; the least recently lowered destination is evicted and counted', () => {
  const clock = new FakeClock(0);
  const c = cache(clock, 552, 3);
  for (let d = 1; d <= 3; d++) c.lower(d, 1400, 1500);
  c.lower(1, 1300, 1500); // 1 is now the most recently lowered
  c.lower(4, 1400, 1500);
  assert.equal(c.size, 3);
  assert.equal(c.stats.evicted, 1);
  assert.equal(c.get(2, 1500), 1500, 'the oldest (2) went');
  assert.equal(c.get(1, 1500), 1300);
  assert.equal(c.get(3, 1500), 1400);
  assert.equal(c.get(4, 1500), 1400);
  for (let d = 10; d < 1000; d++) c.lower(d, 1400, 1500);
  assert.equal(c.size, 3, 'a flood of destinations stays within the bound');
});

// ------------------------------------------------------------------------ on a stack

const PORT = 80;
const LINUX_SYN = [{ kind: 'MSS' as const, value: 1460 }, { kind: 'SACK_PERMITTED' as const }, { kind: 'TS' as const, tsVal: 5000, tsEcr: 0 }];

function acceptFrom(p: ScriptedPeer, peerPort: number): { tcb: Tcb; iss: number } {
  const l = p.tcp.findListener(0, PORT) ?? p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ srcPort: peerPort, dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: LINUX_SYN });
  const synack = p.take()[0]!;
  assert.equal(synack.f, 'S.');
  p.send({ srcPort: peerPort, dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535, options: tsOpt(5001, synack.ts!.tsVal) });
  assert.equal(accepted.length, 1);
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  return { tcb, iss: synack.seq };
}

/** An ICMP Fragmentation Needed from PEER (the router) quoting the first 28 bytes of our IPv4 packet `frame`. */
function fragNeeded(frame: Uint8Array, mtu: number): Uint8Array {
  const quoted = frame.slice(14, 14 + 28);
  const f = new Uint8Array(14 + 20 + 8 + quoted.length);
  emitEthernet(f, 0, frame.subarray(6, 12), frame.subarray(0, 6), EtherType.IPv4);
  f.set(quoted, 34 + 8);
  emitIcmpHeader(f, 34, 3, 4, mtu & 0xffff, quoted.length);
  emitIpv4(f, 14, {
    tos: 0, id: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1,
    src: PEER, dst: US, options: new Uint8Array(0), payloadLength: 8 + quoted.length,
  });
  return f;
}

function dataFrames(p: ScriptedPeer): Uint8Array[] {
  p.tcp.sendAcksAfterReplies();
  return p.dev.take().filter((f) => f.length > 14 + 20 + 32 + 100);
}

test('TCP: a Fragmentation Needed about one connection shrinks the segments of another to the same host', () => {
  const p = new ScriptedPeer();
  const a = acceptFrom(p, 40000);
  const b = acceptFrom(p, 40001);
  assert.equal(a.tcb.maxSeg, 1460);
  p.tcp.send(a.tcb, new Uint8Array(4000));
  const frame = dataFrames(p)[0]!;
  p.dev.inject(fragNeeded(frame, 1200));
  assert.equal(a.tcb.maxSeg, 1160, 'the reported connection shrinks at once');
  assert.equal(p.stack.pathMtuCache.get(PEER, 1500), 1200, 'the cache holds the path MTU');
  const resent = dataFrames(p);
  assert.ok(resent.length > 0 && resent.every((f) => f.length - 14 <= 1200), 'its lost segment is resent smaller');
  // The other connection was not in the report: its next segments fit the path all the same.
  assert.equal(b.tcb.maxSeg, 1460, 'not yet: it learns on its next send');
  p.tcp.send(b.tcb, new Uint8Array(4000));
  const bFrames = dataFrames(p);
  assert.ok(bFrames.length >= 3);
  for (const f of bFrames) {
    assert.ok(f.length - 14 <= 1200, `a ${f.length - 14}-byte packet on a 1200-byte path`);
    assert.equal(new Ipv4Packet(f, 14, f.length - 14).dontFragment, true);
  }
  assert.equal(b.tcb.maxSeg, 1160);
  assert.ok(p.tcp.stats.pmtuShrinks >= 2);
  p.close();
});

test('TCP: a new connection to a host with a cached path MTU starts with it; after expiry segments grow again', () => {
  const p = new ScriptedPeer();
  p.stack.pathMtuCache.lower(PEER, 1000, 1500);
  const a = acceptFrom(p, 40002);
  assert.equal(a.tcb.maxSeg, 960, 'the MSS from the path, not the link');
  assert.equal(a.tcb.rcvMss, 1460, 'what we advertise is still the link MTU less headers');
  p.tcp.send(a.tcb, new Uint8Array(3 * 948)); // three full segments: 948 data + 12 of timestamps
  const first = dataFrames(p);
  assert.equal(first.length, 3, `${first.map((f) => f.length - 14)}`);
  assert.ok(first.every((f) => f.length - 14 <= 1000));
  // ACK what was sent, then stay idle past the entry's ten minutes.
  p.send({ srcPort: 40002, dstPort: PORT, seq: 1001, ack: a.tcb.sndMax, flags: F.ACK, window: 65535, options: tsOpt(9000, a.tcb.tsNow(p.clock.now())) });
  p.dev.take();
  p.advance(TEN_MINUTES + 1);
  p.dev.take();
  p.tcp.send(a.tcb, new Uint8Array(3000));
  const frames = dataFrames(p);
  assert.equal(a.tcb.maxSeg, 1460, 'the entry expired: the link MTU again');
  assert.ok(frames.some((f) => f.length - 14 > 1000), `full-sized segments again: ${frames.map((f) => f.length - 14).join(' ')}`);
  p.close();
});

test('TCP: a forged Fragmentation Needed with MTU 68 cannot take the path below the 552-byte floor', () => {
  const p = new ScriptedPeer();
  const a = acceptFrom(p, 40003);
  p.tcp.send(a.tcb, new Uint8Array(4000));
  p.dev.inject(fragNeeded(dataFrames(p)[0]!, 68));
  assert.equal(p.stack.pathMtuCache.get(PEER, 1500), IPV4_MIN_PMTU);
  assert.equal(p.stack.pathMtuCache.locked(PEER), true);
  assert.equal(a.tcb.maxSeg, IPV4_MIN_PMTU - 40);
  assert.equal(p.tcp.stats.pmtuBelowFloor, 1);
  p.close();
});

test('Fragmentation Needed quoting a connection we do not have changes nothing', () => {
  const p = new ScriptedPeer();
  const a = acceptFrom(p, 40004);
  p.tcp.send(a.tcb, new Uint8Array(4000));
  const frame = dataFrames(p)[0]!.slice();
  frame[14 + 20 + 2] ^= 0x55; // another destination port (the quote names no connection)
  p.dev.inject(fragNeeded(frame, 600));
  assert.equal(p.stack.pathMtuCache.size, 0);
  assert.equal(a.tcb.maxSeg, 1460);
  p.close();
});

async function sendResult(sock: ReturnType<typeof createSocket>, bytes: number, port: number, address: string): Promise<Error | null> {
  return new Promise((resolve) => sock.send(new Uint8Array(bytes), port, address, (err) => resolve(err)));
}

test('UDP with path MTU discovery: DF set; after a Fragmentation Needed a larger datagram fails with EMSGSIZE', async () => {
  const p = new ScriptedPeer();
  const peer = ipv4ToString(PEER);
  const sock = createSocket(p.stack, { type: 'udp4', pathMtuDiscovery: true });
  try {
    assert.equal(await sendResult(sock, 1400, 9, peer), null);
    const frames = p.dev.take().filter((f) => f[23] === 17);
    assert.equal(frames.length, 1);
    assert.equal(new Ipv4Packet(frames[0]!, 14, frames[0]!.length - 14).dontFragment, true, 'DF set');
    assert.equal(sock.getPathMtu(peer), 1500);
    p.dev.inject(fragNeeded(frames[0]!, 1280));
    assert.equal(sock.getPathMtu(peer), 1280, 'IP_MTU reads the learned path MTU');
    const err = await sendResult(sock, 1400, 9, peer);
    assert.equal((err as NodeJS.ErrnoException | null)?.code, 'EMSGSIZE');
    assert.equal(p.dev.take().filter((f) => f[23] === 17).length, 0, 'nothing left');
    assert.equal(await sendResult(sock, 1252, 9, peer), null, '1252 + 28 fits 1280');
    // A socket without it fragments to the path MTU instead.
    const plain = createSocket(p.stack, 'udp4');
    assert.equal(await sendResult(plain, 1400, 9, peer), null);
    const frags = p.dev.take().filter((f) => f[23] === 17).slice(-2);
    assert.equal(frags.length, 2);
    for (const f of frags) {
      const ip = new Ipv4Packet(f, 14, f.length - 14);
      assert.equal(ip.dontFragment, false);
      assert.ok(f.length - 14 <= 1280);
    }
    plain.close();
  } finally {
    sock.close();
    p.close();
  }
});

test('UDP: a Fragmentation Needed quoting a port no socket has is not taken', () => {
  const p = new ScriptedPeer();
  const sock = createSocket(p.stack, 'udp4');
  sock.send(new Uint8Array(1400), 9, ipv4ToString(PEER));
  const frame = p.dev.take().filter((f) => f[23] === 17)[0]!.slice();
  sock.close();
  p.dev.inject(fragNeeded(frame, 1000));
  assert.equal(p.stack.pathMtuCache.size, 0);
  p.close();
});

test('pstack route cache: the entries and counters the control socket reports', async () => {
  const { pathMtuJson, pathMtuCounters, formatPathMtuCache } = await import('../../src/cli/path-mtu-view.js');
  const { parseRouteWords } = await import('../../src/cli/inspect.js');
  const p = new ScriptedPeer();
  assert.equal(formatPathMtuCache(pathMtuJson(p.stack)), 'no cached path MTUs\n');
  p.stack.learnPathMtu(PEER, 1280);
  const list = pathMtuJson(p.stack);
  assert.deepEqual(list, [{ destination: '192.0.2.1', family: 'inet', mtu: 1280, expiresInSeconds: 600, locked: false }]);
  assert.equal(formatPathMtuCache(list), '192.0.2.1 mtu 1280 expires 600sec\n');
  assert.equal(pathMtuCounters(p.stack)['pmtuLowered'], 1);
  assert.equal(pathMtuCounters(p.stack)['pmtuEntries'], 1);
  assert.deepEqual(parseRouteWords(['cache']), { action: 'cache' });
  assert.deepEqual(parseRouteWords(['show', 'cache']), { action: 'cache' });
  assert.throws(() => parseRouteWords(['cache', 'x']));
  p.close();
});
