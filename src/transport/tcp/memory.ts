/**
 * What the stack's memory budget (stack/memory-budget.ts, Linux's tcp_mem) means for TCP:
 * how large a connection's send buffer may be, how much window it may offer, and what
 * becomes of orphans (connections their application has closed, still delivering data or a
 * FIN), which nobody will ever read from or wait for.
 *
 *  - Send buffers are sized to the path (Linux's tcp_sndbuf_expand): twice the congestion
 *    window, so a full window can be in flight while as much again waits, between
 *    tcp.sendBufferMin and tcp.sendBufferSize. A peer that keeps its window shut (sockstress)
 *    or reads a byte a second therefore pins a small buffer, not the maximum. They only grow;
 *    under memory pressure they are cut back to the minimum (writes wait until acknowledgments
 *    bring the data below it).
 *  - Under pressure the window offered stops growing: no more than the storage already held
 *    takes, or tcp.recvBufferMin. The right edge never moves left (output.ts); the window
 *    shrinks as data arrives.
 *  - Orphans are bounded in number (tcp.maxOrphans: one more is reset at once) and in
 *    patience (tcp.orphanRetries retransmissions or window probes), and one whose timer fires
 *    while the budget is at its hard limit is reset (Linux's tcp_out_of_resources).
 */

import type { TcpContext } from './context.js';
import { TcpState, type Tcb } from './tcb.js';

/** The send buffer's capacity now, by the path's needs and the budget. */
export function sendBufferTarget(ctx: TcpContext, tcb: Tcb): number {
  const cfg = ctx.config;
  const max = cfg.sendBufferSize;
  const min = cfg.sendBufferMin < max ? cfg.sendBufferMin : max;
  if (ctx.stack.memory.underPressure) return min;
  let target = 2 * tcb.cc.cwnd;
  const current = tcb.sendBuffer.capacity;
  if (target < current) target = current; // grow only, as Linux does
  if (target < min) target = min;
  return target > max ? max : target;
}

/** Size the send buffer before a write (the only time its capacity matters). */
export function tuneSendBuffer(ctx: TcpContext, tcb: Tcb): void {
  const target = sendBufferTarget(ctx, tcb);
  if (target !== tcb.sendBuffer.capacity) tcb.sendBuffer.setCapacity(target);
}

/**
 * Free receive space the window may offer now: all of it normally; under memory pressure no
 * more than the storage already held takes, and at least tcp.recvBufferMin.
 */
export function receiveSpace(ctx: TcpContext, tcb: Tcb): number {
  const rb = tcb.recvBuffer;
  const free = rb.window;
  if (!ctx.stack.memory.underPressure) return free;
  let room = rb.storageSize - rb.readable;
  const min = ctx.config.recvBufferMin;
  if (room < min) room = min;
  return free < room ? free : room;
}

/** The window a new connection's SYN or SYN-ACK offers when no block holds a buffer yet (SYN cookies). */
export function initialWindow(ctx: TcpContext): number {
  const cfg = ctx.config;
  let w = cfg.recvBufferSize;
  if (ctx.stack.memory.underPressure && cfg.recvBufferMin < w) w = cfg.recvBufferMin;
  return w > 0xffff ? 0xffff : w;
}

/**
 * The application closed `tcb` and it lives on to deliver what it holds: count it as an
 * orphan. False when there are too many already: the caller resets it instead.
 */
export function adoptOrphan(ctx: TcpContext, tcb: Tcb): boolean {
  if (tcb.countedOrphan) return true;
  const st = tcb.state;
  if (st === TcpState.CLOSED || st === TcpState.TIME_WAIT) return true;
  if (ctx.orphanCount >= ctx.config.maxOrphans) {
    ctx.stats.orphansOverLimit++;
    return false;
  }
  tcb.countedOrphan = true;
  ctx.orphanCount++;
  return true;
}

/** The orphan is gone (closed, or in TIME_WAIT, which holds no data). */
export function forgetOrphan(ctx: TcpContext, tcb: Tcb): void {
  if (!tcb.countedOrphan) return;
  tcb.countedOrphan = false;
  ctx.orphanCount--;
}

/**
 * An orphan's retransmission or persist timer fired: should it be given up for lack of
 * memory? Yes when the budget is at its hard limit (nothing will read what it holds, and
 * connections with a user need the memory more).
 */
export function orphanOutOfResources(ctx: TcpContext, tcb: Tcb): boolean {
  return tcb.orphaned && ctx.stack.memory.overLimit;
}

/** Retransmissions (or unanswered window probes) before a connection is given up. */
export function retryLimit(ctx: TcpContext, tcb: Tcb): number {
  const cfg = ctx.config;
  return tcb.orphaned && cfg.orphanRetries < cfg.retries2 ? cfg.orphanRetries : cfg.retries2;
}
