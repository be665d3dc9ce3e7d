/**
 * Demultiplexing (RFC 9293 3.10.7: "If the state is CLOSED (i.e., TCB does not exist)...",
 * "If the state is LISTEN..."): the table of connection blocks by their four-tuple and the
 * table of listeners by port.
 */

import type { IpAddress } from '../../stack/network.js';
import type { Listener } from './listener.js';
import { bindingTakes, bindingsOverlap } from '../wildcard.js';
import type { Tcb } from './tcb.js';

/** Connection blocks (every state but LISTEN) by remote address and port, chained through `Tcb.nextInChain`. */
export class ConnectionTable {
  private readonly chains = new Map<number, Tcb>();
  /** Blocks in the table. */
  count = 0;

  /** IPv4 keys are exact (non-negative); IPv6 keys are negative, from the address's hash, so chains compare the peer too. */
  private static key(addr: IpAddress, port: number): number {
    return typeof addr === 'number' ? addr * 65536 + port : -1 - (addr.hash * 65536 + port);
  }

  lookup(remoteAddr: IpAddress, remotePort: number, localAddr: IpAddress, localPort: number): Tcb | null {
    let t: Tcb | null | undefined = this.chains.get(ConnectionTable.key(remoteAddr, remotePort));
    while (t !== undefined && t !== null) {
      if (t.localPort === localPort && t.localAddr === localAddr && t.remoteAddr === remoteAddr && t.remotePort === remotePort) return t;
      t = t.nextInChain;
    }
    return null;
  }

  insert(tcb: Tcb): void {
    const key = ConnectionTable.key(tcb.remoteAddr, tcb.remotePort);
    tcb.nextInChain = this.chains.get(key) ?? null;
    this.chains.set(key, tcb);
    this.count++;
  }

  remove(tcb: Tcb): void {
    const key = ConnectionTable.key(tcb.remoteAddr, tcb.remotePort);
    let t = this.chains.get(key) ?? null;
    if (t === tcb) {
      if (tcb.nextInChain !== null) this.chains.set(key, tcb.nextInChain);
      else this.chains.delete(key);
      this.count--;
      tcb.nextInChain = null;
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
    for (const head of this.chains.values()) for (let t: Tcb | null = head; t !== null; t = t.nextInChain) out.push(t);
    return out;
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
