// Every bound `pstack server --limit` can set (src/cli/limits.ts): set small, reached, and
// seen to hold and to be counted under the counter the limit table names. The table itself is
// checked too: every limit has a test here, and its counters really move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack, type StackOptions } from '../../src/api/stack.js';
import { TX_HEADROOM } from '../../src/stack/network.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4 } from '../../src/wire/ipv4.js';
import { emitUdp } from '../../src/wire/udp.js';
import { emitArp } from '../../src/wire/arp.js';
import { ScriptedPeer, F, linuxSynOptions } from '../helpers/tcp-peer.js';
import type { TcpConfig } from '../../src/transport/tcp/tcb.js';
import type { Tcb } from '../../src/transport/tcp/tcp.js';
import { LIMITS, applyLimit, emptyLimitSettings, limitHits, limitValues, formatLimitHelp } from '../../src/cli/limits.js';
import { statsJson, memoryCounters } from '../../src/cli/control.js';
import { formatStats } from '../../src/cli/inspect.js';
import { parseServerArgs, DEFAULT_NICE } from '../../src/cli/server.js';
import { FatalError, UsageError } from '../../src/cli/errors.js';

const ip = (s: string) => parseIpv4(s)!;
const US_MAC = parseMac('00:00:5e:00:53:01')!;
const HOST_MAC = parseMac('02:00:00:00:00:03')!;

/** Limits each test below exercised; checked against the table at the end. */
const tested = new Set<string>();

/** The limit's hits as `pstack stats` computes them (drops and TCP statistics merged). */
function hits(stack: Stack, name: string, tcp?: { statistics(): Record<string, number> }): number {
  return limitHits({ ...stack.counters.toJSON(), ...(tcp?.statistics() ?? {}), ...memoryCounters(stack) })[name]!;
}

function hostStack(options: StackOptions) {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, ...options });
  const dev = new CaptureDevice('tap0');
  stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.start();
  // 192.0.2.3 asks for us, so it is learned and answers to it leave at once.
  const f = new Uint8Array(42);
  emitEthernet(f, 0, new Uint8Array(6).fill(0xff), HOST_MAC, EtherType.ARP);
  emitArp(f, 14, { op: 1, senderMac: HOST_MAC, senderIp: ip('192.0.2.3'), targetMac: new Uint8Array(6), targetIp: ip('192.0.2.2') });
  dev.inject(f);
  dev.take();
  return { clock, stack, dev };
}

function ipFrame(payload: Uint8Array, o: { protocol?: number; id?: number; mf?: boolean; off?: number } = {}): Uint8Array {
  const f = new Uint8Array(34 + payload.length);
  emitEthernet(f, 0, US_MAC, HOST_MAC, EtherType.IPv4);
  f.set(payload, 34);
  emitIpv4(f, 14, {
    tos: 0, id: o.id ?? 1, dontFragment: false, moreFragments: o.mf ?? false, fragmentOffset: o.off ?? 0, ttl: 64,
    protocol: o.protocol ?? 17, src: ip('192.0.2.3'), dst: ip('192.0.2.2'), options: new Uint8Array(0), payloadLength: payload.length,
  });
  return f;
}

function udpTo(port: number): Uint8Array {
  const b = new Uint8Array(8 + 4);
  emitUdp(b, 0, { srcPort: 40000, dstPort: port, payloadLength: 4 }, ip('192.0.2.3'), ip('192.0.2.2'));
  return ipFrame(b);
}

/** An IP datagram from us to `dst` (on-link): queued while ARP resolves it. */
function sendFromUs(stack: Stack, dst: string): void {
  const buf = stack.txBuffer;
  emitUdp(buf, TX_HEADROOM, { srcPort: 5000, dstPort: 9, payloadLength: 0 }, ip('192.0.2.2'), ip(dst));
  stack.output({ src: ip('192.0.2.2'), dst: ip(dst), protocol: 17 }, buf, TX_HEADROOM, 8);
}

// ------------------------------------------------------------------------ ARP

