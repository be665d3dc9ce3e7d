/**
 * Neighbor Discovery on the host's IPv6 interfaces (RFC 4861) and Duplicate Address
 * Detection (RFC 4862 5.4): solicitations for our addresses are answered, what NS and NA
 * messages prove about their senders goes to the neighbor cache (neighbors6.ts), the cache's
 * solicitations go out, and each new address is probed from :: before it is used. A
 * duplicate is reported (event, counter) and the address is never used.
 *
 * Router Solicitation/Advertisement and Redirect are validated and handed to an optional
 * handler (`routerMessages`), where router discovery and stateless autoconfiguration plug in
 * (router-discovery.ts); `addressReady` tells it when an address passed DAD.
 */

import { parseNdp, validateNdpAddressing, emitNdp, emitNeighborSolicitation, emitNeighborAdvertisement, type NdpMessage } from '../wire/ndp.js';
import { Icmpv6Type } from '../wire/icmpv6.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from '../wire/ipv6.js';
import { ICMPV6_PROTOCOL } from '../wire/icmpv6.js';
import { IPV6_ALL_NODES, IPV6_ALL_ROUTERS, IPV6_UNSPECIFIED, isUnspecifiedIpv6, isMulticastIpv6, solicitedNodeMulticast } from '../wire/addr6.js';
import { macEquals, macToString } from '../wire/addr.js';
import type { Timers } from '../time/clock.js';
import type { Counters } from './counters.js';
import type { StackEvents } from './observer.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import type { Ipv6AddressEntry, Ipv6Interface } from './ipv6-interface.js';
import type { Neighbor6Cache, Neighbor6Entry } from './neighbors6.js';
import type { Ipv6Output } from './ipv6-output.js';
import { TX_HEADROOM } from './network.js';

export interface NdpConfig {
  /** Solicitations DAD sends for each new address (RFC 4862 DupAddrDetectTransmits; 0 turns DAD off). */
  dadTransmits: number;
  /** Time between them, and after the last before the address is used (RetransTimer). */
  dadIntervalMs: number;
}

export const defaultNdpConfig: NdpConfig = { dadTransmits: 1, dadIntervalMs: 1_000 };

/** A received RS, RA or Redirect, validated, for the handler that acts on them. */
export type RouterMessageHandler = (msg: NdpMessage, src: Ipv6Addr, iface: Ipv6Interface) => void;

const HOP_LIMIT_NDP = 255;

export class Ndp {
  /** Handler for RS, RA and Redirect (null: they are counted and ignored). */
  routerMessages: RouterMessageHandler | null = null;
  /** Told when an address passed DAD and is usable. */
  addressReady: ((iface: Ipv6Interface, entry: Ipv6AddressEntry) => void) | null = null;
  private readonly buf = new Uint8Array(TX_HEADROOM + 128);
  private readonly readyWaiters: Array<() => void> = [];
  private readonly groupScratch = new Uint8Array(16);

  constructor(
    private readonly output: Ipv6Output,
    private readonly neighbors: Neighbor6Cache,
    private readonly counters: Counters,
    private readonly events: StackEvents,
    private readonly timers: Timers,
    readonly config: NdpConfig,
  ) {}

  // ---------------------------------------------------------------- DAD

  /** Probe `entry` (tentative) before use; with DAD off it is usable at once. */
  startDad(iface: Ipv6Interface, entry: Ipv6AddressEntry): void {
    if (this.config.dadTransmits <= 0 || iface.isLoopback) {
      this.makePreferred(iface, entry);
      return;
    }
    entry.state = 'tentative';
    entry.dadProbesSent = 0;
    this.probing.add(entry);
    entry.timer ??= this.timers.create(() => this.dadStep(iface, entry));
    entry.timer.arm(0);
  }

  /** Addresses whose DAD runs now. */
  private readonly probing = new Set<Ipv6AddressEntry>();

  /** Whether any address is still being probed. */
  get dadRunning(): boolean {
    return this.probing.size > 0;
  }

