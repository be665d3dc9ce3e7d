/**
 * What a rate-based congestion controller (BBR) needs from the connection, kept apart from
 * the loss-based machinery: delivery-rate snapshots when new data leaves, a rate sample and
 * the model update on every ACK, and pacing.
 *
 * Pacing is a token bucket per connection: credit grows at the pacing rate with time, up to a
 * few milliseconds' worth (at least two segments); new data goes only while there is credit,
 * and when it runs out the connection's one heap timer is armed (`paceAt`) for when a segment's
 * worth will have accrued. No closure or allocation per packet. Only BBR connections pace;
 * retransmissions are not paced.
 */

import type { Bbr } from './congestion/bbr.js';
import type { Tcb } from './tcb.js';
import { seqSub } from './seq.js';
import { scheduleTcbTimer } from './lifecycle.js';

/** The most credit the bucket holds, in ms of the pacing rate (timers fire late by about this). */
const PACE_BUCKET_MS = 4;
/**
 * Credit short of a whole segment by less than this (bytes) counts as the segment: the
 * credit accrued by the time the timer fires is computed in floating point and may fall a
 * rounding error short, and a wait for that error alone would be shorter than the clock can
 * tell apart from now (a timer due now, forever).
 */
const PACE_SLACK = 1;
/** The shortest pacing wait (ms): always a deadline later than now. */
const PACE_MIN_WAIT_MS = 0.001;

/** New data [.., end) left at `now`; `inFlightBefore` bytes were outstanding before it. */
export function rateOnSend(bbr: Bbr, end: number, now: number, inFlightBefore: number): void {
  bbr.rate.onSend(end, now, inFlightBefore);
}

/**
 * After an ACK was processed (SND.UNA advanced or data SACKed, losses detected): the rate
 * sample, and BBR's model, pacing rate and cwnd. `delivered` bytes were newly delivered,
 * `lost` bytes newly judged lost. The RTT sample is the rate sample's (its transmission's
 * send time to now, as Linux's rs->rtt_us), not the timestamp option's whole milliseconds.
 */
export function rateAfterAck(tcb: Tcb, bbr: Bbr, delivered: number, lost: number, now: number): void {
  bbr.burst = 3 * tcb.smss; // Linux's quantization budget: room for three bursts beyond gain * BDP
  const rs = bbr.rate.onAck(tcb.sndUna, delivered, now, bbr.minRtt);
  const inFlight = tcb.rack !== null ? tcb.rack.inFlight(tcb.sndUna, tcb.sndMax) : seqSub(tcb.sndMax, tcb.sndUna);
  bbr.onRateSample(rs, rs.rtt, inFlight, lost, now, tcb.rtoRecovery);
}

/**
 * Bytes of new data pacing allows now (Infinity when the connection does not pace). Refills
 * the bucket for the time passed.
 */
export function paceAllowance(tcb: Tcb, now: number): number {
  const bbr = tcb.bbr;
  if (bbr === null || bbr.pacingRate <= 0) return Infinity;
  const rate = bbr.pacingRate;
  let cap = rate * PACE_BUCKET_MS;
  if (cap < 2 * tcb.smss) cap = 2 * tcb.smss;
  let credit = tcb.paceCredit + rate * (now - tcb.paceStamp);
  if (credit > cap) credit = cap;
  tcb.paceCredit = credit;
  tcb.paceStamp = now;
  return credit > 0 ? credit + PACE_SLACK : 0;
}

/** The new data pacing lets go of `len` wanted: whole segments within `credit`, or 0. */
export function pacedLength(len: number, credit: number, smss: number): number {
  if (credit >= len) return len;
  return credit >= smss ? credit - (credit % smss) : 0;
}

/** `bytes` of new data went out under pacing. */
export function paceSpend(tcb: Tcb, bytes: number): void {
  if (tcb.bbr !== null) tcb.paceCredit -= bytes;
}

/**
 * Pacing stopped a send: come back when a segment's worth of credit has accrued. The
 * deadline is always later than `now`, so a pacing timer can never be due again at once.
 */
export function paceWait(tcb: Tcb, now: number): void {
  const bbr = tcb.bbr!;
  let wait = (tcb.smss - PACE_SLACK - tcb.paceCredit) / bbr.pacingRate;
  if (!(wait >= PACE_MIN_WAIT_MS)) wait = PACE_MIN_WAIT_MS;
  const at = now + wait;
  if (at < tcb.paceAt) {
    tcb.paceAt = at;
    scheduleTcbTimer(tcb);
  }
}