test('arp.maxEntries: new entries are refused beyond it, counted as arp: cache-full', () => {
  tested.add('arp.maxEntries');
  // Our own address is a static entry; 192.0.2.3 was learned: the cache is full at 2.
  const { stack } = hostStack({ neighbor: { maxEntries: 2 } });
  sendFromUs(stack, '192.0.2.50');
  assert.equal(stack.neighbors.size, 2);
  assert.equal(stack.neighbors.get(ip('192.0.2.50')), undefined);
  assert.equal(stack.counters.drops.get('arp: cache-full'), 1);
  assert.equal(hits(stack, 'arp.maxEntries'), 1);
});

test('arp.queuePerEntry: packets beyond it while resolving drop the oldest, counted as arp: queue-full', () => {
  tested.add('arp.queuePerEntry');
  const { stack, dev } = hostStack({ neighbor: { queuePerEntry: 2 } });
  for (let i = 0; i < 5; i++) sendFromUs(stack, '192.0.2.50');
  assert.equal(stack.neighbors.get(ip('192.0.2.50'))!.queue.length, 2);
  assert.equal(hits(stack, 'arp.queuePerEntry'), 3);
  assert.equal(dev.take().length, 1, 'one ARP request, no packets');
});

// ------------------------------------------------------------------------ reassembly

test('reassembly.maxDatagrams: the oldest incomplete datagram gives way, counted', () => {
  tested.add('reassembly.maxDatagrams');
  const { stack } = hostStack({ reassembly: { maxDatagrams: 2 } });
  for (let id = 1; id <= 5; id++) stack.receiveFrame(stack.devices[0]!, ipFrame(new Uint8Array(16), { id, mf: true }));
  assert.equal(stack.reassembler.datagrams, 2);
  assert.equal(stack.counters.drops.get('reassembly: evicted-datagram-limit'), 3);
  assert.equal(hits(stack, 'reassembly.maxDatagrams'), 3);
});

test('reassembly.maxBytes: buffers never exceed it; the oldest gives way, counted', () => {
  tested.add('reassembly.maxBytes');
  const { stack } = hostStack({ reassembly: { maxBytes: 65536 } });
  // A fragment far into its datagram needs a buffer reaching its offset (about 40 KB).
  for (let id = 1; id <= 3; id++) stack.receiveFrame(stack.devices[0]!, ipFrame(new Uint8Array(8), { id, mf: true, off: 40_000 }));
  assert.ok(stack.reassembler.bufferedBytes <= 65536, `${stack.reassembler.bufferedBytes}`);
  assert.equal(stack.reassembler.datagrams, 1);
  assert.equal(hits(stack, 'reassembly.maxBytes'), 2);
});

test('reassembly.maxFragmentsPerDatagram: one fragment too many drops the datagram, counted', () => {
  tested.add('reassembly.maxFragmentsPerDatagram');
  const { stack } = hostStack({ reassembly: { maxFragmentsPerDatagram: 2 } });
  for (let i = 0; i < 3; i++) stack.receiveFrame(stack.devices[0]!, ipFrame(new Uint8Array(8), { id: 9, mf: true, off: i * 8 }));
  assert.equal(stack.reassembler.datagrams, 0);
  assert.equal(hits(stack, 'reassembly.maxFragmentsPerDatagram'), 1);
});

test('reassembly.timeoutMs: an incomplete datagram is dropped after it, counted', () => {
  tested.add('reassembly.timeoutMs');
  const { stack, clock } = hostStack({ reassembly: { timeoutMs: 500 } });
  stack.receiveFrame(stack.devices[0]!, ipFrame(new Uint8Array(8), { id: 9, mf: true, off: 8 }));
  clock.advance(499);
  assert.equal(stack.reassembler.datagrams, 1);
  clock.advance(2);
  assert.equal(stack.reassembler.datagrams, 0);
  assert.equal(hits(stack, 'reassembly.timeoutMs'), 1);
});

// ------------------------------------------------------------------------ ICMP

test('icmp.errorBurst and icmp.errorsPerSecond: errors beyond the bucket are counted, not sent', () => {
  tested.add('icmp.errorBurst');
  tested.add('icmp.errorsPerSecond');
  const { stack, dev, clock } = hostStack({ icmp: { errorBurst: 2, errorsPerSecond: 10 } });
  for (let i = 0; i < 5; i++) dev.inject(udpTo(9999));
  assert.equal(dev.take().length, 2, 'the burst: two Port Unreachables');
  assert.equal(stack.counters.icmpErrorsRateLimited, 3);
  // 10 per second: after 100 ms one more token.
  clock.advance(100);
  dev.inject(udpTo(9999), udpTo(9999));
  assert.equal(dev.take().length, 1);
  assert.equal(hits(stack, 'icmp.errorsPerSecond'), 4);
});

