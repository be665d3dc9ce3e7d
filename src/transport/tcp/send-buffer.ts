/**
 * The send buffer: bytes the application has written that are not yet acknowledged,
 * starting at SND.UNA (RFC 9293 section 3.3.1, the "send sequence space": everything from
 * SND.UNA up to SND.UNA + length; the state machine keeps SND.NXT itself and asks for bytes
 * by offset from SND.UNA).
 *
 * Representation: a byte ring. Writes copy the user's chunk in once; the output path then
 * copies payload straight from the ring into an outgoing frame with `copyOut` (at most two
 * memcpy-like copies, O(1) to locate, whatever the segment boundaries). A list of the user's
 * chunks would avoid the first copy, but makes locating an offset O(chunks), keeps every
 * small write as a separate object (1-byte writes are common with Nagle coalescing them
 * into one segment) and ties memory to user buffers; the ring's cost is one copy of data
 * that is about to be copied into a frame anyway.
 *
 * Storage is allocated on the first write (`initialStorage` bytes, from the shared pool in
 * bytes.ts), grows on demand (doubling, power-of-two sizes) up to the logical capacity, and
 * is given back whenever everything has been acknowledged: an idle connection holds no
 * storage at all, and never pins `capacity` bytes. The FIN is not stored here: it occupies a
 * sequence number but no buffer byte, and is the state machine's business.
 *
 * With a memory account (the stack's budget), storage is charged to it as it is taken and
 * released as it is given back. The first `initialStorage` bytes are guaranteed (charged
 * whatever the budget says, so a connection can always make progress); growth beyond them is
 * refused past the budget's hard limit, and `write` then takes only what the storage already
 * held fits: backpressure to the application rather than more memory.
 */

import type { MemoryAccount } from '../../stack/network.js';
import { copyBytes, giveStorage, nextPow2, NO_STORAGE, takeStorage } from './bytes.js';

const DEFAULT_SEND_BUFFER_CAPACITY = 256 * 1024;
const DEFAULT_INITIAL_STORAGE = 4096;

export class SendBuffer {
  private buf: Uint8Array = NO_STORAGE;
  private mask = 0;
  /** Storage index of the byte at SND.UNA. */
  private head = 0;
  private len = 0;
  private cap: number;
  private readonly initialStorage: number;
  /** Writes cut short because the memory account refused more storage. */
  memoryRefusals = 0;

