/**
 * TCP input: RFC 9293 section 3.10.7 "SEGMENT ARRIVES", state by state, with
 *  - RFC 5961 (blind in-window attacks): RST only at exactly RCV.NXT, challenge ACKs for
 *    other in-window RSTs and for SYNs in synchronized states, ACK-value validation;
 *  - RFC 7323: PAWS, TS.Recent, RTT from the timestamp echo, window scaling;
 *  - RFC 5681 / RFC 6582 / RFC 6675: duplicate ACKs, fast retransmit, NewReno and SACK
 *    recovery; RFC 2018 SACK blocks fed to the scoreboard;
 *  - RFC 9293 3.8.6.3 / RFC 5681 4.2 ACK policy: in-order data ACKed at the end of the input
 *    batch once two full segments are in (or by the 40 ms delayed-ACK timer), out-of-order
 *    data and gap fills ACKed at once.
 *
 * The parsed segment is a reusable struct (`Segment`): nothing is allocated per segment.
 * Malformed or unacceptable segments are counted (stack.counters.drop) and dropped.
 */

import { TcpFlag, TcpSegment } from '../../wire/tcp.js';
import { TcpOptions } from '../../wire/tcp-options.js';
import type { SackScoreboard } from './sack.js';
import type { IpAddress } from '../../stack/network.js';
import { seqAdd, seqGeq, seqGt, seqInRange, seqInRangeOpenClosed, seqLeq, seqLt, seqSub } from './seq.js';
import { RetransmitKind, TcbEvent, TcpState, type Tcb } from './tcb.js';
import {
  armRto, resendFirstHole, retransmitRange, sendAck, sendRstFor, sendRstRaw, sendSyn, stopRetransmitTimer, tcpOutput,
} from './output.js';
import type { Tcp, Listener } from './tcp.js';

const { SYN, ACK, FIN, RST } = TcpFlag;

/** RFC 7323 5.5: TS.Recent older than 24 days is no longer valid for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** One received segment, parsed once into plain fields. Reused for every segment. */
export class Segment {
  readonly view = new TcpSegment();
  readonly opts = new TcpOptions();
  buf: Uint8Array = new Uint8Array(0);
  src: IpAddress = 0;
  dst: IpAddress = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The raw (unscaled) window field. */
  wnd = 0;
  dataOffset = 0;
  dataLength = 0;

  /** SEG.LEN: data plus one for SYN and one for FIN. */
  get segLen(): number {
    return this.dataLength + ((this.flags & SYN) !== 0 ? 1 : 0) + ((this.flags & FIN) !== 0 ? 1 : 0);
  }
}

// ------------------------------------------------------------------------------ CLOSED

/**
 * RFC 9293 3.10.7.1, no connection: answer anything but a RST with a RST.
 * If the ACK bit is off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; if on: <SEQ=SEG.ACK><CTL=RST>.
 */
export function closedInput(tcp: Tcp, seg: Segment): void {
  if ((seg.flags & RST) !== 0) {
    tcp.stack.counters.drop('tcp: rst-no-connection');
    return;
  }
  tcp.stack.counters.drop('tcp: no-connection');
  if ((seg.flags & ACK) === 0) {
    sendRstRaw(tcp, seg.dst, seg.src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, seg.segLen), true);
  } else {
    sendRstRaw(tcp, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
  }
}

// ------------------------------------------------------------------------------ LISTEN

