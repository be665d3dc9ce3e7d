/**
 * Proportional Rate Reduction (RFC 6937) — how much to send on each ACK during SACK-based
 * fast recovery so that, by the end of recovery, the amount in flight has come down
 * smoothly to ssthresh instead of stalling then bursting. Optional: without it the state
 * machine sends while pipe < cwnd (RFC 6675 section 5).
 *
 * Usage: `start(recoverFs)` when entering recovery (after `cc.enterRecovery`); on every ACK
 * in recovery `sndCnt(deliveredData, pipe, ssthresh)` gives the bytes that may be sent now;
 * report every (re)transmission with `onSend(bytes)`.
 */
export class Prr {
  /** Bytes delivered to the receiver since recovery started (prr_delivered). */
  delivered = 0;
  /** Bytes sent since recovery started (prr_out). */
  out = 0;
  /** FlightSize at the start of recovery (RecoverFS). */
  recoverFs = 1;
  /** Use PRR-CRB (conservative) instead of the default PRR-SSRB. */
  conservative = false;

  constructor(private mss: number) {}

  setMss(mss: number): void {
    this.mss = mss;
  }

  /** Recovery begins; `recoverFs` = snd.nxt - snd.una at that moment (RFC 6937 3.1). */
  start(recoverFs: number): void {
    this.delivered = 0;
    this.out = 0;
    this.recoverFs = recoverFs > 0 ? recoverFs : 1;
  }

  /**
   * RFC 6937 section 3.1, on every ACK during recovery. `deliveredData` = change in
   * SND.UNA + change in SACKed bytes (the scoreboard's `update` return value plus the
   * cumulative advance); `pipe` = RFC 6675 pipe after processing the ACK. Returns sndcnt,
   * the number of bytes that may be sent in response (>= 0).
   */
  sndCnt(deliveredData: number, pipe: number, ssthresh: number): number {
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > ssthresh) {
      // Proportional part: send ssthresh/RecoverFS of what was delivered.
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else {
      // Slow-start reduction bound (or conservative): catch up towards ssthresh.
      const base = this.delivered - this.out;
      const limit = this.conservative ? base : (base > deliveredData ? base : deliveredData) + this.mss;
      const room = ssthresh - pipe;
      sndcnt = room < limit ? room : limit;
    }
    return sndcnt > 0 ? sndcnt : 0;
  }

  /** Data (new or retransmitted) was sent during recovery. */
  onSend(bytes: number): void {
    this.out += bytes;
  }
}
