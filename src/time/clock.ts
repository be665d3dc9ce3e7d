/**
 * One clock and one timer structure for the whole stack.
 *
 * Every timer in pstack (ARP retries, cache expiry, reassembly, TCP RTO, delayed ACK,
 * keepalive, TIME_WAIT) is a `Timer` in a single intrusive binary min-heap. Arming,
 * re-arming and cancelling never allocate, and one host `setTimeout` covers the whole heap,
 * so a busy connection does not create a host timer per segment.
 *
 * Time is in milliseconds (fractional allowed) from an arbitrary origin.
 */

export interface Clock {
  now(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
};

export class Timer {
  /** Absolute deadline in ms; meaningful only while armed. */
  deadline = 0;
  /** Position in the heap, or -1 when not armed. */
  heapIndex = -1;
  constructor(
    private readonly timers: Timers,
    readonly callback: () => void,
  ) {}

  get armed(): boolean {
    return this.heapIndex >= 0;
  }

  /** Fire `delayMs` from now, replacing any earlier arming. */
  arm(delayMs: number): void {
    this.timers.armAt(this, this.timers.clock.now() + delayMs);
  }

  armAt(deadline: number): void {
    this.timers.armAt(this, deadline);
  }

  disarm(): void {
    this.timers.disarm(this);
  }
}

/** How the timer heap asks its host to be woken up. */
export interface WakeupScheduler {
  /** Be called back at (or soon after) `deadline`; replaces any earlier request. */
  wakeAt(deadline: number, fire: () => void): void;
  cancel(): void;
}

/**
 * Wakes the heap with a single host timer (the web-standard setTimeout). Where the host's
 * timer handle can be unref'd (Node), it is, so that timers alone never keep a process alive.
 */
export class HostWakeup implements WakeupScheduler {
  private handle: ReturnType<typeof setTimeout> | null = null;
  private pendingDeadline = Infinity;
  constructor(private readonly clock: Clock) {}

  wakeAt(deadline: number, fire: () => void): void {
    if (this.handle !== null && deadline >= this.pendingDeadline) return;
    this.cancel();
    this.pendingDeadline = deadline;
    const delay = Math.max(0, deadline - this.clock.now());
    const handle = setTimeout(() => {
      this.handle = null;
      this.pendingDeadline = Infinity;
      fire();
    }, delay);
    (handle as { unref?: () => void }).unref?.();
    this.handle = handle;
  }

  cancel(): void {
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.pendingDeadline = Infinity;
  }
}

/**
 * Work deferred until the current turn of the event loop is over, so that whatever the
 * application does in reaction to a delivery (write a reply, close) happens first. The host
 * environment supplies it (Node: setImmediate, see link/node-tasks.ts); `timeoutTasks` is
 * the web-standard fallback.
 */
export interface TaskQueue {
  defer(task: () => void): void;
}

export const timeoutTasks: TaskQueue = {
  defer: (task) => {
    setTimeout(task, 0);
  },
};

export class Timers {
  private readonly heap: Timer[] = [];
  private readonly fire = () => this.runExpired();

  constructor(
    readonly clock: Clock = systemClock,
    private readonly wakeup: WakeupScheduler | null = new HostWakeup(clock),
  ) {}

  create(callback: () => void): Timer {
    return new Timer(this, callback);
  }

  get size(): number {
    return this.heap.length;
  }

  /** Deadline of the earliest armed timer, or Infinity. */
  nextDeadline(): number {
    return this.heap.length > 0 ? this.heap[0]!.deadline : Infinity;
  }

  armAt(timer: Timer, deadline: number): void {
    timer.deadline = deadline;
    if (timer.heapIndex < 0) {
      timer.heapIndex = this.heap.length;
      this.heap.push(timer);
      this.siftUp(timer.heapIndex);
    } else {
      this.siftUp(timer.heapIndex);
      this.siftDown(timer.heapIndex);
    }
    if (this.heap[0] === timer) this.wakeup?.wakeAt(deadline, this.fire);
  }

  disarm(timer: Timer): void {
    const i = timer.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    timer.heapIndex = -1;
    if (last !== timer) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.siftUp(i);
      this.siftDown(last.heapIndex);
    }
    if (this.heap.length === 0) this.wakeup?.cancel();
  }

  /** Fire every timer whose deadline has passed, then ask to be woken for the next one. */
  runExpired(): void {
    const now = this.clock.now();
    // A callback may re-arm itself for `now`; bound the loop so that cannot spin forever.
    let budget = this.heap.length + 1024;
    while (this.heap.length > 0 && this.heap[0]!.deadline <= now && budget-- > 0) {
      const timer = this.heap[0]!;
      this.disarm(timer);
      timer.callback();
    }
    if (this.heap.length > 0) this.wakeup?.wakeAt(this.heap[0]!.deadline, this.fire);
  }

  /** Disarm everything (used at shutdown). */
  clear(): void {
    for (const t of this.heap) t.heapIndex = -1;
    this.heap.length = 0;
    this.wakeup?.cancel();
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const t = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.deadline <= t.deadline) break;
      heap[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    heap[i] = t;
    t.heapIndex = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const t = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.deadline < heap[l]!.deadline ? r : l;
      const child = heap[c]!;
      if (child.deadline >= t.deadline) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = t;
    t.heapIndex = i;
  }
}

/** A clock the tests move by hand; `advance` fires due timers in deadline order. */
export class FakeClock implements Clock {
  private t = 0;
  readonly timers: Timers;
  constructor(start = 0) {
    this.t = start;
    this.timers = new Timers(this, null);
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.nextDeadline();
      if (next > end) break;
      if (next > this.t) this.t = next;
      this.timers.runExpired();
    }
    this.t = end;
  }
}
