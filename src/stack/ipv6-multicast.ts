/**
 * IPv6 multicast for a host (RFC 4291 2.7, RFC 3810 memberships): which groups each device
 * listens to, for sockets (IPV6_JOIN_GROUP, MCAST_JOIN_SOURCE_GROUP) and for the layer itself
 * (all-nodes, the solicited-node group of each address, which Ipv6Interface joins); the
 * 33:33 MACs that makes the device take (Ipv6Interface keeps them); the interface a socket's
 * multicast leaves by; and MLD (mld.ts) told of every change.
 *
 * Both kinds of membership live in one LinkMemberships per device (the layer's under its own
 * owner), so that MLD reports and answers queries for all of them; ff02::1 is never reported.
 * Nothing is reported before the layer starts: start() reports what was joined until then.
 */

import type { Device } from '../link/device.js';
import type { Timers } from '../time/clock.js';
import { emitRouterAlertHopByHop } from '../wire/ipv6-ext.js';
import { IPV6_HEADER_LENGTH } from '../wire/ipv6.js';
import { emitMld, mldMessageLength, type MldMessageInit } from '../wire/mld.js';
import type { Counters } from './counters.js';
import type { StackEvents } from './observer.js';
import { IN6ADDR_ANY, type Ipv6Addr } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';
import type { Ipv6Output, Ipv6RouteResult } from './ipv6-output.js';
import { Mld, MLD_ALL_NODES, defaultMldConfig, type MldConfig } from './mld.js';
import { LinkMemberships, type MembershipChange, type MembershipResult, type SourceFilter } from './multicast-groups.js';
import { TX_HEADROOM, type IpAddress, type LinkInterface, type MulticastLayer } from './network.js';

/** Hop-by-Hop header protocol number (RFC 8200 4.3). */
const HOP_BY_HOP = 0;
const HBH_LENGTH = 8;

/** One device's IPv6 groups as `pstack maddr` lists them. */
export interface DeviceGroups6Info {
  device: Device;
  mldVersion: 1 | 2;
  groups: { group: Ipv6Addr; mode: 'include' | 'exclude'; sources: Ipv6Addr[]; sockets: number }[];
}

export class Ipv6Multicast implements MulticastLayer {
  readonly mld: Mld;
  private readonly links = new Map<Device, LinkMemberships<Ipv6Addr>>();
  /** The owner of the layer's own memberships (all-nodes, solicited-node groups). */
  private readonly layerOwner = {};
  private readonly buf = new Uint8Array(TX_HEADROOM + 65536);
  private started = false;

  constructor(
    private readonly interfaces: readonly Ipv6Interface[],
    private readonly output: Ipv6Output,
    timers: Timers,
    private readonly counters: Counters,
    private readonly events: StackEvents,
    config: Partial<MldConfig> = {},
    random: () => number = Math.random,
  ) {
    this.mld = new Mld({
      timers,
      counters,
      memberships: (device) => this.links.get(device),
      send: (device, dst, message) => this.sendMld(device, dst, message),
      maxMessage: (device) => Math.min(device.mtu, 65535) - IPV6_HEADER_LENGTH - HBH_LENGTH,
      random,
    }, { ...defaultMldConfig, ...config });
  }

  /** Follow the layer's own joins on `iface` (called once as the interface is attached). */
  watch(iface: Ipv6Interface): void {
    for (const g of iface.joinedGroups) this.layerChanged(iface, g, true);
    iface.onGroupChange = (i, group, joined) => this.layerChanged(i, group, joined);
  }

  /** The layer runs: report every group joined so far (RFC 3810 6.1, as on an interface coming up). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const [device, links] of this.links) {
      if (device.type === 'loopback') continue;
      for (const g of links.groups.values()) {
        if (g.group === MLD_ALL_NODES) continue;
        this.mld.changed(device, { group: g.group, before: { mode: 'include', sources: [] }, after: g.filter() });
      }
    }
  }

  close(): void {
    for (const device of this.links.keys()) this.mld.forget(device);
  }

  isGroup(addr: IpAddress): boolean {
    return typeof addr !== 'number' && addr.bytes[0] === 0xff;
  }

  /** The interface a scope (`%tap0`, `%net1`, `%2`) names: its index, or 0 when none has that name. */
  interfaceIndex(scope: string): number {
    if (/^[0-9]+$/.test(scope)) {
      const n = Number(scope);
      return this.interfaces.some((i) => i.index === n) ? n : 0;
    }
    return this.interfaces.find((i) => i.device.name === scope || i.name === scope)?.index ?? 0;
  }

