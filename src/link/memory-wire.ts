/**
 * An in-memory Ethernet segment joining two or more devices in one process, so the stack can
 * be tested end to end without root, a TAP or the kernel.
 *
 * It behaves like a hub: every frame sent by one device is copied to every other device on the
 * wire, whatever its destination MAC (the stack filters, as on a real shared segment). Delivery
 * is never synchronous with send(), and it can lose, duplicate, reorder and delay frames,
 * deterministically for a given `seed`.
 *
 *   const wire = new MemoryWire({ lossRate: 0.1, seed: 42 });
 *   const a = wire.createDevice('a', macA);
 *   const b = wire.createDevice('b', macB);
 *
 * Modes: 'auto' (default) delivers from setImmediate (or a timer when `delayMs` is set).
 * 'manual' delivers only when flush() is called, which suits tests driving a FakeClock: advance
 * the clock, then flush() delivers every frame that is due by `clock.now()`.
 */

import { type Clock, systemClock } from '../time/clock.js';
import { type Device, type DeviceCounters, type FrameReceiver, newDeviceCounters } from './device.js';

export interface MemoryWireOptions {
  /** Probability that a frame is lost on its way to one receiver (0..1). */
  lossRate?: number;
  /** Probability that a frame is held back and overtaken by the next frame to the same receiver. */
  reorderRate?: number;
  /** Probability that a receiver gets a frame twice. */
  duplicateRate?: number;
  /** Fixed one-way latency in ms (default 0). */
  delayMs?: number;
  /**
   * A bottleneck: each receiver's link carries this many bytes per ms (default 0: unlimited).
   * Frames queue behind one another and arrive after their serialization time plus `delayMs`.
   */
  rateBytesPerMs?: number;
  /** With `rateBytesPerMs`: the queue in front of each receiver's link (bytes); beyond it frames are dropped (default unbounded). */
  queueBytes?: number;
  /** Seed of the PRNG deciding losses, duplicates and reordering (default 1). */
  seed?: number;
  mode?: 'auto' | 'manual';
  /** Time source for `delayMs` (default: the system clock); use a FakeClock with mode 'manual'. */
  clock?: Clock;
  /** Default MTU of devices created on this wire (default 1500). */
  mtu?: number;
  /**
   * Told about each exception thrown by a receiver (also counted in the device's
   * `receiveErrors`). Default: a process warning for the first one on the wire.
   */
  onError?: (error: unknown, device: MemoryWireDevice) => void;
}

export interface MemoryWireStats {
  /** Frames accepted from senders. */
  sent: number;
  /** Frames handed to receivers (duplicates included). */
  delivered: number;
  /** Copies lost to `lossRate`. */
  dropped: number;
  /** Extra copies created by `duplicateRate`. */
  duplicated: number;
  /** Frames that were overtaken by a later frame. */
  reordered: number;
  /** Copies discarded because the destination was not open (or closed before delivery). */
  undeliverable: number;
  /** Copies dropped because the bottleneck's queue (`queueBytes`) was full. */
  overflowed: number;
}

/** mulberry32: a tiny, fast 32-bit PRNG, good enough for reproducible test impairments. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ethernet header plus one VLAN tag. */
const ETHERNET_OVERHEAD = 14 + 4;

interface QueuedFrame {
  readonly frame: Uint8Array;
  readonly due: number;
}

