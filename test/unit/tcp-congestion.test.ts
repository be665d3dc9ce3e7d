import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import {
  createCongestionControl,
  Cubic,
  CUBIC_ALPHA,
  CUBIC_BETA,
  CUBIC_C,
  initialWindow,
  NewReno,
} from '../../src/transport/tcp/congestion/index.js';

const MSS = 1000;

test('RFC 6928 initial window: min(10*MSS, max(2*MSS, 14600))', () => {
  assert.equal(initialWindow(1460), 14600);
  assert.equal(initialWindow(1000), 10000);
  assert.equal(initialWindow(536), 5360);
  assert.equal(initialWindow(9000), 18000);
  assert.equal(initialWindow(1460 * 2), 14600);
  assert.equal(new NewReno(1460).cwnd, 14600);
  assert.equal(new Cubic(1460).cwnd, 14600);
  assert.equal(new NewReno(MSS).ssthresh, Infinity);
  assert.equal(new NewReno(MSS, { initialCwnd: MSS }).cwnd, MSS);
});

test('slow start: +acked per ACK, capped at L = 2*SMSS per ACK (RFC 5681 3.1, RFC 3465)', () => {
  const cc = new NewReno(MSS);
  assert.equal(cc.inSlowStart, true);
  cc.onAck(MSS, 10, 0);
  assert.equal(cc.cwnd, 11_000);
  cc.onAck(500, 10, 0);
  assert.equal(cc.cwnd, 11_500);
  cc.onAck(5 * MSS, 10, 0); // stretch ACK
  assert.equal(cc.cwnd, 13_500);
  // a whole window of per-segment ACKs doubles cwnd in one RTT
  const w = cc.cwnd;
  for (let i = 0; i < w / 500; i++) cc.onAck(500, 10, 0);
  assert.equal(cc.cwnd, 2 * w);
});

test('slow start stops at ssthresh and hands the remainder to congestion avoidance', () => {
  const cc = new NewReno(MSS, { initialCwnd: 11_500, initialSsthresh: 12_000 });
  cc.onAck(MSS, 10, 0);
  assert.equal(cc.cwnd, 12_000);
  assert.equal(cc.inSlowStart, false);
  // 500 bytes already counted towards the next increase: 11_500 more complete 12_000
  cc.onAck(11_000, 10, 0);
  assert.equal(cc.cwnd, 12_000);
  cc.onAck(500, 10, 0);
  assert.equal(cc.cwnd, 13_000);
});

test('congestion avoidance: exactly one SMSS per cwnd of acknowledged bytes (RFC 3465 2.1)', () => {
  const cc = new NewReno(MSS, { initialCwnd: 20_000, initialSsthresh: 10_000 });
  for (let i = 0; i < 19; i++) cc.onAck(MSS, 10, 0);
  assert.equal(cc.cwnd, 20_000);
  cc.onAck(MSS, 10, 0);
  assert.equal(cc.cwnd, 21_000);
  // next RTT needs 21 segments
  for (let i = 0; i < 20; i++) cc.onAck(MSS, 10, 0);
  assert.equal(cc.cwnd, 21_000);
  cc.onAck(MSS, 10, 0);
  assert.equal(cc.cwnd, 22_000);
  // delayed ACKs (2 segments each) give the same growth per RTT
  const d = new NewReno(MSS, { initialCwnd: 20_000, initialSsthresh: 10_000 });
  for (let i = 0; i < 10; i++) d.onAck(2 * MSS, 10, 0);
  assert.equal(d.cwnd, 21_000);
});

test('application-limited ACKs do not grow cwnd', () => {
  const cc = new NewReno(MSS);
  cc.onAck(MSS, 10, 0, false);
  assert.equal(cc.cwnd, 10_000);
});

