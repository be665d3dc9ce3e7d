/**
 * The fifth step of SEGMENT ARRIVES in the synchronized states, "check the ACK field"
 * (RFC 9293 3.10.7.4), once the ACK is known to be acceptable: advance SND.UNA and free what
 * it covers, take RTT samples (RFC 6298, RFC 7323 4.1), grow the congestion window, count
 * duplicate ACKs and run loss recovery (RFC 5681 fast retransmit, RFC 3042 limited
 * transmit, RFC 5827 early retransmit, RFC 6582 NewReno, RFC 6675 SACK recovery with the
 * RFC 2018 blocks fed to the scoreboard), then update the send window (SND.WL1/WL2 rule).
 */

import type { TcpOptions } from '../../wire/tcp-options.js';
import { TcpFlag } from '../../wire/tcp.js';
import type { TcpContext } from './context.js';
import { inEcnReduction } from './ecn.js';
import { notify } from './lifecycle.js';
import { armRto, resendFirstHole, retransmitRange, stopRetransmitTimer } from './output.js';
import type { SackScoreboard } from './sack.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqSub } from './seq.js';
import { RetransmitKind, TcbEvent, type Tcb } from './tcb.js';

const { SYN, FIN } = TcpFlag;

/** Take an RTT sample from an ACK of new data: the TS echo (RFC 7323 4.1) or Karn timing. */
export function takeRttSample(tcb: Tcb, seg: Segment, now: number): void {
  const o = seg.opts;
  if (tcb.tsOk && o.hasTimestamps && o.tsEcr !== 0) {
    // RFC 7323 Appendix G: several samples per RTT each weigh less.
    const flight = seqSub(tcb.sndMax, tcb.sndUna);
    const expected = Math.ceil(flight / (2 * tcb.smss));
    tcb.rtt.sampleFromTimestampEcho(o.tsEcr, tcb.tsNow(now), 1, expected > 1 ? expected : 1);
  } else {
    tcb.rtt.onAck(seg.ack, now);
  }
}

/**
 * The fifth step for ESTABLISHED and later: advance SND.UNA, free acknowledged data, RTT
 * samples, congestion control and loss recovery, then the send window (SND.WL1/WL2 rule).
 */
