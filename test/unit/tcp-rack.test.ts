// RACK-TLP (RFC 8985) and PRR (RFC 6937), rule by rule: a pure test of the Rack records,
// then a connection driven segment by segment on a fake clock (ScriptedPeer) with a 20 ms
// round trip, SACK, no timestamps and MSS 1000.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F, type Seen } from '../helpers/tcp-peer.js';
import { Rack } from '../../src/transport/tcp/rack.js';
import type { Tcb, TcpConfig } from '../../src/transport/tcp/tcb.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';

const PORT = 12345;
const MSS = 1000;
const RTT = 20;
const SYN_OPTIONS: TcpOption[] = [{ kind: 'MSS', value: MSS }, { kind: 'SACK_PERMITTED' }];

/** A passive open whose handshake takes RTT ms, so SRTT starts at RTT. */
function accept(tcp: Partial<TcpConfig> = {}): { p: ScriptedPeer; tcb: Tcb; una: number } {
  const p = new ScriptedPeer({ tcp });
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: SYN_OPTIONS });
  const synack = p.take()[0]!;
  p.advance(RTT);
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535 });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  assert.equal(tcb.rtt.srtt, RTT);
  return { p, tcb, una: (synack.seq + 1) >>> 0 };
}

/** An ACK of `una + ack` SACKing the given [from, to) segment-number ranges (times MSS). */
function ackSegs(una: number, ack: number, ...sacks: Array<[number, number]>) {
  const blocks = sacks.map(([a, b]) => [(una + a * MSS) >>> 0, (una + b * MSS) >>> 0] as [number, number]);
  return {
    dstPort: PORT, seq: 1001, ack: (una + ack * MSS) >>> 0, flags: F.ACK, window: 65535,
    options: blocks.length > 0 ? [{ kind: 'SACK', blocks } as TcpOption] : [],
  };
}

/** Segment numbers (0 = the first at `una`) of the data segments in `segs`. */
function segNos(segs: Seen[], una: number): number[] {
  return segs.filter((s) => s.data.length > 0).map((s) => ((s.seq - una) >>> 0) / MSS);
}

/** Advance `ms` in 1 ms steps; [ms, segment number] of each data segment sent meanwhile. */
function watch(p: ScriptedPeer, una: number, ms: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let t = 1; t <= ms; t++) {
    p.advance(1);
    for (const n of segNos(p.take(), una)) out.push([t, n]);
  }
  return out;
}

test('Rack records: delivery updates RACK.xmit_ts/end_seq/rtt; loss after rtt + reo_wnd; the timeout until then', () => {
  const r = new Rack();
  r.reset(0);
  r.onTransmit(0, 3000, 100, 1000); // three records at t=100
  r.onTransmit(3000, 4000, 110, 1000); // one at t=110
  assert.equal(r.records, 4);
  // At t=130 the receiver SACKs the last one: RACK learns rtt 20, min_rtt 20.
  assert.equal(r.onAck(0, [3000, 4000], 0, 1, 130, -1, 0), 1000);
  assert.equal(r.xmitTs, 110);
  assert.equal(r.endSeq, 4000);
  assert.equal(r.rtt, 20);
  assert.equal(r.minRtt, 20);
  // reo_wnd = min_rtt / 4 = 5 ms: the first three (sent 10 ms earlier) are overdue by 5 ms already.
  assert.equal(r.reoWnd(100, false), 5);
  assert.equal(r.detectLoss(130, 5), 0);
  assert.equal(r.newlyLost, 3);
  assert.equal(r.lostSegs, 3);
  assert.equal(r.inFlight(0, 4000), 0);
  // Resending the first puts its retransmission in flight; RACK judges it lost in turn only
  // when something sent after it is delivered and rtt + reo_wnd have passed.
  r.onTransmit(0, 1000, 140, 1000);
  assert.equal(r.retransSegs, 1);
  assert.equal(r.inFlight(0, 4000), 1000);
  const out = { start: 0, end: 0 };
  assert.ok(r.nextLost(out));
  assert.deepEqual(out, { start: 1000, end: 2000 }, 'the lowest lost segment not yet resent');
  r.onTransmit(1000, 3000, 150, 1000);
  assert.ok(!r.nextLost(out));
  assert.equal(r.onAck(0, [1000, 2000, 3000, 4000], 0, 2, 170, -1, 0), 1000);
  // Record 1000-2000 (resent at 150) delivered at 170: sent after the first's resend at 140.
  assert.equal(r.detectLoss(170, 0), 0);
  assert.equal(r.lostRetransmits, 1, 'the retransmission sent at 140 is lost (140 + 20 <= 170)');
  assert.ok(r.isLost(0));
});

