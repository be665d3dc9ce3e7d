/**
 * Eifel detection (RFC 3522) and response (RFC 4015) for spurious retransmission timeouts.
 *
 * A timeout is spurious when the segment it resent had arrived and only its ACKs were lost or
 * late. With TCP timestamps (RFC 7323) the first acceptable ACK after the timeout's
 * retransmission tells: a receiver echoes the TSval of the segment that moved its window, so
 * an echo older than the retransmission's TSval means the original did the moving. The
 * response then puts back the cwnd and ssthresh the timeout cut and goes on sending new data
 * instead of resending the whole flight (go-back-N).
 *
 * Only the first timeout of a segment is judged (RFC 3522 section 3.2): after a second one,
 * the echo cannot tell which of the retransmissions arrived. BBR keeps its own loss state.
 */

import type { Segment } from './segment.js';
import { seqGt } from './seq.js';
import type { Tcb } from './tcb.js';

/** A timeout is about to retransmit: remember what it cuts and the retransmission's TSval. */
export function eifelOnTimeout(tcb: Tcb, now: number): void {
  if (tcb.tsOk && tcb.retries === 1 && tcb.bbr === null) {
    tcb.eifelTs = tcb.tsNow(now);
    tcb.undoCwnd = tcb.cc.cwnd;
    tcb.undoSsthresh = tcb.cc.ssthresh;
  } else {
    tcb.eifelTs = -1;
  }
}

/**
 * The first acceptable ACK (one acknowledging new data) after a timeout: true when its
 * timestamp echo proves the timeout spurious, and then the timeout is undone.
 */
export function eifelOnAck(tcb: Tcb, seg: Segment): boolean {
  const retransmitTs = tcb.eifelTs;
  if (retransmitTs < 0) return false;
  tcb.eifelTs = -1;
  const o = seg.opts;
  if (!o.hasTimestamps || o.tsEcr === 0) return false;
  // RFC 3522 section 3.2 step (4): TSecr older than RetransmitTS (timestamps wrap like sequence numbers).
  if (!seqGt(retransmitTs, o.tsEcr)) return false;
  tcb.cc.undoTimeout(tcb.undoCwnd, tcb.undoSsthresh);
  tcb.rtoRecovery = false;
  const rack = tcb.rack;
  if (rack !== null) {
    rack.undoTimeoutLoss();
    rack.onRecoveryEnd();
  } else if (seqGt(tcb.sndMax, tcb.sndNxt)) {
    tcb.sndNxt = tcb.sndMax; // RFC 4015 section 4: resume with data not sent yet
  }
  return true;
}
