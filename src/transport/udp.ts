/**
 * UDP (RFC 768, with the host rules of RFC 1122 4.1): a port table, checksums checked on input
 * and always generated on output, ICMP Port Unreachable for datagrams nobody listens for, and
 * ICMP errors about our own datagrams handed to the socket that sent them.
 *
 * This is the transport layer only. Sockets with Node's `dgram` surface live in api/dgram.ts
 * and sit on top of `UdpEndpoint` through the small `UdpEndpointHandler` interface.
 *
 * Receive is allocation-free up to the handler (which gets a view of the payload, valid only
 * during the call); send copies the payload once, into the stack's transmit buffer, where the
 * UDP and IP headers are written in front of it.
 */

import { UdpDatagram, emitUdpWith, UDP_HEADER_LENGTH, UDP_PROTOCOL } from '../wire/udp.js';
import {
  TX_HEADROOM, type NetworkLayer, type TransportProtocol, type EndpointProvider, type EndpointInfo, type RouteResult,
  type InboundPacket, type TransportError, type IpAddress,
} from '../stack/network.js';

import { IN6ADDR_ANY, IN6ADDR_LOOPBACK, isAnyAddress } from '../stack/network.js';
import { bindingTakes, bindingsOverlap } from './wildcard.js';

/** The limited broadcast address, 255.255.255.255. */
const LIMITED_BROADCAST = 0xffffffff;

/** RFC 6335 dynamic ports, which Linux's ip_local_port_range also ends with. */
export const EPHEMERAL_PORT_MIN = 49152;
export const EPHEMERAL_PORT_MAX = 65535;
/** 65535 minus a 20-byte IPv4 header and the 8-byte UDP header (IPv6's payload length excludes its header: 65527 there). */
export const UDP_MAX_PAYLOAD = 65535 - 20 - UDP_HEADER_LENGTH;

/** What an endpoint's owner (a dgram socket, a service) is told. */
export interface UdpEndpointHandler {
  /**
   * A datagram for this endpoint. `payload` is a view into the receive buffer, valid only
   * during the call: copy what must outlive it. `to` is the destination address it was sent
   * to (one of ours, or a broadcast address).
   */
  message(payload: Uint8Array, from: IpAddress, fromPort: number, to: IpAddress): void;
  /**
   * A hard ICMP error about a datagram this endpoint sent to its connected peer, as an errno
   * name (ECONNREFUSED for Port Unreachable), the way Linux reports it on a connected socket.
   */
  error(errno: string, icmpType: number, icmpCode: number): void;
}

/** One UDP socket's addresses and options, as the port table holds it. */
export class UdpEndpoint {
  /** 0 (INADDR_ANY) or :: when bound to every address. */
  localAddress: IpAddress = 0;
  /** On `::`: take IPv6 only, not IPv4 as well (IPV6_V6ONLY). */
  v6Only = false;
  /** The wildcard a disconnect goes back to when connect() chose the local address (0 or ::). */
  wildcard: IpAddress = 0;
  /** 0 while unbound. */
  localPort = 0;
  /** The connected peer, or 0 (or ::)/0 when not connected. */
  remoteAddress: IpAddress = 0;
  remotePort = 0;
  /** SO_BROADCAST: sending to a broadcast address is refused (EACCES) without it. */
  broadcast = false;
  /** IP_TTL for unicast datagrams; null means the stack's default. */
  ttl: number | null = null;
  tos = 0;
  /** SO_REUSEADDR: endpoints that all set it may share an address and port (for multicast receivers). */
  reuseAddr = false;
  /** IP_MULTICAST_TTL: the TTL of datagrams to a group (1: they stay on the link). */
  multicastTtl = 1;
  /** IP_MULTICAST_LOOP: this host's own members of a group get what it sends there. */
  multicastLoop = true;
  /** IP_MULTICAST_IF: the address whose interface datagrams to a group leave by (0: the route's). */
  multicastInterface: IpAddress = 0;
  /**
   * Path MTU discovery (Linux's IP_PMTUDISC_DO / IPV6_DONTFRAG): datagrams leave with DF and
   * one larger than the path MTU fails with EMSGSIZE instead of leaving in fragments.
   */
  pmtuDiscovery = false;
  /** Whether the local address was chosen by bind() (kept on disconnect) or by connect(). */
  addressLocked = false;
  bound = false;
  closed = false;