/** RFC 9293 3.10.7.2. A SYN makes a child block in SYN_RECEIVED and a SYN-ACK. */
export function listenInput(tcp: Tcp, listener: Listener, seg: Segment, now: number): void {
  const f = seg.flags;
  const counters = tcp.stack.counters;
  if ((f & RST) !== 0) {
    counters.drop('tcp: rst-to-listener');
    return;
  }
  if ((f & ACK) !== 0) {
    if ((f & SYN) === 0 && tcp.trySynCookieAck(listener, seg, now)) return;
    // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state."
    counters.drop('tcp: ack-to-listener');
    sendRstRaw(tcp, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
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
  tcp.passiveOpen(listener, seg, now);
}

// ------------------------------------------------------------------------------ SYN_SENT

/** RFC 9293 3.10.7.3. */
export function synSentInput(tcp: Tcp, tcb: Tcb, seg: Segment, now: number): void {
  const f = seg.flags;
  const counters = tcp.stack.counters;
  // First: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT.
  if ((f & ACK) !== 0 && !seqInRangeOpenClosed(seg.ack, tcb.iss, tcb.sndMax)) {
    counters.drop('tcp: bad-ack-in-syn-sent');
    if ((f & RST) === 0) sendRstRaw(tcp, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
    return;
  }
  // Second: a RST is acceptable only with an acceptable ACK (RFC 5961 3.2 for SYN-SENT).
  if ((f & RST) !== 0) {
    if ((f & ACK) !== 0) {
      tcp.stats.attemptFails++;
      tcp.closeTcb(tcb, 'ECONNREFUSED');
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
  const rt = tcb.route;
  tcb.setMss(o.mss >= 0 ? o.mss : 536, rt !== null ? tcp.mssFor(rt) : tcb.rcvMss);
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
    tcp.setState(tcb, tcb.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED);
    tcb.lastSendAt = now;
    tcb.quickAcks = tcb.config.quickAckSegments;
    tcb.recoveryPoint = tcb.iss;
    stopRetransmitTimer(tcb);
    tcp.scheduleTimer(tcb);
    tcp.stats.activeOpensEstablished++;
    tcp.notify(tcb, TcbEvent.CONNECT);
    // "Form an ACK segment and send it"; queued data (and a queued FIN) may go with it.
    tcb.ackPending = true;
    tcb.ackNow = true;
    if (seg.dataLength > 0 || (f & FIN) !== 0) {
      // Data in the SYN-ACK starts at SEG.SEQ+1 = RCV.NXT: continue at the sixth step.
      processText(tcp, tcb, seg, seqAdd(seg.seq, 1), now);
    }
    tcpOutput(tcp, tcb, now);
    if (tcb.ackPending) sendAck(tcp, tcb, now);
    return;
  }
  // Simultaneous open (RFC 9293 figure 7): SYN_RECEIVED, send SYN,ACK.
  tcp.setState(tcb, TcpState.SYN_RECEIVED);
  tcb.retries = 0;
  sendSyn(tcp, tcb, now);
}

// ------------------------------------------------------------------------------ synchronized

/** RFC 9293 3.10.7.4: SYN_RECEIVED and every later state. */
export function otherInput(tcp: Tcp, tcb: Tcb, seg: Segment, now: number): void {
  const counters = tcp.stack.counters;
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
      tcp.stats.pawsRejected++;
      queueAck(tcp, tcb, true);
      return;
    }
  }

  if (tcb.state === TcpState.SYN_RECEIVED && (f & SYN) !== 0) {
    if ((f & ACK) === 0 && seq === tcb.irs) {
      // The peer retransmitted its SYN: our SYN-ACK was lost. Send it again.
      sendSyn(tcp, tcb, now);
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
        if (tcb.state === TcpState.TIME_WAIT && (f & FIN) !== 0) tcp.restartTimeWait(tcb, now);
        queueAck(tcp, tcb, true);
      } else {
        counters.drop('tcp: rst-out-of-window');
      }
      return;
    }
    // Process the control part only: pretend there is no data or FIN.
    if (dataLen > 0 || (f & FIN) !== 0) {
      counters.drop('tcp: zero-window-data');
      queueAck(tcp, tcb, true);
    }
    f &= ~FIN;
    processSegmentControl(tcp, tcb, seg, f, seq, 0, now);
    return;
  }
  processSegmentControl(tcp, tcb, seg, f, seq, dataLen, now);
}

/** Steps two to eight for an acceptable segment. `dataLen` 0 means "ignore the data". */
function processSegmentControl(tcp: Tcp, tcb: Tcb, seg: Segment, f: number, seq: number, dataLen: number, now: number): void {
  const counters = tcp.stack.counters;
  // Second: RST (RFC 5961 3.2). Only exactly RCV.NXT resets; elsewhere in the window it gets
  // a challenge ACK, so a blind attacker must guess the exact number.
  if ((f & RST) !== 0) {
    if (seq !== tcb.rcvNxt) {
      counters.drop('tcp: rst-challenged');
      challengeAck(tcp, tcb, now);
      return;
    }
    resetReceived(tcp, tcb);
    return;
  }
  // Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK, whatever its seq.
  if ((f & SYN) !== 0) {
    if (tcb.state === TcpState.SYN_RECEIVED && !tcb.active) {
      // RFC 9293: "If the connection was initiated with a passive OPEN, then return this
      // connection to the LISTEN state": the child block goes away.
      counters.drop('tcp: syn-in-syn-received');
      tcp.closeTcb(tcb, null);
      return;
    }
    counters.drop('tcp: syn-challenged');
    challengeAck(tcp, tcb, now);
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
      sendRstRaw(tcp, tcb.localAddr, tcb.remoteAddr, tcb.localPort, tcb.remotePort, ack, 0, false);
      return;
    }
    if (!tcp.handshakeComplete(tcb, seg, now)) return; // accept queue full: the ACK is dropped
  }
  // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT] (SND.MAX here).
  if (seqGt(ack, tcb.sndMax)) {
    counters.drop('tcp: ack-of-unsent');
    challengeAck(tcp, tcb, now);
    return;
  }
  const maxWnd = tcb.maxSndWnd > 65535 ? tcb.maxSndWnd : 65535;
  if (seqLt(ack, seqAdd(tcb.sndUna, -maxWnd))) {
    counters.drop('tcp: ack-too-old');
    challengeAck(tcp, tcb, now);
    return;
  }
  // TS.Recent (RFC 7323 4.3): from a segment that is acceptable and covers Last.ACK.sent.
  const o = seg.opts;
  if (tcb.tsOk && o.hasTimestamps && seqLeq(seq, tcb.lastAckSent) && seqGeq(o.tsVal, tcb.tsRecent)) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAt = now;
  }
  processAck(tcp, tcb, seg, seq, dataLen, f, now);
  const st = tcb.state;
  if (st === TcpState.CLOSED) return;
  if (st === TcpState.FIN_WAIT_1 && tcb.finAcked) {
    tcp.setState(tcb, TcpState.FIN_WAIT_2);
    if (tcb.orphaned) tcp.armFinWait2(tcb, now);
  } else if (st === TcpState.CLOSING) {
    // "If the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore
    // the segment": there is no text to take in CLOSING anyway (processText drops it), but the
    // ACK may have opened the window for data still queued before our FIN, so output runs.
    if (tcb.finAcked) tcp.enterTimeWait(tcb, now);
  } else if (st === TcpState.LAST_ACK) {
    if (tcb.finAcked) {
      tcp.closeTcb(tcb, null);
      return;
    }
  }
  // Sixth (URG) is not supported beyond reading urgent data inline (RFC 6093 advises so).
  // Seventh and eighth: text and FIN.
  if (dataLen > 0 || (f & FIN) !== 0) processText(tcp, tcb, seg, seq, now, dataLen, f);
  if (tcb.state !== TcpState.CLOSED) tcpOutput(tcp, tcb, now);
}

