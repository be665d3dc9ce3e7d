/**
 * The IPv6 network layer: a second implementation of NetworkLayer beside IPv4's Host, on the
 * same devices. The Host's receive path hands it every EtherType 0x86DD frame (and the
 * 33:33 multicast frames of groups joined here); its frames leave through the Host's
 * LinkOutput, so capture and counters see one stream.
 *
 * Receive: Host -> Ipv6Input (header, extension headers, reassembly) -> Icmpv6Service (echo,
 * errors, Ndp) | transport. Send: transport -> Ipv6Output (route, source address, header,
 * fragments) -> neighbor cache (neighbors6.ts) -> link. Router advertisements and redirects
 * go from Ndp to router discovery (router-discovery.ts: default routers, on-link prefixes,
 * SLAAC addresses, DNS servers). Each part is a module of its own; this class wires them and
 * keeps the configuration surface (addresses, routes).
 */

import type { Device } from '../link/device.js';
import type { Clock, Timers, TaskQueue } from '../time/clock.js';
import { ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { linkLocalFromMac, ipv6Prefix, IPV6_LOOPBACK, type Ipv6Cidr } from '../wire/addr6.js';
import { pseudoHeaderSum6 } from '../wire/checksum.js';
import { writeIpv6 } from '../wire/addr6.js';
import { IPV6_HEADER_LENGTH, emitIpv6Header } from '../wire/ipv6.js';
import { Icmpv6Type } from '../wire/icmpv6.js';
import type { Counters } from './counters.js';
import type { StackEvents } from './observer.js';
import type { LinkOutput } from './link-output.js';
import { defaultIcmpConfig, type IcmpConfig } from './icmp.js';
import type { ReassemblyConfig } from './fragments.js';
import { TransportRegistry } from './registry.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import { Ipv6Interface, type Ipv6AddressEntry } from './ipv6-interface.js';
import { Neighbor6Cache, defaultNeighbor6Config, type Neighbor6Config } from './neighbors6.js';
import { RouteTable6, type Route6 } from './routes6.js';
import { Ipv6Output, type Ipv6RouteResult, type Ipv6Settings } from './ipv6-output.js';
import { Ipv6Input, type ForwardingSetting } from './ipv6-input.js';
import { Ipv6Forwarder } from './forward6.js';
import { Ndp, defaultNdpConfig, type NdpConfig } from './ndp.js';
import { RouterDiscovery, defaultRouterDiscoveryConfig, type RouterDiscoveryConfig } from './router-discovery.js';
import { Icmpv6Service } from './icmpv6.js';
import { Reassembler6, defaultReassembly6Config } from './fragments6.js';
import { Ipv6Multicast } from './ipv6-multicast.js';
import type { MldConfig } from './mld.js';
import { isMulticastIpv6 } from '../wire/addr6.js';
import type { PathMtuCache } from './path-mtu.js';
import type {
  EndpointProvider, InboundPacket, IpAddress, IpOutputOptions, MemoryAccount, NetworkLayer, RouteResult, TransportProtocol,
} from './network.js';

export interface Ipv6Options {
  /** Hop limit of the unicast packets we send (default 64, as Linux). */
  hopLimit?: number;
  neighbor?: Partial<Neighbor6Config>;
  ndp?: Partial<NdpConfig>;
  reassembly?: Partial<ReassemblyConfig>;
  icmp?: Partial<IcmpConfig>;
  /** MLD listener timers (RFC 3810 9). */
  mld?: Partial<MldConfig>;
  /** Source of randomness (fragment identifications, solicitation delays); default Math.random. */
  random?: () => number;
  /**
   * Stateless autoconfiguration and router discovery from router advertisements (RFC 4861,
   * 4862, 8106): default routers, on-link prefixes, addresses, DNS servers. Default true;
   * false ignores router advertisements and sends no router solicitation.
   */
  slaac?: boolean;
  /** Bounds and timing of router discovery (its `slaac` is the option above). */
  routerDiscovery?: Partial<RouterDiscoveryConfig>;
}

/** What the layer shares with the IPv4 host on the same devices. */
export interface Ipv6HostParts {
  clock: Clock;
  timers: Timers;
  tasks: TaskQueue;
  counters: Counters;
  memory: MemoryAccount;
  events: StackEvents;
  link: LinkOutput;
  txBuffer: Uint8Array;
  /** The router switch (the IPv4 host's settings: `--forward` turns on both families). */
  settings?: ForwardingSetting;
}

export class Ipv6Layer implements NetworkLayer {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly tasks: TaskQueue;
  readonly counters: Counters;
  readonly memory: MemoryAccount;
  readonly txBuffer: Uint8Array;
  readonly headerLength = IPV6_HEADER_LENGTH;
  readonly interfaces: Ipv6Interface[] = [];
  readonly routes = new RouteTable6();
  readonly neighbors: Neighbor6Cache;
  readonly ndp: Ndp;
  readonly routerDiscovery: RouterDiscovery;
  /** Hop limit of the unicast packets sent (a router advertisement may change it). */
  readonly settings: Ipv6Settings;
  readonly icmp: Icmpv6Service;
  readonly reassembler: Reassembler6;
  readonly transports = new TransportRegistry();
  /** Groups, memberships and MLD (ipv6-multicast.ts). */
  readonly multicast: Ipv6Multicast;
  private readonly events: StackEvents;
  private readonly out: Ipv6Output;
  private readonly input: Ipv6Input;
  private started = false;

  constructor(parts: Ipv6HostParts, options: Ipv6Options = {}) {
    this.clock = parts.clock;
    this.timers = parts.timers;
    this.tasks = parts.tasks;
    this.counters = parts.counters;
    this.memory = parts.memory;
    this.txBuffer = parts.txBuffer;
    this.events = parts.events;
    let ndp: Ndp | null = null;
    this.neighbors = new Neighbor6Cache(this.timers, {
      solicit: (entry, unicast) => ndp?.solicit(entry, unicast),
      flushQueue: (entry, packets) => this.out.flushQueue(entry.iface, entry.ip, packets),
      resolutionFailed: (entry, packets) => {
        this.events.event('ipv6 neighbor resolution failed', { ip: entry.ip.toString(), device: entry.iface.device.name, dropped: packets.length });
        // RFC 4443 3.1 code 3 (address unreachable), delivered locally for our own packets.
        for (const p of packets) {
          this.counters.drop('ndp: unresolved');
          this.icmp.sendError(Icmpv6Type.DestinationUnreachable, 3, 0, p, 0, p.length);
        }
        this.routerDiscovery.neighborUnreachable(entry.ip);
      },
      refusedWhileFailed: (_entry, packet) => this.icmp.sendError(Icmpv6Type.DestinationUnreachable, 3, 0, packet, 0, packet.length),
    }, this.counters, { ...defaultNeighbor6Config, ...options.neighbor });
    const random = options.random ?? Math.random;
    this.settings = { hopLimit: options.hopLimit ?? 64 };
    this.out = new Ipv6Output(this.interfaces, this.routes, this.neighbors, parts.link, this.counters, this.settings, random, this.clock);
    ndp = new Ndp(this.out, this.neighbors, this.counters, this.events, this.timers, { ...defaultNdpConfig, ...options.ndp });
    this.ndp = ndp;
    const rd = new RouterDiscovery({
      interfaces: this.interfaces, routes: this.routes, neighbors: this.neighbors, ndp, timers: this.timers,
      counters: this.counters, events: this.events, settings: this.settings, random,
      route: (dst) => this.out.route(dst),
      addAddress: (iface, address) => this.addEntry(iface, intern6(address), 64, 'autoconf'),
      removeAddress: (entry) => this.removeAddress(entry),
    }, {
      ...defaultRouterDiscoveryConfig, ...options.routerDiscovery,
      slaac: options.slaac ?? options.routerDiscovery?.slaac ?? defaultRouterDiscoveryConfig.slaac,
    });
    this.routerDiscovery = rd;
    ndp.routerMessages = (msg, src, iface) => rd.receive(msg, src, iface);
    ndp.addressReady = (iface, entry) => rd.addressReady(iface, entry);
    this.icmp = new Icmpv6Service(this.clock, this.counters, this.out, ndp, this.transports, { ...defaultIcmpConfig, ...options.icmp });
    this.reassembler = new Reassembler6(this.timers, this.counters, { ...defaultReassembly6Config, ...options.reassembly },
      (first, iface) => this.icmp.sendError(Icmpv6Type.TimeExceeded, 1, 0, first, 0, first.length, iface), this.memory);
    const forwarder = new Ipv6Forwarder(this.routes, this.out, this.icmp, this.counters, this.txBuffer);
    this.multicast = new Ipv6Multicast(this.interfaces, this.out, this.timers, this.counters, this.events, options.mld, options.random);
    this.icmp.mld = (iface, src, hopLimit, m) => this.multicast.mld.receive(iface.device, src, m, hopLimit);
    this.input = new Ipv6Input(this.out, this.reassembler, this.counters, this.icmp, this.transports, forwarder, parts.settings, this.multicast);
  }

  // ---------------------------------------------------------------- configuration

  /**
   * Run IPv6 on `device`: loopback gets ::1/128; an Ethernet device its link-local address
   * (fe80::/64 with the MAC's modified EUI-64), probed by DAD once the layer starts.
   */
  attach(device: Device, index: number): Ipv6Interface {
    const existing = this.interfaceOf(device);
    if (existing !== undefined) return existing;
    const iface = new Ipv6Interface(index, device);
    this.interfaces.push(iface);
    this.multicast.watch(iface);
    if (device.type === 'loopback') {
      this.addEntry(iface, intern6(IPV6_LOOPBACK), 128, 'static');
    } else {
      const ll = intern6(linkLocalFromMac(device.mac));
      this.addEntry(iface, ll, 64, 'link-local');
    }
    return iface;
  }

  /** Add `cidr` on `device` (attached first if needed) with its on-link prefix route; DAD runs before use. */
  addAddress(device: Device, index: number, cidr: Ipv6Cidr): Ipv6AddressEntry {
    const iface = this.attach(device, index);
    return this.addEntry(iface, intern6(cidr.address), cidr.prefixLength, 'static');
  }

  /** Take an address away, with its prefix route when no other address shares it. */
  removeAddress(entry: Ipv6AddressEntry): boolean {
    for (const iface of this.interfaces) {
      if (!iface.removeAddress(entry)) continue;
      this.ndp.forget(entry);
      this.routerDiscovery.autoconf.forget(entry);
      if (!iface.addresses.some((a) => a.origin !== 'autoconf' && a.prefixLength === entry.prefixLength && a.covers(entry.address))) {
        const route = this.routes.find(entry.address.bytes, entry.prefixLength, iface);
        if (route?.origin === 'interface') this.routes.removeRoute(route);
      }
      return true;
    }
    return false;
  }

  /** A route to `prefix` through `gateway` (null: on-link) on the interface of `device`. */
  addRoute(prefix: Uint8Array, prefixLength: number, gateway: Ipv6Addr | null, device: Device, origin: Route6['origin'] = 'static'): Route6 {
    const iface = this.interfaceOf(device);
    if (iface === undefined) throw new Error(`IPv6 is not running on ${device.name}`);
    return this.routes.add(prefix, prefixLength, gateway, iface, origin);
  }

  interfaceOf(device: Device): Ipv6Interface | undefined {
    return this.interfaces.find((i) => i.device === device);
  }

  private addEntry(iface: Ipv6Interface, address: Ipv6Addr, prefixLength: number, origin: Ipv6AddressEntry['origin']): Ipv6AddressEntry {
    const existing = iface.find(address);
    if (existing !== undefined) return existing;
    const entry = iface.addAddress(address, prefixLength, origin);
    // An autoconfigured address says nothing about what is on-link: the prefix's L flag does (RFC 5942).
    if (!iface.isLoopback && prefixLength < 128 && origin !== 'autoconf') this.routes.add(ipv6Prefix(address.bytes, prefixLength), prefixLength, null, iface, 'interface');
    this.events.event('ipv6 address was attached', { ip: `${address}/${prefixLength}`, device: `${iface.name} (${iface.device.name})` });
    if (iface.isLoopback || this.started) this.ndp.startDad(iface, entry);
    return entry;
  }

  /** Start DAD on every address that waits for it. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.multicast.start();
    for (const iface of this.interfaces) for (const a of iface.addresses) if (a.state === 'tentative') this.ndp.startDad(iface, a);
  }

  /** Resolves when every address has finished DAD (usable, or found duplicate). */
  whenAddressesSettled(): Promise<void> {
    return this.ndp.whenSettled();
  }

  close(): void {
    this.routerDiscovery.close();
    this.multicast.close();
    this.neighbors.clear();
    this.reassembler.clear();
  }

  get endpointProviders(): readonly EndpointProvider[] {
    return this.transports.endpointProviders;
  }

  // ---------------------------------------------------------------- receive (from the Host)

  /** Whether a frame to the 33:33 multicast MAC at frame[0] is for a group joined on `device`. */
  acceptsMulticastFrame(device: Device, frame: Uint8Array): boolean {
    const iface = this.interfaceOf(device);
    return iface !== undefined && iface.acceptsMulticastMac(frame, 0);
  }

  /** An Ethernet frame with EtherType 0x86DD. */
  receiveFrame(device: Device, frame: Uint8Array, checksumOk: boolean): void {
    const iface = this.interfaceOf(device);
    if (iface === undefined) {
      this.counters.drop('ipv6: no-interface');
      return;
    }
    this.input.receive(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH, iface, checksumOk, 6);
  }

  /** A raw IPv6 packet from the loopback device. */
  receiveLoopback(device: Device, packet: Uint8Array, checksumOk: boolean): void {
    const iface = this.interfaceOf(device);
    if (iface === undefined) {
      this.counters.drop('ipv6: no-interface');
      return;
    }
    this.input.receive(packet, 0, packet.length, iface, checksumOk, -1);
  }

  // ---------------------------------------------------------------- NetworkLayer

  registerTransport(protocol: TransportProtocol, endpoints?: EndpointProvider): void {
    this.transports.register(protocol, endpoints);
  }

  route(dst: IpAddress): Ipv6RouteResult | null {
    return typeof dst === 'number' ? null : this.out.route(dst);
  }

  /** Path MTUs learned from Packet Too Big (RFC 8201), for `pstack route cache` and stats. */
  get pathMtuCache(): PathMtuCache<Ipv6Addr> {
    return this.out.pathMtu;
  }

  pathMtu(dst: IpAddress, rt: RouteResult): number {
    return typeof dst === 'number' ? rt.iface.mtu : this.out.mtuFor(dst, rt);
  }

  get pathMtuGeneration(): number {
    return this.out.pathMtu.generation;
  }

  learnPathMtu(dst: IpAddress, mtu: number): number {
    if (typeof dst === 'number') return mtu;
    const rt = this.out.route(dst);
    if (rt === null || rt.iface.isLoopback) return rt?.iface.mtu ?? mtu;
    return this.out.pathMtu.lower(dst, mtu, rt.iface.mtu);
  }

  pathMtuLocked(dst: IpAddress): boolean {
    return typeof dst !== 'number' && this.out.pathMtu.size > 0 && this.out.pathMtu.locked(dst);
  }

  output(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, route?: RouteResult | null): boolean {
    const dst = opts.dst as Ipv6Addr;
    // IPV6_MULTICAST_LOOP: this host's members of the group on the interface get a copy, on a
    // later turn (taken before the output writes link headers over the room in front).
    const loop = opts.multicastLoop === true && isMulticastIpv6(dst.bytes) ? this.loopCopy(opts, buf, payloadOffset, payloadLength, route) : null;
    const ok = this.out.output(opts, buf, payloadOffset, payloadLength, route);
    if (ok && loop !== null) this.tasks.defer(loop);
    return ok;
  }

  private loopCopy(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, route?: RouteResult | null): (() => void) | null {
    const rt = (route as Ipv6RouteResult | null | undefined) ?? this.route(opts.dst);
    if (rt === null || !this.multicast.acceptsDatagram(rt.iface, opts.dst as Ipv6Addr, opts.src as Ipv6Addr)) return null;
    const copy = new Uint8Array(IPV6_HEADER_LENGTH + payloadLength);
    copy.set(buf.subarray(payloadOffset, payloadOffset + payloadLength), IPV6_HEADER_LENGTH);
    const iface = rt.iface;
    const src = (opts.src as Ipv6Addr).bytes;
    const dst = (opts.dst as Ipv6Addr).bytes;
    return () => {
      emitIpv6Header(copy, 0, src, 0, dst, 0, opts.protocol, payloadLength, opts.ttl ?? 1, opts.tos ?? 0, 0);
      try {
        this.input.deliverLooped(copy, iface);
      } catch (err) {
        this.counters.internalErrors++;
        this.events.error('internal error while looping a multicast datagram back (dropped)', { error: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    };
  }

  /** IPv6 has no broadcast. */
  broadcastRoute(): RouteResult | null {
    return null;
  }

  isLocalAddress(addr: IpAddress): boolean {
    return typeof addr !== 'number' && this.out.owner(addr) !== undefined;
  }

  isBroadcast(): boolean {
    return false;
  }

  isUnicast(addr: IpAddress): boolean {
    if (typeof addr === 'number') return false;
    const b = addr.bytes;
    if (b[0] === 0xff) return false;
    for (let i = 0; i < 16; i++) if (b[i] !== 0) return true;
    return false;
  }

  pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number {
    return pseudoHeaderSum6((src as Ipv6Addr).bytes, 0, (dst as Ipv6Addr).bytes, 0, protocol, length);
  }

  writeAddress(addr: IpAddress, out: Uint8Array, offset: number): number {
    writeIpv6(out, offset, (addr as Ipv6Addr).bytes);
    return 16;
  }

  tsoLimit(rt: RouteResult): number {
    const off = rt.iface.device.offloads;
    return off !== undefined && off.txChecksum ? off.tso6MaxBytes : 0;
  }

  txChecksumOffload(rt: RouteResult): boolean {
    return rt.iface.device.offloads?.txChecksum === true;
  }

  sendPortUnreachable(packet: InboundPacket): void {
    this.icmp.sendPortUnreachable(packet.buf, packet.headerOffset, packet.payloadOffset + packet.payloadLength - packet.headerOffset, packet.iface as Ipv6Interface);
  }
}