function udpFrom(src: string, port: number): Uint8Array {
  const f = udpTo(port);
  emitIpv4(f, 14, {
    tos: 0, id: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64,
    protocol: 17, src: ip(src), dst: ip('192.0.2.2'), options: new Uint8Array(0), payloadLength: 12,
  });
  emitUdp(f, 34, { srcPort: 40000, dstPort: port, payloadLength: 4 }, ip(src), ip('192.0.2.2'));
  return f;
}

test('icmp.destinationIntervalMs and icmp.destinationBurst: one source gets its burst, then one error per interval; another source still gets its own', () => {
  tested.add('icmp.destinationIntervalMs');
  tested.add('icmp.destinationBurst');
  const { stack, dev, clock } = hostStack({ icmp: { destinationIntervalMs: 200, destinationBurst: 3 } });
  for (let i = 0; i < 10; i++) dev.inject(udpTo(9999));
  assert.equal(dev.take().length, 3, 'the burst: three Port Unreachables');
  assert.equal(hits(stack, 'icmp.destinationIntervalMs'), 7);
  assert.equal(stack.counters.icmpErrorsRateLimited, 7, 'counted among all rate-limited errors too');
  clock.advance(199);
  dev.inject(udpTo(9999));
  assert.equal(dev.take().length, 0);
  clock.advance(1);
  dev.inject(udpTo(9999), udpTo(9999));
  assert.equal(dev.take().length, 1, 'one interval later, one more');
  // Another source (not resolved yet: its error waits for ARP, so an ARP request leaves).
  dev.inject(udpFrom('192.0.2.4', 9999));
  const out = dev.take();
  assert.equal(out.length, 1);
  assert.equal((out[0]![12]! << 8) | out[0]![13]!, 0x0806, 'ARP for the other source: its error was allowed');
  assert.equal(stack.counters.icmpErrorsDestinationLimited, 9);
});

test('icmp.maxDestinations: the table of per-destination limits stays bounded; the oldest gives way, counted', () => {
  tested.add('icmp.maxDestinations');
  const { stack, dev } = hostStack({ icmp: { maxDestinations: 4, errorBurst: 1000 } });
  for (let i = 10; i < 20; i++) dev.inject(udpFrom(`192.0.2.${i}`, 9999));
  assert.equal(stack.icmp.trackedDestinations, 4);
  assert.equal(hits(stack, 'icmp.maxDestinations'), 6);
});

// ------------------------------------------------------------------------ TCP

/** A listener on port 80 and a peer that completes handshakes without options. */
function tcpPeer(config: Partial<TcpConfig>) {
  const p = new ScriptedPeer({ tcp: config });
  const listener = p.tcp.listen(0, 80);
  return { p, listener };
}

/** SYN from `port`; returns the SYN-ACK (or whatever answered). */
function syn(p: ScriptedPeer, port: number, options = [] as ReturnType<typeof linuxSynOptions>) {
  p.send({ srcPort: port, dstPort: 80, seq: 1000, flags: F.SYN, options });
  return p.take();
}

/** A full handshake from `port`; returns the connection block and our ISS. */
function connect(p: ScriptedPeer, port: number, options = [] as ReturnType<typeof linuxSynOptions>): { tcb: Tcb; iss: number } {
  const [sa] = syn(p, port, options);
  assert.equal(sa?.f, 'S.');
  p.send({ srcPort: port, dstPort: 80, seq: 1001, ack: sa.seq + 1, flags: F.ACK });
  p.take();
  const tcb = p.tcp.connections().find((t) => t.remotePort === port)!;
  assert.equal(tcb.stateName, 'ESTABLISHED');
  return { tcb, iss: sa.seq };
}

