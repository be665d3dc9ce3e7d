/**
 * IPv4 multicast for a host (RFC 1112 host extensions, RFC 3376 memberships): which groups each
 * device has joined (multicast-groups.ts), the Ethernet addresses that makes the device listen
 * to (RFC 1112 6.4: 01:00:5e and the group's low 23 bits), the datagrams the host takes, the
 * interface a socket's multicast leaves by, and IGMP (igmp.ts) told of every change.
 *
 * Every device is in 224.0.0.1 (all hosts) from the start; it is never reported.
 */

import type { Device } from '../link/device.js';
import { ipv4ToString, isMulticast, type Ipv4Address } from '../wire/addr.js';
import { emitIgmp, igmpMessageLength, IGMP_PROTOCOL, type IgmpMessageInit } from '../wire/igmp.js';
import type { Counters } from './counters.js';
import type { StackEvents } from './observer.js';
import type { Interface } from './interface.js';
import type { InterfaceTable } from './interfaces.js';
import type { RouteTable } from './routes.js';
import type { Ipv4Output } from './ipv4-output.js';
import type { Timers } from '../time/clock.js';
import { Igmp, ALL_HOSTS, defaultIgmpConfig, type IgmpConfig } from './igmp.js';
import { LinkMemberships, type MembershipChange, type MembershipResult, type SourceFilter } from './multicast-groups.js';
import { TX_HEADROOM, type IpAddress, type MulticastLayer, type RouteResult } from './network.js';

/** RFC 2113 Router Alert, which IGMPv2 and v3 messages carry (RFC 3376 4). */
const ROUTER_ALERT = Uint8Array.of(0x94, 0x04, 0x00, 0x00);
/** Linux sends IGMP with precedence "internetwork control". */
const IGMP_TOS = 0xc0;

/** One device's groups as `pstack maddr` lists them. */
export interface DeviceGroupsInfo {
  device: Device;
  igmpVersion: 1 | 2 | 3;
  groups: { group: Ipv4Address; mode: 'include' | 'exclude'; sources: Ipv4Address[]; sockets: number }[];
}

export class Ipv4Multicast implements MulticastLayer {
  readonly igmp: Igmp;
  private readonly links = new Map<Device, LinkMemberships<Ipv4Address>>();
  /** Per device: the low 23 bits of each 01:00:5e address it listens to, and how many groups map there. */
  private readonly macs = new Map<Device, Map<number, number>>();
  private readonly buf = new Uint8Array(TX_HEADROOM + 65536);

  constructor(
    private readonly interfaces: InterfaceTable,
    private readonly routes: RouteTable,
    private readonly output: Ipv4Output,
    timers: Timers,
    private readonly counters: Counters,
    private readonly events: StackEvents,
    config: Partial<IgmpConfig> = {},
    random: () => number = Math.random,
  ) {
    this.igmp = new Igmp({
      timers,
      counters,
      memberships: (device) => this.links.get(device),
      send: (device, dst, message) => this.sendIgmp(device, dst, message),
      maxMessage: (device) => Math.min(device.mtu, 65535) - 24,
      random,
    }, { ...defaultIgmpConfig, ...config });
  }

  isGroup(addr: IpAddress): boolean {
    return typeof addr === 'number' && isMulticast(addr);
  }

  // ------------------------------------------------------------------ sockets (MulticastLayer)

