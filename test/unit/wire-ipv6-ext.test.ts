// The IPv6 extension header walker (src/wire/ipv6-ext.ts) on real frames (scapy-built, tshark
// checked) and on crafted chains for each RFC 8200 / 5095 / 6946 / 7112 rule and each limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emitIpv6, NextHeader } from '../../src/wire/ipv6.js';
import {
  walkIpv6Headers, Ipv6HeaderChain, FragmentHeader, emitFragmentHeader, emitRouterAlertHopByHop, emitOptionsHeader,
  listIpv6Options, DEFAULT_IPV6_CHAIN_LIMITS, ipv6OptionName,
} from '../../src/wire/ipv6-ext.js';
import { UdpDatagram } from '../../src/wire/udp.js';
import { parseIpv6 } from '../../src/wire/addr6.js';
import { ipv6Frame } from '../helpers/ipv6-frames.js';
import { runs } from '../helpers/fuzz-runs.js';

const chain = new Ipv6HeaderChain();
const walkFrame = (name: string) => walkIpv6Headers(ipv6Frame(name), 14, chain);

/** An IPv6 packet with the given extension header bytes (first next header `nh`) and `upper` bytes of UDP-ish payload. */
function packet(nh: number, ext: number[], upper = 8): Uint8Array {
  const buf = new Uint8Array(40 + ext.length + upper);
  emitIpv6(buf, 0, { trafficClass: 0, flowLabel: 0, payloadLength: ext.length + upper, nextHeader: nh, hopLimit: 64,
    src: parseIpv6('2001:db8::1')!, dst: parseIpv6('2001:db8::2')! });
  buf.set(ext, 40);
  return buf;
}
const walk = (b: Uint8Array) => walkIpv6Headers(b, 0, chain);

test('no extension headers: the upper layer right after the fixed header', () => {
  const c = walkFrame('udp');
  assert.deepEqual([c.error, c.protocol, c.protocolOffset, c.headerCount, c.nextHeaderFieldOffset], [null, 17, 54, 0, 20]);
  assert.equal(c.protocolLength, 13);
});

test('MLDv2 report: Hop-by-Hop Router Alert 0 (MLD), then ICMPv6 (tshark: Router Alert, MLD)', () => {
  const c = walkFrame('mldv2-report');
  assert.deepEqual([c.error, c.routerAlert, c.protocol, c.protocolOffset, c.headerCount], [null, 0, 58, 14 + 48, 1]);
  const opts = listIpv6Options(ipv6Frame('mldv2-report'), 54, 8);
  assert.deepEqual(opts.map((o) => ipv6OptionName(o.type)), ['Router Alert', 'PadN']);
});

test('fragments: first (off 0, M, id 0xabcdef01) walks on to UDP; last stops at its data; atomic is whole', () => {
  const first = walkFrame('fragment-first');
  assert.deepEqual([first.error, first.isFragment, first.fragmentOffset, first.moreFragments, first.fragmentId, first.fragmentNextHeader],
    [null, true, 0, true, 0xabcdef01, 17]);
  assert.deepEqual([first.protocol, first.protocolOffset, first.fragmentHeaderOffset], [17, 14 + 48, 54]);
  const f = ipv6Frame('fragment-first');
  assert.equal(new UdpDatagram(f, first.protocolOffset, 8).dstPort, 5000);
  const last = walkFrame('fragment-last');
  assert.deepEqual([last.error, last.isFragment, last.moreFragments, last.fragmentNextHeader, last.protocol], [null, true, false, 17, 17]);
  assert.equal(last.fragmentOffset, 1232); // tshark: two fragments, 1232 + 824 bytes reassemble to UDP 4000 -> 5000 of 2056
  const fh = new FragmentHeader(ipv6Frame('fragment-last'), 54, 8);
  assert.deepEqual([fh.check(), fh.fragmentOffset, fh.moreFragments, fh.identification, fh.isAtomic], [null, last.fragmentOffset, false, 0xabcdef01, false]);
  const atomic = walkFrame('atomic-fragment');
  assert.deepEqual([atomic.error, atomic.isFragment, atomic.atomicFragment, atomic.fragmentId, atomic.protocol], [null, false, true, 77, 17]);
});

test('Destination Options (PadN, unknown type 0x1e with skip bits) and a type 0 Routing header with segments left 0 are passed', () => {
  const c = walkFrame('dstopt-routing');
  assert.deepEqual([c.error, c.headerCount, c.protocol], [null, 2, 17]);
});