export class MemoryWire {
  lossRate: number;
  reorderRate: number;
  duplicateRate: number;
  delayMs: number;
  rateBytesPerMs: number;
  queueBytes: number;
  readonly stats: MemoryWireStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    undeliverable: 0,
    overflowed: 0,
  };

  private readonly attached: MemoryWireDevice[] = [];
  private readonly random: () => number;
  private readonly manual: boolean;
  private readonly clock: Clock;
  private readonly defaultMtu: number;
  private readonly onError: ((error: unknown, device: MemoryWireDevice) => void) | undefined;
  private warnedReceiveError = false;
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;
  private delivering = false;

  constructor(opts: MemoryWireOptions = {}) {
    this.lossRate = checkRate('lossRate', opts.lossRate ?? 0);
    this.reorderRate = checkRate('reorderRate', opts.reorderRate ?? 0);
    this.duplicateRate = checkRate('duplicateRate', opts.duplicateRate ?? 0);
    this.delayMs = opts.delayMs ?? 0;
    if (!(this.delayMs >= 0)) throw new RangeError(`delayMs must be >= 0, got ${opts.delayMs}`);
    this.rateBytesPerMs = opts.rateBytesPerMs ?? 0;
    if (!(this.rateBytesPerMs >= 0)) throw new RangeError(`rateBytesPerMs must be >= 0, got ${opts.rateBytesPerMs}`);
    this.queueBytes = opts.queueBytes ?? Infinity;
    if (!(this.queueBytes >= 0)) throw new RangeError(`queueBytes must be >= 0, got ${opts.queueBytes}`);
    this.random = mulberry32(opts.seed ?? 1);
    this.manual = opts.mode === 'manual';
    this.clock = opts.clock ?? systemClock;
    this.defaultMtu = opts.mtu ?? 1500;
    this.onError = opts.onError;
  }

  get devices(): readonly MemoryWireDevice[] {
    return this.attached;
  }

  /** Frames queued and not yet delivered (held-back frames included). */
  get pending(): number {
    let n = 0;
    for (const device of this.attached) n += device.queue.length + (device.heldBack !== null ? 1 : 0);
    return n;
  }

  createDevice(name: string, mac: Uint8Array, opts: { mtu?: number } = {}): MemoryWireDevice {
    if (mac.length !== 6) throw new RangeError(`mac must be 6 bytes, got ${mac.length}`);
    const device = new MemoryWireDevice(this, name, Uint8Array.from(mac), opts.mtu ?? this.defaultMtu);
    this.attached.push(device);
    return device;
  }

  /**
   * Delivers every frame due by `clock.now()`, round after round (so replies sent by receivers
   * are delivered too), until nothing due is left or `maxRounds` rounds ran. Each round gives
   * each device at most one batch, closed by endBatch, and replies wait for the next round.
   * Returns the number of frames delivered.
   * Called from inside a delivery it does nothing, since that would re-enter a receiver.
   */
  flush(maxRounds = 1000): number {
    if (this.delivering) return 0;
    let delivered = 0;
    for (let round = 0; round < maxRounds; round++) {
      const n = this.deliverRound(this.clock.now());
      if (n === 0) break;
      delivered += n;
    }
    return delivered;
  }

  /** Stops delivery and discards everything queued; devices stay usable only after re-creation. */
  close(): void {
    for (const device of this.attached) device.close();
    this.cancelSchedule();
  }

  /** @internal Called by MemoryWireDevice.send. */
  transmit(source: MemoryWireDevice, frame: Uint8Array): void {
    this.stats.sent++;
    const now = this.clock.now();
    const rate = this.rateBytesPerMs;
    for (const destination of this.attached) {
      if (destination === source) continue;
      if (!destination.isOpen) {
        this.stats.undeliverable++;
        continue;
      }
      if (this.lossRate > 0 && this.random() < this.lossRate) {
        this.stats.dropped++;
        continue;
      }
      let due = now + this.delayMs;
      if (rate > 0) {
        // The bottleneck: wait for the frames ahead to be serialized, then this one.
        const start = destination.linkFreeAt > now ? destination.linkFreeAt : now;
        if ((start - now) * rate > this.queueBytes) {
          this.stats.overflowed++;
          continue;
        }
        destination.linkFreeAt = start + frame.length / rate;
        due = destination.linkFreeAt + this.delayMs;
      }
      const copies = this.duplicateRate > 0 && this.random() < this.duplicateRate ? 2 : 1;
      this.stats.duplicated += copies - 1;
      // Each copy is separate: a receiver may rewrite a frame in place (e.g. to answer it).
      for (let c = 0; c < copies; c++) this.enqueue(destination, { frame: frame.slice(), due });
    }
    this.schedule();
  }

  /** @internal A closed device's queue is gone; keep the count of lost copies honest. */
  discard(device: MemoryWireDevice): void {
    this.stats.undeliverable += device.queue.length + (device.heldBack !== null ? 1 : 0);
    device.queue.length = 0;
    device.heldBack = null;
  }

  private enqueue(destination: MemoryWireDevice, queued: QueuedFrame): void {
    const held = destination.heldBack;
    if (held !== null) {
      destination.queue.push(queued, held);
      destination.heldBack = null;
      this.stats.reordered++;
    } else if (this.reorderRate > 0 && this.random() < this.reorderRate) {
      destination.heldBack = queued;
    } else {
      destination.queue.push(queued);
    }
  }

  /**
   * One round: each device gets, as one batch, the frames that were queued for it and due when
   * the round began. Frames sent during the round (replies) wait for the next round, whichever
   * device they go to, so the outcome does not depend on the order devices are served in.
   */
  private deliverRound(now: number): number {
    this.delivering = true;
    let delivered = 0;
    try {
      const batches: QueuedFrame[][] = [];
      for (const device of this.attached) batches.push(this.takeDue(device, now));
      this.attached.forEach((device, i) => {
        if (batches[i]!.length > 0) delivered += this.deliverTo(device, batches[i]!);
      });
    } finally {
      this.delivering = false;
    }
    return delivered;
  }

  private takeDue(device: MemoryWireDevice, now: number): QueuedFrame[] {
    // A held-back frame that nothing overtook by delivery time simply goes out in order.
    if (device.heldBack !== null) {
      device.queue.push(device.heldBack);
      device.heldBack = null;
    }
    const queue = device.queue;
    let due = 0;
    while (due < queue.length && queue[due]!.due <= now) due++;
    return due === 0 ? [] : queue.splice(0, due);
  }

  private deliverTo(device: MemoryWireDevice, batch: readonly QueuedFrame[]): number {
    const receiver = device.currentReceiver;
    if (receiver === null) {
      this.stats.undeliverable += batch.length;
      return 0;
    }
    let delivered = 0;
    for (const { frame } of batch) {
      if (device.currentReceiver !== receiver) {
        this.stats.undeliverable++;
        continue;
      }
      delivered++;
      this.stats.delivered++;
      device.counters.framesIn++;
      device.counters.bytesIn += frame.length;
      try {
        receiver.receiveFrame(device, frame);
      } catch (error) {
        this.receiveFailed(device, error);
      }
    }
    if (device.currentReceiver === receiver) {
      try {
        receiver.endBatch(device);
      } catch (error) {
        this.receiveFailed(device, error);
      }
    }
    return delivered;
  }

  private receiveFailed(device: MemoryWireDevice, error: unknown): void {
    device.receiveErrors++;
    device.lastReceiveError = error;
    if (this.onError !== undefined) {
      try {
        this.onError(error, device);
      } catch {
        // Nowhere sensible to throw to from inside a delivery.
      }
    } else if (!this.warnedReceiveError) {
      this.warnedReceiveError = true;
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.emitWarning(
        `memory wire device ${device.name}: receiver threw (later ones are only counted in receiveErrors): ${detail}`,
        { code: 'PSTACK_RECEIVER_ERROR' },
      );
    }
  }

  private nextDue(): number {
    let next = Infinity;
    for (const device of this.attached) {
      if (device.heldBack !== null) next = Math.min(next, device.heldBack.due);
      if (device.queue.length > 0) next = Math.min(next, device.queue[0]!.due);
    }
    return next;
  }

  private schedule(): void {
    if (this.manual || this.immediate !== null) return;
    const next = this.nextDue();
    if (next === Infinity) return;
    const wait = next - this.clock.now();
    if (wait <= 0) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.timerDue = Infinity;
      this.immediate = setImmediate(this.runScheduled);
    } else if (this.timer === null || next < this.timerDue) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timerDue = next;
      // setTimeout has 1 ms granularity and may fire a hair early; runScheduled re-checks.
      this.timer = setTimeout(this.runScheduled, Math.max(1, Math.ceil(wait)));
    }
  }

  private readonly runScheduled = (): void => {
    this.immediate = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
    this.deliverRound(this.clock.now());
    this.schedule();
  };

  private cancelSchedule(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    if (this.timer !== null) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
    this.timerDue = Infinity;
  }
}

