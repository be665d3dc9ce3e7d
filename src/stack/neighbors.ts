/**
 * The ARP cache (RFC 826, with the timing rules of RFC 1122 2.3.2): resolved entries that
 * expire, static entries, and incomplete entries that hold a bounded queue of packets while
 * requests are retried, then give up and hand the queued packets back as undeliverable.
 */

import type { Timers, Timer } from '../time/clock.js';
import type { Ipv4Address } from '../wire/addr.js';
import type { Interface } from './interface.js';
import type { Counters } from './counters.js';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'static' | 'failed';

export interface NeighborConfig {
  /** How long a learned entry is used before it must be confirmed again (ms). */
  reachableMs: number;
  /** How long a stale entry lingers (still used; refreshed on the next request) before removal. */
  staleMs: number;
  /** Time between ARP requests while resolving (ms); RFC 1122 asks for at most one per second. */
  retransmitMs: number;
  /** Requests sent before giving up. */
  maxRetries: number;
  /** Packets held per unresolved address; the oldest is dropped beyond it (as Linux's unres_qlen). */
  queuePerEntry: number;
  /** Entries in the cache; new dynamic ones are refused beyond it (counted). */
  maxEntries: number;
  /** How long a failed entry suppresses new requests (ms), so a dead host is not hammered. */
  failedHoldMs: number;
}

export const defaultNeighborConfig: NeighborConfig = {
  reachableMs: 30_000,
  staleMs: 60_000,
  retransmitMs: 1_000,
  maxRetries: 3,
  // Enough for every fragment of one largest datagram (65535 bytes at MTU 1500 is 45
  // fragments), so the first big UDP datagram to a host not yet resolved is not cut short.
  // At most ~96 KB per unresolved address, below Linux's unres_qlen_bytes (212992).
  queuePerEntry: 64,
  maxEntries: 1024,
  failedHoldMs: 3_000,
};

export class NeighborEntry {
  readonly mac = new Uint8Array(6);
  state: NeighborState = 'incomplete';
  /** When the current state ends (ms), for display and the timer. */
  expiresAt = 0;
  requestsSent = 0;
  /** IPv4 packets (copies) waiting for this address to resolve. */
  readonly queue: Uint8Array[] = [];
  readonly timer: Timer;

  constructor(
    readonly ip: Ipv4Address,
    readonly iface: Interface,
    timers: Timers,
    onTimer: (entry: NeighborEntry) => void,
  ) {
    this.timer = timers.create(() => onTimer(this));
  }
}

export interface NeighborHooks {
  /** Broadcast an ARP request for `ip` on `iface`. */
  sendRequest(iface: Interface, ip: Ipv4Address): void;
  /** `ip` resolved: send each queued packet (the queue is emptied after this call). */
  flushQueue(entry: NeighborEntry, packets: readonly Uint8Array[]): void;
  /** Resolution failed: the queued packets cannot be delivered (e.g. ICMP host unreachable). */
  resolutionFailed(entry: NeighborEntry, packets: readonly Uint8Array[]): void;
}

export class NeighborCache {
  private readonly entries = new Map<Ipv4Address, NeighborEntry>();
  private readonly onTimer = (e: NeighborEntry) => this.timerFired(e);