/** RFC 9293 3.10.7.4 second step, when the RST is exactly at RCV.NXT. */
function resetReceived(tcp: Tcp, tcb: Tcb): void {
  const st = tcb.state;
  tcp.stats.estabResets += st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT ? 1 : 0;
  if (st === TcpState.SYN_RECEIVED) {
    // Passive: back to LISTEN (the child goes away). Active (simultaneous open): refused.
    tcp.closeTcb(tcb, tcb.active ? 'ECONNREFUSED' : null);
    return;
  }
  if (st === TcpState.CLOSING || st === TcpState.LAST_ACK || st === TcpState.TIME_WAIT) {
    tcp.closeTcb(tcb, null);
    return;
  }
  // ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT: "connection reset".
  tcp.closeTcb(tcb, 'ECONNRESET');
}

/** RFC 5961 section 7: challenge ACKs are rate-limited across all connections. */
function challengeAck(tcp: Tcp, tcb: Tcb, now: number): void {
  if (!tcp.allowChallengeAck(now)) {
    tcp.stack.counters.drop('tcp: challenge-ack-rate-limited');
    return;
  }
  tcp.stats.challengeAcks++;
  sendAck(tcp, tcb, now);
}

/** Take an RTT sample from an ACK of new data: the TS echo (RFC 7323 4.1) or Karn timing. */
function takeRttSample(tcb: Tcb, seg: Segment, now: number): void {
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
function processAck(tcp: Tcp, tcb: Tcb, seg: Segment, seq: number, dataLen: number, f: number, now: number): void {
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
      tcp.notify(tcb, TcbEvent.WRITABLE);
    }
    tcb.sndUna = ack;
    if (seqLt(tcb.sndNxt, ack)) tcb.sndNxt = ack; // past a zero-window probe, or go-back-N
    takeRttSample(tcb, seg, now);
    tcb.retries = 0;
    tcb.persistShift = 0;
    tcb.limitedTransmit = 0;
    tcb.tlpSent = false;
    if (sb !== null) newlySacked = updateScoreboard(tcp, sb, ack, tcb.sndMax, o);
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
        if (sb !== null && sb.isLost(tcb.sndUna, tcb.smss)) enterFastRecovery(tcp, tcb, now);
      } else if (!tcb.sackRecovery) {
        // NewReno partial ACK (RFC 6582 3.2 step 5): retransmit the next hole, deflate.
        cc.onPartialAck(ackedSpace);
        retransmitRange(tcp, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
        armRto(tcp, tcb, now, true);
      }
    } else {
      tcb.dupAcks = 0;
      cc.onAck(ackedSpace, tcb.rtt.hasSample ? tcb.rtt.srtt : 0, now, tcb.cwndLimited);
    }
    if (tcb.rtoRecovery && seqGeq(ack, tcb.sndMax)) tcb.rtoRecovery = false;
    // RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it.
    if (tcb.sndUna === tcb.sndMax) {
      const k = tcb.retransmitKind;
      if (k === RetransmitKind.RTO || k === RetransmitKind.PROBE) stopRetransmitTimer(tcb);
    } else {
      armRto(tcp, tcb, now, true);
    }
  } else if (ack === tcb.sndUna) {
    if (sb !== null && o.sackCount > 0) newlySacked = updateScoreboard(tcp, sb, ack, tcb.sndMax, o);
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
      onDuplicateAck(tcp, tcb, now);
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
function onDuplicateAck(tcp: Tcp, tcb: Tcb, now: number): void {
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
      resendFirstHole(tcp, tcb, now);
    }
    return;
  }
  enterFastRecovery(tcp, tcb, now);
}

