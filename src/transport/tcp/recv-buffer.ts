/**
 * The receive buffer: in-order data waiting for the application, plus out-of-order
 * reassembly and the SACK blocks that describe it.
 *
 * One byte ring holds both. In-order bytes occupy the ring from `head` for `readable`
 * bytes; RCV.NXT is the next index. An out-of-order segment is copied straight to the place
 * it will occupy once the hole before it fills, and only its extent is recorded (a sorted,
 * merged, bounded list of ranges). Filling a hole therefore never moves data: RCV.NXT just
 * jumps over the ranges that became contiguous. Everything stored lies inside the receive
 * window (RFC 9293 section 3.10.7.4: segments are trimmed to RCV.NXT .. RCV.NXT+RCV.WND-1),
 * so the window bounds the ring.
 *
 * Offsets are relative to RCV.NXT, which the state machine owns: it passes
 * `seqSub(seg.seq, rcvNxt)` to `insert` and advances RCV.NXT by the return value.
 * Internally ranges are kept as "stream positions" (bytes since the buffer was created, a
 * double, exact to 2^53) so advancing RCV.NXT never rewrites them.
 *
 * Window: `window` = capacity - readable. Out-of-order data sits inside the advertised
 * window and so does not reduce it (the right edge must not move left, RFC 9293 3.8.6).
 *
 * Memory: the ring is taken (from the shared pool in bytes.ts) when data first arrives and
 * given back whenever the application has read everything and nothing is queued out of
 * order; the range arrays are made on the first out-of-order segment. A connection that is
 * not receiving holds neither.
 *
 * With a memory account (the stack's budget) the ring is charged to it. Storage up to
 * `guaranteedStorage` for in-order data is charged whatever the budget says (a connection can
 * always receive); beyond that, and for any growth that out-of-order data needs, a refusal
 * drops the segment (counted in `memoryDroppedSegments`): the sender retransmits it later.
 */

import type { MemoryAccount } from '../../stack/network.js';
import { copyBytes, giveStorage, nextPow2, NO_STORAGE, takeStorage } from './bytes.js';

const DEFAULT_RECV_BUFFER_CAPACITY = 256 * 1024;
const NO_RANGES = new Float64Array(0);
/** Default bound on distinct out-of-order ranges (SACK can only report 3-4 anyway). */
export const DEFAULT_MAX_OOO_RANGES = 32;
const DEFAULT_INITIAL_STORAGE = 4096;

interface RecvBufferOptions {
  /** Storage taken when data first arrives; grows by doubling up to the capacity. */
  initialStorage?: number;
  /** Most separate out-of-order ranges kept; a segment that would add one more is dropped. */
  maxOooRanges?: number;
  /** Most out-of-order bytes kept; default = capacity. */
  maxOooBytes?: number;
  /** Where storage is charged (default none). */
  account?: MemoryAccount | null;
  /** Storage for in-order data charged whatever the account says (default: initialStorage). */
  guaranteedStorage?: number;
}

export class RecvBuffer {
  private buf: Uint8Array = NO_STORAGE;
  private mask = 0;
  /** Storage index of the first unread in-order byte. */
  private head = 0;
  /** In-order bytes not yet read by the application. */
  private inOrder = 0;
  private cap: number;
  private readonly initialStorage: number;

  /** Stream position of RCV.NXT. */
  private nxtPos = 0;

  // Out-of-order ranges [starts[i], ends[i]) in stream positions, sorted, disjoint and
  // non-adjacent (adjacent ranges are merged). stamps[i] orders them by last arrival.
  // Empty until the first out-of-order segment.
  private starts = NO_RANGES;
  private ends = NO_RANGES;
  private stamps = NO_RANGES;
  private count = 0;
  private stampClock = 0;
  private oooTotal = 0;
  readonly maxOooRanges: number;
  private readonly maxOooBytesOpt: number | undefined;
  private readonly account: MemoryAccount | null;
  private readonly guaranteed: number;

  // Pending D-SACK (RFC 2883): the duplicate part of the most recent segment.
  private dsackPending = false;
  private dsackStart = 0;
  private dsackEnd = 0;

  // ---- counters ----
  /** Bytes received that were already held (below RCV.NXT or inside an OOO range). */
  duplicateBytes = 0;
  /** Bytes cut off because they lay beyond the window's right edge. */
  trimmedBytes = 0;
  /** Out-of-order segments dropped because the range or byte bound was reached. */
  droppedSegments = 0;
  /** Bytes in those dropped segments. */
  droppedBytes = 0;
  /** Segments that were queued out of order. */
  oooSegments = 0;
  /** Segments dropped because the memory account refused the storage they needed. */
  memoryDroppedSegments = 0;

