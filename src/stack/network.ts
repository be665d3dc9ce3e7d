/**
 * The contract between the network layer and the transports above it, in both directions.
 *
 * A transport (UDP, TCP) sees "IP" only through `NetworkLayer`: route a destination, send a
 * payload it wrote into the shared transmit buffer, the pseudo-header checksum seed, what the
 * route's device can do (TSO, checksum offload) and which addresses are ours. The network
 * layer sees a transport only through `TransportProtocol`: a datagram arrives, an error about
 * one we sent arrives, an input batch ends. Family-specific facts (IPv4 header sizes, ICMP
 * type and code numbers, address classes) stay behind these interfaces, so a second IP
 * version is a second implementation of `NetworkLayer`, not a second TCP.
 */

import type { Clock, Timers, TaskQueue } from '../time/clock.js';
import type { Counters } from './counters.js';
import type { Device } from '../link/device.js';

import type { IpAddress } from './ip-address.js';

/** An IP address as the transports hold it: IPv4 as an unsigned 32-bit number, IPv6 interned (ip-address.ts). */
export type { IpAddress };
// The address helpers transports use, re-exported so that they see IP through this module only.
export { IN6ADDR_ANY, IN6ADDR_LOOPBACK, isAnyAddress } from './ip-address.js';

/** Room in front of a transport header for the largest IP header and an Ethernet header. */
export const TX_HEADROOM = 80;

/**
 * What transports may know of the interface a packet uses, whatever the family: its device
 * and MTU. (IPv4's Interface and IPv6's Ipv6Interface both are one.)
 */
export interface LinkInterface {
  readonly device: Device;
  readonly mtu: number;
  readonly name: string;
  readonly isLoopback: boolean;
}

export interface RouteResult<I extends LinkInterface = LinkInterface> {
  iface: I;
  /** Where the frame goes on the link: the gateway, or the destination itself. */
  nextHop: IpAddress;
  /** Source address to use: the interface's. */
  src: IpAddress;
  /** The routing-table entry used (the family's own type), or null for a local or broadcast route. */
  route: object | null;
}

export interface IpOutputOptions {
  src: IpAddress;
  dst: IpAddress;
  protocol: number;
  ttl?: number;
  /** The TOS / Traffic Class byte: DSCP in the high six bits, the ECN field (RFC 3168) in the low two. */
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
  /**
   * To a multicast group: also deliver a copy to this host's members of the group on the
   * outgoing interface (IP_MULTICAST_LOOP).
   */
  multicastLoop?: boolean;
}

/**
 * A datagram handed up to a transport, with the facts about it that the layers below
 * learned: valid only during the `receive` call (the network layer reuses the object).
 */
export interface InboundPacket {
  src: IpAddress;
  dst: IpAddress;
  /** The transport header and data: buf[payloadOffset, payloadOffset + payloadLength). */
  buf: Uint8Array;
  payloadOffset: number;
  payloadLength: number;
  /** Where the network header starts in `buf` (for errors that quote it). */
  headerOffset: number;
  iface: LinkInterface;
  /** The device verified the transport checksum (TAP checksum offload). */
  checksumOk: boolean;
  /**
   * Sent to the limited broadcast, a directed broadcast address or a multicast group the host
   * joined (not one of our unicast addresses): every matching socket gets a copy.
   */
  broadcast: boolean;
  /**
   * The ECN field as it arrived (RFC 3168 section 5): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE; the
   * low two bits of the IPv4 TOS or IPv6 Traffic Class byte.
   */
  ecn: number;
}

/** Why a datagram we sent did not arrive, as the network layer's error messages tell it. */
export type TransportErrorKind =
  | 'net-unreachable' | 'host-unreachable' | 'protocol-unreachable' | 'port-unreachable'
  | 'packet-too-big' | 'time-exceeded' | 'parameter-problem' | 'other';

/** An error about a datagram we sent (ICMP for IPv4), valid only during the call. */
export interface TransportError {
  kind: TransportErrorKind;
  /**
   * The errno a socket that asked for errors reports (Linux's icmp_err_convert) and whether
   * the error is hard (reported to connected UDP sockets) or soft (possibly transient).
   */
  errno: string;
  hard: boolean;
  /** For packet-too-big: the next-hop MTU the router reported; otherwise 0. */
  mtu: number;
  /** The original datagram's addresses (src is ours). */
  src: IpAddress;
  dst: IpAddress;
  /** The quoted start of the original's transport header: at least 8 bytes when present. */
  buf: Uint8Array;
  offset: number;
  length: number;
  /** The message's own type and code numbers, for listeners that show them. */
  type: number;
  code: number;
}