  /** Resolves when no address is being probed any more (each is preferred or found duplicate). */
  whenSettled(): Promise<void> {
    if (this.probing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Stop probing `entry` (its address was removed). */
  forget(entry: Ipv6AddressEntry): void {
    entry.timer?.disarm();
    this.settled(entry);
  }

  private dadStep(iface: Ipv6Interface, entry: Ipv6AddressEntry): void {
    if (entry.state !== 'tentative') return;
    if (entry.dadProbesSent >= this.config.dadTransmits) {
      this.makePreferred(iface, entry);
      return;
    }
    entry.dadProbesSent++;
    // From ::, to the solicited-node group, without a source link-layer option (RFC 4862 5.4.2).
    this.sendSolicitation(iface, entry.address.bytes, null, IPV6_UNSPECIFIED, solicitedNodeMulticast(entry.address.bytes, 0, this.groupScratch));
    entry.timer!.arm(this.config.dadIntervalMs);
  }

  private makePreferred(iface: Ipv6Interface, entry: Ipv6AddressEntry): void {
    entry.state = 'preferred';
    entry.timer?.disarm();
    this.events.event('ipv6 address is ready', { ip: `${entry.address}/${entry.prefixLength}`, device: `${iface.name} (${iface.device.name})` });
    this.settled(entry);
    this.addressReady?.(iface, entry);
  }

  private duplicate(iface: Ipv6Interface, entry: Ipv6AddressEntry, mac: string): void {
    if (entry.state !== 'tentative') return;
    entry.state = 'duplicate';
    entry.conflictMac = mac;
    entry.timer?.disarm();
    this.counters.ndpDuplicateAddresses++;
    this.events.error('duplicate ipv6 address: another host uses it, so it is not used', {
      ip: `${entry.address}/${entry.prefixLength}`, device: `${iface.name} (${iface.device.name})`, 'other host': mac,
    });
    this.settled(entry);
  }

  private settled(entry: Ipv6AddressEntry): void {
    if (!this.probing.delete(entry)) return;
    if (this.probing.size === 0) for (const w of this.readyWaiters.splice(0)) w();
  }

  // ---------------------------------------------------------------- neighbor cache hooks

  /** The cache wants `entry.ip` resolved or probed. */
  solicit(entry: Neighbor6Entry, unicast: boolean): void {
    const iface = entry.iface;
    const src = iface.sourceFor(entry.ip);
    if (src === undefined) {
      this.counters.drop('ndp: no-source-address');
      return;
    }
    const dst = unicast ? entry.ip.bytes : solicitedNodeMulticast(entry.ip.bytes, 0, this.groupScratch);
    this.sendSolicitation(iface, entry.ip.bytes, iface.device.mac, src.address.bytes, dst);
  }

  /** A Router Solicitation from `src` (our link-local address) to all routers, with our MAC (RFC 4861 6.3.7). */
  sendRouterSolicitation(iface: Ipv6Interface, src: Ipv6AddressEntry): void {
    const from = src.address.bytes;
    const end = emitNdp(this.buf, TX_HEADROOM, { kind: 'rs', options: { sourceLinkLayer: iface.device.mac } }, from, IPV6_ALL_ROUTERS);
    this.counters.ndpRouterSolicitationsOut++;
    this.sendIcmp(iface, from, IPV6_ALL_ROUTERS, end - TX_HEADROOM);
  }

  private sendSolicitation(iface: Ipv6Interface, target: Uint8Array, sourceMac: Uint8Array | null, src: Uint8Array, dst: Uint8Array): void {
    const b = this.buf;
    const end = emitNeighborSolicitation(b, TX_HEADROOM, target, 0, sourceMac, src, dst);
    this.counters.ndpSolicitationsOut++;
    this.sendIcmp(iface, src, dst, end - TX_HEADROOM);
  }

  private sendIcmp(iface: Ipv6Interface, src: Uint8Array, dst: Uint8Array, length: number): void {
    const ipOffset = TX_HEADROOM - IPV6_HEADER_LENGTH;
    emitIpv6Header(this.buf, ipOffset, src, 0, dst, 0, ICMPV6_PROTOCOL, length, HOP_LIMIT_NDP);
    this.counters.icmp6Out++;
    this.counters.ip6Out++;
    this.output.send(iface, intern6(dst), this.buf, ipOffset, IPV6_HEADER_LENGTH + length);
  }

  // ---------------------------------------------------------------- receive

  /**
   * An NDP message (checksum verified) in the packet whose IPv6 header is at buf[ipOffset];
   * the message is buf[offset, +length). `linkSrc` is the Ethernet source MAC's offset.
   */
  receive(buf: Uint8Array, ipOffset: number, offset: number, length: number, iface: Ipv6Interface, linkSrc: number): void {
    const type = buf[offset]!;
    if (type === Icmpv6Type.RouterAdvertisement) this.counters.ndpRouterAdvertisementsIn++;
    else if (type === Icmpv6Type.Redirect) this.counters.ndpRedirectsIn++;
    const msg = parseNdp(buf, offset, length);
    if (typeof msg === 'string') {
      this.rejected(type, msg);
      return;
    }
    const bad = validateNdpAddressing(msg, buf[ipOffset + 7]!, buf, ipOffset + 8, buf, ipOffset + 24);
    if (bad !== null) {
      this.rejected(type, bad);
      return;
    }
    if (msg.kind === 'ns') this.receiveSolicitation(msg.target, msg.options.sourceLinkLayer, buf, ipOffset, iface, linkSrc);
    else if (msg.kind === 'na') {
      this.receiveAdvertisement(msg.target, msg.options.targetLinkLayer, msg.solicited, msg.override, msg.router, iface, buf, linkSrc);
    } else if (this.routerMessages !== null && msg.kind !== 'rs') this.routerMessages(msg, intern6(buf, ipOffset + 8), iface);
    else this.rejected(type, `${msg.kind}-ignored`); // a host discards solicitations for routers (RFC 4861 6.2.6)
  }

  private rejected(type: number, why: string): void {
    this.counters.drop(`ndp: ${why}`);
    if (type === Icmpv6Type.RouterAdvertisement) this.counters.ndpRouterAdvertisementsIgnored++;
  }

  private receiveSolicitation(
    target: Uint8Array, sourceMac: Uint8Array | null, buf: Uint8Array, ipOffset: number, iface: Ipv6Interface, linkSrc: number,
  ): void {
    this.counters.ndpSolicitationsIn++;
    const entry = iface.find(intern6(target));
    if (entry === undefined || entry.state === 'duplicate') {
      this.counters.drop('ndp: not-our-target');
      return;
    }
    const fromUnspecified = isUnspecifiedIpv6(buf, ipOffset + 8);
    if (entry.state === 'tentative') {
      // Another host probing the address we probe: both must give it up (RFC 4862 5.4.3).
      // Our own probe looped back by the link is not a conflict.
      if (fromUnspecified && !macEquals(buf, linkSrc, iface.device.mac)) this.duplicate(iface, entry, macToString(buf.subarray(linkSrc, linkSrc + 6)));
      return;
    }
    if (fromUnspecified) {
      // Someone's DAD for our address: defend it, to all nodes (RFC 4861 7.2.4).
      this.advertise(iface, entry, IPV6_ALL_NODES, false);
      return;
    }
    const src = intern6(buf, ipOffset + 8);
    if (sourceMac !== null) {
      if (isMulticastIpv6(sourceMac) || (sourceMac[0]! & 1) !== 0) {
        this.counters.drop('ndp: bad-link-layer-address');
        return;
      }
      this.neighbors.heardSolicitation(iface, src, sourceMac, 0);
    }
    this.advertise(iface, entry, src.bytes, true);
  }

  private advertise(iface: Ipv6Interface, entry: Ipv6AddressEntry, dst: Uint8Array, solicited: boolean): void {
    const b = this.buf;
    const src = entry.address.bytes;
    const end = emitNeighborAdvertisement(b, TX_HEADROOM, src, 0, iface.device.mac, false, solicited, true, src, dst);
    this.counters.ndpAdvertisementsOut++;
    this.sendIcmp(iface, src, dst, end - TX_HEADROOM);
  }

  private receiveAdvertisement(
    target: Uint8Array, targetMac: Uint8Array | null, solicited: boolean, override: boolean, router: boolean,
    iface: Ipv6Interface, buf: Uint8Array, linkSrc: number,
  ): void {
    this.counters.ndpAdvertisementsIn++;
    const addr = intern6(target);
    const ours = iface.find(addr);
    if (ours !== undefined) {
      // An advertisement for an address we probe: another host has it. For one we use, it
      // is a conflict to report, never something to learn.
      if (ours.state === 'tentative') this.duplicate(iface, ours, macToString(targetMac ?? buf.subarray(linkSrc, linkSrc + 6)));
      else this.counters.drop('ndp: advertisement-for-our-address');
      return;
    }
    if (targetMac !== null && (targetMac[0]! & 1) !== 0) {
      this.counters.drop('ndp: bad-link-layer-address');
      return;
    }
    this.neighbors.heardAdvertisement(addr, targetMac, 0, { solicited, override, router });
  }
}

export { Icmpv6Type };
