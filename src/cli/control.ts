/**
 * The control socket of a running `pstack server`: a Unix socket (default
 * /run/pstack/<tap>.sock) speaking line-delimited JSON, one request per line and one response
 * line for each, so the inspection commands (and scripts, e.g. with `socat`) can read and change
 * the live stack:
 *
 *   {"cmd":"routes"}                                          -> {"ok":true,"routes":[...]}
 *   {"cmd":"route-cache"} (learned path MTUs)                 -> {"ok":true,"entries":[...]}
 *   {"cmd":"route-add","network":"203.0.113.0","prefix":24,"gateway":"192.0.2.1"}
 *   {"cmd":"route-del","network":"203.0.113.0","prefix":24}
 *   {"cmd":"arp"}  {"cmd":"arp-del","ip":"192.0.2.1"}  {"cmd":"arp-add","ip":"192.0.2.9","mac":"02:00:00:00:00:09"}
 *   {"cmd":"netstat"}  {"cmd":"stats"}  {"cmd":"info"}  {"cmd":"maddr"} (multicast memberships)
 *   {"cmd":"addr6"}  {"cmd":"neigh6"}                         -> IPv6 addresses, neighbor cache (control-ipv6.ts)
 *   {"cmd":"tcp-info"}                                        -> {"ok":true,"connections":[...]} (pstack ss)
 *   {"cmd":"capture","interface":"tap0","count":10,"filter":"icmp"} -> a stream of frames (capture-stream.ts)
 *
 * A failure is {"ok":false,"error":"one line saying why"}; a request's "id", if any, is echoed.
 * Nothing a client sends can crash the server: every request is validated, every handler is
 * wrapped, lines are bounded in length and idle connections are closed.
 */

import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { addr6Json, neigh6Json } from './control-ipv6.js';
import { routes6Json, addRoute6, deleteRoute6 } from './control-routes6.js';
import { ipAddressToString } from '../stack/ip-address.js';
import { mkdirSync, lstatSync, unlinkSync, chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Stack } from '../api/stack.js';
import type { Route } from '../stack/routes.js';
import { pathMtuCounters, pathMtuJson } from './path-mtu-view.js';
import type { Interface } from '../stack/interface.js';
import { ipv4ToString, macToString, parseIpv4, parseMac, prefixToMask, type Ipv4Address } from '../wire/addr.js';
import { multicastMac6 } from '../wire/addr6.js';
import type { Device } from '../link/device.js';
import { FatalError } from './errors.js';
import { limitValues } from './limits.js';
import { tcpConnectionInfo } from '../api/tcp-info.js';
import type { ObserverHub } from '../stack/observer-hub.js';
import { startCaptureStream } from './capture-stream.js';

export const CONTROL_DIRECTORY = '/run/pstack';
/** Longest request line accepted; requests are tiny, so this only guards memory. */
const MAX_LINE_BYTES = 64 * 1024;
const IDLE_TIMEOUT_MS = 60_000;
const MAX_CONNECTIONS = 32;

export function defaultControlPath(tap: string): string {
  return `${CONTROL_DIRECTORY}/${tap}.sock`;
}

// ------------------------------------------------------------------------------ JSON shapes

export interface RouteJson {
  network: string;
  prefixLength: number;
  netmask: string;
  /** Next hop, or null for a directly attached network. */
  gateway: string | null;
  /** Device name as the host knows it (tap0, lo). */
  interface: string;
  /** The stack's own name for the interface (net0, net1), as in the log. */
  iface: string;
  /** Source address packets on this route get (the interface's). */
  source: string;
  /** As route -n: U (up), G (via a gateway), H (a host route, /32). */
  flags: string;
  origin: Route['origin'];
}

export interface ArpEntryJson {
  ip: string;
  /** null while unresolved. */
  mac: string | null;
  state: 'incomplete' | 'reachable' | 'stale' | 'static' | 'failed';
  interface: string;
  iface: string;
  /** Seconds until this state ends (next retry, expiry, removal); null when permanent. */
  expiresIn: number | null;
  /** One of pstack's own addresses (permanent, cannot be deleted). */
  own: boolean;
  requestsSent: number;
  /** Packets waiting for the address to resolve. */
  queued: number;
}

