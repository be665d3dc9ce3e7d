/**
 * IPv6 output (RFC 8200): choose the route and source address (RFC 6724's rules for a host
 * with a few addresses), write the fixed header in front of the payload the caller built with
 * headroom, fragment at the source when the packet does not fit the link (routers never do,
 * RFC 8200 5), and put the packet on the link: multicast to its 33:33 MAC, unicast through the
 * neighbor cache (queued while Neighbor Discovery resolves). Frames leave through IPv4's
 * LinkOutput.transmit, so capture, muting and counting are one path for both families.
 */

import { emitEthernet, padFrame, EtherType, ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, NextHeader } from '../wire/ipv6.js';
import { emitFragmentHeader, FRAGMENT_HEADER_LENGTH } from '../wire/ipv6-ext.js';
import { isLinkLocalIpv6, isMulticastIpv6, multicastMac6, multicastScope, MulticastScope } from '../wire/addr6.js';
import { fold16, sum16 } from '../wire/checksum.js';
import type { Counters } from './counters.js';
import type { LinkOutput } from './link-output.js';
import type { Ipv6Addr } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';
import type { Neighbor6Cache } from './neighbors6.js';
import type { RouteTable6, Route6 } from './routes6.js';
import { TX_HEADROOM, type IpOutputOptions, type RouteResult } from './network.js';
import { PathMtuCache, PATH_MTU_EXPIRES_MS, PATH_MTU_MAX_ENTRIES } from './path-mtu.js';
import type { Clock } from '../time/clock.js';

export interface Ipv6RouteResult extends RouteResult<Ipv6Interface> {
  route: Route6 | null;
}

export interface Ipv6Settings {
  /** Hop limit of unicast packets we originate (Linux's hop_limit, 64). */
  hopLimit: number;
}

export class Ipv6Output {
  private nextFragmentId: number;
  private readonly fragmentBuffer = new Uint8Array(TX_HEADROOM + 65536);
  private readonly multicastMac = new Uint8Array(6);
  private readonly queueBuffer = new Uint8Array(ETHERNET_HEADER_LENGTH + 65536 + 64);
  /** Path MTUs learned from Packet Too Big (RFC 8201), per destination; never below 1280. */
  readonly pathMtu: PathMtuCache<Ipv6Addr>;

  constructor(
    private readonly interfaces: readonly Ipv6Interface[],
    private readonly routes: RouteTable6,
    private readonly neighbors: Neighbor6Cache,
    private readonly link: LinkOutput,
    private readonly counters: Counters,
    private readonly settings: Ipv6Settings,
    random: () => number,
    clock: Clock,
  ) {
    this.pathMtu = new PathMtuCache<Ipv6Addr>(clock, { floor: IPV6_MIN_MTU, expiresMs: PATH_MTU_EXPIRES_MS, maxEntries: PATH_MTU_MAX_ENTRIES });
    // RFC 7739: identifications that an off-path attacker cannot predict.
    this.nextFragmentId = (random() * 0x100000000) >>> 0;
  }

  /** The interface that has `addr` as a usable address, if any. */
  owner(addr: Ipv6Addr): Ipv6Interface | undefined {
    const l = this.interfaces;
    for (let i = 0; i < l.length; i++) if (l[i]!.owns(addr)) return l[i];
    return undefined;
  }

  /** Where a packet to `dst` goes: interface, link-level next hop and source address. */
  route(dst: Ipv6Addr): Ipv6RouteResult | null {
    if (this.owner(dst) !== undefined) {
      // To ourselves over loopback, as the kernel's local table does.
      const lo = this.interfaces.find((i) => i.isLoopback);
      if (lo !== undefined) return { iface: lo, nextHop: dst, src: dst, route: null };
    }
    const b = dst.bytes;
    if (isLinkLocalIpv6(b) || (isMulticastIpv6(b) && multicastScope(b) <= MulticastScope.LinkLocal)) {
      // A link-local destination names no interface by itself: the one that knows the
      // neighbor, else the first Ethernet interface.
      const known = this.neighbors.get(dst)?.iface;
      const iface = known ?? this.interfaces.find((i) => !i.isLoopback);
      const src = iface?.sourceFor(dst);
      if (iface === undefined || src === undefined) return null;
      return { iface, nextHop: dst, src: src.address, route: null };
    }
    const r = this.routes.lookup(dst);
    if (r === null) return null;
    const src = r.iface.sourceFor(dst);
    if (src === undefined) return null;
    return { iface: r.iface, nextHop: r.gateway ?? dst, src: src.address, route: r };
  }

