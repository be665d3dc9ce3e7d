/**
 * The connection's timers expiring. Each connection has ONE entry in the stack's timer heap
 * (created with the connection and re-armed, never re-created) and three deadlines behind it:
 *
 *  - `rtoAt`: the retransmission timer (RFC 6298) or, when the peer's window is closed and
 *    nothing is outstanding, the persist timer (RFC 9293 3.8.6.1); `retransmitKind` says which;
 *  - `delackAt`: the delayed-ACK timer (RFC 9293 3.8.6.3, 40 ms by default);
 *  - `keepAt`: keepalive (RFC 9293 3.8.4), or the TIME_WAIT (2*MSL) and orphaned FIN_WAIT_2
 *    lifetimes, which are mutually exclusive with keepalive.
 *
 * Re-arming is lazy: moving a deadline later (as every ACK does to the RTO) just writes the
 * field; the heap entry fires at the old time, finds nothing due, and re-arms for the
 * earliest deadline. So a busy connection touches the heap about once per RTO, not per ACK.
 * Setting deadlines and re-arming (`scheduleTcbTimer`) is in lifecycle.ts, below output,
 * which arms them; what happens when one expires is here, above output, which it uses.
 */

import { seqAdd, seqSub } from './seq.js';
import { RetransmitKind, TcpState, type Tcb } from './tcb.js';
import {
  armRto, emitSegment, scheduleReorderTimer, sendAck, sendKeepAlive, sendRstFor, sendSyn, sendTailLossProbe, sendWindowProbe, startPersist, tcpOutput,
} from './output.js';
import type { TcpContext } from './context.js';
import { closeTcb, flushSoon, scheduleTcbTimer } from './lifecycle.js';
import { onRackLosses, runRackDetection } from './ack-processing.js';
import { orphanOutOfResources, retryLimit } from './memory.js';

/** The heap timer fired: run whatever is due, then re-arm. */
export function onTcbTimer(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.state === TcpState.CLOSED) return;
  const now = ctx.stack.clock.now();
  if (tcb.delackAt <= now) {
    tcb.delackAt = Infinity;
    if (tcb.ackPending) {
      ctx.stats.delayedAcks++;
      sendAck(ctx, tcb, now);
    }
  }
  if (tcb.rtoAt <= now) {
    const kind = tcb.retransmitKind;
    tcb.rtoAt = Infinity;
    tcb.retransmitKind = RetransmitKind.NONE;
    if (kind !== RetransmitKind.NONE && orphanOutOfResources(ctx, tcb)) {
      // Linux's tcp_out_of_resources: the buffers are at the hard limit, and an orphan's data
      // will never be read by anyone here. Reset it and give its memory to the living.
      ctx.stats.orphansOutOfMemory++;
      tcb.sndNxt = tcb.sndMax;
      sendRstFor(ctx, tcb, now);
      closeTcb(ctx, tcb, null);
      flushSoon(ctx);
      return;
    }
    if (kind === RetransmitKind.RTO) retransmitTimeout(ctx, tcb, now);
    else if (kind === RetransmitKind.PERSIST) persistTimeout(ctx, tcb, now);
    else if (kind === RetransmitKind.REORDER) rackReorderTimeout(ctx, tcb, now);
    else if (kind === RetransmitKind.PROBE) {
      if (seqSub(tcb.sndMax, tcb.sndUna) > 0) sendTailLossProbe(ctx, tcb, now);
      else tcpOutput(ctx, tcb, now); // nothing outstanding: re-evaluate (may start the persist timer)
    }
  }
  if (tcb.state !== TcpState.CLOSED && tcb.paceAt <= now) {
    tcb.paceAt = Infinity; // pacing credit has accrued (pacing.ts)
    tcpOutput(ctx, tcb, now);
  }
  if (tcb.state !== TcpState.CLOSED && tcb.keepAt <= now) {
    tcb.keepAt = Infinity;
    keepTimeout(ctx, tcb, now);
  }
  if (tcb.state !== TcpState.CLOSED) scheduleTcbTimer(tcb);
  flushSoon(ctx);
}