export interface EndpointJson {
  protocol: 'udp' | 'tcp';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  recvQueue: number;
  sendQueue: number;
}

export interface DeviceStatsJson {
  name: string;
  type: string;
  mac: string;
  mtu: number;
  counters: Record<string, number>;
}

/** One device's multicast memberships (pstack maddr). */
export interface MaddrJson {
  interface: string;
  igmpVersion: number;
  groups: { group: string; mac: string; mode: 'include' | 'exclude'; sources: string[]; sockets: number }[];
  /** When the interface runs IPv6: the MLD version it speaks and its IPv6 groups. */
  mldVersion?: number;
  groups6?: { group: string; mac: string; mode: 'include' | 'exclude'; sources: string[]; sockets: number }[];
}

export interface StatsJson {
  counters: Record<string, unknown>;
  devices: DeviceStatsJson[];
  arpEntries: number;
  routes: number;
  /** The server runs IPv6: its route count and neighbor cache size. */
  ipv6?: boolean;
  routes6?: number;
  neighbors6?: number;
  /** Each limit's value in force (--limit names); see limits.ts. */
  limits?: Record<string, number>;
  /** The server process's memory (process.memoryUsage(), bytes). */
  process?: Record<string, number>;
}

export type ControlResponse = { ok: true; [key: string]: unknown } | { ok: false; error: string; [key: string]: unknown };

export function routeFlags(r: Route): string {
  return 'U' + (r.nextHop !== 0 ? 'G' : '') + (r.prefixLength === 32 ? 'H' : '');
}

export function routeToJson(r: Route): RouteJson {
  return {
    network: ipv4ToString(r.network),
    prefixLength: r.prefixLength,
    netmask: ipv4ToString(r.mask),
    gateway: r.nextHop !== 0 ? ipv4ToString(r.nextHop) : null,
    interface: r.iface.device.name,
    iface: r.iface.name,
    source: ipv4ToString(r.iface.address),
    flags: routeFlags(r),
    origin: r.origin,
  };
}

export function routesJson(stack: Stack): RouteJson[] {
  return stack.routes.entries.map(routeToJson);
}

export function arpJson(stack: Stack): ArpEntryJson[] {
  const now = stack.clock.now();
  const entries: ArpEntryJson[] = [];
  for (const e of stack.neighbors.all()) {
    const resolved = e.state === 'reachable' || e.state === 'stale' || e.state === 'static';
    entries.push({
      ip: ipv4ToString(e.ip),
      mac: resolved ? macToString(e.mac) : null,
      state: e.state,
      interface: e.iface.device.name,
      iface: e.iface.name,
      expiresIn: Number.isFinite(e.expiresAt) ? Math.max(0, Math.ceil((e.expiresAt - now) / 1000)) : null,
      own: stack.isLocalAddress(e.ip),
      requestsSent: e.requestsSent,
      queued: e.queue.length,
    });
  }
  return entries.sort((a, b) => parseIpv4(a.ip)! - parseIpv4(b.ip)!);
}

export function endpointsJson(stack: Stack): EndpointJson[] {
  return stack.endpointProviders.flatMap((p) => p.endpoints()).map((e) => ({
    protocol: e.protocol,
    localAddress: ipAddressToString(e.localAddress),
    localPort: e.localPort,
    remoteAddress: ipAddressToString(e.remoteAddress),
    remotePort: e.remotePort,
    state: e.state,
    recvQueue: e.recvQueue,
    sendQueue: e.sendQueue,
  }));
}

export function maddrJson(stack: Stack): MaddrJson[] {
  const ethernet = stack.devices.filter((d) => d.type === 'ethernet');
  return stack.multicast.list(ethernet).map((d) => ({
    interface: d.device.name,
    igmpVersion: d.igmpVersion,
    groups: d.groups.map((g) => ({
      group: ipv4ToString(g.group),
      mac: macToString(Uint8Array.of(0x01, 0x00, 0x5e, (g.group >>> 16) & 0x7f, (g.group >>> 8) & 0xff, g.group & 0xff)),
      mode: g.mode,
      sources: g.sources.map(ipv4ToString),
      sockets: g.sockets,
    })),
    ...maddr6(stack, d.device),
  }));
}

