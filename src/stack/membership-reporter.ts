/**
 * The host side of a multicast membership protocol, for either IP family: IGMPv3 (RFC 3376)
 * and MLDv2 (RFC 3810) specify the same state machine over different messages, so it is
 * written once here, generic over the address type; igmp.ts and mld.ts keep what differs
 * (message codecs, addresses, version numbers, counters) behind a `MembershipWire`.
 *
 * - A change of a device's membership (multicast-groups.ts) is reported at once, then repeated
 *   [Robustness Variable] - 1 more times at random intervals up to the Unsolicited Report
 *   Interval (RFC 3376 5.1, RFC 3810 6.1), with Linux's per-source retransmission counts.
 * - Queries are answered after a random delay within their Max Resp Time (RFC 3376 5.2,
 *   RFC 3810 6.2): General (every group), Group-Specific and Group-and-Source-Specific.
 * - An older version's query puts the device in that compatibility mode for the Older Version
 *   Querier Present Timeout (RFC 3376 7.2.1, RFC 3810 8.2.1): reports are then the older
 *   version's, source filters are not reported, and hearing another host's older report for
 *   a group cancels ours (suppression).
 * - The all-systems group (224.0.0.1, ff02::1) is never reported (RFC 3376 5, RFC 3810 6).
 *
 * Timers run on the injected Timers, randomness comes from the injected `random`, and packets
 * leave through the wire, so all of it runs on a fake clock in unit tests.
 */

import type { Device } from '../link/device.js';
import type { Timer, Timers } from '../time/clock.js';
import { MulticastRecordType } from '../wire/mld.js';
import type { IpAddress } from './ip-address.js';
import type { FilterMode, LinkMemberships, MembershipChange, SourceFilter } from './multicast-groups.js';

export interface ReporterConfig {
  /** Robustness Variable (RFC 3376 8.1, RFC 3810 9.1); a querier's QRV replaces it. */
  robustness: number;
  /** Unsolicited Report Interval of the current version (RFC 3376 8.11, RFC 3810 9.11). */
  unsolicitedReportIntervalMs: number;
  /** Unsolicited Report Interval in an older version's compatibility mode (RFC 2236 8.10). */
  olderUnsolicitedReportIntervalMs: number;
  /** Query Interval (RFC 3376 8.2, RFC 3810 9.2); a querier's QQIC replaces it. */
  queryIntervalMs: number;
  /** Query Response Interval (RFC 3376 8.3, RFC 3810 9.3). */
  queryResponseIntervalMs: number;
}

/** One group record of a current-version report (RFC 3376 4.2.4, RFC 3810 5.2.4). */
export interface GroupRecord<A extends IpAddress> {
  type: number;
  group: A;
  sources: A[];
}

/** A query as the protocol decoded it: the fields both RFCs give, in common units. */
export interface MembershipQuery<A extends IpAddress> {
  /** The querier's version: the current one, or an older one (its compatibility mode). */
  version: number;
  maxResponseMs: number;
  /** The group asked about, or null for a General Query. */
  group: A | null;
  /** Sources asked about (Group-and-Source-Specific), or none. */
  sources: readonly A[];
  /** The querier's QRV, or 0 when it gave none. */
  robustness: number;
  /** The querier's QQIC in seconds, or 0 when it gave none. */
  queryIntervalS: number;
}

/** What differs between IGMP and MLD: constants and the messages they send. */
export interface MembershipWire<A extends IpAddress> {
  /** The protocol's current version (IGMP 3, MLD 2); lower numbers are compatibility modes. */
  readonly newestVersion: number;
  /** 224.0.0.1 or ff02::1: every host is in it, and it is never reported. */
  readonly allSystems: A;
  /** Bytes of one group record without sources in a current-version report, and of one source. */
  readonly recordBytes: number;
  readonly sourceBytes: number;
  /** Send one current-version report carrying `records` (already cut to the link's MTU). */
  sendReport(device: Device, records: GroupRecord<A>[]): void;
  /**
   * An older version's message about `group`: its report when the host is a `member`, else its
   * leave (if that version has one). `version` is below `newestVersion`.
   */
  sendOlder(device: Device, version: number, group: A, member: boolean): void;
}

/** What the state machine needs from the rest of the network layer. */
export interface ReporterContext<A extends IpAddress> {
  readonly timers: Timers;
  /** The memberships of `device`, if it has any. */
  memberships(device: Device): LinkMemberships<A> | undefined;
  /** Bytes one membership message out of `device` may have (the MTU minus the IP headers). */
  maxMessage(device: Device): number;
  /** A number in [0, 1) (Math.random in production). */
  random(): number;
}

/** The report's own header before its records (type, reserved, checksum, count: both RFCs). */
const REPORT_HEADER_BYTES = 8;

/** Sources remembered for one group's pending Group-and-Source-Specific answer. */
export const MAX_QUERIED_SOURCES = 1024;

