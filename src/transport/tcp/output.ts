/**
 * TCP output: what to send and how it is put on the wire.
 *
 * Every segment is built in place in `stack.txBuffer` at TX_HEADROOM: the options are written
 * after the 20-byte header, the payload is copied once from the send buffer right after them
 * (SendBuffer.copyOut), the header and checksum go in front, and `stack.output` adds the
 * network and link headers in the headroom and hands the frame to the device synchronously.
 * Nothing here allocates per segment: the option, header and IP-option structs are owned by
 * the TcpContext and reused.
 *
 * `tcpOutput` decides how much new data may go now (RFC 9293 3.8.6.2.1 sender silly-window
 * avoidance, RFC 1122 4.2.3.4 / RFC 9293 3.7.4 Nagle, RFC 5681 congestion window, the
 * peer's window) and drives RFC 6675 SACK-based loss recovery; retransmissions for NewReno
 * (RFC 6582) and the retransmission timer (RFC 6298) go through `retransmitRange`.
 */

import { TX_HEADROOM, type IpAddress } from '../../stack/network.js';
import { emitTcpWith, TcpFlag, TCP_CHECKSUM_OFFSET, TCP_MIN_HEADER, TCP_PROTOCOL } from '../../wire/tcp.js';
import { emitTcpOptions } from '../../wire/tcp-options.js';
import { seqAdd, seqGt, seqLt, seqSub, seqMax } from './seq.js';
import type { SeqRange } from './sack.js';
import { RetransmitKind, TcpState, type Tcb } from './tcb.js';
import type { TcpContext } from './context.js';
import { scheduleTcbTimer } from './lifecycle.js';
import { receiveSpace } from './memory.js';
import { ecnOutput } from './ecn.js';
import { paceAllowance, pacedLength, paceSpend, paceWait, rateOnSend } from './pacing.js';

const { SYN, ACK, FIN, RST, PSH, CWR } = TcpFlag;

/** Route lookups are cached per connection and refreshed at least this often (ms). */
const ROUTE_REFRESH_MS = 1000;

/** The route for a connection's peer, cached; null when there is none. */
function tcbRoute(ctx: TcpContext, tcb: Tcb, now: number) {
  if (tcb.route === null || now - tcb.routeAt > ROUTE_REFRESH_MS) {
    tcb.route = tcb.net!.route(tcb.remoteAddr);
    tcb.routeAt = now;
  }
  return tcb.route;
}

/**
 * Follow the network layer's path MTU cache (stack/path-mtu.ts): when some destination's path
 * MTU changed, size this connection's segments for its own path again, smaller after a
 * Fragmentation Needed / Packet Too Big about any connection to the same host, larger again
 * once that entry expires (as Linux's tcp_current_mss follows the route's MTU). Returns true
 * when the segment size shrank.
 */
export function syncPathMtu(ctx: TcpContext, tcb: Tcb, now: number): boolean {
  const net = tcb.net!;
  tcb.pmtuGeneration = net.pathMtuGeneration;
  const rt = tcbRoute(ctx, tcb, now);
  if (rt === null) return false;
  const before = tcb.maxSeg;
  const fromPath = net.pathMtu(tcb.remoteAddr, rt) - net.headerLength - TCP_MIN_HEADER;
  const target = tcb.peerMss < fromPath ? tcb.peerMss : fromPath;
  if (target === before) return false;
  tcb.setMss(tcb.peerMss, fromPath);
  if (tcb.maxSeg < before) ctx.stats.pmtuShrinks++;
  return tcb.maxSeg < before;
}

/**
 * The window field for a segment we send now (RFC 9293 3.8.6.2.2 receiver silly-window
 * avoidance, RFC 7323 2.3 scaling), advancing RCV.ADV (the advertised right edge).
 *
 * The right edge does not move left (RFC 9293 3.8.6: shrinking the window is strongly
 * discouraged), except by less than 2^shift when scaling rounds. It moves right only when
 * the buffer can take at least
 * min(RCV.BUFF/2, MSS) more than was last offered; otherwise the old edge is repeated, so a
 * slowly reading application does not make the peer send tiny segments.
 */
