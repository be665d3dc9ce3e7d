/**
 * RACK, the time-based loss detector of RFC 8985 ("The RACK-TLP Loss Detection Algorithm for
 * TCP"), with the per-segment transmission records it needs.
 *
 * Every data segment sent is one record: its sequence range, when it was last (re)sent, and
 * flags (SACKed, lost, retransmitted). Records sit in a ring in sequence order (SND.UNA
 * first), and the outstanding un-SACKed ones are also chained in transmission-time order (a
 * list through `tnext`/`tprev` indices, as Linux's tsorted list): a retransmission moves its
 * record to the tail. Loss detection walks that list from the oldest and stops at the first
 * record sent after the most recently delivered one, so an ACK costs O(newly delivered +
 * newly lost), not O(flight). The arrays are typed and grow by doubling when the flight
 * outgrows them (as the send buffer does); nothing is allocated per segment.
 *
 * The rules (RFC 8985 section 6):
 *  - each newly delivered (cumulatively ACKed or SACKed) record updates RACK.xmit_ts,
 *    RACK.end_seq and RACK.rtt, unless it was retransmitted and the ACK may be for an
 *    earlier transmission (its timestamp echo predates the retransmission, or it came back
 *    sooner than the minimum RTT);
 *  - a delivered record below RACK.fack that was never retransmitted is reordering;
 *  - RACK.reo_wnd = min(min_rtt / 4 * reo_wnd_mult, SRTT), or 0 before any reordering was
 *    seen while in recovery or with DupThresh segments SACKed; a D-SACK (at most one per
 *    round trip) raises reo_wnd_mult, which falls back to 1 after 16 recoveries without one;
 *  - a record sent before RACK.xmit_ts is lost once now >= its xmit_ts + RACK.rtt + reo_wnd;
 *    the earliest time a record not yet lost would become so arms the reordering timer.
 *
 * Byte counters of SACKed, lost and retransmitted-in-flight records give the data in flight
 * (Linux's packets_out - sacked_out - lost_out + retrans_out) that recovery sending uses.
 */

import { seqGeq, seqGt, seqLeq, seqLt, seqSub } from './seq.js';

/** Record flags. */
const SACKED = 1;
/** Judged lost (by RACK or an RTO); with RETRANSMITTED its retransmission is in flight. */
const LOST = 2;
/** Retransmitted since it was last judged lost (or at all, for a probe). */
const RETRANSMITTED = 4;
/** Ever retransmitted: an ACK for it may be for an earlier copy (RTT ambiguity). */
const EVER_RETRANSMITTED = 8;

/** RFC 8985 section 6.2 step 4: DupThresh. */
const DUP_THRESH = 3;
/** RFC 8985: reo_wnd_mult falls back to 1 after this many recoveries without a D-SACK. */
const REO_WND_PERSIST = 16;
/** Records in the first storage a connection takes (at its first transmission). */
const INITIAL_RECORDS = 16;
/** Bytes per record in the one buffer its six columns share: xmitAt, starts, ends, tnext, tprev, flags. */
const RECORD_BYTES = 8 + 4 + 4 + 4 + 4 + 1;
const NO_U32 = new Uint32Array(0);
const NO_I32 = new Int32Array(0);
const NO_F64 = new Float64Array(0);
const NO_U8 = new Uint8Array(0);
/** The spacing of transmission times within one clock reading (ms). */
const XMIT_TICK = 1e-6;
const NONE = -1;

export class Rack {
  // ---- the records: a ring in sequence order ----
  // No storage until the first transmission, then one buffer for all columns: an idle
  // connection costs nothing here, and a busy one a single allocation per doubling.
  private starts = NO_U32;
  private ends = NO_U32;
  private xmitAt = NO_F64;
  private flags = NO_U8;
  private tnext = NO_I32;
  private tprev = NO_I32;
  private mask = -1;
  private head = 0;
  private count = 0;
  /** Transmission-time list of outstanding records that are not SACKed (slots). */
  private thead = NONE;
  private ttail = NONE;
  /** No record below this sequence number is lost and waiting to be resent. */
  private lostHint = 0;
  /** The latest transmission time given to a record. */
  private lastXmitAt = -Infinity;