  constructor(readonly handler: UdpEndpointHandler) {}

  get connected(): boolean {
    return this.remotePort !== 0;
  }
}

export class UdpLayer implements TransportProtocol, EndpointProvider {
  readonly protocolNumber = UDP_PROTOCOL;
  /** Endpoints by local port. A port holds one wildcard endpoint, or several on distinct addresses. */
  private readonly ports = new Map<number, UdpEndpoint[]>();
  private readonly udp = new UdpDatagram();
  private nextEphemeral: number;

  /**
   * @param stack  the IPv4 network layer (its counters and transmit buffer serve both families)
   * @param stack6 the IPv6 network layer, if any: one UDP over both
   */
  constructor(private readonly stack: NetworkLayer, private readonly stack6: NetworkLayer | null = null) {
    // Start the ephemeral search at a random port (RFC 6056 3.3.1's simple randomization),
    // so a restarted server does not reuse the previous run's ports in the same order.
    this.nextEphemeral = EPHEMERAL_PORT_MIN + Math.floor(Math.random() * (EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1));
    stack.registerTransport(this, this);
    stack6?.registerTransport(this);
  }

  /** The network layer of `addr`'s family. */
  private ip(addr: IpAddress): NetworkLayer {
    return typeof addr === 'number' || this.stack6 === null ? this.stack : this.stack6;
  }

  /** Whether this host has a route (and a source address) to `address`: RFC 6724's "usable" destination. */
  routable(address: IpAddress): boolean {
    if (typeof address !== 'number' && this.stack6 === null) return false;
    // Loopback and our own addresses need no route: they never leave the host.
    if (typeof address === 'number' ? address >>> 24 === 127 : address === IN6ADDR_LOOPBACK) return true;
    return this.isLocal(address) || this.ip(address).route(address) !== null;
  }

  /** Whether `address` is one of this host's own addresses. */
  isLocal(address: IpAddress): boolean {
    return this.ip(address).isLocalAddress(address);
  }

  /** A new, unbound endpoint. */
  open(handler: UdpEndpointHandler): UdpEndpoint {
    return new UdpEndpoint(handler);
  }

  /**
   * Bind to `address` (0 for every address) and `port` (0 for an ephemeral one). Returns null
   * or an errno name: EINVAL (already bound), EADDRNOTAVAIL (not one of our addresses),
   * EADDRINUSE (taken: there is no SO_REUSEADDR, so a wildcard and a specific binding of the
   * same port conflict as in Linux).
   */
  bind(ep: UdpEndpoint, address: IpAddress, port: number): string | null {
    if (ep.closed) return 'EBADF';
    if (ep.bound) return 'EINVAL';
    if (typeof address !== 'number' && address !== IN6ADDR_ANY && this.stack6 === null) return 'EAFNOSUPPORT';
    if (!isAnyAddress(address) && !this.isBindable(address)) return 'EADDRNOTAVAIL';
    if (port === 0) {
      const p = this.findEphemeral(address, ep.v6Only);
      if (p === 0) return 'EADDRINUSE';
      port = p;
    } else if (this.conflicts(address, port, ep.v6Only, ep.reuseAddr)) return 'EADDRINUSE';
    ep.localAddress = address;
    ep.localPort = port;
    ep.addressLocked = !isAnyAddress(address);
    ep.wildcard = typeof address === 'number' ? 0 : IN6ADDR_ANY;
    ep.bound = true;
    let list = this.ports.get(port);
    if (list === undefined) this.ports.set(port, (list = []));
    list.push(ep);
    return null;
  }

  /**
   * Connect to a peer: datagrams from anyone else are no longer delivered to this endpoint,
   * sends without a destination go to the peer, and hard ICMP errors are reported. Binds to
   * an ephemeral port first when unbound; a wildcard endpoint takes the route's source
   * address as its local address (Linux's ip4_datagram_connect). Returns null or an errno.
   */
  connect(ep: UdpEndpoint, address: IpAddress, port: number): string | null {
    if (ep.closed) return 'EBADF';
    const net = this.ip(address);
    if (port === 0 || !net.isUnicast(address) && !net.isBroadcast(address) && net.multicast?.isGroup(address) !== true) return 'EINVAL';
    if (!ep.bound) {
      const err = this.bind(ep, typeof address === 'number' ? 0 : IN6ADDR_ANY, 0);
      if (err !== null) return err;
    }
    if (!bindingTakes(ep.localAddress, ep.v6Only, address) && typeof ep.localAddress !== typeof address) return 'EAFNOSUPPORT';
    const out = this.routeFor(ep, address);
    if (out === null) return 'ENETUNREACH';
    if (out.broadcast && !ep.broadcast) return 'EACCES';
    if (isAnyAddress(ep.localAddress)) ep.localAddress = out.src;
    ep.remoteAddress = address;
    ep.remotePort = port;
    return null;
  }

