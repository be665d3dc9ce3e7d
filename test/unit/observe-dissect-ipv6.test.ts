// Dissection and one-line summaries of IPv6, its extension headers, ICMPv6 with NDP and MLD,
// and IGMP (src/observe/dissect-ipv6.ts, dissect-icmpv6.ts, dissect-igmp.ts, summary.ts) on
// the scapy-built frames: summaries equal `tcpdump -n`'s lines for the same frames (captured
// from tcpdump 4.99 on the pcap the generator writes), blocks show tshark's facts, and
// nothing throws on random bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dissectFrame } from '../../src/observe/dissect.js';
import { summarizeFrame } from '../../src/observe/summary.js';
import { ipv6Frame, ipv6FrameNames } from '../helpers/ipv6-frames.js';
import { runs } from '../helpers/fuzz-runs.js';

/** tcpdump -n's line for each frame (its "IP6 "/"IP " prefix removed, as pstack's summaries have none). */
const TCPDUMP: [string, string][] = [
  ['echo-request', '2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 4660, seq 7, length 17'],
  ['echo-reply', '2001:db8::2 > 2001:db8::1: ICMP6, echo reply, id 4660, seq 7, length 17'],
  ['ns', '2001:db8::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has 2001:db8::2, length 32'],
  ['ns-dad', ':: > ff02::1:ff00:1: ICMP6, neighbor solicitation, who has 2001:db8::1, length 24'],
  ['na', '2001:db8::2 > 2001:db8::1: ICMP6, neighbor advertisement, tgt is 2001:db8::2, length 32'],
  ['rs', 'fe80::ff:fe00:1 > ff02::2: ICMP6, router solicitation, length 16'],
  ['ra', 'fe80::ff:fe00:2 > ff02::1: ICMP6, router advertisement, length 144'],
  ['redirect', 'fe80::ff:fe00:2 > 2001:db8::1: ICMP6, redirect, 2001:db8:5::9 to fe80::3, length 104'],
  ['mldv2-query', 'fe80::ff:fe00:2 > ff02::1: HBH ICMP6, multicast listener query v2 [gaddr ff15::1234, 2 source(s)], length 60'],
  ['mldv2-report', 'fe80::ff:fe00:1 > ff02::16: HBH ICMP6, multicast listener report v2, 2 group record(s), length 80'],
  ['igmpv3-report', '192.0.2.1 > 224.0.0.22: igmp v3 report, 2 group record(s)'],
  ['igmpv3-query', '192.0.2.2 > 224.0.0.1: igmp query v3'],
  ['igmpv2-report', '192.0.2.1 > 239.1.2.3: igmp v2 report 239.1.2.3'],
  ['igmpv2-leave', '192.0.2.1 > 224.0.0.2: igmp leave 239.1.2.3'],
  ['fragment-first', '2001:db8::1 > 2001:db8::2: frag (0|1232) 4000 > 5000: UDP, length 2048'],
  ['fragment-last', '2001:db8::1 > 2001:db8::2: frag (1232|824)'],
  ['atomic-fragment', '2001:db8::1 > 2001:db8::2: frag (0|14) 4000 > 5000: UDP, length 6'],
  ['tcp-syn', '2001:db8::1.40000 > 2001:db8::2.80: Flags [S], seq 1000, win 8192, options [mss 1440,sackOK,wscale 7,eol], length 0'],
  ['packet-too-big', '2001:db8::2 > 2001:db8::1: ICMP6, packet too big, mtu 1280, length 1240'],
  ['dest-unreach', '2001:db8::2 > 2001:db8::1: ICMP6, destination unreachable, unreachable port, 2001:db8::2 udp port 9, length 60'],
  ['time-exceeded', '2001:db8::2 > 2001:db8::1: ICMP6, time exceeded in-transit for 2001:db8:9::1, length 56'],
  ['param-problem', '2001:db8::2 > 2001:db8::1: ICMP6, parameter problem, erroneous - octet 42, length 80'],
];
/** Where pstack's line differs from tcpdump's on purpose: tcpdump runs "querymax" together,
 * decodes port 7000 as AFS rx, and spells out routing headers pstack names only when it refuses them. */