/** A state change still to be repeated for one group. */
interface PendingChange<A> {
  /** Filter-mode change reports still to send (Linux's crcount). */
  modeLeft: number;
  /** Sources with ALLOW / BLOCK reports still to send, and how many times. */
  allow: Map<A, number>;
  block: Map<A, number>;
}

interface GroupResponse<A> {
  timer: Timer;
  /** Sources asked about (Group-and-Source-Specific Query), or null for the whole group. */
  sources: Set<A> | null;
}

/** One device's state. */
class LinkReports<A extends IpAddress> {
  /** Until when an older querier of each version (the index) was heard; -1 never. */
  readonly olderUntil: number[];
  lastVersion: number;
  robustness: number;
  queryIntervalMs: number;
  readonly pending = new Map<A, PendingChange<A>>();
  readonly responses = new Map<A, GroupResponse<A>>();
  readonly changeTimer: Timer;
  readonly generalTimer: Timer;

  constructor(readonly device: Device, newestVersion: number, config: ReporterConfig, timers: Timers, retransmit: () => void, answerGeneral: () => void) {
    this.olderUntil = new Array<number>(newestVersion).fill(-1);
    this.lastVersion = newestVersion;
    this.robustness = config.robustness;
    this.queryIntervalMs = config.queryIntervalMs;
    this.changeTimer = timers.create(retransmit);
    this.generalTimer = timers.create(answerGeneral);
  }
}

export class MembershipReporter<A extends IpAddress> {
  private readonly links = new Map<Device, LinkReports<A>>();

  constructor(
    private readonly ctx: ReporterContext<A>,
    private readonly wire: MembershipWire<A>,
    readonly config: ReporterConfig,
  ) {}

  /** The version `device` speaks now (the newest unless an older querier was heard). */
  version(device: Device): number {
    const l = this.links.get(device);
    return l === undefined ? this.wire.newestVersion : this.currentVersion(l);
  }

