import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { TcpdumpFormatter, tcpdumpTime } from '../../src/observe/tcpdump.js';
import { FilterSyntaxError, compileFilter } from '../../src/observe/filter.js';

const dir = mkdtempSync(join(tmpdir(), 'pstack-tcpdump-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const load = <T>(name: string) => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), 'utf8')) as { vectors: T[] };
const crafted = load<{ hex: string; tcpdump: string }>('capture-frames.json').vectors;
const seeds = load<{ name: string; layer: string; hex: string }>('seed-frames.json').vectors;

function hasTool(name: string): boolean {
  try { execFileSync('which', [name], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** A classic pcap of the frames (one link type), for tcpdump -r. */
function pcapOf(frames: Uint8Array[], linkType: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const g = new DataView(new ArrayBuffer(24));
  g.setUint32(0, 0xa1b2c3d4, true); g.setUint16(4, 2, true); g.setUint16(6, 4, true); g.setUint32(16, 262144, true); g.setUint32(20, linkType, true);
  parts.push(new Uint8Array(g.buffer));
  for (const f of frames) {
    const h = new DataView(new ArrayBuffer(16));
    h.setUint32(8, f.length, true); h.setUint32(12, f.length, true);
    parts.push(new Uint8Array(h.buffer), f);
  }
  return Buffer.concat(parts);
}

test('crafted frames: every line is what tcpdump -n prints (ARP, ICMP, TCP relative seq, SACK, UDP, DNS, fragments, ICMP errors)', () => {
  const f = new TcpdumpFormatter();
  for (const v of crafted) {
    const b = hex(v.hex);
    assert.equal(f.format(b, 0, b.length, 'ethernet'), v.tcpdump);
  }
});

test('seed frames: same lines as tcpdump -n -r on the same bytes', { skip: !hasTool('tcpdump') }, () => {
  for (const layer of ['ethernet', 'ip'] as const) {
    const frames = seeds.filter((s) => s.layer === layer).map((s) => hex(s.hex));
    if (frames.length === 0) continue;
    const path = join(dir, `seeds-${layer}.pcap`);
    writeFileSync(path, pcapOf(frames, layer === 'ethernet' ? 1 : 101));
    const expected = execFileSync('tcpdump', ['-n', '-t', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd().split('\n');
    const f = new TcpdumpFormatter();
    assert.deepEqual(frames.map((b) => f.format(b, 0, b.length, layer)), expected);
  }
});

test('crafted frames: the pinned lines are still what this machine\'s tcpdump prints, -X dump included', { skip: !hasTool('tcpdump') }, () => {
  const frames = crafted.map((v) => hex(v.hex));
  const path = join(dir, 'crafted.pcap');
  writeFileSync(path, pcapOf(frames, 1));
  const out = execFileSync('tcpdump', ['-n', '-t', '-X', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const f = new TcpdumpFormatter();
  const ours = frames.map((b) => f.line(0, b, 0, b.length, 'ethernet', true).replace(/^\S+ /, '')).join('');
  assert.equal(ours, out);
});

test('timestamps are HH:MM:SS.uuuuuu', () => {
  assert.match(tcpdumpTime(1_700_000_000_123_456), /^\d\d:\d\d:\d\d\.123456$/);
  assert.match(tcpdumpTime(1_700_000_000_000_007), /^\d\d:\d\d:\d\d\.000007$/);
});

test('the formatter never throws on random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (b, eth) => {
    const f = new TcpdumpFormatter();
    assert.equal(typeof f.format(b, 0, b.length, eth ? 'ethernet' : 'ip'), 'string');
  }), { numRuns: 2000 });
});

// ------------------------------------------------------------------------------ filters

const frameOf = (i: number) => hex(crafted[i]!.hex);
const ARP_REQ = 0, ECHO_REQ = 2, ECHO_REPLY = 3, TCP_SYN = 4, TCP_SYNACK = 5, UDP_ECHO = 13, DNS_Q = 14, FRAG2 = 20, UNREACH = 22;
function matches(expr: string): number[] {
  const p = compileFilter(expr);
  return crafted.map((_, i) => i).filter((i) => { const b = frameOf(i); return p(b, 0, b.length, 'ethernet'); });
}

test('filters: primitives and qualifiers select the frames tcpdump would', () => {
  assert.equal(matches('').length, crafted.length);
  assert.deepEqual(matches('arp'), [0, 1]);
  assert.ok(matches('icmp').includes(ECHO_REQ) && !matches('icmp').includes(TCP_SYN));
  assert.deepEqual(matches('tcp').length, 9);
  assert.ok(matches('udp').includes(UDP_ECHO) && matches('udp').includes(DNS_Q));
  assert.ok(matches('ip').includes(ECHO_REQ) && !matches('ip').includes(ARP_REQ));
  assert.ok(matches('host 192.0.2.1').includes(ARP_REQ), 'host matches ARP addresses as tcpdump does');
  assert.deepEqual(matches('src host 192.0.2.2 and icmp'), matches('icmp and src 192.0.2.2'));
  assert.ok(matches('src host 192.0.2.2 and icmp').includes(ECHO_REPLY));
  assert.ok(!matches('src host 192.0.2.2 and icmp').includes(ECHO_REQ));
  assert.deepEqual(matches('port 7'), matches('tcp port 7 or udp port 7'));
  assert.ok(matches('tcp dst port 7').includes(TCP_SYN) && !matches('tcp dst port 7').includes(TCP_SYNACK));
  assert.ok(matches('udp port domain').includes(DNS_Q));
  assert.ok(matches('portrange 40000-40001').includes(TCP_SYN));
  assert.ok(!matches('port 9999').includes(UNREACH), 'ports are not read from an ICMP quote');
  assert.ok(!matches('icmp and port 7').includes(FRAG2));
  assert.deepEqual(matches('net 192.0.2.0/24').length, crafted.length, 'net matches ARP too, as in tcpdump');
  assert.deepEqual(matches('net 198.51.100.0/24'), []);
  assert.deepEqual(matches('net 192.0.2.0 mask 255.255.255.0'), matches('net 192.0.2.0/24'));
  assert.deepEqual(matches('net 192.0.2'), matches('net 192.0.2.0/24'));
  assert.deepEqual(matches('not arp'), crafted.map((_, i) => i).filter((i) => i > 1));
  assert.deepEqual(matches('!(arp || icmp)'), matches('not arp and not icmp'));
  assert.deepEqual(matches('ether host 00:00:5e:00:53:01').length, crafted.length - 1, 'all but the broadcast ARP request');
  assert.ok(matches('ether src 00:00:5e:00:53:01').includes(ECHO_REPLY) && !matches('ether src 00:00:5e:00:53:01').includes(ECHO_REQ));
  assert.deepEqual(matches('src or dst host 192.0.2.1'), matches('host 192.0.2.1'));
});

test('filters: loopback frames are raw IP', () => {
  const ip = frameOf(ECHO_REQ).subarray(14);
  assert.ok(compileFilter('icmp and host 192.0.2.2')(ip, 0, ip.length, 'ip'));
  assert.ok(!compileFilter('arp')(ip, 0, ip.length, 'ip'));
  assert.ok(!compileFilter('ether host 00:00:5e:00:53:01')(ip, 0, ip.length, 'ip'));
});

test('filters: a bad expression is one FilterSyntaxError line', () => {
  for (const bad of ['host', 'host 300.1.1.1', 'port x', 'portrange 5', 'net 192.0.2.1/24', 'tcp and', '(icmp', 'icmp)', 'frob', 'ether host 1:2:3', 'net 1.2.3.0/40', 'and tcp']) {
    assert.throws(() => compileFilter(bad), (e: unknown) => e instanceof FilterSyntaxError && !e.message.includes('\n'), bad);
  }
});

test('filters: random input either compiles to a predicate that never throws, or is a FilterSyntaxError', () => {
  const words = ['host', 'net', 'port', 'portrange', 'src', 'dst', 'and', 'or', 'not', '&&', '||', '!', '(', ')', 'tcp', 'udp', 'icmp', 'arp', 'ip', 'ether', 'mask',
    '192.0.2.1', '192.0.2.0/24', '255.255.255.0', '80', '1-100', '00:00:5e:00:53:01', 'x'];
  const frames = crafted.map((v) => hex(v.hex));
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.constantFrom(...words), { maxLength: 8 }).map((w) => w.join(' '))), fc.uint8Array({ maxLength: 80 }), (expr, junk) => {
    let p;
    try {
      p = compileFilter(expr);
    } catch (e) {
      assert.ok(e instanceof FilterSyntaxError, `${JSON.stringify(expr)} threw ${String(e)}`);
      return;
    }
    for (const b of [...frames, junk]) {
      assert.equal(typeof p(b, 0, b.length, 'ethernet'), 'boolean');
      assert.equal(typeof p(b, 0, b.length, 'ip'), 'boolean');
    }
  }), { numRuns: 1000 });
});