  constructor(
    private readonly timers: Timers,
    private readonly hooks: NeighborHooks,
    private readonly counters: Counters,
    readonly config: NeighborConfig = defaultNeighborConfig,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  all(): IterableIterator<NeighborEntry> {
    return this.entries.values();
  }

  get(ip: Ipv4Address): NeighborEntry | undefined {
    return this.entries.get(ip);
  }

  /** The MAC to use for `ip`, or null when it is not (yet) known. Does not start resolution. */
  lookup(ip: Ipv4Address): Uint8Array | null {
    const e = this.entries.get(ip);
    if (e === undefined) return null;
    return e.state === 'reachable' || e.state === 'stale' || e.state === 'static' ? e.mac : null;
  }

  /**
   * Hold `packet` (which the caller has copied) until `ip` resolves, sending a request if none
   * is outstanding. Returns false when the packet had to be dropped.
   */
  enqueue(iface: Interface, ip: Ipv4Address, packet: Uint8Array): boolean {
    const e = this.entries.get(ip) ?? this.create(ip, iface);
    if (e === null) return false;
    if (e.state === 'failed') {
      this.counters.drop('arp: resolution-failed');
      return false;
    }
    if (e.state !== 'incomplete') {
      // A stale entry still resolves; the caller should have used lookup(). Send at once.
      this.hooks.flushQueue(e, [packet]);
      return true;
    }
    if (e.queue.length >= this.config.queuePerEntry) {
      e.queue.shift();
      this.counters.drop('arp: queue-full');
    }
    e.queue.push(packet);
    if (e.requestsSent === 0) this.sendRequest(e);
    return true;
  }

  /**
   * Learn `ip` is at `mac`. `create` says whether a missing entry may be created (true when
   * the sender asked us something, RFC 826's merge rule; false for unsolicited replies and
   * gratuitous ARP, which only update entries we already have).
   */
  learn(iface: Interface, ip: Ipv4Address, mac: Uint8Array, macOffset: number, create: boolean): void {
    let e: NeighborEntry | null | undefined = this.entries.get(ip);
    if (e === undefined) {
      if (!create) {
        this.counters.drop('arp: unsolicited');
        return;
      }
      e = this.create(ip, iface);
      if (e === null) return;
    }
    if (e.state === 'static') return;
    // A new address for a neighbour we hold, heard from anything but the answer to our own
    // request (a request, a gratuitous ARP, a forged or mangled frame), is used but not
    // trusted: the entry goes stale, so its next use asks the owner by broadcast (as Linux's
    // NUD does). Marked reachable for 30 s instead, one such frame cut the host off that
    // long (seen in the soak: a mangled ARP request claimed the kernel's address).
    const answered = e.state === 'incomplete' || (e.state === 'stale' && e.requestsSent > 0);
    let changed = false;
    for (let i = 0; i < 6; i++) {
      const b = mac[macOffset + i]!;
      if (e.mac[i] !== b) changed = true;
      e.mac[i] = b;
    }
    e.requestsSent = 0;
    if (changed && !answered && e.state !== 'failed') {
      e.state = 'stale';
      e.expiresAt = this.timers.clock.now() + this.config.staleMs;
    } else {
      e.state = 'reachable';
      e.expiresAt = this.timers.clock.now() + this.config.reachableMs;
    }
    e.timer.armAt(e.expiresAt);
    if (e.queue.length > 0) {
      const packets = e.queue.splice(0, e.queue.length);
      this.hooks.flushQueue(e, packets);
    }
  }

  /** A permanent entry (own addresses, `pstack arp -s`). */
  addStatic(iface: Interface, ip: Ipv4Address, mac: Uint8Array): void {
    let e = this.entries.get(ip);
    if (e === undefined) {
      e = new NeighborEntry(ip, iface, this.timers, this.onTimer);
      this.entries.set(ip, e);
    }
    e.mac.set(mac.subarray(0, 6));
    e.state = 'static';
    e.expiresAt = Infinity;
    e.timer.disarm();
    if (e.queue.length > 0) this.hooks.flushQueue(e, e.queue.splice(0, e.queue.length));
  }

  delete(ip: Ipv4Address): boolean {
    const e = this.entries.get(ip);
    if (e === undefined) return false;
    e.timer.disarm();
    this.entries.delete(ip);
    if (e.queue.length > 0) this.hooks.resolutionFailed(e, e.queue.splice(0, e.queue.length));
    return true;
  }

  clear(): void {
    for (const e of this.entries.values()) e.timer.disarm();
    this.entries.clear();
  }

  private create(ip: Ipv4Address, iface: Interface): NeighborEntry | null {
    if (this.entries.size >= this.config.maxEntries) {
      this.counters.drop('arp: cache-full');
      return null;
    }
    const e = new NeighborEntry(ip, iface, this.timers, this.onTimer);
    this.entries.set(ip, e);
    return e;
  }

  private sendRequest(e: NeighborEntry): void {
    e.requestsSent++;
    e.expiresAt = this.timers.clock.now() + this.config.retransmitMs;
    e.timer.armAt(e.expiresAt);
    this.hooks.sendRequest(e.iface, e.ip);
  }

  private timerFired(e: NeighborEntry): void {
    switch (e.state) {
      case 'incomplete':
        if (e.requestsSent < this.config.maxRetries) {
          this.sendRequest(e);
          return;
        }
        e.state = 'failed';
        e.expiresAt = this.timers.clock.now() + this.config.failedHoldMs;
        e.timer.armAt(e.expiresAt);
        if (e.queue.length > 0) this.hooks.resolutionFailed(e, e.queue.splice(0, e.queue.length));
        return;
      case 'reachable':
        e.state = 'stale';
        e.expiresAt = this.timers.clock.now() + this.config.staleMs;
        e.timer.armAt(e.expiresAt);
        return;
      case 'stale':
      case 'failed':
        this.entries.delete(e.ip);
        return;
      case 'static':
        return;
    }
  }
}
