import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CaptureReader, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL } from '../../src/observe/capture-reader.js';
import { PacketFacts, decodePacket } from '../../src/observe/capture-packet.js';
import { pcapFile, pcapngFile, tcpPacket, hexBytes } from '../helpers/capture-files.js';
import { runs } from '../helpers/fuzz-runs.js';

interface Got { linkType: number; time: number; bytes: number[]; orig: number }

/** Read `file` in chunks of `chunk` bytes; returns the packets and the reader. */
function read(file: Uint8Array, chunk = 7): { got: Got[]; reader: CaptureReader } {
  const got: Got[] = [];
  const reader = new CaptureReader((linkType, time, data, orig) => got.push({ linkType, time, bytes: [...data], orig }));
  for (let i = 0; i < file.length; i += chunk) reader.push(file.slice(i, i + chunk));
  reader.end();
  return { got, reader };
}

const A = Uint8Array.from([1, 2, 3, 4, 5]);
const B = Uint8Array.from([9, 8, 7]);

test('classic pcap, both byte orders and both resolutions, in any chunking', () => {
  for (const little of [true, false]) {
    for (const ns of [false, true]) {
      const file = pcapFile(LINKTYPE_ETHERNET, [{ time: 100.25, data: A }, { time: 101.5, data: B, orig: 1500 }], { little, ns });
      for (const chunk of [1, 3, 16, 1 << 20]) {
        const { got, reader } = read(file, chunk);
        assert.equal(got.length, 2, `little=${little} ns=${ns} chunk=${chunk}`);
        assert.deepEqual(got[0]!.bytes, [...A]);
        assert.equal(got[0]!.linkType, 1);
        assert.ok(Math.abs(got[0]!.time - 100.25) < 1e-9);
        assert.ok(Math.abs(got[1]!.time - 101.5) < 1e-9);
        assert.equal(got[1]!.orig, 1500);
        assert.deepEqual(reader.notes(), []);
        assert.equal(reader.format, 'stopped');
      }
    }
  }
});

test('nanosecond timestamps keep sub-microsecond digits', () => {
  const { got } = read(pcapFile(LINKTYPE_RAW, [{ time: 5.000000123, data: A }], { ns: true }));
  assert.ok(Math.abs(got[0]!.time - 5.000000123) < 1e-10);
});

test('a truncated last record is a note, the earlier records are read', () => {
  const file = pcapFile(LINKTYPE_ETHERNET, [{ time: 1, data: A }, { time: 2, data: B }]);
  const cut = file.subarray(0, file.length - 2);
  const { got, reader } = read(cut);
  assert.equal(got.length, 1);
  assert.deepEqual(reader.notes(), [`skipped 1 record: truncated at byte ${24 + 16 + 5}`]);
});

test('a corrupt record length stops reading with a note', () => {
  const file = pcapFile(LINKTYPE_ETHERNET, [{ time: 1, data: A }, { time: 2, data: B }, { time: 3, data: A }]);
  new DataView(file.buffer).setUint32(24 + 16 + 5 + 8, 0x7fffffff, true);
  const { got, reader } = read(file);
  assert.equal(got.length, 1);
  assert.match(reader.notes()[0]!, /corrupt record length 2147483647 at byte 45; stopped reading/);
});

test('not a capture at all, and an empty file, are notes', () => {
  assert.match(read(new TextEncoder().encode('hello, this is not a pcap file')).reader.notes()[0]!, /^not a pcap or pcapng file \(magic 0x68656c6c\)$/);
  assert.deepEqual(read(new Uint8Array(0)).reader.notes(), ['empty file']);
  assert.match(read(Uint8Array.from([0xd4, 0xc3, 0xb2])).reader.notes()[0]!, /^not a pcap or pcapng file \(too short\)$/);
});

test('pcapng: several interfaces with their link types and if_tsresol, EPB and SPB, unknown blocks skipped', () => {
  for (const little of [true, false]) {
    const file = pcapngFile([
      { kind: 'idb', linkType: LINKTYPE_ETHERNET },
      { kind: 'idb', linkType: LINKTYPE_RAW, tsresol: 9 },
      { kind: 'other', type: 0x80000001, body: Uint8Array.from([1, 2, 3, 4]) },
      { kind: 'epb', iface: 0, ticks: 1_500_000n, data: A },
      { kind: 'epb', iface: 1, ticks: 2_000_000_123n, data: B },
      { kind: 'spb', data: A },
      { kind: 'epb', iface: 7, ticks: 0n, data: A },
    ], little);
    for (const chunk of [1, 5, 64, 1 << 20]) {
      const { got, reader } = read(file, chunk);
      assert.equal(got.length, 3);
      assert.deepEqual(got.map((g) => g.linkType), [1, 101, 1]);
      assert.ok(Math.abs(got[0]!.time - 1.5) < 1e-9);
      assert.ok(Math.abs(got[1]!.time - 2.000000123) < 1e-10);
      assert.deepEqual(got[1]!.bytes, [...B]);
      assert.deepEqual(got[2]!.bytes, [...A]);
      assert.deepEqual(reader.notes(), ['skipped 1 record: packet on undescribed interface 7', 'ignored 1 pcapng blocks of other types']);
    }
  }
});

