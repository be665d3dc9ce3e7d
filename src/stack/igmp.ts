/**
 * IGMP, the host side (RFC 3376 IGMPv3, with the IGMPv1/v2 querier compatibility of RFC 3376
 * 7): tell the link's routers which groups (and sources) this host wants, per device.
 *
 * The state machine (reports and their repeats, query answers, compatibility modes) is the one
 * MLD shares, in membership-reporter.ts; this file is what is IGMP's own: the messages (v3
 * reports to 224.0.0.22, v1/v2 reports to the group, v2 Leave Group to 224.0.0.2), checksum
 * and parse on receive, the constants, and the counters.
 */

import type { Device } from '../link/device.js';
import type { Timers } from '../time/clock.js';
import type { Ipv4Address } from '../wire/addr.js';
import {
  IGMP_PROTOCOL, IGMPV3_ALL_ROUTERS, parseIgmp, verifyIgmpChecksum, type IgmpMessageInit,
} from '../wire/igmp.js';
import type { Counters } from './counters.js';
import { MembershipReporter, type GroupRecord, type MembershipWire } from './membership-reporter.js';
import type { LinkMemberships, MembershipChange } from './multicast-groups.js';
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
  /** Send one IGMP message out of `device` to `dst` (TTL 1, Router Alert). */
  send(device: Device, dst: Ipv4Address, message: IgmpMessageInit): void;
  /** Bytes an IGMP message out of `device` may have (the MTU minus the IP header with Router Alert). */
  maxMessage(device: Device): number;
  /** A number in [0, 1) (Math.random in production). */
  random(): number;
}

/** IGMP's messages for the shared state machine. */
class IgmpWire implements MembershipWire<Ipv4Address> {
  readonly newestVersion = 3;
  readonly allSystems = ALL_HOSTS;
  /** RFC 3376 4.2.4: type, aux length, source count, group; then 4 bytes a source. */
  readonly recordBytes = 8;
  readonly sourceBytes = 4;

  constructor(private readonly ctx: IgmpContext) {}

  sendReport(device: Device, records: GroupRecord<Ipv4Address>[]): void {
    this.ctx.counters.igmpReportsOut++;
    this.ctx.send(device, IGMPV3_ALL_ROUTERS, { kind: 'report3', records });
  }

  /** A v1/v2 Membership Report (to the group) or a v2 Leave Group (to all routers; v1 has none). */
  sendOlder(device: Device, version: number, group: Ipv4Address, member: boolean): void {
    const counters = this.ctx.counters;
    if (member) {
      counters.igmpReportsOut++;
      this.ctx.send(device, group, { kind: 'report', version: version === 1 ? 1 : 2, group });
    } else if (version === 2) {
      counters.igmpLeavesOut++;
      this.ctx.send(device, ALL_ROUTERS, { kind: 'leave', group });
    }
  }
}

export class Igmp implements TransportProtocol {
  readonly protocolNumber = IGMP_PROTOCOL;
  private readonly reporter: MembershipReporter<Ipv4Address>;

  constructor(private readonly ctx: IgmpContext, readonly config: IgmpConfig = defaultIgmpConfig) {
    this.reporter = new MembershipReporter(ctx, new IgmpWire(ctx), { ...config, olderUnsolicitedReportIntervalMs: config.oldUnsolicitedReportIntervalMs });
  }

  /** The IGMP version `device` speaks now (3 unless an older querier was heard). */
  version(device: Device): 1 | 2 | 3 {
    return this.reporter.version(device) as 1 | 2 | 3;
  }

  /** A device's membership changed: report it now and schedule the repeats. */
  changed(device: Device, change: MembershipChange<Ipv4Address>): void {
    this.reporter.changed(device, change);
  }

  /** A device went away or the stack closes: forget its state and timers. */
  forget(device: Device): void {
    this.reporter.forget(device);
  }

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
      // A query is a router's control message (one per Query Interval): the object is not on a hot path.
      this.reporter.query(device, {
        version: m.version,
        maxResponseMs: m.maxResponseTime * 100,
        group: m.group === 0 ? null : m.group,
        sources: m.sources,
        robustness: m.robustness,
        queryIntervalS: m.queryInterval,
      });
    } else if (m.kind === 'report') this.reporter.heardReport(device, m.group);
    // v3 reports and leaves are for routers.
  }
}
