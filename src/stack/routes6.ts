/**
 * The IPv6 routing table: longest-prefix match over (prefix, length) entries, each naming an
 * interface and an optional gateway (a link-local router address). Interface prefixes are
 * added as addresses are configured; router discovery (router-discovery.ts) adds the on-link
 * prefixes and default routes that router advertisements announce, and the host routes that
 * Redirects ask for, each with origin 'router-advertisement' or 'redirect' so that it never
 * takes away a route configured otherwise.
 */

import { ipv6Prefix, ipv6PrefixMatch, ipv6ToString } from '../wire/addr6.js';
import type { Ipv6Addr } from './ip-address.js';
import type { Ipv6Interface } from './ipv6-interface.js';

export interface Route6 {
  prefix: Uint8Array;
  prefixLength: number;
  /** The router to hand packets to, or null for a destination on the link. */
  gateway: Ipv6Addr | null;
  iface: Ipv6Interface;
  origin: 'interface' | 'static' | 'default' | 'router-advertisement' | 'redirect';
}

export class RouteTable6 {
  private readonly routes: Route6[] = [];

  get entries(): readonly Route6[] {
    return this.routes;
  }

  add(prefix: Uint8Array, prefixLength: number, gateway: Ipv6Addr | null, iface: Ipv6Interface, origin: Route6['origin']): Route6 {
    const route: Route6 = { prefix: ipv6Prefix(prefix, prefixLength), prefixLength, gateway, iface, origin };
    this.remove(prefix, prefixLength, iface);
    let i = 0;
    while (i < this.routes.length && this.routes[i]!.prefixLength >= prefixLength) i++;
    this.routes.splice(i, 0, route);
    return route;
  }

  remove(prefix: Uint8Array, prefixLength: number, iface?: Ipv6Interface): boolean {
    const i = this.routes.findIndex((r) => r.prefixLength === prefixLength && ipv6PrefixMatch(r.prefix, 0, prefix, 0, prefixLength) &&
      (iface === undefined || r.iface === iface));
    if (i < 0) return false;
    this.routes.splice(i, 1);
    return true;
  }

  /** The route to exactly prefix/prefixLength on `iface`, if any. */
  find(prefix: Uint8Array, prefixLength: number, iface: Ipv6Interface): Route6 | undefined {
    return this.routes.find((r) => r.prefixLength === prefixLength && r.iface === iface && ipv6PrefixMatch(r.prefix, 0, prefix, 0, prefixLength));
  }

  /** Remove this very route (not another one to the same prefix that replaced it). */
  removeRoute(route: Route6): boolean {
    const i = this.routes.indexOf(route);
    if (i < 0) return false;
    this.routes.splice(i, 1);
    return true;
  }

  removeInterface(iface: Ipv6Interface): void {
    for (let i = this.routes.length - 1; i >= 0; i--) if (this.routes[i]!.iface === iface) this.routes.splice(i, 1);
  }

  lookup(dst: Ipv6Addr): Route6 | null {
    const b = dst.bytes;
    for (const r of this.routes) if (ipv6PrefixMatch(b, 0, r.prefix, 0, r.prefixLength)) return r;
    return null;
  }
}

export function describeRoute6(r: Route6): { destination: string; gateway: string; device: string; origin: string } {
  return {
    destination: `${ipv6ToString(r.prefix)}/${r.prefixLength}`,
    gateway: r.gateway === null ? '::' : r.gateway.toString(),
    device: `${r.iface.name} (${r.iface.device.name})`,
    origin: r.origin,
  };
}
