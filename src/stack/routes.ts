/**
 * The routing table: longest-prefix match over (network, prefix) entries, each naming an
 * outgoing interface and an optional next hop (a gateway); 0 means directly attached.
 */

import { prefixToMask, ipv4ToString, type Ipv4Address } from '../wire/addr.js';
import type { Interface } from './interface.js';

export interface Route {
  network: Ipv4Address;
  prefixLength: number;
  mask: number;
  /** Gateway to hand the packet to, or 0 for "deliver directly to the destination". */
  nextHop: Ipv4Address;
  iface: Interface;
  /** Where it came from: "interface" (connected), "static" (configured), "default". */
  origin: 'interface' | 'static' | 'default';
}

export class RouteTable {
  // Kept sorted by prefix length, longest first, so the first match is the longest. Tables
  // here are small (a handful of entries); a trie would pay off only for thousands.
  private readonly routes: Route[] = [];

  get entries(): readonly Route[] {
    return this.routes;
  }

  add(network: Ipv4Address, prefixLength: number, nextHop: Ipv4Address, iface: Interface, origin: Route['origin'] = 'static'): Route {
    const mask = prefixToMask(prefixLength);
    const route: Route = { network: (network & mask) >>> 0, prefixLength, mask, nextHop, iface, origin };
    this.remove(route.network, prefixLength);
    let i = 0;
    while (i < this.routes.length && this.routes[i]!.prefixLength >= prefixLength) i++;
    this.routes.splice(i, 0, route);
    return route;
  }

  /** Remove the route for exactly this network/prefix; returns whether one was removed. */
  remove(network: Ipv4Address, prefixLength: number): boolean {
    const mask = prefixToMask(prefixLength);
    const net = (network & mask) >>> 0;
    const i = this.routes.findIndex((r) => r.network === net && r.prefixLength === prefixLength);
    if (i < 0) return false;
    this.routes.splice(i, 1);
    return true;
  }

  removeInterface(iface: Interface): void {
    for (let i = this.routes.length - 1; i >= 0; i--) if (this.routes[i]!.iface === iface) this.routes.splice(i, 1);
  }

  lookup(dst: Ipv4Address): Route | null {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      if (((dst & r.mask) >>> 0) === r.network) return r;
    }
    return null;
  }
}

export function describeRoute(r: Route): { network: string; netmask: string; nextHop: string; unicast: string; device: string; prefixLength: number; origin: string } {
  return {
    network: ipv4ToString(r.network),
    netmask: ipv4ToString(r.mask),
    prefixLength: r.prefixLength,
    nextHop: ipv4ToString(r.nextHop),
    unicast: ipv4ToString(r.iface.address),
    device: `${r.iface.name} (${r.iface.device.name})`,
    origin: r.origin,
  };
}
