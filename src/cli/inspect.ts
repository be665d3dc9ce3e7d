/**
 * Inspection commands that ask a running `pstack server` over its control socket and print the
 * answer the way the classic tools do, so a learner can put them side by side:
 *
 *   pstack route     like route -n        pstack arp      like arp -a (plus state and expiry)
 *   pstack netstat   like netstat -tuna   pstack stats    like netstat -s (drops by reason too)
 *   pstack maddr     like ip maddr (with each group's source filter)
 *
 * `--json` prints the server's JSON response instead, for scripts.
 */

import { parseArgs } from 'node:util';
import { parseCidr, parseIpv4, parseMac, ipv4ToString } from '../wire/addr.js';
import { parseIpv6, parseIpv6Cidr } from '../wire/addr6.js';
import type { Route6Json } from './control-routes6.js';
import { UsageError, FatalError } from './errors.js';
import { LIMITS, limitHits } from './limits.js';
import { formatPathMtuCache, type PathMtuJson } from './path-mtu-view.js';
import {
  controlRequest, defaultControlPath,
  type ArpEntryJson, type ControlResponse, type EndpointJson, type MaddrJson, type RouteJson, type StatsJson,
} from './control.js';

export const SOCKET_OPTIONS_USAGE = `  --tap NAME          ask the server running on this tap (default tap0)
  --control PATH      ask the server listening on this control socket (default /run/pstack/<tap>.sock)
  --json              print the server's JSON answer (for scripts)
  -h, --help          show this help`;

export const ROUTE_USAGE = `usage: pstack route [-6] [options]                         show the routing table (like route -n; -6: IPv6's)
       pstack route add NET/PREFIX via GATEWAY [dev NAME]  add a route through a gateway
       pstack route add NET/PREFIX dev NAME                add a directly attached network
       pstack route del NET/PREFIX                         delete a route
       pstack route cache                                  path MTUs learned per destination (like ip route show cache)
NET/PREFIX may be "default" (0.0.0.0/0; with -6, ::/0). An IPv6 NET/PREFIX (2001:db8:3::/64)
or GATEWAY changes the IPv6 table; a link-local gateway needs dev NAME.
${SOCKET_OPTIONS_USAGE}`;

export const ARP_USAGE = `usage: pstack arp [options]              show the ARP cache (like arp -a, with state and expiry)
       pstack arp -d IP [options]        delete the entry for IP
       pstack arp -s IP MAC [options]    add a permanent entry
${SOCKET_OPTIONS_USAGE}`;

export const NETSTAT_USAGE = `usage: pstack netstat [options]    list UDP and TCP endpoints (like netstat -tuna)
  -t, --tcp           TCP only
  -u, --udp           UDP only
  -a, -n              accepted for habit's sake (every endpoint is listed, numerically)
${SOCKET_OPTIONS_USAGE}`;

export const MADDR_USAGE = `usage: pstack maddr [options]      multicast groups joined per interface (like ip maddr), with source filters
${SOCKET_OPTIONS_USAGE}`;

export const STATS_USAGE = `usage: pstack stats [options]      counters per protocol (like netstat -s), drops by reason
${SOCKET_OPTIONS_USAGE}`;

export const SOCKET_OPTIONS = {
  tap: { type: 'string' },
  control: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface SocketChoice {
  path: string;
  json: boolean;
}

export function socketChoice(values: { tap?: string; control?: string; json?: boolean }): SocketChoice {
  if (values.tap !== undefined && values.control !== undefined) throw new UsageError('give --tap or --control, not both');
  const tap = values.tap ?? 'tap0';
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/.test(tap)) throw new UsageError(`invalid --tap ${JSON.stringify(tap)}: an interface name of 1 to 15 letters, digits, '-', '_' or '.'`);
  if (values.control === '') throw new UsageError('--control needs a path');
  return { path: values.control ?? defaultControlPath(tap), json: values.json ?? false };
}

export interface ParsedArgs<T> {
  values: { [K in keyof T]?: T[K] extends { type: 'string' } ? string : boolean };
  positionals: string[];
}

export function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(argv: string[], options: T): ParsedArgs<T> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as unknown as ParsedArgs<T>;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
}