test('tcp.ecn: 2 (the default) accepts an ECN-setup SYN, 0 refuses it, 1 also asks when connecting', () => {
  tested.add('tcp.ecn');
  const ecnSyn = (p: ScriptedPeer, port: number) => {
    p.send({ srcPort: port, dstPort: 80, seq: 1000, flags: F.SYN | F.ECE | F.CWR });
    return p.take()[0]!;
  };
  const passive = tcpPeer({});
  assert.equal(passive.p.tcp.config.ecn, 2);
  assert.equal(ecnSyn(passive.p, 40000).flags & (F.ECE | F.CWR), F.ECE, 'ECN-setup SYN-ACK');
  assert.equal(hits(passive.p.stack, 'tcp.ecn', passive.p.tcp), 1);
  passive.p.tcp.connect(ip('192.0.2.1'), 9);
  assert.equal(passive.p.take()[0]!.flags & (F.ECE | F.CWR), 0, 'mode 2 does not ask');
  const off = tcpPeer({ ecn: 0 });
  assert.equal(ecnSyn(off.p, 40000).flags & (F.ECE | F.CWR), 0);
  assert.equal(hits(off.p.stack, 'tcp.ecn', off.p.tcp), 0);
  const on = tcpPeer({ ecn: 1 });
  on.p.tcp.connect(ip('192.0.2.1'), 9);
  assert.equal(on.p.take()[0]!.flags & (F.ECE | F.CWR), F.ECE | F.CWR, 'mode 1 sends an ECN-setup SYN');
  assert.equal(applyLimit('tcp.ecn=3', emptyLimitSettings())?.includes('from 0 to 2'), true);
});

test('tcp.maxConnections: a SYN beyond it is answered with a RST and counted as tcp: max-connections', () => {
  tested.add('tcp.maxConnections');
  const { p } = tcpPeer({ maxConnections: 2 });
  connect(p, 40000);
  connect(p, 40001);
  const answer = syn(p, 40002);
  assert.equal(answer.length, 1);
  assert.equal(answer[0]!.f, 'R.');
  assert.equal(answer[0]!.ack, 1001);
  assert.equal(p.tcp.connectionCount, 2);
  assert.equal(hits(p.stack, 'tcp.maxConnections', p.tcp), 1);
  // An active open beyond it fails with EAGAIN, counted the same way.
  assert.throws(() => p.tcp.connect(ip('192.0.2.1'), 9), /too many connections/);
  assert.equal(hits(p.stack, 'tcp.maxConnections', p.tcp), 2);
});

test('tcp.maxConnections also holds for SYN cookies: a valid cookie ACK beyond it gets a RST', () => {
  const { p } = tcpPeer({ maxConnections: 2, maxSynBacklog: 1 });
  const [first] = syn(p, 40000); // SYN_RECEIVED, the SYN queue is now full
  const [cookie] = syn(p, 40001); // answered with a cookie
  assert.equal(cookie?.f, 'S.');
  assert.equal(p.tcp.stats.synCookiesSent, 1);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1001, ack: first!.seq + 1, flags: F.ACK });
  syn(p, 40002); // the second block: the table is full
  assert.equal(p.tcp.connectionCount, 2);
  p.send({ srcPort: 40001, dstPort: 80, seq: 1001, ack: cookie!.seq + 1, flags: F.ACK });
  const answer = p.take();
  assert.equal(answer.length, 1);
  assert.equal(answer[0]!.f, 'R');
  assert.equal(p.tcp.connectionCount, 2);
  assert.equal(p.stack.counters.drops.get('tcp: max-connections'), 1);
});

test('tcp.maxSynBacklog: SYNs beyond it get cookies (counted), or are dropped without cookies (counted)', () => {
  tested.add('tcp.maxSynBacklog');
  const a = tcpPeer({ maxSynBacklog: 2 });
  for (let i = 0; i < 5; i++) syn(a.p, 40000 + i);
  assert.equal(a.listener.synQueueLength, 2);
  assert.equal(a.p.tcp.stats.synCookiesSent, 3);
  assert.equal(hits(a.p.stack, 'tcp.maxSynBacklog', a.p.tcp), 3);
  const b = tcpPeer({ maxSynBacklog: 2, synCookies: false });
  for (let i = 0; i < 5; i++) syn(b.p, 40000 + i);
  assert.equal(b.p.tcp.connectionCount, 2);
  assert.equal(b.p.stack.counters.drops.get('tcp: syn-queue-full'), 3);
  assert.equal(hits(b.p.stack, 'tcp.maxSynBacklog', b.p.tcp), 3);
});

