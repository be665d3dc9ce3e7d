// The membership state machine IGMP and MLD share (membership-reporter.ts), on a fake clock
// with a fake wire that records what would be sent: query answers after a random delay within
// Max Resp Time; pending answers merged (source lists, the earlier deadline, a sooner General
// answer covering a group's); state-change reports repeated Robustness Variable times with
// per-source counts; older-version compatibility mode and its timeout; the all-systems group
// never reported; reports split to the link's MTU (with IPv6 addresses, record sizes as MLD's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkMemberships } from '../../src/stack/multicast-groups.js';
import {
  MembershipReporter, MAX_QUERIED_SOURCES, type MembershipQuery, type MembershipWire, type ReporterConfig,
} from '../../src/stack/membership-reporter.js';
import { FakeClock } from '../../src/time/clock.js';
import { parseIpv4 } from '../../src/wire/addr.js';
import { parseIpv6 } from '../../src/wire/addr6.js';
import { intern6, type Ipv6Addr } from '../../src/stack/ip-address.js';
import type { Device } from '../../src/link/device.js';

const ip = (t: string) => parseIpv4(t)!;
const ALL = ip('224.0.0.1');
const G = ip('239.1.2.3');
const G2 = ip('239.1.2.4');
const S1 = ip('192.0.2.10');
const S2 = ip('192.0.2.11');
const S3 = ip('192.0.2.12');
const ModeIsInclude = 1, ModeIsExclude = 2, ChangeToInclude = 3, ChangeToExclude = 4, Allow = 5, Block = 6;

const config: ReporterConfig = {
  robustness: 2,
  unsolicitedReportIntervalMs: 1000,
  olderUnsolicitedReportIntervalMs: 10_000,
  queryIntervalMs: 125_000,
  queryResponseIntervalMs: 10_000,
};

/** What the fake wire was asked to send: a current-version report's records, or an older message. */
type Sent = { at: number; records?: [number, number, number[]][]; older?: [number, number, boolean] };

/**
 * A reporter for IPv4-numbered addresses (newest version 3, as IGMP) on a fake clock.
 * `draws` are the values random() returns in turn (then `fallback`).
 */
function rig(opts: { draws?: number[]; fallback?: number; config?: Partial<ReporterConfig> } = {}) {
  const clock = new FakeClock(0);
  const links = new LinkMemberships<number>();
  const device = { type: 'ethernet', mtu: 1500, name: 'tap0' } as unknown as Device;
  const draws = [...(opts.draws ?? [])];
  const sent: Sent[] = [];
  const wire: MembershipWire<number> = {
    newestVersion: 3,
    allSystems: ALL,
    recordBytes: 8,
    sourceBytes: 4,
    sendReport: (_d, records) => sent.push({ at: clock.now(), records: records.map((r) => [r.type, r.group, [...r.sources].sort()]) }),
    sendOlder: (_d, version, group, member) => sent.push({ at: clock.now(), older: [version, group, member] }),
  };
  const reporter = new MembershipReporter<number>({
    timers: clock.timers,
    memberships: () => links,
    maxMessage: () => 1476,
    random: () => draws.shift() ?? opts.fallback ?? 0.5,
  }, wire, { ...config, ...opts.config });
  const query = (q: Partial<MembershipQuery<number>>) =>
    reporter.query(device, { version: 3, maxResponseMs: 1000, group: null, sources: [], robustness: 0, queryIntervalS: 0, ...q });
  /** Join `group` any-source without reporting it (state the queries then ask about). */
  const member = (group: number) => links.join({}, group, 0);
  return { clock, links, device, sent, reporter, query, member, draws };
}