test('pcapng: a second section may change byte order and resets the interfaces', () => {
  const file = pcapngFile([
    { kind: 'idb', linkType: LINKTYPE_RAW },
    { kind: 'epb', iface: 0, ticks: 1n, data: A },
    { kind: 'shb', little: false },
    { kind: 'epb', iface: 0, ticks: 1n, data: A },
    { kind: 'idb', linkType: LINKTYPE_LINUX_SLL2 },
    { kind: 'epb', iface: 0, ticks: 1n, data: B },
  ]);
  const { got, reader } = read(file);
  assert.deepEqual(got.map((g) => g.linkType), [101, 276]);
  assert.equal(reader.notes().length, 1);
});

test('pcapng: a bad block length stops with a note', () => {
  const file = pcapngFile([{ kind: 'idb', linkType: LINKTYPE_RAW }, { kind: 'epb', iface: 0, ticks: 1n, data: A }, { kind: 'epb', iface: 0, ticks: 1n, data: A }]);
  const secondEpb = 28 + 20 + 40; // SHB, IDB, first EPB
  new DataView(file.buffer).setUint32(secondEpb + 4, 13, true);
  const { got, reader } = read(file);
  assert.equal(got.length, 1);
  assert.match(reader.notes()[0]!, /bad pcapng block length 13 at byte 88; stopped reading/);
});

test('the link types decode to the same TCP facts', () => {
  const ip = tcpPacket({ src: '192.0.2.1', sport: 40000, dst: '192.0.2.2', dport: 80, seq: 5, flags: 0x02 });
  const wrap = (head: number[]) => Uint8Array.from([...head, ...ip]);
  const cases: Array<[number, Uint8Array]> = [
    [LINKTYPE_RAW, ip],
    [228, ip],
    [LINKTYPE_ETHERNET, wrap([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00])],
    [LINKTYPE_ETHERNET, wrap([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0, 5, 0x08, 0x00])],
    [LINKTYPE_NULL, wrap([2, 0, 0, 0])],
    [LINKTYPE_LINUX_SLL, wrap([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00])],
    [LINKTYPE_LINUX_SLL2, wrap([0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0])],
  ];
  const f = new PacketFacts();
  for (const [lt, data] of cases) {
    assert.equal(decodePacket(lt, data, f), true, `link type ${lt}`);
    assert.equal(f.kind, 'tcp');
    assert.equal(f.src, '192.0.2.1');
    assert.equal(f.dstPort, 80);
    assert.equal(f.seq, 5);
  }
  assert.equal(decodePacket(147, ip, f), false);
  assert.equal(f.problem, 'unknown link type 147');
});

test('IPv6 with ICMPv6 echo decodes', () => {
  const pkt = hexBytes('6000000000083a40' + '20010db8000000000000000000000001' + '20010db8000000000000000000000002' + '80000000abcd0007');
  const f = new PacketFacts();
  assert.equal(decodePacket(229, pkt, f), true);
  assert.equal(f.kind, 'icmp6');
  assert.equal(f.src, '2001:db8::1');
  assert.equal(f.icmpType, 128);
  assert.equal(f.echoSeq, 7);
});

test('random and mutated bytes never throw, in any chunking', () => {
  const good = [
    pcapFile(LINKTYPE_ETHERNET, [{ time: 1, data: A }, { time: 2, data: tcpPacket({ src: '192.0.2.1', sport: 1, dst: '192.0.2.2', dport: 2, seq: 0, flags: 2 }) }]),
    pcapngFile([{ kind: 'idb', linkType: LINKTYPE_RAW, tsresol: 6 }, { kind: 'epb', iface: 0, ticks: 5n, data: B }, { kind: 'spb', data: A }]),
  ];
  const f = new PacketFacts();
  const check = (bytes: Uint8Array, chunk: number) => {
    const reader = new CaptureReader((lt, _t, data) => { decodePacket(lt, data, f); });
    for (let i = 0; i < bytes.length; i += chunk) reader.push(bytes.subarray(i, i + chunk));
    reader.end();
    reader.notes();
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (bytes, chunk) => check(bytes, chunk)), runs(300));
  fc.assert(fc.property(
    fc.constantFrom(...good), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.integer({ min: 1, max: 64 }), fc.nat(),
    (file, edits, chunk, cut) => {
      const bytes = file.slice(0, file.length - (cut % 8));
      for (const [at, v] of edits) bytes[at % bytes.length] = v;
      check(bytes, chunk);
    }), runs(500));
});