  // ------------------------------------------------------------------ sockets (MulticastLayer)

  join(owner: object, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null {
    const iface = this.membershipInterface(group, ifaceAddr, source);
    if (typeof iface === 'string') return iface;
    const links = this.linkOf(iface.device);
    const count = this.countFor(owner);
    const g = group as Ipv6Addr;
    const r = source === undefined ? links.join(owner, g, count) : links.addSource(owner, g, source as Ipv6Addr, count);
    return this.applied(iface, r);
  }

  leave(owner: object, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null {
    const iface = this.membershipInterface(group, ifaceAddr, source);
    // Linux's ipv6_sock_mc_drop: EINVAL for an address that is no group; a membership not there, EADDRNOTAVAIL.
    if (typeof iface === 'string') return iface === 'EINVAL' ? iface : 'EADDRNOTAVAIL';
    const links = this.links.get(iface.device);
    if (links === undefined) return source === undefined ? 'EADDRNOTAVAIL' : 'EINVAL';
    const g = group as Ipv6Addr;
    const r = source === undefined ? links.leave(owner, g) : links.dropSource(owner, g, source as Ipv6Addr);
    return this.applied(iface, r);
  }

  leaveAll(owner: object): void {
    for (const [device, links] of this.links) {
      const iface = this.interfaces.find((i) => i.device === device);
      if (iface === undefined) continue;
      for (const change of links.leaveAll(owner)) this.report(iface, change);
    }
  }

  socketAccepts(owner: object, iface: LinkInterface, group: IpAddress, src: IpAddress): boolean {
    const links = this.links.get(iface.device);
    return links === undefined || links.socketAccepts(owner, group as Ipv6Addr, src as Ipv6Addr);
  }

  /**
   * The interface a datagram to `group` leaves by: the one `ifaceAddr` names (an interface
   * index, IPV6_MULTICAST_IF, or one of its addresses), else the route to the group, else the
   * first non-loopback interface. The source is the interface's address for the group's scope.
   */
  route(group: IpAddress, ifaceAddr: IpAddress): Ipv6RouteResult | null {
    let iface = this.named(ifaceAddr);
    if (iface === null) return null;
    const g = group as Ipv6Addr;
    iface ??= this.output.route(g)?.iface;
    iface ??= this.interfaces.find((i) => !i.isLoopback);
    if (iface === undefined) return null;
    const src = iface.sourceFor(g);
    if (src === undefined) return null;
    return { iface, nextHop: g, src: src.address, route: null };
  }

  /** Whether the host takes a datagram to `group` from `src` on `iface` (its links' merged filter). */
  acceptsDatagram(iface: Ipv6Interface, group: Ipv6Addr, src: Ipv6Addr): boolean {
    if (group === MLD_ALL_NODES) return true;
    const links = this.links.get(iface.device);
    return links !== undefined && links.accepts(group, src);
  }

  /** Every device's groups, ff02::1 first (for `pstack maddr`). */
  list(devices: readonly Device[]): DeviceGroups6Info[] {
    const out: DeviceGroups6Info[] = [];
    for (const device of devices) {
      if (!this.interfaces.some((i) => i.device === device)) continue;
      const groups: DeviceGroups6Info['groups'] = [{ group: MLD_ALL_NODES, mode: 'exclude', sources: [], sockets: 0 }];
      for (const g of this.links.get(device)?.groups.values() ?? []) {
        if (g.group === MLD_ALL_NODES) continue;
        const sockets = g.sockets.size - (g.sockets.has(this.layerOwner) ? 1 : 0);
        groups.push({ group: g.group, mode: g.mode, sources: [...g.sources], sockets });
      }
      out.push({ device, mldVersion: this.mld.version(device), groups });
    }
    return out;
  }

  // ------------------------------------------------------------------ helpers

  private layerChanged(iface: Ipv6Interface, group: Ipv6Addr, joined: boolean): void {
    const links = this.linkOf(iface.device);
    const r = joined ? links.join(this.layerOwner, group, 0) : links.leave(this.layerOwner, group);
    if (r.error === null && r.change !== null) this.report(iface, r.change);
  }

  private applied(iface: Ipv6Interface, r: MembershipResult<Ipv6Addr>): string | null {
    if (r.error !== null) return r.error;
    if (r.change !== null) this.report(iface, r.change);
    return null;
  }

  /** A change of the link's state: the 33:33 MAC filter, the log, and MLD. */
  private report(iface: Ipv6Interface, change: MembershipChange<Ipv6Addr>): void {
    const g = this.links.get(iface.device)?.groups.get(change.group);
    const bySockets = g !== undefined && (g.sockets.size > 1 || !g.sockets.has(this.layerOwner));
    iface.setSocketMember(change.group, bySockets);
    if (change.group === MLD_ALL_NODES) return;
    if (g === undefined || !g.sockets.has(this.layerOwner) || g.sockets.size > 1) this.logChange(iface, change);
    if (this.started && !iface.isLoopback) this.mld.changed(iface.device, change);
  }

  /** The interface a membership is on: ENODEV when `ifaceAddr` names none of ours or nothing routes the group. */
  private membershipInterface(group: IpAddress, ifaceAddr: IpAddress, source: IpAddress | undefined): Ipv6Interface | string {
    if (!this.isGroup(group) || (source !== undefined && typeof source === 'number')) return 'EINVAL';
    const named = this.named(ifaceAddr);
    if (named === null) return 'ENODEV';
    if (named !== undefined) return named;
    return this.route(group, 0)?.iface as Ipv6Interface | undefined ?? 'ENODEV';
  }

  /** The interface `ifaceAddr` names: undefined for "any" (0 or ::), null for none of ours. */
  private named(ifaceAddr: IpAddress): Ipv6Interface | undefined | null {
    if (ifaceAddr === 0 || ifaceAddr === IN6ADDR_ANY) return undefined;
    if (typeof ifaceAddr === 'number') return this.interfaces.find((i) => i.index === ifaceAddr) ?? null;
    return this.interfaces.find((i) => i.find(ifaceAddr) !== undefined) ?? null;
  }

  private linkOf(device: Device): LinkMemberships<Ipv6Addr> {
    let l = this.links.get(device);
    if (l === undefined) this.links.set(device, (l = new LinkMemberships<Ipv6Addr>()));
    return l;
  }

  private countFor(owner: object): number {
    let n = 0;
    for (const l of this.links.values()) n += l.countFor(owner);
    return n;
  }

  private logChange(iface: Ipv6Interface, c: MembershipChange<Ipv6Addr>): void {
    const member = (f: SourceFilter<Ipv6Addr>) => f.mode === 'exclude' || f.sources.length > 0;
    const title = !member(c.before) ? 'multicast group was joined' : !member(c.after) ? 'multicast group was left' : 'multicast source filter was changed';
    this.events.event(title, {
      group: c.group.toString(),
      filter: `${c.after.mode.toUpperCase()} {${c.after.sources.map((s) => s.toString()).join(', ')}}`,
      device: `${iface.name} (${iface.device.name})`,
    });
  }

  /** An MLD message: from the link-local address (:: while it is tentative, RFC 3810 5.2.13), hop limit 1, Router Alert. */
  private sendMld(device: Device, dst: Ipv6Addr, message: MldMessageInit): void {
    const iface = this.interfaces.find((i) => i.device === device);
    if (iface === undefined) return;
    const src = iface.linkLocal()?.address ?? IN6ADDR_ANY;
    const b = this.buf;
    const len = mldMessageLength(message);
    emitRouterAlertHopByHop(b, TX_HEADROOM, 58, 0);
    emitMld(b, TX_HEADROOM + HBH_LENGTH, message, src.bytes, dst.bytes);
    this.counters.icmp6Out++;
    this.output.output({ src, dst, protocol: HOP_BY_HOP, ttl: 1 }, b, TX_HEADROOM, HBH_LENGTH + len, { iface, nextHop: dst, src, route: null });
  }
}
