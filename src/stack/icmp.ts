/**
 * ICMP (RFC 792) as a host and router needs it: echo replies (with Record Route echoed per
 * RFC 1122 3.2.2.6), error messages generated under RFC 1122 3.2.2's rules and rate-limited,
 * and received errors handed to the protocol that sent the original datagram.
 */

import { Ipv4Packet, IPV4_MIN_HEADER, IpProtocol } from '../wire/ipv4.js';
import { IcmpPacket, IcmpType, UnreachableCode, emitIcmpHeader, isIcmpError, echoRest, ICMP_HEADER_LENGTH } from '../wire/icmp.js';
import { walkIpv4Options, recordRouteAppend, timestampAppend, timestampNow, Ipv4OptionType } from '../wire/ipv4-options.js';
import { IPV4_BROADCAST, isMulticast, type Ipv4Address } from '../wire/addr.js';
import { ETHERNET_HEADER_LENGTH, ETHERNET_MIN_FRAME } from '../wire/ethernet.js';
import { checksumUpdate16, internetChecksum } from '../wire/checksum.js';
import type { Clock } from '../time/clock.js';
import type { Counters } from './counters.js';
import type { Interface } from './interface.js';
import type { InterfaceTable } from './interfaces.js';
import type { RouteTable } from './routes.js';
import type { LinkOutput } from './link-output.js';
import type { Ipv4Output } from './ipv4-output.js';
import type { TransportRegistry } from './registry.js';
import type { Ipv4Settings } from './settings.js';
import type { Ipv4ErrorSender } from './ipv4-errors.js';
import { TX_HEADROOM, type TransportError } from './network.js';
import { icmpErrorMeaning } from './icmp-errors.js';
import { DestinationRateLimiter, TokenBucket } from './icmp-rate-limit.js';

/** What ICMP works with: the parts of the IPv4 host it answers through. */
export interface IcmpContext {
  clock: Clock;
  counters: Counters;
  interfaces: InterfaceTable;
  routes: RouteTable;
  output: Ipv4Output;
  link: LinkOutput;
  transports: TransportRegistry;
  settings: Ipv4Settings;
  /** The transmit buffer replies are built in (TX_HEADROOM in front). */
  txBuffer: Uint8Array;
  /** An echo request about to be answered in place, offered to the warm path (warm.ts). */
  keepForWarming(device: Interface['device'], buf: Uint8Array, offset: number, length: number): void;
}

/** What `pstack ping` (and tests) hear: echo replies and errors about our echo requests. */
export interface IcmpListener {
  echoReply?(from: Ipv4Address, id: number, seq: number, ttl: number, ip: Ipv4Packet, icmp: IcmpPacket): void;
  error?(from: Ipv4Address, type: number, code: number, original: Ipv4Packet, ip: Ipv4Packet, icmp: IcmpPacket): void;
}

export interface EchoOptions {
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
  /** Raw IPv4 options, e.g. an empty Record Route from buildRecordRouteOption(). */
  options?: Uint8Array;
  src?: Ipv4Address;
}

export interface IcmpConfig {
  /** ICMP errors sent per second at most, on average (beyond it they are counted, not sent). */
  errorsPerSecond: number;
  /** Errors that may go out back to back before the rate applies. */
  errorBurst: number;
  /** One error per this many ms to any one destination (Linux icmp_ratelimit); 0: no per-destination limit. */
  destinationIntervalMs: number;
  /** Errors that may go to one destination back to back (Linux's burst factor, 6). */
  destinationBurst: number;
  /** Destinations whose error rate is tracked at once; the longest known gives way beyond it. */
  maxDestinations: number;
}

/**
 * RFC 1812 4.3.2.8 asks routers to limit errors; Linux allows 1000/s with a burst of 50 in
 * all, and per destination one a second with a burst of 6.
 */
export const defaultIcmpConfig: IcmpConfig = {
  errorsPerSecond: 1000, errorBurst: 50, destinationIntervalMs: 1000, destinationBurst: 6, maxDestinations: 4096,
};