test('NewReno fast recovery without SACK: inflate, partial-ACK deflation, full-ACK exit (RFC 6582)', () => {
  const cc = new NewReno(MSS, { initialCwnd: 20_000, initialSsthresh: 10_000 });
  cc.enterRecovery(0, 20_000, true);
  assert.equal(cc.ssthresh, 10_000, 'max(FlightSize/2, 2*SMSS)');
  assert.equal(cc.cwnd, 13_000, 'ssthresh + 3*SMSS');
  assert.equal(cc.inRecovery, true);
  cc.onDupAck();
  cc.onDupAck();
  assert.equal(cc.cwnd, 15_000);
  cc.onAck(5 * MSS, 10, 0); // new-data ACKs in recovery go through onPartialAck, not onAck
  assert.equal(cc.cwnd, 15_000);
  cc.onPartialAck(3000);
  assert.equal(cc.cwnd, 13_000, 'deflate by 3000, add back one SMSS');
  cc.onPartialAck(500);
  assert.equal(cc.cwnd, 12_500, 'less than one SMSS acked: no add-back');
  cc.exitRecovery(5000);
  assert.equal(cc.cwnd, 6000, 'min(ssthresh, max(FlightSize, SMSS) + SMSS)');
  assert.equal(cc.inRecovery, false);
  assert.equal(cc.inSlowStart, true);
  const c2 = new NewReno(MSS, { initialCwnd: 20_000 });
  c2.enterRecovery(0, 20_000, true);
  c2.exitRecovery(15_000);
  assert.equal(c2.cwnd, 10_000, 'capped at ssthresh');
});

test('SACK-based recovery: cwnd = ssthresh, no inflation (RFC 6675 5)', () => {
  const cc = new NewReno(MSS, { initialCwnd: 20_000 });
  cc.enterRecovery(0, 18_000);
  assert.equal(cc.ssthresh, 9000);
  assert.equal(cc.cwnd, 9000);
  cc.onDupAck();
  cc.onPartialAck(4000);
  assert.equal(cc.cwnd, 9000);
  cc.exitRecovery(9000);
  assert.equal(cc.cwnd, 9000);
});

test('ssthresh never below 2*SMSS; odd flight sizes round down', () => {
  const cc = new NewReno(MSS);
  cc.enterRecovery(0, 3000);
  assert.equal(cc.ssthresh, 2000);
  const c2 = new NewReno(MSS);
  c2.enterRecovery(0, 10_001);
  assert.equal(c2.ssthresh, 5000);
});

test('RTO: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS; repeated RTO holds ssthresh (RFC 5681 3.1)', () => {
  const cc = new NewReno(MSS, { initialCwnd: 30_000 });
  cc.enterRecovery(0, 30_000, true);
  cc.onRetransmitTimeout(0, 30_000);
  assert.equal(cc.ssthresh, 15_000);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.inRecovery, false);
  cc.onRetransmitTimeout(0, 1000, false);
  assert.equal(cc.ssthresh, 15_000);
  assert.equal(cc.cwnd, MSS);
  cc.onRetransmitTimeout(0, 1000, true);
  assert.equal(cc.ssthresh, 2000);
});

test('restart after idle: cwnd = min(cwnd, IW) (RFC 5681 4.1); ECN-Echo halves without recovery', () => {
  const cc = new NewReno(MSS, { initialCwnd: 50_000 });
  cc.onIdleRestart(0);
  assert.equal(cc.cwnd, 10_000);
  const small = new NewReno(MSS, { initialCwnd: 4000 });
  small.onIdleRestart(0);
  assert.equal(small.cwnd, 4000);
  const e = new NewReno(MSS, { initialCwnd: 20_000 });
  e.onEcnEcho(0, 20_000);
  assert.equal(e.ssthresh, 10_000);
  assert.equal(e.cwnd, 10_000);
  assert.equal(e.inRecovery, false);
});

test('setMss changes the increments', () => {
  const cc = new NewReno(MSS);
  cc.setMss(500);
  cc.onAck(2000, 10, 0);
  assert.equal(cc.cwnd, 11_000, 'ABC limit is now 2*500');
  assert.throws(() => cc.setMss(0), RangeError);
});

test('factory', () => {
  assert.equal(createCongestionControl('newreno', MSS).name, 'newreno');
  assert.equal(createCongestionControl('cubic', MSS).name, 'cubic');
});