export function processAck(ctx: TcpContext, tcb: Tcb, seg: Segment, seq: number, dataLen: number, f: number, now: number): void {
  const ack = seg.ack;
  const o = seg.opts;
  const wnd = seg.wnd << tcb.sndWscale;
  const sb = tcb.scoreboard;
  let newlySacked = 0;
  if (seqGt(ack, tcb.sndUna)) {
    // New data acknowledged: RFC 9293 "SND.UNA <- SEG.ACK", remove what it covers.
    const ackedSpace = seqSub(ack, tcb.sndUna);
    let dataAcked = seqSub(ack, tcb.sndBufSeq);
    if (dataAcked < 0) dataAcked = 0;
    if (dataAcked > tcb.sendBuffer.length) dataAcked = tcb.sendBuffer.length;
    if (dataAcked > 0) {
      tcb.sendBuffer.acknowledge(dataAcked);
      tcb.sndBufSeq = seqAdd(tcb.sndBufSeq, dataAcked);
      notify(ctx, tcb, TcbEvent.WRITABLE);
    }
    tcb.sndUna = ack;
    if (seqLt(tcb.sndNxt, ack)) tcb.sndNxt = ack; // past a zero-window probe, or go-back-N
    const rttSamples = tcb.rtt.samples;
    takeRttSample(tcb, seg, now);
    tcb.retries = 0;
    tcb.persistShift = 0;
    tcb.limitedTransmit = 0;
    tcb.tlpSent = false;
    if (sb !== null) newlySacked = updateScoreboard(ctx, sb, ack, tcb.sndMax, o);
    const cc = tcb.cc;
    if (cc.inRecovery) {
      if (seqGeq(ack, tcb.recoveryPoint)) {
        // Full ACK: recovery is over (RFC 6582 step 6 / RFC 6675 section 5).
        cc.exitRecovery(seqSub(tcb.sndMax, tcb.sndUna));
        tcb.sackRecovery = false;
        tcb.dupAcks = 0;
        // The segment now at SND.UNA may be one this recovery retransmitted and lost again,
        // with everything above it SACKed: no duplicate ACK would come to start a recovery,
        // and cwnd (counting SACKed bytes outside recovery) would send nothing new. A new loss
        // event: recover again at once (RFC 6675 (5.1) allows it from RecoveryPoint on).
        if (sb !== null && sb.isLost(tcb.sndUna, tcb.smss)) enterFastRecovery(ctx, tcb, now);
      } else if (!tcb.sackRecovery) {
        // NewReno partial ACK (RFC 6582 3.2 step 5): retransmit the next hole, deflate.
        cc.onPartialAck(ackedSpace);
        retransmitRange(ctx, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
        armRto(ctx, tcb, now, true);
      }
    } else {
      tcb.dupAcks = 0;
      cc.onAckRtt(ack, tcb.sndNxt, tcb.rtt.samples !== rttSamples ? tcb.rtt.latestRtt : -1); // HyStart++
      // Not while the round trip after an ECN reduction lasts (RFC 3168 6.1.2; Linux's CWR state).
      if (!inEcnReduction(tcb)) cc.onAck(ackedSpace, tcb.rtt.hasSample ? tcb.rtt.srtt : 0, now, tcb.cwndLimited);
    }
    if (tcb.rtoRecovery && seqGeq(ack, tcb.sndMax)) tcb.rtoRecovery = false;
    // RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it.
    if (tcb.sndUna === tcb.sndMax) {
      const k = tcb.retransmitKind;
      if (k === RetransmitKind.RTO || k === RetransmitKind.PROBE) stopRetransmitTimer(tcb);
    } else {
      armRto(ctx, tcb, now, true);
    }
  } else if (ack === tcb.sndUna) {
    if (sb !== null && o.sackCount > 0) newlySacked = updateScoreboard(ctx, sb, ack, tcb.sndMax, o);
    // RFC 5681 section 2 "DUPLICATE ACKNOWLEDGMENT": outstanding data, no data or SYN/FIN,
    // same ACK, same window. With SACK, RFC 6675 section 2: an ACK that SACKs new data (so a
    // duplicated or reordered old ACK does not count).
    // (SND.NXT, not SND.MAX: a zero-window probe's byte is not outstanding data, and the
    // peer's answers to probes must not look like duplicate ACKs.)
    const outstanding = seqGt(tcb.sndNxt, tcb.sndUna);
    const pure = dataLen === 0 && (f & (SYN | FIN)) === 0;
    const dup = tcb.sackOk ? newlySacked > 0 : pure && wnd === tcb.sndWnd;
    if (outstanding && dup) {
      tcb.dupAcks++;
      onDuplicateAck(ctx, tcb, now);
    }
  }
  // Window update (RFC 9293 3.10.7.4): if SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and
  // SND.WL2 =< SEG.ACK), set SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK.
  if (seqLt(tcb.sndWl1, seq) || (tcb.sndWl1 === seq && seqLeq(tcb.sndWl2, ack))) {
    tcb.sndWnd = wnd;
    tcb.sndWl1 = seq;
    tcb.sndWl2 = ack;
    if (wnd > tcb.maxSndWnd) tcb.maxSndWnd = wnd;
    if (wnd > 0 && tcb.retransmitKind === RetransmitKind.PERSIST) {
      // The window opened: stop probing, send (tcpOutput runs after this segment).
      stopRetransmitTimer(tcb);
      tcb.persistShift = 0;
      tcb.retries = 0;
    }
  }
}

/** Duplicate ACK number `tcb.dupAcks`: maybe fast retransmit, else inflate (NewReno). */
function onDuplicateAck(ctx: TcpContext, tcb: Tcb, now: number): void {
  const cc = tcb.cc;
  if (cc.inRecovery) {
    if (!tcb.sackRecovery) cc.onDupAck(); // RFC 6582 step 3: inflate by SMSS
    return;
  }
  const sb = tcb.scoreboard;
  const smss = tcb.smss;
  const flight = seqSub(tcb.sndMax, tcb.sndUna);
  // RFC 5827 early retransmit: with fewer than four segments outstanding and nothing new to
  // send, three duplicate ACKs can never come; use outstanding - 1 as the threshold.
  let thresh = 3;
  const oseg = Math.ceil(flight / smss);
  if (oseg < 4 && oseg >= 2 && tcb.unsentBytes === 0) thresh = oseg - 1;
  const lost = tcb.dupAcks >= thresh || (sb !== null && sb.isLost(tcb.sndUna, smss));
  if (!lost) {
    // RFC 3042 limited transmit: a new segment for each of the first two duplicate ACKs.
    if (tcb.dupAcks <= 2) tcb.limitedTransmit = tcb.dupAcks * smss;
    return;
  }
  // RFC 6582 3.2 step 2 ("recover"): after a recovery or a timeout, duplicate ACKs enter
  // fast retransmit only once the cumulative ACK covers more than RecoveryPoint, so the
  // duplicates caused by our own retransmissions do not halve the window again. With SACK
  // such duplicates do not count (they SACK nothing new), and RFC 6675 (5.1) waits only
  // until the ACK reaches RecoveryPoint.
  if (tcb.sackOk ? seqLt(tcb.sndUna, tcb.recoveryPoint) : !seqGt(tcb.sndUna, tcb.recoveryPoint)) {
    // Still below what was outstanding at an RTO. If these duplicates, SACKing more data,
    // come more than a round trip after SND.UNA's go-back-N retransmission (RACK's test,
    // RFC 8985 6.2: SRTT plus a quarter for reordering), that retransmission was lost (an
    // earlier ACK could still be one for the original flight): resend it once per SND.UNA
    // (tlpSent, shared with the probe), with no second cut of cwnd (as Linux does in its
    // Loss state), instead of waiting for the backed-off RTO.
    if (tcb.sackOk && !tcb.tlpSent && now - tcb.unaRetransmittedAt > tcb.rtt.srtt * 1.25) {
      tcb.tlpSent = true;
      resendFirstHole(ctx, tcb, now);
    }
    return;
  }
  enterFastRecovery(ctx, tcb, now);
}

function enterFastRecovery(ctx: TcpContext, tcb: Tcb, now: number): void {
  tcb.recoveryPoint = tcb.sndMax;
  tcb.fastRetransmits++;
  ctx.stats.fastRetransmits++;
  const flight = seqSub(tcb.sndMax, tcb.sndUna);
  if (tcb.sackOk && tcb.scoreboard !== null) {
    // RFC 6675 section 5 step (4): cwnd = ssthresh, pipe-governed sending, HighRxt = HighACK.
    tcb.cc.enterRecovery(now, flight, false);
    tcb.sackRecovery = true;
    tcb.rescueRxt = seqAdd(tcb.sndUna, -1);
    const sb = tcb.scoreboard;
    sb.startRecovery();
    // (4.3): retransmit the first segment presumed lost.
    const end = seqAdd(tcb.sndUna, tcb.smss);
    if (retransmitRange(ctx, tcb, tcb.sndUna, end, now) > 0) sb.markRetransmitted(end);
  } else {
    // RFC 6582 3.2 step 2: ssthresh, cwnd = ssthresh + 3*SMSS, retransmit the first segment.
    tcb.cc.enterRecovery(now, flight, true);
    tcb.sackRecovery = false;
    retransmitRange(ctx, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
  }
}

/** Feed the segment's SACK blocks to the scoreboard, counting ranges its bound made it forget. */
function updateScoreboard(ctx: TcpContext, sb: SackScoreboard, ack: number, sndMax: number, o: TcpOptions): number {
  const evicted = sb.evictedRanges;
  const n = sb.update(ack, sndMax, o.sackBlocks, o.sackCount);
  if (sb.evictedRanges !== evicted) ctx.stats.sackRangesEvicted += sb.evictedRanges - evicted;
  return n;
}
