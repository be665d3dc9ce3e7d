/**
 * Demultiplexing (RFC 9293 3.10.7: "If the state is CLOSED (i.e., TCB does not exist)...",
 * "If the state is LISTEN..."): the table of connection blocks by their four-tuple and the
 * table of listeners by port.
 */

import type { IpAddress } from '../../stack/network.js';
import type { Listener } from './listener.js';
import { bindingTakes, bindingsOverlap } from '../wildcard.js';
import type { Tcb } from './tcb.js';
import { randomInt } from '../random.js';

/** Buckets a new table starts with (a power of two); doubled whenever the blocks outnumber them. */
const INITIAL_BUCKETS = 64;

/**
 * Connection blocks (every state but LISTEN) by remote address and port: an array of buckets
 * chained through `Tcb.nextInChain`, hashed with a per-table random seed (a peer cannot aim
 * its ports at one chain).
 *
 * Not a Map: with an entry added and removed per connection, a Map rebuilds its hash table
 * every few connections, and in V8 each retired table keeps a reference to its successor and
 * to the blocks it held when retired. Once a retired table has reached the old generation,
 * those references are roots for every young-generation collection, so the successors, and
 * the connection blocks they held with their buffers and users, are copied and promoted
 * instead of dying young. The bucket array is replaced only when it doubles, and no old array
 * points to a new one.
 */
export class ConnectionTable {
  private buckets: (Tcb | null)[] = new Array<Tcb | null>(INITIAL_BUCKETS).fill(null);
  private mask = INITIAL_BUCKETS - 1;
  private readonly seed = randomInt(0, 0x7fffffff);
  /** Blocks in the table. */
  count = 0;

  private bucketOf(addr: IpAddress, port: number): number {
    let h = (typeof addr === 'number' ? addr : addr.hash) ^ this.seed;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ port ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & this.mask;
  }

  lookup(remoteAddr: IpAddress, remotePort: number, localAddr: IpAddress, localPort: number): Tcb | null {
    let t: Tcb | null = this.buckets[this.bucketOf(remoteAddr, remotePort)]!;
    while (t !== null) {
      if (t.localPort === localPort && t.remotePort === remotePort && t.remoteAddr === remoteAddr && t.localAddr === localAddr) return t;
      t = t.nextInChain;
    }
    return null;
  }

  insert(tcb: Tcb): void {
    if (this.count >= this.buckets.length) this.grow();
    const i = this.bucketOf(tcb.remoteAddr, tcb.remotePort);
    tcb.nextInChain = this.buckets[i]!;
    this.buckets[i] = tcb;
    this.count++;
  }

  remove(tcb: Tcb): void {
    const i = this.bucketOf(tcb.remoteAddr, tcb.remotePort);
    let t: Tcb | null = this.buckets[i]!;
    if (t === tcb) {
      this.buckets[i] = tcb.nextInChain;
      tcb.nextInChain = null;
      this.count--;
      return;
    }
    while (t !== null) {
      if (t.nextInChain === tcb) {
        t.nextInChain = tcb.nextInChain;
        tcb.nextInChain = null;
        this.count--;
        return;
      }
      t = t.nextInChain;
    }
  }

  /** Every block, as a new array (callers may close blocks while walking it). */
  all(): Tcb[] {
    const out: Tcb[] = [];
    for (const head of this.buckets) for (let t = head; t !== null; t = t.nextInChain) out.push(t);
    return out;
  }

  private grow(): void {
    const old = this.buckets;
    this.buckets = new Array<Tcb | null>(old.length * 2).fill(null);
    this.mask = this.buckets.length - 1;
    for (let head of old) {
      while (head !== null) {
        const next = head.nextInChain;
        const i = this.bucketOf(head.remoteAddr, head.remotePort);
        head.nextInChain = this.buckets[i]!;
        this.buckets[i] = head;
        head = next;
      }
    }
  }
}

/** Listeners by local port; on one port, one per local address or wildcards that do not overlap (wildcard.ts). */
export class ListenerTable {
  private readonly byPort = new Map<number, Listener[]>();

  /** The listener for a segment to addr:port: one bound to addr, else a wildcard one. */
  find(addr: IpAddress, port: number): Listener | null {
    const list = this.byPort.get(port);
    if (list === undefined) return null;
    let wildcard: Listener | null = null;
    for (const l of list) {
      if (l.localAddr === addr) return l;
      // 0.0.0.0 before a dual-stack :: for IPv4, as Linux scores the socket of the packet's own family higher.
      if (bindingTakes(l.localAddr, l.v6Only, addr) && (wildcard === null || l.localAddr === 0)) wildcard = l;
    }
    return wildcard;
  }

  /** Some listener uses this port (on any address). */
  hasPort(port: number): boolean {
    return this.byPort.has(port);
  }

  /** A listener on addr:port would overlap an existing one (same address, or either is a wildcard). */
  conflicts(addr: IpAddress, port: number, v6Only = false): boolean {
    const list = this.byPort.get(port);
    if (list === undefined) return false;
    for (const l of list) if (bindingsOverlap(l.localAddr, l.v6Only, addr, v6Only)) return true;
    return false;
  }

  add(l: Listener): void {
    const list = this.byPort.get(l.localPort);
    if (list === undefined) this.byPort.set(l.localPort, [l]);
    else list.push(l);
  }

  remove(l: Listener): void {
    const list = this.byPort.get(l.localPort);
    if (list === undefined) return;
    const i = list.indexOf(l);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(l.localPort);
  }

  /** Every listener, as a new array. */
  all(): Listener[] {
    const out: Listener[] = [];
    for (const list of this.byPort.values()) for (const l of list) out.push(l);
    return out;
  }
}
