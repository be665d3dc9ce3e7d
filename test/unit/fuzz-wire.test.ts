// Property/fuzz tests for every wire parser: arbitrary bytes at arbitrary windows never make a
// view throw, a view that passes check() reads only inside its window (bytes around it do not
// change what it says), and emitted headers parse back to what was emitted.
// Runs are bounded; FUZZ_RUNS (see scripts/fuzz.sh) raises them for a longer session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EthernetFrame } from '../../src/wire/ethernet.js';
import { ArpPacket } from '../../src/wire/arp.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import {
  walkIpv4Options, checkIpv4Options, readRecordRoute, recordRouteAppend, timestampAppend, Ipv4OptionType,
} from '../../src/wire/ipv4-options.js';
import { IcmpPacket } from '../../src/wire/icmp.js';
import { UdpDatagram } from '../../src/wire/udp.js';
import { TcpSegment } from '../../src/wire/tcp.js';
import { parseTcpOptions, listTcpOptions, emitTcpOptionList, tcpOptionLength, TcpOptions } from '../../src/wire/tcp-options.js';
import type { WireView } from '../../src/wire/view.js';
import { runs } from '../helpers/fuzz-runs.js';

// Lengths up to each arbitrary's maximum, not fast-check's small default (about 10).
fc.configureGlobal({ ...fc.readConfigureGlobal(), baseSize: 'medium' });


/** A buffer with a window [offset, offset+length) and the bytes around it. */
const windowed = fc.record({
  before: fc.uint8Array({ maxLength: 8 }),
  body: fc.uint8Array({ maxLength: 120 }),
  after: fc.uint8Array({ maxLength: 8 }),
});

/** Everything a view exposes, read through its accessors; throws if any accessor throws. */
function snapshot(view: WireView & Record<string, unknown>, names: string[]): unknown[] {
  return names.map((n) => {
    const v = (view as Record<string, unknown>)[n];
    if (typeof v === 'function') return null;
    if (v instanceof Uint8Array) return [...v];
    return v;
  });
}

interface ViewCase {
  name: string;
  make: () => WireView;
  fields: string[];
  /** Extra reads after check() passed, returning comparable values. */
  read: (v: WireView) => unknown;
  /** Make random bytes look like this header often enough that check() passes (in place). */
  shape: (b: Uint8Array, r: number) => void;
}

const put16 = (b: Uint8Array, at: number, v: number) => { if (b.length > at + 1) { b[at] = v >>> 8; b[at + 1] = v & 0xff; } };

const VIEWS: ViewCase[] = [
  {
    name: 'ethernet', make: () => new EthernetFrame(), fields: ['etherType', 'payloadLength'],
    read: (v) => { const e = v as EthernetFrame; return [e.dstString(), e.srcString(), [...e.payload()], e.parse()]; },
    shape: () => {},
  },
  {
    name: 'arp', make: () => new ArpPacket(), fields: ['hardwareType', 'protocolType', 'hardwareLength', 'protocolLength', 'op', 'senderIp', 'targetIp'],
    read: (v) => { const a = v as ArpPacket; return [a.senderMacString(), a.targetMacString(), a.parse()]; },
    shape: (b) => { put16(b, 0, 1); put16(b, 2, 0x0800); if (b.length > 5) { b[4] = 6; b[5] = 4; } },
  },
  {
    name: 'ipv4', make: () => new Ipv4Packet(),
    fields: ['version', 'headerLength', 'tos', 'totalLength', 'id', 'flags', 'fragmentOffset', 'ttl', 'protocol', 'checksum', 'src', 'dst', 'optionsLength', 'payloadLength'],
    read: (v) => {
      const p = v as Ipv4Packet;
      const walk = walkIpv4Options(p.buf, p.optionsOffset, p.optionsLength);
      const check = checkIpv4Options(p.buf, p.optionsOffset, p.optionsLength);
      for (const o of walk.options) {
        assert.ok(o.offset >= p.optionsOffset && o.offset + o.length <= p.optionsOffset + p.optionsLength, 'option inside the header');
      }
      if (check.error !== null) assert.ok(check.errorOffset >= p.optionsOffset && check.errorOffset < p.optionsOffset + p.optionsLength);
      const rr = walk.options.filter((o) => o.type === Ipv4OptionType.RR).map((o) => readRecordRoute(p.buf, o));
      return [[...p.payload()], p.verifyChecksum(), p.parse(), walk, check, rr];
    },
    shape: (b, r) => {
      if (b.length < 20) return;
      const ihl = 5 + (r % Math.min(11, Math.floor(b.length / 4) - 4));
      b[0] = 0x40 | ihl;
      put16(b, 2, ihl * 4 + (r % (b.length - ihl * 4 + 1)));
      // Options that look like options: an RR, a TS or NOPs at the start of the option area.
      if (ihl > 5) b[20] = [7, 68, 1, 131, 148, 0][r % 6]!;
    },
  },
  {
    name: 'icmp', make: () => new IcmpPacket(), fields: ['type', 'code', 'checksum', 'rest', 'echoId', 'echoSeq', 'nextHopMtu', 'pointer', 'dataLength'],
    read: (v) => { const i = v as IcmpPacket; return [[...i.data()], i.verifyChecksum(), i.parse()]; },
    shape: () => {},
  },
  {
    name: 'udp', make: () => new UdpDatagram(), fields: ['srcPort', 'dstPort', 'udpLength', 'checksum', 'payloadLength'],
    read: (v) => { const u = v as UdpDatagram; return [[...u.payload()], u.verifyChecksum(0xc0000201, 0xc0000202), u.parse()]; },
    shape: (b, r) => put16(b, 4, 8 + (r % Math.max(1, b.length - 7))),
  },
  {
    name: 'tcp', make: () => new TcpSegment(), fields: ['srcPort', 'dstPort', 'seq', 'ack', 'headerLength', 'flags', 'window', 'checksum', 'urgentPointer', 'optionsLength', 'payloadLength'],
    read: (v) => {
      const t = v as TcpSegment;
      const opts = new TcpOptions();
      const err = parseTcpOptions(t.buf, t.optionsOffset, t.optionsLength, opts);
      const list = listTcpOptions(t.buf, t.optionsOffset, t.optionsLength);
      assert.equal(err === null, list !== null, 'struct and list parsers agree on well-formedness');
      return [[...t.payload()], t.verifyChecksum(0xc0000201, 0xc0000202), t.parse(), err, { ...opts, sackBlocks: [...opts.sackBlocks] }, list];
    },
    shape: (b, r) => {
      if (b.length < 20) return;
      const words = 5 + (r % Math.min(11, Math.floor(b.length / 4) - 4));
      b[12] = (words << 4) | (b[12]! & 0x0f);
      if (words > 5) b[20] = [2, 3, 4, 5, 8, 1, 0, 30][r % 8]!;
    },
  },
];

