/**
 * ICMPv6 Redirect on a host (RFC 4861 8): a router tells us a better first hop for one
 * destination, another router on the link or the destination itself (on-link). Accepted only
 * from the router we now send that destination's packets to, from its link-local address with
 * hop limit 255 (ndp.ts checked those two), with a link-local target or the destination as the
 * target. The new first hop becomes a host route (/128, origin 'redirect') that ages out after
 * `lifetimeMs`, as a destination cache entry would; at most `maxRoutes` of them, the oldest
 * giving way.
 */

import { isLinkLocalIpv6 } from '../wire/addr6.js';
import type { Redirect } from '../wire/ndp.js';
import type { Timers, Timer } from '../time/clock.js';
import type { Counters } from './counters.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';
import type { Neighbor6Cache } from './neighbors6.js';
import type { RouteTable6, Route6 } from './routes6.js';
import type { Ipv6RouteResult } from './ipv6-output.js';

export interface RedirectConfig {
  /** Host routes from redirects kept at most; the oldest gives way. */
  maxRoutes: number;
  /** How long one lasts. */
  lifetimeMs: number;
}

export const defaultRedirectConfig: RedirectConfig = { maxRoutes: 64, lifetimeMs: 600_000 };

export class Redirects6 {
  private readonly learned: Array<{ route: Route6; expiresAt: number }> = [];
  private readonly timer: Timer;

  constructor(
    private readonly routes: RouteTable6,
    private readonly neighbors: Neighbor6Cache,
    /** Where a packet to `dst` goes now. */
    private readonly routeOf: (dst: Ipv6Addr) => Ipv6RouteResult | null,
    private readonly timers: Timers,
    private readonly counters: Counters,
    readonly config: RedirectConfig,
  ) {
    this.timer = timers.create(() => this.expire());
  }

  get size(): number {
    return this.learned.length;
  }

  /** A Redirect (validated by ndp.ts) from `src` on `iface`; true when it was followed. */
  receive(msg: Redirect, src: Ipv6Addr, iface: Ipv6Interface): boolean {
    const destination = intern6(msg.destination);
    const target = intern6(msg.target);
    const onLink = target === destination;
    if (!onLink && !isLinkLocalIpv6(msg.target)) return this.ignore('redirect-target-not-link-local');
    const current = this.routeOf(destination);
    if (current === null || current.iface !== iface || current.nextHop !== src || src === destination) {
      return this.ignore('redirect-not-from-first-hop');
    }
    const mac = msg.options.targetLinkLayer;
    if (mac !== null) {
      if ((mac[0]! & 1) !== 0) return this.ignore('bad-link-layer-address');
      // RFC 4861 8.3: the target's link-layer address, STALE until it is confirmed.
      this.neighbors.heardSolicitation(iface, target, mac, 0);
      const n = this.neighbors.get(target);
      if (n !== undefined && !onLink) n.isRouter = true;
    }
    const existing = this.routes.find(destination.bytes, 128, iface);
    if (existing !== undefined && existing.origin !== 'redirect') return this.ignore('redirect-over-configured-route');
    if (existing !== undefined) this.forget(existing);
    else if (this.learned.length >= this.config.maxRoutes) {
      this.routes.removeRoute(this.learned.shift()!.route);
      this.counters.drop('ndp: redirect-evicted');
    }
    const route = this.routes.add(destination.bytes, 128, onLink ? null : target, iface, 'redirect');
    this.learned.push({ route, expiresAt: this.timers.clock.now() + this.config.lifetimeMs });
    this.counters.ndpRedirectsAccepted++;
    this.schedule();
    return true;
  }

  /** Every redirect through `router` (gone, or no longer a router): back to the ordinary routes. */
  dropVia(router: Ipv6Addr): void {
    for (let i = this.learned.length - 1; i >= 0; i--) {
      const r = this.learned[i]!.route;
      if (r.gateway === router) {
        this.routes.removeRoute(r);
        this.learned.splice(i, 1);
      }
    }
    this.schedule();
  }

  close(): void {
    this.timer.disarm();
  }

  private ignore(why: string): boolean {
    this.counters.drop(`ndp: ${why}`);
    return false;
  }

  private forget(route: Route6): void {
    const i = this.learned.findIndex((l) => l.route === route);
    if (i >= 0) this.learned.splice(i, 1);
    this.routes.removeRoute(route);
  }

  private schedule(): void {
    if (this.learned.length === 0) this.timer.disarm();
    else this.timer.armAt(Math.min(...this.learned.map((l) => l.expiresAt)));
  }

  private expire(): void {
    const now = this.timers.clock.now();
    for (let i = this.learned.length - 1; i >= 0; i--) {
      if (this.learned[i]!.expiresAt > now) continue;
      this.routes.removeRoute(this.learned[i]!.route);
      this.learned.splice(i, 1);
    }
    this.schedule();
  }
}
