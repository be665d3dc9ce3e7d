/**
 * The IPv6 neighbor cache and its Neighbor Unreachability Detection state machine (RFC 4861
 * 7.3, appendix C): INCOMPLETE while solicitations go out to the solicited-node group (a
 * bounded queue of packets waits), REACHABLE after a solicited advertisement, STALE when that
 * confirmation is older than ReachableTime or the address was heard unsolicited, DELAY on the
 * first use of a STALE entry, PROBE (unicast solicitations) when DELAY ends unconfirmed.
 *
 * When resolution fails (INCOMPLETE or PROBE unanswered), the entry is FAILED for a short hold,
 * as Linux keeps it: packets to the address are refused at once as unreachable instead of
 * starting another round of solicitations, so a dead neighbor is not hammered; a solicitation
 * or advertisement from it revives the entry.
 *
 * Driven by the host's timers and the caller's events only, so a fake clock tests it whole.
 * Hostile input gets the ARP cache's care: an advertisement never creates an entry (only our
 * own resolution or a solicitation aimed at us does), the cache and each queue are bounded,
 * and a neighbor that never answers is dropped, its queue reported as undeliverable.
 */

import type { Timers, Timer } from '../time/clock.js';
import type { Counters } from './counters.js';
import type { Ipv6Addr } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';

export type Nud6State = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed';

export interface Neighbor6Config {
  /** REACHABLE lasts this long after a confirmation (RFC 4861 ReachableTime; Linux randomizes around 30 s). */
  reachableMs: number;
  /** Time between solicitations (RetransTimer). */
  retransmitMs: number;
  /** Multicast solicitations while INCOMPLETE (MAX_MULTICAST_SOLICIT). */
  maxMulticastSolicit: number;
  /** Unicast probes in PROBE (MAX_UNICAST_SOLICIT). */
  maxUnicastSolicit: number;
  /** DELAY before the first probe (DELAY_FIRST_PROBE_TIME). */
  delayFirstProbeMs: number;
  /** How long an unused STALE entry stays (garbage collection; RFC 4861 leaves it open). */
  staleMs: number;
  /** Packets held per unresolved address; the oldest gives way beyond it. */
  queuePerEntry: number;
  /** Entries in the cache; new ones are refused beyond it (counted). */
  maxEntries: number;
  /** How long a FAILED entry refuses packets at once before the address may be solicited again. */
  failedHoldMs: number;
}

export const defaultNeighbor6Config: Neighbor6Config = {
  reachableMs: 30_000,
  retransmitMs: 1_000,
  maxMulticastSolicit: 3,
  maxUnicastSolicit: 3,
  delayFirstProbeMs: 5_000,
  staleMs: 60_000,
  queuePerEntry: 64,
  maxEntries: 1024,
  failedHoldMs: 3_000,
};

export class Neighbor6Entry {
  readonly mac = new Uint8Array(6);
  state: Nud6State = 'incomplete';
  /** The neighbor said it is a router (the R flag of its advertisements). */
  isRouter = false;
  /** Solicitations sent in the current INCOMPLETE or PROBE run. */
  probes = 0;
  /** When the current state ends (ms), for display and the timer. */
  expiresAt = 0;
  /** IPv6 packets (copies) waiting for the address to resolve. */
  readonly queue: Uint8Array[] = [];
  readonly timer: Timer;

  constructor(readonly ip: Ipv6Addr, readonly iface: Ipv6Interface, timers: Timers, onTimer: (e: Neighbor6Entry) => void) {
    this.timer = timers.create(() => onTimer(this));
  }
}

export interface Neighbor6Hooks {
  /** Send a Neighbor Solicitation for `entry.ip`: to its solicited-node group, or unicast to entry.mac. */
  solicit(entry: Neighbor6Entry, unicast: boolean): void;
  /** The address resolved: send each queued packet. */
  flushQueue(entry: Neighbor6Entry, packets: readonly Uint8Array[]): void;
  /** The neighbor did not answer: the queued packets cannot be delivered (Address Unreachable). */
  resolutionFailed(entry: Neighbor6Entry, packets: readonly Uint8Array[]): void;
  /** A packet for a neighbor FAILED moments ago: undeliverable at once, nothing solicited. */
  refusedWhileFailed(entry: Neighbor6Entry, packet: Uint8Array): void;
}

