/**
 * The IPv4 host: devices, interfaces, routes, the ARP cache, and the parts of IPv4 composed
 * into one network layer that transports are handed to (registerTransport).
 *
 * Receive: device batch -> receiveFrame -> Ethernet -> Arp | Ipv4Input -> ICMP | transport.
 * Send: transport -> output (Ipv4Output: route, header, fragment) -> LinkOutput (ARP resolve
 * or queue) -> device. Each part is a module of its own (arp.ts, ipv4-input.ts, forward.ts,
 * ipv4-output.ts, link-output.ts, icmp.ts, warm.ts); this class wires them together and keeps
 * the configuration surface (addDevice, addInterface, routes). Nothing on the receive path
 * calls back up into a layer it came from.
 */

import { RxFlags, type Device, type FrameReceiver } from '../link/device.js';
import { Timers, systemClock, timeoutTasks, type Clock, type TaskQueue } from '../time/clock.js';
import { EthernetFrame, EtherType, ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { pseudoHeaderSum } from '../wire/checksum.js';
import { IcmpType, UnreachableCode } from '../wire/icmp.js';
import {
  IPV4_BROADCAST, ipv4ToString, isMulticast, macEquals, readIpv4, isBroadcastMac, macToString, writeIpv4,
  type Ipv4Address, type Ipv4Cidr,
} from '../wire/addr.js';
import { Ipv4Packet, IPV4_MIN_HEADER } from '../wire/ipv4.js';
import { Counters } from './counters.js';
import { Interface } from './interface.js';
import { InterfaceTable } from './interfaces.js';
import { RouteTable, type Route } from './routes.js';
import type { PathMtuCache } from './path-mtu.js';
import { NeighborCache, defaultNeighborConfig, type NeighborConfig } from './neighbors.js';
import { IcmpService, defaultIcmpConfig, type IcmpConfig } from './icmp.js';
import { Reassembler, defaultReassemblyConfig, type ReassemblyConfig } from './fragments.js';
import { MemoryBudget, memoryConfigFrom, type MemoryConfig } from './memory-budget.js';
import type { PacketObserver, StackEvents } from './observer.js';
import { TransportRegistry } from './registry.js';
import { LinkOutput } from './link-output.js';
import { Arp } from './arp.js';
import { Ipv4Output, type Ipv4RouteResult } from './ipv4-output.js';
import { Forwarder } from './forward.js';
import { Ipv4Input } from './ipv4-input.js';
import { WarmPath } from './warm.js';
import { Ipv4Multicast } from './ipv4-multicast.js';
import type { IgmpConfig } from './igmp.js';
import type { Ipv4Settings } from './settings.js';
import { Ipv6Layer, type Ipv6Options } from './ipv6.js';
import {
  TX_HEADROOM, type EndpointProvider, type InboundPacket, type IpOutputOptions, type NetworkLayer, type RouteResult,
  type TransportProtocol,
} from './network.js';

/** Largest IPv4 datagram plus headroom. */
const TX_BUFFER_SIZE = 65535 + TX_HEADROOM + 64;

export interface HostOptions {
  clock?: Clock;
  timers?: Timers;
  /** Where deferred work runs (default: the web-standard timeout; Node programs get setImmediate). */
  tasks?: TaskQueue;
  events?: StackEvents;
  observer?: PacketObserver | null;
  defaultTtl?: number;
  /** Act as a router between interfaces (RFC 1812) instead of dropping transit packets. */
  forwarding?: boolean;
  neighbor?: Partial<NeighborConfig>;
  reassembly?: Partial<ReassemblyConfig>;
  icmp?: Partial<IcmpConfig>;
  /** The budget for buffer memory (TCP buffers, reassembly), as Linux's tcp_mem. */
  memory?: Partial<MemoryConfig>;
  /** Create ARP entries from replies we never asked for (off: RFC 826 merge rule only). */
  acceptUnsolicitedArp?: boolean;
  /** IGMP timing (robustness, report intervals). */
  igmp?: Partial<IgmpConfig>;
  /** Where IGMP's random delays come from (default Math.random). */
  random?: () => number;
  /** Run IPv6 beside IPv4 on every device (a link-local address on each Ethernet one). */
  ipv6?: boolean | Ipv6Options;
}

const silentEvents: StackEvents = { event() {}, error() {} };

export class Host implements FrameReceiver, NetworkLayer {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly tasks: TaskQueue;
  readonly counters = new Counters();
  readonly routes = new RouteTable();
  readonly neighbors: NeighborCache;
  readonly devices: Device[] = [];
  readonly icmp: IcmpService;
  readonly reassembler: Reassembler;
  /** Every buffer's storage is charged here (memory-budget.ts). */
  readonly memory: MemoryBudget;
  readonly events: StackEvents;
  readonly transports = new TransportRegistry();
  readonly headerLength = IPV4_MIN_HEADER;
  /** Scratch buffer every output path builds its packet in; sends are synchronous copies. */
  readonly txBuffer = new Uint8Array(TX_BUFFER_SIZE);
  /** Multicast groups, memberships and IGMP (ipv4-multicast.ts). */
  readonly multicast: Ipv4Multicast;
  /** The IPv6 layer on the same devices (HostOptions.ipv6), or null for IPv4 only. */
  readonly ipv6: Ipv6Layer | null = null;
  private readonly interfaceTable = new InterfaceTable();
  private readonly settings: Ipv4Settings;
  private readonly link: LinkOutput;
  private readonly arp: Arp;
  private readonly ipOut: Ipv4Output;
  private readonly ipIn: Ipv4Input;
  private readonly warmPath: WarmPath;
  private readonly eth = new EthernetFrame();
  private started = false;
  private closed = false;

  constructor(options: HostOptions = {}) {
    this.clock = options.clock ?? options.timers?.clock ?? systemClock;
    this.timers = options.timers ?? new Timers(this.clock);
    this.tasks = options.tasks ?? timeoutTasks;
    this.events = options.events ?? silentEvents;
    this.settings = {
      defaultTtl: options.defaultTtl ?? 64,
      forwarding: options.forwarding ?? false,
      acceptUnsolicitedArp: options.acceptUnsolicitedArp ?? false,
    };
    const counters = this.counters;
    const clock = this.clock;
    this.memory = new MemoryBudget(memoryConfigFrom(options.memory), () => clock.now());
    let arp: Arp | null = null;
    this.neighbors = new NeighborCache(
      this.timers,
      {
        sendRequest: (iface, ip) => arp?.request(iface, ip),
        flushQueue: (entry, packets) => this.link.flushQueue(entry, packets),
        resolutionFailed: (entry, packets) => this.link.resolutionFailed(entry, packets, ipv4ToString),
      },
      counters,
      { ...defaultNeighborConfig, ...options.neighbor },
    );
    this.link = new LinkOutput(this.neighbors, counters, this.events);
    this.link.observer = options.observer ?? null;
    arp = new Arp(this.interfaceTable, this.neighbors, counters, this.link, this.settings);
    this.arp = arp;
    this.link.requestNeighbor = (iface, ip) => arp.request(iface, ip);
    this.ipOut = new Ipv4Output(this.interfaceTable, this.routes, this.link, counters, this.settings, clock);
    this.warmPath = new WarmPath(this.link, this.ipOut, counters, (device, frame) => this.receiveFrame(device, frame, 0));
    this.icmp = new IcmpService({
      clock: this.clock,
      counters,
      interfaces: this.interfaceTable,
      routes: this.routes,
      output: this.ipOut,
      link: this.link,
      transports: this.transports,
      settings: this.settings,
      txBuffer: this.txBuffer,
      keepForWarming: (device, buf, offset, length) => this.warmPath.keep(device, buf, offset, length),
    }, { ...defaultIcmpConfig, ...options.icmp });
    this.link.errors = this.icmp;
    this.reassembler = new Reassembler(this.timers, counters, { ...defaultReassemblyConfig, ...options.reassembly }, (first) =>
      this.icmp.sendError(first, IcmpType.TimeExceeded, 1, 0), this.memory,
    );
    const forwarder = new Forwarder(this.interfaceTable, this.routes, this.neighbors, counters, this.ipOut, this.link, this.icmp, this.txBuffer);
    this.multicast = new Ipv4Multicast(this.interfaceTable, this.routes, this.ipOut, this.timers, counters, this.events, options.igmp, options.random);
    this.transports.register(this.multicast.igmp);
    this.ipIn = new Ipv4Input(this.interfaceTable, this.reassembler, counters, this.icmp, forwarder, this.transports, this.settings, this.multicast);
    this.ipOut.loopMulticast = (iface, buf, offset, length) => this.loopMulticast(iface, buf, offset, length);
    if (options.ipv6 !== undefined && options.ipv6 !== false) {
      this.ipv6 = new Ipv6Layer({
        clock: this.clock, timers: this.timers, tasks: this.tasks, counters, memory: this.memory, events: this.events,
        link: this.link, txBuffer: this.txBuffer, settings: this.settings,
      }, options.ipv6 === true ? {} : options.ipv6);
    }
  }

  // ---------------------------------------------------------------- configuration

  get interfaces(): Interface[] {
    return this.interfaceTable.list;
  }

  get observer(): PacketObserver | null {
    return this.link.observer;
  }

  set observer(observer: PacketObserver | null) {
    this.link.observer = observer;
  }

  get defaultTtl(): number {
    return this.settings.defaultTtl;
  }

  set defaultTtl(ttl: number) {
    this.settings.defaultTtl = ttl;
  }

  get forwarding(): boolean {
    return this.settings.forwarding;
  }

  set forwarding(on: boolean) {
    this.settings.forwarding = on;
  }

  get acceptUnsolicitedArp(): boolean {
    return this.settings.acceptUnsolicitedArp;
  }

  set acceptUnsolicitedArp(on: boolean) {
    this.settings.acceptUnsolicitedArp = on;
  }

  /** Replays run by the warm path (see warm.ts). */
  get warmReplays(): number {
    return this.warmPath.replays;
  }

  get endpointProviders(): readonly EndpointProvider[] {
    return this.transports.endpointProviders;
  }

  registerTransport(protocol: TransportProtocol, endpoints?: EndpointProvider): void {
    this.transports.register(protocol, endpoints);
  }

  addDevice(device: Device): void {
    this.devices.push(device);
    this.events.event('device was registered', {
      type: device.type === 'loopback' ? 'Loopback' : 'Ethernet',
      name: `net${this.devices.length - 1} (${device.name})`,
      addr: macToString(device.mac),
    });
    this.ipv6?.attach(device, this.devices.length - 1);
    if (this.started) device.open(this);
  }

  /** Attach an address to a registered device and add its connected route. */
  addInterface(device: Device, cidr: Ipv4Cidr): Interface {
    if (!this.devices.includes(device)) this.addDevice(device);
    const iface = new Interface(this.devices.indexOf(device), device, cidr.address, cidr.prefixLength);
    this.interfaceTable.add(iface);
    this.events.event('interface was attached', { ip: ipv4ToString(iface.address), device: `${iface.name} (${device.name})` });
    const route = this.routes.add(iface.network, iface.prefixLength, 0, iface, 'interface');
    this.logRoute('route was registered', route);
    // Our own address resolves to our own MAC, permanently (so it shows in `pstack arp`).
    if (device.type === 'ethernet') this.neighbors.addStatic(iface, iface.address, device.mac);
    return iface;
  }

  /** Take an address away: its interface, the routes through it and what ARP learned on it. */
  removeInterface(iface: Interface): void {
    if (!this.interfaceTable.remove(iface)) return;
    this.routes.removeInterface(iface);
    for (const e of [...this.neighbors.all()]) if (e.iface === iface) this.neighbors.delete(e.ip);
    this.events.event('interface was detached', { ip: ipv4ToString(iface.address), device: `${iface.name} (${iface.device.name})` });
  }

  /**
   * Whether another host on `device`'s link already uses `address` (RFC 5227 2.1): ARP probes
   * `probes` times, `intervalMs` apart, then waits `intervalMs` more for an answer. Resolves
   * with the other host's MAC, or null when the address is free.
   */
  probeAddress(device: Device, address: Ipv4Address, probes = 3, intervalMs = 1000): Promise<string | null> {
    return new Promise((resolve) => {
      let sent = 0;
      const timer = this.timers.create(() => {
        if (sent < probes) {
          sent++;
          this.arp.probe(device, address);
          timer.arm(intervalMs);
          return;
        }
        stop();
        resolve(null);
      });
      const stop = this.arp.watch(address, (mac) => {
        timer.disarm();
        resolve(mac);
      });
      timer.arm(0);
    });
  }

  /** Tell the link that `address` is now ours (RFC 5227 2.3 ARP Announcement). */
  announceAddress(device: Device, address: Ipv4Address): void {
    this.arp.announce(device, address);
  }

  setDefaultGateway(gateway: Ipv4Address): Route {
    const iface = this.interfaces.find((i) => !i.isLoopback && i.onLink(gateway));
    if (iface === undefined) throw new Error(`gateway ${ipv4ToString(gateway)} is not on any attached network`);
    const route = this.routes.add(0, 0, gateway, iface, 'default');
    this.logRoute('default gateway was registered', route);
    return route;
  }

  addRoute(network: Ipv4Address, prefixLength: number, nextHop: Ipv4Address, ifaceName?: string): Route {
    let iface: Interface | undefined;
    if (ifaceName !== undefined) iface = this.interfaces.find((i) => i.device.name === ifaceName || i.name === ifaceName);
    else if (nextHop !== 0) iface = this.interfaces.find((i) => !i.isLoopback && i.onLink(nextHop));
    if (iface === undefined) throw new Error(nextHop !== 0 ? `next hop ${ipv4ToString(nextHop)} is not on any attached network` : 'no such interface');
    const route = this.routes.add(network, prefixLength, nextHop, iface, prefixLength === 0 ? 'default' : 'static');
    this.logRoute('route was registered', route);
    return route;
  }

  removeRoute(network: Ipv4Address, prefixLength: number): boolean {
    return this.routes.remove(network, prefixLength);
  }

  /** Open every device and start receiving. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.ipv6?.start();
    for (const d of this.devices) {
      d.open(this);
      this.events.event('device was opened', { type: d.type === 'loopback' ? 'Loopback' : 'Ethernet', name: `net${this.devices.indexOf(d)} (${d.name})` });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.devices) {
      try {
        d.close();
      } catch (err) {
        this.events.error('device close failed', { device: d.name, error: String(err) });
      }
    }
    this.neighbors.clear();
    this.reassembler.clear();
    this.ipv6?.close();
    this.timers.clear();
  }

  isLocalAddress(addr: Ipv4Address): boolean {
    return this.interfaceTable.isLocalAddress(addr);
  }

  private logRoute(title: string, r: Route): void {
    this.events.event(title, {
      network: ipv4ToString(r.network),
      netmask: ipv4ToString(r.mask),
      unicast: ipv4ToString(r.iface.address),
      'next hop': ipv4ToString(r.nextHop),
      device: `${r.iface.name} (${r.iface.device.name})`,
    });
  }

  // ---------------------------------------------------------------- receive path

  receiveFrame(device: Device, frame: Uint8Array, rxFlags = 0): void {
    try {
      this.counters.framesIn++;
      const checksumOk = (rxFlags & RxFlags.ChecksumOk) !== 0;
      this.link.observer?.frame('incoming', device, frame, 0, frame.length);
      if (device.type === 'loopback') {
        if (frame[0]! >>> 4 === 6 && this.ipv6 !== null) {
          this.ipv6.receiveLoopback(device, frame, checksumOk);
          return;
        }
        const iface = this.interfaceTable.onDevice(device);
        if (iface !== undefined) this.ipIn.receive(frame, 0, frame.length, iface, checksumOk, false);
        return;
      }
      const eth = this.eth.reset(frame, 0, frame.length);
      if (eth.check() !== null) {
        this.counters.drop('ethernet: too-short');
        return;
      }
      // Accept frames to our MAC, broadcast, and the multicast MACs of groups we joined.
      const toUs = macEquals(frame, 0, device.mac);
      if (!toUs && !isBroadcastMac(frame, 0) && !this.multicast.acceptsFrame(device, frame) && !this.acceptsIpv6Multicast(device, frame)) {
        this.counters.drop('ethernet: not-for-us');
        return;
      }
      const type = eth.etherType;
      if (type === EtherType.IPv4) {
        const iface = this.interfaceTable.onDevice(device);
        if (iface === undefined) {
          this.counters.drop('ipv4: no-interface');
          return;
        }
        this.ipIn.receive(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH, iface, checksumOk, !toUs);
      } else if (type === EtherType.ARP) {
        this.arp.receive(device, frame);
      } else if (type === EtherType.IPv6 && this.ipv6 !== null) {
        this.ipv6.receiveFrame(device, frame, checksumOk);
      } else {
        this.counters.drop('ethernet: unknown-ethertype');
      }
    } catch (err) {
      this.counters.internalErrors++;
      this.events.error('internal error while receiving a frame (dropped)', { device: device.name, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  }

  /** A datagram we sent to a group: members on the interface get a copy, on a later turn. */
  private loopMulticast(iface: Interface, buf: Uint8Array, offset: number, length: number): void {
    if (!this.multicast.acceptsDatagram(iface, readIpv4(buf, offset + 16), readIpv4(buf, offset + 12))) return;
    const copy = buf.slice(offset, offset + length);
    this.tasks.defer(() => {
      try {
        this.ipIn.deliverLooped(copy, iface);
      } catch (err) {
        this.counters.internalErrors++;
        this.events.error('internal error while looping a multicast datagram back (dropped)', { error: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    });
  }

  /** A frame to 33:33:xx:xx:xx:xx for an IPv6 group joined on `device` (RFC 2464 7). */
  private acceptsIpv6Multicast(device: Device, frame: Uint8Array): boolean {
    return this.ipv6 !== null && frame[0] === 0x33 && frame[1] === 0x33 && this.ipv6.acceptsMulticastFrame(device, frame);
  }

  /** A polling device found nothing: keep the receive path warm (warm.ts). */
  warm(device: Device): void {
    this.warmPath.warm(device);
  }

  endBatch(_device: Device): void {
    for (const p of this.transports.batchHandlers) {
      try {
        p.endBatch!();
      } catch (err) {
        this.counters.internalErrors++;
        this.events.error('internal error in endBatch', { error: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    }
  }

  // ---------------------------------------------------------------- send path (NetworkLayer)

  route(dst: Ipv4Address): Ipv4RouteResult | null {
    return this.ipOut.route(dst);
  }

  output(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, routeHint?: RouteResult | null): boolean {
    return this.ipOut.output(opts, buf, payloadOffset, payloadLength, routeHint);
  }

  /** Path MTUs learned from Fragmentation Needed (RFC 1191), for `pstack route cache` and stats. */
  get pathMtuCache(): PathMtuCache<Ipv4Address> {
    return this.ipOut.pathMtu;
  }

  pathMtu(dst: Ipv4Address, rt: RouteResult): number {
    return this.ipOut.mtuFor(dst, rt);
  }

  get pathMtuGeneration(): number {
    return this.ipOut.pathMtu.generation;
  }

  learnPathMtu(dst: Ipv4Address, mtu: number): number {
    const rt = this.ipOut.route(dst);
    if (rt === null || rt.iface.isLoopback) return rt?.iface.mtu ?? mtu;
    return this.ipOut.pathMtu.lower(dst, mtu, rt.iface.mtu);
  }

  pathMtuLocked(dst: Ipv4Address): boolean {
    return this.ipOut.pathMtu.size > 0 && this.ipOut.pathMtu.locked(dst);
  }

  /**
   * Broadcasts go to the link's broadcast MAC whatever the route's gateway: the limited
   * broadcast out of the bound address's interface (or the route's, or the first Ethernet
   * interface), a directed broadcast out of the interface whose network it names.
   */
  broadcastRoute(dst: Ipv4Address, localAddress: Ipv4Address): Ipv4RouteResult | null {
    if (dst === IPV4_BROADCAST) {
      let iface: Interface | undefined;
      if (localAddress !== 0) iface = this.interfaces.find((i) => i.address === localAddress && !i.isLoopback);
      iface ??= this.routes.lookup(dst)?.iface;
      iface ??= this.interfaces.find((i) => !i.isLoopback);
      if (iface === undefined || iface.isLoopback) return null;
      return { iface, nextHop: IPV4_BROADCAST, src: iface.address, route: null };
    }
    const iface = this.interfaceTable.withBroadcast(dst);
    if (iface === undefined) return null;
    return { iface, nextHop: dst, src: iface.address, route: null };
  }

  isBroadcast(addr: Ipv4Address): boolean {
    return addr === IPV4_BROADCAST || this.interfaceTable.isDirectedBroadcast(addr);
  }

  isUnicast(addr: Ipv4Address): boolean {
    return addr !== 0 && addr !== IPV4_BROADCAST && !isMulticast(addr);
  }

  pseudoHeaderSum(src: Ipv4Address, dst: Ipv4Address, protocol: number, length: number): number {
    return pseudoHeaderSum(src, dst, protocol, length);
  }

  writeAddress(addr: Ipv4Address, out: Uint8Array, offset: number): number {
    writeIpv4(out, offset, addr);
    return 4;
  }

  tsoLimit(rt: RouteResult): number {
    const off = rt.iface.device.offloads;
    return off !== undefined && off.txChecksum ? off.tsoMaxBytes : 0;
  }

  txChecksumOffload(rt: RouteResult): boolean {
    return rt.iface.device.offloads?.txChecksum === true;
  }

  private readonly quoted = new Ipv4Packet();

  sendPortUnreachable(packet: InboundPacket): void {
    // RFC 1122 4.1.3.1: Port Unreachable, quoting the IP header and the first 8 bytes.
    const ip = this.quoted.reset(packet.buf, packet.headerOffset, packet.payloadOffset + packet.payloadLength - packet.headerOffset);
    this.icmp.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Port, 0);
  }
}