// ---------------- CUBIC (RFC 9438) ----------------

/** Reference CUBIC in RFC units (segments, seconds), written straight from the RFC. */
class RefCubic {
  alpha = CUBIC_ALPHA;
  wEst: number;
  constructor(
    public cwnd: number,
    readonly wMax: number,
    readonly K: number,
    readonly prior: number,
  ) {
    this.wEst = cwnd;
  }
  W(t: number): number {
    return CUBIC_C * (t - this.K) ** 3 + this.wMax;
  }
  ack(segmentsAcked: number, t: number, rtt: number): void {
    this.wEst += (this.alpha * segmentsAcked) / this.cwnd; // Figure 4
    if (this.wEst >= this.prior) this.alpha = 1;
    if (this.W(t) < this.wEst) {
      this.cwnd = Math.max(this.cwnd, this.wEst);
      return;
    }
    let target = this.W(t + rtt);
    if (target < this.cwnd) target = this.cwnd;
    if (target > 1.5 * this.cwnd) target = 1.5 * this.cwnd;
    this.cwnd += ((target - this.cwnd) / this.cwnd) * segmentsAcked;
  }
}

function cubicAfterLoss(clock: FakeClock, cwndSegs = 100): Cubic {
  const cc = new Cubic(MSS, { initialCwnd: cwndSegs * MSS });
  cc.enterRecovery(clock.now(), cwndSegs * MSS);
  cc.exitRecovery(cc.ssthresh);
  return cc;
}

test('CUBIC multiplicative decrease: ssthresh = 0.7*flight, W_max = cwnd (RFC 9438 4.6)', () => {
  const clock = new FakeClock();
  const cc = cubicAfterLoss(clock);
  assert.equal(cc.ssthresh, 70_000);
  assert.equal(cc.cwnd, 70_000);
  assert.equal(cc.wMax, 100_000);
  assert.equal(cc.cwndPrior, 100_000);
  assert.equal(CUBIC_BETA, 0.7);
  assert.equal(CUBIC_C, 0.4);
  assert.ok(Math.abs(CUBIC_ALPHA - 0.9 / 1.7) < 1e-15); // 3*(1-beta)/(1+beta)
});

test('CUBIC K and W_cubic(t) match Figures 1 and 2', () => {
  const clock = new FakeClock(5000);
  const cc = cubicAfterLoss(clock);
  clock.advance(10);
  cc.onAck(MSS, 100, clock.now());
  assert.equal(cc.epochStart, 5010);
  // K = cbrt((W_max - cwnd_epoch)/C) = cbrt((100 - 70)/0.4) = cbrt(75)
  assert.equal(cc.K, Math.cbrt(75));
  assert.ok(Math.abs(cc.K - 4.217163326508746) < 1e-12);
  assert.ok(Math.abs(cc.wCubic(0) - 70_000) < 1e-6, 'W_cubic(0) = cwnd_epoch');
  assert.ok(Math.abs(cc.wCubic(cc.K) - 100_000) < 1e-9, 'W_cubic(K) = W_max');
  // W_cubic(1 s) = 0.4*(1 - K)^3 + 100 segments
  assert.ok(Math.abs(cc.wCubic(1) / MSS - (0.4 * (1 - Math.cbrt(75)) ** 3 + 100)) < 1e-9);
  assert.ok(Math.abs(cc.wCubic(1) / MSS - 86.68076) < 1e-5);
  assert.ok(Math.abs(cc.wCubic(2 * cc.K) / MSS - 130) < 1e-9, 'symmetric: convex side');
});

