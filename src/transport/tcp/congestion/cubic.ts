/**
 * CUBIC (RFC 9438), with windows in bytes and times in milliseconds internally; the
 * formulas are evaluated in RFC units (segments, seconds).
 *
 *   W_cubic(t) = C*(t - K)^3 + W_max                          (Figure 1)
 *   K = cubic_root((W_max - cwnd_epoch) / C)                  (Figure 2)
 *   target = clamp(W_cubic(t + RTT), cwnd, 1.5*cwnd)           (section 4.2)
 *   W_est += alpha_cubic * segments_acked / cwnd,              (Figure 4)
 *   alpha_cubic = 3*(1 - beta)/(1 + beta), becoming 1 once W_est >= cwnd_prior
 *   on congestion: cwnd_prior = cwnd; W_max = cwnd, or cwnd*(1+beta)/2 with fast
 *   convergence when cwnd < W_max (4.7); ssthresh = max(flight_size*beta, 2) (Figure 5).
 *
 * A congestion-avoidance stage ("epoch") starts at the first ACK in congestion avoidance
 * after slow start or recovery. After a timeout, or when slow start ends without any loss,
 * that stage uses K = 0 and W_max = cwnd_epoch (sections 4.8 and 4.10). Slow start is
 * RFC 5681's with HyStart++ (RFC 9406, in CongestionBase), as RFC 9438 section 4.10 allows.
 */

import { CongestionBase } from './base.js';
import type { CongestionOptions } from './types.js';

/** RFC 9438 section 5: C = 0.4 segments/second^3. */
export const CUBIC_C = 0.4;
/** RFC 9438 section 4.6: beta_cubic = 0.7. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 section 4.3: alpha_cubic = 3*(1-beta)/(1+beta) (about 0.529). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export interface CubicOptions extends CongestionOptions {
  /**
   * RFC 9438 section 4.7 fast convergence; default true. The RFC says it SHOULD be disabled
   * for a single flow on an otherwise idle network, which a sender cannot know.
   */
  fastConvergence?: boolean;
}

export class Cubic extends CongestionBase {
  readonly name = 'cubic';
  readonly fastConvergence: boolean;

  /** W_max in bytes (0 = undefined: no congestion event yet). */
  private wMaxB = 0;
  /** cwnd_prior in bytes. */
  private cwndPriorB = 0;
  /** K in seconds for the current epoch. */
  private k = 0;
  private epochStarted = false;
  /** t_epoch in ms. */
  private tEpoch = 0;
  private cwndEpochB = 0;
  /** W_est in bytes. */
  private wEstB = 0;
  private alpha = CUBIC_ALPHA;
  /** Next epoch must use K = 0, W_max = cwnd_epoch (after timeout or loss-free slow start). */
  private resetOrigin = false;
  /** Start (ms) of an application-limited period inside the epoch, or -1. */
  private pausedAt = -1;

  constructor(mss: number, options: CubicOptions = {}) {
    super(mss, options);
    this.fastConvergence = options.fastConvergence ?? true;
  }

  /** W_max in bytes (0 before the first congestion event). */
  get wMax(): number {
    return this.wMaxB;
  }

  /** K (seconds) of the current epoch. */
  get K(): number {
    return this.k;
  }

  /** cwnd_prior in bytes. */
  get cwndPrior(): number {
    return this.cwndPriorB;
  }

  /** W_est in bytes (valid once an epoch has started). */
  get wEst(): number {
    return this.wEstB;
  }

  /** t_epoch in ms, or -1 if no congestion-avoidance stage is running. */
  get epochStart(): number {
    return this.epochStarted ? this.tEpoch : -1;
  }

  /** W_cubic(t) in bytes for t seconds into the current epoch (Figure 1). */
  wCubic(tSeconds: number): number {
    const d = tSeconds - this.k;
    return (CUBIC_C * d * d * d) * this.smss + this.wMaxB;
  }