export class IcmpService implements Ipv4ErrorSender {
  readonly listeners = new Set<IcmpListener>();
  /** Linux's default (icmp_echo_ignore_broadcasts=1): do not answer broadcast or multicast pings (smurf). */
  ignoreBroadcastEcho = true;
  private readonly icmp = new IcmpPacket();
  private readonly inner = new Ipv4Packet();
  private readonly limiter: TokenBucket;
  private readonly perDestination: DestinationRateLimiter;
  private readonly transportError: TransportError = {
    kind: 'other', errno: '', hard: false, mtu: 0, src: 0, dst: 0, buf: new Uint8Array(0), offset: 0, length: 0, type: 0, code: 0,
  };

  constructor(private readonly stack: IcmpContext, config: Partial<IcmpConfig> = defaultIcmpConfig) {
    this.config = { ...defaultIcmpConfig, ...config };
    const c = this.config;
    this.limiter = new TokenBucket(c.errorsPerSecond, c.errorBurst, stack.clock.now());
    this.perDestination = new DestinationRateLimiter(c.destinationIntervalMs, c.destinationBurst, c.maxDestinations);
  }

  readonly config: IcmpConfig;

  /** Destinations whose error rate is tracked now (bounded by maxDestinations). */
  get trackedDestinations(): number {
    return this.perDestination.size;
  }

  /** Hand an error about `original`, a datagram we sent, to the transport that sent it. */
  private deliverToTransport(type: number, code: number, rest: number, original: Ipv4Packet): void {
    const transport = this.stack.transports.get(original.protocol);
    if (transport?.error === undefined) return;
    const err = this.transportError;
    icmpErrorMeaning(type, code, rest, err);
    const hl = original.headerLength;
    err.src = original.src;
    err.dst = original.dst;
    err.buf = original.buf;
    err.offset = original.offset + hl;
    err.length = Math.max(0, original.length - hl);
    err.type = type;
    err.code = code;
    transport.error(err);
  }

  receive(ip: Ipv4Packet, iface: Interface): void {
    const counters = this.stack.counters;
    counters.icmpIn++;
    const icmp = this.icmp.reset(ip.buf, ip.payloadOffset, ip.payloadLength);
    if (icmp.check() !== null) {
      counters.drop('icmp: too-short');
      return;
    }
    if (!icmp.verifyChecksum()) {
      counters.drop('icmp: bad-checksum');
      return;
    }
    const type = icmp.type;
    if (type === IcmpType.EchoRequest) {
      const dst = ip.dst;
      // Multicast too, as Linux's icmp_echo_ignore_broadcasts does (a reply could not come from a group address anyway).
      if (this.ignoreBroadcastEcho && (dst === IPV4_BROADCAST || dst === iface.broadcast || isMulticast(dst))) {
        counters.drop('icmp: broadcast-echo');
        return;
      }
      counters.icmpEchoRequestsIn++;
      this.replyToEcho(ip, icmp, iface);
      return;
    }
    if (type === IcmpType.EchoReply) {
      for (const l of this.listeners) l.echoReply?.(ip.src, icmp.echoId, icmp.echoSeq, ip.ttl, ip, icmp);
      return;
    }
    if (isIcmpError(type)) {
      const inner = this.inner.reset(icmp.buf, icmp.dataOffset, icmp.dataLength);
      // The quoted header must be whole; its total length refers to the original, not to us.
      if (icmp.dataLength < IPV4_MIN_HEADER || inner.version !== 4 || inner.headerLength < IPV4_MIN_HEADER || inner.headerLength > icmp.dataLength) {
        counters.drop('icmp: bad-quoted-header');
        return;
      }
      this.deliverToTransport(type, icmp.code, icmp.rest, inner);
      for (const l of this.listeners) l.error?.(ip.src, type, icmp.code, inner, ip, icmp);
      return;
    }
    counters.drop('icmp: unhandled-type');
  }

