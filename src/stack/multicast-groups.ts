/**
 * Multicast group membership on one link, for either IP family (RFC 3376 3 for IGMPv3, RFC 3810
 * 4 for MLDv2, which share the model): each socket holds, per group it joined, a source filter
 * (INCLUDE or EXCLUDE a list of sources); the link's state for the group is the merge of its
 * sockets' filters (RFC 3376 3.2); a change of the link's state is what the protocol reports.
 *
 * Pure bookkeeping: no timers, no packets. The errors are the errno names Linux's
 * setsockopt(IP_ADD_MEMBERSHIP and friends) gives, which Node's dgram passes through.
 */

import type { IpAddress } from './ip-address.js';

export type FilterMode = 'include' | 'exclude';

/** A source filter: INCLUDE {} is "not a member"; EXCLUDE {} is "every source" (any-source join). */
export interface SourceFilter<A extends IpAddress = IpAddress> {
  mode: FilterMode;
  sources: A[];
}

/** Linux's net.ipv4.igmp_max_memberships: groups one socket may join. */
export const MAX_MEMBERSHIPS_PER_SOCKET = 20;
/** Linux's net.ipv4.igmp_max_msf: sources in one socket's filter for one group. */
export const MAX_SOURCES_PER_FILTER = 10;

/** One socket's filter for one group. */
interface SocketFilter<A extends IpAddress> {
  mode: FilterMode;
  sources: Set<A>;
}

/** The link's state for one group and the sockets that make it up. */
export class GroupState<A extends IpAddress = IpAddress> {
  readonly sockets = new Map<object, SocketFilter<A>>();
  mode: FilterMode = 'include';
  readonly sources = new Set<A>();

  constructor(readonly group: A) {}

  /** Whether the link takes datagrams to this group from `src`. */
  accepts(src: A): boolean {
    return this.mode === 'exclude' ? !this.sources.has(src) : this.sources.has(src);
  }

  filter(): SourceFilter<A> {
    return { mode: this.mode, sources: [...this.sources] };
  }

  /**
   * RFC 3376 3.2: EXCLUDE if any socket excludes, with the intersection of the exclude lists
   * minus every include list; otherwise INCLUDE the union of the include lists.
   */
  merge(): void {
    let exclude: Set<A> | null = null;
    const include = new Set<A>();
    for (const f of this.sockets.values()) {
      if (f.mode === 'include') {
        for (const s of f.sources) include.add(s);
      } else if (exclude === null) exclude = new Set(f.sources);
      else for (const s of exclude) if (!f.sources.has(s)) exclude.delete(s);
    }
    this.sources.clear();
    if (exclude !== null) {
      this.mode = 'exclude';
      for (const s of exclude) if (!include.has(s)) this.sources.add(s);
    } else {
      this.mode = 'include';
      for (const s of include) this.sources.add(s);
    }
  }
}

/** A change of the link's state for a group: what the membership protocol reports. */
export interface MembershipChange<A extends IpAddress = IpAddress> {
  group: A;
  before: SourceFilter<A>;
  after: SourceFilter<A>;
}

export type MembershipResult<A extends IpAddress = IpAddress> = { error: string; change?: undefined } | { error: null; change: MembershipChange<A> | null };


/** The memberships on one link (one device). */
export class LinkMemberships<A extends IpAddress = IpAddress> {
  readonly groups = new Map<A, GroupState<A>>();

  /** Any-source join (IP_ADD_MEMBERSHIP): EADDRINUSE if the socket already has the group. */
  join(owner: object, group: A, perSocket: number): MembershipResult<A> {
    const g = this.groups.get(group);
    if (g?.sockets.has(owner)) return { error: 'EADDRINUSE' };
    if (perSocket >= MAX_MEMBERSHIPS_PER_SOCKET) return { error: 'ENOBUFS' };
    return this.update(group, (s) => s.set(owner, { mode: 'exclude', sources: new Set() }));
  }

  /** IP_DROP_MEMBERSHIP: the socket's whole membership, whatever its filter. */
  leave(owner: object, group: A): MembershipResult<A> {
    if (this.groups.get(group)?.sockets.has(owner) !== true) return { error: 'EADDRNOTAVAIL' };
    return this.update(group, (s) => s.delete(owner));
  }

