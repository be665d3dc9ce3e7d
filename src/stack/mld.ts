/**
 * MLD, the listener side (RFC 3810 MLDv2, with the MLDv1 querier compatibility of RFC 3810 8):
 * tell the link's routers which IPv6 groups (and sources) this host listens to, per device.
 *
 * - A change of a device's membership (multicast-groups.ts) is reported at once, then repeated
 *   [Robustness Variable] - 1 more times at random intervals up to the Unsolicited Report
 *   Interval (RFC 3810 6.1), with per-source retransmission counts (as Linux).
 * - Queries are answered after a random delay within their Maximum Response Delay (RFC 3810
 *   6.2): General (every group), Multicast-Address-Specific and -and-Source-Specific.
 * - An MLDv1 query puts the device in MLDv1 compatibility mode for the Older Version Querier
 *   Present Timeout (RFC 3810 8.2.1): reports are then v1 Reports (Done on leaving), source
 *   filters are not reported, and another listener's v1 report for a group cancels ours.
 * - ff02::1 (all nodes) is never reported (RFC 3810 6); queries not from a link-local source
 *   are dropped (RFC 3810 5.1.14).
 *
 * Timers run on the injected Timers, randomness comes from the injected `random`, and packets
 * leave through the injected sender, so all of it runs on a fake clock in unit tests.
 */

import type { Device } from '../link/device.js';
import type { Timer, Timers } from '../time/clock.js';
import { IPV6_ALL_NODES, isLinkLocalIpv6, isUnspecifiedIpv6 } from '../wire/addr6.js';
import { MulticastRecordType, type MldMessageInit, type MldMessage } from '../wire/mld.js';
import type { Counters } from './counters.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import type { LinkMemberships, MembershipChange, SourceFilter } from './multicast-groups.js';

/** ff02::1: every node is in it; never reported. */
export const MLD_ALL_NODES: Ipv6Addr = intern6(IPV6_ALL_NODES);
/** ff02::2, where MLDv1 Done messages go. */
export const MLD_ALL_ROUTERS: Ipv6Addr = intern6(Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2));
/** ff02::16, where MLDv2 reports go (RFC 3810 5.2.14). */
export const MLDV2_ALL_ROUTERS: Ipv6Addr = intern6(Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16));

export interface MldConfig {
  /** RFC 3810 9.1 Robustness Variable (a querier's QRV replaces it). */
  robustness: number;
  /** RFC 3810 9.11 Unsolicited Report Interval. */
  unsolicitedReportIntervalMs: number;
  /** RFC 3810 9.2 Query Interval (a querier's QQIC replaces it). */
  queryIntervalMs: number;
  /** RFC 3810 9.3 Query Response Interval. */
  queryResponseIntervalMs: number;
}

export const defaultMldConfig: MldConfig = {
  robustness: 2,
  unsolicitedReportIntervalMs: 1000,
  queryIntervalMs: 125_000,
  queryResponseIntervalMs: 10_000,
};

/** What the protocol needs from the rest of the IPv6 layer. */
export interface MldContext {
  readonly timers: Timers;
  readonly counters: Counters;
  /** The memberships of `device` (sockets' and the layer's own), if it has any. */
  memberships(device: Device): LinkMemberships<Ipv6Addr> | undefined;
  /** Send one MLD message out of `device` to `dst` (hop limit 1, Router Alert, link-local source). */
  send(device: Device, dst: Ipv6Addr, message: MldMessageInit): void;
  /** Bytes an MLD message out of `device` may have. */
  maxMessage(device: Device): number;
  /** A number in [0, 1) (Math.random in production). */
  random(): number;
}

const MAX_QUERIED_SOURCES = 1024;

interface PendingChange {
  modeLeft: number;
  allow: Map<Ipv6Addr, number>;
  block: Map<Ipv6Addr, number>;
}

interface GroupResponse {
  timer: Timer;
  sources: Set<Ipv6Addr> | null;
}

type Record = { type: number; group: Ipv6Addr; sources: Ipv6Addr[] };

