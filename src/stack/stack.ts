/**
 * The host: devices, interfaces, routes, the ARP cache, and IPv4 in and out.
 *
 * Receive: device batch -> receiveFrame -> Ethernet -> ARP | IPv4 -> protocol handler.
 * Send: transport -> ipOutput (route, header, fragment) -> linkOutput (ARP resolve or queue)
 * -> device. Nothing on the receive path calls back up into a layer it came from.
 */

import { type Device, type FrameReceiver, RxFlags } from '../link/device.js';
import { Timers, systemClock, type Clock } from '../time/clock.js';
import { EthernetFrame, EtherType, emitEthernet, padFrame, ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { ArpPacket, ArpOp, emitArp, ARP_PACKET_LENGTH } from '../wire/arp.js';
import { Ipv4Packet, emitIpv4, IPV4_MIN_HEADER, IpProtocol, type Ipv4Repr } from '../wire/ipv4.js';
import { walkIpv4Options, checkIpv4Options, recordRouteAppend, timestampAppend, timestampNow, type Ipv4Option } from '../wire/ipv4-options.js';
import { IcmpType, UnreachableCode, TimeExceededCode } from '../wire/icmp.js';
import { checksumUpdate16, fold16, internetChecksum, sum16 } from '../wire/checksum.js';
import {
  IPV4_BROADCAST, MAC_BROADCAST, MAC_ZERO, ipv4ToString, isMulticast, macEquals, isBroadcastMac, isMulticastMac, macToString,
  type Ipv4Address, type Ipv4Cidr,
} from '../wire/addr.js';
import { Counters } from './counters.js';
import { Interface } from './interface.js';
import { RouteTable, type Route } from './routes.js';
import { NeighborCache, defaultNeighborConfig, type NeighborConfig, type NeighborEntry } from './neighbors.js';
import { IcmpService, defaultIcmpConfig, type IcmpConfig } from './icmp.js';
import { Reassembler, defaultReassemblyConfig, type ReassemblyConfig } from './fragments.js';
import type { PacketObserver, StackEvents } from './observer.js';
import { UdpLayer } from '../transport/udp.js';

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
  /** The transport's own counters, named with its prefix (e.g. tcpRetransSegs), for `pstack stats`. */
  statistics?(): Record<string, number>;
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
  /**
   * Offset of the checksum field in the transport header when its checksum is left partial
   * (the field holds the pseudo-header sum) for the device to complete; 0 or absent when the
   * checksum is complete. Only for a route whose device has `offloads.txChecksum`.
   */
  partialChecksumAt?: number;
  /**
   * For a TCP segment larger than the link MTU, handed whole to a TSO device: the data per
   * piece the device cuts it into. Requires `partialChecksumAt`.
   */
  gsoSize?: number;
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
  icmp?: Partial<IcmpConfig>;
  /** Create ARP entries from replies we never asked for (off: RFC 826 merge rule only). */
  acceptUnsolicitedArp?: boolean;
}

const silentEvents: StackEvents = { event() {}, error() {} };