function windowField(ctx: TcpContext, tcb: Tcb): number {
  const rb = tcb.recvBuffer;
  const free = receiveSpace(ctx, tcb);
  let cur = seqSub(tcb.rcvAdv, tcb.rcvNxt);
  if (cur < 0) cur = 0;
  const cap = rb.capacity;
  const threshold = cap >> 1 < tcb.rcvMss ? cap >> 1 : tcb.rcvMss;
  const ws = tcb.rcvWscale;
  let field: number;
  if (free >= cur + threshold) {
    field = free >>> ws; // round down: never offer more than fits
  } else {
    // Keep the old right edge. Rounded up so scaling does not make it look like it shrank,
    // but never beyond the free space: repeated round-ups would creep the edge past what the
    // buffer holds, and the peer would retransmit into a full buffer until the app reads.
    // (RFC 7323 2.4 accepts an edge that appears to shrink by less than 2^shift.)
    field = (cur + (1 << ws) - 1) >>> ws;
    if (field << ws > free) field = free >>> ws;
  }
  if (field > 0xffff) field = 0xffff;
  tcb.rcvAdv = seqMax(tcb.rcvAdv, seqAdd(tcb.rcvNxt, field << ws));
  return field;
}

/** Data bytes from which a segment's checksum is left to a device with checksum offload. */
const PARTIAL_CHECKSUM_MIN_DATA = 1024;

/**
 * Build and send one segment of `tcb`: `dataLen` bytes of the send buffer starting at
 * sequence number `seq` (0 for none). Adds the options the segment needs (SYN options,
 * timestamps, SACK blocks) and the current window. Returns the data bytes actually sent
 * (less than asked only when SACK blocks leave less room; a FIN is then not sent either),
 * or -1 if there is no route.
 */
export function emitSegment(ctx: TcpContext, tcb: Tcb, seq: number, flags: number, dataLen: number, now: number): number {
  const rt = tcbRoute(ctx, tcb, now);
  if (rt === null) {
    ctx.stack.counters.drop('tcp: no-route');
    return -1;
  }
  const buf = ctx.stack.txBuffer;
  const o = TX_HEADROOM;
  const out = ctx.optsOut;
  out.mss = -1;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.timestamps = false;
  out.sackCount = 0;
  const syn = (flags & SYN) !== 0;
  if (syn) {
    // RFC 9293 3.7.1 MSS; RFC 7323 WS and TS; RFC 2018 SACK-permitted. In a SYN-ACK only
    // what the peer offered (synWs/synSack/synTs were set from its SYN).
    out.mss = tcb.rcvMss;
    if (tcb.synWs) out.windowScale = tcb.rcvWscale;
    out.sackPermitted = tcb.synSack;
    if (tcb.synTs) {
      out.timestamps = true;
      out.tsVal = tcb.tsNow(now);
      out.tsEcr = (flags & ACK) !== 0 ? tcb.tsRecent : 0;
    }
  } else if ((flags & RST) === 0) {
    if (tcb.tsOk) {
      out.timestamps = true;
      out.tsVal = tcb.tsNow(now);
      out.tsEcr = tcb.tsRecent;
    }
    // RFC 2018 section 4: SACK blocks in every ACK while out-of-order data is held.
    if (tcb.sackOk && (flags & ACK) !== 0) {
      const rb = tcb.recvBuffer;
      if (rb.oooRanges > 0 || rb.hasDsack) out.sackCount = rb.sackBlocks(tcb.rcvNxt, out.sackBlocks, tcb.tsOk ? 3 : 4);
    }
  }
  const optLen = emitTcpOptions(buf, o + TCP_MIN_HEADER, out);
  flags = ecnOutput(ctx, tcb, seq, flags, dataLen); // RFC 3168: ECE/CWR, and ECT(0) in ipOpts.tos
  let gsoSize = 0;
  if (dataLen > 0) {
    // RFC 6691: the MSS counts data only; options come out of the same budget.
    const room = tcb.maxSeg - optLen;
    if (dataLen > room) {
      // A TSO device takes whole runs of `room`-sized pieces in one segment (up to a full
      // datagram) and cuts them up with these same headers and options: one build, one
      // write and no checksum pass here for up to ~45 wire segments. Not a SYN, nor a
      // segment carrying CWR (RFC 3168: every piece would carry the flag).
      const tsoMax = syn || (flags & CWR) !== 0 ? 0 : tcb.net!.tsoLimit(rt);
      const pieces = tsoMax > 0 ? Math.floor((tsoMax - tcb.net!.headerLength - TCP_MIN_HEADER - optLen) / room) : 1;
      const most = pieces * room;
      if (dataLen > most) {
        dataLen = most;
        flags &= ~(FIN | PSH);
      }
      if (dataLen > room) gsoSize = room;
    }
    tcb.sendBuffer.copyOut(seqSub(seq, tcb.sndBufSeq), buf, o + TCP_MIN_HEADER + optLen, dataLen);
  }
  let wnd: number;
  if (syn) {
    // RFC 7323 2.2: the window in a SYN or SYN-ACK is never scaled.
    wnd = receiveSpace(ctx, tcb);
    if (wnd > 0xffff) wnd = 0xffff;
    tcb.synWindow = wnd;
    if ((flags & ACK) !== 0) tcb.rcvAdv = seqAdd(tcb.rcvNxt, wnd);
  } else if ((flags & RST) !== 0 && (flags & ACK) === 0) {
    wnd = 0;
  } else {
    wnd = windowField(ctx, tcb);
  }
  const repr = ctx.reprOut;
  repr.srcPort = tcb.localPort;
  repr.dstPort = tcb.remotePort;
  repr.seq = seq;
  repr.ack = (flags & ACK) !== 0 ? tcb.rcvNxt : 0;
  repr.flags = flags;
  repr.window = wnd;
  repr.urgentPointer = 0;
  const segLen = TCP_MIN_HEADER + optLen + dataLen;
  // Left to the device only where it saves real work: control segments and small data keep a
  // complete checksum, so captures and the debug log of handshakes and ACKs verify as they are.
  // A segment the device is to cut up (gsoSize) always goes partial, however short: the device
  // only cuts segments whose checksum it completes, and would send the rest whole, larger
  // than the MSS (with a tiny MSS, super-segments of a few hundred bytes are common). tsoLimit
  // is 0 on a device without checksum offload, so gsoSize > 0 implies it.
  const net = tcb.net!;
  const partial = (gsoSize > 0 || dataLen >= PARTIAL_CHECKSUM_MIN_DATA) && net.txChecksumOffload(rt);
  emitTcpWith(buf, o, repr, optLen, dataLen, net.pseudoHeaderSum(tcb.localAddr, tcb.remoteAddr, TCP_PROTOCOL, TCP_MIN_HEADER + optLen + dataLen), partial);
  const ip = ctx.ipOpts;
  ip.src = tcb.localAddr;
  ip.dst = tcb.remoteAddr;
  ip.partialChecksumAt = partial ? TCP_CHECKSUM_OFFSET : 0;
  ip.gsoSize = gsoSize;
  ip.dontFragment = !tcb.pmtuLocked;
  ctx.stack.counters.tcpOut++;
  tcb.segmentsOut++;
  net.output(ip, buf, o, segLen, rt);
  if ((flags & ACK) !== 0) {
    // Any segment carrying an ACK settles the ACK we owed (RFC 9293 3.8.6.3 piggybacking).
    tcb.ackPending = false;
    tcb.ackNow = false;
    tcb.delackAt = Infinity;
    tcb.unackedBytes = 0;
    tcb.lastAckSent = tcb.rcvNxt;
  }
  return dataLen;
}