for (const vc of VIEWS) {
  test(`fuzz ${vc.name}: any bytes in any window: no throw, and a checked view reads only its window`, () => {
    let passed = 0;
    let total = 0;
    fc.assert(fc.property(windowed, fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), fc.nat(), ({ before, body, after }, noise, shaped, r) => {
      if (shaped) vc.shape(body, r);
      total++;
      const buf = new Uint8Array(before.length + body.length + after.length);
      buf.set(before);
      buf.set(body, before.length);
      buf.set(after, before.length + body.length);
      const view = vc.make().reset(buf, before.length, body.length);
      const verdict = view.check();
      snapshot(view as WireView & Record<string, unknown>, vc.fields); // accessors never throw
      if (verdict !== null) return;
      passed++;
      const seen = JSON.stringify([snapshot(view as WireView & Record<string, unknown>, vc.fields), vc.read(view)]);
      // The same window inside different surroundings must read the same.
      const other = new Uint8Array(buf.length);
      for (let i = 0; i < other.length; i++) other[i] = noise[i % 16]! ^ 0x5a;
      other.set(body, before.length);
      const view2 = vc.make().reset(other, before.length, body.length);
      assert.equal(view2.check(), null);
      assert.equal(JSON.stringify([snapshot(view2 as WireView & Record<string, unknown>, vc.fields), vc.read(view2)]), seen);
    }), runs(2000));
    assert.ok(passed * 5 >= total, `only ${passed} of ${total} inputs passed check(): the property says little`);
  });
}

test('fuzz IPv4 options: walker, checker and the RR/TS writers never throw or write outside the option', () => {
  const optionBytes = fc.array(fc.oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc.tuple(fc.constantFrom(7, 68, 131, 137, 148, 130, 0, 1, 30), fc.nat(44), fc.nat(60), fc.nat(255), fc.uint8Array({ maxLength: 40 }))
      .map(([t, l, p, f, rest]) => Uint8Array.from([t, l, p, f, ...rest])),
  ), { maxLength: 6 }).map((parts) => {
    const all = parts.flatMap((p) => [...p]).slice(0, 40);
    return Uint8Array.from(all);
  });
  fc.assert(fc.property(optionBytes, fc.nat(0xffffffff), fc.nat(86_400_000), fc.boolean(), (opts, addr, time, overflow) => {
    const buf = new Uint8Array(opts.length + 8).fill(0xee);
    buf.set(opts, 4);
    const walk = walkIpv4Options(buf, 4, opts.length);
    const check = checkIpv4Options(buf, 4, opts.length);
    if (walk.error !== null) assert.equal(check.error, walk.error);
    if (check.error !== null) return;
    for (const o of walk.options) {
      const copy = buf.slice();
      if (o.type === Ipv4OptionType.RR) recordRouteAppend(copy, o, addr);
      if (o.type === Ipv4OptionType.TS) timestampAppend(copy, o, addr, time, overflow);
      for (let i = 0; i < copy.length; i++) {
        if (i < o.offset || i >= o.offset + o.length) assert.equal(copy[i], buf[i], `byte ${i} outside the option changed`);
      }
    }
  }), runs(3000));
});

test('fuzz TCP options: a parsed list re-emits to the same bytes (up to padding)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
    const list = listTcpOptions(bytes, 0, bytes.length);
    if (list === null) return;
    const out = new Uint8Array(48);
    const n = emitTcpOptionList(out, 0, list);
    assert.equal(n % 4, 0);
    let len = 0;
    for (const o of list) len += tcpOptionLength(o);
    assert.deepEqual([...out.subarray(0, len)], [...bytes.subarray(0, len)]);
  }), runs(3000));
});
