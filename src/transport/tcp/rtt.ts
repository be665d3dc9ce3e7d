/**
 * Retransmission timeout estimation (RFC 6298, "Computing TCP's Retransmission Timer").
 *
 * The estimator keeps SRTT and RTTVAR (section 2), backs the timer off exponentially on
 * expiry (section 5.5) and offers two ways of taking samples that respect Karn's algorithm
 * (section 3: "RTT samples MUST NOT be made using segments that were retransmitted"):
 *
 *  - the classic one-segment-per-RTT timing (`startTiming` / `onAck` / `onRetransmit`), and
 *  - the timestamp option's echo (RFC 7323 section 4, `sampleFromTimestampEcho`), which is
 *    unambiguous even across retransmissions because the echoed TSval says which
 *    transmission the ACK belongs to.
 *
 * All times are milliseconds (fractional allowed). Nothing here allocates.
 */

import { seqGeq } from './seq.js';

/** RFC 6298 (2.3): alpha = 1/8. */
const RTT_ALPHA = 1 / 8;
/** RFC 6298 (2.3): beta = 1/4. */
const RTT_BETA = 1 / 4;
/** RFC 6298 (2.2)/(2.3): K = 4. */
const RTT_K = 4;
/** RFC 6298 (2.1): the initial RTO is 1 second. */
const INITIAL_RTO_MS = 1000;
/**
 * Lower bound for the RTO. RFC 6298 (2.4) says the RTO SHOULD be rounded up to 1 s, but
 * notes this is conservative; Linux uses TCP_RTO_MIN = 200 ms and so does pstack by default,
 * because a 1 s floor makes every loss that is not repaired by fast retransmit (e.g. a lost
 * tail segment) cost a full second on a LAN or loopback. Configurable per estimator.
 */
const DEFAULT_MIN_RTO_MS = 200;
/** Upper bound for the RTO: RFC 6298 (2.5) allows any maximum >= 60 s; Linux uses 120 s. */
export const MAX_RTO_MS = 120_000;
/** RFC 6298 (5.7): RTO used once data flows if the SYN (or SYN-ACK) timed out. */
const SYN_TIMEOUT_DATA_RTO_MS = 3000;

interface RttOptions {
  /** Clock granularity G in ms (RFC 6298 section 2, "G"); default 1 ms. */
  granularityMs?: number;
  /** Lower clamp on the RTO; default 200 ms (see DEFAULT_MIN_RTO_MS). */
  minRtoMs?: number;
  /** Upper clamp on the RTO, also the cap of the exponential backoff; default 120 s. */
  maxRtoMs?: number;
  /** RTO before the first sample; default 1 s (RFC 6298 (2.1)). */
  initialRtoMs?: number;
}

export class RttEstimator {
  /** Smoothed RTT (ms); 0 until the first sample. */
  srtt = 0;
  /** RTT variation (ms); 0 until the first sample. */
  rttvar = 0;
  /** Whether SRTT/RTTVAR hold a measurement (RFC 6298 (2.2) vs (2.3)). */
  hasSample = false;
  /** How many times the timer has been backed off since the last reset. */
  backoffCount = 0;
  /** Number of samples taken (for statistics). */
  samples = 0;
  /** Most recent raw sample (ms), or -1. */
  latestRtt = -1;
  /** Smallest raw sample seen (ms), or Infinity. Useful to CC algorithms and diagnostics. */
  minRtt = Infinity;

  readonly granularityMs: number;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  private readonly initialRtoMs: number;

  /** RTO computed from SRTT/RTTVAR (or the initial value), clamped, before backoff. */
  private baseRto: number;
  /** The RTO actually in force: baseRto doubled backoffCount times, capped at maxRtoMs. */
  private current: number;

  // Karn-safe timing of one segment per RTT (RFC 6298 section 3).
  private timing = false;
  private timedSeq = 0;
  private timedAt = 0;

  constructor(options: RttOptions = {}) {
    this.granularityMs = options.granularityMs ?? 1;
    this.minRtoMs = options.minRtoMs ?? DEFAULT_MIN_RTO_MS;
    this.maxRtoMs = options.maxRtoMs ?? MAX_RTO_MS;
    this.initialRtoMs = options.initialRtoMs ?? INITIAL_RTO_MS;
    if (!(this.granularityMs > 0)) throw new RangeError('granularityMs must be > 0');
    if (!(this.minRtoMs >= 0 && this.maxRtoMs >= this.minRtoMs)) throw new RangeError('bad RTO bounds');
    this.baseRto = this.clamp(this.initialRtoMs);
    this.current = this.baseRto;
  }

  /** The retransmission timeout to arm now (ms), including any backoff. */
  get rto(): number {
    return this.current;
  }

  /** Whether a Karn-style timed segment is outstanding. */
  get isTiming(): boolean {
    return this.timing;
  }