test('a query is answered after random x Max Resp Time, never sooner and never later', () => {
  for (const r of [0, 0.37, 0.999]) {
    const t = rig({ fallback: r });
    t.member(G);
    t.query({ maxResponseMs: 2000 });
    const due = Math.floor(r * 2000);
    assert.ok(due < 2000);
    if (due > 0) {
      t.clock.advance(due - 1);
      assert.equal(t.sent.length, 0, `random ${r}: not before ${due} ms`);
    }
    t.clock.advance(due > 0 ? 1 : 0);
    assert.deepEqual(t.sent, [{ at: due, records: [[ModeIsExclude, G, []]] }], `random ${r}: at ${due} ms`);
    t.query({ group: G, maxResponseMs: 500 });
    t.clock.advance(500);
    assert.deepEqual(t.sent[1], { at: due + Math.floor(r * 500), records: [[ModeIsExclude, G, []]] }, `random ${r}: the group query`);
  }
});

test('in an older version\'s mode, each group answers on its own random timer; a query about one group, that group only', () => {
  const t = rig({ draws: [0.1, 0.9] });
  t.member(G);
  t.member(G2);
  t.query({ version: 2, maxResponseMs: 1000 });
  t.clock.advance(1000);
  assert.deepEqual(t.sent, [{ at: 100, older: [2, G, true] }, { at: 900, older: [2, G2, true] }]);
  t.query({ version: 2, group: G2, maxResponseMs: 1000 });
  t.clock.advance(1000);
  assert.deepEqual(t.sent.slice(2).map((s) => s.older), [[2, G2, true]]);
});

test('Group-and-Source queries merge their sources into one answer at the earlier deadline; the asked sources still wanted are reported', () => {
  const t = rig({ draws: [0.5, 0.8] });
  const a = {};
  for (const s of [S1, S2, S3]) t.links.addSource(a, G, s, 0);
  t.query({ group: G, sources: [S1] }); // due at 500
  t.clock.advance(100);
  t.query({ group: G, sources: [S2, ip('192.0.2.99')] }); // would be due at 900: the earlier stays
  t.clock.advance(399);
  assert.equal(t.sent.length, 0);
  t.clock.advance(1);
  assert.deepEqual(t.sent, [{ at: 500, records: [[ModeIsInclude, G, [S1, S2]]] }], 'S1 and S2, not S3 (not asked) nor .99 (not wanted)');
});

test('a sooner query pulls a pending group answer earlier; a query about the whole group widens a source answer to the group\'s state', () => {
  const t = rig({ draws: [0.9, 0.2] });
  const a = {};
  t.links.addSource(a, G, S1, 0);
  t.links.addSource(a, G, S2, 0);
  t.query({ group: G, sources: [S1] }); // due at 900
  t.query({ group: G }); // due at 200: sooner, and about every source
  t.clock.advance(1000);
  assert.deepEqual(t.sent, [{ at: 200, records: [[ModeIsInclude, G, [S1, S2]]] }]);
});

test('asked sources none of which is wanted get no answer; past the source cap the answer is the whole group', () => {
  const t = rig();
  t.links.addSource({}, G, S1, 0);
  t.query({ group: G, sources: [S2] });
  t.clock.advance(1000);
  assert.equal(t.sent.length, 0, 'S2 is not wanted');
  const many = Array.from({ length: MAX_QUERIED_SOURCES + 1 }, (_, i) => ip('198.51.100.0') + i);
  t.query({ group: G, sources: many.slice(0, 600) });
  t.query({ group: G, sources: many.slice(600) });
  t.clock.advance(1000);
  assert.deepEqual(t.sent.map((s) => s.records), [[[ModeIsInclude, G, [S1]]]], 'the group\'s state, INCLUDE {S1}');
});

test('a pending General answer that comes sooner covers a group query (RFC 3376 5.2 rule 1); a later one does not', () => {
  const t = rig({ draws: [0.3, 0.6] });
  t.member(G);
  t.query({}); // general, due at 300
  t.query({ group: G }); // due at 600: covered
  t.clock.advance(1000);
  assert.deepEqual(t.sent.map((s) => s.at), [300]);
  t.draws.push(0.9, 0.1);
  t.query({}); // general, due at 1900
  t.query({ group: G }); // due at 1100: sooner, answered on its own
  t.clock.advance(1000);
  assert.deepEqual(t.sent.map((s) => s.at), [300, 1100, 1900]);
});