/**
 * A bare ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> — except while retransmitting after a
 * timeout, when SND.NXT has been pulled back below what the peer already holds: then the
 * sequence number is SND.MAX (as BSD does), or the peer would find the ACK's sequence number
 * outside its window, drop it unread and answer with an ACK of its own that we would drop
 * for the same reason.
 */
export function sendAck(ctx: TcpContext, tcb: Tcb, now: number): void {
  emitSegment(ctx, tcb, tcb.rtoRecovery ? tcb.sndMax : tcb.sndNxt, ACK, 0, now);
}

/**
 * Our SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED), first or retransmitted: <SEQ=ISS>, with the
 * options. Arms the retransmission timer if it is not running.
 */
export function sendSyn(ctx: TcpContext, tcb: Tcb, now: number): void {
  const flags = tcb.state === TcpState.SYN_SENT ? SYN : SYN | ACK;
  // A retransmitted SYN no longer asks for ECN: some paths drop ECN-setup SYNs (Linux's
  // tcp_ecn_fallback). A SYN-ACK keeps agreeing: the peer asked.
  if (tcb.retries > 0 && flags === SYN) tcb.synEcn = false;
  emitSegment(ctx, tcb, tcb.iss, flags, 0, now);
  tcb.sndNxt = seqAdd(tcb.iss, 1);
  if (seqGt(tcb.sndNxt, tcb.sndMax)) tcb.sndMax = tcb.sndNxt;
  if (tcb.retries === 0 && !tcb.tsOk) tcb.rtt.startTiming(tcb.sndNxt, now);
  else tcb.rtt.onRetransmit();
  armRto(ctx, tcb, now, false);
}