  // ---- RACK state (RFC 8985 section 6.1) ----
  /** RACK.xmit_ts, RACK.end_seq: the most recently sent of the delivered segments. */
  xmitTs = -Infinity;
  endSeq = 0;
  /** RACK.rtt: the RTT of that segment's delivery (ms). */
  rtt = 0;
  /** The smallest RTT RACK measured (ms), Infinity before one. */
  minRtt = Infinity;
  /** RACK.fack: the highest end sequence number delivered. */
  fack = 0;
  hasFack = false;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  reoWndMult = 1;
  reoWndPersist = 0;
  /** RACK.dsack_round: SND.MAX when a D-SACK last raised reo_wnd_mult, or null. */
  private dsackRound: number | null = null;

  // ---- counters ----
  /** Bytes of outstanding records: SACKed; lost (not SACKed); retransmissions in flight of lost ones. */
  sackedBytes = 0;
  lostBytes = 0;
  retransBytes = 0;
  /** Records currently SACKed, lost, and lost with a retransmission in flight. */
  sackedSegs = 0;
  lostSegs = 0;
  retransSegs = 0;
  /** Over the connection's life: records judged lost, reorderings seen, retransmissions judged lost. */
  lostTotal = 0;
  reorderEvents = 0;
  lostRetransmits = 0;
  /** Set by `detectLoss` when it marked anything. */
  newlyLost = 0;

  /** Records held (diagnostics, tests). */
  get records(): number {
    return this.count;
  }

  /** Bytes the network holds of [una, sndMax): outstanding less SACKed and lost, plus retransmissions. */
  inFlight(una: number, sndMax: number): number {
    const n = seqSub(sndMax, una) - this.sackedBytes - this.lostBytes + this.retransBytes;
    return n > 0 ? n : 0;
  }

  /** Forget everything (a new connection, or SACK turned on). */
  reset(una: number): void {
    this.head = 0;
    this.count = 0;
    this.thead = this.ttail = NONE;
    this.lostHint = una >>> 0;
    this.sackedBytes = this.lostBytes = this.retransBytes = 0;
    this.sackedSegs = this.lostSegs = this.retransSegs = 0;
    this.xmitTs = -Infinity;
    this.hasFack = false;
    this.dsackRound = null;
  }

  // ---- transmission ----

  /**
   * [seq, end) left at `now`, cut into records of at most `smss`: new data appends records,
   * a retransmission restamps the records it covers (a record counts as resent once its
   * last byte went) and moves them to the tail of the time list.
   */
  onTransmit(seq: number, end: number, now: number, smss: number): void {
    seq >>>= 0;
    end >>>= 0;
    if (!seqLt(seq, end)) return;
    // Transmission times are kept strictly increasing (1 ns apart within a clock tick), so
    // "sent after" is exact: RFC 8985's tie-break by sequence number would call a
    // retransmission sent just after new data in the same tick "sent before" it.
    if (now <= this.lastXmitAt) now = this.lastXmitAt + XMIT_TICK;
    this.lastXmitAt = now;
    const top = this.count > 0 ? this.ends[(this.head + this.count - 1) & this.mask]! : seq;
    if (this.count > 0 && seqLt(seq, top)) {
      let i = this.find(seq);
      for (; i < this.count; i++) {
        const s = (this.head + i) & this.mask;
        if (seqGt(this.ends[s]!, end)) break;
        this.restamp(s, now);
      }
      if (!seqGt(end, top)) return;
      seq = top;
    }
    while (seqLt(seq, end)) {
      const e = seqSub(end, seq) > smss ? (seq + smss) >>> 0 : end;
      this.append(seq, e, now);
      seq = e;
    }
  }

  private restamp(s: number, now: number): void {
    const f = this.flags[s]!;
    if ((f & SACKED) !== 0) return;
    this.xmitAt[s] = now;
    if ((f & (LOST | RETRANSMITTED)) === LOST) {
      this.retransBytes += seqSub(this.ends[s]!, this.starts[s]!);
      this.retransSegs++;
    }
    this.flags[s] = f | RETRANSMITTED | EVER_RETRANSMITTED;
    this.unlink(s);
    this.linkTail(s);
  }