  private replyToEcho(ip: Ipv4Packet, icmp: IcmpPacket, iface: Interface): void {
    if (this.replyInPlace(ip, icmp)) return;
    const stack = this.stack;
    const dataLength = icmp.dataLength;
    const buf = stack.txBuffer;
    const options = this.echoReplyOptions(ip, iface);
    const l4 = TX_HEADROOM;
    buf.set(icmp.buf.subarray(icmp.dataOffset, icmp.dataOffset + dataLength), l4 + ICMP_HEADER_LENGTH);
    emitIcmpHeader(buf, l4, IcmpType.EchoReply, 0, echoRest(icmp.echoId, icmp.echoSeq), dataLength);
    const rt = stack.output.route(ip.src);
    if (rt === null) {
      stack.counters.drop('icmp: no-route-for-reply');
      return;
    }
    // Answer from the address that was pinged (a host with several addresses must not
    // answer from another one), and record our outgoing address in an echoed route.
    const src = ip.dst;
    if (options !== null) recordOwnAddress(options, rt.iface.address, true);
    stack.counters.icmpOut++;
    stack.counters.icmpEchoRepliesOut++;
    stack.output.output({ src, dst: ip.src, protocol: IpProtocol.ICMP, tos: ip.tos, options: options ?? undefined }, buf, l4, ICMP_HEADER_LENGTH + dataLength, rt);
  }

  /**
   * The common echo, answered in the frame it arrived in: no IP options, the request in an
   * Ethernet frame of at least the minimum size, and the reply leaving by an Ethernet
   * interface. The IPv4 header is rewritten as replyToEcho would emit it (new identification,
   * default TTL, DF clear, TOS kept, addresses swapped), the ICMP type changes to Echo Reply
   * with the checksum updated incrementally (RFC 1624) so the data is neither copied nor
   * summed again, and linkOutput writes the Ethernet header over the request's. No object is
   * allocated. Returns false, having changed nothing, when the general path must answer.
   * (Receive buffers belong to the receiver for the duration of the call; devices that share
   * frames between receivers copy them, see memory-wire.ts.)
   */
  private replyInPlace(ip: Ipv4Packet, icmp: IcmpPacket): boolean {
    const buf = ip.buf;
    const at = ip.offset;
    const total = ip.length; // trimmed to the total length by ipInput
    if (ip.headerLength !== IPV4_MIN_HEADER || at < ETHERNET_HEADER_LENGTH || ETHERNET_HEADER_LENGTH + total < ETHERNET_MIN_FRAME) return false;
    const stack = this.stack;
    const to = ip.src;
    // stack.route(to), without its result object; a local destination goes by loopback.
    if (stack.interfaces.isLocalAddress(to)) return false;
    const route = stack.routes.lookup(to);
    if (route === null) return false;
    const out = route.iface;
    if (out.device.type !== 'ethernet' || total > out.mtu) return false;
    stack.keepForWarming(out.device, buf, at - ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + total);
    const from = ip.dst;
    const id = stack.output.nextIpId();
    const ttl = stack.settings.defaultTtl;
    buf[at + 4] = id >>> 8;
    buf[at + 5] = id & 0xff;
    buf[at + 6] = 0;
    buf[at + 7] = 0;
    buf[at + 8] = ttl;
    buf[at + 10] = 0;
    buf[at + 11] = 0;
    buf[at + 12] = from >>> 24;
    buf[at + 13] = (from >>> 16) & 0xff;
    buf[at + 14] = (from >>> 8) & 0xff;
    buf[at + 15] = from & 0xff;
    buf[at + 16] = to >>> 24;
    buf[at + 17] = (to >>> 16) & 0xff;
    buf[at + 18] = (to >>> 8) & 0xff;
    buf[at + 19] = to & 0xff;
    const ipSum = internetChecksum(buf, at, IPV4_MIN_HEADER);
    buf[at + 10] = ipSum >>> 8;
    buf[at + 11] = ipSum & 0xff;
    const l4 = at + IPV4_MIN_HEADER;
    const icmpSum = checksumUpdate16(icmp.checksum, (buf[l4]! << 8) | buf[l4 + 1]!, IcmpType.EchoReply << 8);
    buf[l4] = IcmpType.EchoReply;
    buf[l4 + 1] = 0;
    buf[l4 + 2] = icmpSum >>> 8;
    buf[l4 + 3] = icmpSum & 0xff;
    const counters = stack.counters;
    counters.icmpOut++;
    counters.icmpEchoRepliesOut++;
    counters.ipOut++;
    stack.link.send(out, route.nextHop !== 0 ? route.nextHop : to, buf, at, total);
    return true;
  }