const OWN: [string, string][] = [
  ['mldv1-query', 'fe80::ff:fe00:2 > ff02::1: HBH ICMP6, multicast listener query max resp delay: 10000 addr: ::, length 24'],
  ['mldv1-report', 'fe80::ff:fe00:1 > ff02::fb: HBH ICMP6, multicast listener report addr: ff02::fb, length 24'],
  ['mldv1-done', 'fe80::ff:fe00:1 > ff02::2: HBH ICMP6, multicast listener done addr: ff02::fb, length 24'],
  ['udp', '2001:db8::1.4000 > 2001:db8::2.7000: UDP, length 5'],
  ['dstopt-routing', '2001:db8::1.1 > 2001:db8::2.2: UDP, length 0'],
  ['routing0-segleft', '2001:db8::1 > 2001:db8::2: [routing-type0]'],
];

test('summaries equal tcpdump -n for every frame', () => {
  assert.equal(TCPDUMP.length + OWN.length, ipv6FrameNames.length);
  for (const [name, line] of [...TCPDUMP, ...OWN]) {
    const f = ipv6Frame(name);
    assert.equal(summarizeFrame(f, 0, f.length), line, name);
  }
});

const blocksOf = (name: string) => { const f = ipv6Frame(name); return dissectFrame('incoming', f, 0, f.length, 'ethernet', { maxHexBytes: 8 }); };

test('an ICMPv6 echo: IPv6 header fields, then the echo with a verified checksum', () => {
  const [eth, ip, icmp] = blocksOf('echo-request');
  assert.equal(eth!.lines[0], 'type:    IPv6 (0x86dd)');
  assert.equal(ip!.title, 'incoming ipv6 packet');
  assert.deepEqual(ip!.lines.slice(0, 8), [
    'version:             6', 'traffic class:       0b10111000 (DSCP 46, ECN Not-ECT)', 'flow label:          0x12345',
    'payload length:      17 bytes', 'next header:         ICMPv6 (58)', 'hop limit:           64',
    'source address:      2001:db8::1', 'destination address: 2001:db8::2']);
  assert.equal(icmp!.title, 'incoming icmpv6 packet');
  assert.deepEqual(icmp!.lines.slice(0, 5), ['type:     Echo Request (128)', 'code:     0', 'checksum: 0x664d (ok)', 'id:       4660', 'seq:      7']);
});

test('an RA with every option, an NA with its flags', () => {
  const ra = blocksOf('ra')[2]!;
  assert.deepEqual(ra.lines, [
    'type:            Router Advertisement (134)', 'code:            0', 'checksum:        0x23e3 (ok)',
    'cur hop limit:   64', 'flags:           MO (preference high)', 'router lifetime: 1800s', 'reachable time:  30000ms',
    'retrans timer:   1000ms', 'option:          Source Link-Layer Address 02:00:00:00:00:02', 'option:          MTU 1500',
    'option:          Prefix Information 2001:db8:1::/64 flags LA valid 86400s preferred 14400s',
    'option:          Recursive DNS Server lifetime 600s [2001:db8::53, 2001:db8::54]',
    'option:          DNS Search List lifetime 600s [example.test, lab.example]']);
  const na = blocksOf('na')[2]!;
  assert.ok(na.lines.includes('flags:           RSO'));
  assert.ok(na.lines.includes('option:          Target Link-Layer Address 02:00:00:00:00:02'));
});

test('MLDv2 report behind its Hop-by-Hop Router Alert; IGMPv3 report behind the IPv4 one', () => {
  const b = blocksOf('mldv2-report');
  assert.deepEqual(b.map((x) => x.title), ['incoming ethernet frame (142 bytes)', 'incoming ipv6 packet', 'incoming ipv6 hop-by-hop options', 'incoming icmpv6 packet']);
  assert.deepEqual(b[2]!.lines, ['next header:    ICMPv6 (58)', 'length:         8 bytes', 'option:         Router Alert (0x05) MLD (0)', 'option:         PadN (0x01) 0 bytes']);
  assert.deepEqual(b[3]!.lines.slice(2), ['checksum:        0x020d (ok)', 'records:         2', 'record:          CHANGE_TO_EXCLUDE_MODE (4) ff02::fb',
    'record:          MODE_IS_INCLUDE (1) ff15::1234 from [2001:db8::7, 2001:db8::8]']);
  const g = blocksOf('igmpv3-report');
  assert.equal(g[2]!.title, 'incoming igmp packet');
  assert.deepEqual(g[2]!.lines, ['type:         Membership Report v3 (0x22)', 'checksum:     0x12ad (ok)', 'records:      2',
    'record:       CHANGE_TO_EXCLUDE_MODE (4) 239.1.2.3', 'record:       MODE_IS_INCLUDE (1) 232.1.1.1 from [192.0.2.9, 198.51.100.9]']);
});