test('tcp.maxTimeWait: connections beyond it skip TIME_WAIT, counted', () => {
  tested.add('tcp.maxTimeWait');
  const { p } = tcpPeer({ maxTimeWait: 1 });
  for (const port of [40000, 40001]) {
    const { tcb, iss } = connect(p, port);
    p.tcp.close(tcb); // our FIN
    const [fin] = p.take();
    assert.equal(fin?.f, 'F.');
    p.send({ srcPort: port, dstPort: 80, seq: 1001, ack: iss + 2, flags: F.FIN | F.ACK });
    p.take();
  }
  assert.equal(p.tcp.timeWaitCount, 1);
  assert.equal(p.tcp.connectionCount, 1);
  assert.equal(hits(p.stack, 'tcp.maxTimeWait', p.tcp), 1);
});

test('tcp.sendBufferSize: a send takes no more than the buffer holds, counted', () => {
  tested.add('tcp.sendBufferSize');
  const { p } = tcpPeer({ sendBufferSize: 1024 });
  const { tcb } = connect(p, 40000);
  assert.equal(p.tcp.send(tcb, new Uint8Array(4000)), 1024);
  assert.equal(tcb.sendBuffer.length, 1024);
  assert.equal(hits(p.stack, 'tcp.sendBufferSize', p.tcp), 1);
});

test('tcp.recvBufferSize: bytes beyond the window it allows are cut off, counted', () => {
  tested.add('tcp.recvBufferSize');
  const { p } = tcpPeer({ recvBufferSize: 1024 });
  const { tcb, iss } = connect(p, 40000);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1001, ack: iss + 1, flags: F.ACK | F.PSH, data: new Uint8Array(1500) });
  assert.equal(tcb.recvBuffer.readable, 1024);
  assert.equal(p.stack.counters.drops.get('tcp: beyond-window'), 1);
  assert.equal(hits(p.stack, 'tcp.recvBufferSize', p.tcp), 1);
});

test('tcp.maxOooRanges: a segment that would add one range too many is dropped, counted', () => {
  tested.add('tcp.maxOooRanges');
  const { p } = tcpPeer({ maxOooRanges: 2 });
  const { tcb, iss } = connect(p, 40000);
  for (const gap of [100, 300, 500]) {
    p.send({ srcPort: 40000, dstPort: 80, seq: 1001 + gap, ack: iss + 1, flags: F.ACK, data: new Uint8Array(10) });
  }
  assert.equal(tcb.recvBuffer.oooRanges, 2);
  assert.equal(p.stack.counters.drops.get('tcp: ooo-queue-full'), 1);
  assert.equal(hits(p.stack, 'tcp.maxOooRanges', p.tcp), 1);
});

test('tcp.maxOooBytes: out-of-order bytes beyond it are dropped, counted', () => {
  tested.add('tcp.maxOooBytes');
  const { p } = tcpPeer({ maxOooBytes: 100 });
  const { tcb, iss } = connect(p, 40000);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1101, ack: iss + 1, flags: F.ACK, data: new Uint8Array(80) });
  p.send({ srcPort: 40000, dstPort: 80, seq: 1301, ack: iss + 1, flags: F.ACK, data: new Uint8Array(80) });
  assert.equal(tcb.recvBuffer.oooBytes, 80);
  assert.equal(hits(p.stack, 'tcp.maxOooBytes', p.tcp), 1);
});

test('tcp.maxSackRanges: the scoreboard keeps no more ranges, the forgotten ones counted', () => {
  tested.add('tcp.maxSackRanges');
  const { p } = tcpPeer({ maxSackRanges: 2, timestamps: false });
  const options = [{ kind: 'MSS' as const, value: 500 }, { kind: 'SACK_PERMITTED' as const }];
  const { tcb, iss } = connect(p, 40000, options);
  p.tcp.send(tcb, new Uint8Array(4000));
  assert.ok(p.take().length >= 4);
  const una = iss + 1;
  const block = (from: number) => [una + from, una + from + 500] as [number, number];
  p.send({ srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: F.ACK, options: [{ kind: 'SACK', blocks: [block(500), block(1500), block(2500)] }] });
  assert.equal(p.tcp.stats.sackRangesEvicted, 1);
  assert.equal(hits(p.stack, 'tcp.maxSackRanges', p.tcp), 1);
});