export class Stack implements FrameReceiver {
  readonly clock: Clock;
  readonly timers: Timers;
  /** What the stack counts; during a warm pass (see warm()) a scratch set that nobody reads. */
  get counters(): Counters {
    return this.countersInUse;
  }
  readonly routes = new RouteTable();
  readonly neighbors: NeighborCache;
  readonly interfaces: Interface[] = [];
  readonly devices: Device[] = [];
  readonly icmp: IcmpService;
  /** UDP (RFC 768): sockets are made with api/dgram.ts's createSocket(stack, 'udp4'). */
  readonly udp: UdpLayer;
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
  /** The registered protocols that have an endBatch, in protocol order. */
  private batchHandlers: IpProtocolHandler[] = [];
  private readonly eth = new EthernetFrame();
  private readonly arp = new ArpPacket();
  private readonly ip = new Ipv4Packet();
  private readonly arpFrame = new Uint8Array(ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH + 18);
  private nextId = 1;
  private countersInUse = new Counters();
  /** Replays run by warm() (not in `counters`, which a replay mutes). */
  warmReplays = 0;
  // Keeping the receive path warm (see warm()): the last echo request answered in place, as
  // it arrived, and the device it came by. Recorded only once some device has asked for warmth.
  private warmWanted = false;
  private warming = false;
  private warmOutputReached = false;
  private warmTemplate = new Uint8Array(0);
  private warmTemplateLength = 0;
  private warmDevice: Device | null = null;
  /** What a replay runs on: a copy of the template, since the echo is answered in place. */
  private warmFrame = new Uint8Array(0);
  private readonly mutedCounters = new Counters();
  /** Whether the frame being received was sent to the link broadcast address (for forward()). */
  private rxLinkBroadcast = false;
  /**
   * The frame being received has a TCP/UDP checksum its device vouches for (RxFlags.ChecksumOk),
   * so transports skip verifying it. Only true during that frame's receive call.
   */
  rxChecksumOk = false;
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
    this.icmp = new IcmpService(this, { ...defaultIcmpConfig, ...options.icmp });
    this.reassembler = new Reassembler(this.timers, this.counters, { ...defaultReassemblyConfig, ...options.reassembly }, (first) =>
      this.icmp.sendError(first, IcmpType.TimeExceeded, 1, 0),
    );
    this.protocols[IpProtocol.ICMP] = this.icmp;
    this.udp = new UdpLayer(this); // registers itself for protocol 17 and in endpointProviders
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
    this.batchHandlers = this.protocols.filter((p): p is IpProtocolHandler => p?.endBatch !== undefined);
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

