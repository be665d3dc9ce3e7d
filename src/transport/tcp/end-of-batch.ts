/**
 * The end of an input batch (or, outside one, a microtask after timers and user calls):
 * first the notifications queued for users (data became readable, a connection was
 * accepted, ...), so the application can read and answer within the same batch, then the
 * ACKs still owed, sent at once or left to the delayed-ACK timer (RFC 9293 3.8.6.3,
 * RFC 5681 4.2). User callbacks never run in the middle of segment processing.
 */

import type { BatchWork, TcpContext } from './context.js';
import { scheduleTcbTimer } from './lifecycle.js';
import type { Listener } from './listener.js';
import { sendAck } from './output.js';
import { TcbEvent, TcpState, type Tcb } from './tcb.js';

/** The work the context's queued tasks run (handed to the TcpContext constructor). */
export const batchWork: BatchWork = { flush, sendAcksAfterReplies };

/** Deliver the queued notifications, then send or schedule the ACKs owed. */
export function flush(ctx: TcpContext): void {
  if (ctx.flushing) return;
  ctx.flushing = true;
  try {
    flushNotifications(ctx);
    const list = ctx.ackList;
    if (list.length > 0) {
      const now = ctx.stack.clock.now();
      for (let i = 0; i < list.length; i++) {
        const tcb = list[i]!;
        tcb.inAckList = false;
        if (tcb.state === TcpState.CLOSED || !tcb.ackPending) continue;
        if (tcb.ackNow) {
          // Two full segments or more unacknowledged: a bulk flow, whose sender waits for this
          // ACK to open its window; it goes now. Otherwise (a request, a FIN) the application
          // may answer in its turn: see ackAfterReplies.
          const bulk = tcb.unackedBytes >= 2 * (tcb.rcvMss - tcb.tsSpace);
          if (!bulk && (tcb.user !== null || tcb.listener !== null)) ackAfterReplies(ctx, tcb);
          else sendAck(ctx, tcb, now);
        } else if (tcb.delackAt === Infinity) {
          tcb.delackAt = now + ctx.config.delayedAckMs;
          scheduleTcbTimer(tcb);
        }
      }
      list.length = 0;
    }
  } finally {
    ctx.flushing = false;
  }
}

/**
 * An ACK owed at once to a connection that an application holds waits until that
 * application has reacted to what this batch brought: its 'data', 'end' and 'connection'
 * handlers and the process.nextTick and promise work they start all run before the task
 * `stack.tasks` defers (on Node, the check phase: setImmediate). A reply written in that time (an echo, an HTTP response, the
 * FIN of end() after the peer's FIN) carries the ACK, so a request-response exchange costs
 * one segment instead of two: a pure ACK and then the data (3 instead of 5 segments per
 * connect-request-reply-close). The ACK leaves microseconds later, within the same event-loop
 * turn; what a peer counts (duplicate ACKs for out-of-order data) is not deferred.
 */
function ackAfterReplies(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.inReplyWaitList) return;
  tcb.inReplyWaitList = true;
  ctx.replyWaitList.push(tcb);
  if (!ctx.replyWaitQueued) {
    ctx.replyWaitQueued = true;
    ctx.stack.tasks.defer(ctx.replyWaitTask);
  }
}

/**
 * Send the ACKs waiting for the application's reaction (run from stack.tasks; tests that
 * drive the stack synchronously call it, through Tcp, where the event loop would).
 */
export function sendAcksAfterReplies(ctx: TcpContext): void {
  const list = ctx.replyWaitList;
  if (list.length === 0) return;
  const now = ctx.stack.clock.now();
  for (let i = 0; i < list.length; i++) {
    const tcb = list[i]!;
    tcb.inReplyWaitList = false;
    if (tcb.state !== TcpState.CLOSED && tcb.ackPending && tcb.ackNow) sendAck(ctx, tcb, now);
  }
  list.length = 0;
}

/** Tell each user what happened to its connection; callbacks may call back into Tcp. */
function flushNotifications(ctx: TcpContext): void {
  const list = ctx.notifyList;
  for (let i = 0; i < list.length; i++) {
    const tcb = list[i]!;
    tcb.inNotifyList = false;
    const ev = tcb.events;
    tcb.events = 0;
    try {
      if ((ev & TcbEvent.ACCEPT) !== 0) deliverAccept(tcb);
      const u = tcb.user;
      if (u === null) continue;
      if ((ev & TcbEvent.CONNECT) !== 0) u.onConnect();
      if ((ev & TcbEvent.READABLE) !== 0 && tcb.user === u) u.onReadable();
      if ((ev & TcbEvent.WRITABLE) !== 0 && tcb.user === u) u.onWritable();
      if ((ev & TcbEvent.CLOSE) !== 0 && tcb.user === u) {
        tcb.user = null;
        u.onClose(tcb.error);
      }
    } catch (err) {
      // A throwing 'data' or 'connect' handler is the application's bug: surface it as an
      // uncaught exception, as Node would, without breaking the stack's own processing.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  list.length = 0;
}

/** A listener's child is established: hand it to the listener's user, or leave it queued until there is one. */
function deliverAccept(tcb: Tcb): void {
  const l = tcb.listener as Listener | null;
  if (l === null) return;
  const i = l.acceptQueue.indexOf(tcb);
  if (i < 0) return;
  if (l.user === null || l.closed) return; // stays queued
  l.acceptQueue.splice(i, 1);
  tcb.listener = null;
  l.user.onConnection(tcb);
}
