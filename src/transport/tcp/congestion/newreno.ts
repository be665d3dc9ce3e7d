/**
 * NewReno: RFC 5681 congestion control with RFC 6582's fast-recovery modification (the
 * recovery mechanics live in `CongestionBase`) and RFC 3465 appropriate byte counting.
 */

import { CongestionBase } from './base.js';
import type { CongestionOptions } from './types.js';

export class NewReno extends CongestionBase {
  readonly name = 'newreno';
  /** RFC 3465 "bytes_acked" accumulator for congestion avoidance. */
  private bytesAcked = 0;

  constructor(mss: number, options: CongestionOptions = {}) {
    super(mss, options);
  }

  protected congestionAvoidance(ackedBytes: number): void {
    // RFC 3465 section 2.1 (the byte-counting form RFC 5681 section 3.1 recommends):
    // accumulate acknowledged bytes; each time a full cwnd's worth has been acknowledged
    // (about one RTT) grow cwnd by one SMSS. Immune to ACK division and delayed ACKs.
    this.bytesAcked += ackedBytes;
    if (this.bytesAcked >= this.w) {
      this.bytesAcked -= this.w;
      this.w += this.smss;
    }
  }

  protected reduce(_now: number, flightSize: number): number {
    // RFC 5681 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS).
    this.bytesAcked = 0;
    const half = Math.floor(flightSize / 2);
    return half > 2 * this.smss ? half : 2 * this.smss;
  }
}