test('a state change is sent Robustness Variable times, each repeat within the Unsolicited Report Interval; a querier\'s QRV replaces the variable', () => {
  const t = rig({ config: { robustness: 3 }, fallback: 0.999 });
  const a = {};
  t.reporter.changed(t.device, t.links.join(a, G, 0).change!);
  t.clock.advance(60_000);
  assert.deepEqual(t.sent.map((s) => s.records), [[[ChangeToExclude, G, []]], [[ChangeToExclude, G, []]], [[ChangeToExclude, G, []]]]);
  assert.deepEqual(t.sent.map((s) => s.at), [0, 999, 1998], 'repeats within 1 s of each other');
  t.query({ robustness: 4, maxResponseMs: 0 });
  t.clock.advance(0);
  t.sent.length = 0;
  t.reporter.changed(t.device, t.links.leave(a, G).change!);
  t.clock.advance(60_000);
  assert.equal(t.sent.length, 4, 'QRV 4: four in all');
  assert.ok(t.sent.every((s) => s.records![0]![0] === ChangeToInclude));
});

test('source changes keep a count per source: a new source joins the reports still owed, a source allowed then dropped is blocked', () => {
  const t = rig({ fallback: 0.5 });
  const a = {};
  t.reporter.changed(t.device, t.links.addSource(a, G, S1, 0).change!);
  t.reporter.changed(t.device, t.links.addSource(a, G, S2, 0).change!);
  t.clock.advance(10_000);
  assert.deepEqual(t.sent.map((s) => s.records), [[[Allow, G, [S1]]], [[Allow, G, [S1, S2]]], [[Allow, G, [S2]]]], 'S1 twice, S2 twice');
  t.sent.length = 0;
  t.reporter.changed(t.device, t.links.addSource(a, G2, S3, 0).change!);
  t.reporter.changed(t.device, t.links.dropSource(a, G2, S3).change!);
  t.clock.advance(10_000);
  assert.deepEqual(t.sent.map((s) => s.records), [[[Allow, G2, [S3]]], [[Block, G2, [S3]]], [[Block, G2, [S3]]]], 'the ALLOW owed is replaced by BLOCKs');
});

test('an older querier sets the compatibility mode for Robustness x Query Interval + Query Response Interval; the oldest heard wins', () => {
  const t = rig();
  t.query({ version: 2 });
  assert.equal(t.reporter.version(t.device), 2);
  t.clock.advance(2 * 125_000 + 10_000 - 1);
  assert.equal(t.reporter.version(t.device), 2);
  t.clock.advance(1);
  assert.equal(t.reporter.version(t.device), 3, 'the Older Version Querier Present Timeout is over');
  // The querier's QRV and QQIC set the timeout too.
  t.query({ version: 3, robustness: 3, queryIntervalS: 60 });
  t.query({ version: 1 });
  t.clock.advance(100_000);
  t.query({ version: 2 });
  assert.equal(t.reporter.version(t.device), 1, 'v1 and v2 heard: v1');
  t.clock.advance(3 * 60_000 + 10_000 - 100_000);
  assert.equal(t.reporter.version(t.device), 2, 'the v1 timeout is over, the v2 one is not');
  t.clock.advance(100_000);
  assert.equal(t.reporter.version(t.device), 3);
});

