/**
 * The default stack's configuration from the environment, for the preload (register.ts) and
 * the bound subpath modules (pstack/net, pstack/dgram, pstack/dns):
 *
 *   PSTACK_TAP      the TAP device (default tap0; created if absent)
 *   PSTACK_ADDR     pstack's address as a CIDR, or "dhcp" (default)
 *   PSTACK_GATEWAY  the default gateway (with DHCP: the lease's routers)
 *   PSTACK_DNS      DNS servers, comma-separated (with DHCP: the lease's, unless given)
 *   PSTACK_MAC      pstack's MAC (default 00:00:5e:00:53:01)
 *   PSTACK_IPV6     "on" (default: a link-local address, and SLAAC, routes and RDNSS servers
 *                   from router advertisements) or "off" (IPv4 only)
 *   PSTACK_ADDR6    static IPv6 addresses as CIDRs, comma-separated (like 2001:db8::2/64)
 *   PSTACK_SLAAC    "on" (default) or "off": take nothing from router advertisements
 *   PSTACK_WARMUP   the start-up warm-up (warm-up.ts): "off" (default), "on", or its CPU
 *                   budget in milliseconds. Off by default here because a program run under
 *                   the preload is often short-lived and would pay the budget at every start.
 *
 * pstack configures nothing on the kernel's side of the tap: that side belongs to whoever
 * runs the network there (a DHCP server, a bridge, a test).
 */

import { parseCidr, parseIpv4, parseMac, type Ipv4Address, type Ipv4Cidr } from '../wire/addr.js';
import { parseIpv6Cidr, type Ipv6Cidr } from '../wire/addr6.js';
import { DEFAULT_TAP_MAC } from '../link/tap.js';
import { parseServerList } from './dns/servers.js';

export interface EnvConfig {
  tap: string;
  addr: Ipv4Cidr | 'dhcp';
  gateway: Ipv4Address | null;
  dns: string[] | undefined;
  mac: Uint8Array;
  /** Whether IPv6 runs (link-local address, then what PSTACK_ADDR6 and routers give). */
  ipv6: boolean;
  /** Static IPv6 addresses (PSTACK_ADDR6). */
  addrs6: Ipv6Cidr[];
  /** Autoconfiguration from router advertisements (addresses, routes, DNS servers). */
  slaac: boolean;
  /** false, or the warm-up's CPU budget in milliseconds (undefined: its default). */
  warmUp: false | { budgetMs?: number };
}

/** Thrown for a variable that does not parse: its message is the one line a user sees. */
export class EnvConfigError extends Error {}

export function configFromEnv(env: Record<string, string | undefined>): EnvConfig {
  const tap = env['PSTACK_TAP'] ?? 'tap0';
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/.test(tap)) throw new EnvConfigError(`invalid PSTACK_TAP ${JSON.stringify(tap)}: an interface name of 1 to 15 letters, digits, '-', '_' or '.'`);
  const addrText = env['PSTACK_ADDR'] ?? 'dhcp';
  let addr: Ipv4Cidr | 'dhcp' = 'dhcp';
  if (addrText !== 'dhcp') {
    const cidr = parseCidr(addrText);
    if (cidr === null || cidr.prefixLength === 0 || cidr.prefixLength > 30) throw new EnvConfigError(`invalid PSTACK_ADDR ${JSON.stringify(addrText)}: expected "dhcp" or an address with a prefix length, like 192.0.2.2/24`);
    addr = cidr;
  }
  const gatewayText = env['PSTACK_GATEWAY'];
  let gateway: Ipv4Address | null = null;
  if (gatewayText !== undefined && gatewayText !== '' && gatewayText !== 'none') {
    gateway = parseIpv4(gatewayText);
    if (gateway === null) throw new EnvConfigError(`invalid PSTACK_GATEWAY ${JSON.stringify(gatewayText)}: expected an IPv4 address like 192.0.2.1`);
  }
  const dnsText = env['PSTACK_DNS'];
  let dns: string[] | undefined;
  if (dnsText !== undefined && dnsText !== '') {
    const list = parseServerList(dnsText);
    if ('bad' in list) throw new EnvConfigError(`invalid PSTACK_DNS ${JSON.stringify(dnsText)}: expected addresses separated by commas, like 192.0.2.1,2001:db8::1`);
    dns = list.servers;
  }
  const macText = env['PSTACK_MAC'];
  const mac = macText !== undefined ? parseMac(macText) : DEFAULT_TAP_MAC;
  if (mac === null) throw new EnvConfigError(`invalid PSTACK_MAC ${JSON.stringify(macText)}: expected six hex bytes like 00:00:5e:00:53:01`);
  const warmText = env['PSTACK_WARMUP'] ?? 'off';
  let warmUp: false | { budgetMs?: number };
  if (warmText === 'off') warmUp = false;
  else if (warmText === 'on') warmUp = {};
  else if (/^[0-9]{1,6}$/.test(warmText) && Number(warmText) > 0) warmUp = { budgetMs: Number(warmText) };
  else throw new EnvConfigError(`invalid PSTACK_WARMUP ${JSON.stringify(warmText)}: expected "off", "on" or a CPU budget in milliseconds like 1000`);
  const ipv6Text = env['PSTACK_IPV6'] ?? 'on';
  if (ipv6Text !== 'on' && ipv6Text !== 'off') throw new EnvConfigError(`invalid PSTACK_IPV6 ${JSON.stringify(ipv6Text)}: expected "on" or "off"`);
  const ipv6 = ipv6Text === 'on';
  const slaacText = env['PSTACK_SLAAC'] ?? 'on';
  if (slaacText !== 'on' && slaacText !== 'off') throw new EnvConfigError(`invalid PSTACK_SLAAC ${JSON.stringify(slaacText)}: expected "on" or "off"`);
  const addr6Text = env['PSTACK_ADDR6'] ?? '';
  const addrs6: Ipv6Cidr[] = [];
  for (const item of addr6Text.split(',').map((t) => t.trim()).filter((t) => t !== '')) {
    const cidr = parseIpv6Cidr(item);
    if (cidr === null || cidr.prefixLength === 0 || cidr.prefixLength > 126) throw new EnvConfigError(`invalid PSTACK_ADDR6 ${JSON.stringify(addr6Text)}: ${JSON.stringify(item)} is not an IPv6 address with a prefix length from 1 to 126, like 2001:db8::2/64`);
    addrs6.push(cidr);
  }
  if (!ipv6 && addrs6.length > 0) throw new EnvConfigError(`PSTACK_ADDR6 is set but PSTACK_IPV6 is "off": unset one of them`);
  return { tap, addr, gateway, dns, mac, ipv6, addrs6, slaac: slaacText === 'on', warmUp };
}
