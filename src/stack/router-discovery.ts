/**
 * Router discovery on a host (RFC 4861 6.3) with stateless autoconfiguration (RFC 4862,
 * slaac.ts) and DNS servers from advertisements (RFC 8106):
 *
 * - Once an interface's link-local address passed DAD, up to 3 Router Solicitations go out
 *   from it, the first after a random delay of up to 1 s, then 4 s apart (6.3.7), until an
 *   advertisement with a router lifetime comes.
 * - A valid Router Advertisement (ndp.ts checked its link-local source, hop limit 255, options
 *   and ICMPv6 its checksum) updates the default router list (router lifetime; 0 removes), the
 *   on-link prefixes (L flag, valid lifetime), the autoconfigured addresses (A flag), the hop
 *   limit, ReachableTime, RetransTimer, the link MTU, the DNS servers (RDNSS) and the DNS
 *   search domains (DNSSL). The default
 *   route of each interface (::/0, origin 'router-advertisement') goes through its best router:
 *   one not known to be unreachable, of the highest preference (RFC 4191), first learned.
 * - Every entry expires on the host's timers; routes configured otherwise are never replaced.
 * - Redirects are redirect6.ts's.
 *
 * Hostile input gets the ARP cache's care: routers, prefixes, addresses and DNS servers are
 * each bounded (a full list refuses newcomers, counted), and parameters outside sane bounds
 * are not taken.
 */

import { isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6, ipv6Prefix, ipv6PrefixMatch } from '../wire/addr6.js';
import { IPV6_MIN_MTU } from '../wire/ipv6.js';
import type { NdpMessage, RouterAdvertisement, NdpPrefixInfo } from '../wire/ndp.js';
import type { Timers, Timer } from '../time/clock.js';
import type { Counters } from './counters.js';
import type { StackEvents } from './observer.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import type { Ipv6AddressEntry, Ipv6Interface } from './ipv6-interface.js';
import type { Neighbor6Cache } from './neighbors6.js';
import type { RouteTable6, Route6 } from './routes6.js';
import type { Ndp } from './ndp.js';
import type { Ipv6RouteResult, Ipv6Settings } from './ipv6-output.js';
import { AddressAutoconf, lifetimeMs } from './slaac.js';
import { Redirects6, defaultRedirectConfig, type RedirectConfig } from './redirect6.js';

export interface RouterDiscoveryConfig {
  /**
   * Take configuration from router advertisements: routers, prefixes, addresses (SLAAC), DNS
   * servers, parameters. false ignores them and sends no solicitation (as Linux's accept_ra=0).
   */
  slaac: boolean;
  /** Router Solicitations sent (MAX_RTR_SOLICITATIONS). */
  solicitations: number;
  /** Between them (RTR_SOLICITATION_INTERVAL). */
  solicitationIntervalMs: number;
  /** The first waits a random time up to this (MAX_RTR_SOLICITATION_DELAY). */
  solicitationDelayMs: number;
  /** Default routers kept at most (all interfaces). */
  maxRouters: number;
  /** On-link prefixes kept at most. */
  maxPrefixes: number;
  /** Autoconfigured addresses at most. */
  maxAddresses: number;
  /** DNS servers (RDNSS) kept at most. */
  maxDnsServers: number;
  /** DNS search domains (DNSSL) kept at most. */
  maxSearchDomains: number;
  redirect: RedirectConfig;
}

export const defaultRouterDiscoveryConfig: RouterDiscoveryConfig = {
  slaac: true,
  solicitations: 3,
  solicitationIntervalMs: 4_000,
  solicitationDelayMs: 1_000,
  maxRouters: 8,
  maxPrefixes: 16,
  maxAddresses: 16,
  maxDnsServers: 8,
  maxSearchDomains: 8,
  redirect: defaultRedirectConfig,
};

/** RFC 4861 10: MAX_REACHABLE_TIME. */
const MAX_REACHABLE_MS = 3_600_000;
/** RetransTimer accepted from a router: not so short that resolution becomes a burst. */
const MIN_RETRANS_MS = 100;
const MAX_RETRANS_MS = 60_000;