test('tcp.challengeAckLimit: challenge ACKs beyond the rate are not sent, counted', () => {
  tested.add('tcp.challengeAckLimit');
  // Limit 1: each second's budget is drawn from [1, 1], so exactly one.
  const { p } = tcpPeer({ challengeAckLimit: 1, challengeAckIntervalMs: 0 });
  const { iss } = connect(p, 40000);
  // RSTs inside the window but not at RCV.NXT: each deserves a challenge ACK (RFC 5961 3.2).
  p.send({ srcPort: 40000, dstPort: 80, seq: 1500, ack: iss + 1, flags: F.RST });
  p.send({ srcPort: 40000, dstPort: 80, seq: 1600, ack: iss + 1, flags: F.RST });
  assert.equal(p.take().length, 1);
  assert.equal(hits(p.stack, 'tcp.challengeAckLimit', p.tcp), 1);
});

// ------------------------------------------------------------------------ the memory budget

test('memory.maxBytes: reassembly buffers beyond the hard limit are refused, counted', () => {
  tested.add('memory.maxBytes');
  const { stack } = hostStack({ memory: { maxBytes: 65536 } });
  // Each fragment far into its datagram needs a buffer of about 40 KB: the second does not fit.
  for (let id = 1; id <= 2; id++) stack.receiveFrame(stack.devices[0]!, ipFrame(new Uint8Array(8), { id, mf: true, off: 40_000 }));
  assert.equal(stack.reassembler.datagrams, 1);
  assert.equal(stack.counters.drops.get('reassembly: memory-budget'), 1);
  assert.ok(stack.memory.allocatedBytes <= 65536);
  assert.equal(hits(stack, 'memory.maxBytes'), 1);
});

test('memory.pressureBytes and memory.lowBytes: pressure begins above one and ends below the other', () => {
  tested.add('memory.pressureBytes');
  tested.add('memory.lowBytes');
  const { stack, clock } = hostStack({ memory: { lowBytes: 1000, pressureBytes: 30_000, maxBytes: 1 << 20 } });
  stack.receiveFrame(stack.devices[0]!, ipFrame(new Uint8Array(8), { id: 1, mf: true, off: 40_000 }));
  assert.equal(stack.memory.underPressure, true);
  assert.equal(hits(stack, 'memory.pressureBytes'), 1);
  clock.advance(31_000); // the datagram times out: its buffer goes, and with it the pressure
  assert.equal(stack.memory.allocatedBytes, 0);
  assert.equal(stack.memory.underPressure, false);
  assert.equal(stack.memory.stats().pressureMs, 30_000);
  const text = formatStats(statsJson(stack));
  assert.match(text, /^Memory:$/m);
  assert.match(text, /memory pressure entered 1 times, 30\.0 s in all, last 31 s ago; 0 allocations refused/);
});

test('tcp.sendBufferMin: a send buffer starts there, grows with cwnd, and falls back to it under pressure', () => {
  tested.add('tcp.sendBufferMin');
  const { p } = tcpPeer({ sendBufferMin: 4096 });
  const { tcb } = connect(p, 40000);
  // Twice the initial window (10 segments of 536: the peer sent no MSS option) is taken at once.
  assert.equal(p.tcp.send(tcb, new Uint8Array(1 << 20)), 2 * tcb.cc.cwnd);
  const small = tcpPeer({ sendBufferMin: 4096 }).p;
  const { tcb: t2 } = connect(small, 40001);
  small.stack.memory.chargeForced(small.stack.memory.config.maxBytes); // someone else holds everything
  assert.equal(small.tcp.send(t2, new Uint8Array(1 << 20)), 4096, 'under pressure: the minimum');
  assert.equal(hits(small.stack, 'tcp.sendBufferMin', small.tcp), 0);
  // Past the hard limit a buffer gets its guaranteed first 4 KB of storage, no more.
  const hard = tcpPeer({ sendBufferMin: 65536 }).p;
  const { tcb: t3 } = connect(hard, 40002);
  hard.stack.memory.chargeForced(hard.stack.memory.config.maxBytes);
  assert.equal(hard.tcp.send(t3, new Uint8Array(1 << 20)), 4096);
  assert.equal(hits(hard.stack, 'tcp.sendBufferMin', hard.tcp), 1);
});

