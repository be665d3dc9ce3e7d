/**
 * ICMPv6 on the host (RFC 4443): echo requests answered, errors about packets we sent handed
 * to the transport that sent them (in TransportError's family-neutral terms, with Linux's
 * icmpv6_err_convert errno), Neighbor Discovery passed to ndp.ts, and errors sent under
 * RFC 4443 2.4's rules (never about an error, never to a multicast or unspecified source,
 * about a multicast destination only Packet Too Big and Parameter Problem code 2) and the
 * same rate limits as ICMP for IPv4 (icmp-rate-limit.ts).
 */

import {
  Icmpv6Type, Icmpv6UnreachableCode, ICMPV6_HEADER_LENGTH, ICMPV6_PROTOCOL, emitIcmpv6HeaderWith, emitIcmpv6Error,
  isIcmpv6Error,
} from '../wire/icmpv6.js';
import { isMldType, parseMld, type MldMessage } from '../wire/mld.js';
import { isNdpType } from '../wire/ndp.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, NextHeader } from '../wire/ipv6.js';
import { isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6 } from '../wire/addr6.js';
import { fold16, sum16, pseudoHeaderSum6 } from '../wire/checksum.js';
import type { Clock } from '../time/clock.js';
import type { Counters } from './counters.js';
import { TokenBucket, DestinationRateLimiter } from './icmp-rate-limit.js';
import type { IcmpConfig } from './icmp.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';
import type { Ipv6Output, Ipv6RouteResult } from './ipv6-output.js';
import type { Ndp } from './ndp.js';
import type { TransportRegistry } from './registry.js';
import { TX_HEADROOM, type TransportError, type TransportErrorKind } from './network.js';

/**
 * Someone watching echo replies and errors (`pstack ping -6`): the message at
 * buf[offset, +length), from `src`, with the hop limit its IPv6 header arrived with.
 */
export interface Icmpv6Listener {
  message(type: number, code: number, src: Ipv6Addr, buf: Uint8Array, offset: number, length: number, hopLimit: number): void;
}

/** How an echo request goes (`pstack ping -6`'s -t and -I). */
export interface Echo6Options {
  hopLimit?: number;
  /** Source address (one of ours); default the route's. */
  src?: Ipv6Addr;
}

/** Linux's icmpv6_err_convert: [kind, errno, hard] per Destination Unreachable code. */
const UNREACH6: ReadonlyArray<readonly [TransportErrorKind, string, boolean]> = [
  ['net-unreachable', 'ENETUNREACH', false], // 0 no route
  ['host-unreachable', 'EACCES', true], // 1 administratively prohibited
  ['host-unreachable', 'EHOSTUNREACH', false], // 2 beyond scope
  ['host-unreachable', 'EHOSTUNREACH', false], // 3 address unreachable
  ['port-unreachable', 'ECONNREFUSED', true], // 4 port unreachable
  ['host-unreachable', 'EACCES', true], // 5 source address failed policy
  ['host-unreachable', 'EACCES', true], // 6 reject route
];

export class Icmpv6Service {
  /** Where MLD messages go (the layer's multicast, ipv6-multicast.ts). */
  mld: ((iface: Ipv6Interface, src: Ipv6Addr, hopLimit: number, message: MldMessage) => void) | null = null;
  readonly listeners = new Set<Icmpv6Listener>();
  private readonly limiter: TokenBucket;
  private readonly perDestination: DestinationRateLimiter;
  /** Its own buffer: errors and replies may be sent while a transport's output sits in txBuffer. */
  private readonly buf = new Uint8Array(TX_HEADROOM + 65536);
  private readonly transportError: TransportError = {
    kind: 'other', errno: '', hard: false, mtu: 0, src: 0, dst: 0, buf: new Uint8Array(0), offset: 0, length: 0, type: 0, code: 0,
  };

  constructor(
    private readonly clock: Clock,
    private readonly counters: Counters,
    private readonly output: Ipv6Output,
    private readonly ndp: Ndp,
    private readonly transports: TransportRegistry,
    readonly config: IcmpConfig,
  ) {
    this.limiter = new TokenBucket(config.errorsPerSecond, config.errorBurst, clock.now());
    this.perDestination = new DestinationRateLimiter(config.destinationIntervalMs, config.destinationBurst, config.maxDestinations);
  }

