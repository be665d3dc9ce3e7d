/**
 * IPv4 output (RFC 791, RFC 1122 3.3): route a datagram, write its header in front of the
 * payload the caller built with headroom, fragment it when it does not fit the link (only
 * options with the copied flag repeat after the first fragment), and hand it to the link.
 */

import { emitIpv4, IPV4_MIN_HEADER, type Ipv4Repr } from '../wire/ipv4.js';
import { walkIpv4Options } from '../wire/ipv4-options.js';
import type { Ipv4Address } from '../wire/addr.js';
import type { Interface } from './interface.js';
import type { Counters } from './counters.js';
import type { InterfaceTable } from './interfaces.js';
import type { RouteTable, Route } from './routes.js';
import type { LinkOutput } from './link-output.js';
import type { Ipv4Settings } from './settings.js';
import { TX_HEADROOM, type IpOutputOptions, type RouteResult } from './network.js';
import { PathMtuCache, PATH_MTU_EXPIRES_MS, PATH_MTU_MAX_ENTRIES } from './path-mtu.js';
import type { Clock } from '../time/clock.js';

/** Linux's min_pmtu: the smallest path MTU a Fragmentation Needed may set (512 + 40). */
export const IPV4_MIN_PMTU = 552;

const EMPTY_OPTIONS = new Uint8Array(0);

/** An IPv4 route: the interface is IPv4's, the table entry the IPv4 table's. */
export interface Ipv4RouteResult extends RouteResult<Interface> {
  route: Route | null;
}

export class Ipv4Output {
  /** Next identification (RFC 6864: unique per source, destination and protocol while in flight). */
  nextId = 1;
  private readonly fragmentBuffer = new Uint8Array(TX_HEADROOM + 65536);
  /** Hands a multicast datagram sent with `multicastLoop` to local delivery (the host sets it). */
  loopMulticast: (iface: Interface, packet: Uint8Array, offset: number, length: number) => void = () => {};
  /** Path MTUs learned from Fragmentation Needed (RFC 1191), per destination. */
  readonly pathMtu: PathMtuCache<Ipv4Address>;

  constructor(
    private readonly interfaces: InterfaceTable,
    private readonly routes: RouteTable,
    private readonly link: LinkOutput,
    private readonly counters: Counters,
    private readonly settings: Ipv4Settings,
    clock: Clock,
  ) {
    this.pathMtu = new PathMtuCache<Ipv4Address>(clock, { floor: IPV4_MIN_PMTU, expiresMs: PATH_MTU_EXPIRES_MS, maxEntries: PATH_MTU_MAX_ENTRIES });
  }

  /** The MTU packets to `dst` on `rt` must fit: the link's, or the path's when smaller. */
  mtuFor(dst: Ipv4Address, rt: RouteResult): number {
    const linkMtu = rt.iface.mtu;
    return rt.iface.isLoopback ? linkMtu : this.pathMtu.get(dst, linkMtu);
  }

  /** Where a datagram to `dst` goes: interface, link-level next hop and source address. */
  route(dst: Ipv4Address): Ipv4RouteResult | null {
    if (this.interfaces.isLocalAddress(dst)) {
      // Traffic to ourselves goes over loopback when we have one (as the kernel's local table).
      const lo = this.interfaces.loopback();
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
  output(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, routeHint?: RouteResult | null): boolean {
    // Transports hand this layer IPv4 addresses only (they choose the layer by family).
    // A hint is a route this layer gave the transport earlier.
    const rt = (routeHint as Ipv4RouteResult | null | undefined) ?? this.route(opts.dst as number);
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
      ttl: opts.ttl ?? this.settings.defaultTtl,
      protocol: opts.protocol,
      src: opts.src as number,
      dst: opts.dst as number,
      options: options ?? EMPTY_OPTIONS,
      payloadLength,
    };
    const partialChecksumAt = opts.partialChecksumAt ?? 0;
    const gsoSize = opts.gsoSize ?? 0;
    if (opts.multicastLoop !== undefined) {
      this.counters.ipMulticastOut++;
      if (opts.multicastLoop) {
        // The whole datagram, before any fragmenting, is what a local member receives.
        emitIpv4(buf, ipOffset, repr);
        this.loopMulticast(rt.iface, buf, ipOffset, headerLength + payloadLength);
      }
    }
    const pmtu = this.pathMtu;
    if (pmtu.size > 0 && repr.dontFragment && pmtu.locked(repr.dst)) {
      // A report below the floor locked this path: DF goes off so that a path really that
      // small fragments what we send (Linux's ip_dont_fragment with a locked MTU).
      repr.dontFragment = false;
    }
    const mtu = pmtu.size === 0 ? rt.iface.mtu : this.mtuFor(repr.dst, rt);
    if (headerLength + payloadLength > mtu && gsoSize === 0) {
      if (repr.dontFragment) {
        this.counters.drop('ipv4: too-big-df');
        return false;
      }
      return this.fragment(repr, buf, payloadOffset, rt, true, mtu);
    }
    emitIpv4(buf, ipOffset, repr);
    this.counters.ipOut++;
    this.link.send(rt.iface, rt.nextHop as number, buf, ipOffset, headerLength + payloadLength, gsoSize, partialChecksumAt);
    return true;
  }

  /**
   * Send `repr`'s payload as fragments that fit `mtu` (the route's, or the path's) (RFC 791
   * 3.2). `countOut` is false for forwarded packets (counted in ipForwarded, not ipOut; RFC 1213).
   */
  fragment(repr: Ipv4Repr, buf: Uint8Array, payloadOffset: number, rt: Ipv4RouteResult, countOut = true, mtu = rt.iface.mtu): boolean {
    const frags = this.fragmentBuffer;
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
      this.link.send(rt.iface, rt.nextHop as number, frags, ipOffset, hl + chunk);
      sent += chunk;
    }
    return true;
  }
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
