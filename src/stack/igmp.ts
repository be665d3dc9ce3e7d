/**
 * IGMP, the host side (RFC 3376 IGMPv3, with the IGMPv1/v2 querier compatibility of RFC 3376
 * 7): tell the link's routers which groups (and sources) this host wants, per device.
 *
 * - A change of a device's membership (multicast-groups.ts) is reported at once, then repeated
 *   [Robustness Variable] - 1 more times at random intervals up to the Unsolicited Report
 *   Interval (RFC 3376 5.1), with Linux's per-source retransmission counts.
 * - Queries are answered after a random delay within their Max Resp Time (RFC 3376 5.2):
 *   General (every group), Group-Specific and Group-and-Source-Specific.
 * - A v1 or v2 query puts the device in that compatibility mode for the Older Version Querier
 *   Present Timeout: reports are then v1/v2 Reports (v2: Leave on leaving), source filters are
 *   not reported, and hearing another host's report for a group cancels ours (suppression).
 *
 * Timers run on the injected Timers, randomness comes from the injected `random`, and packets
 * leave through the injected sender, so all of it runs on a fake clock in unit tests.
 */

import type { Device } from '../link/device.js';
import type { Timer, Timers } from '../time/clock.js';
import type { Ipv4Address } from '../wire/addr.js';
import {
  IGMP_PROTOCOL, IGMPV3_ALL_ROUTERS, parseIgmp, verifyIgmpChecksum, type IgmpMessageInit, type IgmpQuery,
} from '../wire/igmp.js';
import { MulticastRecordType } from '../wire/mld.js';
import type { Counters } from './counters.js';
import type { LinkMemberships, MembershipChange, SourceFilter } from './multicast-groups.js';
import type { InboundPacket, TransportProtocol } from './network.js';

/** 224.0.0.1: every host is in it, and it is never reported (RFC 3376 5). */
export const ALL_HOSTS: Ipv4Address = 0xe0000001;
/** 224.0.0.2, where IGMPv2 Leave Group messages go. */
export const ALL_ROUTERS: Ipv4Address = 0xe0000002;

export interface IgmpConfig {
  /** RFC 3376 8.1 Robustness Variable (a querier's QRV replaces it). */
  robustness: number;
  /** RFC 3376 8.11 Unsolicited Report Interval for v3 state changes. */
  unsolicitedReportIntervalMs: number;
  /** RFC 2236 8.10 Unsolicited Report Interval in v1/v2 compatibility mode. */
  oldUnsolicitedReportIntervalMs: number;
  /** RFC 3376 8.2 Query Interval (a querier's QQIC replaces it). */
  queryIntervalMs: number;
  /** RFC 3376 8.3 Query Response Interval. */
  queryResponseIntervalMs: number;
}

export const defaultIgmpConfig: IgmpConfig = {
  robustness: 2,
  unsolicitedReportIntervalMs: 1000,
  oldUnsolicitedReportIntervalMs: 10_000,
  queryIntervalMs: 125_000,
  queryResponseIntervalMs: 10_000,
};

/** What the protocol needs from the rest of the IPv4 layer. */
export interface IgmpContext {
  readonly timers: Timers;
  readonly counters: Counters;
  /** The memberships of `device`, if it has any. */
  memberships(device: Device): LinkMemberships<Ipv4Address> | undefined;
  /** Send one IGMP message out of `device` to `dst` (TTL 1, Router Alert); the largest message it takes. */
  send(device: Device, dst: Ipv4Address, message: IgmpMessageInit): void;
  /** Bytes an IGMP message out of `device` may have (the MTU minus the IP header with Router Alert). */
  maxMessage(device: Device): number;
  /** A number in [0, 1) (Math.random in production). */
  random(): number;
}

/** Sources remembered for one group's pending Group-and-Source-Specific answer. */
const MAX_QUERIED_SOURCES = 1024;

interface PendingChange {
  /** Filter-mode change reports still to send (Linux's crcount). */
  modeLeft: number;
  /** Sources with ALLOW / BLOCK reports still to send, and how many times. */
  allow: Map<Ipv4Address, number>;
  block: Map<Ipv4Address, number>;
}

interface GroupResponse {
  timer: Timer;
  /** Sources asked about (Group-and-Source-Specific Query), or null for the whole group. */
  sources: Set<Ipv4Address> | null;
}

type Record = { type: number; group: Ipv4Address; sources: Ipv4Address[] };

/** One device's IGMP state. */
class LinkIgmp {
  v1Until = -1;
  v2Until = -1;
  lastVersion: 1 | 2 | 3 = 3;
  robustness: number;
  queryIntervalMs: number;
  readonly pending = new Map<Ipv4Address, PendingChange>();
  readonly responses = new Map<Ipv4Address, GroupResponse>();
  readonly changeTimer: Timer;
  readonly generalTimer: Timer;

  constructor(readonly device: Device, igmp: Igmp, config: IgmpConfig, timers: Timers) {
    this.robustness = config.robustness;
    this.queryIntervalMs = config.queryIntervalMs;
    this.changeTimer = timers.create(() => igmp.retransmit(this));
    this.generalTimer = timers.create(() => igmp.answerGeneral(this));
  }
}

