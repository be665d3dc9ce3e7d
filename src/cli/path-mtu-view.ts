/**
 * The path MTU caches as `pstack route cache` shows them (like `ip route show cache`): per
 * destination the learned path MTU, how long it holds, and whether a report below the floor
 * locked it; and their counters for `pstack stats`.
 */

import { ipv4ToString } from '../wire/addr.js';
import type { Stack } from '../api/stack.js';
import type { PathMtuCache, PathMtuStats } from '../stack/path-mtu.js';

export interface PathMtuJson {
  destination: string;
  family: 'inet' | 'inet6';
  mtu: number;
  /** Seconds until it expires and the link MTU is tried again. */
  expiresInSeconds: number;
  locked: boolean;
}

function entries<K>(cache: PathMtuCache<K>, family: 'inet' | 'inet6', now: number, show: (k: K) => string): PathMtuJson[] {
  return cache.list().map((e) => ({ destination: show(e.destination), family, mtu: e.mtu, expiresInSeconds: Math.ceil((e.expiresAt - now) / 1000), locked: e.locked }));
}

export function pathMtuJson(stack: Stack): PathMtuJson[] {
  const now = stack.clock.now();
  const out = entries(stack.pathMtuCache, 'inet', now, ipv4ToString);
  if (stack.ipv6 !== null) out.push(...entries(stack.ipv6.pathMtuCache, 'inet6', now, (a) => a.toString()));
  return out;
}

function named(prefix: string, s: PathMtuStats): Record<string, number> {
  return {
    [`${prefix}Lowered`]: s.lowered, [`${prefix}Ignored`]: s.ignored, [`${prefix}BelowFloor`]: s.belowFloor,
    [`${prefix}Expired`]: s.expired, [`${prefix}Evicted`]: s.evicted,
  };
}

/** pmtuXxx (IPv4) and pmtu6Xxx (IPv6) counters, and the entries held. */
export function pathMtuCounters(stack: Stack): Record<string, number> {
  const out = { ...named('pmtu', stack.pathMtuCache.stats), pmtuEntries: stack.pathMtuCache.size };
  if (stack.ipv6 !== null) Object.assign(out, named('pmtu6', stack.ipv6.pathMtuCache.stats), { pmtu6Entries: stack.ipv6.pathMtuCache.size });
  return out;
}

/** `ip route show cache`-like lines: "198.51.100.2 mtu 1280 expires 598sec". */
export function formatPathMtuCache(list: PathMtuJson[]): string {
  if (list.length === 0) return 'no cached path MTUs\n';
  let out = '';
  for (const e of list) out += `${e.destination} mtu ${e.locked ? 'lock ' : ''}${e.mtu} expires ${e.expiresInSeconds}sec\n`;
  return out;
}