  /**
   * @param capacity  most bytes the buffer accepts (the SO_SNDBUF analogue); default 256 KiB.
   * @param initialStorage bytes allocated by the first write (rounded up to a power of two);
   *                  grows by doubling as data is written.
   * @param account   where storage is charged (null: not counted).
   */
  constructor(capacity = DEFAULT_SEND_BUFFER_CAPACITY, initialStorage = DEFAULT_INITIAL_STORAGE, private readonly account: MemoryAccount | null = null) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError('capacity must be a positive integer');
    this.cap = capacity;
    this.initialStorage = nextPow2(Math.max(1, Math.min(initialStorage, capacity)));
  }

  /** Unacknowledged bytes held (sent or not), counted from SND.UNA. */
  get length(): number {
    return this.len;
  }

  /** Bytes `write` would accept now (0 when full: apply backpressure). */
  get free(): number {
    const f = this.cap - this.len;
    return f > 0 ? f : 0;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Bytes of storage currently allocated (diagnostics): 0 while nothing is buffered. */
  get storageSize(): number {
    return this.buf.length;
  }

  /**
   * Change the capacity (SO_SNDBUF). Shrinking below `length` keeps the data and simply
   * refuses writes until enough is acknowledged.
   */
  setCapacity(capacity: number): void {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError('capacity must be a positive integer');
    this.cap = capacity;
  }

  /**
   * Append bytes chunk[offset .. offset+length). Accepts as many as fit and returns how many
   * it took (possibly 0): the caller keeps the rest and waits for `acknowledge` to free room.
   */
  write(chunk: Uint8Array, offset = 0, length = chunk.length - offset): number {
    if (offset < 0 || length < 0 || offset + length > chunk.length) throw new RangeError('write range outside chunk');
    const free = this.cap - this.len;
    let n = length < free ? length : free;
    if (n <= 0) return 0;
    if (this.len + n > this.buf.length && !this.grow(this.len + n)) {
      // The budget allows no more storage: take what the storage held already fits, or the
      // guaranteed first piece.
      this.memoryRefusals++;
      if (this.buf.length < this.initialStorage) this.grow(this.initialStorage);
      n = this.buf.length - this.len;
      if (n <= 0) return 0;
    }
    const size = this.buf.length;
    const tail = (this.head + this.len) & this.mask;
    const first = size - tail;
    if (n <= first) {
      copyBytes(chunk, offset, this.buf, tail, n);
    } else {
      copyBytes(chunk, offset, this.buf, tail, first);
      copyBytes(chunk, offset + first, this.buf, 0, n - first);
    }
    this.len += n;
    return n;
  }

  /**
   * The output path's primitive: copy `len` bytes starting `offsetFromUna` bytes after
   * SND.UNA into target[targetPos ..]. Throws RangeError if the range is not buffered.
   */
  copyOut(offsetFromUna: number, target: Uint8Array, targetPos: number, len: number): void {
    if (offsetFromUna < 0 || len < 0 || offsetFromUna + len > this.len) throw new RangeError('copyOut range not buffered');
    if (targetPos < 0 || targetPos + len > target.length) throw new RangeError('copyOut target too small');
    const start = (this.head + offsetFromUna) & this.mask;
    const first = this.buf.length - start;
    if (len <= first) {
      copyBytes(this.buf, start, target, targetPos, len);
    } else {
      copyBytes(this.buf, start, target, targetPos, first);
      copyBytes(this.buf, 0, target, targetPos + first, len - first);
    }
  }

  /**
   * `len` bytes at `offsetFromUna`: a zero-copy view into the ring when they are contiguous
   * there, otherwise a fresh copy. Views are invalidated by the next write/acknowledge.
   */
  peek(offsetFromUna: number, len: number): Uint8Array {
    if (offsetFromUna < 0 || len < 0 || offsetFromUna + len > this.len) throw new RangeError('peek range not buffered');
    const start = (this.head + offsetFromUna) & this.mask;
    if (start + len <= this.buf.length) return this.buf.subarray(start, start + len);
    const out = new Uint8Array(len);
    this.copyOut(offsetFromUna, out, 0, len);
    return out;
  }

  /**
   * Zero-copy: the range as one or two views into the ring, stored in out[0], out[1].
   * Returns the number of views (0 if len is 0). Views are invalidated by the next write or
   * acknowledge. Use for scatter-gather output (e.g. a device's writev).
   */
  peekViews(offsetFromUna: number, len: number, out: Uint8Array[]): number {
    if (offsetFromUna < 0 || len < 0 || offsetFromUna + len > this.len) throw new RangeError('peek range not buffered');
    if (len === 0) return 0;
    const start = (this.head + offsetFromUna) & this.mask;
    const first = this.buf.length - start;
    if (len <= first) {
      out[0] = this.buf.subarray(start, start + len);
      return 1;
    }
    out[0] = this.buf.subarray(start, start + first);
    out[1] = this.buf.subarray(0, len - first);
    return 2;
  }

  /** One byte at `offsetFromUna` (e.g. for a zero-window probe). */
  byteAt(offsetFromUna: number): number {
    if (offsetFromUna < 0 || offsetFromUna >= this.len) throw new RangeError('byteAt offset not buffered');
    return this.buf[(this.head + offsetFromUna) & this.mask]!;
  }

  /** SND.UNA advanced by `bytes` (which must not exceed `length`): free them. */
  acknowledge(bytes: number): void {
    if (bytes < 0 || bytes > this.len) throw new RangeError('acknowledge beyond buffered data');
    this.len -= bytes;
    if (this.len === 0) this.releaseMemory(); // all acknowledged: the connection is idle for sending
    else this.head = (this.head + bytes) & this.mask;
  }

  /** Discard everything (connection reset/abort). */
  clear(): void {
    this.len = 0;
    this.releaseMemory();
  }

  /** If empty, give the storage back (the next write takes some again). */
  releaseMemory(): void {
    if (this.len !== 0) return;
    this.head = 0;
    if (this.buf === NO_STORAGE) return;
    this.account?.release(this.buf.length);
    giveStorage(this.buf);
    this.buf = NO_STORAGE;
    this.mask = 0;
  }

  /** Storage for `needed` bytes; false when the account refuses it (nothing changes then). */
  private grow(needed: number): boolean {
    const size = nextPow2(needed > this.initialStorage ? needed : this.initialStorage);
    const account = this.account;
    if (account !== null) {
      const extra = size - this.buf.length;
      if (size <= this.initialStorage) account.chargeForced(extra);
      else if (!account.charge(extra)) return false;
    }
    const next = takeStorage(size);
    // Linearise: the byte at SND.UNA moves to index 0.
    const first = this.buf.length - this.head;
    if (this.len <= first) {
      copyBytes(this.buf, this.head, next, 0, this.len);
    } else {
      copyBytes(this.buf, this.head, next, 0, first);
      copyBytes(this.buf, 0, next, first, this.len - first);
    }
    giveStorage(this.buf);
    this.buf = next;
    this.mask = size - 1;
    this.head = 0;
    return true;
  }
}