  constructor(capacity = DEFAULT_RECV_BUFFER_CAPACITY, options: RecvBufferOptions = {}) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError('capacity must be a positive integer');
    this.cap = capacity;
    this.initialStorage = nextPow2(Math.max(1, Math.min(options.initialStorage ?? DEFAULT_INITIAL_STORAGE, capacity)));
    this.maxOooRanges = Math.max(1, options.maxOooRanges ?? DEFAULT_MAX_OOO_RANGES);
    this.maxOooBytesOpt = options.maxOooBytes;
    this.account = options.account ?? null;
    this.guaranteed = Math.max(this.initialStorage, options.guaranteedStorage ?? 0);
  }

  get capacity(): number {
    return this.cap;
  }

  /** In-order bytes available to read. */
  get readable(): number {
    return this.inOrder;
  }

  /** Free space to advertise as RCV.WND (before window scaling / SWS avoidance). */
  get window(): number {
    return this.cap - this.inOrder;
  }

  /** Number of out-of-order ranges held. */
  get oooRanges(): number {
    return this.count;
  }

  /** Bytes held out of order. */
  get oooBytes(): number {
    return this.oooTotal;
  }

  private get maxOooBytes(): number {
    return this.maxOooBytesOpt ?? this.cap;
  }

  /** Bytes of storage currently allocated (diagnostics): 0 while nothing is held. */
  get storageSize(): number {
    return this.buf.length;
  }

  /** Enlarge the buffer (SO_RCVBUF). Shrinking is refused: it would shrink the window. */
  setCapacity(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < this.cap) throw new RangeError('receive capacity can only grow');
    this.cap = capacity;
  }

  /**
   * Accept a segment's payload data[dataOffset .. dataOffset+length) whose first byte is
   * `seqOffset` bytes after RCV.NXT (negative if it starts with old data). Trims what lies
   * before RCV.NXT (duplicates) or beyond the window, queues it out of order if there is a
   * hole before it, and returns how many bytes became in-order: the caller advances RCV.NXT
   * by exactly that (it includes queued data that this segment made contiguous).
   */
  insert(seqOffset: number, data: Uint8Array, dataOffset = 0, length = data.length - dataOffset): number {
    if (length <= 0) return 0;
    if (dataOffset < 0 || dataOffset + length > data.length) throw new RangeError('insert range outside data');
    this.dsackPending = false;
    let s = seqOffset;
    let e = seqOffset + length;
    let src = dataOffset;
    const wnd = this.cap - this.inOrder;

    // Fast path: the next expected bytes, nothing queued, fits the window.
    if (s === 0 && this.count === 0 && e <= wnd) {
      if (!this.store(0, data, src, length)) return 0;
      this.inOrder += length;
      this.nxtPos += length;
      return length;
    }

    if (s < 0) {
      // Old data (RFC 9293 3.10.7.4 trims the part before RCV.NXT). Remember it for D-SACK.
      const dupEnd = e < 0 ? e : 0;
      this.duplicateBytes += dupEnd - s;
      this.setDsack(this.nxtPos + s, this.nxtPos + dupEnd);
      if (e <= 0) return 0;
      src -= s;
      s = 0;
    }
    if (e > wnd) {
      const cut = e - (s > wnd ? s : wnd);
      this.trimmedBytes += cut;
      e -= cut;
      if (e <= s) return 0;
    }
    const n = e - s;

    if (s === 0) {
      if (!this.store(0, data, src, n)) return 0;
      let end = n; // new in-order end, as an offset from the old RCV.NXT
      // Absorb queued ranges that now touch or overlap the in-order data.
      let k = 0;
      while (k < this.count && this.starts[k]! - this.nxtPos <= end) {
        const re = this.ends[k]! - this.nxtPos;
        // Overlap between this segment and queued data counts as duplicate bytes.
        const ov = (re < n ? re : n) - (this.starts[k]! - this.nxtPos);
        if (ov > 0) this.duplicateBytes += ov;
        if (re > end) end = re;
        this.oooTotal -= this.ends[k]! - this.starts[k]!;
        k++;
      }
      if (k > 0) this.removeRanges(0, k);
      this.inOrder += end;
      this.nxtPos += end;
      return end;
    }

    // Out of order: s > 0.
    const ps = this.nxtPos + s;
    const pe = this.nxtPos + e;
    const cnt = this.count;
    // First range that ends at or after ps (could merge), last that starts at or before pe.
    let i = 0;
    while (i < cnt && this.ends[i]! < ps) i++;
    let j = i;
    while (j < cnt && this.starts[j]! <= pe) j++;
    j--; // ranges i..j touch [ps, pe); none if j < i
    if (j < i) {
      if (cnt >= this.maxOooRanges || this.oooTotal + n > this.maxOooBytes) {
        this.droppedSegments++;
        this.droppedBytes += n;
        return 0;
      }
      if (!this.store(s, data, src, n)) return 0;
      this.insertRange(i, ps, pe);
      this.oooTotal += n;
      this.oooSegments++;
      return 0;
    }
    if (i === j && this.starts[i]! <= ps && pe <= this.ends[i]!) {
      // Entirely duplicate of queued data: D-SACK it, and make its range the most recent so
      // it is reported right after the D-SACK block (RFC 2883 section 4).
      this.duplicateBytes += n;
      this.setDsack(ps, pe);
      this.stamps[i] = ++this.stampClock;
      return 0;
    }
    const ms = ps < this.starts[i]! ? ps : this.starts[i]!;
    const me = pe > this.ends[j]! ? pe : this.ends[j]!;
    let covered = 0;
    for (let k = i; k <= j; k++) covered += this.ends[k]! - this.starts[k]!;
    const added = me - ms - covered;
    if (this.oooTotal + added > this.maxOooBytes) {
      this.droppedSegments++;
      this.droppedBytes += n;
      return 0;
    }
    if (!this.store(s, data, src, n)) return 0;
    this.duplicateBytes += n - added;
    this.starts[i] = ms;
    this.ends[i] = me;
    this.stamps[i] = ++this.stampClock;
    if (j > i) this.removeRanges(i + 1, j - i);
    this.oooTotal += added;
    this.oooSegments++;
    return 0;
  }

  /**
   * Write SACK blocks (RFC 2018 section 4) as absolute sequence numbers into
   * out[0], out[1] (left, right edge of block 1), out[2], out[3], ... and return how many
   * blocks were written (at most `maxBlocks`, which the caller sets from option space:
   * 4 without timestamps, 3 with).
   *
   * Order: a pending D-SACK block first (RFC 2883, if `dsack`; reported once, then
   * forgotten), then ranges from most to least recently changed, so the first ordinary block
   * holds the segment that triggered this ACK and later ones repeat the most recently
   * reported blocks, as RFC 2018 requires. `rcvNxt` is the current RCV.NXT.
   */
  sackBlocks(rcvNxt: number, out: number[] | Uint32Array, maxBlocks: number, dsack = true): number {
    let n = 0;
    if (maxBlocks <= 0) return 0;
    if (this.dsackPending && dsack) {
      this.dsackPending = false;
      out[0] = (rcvNxt + (this.dsackStart - this.nxtPos)) >>> 0;
      out[1] = (rcvNxt + (this.dsackEnd - this.nxtPos)) >>> 0;
      n = 1;
    }
    let below = Infinity; // select ranges by descending stamp, k passes, no allocation
    while (n < maxBlocks) {
      let best = -1;
      let bestStamp = -1;
      for (let k = 0; k < this.count; k++) {
        const st = this.stamps[k]!;
        if (st < below && st > bestStamp) {
          bestStamp = st;
          best = k;
        }
      }
      if (best < 0) break;
      below = bestStamp;
      out[2 * n] = (rcvNxt + (this.starts[best]! - this.nxtPos)) >>> 0;
      out[2 * n + 1] = (rcvNxt + (this.ends[best]! - this.nxtPos)) >>> 0;
      n++;
    }
    return n;
  }

  /** Whether a D-SACK block is waiting to be reported. */
  get hasDsack(): boolean {
    return this.dsackPending;
  }

  /**
   * Copy up to `max` in-order bytes into target[targetPos ..], consuming them.
   * Returns the number copied.
   */
  readInto(target: Uint8Array, targetPos = 0, max = target.length - targetPos): number {
    let n = this.inOrder < max ? this.inOrder : max;
    if (n <= 0) return 0;
    const first = this.buf.length - this.head;
    if (n <= first) {
      copyBytes(this.buf, this.head, target, targetPos, n);
    } else {
      copyBytes(this.buf, this.head, target, targetPos, first);
      copyBytes(this.buf, 0, target, targetPos + first, n - first);
    }
    this.consume(n);
    return n;
  }

  /** Up to `max` in-order bytes as a new array (the application owns it), consumed. */
  read(max = Infinity): Uint8Array {
    const n = this.inOrder < max ? this.inOrder : max;
    const out = new Uint8Array(n);
    this.readInto(out, 0, n);
    return out;
  }

  /**
   * Every readable byte, without copying, when they lie in one piece that fills at least half
   * of the storage and nothing is queued out of order: the storage itself is handed over (the
   * caller owns the returned view for good) and the buffer takes fresh storage for the next
   * data. Otherwise null, and the caller copies with readInto. This is how a bulk receiver's
   * 64 KB segments reach the application with one copy (from the device's batch buffer into
   * this storage) instead of two. The half rule keeps a small read from pinning a large array.
   */
  takeAll(): Uint8Array | null {
    const n = this.inOrder;
    const size = this.buf.length;
    if (n === 0 || this.count !== 0 || n * 2 < size || this.head + n > size) return null;
    const view = this.buf.subarray(this.head, this.head + n);
    this.inOrder = 0;
    this.head = 0;
    this.account?.release(size); // the application's memory now, not the stack's
    this.buf = NO_STORAGE; // not given back to the pool: it is the caller's now
    this.mask = 0;
    return view;
  }

  /**
   * Zero-copy: all readable bytes as one or two views (out[0], out[1]); returns the count.
   * Call `consume` afterwards; views are invalidated by the next insert.
   */
  peekViews(out: Uint8Array[]): number {
    const n = this.inOrder;
    if (n === 0) return 0;
    const first = this.buf.length - this.head;
    if (n <= first) {
      out[0] = this.buf.subarray(this.head, this.head + n);
      return 1;
    }
    out[0] = this.buf.subarray(this.head, this.buf.length);
    out[1] = this.buf.subarray(0, n - first);
    return 2;
  }

  /** The application took `n` readable bytes: free them (the window opens by n). */
  consume(n: number): void {
    if (n < 0 || n > this.inOrder) throw new RangeError('consume beyond readable data');
    this.inOrder -= n;
    if (this.inOrder === 0 && this.count === 0) this.releaseStorage(); // all read: idle
    else this.head = (this.head + n) & this.mask;
  }

  /** Forget everything (abort). Counters are kept. */
  clear(): void {
    this.inOrder = 0;
    this.count = 0;
    this.oooTotal = 0;
    this.dsackPending = false;
    this.releaseStorage();
  }

  // ---- internals ----

  /**
   * Copy n bytes to the ring at `offset` after RCV.NXT, growing storage if needed. False (and
   * the segment counted as dropped) when the account refuses the storage.
   */
  private store(offset: number, data: Uint8Array, src: number, n: number): boolean {
    const need = this.inOrder + offset + n;
    if (need > this.buf.length && !this.grow(need, offset === 0)) {
      this.memoryDroppedSegments++;
      return false;
    }
    const size = this.buf.length;
    const at = (this.head + this.inOrder + offset) & this.mask;
    const first = size - at;
    if (n <= first) {
      copyBytes(data, src, this.buf, at, n);
    } else {
      copyBytes(data, src, this.buf, at, first);
      copyBytes(data, src + first, this.buf, 0, n - first);
    }
    return true;
  }

  /** Storage for `needed` bytes, guaranteed up to `guaranteed` for in-order data; false if refused. */
  private grow(needed: number, inOrder: boolean): boolean {
    const size = nextPow2(needed > this.initialStorage ? needed : this.initialStorage);
    const account = this.account;
    if (account !== null) {
      const extra = size - this.buf.length;
      if (inOrder && size <= this.guaranteed) account.chargeForced(extra);
      else if (!account.charge(extra)) return false;
    }
    const old = this.buf;
    const next = takeStorage(size);
    // Every live byte (in-order and queued) lies in [head, head + old.length) mod old size.
    const first = old.length - this.head;
    copyBytes(old, this.head, next, 0, first);
    if (this.head > 0) copyBytes(old, 0, next, first, this.head);
    giveStorage(old);
    this.buf = next;
    this.mask = size - 1;
    this.head = 0;
    return true;
  }

  /** Nothing held (no unread or queued bytes): give the ring back. */
  private releaseStorage(): void {
    this.head = 0;
    if (this.buf === NO_STORAGE) return;
    this.account?.release(this.buf.length);
    giveStorage(this.buf);
    this.buf = NO_STORAGE;
    this.mask = 0;
  }

  private insertRange(at: number, start: number, end: number): void {
    if (this.starts.length === 0) {
      const n = this.maxOooRanges + 1;
      this.starts = new Float64Array(n);
      this.ends = new Float64Array(n);
      this.stamps = new Float64Array(n);
    }
    for (let k = this.count; k > at; k--) {
      this.starts[k] = this.starts[k - 1]!;
      this.ends[k] = this.ends[k - 1]!;
      this.stamps[k] = this.stamps[k - 1]!;
    }
    this.starts[at] = start;
    this.ends[at] = end;
    this.stamps[at] = ++this.stampClock;
    this.count++;
  }

  private removeRanges(at: number, n: number): void {
    for (let k = at + n; k < this.count; k++) {
      this.starts[k - n] = this.starts[k]!;
      this.ends[k - n] = this.ends[k]!;
      this.stamps[k - n] = this.stamps[k]!;
    }
    this.count -= n;
  }

  private setDsack(start: number, end: number): void {
    this.dsackPending = true;
    this.dsackStart = start;
    this.dsackEnd = end;
  }
}