test('CUBIC window growth follows the RFC formulas ACK by ACK', () => {
  const clock = new FakeClock(0);
  const cc = cubicAfterLoss(clock);
  const rttMs = 100;
  const ref = new RefCubic(70, 100, Math.cbrt(75), 100);
  const t0 = clock.now();
  // ~8 s of ACK clocking: each RTT, a cwnd's worth of 1-segment ACKs spread over the RTT.
  let maxRel = 0;
  for (let rtt = 0; rtt < 80; rtt++) {
    const n = Math.max(1, Math.floor(cc.cwnd / MSS));
    for (let i = 0; i < n; i++) {
      cc.onAck(MSS, rttMs, clock.now());
      ref.ack(1, (clock.now() - t0) / 1000, rttMs / 1000);
      const rel = Math.abs(cc.wEst / MSS - ref.wEst) + Math.abs(cc.cwnd / MSS - Math.floor(ref.cwnd * MSS) / MSS);
      if (rel > maxRel) maxRel = rel;
      clock.advance(rttMs / n);
    }
  }
  assert.ok(maxRel < 1e-6, `deviation ${maxRel}`);
  // After 8 s (> K = 4.22 s) the window passed W_max into the convex region, and is below
  // the cubic curve's value (cwnd only ever chases W_cubic(t + RTT)).
  const t = (clock.now() - t0) / 1000;
  assert.ok(cc.cwnd > 100_000);
  assert.ok(cc.cwnd <= cc.wCubic(t + rttMs / 1000));
  assert.ok(cc.cwnd > cc.wCubic(t - 1));
});

test('CUBIC plateaus around W_max near t = K (concave region)', () => {
  const clock = new FakeClock(0);
  const cc = cubicAfterLoss(clock);
  const rttMs = 100;
  const t0 = clock.now();
  while (clock.now() - t0 < cc.K * 1000 || cc.epochStart < 0) {
    const n = Math.max(1, Math.floor(cc.cwnd / MSS));
    for (let i = 0; i < n; i++) {
      cc.onAck(MSS, rttMs, clock.now());
      clock.advance(rttMs / n);
    }
  }
  // At t = K the curve is at W_max; cwnd (which aims one RTT ahead) is within 1%.
  assert.ok(Math.abs(cc.cwnd - 100_000) < 1000, `cwnd ${cc.cwnd}`);
});

test('CUBIC Reno-friendly region: with a short RTT cwnd follows W_est (RFC 9438 4.3)', () => {
  const clock = new FakeClock(0);
  const cc = cubicAfterLoss(clock, 20); // W_max 20, cwnd 14: K = cbrt(15) = 2.47 s
  const ref = new RefCubic(14, 20, Math.cbrt(15), 20);
  const t0 = clock.now();
  for (let i = 0; i < 200; i++) {
    cc.onAck(MSS, 1, clock.now());
    ref.ack(1, (clock.now() - t0) / 1000, 0.001);
    clock.advance(0.1);
  }
  // 20 ms of time: the cubic curve has barely moved, W_est has grown by about
  // alpha * 200/14 segments, so cwnd = W_est.
  assert.equal(cc.cwnd, Math.floor(cc.wEst));
  assert.ok(Math.abs(cc.wEst / MSS - ref.wEst) < 1e-9);
  assert.ok(cc.wEst > 14_000 + 0.5 * 200 * (MSS / 20));
  assert.ok(cc.wCubic((clock.now() - t0) / 1000) < cc.wEst);
});

test('CUBIC alpha becomes 1 once W_est reaches cwnd_prior', () => {
  const clock = new FakeClock(0);
  const cc = cubicAfterLoss(clock, 10); // prior 10 segments, cwnd 7
  // Short RTT keeps it Reno-friendly; count segments until W_est >= 10 segments.
  let acks = 0;
  while (cc.wEst < 10_000) {
    cc.onAck(MSS, 1, clock.now());
    acks++;
  }
  const w = cc.wEst;
  cc.onAck(MSS, 1, clock.now());
  assert.ok(Math.abs(cc.wEst - (w + (1 * MSS * MSS) / cc.cwnd)) < 2, 'next increment uses alpha = 1');
  assert.ok(acks > 40 && acks < 60, `acks ${acks}`); // ~ 3 segments / 0.53 per cwnd of ~8.5
});

