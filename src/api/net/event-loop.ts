/**
 * How pstack's sockets live in Node's event loop, as libuv handles do for node:net.
 *
 * Keeping the process alive: a Node program exits when nothing ref'd is pending. pstack's own
 * timers are unref'd and an in-memory or loopback device holds no handle at all, so without
 * help a program whose only work is a pstack server would exit at once. Every endpoint that
 * libuv would count as an active handle (a listening Server; a Socket while it connects,
 * reads, or has writes pending, or after it was closed while TCP still delivers its data and
 * FIN, which the kernel would do after the process left; a bound UDP socket) holds a
 * `LoopHold`; all of them share one ref'd Node handle (an interval that never fires in
 * practice), ref'd while at least one hold is active and ref'd by its owner, unref'd
 * otherwise. `ref()`/`unref()` on a socket or server toggle its hold, so a program whose
 * endpoints are all closed or unref'd exits, as with node:net. Closing the stack releases the
 * holds of everything on it.
 *
 * Running the application's callbacks: TCP tells its users about a connection (readable,
 * writable, accepted, closed) at the end of the stack's receive batch. The application's
 * handlers ('data', 'connection', 'connect', write callbacks, ...) must not run there: an
 * exception from one would unwind through the stack (caught and counted as a stack error, or
 * leaving the rest of the batch unprocessed). So an endpoint only records what happened and
 * asks for `deliver()` from the `Deliveries` queue, which runs on process.nextTick once the
 * stack's work is done: the same point in the turn, and with the same uncaught-exception
 * behaviour, as a node:net callback from libuv. One nextTick per batch serves every endpoint
 * (no closure or allocation per event); an exception from one delivery propagates to the
 * process ('uncaughtException', or exit with its stack trace), and the deliveries still
 * queued run on the next tick, so nothing the stack reported is lost.
 */

import { SlotList, type InSlotList } from './slot-list.js';

function noop(): void {}

/** The one Node handle that keeps the process alive while any pstack endpoint needs it. */
let keepAlive: ReturnType<typeof setInterval> | null = null;
let held = 0;

function holdLoop(): void {
  if (held++ === 0) {
    keepAlive ??= setInterval(noop, 0x7fffffff);
    keepAlive.ref();
  }
}

function releaseLoop(): void {
  if (--held === 0) keepAlive!.unref();
}

/** How many endpoints currently keep the event loop alive (for tests and diagnostics). */
export function loopHolds(): number {
  return held;
}

/** Holds of the open endpoints of each stack, released when the stack closes. */
const holdsByStack = new WeakMap<object, SlotList<LoopHold>>();
/** Stacks that were closed: their endpoints hold nothing any more. */
const closedStacks = new WeakSet<object>();

function holdsOf(stack: object): SlotList<LoopHold> {
  let holds = holdsByStack.get(stack);
  if (holds === undefined) {
    holds = new SlotList();
    holdsByStack.set(stack, holds);
    const closable = stack as { close?: (...args: unknown[]) => unknown };
    const close = closable.close;
    if (typeof close === 'function') {
      // The stack has no close notification of its own: wrap this instance's close().
      const set = holds;
      closable.close = function closeStack(this: unknown, ...args: unknown[]): unknown {
        closedStacks.add(stack);
        for (const h of set.toArray()) h.close();
        set.clear();
        return close.apply(this, args);
      };
    }
  }
  return holds;
}

/** One endpoint's claim on the event loop: active while open, ref'd unless unref() was called. */
export class LoopHold implements InSlotList {
  /** @internal Position among its stack's holds (slot-list.ts). */
  slotInList = -1;
  private open = false;
  private wanted = true;
  private holding = false;
  private holds: SlotList<LoopHold> | null = null;

  constructor(private readonly stack: object) {}

  /** The endpoint needs the event loop (connecting, reading, writing, listening, bound). */
  activate(): void {
    if (this.open || closedStacks.has(this.stack)) return;
    this.open = true;
    this.holds ??= holdsOf(this.stack);
    this.holds.add(this);
    this.update();
  }

  /** The endpoint is closed, or waits for nothing. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.holds?.delete(this);
    this.update();
  }

  ref(): void {
    this.wanted = true;
    this.update();
  }

  unref(): void {
    this.wanted = false;
    this.update();
  }

  get refed(): boolean {
    return this.wanted;
  }

  private update(): void {
    const want = this.open && this.wanted;
    if (want === this.holding) return;
    this.holding = want;
    if (want) holdLoop();
    else releaseLoop();
  }
}

/** Something with application callbacks to run outside the stack's processing. */
export interface Deliverable {
  /** @internal In the delivery queue. */
  queued: boolean;
  /** Run what is pending; may throw (the application's exception). */
  deliver(): void;
}

const queue: Deliverable[] = [];
let nextIndex = 0;
let scheduled = false;

/** Ask for `d.deliver()` on the next tick (once, however often asked before it runs). */
export function scheduleDelivery(d: Deliverable): void {
  if (d.queued) return;
  d.queued = true;
  queue.push(d);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(runDeliveries);
  }
}

function runDeliveries(): void {
  scheduled = false;
  try {
    while (nextIndex < queue.length) {
      const d = queue[nextIndex++]!;
      d.queued = false;
      d.deliver();
    }
  } finally {
    if (nextIndex >= queue.length) {
      queue.length = 0;
      nextIndex = 0;
    } else if (!scheduled) {
      // A delivery threw: the exception goes to the process; the rest run on the next tick.
      scheduled = true;
      process.nextTick(runDeliveries);
    }
  }
}
