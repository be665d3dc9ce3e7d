// BBR (congestion/bbr.ts), its delivery-rate estimator (congestion/delivery-rate.ts) and
// pacing, on a fake clock: the estimator's samples, the state machine driven by rate samples,
// and transfers on the in-memory wire.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { Bbr, BbrMode, BBR_HIGH_GAIN } from '../../src/transport/tcp/congestion/bbr.js';
import { DeliveryRate, RateSample } from '../../src/transport/tcp/congestion/delivery-rate.js';
import { makePair, ADDR_B, type Pair } from '../helpers/two-stacks.js';
import type { Tcb } from '../../src/transport/tcp/tcp.js';
import type { TcpConfig } from '../../src/transport/tcp/tcb.js';

const MSS = 1000;

test('delivery rate: delivered over the longer of the send and ACK intervals', () => {
  const r = new DeliveryRate();
  // Ten segments sent 1 ms apart from t=0 with nothing in flight before.
  for (let i = 0; i < 10; i++) r.onSend((i + 1) * MSS, i, i * MSS);
  assert.equal(r.snapshots, 10);
  // The first is ACKed at 20 ms: 1000 bytes over max(0 send, 20 ack) ms.
  let rs = r.onAck(MSS, MSS, 20, Infinity);
  assert.ok(rs.valid);
  assert.equal(rs.delivered, MSS);
  assert.equal(rs.interval, 20);
  assert.equal(rs.deliveryRate, 50);
  assert.equal(rs.rtt, 20, 'the RTT of the sampled transmission');
  // The rest are ACKed together at 30 ms: 10000 bytes since the first snapshot's delivered
  // (0) ... sample from the last one sent (t=9): delivered 10000 - 0, send interval 9 - 0
  // (first_sent_time moved to 0 by the first sample), ACK interval 30 - 0.
  rs = r.onAck(10 * MSS, 9 * MSS, 30, Infinity);
  assert.ok(rs.valid);
  assert.equal(rs.priorDelivered, 0);
  assert.equal(rs.delivered, 10 * MSS);
  assert.equal(rs.interval, 30);
  assert.equal(rs.rtt, 21, 'from the last one sent (t=9)');
  assert.equal(r.snapshots, 0);
  // An interval shorter than min_rtt gives no sample (it would overestimate).
  r.onSend(11 * MSS, 31, 0);
  rs = r.onAck(11 * MSS, MSS, 32, 5);
  assert.equal(rs.valid, false);
  // An ACK that covers no snapshot gives none either, nor an RTT.
  rs = r.onAck(11 * MSS, 0, 40, 5);
  assert.equal(rs.valid, false);
  assert.equal(rs.hasPrior, false);
  assert.equal(rs.rtt, -1);
  // Sub-millisecond RTTs are kept (not rounded to 0 as timestamps would), at least 1 us.
  r.onSend(12 * MSS, 50, 0);
  assert.ok(Math.abs(r.onAck(12 * MSS, MSS, 50.25, 0).rtt - 0.25) < 1e-9);
  r.onSend(13 * MSS, 60, 0);
  assert.equal(r.onAck(13 * MSS, MSS, 60, 0).rtt, 0.001);
});

test('delivery rate: app-limited marking lasts until what was in flight is delivered', () => {
  const r = new DeliveryRate();
  r.onSend(MSS, 0, 0);
  r.markAppLimited(MSS);
  r.onSend(2 * MSS, 1, MSS);
  const rs1 = r.onAck(MSS, MSS, 10, Infinity);
  assert.equal(rs1.isAppLimited, false, 'sent before the marking');
  const rs2 = r.onAck(2 * MSS, MSS, 11, Infinity);
  assert.equal(rs2.isAppLimited, true);
  assert.equal(r.appLimited, 0, 'cleared once the marked flight was delivered');
  r.onSend(3 * MSS, 12, 0);
  assert.equal(r.onAck(3 * MSS, MSS, 30, Infinity).isAppLimited, false);
});

test('delivery rate: the snapshot ring grows past its first size in order', () => {
  const r = new DeliveryRate();
  for (let i = 0; i < 300; i++) r.onSend((i + 1) * MSS, i, i * MSS);
  assert.equal(r.snapshots, 300);
  const rs = r.onAck(150 * MSS, 150 * MSS, 400, Infinity);
  assert.ok(rs.valid);
  assert.equal(r.snapshots, 150);
  assert.equal(rs.priorDelivered, 0);
});

