/**
 * TCP input: RFC 9293 section 3.10.7 "SEGMENT ARRIVES", state by state, with
 *  - RFC 5961 (blind in-window attacks): RST only at exactly RCV.NXT, challenge ACKs for
 *    other in-window RSTs and for SYNs in synchronized states, ACK-value validation;
 *  - RFC 7323: PAWS, TS.Recent, window scaling;
 *  - RFC 9293 3.8.6.3 / RFC 5681 4.2 ACK policy: in-order data ACKed at the end of the input
 *    batch once two full segments are in (or by the 40 ms delayed-ACK timer), out-of-order
 *    data and gap fills ACKed at once.
 * The ACK field of an acceptable segment (SND.UNA, RTT, congestion control, loss recovery)
 * is ack-processing.ts's; the LISTEN and SYN_RECEIVED steps that make a connection are
 * open.ts's.
 *
 * The parsed segment is a reusable struct (`Segment`): nothing is allocated per segment.
 * Malformed or unacceptable segments are counted (stack.counters.drop) and dropped.
 */

import { TcpFlag } from '../../wire/tcp.js';
import { processAck, takeRttSample } from './ack-processing.js';
import { connectionMayChallenge } from './challenge-ack.js';
import { ecnInput, isEcnSetupSynAck } from './ecn.js';
import type { TcpContext } from './context.js';
import {
  armFinWait2, closeTcb, enterTimeWait, notify, queueAckFlush, restartTimeWait, scheduleTcbTimer, setState,
} from './lifecycle.js';
import type { Listener } from './listener.js';
import { handshakeComplete, pathMssFor, passiveOpen, trySynCookieAck } from './open.js';
import { sendAck, sendRstFor, sendRstRaw, sendSyn, stopRetransmitTimer, tcpOutput } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGeq, seqGt, seqInRange, seqInRangeOpenClosed, seqLeq, seqLt, seqSub } from './seq.js';
import { TcbEvent, TcpState, type Tcb } from './tcb.js';

const { SYN, ACK, FIN, RST } = TcpFlag;

/** RFC 7323 5.5: TS.Recent older than 24 days is no longer valid for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** A segment for an existing connection block: SYN_SENT has its own rules, the rest share them. */
export function segmentArrives(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  tcb.segmentsIn++;
  tcb.lastRecvAt = now;
  tcb.keepAliveProbesSent = 0;
  if (tcb.state === TcpState.SYN_SENT) synSentInput(ctx, tcb, seg, now);
  else otherInput(ctx, tcb, seg, now);
  if (tcb.state !== TcpState.CLOSED) scheduleTcbTimer(tcb);
}

// ------------------------------------------------------------------------------ CLOSED

/**
 * RFC 9293 3.10.7.1, no connection: answer anything but a RST with a RST.
 * If the ACK bit is off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; if on: <SEQ=SEG.ACK><CTL=RST>.
 */
export function closedInput(ctx: TcpContext, seg: Segment): void {
  if ((seg.flags & RST) !== 0) {
    ctx.stack.counters.drop('tcp: rst-no-connection');
    return;
  }
  ctx.stack.counters.drop('tcp: no-connection');
  if ((seg.flags & ACK) === 0) {
    sendRstRaw(ctx, seg.dst, seg.src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, seg.segLen), true);
  } else {
    sendRstRaw(ctx, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
  }
}

// ------------------------------------------------------------------------------ LISTEN

