// Loss recovery beyond RFC 6675's rules, driven segment by segment with a fake clock: a lost
// retransmission is sent again after a probe timeout (2*SRTT, at least 10 ms) or on SACKs
// after an RTO, not after the 200 ms RTO; the probe is armed after a burst that began when
// nothing was outstanding. Under 2% random loss each way these stalls were most of pstack's
// RTOs (and most of its time: 30 MB took 4 s, now about 1 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F } from '../helpers/tcp-peer.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';

const PORT = 12345;
const MSS = 1000;
/** SACK without timestamps keeps the peer's segments short; MSS 1000 keeps the arithmetic plain. */
const SYN_OPTIONS: TcpOption[] = [{ kind: 'MSS', value: MSS }, { kind: 'SACK_PERMITTED' }];

function accept(p: ScriptedPeer): { tcb: Tcb; una: number } {
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: SYN_OPTIONS });
  const synack = p.take()[0]!;
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535 });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  return { tcb, una: (synack.seq + 1) >>> 0 };
}

/** A duplicate ACK of `una` SACKing [una + from, una + to). */
function sackAck(una: number, from: number, to: number) {
  const block: [number, number] = [(una + from) >>> 0, (una + to) >>> 0];
  return { dstPort: PORT, seq: 1001, ack: una, flags: F.ACK, window: 65535, options: [{ kind: 'SACK', blocks: [block] }] as TcpOption[] };
}

/** Advance `ms` in 1 ms steps; the times (ms from now) at which the segment at `seq` went out. */
function resendsOf(p: ScriptedPeer, seq: number, ms: number): number[] {
  const times: number[] = [];
  for (let t = 1; t <= ms; t++) {
    p.advance(1);
    for (const s of p.take()) if (s.seq === seq && s.data.length > 0) times.push(t);
  }
  return times;
}

test('SACK recovery: a lost retransmission is sent again after the probe timeout, not the RTO', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  assert.equal(tcb.rtt.rto, 200);
  p.tcp.send(tcb, new Uint8Array(8 * MSS));
  assert.equal(p.take().length, 8);
  // Segments 1 and 2 are lost; the peer SACKs 3-8: fast retransmit of both (RFC 6675 NextSeg).
  p.send(sackAck(una, 2 * MSS, 3 * MSS), sackAck(una, 2 * MSS, 4 * MSS), sackAck(una, 2 * MSS, 5 * MSS), sackAck(una, 2 * MSS, 8 * MSS));
  const two = (una + MSS) >>> 0;
  assert.deepEqual(p.take().filter((s) => s.data.length > 0).map((s) => s.seq - una).slice(0, 2), [0, MSS]);
  assert.ok(tcb.cc.inRecovery);
  // The first retransmission arrives (a partial ACK, which restarts the timers inside
  // recovery); the second is lost: nothing more comes back.
  p.advance(1);
  p.send({ ...sackAck(two, MSS, 7 * MSS) });
  p.take();
  const resends = resendsOf(p, two, 150);
  assert.equal(resends.length, 1, `sent again once within 150 ms (at ${resends.join(', ')} ms)`);
  assert.ok(resends[0]! >= 10 && resends[0]! <= 20, `after the 10 ms probe timeout, not the 200 ms RTO (${resends[0]} ms)`);
  assert.equal(p.tcp.stats.lostRetransmits, 1);
  assert.equal(p.tcp.stats.timeouts, 0);
  // Its ACK (everything) ends recovery.
  p.send({ dstPort: PORT, seq: 1001, ack: (una + 8 * MSS) >>> 0, flags: F.ACK, window: 65535 });
  assert.ok(!tcb.cc.inRecovery);
  p.close();
});

test('after an RTO, SACKs a round trip after the retransmission resend it at once; earlier ones do not', () => {
  for (const [delay, expectResend] of [[5, true], [0, false]] as const) {
    const p = new ScriptedPeer();
    const { tcb, una } = accept(p);
    p.tcp.send(tcb, new Uint8Array(4 * MSS));
    assert.equal(p.take().length, 4);
    // A tail loss probe (the last segment) at 10 ms, then the RTO resends the first one.
    assert.deepEqual(resendsOf(p, una, 210), [210], 'the RTO resends the first segment');
    assert.equal(p.tcp.stats.tailLossProbes, 1);
    assert.equal(p.tcp.stats.timeouts, 1);
    p.advance(delay);
    p.take();
    // The peer holds the other three (SACK) but not the first: its retransmission was lost,
    // unless this ACK left the peer before the retransmission could arrive (delay 0).
    p.send(sackAck(una, MSS, 4 * MSS));
    const again = p.take().filter((s) => s.seq === una && s.data.length > 0);
    assert.equal(again.length, expectResend ? 1 : 0, `delay ${delay} ms`);
    assert.equal(p.tcp.stats.lostRetransmits, expectResend ? 1 : 0);
    assert.equal(p.tcp.stats.timeouts, 1, 'no second RTO');
    p.close();
  }
});

test('a burst that starts with nothing outstanding arms the probe, not only the RTO', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  // One segment alone would wait for the peer's delayed ACK (PTO 10 + 200 ms > RTO): the
  // RTO. Three in one burst: PTO = max(2*SRTT, 10 ms).
  p.tcp.send(tcb, new Uint8Array(3 * MSS));
  assert.equal(p.take().length, 3);
  const probes: number[] = [];
  for (let t = 1; t <= 50; t++) {
    p.advance(1);
    for (const s of p.take()) if (s.data.length > 0) probes.push(t, s.seq - una);
  }
  assert.deepEqual(probes, [10, 2 * MSS], 'a tail loss probe of the last segment at 10 ms');
  assert.equal(p.tcp.stats.tailLossProbes, 1);
  assert.equal(p.tcp.stats.timeouts, 0);
  p.close();
});

test('recovery ends on a full ACK with the next segment lost: a new recovery starts at once', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  p.tcp.send(tcb, new Uint8Array(10 * MSS));
  assert.equal(p.take().length, 10);
  // Segment 1 lost, 2-10 SACKed: recovery with RecoveryPoint = una + 10000; the pipe then
  // lets four new segments (11-14) go.
  p.send(sackAck(una, MSS, 2 * MSS), sackAck(una, MSS, 3 * MSS), sackAck(una, MSS, 4 * MSS), sackAck(una, MSS, 10 * MSS));
  p.take();
  assert.ok(tcb.cc.inRecovery);
  p.tcp.send(tcb, new Uint8Array(4 * MSS));
  const fresh = new Set(p.take().filter((s) => s.seq - una >= 10 * MSS).map((s) => s.seq - una));
  assert.equal(fresh.size, 4);
  // The peer got the retransmission and segments 12-14, not 11: the full ACK of
  // RecoveryPoint already SACKs three segments above the new SND.UNA, and no duplicate
  // ACK will follow. Before, nothing was sent until the RTO.
  const eleven = (una + 10 * MSS) >>> 0;
  p.send(sackAck(eleven, MSS, 4 * MSS));
  const out = p.take().filter((s) => s.seq === eleven && s.data.length > 0);
  assert.equal(out.length, 1, 'segment 11 resent on that very ACK, once');
  assert.ok(tcb.cc.inRecovery, 'in a new recovery');
  assert.equal(p.tcp.stats.fastRetransmits, 2);
  assert.equal(p.tcp.stats.timeouts, 0);
  p.close();
});