  /**
   * An ICMPv6 message at buf[offset, +length) in the packet whose IPv6 header is at ipOffset.
   * `linkSrc` is the Ethernet source MAC's offset (for NDP), or -1 on loopback.
   */
  receive(buf: Uint8Array, ipOffset: number, offset: number, length: number, iface: Ipv6Interface, checksumOk: boolean, linkSrc: number): void {
    this.counters.icmp6In++;
    if (length < ICMPV6_HEADER_LENGTH) {
      this.counters.drop('icmp6: too-short');
      return;
    }
    if (!checksumOk && fold16(sum16(buf, offset, length, pseudoHeaderSum6(buf, ipOffset + 8, buf, ipOffset + 24, ICMPV6_PROTOCOL, length))) !== 0xffff) {
      this.counters.drop('icmp6: bad-checksum');
      return;
    }
    const type = buf[offset]!;
    if (type === Icmpv6Type.EchoRequest) {
      this.counters.icmp6EchoRequestsIn++;
      this.echoReply(buf, ipOffset, offset, length);
      return;
    }
    if (isNdpType(type)) {
      if (linkSrc < 0) this.counters.drop('ndp: on-loopback');
      else this.ndp.receive(buf, ipOffset, offset, length, iface, linkSrc);
      return;
    }
    if (type === Icmpv6Type.EchoReply) {
      this.tell(type, buf, ipOffset, offset, length);
      return;
    }
    if (isIcmpv6Error(type)) {
      this.tell(type, buf, ipOffset, offset, length);
      this.deliverError(buf, offset, length);
      return;
    }
    if (isMldType(type)) {
      const m = parseMld(buf, offset, length);
      if (typeof m === 'string') this.counters.drop(`mld: ${m}`);
      else if (this.mld === null) this.counters.drop('icmp6: mld-ignored');
      else this.mld(iface, intern6(buf, ipOffset + 8), buf[ipOffset + 7]!, m);
      return;
    }
    this.counters.drop('icmp6: unknown-type');
  }

  private tell(type: number, buf: Uint8Array, ipOffset: number, offset: number, length: number): void {
    if (this.listeners.size === 0) return;
    const src = intern6(buf, ipOffset + 8);
    const hopLimit = buf[ipOffset + 7]!;
    for (const l of this.listeners) l.message(type, buf[offset + 1]!, src, buf, offset, length, hopLimit);
  }