/**
 * RFC 6298 (5.4)-(5.7) and RFC 5681 3.1: retransmit the earliest unacknowledged segment,
 * back off the timer, cut cwnd to one segment and go back to SND.UNA (go-back-N: what
 * follows is sent again as the window reopens; the receiver's out-of-order queue and SACK
 * make the duplicates cheap).
 */
function retransmitTimeout(ctx: TcpContext, tcb: Tcb, now: number): void {
  const st = tcb.state;
  const cfg = tcb.config;
  tcb.retries++;
  tcb.timeouts++;
  ctx.stats.timeouts++;
  if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
    const limit = st === TcpState.SYN_SENT || tcb.active ? cfg.synRetries : cfg.synAckRetries;
    if (tcb.retries > limit) {
      if (tcb.active) ctx.stats.attemptFails++;
      closeTcb(ctx, tcb, tcb.active ? 'ETIMEDOUT' : null);
      return;
    }
    tcb.rtt.backoff();
    tcb.routeAt = -Infinity; // the route may have changed
    sendSyn(ctx, tcb, now);
    return;
  }
  if (st === TcpState.TIME_WAIT || st === TcpState.FIN_WAIT_2 || tcb.sndUna === tcb.sndMax) return;
  if (tcb.retries > retryLimit(ctx, tcb)) {
    // RFC 9293 3.8.3 R2: give up and tell the user (an orphan sooner: tcp.orphanRetries).
    closeTcb(ctx, tcb, 'ETIMEDOUT');
    return;
  }
  const flight = seqSub(tcb.sndMax, tcb.sndUna);
  // RFC 5681: ssthresh from the flight on the first timeout only; cwnd = 1 SMSS (LW).
  tcb.cc.onRetransmitTimeout(now, flight, tcb.retries === 1);
  tcb.rtt.backoff();
  if (tcb.retries > 3) tcb.routeAt = -Infinity;
  // RFC 6582 section 3.2 step 1 after a timeout: recover = highest sequence number sent.
  tcb.recoveryPoint = tcb.sndMax;
  tcb.sackRecovery = false;
  tcb.dupAcks = 0;
  tcb.rtoRecovery = true;
  tcb.tlpInEpisode = false;
  const rack = tcb.rack;
  if (rack !== null) {
    // RFC 8985 6.3: everything outstanding and not SACKed is lost and is resent from SND.UNA
    // as cwnd allows, skipping what the receiver SACKed; RACK finds those resends lost in
    // turn. A repeated timeout may mean the receiver reneged (RFC 2018 8): forget its SACKs.
    if (tcb.retries > 1) tcb.scoreboard!.reset(tcb.sndUna);
    rack.markAllLost(tcb.retries > 1);
  } else {
    tcb.sndNxt = tcb.sndUna; // go-back-N
  }
  armRto(ctx, tcb, now, true);
  const before = tcb.segmentsOut;
  tcpOutput(ctx, tcb, now, true);
  if (tcb.segmentsOut === before) {
    // Nothing could go (the peer's window is zero): probe it instead (BSD does the same).
    if (tcb.sndWnd === 0) {
      tcb.retransmitKind = RetransmitKind.NONE;
      tcb.rtoAt = Infinity;
      sendWindowProbe(ctx, tcb, now);
      startPersist(ctx, tcb, now);
    } else {
      // Retransmit the first segment regardless of cwnd (RFC 6298 (5.4) is unconditional).
      const sb = tcb.sendBuffer;
      const len = sb.length < tcb.smss ? sb.length : tcb.smss;
      emitSegment(ctx, tcb, tcb.sndUna, 0x10, len, now);
      if (rack !== null) rack.onTransmit(tcb.sndUna, seqAdd(tcb.sndUna, len), now, tcb.smss);
      else tcb.sndNxt = seqAdd(tcb.sndUna, len);
    }
  }
}

