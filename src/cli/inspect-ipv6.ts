/**
 * `pstack addr` and `pstack neigh`: a running server's IPv6 addresses and neighbor cache,
 * printed the way `ip -6 addr` and `ip -6 neigh` print the kernel's.
 */

import { UsageError } from './errors.js';
import { SOCKET_OPTIONS, SOCKET_OPTIONS_USAGE, ask, parse, printJson, socketChoice } from './inspect.js';
import type { Addr6Json, Neigh6Json } from './control-ipv6.js';

export const ADDR_USAGE = `usage: pstack addr [options]     IPv6 addresses per device, with DAD state (like ip -6 addr)
${SOCKET_OPTIONS_USAGE}`;

export const NEIGH_USAGE = `usage: pstack neigh [options]    the IPv6 neighbor cache with NUD states (like ip -6 neigh)
${SOCKET_OPTIONS_USAGE}`;

export function formatAddr6(interfaces: Addr6Json[]): string {
  let out = '';
  interfaces.forEach((i, n) => {
    out += `${n + 1}: ${i.interface}: mtu ${i.mtu}\n`;
    if (i.interface !== 'lo') out += `    link/ether ${i.mac}\n`;
    for (const a of i.addresses) {
      // As ip -6 addr words them: an address DAD found on another host stays tentative for good.
      const flags = a.state === 'preferred' ? '' : a.state === 'duplicate' ? ' tentative dadfailed' : ` ${a.state}`;
      out += `    inet6 ${a.address}/${a.prefixLength} scope ${a.scope}${flags}${a.origin === 'static' || a.origin === 'link-local' ? '' : ` ${a.origin}`}\n`;
    }
  });
  return out;
}

export function formatNeigh6(entries: Neigh6Json[]): string {
  return entries.map((e) => {
    const ll = e.mac !== null ? ` lladdr ${e.mac}` : '';
    return `${e.ip} dev ${e.interface}${ll}${e.router ? ' router' : ''} ${e.state.toUpperCase()}\n`;
  }).join('');
}

async function simple(argv: string[], usage: string, cmd: 'addr6' | 'neigh6', format: (r: Record<string, unknown>) => string): Promise<number> {
  const parsed = parse(argv, SOCKET_OPTIONS);
  if (parsed.values.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals.join(' '))}`);
  const choice = socketChoice(parsed.values);
  const response = await ask(choice, { cmd });
  if (choice.json) printJson(response);
  else process.stdout.write(format(response));
  return 0;
}

export function runAddr(argv: string[]): Promise<number> {
  return simple(argv, ADDR_USAGE, 'addr6', (r) => formatAddr6(r['interfaces'] as Addr6Json[]));
}

export function runNeigh(argv: string[]): Promise<number> {
  return simple(argv, NEIGH_USAGE, 'neigh6', (r) => formatNeigh6(r['entries'] as Neigh6Json[]));
}