/**
 * A RST (or RST,ACK) that belongs to no connection block (RFC 9293 3.10.7.1, 3.5.2):
 * to a closed port, or in answer to an unacceptable ACK in LISTEN/SYN_SENT/SYN_RECEIVED.
 */
export function sendRstRaw(
  ctx: TcpContext, src: IpAddress, dst: IpAddress, srcPort: number, dstPort: number,
  seq: number, ack: number, withAck: boolean,
): void {
  const net = ctx.ip(dst);
  const rt = net.route(dst);
  if (rt === null) {
    ctx.stack.counters.drop('tcp: no-route');
    return;
  }
  const buf = ctx.stack.txBuffer;
  const repr = ctx.reprOut;
  repr.srcPort = srcPort;
  repr.dstPort = dstPort;
  repr.seq = seq >>> 0;
  repr.ack = withAck ? ack >>> 0 : 0;
  repr.flags = withAck ? RST | ACK : RST;
  repr.window = 0;
  repr.urgentPointer = 0;
  emitTcpWith(buf, TX_HEADROOM, repr, 0, 0, net.pseudoHeaderSum(src, dst, TCP_PROTOCOL, TCP_MIN_HEADER));
  const ip = ctx.ipOpts;
  ip.src = src;
  ip.dst = dst;
  ip.partialChecksumAt = 0;
  ip.gsoSize = 0;
  ip.dontFragment = true;
  ip.tos = 0;
  ctx.stack.counters.tcpOut++;
  ctx.stats.outRsts++;
  net.output(ip, buf, TX_HEADROOM, TCP_MIN_HEADER, rt);
}

/** RST for a connection we abort: <SEQ=SND.NXT><CTL=RST> (RFC 9293 3.10.5 ABORT). */
export function sendRstFor(ctx: TcpContext, tcb: Tcb, now: number): void {
  ctx.stats.outRsts++;
  emitSegment(ctx, tcb, tcb.sndNxt, RST | ACK, 0, now);
}

/**
 * (Re)start the retransmission timer (RFC 6298 (5.1)/(5.3)), or the tail loss probe ahead of
 * it. With `restart` false a running timer (RTO, probe or RACK's reordering timer) is left alone.
 */
export function armRto(ctx: TcpContext, tcb: Tcb, now: number, restart: boolean): void {
  const kind = tcb.retransmitKind;
  if (!restart && (kind === RetransmitKind.RTO || kind === RetransmitKind.PROBE || kind === RetransmitKind.REORDER)) return;
  const rto = tcb.rtt.rto;
  const pto = probeTimeout(tcb, rto);
  if (pto > 0) {
    tcb.retransmitKind = RetransmitKind.PROBE;
    tcb.rtoAt = now + pto;
  } else {
    tcb.retransmitKind = RetransmitKind.RTO;
    tcb.rtoAt = now + rto;
  }
  scheduleTcbTimer(tcb);
}

/** RACK's reordering timer (RFC 8985 6.3): look for losses again in `timeout` ms. */
export function scheduleReorderTimer(ctx: TcpContext, tcb: Tcb, now: number, timeout: number): void {
  tcb.retransmitKind = RetransmitKind.REORDER;
  tcb.rtoAt = now + timeout;
  scheduleTcbTimer(tcb);
}

/** RFC 8985 7.2: the worst-case delayed ACK time a single outstanding segment may wait for. */
const WC_DEL_ACK_MS = 200;
/** The shortest probe timeout, for timer granularity (Linux: 2 jiffies). */
const MIN_PTO_MS = 10;

/**
 * RFC 8985 section 7.2, the tail loss probe timeout: PTO = 2*SRTT, plus the worst-case
 * delayed ACK (200 ms) when only one segment is out, and never later than the RTO would
 * fire. Scheduled only with SACK and an RTT sample, outside loss recovery, with nothing
 * SACKed (RACK's reordering timer covers that case) and no probe episode open. Returns 0
 * when no probe applies.
 */
function probeTimeout(tcb: Tcb, rto: number): number {
  const rack = tcb.rack;
  if (rack === null || tcb.tlpInEpisode || !tcb.rtt.hasSample) return 0;
  if (tcb.cc.inRecovery || tcb.rtoRecovery || rack.sackedSegs > 0) return 0;
  const st = tcb.state;
  if (st !== TcpState.ESTABLISHED && st !== TcpState.CLOSE_WAIT && st !== TcpState.FIN_WAIT_1 && st !== TcpState.LAST_ACK) return 0;
  let pto = 2 * tcb.rtt.srtt;
  if (seqSub(tcb.sndMax, tcb.sndUna) <= tcb.smss) pto += WC_DEL_ACK_MS;
  if (pto < MIN_PTO_MS) pto = MIN_PTO_MS;
  return pto < rto ? pto : rto;
}