/** One round of `rtt` ms at `bw` bytes/ms: a sample covering the whole round. */
function round(bbr: Bbr, bw: number, rtt: number, inFlight: number, now: number, lost = 0): void {
  const rs = new RateSample();
  rs.hasPrior = true;
  rs.priorDelivered = bbr.rate.delivered;
  const d = Math.round(bw * rtt);
  bbr.rate.delivered += d;
  rs.delivered = d;
  rs.newlyDelivered = d;
  rs.interval = rtt;
  rs.deliveryRate = bw;
  rs.valid = true;
  bbr.onRateSample(rs, rtt, inFlight, lost, now, false);
}

function throughStartup(): { bbr: Bbr; now: number } {
  const bbr = new Bbr(MSS);
  let now = 0;
  let bw = 100;
  for (let i = 0; i < 6; i++) {
    now += 10;
    round(bbr, bw, 10, 3 * bw * 10, now);
    assert.equal(bbr.mode, BbrMode.STARTUP, `round ${i}: still growing`);
    bw *= 2;
  }
  return { bbr, now };
}

test('BBR STARTUP: high gain while bw grows; leaves after three rounds without 25% growth', () => {
  const { bbr } = throughStartup();
  assert.equal(bbr.pacingGain, BBR_HIGH_GAIN);
  assert.ok(Math.abs(BBR_HIGH_GAIN - 2.885) < 0.001);
  let now = 100;
  const bw = 3200; // plateau (last growth round was 3200)
  round(bbr, bw, 10, 3 * bw * 10, (now += 10));
  round(bbr, bw * 1.1, 10, 3 * bw * 10, (now += 10));
  assert.equal(bbr.mode, BbrMode.STARTUP);
  round(bbr, bw, 10, 3 * bw * 10, (now += 10));
  assert.equal(bbr.filledPipe, true);
  assert.equal(bbr.mode, BbrMode.DRAIN, 'queue still full: drain');
  assert.ok(Math.abs(bbr.pacingGain - 1 / BBR_HIGH_GAIN) < 1e-9);
  // DRAIN holds while more than a BDP is in flight, and ends when the queue is gone.
  const bdp = bbr.btlBw * bbr.minRtt;
  round(bbr, bw, 10, 2 * bdp, (now += 10));
  assert.equal(bbr.mode, BbrMode.DRAIN);
  round(bbr, bw, 10, bdp, (now += 10));
  assert.equal(bbr.mode, BbrMode.PROBE_BW);
  assert.equal(bbr.cwndGain, 2);
});

test('BBR PROBE_BW: gain cycles 1.25, 0.75, then 1 for six phases of one min_rtt each', () => {
  const { bbr } = throughStartup();
  let now = 100;
  const bw = 3200;
  for (let i = 0; i < 3; i++) round(bbr, bw, 10, 3 * bw * 10, (now += 10));
  round(bbr, bw, 10, bw * 10, (now += 10));
  assert.equal(bbr.mode, BbrMode.PROBE_BW);
  const bdp = bbr.btlBw * bbr.minRtt;
  const gains = [bbr.pacingGain];
  // The 1.25 phase lasts until a min_rtt has passed AND in flight reached 1.25 BDP.
  round(bbr, bw, 10, bdp, (now += 11));
  assert.equal(bbr.pacingGain, 1.25, 'not enough in flight yet');
  for (let i = 0; i < 8; i++) {
    round(bbr, bw, 10, 1.3 * bdp, (now += 11));
    gains.push(bbr.pacingGain);
  }
  assert.deepEqual(gains, [1.25, 0.75, 1, 1, 1, 1, 1, 1, 1.25]);
  assert.ok(Math.abs(bbr.pacingRate - 1.25 * bw) < 1e-6, 'pacing at gain * BtlBw');
});