export interface DefaultRouter {
  address: Ipv6Addr;
  iface: Ipv6Interface;
  /** Clock time (ms) the router lifetime ends. */
  expiresAt: number;
  /** RFC 4191: 1 high, 0 medium, -1 low. */
  preference: number;
  /** Address resolution for it failed since its last advertisement. */
  unreachable: boolean;
}

export interface OnLinkPrefix {
  prefix: Uint8Array;
  prefixLength: number;
  iface: Ipv6Interface;
  expiresAt: number;
  /** The route this prefix added, or null when one configured otherwise was there already. */
  route: Route6 | null;
}

export interface DnsServer6 {
  address: Ipv6Addr;
  iface: Ipv6Interface;
  expiresAt: number;
}

export interface SearchDomain6 {
  domain: string;
  iface: Ipv6Interface;
  expiresAt: number;
}

/** What router discovery needs from the IPv6 layer. */
export interface RouterDiscoveryParts {
  interfaces: readonly Ipv6Interface[];
  routes: RouteTable6;
  neighbors: Neighbor6Cache;
  ndp: Ndp;
  timers: Timers;
  counters: Counters;
  events: StackEvents;
  settings: Ipv6Settings;
  random: () => number;
  route(dst: Ipv6Addr): Ipv6RouteResult | null;
  addAddress(iface: Ipv6Interface, address: Uint8Array): Ipv6AddressEntry;
  removeAddress(entry: Ipv6AddressEntry): void;
}

const DEFAULT_PREFIX = new Uint8Array(16);

export class RouterDiscovery {
  readonly routers: DefaultRouter[] = [];
  readonly prefixes: OnLinkPrefix[] = [];
  readonly dnsServers: DnsServer6[] = [];
  readonly searchDomains: SearchDomain6[] = [];
  readonly autoconf: AddressAutoconf;
  readonly redirects: Redirects6;
  /** Told when the DNS server list changed (the resolver takes them when it was given none). */
  onDnsServers: ((servers: readonly DnsServer6[]) => void) | null = null;
  /** Told when the DNS search list changed. */
  onSearchDomains: ((domains: readonly SearchDomain6[]) => void) | null = null;
  /** ReachableTime's base a router gave (ms), 0 before any. */
  baseReachableMs = 0;
  private readonly soliciting = new Map<Ipv6Interface, { timer: Timer; sent: number }>();
  private readonly timer: Timer;
  private readonly p: RouterDiscoveryParts;

  constructor(parts: RouterDiscoveryParts, readonly config: RouterDiscoveryConfig) {
    this.p = parts;
    this.timer = parts.timers.create(() => this.expire());
    this.autoconf = new AddressAutoconf(
      { addAddress: parts.addAddress, removeAddress: parts.removeAddress },
      parts.timers, parts.counters, parts.events, () => this.config.maxAddresses,
    );
    this.redirects = new Redirects6(parts.routes, parts.neighbors, parts.route, parts.timers, parts.counters, config.redirect);
  }

  // ---------------------------------------------------------------- solicitation

  /** An address on `iface` passed DAD: its link-local one starts the solicitations. */
  addressReady(iface: Ipv6Interface, entry: Ipv6AddressEntry): void {
    this.autoconf.addressReady(entry);
    if (!this.config.slaac || iface.isLoopback || entry.origin !== 'link-local' || this.soliciting.has(iface)) return;
    if (this.config.solicitations <= 0) return;
    const state = { timer: this.p.timers.create(() => this.solicit(iface)), sent: 0 };
    this.soliciting.set(iface, state);
    state.timer.arm(this.p.random() * this.config.solicitationDelayMs);
  }

  private solicit(iface: Ipv6Interface): void {
    const state = this.soliciting.get(iface);
    const ll = iface.linkLocal();
    if (state === undefined || ll === undefined) return;
    this.p.ndp.sendRouterSolicitation(iface, ll);
    state.sent++;
    if (state.sent < this.config.solicitations) state.timer.arm(this.config.solicitationIntervalMs);
  }