/**
 * The PTO fired (RFC 8985 section 7.3): send one new segment if there is one and the peer's
 * window allows, else retransmit the last segment sent, so the ACK it draws reveals (by SACK,
 * to RACK) any loss in the tail. This opens a probe episode (TLP.end_seq = SND.MAX) that
 * the ACKs close (ack-processing.ts); then the RTO runs.
 */
export function sendTailLossProbe(ctx: TcpContext, tcb: Tcb, now: number): void {
  const before = tcb.sndMax;
  if (tcb.unsentBytes > 0 || (tcb.finQueued && !tcb.finSent)) sendNewData(ctx, tcb, now, true, tcb.smss, true);
  tcb.tlpIsRetrans = tcb.sndMax === before;
  if (tcb.tlpIsRetrans && seqGt(tcb.sndMax, tcb.sndUna)) {
    let start = seqAdd(tcb.sndMax, -tcb.smss);
    if (seqLt(start, tcb.sndUna)) start = tcb.sndUna;
    // Do not split a final FIN-only sequence number off: the range covers it if sent.
    retransmitRange(ctx, tcb, start, tcb.sndMax, now);
  }
  tcb.tlpInEpisode = true;
  tcb.tlpEndSeq = tcb.sndMax;
  ctx.stats.tailLossProbes++;
  tcb.retransmitKind = RetransmitKind.RTO;
  tcb.rtoAt = now + tcb.rtt.rto;
  scheduleTcbTimer(tcb);
}

/**
 * Resend the lowest segment RACK judges lost, [r.start, r.end): only the parts the receiver
 * has not SACKed, in pieces of at most SMSS (a segment recorded before the MSS shrank may be
 * larger). Returns the sequence space sent.
 */
function retransmitLost(ctx: TcpContext, tcb: Tcb, r: SeqRange, now: number): number {
  const sb = tcb.scoreboard!;
  const hole = ctx.rangeScratch;
  const end = r.end;
  let pos = r.start;
  let total = 0;
  while (seqLt(pos, end) && sb.nextHole(pos, end, hole)) {
    const n = retransmitRange(ctx, tcb, hole.start, hole.end, now);
    if (n <= 0) return total;
    total += n;
    pos = seqAdd(hole.start, n);
  }
  // Nothing (more) to resend: the receiver holds it all; count it as resent.
  if (seqLt(pos, end)) tcb.rack!.onTransmit(pos, end, now, tcb.smss);
  return total;
}

/** Entering fast recovery: the first lost segment goes at once, whatever PRR allows. */
export function sendRecoveryRetransmission(ctx: TcpContext, tcb: Tcb, now: number): void {
  const r = ctx.lostScratch;
  if (tcb.rack!.nextLost(r)) tcb.prr.onSend(retransmitLost(ctx, tcb, r, now));
}

export function stopRetransmitTimer(tcb: Tcb): void {
  tcb.retransmitKind = RetransmitKind.NONE;
  tcb.rtoAt = Infinity;
}

/**
 * Retransmit [seq, end) (data, and our FIN if it lies inside), at most one segment.
 * Returns the sequence space covered (data + FIN), 0 if nothing could be sent.
 */
export function retransmitRange(ctx: TcpContext, tcb: Tcb, seq: number, end: number, now: number): number {
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sendBuffer.length);
  if (seqLt(seq, tcb.sndBufSeq)) seq = tcb.sndBufSeq;
  let dataEnd = seqLt(end, bufEnd) ? end : bufEnd;
  let dataLen = seqSub(dataEnd, seq);
  if (dataLen < 0) dataLen = 0;
  if (dataLen > tcb.smss) {
    dataLen = tcb.smss;
    dataEnd = seqAdd(seq, dataLen);
  }
  let flags = ACK;
  // The FIN rides along if the range reaches it and it was sent before.
  if (tcb.finSent && dataEnd === bufEnd && seqGt(end, bufEnd)) flags |= FIN;
  if (dataLen === 0 && (flags & FIN) === 0) return 0;
  if (dataLen > 0 && dataEnd === bufEnd) flags |= PSH;
  const sent = emitSegment(ctx, tcb, seq, flags, dataLen, now);
  if (sent < 0) return 0;
  tcb.retransmits++;
  ctx.stats.retransSegs++;
  tcb.rtt.onRetransmit(); // Karn: the timed segment may be this one
  armRto(ctx, tcb, now, false);
  const span = sent + (sent === dataLen && (flags & FIN) !== 0 ? 1 : 0);
  tcb.rack?.onTransmit(seq, seqAdd(seq, span), now, tcb.smss);
  return span;
}

