// Multicast memberships (multicast-groups.ts: Linux's errors, RFC 3376 3.2 merging) and the
// IGMP host protocol (igmp.ts) on a fake clock: reports on join and leave with their repeats,
// answers to General, Group-Specific and Group-and-Source-Specific queries within Max Resp
// Time, and IGMPv2 compatibility.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkMemberships } from '../../src/stack/multicast-groups.js';
import { Igmp, defaultIgmpConfig, type IgmpContext } from '../../src/stack/igmp.js';
import { Counters } from '../../src/stack/counters.js';
import { FakeClock } from '../../src/time/clock.js';
import { emitIgmp, igmpMessageLength, type IgmpMessageInit } from '../../src/wire/igmp.js';
import { parseIpv4 } from '../../src/wire/addr.js';
import type { Device } from '../../src/link/device.js';
import type { InboundPacket } from '../../src/stack/network.js';
import type { Interface } from '../../src/stack/interface.js';

const ip = (t: string) => parseIpv4(t)!;
const G = ip('239.1.2.3');
const S1 = ip('192.0.2.10');
const S2 = ip('192.0.2.11');

test('memberships: Linux errors for joins, leaves and source filters', () => {
  const m = new LinkMemberships<number>();
  const a = {};
  assert.equal(m.join(a, G, 0).error, null);
  assert.equal(m.join(a, G, 1).error, 'EADDRINUSE');
  assert.equal(m.leave(a, ip('239.9.9.9')).error, 'EADDRNOTAVAIL');
  // An any-source membership switches to INCLUDE {S1} (empty-set mode switch, as Linux).
  assert.equal(m.addSource(a, G, S1, 1).error, null);
  assert.deepEqual(m.groups.get(G)!.filter(), { mode: 'include', sources: [S1] });
  assert.equal(m.addSource(a, G, S1, 1).error, 'EADDRNOTAVAIL');
  assert.equal(m.join(a, G, 1).error, 'EADDRINUSE');
  assert.equal(m.dropSource(a, G, S2).error, 'EADDRNOTAVAIL');
  assert.equal(m.dropSource({}, G, S1).error, 'EINVAL');
  // The last source of an INCLUDE filter leaves the group.
  assert.equal(m.dropSource(a, G, S1).error, null);
  assert.equal(m.groups.size, 0);
  assert.equal(m.join(a, G, 20).error, 'ENOBUFS');
  for (let i = 0; i < 10; i++) assert.equal(m.addSource(a, G, S1 + i, 0).error, null);
  assert.equal(m.addSource(a, G, S1 + 10, 0).error, 'ENOBUFS');
});

test('memberships: the link state merges the sockets\' filters (RFC 3376 3.2) and reports changes', () => {
  const m = new LinkMemberships<number>();
  const a = {};
  const b = {};
  const c1 = m.addSource(a, G, S1, 0);
  assert.deepEqual(c1.change, { group: G, before: { mode: 'include', sources: [] }, after: { mode: 'include', sources: [S1] } });
  assert.ok(m.accepts(G, S1) && !m.accepts(G, S2));
  // Any socket excluding makes the link EXCLUDE (minus what others include): every source.
  const c2 = m.join(b, G, 0);
  assert.deepEqual(c2.change?.after, { mode: 'exclude', sources: [] });
  assert.ok(m.accepts(G, S2));
  // Each socket keeps its own filter; a socket with no membership takes the group (IP_MULTICAST_ALL).
  assert.ok(m.socketAccepts(a, G, S1) && !m.socketAccepts(a, G, S2) && m.socketAccepts(b, G, S2) && m.socketAccepts({}, G, S2));
  // A second identical membership changes nothing on the link.
  assert.equal(m.join({}, G, 0).change, null);
  const changes = m.leaveAll(b);
  assert.equal(changes.length, 0, 'the other any-source member keeps the link in EXCLUDE {}');
});