  /** Solicitations still to come on `iface` (for tests and display). */
  solicitationsPending(iface: Ipv6Interface): boolean {
    return this.soliciting.get(iface)?.timer.armed ?? false;
  }

  // ---------------------------------------------------------------- receive

  /** RA and Redirect messages from ndp.ts, validated there. */
  receive(msg: NdpMessage, src: Ipv6Addr, iface: Ipv6Interface): void {
    if (msg.kind === 'redirect') this.redirects.receive(msg, src, iface);
    else if (msg.kind === 'ra') this.receiveAdvertisement(msg, src, iface);
    else this.p.counters.drop(`ndp: ${msg.kind}-ignored`);
  }

  private receiveAdvertisement(ra: RouterAdvertisement, src: Ipv6Addr, iface: Ipv6Interface): void {
    const c = this.p.counters;
    if (!this.config.slaac) return this.ignore('ra-ignored');
    const mac = ra.options.sourceLinkLayer;
    if (mac !== null && (mac[0]! & 1) !== 0) return this.ignore('bad-link-layer-address');
    c.ndpRouterAdvertisementsAccepted++;
    const now = this.p.timers.clock.now();
    if (mac !== null) {
      // RFC 4861 6.3.4: the router's link-layer address, STALE until confirmed.
      this.p.neighbors.heardSolicitation(iface, src, mac, 0);
      const n = this.p.neighbors.get(src);
      if (n !== undefined) n.isRouter = true;
    }
    this.parameters(ra, iface);
    this.router(ra, src, iface, now);
    for (const p of ra.options.prefixes) this.prefix(p, iface, now);
    this.dns(ra, iface, now);
    this.refreshDefaultRoutes();
    this.schedule();
  }

  private ignore(why: string): void {
    this.p.counters.drop(`ndp: ${why}`);
    this.p.counters.ndpRouterAdvertisementsIgnored++;
  }

  /** Cur Hop Limit, ReachableTime, RetransTimer and MTU: 0 (or absent) leaves each as it is. */
  private parameters(ra: RouterAdvertisement, iface: Ipv6Interface): void {
    if (ra.curHopLimit !== 0) this.p.settings.hopLimit = ra.curHopLimit;
    if (ra.reachableTime !== 0 && ra.reachableTime !== this.baseReachableMs) {
      this.baseReachableMs = Math.min(ra.reachableTime, MAX_REACHABLE_MS);
      // RFC 4861 6.3.2: a random value between 0.5 and 1.5 times the base.
      this.p.neighbors.config.reachableMs = Math.round(this.baseReachableMs * (0.5 + this.p.random()));
    }
    if (ra.retransTimer !== 0) {
      const ms = Math.min(Math.max(ra.retransTimer, MIN_RETRANS_MS), MAX_RETRANS_MS);
      this.p.neighbors.config.retransmitMs = ms;
      this.p.ndp.config.dadIntervalMs = ms;
    }
    const mtu = ra.options.mtu;
    if (mtu !== null) {
      if (mtu >= IPV6_MIN_MTU && mtu <= iface.device.mtu) iface.advertisedMtu = mtu;
      else this.p.counters.drop('ndp: ra-mtu-out-of-range');
    }
  }

  private router(ra: RouterAdvertisement, src: Ipv6Addr, iface: Ipv6Interface, now: number): void {
    const i = this.routers.findIndex((r) => r.address === src && r.iface === iface);
    if (ra.routerLifetime === 0) {
      if (i >= 0) this.removeRouter(i, 'its router lifetime is 0');
      return;
    }
    // RFC 4861 6.3.7: an advertisement with a router lifetime ends the solicitations.
    this.soliciting.get(iface)?.timer.disarm();
    const expiresAt = now + ra.routerLifetime * 1000;
    if (i >= 0) {
      const r = this.routers[i]!;
      r.expiresAt = expiresAt;
      r.preference = ra.preference;
      r.unreachable = false;
      return;
    }
    if (this.routers.length >= this.config.maxRouters) {
      this.p.counters.drop('ndp: router-list-full');
      return;
    }
    this.routers.push({ address: src, iface, expiresAt, preference: ra.preference, unreachable: false });
    this.p.events.event('ipv6 default router learned', { router: src.toString(), device: `${iface.name} (${iface.device.name})`, lifetime: `${ra.routerLifetime} s` });
  }