test('Rack: reordering is a delivery below RACK.fack of a segment never retransmitted', () => {
  const r = new Rack();
  r.reset(0);
  r.onTransmit(0, 2000, 0, 1000);
  r.onAck(0, [1000, 2000], 0, 1, 10, -1, 0);
  assert.ok(!r.reorderingSeen);
  assert.equal(r.reoWnd(100, false), 2.5);
  assert.equal(r.reoWnd(100, true), 0, 'no reordering seen: 0 in recovery');
  r.onAck(2000, [], 0, 0, 11, -1, 0); // the first segment arrives late
  assert.ok(r.reorderingSeen);
  assert.equal(r.reorderEvents, 1);
  assert.equal(r.reoWnd(100, true), 2.5, 'reordering seen: min_rtt / 4 even in recovery');
  assert.equal(r.reoWnd(1, true), 1, 'never more than SRTT');
});

test('Rack: a D-SACK raises reo_wnd_mult once per round trip; 16 recoveries without one bring it back to 1', () => {
  const r = new Rack();
  r.reset(0);
  r.onTransmit(0, 4000, 0, 1000);
  r.onAck(0, [3000, 4000], 0, 1, 8, -1, 0); // min_rtt 8: reo_wnd 2 ms
  assert.equal(r.reoWnd(100, false), 2);
  r.onDsack(true, 0, 4000);
  assert.equal(r.reoWndMult, 2);
  assert.equal(r.reoWnd(100, false), 4);
  r.onDsack(true, 1000, 4000);
  assert.equal(r.reoWndMult, 2, 'same round trip (SND.UNA below the SND.MAX of the first D-SACK)');
  r.onDsack(false, 4000, 5000);
  r.onDsack(true, 4000, 5000);
  assert.equal(r.reoWndMult, 3, 'next round trip');
  for (let i = 0; i < 15; i++) r.onRecoveryEnd();
  assert.equal(r.reoWndMult, 3);
  r.onRecoveryEnd();
  assert.equal(r.reoWndMult, 1, 'after 16 recoveries');
});

test('Rack: records grow past their first size and keep the time order across the move', () => {
  const r = new Rack();
  r.reset(0);
  for (let i = 0; i < 200; i++) r.onTransmit(i * 100, (i + 1) * 100, i, 100);
  r.onTransmit(0, 100, 500, 100); // resend the first: now the newest
  assert.equal(r.records, 200);
  r.onAck(0, [19_900, 20_000], 0, 1, 520, -1, 0); // the last original, sent at 199
  assert.equal(r.detectLoss(520, 0), 0);
  assert.equal(r.newlyLost, 198, 'everything sent before it but the resent first one');
  assert.ok(!r.isLost(0));
});

test('one SACKed segment above a hole: no retransmission until the reordering timer, min_rtt / 4 later', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(4 * MSS));
  assert.deepEqual(segNos(p.take(), una), [0, 1, 2, 3]);
  p.advance(RTT);
  p.send(ackSegs(una, 0, [1, 2]));
  assert.deepEqual(segNos(p.take(), una), [], 'maybe only reordered: wait');
  assert.ok(Math.abs(tcb.rack!.reoWnd(tcb.rtt.srtt, false) - RTT / 4) < 1e-3, 'reo_wnd = min_rtt / 4');
  assert.deepEqual(watch(p, una, 10), [[RTT / 4, 0]], 'resent when the reordering window has passed');
  assert.equal(p.tcp.stats.rackReorderTimeouts, 1);
  assert.equal(p.tcp.stats.rackLosses, 1);
  assert.ok(tcb.cc.inRecovery, 'fast recovery');
  assert.equal(p.tcp.stats.timeouts, 0);
  p.close();
});

test('three SACKed segments and no reordering seen: reo_wnd is 0, the hole is resent on that ACK', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(4 * MSS));
  p.take();
  p.advance(RTT);
  p.send(ackSegs(una, 0, [1, 4]));
  assert.deepEqual(segNos(p.take(), una), [0]);
  assert.ok(tcb.cc.inRecovery);
  assert.equal(p.tcp.stats.rackReorderTimeouts, 0);
  assert.equal(p.tcp.stats.fastRetransmits, 1);
  p.close();
});