/** What a received advertisement says (RFC 4861 7.2.5). */
export interface AdvertisementFacts {
  solicited: boolean;
  override: boolean;
  router: boolean;
}

export class Neighbor6Cache {
  private readonly entries = new Map<Ipv6Addr, Neighbor6Entry>();
  private readonly onTimer = (e: Neighbor6Entry) => this.timerFired(e);

  constructor(
    private readonly timers: Timers,
    private readonly hooks: Neighbor6Hooks,
    private readonly counters: Counters,
    readonly config: Neighbor6Config = defaultNeighbor6Config,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  all(): IterableIterator<Neighbor6Entry> {
    return this.entries.values();
  }

  get(ip: Ipv6Addr): Neighbor6Entry | undefined {
    return this.entries.get(ip);
  }

  /**
   * The MAC to send a packet to `ip` with, or null when it is not known (then enqueue()).
   * Using a STALE entry starts DELAY (RFC 4861 7.3.3): it is confirmed unless traffic does so.
   */
  resolve(ip: Ipv6Addr): Uint8Array | null {
    const e = this.entries.get(ip);
    if (e === undefined || e.state === 'incomplete' || e.state === 'failed') return null;
    if (e.state === 'stale') this.enter(e, 'delay', this.config.delayFirstProbeMs);
    return e.mac;
  }

  /**
   * Hold `packet` (a copy) until `ip` resolves; creates an INCOMPLETE entry and solicits when
   * there is none. False when the packet had to be dropped.
   */
  enqueue(iface: Ipv6Interface, ip: Ipv6Addr, packet: Uint8Array): boolean {
    let e = this.entries.get(ip);
    if (e === undefined) {
      const created = this.create(ip, iface);
      if (created === null) return false;
      e = created;
      e.queue.push(packet);
      e.probes = 0;
      this.solicit(e, false);
      return true;
    }
    if (e.state === 'failed') {
      this.counters.drop('ndp: failed-hold');
      this.hooks.refusedWhileFailed(e, packet);
      return true;
    }
    if (e.state !== 'incomplete') {
      this.hooks.flushQueue(e, [packet]);
      return true;
    }
    if (e.queue.length >= this.config.queuePerEntry) {
      e.queue.shift();
      this.counters.drop('ndp: queue-full');
    }
    e.queue.push(packet);
    return true;
  }

  /**
   * A Neighbor Solicitation (or Router Solicitation) from `ip` with its link-layer address,
   * aimed at us (RFC 4861 7.2.3): creates a STALE entry when there is none, as Linux does, and
   * a different address makes an existing entry STALE.
   */
  heardSolicitation(iface: Ipv6Interface, ip: Ipv6Addr, mac: Uint8Array, macOffset: number): void {
    let e = this.entries.get(ip);
    if (e === undefined) {
      const created = this.create(ip, iface);
      if (created === null) return;
      e = created;
      copyMac(e.mac, mac, macOffset);
      this.enter(e, 'stale', this.config.staleMs);
      return;
    }
    const changed = copyMac(e.mac, mac, macOffset);
    if (e.state === 'incomplete' || e.state === 'failed') {
      this.enter(e, 'stale', this.config.staleMs);
      this.flush(e);
    } else if (changed) {
      this.enter(e, 'stale', this.config.staleMs);
    }
  }

  /**
   * A Neighbor Advertisement for `ip` (RFC 4861 7.2.5): only updates an entry we hold. `mac`
   * is its target link-layer address option, or null when it carried none.
   */
  heardAdvertisement(ip: Ipv6Addr, mac: Uint8Array | null, macOffset: number, facts: AdvertisementFacts): void {
    const e = this.entries.get(ip);
    if (e === undefined) {
      this.counters.drop('ndp: unsolicited-advertisement');
      return;
    }
    if (e.state === 'incomplete' || e.state === 'failed') {
      if (mac === null) return; // nothing to resolve with
      copyMac(e.mac, mac, macOffset);
      e.isRouter = facts.router;
      if (facts.solicited) this.enter(e, 'reachable', this.config.reachableMs);
      else this.enter(e, 'stale', this.config.staleMs);
      this.flush(e);
      return;
    }
    const differs = mac !== null && !sameMac(e.mac, mac, macOffset);
    if (!facts.override && differs) {
      // Another address without the override flag: not trusted, but REACHABLE becomes STALE.
      if (e.state === 'reachable') this.enter(e, 'stale', this.config.staleMs);
      return;
    }
    if (mac !== null) copyMac(e.mac, mac, macOffset);
    e.isRouter = facts.router;
    if (facts.solicited) this.enter(e, 'reachable', this.config.reachableMs);
    else if (differs) this.enter(e, 'stale', this.config.staleMs);
  }

  /** Upper-layer proof that the neighbor is reachable (e.g. new TCP acknowledgments). */
  confirm(ip: Ipv6Addr): void {
    const e = this.entries.get(ip);
    if (e !== undefined && e.state !== 'incomplete' && e.state !== 'failed') this.enter(e, 'reachable', this.config.reachableMs);
  }

  delete(ip: Ipv6Addr): boolean {
    const e = this.entries.get(ip);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  clear(): void {
    for (const e of this.entries.values()) e.timer.disarm();
    this.entries.clear();
  }

  private create(ip: Ipv6Addr, iface: Ipv6Interface): Neighbor6Entry | null {
    if (this.entries.size >= this.config.maxEntries) {
      this.counters.drop('ndp: cache-full');
      return null;
    }
    const e = new Neighbor6Entry(ip, iface, this.timers, this.onTimer);
    this.entries.set(ip, e);
    return e;
  }

  private enter(e: Neighbor6Entry, state: Nud6State, durationMs: number): void {
    e.state = state;
    e.expiresAt = this.timers.clock.now() + durationMs;
    e.timer.armAt(e.expiresAt);
  }

  private solicit(e: Neighbor6Entry, unicast: boolean): void {
    e.probes++;
    e.expiresAt = this.timers.clock.now() + this.config.retransmitMs;
    e.timer.armAt(e.expiresAt);
    this.hooks.solicit(e, unicast);
  }

  private flush(e: Neighbor6Entry): void {
    if (e.queue.length > 0) this.hooks.flushQueue(e, e.queue.splice(0, e.queue.length));
  }

  /** Resolution failed: FAILED for the hold, the queued packets reported undeliverable. */
  private fail(e: Neighbor6Entry): void {
    this.enter(e, 'failed', this.config.failedHoldMs);
    if (e.queue.length > 0) this.hooks.resolutionFailed(e, e.queue.splice(0, e.queue.length));
  }

  private remove(e: Neighbor6Entry): void {
    e.timer.disarm();
    this.entries.delete(e.ip);
    if (e.queue.length > 0) this.hooks.resolutionFailed(e, e.queue.splice(0, e.queue.length));
  }

  private timerFired(e: Neighbor6Entry): void {
    switch (e.state) {
      case 'incomplete':
        if (e.probes < this.config.maxMulticastSolicit) this.solicit(e, false);
        else this.fail(e);
        return;
      case 'reachable':
        this.enter(e, 'stale', this.config.staleMs);
        return;
      case 'stale':
        this.remove(e);
        return;
      case 'delay':
        e.state = 'probe';
        e.probes = 0;
        this.solicit(e, true);
        return;
      case 'probe':
        if (e.probes < this.config.maxUnicastSolicit) this.solicit(e, true);
        else this.fail(e);
        return;
      case 'failed':
        this.remove(e);
        return;
    }
  }
}

function sameMac(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[offset + i]) return false;
  return true;
}

/** Copy the MAC; returns whether it differed. */
function copyMac(out: Uint8Array, mac: Uint8Array, offset: number): boolean {
  let changed = false;
  for (let i = 0; i < 6; i++) {
    const b = mac[offset + i]!;
    if (out[i] !== b) changed = true;
    out[i] = b;
  }
  return changed;
}