function enterFastRecovery(tcp: Tcp, tcb: Tcb, now: number): void {
  tcb.recoveryPoint = tcb.sndMax;
  tcb.fastRetransmits++;
  tcp.stats.fastRetransmits++;
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
    if (retransmitRange(tcp, tcb, tcb.sndUna, end, now) > 0) sb.markRetransmitted(end);
  } else {
    // RFC 6582 3.2 step 2: ssthresh, cwnd = ssthresh + 3*SMSS, retransmit the first segment.
    tcb.cc.enterRecovery(now, flight, true);
    tcb.sackRecovery = false;
    retransmitRange(tcp, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
  }
}

/** Feed the segment's SACK blocks to the scoreboard, counting ranges its bound made it forget. */
function updateScoreboard(tcp: Tcp, sb: SackScoreboard, ack: number, sndMax: number, o: TcpOptions): number {
  const evicted = sb.evictedRanges;
  const n = sb.update(ack, sndMax, o.sackBlocks, o.sackCount);
  if (sb.evictedRanges !== evicted) tcp.stats.sackRangesEvicted += sb.evictedRanges - evicted;
  return n;
}

/**
 * Seventh and eighth steps: take the text into the receive buffer (trimmed to the window by
 * RecvBuffer.insert, out-of-order data queued and SACKed) and process a FIN in order.
 * `seq` is the sequence number of the first data byte.
 */