  /**
   * RFC 1122 3.2.2.6: Record Route and Timestamp options in an Echo Request are updated to
   * include this host and returned in the reply, so they cover the round trip. Like Linux, the
   * entry is made as the request arrives and again as the reply leaves (a full Timestamp
   * option counts one overflow, on arrival). Other options are not echoed. The options were
   * checked by ipInput (checkIpv4Options), so each appears at most once and is well formed.
   */
  private echoReplyOptions(ip: Ipv4Packet, iface: Interface): Uint8Array | null {
    if (ip.headerLength === IPV4_MIN_HEADER) return null;
    const walk = walkIpv4Options(ip.buf, ip.optionsOffset, ip.optionsLength);
    const echoed = walk.options.filter((o) => o.type === Ipv4OptionType.RR || o.type === Ipv4OptionType.TS);
    if (echoed.length === 0) return null;
    let size = 0;
    for (const o of echoed) size += o.length;
    const out = new Uint8Array((size + 3) & ~3); // trailing bytes stay 0 = EOL
    let at = 0;
    for (const o of echoed) {
      out.set(ip.buf.subarray(o.offset, o.offset + o.length), at);
      const copy = { type: o.type, offset: at, length: o.length };
      // RR already holds the address we received on (ipInput records it); the outgoing
      // address is added as the reply leaves. Timestamps are stamped here, on arrival.
      if (o.type === Ipv4OptionType.TS) timestampAppend(out, copy, iface.address, timestampNow(), true);
      at += o.length;
    }
    return out;
  }

  /** Send an echo request (for `pstack ping`); returns false without a route. */
  sendEcho(dst: Ipv4Address, id: number, seq: number, data: Uint8Array, opts: EchoOptions = {}): boolean {
    const stack = this.stack;
    const rt = stack.output.route(dst);
    if (rt === null) {
      stack.counters.drop('icmp: no-route');
      return false;
    }
    const buf = stack.txBuffer;
    const l4 = TX_HEADROOM;
    buf.set(data, l4 + ICMP_HEADER_LENGTH);
    emitIcmpHeader(buf, l4, IcmpType.EchoRequest, 0, echoRest(id, seq), data.length);
    let options = opts.options;
    if (options !== undefined) {
      options = options.slice();
      recordOwnAddress(options, rt.iface.address, false);
    }
    stack.counters.icmpOut++;
    return stack.output.output({ src: opts.src ?? rt.src, dst, protocol: IpProtocol.ICMP, ttl: opts.ttl, tos: opts.tos, dontFragment: opts.dontFragment, options }, buf, l4, ICMP_HEADER_LENGTH + data.length, rt);
  }

