/**
 * Proportional Rate Reduction, RFC 6937 (with the slow-start reduction bound, PRR-SSRB): how
 * much may be sent on each ACK during fast recovery, for any congestion controller (it only
 * reads the ssthresh the controller chose on entering recovery).
 *
 * While more than ssthresh is in flight, sending follows delivery in the proportion
 * ssthresh / RecoverFS, so the flight shrinks smoothly to ssthresh over one round trip
 * instead of stopping for half of it (RFC 6675's pipe < cwnd) or bursting at its end. Once the
 * flight is at or below ssthresh (more loss than the reduction), it grows back towards
 * ssthresh no faster than slow start: at most the data delivered plus one segment per ACK.
 */

export class Prr {
  /** RecoverFS: bytes outstanding when recovery began. */
  recoverFs = 0;
  /** prr_delivered: bytes the receiver got (cumulatively or by SACK) since recovery began. */
  delivered = 0;
  /** prr_out: bytes sent (new or retransmitted) since recovery began. */
  out = 0;
  /** Bytes the current ACK allows (sndcnt); spent by sending. */
  allowance = 0;

  /** Recovery begins with `flight` bytes outstanding. */
  start(flight: number): void {
    this.recoverFs = flight > 0 ? flight : 1;
    this.delivered = 0;
    this.out = 0;
    this.allowance = 0;
  }

  /**
   * An ACK in recovery delivered `deliveredData` bytes; `pipe` is the data in flight now,
   * `ssthresh` the target. Sets `allowance` (RFC 6937 section 3.1, sndcnt).
   */
  onAck(deliveredData: number, pipe: number, ssthresh: number, smss: number): void {
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > ssthresh) {
      // Proportional part: prr_out tracks ceil(prr_delivered * ssthresh / RecoverFS).
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else {
      // PRR-SSRB: back towards ssthresh, at most delivered data plus one segment per ACK.
      const owed = this.delivered - this.out;
      const limit = (owed > deliveredData ? owed : deliveredData) + smss;
      const room = ssthresh - pipe;
      sndcnt = room < limit ? room : limit;
    }
    // RFC 6937 (and its update): the fast retransmission itself is always allowed.
    if (this.out === 0 && sndcnt < smss) sndcnt = smss;
    this.allowance = sndcnt > 0 ? sndcnt : 0;
  }

  /** `bytes` were sent in recovery. */
  onSend(bytes: number): void {
    this.out += bytes;
    this.allowance -= bytes;
  }
}
