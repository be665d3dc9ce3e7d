// IPv6 (ICMPv6, NDP, MLD, extension headers, fragments, TCP and UDP) and IGMP in pstack
// capture's tcpdump -n lines, and the filter's IPv6 primitives, against tcpdump 4.99 itself:
// test/unit/fixtures/tcpdump-lines.json holds scapy-built frames and a kernel capture
// (gen-tcpdump-lines.py, capture-kernel6.sh), each with tcpdump's line, and for a list of
// expressions the frames tcpdump's filter selected.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { TcpdumpFormatter } from '../../src/observe/tcpdump.js';
import { FilterSyntaxError, compileFilter } from '../../src/observe/filter.js';

interface Fixture { frames: Array<{ source: string; tcpdump: string; hex: string }>; filters: Record<string, number[]> }
const fixture = JSON.parse(readFileSync(new URL('../../../test/unit/fixtures/tcpdump-lines.json', import.meta.url), 'utf8')) as Fixture;
const frames = fixture.frames.map((f) => Uint8Array.from(Buffer.from(f.hex, 'hex')));
/** Where pstack's line differs from tcpdump's on purpose: tcpdump decodes UDP port 7000 as AFS rx. */
const DIFFERENT = new Map([['scapy udp', 'IP6 2001:db8::1.4000 > 2001:db8::2.7000: UDP, length 5']]);

test('every frame\'s line is tcpdump -n\'s: ICMP6 echo, NDP, MLDv1/v2, HBH/DSTOPT/RT6, fragments, TCP (relative seq) and UDP/DNS over IPv6, IGMP', () => {
  assert.ok(frames.length >= 60);
  const f = new TcpdumpFormatter();
  fixture.frames.forEach((fr, i) => {
    assert.equal(f.format(frames[i]!, 0, frames[i]!.length, 'ethernet'), DIFFERENT.get(fr.source) ?? fr.tcpdump, fr.source);
  });
  const kinds = ['ICMP6, echo request', 'neighbor solicitation, who has', 'neighbor advertisement, tgt is', 'router solicitation',
    'router advertisement', 'multicast listener report v2', 'frag (0|1448) ICMP6', 'Flags [P.], seq 1:17, ack 1', 'AAAA? example.test.', 'igmp v3 report'];
  for (const k of kinds) assert.ok(fixture.frames.some((fr) => fr.tcpdump.includes(k)), k);
});

test('the same packets as raw IP (loopback) give the same lines', () => {
  const f = new TcpdumpFormatter();
  fixture.frames.forEach((fr, i) => {
    const ip = frames[i]!.subarray(14);
    assert.equal(f.format(ip, 0, ip.length, 'ip'), DIFFERENT.get(fr.source) ?? fr.tcpdump, fr.source);
  });
});

test('the stored lines are still what this machine\'s tcpdump prints', { skip: !hasTool('tcpdump') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pstack-tcpdump6-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'frames.pcap');
  writeFileSync(file, pcapOf(frames));
  const out = execFileSync('tcpdump', ['-n', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.deepEqual(out.trimEnd().split('\n').map((l) => l.slice(l.indexOf(' ') + 1)), fixture.frames.map((fr) => fr.tcpdump));
});

test('filters: ip6, icmp6, igmp, tcp/udp/port over IPv6, host and net with IPv6 addresses select what tcpdump selects', () => {
  assert.ok(Object.keys(fixture.filters).length >= 20);
  for (const [expr, want] of Object.entries(fixture.filters)) {
    const p = compileFilter(expr);
    const got = frames.flatMap((b, i) => (p(b, 0, b.length, 'ethernet') ? [i] : []));
    assert.deepEqual(got, want, expr);
    const raw = frames.flatMap((b, i) => (b[12] !== 0x08 || b[13] !== 0x06) && p(b.subarray(14), 0, b.length - 14, 'ip') ? [i] : []);
    assert.deepEqual(raw, want.filter((i) => !/^ether/.test(expr) && (frames[i]![12] !== 0x08 || frames[i]![13] !== 0x06)), `${expr} on raw IP`);
  }
  assert.ok(fixture.filters['icmp6']!.length > 0 && fixture.filters['igmp']!.length > 0 && fixture.filters['net 2001:db8::/32']!.length > 0);
});

test('filters: a bad IPv6 address or prefix is one FilterSyntaxError line', () => {
  for (const bad of ['host 2001:db8::zz', 'host 2001:db8:::1', 'net 2001:db8::1/32', 'net 2001:db8::/129', 'net 2001:db8::/x', 'ip6 host', 'icmp6 host']) {
    assert.throws(() => compileFilter(bad), (e: unknown) => e instanceof FilterSyntaxError && !e.message.includes('\n'), bad);
  }
});

test('the formatter never throws on random bytes behind an IPv6 header', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 160 }), fc.constantFrom(0, 6, 17, 43, 44, 58, 59, 60, 2), (tail, next) => {
    const b = new Uint8Array(14 + 40 + tail.length);
    b[12] = 0x86; b[13] = 0xdd; b[14] = 0x60;
    b[18] = tail.length >> 8; b[19] = tail.length & 255; b[20] = next;
    b.set(tail, 54);
    const line = new TcpdumpFormatter().format(b, 0, b.length, 'ethernet');
    assert.match(line, /^IP6 /);
    for (const expr of ['ip6', 'icmp6', 'tcp port 80', 'net 2001:db8::/32', 'udp']) compileFilter(expr)(b, 0, b.length, 'ethernet');
  }), { numRuns: 3000 });
});

function hasTool(name: string): boolean {
  try { execFileSync('which', [name], { stdio: 'ignore' }); return true; } catch { return false; }
}

function pcapOf(list: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const g = new DataView(new ArrayBuffer(24));
  g.setUint32(0, 0xa1b2c3d4, true); g.setUint16(4, 2, true); g.setUint16(6, 4, true); g.setUint32(16, 262144, true); g.setUint32(20, 1, true);
  parts.push(new Uint8Array(g.buffer));
  list.forEach((f, i) => {
    const h = new DataView(new ArrayBuffer(16));
    h.setUint32(0, 1000 + i, true); h.setUint32(8, f.length, true); h.setUint32(12, f.length, true);
    parts.push(new Uint8Array(h.buffer), f);
  });
  return Buffer.concat(parts);
}