  /** The MTU packets to `dst` on `rt` must fit: the link's, or the path's when smaller. */
  mtuFor(dst: Ipv6Addr, rt: RouteResult): number {
    const linkMtu = rt.iface.mtu;
    return rt.iface.isLoopback ? linkMtu : this.pathMtu.get(dst, linkMtu);
  }

  /**
   * Send the payload at buf[payloadOffset, +payloadLength) (TX_HEADROOM free before it) with
   * a 40-byte header for `opts`; fragments it when it does not fit. False when it could not go.
   */
  output(opts: IpOutputOptions, buf: Uint8Array, payloadOffset: number, payloadLength: number, routeHint?: RouteResult | null): boolean {
    const dst = opts.dst as Ipv6Addr;
    const rt = (routeHint as Ipv6RouteResult | null | undefined) ?? this.route(dst);
    if (rt === null) {
      this.counters.drop('ipv6: no-route');
      return false;
    }
    const src = opts.src as Ipv6Addr;
    const hopLimit = opts.ttl ?? (isMulticastIpv6(dst.bytes) ? 1 : this.settings.hopLimit);
    const tc = opts.tos ?? 0;
    const partialChecksumAt = opts.partialChecksumAt ?? 0;
    const gsoSize = opts.gsoSize ?? 0;
    const mtu = this.pathMtu.size === 0 ? rt.iface.mtu : this.mtuFor(dst, rt);
    if (IPV6_HEADER_LENGTH + payloadLength > mtu && gsoSize === 0) {
      if (payloadLength > 65535) {
        this.counters.drop('ipv6: too-big');
        return false;
      }
      // IPV6_DONTFRAG (RFC 3542 11.2): a socket that asked gets EMSGSIZE instead of fragments,
      // unless a Packet Too Big below 1280 locked the path.
      if (opts.dontFragment === true && !(this.pathMtu.size > 0 && this.pathMtu.locked(dst))) {
        this.counters.drop('ipv6: too-big-df');
        return false;
      }
      // The fragments carry plain data: finish a checksum left for the device first.
      if (partialChecksumAt !== 0) finishChecksum(buf, payloadOffset, payloadLength, partialChecksumAt);
      return this.fragment(rt, src, dst, opts.protocol, hopLimit, tc, buf, payloadOffset, payloadLength, mtu);
    }
    const ipOffset = payloadOffset - IPV6_HEADER_LENGTH;
    emitIpv6Header(buf, ipOffset, src.bytes, 0, dst.bytes, 0, opts.protocol, payloadLength, hopLimit, tc, 0);
    this.counters.ip6Out++;
    this.send(rt.iface, rt.nextHop as Ipv6Addr, buf, ipOffset, IPV6_HEADER_LENGTH + payloadLength, gsoSize, partialChecksumAt);
    return true;
  }

