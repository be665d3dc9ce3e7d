/**
 * The congestion-control interface used by the TCP state machine.
 *
 * Division of labour: the state machine detects events (new ACKs, duplicate ACKs, the
 * recovery point being reached, RTO expiry, idleness, ECN-Echo) and owns duplicate-ACK
 * counting, RecoveryPoint, the SACK scoreboard and pipe. A `CongestionControl` only owns the
 * two numbers those events change: cwnd and ssthresh (bytes). Algorithms (NewReno, CUBIC)
 * differ in how cwnd grows in congestion avoidance and how much it is cut on congestion;
 * slow start, the fast-recovery mechanics of RFC 5681/6582 and the RTO response are shared
 * (see `CongestionBase`).
 *
 * Call sequence per RFC 5681 section 3.2 / RFC 6582 section 3.2 / RFC 6675 section 5:
 *  - every ACK that cumulatively acknowledges new data outside recovery: `onAckRtt` (its
 *    RTT sample, for HyStart++), then `onAck`;
 *  - on the DupThresh-th duplicate ACK (or SACK loss detection): `enterRecovery`,
 *    `inflate` true for NewReno without SACK (cwnd = ssthresh + 3*SMSS), false with SACK
 *    (RFC 6675: sending is then governed by pipe < cwnd);
 *  - further duplicate ACKs in recovery: `onDupAck` (inflates by SMSS in inflate mode);
 *  - partial ACKs (below RecoveryPoint): `onPartialAck`;
 *  - the ACK covering RecoveryPoint: `exitRecovery`;
 *  - RTO expiry: `onRetransmitTimeout`;
 *  - sending after an idle period longer than the RTO: `onIdleRestart`;
 *  - ECN-Echo (once per window of data, RFC 3168 section 6.1.2): `onEcnEcho`.
 */
export interface CongestionControl {
  readonly name: string;
  /** Congestion window in bytes (whole bytes). */
  readonly cwnd: number;
  /** Slow-start threshold in bytes (Infinity until the first congestion event). */
  readonly ssthresh: number;
  /** Sender MSS (SMSS) in bytes. */
  readonly mss: number;
  readonly inRecovery: boolean;
  /** cwnd < ssthresh (RFC 5681 section 3.1). */
  readonly inSlowStart: boolean;
  /** In HyStart++'s Conservative Slow Start (RFC 9406): slow start at a quarter of the pace. */
  readonly inConservativeSlowStart: boolean;

  /** The effective SMSS changed (PMTU discovery, option negotiation). */
  setMss(mss: number): void;
  /**
   * `ackedBytes` of new data were cumulatively acknowledged outside recovery. `rttMs` is
   * the current smoothed RTT (used by CUBIC), `now` the clock in ms. `cwndLimited` false
   * means the sender was not using its window (application-limited): cwnd then does not
   * grow (RFC 7661 spirit; RFC 9438 section 5.8).
   */
  onAck(ackedBytes: number, rttMs: number, now: number, cwndLimited?: boolean): void;
  /**
   * Before `onAck`, for HyStart++ (RFC 9406): `ack` the cumulative ACK, `sndNxt` SND.NXT,
   * `rttMs` the RTT sample this ACK gave (negative: none).
   */
  onAckRtt(ack: number, sndNxt: number, rttMs: number): void;
  /** Fast retransmit: congestion detected by duplicate ACKs / SACK (once per window). */
  enterRecovery(now: number, flightSize: number, inflate?: boolean): void;
  /** Another duplicate ACK while in recovery (RFC 5681 step 4 / RFC 6582 step 3). */
  onDupAck(): void;
  /** A partial ACK in recovery acknowledged `ackedBytes` (RFC 6582 section 3.2 step 5). */
  onPartialAck(ackedBytes: number): void;
  /** A full ACK ended recovery; `flightSize` is what remains outstanding (RFC 6582 step 6). */
  exitRecovery(flightSize: number): void;
  /**
   * The retransmission timer expired (RFC 5681 section 3.1, eq. 4 and LW = 1 SMSS).
   * `firstTimeout` false when the timed-out segment had already been retransmitted by the
   * timer: ssthresh is then held constant (RFC 5681 implementation note).
   */
  onRetransmitTimeout(now: number, flightSize: number, firstTimeout?: boolean): void;
  /** RFC 5681 section 4.1: restart after idle > RTO, cwnd = min(cwnd, IW). */
  onIdleRestart(now: number): void;
  /** ECN-Echo congestion signal: reduce like a loss but without retransmitting. */
  onEcnEcho(now: number, flightSize: number): void;
}

/** RFC 6928 section 2: IW = min(10*MSS, max(2*MSS, 14600)) bytes. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** RFC 3465 section 2.2: slow-start increase limit L = 2 (SMSS per ACK). */
export const ABC_LIMIT = 2;

export interface CongestionOptions {
  /**
   * Initial cwnd in bytes; default RFC 6928's IW. Pass `mss` after the SYN or SYN-ACK was
   * retransmitted (RFC 5681 section 3.1 "the initial window ... MUST be set to one segment"
   * in that case; Linux does so after more than one SYN retransmission).
   */
  initialCwnd?: number;
  /** Initial ssthresh in bytes; default Infinity ("arbitrarily high", RFC 5681 section 3.1). */
  initialSsthresh?: number;
  /** HyStart++ (RFC 9406) in the initial slow start; default true (it acts only on `onAckRtt`). */
  hystart?: boolean;
}