test('BBR PROBE_RTT: after 10 s without a new minimum, 4 segments for 200 ms and a round, then back', () => {
  const { bbr } = throughStartup();
  let now = 100;
  const bw = 3200;
  for (let i = 0; i < 3; i++) round(bbr, bw, 10, 3 * bw * 10, (now += 10));
  round(bbr, bw, 10, bw * 10, (now += 10));
  assert.equal(bbr.mode, BbrMode.PROBE_BW);
  const cwndBefore = bbr.cwnd;
  assert.ok(cwndBefore > 10 * MSS);
  // RTTs above the minimum for 10 s.
  while (now < 10_070) {
    round(bbr, bw, 12, bw * 10, (now += 12));
    assert.equal(bbr.mode, BbrMode.PROBE_BW);
  }
  round(bbr, bw, 12, bw * 10, (now += 200));
  assert.equal(bbr.mode, BbrMode.PROBE_RTT);
  assert.equal(bbr.cwnd, 4 * MSS);
  assert.equal(bbr.pacingGain, 1);
  round(bbr, bw, 12, 4 * MSS, (now += 12)); // in flight down to 4 segments: the 200 ms start
  round(bbr, bw, 12, 4 * MSS, (now += 100));
  assert.equal(bbr.mode, BbrMode.PROBE_RTT, 'not 200 ms yet');
  round(bbr, bw, 12, 4 * MSS, (now += 120));
  assert.equal(bbr.mode, BbrMode.PROBE_BW);
  assert.equal(bbr.minRtt, 12, 'the new minimum was taken');
  assert.ok(bbr.cwnd >= cwndBefore, 'cwnd restored');
});

test('BBR paces from the start: high_gain * initial window over a nominal 1 ms, or over the handshake RTT', () => {
  const bbr = new Bbr(MSS);
  assert.ok(Math.abs(bbr.pacingRate - BBR_HIGH_GAIN * 10 * MSS) < 1e-6, `${bbr.pacingRate}`);
  bbr.initPacingRate(20);
  assert.ok(Math.abs(bbr.pacingRate - (BBR_HIGH_GAIN * 10 * MSS) / 20) < 1e-6, `${bbr.pacingRate}`);
});

