/**
 * Sender-side SACK scoreboard (RFC 2018, RFC 6675 "A Conservative Loss Recovery Algorithm
 * Based on Selective Acknowledgment (SACK) for TCP").
 *
 * Holds which bytes above SND.UNA the receiver has reported holding, as a sorted list of
 * disjoint, non-adjacent [start, end) sequence ranges (modulo 2^32, all within
 * SND.UNA .. SND.NXT, so comparisons relative to SND.UNA are consistent). On top of it:
 * RFC 6675's IsLost(), SetPipe() and NextSeg() rules, in bytes.
 *
 * The state machine owns RecoveryPoint, duplicate-ACK counting and RescueRxt; the scoreboard
 * owns HighRxt because NextSeg() and SetPipe() are defined in terms of it.
 * Nothing here allocates: results come back through a caller-owned `SeqRange`.
 */

import { seqGt, seqGeq, seqLeq, seqLt, seqSub } from './seq.js';

/** RFC 6675 section 2: DupThresh = 3. */
const DUP_THRESH = 3;
export const DEFAULT_MAX_SACK_RANGES = 64;
const NO_RANGES = new Uint32Array(0);

/** A mutable [start, end) sequence range used as an out-parameter. */
export interface SeqRange {
  start: number;
  end: number;
}

export class SackScoreboard {
  readonly maxRanges: number;
  // Made on the first SACK block: most connections never see one (no loss).
  private starts = NO_RANGES;
  private ends = NO_RANGES;
  private count = 0;
  private una = 0;
  private sacked = 0;
  /** RFC 6675 HighRxt (exclusive end): un-SACKed bytes below it have been retransmitted. */
  private highRxt = 0;

  /** The last `update` carried a D-SACK block (RFC 2883 section 4); it was not recorded. */
  lastDsack = false;
  /** That D-SACK block's edges (valid when lastDsack). */
  dsackStart = 0;
  dsackEnd = 0;
  /** Count of D-SACK blocks seen (for spurious-retransmission heuristics/statistics). */
  dsackCount = 0;
  /** Blocks ignored as invalid (beyond SND.NXT, empty, or reversed). */
  invalidBlocks = 0;
  /** Ranges forgotten because `maxRanges` was reached (safe: they just look un-SACKed). */
  evictedRanges = 0;

  constructor(maxRanges = DEFAULT_MAX_SACK_RANGES, una = 0) {
    this.maxRanges = Math.max(1, maxRanges);
    this.una = una >>> 0;
    this.highRxt = this.una;
  }

  /** Total bytes currently SACKed above SND.UNA. */
  get sackedBytes(): number {
    return this.sacked;
  }

  /** Number of SACKed ranges held. */
  get rangeCount(): number {
    return this.count;
  }

  /** SND.UNA as last seen by `update`/`advance`/`reset`. */
  get sndUna(): number {
    return this.una;
  }

  /** RFC 6675 HighRxt as an exclusive end (== SND.UNA when nothing retransmitted). */
  get highRetransmitted(): number {
    return this.highRxt;
  }

  /** One past the highest SACKed byte, or SND.UNA when nothing is SACKed. */
  get highestSacked(): number {
    return this.count > 0 ? this.ends[this.count - 1]! : this.una;
  }

  /** Range k (0 = lowest) into `out`; for diagnostics and tests. */
  rangeAt(k: number, out: SeqRange): SeqRange {
    if (k < 0 || k >= this.count) throw new RangeError('no such SACK range');
    out.start = this.starts[k]!;
    out.end = this.ends[k]!;
    return out;
  }

  /**
   * Forget all SACK information. RFC 6675 section 5.1 / RFC 2018 section 8: after an RTO the
   * sender must not trust earlier SACKs (the receiver may have reneged) and retransmits
   * from SND.UNA. Also resets HighRxt.
   */
  reset(una: number): void {
    this.count = 0;
    this.sacked = 0;
    this.una = una >>> 0;
    this.highRxt = this.una;
    this.lastDsack = false;
  }

  /** Loss recovery begins: RFC 6675 section 5 step (4.2) sets HighRxt = HighACK. */
  startRecovery(): void {
    this.highRxt = this.una;
  }

  /** Bytes [start, end) were just retransmitted: HighRxt = max(HighRxt, end). */
  markRetransmitted(end: number): void {
    if (seqGt(end, this.highRxt)) this.highRxt = end >>> 0;
  }

  /** SND.UNA moved to `una`: drop or trim ranges below it. */
  advance(una: number): void {
    una = una >>> 0;
    if (!seqGt(una, this.una)) return;
    this.una = una;
    if (seqLt(this.highRxt, una)) this.highRxt = una;
    let k = 0;
    while (k < this.count && seqLeq(this.ends[k]!, una)) {
      this.sacked -= seqSub(this.ends[k]!, this.starts[k]!);
      k++;
    }
    if (k > 0) this.remove(0, k);
    if (this.count > 0 && seqLt(this.starts[0]!, una)) {
      this.sacked -= seqSub(una, this.starts[0]!);
      this.starts[0] = una;
    }
  }