/** One socket endpoint as `pstack netstat` lists it. */
export interface EndpointInfo {
  protocol: 'udp' | 'tcp';
  localAddress: IpAddress;
  localPort: number;
  remoteAddress: IpAddress;
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

/**
 * Multicast as sockets see it (IP_ADD_MEMBERSHIP and friends). Memberships belong to an owner
 * (a socket's endpoint) on the interface an address names (0 or :: lets the layer choose);
 * the results are errno names, as Linux's setsockopt gives them.
 */
export interface MulticastLayer {
  /** Whether `addr` is a multicast group address of this family. */
  isGroup(addr: IpAddress): boolean;
  /** Join `group` (any source), or add `source` to a source-specific membership. */
  join(owner: object, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null;
  /** Leave `group`, or drop `source` from a source-specific membership. */
  leave(owner: object, group: IpAddress, ifaceAddr: IpAddress, source?: IpAddress): string | null;
  /** Every membership of `owner` (its socket closes). */
  leaveAll(owner: object): void;
  /** Whether `owner`'s source filter takes a datagram to `group` from `src` that arrived on `iface`. */
  socketAccepts(owner: object, iface: LinkInterface, group: IpAddress, src: IpAddress): boolean;
  /** How a datagram to `group` leaves: by the interface of `ifaceAddr` (0: the layer's choice). */
  route(group: IpAddress, ifaceAddr: IpAddress): RouteResult | null;
  /**
   * IPv6 names interfaces by index (a scope: `%tap0`): the index a scope names, 0 when none
   * (then `ifaceAddr` arguments above are that index, a number).
   */
  interfaceIndex?(scope: string): number;
}

/** What the network layer asks of a transport protocol registered with it. */
export interface TransportProtocol {
  /** The IP protocol number it takes (6 TCP, 17 UDP). */
  readonly protocolNumber: number;
  receive(packet: InboundPacket): void;
  /** An error about a datagram this protocol sent. */
  error?(err: TransportError): void;
  /** End of an input batch: flush coalesced output. */
  endBatch?(): void;
}

/** What a transport needs from IP. */
/**
 * The stack-wide budget for buffer memory (stack/memory-budget.ts), which transports charge
 * the storage they hold for data to.
 */
export interface MemoryAccount {
  /** Charge `bytes`; false (nothing charged) past the hard limit. */
  charge(bytes: number): boolean;
  /** Charge `bytes` whatever the limit: a minimum its holder is guaranteed. */
  chargeForced(bytes: number): void;
  release(bytes: number): void;
  /** Beyond the pressure threshold (until back below the low one): buffers should not grow. */
  readonly underPressure: boolean;
  /** At or beyond the hard limit. */
  readonly overLimit: boolean;
}

export interface NetworkLayer {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Work to run after the current turn (the application's reaction to a delivery). */
  readonly tasks: TaskQueue;
  readonly counters: Counters;
  /** The budget buffers are charged to. */
  readonly memory: MemoryAccount;
  /** Scratch buffer outputs build in, with TX_HEADROOM free in front of the transport header. */
  readonly txBuffer: Uint8Array;
  /** Bytes of network header in front of a transport header without options (MSS from MTU). */
  readonly headerLength: number;
  route(dst: IpAddress): RouteResult | null;
  /**
   * The largest packet to `dst` by `rt`: the link MTU, or the path MTU a validated
   * Fragmentation Needed / Packet Too Big reported when smaller (stack/path-mtu.ts).
   */
  pathMtu(dst: IpAddress, rt: RouteResult): number;
  /** Changes whenever some destination's path MTU may have changed (lowered, expired, evicted). */
  readonly pathMtuGeneration: number;
  /**
   * A Fragmentation Needed / Packet Too Big about `dst` that a transport validated (its quote
   * names a connection or socket we have): lower the path MTU (never raised, never below the
   * family's floor). Returns the path MTU now in effect.
   */
  learnPathMtu(dst: IpAddress, mtu: number): number;
  /** Whether a report below the floor locked the path to `dst` (packets go without DF). */
  pathMtuLocked(dst: IpAddress): boolean;
  /**
   * Send the payload at buf[payloadOffset, +payloadLength), with TX_HEADROOM free before it.
   * False when it could not be sent (no route, too big with DF).
   */
  output(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, route?: RouteResult | null): boolean;
  /** The route for a broadcast to `dst` sent from `localAddress` (0: any), or null if `dst` is none. */
  broadcastRoute(dst: IpAddress, localAddress: IpAddress): RouteResult | null;
  isLocalAddress(addr: IpAddress): boolean;
  /** The limited broadcast or one of our networks' directed broadcasts. */
  isBroadcast(addr: IpAddress): boolean;
  /** Multicast groups and memberships, when the layer has them. */
  readonly multicast?: MulticastLayer;
  /** Whether `addr` can be one host's address (not unspecified, broadcast or multicast). */
  isUnicast(addr: IpAddress): boolean;
  /** Unfolded sum of the pseudo-header TCP and UDP checksums cover. */
  pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number;
  /** Write the address's bytes at out[offset] (for hashing into ISNs and cookies); returns the count. */
  writeAddress(addr: IpAddress, out: Uint8Array, offset: number): number;
  /** Largest datagram a TCP segment on `rt` may be when the device cuts segments itself (TSO), or 0. */
  tsoLimit(rt: RouteResult): number;
  /** True when segments sent on `rt` may leave their transport checksum partial. */
  txChecksumOffload(rt: RouteResult): boolean;
  /** Tell the sender of `packet` that no socket takes its port (ICMP Port Unreachable for IPv4). */
  sendPortUnreachable(packet: InboundPacket): void;
  /** Register a transport (its protocol number) and, for `pstack netstat`, its endpoints. */
  registerTransport(protocol: TransportProtocol, endpoints?: EndpointProvider): void;
}