  private removeRouter(i: number, why: string): void {
    const r = this.routers[i]!;
    this.routers.splice(i, 1);
    this.redirects.dropVia(r.address);
    this.p.events.event('ipv6 default router removed', { router: r.address.toString(), device: `${r.iface.name} (${r.iface.device.name})`, why });
  }

  private prefix(p: NdpPrefixInfo, iface: Ipv6Interface, now: number): void {
    if (isLinkLocalIpv6(p.prefix) || isMulticastIpv6(p.prefix) || p.prefixLength === 0) {
      this.p.counters.drop('ndp: ra-prefix-ignored');
      return;
    }
    if (p.onLink) this.onLink(p, iface, now);
    if (p.autonomous) this.autoconf.prefixAdvertised(iface, p);
  }

  /** RFC 4861 6.3.4: the prefix list, each prefix an on-link route for its valid lifetime. */
  private onLink(p: NdpPrefixInfo, iface: Ipv6Interface, now: number): void {
    const valid = lifetimeMs(p.validLifetime);
    const i = this.prefixes.findIndex((x) => x.iface === iface && x.prefixLength === p.prefixLength && ipv6PrefixMatch(x.prefix, 0, p.prefix, 0, p.prefixLength));
    if (i >= 0) {
      if (valid === 0) this.removePrefix(i);
      else this.prefixes[i]!.expiresAt = now + valid;
      return;
    }
    if (valid === 0) return;
    if (this.prefixes.length >= this.config.maxPrefixes) {
      this.p.counters.drop('ndp: prefix-list-full');
      return;
    }
    const prefix = ipv6Prefix(p.prefix, p.prefixLength);
    const route = this.p.routes.find(prefix, p.prefixLength, iface) === undefined
      ? this.p.routes.add(prefix, p.prefixLength, null, iface, 'router-advertisement')
      : null;
    this.prefixes.push({ prefix, prefixLength: p.prefixLength, iface, expiresAt: now + valid, route });
  }

  private removePrefix(i: number): void {
    const x = this.prefixes[i]!;
    this.prefixes.splice(i, 1);
    if (x.route !== null) this.p.routes.removeRoute(x.route);
  }

  /** RFC 8106 5.1: each server for the option's lifetime; 0 removes it. */
  private dns(ra: RouterAdvertisement, iface: Ipv6Interface, now: number): void {
    let changed = false;
    for (const option of ra.options.rdnss) {
      const until = now + lifetimeMs(option.lifetime);
      for (const bytes of option.servers) {
        if (isMulticastIpv6(bytes) || isUnspecifiedIpv6(bytes)) {
          this.p.counters.drop('ndp: rdnss-bad-address');
          continue;
        }
        const address = intern6(bytes);
        const i = this.dnsServers.findIndex((d) => d.address === address && d.iface === iface);
        if (option.lifetime === 0) {
          if (i >= 0) {
            this.dnsServers.splice(i, 1);
            changed = true;
          }
        } else if (i >= 0) this.dnsServers[i]!.expiresAt = until;
        else if (this.dnsServers.length >= this.config.maxDnsServers) this.p.counters.drop('ndp: rdnss-list-full');
        else {
          this.dnsServers.push({ address, iface, expiresAt: until });
          changed = true;
        }
      }
    }
    if (changed) this.dnsChanged();
    this.searchList(ra, iface, now);
  }