  /**
   * Process an acceptable ACK: SND.UNA becomes `ack`, then the ACK's SACK blocks
   * (`blocks[2i]`, `blocks[2i+1]` = left, right edge, `nBlocks` of them) are validated and
   * merged. Returns the number of bytes newly SACKed by this ACK (RFC 6675 uses "an ACK
   * that SACKs new data" as its duplicate-ACK signal, and PRR (RFC 6937) needs the count
   * for DeliveredData).
   *
   * Validation: blocks must be non-empty and lie within SND.UNA .. SND.NXT (RFC 2018); a
   * first block below the cumulative ACK, or contained in the second block, is a D-SACK
   * (RFC 2883 section 4) and is reported via `lastDsack` but not recorded; other blocks
   * wholly below SND.UNA are ignored and ones straddling it are trimmed.
   */
  update(ack: number, sndNxt: number, blocks: ArrayLike<number>, nBlocks: number): number {
    this.advance(ack);
    this.lastDsack = false;
    let added = 0;
    for (let b = 0; b < nBlocks; b++) {
      let l = blocks[2 * b]! >>> 0;
      const r = blocks[2 * b + 1]! >>> 0;
      if (seqSub(r, l) <= 0) {
        this.invalidBlocks++;
        continue;
      }
      if (b === 0) {
        let dsack = seqLt(l, this.una);
        if (!dsack && nBlocks > 1) {
          const l2 = blocks[2]! >>> 0;
          const r2 = blocks[3]! >>> 0;
          dsack = seqSub(r2, l2) > 0 && seqGeq(l, l2) && seqLeq(r, r2);
        }
        if (dsack) {
          this.lastDsack = true;
          this.dsackStart = l;
          this.dsackEnd = r;
          this.dsackCount++;
          continue;
        }
      }
      if (seqLeq(r, this.una)) continue; // old news
      if (seqGt(r, sndNxt)) {
        this.invalidBlocks++;
        continue;
      }
      if (seqLt(l, this.una)) l = this.una;
      added += this.add(l, r);
    }
    return added;
  }

  /** Whether every byte of [seq, seq+len) has been SACKed. */
  isSacked(seq: number, len: number): boolean {
    const end = (seq + len) >>> 0;
    for (let k = 0; k < this.count; k++) {
      if (seqLeq(this.starts[k]!, seq)) {
        if (seqGeq(this.ends[k]!, end)) return true;
      } else {
        return false;
      }
    }
    return false;
  }

  /**
   * The first un-SACKed range at or after `fromSeq` (clamped up to SND.UNA) and below
   * `sndNxt`, written to `out`. Returns false if there is none.
   */
  nextHole(fromSeq: number, sndNxt: number, out: SeqRange): boolean {
    let x = seqLt(fromSeq, this.una) ? this.una : fromSeq >>> 0;
    for (let k = 0; k < this.count; k++) {
      if (seqLeq(this.ends[k]!, x)) continue;
      if (seqLeq(this.starts[k]!, x)) {
        x = this.ends[k]!; // inside a SACKed range: the hole starts at its end
        continue;
      }
      if (!seqLt(x, sndNxt)) return false;
      out.start = x;
      out.end = seqLt(this.starts[k]!, sndNxt) ? this.starts[k]! : sndNxt >>> 0;
      return true;
    }
    if (!seqLt(x, sndNxt)) return false;
    out.start = x;
    out.end = sndNxt >>> 0;
    return true;
  }

  /**
   * RFC 6675 IsLost(SeqNumber): true when DupThresh discontiguous SACKed sequences, or more
   * than (DupThresh-1)*SMSS SACKed bytes, lie above `seq`.
   *
   * Byte scoreboards do not remember segment boundaries, so "SACKed sequences" is counted
   * as the least number of segments the SACKed bytes above `seq` can be: a range of L bytes
   * holds at least ceil(L/SMSS) segments. That sum reaching DupThresh covers both of the
   * RFC's conditions (bytes > 2*SMSS implies it), and is conservative for runs of small
   * segments reported in one range.
   */
  isLost(seq: number, smss: number): boolean {
    if (this.count === 0 || !seqLt(seq, this.ends[this.count - 1]!)) return false;
    let segs = 0;
    for (let k = this.count - 1; k >= 0; k--) {
      const s = this.starts[k]!;
      const e = this.ends[k]!;
      if (seqLeq(e, seq)) break;
      const from = seqGt(s, seq) ? s : (seq + 1) >>> 0; // bytes strictly greater than seq
      segs += Math.ceil(seqSub(e, from) / smss);
      if (segs >= DUP_THRESH) return true;
    }
    return false;
  }