test('tcp.recvBufferMin: past the hard limit a connection still receives that much, beyond it segments are dropped', () => {
  tested.add('tcp.recvBufferMin');
  const { p } = tcpPeer({ recvBufferMin: 4096 });
  const { tcb, iss } = connect(p, 40000);
  p.stack.memory.chargeForced(p.stack.memory.config.maxBytes);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1001, ack: iss + 1, flags: F.ACK, data: new Uint8Array(3000) });
  assert.equal(tcb.recvBuffer.readable, 3000, 'within the guaranteed storage');
  p.send({ srcPort: 40000, dstPort: 80, seq: 4001, ack: iss + 1, flags: F.ACK, data: new Uint8Array(3000) });
  assert.equal(tcb.recvBuffer.readable, 3000, 'beyond it: dropped');
  // Out-of-order data gets no guarantee.
  p.send({ srcPort: 40000, dstPort: 80, seq: 9001, ack: iss + 1, flags: F.ACK, data: new Uint8Array(100) });
  assert.equal(tcb.recvBuffer.oooRanges, 0);
  assert.equal(hits(p.stack, 'tcp.recvBufferMin', p.tcp), 2);
  // Under pressure the window offered shrinks toward the minimum.
  const last = p.take().at(-1)!;
  assert.ok(last.window <= 4096, `window ${last.window}`);
});

test('tcp.maxOrphans: a connection closed with data still to deliver beyond it is reset, counted', () => {
  tested.add('tcp.maxOrphans');
  const { p } = tcpPeer({ maxOrphans: 1 });
  const a = connect(p, 40000).tcb;
  const b = connect(p, 40001).tcb;
  p.tcp.send(a, new Uint8Array(100));
  p.tcp.send(b, new Uint8Array(100));
  p.take();
  p.tcp.close(a);
  assert.equal(p.tcp.orphanCount, 1);
  assert.equal(a.stateName, 'FIN_WAIT_1');
  p.tcp.close(b);
  assert.equal(b.stateName, 'CLOSED');
  assert.ok(p.take().some((s) => s.f.includes('R')));
  assert.equal(hits(p.stack, 'tcp.maxOrphans', p.tcp), 1);
  assert.equal(p.tcp.orphanCount, 1);
});

test('tcp.orphanRetries: an orphan facing a shut window is given up after that many probes; at the hard limit at once', () => {
  tested.add('tcp.orphanRetries');
  const { p } = tcpPeer({ orphanRetries: 2 });
  const { tcb, iss } = connect(p, 40000);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1001, ack: iss + 1, flags: F.ACK, window: 0 });
  p.tcp.send(tcb, new Uint8Array(5000));
  p.tcp.close(tcb); // CLOSE_WAIT-like: nobody will ever read this data
  for (let i = 0; i < 20 && tcb.stateName !== 'CLOSED'; i++) p.clock.advance(130_000);
  assert.equal(tcb.stateName, 'CLOSED');
  assert.ok(tcb.retries <= 3, `${tcb.retries} probes`);
  assert.equal(p.tcp.orphanCount, 0);
  const q = tcpPeer({}).p;
  const c = connect(q, 40001);
  q.send({ srcPort: 40001, dstPort: 80, seq: 1001, ack: c.iss + 1, flags: F.ACK, window: 0 });
  q.tcp.send(c.tcb, new Uint8Array(5000));
  q.tcp.close(c.tcb);
  q.stack.memory.chargeForced(q.stack.memory.config.maxBytes);
  q.clock.advance(5_000);
  assert.equal(c.tcb.stateName, 'CLOSED');
  assert.equal(hits(q.stack, 'tcp.orphanRetries', q.tcp), 1);
});