test('Routing type 0 with segments left 1: Parameter Problem code 0 pointing at the routing type (RFC 5095)', () => {
  const c = walkFrame('routing0-segleft');
  assert.deepEqual([c.error, c.icmpCode, c.pointer], ['routing-type0', 0, 42]);
  assert.ok(c.shouldSendParameterProblem(false));
  // the real ICMPv6 error the param-problem frame carries quotes this very packet with pointer 42
  const unknown = walk(packet(43, [17, 0, 4, 1, 0, 0, 0, 0]));
  assert.deepEqual([unknown.error, unknown.icmpCode, unknown.pointer], ['unknown-routing', 0, 42]);
  assert.equal(walk(packet(43, [17, 0, 4, 0, 0, 0, 0, 0])).error, null);
});

test('Hop-by-Hop anywhere but first: code 1 pointing at the next-header field that names it', () => {
  const c = walk(packet(60, [0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0]));
  assert.deepEqual([c.error, c.icmpCode, c.pointer], ['hop-by-hop-not-first', 1, 40]);
  assert.equal(walk(packet(0, [60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0])).error, null);
});

test('unknown option actions 00 skip, 01 drop, 10 drop+ICMP, 11 drop+ICMP unless multicast; Jumbo refused', () => {
  const opt = (type: number) => walk(packet(60, [17, 0, 1, 0, type, 2, 0, 0]));
  assert.equal(opt(0x1e).error, null);
  let c = opt(0x5e);
  assert.deepEqual([c.error, c.optionAction, c.icmpCode, c.shouldSendParameterProblem(false)], ['unknown-option', 1, -1, false]);
  c = opt(0x9e);
  assert.deepEqual([c.error, c.optionAction, c.icmpCode, c.pointer, c.shouldSendParameterProblem(true)], ['unknown-option', 2, 2, 44, true]);
  c = opt(0xde);
  assert.deepEqual([c.optionAction, c.shouldSendParameterProblem(false), c.shouldSendParameterProblem(true)], [3, true, false]);
  c = walk(packet(0, [17, 0, 0xc2, 4, 0, 1, 0, 0]));
  assert.deepEqual([c.error, c.icmpCode, c.pointer], ['jumbo', 2, 42]);
  // Router Alert is a Hop-by-Hop option; in Destination Options its type (00 bits) is skipped.
  c = walk(packet(60, [17, 0, 5, 2, 0, 0, 1, 0]));
  assert.deepEqual([c.error, c.routerAlert], [null, -1]);
  c = walk(packet(0, [17, 0, 0, 0, 5, 2, 0, 1]));
  assert.deepEqual([c.error, c.routerAlert], [null, 1]);
});

test('malformed and over-limit chains are dropped', () => {
  assert.equal(walk(packet(60, [17, 0, 1, 5, 0, 0, 0, 0])).error, 'bad-option'); // PadN overruns the header
  assert.equal(walk(packet(60, [17, 1, 1, 4, 0, 0, 0, 0], 0)).error, 'truncated'); // claims 16 bytes, has 8
  assert.equal(walk(packet(60, [17, 0, 1, 4], 0)).error, 'truncated');
  const many: number[] = [];
  for (let i = 0; i < 9; i++) many.push(i === 8 ? 17 : 60, 0, 1, 4, 0, 0, 0, 0);
  assert.equal(walk(packet(60, many)).error, 'too-many-headers');
  assert.equal(walkIpv6Headers(packet(60, many), 0, chain, { ...DEFAULT_IPV6_CHAIN_LIMITS, maxHeaders: 9 }).error, null);
  const long = [17, 80, ...new Array(6 + 80 * 8).fill(0)]; // 648 bytes of Pad1
  assert.equal(walk(packet(60, long)).error, 'chain-too-long');
  // At most 8 options that are not padding (Linux's max_dst_opts_number), a limit of its own.
  /** A Destination Options header (next header UDP) of n unknown skip-type options, PadN to 8 bytes. */
  const skips = (n: number) => {
    const h = [17, 0, ...new Array(n).fill([0x1e, 0]).flat()];
    const need = (8 - (h.length % 8)) % 8;
    if (need === 1) h.push(0);
    else if (need > 0) h.push(1, need - 2, ...new Array(need - 2).fill(0));
    h[1] = h.length / 8 - 1;
    return h;
  };
  const nine = skips(9);
  assert.equal(walk(packet(60, nine)).error, 'too-many-options');
  assert.equal(walk(packet(60, skips(8))).error, null);
  assert.equal(walkIpv6Headers(packet(60, nine), 0, chain, { ...DEFAULT_IPV6_CHAIN_LIMITS, maxOptions: 9 }).error, null);
  // Padding only aligns (RFC 4942 2.1.9.5): 7 bytes in a row pass, 8 or a PadN with data do not.
  assert.equal(walk(packet(60, [17, 1, 1, 5, 0, 0, 0, 0, 0, 0x1e, 0, 1, 3, 0, 0, 0])).error, null);
  assert.equal(walk(packet(60, [17, 1, 1, 12, ...new Array(12).fill(0)])).error, 'bad-option');
  assert.equal(walk(packet(60, [17, 1, 1, 4, 0, 0, 0, 0, ...new Array(8).fill(0)])).error, 'bad-option'); // 6 + 8 Pad1
  assert.equal(walk(packet(60, [17, 0, 1, 4, 0, 0, 9, 0])).error, 'bad-option');
  // A first fragment whose chain ends before the upper layer (RFC 7112): code 3, pointer 0.
  const inc = walk(packet(44, [60, 0, 0, 1, 0, 0, 0, 9, 17, 1, 1, 4, 0, 0, 0, 0], 0));
  assert.deepEqual([inc.error, inc.icmpCode, inc.pointer], ['incomplete-chain', 3, 0]);
  // A fragment that is not last must carry a multiple of 8 bytes (pointer at Payload Length).
  const c = walk(packet(44, [17, 0, 0, 1, 0, 0, 0, 9], 7));
  assert.deepEqual([c.error, c.icmpCode, c.pointer], ['bad-fragment', 0, 4]);
});

