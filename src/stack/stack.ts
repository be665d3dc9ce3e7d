/**
 * The host: devices, interfaces, routes, the ARP cache, and IPv4 in and out.
 *
 * Receive: device batch -> receiveFrame -> Ethernet -> ARP | IPv4 -> protocol handler.
 * Send: transport -> ipOutput (route, header, fragment) -> linkOutput (ARP resolve or queue)
 * -> device. Nothing on the receive path calls back up into a layer it came from.
 */

import type { Device, FrameReceiver } from '../link/device.js';
import { Timers, systemClock, type Clock } from '../time/clock.js';
import { EthernetFrame, EtherType, emitEthernet, padFrame, ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { ArpPacket, ArpOp, emitArp, ARP_PACKET_LENGTH } from '../wire/arp.js';
import { Ipv4Packet, emitIpv4, IPV4_MIN_HEADER, IpProtocol, type Ipv4Repr } from '../wire/ipv4.js';
import { walkIpv4Options } from '../wire/ipv4-options.js';
import { IcmpType, UnreachableCode } from '../wire/icmp.js';
import {
  IPV4_BROADCAST, MAC_BROADCAST, MAC_ZERO, ipv4ToString, isMulticast, macEquals, isBroadcastMac, macToString,
  type Ipv4Address, type Ipv4Cidr,
} from '../wire/addr.js';
import { Counters } from './counters.js';
import { Interface } from './interface.js';
import { RouteTable, type Route } from './routes.js';
import { NeighborCache, defaultNeighborConfig, type NeighborConfig, type NeighborEntry } from './neighbors.js';
import { IcmpService } from './icmp.js';
import { Reassembler, defaultReassemblyConfig, type ReassemblyConfig } from './fragments.js';
import type { PacketObserver, StackEvents } from './observer.js';

/** Room in front of a transport header for the largest IPv4 header and an Ethernet header. */
export const TX_HEADROOM = 80;
/** Largest IPv4 datagram plus headroom. */
const TX_BUFFER_SIZE = 65535 + TX_HEADROOM + 64;

/** A transport protocol (UDP, TCP) plugged into IPv4 input. */
export interface IpProtocolHandler {
  /** A datagram for us with this protocol; `ip` is valid only during the call. */
  receive(ip: Ipv4Packet, iface: Interface): void;
  /** An ICMP error about a datagram we sent: `original` holds its IP header and at least 8 bytes. */
  icmpError?(type: number, code: number, info: number, original: Ipv4Packet): void;
  /** End of an input batch: flush coalesced output. */
  endBatch?(): void;
}

/** One socket endpoint as `pstack netstat` lists it. */
export interface EndpointInfo {
  protocol: 'udp' | 'tcp';
  localAddress: Ipv4Address;
  localPort: number;
  remoteAddress: Ipv4Address;
  remotePort: number;
  /** TCP state name (LISTEN, ESTABLISHED, ...) or '' for UDP. */
  state: string;
  /** Bytes waiting in the receive and send queues. */
  recvQueue: number;
  sendQueue: number;
}

/** A transport that can list its endpoints (for inspection commands). */
export interface EndpointProvider {
  endpoints(): EndpointInfo[];
}

export interface RouteResult {
  iface: Interface;
  /** Where the frame goes on the link: the gateway, or the destination itself. */
  nextHop: Ipv4Address;
  /** Source address to use: the interface's. */
  src: Ipv4Address;
  route: Route | null;
}

export interface IpOutputOptions {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
  /** Raw option bytes (multiple of 4). */
  options?: Uint8Array;
  /** Use this identification instead of the next counter value. */
  id?: number;
}

export interface StackOptions {
  clock?: Clock;
  timers?: Timers;
  events?: StackEvents;
  observer?: PacketObserver | null;
  defaultTtl?: number;
  /** Act as a router between interfaces (RFC 1812) instead of dropping transit packets. */
  forwarding?: boolean;
  neighbor?: Partial<NeighborConfig>;
  reassembly?: Partial<ReassemblyConfig>;
  /** Create ARP entries from replies we never asked for (off: RFC 826 merge rule only). */
  acceptUnsolicitedArp?: boolean;
}

const silentEvents: StackEvents = { event() {}, error() {} };

export class Stack implements FrameReceiver {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly counters = new Counters();
  readonly routes = new RouteTable();
  readonly neighbors: NeighborCache;
  readonly interfaces: Interface[] = [];
  readonly devices: Device[] = [];
  readonly icmp: IcmpService;
  readonly reassembler: Reassembler;
  events: StackEvents;
  observer: PacketObserver | null;
  defaultTtl: number;
  forwarding: boolean;
  acceptUnsolicitedArp: boolean;

  /** Scratch buffer every output path builds its packet in; sends are synchronous copies. */
  readonly txBuffer = new Uint8Array(TX_BUFFER_SIZE);
  /** Transports register here so `pstack netstat` can list every socket. */
  readonly endpointProviders: EndpointProvider[] = [];
  private readonly protocols: Array<IpProtocolHandler | undefined> = new Array(256);
  private readonly eth = new EthernetFrame();
  private readonly arp = new ArpPacket();
  private readonly ip = new Ipv4Packet();
  private readonly arpFrame = new Uint8Array(ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH + 18);
  private nextId = 1;
  private started = false;
  private closed = false;

  constructor(options: StackOptions = {}) {
    this.clock = options.clock ?? options.timers?.clock ?? systemClock;
    this.timers = options.timers ?? new Timers(this.clock);
    this.events = options.events ?? silentEvents;
    this.observer = options.observer ?? null;
    this.defaultTtl = options.defaultTtl ?? 64;
    this.forwarding = options.forwarding ?? false;
    this.acceptUnsolicitedArp = options.acceptUnsolicitedArp ?? false;
    this.neighbors = new NeighborCache(
      this.timers,
      {
        sendRequest: (iface, ip) => this.sendArpRequest(iface, ip),
        flushQueue: (entry, packets) => this.flushNeighborQueue(entry, packets),
        resolutionFailed: (entry, packets) => this.neighborFailed(entry, packets),
      },
      this.counters,
      { ...defaultNeighborConfig, ...options.neighbor },
    );
    this.icmp = new IcmpService(this);
    this.reassembler = new Reassembler(this.timers, this.counters, { ...defaultReassemblyConfig, ...options.reassembly }, (first) =>
      this.icmp.sendError(first, IcmpType.TimeExceeded, 1, 0),
    );
    this.protocols[IpProtocol.ICMP] = this.icmp;
  }

  // ---------------------------------------------------------------- configuration

  addDevice(device: Device): void {
    this.devices.push(device);
    this.events.event('device was registered', {
      type: device.type === 'loopback' ? 'Loopback' : 'Ethernet',
      name: `net${this.devices.length - 1} (${device.name})`,
      addr: macToString(device.mac),
    });
    if (this.started) device.open(this);
  }

  /** Attach an address to a registered device and add its connected route. */
  addInterface(device: Device, cidr: Ipv4Cidr): Interface {
    if (!this.devices.includes(device)) this.addDevice(device);
    const iface = new Interface(this.devices.indexOf(device), device, cidr.address, cidr.prefixLength);
    this.interfaces.push(iface);
    this.events.event('interface was attached', { ip: ipv4ToString(iface.address), device: `${iface.name} (${device.name})` });
    const route = this.routes.add(iface.network, iface.prefixLength, 0, iface, 'interface');
    this.logRoute('route was registered', route);
    // Our own address resolves to our own MAC, permanently (so it shows in `pstack arp`).
    if (device.type === 'ethernet') this.neighbors.addStatic(iface, iface.address, device.mac);
    return iface;
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

  registerProtocol(protocol: number, handler: IpProtocolHandler): void {
    this.protocols[protocol] = handler;
  }

  /** Open every device and start receiving. */
  start(): void {
    if (this.started) return;
    this.started = true;
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
    this.timers.clear();
  }

  isLocalAddress(addr: Ipv4Address): boolean {
    for (const i of this.interfaces) if (i.address === addr) return true;
    return false;
  }

  interfaceFor(addr: Ipv4Address): Interface | undefined {
    return this.interfaces.find((i) => i.address === addr);
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

  receiveFrame(device: Device, frame: Uint8Array): void {
    try {
      this.counters.framesIn++;
      this.observer?.frame('incoming', device, frame, 0, frame.length);
      if (device.type === 'loopback') {
        const iface = this.interfaces.find((i) => i.device === device);
        if (iface !== undefined) this.ipInput(frame, 0, frame.length, iface);
        return;
      }
      const eth = this.eth.reset(frame, 0, frame.length);
      if (eth.check() !== null) {
        this.counters.drop('ethernet: too-short');
        return;
      }
      // Accept frames to our MAC, broadcast, and (for ARP/IP multicast we don't join) nothing else.
      const dstOk = macEquals(frame, 0, device.mac) || isBroadcastMac(frame, 0);
      if (!dstOk) {
        this.counters.drop('ethernet: not-for-us');
        return;
      }
      const type = eth.etherType;
      if (type === EtherType.IPv4) {
        const iface = this.interfaceOnDevice(device);
        if (iface === undefined) {
          this.counters.drop('ipv4: no-interface');
          return;
        }
        this.ipInput(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH, iface);
      } else if (type === EtherType.ARP) {
        this.arpInput(device, frame);
      } else {
        this.counters.drop('ethernet: unknown-ethertype');
      }
    } catch (err) {
      this.counters.internalErrors++;
      this.events.error('internal error while receiving a frame (dropped)', { device: device.name, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  }

  endBatch(_device: Device): void {
    for (const p of this.protocols) {
      if (p?.endBatch === undefined) continue;
      try {
        p.endBatch();
      } catch (err) {
        this.counters.internalErrors++;
        this.events.error('internal error in endBatch', { error: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    }
  }

  private interfaceOnDevice(device: Device): Interface | undefined {
    const ifs = this.interfaces;
    for (let i = 0; i < ifs.length; i++) if (ifs[i]!.device === device) return ifs[i];
    return undefined;
  }

  private arpInput(device: Device, frame: Uint8Array): void {
    this.counters.arpIn++;
    const arp = this.arp.reset(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH);
    const bad = arp.check();
    if (bad !== null) {
      this.counters.drop(`arp: ${bad}`);
      return;
    }
    const op = arp.op;
    const spa = arp.senderIp;
    const tpa = arp.targetIp;
    const iface = this.interfaces.find((i) => i.device === device && i.address === tpa);
    const onDevice = this.interfaceOnDevice(device);
    if (onDevice === undefined) {
      this.counters.drop('arp: no-interface');
      return;
    }
    // A sender claiming one of our own addresses is a conflict or a spoof: never learn it.
    if (this.isLocalAddress(spa)) {
      this.counters.drop('arp: sender-is-us');
      return;
    }
    if (spa === 0 || spa === IPV4_BROADCAST || isMulticast(spa) || isBroadcastMac(frame, arp.senderMacOffset)) {
      this.counters.drop('arp: bad-sender');
      return;
    }
    // RFC 826 merge: update an entry we have; create one only when the packet is aimed at us
    // (a request for our address, or a reply we solicited), unless configured otherwise.
    const isRequestForUs = op === ArpOp.Request && iface !== undefined;
    const create = isRequestForUs || (this.acceptUnsolicitedArp && iface !== undefined);
    if (onDevice.onLink(spa)) this.neighbors.learn(onDevice, spa, frame, arp.senderMacOffset, create);
    if (op === ArpOp.Request) {
      if (iface === undefined) {
        this.counters.drop('arp: not-for-us');
        return;
      }
      this.sendArp(device, ArpOp.Reply, iface.address, frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6), spa,
        frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6));
    } else if (op !== ArpOp.Reply) {
      this.counters.drop('arp: unknown-op');
    }
  }

  private sendArp(device: Device, op: number, senderIp: Ipv4Address, targetMac: Uint8Array, targetIp: Ipv4Address, ethDst: Uint8Array): void {
    const f = this.arpFrame;
    emitEthernet(f, 0, ethDst, device.mac, EtherType.ARP);
    emitArp(f, ETHERNET_HEADER_LENGTH, { op, senderMac: device.mac, senderIp, targetMac, targetIp });
    const len = padFrame(f, 0, ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH);
    this.counters.arpOut++;
    this.transmit(device, f, 0, len);
  }

  private sendArpRequest(iface: Interface, ip: Ipv4Address): void {
    this.sendArp(iface.device, ArpOp.Request, iface.address, MAC_ZERO, ip, MAC_BROADCAST);
  }

  /**
   * IPv4 input (RFC 791, RFC 1122 3.2.1): validate, then deliver, reassemble or forward.
   * `buf[offset, offset+length)` is the whole IP packet, possibly with link padding after it.
   */
  ipInput(buf: Uint8Array, offset: number, length: number, iface: Interface): void {
    this.counters.ipIn++;
    const ip = this.ip.reset(buf, offset, length);
    const bad = ip.check();
    if (bad !== null) {
      this.counters.drop(`ipv4: ${bad}`);
      return;
    }
    if (!ip.verifyChecksum()) {
      this.counters.drop('ipv4: bad-checksum');
      return;
    }
    // Trim link-layer padding: from here on the packet is exactly totalLength bytes.
    ip.length = ip.totalLength;
    const src = ip.src;
    const dst = ip.dst;
    if (src === IPV4_BROADCAST || isMulticast(src) || (src >>> 24 === 127 && !iface.isLoopback)) {
      this.counters.drop('ipv4: martian-source');
      return;
    }
    if (!iface.isLoopback && this.isLocalAddress(src)) {
      // "Land": a packet from outside claiming to come from us (RFC 6864 aside, never valid).
      this.counters.drop('ipv4: land');
      return;
    }
    const local = this.isLocalAddress(dst);
    const broadcast = dst === IPV4_BROADCAST || dst === iface.broadcast;
    if (!local && !broadcast) {
      if (isMulticast(dst)) {
        this.counters.drop('ipv4: multicast');
        return;
      }
      if (this.forwarding && !iface.isLoopback) {
        this.forward(ip, iface);
        return;
      }
      this.counters.drop('ipv4: not-for-us');
      return;
    }
    if (ip.headerLength > IPV4_MIN_HEADER) {
      const walk = walkIpv4Options(buf, ip.optionsOffset, ip.optionsLength);
      if (walk.error !== null) {
        this.counters.drop(`ipv4: ${walk.error}`);
        if (!broadcast) this.icmp.sendError(ip, IcmpType.ParameterProblem, 0, (walk.errorOffset - offset) << 24);
        return;
      }
    }
    if (ip.isFragment) {
      this.counters.ipFragmentsIn++;
      const whole = this.reassembler.add(ip, iface);
      if (whole === null) return;
      this.counters.ipReassembled++;
      const full = this.ip.reset(whole, 0, whole.length);
      this.deliver(full, iface, broadcast);
      return;
    }
    this.deliver(ip, iface, broadcast);
  }

  private deliver(ip: Ipv4Packet, iface: Interface, broadcast: boolean): void {
    const handler = this.protocols[ip.protocol];
    if (handler === undefined) {
      this.counters.drop('ipv4: unknown-protocol');
      if (!broadcast) this.icmp.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Protocol, 0);
      return;
    }
    this.counters.ipDelivered++;
    handler.receive(ip, iface);
  }

  /** Deliver an ICMP error to the protocol that sent the original datagram. */
  dispatchIcmpError(type: number, code: number, info: number, original: Ipv4Packet): void {
    this.protocols[original.protocol]?.icmpError?.(type, code, info, original);
  }

  // ---------------------------------------------------------------- forwarding

  private forward(ip: Ipv4Packet, inIface: Interface): void {
    // Filled in by the router work (issue 4): TTL, ICMP errors, RR, fragmentation.
    void inIface;
    this.counters.drop('ipv4: forwarding-disabled');
    void ip;
  }

  // ---------------------------------------------------------------- send path

  /** Where a datagram to `dst` goes: interface, link-level next hop and source address. */
  route(dst: Ipv4Address): RouteResult | null {
    const local = this.interfaceFor(dst);
    if (local !== undefined) {
      // Traffic to ourselves goes over loopback when we have one (as the kernel's local table).
      const lo = this.interfaces.find((i) => i.isLoopback);
      if (lo !== undefined) return { iface: lo, nextHop: dst, src: dst, route: null };
    }
    const r = this.routes.lookup(dst);
    if (r === null) return null;
    return { iface: r.iface, nextHop: r.nextHop !== 0 ? r.nextHop : dst, src: r.iface.address, route: r };
  }

  nextIpId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xffff;
    return id;
  }

  /**
   * Send a datagram whose payload the caller has written at buf[payloadOffset, +payloadLength),
   * with at least TX_HEADROOM bytes free before it. Writes the IPv4 header (and options) in
   * front, then hands the packet to the link. Returns false if it could not be sent (no route).
   */
  ipOutput(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, routeHint?: RouteResult | null): boolean {
    const rt = routeHint ?? this.route(opts.dst);
    if (rt === null) {
      this.counters.drop('ipv4: no-route');
      return false;
    }
    const options = opts.options;
    const headerLength = IPV4_MIN_HEADER + (options?.length ?? 0);
    const ipOffset = payloadOffset - headerLength;
    const repr: Ipv4Repr = {
      tos: opts.tos ?? 0,
      id: opts.id ?? this.nextIpId(),
      dontFragment: opts.dontFragment ?? false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: opts.ttl ?? this.defaultTtl,
      protocol: opts.protocol,
      src: opts.src,
      dst: opts.dst,
      options: options ?? EMPTY_OPTIONS,
      payloadLength,
    };
    if (headerLength + payloadLength > rt.iface.mtu) {
      if (repr.dontFragment) {
        this.counters.drop('ipv4: too-big-df');
        return false;
      }
      return this.fragmentOutput(repr, buf, payloadOffset, rt);
    }
    emitIpv4(buf, ipOffset, repr);
    this.counters.ipOut++;
    this.linkOutput(rt.iface, rt.nextHop, buf, ipOffset, headerLength + payloadLength);
    return true;
  }

  /** Send an IP packet that is already complete (header included), e.g. forwarded or queued. */
  ipOutputRaw(buf: Uint8Array, offset: number, length: number, rt: RouteResult): void {
    this.counters.ipOut++;
    this.linkOutput(rt.iface, rt.nextHop, buf, offset, length);
  }

  private fragmentOutput(repr: Ipv4Repr, buf: Uint8Array, payloadOffset: number, rt: RouteResult): boolean {
    const frags = this.fragmentBuffer;
    const mtu = rt.iface.mtu;
    const total = repr.payloadLength;
    // RFC 791: only options with the copied flag go into fragments after the first.
    const firstOptions = repr.options;
    const laterOptions = copiedOptions(firstOptions);
    let sent = 0;
    while (sent < total) {
      const opts = sent === 0 ? firstOptions : laterOptions;
      const hl = IPV4_MIN_HEADER + opts.length;
      let chunk = Math.min(total - sent, mtu - hl);
      const last = sent + chunk >= total;
      if (!last) chunk &= ~7;
      if (chunk <= 0) {
        this.counters.drop('ipv4: mtu-too-small');
        return false;
      }
      const ipOffset = TX_HEADROOM - hl;
      frags.set(buf.subarray(payloadOffset + sent, payloadOffset + sent + chunk), TX_HEADROOM);
      emitIpv4(frags, ipOffset, { ...repr, options: opts, moreFragments: !last || repr.moreFragments, fragmentOffset: repr.fragmentOffset + sent, payloadLength: chunk });
      this.counters.ipOut++;
      this.counters.ipFragmentsOut++;
      this.linkOutput(rt.iface, rt.nextHop, frags, ipOffset, hl + chunk);
      sent += chunk;
    }
    return true;
  }

  private readonly fragmentBuffer = new Uint8Array(TX_HEADROOM + 65536);

  /**
   * Put an IP packet on the link. `buf` must have ETHERNET_HEADER_LENGTH free bytes before
   * `offset` (every output path builds with headroom). Unresolved next hops queue a copy.
   */
  linkOutput(iface: Interface, nextHop: Ipv4Address, buf: Uint8Array, offset: number, length: number): void {
    const device = iface.device;
    if (device.type === 'loopback') {
      this.transmit(device, buf, offset, length);
      return;
    }
    let mac: Uint8Array | null;
    if (nextHop === IPV4_BROADCAST || nextHop === iface.broadcast) mac = MAC_BROADCAST;
    else {
      mac = this.neighbors.lookup(nextHop);
      if (mac === null) {
        const copy = buf.slice(offset, offset + length);
        if (!this.neighbors.enqueue(iface, nextHop, copy)) this.counters.drop('ipv4: unresolved');
        return;
      }
      const entry = this.neighbors.get(nextHop);
      if (entry !== undefined && entry.state === 'stale' && entry.requestsSent === 0) {
        // Still usable, but confirm it (RFC 1122 2.3.2.1 asks for a timeout-and-revalidate scheme).
        entry.requestsSent = 1;
        this.sendArpRequest(iface, nextHop);
      }
    }
    const start = offset - ETHERNET_HEADER_LENGTH;
    emitEthernet(buf, start, mac, device.mac, EtherType.IPv4);
    const frameLength = padFrame(buf, start, ETHERNET_HEADER_LENGTH + length);
    this.transmit(device, buf, start, frameLength);
  }

  private transmit(device: Device, buf: Uint8Array, offset: number, length: number): void {
    this.counters.framesOut++;
    this.observer?.frame('outgoing', device, buf, offset, length);
    device.send(buf.subarray(offset, offset + length));
  }

  private flushNeighborQueue(entry: NeighborEntry, packets: readonly Uint8Array[]): void {
    const scratch = this.queueBuffer;
    for (const p of packets) {
      scratch.set(p, ETHERNET_HEADER_LENGTH);
      this.linkOutput(entry.iface, entry.ip, scratch, ETHERNET_HEADER_LENGTH, p.length);
    }
  }

  private readonly queueBuffer = new Uint8Array(ETHERNET_HEADER_LENGTH + 65536);

  private neighborFailed(entry: NeighborEntry, packets: readonly Uint8Array[]): void {
    this.events.event('arp resolution failed', { ip: ipv4ToString(entry.ip), device: entry.iface.device.name, dropped: packets.length });
    for (const p of packets) {
      this.counters.drop('arp: unresolved');
      const view = new Ipv4Packet(p, 0, p.length);
      // Only datagrams we forwarded deserve Host Unreachable to someone else; our own
      // sockets learn it the same way, through the ICMP error path.
      if (view.check() === null) this.icmp.sendError(view, IcmpType.DestinationUnreachable, UnreachableCode.Host, 0);
    }
  }
}

const EMPTY_OPTIONS = new Uint8Array(0);

function copiedOptions(options: Uint8Array): Uint8Array {
  if (options.length === 0) return options;
  const walk = walkIpv4Options(options, 0, options.length);
  const parts: number[] = [];
  for (const o of walk.options) {
    if ((o.type & 0x80) !== 0) for (let i = 0; i < o.length; i++) parts.push(options[o.offset + i]!);
  }
  while (parts.length % 4 !== 0) parts.push(0);
  return Uint8Array.from(parts);
}
