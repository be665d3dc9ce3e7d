/**
 * MLD, the listener side (RFC 3810 MLDv2, with the MLDv1 querier compatibility of RFC 3810 8):
 * tell the link's routers which IPv6 groups (and sources) this host listens to, per device.
 *
 * The state machine (reports and their repeats, query answers, compatibility mode) is the one
 * IGMP shares, in membership-reporter.ts; this file is what is MLD's own: the messages (v2
 * reports to ff02::16, v1 reports to the group, Done to ff02::2), the checks on a received
 * query (RFC 3810 5.1.14: from a link-local source with hop limit 1), the constants, and the
 * counters. ICMPv6 checks the checksum and parses before a message gets here.
 */

import type { Device } from '../link/device.js';
import type { Timers } from '../time/clock.js';
import { IPV6_ALL_NODES, isLinkLocalIpv6, isUnspecifiedIpv6 } from '../wire/addr6.js';
import type { MldMessageInit, MldMessage } from '../wire/mld.js';
import type { Counters } from './counters.js';
import { intern6, type Ipv6Addr } from './ip-address.js';
import { MembershipReporter, type GroupRecord, type MembershipWire } from './membership-reporter.js';
import type { LinkMemberships, MembershipChange } from './multicast-groups.js';

/** ff02::1: every node is in it; never reported. */
export const MLD_ALL_NODES: Ipv6Addr = intern6(IPV6_ALL_NODES);
/** ff02::2, where MLDv1 Done messages go. */
export const MLD_ALL_ROUTERS: Ipv6Addr = intern6(Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2));
/** ff02::16, where MLDv2 reports go (RFC 3810 5.2.14). */
export const MLDV2_ALL_ROUTERS: Ipv6Addr = intern6(Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16));

/** The sources of a query that names none, shared rather than allocated each time. */
const NO_SOURCES: readonly Ipv6Addr[] = [];

export interface MldConfig {
  /** RFC 3810 9.1 Robustness Variable (a querier's QRV replaces it). */
  robustness: number;
  /** RFC 3810 9.11 Unsolicited Report Interval (in MLDv1 compatibility mode too). */
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

/** MLD's messages for the shared state machine. */
class MldWire implements MembershipWire<Ipv6Addr> {
  readonly newestVersion = 2;
  readonly allSystems = MLD_ALL_NODES;
  /** RFC 3810 5.2.4: type, aux length, source count, group; then 16 bytes a source. */
  readonly recordBytes = 20;
  readonly sourceBytes = 16;

  constructor(private readonly ctx: MldContext) {}

  sendReport(device: Device, records: GroupRecord<Ipv6Addr>[]): void {
    this.ctx.counters.mldReportsOut++;
    this.ctx.send(device, MLDV2_ALL_ROUTERS, { kind: 'report2', records: records.map((r) => ({ type: r.type, group: r.group.bytes, sources: r.sources.map((s) => s.bytes) })) });
  }

  /** An MLDv1 Report (to the group) or Done (to all routers). */
  sendOlder(device: Device, _version: number, group: Ipv6Addr, member: boolean): void {
    const counters = this.ctx.counters;
    if (member) {
      counters.mldReportsOut++;
      this.ctx.send(device, group, { kind: 'report', group: group.bytes });
    } else {
      counters.mldDonesOut++;
      this.ctx.send(device, MLD_ALL_ROUTERS, { kind: 'done', group: group.bytes });
    }
  }
}

export class Mld {
  private readonly reporter: MembershipReporter<Ipv6Addr>;

  constructor(private readonly ctx: MldContext, readonly config: MldConfig = defaultMldConfig) {
    // RFC 3810 9.11 keeps one Unsolicited Report Interval for both versions.
    this.reporter = new MembershipReporter(ctx, new MldWire(ctx), { ...config, olderUnsolicitedReportIntervalMs: config.unsolicitedReportIntervalMs });
  }

  /** The MLD version `device` speaks now (2 unless an MLDv1 querier was heard). */
  version(device: Device): 1 | 2 {
    return this.reporter.version(device) as 1 | 2;
  }

  /** A device's membership changed: report it now and schedule the repeats. */
  changed(device: Device, change: MembershipChange<Ipv6Addr>): void {
    this.reporter.changed(device, change);
  }

  /** A device went away or the stack closes: forget its state and timers. */
  forget(device: Device): void {
    this.reporter.forget(device);
  }

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
      const group = intern6(m.group);
      // A query is a router's control message (one per Query Interval): the objects are not on a hot path.
      this.reporter.query(device, {
        version: m.version,
        maxResponseMs: m.maxResponseDelay,
        group: isUnspecifiedIpv6(group.bytes) ? null : group,
        sources: m.sources.length === 0 ? NO_SOURCES : m.sources.map((s) => intern6(s)),
        robustness: m.robustness,
        queryIntervalS: m.queryInterval,
      });
    } else if (m.kind === 'report') this.reporter.heardReport(device, intern6(m.group));
    // v2 reports and dones are for routers.
  }
}
