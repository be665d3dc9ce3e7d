// HyStart++ (RFC 9406): the round-and-RTT state machine on its own, through CUBIC and NewReno,
// and in a connection on the fake clock whose peer's queue starts to grow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HyStartPlusPlus, HYSTART_CSS_ROUNDS, HYSTART_N_RTT_SAMPLE,
} from '../../src/transport/tcp/congestion/hystart.js';
import { Cubic, NewReno } from '../../src/transport/tcp/congestion/index.js';
import { ScriptedPeer, F, linuxSynOptions, tsOpt } from '../helpers/tcp-peer.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';

const MSS = 1000;

/**
 * Feed one round: `n` ACKs of one segment each, all with RTT sample `rtt`, the first of them
 * ending the previous round. `seq` is the cumulative ACK so far; returns it after the round
 * and whether the controller asked for congestion avoidance.
 */
function round(h: HyStartPlusPlus, seq: number, n: number, rtt: number): { seq: number; exit: boolean } {
  // SND.NXT when the round starts: the round's last ACK stays below it, the next round's first reaches it.
  const sndNxt = seq + (n + 1) * MSS;
  let exit = false;
  for (let i = 0; i < n; i++) {
    seq += MSS;
    if (h.onAck(seq, sndNxt, rtt)) exit = true;
  }
  return { seq, exit };
}

test('HyStart++: a round whose minimum RTT rises by RttThresh enters CSS; less does not', () => {
  const h = new HyStartPlusPlus();
  let s = round(h, 0, 10, 40);
  s = round(h, s.seq, 10, 40);
  assert.ok(!h.inCss);
  // RttThresh = clamp(40 / 8, 4, 16) = 5 ms: 44 is not enough...
  s = round(h, s.seq, 10, 44);
  assert.ok(!h.inCss, '4 ms more than 40: below the 5 ms threshold');
  // ...45 against the previous round's 44 is not either (the comparison is round to round).
  s = round(h, s.seq, 10, 45);
  assert.ok(!h.inCss);
  s = round(h, s.seq, 10, 51);
  assert.ok(h.inCss, '51 >= 45 + 5');
  assert.equal(h.cssBaselineMinRtt, 51);
  assert.equal(h.growthDivisor, 4);
});

test('HyStart++: no decision before N_RTT_SAMPLE samples in the round; small RTTs use the 4 ms floor, large the 16 ms cap', () => {
  const h = new HyStartPlusPlus();
  let s = round(h, 0, 10, 2);
  s = round(h, s.seq, HYSTART_N_RTT_SAMPLE - 1, 100);
  assert.ok(!h.inCss, 'too few samples to judge');
  const small = new HyStartPlusPlus();
  let t = round(small, 0, 10, 2);
  t = round(small, t.seq, 10, 5);
  assert.ok(!small.inCss, '3 ms more: below the 4 ms floor');
  t = round(small, t.seq, 10, 9);
  assert.ok(small.inCss, '4 ms more');
  const large = new HyStartPlusPlus();
  let u = round(large, 0, 10, 400);
  u = round(large, u.seq, 10, 415);
  assert.ok(!large.inCss, '15 ms more than 400: below the 16 ms cap (not 50)');
  u = round(large, u.seq, 10, 431);
  assert.ok(large.inCss);
  void s;
});

test('HyStart++: an RTT below the CSS baseline resumes slow start; CSS_ROUNDS rounds of CSS end it', () => {
  const h = new HyStartPlusPlus();
  let s = round(h, 0, 10, 20);
  s = round(h, s.seq, 10, 30);
  assert.ok(h.inCss);
  s = round(h, s.seq, 10, 25);
  assert.ok(!h.inCss, 'the delay went down again: a spike, back to slow start');
  assert.equal(h.cssResumes, 1);
  s = round(h, s.seq, 10, 40);
  assert.ok(h.inCss);
  let exit = false;
  let rounds = 0;
  while (!exit && rounds < 20) {
    const r = round(h, s.seq, 10, 40);
    s = r;
    exit = r.exit;
    rounds++;
  }
  assert.ok(exit);
  assert.equal(rounds, HYSTART_CSS_ROUNDS, 'the entry round counts as the first');
});

