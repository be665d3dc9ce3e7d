/**
 * A DNS stub resolver over a pstack stack, shaped like Node's `dns.promises.Resolver`:
 *
 *   const resolver = new Resolver(stack, { servers: ['192.0.2.1'] });
 *   await resolver.resolve4('web.test');                  // ['192.0.2.80']
 *   await resolver.lookup('web.test');                    // { address: '192.0.2.80', family: 4 }
 *
 * Queries go over UDP from the stack (random ID and source port for each, RFC 5452), with
 * resolv.conf's semantics: `timeout` ms per server and `tries` attempts over the server list
 * (defaults 5000 and 2), `rotate`, `search` domains with `ndots`; a truncated answer is asked
 * again over TCP (RFC 7766). CNAME chains are followed within the answer. Answers are cached
 * by their TTL (capped by `maxTtl`, 1 day by default; TTL 0 is not cached), negative answers
 * by the SOA's (RFC 2308), and lookup() reads a hosts table first ('localhost' and `hosts`).
 * Errors are Node's: `code` ENOTFOUND (NXDOMAIN), ENODATA, ESERVFAIL, EREFUSED, ETIMEOUT,
 * ECONNREFUSED, EBADRESP, EBADNAME, ECANCELLED, with `syscall` ('queryA', 'getaddrinfo', ...)
 * and `hostname`.
 *
 * Servers are IPv4 or IPv6, in Node's forms ('192.0.2.1', '192.0.2.1:5353', '2001:db8::1',
 * '[2001:db8::1]:5353'; a link-local one with its interface, 'fe80::1%tap0'), asked over UDP
 * and TCP of their own family. Without servers set (options, setServers), the resolver asks
 * the ones the network gave (setDiscoveredServers: a DHCP lease, RDNSS from router
 * advertisements for their lifetime), with their search domains (DHCP option 119, DNSSL).
 *
 * Differences from Node: without any server the default is 127.0.0.1 (glibc's default without a
 * resolv.conf), not the system's; getServers() keeps a link-local server's zone; lookup()'s
 * default 'verbatim' order is RFC 6724's by reachability and precedence (as glibc's
 * getaddrinfo sorts; see dns/order.ts); resolve*() use search domains as getaddrinfo does; lookup()
 * reports ETIMEOUT, ESERVFAIL, ... as they are where Node would say EAI_AGAIN; there is no
 * resolveAny, resolveNaptr or resolveCaa.
 */

import { isIPv4 } from 'node:net';
import type { UdpStack } from './dgram.js';
import type { TcpStack } from './net.js';
import { parseIpv4 } from '../wire/addr.js';
import { DnsClass, DnsType, canonicalDnsName, dnsNameToLabels, type DnsRecord } from '../wire/dns.js';
import { ipv6ToString, parseIpv6 } from '../wire/addr6.js';
import { DnsCache } from './dns/cache.js';
import { HostsTable, type HostsInit } from './dns/hosts.js';
import { interpret, ttlOf } from './dns/answers.js';
import { Exchange, type DnsStats } from './dns/exchange.js';
import { formatServer, parseServer, type ServerAddress } from './dns/servers.js';
import { orderAddresses, type ResultOrder } from './dns/order.js';
import { parseIpAddress } from '../stack/ip-address.js';
import { argError, dnsError, BADNAME, NODATA, NOTFOUND, SERVFAIL } from './dns/errors.js';
import { toResult, type RecordResult, type RecordWithTtl } from './dns/results.js';

export * from './dns/errors.js';
export type { DnsStats } from './dns/exchange.js';
export type * from './dns/results.js';

export interface ResolverOptions {
  /** Servers as for setServers(); without them, the discovered ones, else ['127.0.0.1']. */
  servers?: readonly string[];
  /** ms to wait for each server in each attempt (resolv.conf `timeout`); default 5000. */
  timeout?: number;
  /** Attempts over the server list (resolv.conf `attempts`, Node's `tries`); default 2. */
  tries?: number;
  /** Start each query at the next server instead of the first (resolv.conf `rotate`). */
  rotate?: boolean;
  /** Domains tried after (or before, see ndots) the name as given. */
  search?: readonly string[];
  /** A name with fewer dots than this tries the search list first; default 1. */
  ndots?: number;
  /** Extra hosts-table entries for lookup(): /etc/hosts text or { name: address(es) }. */
  hosts?: HostsInit;
  /** Longest time an answer is cached, in seconds; default 86400. */
  maxTtl?: number;
  /** Longest time a negative answer is cached, in seconds; default 10800 (RFC 2308 5). */
  maxNegativeTtl?: number;
  /** Most cached answers; 0 turns the cache off. Default 1000. */
  cacheSize?: number;
  /** The UDP payload size offered with EDNS(0), or 0 for no EDNS; default 1232. */
  edns?: number;
  /** CNAMEs followed within an answer; default 8. */
  maxCnameChain?: number;
  /** The cache's clock in ms (tests); default Date.now. */
  now?: () => number;
}