  join(owner: object, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null {
    const at = this.membershipDevice(group, ifaceAddr, source);
    if (typeof at === 'string') return at;
    const links = this.linkOf(at);
    const count = this.countFor(owner);
    const g = group as Ipv4Address;
    const r = source === undefined ? links.join(owner, g, count) : links.addSource(owner, g, source as Ipv4Address, count);
    return this.applied(at, r);
  }

  leave(owner: object, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null {
    const at = this.membershipDevice(group, ifaceAddr, source);
    // Linux looks the membership up without checking the group: a wrong one is simply not there.
    if (typeof at === 'string') return source !== undefined && at === 'EINVAL' ? at : 'EADDRNOTAVAIL';
    const links = this.links.get(at);
    if (links === undefined) return source === undefined ? 'EADDRNOTAVAIL' : 'EINVAL';
    const g = group as Ipv4Address;
    const r = source === undefined ? links.leave(owner, g) : links.dropSource(owner, g, source as Ipv4Address);
    return this.applied(at, r);
  }

  leaveAll(owner: object): void {
    for (const [device, links] of this.links) {
      for (const change of links.leaveAll(owner)) {
        this.updateMac(device, change.group);
        this.logChange(device, change);
        this.igmp.changed(device, change);
      }
    }
  }

  socketAccepts(owner: object, iface: Interface, group: IpAddress, src: IpAddress): boolean {
    const links = this.links.get(iface.device);
    return links === undefined || links.socketAccepts(owner, group as Ipv4Address, src as Ipv4Address);
  }

  /**
   * The interface a datagram to `group` leaves by: the one whose address `ifaceAddr` is
   * (IP_MULTICAST_IF), else the route to the group, else the first non-loopback interface.
   */
  route(group: IpAddress, ifaceAddr: IpAddress): RouteResult | null {
    let iface: Interface | undefined;
    if (ifaceAddr !== 0) iface = this.interfaces.list.find((i) => i.address === ifaceAddr);
    iface ??= this.routes.lookup(group as number)?.iface;
    iface ??= this.interfaces.list.find((i) => !i.isLoopback);
    if (iface === undefined) return null;
    return { iface, nextHop: group, src: iface.address, route: null };
  }

  // ------------------------------------------------------------------ receive

  /** Whether `frame` (to a multicast MAC) is one `device` listens to. */
  acceptsFrame(device: Device, frame: Uint8Array): boolean {
    if (frame[0] !== 0x01 || frame[1] !== 0x00 || frame[2] !== 0x5e) return false;
    const low = ((frame[3]! << 16) | (frame[4]! << 8) | frame[5]!) >>> 0;
    if (low === 1) return true; // 224.0.0.1
    const m = this.macs.get(device);
    return m !== undefined && m.has(low);
  }

  /** Whether the host takes a datagram to `group` from `src` on `iface` (all hosts: always). */
  acceptsDatagram(iface: Interface, group: Ipv4Address, src: Ipv4Address): boolean {
    if (group === ALL_HOSTS) return true;
    const links = this.links.get(iface.device);
    return links !== undefined && links.accepts(group, src);
  }

  /** Every device's groups, 224.0.0.1 first (for `pstack maddr`). */
  list(devices: readonly Device[]): DeviceGroupsInfo[] {
    return devices.map((device) => {
      const groups: DeviceGroupsInfo['groups'] = [{ group: ALL_HOSTS, mode: 'exclude', sources: [], sockets: 0 }];
      for (const g of this.links.get(device)?.groups.values() ?? []) {
        groups.push({ group: g.group as number, mode: g.mode, sources: [...g.sources] as number[], sockets: g.sockets.size });
      }
      return { device, igmpVersion: this.igmp.version(device), groups };
    });
  }

  // ------------------------------------------------------------------ helpers

  private applied(device: Device, r: MembershipResult<Ipv4Address>): string | null {
    if (r.error !== null) return r.error;
    if (r.change !== null) {
      this.updateMac(device, r.change.group);
      this.logChange(device, r.change);
      if (device.type !== 'loopback') this.igmp.changed(device, r.change);
    }
    return null;
  }

  /** The device a membership is on: ENODEV when `ifaceAddr` is none of ours or nothing routes the group. */
  private membershipDevice(group: IpAddress, ifaceAddr: IpAddress, source: IpAddress | undefined): Device | string {
    if (!this.isGroup(group) || (source !== undefined && typeof source !== 'number')) return 'EINVAL';
    if (ifaceAddr !== 0) {
      const iface = this.interfaces.list.find((i) => i.address === ifaceAddr);
      return iface === undefined ? 'ENODEV' : iface.device;
    }
    return this.route(group, 0)?.iface.device ?? 'ENODEV';
  }

  private linkOf(device: Device): LinkMemberships<Ipv4Address> {
    let l = this.links.get(device);
    if (l === undefined) this.links.set(device, (l = new LinkMemberships<Ipv4Address>()));
    return l;
  }

  private countFor(owner: object): number {
    let n = 0;
    for (const l of this.links.values()) n += l.countFor(owner);
    return n;
  }

  /** Listen to a group's MAC while the device is a member of a group mapping to it (32 groups share one MAC). */
  private updateMac(device: Device, group: IpAddress): void {
    const low = (group as number) & 0x7fffff;
    let m = this.macs.get(device);
    if (m === undefined) this.macs.set(device, (m = new Map()));
    let n = 0;
    for (const g of this.links.get(device)?.groups.keys() ?? []) if (((g as number) & 0x7fffff) === low) n++;
    if (n > 0) m.set(low, n);
    else m.delete(low);
  }

  /** The log's record of the link joining or leaving a group (or changing its filter). */
  private logChange(device: Device, c: MembershipChange<Ipv4Address>): void {
    const member = (f: SourceFilter<Ipv4Address>) => f.mode === 'exclude' || f.sources.length > 0;
    const title = !member(c.before) ? 'multicast group was joined' : !member(c.after) ? 'multicast group was left' : 'multicast source filter was changed';
    const iface = this.interfaces.onDevice(device);
    this.events.event(title, {
      group: ipv4ToString(c.group),
      filter: `${c.after.mode.toUpperCase()} {${c.after.sources.map(ipv4ToString).join(', ')}}`,
      device: iface !== undefined ? `${iface.name} (${device.name})` : device.name,
    });
  }

  private sendIgmp(device: Device, dst: Ipv4Address, message: IgmpMessageInit): void {
    const iface = this.interfaces.onDevice(device);
    if (iface === undefined) return;
    const len = igmpMessageLength(message);
    emitIgmp(this.buf, TX_HEADROOM, message);
    this.output.output(
      { src: iface.address, dst, protocol: IGMP_PROTOCOL, ttl: 1, tos: IGMP_TOS, options: ROUTER_ALERT },
      this.buf, TX_HEADROOM, len, { iface, nextHop: dst, src: iface.address, route: null },
    );
    this.counters.igmpOut++;
  }
}
