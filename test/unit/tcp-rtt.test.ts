import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RTO_MS, RttEstimator } from '../../src/transport/tcp/rtt.js';

test('initial RTO is 1 s before any sample (RFC 6298 2.1)', () => {
  const r = new RttEstimator();
  assert.equal(r.rto, 1000);
  assert.equal(r.hasSample, false);
});

test('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR) (RFC 6298 2.2)', () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  r.sample(100);
  assert.equal(r.srtt, 100);
  assert.equal(r.rttvar, 50);
  assert.equal(r.rto, 300);
});

test('subsequent samples use alpha 1/8, beta 1/4, RTTVAR before SRTT (RFC 6298 2.3)', () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  r.sample(100);
  r.sample(200);
  // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 ; SRTT = 7/8*100 + 1/8*200 = 112.5
  assert.equal(r.rttvar, 62.5);
  assert.equal(r.srtt, 112.5);
  assert.equal(r.rto, 112.5 + 4 * 62.5);
  r.sample(112.5); // |SRTT - R| = 0
  assert.equal(r.rttvar, 46.875);
  assert.equal(r.srtt, 112.5);
  assert.equal(r.rto, 112.5 + 187.5);
});

test('clock granularity G bounds the variance term', () => {
  const r = new RttEstimator({ minRtoMs: 0, granularityMs: 10 });
  r.sample(8);
  r.sample(8);
  r.sample(8);
  // RTTVAR decays: 4, 3, 2.25 -> 4*2.25 = 9 < G = 10
  assert.equal(r.rttvar, 2.25);
  assert.equal(r.rto, 8 + 10);
});

test('min RTO default 200 ms and max RTO 120 s clamp (RFC 6298 2.4, 2.5)', () => {
  const r = new RttEstimator();
  r.sample(1);
  assert.equal(r.rto, 200);
  const s = new RttEstimator();
  s.sample(100_000); // 100 s + 4*50 s
  assert.equal(s.rto, MAX_RTO_MS);
  const t = new RttEstimator({ minRtoMs: 1000 });
  t.sample(10);
  assert.equal(t.rto, 1000);
});

test('exponential backoff doubles and caps, a new sample clears it (RFC 6298 5.5, 5.7)', () => {
  const r = new RttEstimator();
  r.sample(100); // RTO 300
  assert.equal(r.backoff(), 600);
  assert.equal(r.backoff(), 1200);
  assert.equal(r.backoffCount, 2);
  for (let i = 0; i < 20; i++) r.backoff();
  assert.equal(r.rto, 120_000);
  r.resetBackoff();
  assert.equal(r.rto, 300);
  r.backoff();
  r.sample(100);
  // RTTVAR = 3/4*50 + 0 = 37.5 -> RTO = 100 + 150
  assert.equal(r.backoffCount, 0);
  assert.equal(r.rto, 250);
});

test('backoff from the initial RTO: 1, 2, 4, 8 s', () => {
  const r = new RttEstimator();
  assert.deepEqual([r.backoff(), r.backoff(), r.backoff()], [2000, 4000, 8000]);
});

test("Karn's rule: a retransmission cancels the timed measurement", () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  assert.equal(r.startTiming(1000, 0), true);
  assert.equal(r.startTiming(2000, 5), false, 'only one segment timed per RTT');
  assert.equal(r.onAck(999, 40), false, 'ACK below the timed segment end takes no sample');
  r.onRetransmit();
  assert.equal(r.onAck(2000, 80), false, 'ambiguous after retransmission');
  assert.equal(r.hasSample, false);
  assert.equal(r.startTiming(3000, 100), true);
  assert.equal(r.onAck(3000, 150), true);
  assert.equal(r.srtt, 50);
  assert.equal(r.isTiming, false);
});

test('timed segment across the sequence wrap', () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  r.startTiming(0x10, 0); // end seq just after the wrap
  assert.equal(r.onAck(0xffff_fff0, 10), false);
  assert.equal(r.onAck(0x20, 30), true);
  assert.equal(r.srtt, 30);
});

test('backoff abandons the timed measurement too', () => {
  const r = new RttEstimator();
  r.startTiming(100, 0);
  r.backoff();
  assert.equal(r.onAck(100, 2000), false);
});

test('timestamp echo sampling (RFC 7323 4.1), negative echoes rejected', () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  assert.equal(r.sampleFromTimestampEcho(1000, 1040), true);
  assert.equal(r.srtt, 40);
  assert.equal(r.sampleFromTimestampEcho(2000, 1999), false);
  assert.equal(r.samples, 1);
  // wrap of the TS clock, 10 ms ticks
  const s = new RttEstimator({ minRtoMs: 0 });
  assert.equal(s.sampleFromTimestampEcho(0xffff_fffe, 3, 10), true);
  assert.equal(s.srtt, 50);
});

test('RFC 7323 Appendix G: per-sample weights divided by ExpectedSamples', () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  r.sample(100);
  r.sample(200, 4); // alpha' = 1/32, beta' = 1/16
  assert.equal(r.rttvar, (15 / 16) * 50 + (1 / 16) * 100);
  assert.equal(r.srtt, (31 / 32) * 100 + (1 / 32) * 200);
});

test('SYN timeout: RTO re-initialised to 3 s for data unless a sample exists (RFC 6298 5.7)', () => {
  const r = new RttEstimator();
  r.backoff();
  r.applySynTimeoutRule();
  assert.equal(r.rto, 3000);
  const s = new RttEstimator();
  s.sampleFromTimestampEcho(0, 100);
  s.applySynTimeoutRule();
  assert.equal(s.rto, 300);
});

test('clearEstimates: next sample re-initialises with (2.2)', () => {
  const r = new RttEstimator({ minRtoMs: 0 });
  r.sample(100);
  r.sample(300);
  r.clearEstimates();
  r.sample(40);
  assert.equal(r.srtt, 40);
  assert.equal(r.rttvar, 20);
  assert.equal(r.minRtt, 40);
  assert.equal(r.latestRtt, 40);
});

test('invalid samples are ignored', () => {
  const r = new RttEstimator();
  r.sample(-1);
  r.sample(Number.NaN);
  r.sample(Infinity);
  assert.equal(r.hasSample, false);
  assert.equal(r.rto, 1000);
});