test('CUBIC fast convergence lowers W_max when the window did not recover (RFC 9438 4.7)', () => {
  const clock = new FakeClock(0);
  const cc = cubicAfterLoss(clock); // W_max 100 segments
  // grow a little (to 90 segments) then lose again
  while (cc.cwnd < 90_000) {
    cc.onAck(MSS, 100, clock.now());
    clock.advance(5);
  }
  const cwnd = cc.cwnd;
  cc.enterRecovery(clock.now(), cwnd);
  assert.ok(Math.abs(cc.wMax - (cwnd * 1.7) / 2) < 1);
  assert.equal(cc.ssthresh, Math.floor(cwnd * 0.7));
  const noFc = new Cubic(MSS, { initialCwnd: 100 * MSS, fastConvergence: false });
  noFc.enterRecovery(0, 100_000);
  noFc.exitRecovery(70_000);
  noFc.onAck(MSS, 100, 0);
  const c2 = noFc.cwnd;
  noFc.enterRecovery(1, c2);
  assert.ok(Math.abs(noFc.wMax - c2) < 1);
});

test('CUBIC timeout: cwnd = 1 SMSS, ssthresh via beta, next stage K = 0 and W_max = cwnd_epoch (4.8)', () => {
  const clock = new FakeClock(0);
  const cc = new Cubic(MSS, { initialCwnd: 100 * MSS });
  cc.onRetransmitTimeout(clock.now(), 100 * MSS);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 70_000);
  // slow start back to ssthresh
  while (cc.inSlowStart) cc.onAck(MSS, 100, clock.now());
  assert.equal(cc.cwnd, 70_000);
  clock.advance(100);
  cc.onAck(MSS, 100, clock.now());
  assert.equal(cc.K, 0);
  assert.equal(cc.wMax, 70_000);
  assert.equal(cc.epochStart, clock.now());
});

test('CUBIC without any loss: first congestion avoidance uses K = 0, W_max = cwnd (4.10)', () => {
  const cc = new Cubic(MSS, { initialCwnd: 10 * MSS, initialSsthresh: 10 * MSS });
  cc.onAck(MSS, 100, 1000);
  assert.equal(cc.K, 0);
  assert.equal(cc.wMax, 10_000);
  assert.equal(cc.cwndPrior, 10_000);
});

test('CUBIC: application-limited time is excluded from t (RFC 9438 4.2, 5.8)', () => {
  const a = cubicAfterLoss(new FakeClock(0));
  const b = cubicAfterLoss(new FakeClock(0));
  for (const cc of [a, b]) {
    cc.onAck(MSS, 100, 0); // epoch starts at 0
    cc.onAck(MSS, 100, 500, false); // application-limited from 500 ms: no growth
  }
  const before = a.cwnd;
  a.onAck(MSS, 100, 600); // a resumes after 100 ms
  b.onAck(MSS, 100, 3600); // b after 3100 ms
  const bAfterPause = b.cwnd;
  assert.equal(a.epochStart, 100);
  assert.equal(b.epochStart, 3100);
  assert.ok(a.cwnd > before);
  for (let i = 1; i <= 50; i++) {
    a.onAck(MSS, 100, 600 + i * 50);
    b.onAck(MSS, 100, 3600 + i * 50);
  }
  assert.equal(b.cwnd, a.cwnd, 'same t, same window');
  // Without the pause being declared, the same ACK at 3600 ms sees t = 3.6 s instead of
  // 0.5 s, a target much further up the curve, and jumps further.
  const c = cubicAfterLoss(new FakeClock(0));
  c.onAck(MSS, 100, 0);
  c.onAck(MSS, 100, 3600);
  assert.equal(c.epochStart, 0);
  assert.ok(c.cwnd > bAfterPause + 100, `${c.cwnd} vs ${bAfterPause}`);
});

test('CUBIC restart after idle begins a fresh epoch', () => {
  const clock = new FakeClock(0);
  const cc = cubicAfterLoss(clock);
  cc.onAck(MSS, 100, 0);
  assert.equal(cc.epochStart, 0);
  cc.onIdleRestart(60_000);
  assert.equal(cc.epochStart, -1);
  assert.equal(cc.cwnd, 10_000);
});
