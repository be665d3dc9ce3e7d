/**
 * How many ICMP errors may go out, as Linux limits them: a token bucket for all errors
 * together (icmp_msgs_per_sec, icmp_msgs_burst) and one per destination (icmp_ratelimit,
 * inet_peer_xrlim_allow), so one source that draws errors as fast as it can (a flood of UDP
 * to closed ports) gets a trickle, and cannot spend the shared budget that every other host's
 * errors come out of.
 *
 * The per-destination buckets live in a table of fixed size (icmp.maxDestinations) that
 * allocates nothing after it is made: a destination not in it takes the slot of the one
 * entered longest ago. A forgotten destination starts again with a full burst, as a new one;
 * the shared bucket still bounds what all of them get together.
 */

import type { Ipv4Address } from '../wire/addr.js';

/** Token bucket: `perSecond` on average, `burst` back to back. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly perSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /** Whether a token is there at `now`, without taking it. */
  available(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    return this.tokens >= 1;
  }

  /** Take a token if there is one. */
  allow(now: number): boolean {
    if (!this.available(now)) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One error per `intervalMs` to each destination, `burst` back to back (Linux: 1000 ms and
 * XRLIM_BURST_FACTOR 6). `intervalMs` 0 turns the limit off.
 */
export class DestinationRateLimiter {
  private readonly slotOf = new Map<Ipv4Address, number>();
  private readonly addrs: Uint32Array;
  /** Credit in ms: an error costs intervalMs, time earns it back, up to burst * intervalMs. */
  private readonly credit: Float64Array;
  private readonly last: Float64Array;
  private used = 0;
  private nextSlot = 0;

  /** Destinations forgotten to make room for another (the table was full). */
  evictions = 0;

  constructor(private readonly intervalMs: number, private readonly burst: number, readonly maxDestinations: number) {
    const n = Math.max(1, maxDestinations);
    this.addrs = new Uint32Array(n);
    this.credit = new Float64Array(n);
    this.last = new Float64Array(n);
  }

  /** Destinations tracked now (at most maxDestinations). */
  get size(): number {
    return this.slotOf.size;
  }

  /** May an error go to `dst` at `now`? Takes the cost when it may. */
  allow(dst: Ipv4Address, now: number): boolean {
    const interval = this.intervalMs;
    if (interval <= 0) return true;
    const cap = this.burst * interval;
    let slot = this.slotOf.get(dst);
    if (slot === undefined) {
      slot = this.nextSlot;
      this.nextSlot = (slot + 1) % this.addrs.length;
      if (this.used > slot) {
        this.slotOf.delete(this.addrs[slot]!);
        this.evictions++;
      } else {
        this.used = slot + 1;
      }
      this.addrs[slot] = dst;
      this.slotOf.set(dst, slot);
      this.credit[slot] = cap;
      this.last[slot] = now;
    }
    let credit = this.credit[slot]! + (now - this.last[slot]!);
    if (credit > cap) credit = cap;
    this.last[slot] = now;
    const ok = credit >= interval;
    this.credit[slot] = ok ? credit - interval : credit;
    return ok;
  }
}