  private append(seq: number, end: number, now: number): void {
    if (this.count === this.mask + 1) this.grow();
    const s = (this.head + this.count) & this.mask;
    this.count++;
    this.starts[s] = seq;
    this.ends[s] = end;
    this.xmitAt[s] = now;
    this.flags[s] = 0;
    this.linkTail(s);
  }

  // ---- acknowledgment ----

  /**
   * An ACK arrived: free the records it acknowledges cumulatively and mark those its SACK
   * blocks cover (`blocks`, `nBlocks`, pairs of edges; a D-SACK block first is the caller's
   * to leave out by passing `firstBlock` 1), updating RACK's state from each delivered one.
   * `tsEcr` is the ACK's timestamp echo (or -1), `tsOf` maps a record time to our TSval.
   * Returns the bytes newly SACKed.
   */
  onAck(
    ack: number, blocks: ArrayLike<number>, firstBlock: number, nBlocks: number, now: number,
    tsEcr: number, tsOffset: number,
  ): number {
    ack >>>= 0;
    const prevFack = this.fack;
    const hadFack = this.hasFack;
    // Cumulatively acknowledged records.
    while (this.count > 0) {
      const s = this.head;
      const e = this.ends[s]!;
      if (seqLeq(e, ack)) {
        if ((this.flags[s]! & SACKED) === 0) this.delivered(s, now, tsEcr, tsOffset, prevFack, hadFack);
        this.drop(s);
        this.head = (this.head + 1) & this.mask;
        this.count--;
        continue;
      }
      if (seqLt(this.starts[s]!, ack)) {
        // Partly acknowledged: keep the rest (the byte counters follow the shorter record).
        const cut = seqSub(ack, this.starts[s]!);
        const f = this.flags[s]!;
        if ((f & SACKED) !== 0) this.sackedBytes -= cut;
        else if ((f & LOST) !== 0) {
          this.lostBytes -= cut;
          if ((f & RETRANSMITTED) !== 0) this.retransBytes -= cut;
        }
        this.starts[s] = ack;
      }
      break;
    }
    if (seqLt(this.lostHint, ack)) this.lostHint = ack;
    let added = 0;
    for (let b = firstBlock; b < nBlocks; b++) {
      const l = blocks[2 * b]! >>> 0;
      const r = blocks[2 * b + 1]! >>> 0;
      if (!seqLt(l, r) || !seqGt(r, ack)) continue;
      for (let i = this.find(l); i < this.count; i++) {
        const s = (this.head + i) & this.mask;
        if (seqGt(this.ends[s]!, r)) break;
        if (seqLt(this.starts[s]!, l) || (this.flags[s]! & SACKED) !== 0) continue;
        this.delivered(s, now, tsEcr, tsOffset, prevFack, hadFack);
        this.drop(s);
        this.flags[s] = this.flags[s]! | SACKED;
        const len = seqSub(this.ends[s]!, this.starts[s]!);
        this.sackedBytes += len;
        this.sackedSegs++;
        added += len;
      }
    }
    return added;
  }

  /** RFC 8985 section 6.2 steps 2 and 3 for a newly delivered record. */
  private delivered(s: number, now: number, tsEcr: number, tsOffset: number, prevFack: number, hadFack: boolean): void {
    const f = this.flags[s]!;
    const sent = this.xmitAt[s]!;
    const end = this.ends[s]!;
    const rtt = now - sent;
    if ((f & EVER_RETRANSMITTED) !== 0) {
      // Maybe the ACK of an earlier copy: then this RTT would be too short.
      if (rtt < this.minRtt) return;
      if (tsEcr >= 0 && ((tsEcr - ((Math.floor(sent) + tsOffset) >>> 0)) | 0) < 0) return;
    } else if (hadFack && seqLt(end, prevFack)) {
      // Delivered below what was delivered before, never retransmitted: reordering.
      if (!this.reorderingSeen) this.reorderingSeen = true;
      this.reorderEvents++;
    }
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (sent > this.xmitTs || (sent === this.xmitTs && seqGt(end, this.endSeq))) {
      this.xmitTs = sent;
      this.endSeq = end;
      this.rtt = rtt;
    }
    if (!this.hasFack || seqGt(end, this.fack)) {
      this.fack = end;
      this.hasFack = true;
    }
  }

