/**
 * IPv6 forwarding as a router (RFC 8200 3 and 5, RFC 4443 3, RFC 4291 2.5.6): a unicast
 * packet not for us leaves by the longest-prefix route with its hop limit decremented, or is
 * dropped with the ICMPv6 error Linux's ip6_forward sends: Destination Unreachable code 0
 * with no route, code 2 for a link-local source (its scope ends at this link), Time Exceeded
 * code 0 when the hop limit would reach zero, Packet Too Big with the next link's MTU (a
 * router never fragments, RFC 8200 5). An unresolvable next hop gets code 3 from the neighbor
 * cache once Neighbor Discovery gives up (Ipv6Layer's resolutionFailed). Multicast is never
 * forwarded (Ipv6Input drops groups we did not join before this is reached). Errors go
 * through Icmpv6Service.sendError and so under its rate limits.
 */

import { Icmpv6Type, Icmpv6UnreachableCode, Icmpv6TimeExceededCode } from '../wire/icmpv6.js';
import { isLinkLocalIpv6, isUnspecifiedIpv6, isLoopbackIpv6 } from '../wire/addr6.js';
import type { Counters } from './counters.js';
import { intern6 } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';
import type { Ipv6Output } from './ipv6-output.js';
import type { RouteTable6 } from './routes6.js';
import type { Icmpv6Service } from './icmpv6.js';
import { TX_HEADROOM } from './network.js';

/** Byte offset of the hop limit in the IPv6 header. */
const HOP_LIMIT_AT = 7;

export class Ipv6Forwarder {
  constructor(
    private readonly routes: RouteTable6,
    private readonly output: Ipv6Output,
    private readonly icmp: Icmpv6Service,
    private readonly counters: Counters,
    /** The shared transmit buffer: only a packet that will leave is copied there. */
    private readonly txBuffer: Uint8Array,
  ) {}

  /**
   * Forward the unicast packet at buf[offset, +total) that arrived on `inIface` and is not to
   * one of our addresses. `buf` is the receive buffer, valid during this call only; checks and
   * errors (which quote it) read it in place.
   */
  forward(buf: Uint8Array, offset: number, total: number, inIface: Ipv6Interface): void {
    const counters = this.counters;
    const srcAt = offset + 8;
    const dstAt = offset + 24;
    if (isUnspecifiedIpv6(buf, srcAt) || isLoopbackIpv6(buf, srcAt)) {
      counters.drop('forward6: bad-source');
      return;
    }
    if (isLinkLocalIpv6(buf, dstAt) || isLoopbackIpv6(buf, dstAt) || isUnspecifiedIpv6(buf, dstAt)) {
      // RFC 4291 2.5.6: a packet to a link-local address never leaves its link.
      counters.drop('forward6: link-local-destination');
      return;
    }
    const dst = intern6(buf, dstAt);
    const route = this.routes.lookup(dst);
    if (route === null || route.iface.isLoopback) {
      counters.drop('forward6: no-route');
      this.icmp.sendError(Icmpv6Type.DestinationUnreachable, Icmpv6UnreachableCode.NoRoute, 0, buf, offset, total, inIface);
      return;
    }
    const out = route.iface;
    const nextHop = route.gateway ?? dst;
    if (out === inIface && nextHop === intern6(buf, srcAt)) {
      // Straight back to the sender: a loop (a Redirect, RFC 4861 8, is not sent).
      counters.drop('forward6: back-to-sender');
      return;
    }
    const hopLimit = buf[offset + HOP_LIMIT_AT]!;
    if (hopLimit <= 1) {
      counters.drop('forward6: hop-limit-exceeded');
      this.icmp.sendError(Icmpv6Type.TimeExceeded, Icmpv6TimeExceededCode.HopLimit, 0, buf, offset, total, inIface);
      return;
    }
    if (isLinkLocalIpv6(buf, srcAt)) {
      // RFC 4291 2.5.6, RFC 4443 3.1: the source's scope ends here (Linux: ICMPV6_NOT_NEIGHBOUR).
      counters.drop('forward6: link-local-source');
      this.icmp.sendError(Icmpv6Type.DestinationUnreachable, Icmpv6UnreachableCode.BeyondScope, 0, buf, offset, total, inIface);
      return;
    }
    const mtu = out.mtu;
    if (total > mtu) {
      // RFC 8200 5: routers do not fragment; RFC 4443 3.2 / RFC 8201 tell the source the MTU.
      counters.drop('forward6: too-big');
      this.icmp.sendError(Icmpv6Type.PacketTooBig, 0, mtu, buf, offset, total, inIface);
      return;
    }
    counters.ip6Forwarded++;
    const tx = this.txBuffer;
    const at = TX_HEADROOM;
    tx.set(buf.subarray(offset, offset + total), at);
    tx[at + HOP_LIMIT_AT] = hopLimit - 1; // no header checksum in IPv6
    // Not ip6Out: forwarded packets are counted apart (RFC 4293 ipSystemStatsOutForwDatagrams).
    this.output.send(out, nextHop, tx, at, total);
  }
}