test('fragments, refused routing headers and errors', () => {
  const first = blocksOf('fragment-first');
  assert.deepEqual(first[2]!.lines, ['next header:    UDP (17)', 'offset:         0', 'more fragments: yes', 'id:             0xabcdef01']);
  assert.equal(first[3]!.lines[2], 'length:   2056 bytes (payload: 2048 bytes, 1224 in this fragment)');
  const last = blocksOf('fragment-last');
  assert.equal(last.length, 3);
  assert.equal(last[2]!.lines[1], 'offset:         154 (1232 bytes)');
  assert.ok(blocksOf('atomic-fragment')[2]!.lines[3]!.endsWith('(atomic fragment)'));
  const rt = blocksOf('routing0-segleft');
  assert.equal(rt.at(-1)!.malformed, 'routing-type0; parameter problem code 0, pointer 42');
  assert.ok(rt.at(-1)!.lines.includes('address:        2001:db8::9'));
  const pp = blocksOf('param-problem').at(-1)!;
  assert.ok(pp.lines.includes('pointer:  42'));
  assert.ok(pp.lines.includes('original: 2001:db8::1 > 2001:db8::2, Routing (43)'));
  const tcp = blocksOf('tcp-syn')[2]!;
  assert.ok(tcp.lines.includes('checksum: 0x4e40 (ok)'), 'TCP checksum over the IPv6 pseudo-header');
  const corrupt = ipv6Frame('udp');
  corrupt[corrupt.length - 1] ^= 0xff;
  assert.match(dissectFrame('incoming', corrupt, 0, corrupt.length)[2]!.lines[3]!, /\(bad, expected 0x/);
});

test('a raw IP link (loopback) dispatches on the version nibble', () => {
  const f = ipv6Frame('echo-request').subarray(14);
  const blocks = dissectFrame('incoming', f, 0, f.length, 'ip');
  assert.deepEqual(blocks.map((b) => b.title), ['incoming ipv6 packet', 'incoming icmpv6 packet']);
  assert.equal(summarizeFrame(f, 0, f.length, 'ip'), TCPDUMP[0]![1]);
  const v4 = ipv6Frame('igmpv2-leave').subarray(14);
  assert.deepEqual(dissectFrame('incoming', v4, 0, v4.length, 'ip').map((b) => b.title), ['incoming ip packet', 'incoming igmp packet']);
  assert.equal(dissectFrame('incoming', f, 0, 30, 'ip')[0]!.malformed, 'too-short (30 bytes, header needs 40)');
});

test('dissection and summaries never throw on mutated or random IPv6 frames', () => {
  const all = ipv6FrameNames.map(ipv6Frame);
  fc.assert(fc.property(fc.nat(all.length - 1), fc.array(fc.tuple(fc.nat(2000), fc.nat(255)), { maxLength: 6 }), fc.nat(2000), (i, edits, cut) => {
    const f = all[i]!.slice();
    for (const [at, v] of edits) if (at >= 14 && at < f.length) f[at] = v;
    const n = Math.min(f.length, cut + 14);
    for (const b of dissectFrame('incoming', f, 0, n)) {
      assert.equal(typeof b.title, 'string');
      assert.ok(!b.lines.some((l) => l.includes('dissector error')), b.lines.join('\n'));
    }
    assert.ok(!summarizeFrame(f, 0, n).includes('dissector error'));
    const raw = f.subarray(14, n);
    dissectFrame('outgoing', raw, 0, raw.length, 'ip');
    summarizeFrame(raw, 0, raw.length, 'ip');
  }), runs(1500));
});