function processText(tcp: Tcp, tcb: Tcb, seg: Segment, seq: number, now: number, dataLen = seg.dataLength, f = seg.flags): void {
  const st = tcb.state;
  const takesData = st === TcpState.ESTABLISHED || st === TcpState.FIN_WAIT_1 || st === TcpState.FIN_WAIT_2;
  if (dataLen > 0 && takesData) {
    if (tcb.orphaned) {
      // RFC 1122 4.2.2.13 / RFC 9293 3.10.4: data for a socket its user has closed is lost;
      // say so with a RST instead of letting the peer think it was read.
      tcp.stack.counters.drop('tcp: data-after-close');
      sendRstFor(tcp, tcb, now);
      tcp.closeTcb(tcb, null);
      return;
    }
    const rb = tcb.recvBuffer;
    const hadHoles = rb.oooRanges > 0;
    const offset = seqSub(seq, tcb.rcvNxt);
    const dropped = rb.droppedSegments;
    const trimmed = rb.trimmedBytes;
    const advanced = rb.insert(offset, seg.buf, seg.dataOffset, dataLen);
    // The receive buffer's bounds, counted where they cost data: the out-of-order queue was
    // full (tcp.maxOooRanges / maxOooBytes), or bytes lay beyond the window it allows.
    if (rb.droppedSegments !== dropped) tcp.stack.counters.drop('tcp: ooo-queue-full');
    if (rb.trimmedBytes !== trimmed) tcp.stack.counters.drop('tcp: beyond-window');
    if (advanced > 0) {
      tcb.rcvNxt = seqAdd(tcb.rcvNxt, advanced);
      tcb.bytesReceived += advanced;
      tcp.notify(tcb, TcbEvent.READABLE);
    }
    if (offset !== 0 || hadHoles || rb.oooRanges > 0 || advanced < dataLen) {
      // Out of order, a duplicate, or filling a gap: ACK at once (RFC 5681 4.2, RFC 9293
      // 3.10.7.4 "send an acknowledgment ... for out-of-order segments"), with SACK blocks.
      // Sent now rather than at the end of the batch: the sender counts duplicate ACKs.
      tcb.ackPending = true;
      sendAck(tcp, tcb, now);
    } else {
      tcb.unackedBytes += advanced;
      // RFC 9293 3.8.6.3 / RFC 5681 4.2: ACK at least every second full-sized segment.
      const full = tcb.rcvMss - tcb.tsSpace;
      if (tcb.quickAcks > 0) {
        tcb.quickAcks--;
        queueAck(tcp, tcb, true);
      } else {
        queueAck(tcp, tcb, tcb.unackedBytes >= 2 * full);
      }
      if (tcb.unackedBytes >= tcb.config.ackCoalesceBytes) sendAck(tcp, tcb, now);
    }
  } else if (dataLen > 0) {
    // CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the FIN was received, no new text can follow.
    tcp.stack.counters.drop('tcp: data-after-fin');
  }
  if (tcb.state === TcpState.CLOSED) return;
  if ((f & FIN) !== 0) {
    const finSeq = seqAdd(seq, dataLen);
    if (finSeq === tcb.rcvNxt && !tcb.finReceived) {
      finReceived(tcp, tcb, now);
    } else if (seqGt(finSeq, tcb.rcvNxt) && !tcb.finReceived) {
      // After a hole: remember it until the data before it arrives.
      tcb.pendingFin = true;
      tcb.pendingFinSeq = finSeq;
    } else if (tcb.finReceived) {
      // A retransmitted FIN: ACK again (in TIME_WAIT also restart the 2*MSL timer).
      if (tcb.state === TcpState.TIME_WAIT) tcp.restartTimeWait(tcb, now);
      queueAck(tcp, tcb, true);
    }
  }
  if (tcb.pendingFin && !tcb.finReceived && tcb.pendingFinSeq === tcb.rcvNxt) finReceived(tcp, tcb, now);
}

/** Eighth step: an in-order FIN. */
function finReceived(tcp: Tcp, tcb: Tcb, now: number): void {
  tcb.rcvNxt = seqAdd(tcb.rcvNxt, 1);
  tcb.finReceived = true;
  tcb.pendingFin = false;
  queueAck(tcp, tcb, true);
  tcp.notify(tcb, TcbEvent.READABLE);
  switch (tcb.state) {
    case TcpState.SYN_RECEIVED:
    case TcpState.ESTABLISHED:
      tcp.setState(tcb, TcpState.CLOSE_WAIT);
      break;
    case TcpState.FIN_WAIT_1:
      // Our FIN is not yet acknowledged (else we would be in FIN_WAIT_2): simultaneous close.
      tcp.setState(tcb, TcpState.CLOSING);
      break;
    case TcpState.FIN_WAIT_2:
      tcp.enterTimeWait(tcb, now);
      break;
    case TcpState.TIME_WAIT:
      tcp.restartTimeWait(tcb, now);
      break;
    default:
      break;
  }
}

/**
 * Owe the peer an ACK. `now` true: at the end of this input batch (or at once outside one);
 * false: within the delayed-ACK time.
 */
export function queueAck(tcp: Tcp, tcb: Tcb, now: boolean): void {
  tcb.ackPending = true;
  if (now) tcb.ackNow = true;
  tcp.queueAckFlush(tcb);
}