/** Ask the server; an {"ok":false} answer becomes one line on stderr and exit status 1. */
export async function ask(choice: SocketChoice, request: Record<string, unknown>): Promise<ControlResponse & { ok: true }> {
  const response = await controlRequest(choice.path, request);
  if (response.ok !== true) throw new FatalError(String((response as { error?: unknown }).error ?? 'the server refused the request'));
  return response;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

// ------------------------------------------------------------------------------ route

/** "default" or a.b.c.d/n with no host bits set. */
export function parseRouteNetwork(text: string, v6 = false): { network: string; prefix: number } {
  if (text === 'default') return { network: v6 ? '::' : '0.0.0.0', prefix: 0 };
  if (v6 || text.includes(':')) {
    const c6 = parseIpv6Cidr(text);
    if (c6 === null) throw new UsageError(`invalid network ${JSON.stringify(text)}: expected NET/PREFIX like 2001:db8:3::/64, or "default"`);
    return { network: text.split('/')[0]!, prefix: c6.prefixLength };
  }
  const cidr = parseCidr(text);
  if (cidr === null) throw new UsageError(`invalid network ${JSON.stringify(text)}: expected NET/PREFIX like 203.0.113.0/24, or "default"`);
  return { network: ipv4ToString(cidr.address), prefix: cidr.prefixLength };
}

export type RouteAction =
  | { action: 'list' }
  | { action: 'cache' }
  | { action: 'add'; network: string; prefix: number; gateway?: string; dev?: string; v6?: boolean }
  | { action: 'del'; network: string; prefix: number; v6?: boolean };

/** The words after `pstack route`: nothing, `add NET via GW [dev NAME]`, `add NET dev NAME` or `del NET`. */
export function parseRouteWords(words: string[], v6Flag = false): RouteAction {
  if (words.length === 0 || (words.length === 1 && (words[0] === 'show' || words[0] === 'list'))) return { action: 'list' };
  if (words[0] === 'cache' || (words[0] === 'show' && words[1] === 'cache')) {
    if (words.length > (words[0] === 'cache' ? 1 : 2)) throw new UsageError(`unexpected ${JSON.stringify(words.slice(words[0] === 'cache' ? 1 : 2).join(' '))} after route cache`);
    return { action: 'cache' };
  }
  const [verb, net, ...rest] = words;
  if (verb === 'del' || verb === 'delete') {
    if (net === undefined) throw new UsageError('route del needs a network: pstack route del 203.0.113.0/24');
    if (rest.length > 0) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' '))} after route del ${net}`);
    const v6 = v6Flag || net.includes(':');
    return { action: 'del', ...parseRouteNetwork(net, v6), ...(v6 ? { v6 } : {}) };
  }
  if (verb !== 'add') throw new UsageError(`unknown route action ${JSON.stringify(verb)}: use add or del (or nothing, to list)`);
  if (net === undefined) throw new UsageError('route add needs a network: pstack route add 203.0.113.0/24 via 192.0.2.1');
  const v6 = v6Flag || net.includes(':') || rest.some((w, i) => (rest[i - 1] === 'via' || rest[i - 1] === 'gw') && w.includes(':'));
  const result: RouteAction = { action: 'add', ...parseRouteNetwork(net, v6), ...(v6 ? { v6 } : {}) };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]!;
    const value = rest[i + 1];
    if (value === undefined) throw new UsageError(`route add: "${key}" needs a value`);
    if (key === 'via' || key === 'gw') {
      if (v6 ? parseIpv6(value) === null : parseIpv4(value) === null) {
        throw new UsageError(`route add: invalid gateway ${JSON.stringify(value)}: expected an ${v6 ? 'IPv6 address like 2001:db8:2::1' : 'IPv4 address like 192.0.2.1'}`);
      }
      result.gateway = value;
    } else if (key === 'dev') {
      result.dev = value;
    } else {
      throw new UsageError(`route add: unknown word ${JSON.stringify(key)}: expected "via GATEWAY" or "dev NAME"`);
    }
  }
  if (result.gateway === undefined && result.dev === undefined) throw new UsageError('route add needs "via GATEWAY" or "dev NAME"');
  return result;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text + ' ' : text.padEnd(width);
}

/** The routing table in route -n's columns, plus where each route came from. */
export function formatRouteTable(routes: RouteJson[]): string {
  let out = 'pstack IP routing table\n';
  out += pad('Destination', 16) + pad('Gateway', 16) + pad('Genmask', 16) + pad('Flags', 6) + pad('Iface', 8) + pad('Source', 16) + 'Origin\n';
  for (const r of routes) {
    out += pad(r.network, 16) + pad(r.gateway ?? '0.0.0.0', 16) + pad(r.netmask, 16) + pad(r.flags, 6) + pad(r.interface, 8) + pad(r.source, 16) + r.origin + '\n';
  }
  return out;
}

/** The IPv6 routing table in route -6 -n's columns, plus where each route came from. */
export function formatRoute6Table(routes: Route6Json[]): string {
  let out = 'pstack IPv6 routing table\n';
  out += pad('Destination', 32) + pad('Next Hop', 28) + pad('Flag', 6) + pad('If', 8) + 'Origin\n';
  for (const r of routes) out += pad(r.destination, 32) + pad(r.gateway ?? '::', 28) + pad(r.flags, 6) + pad(r.interface, 8) + r.origin + '\n';
  return out;
}

export async function runRoute(argv: string[]): Promise<number> {
  const parsed = parse(argv, { ...SOCKET_OPTIONS, numeric: { type: 'boolean', short: 'n' }, ipv6: { type: 'boolean', short: '6' } });
  if (parsed.values.help) {
    process.stdout.write(ROUTE_USAGE + '\n');
    return 0;
  }
  const action = parseRouteWords(parsed.positionals, parsed.values.ipv6 === true);
  const choice = socketChoice(parsed.values);
  if (action.action === 'cache') {
    const response = await ask(choice, { cmd: 'route-cache' });
    if (choice.json) printJson(response);
    else process.stdout.write(formatPathMtuCache(response['entries'] as PathMtuJson[]));
    return 0;
  }
  if (action.action === 'list' && parsed.values.ipv6 === true) {
    const response = await ask(choice, { cmd: 'routes6' });
    if (choice.json) printJson(response);
    else process.stdout.write(formatRoute6Table(response['routes'] as Route6Json[]));
    return 0;
  }
  if (action.action !== 'list' && action.v6 === true) {
    const { action: verb, v6: _v6, network, prefix, ...fields } = action;
    const response = await ask(choice, { cmd: verb === 'add' ? 'route6-add' : 'route6-del', network: `${network}/${prefix}`, ...fields });
    if (choice.json) printJson(response);
    return 0;
  }
  if (action.action === 'list') {
    const response = await ask(choice, { cmd: 'routes' });
    if (choice.json) printJson(response);
    else process.stdout.write(formatRouteTable(response['routes'] as RouteJson[]));
    return 0;
  }
  const { action: verb, ...fields } = action;
  const response = await ask(choice, { cmd: verb === 'add' ? 'route-add' : 'route-del', ...fields });
  if (choice.json) printJson(response);
  return 0;
}

// ------------------------------------------------------------------------------ arp

function describeArpState(e: ArpEntryJson): string {
  const s = (n: number | null) => `${n} second${n === 1 ? '' : 's'}`;
  switch (e.state) {
    case 'static': return e.own ? 'permanent (pstack\'s own address)' : 'permanent';
    case 'reachable': return `reachable, expires in ${s(e.expiresIn)}`;
    case 'stale': return `stale, removed in ${s(e.expiresIn)} unless used (then confirmed again)`;
    case 'incomplete': return `resolving, ${e.requestsSent} request${e.requestsSent === 1 ? '' : 's'} sent, ${e.queued} packet${e.queued === 1 ? '' : 's'} waiting`;
    case 'failed': return `failed (no reply), forgotten in ${s(e.expiresIn)}`;
  }
}

/** One line per entry, as arp -a prints them, then the state and time to expiry. */
export function formatArpTable(entries: ArpEntryJson[]): string {
  if (entries.length === 0) return '';
  return entries.map((e) => {
    const at = e.mac !== null ? `at ${e.mac} [ether]${e.state === 'static' ? ' PERM' : ''}` : 'at <incomplete>';
    return `? (${e.ip}) ${at} on ${e.interface}  ${describeArpState(e)}\n`;
  }).join('');
}

export async function runArp(argv: string[]): Promise<number> {
  const parsed = parse(argv, {
    ...SOCKET_OPTIONS,
    delete: { type: 'string', short: 'd' },
    set: { type: 'string', short: 's' },
    all: { type: 'boolean', short: 'a' },
    numeric: { type: 'boolean', short: 'n' },
  });
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(ARP_USAGE + '\n');
    return 0;
  }
  if (v.delete !== undefined && v.set !== undefined) throw new UsageError('give -d or -s, not both');
  const choice = socketChoice(v);
  if (v.delete !== undefined) {
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals.join(' '))} after arp -d ${v.delete}`);
    if (parseIpv4(v.delete) === null) throw new UsageError(`arp -d: invalid address ${JSON.stringify(v.delete)}: expected an IPv4 address`);
    const response = await ask(choice, { cmd: 'arp-del', ip: v.delete });
    if (choice.json) printJson(response);
    return 0;
  }
  if (v.set !== undefined) {
    if (parseIpv4(v.set) === null) throw new UsageError(`arp -s: invalid address ${JSON.stringify(v.set)}: expected an IPv4 address`);
    const [mac, ...extra] = parsed.positionals;
    if (mac === undefined) throw new UsageError('arp -s needs an address and a MAC: pstack arp -s 192.0.2.9 02:00:00:00:00:09');
    if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra.join(' '))} after arp -s ${v.set} ${mac}`);
    if (parseMac(mac) === null) throw new UsageError(`arp -s: invalid MAC ${JSON.stringify(mac)}: expected six hex bytes like 02:00:00:00:00:09`);
    const response = await ask(choice, { cmd: 'arp-add', ip: v.set, mac });
    if (choice.json) printJson(response);
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals.join(' '))}: use -d IP or -s IP MAC`);
  const response = await ask(choice, { cmd: 'arp' });
  if (choice.json) printJson(response);
  else process.stdout.write(formatArpTable(response['entries'] as ArpEntryJson[]));
  return 0;
}

