/**
 * The control socket's IPv6 answers: a running server's IPv6 addresses per device (for
 * `pstack addr`, like `ip -6 addr`) and its neighbor cache (for `pstack neigh`, like
 * `ip -6 neigh`). Empty when the server runs no IPv6.
 */

import { macToString } from '../wire/addr.js';
import { isLoopbackIpv6 } from '../wire/addr6.js';
import { compareIpv6 } from '../wire/addr6.js';
import type { Stack } from '../api/stack.js';

export interface Addr6Json {
  interface: string;
  iface: string;
  mac: string;
  mtu: number;
  addresses: Array<{ address: string; prefixLength: number; scope: 'host' | 'link' | 'global'; state: string; origin: string }>;
  /** Multicast groups joined on the device. */
  groups: string[];
}

export interface Neigh6Json {
  ip: string;
  /** null while INCOMPLETE. */
  mac: string | null;
  state: string;
  router: boolean;
  interface: string;
  /** Seconds until the state ends (next probe, expiry). */
  expiresIn: number;
  probes: number;
  queued: number;
}

export function addr6Json(stack: Stack): Addr6Json[] {
  return (stack.ipv6?.interfaces ?? []).map((i) => ({
    interface: i.device.name,
    iface: i.name,
    mac: macToString(i.device.mac),
    mtu: i.mtu,
    addresses: i.addresses.map((a) => ({
      address: a.address.toString(),
      prefixLength: a.prefixLength,
      scope: isLoopbackIpv6(a.address.bytes) ? 'host' as const : a.isLinkLocal ? 'link' as const : 'global' as const,
      state: a.state,
      origin: a.origin,
    })),
    groups: i.joinedGroups.map((g) => g.toString()),
  }));
}

export function neigh6Json(stack: Stack): Neigh6Json[] {
  if (stack.ipv6 === null) return [];
  const now = stack.clock.now();
  return [...stack.ipv6.neighbors.all()]
    .sort((a, b) => compareIpv6(a.ip.bytes, b.ip.bytes))
    .map((e) => ({
      ip: e.ip.toString(),
      mac: e.state === 'incomplete' ? null : macToString(e.mac),
      state: e.state,
      router: e.isRouter,
      interface: e.iface.device.name,
      expiresIn: Math.max(0, Math.ceil((e.expiresAt - now) / 1000)),
      probes: e.probes,
      queued: e.queue.length,
    }));
}