test('reordering seen: later holes get the reordering window even with three segments SACKed', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(6 * MSS));
  p.take();
  p.advance(RTT);
  p.send(ackSegs(una, 0, [1, 2]));
  p.advance(2);
  p.send(ackSegs(una, 2)); // segment 0 was only late
  assert.equal(p.tcp.stats.reorderingSeen, 1);
  assert.ok(tcb.rack!.reorderingSeen);
  p.send(ackSegs(una, 2, [3, 6]));
  assert.deepEqual(segNos(p.take(), una), [], 'not at once');
  const resent = watch(p, una, 10);
  assert.equal(resent.length, 1);
  assert.equal(resent[0]![1], 2);
  assert.ok(resent[0]![0] >= 1 && resent[0]![0] <= RTT / 4, `within min_rtt / 4 (${resent[0]![0]} ms)`);
  p.close();
});

test('a D-SACK from the peer widens the reordering window (reo_wnd_mult)', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(4 * MSS));
  p.take();
  p.advance(RTT);
  p.send(ackSegs(una, 1));
  // The peer got segment 0 twice (say a spurious retransmission): D-SACK below the ACK.
  p.send(ackSegs(una, 1, [0, 1]));
  assert.equal(p.tcp.stats.dsacksReceived, 1);
  assert.equal(tcb.rack!.reoWndMult, 2);
  assert.ok(Math.abs(tcb.rack!.reoWnd(100, false) - 2 * (RTT / 4)) < 1e-3);
  p.close();
});

test('a lost retransmission is found by RACK when data sent after it is delivered, not by the RTO', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(12 * MSS));
  assert.deepEqual(segNos(p.take(), una), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the initial window');
  p.advance(RTT);
  // Segment 0 lost, 1-9 SACKed: fast retransmit of 0, and PRR lets the two new ones go.
  p.send(ackSegs(una, 0, [1, 10]));
  assert.deepEqual(segNos(p.take(), una), [0, 10, 11]);
  p.advance(RTT);
  // 10 and 11 arrive, the retransmission of 0 (sent with them) does not.
  p.send(ackSegs(una, 0, [1, 12]));
  assert.deepEqual(segNos(p.take(), una), [0], 'resent on that ACK');
  assert.equal(p.tcp.stats.lostRetransmits, 1);
  assert.equal(p.tcp.stats.timeouts, 0);
  assert.equal(p.tcp.stats.fastRetransmits, 1, 'no second reduction');
  p.advance(RTT);
  p.send(ackSegs(una, 12));
  assert.ok(!tcb.cc.inRecovery);
  p.close();
});

test('TLP: PTO = 2 x SRTT with several segments out; the probe sends new data when there is some', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(14 * MSS)); // 10 go (IW), 4 wait for cwnd
  assert.equal(segNos(p.take(), una).length, 10);
  assert.deepEqual(watch(p, una, 2 * RTT + 5), [[2 * RTT, 10]], 'one new segment at 2 x SRTT');
  assert.equal(p.tcp.stats.tailLossProbes, 1);
  assert.equal(p.tcp.stats.retransSegs, 0);
  assert.ok(tcb.tlpInEpisode && !tcb.tlpIsRetrans);
  // No second probe in the episode: the RTO (200 ms after the probe) comes next.
  const later = watch(p, una, 200);
  assert.deepEqual(later, [[195, 0]], 'then the RTO, 200 ms after the probe, resends the first');
  assert.equal(p.tcp.stats.timeouts, 1);
  p.close();
});

test('TLP: with one segment out the PTO adds the worst-case delayed ACK, but fires no later than the RTO would', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(MSS));
  p.take();
  // 2 x 20 + 200 = 240 ms > the 200 ms RTO: the probe goes at the RTO's time instead.
  assert.deepEqual(watch(p, una, 250), [[200, 0]]);
  assert.equal(p.tcp.stats.tailLossProbes, 1);
  assert.equal(p.tcp.stats.timeouts, 0);
  assert.ok(tcb.tlpIsRetrans, 'nothing new to send: the last segment again');
  p.close();
});