test('No Next Header ends the chain with nothing after it', () => {
  const c = walk(packet(60, [59, 0, 1, 4, 0, 0, 0, 0], 0));
  assert.deepEqual([c.error, c.protocol, c.protocolLength], [null, NextHeader.NoNextHeader, 0]);
});

test('emitted Fragment, Router Alert and options headers walk back to what was written', () => {
  const buf = packet(44, new Array(8).fill(0), 16);
  emitFragmentHeader(buf, 40, 17, 1232, true, 0xdeadbeef);
  let c = walk(buf);
  assert.deepEqual([c.isFragment, c.fragmentOffset, c.moreFragments, c.fragmentId, c.protocol, c.protocolOffset], [true, 1232, true, 0xdeadbeef, 17, 48]);
  const b2 = packet(0, new Array(8).fill(0));
  emitRouterAlertHopByHop(b2, 40, 58);
  assert.deepEqual([...b2.subarray(40, 48)], [...ipv6Frame('mldv2-report').subarray(54, 62)].map((x, i) => (i === 0 ? 58 : x)));
  c = walk(b2);
  assert.deepEqual([c.routerAlert, c.protocol], [0, 58]);
  for (let n = 0; n < 12; n++) {
    const b3 = packet(60, new Array(24).fill(0), 0);
    const end = emitOptionsHeader(b3, 40, 59, [{ type: 0x1e, data: new Uint8Array(n) }]);
    assert.equal((end - 40) % 8, 0);
    c = walk(b3.subarray(0, end));
    assert.equal(c.headerCount, 1, `n=${n}`);
    assert.deepEqual(listIpv6Options(b3, 40, end - 40).filter((o) => o.type === 0x1e).map((o) => o.length), [n]);
  }
  fc.assert(fc.property(fc.integer({ min: 0, max: 8191 }).map((x) => x * 8), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }),
    (off, m, id, nh) => {
      const b = new Uint8Array(8);
      emitFragmentHeader(b, 0, nh, off, m, id);
      const h = new FragmentHeader(b);
      assert.deepEqual([h.nextHeader, h.fragmentOffset, h.moreFragments, h.identification], [nh, off, m, id]);
    }), runs(300));
});

test('the walker never throws and stays inside the packet on random chains', () => {
  fc.assert(fc.property(fc.constantFrom(0, 43, 44, 60, 51, 59, 17), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 300 }), (nh, ext, plen) => {
    const b = packet(nh, [...ext], 0);
    b[4] = plen >>> 8; b[5] = plen & 0xff; // possibly lying payload length
    const c = walkIpv6Headers(b, 0, chain);
    if (c.error === null) {
      assert.ok(c.protocolOffset <= b.length && c.protocolLength >= 0);
      assert.ok(c.nextHeaderFieldOffset < c.protocolOffset);
    } else if (c.icmpCode >= 0) assert.ok(c.pointer < b.length);
  }), runs(2000));
});