  private fragment(
    rt: Ipv6RouteResult, src: Ipv6Addr, dst: Ipv6Addr, protocol: number, hopLimit: number, tc: number,
    buf: Uint8Array, payloadOffset: number, payloadLength: number, mtu: number,
  ): boolean {
    const frags = this.fragmentBuffer;
    const room = (mtu - IPV6_HEADER_LENGTH - FRAGMENT_HEADER_LENGTH) & ~7;
    if (room <= 0) {
      this.counters.drop('ipv6: mtu-too-small');
      return false;
    }
    const id = this.nextFragmentId;
    this.nextFragmentId = (this.nextFragmentId + 1) >>> 0;
    const ipOffset = TX_HEADROOM - IPV6_HEADER_LENGTH - FRAGMENT_HEADER_LENGTH;
    for (let sent = 0; sent < payloadLength; ) {
      const chunk = Math.min(room, payloadLength - sent);
      const last = sent + chunk >= payloadLength;
      frags.set(buf.subarray(payloadOffset + sent, payloadOffset + sent + chunk), TX_HEADROOM);
      emitIpv6Header(frags, ipOffset, src.bytes, 0, dst.bytes, 0, NextHeader.Fragment, FRAGMENT_HEADER_LENGTH + chunk, hopLimit, tc, 0);
      emitFragmentHeader(frags, ipOffset + IPV6_HEADER_LENGTH, protocol, sent, !last, id);
      this.counters.ip6Out++;
      this.counters.ip6FragmentsOut++;
      this.send(rt.iface, rt.nextHop as Ipv6Addr, frags, ipOffset, IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH + chunk);
      sent += chunk;
    }
    return true;
  }

  /**
   * Put the IPv6 packet at buf[offset, +length) on `iface`'s link, ETHERNET_HEADER_LENGTH free
   * before it. An unresolved next hop gets a copy queued (and a solicitation).
   */
  send(iface: Ipv6Interface, nextHop: Ipv6Addr, buf: Uint8Array, offset: number, length: number, gsoSize = 0, partialChecksumAt = 0): void {
    const device = iface.device;
    if (device.type === 'loopback') {
      if (partialChecksumAt !== 0) finishChecksum(buf, offset + IPV6_HEADER_LENGTH, length - IPV6_HEADER_LENGTH, partialChecksumAt);
      this.link.transmit(device, buf, offset, length);
      return;
    }
    let mac: Uint8Array | null;
    if (isMulticastIpv6(nextHop.bytes)) mac = multicastMac6(nextHop.bytes, 0, this.multicastMac);
    else {
      mac = this.neighbors.resolve(nextHop);
      if (mac === null) {
        if (this.link.muted) return;
        if (partialChecksumAt !== 0) {
          if (length > iface.mtu) {
            this.counters.drop('ipv6: unresolved-tso');
            return;
          }
          finishChecksum(buf, offset + IPV6_HEADER_LENGTH, length - IPV6_HEADER_LENGTH, partialChecksumAt);
        }
        if (!this.neighbors.enqueue(iface, nextHop, buf.slice(offset, offset + length))) this.counters.drop('ipv6: unresolved');
        return;
      }
    }
    const start = offset - ETHERNET_HEADER_LENGTH;
    emitEthernet(buf, start, mac, device.mac, EtherType.IPv6);
    const frameLength = padFrame(buf, start, ETHERNET_HEADER_LENGTH + length);
    const csumStart = partialChecksumAt === 0 ? 0 : ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH;
    this.link.transmit(device, buf, start, frameLength, gsoSize, csumStart === 0 ? 0 : partialChecksumAt, csumStart);
  }

  /** Neighbor Discovery resolved a next hop: send what waited for it. */
  flushQueue(iface: Ipv6Interface, nextHop: Ipv6Addr, packets: readonly Uint8Array[]): void {
    const scratch = this.queueBuffer;
    for (const p of packets) {
      scratch.set(p, ETHERNET_HEADER_LENGTH);
      this.send(iface, nextHop, scratch, ETHERNET_HEADER_LENGTH, p.length);
    }
  }
}

/**
 * Finish a transport checksum left partial (its field holds the pseudo-header sum): the sum
 * over the transport header and data, as the device would have done it.
 */
function finishChecksum(buf: Uint8Array, start: number, length: number, checksumAt: number): void {
  const at = start + checksumAt;
  const csum = ~fold16(sum16(buf, start, length)) & 0xffff;
  buf[at] = csum >>> 8;
  buf[at + 1] = csum & 0xff;
}