export interface ResolveOptions {
  /** Also return each address's TTL, as { address, ttl }. */
  ttl?: boolean;
}

export interface LookupOptions {
  /** 4, 6, or 0 (either; IPv4 first). 'IPv4'/'IPv6' also accepted. */
  family?: number | 'IPv4' | 'IPv6';
  all?: boolean;
  /**
   * 'verbatim' (default, as Node's): getaddrinfo's order, RFC 6724 (addresses this stack can
   * reach first, then IPv6 before IPv4); or 'ipv4first', 'ipv6first'.
   */
  order?: ResultOrder;
  hints?: number;
  /** Node's older switch: false is 'ipv4first', true 'verbatim'; `order` wins. */
  verbatim?: boolean;
}

export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

const RRTYPES: Record<string, [number, string]> = {
  A: [DnsType.A, 'queryA'], AAAA: [DnsType.AAAA, 'queryAaaa'], CNAME: [DnsType.CNAME, 'queryCname'], MX: [DnsType.MX, 'queryMx'],
  NS: [DnsType.NS, 'queryNs'], PTR: [DnsType.PTR, 'queryPtr'], SOA: [DnsType.SOA, 'querySoa'], SRV: [DnsType.SRV, 'querySrv'],
  TXT: [DnsType.TXT, 'queryTxt'],
};
/** Search domains used, at most (glibc's MAXDNSRCH is 6). */
const MAX_SEARCH = 8;

function cleanSearch(domains: readonly string[]): string[] {
  return domains.slice(0, MAX_SEARCH).map((d) => d.replace(/^\.|\.$/g, '')).filter((d) => d !== '');
}

export class Resolver {
  /** Servers given by setServers() or the options; null while none were (the discovered ones are used). */
  private explicit: ServerAddress[] | null = null;
  /** Servers learnt from the network (a DHCP lease, router advertisements), by source. */
  private readonly discovered = new Map<string, ServerAddress[]>();
  /** What queries go to: the explicit servers, else the discovered ones, else 127.0.0.1. */
  private servers: ServerAddress[] = [];
  /** The search list given by setSearch() or the options, and the discovered ones by source. */
  private explicitSearch: string[] | null = null;
  private readonly discoveredSearch = new Map<string, string[]>();
  private readonly cache: DnsCache;
  private readonly hosts: HostsTable;
  private readonly exchanges = new Set<Exchange>();
  private rotation = 0;
  private readonly o: Required<Omit<ResolverOptions, 'servers' | 'hosts'>>;
  readonly stats: DnsStats = { queries: 0, udpSent: 0, tcpSent: 0, dropped: 0, malformed: 0, timeouts: 0, truncated: 0, cacheHits: 0 };

  constructor(private readonly stack: UdpStack & TcpStack, options: ResolverOptions = {}) {
    /** An option's value, its default when absent (or -1, Node's "default"), a RangeError when below `min`. */
    const num = (v: number | undefined, dflt: number, min: number): number => {
      if (v === undefined || v === -1) return dflt;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw argError('ERR_OUT_OF_RANGE', `A resolver option is out of range: ${String(v)} (at least ${min})`, RangeError);
      return v;
    };
    this.o = {
      timeout: num(options.timeout, 5000, 1), tries: Math.floor(num(options.tries, 2, 1)), rotate: options.rotate ?? false,
      search: [],
      ndots: Math.min(15, Math.floor(num(options.ndots, 1, 0))), maxTtl: num(options.maxTtl, 86400, 0),
      maxNegativeTtl: num(options.maxNegativeTtl, 10800, 0), cacheSize: Math.floor(num(options.cacheSize, 1000, 0)),
      edns: Math.min(65535, Math.floor(num(options.edns, 1232, 0))), maxCnameChain: Math.min(64, Math.floor(num(options.maxCnameChain, 8, 0))),
      now: options.now ?? Date.now,
    };
    if (this.o.edns > 0 && this.o.edns < 512) this.o.edns = 512;
    this.cache = new DnsCache(this.o.cacheSize);
    this.hosts = new HostsTable(options.hosts);
    if (options.servers !== undefined) this.setServers(options.servers);
    else this.refreshServers();
    if (options.search !== undefined) this.setSearch(options.search);
  }

