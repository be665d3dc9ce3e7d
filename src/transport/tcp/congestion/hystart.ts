/**
 * HyStart++ (RFC 9406): leave slow start before the first loss when the round trip time starts
 * to grow, the sign that the path's queue is filling.
 *
 * Rounds are windows of data: a round ends when the cumulative ACK reaches SND.NXT as it was
 * when the round began (windowEnd). Each round keeps the smallest RTT sample it saw; once a
 * round has N_RTT_SAMPLE samples and its minimum exceeds the previous round's by RttThresh
 * (1/8 of it, clamped to 4..16 ms), slow start gives way to Conservative Slow Start (CSS),
 * which grows cwnd a quarter as fast. If the RTT falls below the minimum that started CSS, the
 * increase was a spike: back to slow start. After CSS_ROUNDS rounds of CSS, congestion
 * avoidance begins (ssthresh = cwnd). A loss or an ECN echo ends it all as usual.
 *
 * This class only tracks rounds and RTTs; `CongestionBase` applies the growth divisor and
 * sets ssthresh. It runs in the initial slow start (ssthresh still infinite) only.
 */

import { seqLt } from '../seq.js';

/** RFC 9406 section 4.3 constants (RTTs in ms). */
export const HYSTART_MIN_RTT_THRESH = 4;
export const HYSTART_MAX_RTT_THRESH = 16;
export const HYSTART_MIN_RTT_DIVISOR = 8;
export const HYSTART_N_RTT_SAMPLE = 8;
export const HYSTART_CSS_GROWTH_DIVISOR = 4;
export const HYSTART_CSS_ROUNDS = 5;

export class HyStartPlusPlus {
  /** SND.NXT when the current round began; the round ends when the ACK reaches it. */
  private windowEnd = 0;
  private roundStarted = false;
  lastRoundMinRtt = Infinity;
  currentRoundMinRtt = Infinity;
  rttSampleCount = 0;
  /** The round minimum that started CSS (Infinity outside CSS). */
  cssBaselineMinRtt = Infinity;
  /** In Conservative Slow Start. */
  inCss = false;
  /** Rounds that ended while in CSS. */
  cssRounds = 0;
  /** Times slow start gave way to CSS, and CSS went back to slow start (for tests and stats). */
  cssEntries = 0;
  cssResumes = 0;

  /**
   * An ACK of new data in slow start or CSS: `ack` the cumulative ACK, `sndNxt` SND.NXT now,
   * `rttMs` the RTT sample it gave (negative: none). True when CSS has lasted CSS_ROUNDS
   * rounds: congestion avoidance should begin.
   */
  onAck(ack: number, sndNxt: number, rttMs: number): boolean {
    if (!this.roundStarted || !seqLt(ack, this.windowEnd)) {
      if (this.roundStarted && this.inCss && ++this.cssRounds >= HYSTART_CSS_ROUNDS) return true;
      // RFC 9406 4.2: at the start of each round.
      this.roundStarted = true;
      this.windowEnd = sndNxt;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
    }
    if (rttMs >= 0) {
      if (rttMs < this.currentRoundMinRtt) this.currentRoundMinRtt = rttMs;
      this.rttSampleCount++;
    }
    if (this.rttSampleCount < HYSTART_N_RTT_SAMPLE || this.currentRoundMinRtt === Infinity || this.lastRoundMinRtt === Infinity) return false;
    if (!this.inCss) {
      let thresh = this.lastRoundMinRtt / HYSTART_MIN_RTT_DIVISOR;
      if (thresh > HYSTART_MAX_RTT_THRESH) thresh = HYSTART_MAX_RTT_THRESH;
      if (thresh < HYSTART_MIN_RTT_THRESH) thresh = HYSTART_MIN_RTT_THRESH;
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.inCss = true;
        this.cssRounds = 0;
        this.cssEntries++;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // The RTT increase was spurious: resume slow start.
      this.cssBaselineMinRtt = Infinity;
      this.inCss = false;
      this.cssResumes++;
    }
    return false;
  }

  /** The slow-start increase is divided by this (1 in slow start, CSS_GROWTH_DIVISOR in CSS). */
  get growthDivisor(): number {
    return this.inCss ? HYSTART_CSS_GROWTH_DIVISOR : 1;
  }
}