  protected congestionAvoidance(ackedBytes: number, rttMs: number, now: number): void {
    const mss = this.smss;
    if (!this.epochStarted) this.startEpoch(now);
    else if (this.pausedAt >= 0) {
      // RFC 9438 section 4.2: t must not include application-limited periods.
      this.tEpoch += now - this.pausedAt;
    }
    this.pausedAt = -1;

    const t = (now - this.tEpoch) / 1000;
    const cwnd = this.w;

    // Reno-friendly estimate (section 4.3, Figure 4 in bytes: segments_acked/cwnd_segments
    // = ackedBytes/cwnd_bytes, times MSS to stay in bytes).
    this.wEstB += (this.alpha * ackedBytes * mss) / cwnd;
    if (this.alpha !== 1 && this.wEstB >= this.cwndPriorB) this.alpha = 1;

    if (this.wCubic(t) < this.wEstB) {
      // Reno-friendly region: cwnd = W_est (never shrink cwnd in congestion avoidance).
      if (this.wEstB > cwnd) this.w = this.wEstB;
      return;
    }
    // Concave / convex regions (4.4, 4.5).
    let target = this.wCubic(t + rttMs / 1000);
    if (target < cwnd) target = cwnd;
    else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
    // RFC: cwnd += (target - cwnd)/cwnd per ACK (segments). Counted per acknowledged segment
    // (ackedBytes/MSS, as Linux does) so the growth per RTT is target - cwnd whatever the
    // ACK frequency; in bytes that is (target - cwnd) * ackedBytes / cwnd.
    this.w = cwnd + ((target - cwnd) * ackedBytes) / cwnd;
  }

  private startEpoch(now: number): void {
    this.epochStarted = true;
    this.tEpoch = now;
    this.cwndEpochB = this.w;
    this.wEstB = this.w;
    this.alpha = CUBIC_ALPHA;
    if (this.resetOrigin || this.wMaxB <= 0) {
      // Sections 4.8 / 4.10: K = 0 and W_max = cwnd at the start of this stage.
      if (this.wMaxB <= 0) this.cwndPriorB = this.w;
      this.wMaxB = this.w;
      this.k = 0;
      this.resetOrigin = false;
    } else {
      // Figure 2 (Math.cbrt keeps the sign if cwnd_epoch > W_max; W_cubic(0) = cwnd_epoch).
      this.k = Math.cbrt((this.wMaxB - this.cwndEpochB) / this.smss / CUBIC_C);
    }
    if (this.wEstB >= this.cwndPriorB) this.alpha = 1;
  }

  protected reduce(_now: number, flightSize: number, timeout: boolean): number {
    const cwnd = this.w;
    this.cwndPriorB = cwnd;
    if (timeout) {
      // Section 4.8: the next stage restarts the curve from its own cwnd.
      this.resetOrigin = true;
    } else if (this.fastConvergence && cwnd < this.wMaxB) {
      this.wMaxB = (cwnd * (1 + CUBIC_BETA)) / 2; // 4.7: release bandwidth faster
    } else {
      this.wMaxB = cwnd;
    }
    this.epochStarted = false;
    this.pausedAt = -1;
    // Figure 5: ssthresh = max(flight_size * beta_cubic, 2 segments).
    const s = Math.floor(flightSize * CUBIC_BETA);
    return s > 2 * this.smss ? s : 2 * this.smss;
  }

  protected override onAppLimited(now: number): void {
    if (this.epochStarted && this.pausedAt < 0) this.pausedAt = now;
  }

  protected override onRestart(_now: number): void {
    // After idle the window was cut back (RFC 5681 4.1); begin a fresh congestion-avoidance
    // stage from wherever cwnd is when slow start ends, rather than extrapolating the old
    // curve across the idle time (RFC 9438 section 5.8).
    this.epochStarted = false;
    this.pausedAt = -1;
  }
}