  /**
   * RFC 6675 SetPipe(), in bytes: for every un-SACKed byte between SND.UNA and SND.NXT,
   * count 1 if it is not lost (IsLost false) and 1 more if it has been retransmitted
   * (below HighRxt). O(ranges).
   */
  pipe(sndNxt: number, smss: number): number {
    const una = this.una;
    const outstanding = seqSub(sndNxt, una);
    if (outstanding <= 0) return 0;
    // Un-SACKed bytes below HighRxt are retransmitted.
    let rtx = 0;
    const hr = seqLt(this.highRxt, sndNxt) ? this.highRxt : sndNxt >>> 0;
    if (seqGt(hr, una)) rtx = seqSub(hr, una) - this.sackedBelow(hr);
    if (this.count === 0) return outstanding + rtx;
    // Holes are lost or not as a whole (IsLost is constant between SACKed ranges); the
    // hole below range k is lost iff the segments SACKed in ranges k..top reach DupThresh.
    let lost = 0;
    let segs = 0;
    let k = this.count - 1;
    for (; k >= 0; k--) {
      segs += Math.ceil(seqSub(this.ends[k]!, this.starts[k]!) / smss);
      if (segs >= DUP_THRESH) break;
    }
    // Holes below ranges 0..k are lost: everything from SND.UNA to starts[k] minus SACKed.
    if (k >= 0) {
      lost = seqSub(this.starts[k]!, una);
      for (let q = 0; q < k; q++) lost -= seqSub(this.ends[q]!, this.starts[q]!);
    }
    return outstanding - this.sacked - lost + rtx;
  }

  /**
   * RFC 6675 NextSeg() rule (1): the lowest un-SACKed byte S2 >= HighRxt with IsLost(S2),
   * returned as a range of up to `smss` bytes (never crossing into SACKed data or beyond
   * SND.NXT). With `lostOnly` false it is rule (3): the same without the IsLost condition.
   * Rule (2), new data, and rule (4), see `rescueSegment`, are the caller's to try.
   * Returns false if no byte qualifies.
   */
  nextSegment(sndNxt: number, smss: number, out: SeqRange, lostOnly = true): boolean {
    if (!this.nextHole(this.highRxt, sndNxt, out)) return false;
    if (lostOnly && !this.isLost(out.start, smss)) return false;
    if (seqSub(out.end, out.start) > smss) out.end = (out.start + smss) >>> 0;
    return true;
  }

  /**
   * RFC 6675 NextSeg() rule (4), the rescue retransmission: up to `smss` bytes ending at the
   * highest un-SACKed byte below SND.NXT. The caller checks the rule's conditions (once per
   * recovery, HighACK > RescueRxt) and sets RescueRxt = RecoveryPoint; HighRxt is not moved.
   */
  rescueSegment(sndNxt: number, smss: number, out: SeqRange): boolean {
    let holeEnd = sndNxt >>> 0;
    for (let k = this.count - 1; k >= -1; k--) {
      const holeStart = k >= 0 ? this.ends[k]! : this.una;
      if (seqLt(holeStart, holeEnd)) {
        out.end = holeEnd;
        out.start = seqSub(holeEnd, holeStart) > smss ? (holeEnd - smss) >>> 0 : holeStart;
        return true;
      }
      if (k >= 0) holeEnd = this.starts[k]!;
    }
    return false;
  }

  // ---- internals ----

  private sackedBelow(x: number): number {
    let n = 0;
    for (let k = 0; k < this.count; k++) {
      const s = this.starts[k]!;
      if (!seqLt(s, x)) break;
      const e = this.ends[k]!;
      n += seqSub(seqLt(e, x) ? e : x, s);
    }
    return n;
  }

  /** Merge [l, r) (already validated, l >= una) in; returns bytes newly covered. */
  private add(l: number, r: number): number {
    const cnt = this.count;
    let i = 0;
    while (i < cnt && seqLt(this.ends[i]!, l)) i++;
    let j = i;
    while (j < cnt && seqLeq(this.starts[j]!, r)) j++;
    j--;
    if (j < i) {
      if (cnt >= this.maxRanges) {
        // Full: keep the information nearest SND.UNA, which drives retransmission. Forget
        // the highest range if the new one is below it, else the new one.
        this.evictedRanges++;
        if (i >= cnt) return 0;
        this.sacked -= seqSub(this.ends[cnt - 1]!, this.starts[cnt - 1]!);
        this.count--;
      }
      if (this.starts.length === 0) {
        this.starts = new Uint32Array(this.maxRanges + 1);
        this.ends = new Uint32Array(this.maxRanges + 1);
      }
      for (let k = this.count; k > i; k--) {
        this.starts[k] = this.starts[k - 1]!;
        this.ends[k] = this.ends[k - 1]!;
      }
      this.starts[i] = l;
      this.ends[i] = r;
      this.count++;
      const n = seqSub(r, l);
      this.sacked += n;
      return n;
    }
    const ms = seqLt(l, this.starts[i]!) ? l : this.starts[i]!;
    const me = seqGt(r, this.ends[j]!) ? r : this.ends[j]!;
    let covered = 0;
    for (let k = i; k <= j; k++) covered += seqSub(this.ends[k]!, this.starts[k]!);
    this.starts[i] = ms;
    this.ends[i] = me;
    if (j > i) this.remove(i + 1, j - i);
    const n = seqSub(me, ms) - covered;
    this.sacked += n;
    return n;
  }

  private remove(at: number, n: number): void {
    for (let k = at + n; k < this.count; k++) {
      this.starts[k - n] = this.starts[k]!;
      this.ends[k - n] = this.ends[k]!;
    }
    this.count -= n;
  }
}