// ------------------------------------------------------------------------------ netstat

function endpointAddress(address: string, port: number): string {
  return `${address}:${port === 0 ? '*' : port}`;
}

/** netstat -tuna's table: Proto Recv-Q Send-Q Local Address Foreign Address State. */
export function formatNetstat(endpoints: EndpointJson[]): string {
  let out = 'Active Internet connections (servers and established)\n';
  out += 'Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n';
  const order = (e: EndpointJson) => (e.protocol === 'tcp' ? 0 : 1);
  const sorted = [...endpoints].sort((a, b) => order(a) - order(b) || a.localPort - b.localPort);
  for (const e of sorted) {
    out += `${e.protocol.padEnd(5)}${String(e.recvQueue).padStart(7)}${String(e.sendQueue).padStart(7)} `;
    out += `${pad(endpointAddress(e.localAddress, e.localPort), 23)} ${pad(endpointAddress(e.remoteAddress, e.remotePort), 23)} ${e.state.padEnd(11)}`.trimEnd() + '\n';
  }
  return out;
}

export async function runNetstat(argv: string[]): Promise<number> {
  const parsed = parse(argv, {
    ...SOCKET_OPTIONS,
    tcp: { type: 'boolean', short: 't' },
    udp: { type: 'boolean', short: 'u' },
    all: { type: 'boolean', short: 'a' },
    numeric: { type: 'boolean', short: 'n' },
  });
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(NETSTAT_USAGE + '\n');
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals.join(' '))}`);
  const choice = socketChoice(v);
  const response = await ask(choice, { cmd: 'netstat' });
  const wanted = (e: EndpointJson) => (!v.tcp && !v.udp) || (v.tcp === true && e.protocol === 'tcp') || (v.udp === true && e.protocol === 'udp');
  const endpoints = (response['endpoints'] as EndpointJson[]).filter(wanted);
  if (choice.json) printJson({ ...response, endpoints });
  else process.stdout.write(formatNetstat(endpoints));
  return 0;
}

// ------------------------------------------------------------------------------ stats

type Section = 'Link' | 'Arp' | 'Ip' | 'Icmp' | 'Igmp' | 'Ip6' | 'Icmp6' | 'Ndp' | 'Mld' | 'Udp' | 'Tcp' | 'Memory' | 'Other' | 'Limits';
const SECTIONS: Section[] = ['Link', 'Arp', 'Ip', 'Icmp', 'Igmp', 'Ip6', 'Icmp6', 'Ndp', 'Mld', 'Udp', 'Tcp', 'Memory', 'Limits', 'Other'];
/** Shown only when the server runs IPv6. */
const IPV6_SECTIONS = new Set<Section>(['Ip6', 'Icmp6', 'Ndp', 'Mld']);

/** How netstat -s would word the counters pstack has; unknown ones are printed by name. */
const COUNTER_TEXT: Record<string, [Section, string]> = {
  framesIn: ['Link', 'frames received'],
  framesOut: ['Link', 'frames sent'],
  arpIn: ['Arp', 'ARP packets received'],
  arpOut: ['Arp', 'ARP packets sent'],
  ipIn: ['Ip', 'total packets received'],
  ipDelivered: ['Ip', 'incoming packets delivered'],
  ipForwarded: ['Ip', 'forwarded'],
  ipOut: ['Ip', 'requests sent out'],
  ipFragmentsIn: ['Ip', 'fragments received'],
  ipReassembled: ['Ip', 'packets reassembled ok'],
  pmtuLowered: ['Ip', 'path MTUs lowered by Fragmentation Needed'],
  pmtuIgnored: ['Ip', 'Fragmentation Needed that lowered nothing'],
  pmtuBelowFloor: ['Ip', 'Fragmentation Needed below the 552-byte floor (taken as it)'],
  pmtuExpired: ['Ip', 'path MTUs expired'],
  pmtuEvicted: ['Ip', 'path MTUs evicted (cache full)'],
  pmtuEntries: ['Ip', 'path MTUs cached'],
  pmtu6Lowered: ['Ip6', 'path MTUs lowered by Packet Too Big'],
  pmtu6Ignored: ['Ip6', 'Packet Too Big that lowered nothing'],
  pmtu6BelowFloor: ['Ip6', 'Packet Too Big below 1280 (taken as 1280)'],
  pmtu6Expired: ['Ip6', 'path MTUs expired'],
  pmtu6Evicted: ['Ip6', 'path MTUs evicted (cache full)'],
  pmtu6Entries: ['Ip6', 'path MTUs cached'],
  ipFragmentsOut: ['Ip', 'fragments created'],
  ipMulticastIn: ['Ip', 'multicast packets received'],
  ipMulticastOut: ['Ip', 'multicast packets sent'],
  icmpIn: ['Icmp', 'ICMP messages received'],
  icmpOut: ['Icmp', 'ICMP messages sent'],
  icmpEchoRequestsIn: ['Icmp', 'echo requests received'],
  icmpEchoRepliesOut: ['Icmp', 'echo replies sent'],
  icmpErrorsOut: ['Icmp', 'error messages sent'],
  icmpErrorsRateLimited: ['Icmp', 'error messages not sent (rate limit)'],
  icmpErrorsDestinationLimited: ['Icmp', 'of which over the per-destination limit'],
  icmpDestinationsEvicted: ['Icmp', 'destinations forgotten by the per-destination limit (table full)'],
  igmpIn: ['Igmp', 'IGMP messages received'],
  igmpOut: ['Igmp', 'IGMP messages sent'],
  igmpQueriesIn: ['Igmp', 'membership queries received'],
  igmpReportsOut: ['Igmp', 'membership reports sent'],
  igmpLeavesOut: ['Igmp', 'leave group messages sent'],
  mldIn: ['Mld', 'MLD messages received'],
  mldQueriesIn: ['Mld', 'listener queries received'],
  mldReportsOut: ['Mld', 'listener reports sent'],
  mldDonesOut: ['Mld', 'listener done messages sent'],
  ip6In: ['Ip6', 'total packets received'],
  ip6Delivered: ['Ip6', 'incoming packets delivered'],
  ip6Out: ['Ip6', 'packets sent out'],
  ip6FragmentsIn: ['Ip6', 'fragments received'],
  ip6Reassembled: ['Ip6', 'packets reassembled ok'],
  ip6FragmentsOut: ['Ip6', 'fragments created'],
  ip6Forwarded: ['Ip6', 'forwarded'],
  icmp6In: ['Icmp6', 'ICMPv6 messages received'],
  icmp6Out: ['Icmp6', 'ICMPv6 messages sent'],
  icmp6EchoRequestsIn: ['Icmp6', 'echo requests received'],
  icmp6EchoRepliesOut: ['Icmp6', 'echo replies sent'],
  icmp6ErrorsOut: ['Icmp6', 'error messages sent'],
  icmp6ErrorsRateLimited: ['Icmp6', 'error messages not sent (rate limit)'],
  ndpSolicitationsIn: ['Ndp', 'neighbor solicitations received'],
  ndpSolicitationsOut: ['Ndp', 'neighbor solicitations sent'],
  ndpAdvertisementsIn: ['Ndp', 'neighbor advertisements received'],
  ndpAdvertisementsOut: ['Ndp', 'neighbor advertisements sent'],
  ndpDuplicateAddresses: ['Ndp', 'addresses found duplicate (not used)'],
  ndpRouterSolicitationsOut: ['Ndp', 'router solicitations sent'],
  ndpRouterAdvertisementsIn: ['Ndp', 'router advertisements received'],
  ndpRouterAdvertisementsAccepted: ['Ndp', 'router advertisements accepted'],
  ndpRouterAdvertisementsIgnored: ['Ndp', 'router advertisements ignored (invalid, or autoconfiguration off)'],
  ndpRedirectsIn: ['Ndp', 'redirects received'],
  ndpRedirectsAccepted: ['Ndp', 'redirects accepted'],
  ndpAddressesConfigured: ['Ndp', 'addresses configured from router advertisements'],
  udpIn: ['Udp', 'packets received'],
  udpOut: ['Udp', 'packets sent'],
  tcpIn: ['Tcp', 'segments received'],
  tcpOut: ['Tcp', 'segments sent'],
  internalErrors: ['Other', 'internal errors (bugs caught and counted)'],
};

const DROP_SECTION: Record<string, Section> = {
  ethernet: 'Link', arp: 'Arp', ipv4: 'Ip', ip: 'Ip', icmp: 'Icmp', igmp: 'Igmp', udp: 'Udp', tcp: 'Tcp',
  ipv6: 'Ip6', reassembly6: 'Ip6', icmp6: 'Icmp6', ndp: 'Ndp', mld: 'Mld',
};

function sectionOfName(name: string): Section {
  const lower = name.toLowerCase();
  for (const [prefix, section] of [['icmp', 'Icmp'], ['igmp', 'Igmp'], ['arp', 'Arp'], ['udp', 'Udp'], ['tcp', 'Tcp'], ['ip', 'Ip'], ['frame', 'Link']] as const) {
    if (lower.startsWith(prefix)) return section;
  }
  return 'Other';
}

/** "tcpRetransmits" as "tcp retransmits", for counters added after this table was written. */
function wordsOf(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/** Counters grouped by protocol as netstat -s prints them, drops by reason under each. */
export function formatStats(stats: StatsJson): string {
  const lines = new Map<Section, string[]>(SECTIONS.map((s) => [s, []]));
  const add = (section: Section, text: string) => lines.get(section)!.push(`    ${text}`);
  for (const d of stats.devices) {
    const c = d.counters;
    add('Link', `${d.name} (${d.type}, ${d.mac}, mtu ${d.mtu}): ${c['framesIn'] ?? 0} frames in (${c['bytesIn'] ?? 0} bytes), ${c['framesOut'] ?? 0} frames out (${c['bytesOut'] ?? 0} bytes), ${c['sendErrors'] ?? 0} send errors`);
  }
  const mb = (n: unknown) => `${((typeof n === 'number' ? n : 0) / 1048576).toFixed(1)} MB`;
  const c = stats.counters;
  if (typeof c['memoryAllocatedBytes'] === 'number') {
    const max = stats.limits?.['memory.maxBytes'];
    add('Memory', `buffers hold ${mb(c['memoryAllocatedBytes'])}${max !== undefined ? ` of ${mb(max)}` : ''} (peak ${mb(c['memoryPeakBytes'])})${c['memoryUnderPressure'] === 1 ? ', UNDER PRESSURE' : ''}`);
    const ago = Number(c['memoryLastPressureAgoMs'] ?? -1);
    add('Memory', `memory pressure entered ${c['memoryPressureEntered'] ?? 0} times, ${(Number(c['memoryPressureMs'] ?? 0) / 1000).toFixed(1)} s in all${ago >= 0 ? `, last ${(ago / 1000).toFixed(0)} s ago` : ''}; ${c['memoryRefusedCharges'] ?? 0} allocations refused at the hard limit (${mb(c['memoryRefusedBytes'])}), ${mb(c['memoryForcedBytes'])} granted beyond it as guaranteed minimums`);
  }
  if (stats.process !== undefined) {
    const p = stats.process;
    add('Memory', `process: rss ${mb(p['rss'])}, heap ${mb(p['heapUsed'])} of ${mb(p['heapTotal'])}, array buffers ${mb(p['arrayBuffers'])}`);
  }
  for (const [key, value] of Object.entries(stats.counters)) {
    if (typeof value !== 'number') continue;
    if (key.startsWith('memory')) continue;
    const known = COUNTER_TEXT[key];
    if (known !== undefined && IPV6_SECTIONS.has(known[0]) && stats.ipv6 !== true) continue;
    if (known !== undefined) add(known[0], `${value} ${known[1]}`);
    else add(sectionOfName(key), `${value} ${wordsOf(key).replace(/^(tcp|udp|icmp|ip|arp) /, '')}`);
  }
  add('Arp', `${stats.arpEntries} entries in the cache`);
  add('Ip', `${stats.routes} routes`);
  if (stats.ipv6 === true) {
    add('Ip6', `${stats.routes6 ?? 0} routes`);
    add('Ndp', `${stats.neighbors6 ?? 0} entries in the neighbor cache`);
  }
  const drops = (stats.counters['drops'] ?? {}) as Record<string, number>;
  for (const [reason, count] of Object.entries(drops)) {
    const colon = reason.indexOf(':');
    const layer = colon >= 0 ? reason.slice(0, colon) : '';
    const why = colon >= 0 ? reason.slice(colon + 1).trim() : reason;
    add(DROP_SECTION[layer] ?? 'Other', `${count} dropped: ${why}${DROP_SECTION[layer] === undefined && layer !== '' ? ` (${layer})` : ''}`);
  }
  // Every bound (pstack server --limit), its value and how often it was hit.
  if (stats.limits !== undefined) {
    const hits = limitHits(stats.counters);
    for (const l of LIMITS) {
      const value = stats.limits[l.name];
      if (value !== undefined) add('Limits', `${l.name} = ${value}: hit ${hits[l.name] ?? 0} times`);
    }
  }
  let out = '';
  for (const section of SECTIONS) {
    const body = lines.get(section)!;
    if (body.length === 0) continue;
    out += `${section}:\n${body.join('\n')}\n`;
  }
  return out;
}

export async function runStats(argv: string[]): Promise<number> {
  const parsed = parse(argv, SOCKET_OPTIONS);
  if (parsed.values.help) {
    process.stdout.write(STATS_USAGE + '\n');
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals.join(' '))}`);
  const choice = socketChoice(parsed.values);
  const response = await ask(choice, { cmd: 'stats' });
  if (choice.json) printJson(response);
  else process.stdout.write(formatStats(response as unknown as StatsJson));
  return 0;
}

