/**
 * An IPv6 interface: one device with its IPv6 addresses (each with a prefix and a DAD state)
 * and the multicast groups the host listens to on it (all-nodes and each address's
 * solicited-node group, RFC 4291 2.8). Unlike IPv4's one-address Interface, an IPv6 interface
 * always holds several addresses: a link-local one and any global ones.
 */

import type { Device } from '../link/device.js';
import type { Timer } from '../time/clock.js';
import {
  IPV6_ALL_NODES, solicitedNodeMulticast, ipv6PrefixMatch, commonPrefixLength, isLinkLocalIpv6, isMulticastIpv6,
  multicastScope, MulticastScope,
} from '../wire/addr6.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import type { LinkInterface } from './network.js';

/** RFC 4862: tentative while DAD runs, preferred once unique, duplicate (never used) when another host has it. */
export type Ipv6AddressState = 'tentative' | 'preferred' | 'duplicate';

/** Where an address came from: derived from the MAC (link-local), configured, or formed from a router's prefix (SLAAC). */
export type Ipv6AddressOrigin = 'link-local' | 'static' | 'autoconf';

export class Ipv6AddressEntry {
  state: Ipv6AddressState = 'tentative';
  /** DAD solicitations sent so far. */
  dadProbesSent = 0;
  /** Runs DAD; set by the layer that owns the entry. */
  timer: Timer | null = null;
  /** When DAD found a duplicate: the other host's MAC, for the report. */
  conflictMac = '';
  /**
   * Lifetimes of an autoconfigured address (RFC 4862 5.5.4), as clock times in ms; Infinity
   * for the configured and link-local ones. Past preferredUntil the address is deprecated:
   * still ours, but not chosen as the source of new communication.
   */
  validUntil = Infinity;
  preferredUntil = Infinity;
  deprecated = false;

  constructor(
    readonly address: Ipv6Addr,
    readonly prefixLength: number,
    readonly origin: Ipv6AddressOrigin,
    /** Its solicited-node multicast group (ff02::1:ffXX:XXXX). */
    readonly solicitedNode: Ipv6Addr,
  ) {}

  get isLinkLocal(): boolean {
    return isLinkLocalIpv6(this.address.bytes);
  }

  /** Whether `addr` is on this address's prefix (its on-link network). */
  covers(addr: Ipv6Addr): boolean {
    return ipv6PrefixMatch(addr.bytes, 0, this.address.bytes, 0, this.prefixLength);
  }
}

export class Ipv6Interface implements LinkInterface {
  readonly addresses: Ipv6AddressEntry[] = [];
  /** Groups joined on this link (all-nodes, solicited-node groups), with a reference count. */
  private readonly groups = new Map<Ipv6Addr, number>();
  /** The low 32 bits of each joined group, as its 33:33:xx:xx:xx:xx MAC ends (RFC 2464 7). */
  private groupMacs: number[] = [];
  /** Groups sockets joined here (ipv6-multicast.ts keeps them). */
  private readonly socketGroups = new Set<Ipv6Addr>();
  /** Told when the layer's own groups (all-nodes, solicited-node) gain or lose their last reference, for MLD. */
  onGroupChange: ((iface: Ipv6Interface, group: Ipv6Addr, joined: boolean) => void) | null = null;

  constructor(
    /** Small number naming the device in logs, like IPv4's net0, net1. */
    readonly index: number,
    readonly device: Device,
  ) {
    this.join(intern6(IPV6_ALL_NODES));
  }

  get name(): string {
    return `net${this.index}`;
  }

  /** The link MTU a router advertised (RFC 4861 6.3.4), or 0 for the device's own. */
  advertisedMtu = 0;

  get mtu(): number {
    return this.advertisedMtu !== 0 ? this.advertisedMtu : this.device.mtu;
  }

  get isLoopback(): boolean {
    return this.device.type === 'loopback';
  }

  addAddress(address: Ipv6Addr, prefixLength: number, origin: Ipv6AddressOrigin): Ipv6AddressEntry {
    const entry = new Ipv6AddressEntry(address, prefixLength, origin, intern6(solicitedNodeMulticast(address.bytes)));
    this.addresses.push(entry);
    // Joined while tentative too: DAD must hear another host's solicitation for the address (RFC 4862 5.4.2).
    this.join(entry.solicitedNode);
    return entry;
  }