export class MemoryWireDevice implements Device {
  readonly type = 'ethernet' as const;
  readonly counters: DeviceCounters = newDeviceCounters();
  /** Exceptions thrown by the receiver; each is caught so the rest of the batch still arrives. */
  receiveErrors = 0;
  lastReceiveError: unknown = undefined;

  /** @internal Frames on their way to this device, in delivery order. */
  readonly queue: QueuedFrame[] = [];
  /** @internal A frame waiting to be overtaken by the next one (reordering). */
  heldBack: QueuedFrame | null = null;
  /** @internal When the bottleneck link to this device has serialized what is queued (ms). */
  linkFreeAt = 0;
  private receiver: FrameReceiver | null = null;
  private closed = false;

  /** @internal Use MemoryWire.createDevice. */
  constructor(
    private readonly wire: MemoryWire,
    readonly name: string,
    readonly mac: Uint8Array,
    readonly mtu: number,
  ) {}

  get isOpen(): boolean {
    return this.receiver !== null;
  }

  /** @internal */
  get currentReceiver(): FrameReceiver | null {
    return this.receiver;
  }

  open(receiver: FrameReceiver): void {
    if (this.closed) throw new Error(`memory wire device ${this.name} is closed`);
    this.receiver = receiver;
  }

  send(frame: Uint8Array): void {
    // Over-long frames would be dropped by a real NIC; failing loudly in the counters catches
    // a stack that forgets its MTU.
    if (this.closed || frame.length > this.mtu + ETHERNET_OVERHEAD) {
      this.counters.sendErrors++;
      return;
    }
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    this.wire.transmit(this, frame);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    this.wire.discard(this);
  }
}

function checkRate(name: string, rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${rate}`);
  return rate;
}