// ------------------------------------------------------------------------------ maddr

/**
 * Like `ip maddr`: per interface, each group with its link-layer address, then the group's
 * filter on the link (EXCLUDE {} is every source) and how many sockets joined it.
 */
export function formatMaddr(interfaces: MaddrJson[]): string {
  let out = '';
  interfaces.forEach((i, n) => {
    out += `${n + 1}:\t${i.interface} (IGMPv${i.igmpVersion})\n`;
    for (const g of i.groups) {
      out += `\tlink  ${g.mac}\n`;
      const filter = g.sockets === 0 ? '' : `  ${g.mode.toUpperCase()} {${g.sources.join(', ')}}  users ${g.sockets}`;
      out += `\tinet  ${g.group}${filter}\n`;
    }
    if (i.groups6 !== undefined) {
      out += `\t(MLDv${i.mldVersion ?? 2})\n`;
      for (const g of i.groups6) {
        out += `\tlink  ${g.mac}\n`;
        const filter = g.sockets === 0 ? '' : `  ${g.mode.toUpperCase()} {${g.sources.join(', ')}}  users ${g.sockets}`;
        out += `\tinet6 ${g.group}${filter}\n`;
      }
    }
  });
  return out;
}

export async function runMaddr(argv: string[]): Promise<number> {
  const parsed = parse(argv, SOCKET_OPTIONS);
  if (parsed.values.help) {
    process.stdout.write(MADDR_USAGE + '\n');
    return 0;
  }
  // `ip maddr show` habits: "show" and "list" are accepted.
  const words = parsed.positionals.filter((w) => w !== 'show' && w !== 'list');
  if (words.length > 0) throw new UsageError(`unexpected ${JSON.stringify(words.join(' '))}`);
  const choice = socketChoice(parsed.values);
  const response = await ask(choice, { cmd: 'maddr' });
  if (choice.json) printJson(response);
  else process.stdout.write(formatMaddr(response['interfaces'] as MaddrJson[]));
  return 0;
}