  /**
   * Send an echo request to `dst` (for `pstack ping -6`) with `data` after the header; false
   * without a route or when the packet could not leave (as sendmsg's error).
   */
  sendEcho(dst: Ipv6Addr, id: number, seq: number, data: Uint8Array, opts: Echo6Options = {}): boolean {
    const rt = this.output.route(dst);
    if (rt === null) {
      this.counters.drop('icmp6: no-route');
      return false;
    }
    const src = opts.src ?? (rt.src as Ipv6Addr);
    const out = this.buf;
    out.set(data, TX_HEADROOM + ICMPV6_HEADER_LENGTH);
    const length = ICMPV6_HEADER_LENGTH + data.length;
    const rest = (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
    const pseudo = pseudoHeaderSum6(src.bytes, 0, dst.bytes, 0, ICMPV6_PROTOCOL, length);
    emitIcmpv6HeaderWith(out, TX_HEADROOM, Icmpv6Type.EchoRequest, 0, rest, data.length, pseudo);
    this.counters.icmp6Out++;
    return this.output.output({ src, dst, protocol: ICMPV6_PROTOCOL, ttl: opts.hopLimit }, out, TX_HEADROOM, length, rt);
  }

  private echoReply(buf: Uint8Array, ipOffset: number, offset: number, length: number): void {
    const requester = intern6(buf, ipOffset + 8);
    if (isUnspecifiedIpv6(requester.bytes) || isMulticastIpv6(requester.bytes)) {
      this.counters.drop('icmp6: echo-bad-source');
      return;
    }
    const rt = this.output.route(requester);
    if (rt === null) {
      this.counters.drop('icmp6: echo-no-route');
      return;
    }
    // To a multicast group (ff02::1), the reply comes from our own address (RFC 4443 4.2).
    const dstBytes = buf.subarray(ipOffset + 24, ipOffset + 40);
    const src = isMulticastIpv6(dstBytes) ? rt.src as Ipv6Addr : intern6(buf, ipOffset + 24);
    const out = this.buf;
    const dataLength = length - ICMPV6_HEADER_LENGTH;
    out.set(buf.subarray(offset + ICMPV6_HEADER_LENGTH, offset + length), TX_HEADROOM + ICMPV6_HEADER_LENGTH);
    const rest = ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
    const pseudo = pseudoHeaderSum6(src.bytes, 0, requester.bytes, 0, ICMPV6_PROTOCOL, length);
    emitIcmpv6HeaderWith(out, TX_HEADROOM, Icmpv6Type.EchoReply, 0, rest, dataLength, pseudo);
    this.counters.icmp6Out++;
    this.counters.icmp6EchoRepliesOut++;
    this.output.output({ src, dst: requester, protocol: ICMPV6_PROTOCOL }, out, TX_HEADROOM, length, rt);
  }

  /** Hand an error about a packet we sent to the transport that sent it. */
  private deliverError(buf: Uint8Array, offset: number, length: number): void {
    const inner = offset + ICMPV6_HEADER_LENGTH;
    const end = offset + length;
    if (end - inner < IPV6_HEADER_LENGTH + 8) {
      this.counters.drop('icmp6: error-quote-too-short');
      return;
    }
    // The quoted packet's transport header: directly after its IPv6 header, or after one
    // Fragment header (of a first fragment); other chains are not ours.
    let nh = buf[inner + 6]!;
    let at = inner + IPV6_HEADER_LENGTH;
    if (nh === NextHeader.Fragment) {
      if (end - at < 16 || (((buf[at + 2]! << 8) | buf[at + 3]!) & 0xfff8) !== 0) return;
      nh = buf[at]!;
      at += 8;
    }
    if (end - at < 8) return;
    const transport = this.transports.get(nh);
    if (transport?.error === undefined) return;
    const type = buf[offset]!;
    const code = buf[offset + 1]!;
    const rest = ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
    const err = this.transportError;
    err.mtu = 0;
    if (type === Icmpv6Type.DestinationUnreachable) {
      const m = UNREACH6[code] ?? UNREACH6[3]!;
      err.kind = m[0];
      err.errno = m[1];
      err.hard = m[2];
    } else if (type === Icmpv6Type.PacketTooBig) {
      // RFC 8201 4: a report of an MTU below the IPv6 minimum is discarded (as Linux does):
      // every link carries 1280 bytes, so such a report is forged or broken.
      if (rest < IPV6_MIN_MTU) {
        this.counters.drop('icmp6: packet-too-big-below-1280');
        return;
      }
      err.kind = 'packet-too-big';
      err.errno = 'EMSGSIZE';
      err.hard = true;
      err.mtu = Math.min(rest, 0xffff);
    } else if (type === Icmpv6Type.TimeExceeded) {
      err.kind = 'time-exceeded';
      err.errno = 'EHOSTUNREACH';
      err.hard = false;
    } else if (type === Icmpv6Type.ParameterProblem) {
      err.kind = 'parameter-problem';
      err.errno = 'EPROTO';
      err.hard = true;
    } else return;
    err.src = intern6(buf, inner + 8);
    err.dst = intern6(buf, inner + 24);
    err.buf = buf;
    err.offset = at;
    err.length = end - at;
    err.type = type;
    err.code = code;
    transport.error(err);
  }

  /**
   * Send an error about the packet at invoking[ipOffset, +length) (from its IPv6 header).
   * `rest` is the MTU for Packet Too Big, the pointer for Parameter Problem, else 0.
   * `arrival` is the interface the packet came in on: an error to a link-local source goes
   * back out of it (a link-local address names no interface by itself), as Linux's icmp6_send
   * uses the arriving device's index for such a destination.
   */
  sendError(type: number, code: number, rest: number, invoking: Uint8Array, ipOffset: number, length: number, arrival?: Ipv6Interface): void {
    const srcOffset = ipOffset + 8;
    if (isUnspecifiedIpv6(invoking, srcOffset) || isMulticastIpv6(invoking, srcOffset)) {
      this.counters.drop('icmp6: error-to-bad-source');
      return;
    }
    const toMulticast = isMulticastIpv6(invoking, ipOffset + 24);
    if (toMulticast && type !== Icmpv6Type.PacketTooBig && !(type === Icmpv6Type.ParameterProblem && code === 2)) {
      this.counters.drop('icmp6: error-about-multicast');
      return;
    }
    if (invoking[ipOffset + 6] === ICMPV6_PROTOCOL && length >= IPV6_HEADER_LENGTH + 1 && isIcmpv6Error(invoking[ipOffset + IPV6_HEADER_LENGTH]!)) {
      this.counters.drop('icmp6: error-about-error');
      return;
    }
    const requester = intern6(invoking, srcOffset);
    const now = this.clock.now();
    if (!this.limiter.available(now)) {
      this.counters.icmp6ErrorsRateLimited++;
      return;
    }
    // Packet Too Big is not limited per destination (path MTU discovery depends on it).
    if (type !== Icmpv6Type.PacketTooBig && !this.perDestination.allow(requester.hash, now)) {
      this.counters.icmp6ErrorsRateLimited++;
      return;
    }
    this.limiter.allow(now);
    const rt = arrival !== undefined && !arrival.isLoopback && isLinkLocalIpv6(invoking, srcOffset) ? this.linkRoute(arrival, requester) : this.output.route(requester);
    if (rt === null) return;
    const src = !toMulticast && this.output.owner(intern6(invoking, ipOffset + 24)) !== undefined ? intern6(invoking, ipOffset + 24) : rt.src as Ipv6Addr;
    const out = this.buf;
    const end = emitIcmpv6Error(out, TX_HEADROOM, type, code, rest, invoking, ipOffset, length, src.bytes, requester.bytes);
    this.counters.icmp6Out++;
    this.counters.icmp6ErrorsOut++;
    this.output.output({ src, dst: requester, protocol: ICMPV6_PROTOCOL }, out, TX_HEADROOM, end - TX_HEADROOM, rt);
  }

  /** Port Unreachable (code 4) about a datagram no socket takes, which came in on `arrival`. */
  sendPortUnreachable(buf: Uint8Array, ipOffset: number, length: number, arrival?: Ipv6Interface): void {
    this.sendError(Icmpv6Type.DestinationUnreachable, Icmpv6UnreachableCode.Port, 0, buf, ipOffset, length, arrival);
  }

  /** The way to a link-local neighbor on `iface`: directly, from that interface's address. */
  private linkRoute(iface: Ipv6Interface, dst: Ipv6Addr): Ipv6RouteResult | null {
    const src = iface.sourceFor(dst);
    return src === undefined ? null : { iface, nextHop: dst, src: src.address, route: null };
  }
}