  /**
   * IP_ADD_SOURCE_MEMBERSHIP: receive from `source` too (joining in INCLUDE mode first). As in
   * Linux, an any-source membership (EXCLUDE {}) switches to INCLUDE {source}; an EXCLUDE
   * filter with sources is EINVAL; a source already there is EADDRNOTAVAIL.
   */
  addSource(owner: object, group: A, source: A, perSocket: number): MembershipResult<A> {
    const f = this.groups.get(group)?.sockets.get(owner);
    if (f === undefined) {
      if (perSocket >= MAX_MEMBERSHIPS_PER_SOCKET) return { error: 'ENOBUFS' };
      return this.update(group, (s) => s.set(owner, { mode: 'include', sources: new Set([source]) }));
    }
    if (f.mode === 'exclude' && f.sources.size > 0) return { error: 'EINVAL' };
    if (f.mode === 'include' && f.sources.has(source)) return { error: 'EADDRNOTAVAIL' };
    if (f.mode === 'include' && f.sources.size >= MAX_SOURCES_PER_FILTER) return { error: 'ENOBUFS' };
    return this.update(group, (s) => {
      const mine = s.get(owner)!;
      if (mine.mode === 'exclude') mine.mode = 'include';
      mine.sources.add(source);
    });
  }

  /**
   * IP_DROP_SOURCE_MEMBERSHIP: no longer from `source`; the last source of an INCLUDE filter
   * leaves the group. EINVAL without a membership, EADDRNOTAVAIL for a source not listed.
   */
  dropSource(owner: object, group: A, source: A): MembershipResult<A> {
    const f = this.groups.get(group)?.sockets.get(owner);
    if (f === undefined || f.mode !== 'include') return { error: 'EINVAL' };
    if (!f.sources.has(source)) return { error: 'EADDRNOTAVAIL' };
    return this.update(group, (s) => {
      f.sources.delete(source);
      if (f.sources.size === 0) s.delete(owner);
    });
  }

  /** Every membership of a closing socket (Linux's ip_mc_drop_socket). */
  leaveAll(owner: object): MembershipChange<A>[] {
    const changes: MembershipChange<A>[] = [];
    for (const g of [...this.groups.values()]) {
      if (!g.sockets.has(owner)) continue;
      const r = this.update(g.group, (s) => s.delete(owner));
      if (r.error === null && r.change !== null) changes.push(r.change);
    }
    return changes;
  }

  /** How many groups `owner` holds here. */
  countFor(owner: object): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.sockets.has(owner)) n++;
    return n;
  }

  /** Whether the link takes a datagram to `group` from `src`. */
  accepts(group: A, src: A): boolean {
    const g = this.groups.get(group);
    return g !== undefined && g.accepts(src);
  }

  /**
   * Whether `owner` takes a datagram to `group` from `src`: its own filter when it joined the
   * group here; otherwise yes, as Linux's default IP_MULTICAST_ALL delivers a group the host
   * joined to every socket bound to the port.
   */
  socketAccepts(owner: object, group: A, src: A): boolean {
    const f = this.groups.get(group)?.sockets.get(owner);
    if (f === undefined) return true;
    return f.mode === 'exclude' ? !f.sources.has(src) : f.sources.has(src);
  }

  private update(group: A, edit: (sockets: Map<object, SocketFilter<A>>) => void): MembershipResult<A> {
    let g = this.groups.get(group);
    const before: SourceFilter<A> = g === undefined ? { mode: 'include', sources: [] } : g.filter();
    if (g === undefined) this.groups.set(group, (g = new GroupState<A>(group)));
    edit(g.sockets);
    g.merge();
    if (g.sockets.size === 0) this.groups.delete(group);
    const after: SourceFilter<A> = g.sockets.size === 0 ? { mode: 'include', sources: [] } : g.filter();
    return { error: null, change: sameFilter(before, after) ? null : { group, before, after } };
  }
}

function sameFilter<A extends IpAddress>(a: SourceFilter<A>, b: SourceFilter<A>): boolean {
  if (a.mode !== b.mode || a.sources.length !== b.sources.length) return false;
  const s = new Set(a.sources);
  return b.sources.every((x) => s.has(x));
}

/** Sources in `a` and not in `b`. */
export function sourcesMinus<A extends IpAddress>(a: readonly A[], b: readonly A[]): A[] {
  const s = new Set(b);
  return a.filter((x) => !s.has(x));
}