/** One device's MLD state. */
class LinkMld {
  v1Until = -1;
  lastVersion: 1 | 2 = 2;
  robustness: number;
  queryIntervalMs: number;
  readonly pending = new Map<Ipv6Addr, PendingChange>();
  readonly responses = new Map<Ipv6Addr, GroupResponse>();
  readonly changeTimer: Timer;
  readonly generalTimer: Timer;

  constructor(readonly device: Device, mld: Mld, config: MldConfig, timers: Timers) {
    this.robustness = config.robustness;
    this.queryIntervalMs = config.queryIntervalMs;
    this.changeTimer = timers.create(() => mld.retransmit(this));
    this.generalTimer = timers.create(() => mld.answerGeneral(this));
  }
}

export class Mld {
  private readonly links = new Map<Device, LinkMld>();

  constructor(private readonly ctx: MldContext, readonly config: MldConfig = defaultMldConfig) {}

  /** The MLD version `device` speaks now (2 unless an MLDv1 querier was heard). */
  version(device: Device): 1 | 2 {
    const l = this.links.get(device);
    return l === undefined ? 2 : this.currentVersion(l);
  }

  /** A device's membership changed: report it now and schedule the repeats. */
  changed(device: Device, change: MembershipChange<Ipv6Addr>): void {
    if (change.group === MLD_ALL_NODES) return;
    const l = this.link(device);
    const version = this.currentVersion(l);
    let p = l.pending.get(change.group);
    if (p === undefined) l.pending.set(change.group, (p = { modeLeft: 0, allow: new Map(), block: new Map() }));
    const r = l.robustness;
    if (version < 2 || change.before.mode !== change.after.mode) {
      p.modeLeft = r;
      p.allow.clear();
      p.block.clear();
    } else {
      // Same mode: ALLOW what is newly received, BLOCK what no longer is (RFC 3810 6.1 table).
      const inc = change.after.mode === 'include';
      const before = new Set(change.before.sources);
      const after = new Set(change.after.sources);
      for (const s of after) if (!before.has(s)) setCount(inc ? p.allow : p.block, inc ? p.block : p.allow, s, r);
      for (const s of before) if (!after.has(s)) setCount(inc ? p.block : p.allow, inc ? p.allow : p.block, s, r);
    }
    this.retransmit(l);
  }

  /** A device went away or the stack closes: forget its state and timers. */
  forget(device: Device): void {
    const l = this.links.get(device);
    if (l === undefined) return;
    l.changeTimer.disarm();
    l.generalTimer.disarm();
    for (const g of l.responses.values()) g.timer.disarm();
    this.links.delete(device);
  }

  // ------------------------------------------------------------------ receive

  /** A parsed MLD message from `src` arrived on `device` (checksum checked by ICMPv6). */
  receive(device: Device, src: Ipv6Addr, m: MldMessage, hopLimit = 1): void {
    const counters = this.ctx.counters;
    counters.mldIn++;
    if (device.type === 'loopback') return;
    if (m.kind === 'query') {
      // RFC 3810 6.2 (and 5.1.14): a query not from a link-local address, or not with hop limit 1, is dropped.
      if (!isLinkLocalIpv6(src.bytes)) {
        counters.drop('mld: query-not-link-local');
        return;
      }
      if (hopLimit !== 1) {
        counters.drop('mld: query-hop-limit');
        return;
      }
      counters.mldQueriesIn++;
      this.query(device, m);
    } else if (m.kind === 'report') {
      // RFC 2710 4: in v1 mode, another listener's report makes ours redundant.
      const l = this.links.get(device);
      if (l !== undefined && this.currentVersion(l) < 2) {
        const g = l.responses.get(intern6(m.group));
        if (g !== undefined) {
          g.timer.disarm();
          l.responses.delete(intern6(m.group));
        }
      }
    }
    // v2 reports and dones are for routers.
  }