test('BBR recovery: packet conservation for the first round, cwnd restored at the end', () => {
  const { bbr } = throughStartup();
  let now = 100;
  const bw = 3200;
  for (let i = 0; i < 4; i++) round(bbr, bw, 10, bw * 10, (now += 10));
  const before = bbr.cwnd;
  bbr.enterRecovery(now, 60 * MSS);
  assert.equal(bbr.inRecovery, true);
  // The next ACK: in flight 40 segments, 2 delivered: cwnd = 42 segments.
  const rs = new RateSample();
  rs.newlyDelivered = 2 * MSS;
  bbr.rate.delivered += 2 * MSS;
  bbr.onRateSample(rs, -1, 40 * MSS, 0, now + 1, false);
  assert.equal(bbr.cwnd, 42 * MSS);
  assert.equal(bbr.ssthresh, 42 * MSS, 'PRR aims at BBR\'s cwnd');
  bbr.exitRecovery();
  assert.equal(bbr.inRecovery, false);
  assert.equal(bbr.cwnd, before);
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface WireSetup { lossRate: number; delayMs: number; seed: number; rateBytesPerMs?: number; queueBytes?: number }

/**
 * Fake-clock transfer of `size` bytes A -> B through the wire. Returns the virtual ms from
 * ESTABLISHED to the last byte read (a lost SYN costs both controllers the same second), A's
 * block and the wire. Every byte must arrive, intact, within `limitMs`.
 */
function transfer(tcp: Partial<TcpConfig>, size: number, wire: WireSetup, limitMs = 60_000): { ms: number; tcb: Tcb; wire: Pair['wire'] } {
  const p = makePair({ fake: true, wire, tcp });
  try {
    const l = p.tcpB.listen(0, 6000);
    let server: Tcb | null = null;
    l.user = { onConnection: (t) => { server = t; } };
    const a = p.tcpA.connect(ADDR_B, 6000);
    const data = randomBytes(size);
    let off = 0;
    let got = 0;
    let start = -1;
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1 << 20);
    for (let step = 0; step < limitMs && got < size; step++) {
      if (a.stateName === 'ESTABLISHED') {
        if (start < 0) start = p.clock!.now();
        if (off < size) off += Math.max(0, p.tcpA.send(a, data, off, size - off));
      }
      if (server !== null) {
        for (;;) {
          const n = p.tcpB.read(server, buf);
          if (n <= 0) break;
          hash.update(buf.subarray(0, n));
          got += n;
        }
      }
      p.run(1);
    }
    assert.equal(got, size, `all delivered within ${limitMs} ms`);
    assert.equal(hash.digest('hex'), sha(data), 'intact');
    return { ms: p.clock!.now() - start, tcb: a, wire: p.wire };
  } finally {
    p.close();
  }
}

test('BBR over the wire without a bottleneck: 4 MiB intact, every pacing wait ends in progress', { timeout: 120_000 }, () => {
  // No bottleneck: BBR stays in STARTUP, pacing at ever higher rates; every pacing wait
  // must end in a later segment (a deadline equal to now would spin the clock forever).
  const size = 4 << 20;
  const r = transfer({ congestion: 'bbr' }, size, { lossRate: 0, delayMs: 5, seed: 7 }, 2_000);
  assert.equal(r.tcb.cc.name, 'bbr');
  assert.ok(r.ms < 1_000, `${r.ms} ms`);
  assert.equal(r.tcb.bbr!.entries[BbrMode.PROBE_RTT], 0, 'no PROBE_RTT in the first 10 s');
});

test('BBR through a 10 MB/s bottleneck: intact, near the link rate, its model through DRAIN into PROBE_BW', { timeout: 120_000 }, () => {
  const size = 4 << 20;
  const rate = 10_000; // bytes per ms on the wire (frames: 1448 of every 1514 bytes are data)
  const r = transfer({ congestion: 'bbr' }, size, { lossRate: 0, delayMs: 5, seed: 3, rateBytesPerMs: rate, queueBytes: 100_000 }, 5_000);
  const bbr = r.tcb.bbr!;
  const payloadRate = (rate * 1448) / 1514;
  const ideal = size / payloadRate;
  console.log(`# 4 MiB through 10 MB/s, 10 ms RTT: ${r.ms} ms (link-rate ideal ${ideal.toFixed(0)} ms), BtlBw ${bbr.btlBw.toFixed(0)} B/ms, overflowed ${r.wire.stats.overflowed}`);
  assert.ok(r.ms < 2 * ideal, `${r.ms} ms for ${ideal.toFixed(0)} ms at the link rate`);
  assert.ok(bbr.entries[BbrMode.DRAIN] >= 1 && bbr.entries[BbrMode.PROBE_BW] >= 1, `entries ${bbr.entries.join(',')}`);
  assert.ok(bbr.btlBw > 0.8 * payloadRate && bbr.btlBw < 1.15 * payloadRate, `BtlBw ${bbr.btlBw} vs ${payloadRate}`);
  assert.ok(bbr.minRtt >= 10 && bbr.minRtt < 15, `RTprop ${bbr.minRtt}`);
});

test('BBR through 2% random loss each way finishes much sooner than CUBIC on the same wire', { timeout: 300_000 }, () => {
  // A 10 MB/s bottleneck, 10 ms RTT, 2% random loss each way (the same seeds for both): CUBIC
  // halves its window at every loss and crawls (about MSS/RTT * 1.2/sqrt(p)); BBR's model
  // does not take random loss for congestion. Virtual time: the ratio does not depend on the
  // machine's load.
  const size = 2 << 20;
  let cubicMs = 0;
  let bbrMs = 0;
  for (const seed of [1, 2, 3]) {
    const wire = { lossRate: 0.02, delayMs: 5, seed, rateBytesPerMs: 10_000, queueBytes: 100_000 };
    const cubic = transfer({ congestion: 'cubic' }, size, wire);
    assert.ok(cubic.wire.stats.dropped > 0, 'the wire lost frames');
    const bbr = transfer({ congestion: 'bbr' }, size, wire);
    assert.equal(bbr.tcb.cc.name, 'bbr');
    assert.ok(bbr.wire.stats.dropped > 0, 'the wire lost frames');
    console.log(`# seed ${seed}: 2 MiB through 2% loss each way: cubic ${cubic.ms} ms, bbr ${bbr.ms} ms`);
    cubicMs += cubic.ms;
    bbrMs += bbr.ms;
  }
  const ratio = cubicMs / bbrMs;
  console.log(`# cubic/bbr ${ratio.toFixed(2)}`);
  assert.ok(ratio >= 2.5, `BBR ${bbrMs} ms vs CUBIC ${cubicMs} ms`);
});

test('pstack server --congestion: bbr, cubic and newreno reach the TCP settings; another name is one clear usage error', async () => {
  const { parseServerArgs } = await import('../../src/cli/server.js');
  const { UsageError } = await import('../../src/cli/errors.js');
  for (const algo of ['bbr', 'cubic', 'newreno'] as const) {
    const c = parseServerArgs(['--congestion', algo]);
    assert.ok(c !== 'help');
    assert.equal(c.limits.tcp.congestion, algo);
  }
  const plain = parseServerArgs([]);
  assert.ok(plain !== 'help');
  assert.equal(plain.limits.tcp.congestion, undefined, 'the default (CUBIC) stays the stack\'s');
  assert.throws(() => parseServerArgs(['--congestion', 'bbr2']), (e: unknown) => e instanceof UsageError && /--congestion "bbr2".*bbr/.test(e.message) && !e.message.includes('\n'));
});
