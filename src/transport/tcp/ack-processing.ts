/**
 * The fifth step of SEGMENT ARRIVES in the synchronized states, "check the ACK field"
 * (RFC 9293 3.10.7.4), once the ACK is known to be acceptable: advance SND.UNA and free what
 * it covers, take RTT samples (RFC 6298, RFC 7323 4.1), grow the congestion window, count
 * duplicate ACKs and run loss recovery, then update the send window (SND.WL1/WL2 rule).
 *
 * With SACK, losses are found by RACK-TLP (RFC 8985, rack.ts): the ACK's cumulative and
 * SACK information marks segments delivered, RACK judges lost those sent before a delivered
 * one that are overdue by more than the reordering window, and the first loss starts fast
 * recovery, in which PRR (RFC 6937, prr.ts) paces sending (BBR: its own window, pacing.ts).
 * Without SACK: RFC 5681 fast retransmit on the third duplicate ACK, RFC 3042 limited
 * transmit, RFC 5827 early retransmit and RFC 6582 NewReno.
 */

import type { TcpOptions } from '../../wire/tcp-options.js';
import { TcpFlag } from '../../wire/tcp.js';
import type { TcpContext } from './context.js';
import { inEcnReduction } from './ecn.js';
import { notify } from './lifecycle.js';
import { armRto, retransmitRange, scheduleReorderTimer, sendRecoveryRetransmission, stopRetransmitTimer } from './output.js';
import type { SackScoreboard } from './sack.js';
import type { Segment } from './segment.js';
import { rateAfterAck } from './pacing.js';
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
  let delivered = 0;
  const sackedBefore = tcb.rack !== null ? tcb.rack.sackedBytes : 0;
  const ackBefore = tcb.sndUna;
  const advanced = seqGt(ack, tcb.sndUna);
  if (advanced) {
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
    if (sb !== null) newlySacked = updateScoreboard(ctx, tcb, sb, seg, now);
    delivered = ackedSpace + newlySacked; // without RACK; with it, counted once below
    const cc = tcb.cc;
    if (cc.inRecovery) {
      if (seqGeq(ack, tcb.recoveryPoint)) {
        // Full ACK: recovery is over (RFC 6582 step 6 / RFC 6675 section 5). A segment still
        // judged lost starts a new one below (RACK).
        cc.exitRecovery(seqSub(tcb.sndMax, tcb.sndUna));
        tcb.sackRecovery = false;
        tcb.dupAcks = 0;
        tcb.rack?.onRecoveryEnd();
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
    if (tcb.rtoRecovery && seqGeq(ack, tcb.rack !== null ? tcb.recoveryPoint : tcb.sndMax)) {
      tcb.rtoRecovery = false;
      tcb.rack?.onRecoveryEnd();
    }
    // RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it.
    if (tcb.sndUna === tcb.sndMax) {
      const k = tcb.retransmitKind;
      if (k === RetransmitKind.RTO || k === RetransmitKind.PROBE) stopRetransmitTimer(tcb);
    } else {
      armRto(ctx, tcb, now, true);
    }
  } else if (ack === tcb.sndUna) {
    if (sb !== null && o.sackCount > 0) newlySacked = updateScoreboard(ctx, tcb, sb, seg, now);
    delivered = newlySacked;
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
  // Each byte counts once (RFC 6937's DeliveredData = change in SND.UNA + change in SACKed
  // bytes): a cumulative ACK over data SACKed earlier delivers nothing new, so SND.UNA's
  // advance less the SACKed bytes it swallowed. PRR and BBR both read this.
  if (tcb.rack !== null && advanced) {
    delivered = seqSub(tcb.sndUna, ackBefore) + tcb.rack.sackedBytes - sackedBefore;
    if (delivered < 0) delivered = 0;
  }
  const lostBefore = tcb.rack !== null ? tcb.rack.lostBytes : 0;
  if (tcb.rack !== null) rackAfterAck(ctx, tcb, seg, delivered, advanced, now);
  // Rate-based congestion control (BBR): its model sees every ACK, in recovery too (pacing.ts).
  const bbr = tcb.bbr;
  if (bbr !== null && (advanced || delivered > 0)) {
    const rack = tcb.rack;
    const lost = rack !== null ? rack.lostBytes - lostBefore : 0;
    rateAfterAck(tcb, bbr, delivered, lost > 0 ? lost : 0, now);
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

/**
 * Duplicate ACK number `tcb.dupAcks`. With SACK, RACK finds losses (rackAfterAck); a
 * duplicate only earns RFC 3042's limited transmit. Without SACK: fast retransmit on the
 * third (RFC 5681, RFC 5827 early retransmit for short flights), else inflate (NewReno).
 */
function onDuplicateAck(ctx: TcpContext, tcb: Tcb, now: number): void {
  const cc = tcb.cc;
  if (cc.inRecovery) {
    if (!tcb.sackRecovery) cc.onDupAck(); // RFC 6582 step 3: inflate by SMSS
    return;
  }
  const smss = tcb.smss;
  if (tcb.rack !== null) {
    if (tcb.dupAcks <= 2) tcb.limitedTransmit = tcb.dupAcks * smss;
    return;
  }
  const flight = seqSub(tcb.sndMax, tcb.sndUna);
  // RFC 5827 early retransmit: with fewer than four segments outstanding and nothing new to
  // send, three duplicate ACKs can never come; use outstanding - 1 as the threshold.
  let thresh = 3;
  const oseg = Math.ceil(flight / smss);
  if (oseg < 4 && oseg >= 2 && tcb.unsentBytes === 0) thresh = oseg - 1;
  if (tcb.dupAcks < thresh) {
    // RFC 3042 limited transmit: a new segment for each of the first two duplicate ACKs.
    if (tcb.dupAcks <= 2) tcb.limitedTransmit = tcb.dupAcks * smss;
    return;
  }
  // RFC 6582 3.2 step 2 ("recover"): after a recovery or a timeout, duplicate ACKs enter
  // fast retransmit only once the cumulative ACK covers more than RecoveryPoint, so the
  // duplicates caused by our own retransmissions do not halve the window again.
  if (!seqGt(tcb.sndUna, tcb.recoveryPoint)) return;
  enterFastRecovery(ctx, tcb, now);
}

/**
 * After every ACK on a SACK connection (RFC 8985 sections 6.2 and 7.4): D-SACK feedback to the
 * reordering window, the end of a tail loss probe episode, loss detection, entering fast
 * recovery on the first loss, PRR's allowance for this ACK, and the reordering timer.
 */
function rackAfterAck(ctx: TcpContext, tcb: Tcb, seg: Segment, delivered: number, advanced: boolean, now: number): void {
  const rack = tcb.rack!;
  const sb = tcb.scoreboard!;
  const dsack = seg.opts.sackCount > 0 && sb.lastDsack;
  if (dsack) ctx.stats.dsacksReceived++;
  rack.onDsack(dsack, tcb.sndUna, tcb.sndMax);
  if (tcb.tlpInEpisode) tlpProcessAck(ctx, tcb, seg, dsack, advanced, delivered, now);
  const cc = tcb.cc;
  const timeout = runRackDetection(ctx, tcb, now);
  onRackLosses(ctx, tcb, now);
  if (cc.inRecovery && tcb.sackRecovery && tcb.bbr === null) {
    tcb.prr.onAck(delivered, rack.inFlight(tcb.sndUna, tcb.sndMax), cc.ssthresh, tcb.smss);
  }
  const kind = tcb.retransmitKind;
  if (timeout > 0) scheduleReorderTimer(ctx, tcb, now, timeout);
  // A reordering timer with nothing left to wait for, or a probe that no longer applies (data
  // SACKed, recovery): the RTO takes over (armRto picks the probe again when it applies).
  else if (kind === RetransmitKind.REORDER || (kind === RetransmitKind.PROBE && (rack.sackedSegs > 0 || cc.inRecovery))) armRto(ctx, tcb, now, true);
}

/**
 * RFC 8985 section 6.2 step 5 with the current reordering window; counts what it found.
 * Returns the reordering timer's timeout (ms), or 0.
 */
export function runRackDetection(ctx: TcpContext, tcb: Tcb, now: number): number {
  const rack = tcb.rack!;
  const lostRetransmits = rack.lostRetransmits;
  const timeout = rack.detectLoss(now, rack.reoWnd(tcb.rtt.srtt, tcb.cc.inRecovery || tcb.rtoRecovery));
  if (rack.newlyLost > 0) {
    ctx.stats.rackLosses += rack.newlyLost;
    ctx.stats.lostRetransmits += rack.lostRetransmits - lostRetransmits;
  }
  return timeout;
}

/**
 * RACK judged segments lost (now, on an ACK or at the reordering timer): the first loss
 * after RecoveryPoint starts fast recovery (RFC 8985 section 6.2 step 5's caller; RFC 6675
 * (5.1)); losses within a recovery, or below what an RTO left outstanding, are resent by
 * the recovery output without a further cut of cwnd.
 */
export function onRackLosses(ctx: TcpContext, tcb: Tcb, now: number): void {
  const rack = tcb.rack!;
  if (rack.lostSegs === rack.retransSegs) return;
  if (tcb.cc.inRecovery || tcb.rtoRecovery || seqLt(tcb.sndUna, tcb.recoveryPoint)) return;
  enterFastRecovery(ctx, tcb, now);
}

/**
 * RFC 8985 section 7.4.2: has the tail loss probe episode ended, and did the probe repair a
 * loss? A retransmitted probe that the ACK covers (beyond it) without a D-SACK for it
 * repaired a single lost segment: congestion control responds as to a loss, once.
 */
function tlpProcessAck(ctx: TcpContext, tcb: Tcb, seg: Segment, dsack: boolean, advanced: boolean, delivered: number, now: number): void {
  const ack = seg.ack;
  const end = tcb.tlpEndSeq;
  if (seqLt(ack, end)) return;
  if (!tcb.tlpIsRetrans) {
    tcb.tlpInEpisode = false; // a probe of new data was delivered
  } else if (dsack && seqLeq(tcb.scoreboard!.dsackEnd, end) && seqGt(tcb.scoreboard!.dsackEnd, seqAdd(end, -tcb.maxSeg - 1))) {
    tcb.tlpInEpisode = false; // the probe was a duplicate: nothing was lost
  } else if (seqGt(ack, end)) {
    tcb.tlpInEpisode = false; // the probe repaired a loss
    ctx.stats.tlpRecoveries++;
    if (!tcb.cc.inRecovery) {
      const cc = tcb.cc;
      cc.enterRecovery(now, seqSub(tcb.sndMax, tcb.sndUna), false);
      cc.exitRecovery(seqSub(tcb.sndMax, tcb.sndUna));
    }
  } else if (!advanced && delivered === 0 && seg.opts.sackCount === 0) {
    tcb.tlpInEpisode = false; // a duplicate ACK without SACK: assume the loss
  }
}

function enterFastRecovery(ctx: TcpContext, tcb: Tcb, now: number): void {
  tcb.recoveryPoint = tcb.sndMax;
  tcb.fastRetransmits++;
  ctx.stats.fastRetransmits++;
  const flight = seqSub(tcb.sndMax, tcb.sndUna);
  if (tcb.rack !== null) {
    // Sending in recovery is paced by PRR (RFC 6937), from RACK's lost segments first.
    tcb.cc.enterRecovery(now, flight, false);
    tcb.sackRecovery = true;
    tcb.prr.start(flight);
    sendRecoveryRetransmission(ctx, tcb, now);
  } else {
    // RFC 6582 3.2 step 2: ssthresh, cwnd = ssthresh + 3*SMSS, retransmit the first segment.
    tcb.cc.enterRecovery(now, flight, true);
    tcb.sackRecovery = false;
    retransmitRange(ctx, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
  }
}

/**
 * Feed the segment's SACK blocks to the scoreboard (counting ranges its bound made it
 * forget) and its cumulative ACK and SACK blocks to RACK's segment records. Returns the
 * bytes newly SACKed.
 */
function updateScoreboard(ctx: TcpContext, tcb: Tcb, sb: SackScoreboard, seg: Segment, now: number): number {
  const o: TcpOptions = seg.opts;
  const evicted = sb.evictedRanges;
  const n = sb.update(seg.ack, tcb.sndMax, o.sackBlocks, o.sackCount);
  if (sb.evictedRanges !== evicted) ctx.stats.sackRangesEvicted += sb.evictedRanges - evicted;
  const rack = tcb.rack;
  if (rack !== null) {
    const tsEcr = tcb.tsOk && o.hasTimestamps ? o.tsEcr : -1;
    // Records can only become SACKed when the scoreboard learnt something new.
    const blocks = n > 0 ? o.sackCount : 0;
    const reordered = rack.reorderEvents;
    rack.onAck(seg.ack, o.sackBlocks, sb.lastDsack ? 1 : 0, blocks, now, tsEcr, tcb.tsOffset);
    if (rack.reorderEvents !== reordered) ctx.stats.reorderingSeen += rack.reorderEvents - reordered;
  }
  return n;
}