  private query(device: Device, q: Extract<MldMessage, { kind: 'query' }>): void {
    const ctx = this.ctx;
    const l = this.link(device);
    const now = ctx.timers.clock.now();
    if (q.version === 2) {
      if (q.robustness !== 0) l.robustness = q.robustness;
      if (q.queryInterval !== 0) l.queryIntervalMs = q.queryInterval * 1000;
    }
    // RFC 3810 9.12 Older Version Querier Present Timeout.
    if (q.version === 1) l.v1Until = now + l.robustness * l.queryIntervalMs + this.config.queryResponseIntervalMs;
    const version = this.currentVersion(l);
    const links = ctx.memberships(device);
    const maxMs = q.maxResponseDelay;
    const group = intern6(q.group);
    const general = isUnspecifiedIpv6(group.bytes);
    if (version < 2) {
      if (links === undefined) return;
      for (const g of links.groups.keys()) {
        if (g === MLD_ALL_NODES || (!general && group !== g)) continue;
        this.scheduleGroup(l, g, null, Math.floor(ctx.random() * maxMs));
      }
      return;
    }
    const delay = Math.floor(ctx.random() * maxMs);
    // RFC 3810 6.2 rule 1: a pending General Query response that comes sooner covers this one.
    if (l.generalTimer.armed && l.generalTimer.deadline <= now + delay) return;
    if (general) {
      l.generalTimer.arm(delay);
      return;
    }
    if (links === undefined || !links.groups.has(group) || group === MLD_ALL_NODES) return;
    this.scheduleGroup(l, group, q.sources.length === 0 ? null : q.sources.map((s) => intern6(s)), delay);
  }

  /** RFC 3810 6.2 rules 3 to 5: merge a group's pending response with a new query about it. */
  private scheduleGroup(l: LinkMld, group: Ipv6Addr, sources: readonly Ipv6Addr[] | null, delay: number): void {
    const now = this.ctx.timers.clock.now();
    const existing = l.responses.get(group);
    if (existing === undefined) {
      const timer = this.ctx.timers.create(() => this.answerGroup(l, group));
      l.responses.set(group, { timer, sources: sources === null ? null : new Set(sources) });
      timer.arm(delay);
      return;
    }
    if (sources === null || existing.sources === null) existing.sources = null;
    else {
      for (const s of sources) existing.sources.add(s);
      if (existing.sources.size > MAX_QUERIED_SOURCES) existing.sources = null;
    }
    if (!existing.timer.armed || existing.timer.deadline > now + delay) existing.timer.arm(delay);
  }

  // ------------------------------------------------------------------ send

  /** @internal The General Query timer fired: every group's current state. */
  answerGeneral(l: LinkMld): void {
    const links = this.ctx.memberships(l.device);
    if (links === undefined) return;
    const records: Record[] = [];
    for (const g of links.groups.values()) {
      if (g.group === MLD_ALL_NODES) continue;
      records.push({ type: g.mode === 'include' ? MulticastRecordType.ModeIsInclude : MulticastRecordType.ModeIsExclude, group: g.group, sources: [...g.sources] });
    }
    this.sendRecords(l.device, records);
  }

  /** @internal A group's response timer fired. */
  answerGroup(l: LinkMld, group: Ipv6Addr): void {
    const r = l.responses.get(group);
    l.responses.delete(group);
    const g = this.ctx.memberships(l.device)?.groups.get(group);
    if (r === undefined || g === undefined) return;
    if (this.currentVersion(l) < 2) {
      this.sendV1(l.device, group, true);
      return;
    }
    if (r.sources === null) {
      this.sendRecords(l.device, [{ type: g.mode === 'include' ? MulticastRecordType.ModeIsInclude : MulticastRecordType.ModeIsExclude, group, sources: [...g.sources] }]);
      return;
    }
    // Multicast-Address-and-Source-Specific: the asked sources still listened to; none, no answer.
    const wanted = [...r.sources].filter((s) => g.accepts(s));
    if (wanted.length > 0) this.sendRecords(l.device, [{ type: MulticastRecordType.ModeIsInclude, group, sources: wanted }]);
  }