  /** RFC 8106 5.2: each domain for the option's lifetime; 0 removes it. */
  private searchList(ra: RouterAdvertisement, iface: Ipv6Interface, now: number): void {
    let changed = false;
    for (const option of ra.options.dnssl) {
      const until = now + lifetimeMs(option.lifetime);
      for (const raw of option.domains) {
        const domain = raw.replace(/\.$/, '').toLowerCase();
        if (domain === '') continue;
        const i = this.searchDomains.findIndex((d) => d.domain === domain && d.iface === iface);
        if (option.lifetime === 0) {
          if (i >= 0) {
            this.searchDomains.splice(i, 1);
            changed = true;
          }
        } else if (i >= 0) this.searchDomains[i]!.expiresAt = until;
        else if (this.searchDomains.length >= this.config.maxSearchDomains) this.p.counters.drop('ndp: dnssl-list-full');
        else {
          this.searchDomains.push({ domain, iface, expiresAt: until });
          changed = true;
        }
      }
    }
    if (changed) this.onSearchDomains?.(this.searchDomains);
  }

  private dnsChanged(): void {
    this.onDnsServers?.(this.dnsServers);
  }

  // ---------------------------------------------------------------- default routes

  /** Address resolution for `ip` failed: if it is a router, another one takes the default route. */
  neighborUnreachable(ip: Ipv6Addr): void {
    let any = false;
    for (const r of this.routers) {
      if (r.address === ip) {
        r.unreachable = true;
        any = true;
      }
    }
    if (any) this.refreshDefaultRoutes();
  }

  /** The router the default route of `iface` goes through, or null (RFC 4861 6.3.6). */
  bestRouter(iface: Ipv6Interface): DefaultRouter | null {
    let best: DefaultRouter | null = null;
    for (const r of this.routers) {
      if (r.iface !== iface) continue;
      if (best === null || (best.unreachable && !r.unreachable) || (best.unreachable === r.unreachable && r.preference > best.preference)) best = r;
    }
    return best;
  }

  private refreshDefaultRoutes(): void {
    for (const iface of this.p.interfaces) {
      if (iface.isLoopback) continue;
      const best = this.bestRouter(iface);
      const existing = this.p.routes.find(DEFAULT_PREFIX, 0, iface);
      if (existing !== undefined && existing.origin !== 'router-advertisement') continue; // configured: left alone
      if (best === null) {
        if (existing !== undefined) this.p.routes.removeRoute(existing);
      } else if (existing === undefined || existing.gateway !== best.address) {
        this.p.routes.add(DEFAULT_PREFIX, 0, best.address, iface, 'router-advertisement');
      }
    }
  }

  // ---------------------------------------------------------------- expiry

  private schedule(): void {
    let next = Infinity;
    for (const r of this.routers) next = Math.min(next, r.expiresAt);
    for (const x of this.prefixes) next = Math.min(next, x.expiresAt);
    for (const d of this.dnsServers) next = Math.min(next, d.expiresAt);
    for (const d of this.searchDomains) next = Math.min(next, d.expiresAt);
    if (next === Infinity) this.timer.disarm();
    else this.timer.armAt(next);
  }

  private expire(): void {
    const now = this.p.timers.clock.now();
    for (let i = this.routers.length - 1; i >= 0; i--) if (this.routers[i]!.expiresAt <= now) this.removeRouter(i, 'its router lifetime ended');
    for (let i = this.prefixes.length - 1; i >= 0; i--) if (this.prefixes[i]!.expiresAt <= now) this.removePrefix(i);
    const servers = this.dnsServers.length;
    for (let i = servers - 1; i >= 0; i--) if (this.dnsServers[i]!.expiresAt <= now) this.dnsServers.splice(i, 1);
    if (this.dnsServers.length !== servers) this.dnsChanged();
    const domains = this.searchDomains.length;
    for (let i = domains - 1; i >= 0; i--) if (this.searchDomains[i]!.expiresAt <= now) this.searchDomains.splice(i, 1);
    if (this.searchDomains.length !== domains) this.onSearchDomains?.(this.searchDomains);
    this.refreshDefaultRoutes();
    this.schedule();
  }

  close(): void {
    this.timer.disarm();
    for (const s of this.soliciting.values()) s.timer.disarm();
    this.autoconf.close();
    this.redirects.close();
  }
}
