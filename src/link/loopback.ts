/**
 * The loopback device ("lo"): what the stack sends to itself comes back as received frames.
 *
 * Frames on loopback are raw IPv4 packets: there is NO Ethernet header, no ARP, and the MAC is
 * all zeros. (In a pcap this is LINKTYPE_RAW.) The MTU is 65535, so whole IP packets never
 * need fragmenting here.
 *
 * Delivery is always asynchronous, never inside send(): a receiver that answers a packet by
 * sending another would otherwise recurse without bound and see its own state half-updated.
 * Frames sent while a batch is being delivered go to the next batch.
 */

import { type Device, type DeviceCounters, type FrameReceiver, newDeviceCounters } from './device.js';

export const LOOPBACK_MTU = 65535;

export interface LoopbackOptions {
  mtu?: number;
  /**
   * 'auto' (default): queued frames are delivered in one batch from a setImmediate, which also
   * yields to I/O between batches so two endpoints chattering over loopback cannot starve the
   * event loop. 'manual': nothing is delivered until flush() is called (fake-clock tests).
   */
  mode?: 'auto' | 'manual';
  /**
   * Told about each exception thrown by the receiver (also counted in `receiveErrors`).
   * Default: a process warning for the first one.
   */
  onError?: (error: unknown) => void;
}

/**
 * Queued frames packed back to back in one growable buffer, so queuing a frame costs one copy
 * and no allocation once the buffer has grown to the working size.
 */
class PackedFrameQueue {
  private bytes = new Uint8Array(64 * 1024);
  private used = 0;
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];

  get count(): number {
    return this.offsets.length;
  }

  push(frame: Uint8Array): void {
    if (this.used + frame.length > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < this.used + frame.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.bytes.set(frame, this.used);
    this.offsets.push(this.used);
    this.lengths.push(frame.length);
    this.used += frame.length;
  }

  frame(index: number): Uint8Array {
    const offset = this.offsets[index]!;
    return this.bytes.subarray(offset, offset + this.lengths[index]!);
  }

  clear(): void {
    this.used = 0;
    this.offsets.length = 0;
    this.lengths.length = 0;
  }
}

export class LoopbackDevice implements Device {
  readonly name = 'lo';
  readonly type = 'loopback' as const;
  readonly mac: Uint8Array = new Uint8Array(6);
  readonly mtu: number;
  readonly counters: DeviceCounters = newDeviceCounters();
  /** Exceptions thrown by the receiver; each is caught so the rest of the batch still arrives. */
  receiveErrors = 0;
  lastReceiveError: unknown = undefined;

  private receiver: FrameReceiver | null = null;
  private closed = false;
  private readonly manual: boolean;
  /** Two queues swapped at each delivery: one fills while the other is being delivered. */
  private pending = new PackedFrameQueue();
  private delivering = new PackedFrameQueue();
  private scheduled: NodeJS.Immediate | null = null;
  private inDelivery = false;
  private readonly onError: ((error: unknown) => void) | undefined;

  constructor(opts: LoopbackOptions = {}) {
    this.mtu = opts.mtu ?? LOOPBACK_MTU;
    this.manual = opts.mode === 'manual';
    this.onError = opts.onError;
  }

  /** Frames waiting to be delivered. */
  get queued(): number {
    return this.pending.count;
  }

  open(receiver: FrameReceiver): void {
    if (this.closed) throw new Error('loopback device is closed');
    this.receiver = receiver;
    this.schedule();
  }

  send(frame: Uint8Array): void {
    if (this.closed || frame.length > this.mtu) {
      this.counters.sendErrors++;
      return;
    }
    this.pending.push(frame);
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    this.schedule();
  }

  /**
   * Delivers everything queued now, batch after batch (replies included), until the queue is
   * empty or `maxBatches` batches were delivered; returns the number of frames delivered.
   * Does nothing when called from inside a delivery, which would be the re-entrancy this
   * device exists to avoid.
   */
  flush(maxBatches = 1000): number {
    let delivered = 0;
    for (let batch = 0; batch < maxBatches && !this.inDelivery && this.pending.count > 0; batch++) {
      const n = this.deliverBatch();
      if (n === 0) break;
      delivered += n;
    }
    return delivered;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.pending.clear();
  }

  private schedule(): void {
    if (this.manual || this.scheduled !== null || this.receiver === null || this.pending.count === 0) return;
    this.scheduled = setImmediate(this.runScheduled);
  }

  private readonly runScheduled = (): void => {
    this.scheduled = null;
    this.deliverBatch();
    this.schedule();
  };

  private deliverBatch(): number {
    const receiver = this.receiver;
    if (receiver === null) return 0;
    const batch = this.pending;
    this.pending = this.delivering;
    this.delivering = batch;
    this.inDelivery = true;
    let delivered = 0;
    try {
      for (let i = 0; i < batch.count && this.receiver === receiver; i++) {
        const frame = batch.frame(i);
        this.counters.framesIn++;
        this.counters.bytesIn += frame.length;
        delivered++;
        try {
          receiver.receiveFrame(this, frame);
        } catch (error) {
          this.receiveFailed(error);
        }
      }
      if (this.receiver === receiver) {
        try {
          receiver.endBatch(this);
        } catch (error) {
          this.receiveFailed(error);
        }
      }
    } finally {
      batch.clear();
      this.inDelivery = false;
    }
    return delivered;
  }

  private receiveFailed(error: unknown): void {
    this.receiveErrors++;
    this.lastReceiveError = error;
    if (this.onError !== undefined) {
      try {
        this.onError(error);
      } catch {
        // Nowhere sensible to throw to from inside a delivery.
      }
    } else if (this.receiveErrors === 1) {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.emitWarning(`loopback: receiver threw (later ones are only counted in receiveErrors): ${detail}`, {
        code: 'PSTACK_RECEIVER_ERROR',
      });
    }
  }
}