/** An IGMP service on a fake clock whose sent messages are collected. */
function rig(random = 0.5) {
  const clock = new FakeClock(0);
  const counters = new Counters();
  const links = new LinkMemberships<number>();
  const device = { type: 'ethernet', mtu: 1500, name: 'tap0' } as unknown as Device;
  const sent: { at: number; dst: number; m: IgmpMessageInit }[] = [];
  const ctx: IgmpContext = {
    timers: clock.timers,
    counters,
    memberships: () => links,
    send: (_d, dst, m) => sent.push({ at: clock.now(), dst, m: JSON.parse(JSON.stringify(m)) as IgmpMessageInit }),
    maxMessage: () => 1476,
    random: () => random,
  };
  const igmp = new Igmp(ctx, defaultIgmpConfig);
  const receive = (m: IgmpMessageInit) => {
    const buf = new Uint8Array(igmpMessageLength(m));
    emitIgmp(buf, 0, m);
    const p: InboundPacket = { src: ip('192.0.2.1'), dst: ip('224.0.0.1'), buf, payloadOffset: 0, payloadLength: buf.length, headerOffset: 0, iface: { device } as Interface, checksumOk: false, broadcast: true, ecn: 0 };
    igmp.receive(p);
  };
  return { clock, counters, links, device, sent, igmp, receive };
}

const records = (m: IgmpMessageInit) => (m.kind === 'report3' ? m.records.map((r) => [r.type, r.group, [...r.sources].sort()]) : []);

test('IGMPv3: a join is reported at once and repeated once within the Unsolicited Report Interval; a leave the same', () => {
  const r = rig(0.5);
  const c = r.links.join({}, G, 0).change!;
  r.igmp.changed(r.device, c);
  assert.equal(r.sent.length, 1);
  assert.equal(r.sent[0]!.dst, ip('224.0.0.22'));
  assert.deepEqual(records(r.sent[0]!.m), [[4, G, []]], 'CHANGE_TO_EXCLUDE {}');
  r.clock.advance(499);
  assert.equal(r.sent.length, 1);
  r.clock.advance(1);
  assert.equal(r.sent.length, 2, 'the robustness repeat, 0.5 x 1 s later');
  r.clock.advance(10_000);
  assert.equal(r.sent.length, 2, 'Robustness Variable 2: two in all');
  const leave = r.links.leaveAll([...r.links.groups.get(G)!.sockets.keys()][0]!)[0]!;
  r.igmp.changed(r.device, leave);
  assert.deepEqual(records(r.sent[2]!.m), [[3, G, []]], 'CHANGE_TO_INCLUDE {}: the leave');
  r.clock.advance(10_000);
  assert.equal(r.sent.length, 4);
  assert.equal(r.counters.igmpReportsOut, 4);
});

test('IGMPv3: source changes in INCLUDE mode are ALLOW and BLOCK records', () => {
  const r = rig(0);
  const a = {};
  r.igmp.changed(r.device, r.links.addSource(a, G, S1, 0).change!);
  assert.deepEqual(records(r.sent[0]!.m), [[5, G, [S1]]], 'INCLUDE {} to INCLUDE {S1}: ALLOW {S1} (RFC 3376 5.1)');
  r.clock.advance(0);
  r.sent.length = 0;
  r.igmp.changed(r.device, r.links.addSource(a, G, S2, 0).change!);
  assert.deepEqual(records(r.sent[0]!.m), [[5, G, [S2]]], 'ALLOW {S2}');
  r.clock.advance(0);
  r.sent.length = 0;
  r.igmp.changed(r.device, r.links.dropSource(a, G, S1).change!);
  assert.deepEqual(records(r.sent[0]!.m), [[6, G, [S1]]], 'BLOCK {S1}');
});