test('TLP episode: an ACK beyond a retransmitted probe without D-SACK means it repaired a loss (cwnd cut once)', () => {
  for (const dsack of [false, true]) {
    const { p, tcb, una } = accept();
    p.tcp.send(tcb, new Uint8Array(4 * MSS));
    p.take();
    p.advance(RTT);
    p.send(ackSegs(una, 2)); // 0 and 1 arrive; the tail (2, 3) is lost or its ACKs are
    p.take();
    assert.deepEqual(watch(p, una, 2 * RTT), [[2 * RTT, 3]], 'the probe resends the last segment');
    assert.ok(tcb.tlpInEpisode && tcb.tlpIsRetrans);
    assert.equal(tcb.tlpEndSeq, (una + 4 * MSS) >>> 0);
    const cwnd = tcb.cc.cwnd;
    p.advance(RTT);
    // The peer now holds everything; with a D-SACK for the probe it had it already.
    p.send(dsack ? ackSegs(una, 4, [3, 4]) : ackSegs(una, 4));
    assert.equal(tcb.tlpInEpisode, !dsack, 'a D-SACK for the probe ends the episode: nothing was lost');
    if (!dsack) {
      // An ACK up to the probe's end alone does not tell; one beyond it does.
      p.tcp.send(tcb, new Uint8Array(MSS));
      p.take();
      p.advance(RTT);
      p.send(ackSegs(una, 5));
      assert.ok(!tcb.tlpInEpisode);
    }
    assert.equal(p.tcp.stats.tlpRecoveries, dsack ? 0 : 1);
    if (dsack) assert.ok(tcb.cc.cwnd >= cwnd, 'a spurious probe costs nothing');
    else assert.ok(tcb.cc.ssthresh < cwnd, `ssthresh reduced below ${cwnd} (${tcb.cc.ssthresh})`);
    p.close();
  }
});

/** 20 segments in flight with cwnd 20 (ACKs of one segment each grow the initial window); `base`: the first of them. */
function twentyInFlight(congestion: 'cubic' | 'newreno') {
  const c = accept({ congestion, sendBufferMin: 256 * 1024 });
  const { p, tcb, una } = c;
  p.tcp.send(tcb, new Uint8Array(80 * MSS));
  p.take();
  p.advance(RTT);
  for (let k = 1; k <= 10 && tcb.cc.cwnd < 20 * MSS; k++) p.send(ackSegs(una, k));
  p.take();
  assert.equal(tcb.cc.cwnd, 20 * MSS);
  assert.equal(tcb.flightSize, 20 * MSS);
  return { ...c, base: ((tcb.sndUna - una) >>> 0) / MSS };
}

for (const [congestion, beta] of [['cubic', 0.7], ['newreno', 0.5]] as const) {
  test(`PRR (${congestion}): in recovery sending follows delivery in the proportion ssthresh / RecoverFS`, () => {
    const { p, tcb, una, base: b } = twentyInFlight(congestion);
    p.advance(RTT);
    // Segment b lost; b+1, b+2, b+3 arrive one per ACK: the third starts recovery.
    p.send(ackSegs(una, b, [b + 1, b + 2]), ackSegs(una, b, [b + 1, b + 3]), ackSegs(una, b, [b + 1, b + 4]));
    assert.ok(tcb.cc.inRecovery);
    // RecoverFS: the 20 and two RFC 3042 limited-transmit segments the first two ACKs sent.
    assert.equal(tcb.prr.recoverFs, 22 * MSS);
    assert.ok(Math.abs(tcb.cc.ssthresh - beta * 22 * MSS) <= 1, `ssthresh ${tcb.cc.ssthresh}`);
    const sent = segNos(p.take(), una);
    assert.deepEqual(sent.slice(0, 3), [b + 20, b + 21, b], 'two limited-transmit segments, then the fast retransmission');
    let newSegs = sent.length - 3;
    // Each further ACK delivers one segment; over 16 of them about beta x 16 new ones go.
    for (let k = b + 5; k <= b + 20; k++) {
      p.send(ackSegs(una, b, [b + 1, k]));
      const now = segNos(p.take(), una);
      assert.ok(now.length <= 1, `at most one segment per ACK (${now})`);
      newSegs += now.length;
    }
    const delivered = 19; // b+1 .. b+19 SACKed
    const expected = Math.ceil(delivered * beta) - 1; // ssthresh / RecoverFS, less the fast retransmission
    assert.ok(Math.abs(newSegs - expected) <= 1, `${newSegs} new segments for ${delivered} delivered (expected about ${expected})`);
    assert.equal(tcb.prr.out, (newSegs + 1) * MSS);
    p.close();
  });
}