/**
 * RACK's reordering timer (RFC 8985 6.3, RACK_reorder_timer_expired): segments that were
 * within the reordering window at the last ACK may be overdue now. Those judged lost are
 * resent (starting fast recovery if none is under way; within one, at least a segment goes
 * although no ACK brought PRR an allowance), then the timer or the RTO is re-armed.
 */
function rackReorderTimeout(ctx: TcpContext, tcb: Tcb, now: number): void {
  if (seqSub(tcb.sndMax, tcb.sndUna) <= 0) return;
  const timeout = runRackDetection(ctx, tcb, now);
  ctx.stats.rackReorderTimeouts++;
  const rack = tcb.rack!;
  if (rack.newlyLost > 0) {
    onRackLosses(ctx, tcb, now);
    if (tcb.sackRecovery && tcb.bbr === null) {
      // No ACK brought PRR an allowance: what it allows for nothing delivered, at least a segment.
      const prr = tcb.prr;
      prr.onAck(0, rack.inFlight(tcb.sndUna, tcb.sndMax), tcb.cc.ssthresh, tcb.smss);
      if (prr.allowance < tcb.smss) prr.allowance = tcb.smss;
    }
  }
  if (timeout > 0) scheduleReorderTimer(ctx, tcb, now, timeout);
  else armRto(ctx, tcb, now, true);
  tcpOutput(ctx, tcb, now);
}

/** Persist timer expiry: probe the window, back off (RFC 9293 3.8.6.1; RFC 1122 4.2.2.17). */
function persistTimeout(ctx: TcpContext, tcb: Tcb, now: number): void {
  const st = tcb.state;
  if (st === TcpState.CLOSED || st === TcpState.TIME_WAIT) return;
  if (tcb.unsentBytes === 0 && !(tcb.finQueued && !tcb.finSent)) return;
  tcb.retries++;
  if (tcb.orphaned && tcb.retries > retryLimit(ctx, tcb)) {
    // A peer that keeps its window shut forever may hold a connection open as long as it
    // answers (RFC 1122 4.2.2.17); only an orphaned one is given up, as Linux does, after
    // tcp.orphanRetries probes.
    closeTcb(ctx, tcb, 'ETIMEDOUT');
    return;
  }
  if (tcb.sndWnd > 0) {
    // The window is open but too small for silly-window avoidance: send what fits.
    tcpOutput(ctx, tcb, now, true);
  } else {
    ctx.stats.windowProbes++;
    sendWindowProbe(ctx, tcb, now);
    if (tcb.persistShift < 16) tcb.persistShift++;
  }
  if (tcb.retransmitKind === RetransmitKind.NONE && tcb.unsentBytes > 0) startPersist(ctx, tcb, now);
}

/** Keepalive, TIME_WAIT end, orphaned FIN_WAIT_2 end. */
function keepTimeout(ctx: TcpContext, tcb: Tcb, now: number): void {
  const st = tcb.state;
  if (st === TcpState.TIME_WAIT || st === TcpState.FIN_WAIT_2) {
    closeTcb(ctx, tcb, null);
    return;
  }
  if (!tcb.keepAlive) return;
  const cfg = tcb.config;
  if (st !== TcpState.ESTABLISHED && st !== TcpState.CLOSE_WAIT) return;
  const idle = now - tcb.lastRecvAt;
  if (idle < tcb.keepAliveIdleMs || tcb.sndMax !== tcb.sndUna) {
    // Not idle (or data outstanding, which the RTO watches): check again later.
    tcb.keepAliveProbesSent = 0;
    const base = tcb.lastRecvAt > now - tcb.keepAliveIdleMs ? tcb.lastRecvAt : now;
    tcb.keepAt = base + tcb.keepAliveIdleMs;
    return;
  }
  if (tcb.keepAliveProbesSent >= cfg.keepAliveProbes) {
    closeTcb(ctx, tcb, 'ETIMEDOUT');
    return;
  }
  tcb.keepAliveProbesSent++;
  ctx.stats.keepAliveProbes++;
  sendKeepAlive(ctx, tcb, now);
  tcb.keepAt = now + cfg.keepAliveIntervalMs;
}
