/**
 * The control socket's IPv6 answers: a running server's IPv6 addresses per device (for
 * `pstack addr`, like `ip -6 addr`) and its neighbor cache (for `pstack neigh`, like
 * `ip -6 neigh`). Empty when the server runs no IPv6. The addresses come with their
 * lifetimes, and each interface with what router advertisements gave it: default routers and
 * DNS servers (RDNSS).
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
  addresses: Array<{
    address: string; prefixLength: number; scope: 'host' | 'link' | 'global'; state: string; origin: string;
    /** Seconds left of the valid and preferred lifetimes (null: forever); deprecated once the preferred one ended. */
    validLifetime?: number | null; preferredLifetime?: number | null; deprecated?: boolean;
  }>;
  /** Multicast groups joined on the device. */
  groups: string[];
  /** Default routers learned from router advertisements, with seconds left and preference. */
  routers?: Array<{ address: string; lifetime: number; preference: 'high' | 'medium' | 'low'; default: boolean }>;
  /** DNS servers from router advertisements (RDNSS), with seconds left (null: forever). */
  dnsServers?: Array<{ address: string; lifetime: number | null }>;
  /** DNS search domains from router advertisements (DNSSL), with seconds left (null: forever). */
  searchDomains?: Array<{ domain: string; lifetime: number | null }>;
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

/** Seconds left until `until` (a clock time in ms), null for forever. */
function secondsLeft(until: number, now: number): number | null {
  return until === Infinity ? null : Math.max(0, Math.floor((until - now) / 1000));
}

export function addr6Json(stack: Stack): Addr6Json[] {
  const v6 = stack.ipv6;
  if (v6 === null) return [];
  const now = stack.clock.now();
  const rd = v6.routerDiscovery;
  return v6.interfaces.map((i) => {
    const best = rd.bestRouter(i);
    return {
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
        validLifetime: secondsLeft(a.validUntil, now),
        preferredLifetime: a.deprecated ? 0 : secondsLeft(a.preferredUntil, now),
        deprecated: a.deprecated,
      })),
      groups: i.joinedGroups.map((g) => g.toString()),
      routers: rd.routers.filter((r) => r.iface === i).map((r) => ({
        address: r.address.toString(),
        lifetime: secondsLeft(r.expiresAt, now) ?? 0,
        preference: r.preference > 0 ? 'high' as const : r.preference < 0 ? 'low' as const : 'medium' as const,
        default: r === best,
      })),
      dnsServers: rd.dnsServers.filter((d) => d.iface === i).map((d) => ({ address: d.address.toString(), lifetime: secondsLeft(d.expiresAt, now) })),
      searchDomains: rd.searchDomains.filter((d) => d.iface === i).map((d) => ({ domain: d.domain, lifetime: secondsLeft(d.expiresAt, now) })),
    };
  });
}

export function neigh6Json(stack: Stack): Neigh6Json[] {
  if (stack.ipv6 === null) return [];
  const now = stack.clock.now();
  return [...stack.ipv6.neighbors.all()]
    .sort((a, b) => compareIpv6(a.ip.bytes, b.ip.bytes))
    .map((e) => ({
      ip: e.ip.toString(),
      mac: e.state === 'incomplete' || e.state === 'failed' ? null : macToString(e.mac),
      state: e.state,
      router: e.isRouter,
      interface: e.iface.device.name,
      expiresIn: Math.max(0, Math.ceil((e.expiresAt - now) / 1000)),
      probes: e.probes,
      queued: e.queue.length,
    }));
}