/** A device's IPv6 groups (solicited-node groups, sockets' groups), when it runs IPv6. */
function maddr6(stack: Stack, device: Device): Pick<MaddrJson, 'mldVersion' | 'groups6'> {
  const info = stack.ipv6?.multicast.list([device])[0];
  if (info === undefined) return {};
  return {
    mldVersion: info.mldVersion,
    groups6: info.groups.map((g) => ({
      group: g.group.toString(),
      mac: macToString(multicastMac6(g.group.bytes)),
      mode: g.mode,
      sources: g.sources.map((s) => s.toString()),
      sockets: g.sockets,
    })),
  };
}

export function statsJson(stack: Stack): StatsJson {
  return {
    counters: Object.assign(stack.counters.toJSON(), ...stack.endpointProviders.map((p) => p.statistics?.() ?? {}), memoryCounters(stack), pathMtuCounters(stack)),
    devices: stack.devices.map((d) => ({
      name: d.name,
      type: d.type,
      mac: macToString(d.mac),
      mtu: d.mtu,
      counters: { ...d.counters } as unknown as Record<string, number>,
    })),
    arpEntries: stack.neighbors.size,
    routes: stack.routes.entries.length,
    ...(stack.ipv6 !== null ? { ipv6: true, routes6: stack.ipv6.routes.entries.length, neighbors6: stack.ipv6.neighbors.size } : {}),
    limits: limitValues({ neighbor: stack.neighbors.config, reassembly: stack.reassembler.config, icmp: stack.icmp.config, tcp: stack.tcp.config, memory: stack.memory.config }),
    process: processMemory(),
  };
}

/** The buffer budget's counters as memoryXxx names (memory-budget.ts), with TCP's orphans. */
export function memoryCounters(stack: Stack): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stack.memory.stats())) out[`memory${k[0]!.toUpperCase()}${k.slice(1)}`] = v;
  out['tcpOrphans'] = stack.tcp.orphanCount;
  return out;
}

