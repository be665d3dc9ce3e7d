/**
 * Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation), the bandwidth
 * samples BBR builds its model from.
 *
 * The connection counts `delivered`, the bytes the receiver has got (cumulatively ACKed or
 * SACKed), and `deliveredTime`, when that count last moved. Each transmission of new data
 * keeps a snapshot of both, plus `firstSentTime` (when the flight that transmission belongs to
 * began) and whether the sender was application-limited. When an ACK covers a transmission,
 * the sample is the data delivered since its snapshot over the longer of the send interval
 * (its sent time less its firstSentTime) and the ACK interval (now less its deliveredTime):
 * the longer bounds the rate from below against ACK compression and stretched sends.
 *
 * Snapshots are per transmission (a TSO burst is one, as Linux keeps them per skb) in a ring
 * of typed arrays in sequence order, growing by doubling; nothing is allocated per segment.
 * A transmission is sampled when the cumulative ACK passes its end (SACKed transmissions are
 * counted in `delivered` but sampled only once cumulatively acknowledged; retransmissions
 * take no snapshot).
 */

import { seqLeq } from '../seq.js';

const INITIAL_SNAPSHOTS = 64;

/** The rate sample of one ACK (draft section 3.3); `valid` false when it gave none. */
export class RateSample {
  valid = false;
  /** Bytes delivered over the interval. */
  delivered = 0;
  /** The interval (ms). */
  interval = 0;
  /** delivered / interval (bytes per ms). */
  deliveryRate = 0;
  /** The ACK covered a transmission with a snapshot (P): `priorDelivered` and `delivered` are its. */
  hasPrior = false;
  /** The connection's `delivered` when the sampled transmission left (P.delivered). */
  priorDelivered = 0;
  /** The sampled transmission was sent while application-limited. */
  isAppLimited = false;
  /** Bytes newly delivered by this ACK. */
  newlyDelivered = 0;
  /**
   * The RTT of the sampled transmission (ms, from its send time; at least 1 us), or -1. Finer
   * than the timestamp option's milliseconds: a sub-millisecond path must not measure as 0.
   */
  rtt = -1;
}

/** The shortest RTT a sample reports (ms): 1 us, as Linux's rate samples. */
const MIN_SAMPLE_RTT = 0.001;

export class DeliveryRate {
  /** C.delivered: bytes delivered over the connection's life. */
  delivered = 0;
  /** C.delivered_time (ms). */
  deliveredTime = 0;
  /** C.first_sent_time (ms). */
  firstSentTime = 0;
  /** C.app_limited: `delivered` beyond which samples are no longer app-limited; 0 = not. */
  appLimited = 0;
  /** The last sample (reused). */
  readonly sample = new RateSample();

  private ends = new Uint32Array(INITIAL_SNAPSHOTS);
  private sDelivered = new Float64Array(INITIAL_SNAPSHOTS);
  private sDeliveredTime = new Float64Array(INITIAL_SNAPSHOTS);
  private sFirstSent = new Float64Array(INITIAL_SNAPSHOTS);
  private sSent = new Float64Array(INITIAL_SNAPSHOTS);
  private sAppLimited = new Uint8Array(INITIAL_SNAPSHOTS);
  private mask = INITIAL_SNAPSHOTS - 1;
  private head = 0;
  private count = 0;

  /** Snapshots held (tests). */
  get snapshots(): number {
    return this.count;
  }

  /**
   * New data up to `end` left at `now`; `inFlight` is the data outstanding before it. When
   * nothing was in flight the flight starts here (draft section 3.2, "if no packets in flight").
   */
  onSend(end: number, now: number, inFlight: number): void {
    if (inFlight <= 0) {
      this.firstSentTime = now;
      this.deliveredTime = now;
    }
    if (this.count === this.mask + 1) this.grow();
    const s = (this.head + this.count) & this.mask;
    this.count++;
    this.ends[s] = end >>> 0;
    this.sDelivered[s] = this.delivered;
    this.sDeliveredTime[s] = this.deliveredTime;
    this.sFirstSent[s] = this.firstSentTime;
    this.sSent[s] = now;
    this.sAppLimited[s] = this.appLimited !== 0 ? 1 : 0;
  }

  /**
   * An ACK delivered `newlyDelivered` bytes (cumulative and SACKed) and its cumulative ACK is
   * `ack`. Fills `sample` (valid when the ACK covered a snapshot and the interval is at least
   * `minRtt`, draft section 3.3: shorter intervals overestimate) and returns it.
   */
  onAck(ack: number, newlyDelivered: number, now: number, minRtt: number): RateSample {
    const rs = this.sample;
    rs.valid = false;
    rs.hasPrior = false;
    rs.delivered = 0;
    rs.rtt = -1;
    rs.newlyDelivered = newlyDelivered;
    if (newlyDelivered > 0) {
      this.delivered += newlyDelivered;
      this.deliveredTime = now;
    }
    if (this.appLimited !== 0 && this.delivered > this.appLimited) this.appLimited = 0;
    // The most recently sent transmission this ACK covers is the sample's (P in the draft).
    let p = -1;
    while (this.count > 0 && seqLeq(this.ends[this.head]!, ack)) {
      p = this.head;
      this.head = (this.head + 1) & this.mask;
      this.count--;
    }
    if (p < 0) return rs;
    rs.hasPrior = true;
    const rtt = now - this.sSent[p]!;
    rs.rtt = rtt > MIN_SAMPLE_RTT ? rtt : MIN_SAMPLE_RTT;
    rs.priorDelivered = this.sDelivered[p]!;
    rs.isAppLimited = this.sAppLimited[p] === 1;
    const sendElapsed = this.sSent[p]! - this.sFirstSent[p]!;
    const ackElapsed = this.deliveredTime - this.sDeliveredTime[p]!;
    this.firstSentTime = this.sSent[p]!;
    rs.delivered = this.delivered - rs.priorDelivered;
    rs.interval = sendElapsed > ackElapsed ? sendElapsed : ackElapsed;
    if (rs.delivered <= 0 || rs.interval <= 0 || (Number.isFinite(minRtt) && rs.interval < minRtt)) return rs;
    rs.deliveryRate = rs.delivered / rs.interval;
    rs.valid = true;
    return rs;
  }

  /**
   * The sender has nothing more to send and is not using its window (draft section 3.4):
   * samples until what is in flight now is delivered are application-limited.
   */
  markAppLimited(inFlight: number): void {
    const v = this.delivered + inFlight;
    this.appLimited = v > 0 ? v : 1;
  }

  /** Forget snapshots (an RTO pulled everything back; fresh ones follow). */
  reset(): void {
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const size = (this.mask + 1) * 2;
    const ends = new Uint32Array(size);
    const d = new Float64Array(size);
    const dt = new Float64Array(size);
    const fs = new Float64Array(size);
    const st = new Float64Array(size);
    const al = new Uint8Array(size);
    for (let i = 0; i < this.count; i++) {
      const s = (this.head + i) & this.mask;
      ends[i] = this.ends[s]!;
      d[i] = this.sDelivered[s]!;
      dt[i] = this.sDeliveredTime[s]!;
      fs[i] = this.sFirstSent[s]!;
      st[i] = this.sSent[s]!;
      al[i] = this.sAppLimited[s]!;
    }
    this.ends = ends;
    this.sDelivered = d;
    this.sDeliveredTime = dt;
    this.sFirstSent = fs;
    this.sSent = st;
    this.sAppLimited = al;
    this.mask = size - 1;
    this.head = 0;
  }
}
