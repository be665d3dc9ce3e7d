/**
 * IPv6 input (RFC 8200): validate a received packet, accept it when it is to one of our
 * usable addresses or a group joined on its interface, walk its extension headers with the
 * bounded walker (wire/ipv6-ext.ts: Routing type 0 and unknown options refused, with the
 * Parameter Problem RFC 8200 4 asks for), reassemble fragments (one reaching past 65535 bytes
 * refused with Parameter Problem, RFC 8200 4.5), then deliver it to ICMPv6 or
 * the transport registered for its protocol (an unknown one draws Parameter Problem code 1).
 * A unicast packet not for us goes to the forwarder (forward6.ts) when forwarding is on, else
 * it is dropped and counted; multicast is never forwarded.
 */

import { IPV6_HEADER_LENGTH, NextHeader } from '../wire/ipv6.js';
import { Ipv6HeaderChain, walkIpv6Headers, FRAGMENT_HEADER_LENGTH } from '../wire/ipv6-ext.js';
import { Icmpv6Type, ICMPV6_PROTOCOL } from '../wire/icmpv6.js';
import { isMulticastIpv6, isUnspecifiedIpv6, isLoopbackIpv6 } from '../wire/addr6.js';
import type { Counters } from './counters.js';
import { intern6 } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';
import type { Ipv6Output } from './ipv6-output.js';
import type { Icmpv6Service } from './icmpv6.js';
import type { Reassembler6, Fragment6 } from './fragments6.js';
import type { TransportRegistry } from './registry.js';
import type { InboundPacket } from './network.js';
import type { Ipv6Multicast } from './ipv6-multicast.js';
import type { Ipv6Forwarder } from './forward6.js';

/** Whether this node is a router (shared with IPv4's settings: one switch for both). */
export interface ForwardingSetting {
  readonly forwarding: boolean;
}

export class Ipv6Input {
  private readonly chain = new Ipv6HeaderChain();
  private readonly fragment: Fragment6 = {
    buf: new Uint8Array(0), ipOffset: 0, fragmentHeaderOffset: 0, end: 0,
    fragmentOffset: 0, moreFragments: false, id: 0, nextHeader: 0,
  };
  private readonly inbound: InboundPacket = {
    src: 0, dst: 0, buf: new Uint8Array(0), payloadOffset: 0, payloadLength: 0, headerOffset: 0,
    iface: null as unknown as Ipv6Interface, checksumOk: false, broadcast: false, ecn: 0,
  };

  constructor(
    private readonly output: Ipv6Output,
    private readonly reassembler: Reassembler6,
    private readonly counters: Counters,
    private readonly icmp: Icmpv6Service,
    private readonly transports: TransportRegistry,
    private readonly forwarder: Ipv6Forwarder | null = null,
    private readonly settings: ForwardingSetting = { forwarding: false },
    private readonly multicast: Ipv6Multicast | null = null,
  ) {}

  /** A datagram this host sent to a group it is a member of (IPV6_MULTICAST_LOOP): the whole packet in `packet`. */
  deliverLooped(packet: Uint8Array, iface: Ipv6Interface): void {
    this.counters.ip6In++;
    this.deliver(packet, 0, packet.length, iface, true, -1, true, false);
  }

  /**
   * The IPv6 packet at buf[offset, offset+length) (link padding may follow it). `linkSrc` is
   * the offset of the Ethernet source MAC, or -1 on loopback.
   */
  receive(buf: Uint8Array, offset: number, length: number, iface: Ipv6Interface, checksumOk: boolean, linkSrc: number): void {
    this.counters.ip6In++;
    if (length < IPV6_HEADER_LENGTH) {
      this.counters.drop('ipv6: too-short');
      return;
    }
    if (buf[offset]! >>> 4 !== 6) {
      this.counters.drop('ipv6: bad-version');
      return;
    }
    const total = IPV6_HEADER_LENGTH + ((buf[offset + 4]! << 8) | buf[offset + 5]!);
    if (total > length) {
      this.counters.drop('ipv6: truncated');
      return;
    }
    const srcAt = offset + 8;
    const dstAt = offset + 24;
    if (isMulticastIpv6(buf, srcAt) || (!iface.isLoopback && isLoopbackIpv6(buf, srcAt))) {
      this.counters.drop('ipv6: martian-source');
      return;
    }
    const dstMulticast = isMulticastIpv6(buf, dstAt);
    const dst = intern6(buf, dstAt);
    if (dstMulticast ? !iface.isMember(dst) : this.output.owner(dst) === undefined) {
      if (!dstMulticast && !iface.isLoopback && this.forwarder !== null && this.settings.forwarding) {
        this.forwarder.forward(buf, offset, total, iface);
        return;
      }
      this.counters.drop(dstMulticast ? 'ipv6: not-our-group' : 'ipv6: not-for-us');
      return;
    }
    if (!iface.isLoopback && !isUnspecifiedIpv6(buf, srcAt) && this.output.owner(intern6(buf, srcAt)) !== undefined) {
      this.counters.drop('ipv6: land');
      return;
    }
    this.deliver(buf, offset, total, iface, checksumOk, linkSrc, dstMulticast, false);
  }