/** The server process's own memory (bytes), as process.memoryUsage() reports it. */
function processMemory(): Record<string, number> {
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

// ------------------------------------------------------------------------------ requests

/** A mistake in a request: reported to the client, never thrown further. */
class RequestError extends Error {}

export const CONTROL_COMMANDS = ['info', 'routes', 'route-add', 'route-del', 'arp', 'arp-add', 'arp-del', 'netstat', 'stats', 'tcp-info', 'maddr', 'addr6', 'neigh6', 'routes6', 'route6-add', 'route6-del', 'route-cache'] as const;

function stringField(req: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = req[name];
  if (value === undefined || value === null) {
    if (required) throw new RequestError(`"${name}" is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new RequestError(`"${name}" must be a string`);
  return value;
}

function addressField(req: Record<string, unknown>, name: string, required: true): Ipv4Address;
function addressField(req: Record<string, unknown>, name: string, required: false): Ipv4Address | undefined;
function addressField(req: Record<string, unknown>, name: string, required: boolean): Ipv4Address | undefined {
  const text = stringField(req, name, required);
  if (text === undefined) return undefined;
  const addr = parseIpv4(text);
  if (addr === null) throw new RequestError(`"${name}" ${JSON.stringify(text)} is not an IPv4 address`);
  return addr;
}

/** network ("203.0.113.0", or "203.0.113.0/24") and prefix (24) of a route request. */
function networkField(req: Record<string, unknown>): { network: Ipv4Address; prefix: number } {
  const text = stringField(req, 'network', true)!;
  const [addrText, prefixText] = text.split('/', 2) as [string, string | undefined];
  const network = parseIpv4(addrText);
  if (network === null) throw new RequestError(`"network" ${JSON.stringify(text)} is not an IPv4 network`);
  let prefix: unknown = req['prefix'];
  if (prefixText !== undefined) {
    if (!/^\d{1,2}$/.test(prefixText)) throw new RequestError(`"network" ${JSON.stringify(text)} has a bad prefix length`);
    if (prefix !== undefined && prefix !== Number(prefixText)) throw new RequestError(`"network" ${JSON.stringify(text)} and "prefix" ${JSON.stringify(prefix)} disagree`);
    prefix = Number(prefixText);
  }
  if (prefix === undefined) throw new RequestError('"prefix" is required (or write the network as a.b.c.d/n)');
  if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new RequestError('"prefix" must be a whole number from 0 to 32');
  const mask = prefixToMask(prefix);
  if (((network & mask) >>> 0) !== network) {
    throw new RequestError(`${ipv4ToString(network)}/${prefix} has host bits set; did you mean ${ipv4ToString((network & mask) >>> 0)}/${prefix}?`);
  }
  return { network, prefix };
}

function findInterface(stack: Stack, name: string): Interface {
  const iface = stack.interfaces.find((i) => i.device.name === name || i.name === name);
  if (iface === undefined) throw new RequestError(`no interface named ${JSON.stringify(name)} (have ${stack.interfaces.map((i) => i.device.name).join(', ')})`);
  return iface;
}

function cidrText(network: Ipv4Address, prefix: number): string {
  return `${ipv4ToString(network)}/${prefix}`;
}

function addRoute(stack: Stack, req: Record<string, unknown>): ControlResponse {
  const { network, prefix } = networkField(req);
  const gateway = addressField(req, 'gateway', false);
  const dev = stringField(req, 'dev', false);
  if (gateway === undefined && dev === undefined) throw new RequestError('give a "gateway" (next hop) or a "dev" (directly attached network)');
  if (stack.routes.entries.some((r) => r.network === network && r.prefixLength === prefix)) {
    throw new RequestError(`a route to ${cidrText(network, prefix)} exists already (delete it first)`);
  }
  if (gateway !== undefined && stack.isLocalAddress(gateway)) throw new RequestError(`gateway ${ipv4ToString(gateway)} is one of pstack's own addresses`);
  const iface = dev !== undefined ? findInterface(stack, dev) : undefined;
  if (gateway !== undefined && iface !== undefined && !iface.onLink(gateway)) {
    throw new RequestError(`gateway ${ipv4ToString(gateway)} is not on ${iface.device.name}'s network`);
  }
  let route: Route;
  try {
    route = stack.addRoute(network, prefix, gateway ?? 0, iface?.device.name);
  } catch (err) {
    throw new RequestError((err as Error).message);
  }
  return { ok: true, route: routeToJson(route) };
}

function deleteRoute(stack: Stack, req: Record<string, unknown>): ControlResponse {
  const { network, prefix } = networkField(req);
  const existing = stack.routes.entries.find((r) => r.network === network && r.prefixLength === prefix);
  if (existing === undefined) throw new RequestError(`no route to ${cidrText(network, prefix)}`);
  const json = routeToJson(existing);
  stack.removeRoute(network, prefix);
  return { ok: true, route: json };
}

function addArp(stack: Stack, req: Record<string, unknown>): ControlResponse {
  const ip = addressField(req, 'ip', true);
  const macText = stringField(req, 'mac', true)!;
  const mac = parseMac(macText);
  if (mac === null) throw new RequestError(`"mac" ${JSON.stringify(macText)} is not a MAC address like 02:00:00:00:00:09`);
  if ((mac[0]! & 1) !== 0) throw new RequestError(`"mac" ${macText} is a group (broadcast or multicast) address`);
  if (stack.isLocalAddress(ip)) throw new RequestError(`${ipv4ToString(ip)} is one of pstack's own addresses`);
  const dev = stringField(req, 'dev', false);
  const iface = dev !== undefined ? findInterface(stack, dev) : stack.interfaces.find((i) => !i.isLoopback && i.onLink(ip));
  if (iface === undefined || iface.isLoopback || !iface.onLink(ip)) throw new RequestError(`${ipv4ToString(ip)} is not on any attached Ethernet network`);
  stack.neighbors.addStatic(iface, ip, mac);
  return { ok: true, entry: arpJson(stack).find((e) => e.ip === ipv4ToString(ip)) };
}

function deleteArp(stack: Stack, req: Record<string, unknown>): ControlResponse {
  const ip = addressField(req, 'ip', true);
  if (stack.isLocalAddress(ip)) throw new RequestError(`${ipv4ToString(ip)} is one of pstack's own addresses; its entry is permanent`);
  if (!stack.neighbors.delete(ip)) throw new RequestError(`no ARP entry for ${ipv4ToString(ip)}`);
  return { ok: true };
}

function info(stack: Stack): ControlResponse {
  return {
    ok: true,
    pid: process.pid,
    interfaces: stack.interfaces.map((i) => ({
      interface: i.device.name,
      iface: i.name,
      address: `${ipv4ToString(i.address)}/${i.prefixLength}`,
      mac: macToString(i.device.mac),
      mtu: i.mtu,
    })),
  };
}

/** Answer one parsed request. Never throws. */
export function handleControlRequest(stack: Stack, request: unknown): ControlResponse {
  const withId = (r: ControlResponse): ControlResponse => {
    const id = (request as Record<string, unknown> | null)?.['id'];
    return id !== undefined && (typeof id === 'string' || typeof id === 'number') ? { ...r, id } : r;
  };
  try {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new RequestError('a request is a JSON object like {"cmd":"routes"}');
    const req = request as Record<string, unknown>;
    const cmd = req['cmd'];
    if (typeof cmd !== 'string') throw new RequestError(`"cmd" is required: one of ${CONTROL_COMMANDS.join(', ')}`);
    switch (cmd) {
      case 'info': return withId(info(stack));
      case 'routes': return withId({ ok: true, routes: routesJson(stack) });
      case 'route-cache': return withId({ ok: true, entries: pathMtuJson(stack) });
      case 'route-add': return withId(addRoute(stack, req));
      case 'route-del': return withId(deleteRoute(stack, req));
      case 'arp': return withId({ ok: true, entries: arpJson(stack) });
      case 'arp-add': return withId(addArp(stack, req));
      case 'arp-del': return withId(deleteArp(stack, req));
      case 'netstat': return withId({ ok: true, endpoints: endpointsJson(stack) });
      case 'stats': return withId({ ok: true, ...statsJson(stack) });
      case 'tcp-info': return withId({ ok: true, connections: tcpConnectionInfo(stack) });
      case 'maddr': return withId({ ok: true, interfaces: maddrJson(stack) });
      case 'addr6': return withId({ ok: true, interfaces: addr6Json(stack) });
      case 'neigh6': return withId({ ok: true, entries: neigh6Json(stack) });
      case 'routes6': return withId({ ok: true, routes: routes6Json(stack) });
      case 'route6-add': return withId(addRoute6(stack, req));
      case 'route6-del': return withId(deleteRoute6(stack, req));
      default: throw new RequestError(`unknown cmd ${JSON.stringify(cmd)}: one of ${CONTROL_COMMANDS.join(', ')}`);
    }
  } catch (err) {
    if (err instanceof RequestError) return withId({ ok: false, error: err.message });
    // A bug in a handler (or in a transport's endpoint list): report it, keep serving.
    return withId({ ok: false, error: `internal error: ${err instanceof Error ? err.message : String(err)}` });
  }
}

/** Answer one request line (JSON text). Never throws. */
export function handleControlLine(stack: Stack, line: string): ControlResponse {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, error: 'not JSON: a request is one line like {"cmd":"routes"}' };
  }
  return handleControlRequest(stack, request);
}

// ------------------------------------------------------------------------------ server

export interface ControlServer {
  readonly path: string;
  close(): void;
}

/** The socket belongs to a live server: a second one must not take it over. */
export class ControlSocketInUse extends Error {}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Whether something answers on the Unix socket at `path` (a live server, not a stale file). */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    const done = (live: boolean) => {
      probe.destroy();
      resolve(live);
    };
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
    probe.setTimeout(1000, () => done(false));
  });
}