/** RFC 9293 3.10.7.2. A SYN makes a child block in SYN_RECEIVED and a SYN-ACK. */
export function listenInput(ctx: TcpContext, listener: Listener, seg: Segment, now: number): void {
  const f = seg.flags;
  const counters = ctx.stack.counters;
  if ((f & RST) !== 0) {
    counters.drop('tcp: rst-to-listener');
    return;
  }
  if ((f & ACK) !== 0) {
    if ((f & SYN) === 0) {
      const child = trySynCookieAck(ctx, listener, seg, now);
      if (child !== false) {
        // A valid cookie: process the ACK (and any data on it) as a SYN_RECEIVED connection would.
        if (child !== true) segmentArrives(ctx, child, seg, now);
        return;
      }
    }
    // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state."
    counters.drop('tcp: ack-to-listener');
    sendRstRaw(ctx, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
    return;
  }
  if ((f & SYN) === 0) {
    counters.drop('tcp: no-syn-to-listener');
    return;
  }
  if ((f & FIN) !== 0) {
    counters.drop('tcp: syn-fin');
    return;
  }
  passiveOpen(ctx, listener, seg, now);
}

// ------------------------------------------------------------------------------ SYN_SENT

/** RFC 9293 3.10.7.3. */
function synSentInput(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  const f = seg.flags;
  const counters = ctx.stack.counters;
  // First: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT.
  if ((f & ACK) !== 0 && !seqInRangeOpenClosed(seg.ack, tcb.iss, tcb.sndMax)) {
    counters.drop('tcp: bad-ack-in-syn-sent');
    if ((f & RST) === 0) sendRstRaw(ctx, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
    return;
  }
  // Second: a RST is acceptable only with an acceptable ACK (RFC 5961 3.2 for SYN-SENT).
  if ((f & RST) !== 0) {
    if ((f & ACK) !== 0) {
      ctx.stats.attemptFails++;
      closeTcb(ctx, tcb, 'ECONNREFUSED');
    } else {
      counters.drop('tcp: rst-without-ack-in-syn-sent');
    }
    return;
  }
  if ((f & SYN) === 0) {
    counters.drop('tcp: no-syn-in-syn-sent');
    return;
  }
  // Fourth: the SYN. Options first (RFC 7323 / 2018: only what both sides sent applies).
  const o = seg.opts;
  tcb.irs = seg.seq;
  tcb.rcvNxt = seqAdd(seg.seq, 1);
  tcb.lastAckSent = tcb.rcvNxt;
  if (tcb.synWs && o.windowScale >= 0) tcb.sndWscale = o.windowScale;
  else {
    tcb.sndWscale = 0;
    tcb.rcvWscale = 0;
  }
  if (tcb.synTs && o.hasTimestamps) {
    tcb.tsOk = true;
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAt = now;
  }
  if (tcb.synSack && o.sackPermitted) tcb.enableSack();
  // RFC 3168 6.1.1: agreed if we asked and the SYN-ACK is ECN-setup (a SYN alone is not).
  tcb.ecnOk = tcb.synEcn && (f & ACK) !== 0 && isEcnSetupSynAck(f);
  if (tcb.ecnOk) ctx.stats.ecnNegotiated++;
  const rt = tcb.route;
  tcb.setMss(o.mss >= 0 ? o.mss : 536, rt !== null ? pathMssFor(ctx, rt, tcb.remoteAddr) : tcb.rcvMss);
  tcb.sndWnd = seg.wnd; // unscaled in a SYN (RFC 7323 2.2)
  tcb.maxSndWnd = tcb.sndWnd;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  if ((f & ACK) !== 0) {
    // Our SYN is acknowledged: ESTABLISHED.
    tcb.sndUna = seg.ack;
    if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
    takeRttSample(tcb, seg, now);
    // RFC 5681 3.1: IW is one segment if the SYN had to be retransmitted; RFC 6298 (5.7).
    const synLost = tcb.retries > 0;
    tcb.resetCongestion(synLost ? tcb.smss : undefined);
    if (synLost) tcb.rtt.applySynTimeoutRule();
    tcb.retries = 0;
    tcb.rcvAdv = seqAdd(tcb.rcvNxt, tcb.synWindow);
    // A CLOSE issued while connecting takes effect now (RFC 9293 3.10.4): FIN_WAIT_1.
    setState(ctx, tcb, tcb.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED);
    tcb.lastSendAt = now;
    tcb.quickAcks = tcb.config.quickAckSegments;
    tcb.recoveryPoint = tcb.iss;
    stopRetransmitTimer(tcb);
    scheduleTcbTimer(tcb);
    ctx.stats.activeOpensEstablished++;
    notify(ctx, tcb, TcbEvent.CONNECT);
    // "Form an ACK segment and send it"; queued data (and a queued FIN) may go with it.
    tcb.ackPending = true;
    tcb.ackNow = true;
    if (seg.dataLength > 0 || (f & FIN) !== 0) {
      // Data in the SYN-ACK starts at SEG.SEQ+1 = RCV.NXT: continue at the sixth step.
      processText(ctx, tcb, seg, seqAdd(seg.seq, 1), now);
    }
    tcpOutput(ctx, tcb, now);
    if (tcb.ackPending) sendAck(ctx, tcb, now);
    return;
  }
  // Simultaneous open (RFC 9293 figure 7): SYN_RECEIVED, send SYN,ACK.
  setState(ctx, tcb, TcpState.SYN_RECEIVED);
  tcb.retries = 0;
  sendSyn(ctx, tcb, now);
}

// ------------------------------------------------------------------------------ synchronized

/** RFC 9293 3.10.7.4: SYN_RECEIVED and every later state. */
function otherInput(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  const counters = ctx.stack.counters;
  let f = seg.flags;
  const o = seg.opts;
  let seq = seg.seq;

  // RFC 7323 5.3 R1 (PAWS), before the sequence-number test.
  if (tcb.tsOk && (f & RST) === 0) {
    if (!o.hasTimestamps) {
      // RFC 7323 3.2: once negotiated, a non-RST segment without a TSopt SHOULD be dropped.
      counters.drop('tcp: missing-timestamp');
      return;
    }
    if (seqLt(o.tsVal, tcb.tsRecent) && now - tcb.tsRecentAt < PAWS_IDLE_MS) {
      counters.drop('tcp: paws');
      ctx.stats.pawsRejected++;
      queueAck(ctx, tcb, true);
      return;
    }
  }

  if (tcb.state === TcpState.SYN_RECEIVED && (f & SYN) !== 0) {
    if ((f & ACK) === 0 && seq === tcb.irs) {
      // The peer retransmitted its SYN: our SYN-ACK was lost. Send it again.
      sendSyn(ctx, tcb, now);
      return;
    }
    if ((f & ACK) !== 0 && tcb.active && seqAdd(seq, 1) === tcb.rcvNxt && seqInRangeOpenClosed(seg.ack, tcb.sndUna, tcb.sndMax)) {
      // Simultaneous open: the peer's SYN-ACK. Its SYN is old news; its ACK completes our
      // handshake (as Linux does; the strict reading would cost a SYN-ACK retransmission).
      f &= ~SYN;
      seq = seqAdd(seq, 1);
    }
  }

  // First: sequence number check.
  const dataLen = seg.dataLength;
  const segLen = dataLen + ((f & SYN) !== 0 ? 1 : 0) + ((f & FIN) !== 0 ? 1 : 0);
  let rcvWnd = seqSub(tcb.rcvAdv, tcb.rcvNxt);
  if (rcvWnd < 0) rcvWnd = 0;
  const rcvNxt = tcb.rcvNxt;
  let acceptable: boolean;
  if (segLen === 0) {
    acceptable = rcvWnd === 0 ? seq === rcvNxt : seqInRange(seq, rcvNxt, seqAdd(rcvNxt, rcvWnd));
  } else if (rcvWnd === 0) {
    acceptable = false;
  } else {
    const end = seqAdd(rcvNxt, rcvWnd);
    acceptable = seqInRange(seq, rcvNxt, end) || seqInRange(seqAdd(seq, segLen - 1), rcvNxt, end);
  }
  if (!acceptable) {
    // A zero window still takes ACKs, window updates and RSTs: RFC 9293 says to process them
    // even when the segment's data cannot be taken.
    const zeroWindowAck = rcvWnd === 0 && seq === rcvNxt;
    if (!zeroWindowAck) {
      if ((f & RST) === 0) {
        counters.drop('tcp: out-of-window');
        // In TIME_WAIT a retransmitted FIN lands here (its sequence number is old): ACK it and
        // restart the 2*MSL timer (RFC 9293 3.10.7.4, eighth step, TIME-WAIT).
        if (tcb.state === TcpState.TIME_WAIT && (f & FIN) !== 0) restartTimeWait(ctx, tcb, now);
        queueAck(ctx, tcb, true);
      } else {
        counters.drop('tcp: rst-out-of-window');
      }
      return;
    }
    // Process the control part only: pretend there is no data or FIN.
    if (dataLen > 0 || (f & FIN) !== 0) {
      counters.drop('tcp: zero-window-data');
      queueAck(ctx, tcb, true);
    }
    f &= ~FIN;
    processSegmentControl(ctx, tcb, seg, f, seq, 0, now);
    return;
  }
  processSegmentControl(ctx, tcb, seg, f, seq, dataLen, now);
}

/** Steps two to eight for an acceptable segment. `dataLen` 0 means "ignore the data". */
function processSegmentControl(ctx: TcpContext, tcb: Tcb, seg: Segment, f: number, seq: number, dataLen: number, now: number): void {
  const counters = ctx.stack.counters;
  // Second: RST (RFC 5961 3.2). Only exactly RCV.NXT resets; elsewhere in the window it gets
  // a challenge ACK, so a blind attacker must guess the exact number.
  if ((f & RST) !== 0) {
    if (seq !== tcb.rcvNxt) {
      counters.drop('tcp: rst-challenged');
      challengeAck(ctx, tcb, now);
      return;
    }
    resetReceived(ctx, tcb);
    return;
  }
  // Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK, whatever its seq.
  if ((f & SYN) !== 0) {
    if (tcb.state === TcpState.SYN_RECEIVED && !tcb.active) {
      // RFC 9293: "If the connection was initiated with a passive OPEN, then return this
      // connection to the LISTEN state": the child block goes away.
      counters.drop('tcp: syn-in-syn-received');
      closeTcb(ctx, tcb, null);
      return;
    }
    counters.drop('tcp: syn-challenged');
    challengeAck(ctx, tcb, now);
    return;
  }
  // Fifth: the ACK field.
  if ((f & ACK) === 0) {
    counters.drop('tcp: no-ack');
    return;
  }
  const ack = seg.ack;
  if (tcb.state === TcpState.SYN_RECEIVED) {
    if (!seqInRangeOpenClosed(ack, tcb.sndUna, tcb.sndMax)) {
      counters.drop('tcp: bad-ack-in-syn-received');
      sendRstRaw(ctx, tcb.localAddr, tcb.remoteAddr, tcb.localPort, tcb.remotePort, ack, 0, false);
      return;
    }
    if (!handshakeComplete(ctx, tcb, seg, now)) return; // accept queue full: the ACK is dropped
  }
  // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT] (SND.MAX here).
  if (seqGt(ack, tcb.sndMax)) {
    counters.drop('tcp: ack-of-unsent');
    challengeAck(ctx, tcb, now);
    return;
  }
  const maxWnd = tcb.maxSndWnd > 65535 ? tcb.maxSndWnd : 65535;
  if (seqLt(ack, seqAdd(tcb.sndUna, -maxWnd))) {
    counters.drop('tcp: ack-too-old');
    challengeAck(ctx, tcb, now);
    return;
  }
  // TS.Recent (RFC 7323 4.3): from a segment that is acceptable and covers Last.ACK.sent.
  const o = seg.opts;
  if (tcb.tsOk && o.hasTimestamps && seqLeq(seq, tcb.lastAckSent) && seqGeq(o.tsVal, tcb.tsRecent)) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAt = now;
  }
  const unaBefore = tcb.sndUna;
  processAck(ctx, tcb, seg, seq, dataLen, f, now);
  const st = tcb.state;
  if (st === TcpState.CLOSED) return;
  if (tcb.ecnOk) ecnInput(ctx, tcb, seg, f, dataLen, unaBefore, now);
  if (st === TcpState.FIN_WAIT_1 && tcb.finAcked) {
    setState(ctx, tcb, TcpState.FIN_WAIT_2);
    if (tcb.orphaned) armFinWait2(ctx, tcb, now);
  } else if (st === TcpState.CLOSING) {
    // "If the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore
    // the segment": there is no text to take in CLOSING anyway (processText drops it), but the
    // ACK may have opened the window for data still queued before our FIN, so output runs.
    if (tcb.finAcked) timeWait(ctx, tcb, now);
  } else if (st === TcpState.LAST_ACK) {
    if (tcb.finAcked) {
      closeTcb(ctx, tcb, null);
      return;
    }
  }
  // Sixth (URG) is not supported beyond reading urgent data inline (RFC 6093 advises so).
  // Seventh and eighth: text and FIN.
  if (dataLen > 0 || (f & FIN) !== 0) processText(ctx, tcb, seg, seq, now, dataLen, f);
  if (tcb.state !== TcpState.CLOSED) tcpOutput(ctx, tcb, now);
}

/** RFC 9293 3.10.7.4 second step, when the RST is exactly at RCV.NXT. */
function resetReceived(ctx: TcpContext, tcb: Tcb): void {
  const st = tcb.state;
  ctx.stats.estabResets += st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT ? 1 : 0;
  if (st === TcpState.SYN_RECEIVED) {
    // Passive: back to LISTEN (the child goes away). Active (simultaneous open): refused.
    closeTcb(ctx, tcb, tcb.active ? 'ECONNREFUSED' : null);
    return;
  }
  if (st === TcpState.CLOSING || st === TcpState.LAST_ACK || st === TcpState.TIME_WAIT) {
    closeTcb(ctx, tcb, null);
    return;
  }
  // ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT: "connection reset".
  closeTcb(ctx, tcb, 'ECONNRESET');
}

/**
 * RFC 5961 section 7: challenge ACKs are limited per connection first, then by the shared
 * randomized budget (challenge-ack.ts says why both, as Linux).
 */
function challengeAck(ctx: TcpContext, tcb: Tcb, now: number): void {
  if (!connectionMayChallenge(tcb.lastChallengeAckAt, now, ctx.config.challengeAckIntervalMs)) {
    ctx.stats.challengeAcksPerConnectionLimited++;
    return;
  }
  tcb.lastChallengeAckAt = now;
  if (!ctx.challengeBudget.take(now)) {
    ctx.stack.counters.drop('tcp: challenge-ack-rate-limited');
    return;
  }
  ctx.stats.challengeAcks++;
  sendAck(ctx, tcb, now);
}

/**
 * Seventh and eighth steps: take the text into the receive buffer (trimmed to the window by
 * RecvBuffer.insert, out-of-order data queued and SACKed) and process a FIN in order.
 * `seq` is the sequence number of the first data byte.
 */
function processText(ctx: TcpContext, tcb: Tcb, seg: Segment, seq: number, now: number, dataLen = seg.dataLength, f = seg.flags): void {
  const st = tcb.state;
  const takesData = st === TcpState.ESTABLISHED || st === TcpState.FIN_WAIT_1 || st === TcpState.FIN_WAIT_2;
  if (dataLen > 0 && takesData) {
    if (tcb.orphaned) {
      // RFC 1122 4.2.2.13 / RFC 9293 3.10.4: data for a socket its user has closed is lost;
      // say so with a RST instead of letting the peer think it was read.
      ctx.stack.counters.drop('tcp: data-after-close');
      sendRstFor(ctx, tcb, now);
      closeTcb(ctx, tcb, null);
      return;
    }
    const rb = tcb.recvBuffer;
    const hadHoles = rb.oooRanges > 0;
    const offset = seqSub(seq, tcb.rcvNxt);
    const dropped = rb.droppedSegments;
    const trimmed = rb.trimmedBytes;
    const refused = rb.memoryDroppedSegments;
    const advanced = rb.insert(offset, seg.buf, seg.dataOffset, dataLen);
    // The stack's buffers are at their hard limit and this segment needed more than the
    // connection is guaranteed (or was out of order): dropped, to be retransmitted later.
    if (rb.memoryDroppedSegments !== refused) ctx.stack.counters.drop('tcp: memory-budget');
    // The receive buffer's bounds, counted where they cost data: the out-of-order queue was
    // full (tcp.maxOooRanges / maxOooBytes), or bytes lay beyond the window it allows.
    if (rb.droppedSegments !== dropped) ctx.stack.counters.drop('tcp: ooo-queue-full');
    if (rb.trimmedBytes !== trimmed) ctx.stack.counters.drop('tcp: beyond-window');
    if (advanced > 0) {
      tcb.rcvNxt = seqAdd(tcb.rcvNxt, advanced);
      tcb.bytesReceived += advanced;
      notify(ctx, tcb, TcbEvent.READABLE);
    }
    if (offset !== 0 || hadHoles || rb.oooRanges > 0 || advanced < dataLen) {
      // Out of order, a duplicate, or filling a gap: ACK at once (RFC 5681 4.2, RFC 9293
      // 3.10.7.4 "send an acknowledgment ... for out-of-order segments"), with SACK blocks.
      // Sent now rather than at the end of the batch: the sender counts duplicate ACKs.
      tcb.ackPending = true;
      sendAck(ctx, tcb, now);
    } else {
      tcb.unackedBytes += advanced;
      // RFC 9293 3.8.6.3 / RFC 5681 4.2: ACK at least every second full-sized segment.
      const full = tcb.rcvMss - tcb.tsSpace;
      if (tcb.quickAcks > 0) {
        tcb.quickAcks--;
        queueAck(ctx, tcb, true);
      } else {
        queueAck(ctx, tcb, tcb.unackedBytes >= 2 * full);
      }
      if (tcb.unackedBytes >= tcb.config.ackCoalesceBytes) sendAck(ctx, tcb, now);
    }
  } else if (dataLen > 0) {
    // CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the FIN was received, no new text can follow.
    ctx.stack.counters.drop('tcp: data-after-fin');
  }
  if (tcb.state === TcpState.CLOSED) return;
  if ((f & FIN) !== 0) {
    const finSeq = seqAdd(seq, dataLen);
    if (finSeq === tcb.rcvNxt && !tcb.finReceived) {
      finReceived(ctx, tcb, now);
    } else if (seqGt(finSeq, tcb.rcvNxt) && !tcb.finReceived) {
      // After a hole: remember it until the data before it arrives.
      tcb.pendingFin = true;
      tcb.pendingFinSeq = finSeq;
    } else if (tcb.finReceived) {
      // A retransmitted FIN: ACK again (in TIME_WAIT also restart the 2*MSL timer).
      if (tcb.state === TcpState.TIME_WAIT) restartTimeWait(ctx, tcb, now);
      queueAck(ctx, tcb, true);
    }
  }
  if (tcb.pendingFin && !tcb.finReceived && tcb.pendingFinSeq === tcb.rcvNxt) finReceived(ctx, tcb, now);
}

/**
 * Our FIN is acknowledged and the peer's is in: TIME_WAIT, or, when that table is full, the
 * final ACK now and no TIME_WAIT (lifecycle.ts enterTimeWait).
 */
function timeWait(ctx: TcpContext, tcb: Tcb, now: number): void {
  if (enterTimeWait(ctx, tcb, now)) return;
  if (tcb.ackPending) sendAck(ctx, tcb, now);
  closeTcb(ctx, tcb, null);
}

/** Eighth step: an in-order FIN. */
function finReceived(ctx: TcpContext, tcb: Tcb, now: number): void {
  tcb.rcvNxt = seqAdd(tcb.rcvNxt, 1);
  tcb.finReceived = true;
  tcb.pendingFin = false;
  queueAck(ctx, tcb, true);
  notify(ctx, tcb, TcbEvent.READABLE);
  switch (tcb.state) {
    case TcpState.SYN_RECEIVED:
    case TcpState.ESTABLISHED:
      setState(ctx, tcb, TcpState.CLOSE_WAIT);
      break;
    case TcpState.FIN_WAIT_1:
      // Our FIN is not yet acknowledged (else we would be in FIN_WAIT_2): simultaneous close.
      setState(ctx, tcb, TcpState.CLOSING);
      break;
    case TcpState.FIN_WAIT_2:
      timeWait(ctx, tcb, now);
      break;
    case TcpState.TIME_WAIT:
      restartTimeWait(ctx, tcb, now);
      break;
    default:
      break;
  }
}

/**
 * Owe the peer an ACK. `now` true: at the end of this input batch (or at once outside one);
 * false: within the delayed-ACK time.
 */
function queueAck(ctx: TcpContext, tcb: Tcb, now: boolean): void {
  tcb.ackPending = true;
  if (now) tcb.ackNow = true;
  queueAckFlush(ctx, tcb);
}
