/**
 * A connection's life apart from the segments it sends and receives: state changes,
 * scheduling its timer, TIME_WAIT and the orphaned FIN_WAIT_2, giving back buffer storage,
 * deleting the TCB (RFC 9293 3.10.7 "delete the TCB"), and queueing what its user is to be
 * told and the ACKs it owes for the end of the input batch.
 *
 * Input, output, timers and opening all build on these; nothing here sends a segment, so
 * this module sits below output.ts. Where the RFC pairs a transition with a segment (the
 * last ACK before a TIME_WAIT that cannot be kept), the caller sends it.
 */

import type { TcpContext } from './context.js';
import type { Listener } from './listener.js';
import { forgetOrphan } from './memory.js';
import { RecvBuffer } from './recv-buffer.js';
import { RetransmitKind, TcbEvent, TcpState, type Tcb } from './tcb.js';

/** Move `tcb` to `state`, telling `onStateChange`. */
export function setState(ctx: TcpContext, tcb: Tcb, state: number): void {
  const from = tcb.state;
  if (from === state) return;
  tcb.state = state;
  ctx.onStateChange?.(tcb, from, state);
}

/**
 * Re-arm the connection's heap timer for its earliest deadline (rtoAt, delackAt, keepAt),
 * only ever moving it earlier: a timer that fires early finds nothing due and re-arms
 * itself (timers.ts), which is cheaper than a heap operation on every ACK.
 */
export function scheduleTcbTimer(tcb: Tcb): void {
  let next = tcb.rtoAt;
  if (tcb.delackAt < next) next = tcb.delackAt;
  if (tcb.keepAt < next) next = tcb.keepAt;
  if (tcb.paceAt < next) next = tcb.paceAt;
  const t = tcb.timer;
  if (next === Infinity) {
    // Leave an armed timer to fire and find nothing (cheaper than a heap removal per ACK),
    // unless the block is closed.
    if (tcb.state === TcpState.CLOSED) t.disarm();
    return;
  }
  if (!t.armed || t.deadline > next) t.armAt(next);
}

/**
 * The connection is gone (RFC 9293 "delete the TCB"): out of the tables, timers off, the
 * user told with `code` (null for an orderly end).
 */
export function closeTcb(ctx: TcpContext, tcb: Tcb, code: string | null): void {
  if (tcb.state === TcpState.CLOSED) return;
  if (tcb.state === TcpState.TIME_WAIT) ctx.timeWaitCount--;
  const wasSynReceived = tcb.state === TcpState.SYN_RECEIVED;
  setState(ctx, tcb, TcpState.CLOSED);
  forgetOrphan(ctx, tcb);
  if (code === 'ETIMEDOUT' && tcb.softError !== null) code = tcb.softError;
  tcb.error = code;
  ctx.connections.remove(tcb);
  tcb.rtoAt = Infinity;
  tcb.delackAt = Infinity;
  tcb.keepAt = Infinity;
  tcb.retransmitKind = RetransmitKind.NONE;
  tcb.timer.disarm();
  tcb.ackPending = false;
  tcb.sendBuffer.clear();
  tcb.sendBuffer.releaseMemory();
  if (code !== null) tcb.recvBuffer.clear();
  releaseBuffers(ctx, tcb);
  const l = tcb.listener as Listener | null;
  if (l !== null) {
    if (wasSynReceived) l.synQueueLength--;
    const i = l.acceptQueue.indexOf(tcb);
    if (i >= 0) l.acceptQueue.splice(i, 1);
    tcb.listener = null;
  }
  if (tcb.user !== null) notify(ctx, tcb, TcbEvent.CLOSE);
}

/**
 * Give back buffer storage a block no longer needs: no user will read it and no more data
 * can arrive (TIME_WAIT, CLOSED, or the peer's FIN is in). Up to 4096 blocks may sit in
 * TIME_WAIT; each should cost a few hundred bytes, not a grown megabyte ring. The capacity
 * (and so the advertised window) stays; only the storage goes.
 */
export function releaseBuffers(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.user !== null) return;
  const st = tcb.state;
  if (st !== TcpState.CLOSED && st !== TcpState.TIME_WAIT && !tcb.finReceived) return;
  tcb.sendBuffer.releaseMemory();
  if (tcb.recvBuffer.storageSize > 1 || tcb.recvBuffer.readable > 0) {
    tcb.recvBuffer.clear(); // its storage back to the pool and the budget
    tcb.recvBuffer = new RecvBuffer(ctx.config.recvBufferSize, { initialStorage: 1, account: ctx.stack.memory });
  }
}

/**
 * Enter TIME_WAIT for 2*MSL (RFC 9293 3.3.2, 3.6). Returns false when too many blocks are in
 * TIME_WAIT already (tcp.maxTimeWait, like Linux's tcp_max_tw_buckets): the block must then
 * skip it, and the caller sends the final ACK still owed and closes the block at once.
 */
export function enterTimeWait(ctx: TcpContext, tcb: Tcb, now: number): boolean {
  setState(ctx, tcb, TcpState.TIME_WAIT);
  forgetOrphan(ctx, tcb);
  ctx.timeWaitCount++;
  tcb.rtoAt = Infinity;
  tcb.retransmitKind = RetransmitKind.NONE;
  tcb.sendBuffer.clear();
  tcb.sendBuffer.releaseMemory();
  if (ctx.timeWaitCount > ctx.config.maxTimeWait) {
    ctx.stats.timeWaitOverflows++;
    return false;
  }
  tcb.keepAt = now + ctx.config.timeWaitMs;
  scheduleTcbTimer(tcb);
  releaseBuffers(ctx, tcb);
  return true;
}

/** A retransmitted FIN in TIME_WAIT restarts the 2*MSL timer (RFC 9293 3.10.7.4, eighth step). */
export function restartTimeWait(ctx: TcpContext, tcb: Tcb, now: number): void {
  tcb.keepAt = now + ctx.config.timeWaitMs;
  scheduleTcbTimer(tcb);
}

/** An orphaned connection in FIN_WAIT_2 waits this long for the peer's FIN (Linux tcp_fin_timeout). */
export function armFinWait2(ctx: TcpContext, tcb: Tcb, now: number): void {
  tcb.keepAt = now + ctx.config.finWait2TimeoutMs;
  scheduleTcbTimer(tcb);
}

/** Queue a notification (TcbEvent bits) for the user of `tcb`, delivered at the end of the batch. */
export function notify(ctx: TcpContext, tcb: Tcb, ev: number): void {
  tcb.events |= ev;
  if (!tcb.inNotifyList) {
    tcb.inNotifyList = true;
    ctx.notifyList.push(tcb);
    flushSoon(ctx);
  }
}

/** An ACK is owed: decide at the end of the batch whether it goes at once or is delayed. */
export function queueAckFlush(ctx: TcpContext, tcb: Tcb): void {
  if (!tcb.inAckList) {
    tcb.inAckList = true;
    ctx.ackList.push(tcb);
    flushSoon(ctx);
  }
}

/** Run the end-of-batch work from a microtask unless a batch end does it first. */
export function flushSoon(ctx: TcpContext): void {
  if (ctx.flushQueued) return;
  ctx.flushQueued = true;
  queueMicrotask(ctx.flushTask);
}
