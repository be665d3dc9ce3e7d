/**
 * The process's default stack, opened once from the environment (env-config.ts): what the
 * preload and the bound subpath modules use. The TAP is unref'd, so, as with Node's own
 * network, only open sockets and servers keep the process alive; when the event loop runs
 * out of work, a DHCP lease is given back (DHCPRELEASE) and the stack closes.
 */

import { openTapHost, type TapHost } from './tap-host.js';
import { configFromEnv } from './env-config.js';
import type { Stack } from './stack.js';

let opening: Promise<TapHost> | null = null;

export function defaultStack(env: Record<string, string | undefined> = process.env): Promise<Stack> {
  opening ??= open(env);
  return opening.then((host) => host.stack);
}

async function open(env: Record<string, string | undefined>): Promise<TapHost> {
  const config = configFromEnv(env);
  const host = await openTapHost({
    taps: [{ name: config.tap, addr: config.addr, hostAddr: null, mac: config.mac }],
    gateway: config.gateway,
    dns: config.dns,
    warmUp: config.warmUp,
  });
  for (const tap of host.taps) tap.unref();
  process.once('beforeExit', () => host.close());
  return host;
}