  /**
   * Feed one RTT measurement R (ms) taken from a segment that was NOT retransmitted (Karn).
   *
   * First sample, RFC 6298 (2.2): SRTT = R, RTTVAR = R/2.
   * Later samples, (2.3): RTTVAR = (1-beta)*RTTVAR + beta*|SRTT-R|, then
   *                       SRTT = (1-alpha)*SRTT + alpha*R   (RTTVAR first: it uses the old SRTT).
   * Both: RTO = SRTT + max(G, K*RTTVAR), clamped to [minRto, maxRto] ((2.4), (2.5)).
   *
   * `expectedSamples` implements RFC 7323 Appendix G: with timestamps a sender may take
   * many samples per RTT, and each should then weigh alpha/ExpectedSamples and
   * beta/ExpectedSamples, with ExpectedSamples = ceil(FlightSize / (SMSS * 2)). Default 1.
   *
   * A new sample also clears the backoff: RFC 6298 section 5 keeps the backed-off RTO only
   * "until an acknowledgment is received for data that was not retransmitted", i.e. until a
   * valid sample recomputes it.
   */
  sample(rttMs: number, expectedSamples = 1): void {
    if (!(rttMs >= 0) || rttMs === Infinity) return;
    this.samples++;
    this.latestRtt = rttMs;
    if (rttMs < this.minRtt) this.minRtt = rttMs;
    if (!this.hasSample) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      this.hasSample = true;
    } else {
      const n = expectedSamples > 1 ? expectedSamples : 1;
      const beta = RTT_BETA / n;
      const alpha = RTT_ALPHA / n;
      const err = this.srtt - rttMs;
      this.rttvar = (1 - beta) * this.rttvar + beta * (err < 0 ? -err : err);
      this.srtt = (1 - alpha) * this.srtt + alpha * rttMs;
    }
    const v = RTT_K * this.rttvar;
    this.baseRto = this.clamp(this.srtt + (v > this.granularityMs ? v : this.granularityMs));
    this.backoffCount = 0;
    this.current = this.baseRto;
  }

  /**
   * The retransmission timer expired: RFC 6298 (5.5) "RTO <- RTO * 2", bounded by maxRto.
   * Returns the new RTO. Also abandons any Karn timing, since the timed segment is about to
   * be (or may have been) retransmitted.
   */
  backoff(): number {
    this.timing = false;
    this.backoffCount++;
    const next = this.current * 2;
    this.current = next < this.maxRtoMs ? next : this.maxRtoMs;
    return this.current;
  }

  /**
   * Drop the backoff and return to the computed RTO. RFC 6298 section 5 leaves the backed-off
   * value in place until a new sample; Linux additionally resets it whenever an ACK makes
   * forward progress (the path is evidently alive). Callers choose; `sample` always resets.
   */
  resetBackoff(): void {
    this.backoffCount = 0;
    this.current = this.baseRto;
  }

  /**
   * RFC 6298 (5.7) note: after several backoffs SRTT/RTTVAR are probably bogus and MAY be
   * cleared; the next sample then re-initialises them with (2.2). The current (backed-off)
   * RTO stays in force until that sample.
   */
  clearEstimates(): void {
    this.hasSample = false;
    this.srtt = 0;
    this.rttvar = 0;
  }

  /**
   * RFC 6298 (5.7): "If the timer expires awaiting the ACK of a SYN segment and the TCP
   * implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to
   * 3 seconds when data transmission begins (i.e., after the three-way handshake completes)."
   * Call it once when the handshake completes after a SYN/SYN-ACK retransmission. If an RTT
   * sample was already taken (e.g. from a timestamp echo) that measurement wins and nothing
   * changes, as in Linux.
   */
  applySynTimeoutRule(): void {
    if (this.hasSample) return;
    if (this.baseRto < SYN_TIMEOUT_DATA_RTO_MS) this.baseRto = this.clamp(SYN_TIMEOUT_DATA_RTO_MS);
    this.backoffCount = 0;
    this.current = this.baseRto;
  }

  // ---- Karn's algorithm helper (RFC 6298 section 3, one timed segment per RTT) ----

  /**
   * Call when transmitting NEW data (never for a retransmission) whose last byte + 1 is
   * `endSeq`. Starts timing it if nothing is being timed; returns whether it did.
   */
  startTiming(endSeq: number, now: number): boolean {
    if (this.timing) return false;
    this.timing = true;
    this.timedSeq = endSeq >>> 0;
    this.timedAt = now;
    return true;
  }

  /**
   * Karn: any retransmission makes the outstanding measurement ambiguous — drop it.
   * (RFC 6298 section 3 and (5.5)/(5.6).)
   */
  onRetransmit(): void {
    this.timing = false;
  }

  /**
   * Call for every acceptable ACK. If it covers the timed segment (`ack >= endSeq`), take
   * the sample `now - sentAt` and return true.
   */
  onAck(ack: number, now: number): boolean {
    if (!this.timing || !seqGeq(ack, this.timedSeq)) return false;
    this.timing = false;
    this.sample(now - this.timedAt);
    return true;
  }

  /**
   * RTT measurement from the timestamp option (RFC 7323 section 4.1, "RTTM"):
   * RTT = our current TSval clock - the echoed TSecr, times the TSval tick length.
   *
   * The caller MUST only use TSecr from a segment that acknowledges new data (RFC 7323
   * section 4.1: SND.UNA advanced), and should skip TSecr == 0 if its TSval clock may not
   * emit 0 (as Linux does). Because the echo names the transmission that elicited it, this
   * is valid even when the acked data was retransmitted, so Karn's rule does not apply.
   * Echoes from the future (negative RTT, e.g. a forged or stale value) are rejected.
   * Returns whether a sample was taken.
   */
  sampleFromTimestampEcho(tsEcr: number, nowTsVal: number, tickMs = 1, expectedSamples = 1): boolean {
    const ticks = (nowTsVal - tsEcr) | 0;
    if (ticks < 0) return false;
    this.sample(ticks * tickMs, expectedSamples);
    return true;
  }

  private clamp(rto: number): number {
    return rto < this.minRtoMs ? this.minRtoMs : rto > this.maxRtoMs ? this.maxRtoMs : rto;
  }
}

