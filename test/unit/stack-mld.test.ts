// The MLD listener (mld.ts) on a fake clock: MLDv2 state-change reports on join and leave with
// their robustness repeats, answers to General, Multicast-Address-Specific and
// -and-Source-Specific Queries within the Maximum Response Delay, MLDv1 compatibility (v1
// reports, suppression, Done), ff02::1 never reported, queries from a global source dropped;
// and the IPv6 layer with a capture device: solicited-node groups reported from the
// link-local address with hop limit 1 and a Router Alert to ff02::16, dgram udp6 memberships.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkMemberships } from '../../src/stack/multicast-groups.js';
import { Mld, defaultMldConfig, type MldContext } from '../../src/stack/mld.js';
import { Counters } from '../../src/stack/counters.js';
import { FakeClock } from '../../src/time/clock.js';
import { intern6, type Ipv6Addr } from '../../src/stack/ip-address.js';
import { parseIpv6, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { parseMld, type MldMessage, type MldMessageInit } from '../../src/wire/mld.js';
import { emitMld, mldMessageLength } from '../../src/wire/mld.js';
import type { Device } from '../../src/link/device.js';
import { Stack } from '../../src/api/stack.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4 } from '../../src/wire/addr.js';
import { maddrJson } from '../../src/cli/control.js';
import { formatMaddr } from '../../src/cli/inspect.js';

const a6 = (t: string) => intern6(parseIpv6(t)!);
const G = a6('ff02::1:3');
const G2 = a6('ff05::1234');
const S1 = a6('2001:db8::10');
const S2 = a6('2001:db8::11');
const ROUTER = a6('fe80::1');

function rig(random = 0.5) {
  const clock = new FakeClock(0);
  const counters = new Counters();
  const links = new LinkMemberships<Ipv6Addr>();
  const device = { type: 'ethernet', mtu: 1500, name: 'tap0' } as unknown as Device;
  const sent: { at: number; dst: string; m: MldMessageInit }[] = [];
  const ctx: MldContext = {
    timers: clock.timers,
    counters,
    memberships: () => links,
    send: (_d, dst, m) => sent.push({ at: clock.now(), dst: dst.toString(), m }),
    maxMessage: () => 1452,
    random: () => random,
  };
  const mld = new Mld(ctx, defaultMldConfig);
  /** An MLD message from `src`, through the wire codec as it would arrive. */
  const receive = (m: MldMessageInit, src = ROUTER) => {
    const buf = new Uint8Array(mldMessageLength(m));
    emitMld(buf, 0, m, src.bytes, parseIpv6('ff02::1')!);
    mld.receive(device, src, parseMld(buf, 0, buf.length) as MldMessage);
  };
  return { clock, counters, links, device, sent, mld, receive };
}

const records = (m: MldMessageInit) => (m.kind === 'report2' ? m.records.map((r) => [r.type, intern6(r.group).toString(), r.sources.map((s) => intern6(s).toString()).sort()]) : []);
const any = new Uint8Array(16);

test('MLDv2: a join is reported at once to ff02::16 and repeated once within the Unsolicited Report Interval; a leave the same', () => {
  const r = rig(0.5);
  const owner = {};
  r.mld.changed(r.device, r.links.join(owner, G, 0).change!);
  assert.equal(r.sent.length, 1);
  assert.equal(r.sent[0]!.dst, 'ff02::16');
  assert.deepEqual(records(r.sent[0]!.m), [[4, 'ff02::1:3', []]], 'CHANGE_TO_EXCLUDE {}');
  r.clock.advance(499);
  assert.equal(r.sent.length, 1);
  r.clock.advance(1);
  assert.equal(r.sent.length, 2, 'the robustness repeat, 0.5 x 1 s later');
  r.clock.advance(10_000);
  assert.equal(r.sent.length, 2, 'Robustness Variable 2: two in all');
  r.mld.changed(r.device, r.links.leave(owner, G).change!);
  assert.deepEqual(records(r.sent[2]!.m), [[3, 'ff02::1:3', []]], 'CHANGE_TO_INCLUDE {}: the leave');
  r.clock.advance(10_000);
  assert.equal(r.sent.length, 4);
  assert.equal(r.counters.mldReportsOut, 4);
});

test('MLDv2: ff02::1 is never reported; source changes in INCLUDE mode are ALLOW and BLOCK', () => {
  const r = rig(0);
  r.mld.changed(r.device, r.links.join({}, a6('ff02::1'), 0).change!);
  assert.equal(r.sent.length, 0, 'all-nodes: no report');
  const a = {};
  r.mld.changed(r.device, r.links.addSource(a, G2, S1, 0).change!);
  assert.deepEqual(records(r.sent[0]!.m), [[5, 'ff05::1234', ['2001:db8::10']]]);
  r.clock.advance(0);
  r.sent.length = 0;
  r.mld.changed(r.device, r.links.dropSource(a, G2, S1).change!);
  assert.deepEqual(records(r.sent[0]!.m), [[6, 'ff05::1234', ['2001:db8::10']]], 'BLOCK {S1}: the last source leaves');
});

test('MLDv2 queries: General, Address-Specific and Address-and-Source-Specific answered within the Maximum Response Delay', () => {
  const r = rig(0.25);
  r.links.join({}, G, 0);
  r.links.addSource({}, G2, S1, 0);
  r.links.join({}, a6('ff02::1'), 0);
  r.receive({ kind: 'query', version: 2, maxResponseCode: 10_000, group: any });
  assert.equal(r.sent.length, 0, 'not at once');
  r.clock.advance(2499);
  assert.equal(r.sent.length, 0);
  r.clock.advance(1);
  assert.equal(r.sent.length, 1, '0.25 x 10 s');
  assert.deepEqual(records(r.sent[0]!.m), [[2, 'ff02::1:3', []], [1, 'ff05::1234', ['2001:db8::10']]], 'MODE_IS_EXCLUDE, MODE_IS_INCLUDE; never ff02::1');
  r.receive({ kind: 'query', version: 2, maxResponseCode: 1000, group: G.bytes });
  r.clock.advance(250);
  assert.deepEqual(records(r.sent[1]!.m), [[2, 'ff02::1:3', []]]);
  r.receive({ kind: 'query', version: 2, maxResponseCode: 1000, group: G2.bytes, sources: [S1.bytes, S2.bytes] });
  r.clock.advance(250);
  assert.deepEqual(records(r.sent[2]!.m), [[1, 'ff05::1234', ['2001:db8::10']]], 'only the asked sources still wanted');
  r.receive({ kind: 'query', version: 2, maxResponseCode: 1000, group: parseIpv6('ff05::9')! });
  r.clock.advance(2000);
  assert.equal(r.sent.length, 3, 'a group we are not in: no answer');
  // RFC 3810 6.2 rule 1: a pending General response that comes sooner covers a group query.
  r.receive({ kind: 'query', version: 2, maxResponseCode: 1000, group: any });
  r.receive({ kind: 'query', version: 2, maxResponseCode: 10_000, group: G.bytes });
  r.clock.advance(5000);
  assert.equal(r.sent.length, 4, 'one answer (the general one)');
  assert.equal(r.counters.mldQueriesIn, 6);
  // A query from a global source is not from a router on this link (RFC 3810 5.1.14).
  r.receive({ kind: 'query', version: 2, maxResponseCode: 100, group: any }, a6('2001:db8::1'));
  r.clock.advance(1000);
  assert.equal(r.sent.length, 4);
  assert.equal(r.counters.drops.get('mld: query-not-link-local'), 1);
  const buf = new Uint8Array(28);
  emitMld(buf, 0, { kind: 'query', version: 2, maxResponseCode: 100, group: any }, ROUTER.bytes, parseIpv6('ff02::1')!);
  r.mld.receive(r.device, ROUTER, parseMld(buf, 0, 28) as MldMessage, 255);
  r.clock.advance(1000);
  assert.equal(r.sent.length, 4);
  assert.equal(r.counters.drops.get('mld: query-hop-limit'), 1, 'a query that crossed a router is dropped');
});

test('MLDv1 querier: v1 reports to the group, suppressed by another listener\'s, Done to ff02::2, back to v2 after the timeout', () => {
  const r = rig(0.5);
  r.receive({ kind: 'query', version: 1, maxResponseCode: 10_000, group: any });
  assert.equal(r.mld.version(r.device), 1);
  const a = {};
  r.mld.changed(r.device, r.links.join(a, G, 0).change!);
  assert.equal(r.sent[0]!.m.kind, 'report');
  assert.equal(r.sent[0]!.dst, 'ff02::1:3', 'a v1 report goes to the group');
  r.clock.advance(1000);
  assert.equal(r.sent.length, 2, 'repeated once');
  r.receive({ kind: 'query', version: 1, maxResponseCode: 10_000, group: any });
  r.receive({ kind: 'report', group: G.bytes }, a6('fe80::99'));
  r.clock.advance(20_000);
  assert.equal(r.sent.length, 2, 'another listener answered: ours suppressed');
  r.mld.changed(r.device, r.links.leave(a, G).change!);
  assert.equal(r.sent[2]!.m.kind, 'done');
  assert.equal(r.sent[2]!.dst, 'ff02::2');
  r.clock.advance(10_000);
  assert.equal(r.sent.length, 3, 'a Done is said once');
  assert.equal(r.counters.mldDonesOut, 1);
  // Older Version Querier Present Timeout: Robustness x Query Interval + Query Response Interval.
  r.clock.advance(2 * 125_000 + 10_000);
  assert.equal(r.mld.version(r.device), 2);
});

/** A stack running IPv6 on a capture device, DAD done. */
async function v6Stack() {
  const clock = new FakeClock(0);
  const stack = new Stack({ timers: clock.timers, random: () => 0, ipv6: true });
  stack.addInterface(new LoopbackDevice(), { address: parseIpv4('127.0.0.1')!, prefixLength: 8 });
  const dev = new CaptureDevice('tap0');
  stack.addInterface(dev, { address: parseIpv4('192.0.2.2')!, prefixLength: 24 });
  stack.ipv6!.addAddress(dev, 1, parseIpv6Cidr('2001:db8::2/64')!);
  stack.start();
  clock.advance(5000);
  return { clock, stack, dev };
}

/** The MLD messages among the frames sent: [IPv6 src, dst, hop limit, has Router Alert, message]. */
function mldFrames(frames: Uint8Array[]) {
  const out: { src: string; dst: string; hopLimit: number; routerAlert: boolean; m: MldMessage }[] = [];
  for (const f of frames) {
    if (f[12] !== 0x86 || f[13] !== 0xdd || f[14 + 6] !== 0) continue; // IPv6 with Hop-by-Hop
    const hbh = 54;
    if (f[hbh] !== 58) continue;
    const m = parseMld(f, hbh + 8, ((f[18]! << 8) | f[19]!) - 8);
    if (typeof m === 'string') continue;
    out.push({ src: intern6(f, 22).toString(), dst: intern6(f, 38).toString(), hopLimit: f[21]!, routerAlert: f[hbh + 2] === 5, m });
  }
  return out;
}

test('IPv6 layer: solicited-node groups and socket groups are reported from the link-local address, hop limit 1, Router Alert, to ff02::16', async () => {
  const { clock, stack, dev } = await v6Stack();
  const reports = mldFrames(dev.sent);
  assert.ok(reports.length >= 2, 'the solicited-node groups are reported');
  const groups = new Set(reports.flatMap((r) => (r.m.kind === 'report2' ? r.m.records.map((x) => intern6(x.group).toString()) : [])));
  assert.ok(groups.has('ff02::1:ff00:2'), `solicited-node of 2001:db8::2 in ${[...groups].join(' ')}`);
  assert.ok(!groups.has('ff02::1'));
  for (const r of reports) {
    assert.equal(r.dst, 'ff02::16');
    assert.equal(r.hopLimit, 1);
    assert.ok(r.routerAlert);
  }
  dev.sent.length = 0;
  const s = stack.createSocket('udp6');
  s.bind(5000);
  s.addMembership('ff05::1:3', '::%tap0');
  const joins = mldFrames(dev.sent);
  assert.equal(joins.length, 1);
  assert.ok(joins[0]!.src.startsWith('fe80::'), 'from the link-local address');
  assert.deepEqual(joins[0]!.m.kind === 'report2' && joins[0]!.m.records.map((x) => [x.type, intern6(x.group).toString()]), [[4, 'ff05::1:3']]);
  const maddr = stack.ipv6!.multicast.list(stack.devices);
  const tap = maddr.find((d) => d.device === dev)!;
  assert.deepEqual(tap.groups.map((g) => [g.group.toString(), g.sockets]).find((g) => g[0] === 'ff05::1:3'), ['ff05::1:3', 1]);
  const text = formatMaddr(maddrJson(stack));
  assert.match(text, /\(MLDv2\)\n\tlink  33:33:00:00:00:01\n\tinet6 ff02::1\n/);
  assert.match(text, /\tlink  33:33:ff:00:00:02\n\tinet6 ff02::1:ff00:2\n/, 'the solicited-node group, no socket');
  assert.match(text, /\tlink  33:33:00:01:00:03\n\tinet6 ff05::1:3  EXCLUDE \{\}  users 1\n/);
  dev.sent.length = 0;
  s.close();
  const leaves = mldFrames(dev.sent);
  assert.deepEqual(leaves[0]!.m.kind === 'report2' && leaves[0]!.m.records.map((x) => [x.type, intern6(x.group).toString()]), [[3, 'ff05::1:3']], 'closing leaves');
  clock.advance(2000);
  stack.close();
});

test('dgram udp6 multicast: Node\'s errors for memberships and options', async () => {
  const { stack } = await v6Stack();
  const s = stack.createSocket('udp6');
  s.bind(0);
  s.addMembership('ff02::1:3');
  const code = (f: () => unknown) => {
    try {
      f();
      return 'no error';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  assert.equal(code(() => s.addMembership('ff02::1:3')), 'EADDRINUSE');
  assert.equal(code(() => s.addMembership('2001:db8::1')), 'EINVAL', 'not a group');
  assert.equal(code(() => s.addMembership('ff02::1:4', 'nonsense')), 'EINVAL');
  assert.equal(code(() => s.dropMembership('ff02::1:9')), 'EADDRNOTAVAIL');
  assert.equal(code(() => s.dropMembership('2001:db8::1')), 'EINVAL');
  assert.equal(code(() => s.dropSourceSpecificMembership('2001:db8::9', 'ff05::9')), 'EINVAL', 'no membership');
  s.addSourceSpecificMembership('2001:db8::1', 'ff05::7');
  assert.equal(code(() => s.addSourceSpecificMembership('2001:db8::1', 'ff05::7')), 'EADDRNOTAVAIL');
  assert.equal(code(() => s.addSourceSpecificMembership('192.0.2.1', 'ff05::7')), 'EINVAL', 'an IPv4 source for an IPv6 group');
  s.dropSourceSpecificMembership('2001:db8::1', 'ff05::7');
  s.dropMembership('ff02::1:3');
  s.setMulticastInterface('::%tap0');
  assert.equal(code(() => s.setMulticastInterface('zz')), 'EINVAL');
  assert.equal(s.setMulticastTTL(5), 5);
  const s4 = stack.createSocket('udp4');
  s4.bind(0);
  assert.equal(code(() => s4.addMembership('ff02::1:3')), 'ENOPROTOOPT', 'an IPv6 group on a udp4 socket');
  s.close();
  s4.close();
  stack.close();
});

test('dgram udp6: a group datagram reaches the member socket; a send to a group leaves to its 33:33 MAC with the multicast hop limit and loops back', async () => {
  const { clock, stack, dev } = await v6Stack();
  const got: string[] = [];
  const member = stack.createSocket({ type: 'udp6', reuseAddr: true }, (msg) => got.push(msg.toString()));
  member.bind(6000);
  member.addMembership('ff02::1:3');
  const sender = stack.createSocket('udp6');
  sender.bind(0);
  sender.setMulticastTTL(3);
  dev.sent.length = 0;
  sender.send('hi', 6000, 'ff02::1:3');
  await new Promise((r) => setImmediate(r));
  clock.advance(0);
  await new Promise((r) => setImmediate(r));
  const out = dev.sent.find((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 17);
  assert.ok(out !== undefined, 'the datagram left');
  assert.deepEqual([...out.subarray(0, 6)], [0x33, 0x33, 0, 1, 0, 3]);
  assert.equal(out[21], 3, 'the multicast hop limit');
  assert.deepEqual(got, ['hi'], 'looped back to the member');
  member.close();
  sender.close();
  stack.close();
});