test('tcp.challengeAckIntervalMs: one challenge ACK per connection per interval, counted; other connections unaffected', () => {
  tested.add('tcp.challengeAckIntervalMs');
  const { p } = tcpPeer({ challengeAckIntervalMs: 300 });
  const a = connect(p, 40000);
  const b = connect(p, 40001);
  for (let i = 0; i < 5; i++) p.send({ srcPort: 40000, dstPort: 80, seq: 1500 + i, ack: a.iss + 1, flags: F.RST });
  assert.equal(p.take().length, 1, 'one challenge ACK on A');
  assert.equal(hits(p.stack, 'tcp.challengeAckIntervalMs', p.tcp), 4);
  p.send({ srcPort: 40001, dstPort: 80, seq: 1500, ack: b.iss + 1, flags: F.RST });
  assert.equal(p.take().length, 1, "B's first challenge ACK goes, whatever A drew");
  p.advance(299);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1500, ack: a.iss + 1, flags: F.RST });
  assert.equal(p.take().length, 0);
  p.advance(1);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1500, ack: a.iss + 1, flags: F.RST });
  assert.equal(p.take().length, 1, 'after the interval, another');
  assert.equal(a.tcb.stateName, 'ESTABLISHED');
});

// ------------------------------------------------------------------------ the table and the CLI

test('--limit NAME=VALUE sets a limit; a wrong name or value is one clear error', () => {
  const s = emptyLimitSettings();
  assert.equal(applyLimit('tcp.maxConnections=5', s), null);
  assert.equal(applyLimit('arp.maxEntries=7', s), null);
  assert.deepEqual(s, { neighbor: { maxEntries: 7 }, reassembly: {}, icmp: {}, tcp: { maxConnections: 5 }, memory: {} });
  assert.match(applyLimit('tcp.maxConnection=5', s)!, /^unknown limit "tcp.maxConnection"/);
  assert.match(applyLimit('tcp.maxConnections=0', s)!, /from 1 to/);
  assert.match(applyLimit('tcp.maxConnections=1e3', s)!, /invalid value "1e3"/);
  assert.match(applyLimit('tcp.maxConnections', s)!, /expected NAME=VALUE/);
  const config = parseServerArgs(['--limit', 'tcp.maxConnections=3', '--limit', 'reassembly.timeoutMs=1000']);
  assert.ok(config !== 'help');
  assert.deepEqual(config.limits.tcp, { maxConnections: 3 });
  assert.deepEqual(config.limits.reassembly, { timeoutMs: 1000 });
  assert.throws(() => parseServerArgs(['--limit', 'nope=1']), (e: unknown) => e instanceof FatalError && e.exitCode === 2 && !e.message.includes('\n'));
  const help = parseServerArgs(['--limit', 'help']);
  assert.ok(help !== 'help' && help.limitHelp);
  const text = formatLimitHelp();
  for (const l of LIMITS) assert.match(text, new RegExp(`^  ${l.name.replace('.', '\\.')} +\\d+ `, 'm'));
});

test('pstack stats shows every limit, its value and its hits', () => {
  const { p } = tcpPeer({ maxConnections: 1 });
  connect(p, 40000);
  syn(p, 40001);
  const stats = statsJson(p.stack);
  assert.equal(stats.limits!['tcp.maxConnections'], 1);
  assert.equal(stats.limits!['arp.maxEntries'], 1024);
  assert.equal(Object.keys(stats.limits!).length, LIMITS.length);
  const text = formatStats(stats);
  assert.match(text, /^Limits:$/m);
  assert.match(text, /tcp\.maxConnections = 1: hit 1 times/);
  assert.match(text, /arp\.maxEntries = 1024: hit 0 times/);
  assert.deepEqual(Object.keys(limitValues({ tcp: p.tcp.config })).length, LIMITS.filter((l) => l.group === 'tcp').length);
});

test('every limit in the table was exercised above', () => {
  assert.deepEqual([...tested].sort(), LIMITS.map((l) => l.name).sort());
});

test('pstack server --nice: a raised priority by default, -20 to 19 accepted, anything else one clear error', () => {
  const d = parseServerArgs([]);
  assert.ok(d !== 'help');
  assert.equal(d.nice, DEFAULT_NICE);
  assert.equal(d.niceExplicit, false);
  const z = parseServerArgs(['--nice', '0']);
  assert.ok(z !== 'help' && z.nice === 0 && z.niceExplicit);
  const m = parseServerArgs(['--nice=-20']); // a negative value needs the = form
  assert.ok(m !== 'help' && m.nice === -20);
  for (const bad of ['20', '-21', '1.5', 'high', '']) {
    assert.throws(() => parseServerArgs([`--nice=${bad}`]), (e: unknown) => e instanceof UsageError && /^invalid --nice/.test(e.message), bad);
  }
});