  private deliver(
    buf: Uint8Array, offset: number, total: number, iface: Ipv6Interface, checksumOk: boolean, linkSrc: number,
    dstMulticast: boolean, reassembled: boolean,
  ): void {
    const chain = walkIpv6Headers(buf, offset, this.chain);
    if (chain.error !== null) {
      this.counters.drop(`ipv6: ${chain.error}`);
      if (chain.shouldSendParameterProblem(dstMulticast)) {
        this.icmp.sendError(Icmpv6Type.ParameterProblem, chain.icmpCode, chain.pointer, buf, offset, total, iface);
      }
      return;
    }
    if (chain.isFragment) {
      if (reassembled) {
        this.counters.drop('ipv6: fragment-in-fragment');
        return;
      }
      this.counters.ip6FragmentsIn++;
      // RFC 8200 4.5: a fragment that would make the packet longer than 65535 bytes is
      // discarded with Parameter Problem at its Fragment Offset; the rest of its datagram
      // stays (and times out, if nothing completes it).
      const reassembledPayload = chain.fragmentHeaderOffset - offset - IPV6_HEADER_LENGTH
        + chain.fragmentOffset + (offset + total - chain.fragmentHeaderOffset - FRAGMENT_HEADER_LENGTH);
      if (reassembledPayload > MAX_IPV6_PAYLOAD) {
        this.counters.drop('ipv6: fragment-past-65535');
        this.icmp.sendError(Icmpv6Type.ParameterProblem, 0, chain.fragmentHeaderOffset + 2 - offset, buf, offset, total);
        return;
      }
      const f = this.fragment;
      f.buf = buf;
      f.ipOffset = offset;
      f.fragmentHeaderOffset = chain.fragmentHeaderOffset;
      f.end = offset + total;
      f.fragmentOffset = chain.fragmentOffset;
      f.moreFragments = chain.moreFragments;
      f.id = chain.fragmentId;
      f.nextHeader = chain.fragmentNextHeader;
      const whole = this.reassembler.add(f, iface);
      f.buf = EMPTY;
      if (whole === null) return;
      this.counters.ip6Reassembled++;
      // The device vouched for one fragment's checksum, not for the packet they make together.
      this.deliver(whole, 0, whole.length, iface, false, linkSrc, dstMulticast, true);
      return;
    }
    const protocol = chain.protocol;
    if (protocol === NextHeader.NoNextHeader) {
      this.counters.drop('ipv6: no-next-header');
      return;
    }
    if (protocol === ICMPV6_PROTOCOL) {
      this.counters.ip6Delivered++;
      this.icmp.receive(buf, offset, chain.protocolOffset, chain.protocolLength, iface, checksumOk && !reassembled, linkSrc);
      return;
    }
    if (isUnspecifiedIpv6(buf, offset + 8)) {
      // Only Neighbor Discovery (and MLD) may come from :: (RFC 4291 2.5.2).
      this.counters.drop('ipv6: unspecified-source');
      return;
    }
    const transport = this.transports.get(protocol);
    if (transport === undefined) {
      this.counters.drop('ipv6: unknown-next-header');
      // RFC 8200 4: Parameter Problem code 1 pointing at the field naming the unknown header.
      if (!dstMulticast) this.icmp.sendError(Icmpv6Type.ParameterProblem, 1, chain.nextHeaderFieldOffset - offset, buf, offset, total, iface);
      return;
    }
    // A group's datagram goes up when the link's merged source filter takes its source (RFC 3810 4).
    if (dstMulticast && (this.multicast === null || !this.multicast.acceptsDatagram(iface, intern6(buf, offset + 24), intern6(buf, offset + 8)))) {
      this.counters.drop('ipv6: multicast-filtered');
      return;
    }
    this.counters.ip6Delivered++;
    const p = this.inbound;
    p.src = intern6(buf, offset + 8);
    p.dst = intern6(buf, offset + 24);
    p.buf = buf;
    p.payloadOffset = chain.protocolOffset;
    p.payloadLength = chain.protocolLength;
    p.headerOffset = offset;
    p.iface = iface;
    p.checksumOk = checksumOk;
    p.broadcast = dstMulticast;
    p.ecn = (buf[offset + 1]! >>> 4) & 3; // RFC 3168 5 / RFC 8200 7: the low two bits of the traffic class
    transport.receive(p);
    p.buf = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);
const MAX_IPV6_PAYLOAD = 65535;