  /** Whether `addr` is the broadcast address of one of our (non-loopback) networks. */
  isDirectedBroadcast(addr: Ipv4Address): boolean {
    // (A /31 has no broadcast address, RFC 3021: its "broadcast" is the other host.)
    for (const i of this.interfaces) if (!i.isLoopback && i.prefixLength <= 30 && i.broadcast === addr) return true;
    return false;
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

  receiveFrame(device: Device, frame: Uint8Array, rxFlags = 0): void {
    try {
      this.counters.framesIn++;
      this.rxLinkBroadcast = false;
      this.rxChecksumOk = (rxFlags & RxFlags.ChecksumOk) !== 0;
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
        this.rxLinkBroadcast = !macEquals(frame, 0, device.mac);
        this.ipInput(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH, iface);
        this.rxLinkBroadcast = false;
      } else if (type === EtherType.ARP) {
        this.arpInput(device, frame);
      } else {
        this.counters.drop('ethernet: unknown-ethertype');
      }
      this.rxChecksumOk = false;
    } catch (err) {
      this.counters.internalErrors++;
      this.rxChecksumOk = false;
      this.events.error('internal error while receiving a frame (dropped)', { device: device.name, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  }

  /**
   * Keep the receive path warm while `device` polls and finds nothing (TapDevice with
   * --busy-poll): replays the last echo request that was answered in place, with the stack's
   * output and counters muted, so the next real frame finds code and data in the CPU's caches
   * (like OpenOnload's ONLOAD_MSG_WARM on the send side). Nothing leaves, nothing is counted,
   * no state changes: the IP identification is put back, a frame whose next hop is not
   * resolved is not queued and no ARP probe is sent. Skipped while an observer (pcap, frame
   * log) watches, which would otherwise see the replay. Until an echo has been answered there
   * is nothing to replay; a replay that no longer reaches output (address or route changed)
   * is forgotten until the next echo.
   */
  warm(device: Device): void {
    this.warmWanted = true;
    const length = this.warmTemplateLength;
    if (length === 0 || this.warmDevice !== device || this.observer !== null || this.warming) return;
    this.warmFrame.set(this.warmTemplate);
    const counters = this.countersInUse;
    const id = this.nextId;
    this.countersInUse = this.mutedCounters;
    this.warming = true;
    this.warmOutputReached = false;
    this.warmReplays++;
    try {
      this.receiveFrame(device, this.warmFrame, 0);
    } finally {
      this.countersInUse = counters;
      this.nextId = id;
      this.warming = false;
    }
    if (!this.warmOutputReached) this.warmTemplateLength = 0;
  }

  /**
   * Icmp's in-place echo reply calls this with the request as it arrived, before rewriting it:
   * once warm() has been asked for and while there is nothing to replay, it becomes the frame
   * the warm passes replay (kept until a replay no longer reaches output).
   */
  keepForWarming(device: Device, buf: Uint8Array, offset: number, length: number): void {
    if (!this.warmWanted || this.warmTemplateLength !== 0 || this.warming) return;
    this.warmTemplate = buf.slice(offset, offset + length);
    this.warmFrame = new Uint8Array(length);
    this.warmTemplateLength = length;
    this.warmDevice = device;
  }

  endBatch(_device: Device): void {
    // Only the handlers that have an endBatch, not all 256 protocol slots, per batch.
    for (const p of this.batchHandlers) {
      if (p.endBatch === undefined) continue;
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
    // A group (broadcast or multicast) hardware address is never a host's: answering or
    // learning it would turn one frame into traffic for every host (RFC 1812 3.3.2).
    if (isMulticastMac(frame, arp.senderMacOffset)) {
      this.counters.drop('arp: bad-sender');
      return;
    }
    if (spa === 0) {
      // RFC 5227 2.1.1: an ARP Probe (sender 0.0.0.0) for our address is a host checking
      // whether it is free; the owner answers, or the prober would take our address. Nothing
      // is learned from a probe. (Linux's arp_process answers the same way.)
      if (op === ArpOp.Request && iface !== undefined) {
        const sha = frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6);
        this.sendArp(device, ArpOp.Reply, iface.address, sha, 0, sha);
      } else {
        this.counters.drop('arp: bad-sender');
      }
      return;
    }
    if (spa === IPV4_BROADCAST || isMulticast(spa)) {
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
    // RFC 1122 3.2.1.3: "this network" (0/8) is a source only while a host learns its address,
    // and then only to the limited broadcast (DHCP); a network's broadcast address is never a
    // source. Answering either would send the reply nowhere or to every host on the link.
    // (Transit packets get forward()'s own martian checks.)
    if ((src >>> 24 === 0 && dst !== IPV4_BROADCAST) || this.isDirectedBroadcast(src)) {
      this.counters.drop('ipv4: martian-source');
      return;
    }
    if (ip.headerLength > IPV4_MIN_HEADER) {
      const opts = checkIpv4Options(buf, ip.optionsOffset, ip.optionsLength);
      if (opts.error !== null) {
        this.counters.drop(`ipv4: ${opts.error}`);
        if (!broadcast) this.icmp.sendError(ip, IcmpType.ParameterProblem, 0, (opts.errorOffset - offset) << 24);
        return;
      }
      if (opts.sourceRoute !== null) {
        // Source-routed datagrams are dropped, for us as in transit: Linux's default
        // (accept_source_route=0) and RFC 7126 4.3-4.4, since they bypass routing policy.
        this.counters.drop('ipv4: source-route');
        return;
      }
      if (opts.rr !== null && local && !broadcast) {
        // RFC 791 asks each module that handles the datagram to record itself; like Linux, the
        // destination records the address it received on, so `ping -R` shows the whole path.
        if (recordRouteAppend(buf, opts.rr, iface.address)) ip.fillChecksum();
      }
    }
    if (ip.isFragment) {
      this.counters.ipFragmentsIn++;
      const whole = this.reassembler.add(ip, iface);
      if (whole === null) return;
      this.counters.ipReassembled++;
      // The device vouched for one fragment, not for the datagram they make together.
      this.rxChecksumOk = false;
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

  /**
   * Forward a transit packet as a router (RFC 1812 5.2 and 5.3). `ip` is a view into the
   * receive buffer, valid only during this call, with `length` trimmed to the total length:
   * every check (and every ICMP error, which quotes it) works on that view; only a packet
   * that will leave is copied, into the transmit buffer, and only the copy is modified.
   * Order as Linux: route lookup, then TTL, then MTU (ip_route_input, then ip_forward).
   */
  private forward(ip: Ipv4Packet, inIface: Interface): void {
    const counters = this.counters;
    // RFC 1812 5.3.4: a packet that arrived as a link-layer broadcast was not handed to us as
    // a router, so it is not forwarded (a host's misdirected broadcast would otherwise spread).
    if (this.rxLinkBroadcast) {
      counters.drop('forward: link-broadcast');
      return;
    }
    const src = ip.src;
    const dst = ip.dst;
    // RFC 1812 5.3.7 (and 4.2.2.11): never forward from or to "this network" 0/8, loopback
    // 127/8, class E 240/4; RFC 3927 2.7: nor link-local 169.254/16. (Broadcast and multicast
    // sources were dropped by ipInput already.)
    if (isMartian(src)) {
      counters.drop('forward: martian-source');
      return;
    }
    if (isMartian(dst)) {
      counters.drop('forward: martian-destination');
      return;
    }
    // RFC 2644: directed broadcasts to an attached network are not forwarded by default
    // (smurf amplification).
    if (this.isDirectedBroadcast(dst)) {
      counters.drop('forward: directed-broadcast');
      return;
    }
    let rr: Ipv4Option | null = null;
    let ts: Ipv4Option | null = null;
    if (ip.headerLength > IPV4_MIN_HEADER) {
      const opts = checkIpv4Options(ip.buf, ip.optionsOffset, ip.optionsLength);
      if (opts.error !== null) {
        // RFC 1812 5.2.5 / 4.3.2.6 (as ipInput does for local packets): Parameter Problem.
        counters.drop(`forward: ${opts.error}`);
        this.icmp.sendError(ip, IcmpType.ParameterProblem, 0, (opts.errorOffset - ip.offset) << 24);
        return;
      }
      if (opts.sourceRoute !== null) {
        // Source-routed packets are dropped, as Linux does by default (accept_source_route=0)
        // and RFC 7126 4.3-4.4 recommends: they bypass filtering and routing policy.
        counters.drop('forward: source-route');
        return;
      }
      rr = opts.rr;
      ts = opts.ts;
    }
    const route = this.routes.lookup(dst);
    if (route === null || route.iface.isLoopback) {
      // RFC 1812 4.3.3.1: no route at all (not even a default) is Network Unreachable, code 0.
      counters.drop('forward: no-route');
      this.icmp.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Net, 0);
      return;
    }
    const out = route.iface;
    const nextHop = route.nextHop !== 0 ? route.nextHop : dst;
    if (out === inIface && nextHop === src) {
      // The route leads straight back to the sender: a loop, not something to forward. (Other
      // same-interface forwarding is legitimate, as in Linux; it would merit a Redirect,
      // RFC 1812 5.2.7.2, which is optional and not sent.)
      counters.drop('forward: back-to-sender');
      return;
    }
    // RFC 1812 5.3.1: a packet whose TTL would reach zero is discarded with Time Exceeded.
    const ttl = ip.ttl;
    if (ttl <= 1) {
      counters.drop('forward: ttl-exceeded');
      this.icmp.sendError(ip, IcmpType.TimeExceeded, TimeExceededCode.TtlExceeded, 0);
      return;
    }
    const total = ip.totalLength;
    const mtu = out.mtu;
    if (total > mtu && ip.dontFragment) {
      // RFC 1812 5.2.6 / RFC 1191 4: Fragmentation Needed, with the next-hop MTU in the low
      // 16 bits of the "unused" word, so the sender's path MTU discovery can adapt.
      counters.drop('forward: too-big-df');
      this.icmp.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.FragmentationNeeded, mtu & 0xffff);
      return;
    }
    const neighbor = this.neighbors.get(nextHop);
    if (neighbor !== undefined && neighbor.state === 'failed') {
      // ARP just gave up on this next hop (the queued packets got Host Unreachable from
      // neighborFailed); until the entry expires, later packets get the same answer at once.
      counters.drop('forward: host-unreachable');
      this.icmp.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Host, 0);
      return;
    }
    counters.ipForwarded++;
    if (total > mtu) {
      this.forwardFragmented(ip, rr, ts, ttl - 1, out, nextHop, route);
      return;
    }
    // Copy out of the receive batch buffer: the frame is reused after this callback, and
    // linkOutput needs headroom for the new Ethernet header (TX_HEADROOM >= 14).
    const buf = this.txBuffer;
    const at = TX_HEADROOM;
    buf.set(ip.buf.subarray(ip.offset, ip.offset + total), at);
    // TTL and protocol share one 16-bit header word; RFC 1624 eqn. 3 updates the checksum.
    const oldWord = (ttl << 8) | ip.protocol;
    buf[at + 8] = ttl - 1;
    const csum = checksumUpdate16(ip.checksum, oldWord, oldWord - 0x100);
    buf[at + 10] = csum >>> 8;
    buf[at + 11] = csum & 0xff;
    if (rr !== null || ts !== null) {
      // RFC 791 3.1, RFC 1812 5.2.4: a router records the address of the interface the packet
      // leaves by in Record Route (a full option is forwarded unchanged) and makes its entry
      // in a Timestamp option (a full one counts an overflow). Then the checksum is redone.
      let changed = false;
      if (rr !== null) changed = recordRouteAppend(buf, { type: rr.type, offset: rr.offset - ip.offset + at, length: rr.length }, out.address);
      if (ts !== null) changed = timestampAppend(buf, { type: ts.type, offset: ts.offset - ip.offset + at, length: ts.length }, out.address, timestampNow(), true) || changed;
      if (changed) {
        buf[at + 10] = 0;
        buf[at + 11] = 0;
        const c = internetChecksum(buf, at, ip.headerLength);
        buf[at + 10] = c >>> 8;
        buf[at + 11] = c & 0xff;
      }
    }
    // Not ipOutputRaw: RFC 1213's ipOutRequests excludes forwarded datagrams (ipForwarded).
    this.linkOutput(out, nextHop, buf, at, total);
  }

  /**
   * Forward a packet larger than the outgoing MTU (DF clear) as fragments (RFC 791 3.2,
   * RFC 1812 5.2.6): the header is re-emitted per fragment with the decremented TTL, the
   * original identification and offset carried over (a fragment may be fragmented again), and
   * only options with the copied flag repeated after the first fragment. The payload is
   * copied from the receive buffer fragment by fragment.
   */
  private forwardFragmented(ip: Ipv4Packet, rr: Ipv4Option | null, ts: Ipv4Option | null, ttl: number, out: Interface, nextHop: Ipv4Address, route: Route): void {
    const repr = ip.parse();
    repr.ttl = ttl;
    // Neither option has the copied flag: they go in the first fragment only (RFC 791).
    if (rr !== null) {
      recordRouteAppend(repr.options, { type: rr.type, offset: rr.offset - ip.optionsOffset, length: rr.length }, out.address);
    }
    if (ts !== null) {
      timestampAppend(repr.options, { type: ts.type, offset: ts.offset - ip.optionsOffset, length: ts.length }, out.address, timestampNow(), true);
    }
    this.fragmentOutput(repr, ip.buf, ip.payloadOffset, { iface: out, nextHop, src: out.address, route }, false);
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
    const partialChecksumAt = opts.partialChecksumAt ?? 0;
    const gsoSize = opts.gsoSize ?? 0;
    if (headerLength + payloadLength > rt.iface.mtu && gsoSize === 0) {
      if (repr.dontFragment) {
        this.counters.drop('ipv4: too-big-df');
        return false;
      }
      return this.fragmentOutput(repr, buf, payloadOffset, rt);
    }
    emitIpv4(buf, ipOffset, repr);
    this.counters.ipOut++;
    this.linkOutput(rt.iface, rt.nextHop, buf, ipOffset, headerLength + payloadLength, gsoSize, partialChecksumAt);
    return true;
  }

  /** Send an IP packet that is already complete (header included), e.g. forwarded or queued. */
  ipOutputRaw(buf: Uint8Array, offset: number, length: number, rt: RouteResult): void {
    this.counters.ipOut++;
    this.linkOutput(rt.iface, rt.nextHop, buf, offset, length);
  }

  /** `countOut` is false for forwarded packets (counted in ipForwarded, not ipOut; RFC 1213). */
  private fragmentOutput(repr: Ipv4Repr, buf: Uint8Array, payloadOffset: number, rt: RouteResult, countOut = true): boolean {
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
      if (countOut) this.counters.ipOut++;
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
   * `partialChecksumAt` and `gsoSize` are the offload requests of IpOutputOptions.
   */
  linkOutput(
    iface: Interface, nextHop: Ipv4Address, buf: Uint8Array, offset: number, length: number,
    gsoSize = 0, partialChecksumAt = 0,
  ): void {
    const device = iface.device;
    if (device.type === 'loopback') {
      this.transmit(device, buf, offset, length, 0, 0);
      return;
    }
    let mac: Uint8Array | null;
    if (nextHop === IPV4_BROADCAST || nextHop === iface.broadcast) mac = MAC_BROADCAST;
    else {
      mac = this.neighbors.lookup(nextHop);
      if (mac === null) {
        if (this.warming) return; // a replay queues nothing and asks ARP nothing (see warm())
        if (partialChecksumAt !== 0) {
          // The queue sends plain frames later: finish the checksum here. A segment larger
          // than the link can only go out cut up by the device, so it is dropped (TCP resends).
          if (length > iface.mtu) {
            this.counters.drop('ipv4: unresolved-tso');
            return;
          }
          completePartialChecksum(buf, offset, length, partialChecksumAt);
        }
        const copy = buf.slice(offset, offset + length);
        if (!this.neighbors.enqueue(iface, nextHop, copy)) {
          this.counters.drop('ipv4: unresolved');
          // While ARP's failed hold lasts, a packet to that neighbour fails at once, and its
          // sender hears so (Host Unreachable; delivered locally for our own packets), as
          // Linux reports EHOSTUNREACH instead of letting the packet vanish.
          if (this.neighbors.get(nextHop)?.state === 'failed') {
            const view = new Ipv4Packet(copy, 0, copy.length);
            if (view.check() === null) this.icmp.sendError(view, IcmpType.DestinationUnreachable, UnreachableCode.Host, 0);
          }
        }
        return;
      }
      const entry = this.neighbors.get(nextHop);
      if (entry !== undefined && entry.state === 'stale' && entry.requestsSent === 0 && !this.warming) {
        // Still usable, but confirm it (RFC 1122 2.3.2.1 asks for a timeout-and-revalidate scheme).
        entry.requestsSent = 1;
        this.sendArpRequest(iface, nextHop);
      }
    }
    const start = offset - ETHERNET_HEADER_LENGTH;
    emitEthernet(buf, start, mac, device.mac, EtherType.IPv4);
    const frameLength = padFrame(buf, start, ETHERNET_HEADER_LENGTH + length);
    // The device completes the checksum from the transport header on (frame offset).
    const csumStart = partialChecksumAt === 0 ? 0 : ETHERNET_HEADER_LENGTH + ((buf[offset]! & 0x0f) << 2);
    this.transmit(device, buf, start, frameLength, gsoSize, csumStart === 0 ? 0 : partialChecksumAt, csumStart);
  }

  private transmit(
    device: Device, buf: Uint8Array, offset: number, length: number, gsoSize = 0, csumOffset = 0, csumStart = 0,
  ): void {
    if (this.warming) {
      this.warmOutputReached = true;
      return;
    }
    this.counters.framesOut++;
    this.observer?.frame('outgoing', device, buf, offset, length);
    // A frame built in place in a received frame is often the whole view already.
    const frame = offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length);
    if (csumStart === 0) device.send(frame);
    else device.send(frame, gsoSize, csumStart, csumOffset);
  }

  /**
   * Largest IPv4 datagram a TCP segment sent on `rt` may be when the device cuts segments up
   * itself (TSO), or 0 when segments must fit the MTU.
   */
  tsoLimit(rt: RouteResult): number {
    const off = rt.iface.device.offloads;
    return off !== undefined && off.txChecksum ? off.tsoMaxBytes : 0;
  }

  /** True when segments sent on `rt` may leave their transport checksum partial. */
  txChecksumOffload(rt: RouteResult): boolean {
    return rt.iface.device.offloads?.txChecksum === true;
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

/**
 * Finish a transport checksum left partial for a device (its field holds the pseudo-header
 * sum): the checksum over the transport header and data, as the device would have done it.
 */
function completePartialChecksum(buf: Uint8Array, ipOffset: number, ipLength: number, checksumAt: number): void {
  const start = ipOffset + ((buf[ipOffset]! & 0x0f) << 2);
  const at = start + checksumAt;
  const csum = ~fold16(sum16(buf, start, ipOffset + ipLength - start)) & 0xffff;
  buf[at] = csum >>> 8;
  buf[at + 1] = csum & 0xff;
}

/** Addresses a router never forwards from or to (RFC 1812 5.3.7, RFC 3927 2.7). */
function isMartian(addr: Ipv4Address): boolean {
  const a = addr >>> 24;
  return a === 0 || a === 127 || a >= 240 || (addr >>> 16) === 0xa9fe;
}

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