test('IGMPv3 queries: General, Group-Specific and Group-and-Source-Specific are answered after a delay within Max Resp Time', () => {
  const r = rig(0.25);
  r.links.join({}, G, 0);
  r.links.addSource({}, ip('232.1.1.1'), S1, 0);
  r.receive({ kind: 'query', version: 3, maxResponseCode: 100, group: 0 });
  assert.equal(r.sent.length, 0, 'not at once');
  r.clock.advance(2499);
  assert.equal(r.sent.length, 0);
  r.clock.advance(1);
  assert.equal(r.sent.length, 1, '0.25 x 10 s');
  assert.deepEqual(records(r.sent[0]!.m), [[2, G, []], [1, ip('232.1.1.1'), [S1]]], 'MODE_IS_EXCLUDE and MODE_IS_INCLUDE');
  r.receive({ kind: 'query', version: 3, maxResponseCode: 10, group: G });
  r.clock.advance(250);
  assert.deepEqual(records(r.sent[1]!.m), [[2, G, []]]);
  r.receive({ kind: 'query', version: 3, maxResponseCode: 10, group: ip('232.1.1.1'), sources: [S1, S2] });
  r.clock.advance(250);
  assert.deepEqual(records(r.sent[2]!.m), [[1, ip('232.1.1.1'), [S1]]], 'only the asked sources still wanted');
  r.receive({ kind: 'query', version: 3, maxResponseCode: 10, group: ip('239.9.9.9') });
  r.clock.advance(2000);
  assert.equal(r.sent.length, 3, 'a group we are not in: no answer');
  assert.equal(r.counters.igmpQueriesIn, 4);
});

test('IGMPv2 querier: the host answers with v2 reports, suppressed by another member\'s, and leaves with Leave Group', () => {
  const r = rig(0.5);
  r.receive({ kind: 'query', version: 2, maxResponseCode: 100, group: 0 });
  assert.equal(r.igmp.version(r.device), 2);
  const a = {};
  r.igmp.changed(r.device, r.links.join(a, G, 0).change!);
  assert.deepEqual(r.sent[0]!.m, { kind: 'report', version: 2, group: G });
  assert.equal(r.sent[0]!.dst, G, 'a v2 report goes to the group');
  r.clock.advance(20_000);
  assert.equal(r.sent.length, 2, 'repeated once');
  r.receive({ kind: 'query', version: 2, maxResponseCode: 100, group: 0 });
  r.receive({ kind: 'report', version: 2, group: G });
  r.clock.advance(20_000);
  assert.equal(r.sent.length, 2, 'another member answered: ours suppressed');
  r.igmp.changed(r.device, r.links.leave(a, G).change!);
  assert.deepEqual(r.sent[2]!.m, { kind: 'leave', group: G });
  assert.equal(r.sent[2]!.dst, ip('224.0.0.2'));
  // Without v2 queries for the Older Version Querier Present Timeout, back to v3.
  r.clock.advance(2 * 125_000 + 10_000);
  assert.equal(r.igmp.version(r.device), 3);
});

test('IGMP: a bad checksum or a truncated message is counted and dropped', () => {
  const r = rig();
  const buf = new Uint8Array(8);
  emitIgmp(buf, 0, { kind: 'query', version: 2, maxResponseCode: 100, group: 0 });
  buf[7] ^= 1;
  r.igmp.receive({ src: 1, dst: 2, buf, payloadOffset: 0, payloadLength: 8, headerOffset: 0, iface: { device: r.device } as Interface, checksumOk: false, broadcast: true, ecn: 0 });
  r.igmp.receive({ src: 1, dst: 2, buf: new Uint8Array(4), payloadOffset: 0, payloadLength: 4, headerOffset: 0, iface: { device: r.device } as Interface, checksumOk: false, broadcast: true, ecn: 0 });
  assert.equal(r.counters.drops.get('igmp: bad-checksum'), 2);
});

test('IGMPv3: Group-and-Source queries naming ever more sources are answered with the group\'s whole state past a cap', () => {
  const r = rig(0.5);
  r.links.join({}, G, 0);
  for (let q = 0; q < 4; q++) {
    const sources = Array.from({ length: 300 }, (_, i) => ip('198.51.100.0') + q * 300 + i);
    r.receive({ kind: 'query', version: 3, maxResponseCode: 100, group: G, sources });
  }
  r.clock.advance(10_000);
  assert.equal(r.sent.length, 1);
  assert.deepEqual(records(r.sent[0]!.m), [[2, G, []]], 'MODE_IS_EXCLUDE {}, not 1200 sources');
});