  /** A device's membership changed: report it now and schedule the repeats. */
  changed(device: Device, change: MembershipChange<A>): void {
    if (change.group === this.wire.allSystems) return;
    const l = this.link(device);
    const version = this.currentVersion(l);
    let p = l.pending.get(change.group);
    if (p === undefined) l.pending.set(change.group, (p = { modeLeft: 0, allow: new Map(), block: new Map() }));
    const r = l.robustness;
    if (version < this.wire.newestVersion || change.before.mode !== change.after.mode) {
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

  /** A querier asked `device` about its memberships. */
  query(device: Device, q: MembershipQuery<A>): void {
    const { ctx, wire } = this;
    const l = this.link(device);
    const now = ctx.timers.clock.now();
    if (q.version === wire.newestVersion) {
      if (q.robustness !== 0) l.robustness = q.robustness;
      if (q.queryIntervalS !== 0) l.queryIntervalMs = q.queryIntervalS * 1000;
    } else {
      // Older Version Querier Present Timeout (RFC 3376 8.12, RFC 3810 9.12).
      l.olderUntil[q.version] = now + l.robustness * l.queryIntervalMs + this.config.queryResponseIntervalMs;
    }
    const version = this.currentVersion(l);
    const links = ctx.memberships(device);
    if (version < wire.newestVersion) {
      // Older versions: each group answers on its own timer (RFC 2236 3, RFC 2710 4); a query
      // about one group, that group.
      if (links === undefined) return;
      for (const g of links.groups.keys()) {
        if (g === wire.allSystems || (q.group !== null && q.group !== g)) continue;
        this.scheduleGroup(l, g, null, Math.floor(ctx.random() * q.maxResponseMs));
      }
      return;
    }
    const delay = Math.floor(ctx.random() * q.maxResponseMs);
    // RFC 3376 5.2 rule 1: a pending General Query response that comes sooner covers this one.
    if (l.generalTimer.armed && l.generalTimer.deadline <= now + delay) return;
    if (q.group === null) {
      l.generalTimer.arm(delay);
      return;
    }
    if (q.group === wire.allSystems || links === undefined || !links.groups.has(q.group)) return;
    this.scheduleGroup(l, q.group, q.sources.length === 0 ? null : q.sources, delay);
  }

  /** Another host's older-version report for `group`: in that mode it makes ours redundant (RFC 2236 3, RFC 2710 4). */
  heardReport(device: Device, group: A): void {
    const l = this.links.get(device);
    if (l === undefined || this.currentVersion(l) >= this.wire.newestVersion) return;
    const g = l.responses.get(group);
    if (g === undefined) return;
    g.timer.disarm();
    l.responses.delete(group);
  }

  /** RFC 3376 5.2 rules 3 to 5: merge a group's pending response with a new query about it. */
  private scheduleGroup(l: LinkReports<A>, group: A, sources: readonly A[] | null, delay: number): void {
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

  /** The General Query timer fired: every group's current state. */
  private answerGeneral(l: LinkReports<A>): void {
    const links = this.ctx.memberships(l.device);
    if (links === undefined) return;
    const records: GroupRecord<A>[] = [];
    for (const g of links.groups.values()) {
      if (g.group === this.wire.allSystems) continue;
      records.push({ type: currentStateType(g.mode), group: g.group, sources: [...g.sources] });
    }
    this.sendRecords(l.device, records);
  }

  /** A group's response timer fired. */
  private answerGroup(l: LinkReports<A>, group: A): void {
    const r = l.responses.get(group);
    l.responses.delete(group);
    const g = this.ctx.memberships(l.device)?.groups.get(group);
    if (r === undefined || g === undefined) return;
    const version = this.currentVersion(l);
    if (version < this.wire.newestVersion) {
      this.wire.sendOlder(l.device, version, group, true);
      return;
    }
    if (r.sources === null) {
      this.sendRecords(l.device, [{ type: currentStateType(g.mode), group, sources: [...g.sources] }]);
      return;
    }
    // Group-and-Source-Specific: the asked sources this host still wants; none, no answer.
    const wanted = [...r.sources].filter((s) => g.accepts(s));
    if (wanted.length > 0) this.sendRecords(l.device, [{ type: MulticastRecordType.ModeIsInclude, group, sources: wanted }]);
  }

  /** Send what state changes still owe, and schedule the next repeat. */
  private retransmit(l: LinkReports<A>): void {
    const newest = this.wire.newestVersion;
    const version = this.currentVersion(l);
    const links = this.ctx.memberships(l.device);
    const records: GroupRecord<A>[] = [];
    for (const [group, p] of l.pending) {
      const g = links?.groups.get(group);
      const now: SourceFilter<A> = g === undefined ? { mode: 'include', sources: [] } : g.filter();
      if (version < newest) {
        if (p.modeLeft > 0) {
          const member = now.mode === 'exclude' || now.sources.length > 0;
          // A leave is said once; joins repeat.
          this.wire.sendOlder(l.device, version, group, member);
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
      const interval = version < newest ? this.config.olderUnsolicitedReportIntervalMs : this.config.unsolicitedReportIntervalMs;
      l.changeTimer.arm(Math.floor(this.ctx.random() * interval));
    } else l.changeTimer.disarm();
  }

  /** Current-version reports carrying `records`, as many as the link's MTU needs. */
  private sendRecords(device: Device, records: readonly GroupRecord<A>[]): void {
    if (records.length === 0) return;
    const wire = this.wire;
    const room = this.ctx.maxMessage(device) - REPORT_HEADER_BYTES;
    // A record with more sources than one report holds is cut (RFC 3376 4.2.16 splits it; the
    // per-socket limits keep real filters far below a packet).
    const maxSources = Math.floor((room - wire.recordBytes) / wire.sourceBytes);
    let batch: GroupRecord<A>[] = [];
    let size = 0;
    for (const r of records) {
      const rec = r.sources.length > maxSources ? { ...r, sources: r.sources.slice(0, maxSources) } : r;
      const bytes = wire.recordBytes + wire.sourceBytes * rec.sources.length;
      if (size + bytes > room && batch.length > 0) {
        wire.sendReport(device, batch);
        batch = [];
        size = 0;
      }
      batch.push(rec);
      size += bytes;
    }
    wire.sendReport(device, batch);
  }

  // ------------------------------------------------------------------ helpers

  private link(device: Device): LinkReports<A> {
    let l = this.links.get(device);
    if (l === undefined) {
      const created = new LinkReports<A>(device, this.wire.newestVersion, this.config, this.ctx.timers, () => this.retransmit(created), () => this.answerGeneral(created));
      this.links.set(device, (l = created));
    }
    return l;
  }

  /**
   * RFC 3376 7.2.1, RFC 3810 8.2.1: the oldest querier heard within its timeout; a mode change
   * cancels what was pending, since it was meant for the other version's routers.
   */
  private currentVersion(l: LinkReports<A>): number {
    const now = this.ctx.timers.clock.now();
    let v = this.wire.newestVersion;
    for (let older = 1; older < l.olderUntil.length; older++) {
      if (l.olderUntil[older]! > now) {
        v = older;
        break;
      }
    }
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

/** The Current-State record type for a group's filter mode (RFC 3376 4.2.12). */
function currentStateType(mode: FilterMode): number {
  return mode === 'include' ? MulticastRecordType.ModeIsInclude : MulticastRecordType.ModeIsExclude;
}

/** Count `s` in `to` (r times) and out of `from`. */
function setCount<A>(to: Map<A, number>, from: Map<A, number>, s: A, r: number): void {
  from.delete(s);
  to.set(s, r);
}

/** The sources with repeats left, each counted down once. */
function takeSources<A>(m: Map<A, number>): A[] {
  const out: A[] = [];
  for (const [s, n] of m) {
    out.push(s);
    if (n <= 1) m.delete(s);
    else m.set(s, n - 1);
  }
  return out;
}