  /**
   * Report a problem with `original` to its sender (RFC 1122 3.2.2): never about an ICMP
   * error, a broadcast or multicast, a non-initial fragment, or a source that is not a single
   * host. The message quotes the original header and the first 8 bytes of its payload.
   * When the original came from this host, the error is delivered locally instead.
   */
  sendError(original: Ipv4Packet, type: number, code: number, rest: number): void {
    const stack = this.stack;
    const src = original.src;
    const dst = original.dst;
    if (original.fragmentOffset !== 0) return;
    if (src === 0 || src === IPV4_BROADCAST || isMulticast(src) || isMulticast(dst) || dst === IPV4_BROADCAST) return;
    for (const i of stack.interfaces.list) if (dst === i.broadcast && !i.isLoopback) return;
    const hl = original.headerLength;
    const available = Math.max(0, original.length - hl);
    if (original.protocol === IpProtocol.ICMP) {
      // An error about an error (or a truncated one we cannot judge) is never answered.
      if (available < 1) return;
      const innerType = original.buf[original.offset + hl]!;
      if (isIcmpError(innerType)) return;
    }
    const quoted = hl + Math.min(8, available);
    if (stack.interfaces.isLocalAddress(src)) {
      this.deliverLocalError(type, code, rest, original, quoted);
      return;
    }
    // The shared limit first, then the destination's, and the shared token is spent only on
    // an error that goes (as Linux): a destination over its own limit costs others nothing.
    // Fragmentation Needed is not limited per destination (Linux's icmp_ratemask leaves it
    // out): path MTU discovery through us depends on it.
    const now = stack.clock.now();
    if (!this.limiter.available(now)) {
      stack.counters.icmpErrorsRateLimited++;
      return;
    }
    const pmtud = type === IcmpType.DestinationUnreachable && code === UnreachableCode.FragmentationNeeded;
    if (!pmtud) {
      const pd = this.perDestination;
      const evictions = pd.evictions;
      const ok = pd.allow(src, now);
      if (pd.evictions !== evictions) stack.counters.icmpDestinationsEvicted++;
      if (!ok) {
        stack.counters.icmpErrorsRateLimited++;
        stack.counters.icmpErrorsDestinationLimited++;
        return;
      }
    }
    this.limiter.allow(now);
    const rt = stack.output.route(src);
    if (rt === null) return;
    const buf = stack.txBuffer;
    const l4 = TX_HEADROOM;
    buf.set(original.buf.subarray(original.offset, original.offset + quoted), l4 + ICMP_HEADER_LENGTH);
    emitIcmpHeader(buf, l4, type, code, rest, quoted);
    stack.counters.icmpOut++;
    stack.counters.icmpErrorsOut++;
    // RFC 1812 4.3.2.5: errors go with precedence 6 (internetwork control), keeping the
    // original's TOS bits, as Linux's icmp_send does.
    const tos = 0xc0 | (original.tos & 0x1e);
    stack.output.output({ src: rt.src, dst: src, protocol: IpProtocol.ICMP, tos }, buf, l4, ICMP_HEADER_LENGTH + quoted, rt);
  }

  private deliverLocalError(type: number, code: number, rest: number, original: Ipv4Packet, quoted: number): void {
    const copy = original.buf.slice(original.offset, original.offset + quoted);
    const view = new Ipv4Packet(copy, 0, copy.length);
    this.deliverToTransport(type, code, rest, view);
    if (this.listeners.size === 0) return;
    // Build the message as if it had arrived, so listeners (ping) print it the same way.
    const msg = new Uint8Array(IPV4_MIN_HEADER + ICMP_HEADER_LENGTH + quoted);
    msg.set(copy, IPV4_MIN_HEADER + ICMP_HEADER_LENGTH);
    emitIcmpHeader(msg, IPV4_MIN_HEADER, type, code, rest, quoted);
    const from = (this.stack.output.route(view.dst)?.src as number | undefined) ?? view.src;
    const ipView = new Ipv4Packet(msg, 0, msg.length);
    const icmpView = new IcmpPacket(msg, IPV4_MIN_HEADER, ICMP_HEADER_LENGTH + quoted);
    for (const l of this.listeners) l.error?.(from, type, code, view, ipView, icmpView);
  }
}

/**
 * Write our address into a Record Route option held in `options` (raw option bytes), and,
 * when `timestamps`, our entry into a Timestamp option (as an echo reply leaves).
 */
function recordOwnAddress(options: Uint8Array, addr: Ipv4Address, timestamps: boolean): void {
  const walk = walkIpv4Options(options, 0, options.length);
  for (const o of walk.options) {
    if (o.type === Ipv4OptionType.RR) recordRouteAppend(options, o, addr);
    else if (timestamps && o.type === Ipv4OptionType.TS) timestampAppend(options, o, addr, timestampNow(), false);
  }
}
