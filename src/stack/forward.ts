/**
 * Forwarding as a router (RFC 1812 5.2 and 5.3): transit packets that pass the martian,
 * broadcast, option, TTL and MTU checks leave by the route's interface with the TTL
 * decremented (and the checksum updated incrementally, RFC 1624), Record Route and Timestamp
 * entries made, and fragmented when DF allows; the others are dropped with the ICMP error
 * Linux would send.
 */

import { Ipv4Packet, IPV4_MIN_HEADER } from '../wire/ipv4.js';
import { checkIpv4Options, recordRouteAppend, timestampAppend, timestampNow, type Ipv4Option } from '../wire/ipv4-options.js';
import { IcmpType, UnreachableCode, TimeExceededCode } from '../wire/icmp.js';
import { checksumUpdate16, internetChecksum } from '../wire/checksum.js';
import type { Ipv4Address } from '../wire/addr.js';
import type { Counters } from './counters.js';
import type { Interface } from './interface.js';
import type { InterfaceTable } from './interfaces.js';
import type { RouteTable, Route } from './routes.js';
import type { NeighborCache } from './neighbors.js';
import type { LinkOutput } from './link-output.js';
import type { Ipv4Output } from './ipv4-output.js';
import type { Ipv4ErrorSender } from './ipv4-errors.js';
import { TX_HEADROOM } from './network.js';

export class Forwarder {
  constructor(
    private readonly interfaces: InterfaceTable,
    private readonly routes: RouteTable,
    private readonly neighbors: NeighborCache,
    private readonly counters: Counters,
    private readonly output: Ipv4Output,
    private readonly link: LinkOutput,
    private readonly errors: Ipv4ErrorSender,
    /** The shared transmit buffer (a forwarded packet is copied there, then modified). */
    private readonly txBuffer: Uint8Array,
  ) {}

  // ---------------------------------------------------------------- forwarding

  /**
   * Forward a transit packet as a router (RFC 1812 5.2 and 5.3). `ip` is a view into the
   * receive buffer, valid only during this call, with `length` trimmed to the total length:
   * every check (and every ICMP error, which quotes it) works on that view; only a packet
   * that will leave is copied, into the transmit buffer, and only the copy is modified.
   * Order as Linux: route lookup, then TTL, then MTU (ip_route_input, then ip_forward).
   */
  forward(ip: Ipv4Packet, inIface: Interface, linkBroadcast: boolean): void {
    const counters = this.counters;
    // RFC 1812 5.3.4: a packet that arrived as a link-layer broadcast was not handed to us as
    // a router, so it is not forwarded (a host's misdirected broadcast would otherwise spread).
    if (linkBroadcast) {
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
    if (this.interfaces.isDirectedBroadcast(dst)) {
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
        this.errors.sendError(ip, IcmpType.ParameterProblem, 0, (opts.errorOffset - ip.offset) << 24);
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
      this.errors.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Net, 0);
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
      this.errors.sendError(ip, IcmpType.TimeExceeded, TimeExceededCode.TtlExceeded, 0);
      return;
    }
    const total = ip.totalLength;
    const mtu = out.mtu;
    if (total > mtu && ip.dontFragment) {
      // RFC 1812 5.2.6 / RFC 1191 4: Fragmentation Needed, with the next-hop MTU in the low
      // 16 bits of the "unused" word, so the sender's path MTU discovery can adapt.
      counters.drop('forward: too-big-df');
      this.errors.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.FragmentationNeeded, mtu & 0xffff);
      return;
    }
    const neighbor = this.neighbors.get(nextHop);
    if (neighbor !== undefined && neighbor.state === 'failed') {
      // ARP just gave up on this next hop (the queued packets got Host Unreachable from
      // neighborFailed); until the entry expires, later packets get the same answer at once.
      counters.drop('forward: host-unreachable');
      this.errors.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Host, 0);
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
    this.link.send(out, nextHop, buf, at, total);
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
    this.output.fragment(repr, ip.buf, ip.payloadOffset, { iface: out, nextHop, src: out.address, route }, false);
  }

}

/** Addresses a router never forwards from or to (RFC 1812 5.3.7, RFC 3927 2.7). */
function isMartian(addr: Ipv4Address): boolean {
  const a = addr >>> 24;
  return a === 0 || a === 127 || a >= 240 || (addr >>> 16) === 0xa9fe;
}