  /** @internal Send what state changes still owe, and schedule the next repeat. */
  retransmit(l: LinkMld): void {
    const version = this.currentVersion(l);
    const links = this.ctx.memberships(l.device);
    const records: Record[] = [];
    for (const [group, p] of l.pending) {
      const g = links?.groups.get(group);
      const now: SourceFilter<Ipv6Addr> = g === undefined ? { mode: 'include', sources: [] } : g.filter();
      if (version < 2) {
        if (p.modeLeft > 0) {
          const member = now.mode === 'exclude' || now.sources.length > 0;
          // A Done is said once; reports repeat.
          this.sendV1(l.device, group, member);
          p.modeLeft = member ? p.modeLeft - 1 : 0;
        }
      } else if (p.modeLeft > 0) {
        records.push({ type: now.mode === 'include' ? MulticastRecordType.ChangeToInclude : MulticastRecordType.ChangeToExclude, group, sources: now.sources });
        p.modeLeft--;
      } else {
        const allow = takeSources(p.allow);
        const block = takeSources(p.block);
        if (allow.length > 0) records.push({ type: MulticastRecordType.AllowNewSources, group, sources: allow });
        if (block.length > 0) records.push({ type: MulticastRecordType.BlockOldSources, group, sources: block });
      }
      if (p.modeLeft === 0 && p.allow.size === 0 && p.block.size === 0) l.pending.delete(group);
    }
    this.sendRecords(l.device, records);
    if (l.pending.size > 0) l.changeTimer.arm(Math.floor(this.ctx.random() * this.config.unsolicitedReportIntervalMs));
    else l.changeTimer.disarm();
  }

  /** MLDv2 reports carrying `records`, as many as the link's MTU needs. */
  private sendRecords(device: Device, records: readonly Record[]): void {
    if (records.length === 0) return;
    const room = this.ctx.maxMessage(device) - 8;
    let batch: Record[] = [];
    let size = 0;
    const flush = () => {
      if (batch.length === 0) return;
      this.ctx.counters.mldReportsOut++;
      this.ctx.send(device, MLDV2_ALL_ROUTERS, { kind: 'report2', records: batch.map((r) => ({ type: r.type, group: r.group.bytes, sources: r.sources.map((s) => s.bytes) })) });
      batch = [];
      size = 0;
    };
    for (const r of records) {
      const maxSources = Math.floor((room - 20) / 16);
      const rec = r.sources.length > maxSources ? { ...r, sources: r.sources.slice(0, maxSources) } : r;
      const bytes = 20 + 16 * rec.sources.length;
      if (size + bytes > room) flush();
      batch.push(rec);
      size += bytes;
    }
    flush();
  }

  /** An MLDv1 Report (to the group) or Done (to all routers). */
  private sendV1(device: Device, group: Ipv6Addr, report: boolean): void {
    const counters = this.ctx.counters;
    if (report) {
      counters.mldReportsOut++;
      this.ctx.send(device, group, { kind: 'report', group: group.bytes });
    } else {
      counters.mldDonesOut++;
      this.ctx.send(device, MLD_ALL_ROUTERS, { kind: 'done', group: group.bytes });
    }
  }

  // ------------------------------------------------------------------ helpers

  private link(device: Device): LinkMld {
    let l = this.links.get(device);
    if (l === undefined) this.links.set(device, (l = new LinkMld(device, this, this.config, this.ctx.timers)));
    return l;
  }

  /** RFC 3810 8.2.1: v1 while an MLDv1 querier was heard; a mode change cancels what was pending. */
  private currentVersion(l: LinkMld): 1 | 2 {
    const now = this.ctx.timers.clock.now();
    const v: 1 | 2 = l.v1Until > now ? 1 : 2;
    if (v !== l.lastVersion) {
      l.lastVersion = v;
      l.generalTimer.disarm();
      for (const g of l.responses.values()) g.timer.disarm();
      l.responses.clear();
      for (const p of l.pending.values()) {
        p.allow.clear();
        p.block.clear();
      }
    }
    return v;
  }
}

function setCount(to: Map<Ipv6Addr, number>, from: Map<Ipv6Addr, number>, s: Ipv6Addr, r: number): void {
  from.delete(s);
  to.set(s, r);
}

function takeSources(m: Map<Ipv6Addr, number>): Ipv6Addr[] {
  const out: Ipv6Addr[] = [];
  for (const [s, n] of m) {
    out.push(s);
    if (n <= 1) m.delete(s);
    else m.set(s, n - 1);
  }
  return out;
}