test('in compatibility mode a change is the older version\'s report, repeated at the older interval; a leave said once; others\' reports suppress ours', () => {
  const t = rig({ fallback: 0.5 });
  t.query({ version: 2 });
  const a = {};
  t.reporter.changed(t.device, t.links.join(a, G, 0).change!);
  t.clock.advance(20_000);
  assert.deepEqual(t.sent, [{ at: 0, older: [2, G, true] }, { at: 5000, older: [2, G, true] }], 'repeated after 0.5 x 10 s');
  t.query({ version: 2, maxResponseMs: 10_000 });
  t.reporter.heardReport(t.device, G);
  t.clock.advance(10_000);
  assert.equal(t.sent.length, 2, 'another host answered: ours suppressed');
  t.reporter.changed(t.device, t.links.leave(a, G).change!);
  t.clock.advance(20_000);
  assert.deepEqual(t.sent.slice(2), [{ at: 30_000, older: [2, G, false] }], 'the leave, once');
  // In the current version, another host's report is for the routers: ours is still sent.
  const v3 = rig();
  v3.member(G);
  v3.query({ group: G });
  v3.reporter.heardReport(v3.device, G);
  v3.clock.advance(1000);
  assert.equal(v3.sent.length, 1);
});

test('a change of mode cancels what the other version would have answered', () => {
  const t = rig({ draws: [0.5, 0.9] });
  t.member(G);
  t.query({}); // current version: general answer due at 500
  t.clock.advance(100);
  t.query({ version: 2 }); // v2 from now: G answers as v2 at 100 + 900
  t.clock.advance(2000);
  assert.deepEqual(t.sent, [{ at: 1000, older: [2, G, true] }], 'no v3 report');
});

test('the all-systems group is never reported: not on joining, not in a General answer, not to a query about it', () => {
  const t = rig();
  t.reporter.changed(t.device, t.links.join({}, ALL, 0).change!);
  t.member(G);
  t.query({ group: ALL });
  t.query({});
  t.clock.advance(1000);
  assert.deepEqual(t.sent.map((s) => s.records), [[[ModeIsExclude, G, []]]]);
  t.query({ version: 2 });
  t.clock.advance(1000);
  assert.deepEqual(t.sent.slice(1).map((s) => s.older), [[2, G, true]]);
});

test('with IPv6 addresses and MLD\'s record sizes, records fill reports up to the MTU and a record with too many sources is cut', () => {
  const clock = new FakeClock(0);
  const links = new LinkMemberships<Ipv6Addr>();
  const device = {} as Device;
  const a6 = (t: string) => intern6(parseIpv6(t)!);
  let maxMessage = 8 + 3 * 20;
  const reports: string[][] = [];
  const wire: MembershipWire<Ipv6Addr> = {
    newestVersion: 2, allSystems: a6('ff02::1'), recordBytes: 20, sourceBytes: 16,
    sendReport: (_d, records) => reports.push(records.map((r) => `${r.group.toString()} ${r.sources.length}`)),
    sendOlder: () => assert.fail('no older querier'),
  };
  const reporter = new MembershipReporter<Ipv6Addr>({ timers: clock.timers, memberships: () => links, maxMessage: () => maxMessage, random: () => 0 }, wire, config);
  for (let i = 1; i <= 4; i++) links.join({}, a6(`ff05::${i}`), 0);
  reporter.query(device, { version: 2, maxResponseMs: 1000, group: null, sources: [], robustness: 0, queryIntervalS: 0 });
  clock.advance(0);
  assert.deepEqual(reports, [['ff05::1 0', 'ff05::2 0', 'ff05::3 0'], ['ff05::4 0']], 'three 20-byte records fill 60 bytes');
  reports.length = 0;
  maxMessage = 8 + 20 + 2 * 16;
  const owner = {};
  for (const s of ['2001:db8::1', '2001:db8::2', '2001:db8::3']) links.addSource(owner, a6('ff05::9'), a6(s), 0);
  reporter.query(device, { version: 2, maxResponseMs: 1000, group: a6('ff05::9'), sources: [], robustness: 0, queryIntervalS: 0 });
  clock.advance(0);
  assert.deepEqual(reports, [['ff05::9 2']], 'room for two sources');
});
