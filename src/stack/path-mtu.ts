/**
 * The path MTU cache (RFC 1191 for IPv4, RFC 8201 for IPv6): per destination, the largest
 * packet a router on the way said it takes, as Linux keeps it in its route exceptions. One
 * cache per network layer, read by output (fragmenting, DF checks) and by TCP (segment size).
 *
 * Only validated reports lower an entry (the transports check that the quoted header is of a
 * connection or socket we have before they call `lower`); a report never raises one and never
 * goes below the layer's floor (IPv4: 552, Linux's min_pmtu; IPv6: 1280, RFC 8200 5, where
 * ICMPv6 already discards a report below it, RFC 8201 4), so a forged "MTU 68" cannot cut
 * traffic to tiny packets. Entries expire after `expiresMs`
 * (Linux's mtu_expires, 10 minutes), and the path is tried at the link MTU again. The cache
 * is bounded: a new destination past `maxEntries` evicts the least recently lowered one.
 *
 * `generation` changes whenever an entry is lowered, expires or is evicted, so a TCP
 * connection needs to look up its destination only when it changed.
 */

import type { Clock } from '../time/clock.js';

export interface PathMtuConfig {
  /** Smallest path MTU a report may set (reports below it are taken as it). */
  floor: number;
  /** How long a learned path MTU holds, in ms (Linux: 600 s). */
  expiresMs: number;
  /** Most destinations held (Linux has no fixed bound; its route-cache GC is similar). */
  maxEntries: number;
}

export const PATH_MTU_EXPIRES_MS = 600_000;
export const PATH_MTU_MAX_ENTRIES = 4096;

export interface PathMtuEntry<K> {
  destination: K;
  mtu: number;
  /** Clock time it expires at. */
  expiresAt: number;
  /** The report was below the floor: the floor was taken, and DF goes off on this path (Linux's locked MTU). */
  locked: boolean;
}

export interface PathMtuStats {
  /** Reports that lowered (or created) an entry. */
  lowered: number;
  /** Reports that did not lower anything (not below what is known or the link MTU). */
  ignored: number;
  /** Reports below the floor, taken as the floor. */
  belowFloor: number;
  expired: number;
  evicted: number;
}

export class PathMtuCache<K> {
  /** In order of their last lowering: the first is the oldest, evicted first. */
  private readonly entries = new Map<K, PathMtuEntry<K>>();
  readonly stats: PathMtuStats = { lowered: 0, ignored: 0, belowFloor: 0, expired: 0, evicted: 0 };
  private gen = 0;

  constructor(private readonly clock: Clock, readonly config: PathMtuConfig) {}

  /**
   * Changes whenever a destination's path MTU may have changed, expiry included: entries are
   * in order of their lowering and all live equally long, so the first expires first.
   */
  get generation(): number {
    if (this.entries.size > 0) this.expireOldest();
    return this.gen;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The path MTU to `dst` over a link of `linkMtu`: the link MTU, or less when a report said so
   * and has not expired.
   */
  get(dst: K, linkMtu: number): number {
    if (this.entries.size === 0) return linkMtu;
    const e = this.entries.get(dst);
    if (e === undefined) return linkMtu;
    if (this.clock.now() >= e.expiresAt) {
      this.entries.delete(dst);
      this.stats.expired++;
      this.gen++;
      return linkMtu;
    }
    return e.mtu < linkMtu ? e.mtu : linkMtu;
  }

  /** The live entry for `dst` (expired entries are removed), or undefined. */
  entry(dst: K): PathMtuEntry<K> | undefined {
    const e = this.entries.get(dst);
    if (e === undefined) return undefined;
    if (this.clock.now() >= e.expiresAt) {
      this.entries.delete(dst);
      this.stats.expired++;
      this.gen++;
      return undefined;
    }
    return e;
  }

  /**
   * A validated report (Fragmentation Needed, Packet Too Big) says packets to `dst` must be at
   * most `reported` bytes; `linkMtu` is the MTU of the link the route to `dst` uses. Returns
   * the path MTU now in effect (never above what it was, never below the floor).
   */
  lower(dst: K, reported: number, linkMtu: number): number {
    const floor = this.config.floor;
    let mtu = reported;
    let locked = false;
    if (mtu < floor) {
      this.stats.belowFloor++;
      mtu = floor;
      locked = true;
    }
    const current = this.get(dst, linkMtu);
    if (mtu >= current) {
      // Never raised by a report (RFC 1191 6.3, RFC 8201 4). A below-floor report on a path
      // already at the floor still locks it (DF off), as Linux does.
      const e = this.entries.get(dst);
      if (locked && e !== undefined && !e.locked) {
        e.locked = true;
        this.gen++;
      }
      this.stats.ignored++;
      return current;
    }
    const existing = this.entries.get(dst);
    if (existing !== undefined) this.entries.delete(dst);
    else if (this.entries.size >= this.config.maxEntries) this.evictOldest();
    this.entries.set(dst, { destination: dst, mtu, expiresAt: this.clock.now() + this.config.expiresMs, locked: locked || (existing?.locked ?? false) });
    this.stats.lowered++;
    this.gen++;
    return mtu;
  }

  /** Whether packets to `dst` go without DF (a report below the floor was taken). */
  locked(dst: K): boolean {
    return this.entry(dst)?.locked ?? false;
  }

  /** Every live entry, oldest first (expired ones are dropped on the way). */
  list(): PathMtuEntry<K>[] {
    const now = this.clock.now();
    const out: PathMtuEntry<K>[] = [];
    for (const e of [...this.entries.values()]) {
      if (now >= e.expiresAt) {
        this.entries.delete(e.destination);
        this.stats.expired++;
        this.gen++;
      } else out.push(e);
    }
    return out;
  }

  /** Forget every entry (an interface's MTU changed, or a test). */
  clear(): void {
    if (this.entries.size === 0) return;
    this.entries.clear();
    this.gen++;
  }

  private expireOldest(): void {
    const now = this.clock.now();
    for (const e of this.entries.values()) {
      if (now < e.expiresAt) return;
      this.entries.delete(e.destination);
      this.stats.expired++;
      this.gen++;
    }
  }

  private evictOldest(): void {
    const first = this.entries.keys().next();
    if (first.done === true) return;
    this.entries.delete(first.value);
    this.stats.evicted++;
    this.gen++;
  }
}
