/**
 * IPv4 input (RFC 791, RFC 1122 3.2.1): validate a received datagram, drop martians, check
 * and act on its options, reassemble fragments, then deliver it to ICMP or to the transport
 * registered for its protocol, or hand it to forwarding when it is not ours and we route.
 */

import { Ipv4Packet, IPV4_MIN_HEADER, IpProtocol } from '../wire/ipv4.js';
import { checkIpv4Options, recordRouteAppend } from '../wire/ipv4-options.js';
import { IcmpType, UnreachableCode } from '../wire/icmp.js';
import { IPV4_BROADCAST, isMulticast } from '../wire/addr.js';
import type { Counters } from './counters.js';
import type { Interface } from './interface.js';
import type { InterfaceTable } from './interfaces.js';
import type { Reassembler } from './fragments.js';
import type { Forwarder } from './forward.js';
import type { IcmpService } from './icmp.js';
import type { TransportRegistry } from './registry.js';
import type { Ipv4Settings } from './settings.js';
import type { InboundPacket } from './network.js';
import type { Ipv4Multicast } from './ipv4-multicast.js';

export class Ipv4Input {
  private readonly ip = new Ipv4Packet();
  /** Handed to the transports, refilled for each datagram (valid only during receive). */
  private readonly inbound: InboundPacket = {
    src: 0, dst: 0, buf: new Uint8Array(0), payloadOffset: 0, payloadLength: 0, headerOffset: 0,
    iface: null as unknown as Interface, checksumOk: false, broadcast: false, ecn: 0,
  };

  constructor(
    private readonly interfaces: InterfaceTable,
    private readonly reassembler: Reassembler,
    private readonly counters: Counters,
    private readonly icmp: IcmpService,
    private readonly forwarder: Forwarder,
    private readonly transports: TransportRegistry,
    private readonly settings: Ipv4Settings,
    private readonly multicast: Ipv4Multicast,
  ) {}

  /**
   * IPv4 input (RFC 791, RFC 1122 3.2.1): validate, then deliver, reassemble or forward.
   * `buf[offset, offset+length)` is the whole IP packet, possibly with link padding after it.
   */
  receive(buf: Uint8Array, offset: number, length: number, iface: Interface, checksumOk: boolean, linkBroadcast: boolean): void {
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
    if (!iface.isLoopback && this.interfaces.isLocalAddress(src)) {
      // "Land": a packet from outside claiming to come from us (RFC 6864 aside, never valid).
      this.counters.drop('ipv4: land');
      return;
    }
    const local = this.interfaces.isLocalAddress(dst);
    let broadcast = dst === IPV4_BROADCAST || dst === iface.broadcast;
    if (!local && !broadcast) {
      if (isMulticast(dst)) {
        // A group the host joined (source filters included) is delivered like a broadcast,
        // to every socket that takes it; any other is dropped. Multicast is never routed.
        if (!this.multicast.acceptsDatagram(iface, dst, src)) {
          this.counters.drop(this.settings.forwarding ? 'ipv4: multicast-not-routed' : 'ipv4: multicast-not-joined');
          return;
        }
        this.counters.ipMulticastIn++;
        broadcast = true;
      } else if (this.settings.forwarding && !iface.isLoopback) {
        this.forwarder.forward(ip, iface, linkBroadcast);
        return;
      } else {
        this.counters.drop('ipv4: not-for-us');
        return;
      }
    }
    // RFC 1122 3.2.1.3: "this network" (0/8) is a source only while a host learns its address,
    // and then only to the limited broadcast (DHCP); a network's broadcast address is never a
    // source. Answering either would send the reply nowhere or to every host on the link.
    // (Transit packets get forward()'s own martian checks.)
    if ((src >>> 24 === 0 && dst !== IPV4_BROADCAST) || this.interfaces.isDirectedBroadcast(src)) {
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
      const full = this.ip.reset(whole, 0, whole.length);
      this.deliver(full, iface, broadcast, false);
      return;
    }
    this.deliver(ip, iface, broadcast, checksumOk);
  }

  /**
   * A copy of a multicast datagram this host sent to a group it is a member of on `iface`
   * (IP_MULTICAST_LOOP): delivered as if it had arrived there, without the checks for
   * packets from outside (its source is our own address).
   */
  deliverLooped(packet: Uint8Array, iface: Interface): void {
    this.counters.ipIn++;
    this.counters.ipMulticastIn++;
    const ip = this.ip.reset(packet, 0, packet.length);
    this.deliver(ip, iface, true, true);
  }

  private deliver(ip: Ipv4Packet, iface: Interface, broadcast: boolean, checksumOk: boolean): void {
    const protocol = ip.protocol;
    if (protocol === IpProtocol.ICMP) {
      this.counters.ipDelivered++;
      this.icmp.receive(ip, iface);
      return;
    }
    const transport = this.transports.get(protocol);
    if (transport === undefined) {
      this.counters.drop('ipv4: unknown-protocol');
      if (!broadcast) this.icmp.sendError(ip, IcmpType.DestinationUnreachable, UnreachableCode.Protocol, 0);
      return;
    }
    this.counters.ipDelivered++;
    const p = this.inbound;
    p.src = ip.src;
    p.dst = ip.dst;
    p.buf = ip.buf;
    p.payloadOffset = ip.payloadOffset;
    p.payloadLength = ip.payloadLength;
    p.headerOffset = ip.offset;
    p.iface = iface;
    p.checksumOk = checksumOk;
    p.broadcast = broadcast;
    p.ecn = ip.buf[ip.offset + 1]! & 3; // RFC 3168 5: the low two bits of the TOS byte
    transport.receive(p);
  }
}