  /** Forget the peer; a local address that connect() chose goes back to the wildcard. */
  disconnect(ep: UdpEndpoint): void {
    ep.remoteAddress = 0;
    ep.remotePort = 0;
    // An endpoint that started on :: goes back to it (ep.v6Only or a v6 peer tells which).
    if (!ep.addressLocked) ep.localAddress = ep.wildcard;
  }

  /** Release the port. Idempotent. */
  close(ep: UdpEndpoint): void {
    if (ep.closed) return;
    ep.closed = true;
    // Linux's ip_mc_drop_socket: a closing socket leaves every group it joined.
    this.stack.multicast?.leaveAll(ep);
    this.stack6?.multicast?.leaveAll(ep);
    if (!ep.bound) return;
    const list = this.ports.get(ep.localPort);
    if (list === undefined) return;
    const i = list.indexOf(ep);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.ports.delete(ep.localPort);
  }

  /**
   * Join `group` (IP_ADD_MEMBERSHIP) on the interface of `ifaceAddr` (0: the route's), or with
   * `source`, receive from that source (IP_ADD_SOURCE_MEMBERSHIP). Null or an errno name, as
   * Linux's setsockopt: EADDRINUSE (joined already), EINVAL, ENODEV (no such interface),
   * ENOBUFS (too many groups or sources), ENOPROTOOPT (no multicast for the family).
   */
  joinGroup(ep: UdpEndpoint, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null {
    if (ep.closed) return 'EBADF';
    const mc = this.ip(group).multicast;
    if (mc === undefined || typeof group !== 'number' && this.stack6 === null) return 'ENOPROTOOPT';
    return mc.join(ep, group, ifaceAddr, source);
  }

  /** The IPv6 interface index a scope (`tap0`) names, 0 when none: for IPV6_MULTICAST_IF and memberships. */
  interfaceIndex6(scope: string): number {
    return this.stack6?.multicast?.interfaceIndex?.(scope) ?? 0;
  }

  /** Leave `group` (IP_DROP_MEMBERSHIP), or stop receiving from `source` (IP_DROP_SOURCE_MEMBERSHIP). */
  leaveGroup(ep: UdpEndpoint, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null {
    if (ep.closed) return 'EBADF';
    const mc = this.ip(group).multicast;
    if (mc === undefined || typeof group !== 'number' && this.stack6 === null) return 'ENOPROTOOPT';
    return mc.leave(ep, group, ifaceAddr, source);
  }

  /**
   * Send one datagram whose payload is `data` (or the concatenation of its pieces) to
   * `dst:dstPort`, or to the connected peer when dstPort is 0. Binds to an ephemeral port
   * first when unbound. Returns null once the datagram is handed to IP (it may still wait for
   * ARP), or an errno name: EMSGSIZE, EACCES (broadcast without SO_BROADCAST), ENETUNREACH,
   * EDESTADDRREQ (no destination, not connected), EINVAL.
   */
  send(ep: UdpEndpoint, data: Uint8Array | readonly Uint8Array[], dst: IpAddress = 0, dstPort = 0): string | null {
    if (ep.closed) return 'EBADF';
    if (dstPort === 0) {
      if (!ep.connected) return 'EDESTADDRREQ';
      dst = ep.remoteAddress;
      dstPort = ep.remotePort;
    }
    const stack = this.ip(dst);
    const group = stack.multicast?.isGroup(dst) === true;
    if (dstPort > 0xffff || !stack.isUnicast(dst) && !stack.isBroadcast(dst) && !group) return 'EINVAL';
    let length = 0;
    if (data instanceof Uint8Array) length = data.length;
    else for (let i = 0; i < data.length; i++) length += data[i]!.length;
    if (length > UDP_MAX_PAYLOAD) return 'EMSGSIZE';
    if (!ep.bound) {
      const err = this.bind(ep, typeof dst === 'number' ? 0 : IN6ADDR_ANY, 0);
      if (err !== null) return err;
    }
    if (!bindingTakes(ep.localAddress, ep.v6Only, dst) && typeof ep.localAddress !== typeof dst) return 'EAFNOSUPPORT';
    const out = this.routeFor(ep, dst);
    if (out === null) {
      this.stack.counters.drop('udp: no-route');
      return 'ENETUNREACH';
    }
    if (out.broadcast && !ep.broadcast) return 'EACCES';
    const buf = stack.txBuffer;
    const l4 = TX_HEADROOM;
    let at = l4 + UDP_HEADER_LENGTH;
    if (data instanceof Uint8Array) buf.set(data, at);
    else {
      for (let i = 0; i < data.length; i++) {
        buf.set(data[i]!, at);
        at += data[i]!.length;
      }
    }
    const src = out.src;
    // RFC 1122 4.1.3.4: the checksum is always generated (emitUdp sends 0xffff for a computed 0).
    emitUdpWith(buf, l4, { srcPort: ep.localPort, dstPort, payloadLength: length }, stack.pseudoHeaderSum(src, dst, UDP_PROTOCOL, UDP_HEADER_LENGTH + length));
    stack.counters.udpOut++;
    // Without pmtuDiscovery no DF: a datagram larger than the path MTU leaves in fragments
    // (Linux's IP_PMTUDISC_DONT); with it, DF, and EMSGSIZE from IP when it does not fit.
    // The socket's TTL applies to unicast and broadcast alike, as in Linux; a group gets the
    // multicast TTL and, unless the socket said no, a copy for this host's own members.
    const ok = stack.output(
      group
        ? { src, dst, protocol: UDP_PROTOCOL, ttl: ep.multicastTtl, tos: ep.tos, multicastLoop: ep.multicastLoop }
        : { src, dst, protocol: UDP_PROTOCOL, ttl: ep.ttl ?? undefined, tos: ep.tos, dontFragment: ep.pmtuDiscovery },
      buf, l4, UDP_HEADER_LENGTH + length, out.rt,
    );
    return ok ? null : 'EMSGSIZE';
  }

  // ------------------------------------------------------------------ IP protocol handler

  receive(ip: InboundPacket): void {
    const counters = this.stack.counters;
    counters.udpIn++;
    const udp = this.udp.reset(ip.buf, ip.payloadOffset, ip.payloadLength);
    const bad = udp.check();
    if (bad !== null) {
      counters.drop(`udp: ${bad}`);
      return;
    }
    const src = ip.src;
    const dst = ip.dst;
    // RFC 768 / RFC 1122 4.1.3.4: a zero checksum means the sender computed none; a wrong one
    // is silently discarded (no ICMP: the header itself may be what was damaged).
    if (!ip.checksumOk && !udp.verifyChecksumWith(this.ip(src).pseudoHeaderSum(src, dst, UDP_PROTOCOL, udp.udpLength))) {
      counters.drop('udp: bad-checksum');
      return;
    }
    const dstPort = udp.dstPort;
    const srcPort = udp.srcPort;
    // IP delivers only what is for one of our addresses, a broadcast or a group the host joined.
    const broadcast = ip.broadcast;
    const list = this.ports.get(dstPort);
    if (broadcast) {
      // Every matching endpoint gets its own copy of a broadcast or multicast (Linux's __udp4_lib_mcast_deliver).
      if (list !== undefined && this.deliverBroadcast(list, udp, ip, srcPort)) return;
      // RFC 1122 3.2.2 (and sendError): never an ICMP error about a broadcast.
      counters.drop('udp: no-port');
      return;
    }
    const ep = list === undefined ? null : bestMatch(list, dst, src, srcPort);
    if (ep === null) {
      counters.drop('udp: no-port');
      this.ip(src).sendPortUnreachable(ip);
      return;
    }
    ep.handler.message(udp.buf.subarray(udp.payloadOffset, udp.payloadOffset + udp.payloadLength), src, srcPort, dst);
  }

  /**
   * An ICMP error quoting a datagram we sent: the quote holds its IP header and UDP ports
   * (RFC 792 guarantees 8 bytes), which name the endpoint. RFC 1122 4.1.3.3: UDP passes
   * ICMP errors up to the application.
   */
  error(err: TransportError): void {
    if (err.length < UDP_HEADER_LENGTH) return;
    const b = err.buf;
    const o = err.offset;
    const srcPort = (b[o]! << 8) | b[o + 1]!;
    const dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    const list = this.ports.get(srcPort);
    if (list === undefined) return;
    const local = err.src;
    const remote = err.dst;
    if (err.kind === 'packet-too-big') {
      this.packetTooBig(err, list, dstPort);
      return;
    }
    for (let i = 0; i < list.length; i++) {
      const ep = list[i]!;
      if (!bindingTakes(ep.localAddress, ep.v6Only, local)) continue;
      if (!ep.connected || ep.remoteAddress !== remote || ep.remotePort !== dstPort) continue;
      if (!err.hard) {
        this.stack.counters.drop('udp: soft-icmp-error');
        return;
      }
      ep.handler.error(err.errno, err.type, err.code);
      return;
    }
  }

  /**
   * A Fragmentation Needed / Packet Too Big quoting a datagram from one of `list`'s endpoints:
   * the quote's local address and port name a socket we have (and, when it is connected, its
   * peer), so the path MTU to the destination is lowered (stack/path-mtu.ts). A connected
   * socket doing path MTU discovery is told EMSGSIZE, as Linux tells one with IP_PMTUDISC_DO.
   */
  private packetTooBig(err: TransportError, list: readonly UdpEndpoint[], dstPort: number): void {
    const remote = err.dst;
    for (let i = 0; i < list.length; i++) {
      const ep = list[i]!;
      if (!bindingTakes(ep.localAddress, ep.v6Only, err.src)) continue;
      if (ep.connected && (ep.remoteAddress !== remote || ep.remotePort !== dstPort)) continue;
      this.ip(remote).learnPathMtu(remote, err.mtu);
      if (ep.pmtuDiscovery && ep.connected) ep.handler.error('EMSGSIZE', err.type, err.code);
      return;
    }
    this.stack.counters.drop('udp: icmp-too-big-no-socket');
  }

  /**
   * IP_MTU: the path MTU to the endpoint's peer (`dst` for an unconnected one), or an errno
   * name (ENOTCONN without a destination, ENETUNREACH without a route).
   */
  pathMtu(ep: UdpEndpoint, dst?: IpAddress): number | string {
    const to = dst ?? (ep.connected ? ep.remoteAddress : null);
    if (to === null) return 'ENOTCONN';
    const net = this.ip(to);
    const rt = net.route(to);
    if (rt === null) return 'ENETUNREACH';
    return net.pathMtu(to, rt);
  }

  endpoints(): EndpointInfo[] {
    const out: EndpointInfo[] = [];
    for (const list of this.ports.values()) {
      for (const ep of list) {
        out.push({
          protocol: 'udp',
          localAddress: ep.localAddress,
          localPort: ep.localPort,
          remoteAddress: ep.remoteAddress,
          remotePort: ep.remotePort,
          state: '',
          recvQueue: 0,
          sendQueue: 0,
        });
      }
    }
    return out.sort((a, b) => a.localPort - b.localPort || addressOrder(a.localAddress) - addressOrder(b.localAddress));
  }

  /** Endpoints bound right now (for tests and inspection). */
  get boundCount(): number {
    let n = 0;
    for (const list of this.ports.values()) n += list.length;
    return n;
  }

  // ------------------------------------------------------------------ helpers

  private deliverBroadcast(list: UdpEndpoint[], udp: UdpDatagram, ip: InboundPacket, srcPort: number): boolean {
    const src = ip.src;
    const dst = ip.dst;
    const multicast = this.ip(dst).multicast;
    let delivered = false;
    // A handler may close its endpoint (or another) while we iterate: walk a snapshot.
    const snapshot = list.length === 1 ? list : list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      const ep = snapshot[i]!;
      if (ep.closed) continue;
      if (!bindingTakes(ep.localAddress, ep.v6Only, dst)) continue;
      if (ep.connected && (ep.remoteAddress !== src || ep.remotePort !== srcPort)) continue;
      // A socket that joined the group with a source filter takes only what the filter lets in.
      if (multicast !== undefined && !multicast.socketAccepts(ep, ip.iface, dst, src)) continue;
      delivered = true;
      ep.handler.message(udp.buf.subarray(udp.payloadOffset, udp.payloadOffset + udp.payloadLength), src, srcPort, dst);
    }
    return delivered;
  }

  /** Our unicast addresses, plus broadcast addresses (Linux lets UDP bind those too). */
  private isBindable(address: IpAddress): boolean {
    const net = this.ip(address);
    return net.isLocalAddress(address) || net.isBroadcast(address) || net.multicast?.isGroup(address) === true;
  }

  private conflicts(address: IpAddress, port: number, v6Only: boolean, reuseAddr = false): boolean {
    const list = this.ports.get(port);
    if (list === undefined) return false;
    // A connected endpoint still holds its port as bound (its wildcard, if connect() chose the address).
    // SO_REUSEADDR on both sides lets them share it (Linux: for UDP, whatever their states).
    for (const ep of list) if (!(reuseAddr && ep.reuseAddr) && bindingsOverlap(ep.addressLocked ? ep.localAddress : ep.wildcard, ep.v6Only, address, v6Only)) return true;
    return false;
  }

  private findEphemeral(address: IpAddress, v6Only: boolean): number {
    const span = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;
    for (let tries = 0; tries < span; tries++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === EPHEMERAL_PORT_MAX ? EPHEMERAL_PORT_MIN : p + 1;
      if (!this.conflicts(address, p, v6Only)) return p;
    }
    return 0;
  }

  /**
   * Where a datagram from `ep` to `dst` goes, and from which source address. Broadcasts go to
   * the link's broadcast MAC whatever the route's gateway: the limited broadcast out of the
   * bound address's interface (or the route's, or the first Ethernet interface), a directed
   * broadcast out of the interface whose network it names.
   */
  private routeFor(ep: UdpEndpoint, dst: IpAddress): { rt: RouteResult; src: IpAddress; broadcast: boolean } | null {
    const stack = this.ip(dst);
    const multicast = stack.multicast;
    if (multicast !== undefined && multicast.isGroup(dst)) {
      // IP_MULTICAST_IF's interface, else the one of a bound address, else the route's.
      const bound = typeof ep.localAddress === typeof dst && stack.isLocalAddress(ep.localAddress) ? ep.localAddress : 0;
      const rt = multicast.route(dst, ep.multicastInterface !== 0 ? ep.multicastInterface : bound);
      if (rt === null) return null;
      return { rt, src: bound !== 0 ? bound : rt.src, broadcast: false };
    }
    if (stack.isBroadcast(dst)) {
      const rt = stack.broadcastRoute(dst, ep.localAddress);
      if (rt === null) return null;
      return { rt, src: isAnyAddress(ep.localAddress) ? rt.src : ep.localAddress, broadcast: true };
    }
    const rt = stack.route(dst);
    if (rt === null) return null;
    // A socket bound to (or connected from) one address always sends from it.
    // A dual-stack endpoint on :: sends IPv4 from the route's IPv4 source.
    const own = typeof ep.localAddress === typeof dst && !isAnyAddress(ep.localAddress) && ep.localAddress !== LIMITED_BROADCAST;
    return { rt, src: own ? ep.localAddress : rt.src, broadcast: false };
  }
}

/**
 * The endpoint a unicast datagram belongs to: the most specific match, scored like Linux's
 * compute_score (a bound address and a connected peer each make an endpoint more specific;
 * an endpoint whose address or peer differs does not match at all).
 */
function bestMatch(list: UdpEndpoint[], dst: IpAddress, src: IpAddress, srcPort: number): UdpEndpoint | null {
  let best: UdpEndpoint | null = null;
  let bestScore = -1;
  for (let i = 0; i < list.length; i++) {
    const ep = list[i]!;
    let score = 0;
    if (ep.localAddress === dst) score += 2;
    else if (!bindingTakes(ep.localAddress, ep.v6Only, dst)) continue;
    // A wildcard of the datagram's own family before a dual-stack :: (Linux scores AF_INET higher).
    else if (typeof ep.localAddress === typeof dst) score += 1;
    if (ep.connected) {
      if (ep.remoteAddress !== src || ep.remotePort !== srcPort) continue;
      score += 4;
    }
    if (score > bestScore) {
      best = ep;
      bestScore = score;
    }
  }
  return best;
}

/** IPv4 before IPv6, each in its own order, for listings. */
function addressOrder(a: IpAddress): number {
  return typeof a === 'number' ? a : 0x100000000 + a.hash;
}