for (const congestion of ['cubic', 'newreno'] as const) {
  test(`PRR (${congestion}): a cumulative ACK over data SACKed earlier counts only the bytes it newly delivers`, () => {
    const { p, tcb, una, base: b } = twentyInFlight(congestion);
    p.advance(RTT);
    // Segment b lost; b+1 .. b+3 SACKed, one per ACK: recovery starts on the third.
    p.send(ackSegs(una, b, [b + 1, b + 2]), ackSegs(una, b, [b + 1, b + 3]), ackSegs(una, b, [b + 1, b + 4]));
    assert.ok(tcb.cc.inRecovery);
    p.take();
    const deliveredBefore = tcb.prr.delivered;
    assert.equal(deliveredBefore, MSS, 'the SACK of b+3, on which recovery began');
    const outBefore = tcb.prr.out;
    p.advance(1);
    // The retransmission of b arrives, with b+4: the ACK covers b .. b+4, of which b+1 .. b+3
    // were SACKed before. DeliveredData is 2 segments (b and b+4), not 5.
    p.send(ackSegs(una, b + 5));
    assert.ok(tcb.cc.inRecovery, 'a partial ACK: recovery goes on');
    assert.equal(tcb.prr.delivered - deliveredBefore, 2 * MSS);
    const sent = segNos(p.take(), una).length;
    assert.equal(tcb.prr.out - outBefore, sent * MSS);
    // sndcnt = ceil(prr_delivered x ssthresh / RecoverFS) - prr_out, with prr_delivered 3 segments.
    const allowed = Math.ceil((3 * MSS * tcb.cc.ssthresh) / tcb.prr.recoverFs) - outBefore;
    assert.ok(sent * MSS <= Math.max(allowed, 0) + MSS - 1, `${sent} segments sent for 2 delivered (allowed ${allowed} bytes)`);
    p.close();
  });
}

test('PRR-SSRB: with more lost than the reduction, the flight grows back no faster than slow start', () => {
  const { p, tcb, una, base: b } = twentyInFlight('cubic');
  p.advance(RTT);
  // Ten of the twenty lost (b .. b+9); the others arrive: flight far below ssthresh (14 segments).
  p.send(ackSegs(una, b, [b + 10, b + 13]));
  assert.ok(tcb.cc.inRecovery);
  const first = segNos(p.take(), una);
  assert.equal(first[0], b);
  let prevOut = tcb.prr.out;
  for (let k = b + 14; k <= b + 20; k++) {
    p.send(ackSegs(una, b, [b + 10, k]));
    p.take();
    const sentNow = tcb.prr.out - prevOut;
    // Delivered one segment: at most max(prr_delivered - prr_out, that segment) + 1 segment.
    assert.ok(sentNow <= Math.max(tcb.prr.delivered - prevOut, MSS) + MSS, `sent ${sentNow} on one delivered segment`);
    assert.ok(sentNow >= MSS, 'and something: the flight is below ssthresh');
    prevOut = tcb.prr.out;
  }
  const pipe = tcb.rack!.inFlight(tcb.sndUna, tcb.sndMax);
  assert.ok(pipe <= tcb.cc.ssthresh, `flight ${pipe} within ssthresh ${tcb.cc.ssthresh}`);
  p.close();
});

test('RTO: everything outstanding is lost; resent from SND.UNA as cwnd allows, skipping what was SACKed', () => {
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(6 * MSS));
  p.take();
  p.advance(RTT);
  p.send(ackSegs(una, 0, [2, 3])); // 2 SACKed; 0, 1, 3, 4, 5 missing
  p.take();
  // Let the reordering timer and recovery run, then the RTO.
  const seen = watch(p, una, 400);
  assert.ok(p.tcp.stats.timeouts >= 1, 'an RTO');
  assert.ok(!seen.some(([, n]) => n === 2), 'the SACKed segment is never resent');
  assert.equal(tcb.rack!.sackedSegs, 1);
  p.close();
});

test('pstack ss counts: lost, SACKed, reordering and retransmissions in flight from RACK', async () => {
  const { tcbInfo } = await import('../../src/api/tcp-info.js');
  const { p, tcb, una } = accept();
  p.tcp.send(tcb, new Uint8Array(8 * MSS));
  p.take();
  p.advance(RTT);
  p.send(ackSegs(una, 0, [1, 2]));
  p.advance(2);
  p.send(ackSegs(una, 2)); // reordering
  p.send(ackSegs(una, 2, [4, 8])); // 2 and 3 missing, 4 SACKed: reo_wnd > 0, nothing lost yet
  let info = tcbInfo(tcb, p.clock.now());
  assert.deepEqual([info.sacked, info.lost, info.reordSeen, info.retransCurrent], [4, 0, 1, 0]);
  p.advance(RTT / 4);
  p.take();
  info = tcbInfo(tcb, p.clock.now());
  assert.deepEqual([info.lost, info.retransCurrent], [0, 2], 'both judged lost and resent: in flight again');
  assert.ok(info.inRecovery);
  p.close();
});