  /** The servers to ask, in Node's forms (see dns/servers.ts); they replace any discovered ones. */
  setServers(servers: readonly string[]): void {
    if (!Array.isArray(servers)) throw argError('ERR_INVALID_ARG_TYPE', 'The "servers" argument must be an instance of Array.');
    this.explicit = servers.map(parseServer);
    this.refreshServers();
  }

  /**
   * Servers learnt from the network under `source` (say 'dhcp:tap0' or 'router-advertisement'),
   * replacing what that source gave before; [] withdraws them. They are asked only while no
   * servers were set explicitly, in the order the sources first gave any, without repeats.
   */
  setDiscoveredServers(source: string, servers: readonly string[]): void {
    const parsed: ServerAddress[] = [];
    for (const text of servers) {
      try {
        parsed.push(parseServer(text));
      } catch {
        // A source's bad entry is skipped; the others still count.
      }
    }
    if (parsed.length === 0) this.discovered.delete(source);
    else this.discovered.set(source, parsed);
    this.refreshServers();
  }

  /** The search list (resolv.conf `search`); it replaces any discovered one. */
  setSearch(domains: readonly string[]): void {
    this.explicitSearch = cleanSearch(domains);
    this.refreshSearch();
  }

  /** A search list learnt from the network under `source` (DHCP option 119, DNSSL); [] withdraws it. */
  setDiscoveredSearch(source: string, domains: readonly string[]): void {
    const clean = cleanSearch(domains);
    if (clean.length === 0) this.discoveredSearch.delete(source);
    else this.discoveredSearch.set(source, clean);
    this.refreshSearch();
  }

  getServers(): string[] {
    return this.servers.map(formatServer);
  }

  /** The search domains in use. */
  getSearch(): string[] {
    return [...this.o.search];
  }

  private refreshServers(): void {
    if (this.explicit !== null) {
      this.servers = this.explicit;
      return;
    }
    const seen = new Set<string>();
    const list: ServerAddress[] = [];
    for (const servers of this.discovered.values()) {
      for (const s of servers) {
        const key = formatServer(s);
        if (!seen.has(key)) {
          seen.add(key);
          list.push(s);
        }
      }
    }
    this.servers = list.length > 0 ? list : [parseServer('127.0.0.1')];
  }

  private refreshSearch(): void {
    if (this.explicitSearch !== null) {
      this.o.search = this.explicitSearch;
      return;
    }
    const list: string[] = [];
    for (const domains of this.discoveredSearch.values()) for (const d of domains) if (!list.includes(d)) list.push(d);
    this.o.search = list.slice(0, MAX_SEARCH);
  }

  /** Every query in flight fails with ECANCELLED. */
  cancel(): void {
    for (const e of [...this.exchanges]) e.cancel();
  }

  /** Forget every cached answer. */
  clearCache(): void {
    this.cache.clear();
  }

