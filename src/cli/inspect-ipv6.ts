/**
 * `pstack addr` and `pstack neigh`: a running server's IPv6 addresses and neighbor cache,
 * printed the way `ip -6 addr` and `ip -6 neigh` print the kernel's.
 */

import { UsageError } from './errors.js';
import { SOCKET_OPTIONS, SOCKET_OPTIONS_USAGE, ask, parse, printJson, socketChoice } from './inspect.js';
import type { Addr6Json, Neigh6Json } from './control-ipv6.js';

export const ADDR_USAGE = `usage: pstack addr [options]     IPv6 addresses per device, with DAD state and lifetimes (like ip -6 addr),
                                 and the routers and DNS servers router advertisements gave
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
      // An autoconfigured address is "dynamic", with its lifetimes on the next line.
      const dynamic = a.origin === 'autoconf';
      out += `    inet6 ${a.address}/${a.prefixLength} scope ${a.scope}${dynamic ? ' dynamic' : ''}${a.deprecated === true ? ' deprecated' : ''}${flags}\n`;
      if (dynamic) out += `       valid_lft ${lifetimeText(a.validLifetime)} preferred_lft ${lifetimeText(a.preferredLifetime)}\n`;
    }
    for (const r of i.routers ?? []) {
      out += `    router ${r.address} lifetime ${r.lifetime}sec preference ${r.preference}${r.default ? ' default' : ''}\n`;
    }
    for (const d of i.dnsServers ?? []) out += `    dns ${d.address} lifetime ${lifetimeText(d.lifetime)}\n`;
    for (const d of i.searchDomains ?? []) out += `    search ${d.domain} lifetime ${lifetimeText(d.lifetime)}\n`;
  });
  return out;
}

function lifetimeText(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? 'forever' : `${seconds}sec`;
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