  removeAddress(entry: Ipv6AddressEntry): boolean {
    const i = this.addresses.indexOf(entry);
    if (i < 0) return false;
    this.addresses.splice(i, 1);
    entry.timer?.disarm();
    this.leave(entry.solicitedNode);
    return true;
  }

  /** The entry for `addr` on this interface (any state). */
  find(addr: Ipv6Addr): Ipv6AddressEntry | undefined {
    const l = this.addresses;
    for (let i = 0; i < l.length; i++) if (l[i]!.address === addr) return l[i];
    return undefined;
  }

  /** Whether `addr` is one of this interface's usable (preferred) addresses. */
  owns(addr: Ipv6Addr): boolean {
    const e = this.find(addr);
    return e !== undefined && e.state === 'preferred';
  }

  /** The usable link-local address, or undefined while DAD runs (or when it failed). */
  linkLocal(): Ipv6AddressEntry | undefined {
    return this.addresses.find((a) => a.state === 'preferred' && a.isLinkLocal);
  }

  /** Whether `addr` is on one of this interface's prefixes (or link-local). */
  onLink(addr: Ipv6Addr): boolean {
    if (isLinkLocalIpv6(addr.bytes)) return true;
    for (const a of this.addresses) if (a.state !== 'duplicate' && a.covers(addr)) return true;
    return false;
  }

  /**
   * The source address for `dst` (RFC 6724 section 5, the rules that matter on a host with a
   * few addresses): a preferred address of the same scope (link-local for link-local and
   * link-scope multicast destinations), a deprecated address only when there is no other
   * (rule 3), then the longest common prefix.
   */
  sourceFor(dst: Ipv6Addr): Ipv6AddressEntry | undefined {
    const b = dst.bytes;
    const wantLinkLocal = isLinkLocalIpv6(b) || (isMulticastIpv6(b) && multicastScope(b) <= MulticastScope.LinkLocal);
    let best: Ipv6AddressEntry | undefined;
    let bestLength = -1;
    for (const a of this.addresses) {
      if (a.state !== 'preferred') continue;
      if (a.isLinkLocal !== wantLinkLocal) continue;
      const common = commonPrefixLength(a.address.bytes, b);
      const better = best === undefined || (best.deprecated && !a.deprecated) || (best.deprecated === a.deprecated && common > bestLength);
      if (better) {
        best = a;
        bestLength = common;
      }
    }
    if (best === undefined && !wantLinkLocal) return this.linkLocal();
    return best;
  }

  join(group: Ipv6Addr): void {
    const n = this.groups.get(group) ?? 0;
    this.groups.set(group, n + 1);
    this.refreshGroupMacs();
    if (n === 0) this.onGroupChange?.(this, group, true);
  }

  leave(group: Ipv6Addr): void {
    const n = this.groups.get(group);
    if (n === undefined) return;
    if (n > 1) this.groups.set(group, n - 1);
    else this.groups.delete(group);
    this.refreshGroupMacs();
    if (n === 1) this.onGroupChange?.(this, group, false);
  }

  /** A group some socket joined here (`member`) or the last socket left. */
  setSocketMember(group: Ipv6Addr, member: boolean): void {
    if (member) this.socketGroups.add(group);
    else this.socketGroups.delete(group);
    this.refreshGroupMacs();
  }

  isMember(group: Ipv6Addr): boolean {
    return this.groups.has(group) || this.socketGroups.has(group);
  }

  /** The layer's own groups (all-nodes, solicited-node groups). */
  get joinedGroups(): Ipv6Addr[] {
    return [...this.groups.keys()];
  }

  /** Whether the 33:33:xx:xx:xx:xx destination MAC at frame[offset] is one of our groups'. */
  acceptsMulticastMac(frame: Uint8Array, offset: number): boolean {
    const low = ((frame[offset + 2]! << 24) | (frame[offset + 3]! << 16) | (frame[offset + 4]! << 8) | frame[offset + 5]!) >>> 0;
    const macs = this.groupMacs;
    for (let i = 0; i < macs.length; i++) if (macs[i] === low) return true;
    return false;
  }

  private refreshGroupMacs(): void {
    this.groupMacs = [...new Set([...this.groups.keys(), ...this.socketGroups])].map((g) => {
      const b = g.bytes;
      return ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
    });
  }
}
