/**
 * The control socket's IPv6 routing table: list (for `pstack route -6`, like `ip -6 route`),
 * add and delete. Requests that cannot be done answer {"ok":false,"error":...} with the reason.
 *
 *   {"cmd":"routes6"}                                                   -> {"ok":true,"routes":[...]}
 *   {"cmd":"route6-add","network":"2001:db8:3::/64","gateway":"2001:db8:2::1","dev":"tapb"}
 *   {"cmd":"route6-del","network":"2001:db8:3::/64"}
 */

import { ipv6Prefix, ipv6PrefixMatch, ipv6ToString, isLinkLocalIpv6, isMulticastIpv6, parseIpv6, parseIpv6Cidr } from '../wire/addr6.js';
import { intern6, type Ipv6Addr } from '../stack/ip-address.js';
import type { Route6 } from '../stack/routes6.js';
import type { Ipv6Interface } from '../stack/ipv6-interface.js';
import type { Stack } from '../api/stack.js';

export interface Route6Json {
  /** The network, as 2001:db8:1::/64. */
  destination: string;
  prefixLength: number;
  /** The next hop, or null for a directly attached network. */
  gateway: string | null;
  interface: string;
  iface: string;
  /** interface (from an address), static (added), default or router-advertisement. */
  origin: string;
  /** U (up), G (via a gateway), H (a host route, /128), as route -6 -n. */
  flags: string;
}

type Answer = { ok: true; [key: string]: unknown } | { ok: false; error: string };

export function route6ToJson(r: Route6): Route6Json {
  return {
    destination: `${ipv6ToString(r.prefix)}/${r.prefixLength}`,
    prefixLength: r.prefixLength,
    gateway: r.gateway === null ? null : r.gateway.toString(),
    interface: r.iface.device.name,
    iface: r.iface.name,
    origin: r.origin,
    flags: 'U' + (r.gateway !== null ? 'G' : '') + (r.prefixLength === 128 ? 'H' : ''),
  };
}

export function routes6Json(stack: Stack): Route6Json[] {
  return (stack.ipv6?.routes.entries ?? []).map(route6ToJson);
}

/** "network" as 2001:db8::/64 (or "default"), with no host bits set. */
function network6(req: Record<string, unknown>): { prefix: Uint8Array; length: number } | string {
  const text = req['network'];
  if (typeof text !== 'string') return '"network" is required: an IPv6 network like 2001:db8:3::/64, or "default"';
  if (text === 'default') return { prefix: new Uint8Array(16), length: 0 };
  const cidr = parseIpv6Cidr(text);
  if (cidr === null) return `"network" ${JSON.stringify(text)} is not an IPv6 network like 2001:db8:3::/64`;
  const prefix = ipv6Prefix(cidr.address, cidr.prefixLength);
  if (!ipv6PrefixMatch(prefix, 0, cidr.address, 0, 128)) {
    return `${text} has host bits set; did you mean ${ipv6ToString(prefix)}/${cidr.prefixLength}?`;
  }
  return { prefix, length: cidr.prefixLength };
}

function findInterface6(stack: Stack, name: string): Ipv6Interface | string {
  const list = stack.ipv6?.interfaces.filter((i) => !i.isLoopback) ?? [];
  const iface = list.find((i) => i.device.name === name || i.name === name);
  return iface ?? `no IPv6 interface named ${JSON.stringify(name)} (have ${list.map((i) => i.device.name).join(', ')})`;
}

export function addRoute6(stack: Stack, req: Record<string, unknown>): Answer {
  const v6 = stack.ipv6;
  if (v6 === null) return { ok: false, error: 'this server runs no IPv6 (give --addr with an IPv6 CIDR)' };
  const net = network6(req);
  if (typeof net === 'string') return { ok: false, error: net };
  const gatewayText = req['gateway'];
  const devText = req['dev'];
  if (gatewayText !== undefined && typeof gatewayText !== 'string') return { ok: false, error: '"gateway" must be a string' };
  if (devText !== undefined && typeof devText !== 'string') return { ok: false, error: '"dev" must be a string' };
  if (gatewayText === undefined && devText === undefined) return { ok: false, error: 'give a "gateway" (next hop) or a "dev" (directly attached network)' };
  let gateway: Ipv6Addr | null = null;
  if (gatewayText !== undefined) {
    const g = parseIpv6(gatewayText);
    if (g === null) return { ok: false, error: `"gateway" ${JSON.stringify(gatewayText)} is not an IPv6 address` };
    if (isMulticastIpv6(g)) return { ok: false, error: `gateway ${gatewayText} is a multicast address` };
    gateway = intern6(g);
    if (stack.ipv6!.isLocalAddress(gateway)) return { ok: false, error: `gateway ${gatewayText} is one of pstack's own addresses` };
  }
  let iface: Ipv6Interface | undefined;
  if (devText !== undefined) {
    const found = findInterface6(stack, devText);
    if (typeof found === 'string') return { ok: false, error: found };
    iface = found;
  } else if (gateway !== null) {
    // The gateway must be on an attached network (a link-local one needs "dev").
    if (isLinkLocalIpv6(gateway.bytes)) return { ok: false, error: `a link-local gateway needs "dev" (which link ${gatewayText} is on)` };
    const onLink = v6.routes.lookup(gateway);
    if (onLink === null || onLink.gateway !== null) return { ok: false, error: `gateway ${gatewayText} is not on any attached network` };
    iface = onLink.iface;
  }
  if (v6.routes.entries.some((r) => r.prefixLength === net.length && ipv6PrefixMatch(r.prefix, 0, net.prefix, 0, 128))) {
    return { ok: false, error: `a route to ${ipv6ToString(net.prefix)}/${net.length} exists already (delete it first)` };
  }
  const route = v6.addRoute(net.prefix, net.length, gateway, iface!.device, net.length === 0 ? 'default' : 'static');
  return { ok: true, route: route6ToJson(route) };
}

export function deleteRoute6(stack: Stack, req: Record<string, unknown>): Answer {
  const v6 = stack.ipv6;
  if (v6 === null) return { ok: false, error: 'this server runs no IPv6 (give --addr with an IPv6 CIDR)' };
  const net = network6(req);
  if (typeof net === 'string') return { ok: false, error: net };
  const existing = v6.routes.entries.find((r) => r.prefixLength === net.length && ipv6PrefixMatch(r.prefix, 0, net.prefix, 0, 128));
  if (existing === undefined) return { ok: false, error: `no route to ${ipv6ToString(net.prefix)}/${net.length}` };
  const json = route6ToJson(existing);
  v6.routes.remove(existing.prefix, existing.prefixLength, existing.iface);
  return { ok: true, route: json };
}
