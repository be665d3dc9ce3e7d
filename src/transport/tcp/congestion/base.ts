/**
 * What NewReno and CUBIC share: slow start with appropriate byte counting, the RFC 5681 /
 * RFC 6582 fast-recovery window arithmetic and the RTO response. Subclasses supply the
 * congestion-avoidance increase and the multiplicative decrease.
 */

import { ABC_LIMIT, initialWindow, type CongestionControl, type CongestionOptions } from './types.js';
import { HyStartPlusPlus } from './hystart.js';

export abstract class CongestionBase implements CongestionControl {
  abstract readonly name: string;
  /** cwnd in bytes, possibly fractional (CUBIC grows it by fractions of a byte). */
  protected w: number;
  protected thresh: number;
  protected smss: number;
  protected recovering = false;
  /** Recovery uses RFC 5681/6582 window inflation (no SACK). */
  protected inflating = false;
  /** HyStart++ (RFC 9406) for the initial slow start, or null when disabled. */
  readonly hystart: HyStartPlusPlus | null;

  constructor(mss: number, options: CongestionOptions = {}) {
    if (!(mss > 0)) throw new RangeError('mss must be > 0');
    this.smss = mss;
    this.w = options.initialCwnd ?? initialWindow(mss);
    this.thresh = options.initialSsthresh ?? Infinity;
    this.hystart = options.hystart === false ? null : new HyStartPlusPlus();
  }

  get cwnd(): number {
    return Math.floor(this.w);
  }

  get ssthresh(): number {
    return this.thresh;
  }

  get mss(): number {
    return this.smss;
  }

  get inRecovery(): boolean {
    return this.recovering;
  }

  get inSlowStart(): boolean {
    return this.w < this.thresh;
  }

  get inConservativeSlowStart(): boolean {
    return this.hystart !== null && this.hystart.inCss && this.thresh === Infinity;
  }

  onAckRtt(ack: number, sndNxt: number, rttMs: number): void {
    const hs = this.hystart;
    // RFC 9406 is for the initial slow start: once ssthresh is set, RFC 5681's rules apply.
    if (hs === null || this.thresh !== Infinity || this.recovering) return;
    if (hs.onAck(ack, sndNxt, rttMs)) this.thresh = this.w; // CSS_ROUNDS done: congestion avoidance
  }

  setMss(mss: number): void {
    if (!(mss > 0)) throw new RangeError('mss must be > 0');
    this.smss = mss;
  }

  onAck(ackedBytes: number, rttMs: number, now: number, cwndLimited = true): void {
    if (ackedBytes <= 0 || this.recovering) return;
    if (!cwndLimited) {
      this.onAppLimited(now);
      return;
    }
    if (this.w < this.thresh) {
      // Slow start, RFC 5681 (2) with RFC 3465 ABC: cwnd += min(N, L*SMSS), L = 2.
      const limit = ABC_LIMIT * this.smss;
      let inc = ackedBytes < limit ? ackedBytes : limit;
      // RFC 9406 4.2: in Conservative Slow Start the increase is divided by CSS_GROWTH_DIVISOR.
      if (this.thresh === Infinity && this.hystart !== null) inc /= this.hystart.growthDivisor;
      if (this.w + inc <= this.thresh) {
        this.w += inc;
        return;
      }
      // Crossing ssthresh: stop there and let the rest of the ACK count towards congestion
      // avoidance (as Linux does), so a large ACK is not lost to the switch.
      const used = this.thresh - this.w;
      this.w = this.thresh;
      ackedBytes -= used;
      if (ackedBytes <= 0) return;
    }
    this.congestionAvoidance(ackedBytes, rttMs, now);
  }

  enterRecovery(now: number, flightSize: number, inflate = false): void {
    this.thresh = this.reduce(now, flightSize, false);
    this.recovering = true;
    this.inflating = inflate;
    // RFC 5681 section 3.2 step 3 / RFC 6582 step 2: cwnd = ssthresh + 3*SMSS, the three
    // segments that left the network to generate the duplicate ACKs. With SACK (RFC 6675
    // section 5 (4.2)) cwnd = ssthresh and pipe does the accounting.
    this.w = inflate ? this.thresh + 3 * this.smss : this.thresh;
  }

  onDupAck(): void {
    // RFC 5681 step 4 / RFC 6582 step 3: each further duplicate ACK means one more segment
    // has left the network.
    if (this.recovering && this.inflating) this.w += this.smss;
  }

  onPartialAck(ackedBytes: number): void {
    if (!this.recovering || !this.inflating) return;
    // RFC 6582 section 3.2 step 5: "deflate the congestion window by the amount of new data
    // acknowledged by the cumulative acknowledgment field. If the partial ACK acknowledges
    // at least one SMSS of new data, then add back SMSS bytes".
    this.w -= ackedBytes;
    if (ackedBytes >= this.smss) this.w += this.smss;
    if (this.w < this.smss) this.w = this.smss;
  }

  exitRecovery(flightSize: number): void {
    if (!this.recovering) return;
    this.recovering = false;
    this.inflating = false;
    // RFC 6582 section 3.2 step 6, option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) +
    // SMSS), which avoids a burst when little is outstanding. Used after SACK recovery too.
    const fs = (flightSize > this.smss ? flightSize : this.smss) + this.smss;
    this.w = fs < this.thresh ? fs : this.thresh;
    this.onRecoveryExit();
  }

  onRetransmitTimeout(now: number, flightSize: number, firstTimeout = true): void {
    // RFC 5681 section 3.1: ssthresh per eq. (4) (or the algorithm's decrease), but held
    // constant when the segment was already retransmitted by the timer; cwnd = LW = 1 SMSS.
    if (firstTimeout) this.thresh = this.reduce(now, flightSize, true);
    this.w = this.smss;
    this.recovering = false;
    this.inflating = false;
  }

  onIdleRestart(now: number): void {
    // RFC 5681 section 4.1: RW = min(IW, cwnd).
    const iw = initialWindow(this.smss);
    if (this.w > iw) this.w = iw;
    this.onRestart(now);
  }

  onEcnEcho(now: number, flightSize: number): void {
    // RFC 3168 section 6.1.2: halve (or the algorithm's factor) without retransmitting;
    // RFC 9438 Figure 5: cwnd at least 1 SMSS for an ECN response.
    this.thresh = this.reduce(now, flightSize, false);
    this.w = this.thresh > this.smss ? this.thresh : this.smss;
  }

  /** Congestion-avoidance increase for `ackedBytes` newly acknowledged bytes. */
  protected abstract congestionAvoidance(ackedBytes: number, rttMs: number, now: number): void;
  /** The new ssthresh for a congestion event (bytes, >= 2*SMSS); may update algorithm state. */
  protected abstract reduce(now: number, flightSize: number, timeout: boolean): number;
  /** Hook: an application-limited ACK arrived (no growth). */
  protected onAppLimited(_now: number): void {}
  /** Hook: recovery ended. */
  protected onRecoveryExit(): void {}
  /** Hook: restart after idle. */
  protected onRestart(_now: number): void {}
}