  resolve4(hostname: string): Promise<string[]>;
  resolve4(hostname: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
  resolve4(hostname: string, options?: ResolveOptions): Promise<string[] | RecordWithTtl[]>;
  resolve4(hostname: string, options?: ResolveOptions): Promise<string[] | RecordWithTtl[]> {
    return this.resolve(hostname, 'A', options) as Promise<string[] | RecordWithTtl[]>;
  }

  resolve6(hostname: string): Promise<string[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
  resolve6(hostname: string, options?: ResolveOptions): Promise<string[] | RecordWithTtl[]>;
  resolve6(hostname: string, options?: ResolveOptions): Promise<string[] | RecordWithTtl[]> {
    return this.resolve(hostname, 'AAAA', options) as Promise<string[] | RecordWithTtl[]>;
  }

  resolveCname(hostname: string): Promise<string[]> {
    return this.resolve(hostname, 'CNAME') as Promise<string[]>;
  }

  resolveMx(hostname: string): Promise<RecordResult<'MX'>[]> {
    return this.resolve(hostname, 'MX') as Promise<RecordResult<'MX'>[]>;
  }

  resolveNs(hostname: string): Promise<string[]> {
    return this.resolve(hostname, 'NS') as Promise<string[]>;
  }

  resolvePtr(hostname: string): Promise<string[]> {
    return this.resolve(hostname, 'PTR') as Promise<string[]>;
  }

  resolveSrv(hostname: string): Promise<RecordResult<'SRV'>[]> {
    return this.resolve(hostname, 'SRV') as Promise<RecordResult<'SRV'>[]>;
  }

  resolveTxt(hostname: string): Promise<string[][]> {
    return this.resolve(hostname, 'TXT') as Promise<string[][]>;
  }

  resolveSoa(hostname: string): Promise<RecordResult<'SOA'>> {
    return this.resolve(hostname, 'SOA') as Promise<RecordResult<'SOA'>>;
  }

  /**
   * Like dns.promises.resolve: rrtype 'A' (default), 'AAAA', 'CNAME', 'MX', 'NS', 'PTR',
   * 'SOA', 'SRV', 'TXT'; an array of results (for 'SOA', as Node, the one record).
   */
  resolve(hostname: string, rrtype = 'A', options?: ResolveOptions): Promise<unknown> {
    if (typeof hostname !== 'string') throw argError('ERR_INVALID_ARG_TYPE', `The "name" argument must be of type string. Received ${typeof hostname}`);
    const t = typeof rrtype === 'string' ? RRTYPES[rrtype] : undefined;
    if (t === undefined) throw argError('ERR_INVALID_ARG_VALUE', `The argument 'rrtype' is invalid. Received ${String(rrtype)}`);
    const [type, syscall] = t;
    return this.query(hostname, type, syscall).then((records) => {
      const results = records.map((rr) => toResult(rr, options?.ttl === true));
      return type === DnsType.SOA ? results[0] : results;
    });
  }

  /** PTR names of an address (in-addr.arpa or ip6.arpa); syscall 'getHostByAddr'. */
  reverse(ip: string): Promise<string[]> {
    if (typeof ip !== 'string') throw argError('ERR_INVALID_ARG_TYPE', `The "ip" argument must be of type string. Received ${typeof ip}`);
    let name: string | null = null;
    const v4 = isIPv4(ip) ? parseIpv4(ip) : null;
    if (v4 !== null) name = `${v4 & 0xff}.${(v4 >>> 8) & 0xff}.${(v4 >>> 16) & 0xff}.${v4 >>> 24}.in-addr.arpa.`;
    const v6 = v4 === null ? parseIpv6(ip) : null;
    if (v6 !== null) {
      const nibbles: string[] = [];
      for (let i = 15; i >= 0; i--) nibbles.push((v6[i]! & 0xf).toString(16), (v6[i]! >>> 4).toString(16));
      name = `${nibbles.join('.')}.ip6.arpa.`;
    }
    if (name === null) return Promise.reject(dnsError('EINVAL', 'getHostByAddr', ip));
    return this.query(name, DnsType.PTR, 'getHostByAddr', ip).then((records) => records.map((rr) => toResult(rr, false) as string));
  }

  /**
   * Like dns.promises.lookup: an IP literal as it is, then the hosts table, then A (and AAAA)
   * records. { address, family }, or an array of them with `all`.
   */
  lookup(hostname: string, options: LookupOptions & { all: true }): Promise<LookupAddress[]>;
  lookup(hostname: string, options?: number | (LookupOptions & { all?: false })): Promise<LookupAddress>;
  lookup(hostname: string, options?: number | LookupOptions): Promise<LookupAddress | LookupAddress[]>;
  lookup(hostname: string, options?: number | LookupOptions): Promise<LookupAddress | LookupAddress[]> {
    if (typeof hostname !== 'string') throw argError('ERR_INVALID_ARG_TYPE', `The "hostname" argument must be of type string. Received ${typeof hostname}`);
    const o: LookupOptions = typeof options === 'number' ? { family: options } : options ?? {};
    const family = o.family === 'IPv4' ? 4 : o.family === 'IPv6' ? 6 : (o.family ?? 0);
    if (family !== 0 && family !== 4 && family !== 6) throw argError('ERR_INVALID_ARG_VALUE', `The property 'options.family' must be one of: 0, 4, 6. Received ${String(o.family)}`);
    const all = o.all === true;
    const pick = (list: LookupAddress[]) => {
      const order: ResultOrder = o.order ?? (o.verbatim === false ? 'ipv4first' : 'verbatim');
      const sorted = orderAddresses(list, order, (a) => this.routable(a.address));
      return all ? sorted : sorted[0]!;
    };
    if (isIPv4(hostname)) return Promise.resolve(pick([{ address: hostname, family: 4 }]));
    const v6 = parseIpv6(hostname);
    if (v6 !== null) return Promise.resolve(pick([{ address: ipv6ToString(v6), family: 6 }]));
    const fromHosts = this.hosts.get(hostname);
    if (fromHosts !== null) {
      const list: LookupAddress[] = [
        ...(family !== 6 ? fromHosts.v4.map((address) => ({ address, family: 4 as const })) : []),
        ...(family !== 4 ? fromHosts.v6.map((address) => ({ address, family: 6 as const })) : []),
      ];
      if (list.length > 0) return Promise.resolve(pick(list));
    }
    const ask = (type: number, fam: 4 | 6) => this.query(hostname, type, 'getaddrinfo')
      .then((rrs) => rrs.map((rr) => ({ address: toResult(rr, false) as string, family: fam })));
    const wanted = family === 0 ? [ask(DnsType.A, 4), ask(DnsType.AAAA, 6)] : [ask(family === 4 ? DnsType.A : DnsType.AAAA, family)];
    return Promise.allSettled(wanted).then((results) => {
      const list = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      if (list.length > 0) return pick(list);
      // Both failed (or the one did): NXDOMAIN wins, then the first error.
      const errors = results.map((r) => (r as PromiseRejectedResult).reason as Error & { code?: string });
      throw errors.find((e) => e.code === NOTFOUND) ?? errors[0]!;
    });
  }

  /** Whether the stack has a route to `text` (RFC 6724 rule 1). */
  private routable(text: string): boolean {
    const parsed = parseIpAddress(text);
    return parsed === null || this.stack.udp.routable(parsed.address);
  }

  // ------------------------------------------------------------------ the query path

  /** The names to ask, in order (resolv.conf: search list before the name when it has fewer than ndots dots). */
  private candidates(name: string): string[] {
    if (name.endsWith('.') && !name.endsWith('\\.')) return [name];
    const dots = (name.match(/(?<!\\)\./g) ?? []).length;
    const searched = this.o.search.map((d) => `${name}.${d}`);
    return dots >= this.o.ndots ? [name, ...searched] : [...searched, name];
  }

  /** Records of `type` for `hostname` (through search domains and CNAMEs), or a Node-shaped error. */
  private async query(hostname: string, type: number, syscall: string, reported = hostname): Promise<DnsRecord[]> {
    const names = this.candidates(hostname).filter((n) => typeof dnsNameToLabels(n) !== 'string');
    if (names.length === 0 || hostname === '') throw dnsError(BADNAME, syscall, reported);
    let nodata = false;
    let last: string = NOTFOUND;
    for (const name of names) {
      const r = await this.queryName(name, type);
      if (typeof r !== 'string') return r;
      if (r === NODATA) nodata = true;
      last = r;
      // Like glibc's res_nsearch: the next name after NXDOMAIN, NODATA or SERVFAIL; anything else ends the search.
      if (r !== NOTFOUND && r !== NODATA && r !== SERVFAIL) break;
    }
    throw dnsError(nodata && (last === NOTFOUND || last === NODATA || last === SERVFAIL) ? NODATA : last, syscall, reported);
  }

  /** One fully qualified name: the cache, else the servers. Records, or an error code. */
  private async queryName(name: string, type: number): Promise<DnsRecord[] | string> {
    const canonical = canonicalDnsName(name)!;
    const key = DnsCache.key(canonical, type);
    const now = this.o.now();
    const hit = this.cache.get(key, now);
    if (hit !== null) {
      this.stats.cacheHits++;
      if (hit.negative !== null) return hit.negative;
      const elapsed = Math.floor((now - hit.stored) / 1000);
      return hit.records.map((rr) => ({ ...rr, ttl: Math.max(0, rr.ttl - elapsed) }));
    }
    this.stats.queries++;
    const n = this.servers.length;
    const start = this.o.rotate && n > 0 ? this.rotation++ % n : 0;
    const exchange = new Exchange(this.stack, this.stack, this.servers, { name: canonical, type, class: DnsClass.IN },
      { timeout: this.o.timeout, tries: this.o.tries, ednsSize: this.o.edns, start }, this.stats);
    this.exchanges.add(exchange);
    let result;
    try {
      result = await exchange.run();
    } finally {
      this.exchanges.delete(exchange);
    }
    if (!result.ok) return result.code;
    const outcome = interpret(result.message, canonical, type, this.o.maxCnameChain);
    const after = this.o.now();
    if (outcome.kind === 'error') return outcome.code;
    if (outcome.kind === 'negative') {
      if (outcome.ttl !== null) this.cache.set(key, [], outcome.code, Math.min(outcome.ttl, this.o.maxNegativeTtl), after);
      return outcome.code;
    }
    // Each record's TTL, no longer than the chain's nor the cap.
    const cap = Math.min(outcome.ttl, this.o.maxTtl);
    const records = outcome.records.map((rr) => ({ ...rr, ttl: Math.min(ttlOf(rr.ttl), cap) }));
    this.cache.set(key, records, null, cap, after);
    return records;
  }
}