/** Can this state send data or a FIN? */
function canSend(state: number): boolean {
  return state === TcpState.ESTABLISHED || state === TcpState.CLOSE_WAIT || state === TcpState.FIN_WAIT_1
    || state === TcpState.CLOSING || state === TcpState.LAST_ACK;
}

/**
 * Send what may be sent now: new data and the FIN within the windows, SACK recovery
 * retransmissions, and arm the persist timer when data waits on a closed window.
 * `force` sends one segment ignoring silly-window avoidance and Nagle (the persist timer's
 * "override", RFC 9293 3.8.6.2.1).
 */
export function tcpOutput(ctx: TcpContext, tcb: Tcb, now: number, force = false): void {
  if (!canSend(tcb.state)) return;
  if (tcb.pmtuGeneration !== tcb.net!.pathMtuGeneration) syncPathMtu(ctx, tcb, now);
  // RFC 5681 4.1: after an idle period longer than the RTO, restart from (at most) IW.
  if (tcb.sndMax === tcb.sndUna && tcb.unsentBytes > 0 && now - tcb.lastSendAt > tcb.rtt.rto) {
    tcb.cc.onIdleRestart(now);
  }
  const rack = tcb.rack;
  if (rack !== null) {
    // BBR governs recovery with its own window (packet conservation, then its model), not PRR.
    if (tcb.sackRecovery && tcb.bbr === null) {
      prrOutput(ctx, tcb, now);
      return;
    }
    if (tcb.sackRecovery) {
      lossOutput(ctx, tcb, now, force);
      return;
    }
    if (tcb.rtoRecovery || rack.lostSegs !== rack.retransSegs) {
      lossOutput(ctx, tcb, now, force);
      return;
    }
  }
  sendNewData(ctx, tcb, now, force, Infinity);
}

/**
 * New data (and the FIN) from SND.NXT, limited by the windows. `budget` caps the bytes
 * (one segment for SACK recovery's rule 2). Returns bytes of sequence space sent.
 */
