/**
 * The process's default stack, opened once from the environment (env-config.ts): what the
 * preload and the bound subpath modules use. The TAP is unref'd, so, as with Node's own
 * network, only open sockets and servers keep the process alive; when the event loop runs
 * out of work, a DHCP lease is given back (DHCPRELEASE) and the stack closes.
 *
 * With IPv6 (on unless PSTACK_IPV6=off), the program starts once the addresses have passed
 * Duplicate Address Detection and, with SLAAC, once the link's routers have had their chance
 * to answer the router solicitation: a program is started on a host whose network is already
 * configured, and expects its first connection to a name (RDNSS) or a global address to work.
 */

import { openTapHost, type TapHost } from './tap-host.js';
import { configFromEnv } from './env-config.js';
import type { Stack } from './stack.js';

/**
 * How long the start waits for a first router advertisement once the link-local address is
 * usable: the solicitation leaves within a second (RFC 4861 6.3.7), and a router answers within
 * half a second (MAX_RA_DELAY_TIME), or 3 s when it advertised just before (MIN_DELAY_BETWEEN_RAS,
 * 6.2.6). With no IPv6 router on the link, the start is this much later (PSTACK_SLAAC=off or
 * PSTACK_IPV6=off there).
 */
const ROUTER_WAIT_MS = 4_500;

let opening: Promise<TapHost> | null = null;

export function defaultStack(env: Record<string, string | undefined> = process.env): Promise<Stack> {
  opening ??= open(env);
  return opening.then((host) => host.stack);
}

async function open(env: Record<string, string | undefined>): Promise<TapHost> {
  const config = configFromEnv(env);
  const host = await openTapHost({
    taps: [{ name: config.tap, addr: config.addr, hostAddr: null, mac: config.mac, addrs6: config.addrs6.map((addr) => ({ addr, hostAddr: null })) }],
    gateway: config.gateway,
    dns: config.dns,
    warmUp: config.warmUp,
    stack: { ipv6: config.ipv6 ? { slaac: config.slaac } : false },
  });
  // The taps are unref'd only after the wait, which they keep alive.
  if (config.ipv6 && config.slaac) await firstRouterAdvertisement(host.stack, ROUTER_WAIT_MS);
  for (const tap of host.taps) tap.unref();
  process.once('beforeExit', () => host.close());
  return host;
}

/** Wait (at most `ms`) for a router advertisement, then for the addresses it gave to pass DAD. */
async function firstRouterAdvertisement(stack: Stack, ms: number): Promise<void> {
  const v6 = stack.ipv6;
  if (v6 === null) return;
  const rd = v6.routerDiscovery;
  const heard = () => rd.routers.length > 0 || rd.prefixes.length > 0 || rd.dnsServers.length > 0;
  const end = Date.now() + ms;
  while (!heard() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
  if (heard()) await v6.whenAddressesSettled();
}
