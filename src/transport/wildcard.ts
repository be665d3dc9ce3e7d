/**
 * Which addresses a bound socket takes, for both families, as Linux decides it: a socket on
 * 0.0.0.0 takes IPv4; one on `::` takes IPv6 and, unless it is v6-only (IPV6_V6ONLY), IPv4
 * too (the application sees such peers as ::ffff:a.b.c.d); any other address takes itself.
 * TCP's listener table and UDP's port table share these rules.
 */

import { IN6ADDR_ANY, isAnyAddress, type IpAddress } from '../stack/network.js';

/** Whether a socket bound to `bound` takes traffic addressed to `addr`. */
export function bindingTakes(bound: IpAddress, v6Only: boolean, addr: IpAddress): boolean {
  if (bound === addr) return true;
  if (bound === 0) return typeof addr === 'number';
  if (bound === IN6ADDR_ANY) return typeof addr !== 'number' || !v6Only;
  return false;
}

/** Whether two bindings of one port overlap (Linux's bind conflict without SO_REUSEADDR). */
export function bindingsOverlap(a: IpAddress, aV6Only: boolean, b: IpAddress, bV6Only: boolean): boolean {
  if (a === b) return true;
  return (isAnyAddress(a) && bindingTakes(a, aV6Only, b)) || (isAnyAddress(b) && bindingTakes(b, bV6Only, a));
}