export class Igmp implements TransportProtocol {
  readonly protocolNumber = IGMP_PROTOCOL;
  private readonly links = new Map<Device, LinkIgmp>();

  constructor(private readonly ctx: IgmpContext, readonly config: IgmpConfig = defaultIgmpConfig) {}

  /** The IGMP version `device` speaks now (3 unless an older querier was heard). */
  version(device: Device): 1 | 2 | 3 {
    const l = this.links.get(device);
    return l === undefined ? 3 : this.currentVersion(l);
  }

  /** A device's membership changed: report it now and schedule the repeats. */
  changed(device: Device, change: MembershipChange<Ipv4Address>): void {
    if (change.group === ALL_HOSTS) return;
    const l = this.link(device);
    const version = this.currentVersion(l);
    let p = l.pending.get(change.group);
    if (p === undefined) l.pending.set(change.group, (p = { modeLeft: 0, allow: new Map(), block: new Map() }));
    const r = l.robustness;
    if (version < 3 || change.before.mode !== change.after.mode) {
      p.modeLeft = r;
      p.allow.clear();
      p.block.clear();
    } else {
      // Same mode: ALLOW what is newly received, BLOCK what no longer is (RFC 3376 5.1 table).
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

  receive(packet: InboundPacket): void {
    const counters = this.ctx.counters;
    counters.igmpIn++;
    const buf = packet.buf;
    if (!verifyIgmpChecksum(buf, packet.payloadOffset, packet.payloadLength)) {
      counters.drop('igmp: bad-checksum');
      return;
    }
    const m = parseIgmp(buf, packet.payloadOffset, packet.payloadLength);
    if (typeof m === 'string') {
      counters.drop(`igmp: ${m}`);
      return;
    }
    const device = packet.iface.device;
    if (device.type === 'loopback') return;
    if (m.kind === 'query') {
      counters.igmpQueriesIn++;
      this.query(device, m);
    } else if (m.kind === 'report') {
      // RFC 2236 3 / RFC 1112: in v1/v2 mode, another member's report makes ours redundant.
      const l = this.links.get(device);
      if (l !== undefined && this.currentVersion(l) < 3) {
        const g = l.responses.get(m.group);
        if (g !== undefined) {
          g.timer.disarm();
          l.responses.delete(m.group);
        }
      }
    }
    // v3 reports and leaves are for routers.
  }

  private query(device: Device, q: IgmpQuery): void {
    const ctx = this.ctx;
    const l = this.link(device);
    const now = ctx.timers.clock.now();
    if (q.version === 3) {
      if (q.robustness !== 0) l.robustness = q.robustness;
      if (q.queryInterval !== 0) l.queryIntervalMs = q.queryInterval * 1000;
    }
    const olderPresent = l.robustness * l.queryIntervalMs + this.config.queryResponseIntervalMs;
    if (q.version === 1) l.v1Until = now + olderPresent;
    else if (q.version === 2) l.v2Until = now + olderPresent;
    const version = this.currentVersion(l);
    const links = ctx.memberships(device);
    const maxMs = q.maxResponseTime * 100;
    const delay = Math.floor(ctx.random() * maxMs);
    if (version < 3) {
      // v1/v2: each group answers on its own timer (RFC 2236 3); a query about one group, that group.
      if (links === undefined) return;
      for (const g of links.groups.keys()) {
        if (q.group !== 0 && q.group !== g) continue;
        const d = Math.floor(ctx.random() * maxMs);
        this.scheduleGroup(l, g, null, d);
      }
      return;
    }
    // RFC 3376 5.2, rule 1: a pending General Query response that comes sooner covers this one.
    if (l.generalTimer.armed && l.generalTimer.deadline <= now + delay) return;
    if (q.group === 0) {
      l.generalTimer.arm(delay);
      return;
    }
    if (links === undefined || !links.groups.has(q.group)) return;
    this.scheduleGroup(l, q.group, q.sources.length === 0 ? null : q.sources, delay);
  }

  /** RFC 3376 5.2 rules 3 to 5: merge a group's pending response with a new query about it. */
  private scheduleGroup(l: LinkIgmp, group: Ipv4Address, sources: readonly Ipv4Address[] | null, delay: number): void {
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
      // Queries naming ever more sources cannot grow this without bound: past the cap the
      // answer is the whole group's state, which covers every source asked about.
      if (existing.sources.size > MAX_QUERIED_SOURCES) existing.sources = null;
    }
    // The earlier of the pending response and the new delay (RFC 3376 5.2 rule 4, RFC 2236 3).
    if (!existing.timer.armed || existing.timer.deadline > now + delay) existing.timer.arm(delay);
  }

  // ------------------------------------------------------------------ send

  /** @internal The General Query timer fired: every group's current state. */
  answerGeneral(l: LinkIgmp): void {
    const links = this.ctx.memberships(l.device);
    if (links === undefined) return;
    const records: Record[] = [];
    for (const g of links.groups.values()) {
      if (g.group === ALL_HOSTS) continue;
      records.push({ type: g.mode === 'include' ? MulticastRecordType.ModeIsInclude : MulticastRecordType.ModeIsExclude, group: g.group, sources: [...g.sources] });
    }
    this.sendRecords(l.device, records);
  }

  /** @internal A group's response timer fired. */
  answerGroup(l: LinkIgmp, group: Ipv4Address): void {
    const r = l.responses.get(group);
    l.responses.delete(group);
    const g = this.ctx.memberships(l.device)?.groups.get(group);
    if (r === undefined || g === undefined) return;
    const version = this.currentVersion(l);
    if (version < 3) {
      this.sendOld(l.device, version, group, true);
      return;
    }
    if (r.sources === null) {
      this.sendRecords(l.device, [{ type: g.mode === 'include' ? MulticastRecordType.ModeIsInclude : MulticastRecordType.ModeIsExclude, group, sources: [...g.sources] }]);
      return;
    }
    // Group-and-Source-Specific: the asked sources this host still wants; none, no answer.
    const wanted = [...r.sources].filter((s) => g.accepts(s));
    if (wanted.length > 0) this.sendRecords(l.device, [{ type: MulticastRecordType.ModeIsInclude, group, sources: wanted }]);
  }

  /** @internal Send what state changes still owe, and schedule the next repeat. */
  retransmit(l: LinkIgmp): void {
    const version = this.currentVersion(l);
    const links = this.ctx.memberships(l.device);
    const records: Record[] = [];
    for (const [group, p] of l.pending) {
      const g = links?.groups.get(group);
      const now: SourceFilter<Ipv4Address> = g === undefined ? { mode: 'include', sources: [] } : g.filter();
      if (version < 3) {
        if (p.modeLeft > 0) {
          const member = now.mode === 'exclude' || now.sources.length > 0;
          // A leave is said once (v2 only); joins repeat.
          if (member) this.sendOld(l.device, version, group, true);
          else if (version === 2) this.sendOld(l.device, version, group, false);
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
    if (l.pending.size > 0) {
      const interval = version < 3 ? this.config.oldUnsolicitedReportIntervalMs : this.config.unsolicitedReportIntervalMs;
      l.changeTimer.arm(Math.floor(this.ctx.random() * interval));
    } else l.changeTimer.disarm();
  }

  /** IGMPv3 reports carrying `records`, as many as the link's MTU needs. */
  private sendRecords(device: Device, records: readonly Record[]): void {
    if (records.length === 0) return;
    const room = this.ctx.maxMessage(device) - 8;
    let batch: Record[] = [];
    let size = 0;
    const flush = () => {
      if (batch.length === 0) return;
      this.ctx.counters.igmpReportsOut++;
      this.ctx.send(device, IGMPV3_ALL_ROUTERS, { kind: 'report3', records: batch });
      batch = [];
      size = 0;
    };
    for (const r of records) {
      // A record with more sources than one report holds is cut (RFC 3376 4.2.16 splits it;
      // the per-socket limits keep real filters far below a packet).
      const maxSources = Math.floor((room - 8) / 4);
      const rec = r.sources.length > maxSources ? { ...r, sources: r.sources.slice(0, maxSources) } : r;
      const bytes = 8 + 4 * rec.sources.length;
      if (size + bytes > room) flush();
      batch.push(rec);
      size += bytes;
    }
    flush();
  }

  /** A v1/v2 Membership Report (to the group) or a v2 Leave Group (to all routers). */
  private sendOld(device: Device, version: 1 | 2 | 3, group: Ipv4Address, report: boolean): void {
    const counters = this.ctx.counters;
    if (report) {
      counters.igmpReportsOut++;
      this.ctx.send(device, group, { kind: 'report', version: version === 1 ? 1 : 2, group });
    } else {
      counters.igmpLeavesOut++;
      this.ctx.send(device, ALL_ROUTERS, { kind: 'leave', group });
    }
  }

  // ------------------------------------------------------------------ helpers

  private link(device: Device): LinkIgmp {
    let l = this.links.get(device);
    if (l === undefined) this.links.set(device, (l = new LinkIgmp(device, this, this.config, this.ctx.timers)));
    return l;
  }

  /** RFC 3376 7.2.1: the oldest querier heard within its timeout; a mode change cancels what was pending. */
  private currentVersion(l: LinkIgmp): 1 | 2 | 3 {
    const now = this.ctx.timers.clock.now();
    const v: 1 | 2 | 3 = l.v1Until > now ? 1 : l.v2Until > now ? 2 : 3;
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

/** Count `s` in `to` (r times) and out of `from`. */
function setCount(to: Map<Ipv4Address, number>, from: Map<Ipv4Address, number>, s: Ipv4Address, r: number): void {
  from.delete(s);
  to.set(s, r);
}

/** The sources with repeats left, each counted down once. */
function takeSources(m: Map<Ipv4Address, number>): Ipv4Address[] {
  const out: Ipv4Address[] = [];
  for (const [s, n] of m) {
    out.push(s);
    if (n <= 1) m.delete(s);
    else m.set(s, n - 1);
  }
  return out;
}