  /**
   * RFC 8985 section 6.2 step 4: an ACK carried a D-SACK (`dsack`); `una` is SND.UNA after
   * it, `sndMax` SND.MAX. At most one increase of reo_wnd_mult per round trip.
   */
  onDsack(dsack: boolean, una: number, sndMax: number): void {
    if (this.dsackRound !== null && seqGeq(una, this.dsackRound)) this.dsackRound = null;
    if (dsack && this.dsackRound === null) {
      this.dsackRound = sndMax >>> 0;
      this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /** A recovery ended: one of the 16 that keep a raised reo_wnd_mult. */
  onRecoveryEnd(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist === 0) this.reoWndMult = 1;
  }

  /** RACK.reo_wnd (ms) for `srtt`, `inRecovery` meaning fast recovery or after an RTO. */
  reoWnd(srtt: number, inRecovery: boolean): number {
    if (!this.reorderingSeen && (inRecovery || this.sackedSegs >= DUP_THRESH)) return 0;
    if (!Number.isFinite(this.minRtt)) return 0;
    const w = (this.minRtt / 4) * this.reoWndMult;
    return w < srtt ? w : srtt;
  }

  /**
   * RFC 8985 section 6.2 step 5: mark lost every record sent before RACK.xmit_ts whose
   * xmit_ts + RACK.rtt + reo_wnd has passed. Returns the time (ms from now) until the next
   * record would be lost, for the reordering timer, or 0. `newlyLost` says how many it marked.
   */
  detectLoss(now: number, reoWnd: number): number {
    this.newlyLost = 0;
    let s = this.thead;
    while (s !== NONE) {
      const next = this.tnext[s]!;
      const sent = this.xmitAt[s]!;
      if (sent > this.xmitTs) break; // sent after the most recent delivery: nothing known yet
      const f = this.flags[s]!;
      if (sent === this.xmitTs && !seqLt(this.ends[s]!, this.endSeq)) {
        s = next;
        continue;
      }
      if ((f & (LOST | RETRANSMITTED)) !== LOST) {
        const remaining = sent + this.rtt + reoWnd - now;
        if (remaining > 0) return remaining; // later records were sent later still
        this.markLost(s);
      }
      s = next;
    }
    return 0;
  }

  /**
   * RFC 8985 section 6.3 at a retransmission timeout: everything outstanding and not
   * SACKed is lost (it is all sent again, from SND.UNA). With `forgetSacks` (the receiver
   * may have reneged) SACKed records count as outstanding again first.
   */
  markAllLost(forgetSacks: boolean): void {
    const counted = this.lostRetransmits;
    for (let i = 0; i < this.count; i++) {
      const s = (this.head + i) & this.mask;
      if (forgetSacks && (this.flags[s]! & SACKED) !== 0) {
        this.flags[s] = this.flags[s]! & ~SACKED;
        this.linkTail(s);
      }
      if ((this.flags[s]! & SACKED) === 0) this.markLost(s);
    }
    if (forgetSacks) {
      this.sackedBytes = 0;
      this.sackedSegs = 0;
    }
    this.lostRetransmits = counted; // the timer, not RACK, found these
    if (this.count > 0) this.lostHint = this.starts[this.head]!;
  }

  private markLost(s: number): void {
    const f = this.flags[s]!;
    const len = seqSub(this.ends[s]!, this.starts[s]!);
    if ((f & RETRANSMITTED) !== 0 && (f & LOST) !== 0) {
      this.retransBytes -= len;
      this.retransSegs--;
      this.lostRetransmits++;
    }
    if ((f & LOST) === 0) {
      this.lostBytes += len;
      this.lostSegs++;
    }
    this.flags[s] = (f | LOST) & ~RETRANSMITTED;
    this.lostTotal++;
    this.newlyLost++;
    if (seqLt(this.starts[s]!, this.lostHint)) this.lostHint = this.starts[s]!;
  }

  /**
   * The lowest record judged lost and not yet resent, as [start, end) in `out`; false when
   * there is none. Amortised O(1): a hint skips the records already looked at.
   */
  nextLost(out: { start: number; end: number }): boolean {
    if (this.lostSegs === this.retransSegs) return false;
    for (let i = this.find(this.lostHint); i < this.count; i++) {
      const s = (this.head + i) & this.mask;
      if ((this.flags[s]! & (LOST | RETRANSMITTED | SACKED)) === LOST) {
        this.lostHint = this.starts[s]!;
        out.start = this.starts[s]!;
        out.end = this.ends[s]!;
        return true;
      }
    }
    if (this.count > 0) this.lostHint = this.ends[(this.head + this.count - 1) & this.mask]!;
    return false;
  }

  /** Whether the record holding `seq` was ever retransmitted (for D-SACK and TLP checks; tests). */
  wasRetransmitted(seq: number): boolean {
    const i = this.find(seq);
    if (i >= this.count) return false;
    return (this.flags[(this.head + i) & this.mask]! & EVER_RETRANSMITTED) !== 0;
  }

  /** Whether the record holding `seq` is currently judged lost (tests, diagnostics). */
  isLost(seq: number): boolean {
    const i = this.find(seq);
    if (i >= this.count) return false;
    const s = (this.head + i) & this.mask;
    return (this.flags[s]! & LOST) !== 0 && seqGeq(seq, this.starts[s]!);
  }

  // ---- internals ----

  /** Index (0 = at SND.UNA) of the first record ending after `seq`; `count` if none. */
  private find(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLeq(this.ends[(this.head + mid) & this.mask]!, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Record `s` leaves the outstanding set (acknowledged or SACKed): its counters and list place. */
  private drop(s: number): void {
    const f = this.flags[s]!;
    const len = seqSub(this.ends[s]!, this.starts[s]!);
    if ((f & SACKED) !== 0) {
      this.sackedBytes -= len;
      this.sackedSegs--;
      return;
    }
    if ((f & LOST) !== 0) {
      this.lostBytes -= len;
      this.lostSegs--;
      if ((f & RETRANSMITTED) !== 0) {
        this.retransBytes -= len;
        this.retransSegs--;
      }
    }
    this.unlink(s);
  }

  private linkTail(s: number): void {
    this.tprev[s] = this.ttail;
    this.tnext[s] = NONE;
    if (this.ttail !== NONE) this.tnext[this.ttail] = s;
    else this.thead = s;
    this.ttail = s;
  }

  private unlink(s: number): void {
    const p = this.tprev[s]!;
    const n = this.tnext[s]!;
    if (p !== NONE) this.tnext[p] = n;
    else this.thead = n;
    if (n !== NONE) this.tprev[n] = p;
    else this.ttail = p;
  }

  /** Take the first storage, or double it: records move to slots 0..count-1, list links are renumbered. */
  private grow(): void {
    const old = this.mask + 1;
    const size = old === 0 ? INITIAL_RECORDS : old * 2;
    const storage = new ArrayBuffer(size * RECORD_BYTES);
    const xmitAt = new Float64Array(storage, 0, size);
    const starts = new Uint32Array(storage, 8 * size, size);
    const ends = new Uint32Array(storage, 12 * size, size);
    const tnext = new Int32Array(storage, 16 * size, size);
    const tprev = new Int32Array(storage, 20 * size, size);
    const flags = new Uint8Array(storage, 24 * size, size);
    const at = (s: number): number => (s === NONE ? NONE : (s - this.head + old) & this.mask);
    for (let i = 0; i < this.count; i++) {
      const s = (this.head + i) & this.mask;
      starts[i] = this.starts[s]!;
      ends[i] = this.ends[s]!;
      xmitAt[i] = this.xmitAt[s]!;
      flags[i] = this.flags[s]!;
      tnext[i] = at(this.tnext[s]!);
      tprev[i] = at(this.tprev[s]!);
    }
    this.thead = at(this.thead);
    this.ttail = at(this.ttail);
    this.starts = starts;
    this.ends = ends;
    this.xmitAt = xmitAt;
    this.flags = flags;
    this.tnext = tnext;
    this.tprev = tprev;
    this.mask = size - 1;
    this.head = 0;
  }
}