test('HyStart++ in CUBIC and NewReno: CSS grows a quarter as fast, then ssthresh = cwnd; off after a loss and when disabled', () => {
  for (const make of [(o = {}) => new Cubic(MSS, o), (o = {}) => new NewReno(MSS, o)]) {
    const cc = make();
    let seq = 0;
    let now = 0;
    const ackRound = (rtt: number) => {
      const n = Math.floor(cc.cwnd / MSS);
      const windowEnd = seq + (n + 1) * MSS;
      for (let i = 0; i < n && cc.inSlowStart; i++) {
        seq += MSS;
        now += 1;
        cc.onAckRtt(seq, windowEnd, rtt);
        cc.onAck(MSS, rtt, now);
      }
    };
    ackRound(10);
    ackRound(10);
    const before = cc.cwnd;
    assert.equal(before, 40 * MSS, 'slow start doubles per round');
    ackRound(20);
    assert.ok(cc.inConservativeSlowStart, `${cc.name}: in CSS`);
    const w = cc.cwnd;
    cc.onAckRtt(seq + MSS, seq + 100 * MSS, 20);
    cc.onAck(MSS, 20, now + 1);
    assert.equal(cc.cwnd, w + MSS / 4, 'an SMSS acknowledged grows cwnd by a quarter of one');
    for (let r = 0; r < 10 && cc.inSlowStart; r++) ackRound(20);
    assert.ok(!cc.inSlowStart, `${cc.name}: congestion avoidance after CSS`);
    assert.ok(cc.ssthresh <= cc.cwnd && cc.cwnd - cc.ssthresh < MSS, 'ssthresh = cwnd when CSS ended');
    // A loss first: ssthresh is set, HyStart++ stays out of the way (RFC 5681 slow start).
    const lossy = make();
    lossy.enterRecovery(0, 20 * MSS);
    lossy.exitRecovery(MSS);
    lossy.onAckRtt(MSS, 10 * MSS, 1000);
    assert.ok(!lossy.inConservativeSlowStart);
    // Disabled.
    const off = make({ hystart: false });
    let s2 = 0;
    for (const rtt of [10, 10, 50, 50]) for (let i = 0; i < 10; i++) off.onAckRtt((s2 += MSS), s2 + 10 * MSS, rtt);
    assert.ok(!off.inConservativeSlowStart);
  }
});

/** A connection sending 4 MiB to a peer that ACKs each round `rtts[k]` ms after it went out. */
function connectionRounds(rtts: number[]): { cssSeen: boolean; tcb: Tcb; p: ScriptedPeer } {
  const p = new ScriptedPeer({ tcp: { sendBufferMin: 4 << 20, sendBufferSize: 4 << 20 } });
  const l = p.tcp.listen(0, 80);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: 80, seq: 1000, flags: F.SYN, window: 65535, options: linuxSynOptions(100, 7, 1460) });
  const synack = p.take()[0]!;
  p.advance(rtts[0]!); // the handshake's RTT sample is the first round's
  p.send({ dstPort: 80, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535, options: tsOpt(101, synack.ts!.tsVal) });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  let tsVal = 102;
  p.tcp.send(tcb, new Uint8Array(4 << 20));
  let cssSeen = false;
  for (const rtt of rtts) {
    // Take what was sent, wait `rtt`, ACK every segment with its own timestamp echoed.
    const sent = p.take().filter((s) => s.data.length > 0);
    p.advance(rtt);
    for (const s of sent) {
      p.send({ dstPort: 80, seq: 1001, ack: (s.seq + s.data.length) >>> 0, flags: F.ACK, window: 65535, options: tsOpt(tsVal++, s.ts!.tsVal) });
    }
    if (tcb.cc.inConservativeSlowStart) cssSeen = true;
  }
  return { cssSeen, tcb, p };
}

test('HyStart++ in a connection on the fake clock: a peer whose RTT grows ends slow start before any loss', () => {
  const grows = connectionRounds([20, 20, 20, 30, 30, 30, 30, 30, 30, 30]);
  assert.ok(grows.cssSeen, 'the RTT growing by half put slow start into CSS');
  assert.equal((grows.tcb.cc as Cubic).hystart!.cssEntries, 1);
  assert.ok(Number.isFinite(grows.tcb.cc.ssthresh), 'and CSS ended in congestion avoidance');
  const st = grows.p.tcp.stats;
  assert.equal(grows.tcb.retransmits + st.ecnReductions + st.fastRetransmits + st.timeouts, 0, 'no loss or ECN: HyStart++ did it');
  grows.p.close();
  // The same peer at a steady RTT: slow start goes on.
  const steady = connectionRounds([20, 20, 20, 20, 20, 20]);
  assert.ok(!steady.cssSeen);
  assert.equal(steady.tcb.cc.ssthresh, Infinity);
  steady.p.close();
});