/**
 * Listen on `path` for control requests about `stack`. Creates the directory; a socket file left
 * by a server that died is removed, one a live server still answers on is not (ControlSocketInUse).
 * The socket is for root only (it can change routes). close() removes the file if it is still ours.
 */
export async function startControlServer(stack: Stack, path: string, observers: ObserverHub | null = null): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let existing;
  try {
    existing = lstatSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  if (existing !== undefined) {
    if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket`);
    if (await socketIsLive(path)) throw new ControlSocketInUse(`${path} is in use by another pstack server`);
    unlinkSync(path);
  }
  const connections = new Set<Socket>();
  const server: Server = createServer((conn) => serveConnection(stack, conn, connections, observers));
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      reject(errnoCode(err) === 'EADDRINUSE' ? new ControlSocketInUse(`${path} is in use by another pstack server`) : err);
    };
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Errors on the listening socket after start (rare) must not take the stack down.
  server.on('error', () => {});
  // Don't keep the process alive for the socket alone: the server's devices do that.
  server.unref();
  chmodSync(path, 0o600);
  const ourInode = statSync(path).ino;
  let closed = false;
  return {
    path,
    close() {
      if (closed) return;
      closed = true;
      // libuv removes the socket file when the listening handle closes; this covers the
      // case where it could not, without touching a file that is no longer ours.
      server.close();
      for (const c of connections) c.destroy();
      try {
        if (statSync(path).ino === ourInode) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}

function serveConnection(stack: Stack, conn: Socket, connections: Set<Socket>, observers: ObserverHub | null): void {
  connections.add(conn);
  conn.on('close', () => connections.delete(conn));
  conn.on('error', () => conn.destroy());
  conn.setTimeout(IDLE_TIMEOUT_MS, () => conn.destroy());
  let pending = '';
  let refused = false;
  conn.setEncoding('utf8');
  conn.on('data', (chunk: string) => {
    if (refused) return;
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line === '') continue;
      if (line.includes('"capture"')) {
        const req = captureRequest(line);
        if (req !== null) {
          // The connection becomes a frame stream: no more request lines on it.
          refused = true;
          if (observers === null) conn.end(JSON.stringify({ ok: false, error: 'this server does not offer captures' }) + '\n');
          else startCaptureStream(stack, observers, conn, req);
          return;
        }
      }
      if (conn.writable) conn.write(JSON.stringify(handleControlLine(stack, line)) + '\n');
    }
    if (pending.length > MAX_LINE_BYTES) {
      refused = true;
      pending = '';
      conn.end(JSON.stringify({ ok: false, error: `request line longer than ${MAX_LINE_BYTES} bytes` }) + '\n');
    }
  });
}

/** The request if `line` is {"cmd":"capture",...}, else null. */
function captureRequest(line: string): Record<string, unknown> | null {
  try {
    const req = JSON.parse(line) as unknown;
    if (typeof req === 'object' && req !== null && !Array.isArray(req) && (req as Record<string, unknown>)['cmd'] === 'capture') return req as Record<string, unknown>;
  } catch {
    /* answered as not JSON by the ordinary path */
  }
  return null;
}

// ------------------------------------------------------------------------------ client

export const CLIENT_TIMEOUT_MS = 5000;

/**
 * Send one request to the server at `path` and return its response. Every way this can fail
 * (no server, permission, no answer) is a FatalError with one line saying what to do.
 */
export function controlRequest(path: string, request: Record<string, unknown>, timeoutMs = CLIENT_TIMEOUT_MS): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(path);
    let received = '';
    let settled = false;
    const finish = (err: FatalError | null, response?: ControlResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err !== null) reject(err);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new FatalError(`the pstack server on ${path} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(request) + '\n'));
    conn.on('data', (chunk: string) => {
      received += chunk;
      const newline = received.indexOf('\n');
      if (newline < 0) return;
      try {
        finish(null, JSON.parse(received.slice(0, newline)) as ControlResponse);
      } catch {
        finish(new FatalError(`the pstack server on ${path} sent something that is not JSON`));
      }
    });
    conn.on('end', () => finish(new FatalError(`the pstack server on ${path} closed the connection without answering`)));
    conn.on('error', (err) => {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTDIR') {
        finish(new FatalError(`no pstack server is running with control socket ${path} (start pstack server, or give --tap NAME or --control PATH)`));
      } else if (code === 'EACCES' || code === 'EPERM') {
        finish(new FatalError(`permission denied on control socket ${path}: run as root`));
      } else {
        finish(new FatalError(`cannot reach the pstack server on ${path}: ${err.message}`));
      }
    });
  });
}
