/**
 * The recent frames the web page can show, bounded in count and in bytes: one preallocated
 * byte arena written as a circular log, and per-frame records in fixed-size typed arrays, so
 * that keeping a frame is a copy into memory that already exists (no allocation per frame on
 * the stack's path). The oldest frames are forgotten first, when the count or the arena is full.
 *
 * Frames are numbered from 1 in arrival order; a number stays valid until its frame is
 * forgotten (`has`).
 */

export interface RingLimits {
  /** Frames kept at most. */
  maxFrames: number;
  /** Bytes of frame data kept at most (a frame longer than this is cut to it). */
  maxBytes: number;
}

export const DEFAULT_RING_LIMITS: RingLimits = { maxFrames: 10_000, maxBytes: 16 * 1024 * 1024 };

export class PacketRing {
  private readonly arena: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  /** The frame's length on the wire (it may have been cut to fit the arena). */
  private readonly wireLengths: Int32Array;
  /** Microseconds since the Unix epoch. */
  private readonly times: Float64Array;
  private readonly flags: Uint8Array;
  private readonly devices: Uint16Array;
  private readonly capacity: number;
  private writeAt = 0;
  /** Number of the oldest frame kept, and how many are kept. */
  private first = 1;
  private count = 0;

  constructor(limits: RingLimits = DEFAULT_RING_LIMITS) {
    this.capacity = Math.max(1, Math.floor(limits.maxFrames));
    this.arena = new Uint8Array(Math.max(1, Math.floor(limits.maxBytes)));
    this.offsets = new Int32Array(this.capacity);
    this.lengths = new Int32Array(this.capacity);
    this.wireLengths = new Int32Array(this.capacity);
    this.times = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.devices = new Uint16Array(this.capacity);
  }

  /** Number of the newest frame (0 before any). */
  get last(): number {
    return this.first + this.count - 1;
  }

  get oldest(): number {
    return this.first;
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return id >= this.first && id < this.first + this.count;
  }

  /** Keep a copy of buf[offset, offset+length); `outgoing` and `device` are kept beside it. Returns its number. */
  push(buf: Uint8Array, offset: number, length: number, outgoing: boolean, device: number, timeUs: number): number {
    const len = Math.min(length, this.arena.length);
    if (this.count === this.capacity) this.forgetOldest();
    if (this.writeAt + len > this.arena.length) {
      // No room before the end: the frames still kept there are the oldest; start again at 0.
      while (this.count > 0 && this.offsets[this.slot(this.first)]! >= this.writeAt) this.forgetOldest();
      this.writeAt = 0;
    }
    const end = this.writeAt + len;
    while (this.count > 0) {
      const o = this.offsets[this.slot(this.first)]!;
      if (o < this.writeAt || o >= end) break;
      this.forgetOldest();
    }
    const id = this.first + this.count;
    const s = this.slot(id);
    this.arena.set(buf.subarray(offset, offset + len), this.writeAt);
    this.offsets[s] = this.writeAt;
    this.lengths[s] = len;
    this.wireLengths[s] = length;
    this.times[s] = timeUs;
    this.flags[s] = outgoing ? 1 : 0;
    this.devices[s] = device;
    this.writeAt = end;
    this.count++;
    return id;
  }

  /** The kept bytes of frame `id` (a view into the ring: copy it to keep it), or null when forgotten. */
  bytes(id: number): Uint8Array | null {
    if (!this.has(id)) return null;
    const s = this.slot(id);
    return this.arena.subarray(this.offsets[s]!, this.offsets[s]! + this.lengths[s]!);
  }

  wireLength(id: number): number {
    return this.wireLengths[this.slot(id)]!;
  }

  timeUs(id: number): number {
    return this.times[this.slot(id)]!;
  }

  outgoing(id: number): boolean {
    return this.flags[this.slot(id)] === 1;
  }

  device(id: number): number {
    return this.devices[this.slot(id)]!;
  }

  private slot(id: number): number {
    return (id - 1) % this.capacity;
  }

  private forgetOldest(): void {
    this.first++;
    this.count--;
  }
}