function sendNewData(ctx: TcpContext, tcb: Tcb, now: number, force: boolean, budget: number, pipeGoverned = false): number {
  const sb = tcb.sendBuffer;
  const smss = tcb.smss;
  const burst = segmentBurst(ctx, tcb, now);
  let total = 0;
  let blocked = false;
  let sentNew = false;
  const bbr = tcb.bbr;
  for (;;) {
    const bufEnd = seqAdd(tcb.sndBufSeq, sb.length);
    let avail = seqSub(bufEnd, tcb.sndNxt);
    if (avail < 0) avail = 0; // SND.NXT is past the data: only the FIN (or nothing) is left
    const finPending = tcb.finQueued && !seqGt(tcb.sndNxt, bufEnd);
    if (tcb.rtoRecovery && tcb.scoreboard !== null && tcb.scoreboard.rangeCount > 0 && seqLt(tcb.sndNxt, tcb.sndMax)) {
      // RFC 6675 5.1: after an RTO, use the SACK information that arrives during the
      // go-back-N retransmission: skip what the receiver reports it holds.
      const r = ctx.rangeScratch;
      if (!tcb.scoreboard.nextHole(tcb.sndNxt, tcb.sndMax, r)) {
        tcb.sndNxt = tcb.sndMax;
        tcb.rtoRecovery = false;
        continue;
      }
      if (seqGt(r.start, tcb.sndNxt)) tcb.sndNxt = r.start;
      const holeLen = seqSub(r.end, tcb.sndNxt);
      if (holeLen < avail) avail = holeLen;
    }
    // In SACK recovery the caller has checked cwnd against pipe (RFC 6675); only the peer's
    // window limits new data here.
    const cwnd = pipeGoverned ? Infinity : tcb.cc.cwnd + (tcb.cc.inRecovery ? 0 : tcb.limitedTransmit);
    const wnd = tcb.sndWnd < cwnd ? tcb.sndWnd : cwnd;
    let usable = seqSub(seqAdd(tcb.sndUna, wnd), tcb.sndNxt);
    if (usable < 0) usable = 0;
    let len = avail < usable ? avail : usable;
    if (len > burst) len = burst;
    if (len > budget - total) len = budget - total;
    if (len < 0) len = 0;
    if (bbr !== null && len > 0) {
      // Pacing (pacing.ts): whole segments within the credit, or wait for the timer.
      len = pacedLength(len, paceAllowance(tcb, now), smss);
      if (len === 0) {
        paceWait(tcb, now);
        break;
      }
    }
    // The FIN goes with the last data, or alone once all data is out. It needs no window
    // (a receiver with a closed window simply ACKs it without taking it; it is retransmitted).
    const fin = finPending && len === seqSub(bufEnd, tcb.sndNxt);
    if (len === 0 && !fin) {
      if (avail > 0) blocked = true;
      break;
    }
    if (len > 0 && len < smss && !fin && !force) {
      // Sender SWS avoidance (RFC 9293 3.8.6.2.1) with Nagle: send a short segment only if it
      // empties the buffer and nothing is outstanding (or Nagle is off), or if it is at least
      // half the largest window the peer has offered.
      const emptiesBuffer = len === avail;
      const nothingOutstanding = tcb.sndNxt === tcb.sndUna;
      const halfWindow = tcb.maxSndWnd > 0 && len >= tcb.maxSndWnd >> 1;
      if (!((emptiesBuffer && (tcb.noDelay || nothingOutstanding)) || halfWindow)) {
        blocked = nothingOutstanding;
        break;
      }
    }
    let flags = ACK;
    if (len > 0 && len === avail) flags |= PSH;
    if (fin) flags |= FIN;
    const seq = tcb.sndNxt;
    const sent = emitSegment(ctx, tcb, seq, flags, len, now);
    if (sent < 0) break;
    const finOut = sent === len && fin;
    const span = sent + (finOut ? 1 : 0);
    const wasRetransmission = seqLt(seq, tcb.sndMax);
    tcb.rack?.onTransmit(seq, seqAdd(seq, span), now, smss);
    tcb.sndNxt = seqAdd(seq, span);
    if (bbr !== null) paceSpend(tcb, span);
    if (seqGt(tcb.sndNxt, tcb.sndMax)) {
      const fresh = seqSub(tcb.sndNxt, tcb.sndMax);
      if (bbr !== null) rateOnSend(bbr, tcb.sndNxt, now, tcb.rack !== null ? tcb.rack.inFlight(tcb.sndUna, tcb.sndMax) : seqSub(tcb.sndMax, tcb.sndUna));
      tcb.sndMax = tcb.sndNxt;
      tcb.bytesSent += fresh - (finOut ? 1 : 0);
      // RFC 6298 section 3 (Karn): time only segments that are not retransmissions; with
      // timestamps every ACK gives a sample instead.
      if (!wasRetransmission && !tcb.tsOk) tcb.rtt.startTiming(tcb.sndNxt, now);
    }
    if (wasRetransmission) {
      tcb.retransmits++;
      ctx.stats.retransSegs++;
      tcb.rtt.onRetransmit();
    } else {
      tcb.lastSendAt = now;
      sentNew = true;
    }
    if (tcb.rtoRecovery && tcb.rack === null && !seqLt(tcb.sndNxt, tcb.sndMax)) tcb.rtoRecovery = false;
    armRto(ctx, tcb, now, false);
    total += span;
    force = false;
    if (finOut || total >= budget) break;
  }
  // cwnd-limited: the congestion window, not the application, stopped us (RFC 7661 spirit).
  tcb.cwndLimited = seqSub(tcb.sndMax, tcb.sndUna) + smss > tcb.cc.cwnd;
  // Delivery-rate estimation: nothing left to send and the window not full: app-limited.
  if (bbr !== null && !tcb.cwndLimited && tcb.unsentBytes === 0) bbr.rate.markAppLimited(seqSub(tcb.sndMax, tcb.sndUna));
  if (blocked && tcb.retransmitKind === RetransmitKind.NONE) startPersist(ctx, tcb, now);
  else if (sentNew) restartProbe(ctx, tcb, now);
  return total;
}

/**
 * RFC 8985 section 7.2: (re)start the probe timeout after sending new data. Otherwise the
 * timer is what the burst's first segment armed: with one segment out the PTO includes the
 * peer's delayed-ACK time (10 + 200 ms), longer than a 200 ms RTO, so only the RTO was set,
 * and a burst after an RTO whose every segment or ACK was lost waited for the next RTO.
 */
function restartProbe(ctx: TcpContext, tcb: Tcb, now: number): void {
  const kind = tcb.retransmitKind;
  if (kind !== RetransmitKind.RTO && kind !== RetransmitKind.PROBE) return;
  const pto = probeTimeout(tcb, tcb.rtt.rto);
  if (pto === 0) return;
  tcb.retransmitKind = RetransmitKind.PROBE;
  tcb.rtoAt = now + pto;
  scheduleTcbTimer(tcb);
}

/**
 * The most new data one segment may carry: one SMSS, or with a TSO device as many whole SMSS
 * as fit one datagram (leaving room for the largest options), cut up below us.
 */
function segmentBurst(ctx: TcpContext, tcb: Tcb, now: number): number {
  const smss = tcb.smss;
  const rt = tcbRoute(ctx, tcb, now);
  const tsoMax = rt === null ? 0 : tcb.net!.tsoLimit(rt);
  if (tsoMax === 0) return smss;
  const pieces = Math.floor((tsoMax - tcb.net!.headerLength - TCP_MIN_HEADER - 40) / smss);
  return pieces > 1 ? pieces * smss : smss;
}

/**
 * Fast recovery with SACK: RACK's lost segments first (lowest first), then new data, as long
 * as PRR (RFC 6937) allows on this ACK.
 */
function prrOutput(ctx: TcpContext, tcb: Tcb, now: number): void {
  const prr = tcb.prr;
  const rack = tcb.rack!;
  const r = ctx.lostScratch;
  // Bounded: each pass sends at least one segment; a window's worth is plenty.
  for (let guard = 0; guard < 4096 && prr.allowance > 0; guard++) {
    const sent = rack.nextLost(r) ? retransmitLost(ctx, tcb, r, now) : sendNewData(ctx, tcb, now, false, tcb.smss, true);
    if (sent <= 0) break;
    prr.onSend(sent);
  }
}

/**
 * Loss recovery outside fast recovery, after an RTO (everything outstanding was judged lost)
 * or while segments RACK judged lost below RecoveryPoint wait, and BBR's fast recovery:
 * resend them lowest first, then new data, while the data in flight leaves a segment's room
 * in cwnd (RFC 6675's pipe rule with RACK's in-flight estimate).
 */
function lossOutput(ctx: TcpContext, tcb: Tcb, now: number, force: boolean): void {
  const rack = tcb.rack!;
  const r = ctx.lostScratch;
  const smss = tcb.smss;
  for (let guard = 0; guard < 4096; guard++) {
    const inFlight = rack.inFlight(tcb.sndUna, tcb.sndMax);
    if (inFlight > 0 && tcb.cc.cwnd - inFlight < smss && !force) break;
    const sent = rack.nextLost(r) ? retransmitLost(ctx, tcb, r, now) : sendNewData(ctx, tcb, now, force, smss, true);
    if (sent <= 0) break;
    force = false;
  }
}

/** Persist timer (RFC 9293 3.8.6.1): probe a zero window with exponential backoff. */
export function startPersist(ctx: TcpContext, tcb: Tcb, now: number): void {
  let interval = tcb.rtt.rto * 2 ** tcb.persistShift;
  if (interval > tcb.config.maxRtoMs) interval = tcb.config.maxRtoMs;
  tcb.retransmitKind = RetransmitKind.PERSIST;
  tcb.rtoAt = now + interval;
  scheduleTcbTimer(tcb);
}

/**
 * A zero-window probe: one byte of new data at SND.NXT (RFC 9293 3.8.6.1 "at least one
 * octet of new data"), sent without advancing SND.NXT (only SND.MAX), so a probe the peer
 * refuses costs nothing; if it is accepted, the ACK moves SND.UNA past SND.NXT and the input
 * path pulls SND.NXT along. Without unsent data, a bare ACK with SEQ=SND.UNA-1 (the form
 * Linux uses) still makes the peer report its window.
 */
export function sendWindowProbe(ctx: TcpContext, tcb: Tcb, now: number): void {
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sendBuffer.length);
  if (seqLt(tcb.sndNxt, bufEnd)) {
    emitSegment(ctx, tcb, tcb.sndNxt, ACK, 1, now);
    const end = seqAdd(tcb.sndNxt, 1);
    if (seqGt(end, tcb.sndMax)) tcb.sndMax = end;
  } else {
    emitSegment(ctx, tcb, seqAdd(tcb.sndUna, -1), ACK, 0, now);
  }
}

/** Keepalive probe (RFC 9293 3.8.4, RFC 1122 4.2.3.6): SEG.SEQ = SND.UNA - 1, no data. */
export function sendKeepAlive(ctx: TcpContext, tcb: Tcb, now: number): void {
  emitSegment(ctx, tcb, seqAdd(tcb.sndUna, -1), ACK, 0, now);
}
