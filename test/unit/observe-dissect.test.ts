// Dissection of the seed frames, checked against the old pstack's own log lines where those
// were right (and against the corrected IP payload where they were not), tcpdump's -X and
// summary wording, hand-built error cases, and a property: no input makes it throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  dissectArp, dissectEthernet, dissectFrame, dissectIcmp, dissectIpv4, dissectTcp, dissectUdp,
  type DissectionBlock,
} from '../../src/observe/dissect.js';
import { summarizeFrame } from '../../src/observe/summary.js';
import { hexByteLines, hexBytes, hexdumpX } from '../../src/observe/hexdump.js';
import { parseIpv4, type Ipv4Address } from '../../src/wire/addr.js';
import { emitIpv4, type Ipv4Repr } from '../../src/wire/ipv4.js';
import { buildRecordRouteOption, recordRouteAppend, walkIpv4Options } from '../../src/wire/ipv4-options.js';
import { emitIcmp } from '../../src/wire/icmp.js';
import { emitUdp } from '../../src/wire/udp.js';
import { emitDnsQuery } from '../../src/wire/dns.js';
import { createDhcpMessage, encodeDhcp } from '../../src/wire/dhcp.js';
import { emitEthernet } from '../../src/wire/ethernet.js';

interface Vector { name: string; layer: 'ethernet' | 'ipv4'; hex: string; expect: any }
const file = new URL('../../../test/vectors/seed-frames.json', import.meta.url);
const vectors: Vector[] = JSON.parse(readFileSync(file, 'utf8')).vectors;

function seed(name: string): Uint8Array {
  const v = vectors.find((x) => x.name === name);
  assert.ok(v, `vector ${name}`);
  return Uint8Array.from(Buffer.from(v.hex, 'hex'));
}

function frameBlocks(name: string, direction: 'incoming' | 'outgoing' = 'incoming'): DissectionBlock[] {
  const bytes = seed(name);
  const v = vectors.find((x) => x.name === name)!;
  // The text only: where each field's bytes are is observe-fields.test.ts's subject.
  return dissectFrame(direction, bytes, 0, bytes.length, v.layer === 'ipv4' ? 'ip' : 'ethernet')
    .map(({ title, lines, malformed }) => (malformed === undefined ? { title, lines } : { title, lines, malformed }));
}

const ip = (text: string): Ipv4Address => parseIpv4(text)!;

// ---------------------------------------------------------------------------------------
// Seed 000: ARP and ping, against the old log's lines

test('seed000-incoming-2: the ethernet block is the old log\'s, payload lines included', () => {
  const [eth] = frameBlocks('seed000-incoming-2');
  assert.deepEqual(eth, {
    title: 'incoming ethernet frame (98 bytes)',
    lines: [
      'type:    IPv4 (0x0800)',
      'dst:     00:00:5e:00:53:01',
      'src:     e2:20:76:2d:5d:2d',
      'payload: 45 00 00 54 db 37 40 00 40 01 db 6d c0 00 02 01 c0 00 02 02',
      '         08 00 81 99 00 11 00 01 fb f2 d1 60 00 00 00 00 e0 2d 0a 00',
      '         00 00 00 00 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f',
      '         20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33',
      '         34 35 36 37',
    ],
  });
});

test('seed000-incoming-2: the ip block has the seed\'s fields and the real payload (the old log started at the wrong offset)', () => {
  const ipBlock = frameBlocks('seed000-incoming-2')[1]!;
  assert.equal(ipBlock.title, 'incoming ip packet');
  assert.deepEqual(ipBlock.lines, [
    'version:             4',
    'ihl:                 5',
    'type of service:     0b00000000',
    'total length:        84 bytes (payload: 64 bytes)',
    'id:                  56119',
    'flags:               0b010 (DF)',
    'fragment offset:     0',
    'ttl:                 64',
    'protocol:            ICMP (1)',
    'checksum:            0xdb6d (ok)',
    'source address:      192.0.2.1',
    'destination address: 192.0.2.2',
    'payload:             08 00 81 99 00 11 00 01 fb f2 d1 60 00 00 00 00 e0 2d 0a 00',
    '                     00 00 00 00 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f',
    '                     20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33',
    '                     34 35 36 37',
  ]);
  const payload = ipBlock.lines.find((l) => l.startsWith('payload:'))!;
  assert.ok(!payload.includes('37 40 00 40'), 'not the old, shifted bytes');
});

test('seed000-incoming-2: the icmp block shows Echo (8), its checksum verdict, id 17 and seq 1', () => {
  const icmp = frameBlocks('seed000-incoming-2')[2]!;
  assert.equal(icmp.title, 'incoming icmp packet');
  assert.deepEqual(icmp.lines, [
    'type:     Echo (8)',
    'code:     0',
    'checksum: 0x8199 (ok)',
    'id:       17',
    'seq:      1',
    'payload:  fb f2 d1 60 00 00 00 00 e0 2d 0a 00 00 00 00 00 10 11 12 13',
    '          14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27',
    '          28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37',
  ]);
});

test('seed000-outgoing-3: the echo reply blocks match the old outgoing log, with verdicts', () => {
  const [eth, ipBlock, icmp] = frameBlocks('seed000-outgoing-3', 'outgoing');
  assert.equal(eth!.title, 'outgoing ethernet frame (98 bytes)');
  assert.deepEqual(icmp, {
    title: 'outgoing icmp packet',
    lines: [
      'type:     Echo Reply (0)',
      'code:     0',
      'checksum: 0x8999 (ok)',
      'id:       17',
      'seq:      1',
      'payload:  fb f2 d1 60 00 00 00 00 e0 2d 0a 00 00 00 00 00 10 11 12 13',
      '          14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27',
      '          28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37',
    ],
  });
  assert.ok(ipBlock!.lines.includes('flags:               0b000 (none)'));
  assert.ok(ipBlock!.lines.includes('ttl:                 255'));
  assert.ok(ipBlock!.lines.includes('checksum:            0x37a5 (ok)'));
  assert.ok(ipBlock!.lines.includes('payload:             00 00 89 99 00 11 00 01 fb f2 d1 60 00 00 00 00 e0 2d 0a 00'));
});

test('seed000-incoming-0: the arp block has the old log\'s nine lines ("protocol type" now lower case, with its number)', () => {
  const blocks = frameBlocks('seed000-incoming-0');
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks[0]!.lines.slice(3), [
    'payload: 00 01 08 00 06 04 00 01 e2 20 76 2d 5d 2d c0 00 02 01 00 00',
    '         00 00 00 00 c0 00 02 02',
  ]);
  assert.deepEqual(blocks[1], {
    title: 'incoming arp packet',
    lines: [
      'hardware type:           Ethernet (10Mb)',
      'protocol type:           IPv4 (0x0800)',
      'hardware address length: 6',
      'protocol address length: 4',
      'opcode:                  REQUEST (1)',
      'sender hardware address: e2:20:76:2d:5d:2d',
      'sender protocol address: 192.0.2.1',
      'target hardware address: 00:00:00:00:00:00',
      'target protocol address: 192.0.2.2',
    ],
  });
});

test('seed001-outgoing-11: a padded 60-byte ARP reply shows its padding in the frame payload only', () => {
  const [eth, arp] = frameBlocks('seed001-outgoing-11', 'outgoing');
  assert.deepEqual(eth!.lines.slice(3), [
    'payload: 00 01 08 00 06 04 00 02 00 00 5e 00 53 01 c0 00 02 02 e2 20',
    '         76 2d 5d 2d c0 00 02 01 00 00 00 00 00 00 00 00 00 00 00 00',
    '         00 00 00 00 00 00',
  ]);
  assert.equal(arp!.lines.length, 9);
  assert.equal(arp!.lines[4], 'opcode:                  REPLY (2)');
});

// ---------------------------------------------------------------------------------------
// Seed 001: the TCP handshake

test('seed001-incoming-12: the SYN\'s tcp block matches the old log, with options decoded', () => {
  const tcp = frameBlocks('seed001-incoming-12')[2]!;
  assert.deepEqual(tcp, {
    title: 'incoming tcp segment',
    lines: [
      'src port: 56988',
      'dst port: 12345',
      'Seq:      1082739820',
      'ack:      0',
      'offset:   10',
      'flag:     -------S- (0x002)',
      'window:   64240',
      'checksum: 0x13bf (ok)',
      'urg:      0',
      'options:  MSS 1460, SACK_PERM, TS val 1409860984 ecr 0, NOP, WS 7',
      'data:     -',
    ],
  });
});

test('seed001-outgoing-13 and incoming-14: SYN-ACK and ACK match the old log', () => {
  const synAck = frameBlocks('seed001-outgoing-13', 'outgoing')[2]!;
  assert.deepEqual(synAck.lines, [
    'src port: 12345',
    'dst port: 56988',
    'Seq:      787382753',
    'ack:      1082739821',
    'offset:   5',
    'flag:     ----A--S- (0x012)',
    'window:   65535',
    'checksum: 0xdf32 (ok)',
    'urg:      0',
    'data:     -',
  ]);
  const ack = frameBlocks('seed001-incoming-14')[2]!;
  assert.equal(ack.lines[5], 'flag:     ----A---- (0x010)');
  assert.equal(ack.lines[7], 'checksum: 0xe442 (ok)');
});

test('the SYN-ACK frame\'s ip payload is exactly the tcp header, not the padding after it', () => {
  const ipBlock = frameBlocks('seed001-outgoing-13', 'outgoing')[1]!;
  assert.equal(ipBlock.lines.at(-1), 'payload:             30 39 de 9c 2e ee 81 e1 40 89 4c 6d 50 12 ff ff df 32 00 00');
});

// ---------------------------------------------------------------------------------------
// Seed 002: ping -R

test('seed002-3: the record route option lists the nine recorded addresses, and the payload starts after the options', () => {
  const blocks = frameBlocks('seed002-3');
  const ipBlock = blocks[1]!;
  const recorded = vectors.find((v) => v.name === 'seed002-3')!.expect.ipv4.record_route.recorded as string[];
  assert.equal(recorded.length, 9);
  const options = ipBlock.lines.indexOf(`options:             RR ptr=40 [${recorded.join(', ')}]`);
  assert.ok(options > 0, ipBlock.lines.join('\n'));
  assert.equal(ipBlock.lines[options + 1], '                     EOL');
  assert.ok(ipBlock.lines.includes('ihl:                 15'));
  assert.ok(ipBlock.lines.includes('total length:        124 bytes (payload: 64 bytes)'));
  assert.ok(ipBlock.lines[options + 2]!.startsWith('payload:             00 00 2f 24 2d 0e 00 00'));
  assert.equal(blocks[2]!.lines[0], 'type:     Echo Reply (0)');
  assert.equal(blocks[2]!.lines[2], 'checksum: 0x2f24 (ok)');
});

test('seed002-2: an empty record route option shows its pointer and no addresses', () => {
  const ipBlock = frameBlocks('seed002-2')[1]!;
  assert.ok(ipBlock.lines.includes('options:             RR ptr=4 []'));
});

test('seed002-0: a bare IPv4 packet (link type ip) decodes from the IP header', () => {
  const blocks = frameBlocks('seed002-0');
  assert.deepEqual(blocks.map((b) => b.title), ['incoming ip packet', 'incoming icmp packet']);
  assert.equal(blocks[1]!.lines[3], 'id:       20236');
});

// ---------------------------------------------------------------------------------------
// tcpdump -X and hex helpers

// The capture excerpt of seed 003, as the page shows it (its whitespace collapsed).
const SEED003_CAPTURE = [
  '0x0000: 4500 0054 99d2 4000 4001 48b1 ac11 0001 E..T..@.@.H.....',
  '0x0010: ac11 0002 0800 4119 0013 0001 0e91 8468 ......A........h',
  '0x0020: 0000 0000 8129 0700 0000 0000 6162 6162 .....)......abab',
  '0x0030: 6162 6162 6162 6162 6162 6162 6162 6162 abababababababab',
  '0x0040: 6162 6162 6162 6162 6162 6162 6162 6162 abababababababab',
  '0x0050: 6162 6162 abab',
];

test('hexdumpX reproduces tcpdump -X for seed003-0, exact spacing included', () => {
  const bytes = seed('seed003-0');
  const lines = hexdumpX(bytes, 0, bytes.length);
  assert.equal(lines.length, SEED003_CAPTURE.length);
  assert.equal(lines[0], '\t0x0000:  4500 0054 99d2 4000 4001 48b1 ac11 0001  E..T..@.@.H.....');
  // Every line, once its whitespace is collapsed as the page did, is the page's line.
  assert.deepEqual(lines.map((l) => l.replace(/\s+/g, ' ').trim()), SEED003_CAPTURE);
  // tcpdump pads a short line's hex column to 40 characters so the ASCII stays aligned.
  assert.equal(lines[5], '\t0x0050:  6162 6162' + ' '.repeat(30) + '  abab');
  assert.equal(lines[5]!.indexOf('abab'), lines[0]!.indexOf('E..T'));
});

test('hexdumpX\'s hex column matches the tcpdump -x capture of seed002-2, and shows a space byte as "."', () => {
  const bytes = seed('seed002-2');
  const capture = [
    '\t0x0000:  0025 b4db e9c0 acbc 3291 427b 0800 4f00',
    '\t0x0010:  007c d1cf 0000 4001 2ec8 0af2 8e66 ca72',
    '\t0x0020:  00f8 0727 0400 0000 0000 0000 0000 0000',
    '\t0x0030:  0000 0000 0000 0000 0000 0000 0000 0000',
    '\t0x0040:  0000 0000 0000 0000 0000 0800 2724 2d0e',
    '\t0x0050:  0000 5641 8f40 000e d33a 0809 0a0b 0c0d',
    '\t0x0060:  0e0f 1011 1213 1415 1617 1819 1a1b 1c1d',
    '\t0x0070:  1e1f 2021 2223 2425 2627 2829 2a2b 2c2d',
    '\t0x0080:  2e2f 3031 3233 3435 3637',
  ];
  const lines = hexdumpX(bytes, 0, bytes.length);
  assert.deepEqual(lines.map((l) => l.slice(0, 1 + 8 + 40).trimEnd()), capture);
  assert.ok(lines[7]!.endsWith('  ...!"#$%&\'()*+,-'), lines[7]);
});

test('hexdumpX: an odd last byte is one " xx" group; offsets count from the dump start; indent is the caller\'s', () => {
  const bytes = Uint8Array.from([0x41, 0x42, 0x43, 0x44, 0x45]);
  assert.deepEqual(hexdumpX(bytes, 1, 3, ''), ['0x0000:  4243 44' + ' '.repeat(32) + '  BCD']);
  assert.deepEqual(hexdumpX(bytes, 0, 0), []);
  assert.deepEqual(hexdumpX(bytes, 3, 100, ''), ['0x0000:  4445' + ' '.repeat(35) + '  DE']);
});

test('hexBytes: 20 per line by default, continuation lines indented, clamped to the buffer', () => {
  const bytes = Uint8Array.from({ length: 25 }, (_, i) => i);
  assert.equal(
    hexBytes(bytes, 0, 25, { indent: 9 }),
    '00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13\n         14 15 16 17 18',
  );
  assert.equal(hexBytes(bytes, 20, 99, { perLine: 2, indent: '>' }), '14 15\n>16 17\n>18');
  assert.equal(hexBytes(bytes, 30, 5), '');
  assert.deepEqual(hexByteLines(bytes, -5, 2), ['00 01']);
});

// ---------------------------------------------------------------------------------------
// Summaries in tcpdump's words

test('summarizeFrame words the seed frames as tcpdump does', () => {
  const summary = (name: string) => {
    const b = seed(name);
    return summarizeFrame(b, 0, b.length, vectors.find((v) => v.name === name)!.layer === 'ipv4' ? 'ip' : 'ethernet');
  };
  assert.equal(summary('seed000-incoming-2'), '192.0.2.1 > 192.0.2.2: ICMP echo request, id 17, seq 1, length 64');
  assert.equal(summary('seed000-outgoing-3'), '192.0.2.2 > 192.0.2.1: ICMP echo reply, id 17, seq 1, length 64');
  assert.equal(summary('seed000-incoming-0'), 'ARP, Request who-has 192.0.2.2 tell 192.0.2.1, length 28');
  assert.equal(summary('seed000-outgoing-1'), 'ARP, Reply 192.0.2.2 is-at 00:00:5e:00:53:01, length 28');
  assert.equal(
    summary('seed001-incoming-12'),
    '192.0.2.1.56988 > 192.0.2.2.12345: Flags [S], seq 1082739820, win 64240, ' +
    'options [mss 1460,sackOK,TS val 1409860984 ecr 0,nop,wscale 7], length 0',
  );
  assert.equal(
    summary('seed001-outgoing-13'),
    '192.0.2.2.12345 > 192.0.2.1.56988: Flags [S.], seq 787382753, ack 1082739821, win 65535, length 0',
  );
  assert.equal(summary('seed001-incoming-14'), '192.0.2.1.56988 > 192.0.2.2.12345: Flags [.], seq 1082739821, ack 787382754, win 64240, length 0');
  // The seed 003 capture's own summary line.
  assert.equal(summary('seed003-0'), '172.17.0.1 > 172.17.0.2: ICMP echo request, id 19, seq 1, length 64');
});

// ---------------------------------------------------------------------------------------
// Hand-built packets: bad checksums, ICMP errors, UDP, options, fragments

function ipv4Packet(src: string, dst: string, protocol: number, payload: Uint8Array, fields: Partial<Ipv4Repr> = {}): Uint8Array {
  const options = fields.options ?? new Uint8Array(0);
  const buf = new Uint8Array(20 + options.length + payload.length);
  buf.set(payload, 20 + options.length);
  emitIpv4(buf, 0, {
    tos: 0, id: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol,
    src: ip(src), dst: ip(dst), payloadLength: payload.length, ...fields, options,
  });
  return buf;
}

function udpDatagram(src: string, dst: string, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(8 + data.length);
  buf.set(data, 8);
  emitUdp(buf, 0, { srcPort, dstPort, payloadLength: data.length }, ip(src), ip(dst));
  return buf;
}

function icmpMessage(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(8 + data.length);
  emitIcmp(buf, 0, { type, code, rest, data });
  return buf;
}

test('bad checksums say what was expected, at every layer', () => {
  const frame = seed('seed001-incoming-12');
  frame[14 + 10] ^= 0xff; // IP header checksum
  frame[frame.length - 1] ^= 0x01; // last TCP option byte (WS 7 -> 6)
  const [, ipBlock, tcp] = dissectFrame('incoming', frame, 0, frame.length);
  assert.ok(ipBlock!.lines.includes('checksum:            0x31eb (bad, expected 0xceeb)'), ipBlock!.lines.join('\n'));
  assert.ok(tcp!.lines.includes('checksum: 0x13bf (bad, expected 0x13c0)'), tcp!.lines.join('\n'));
  assert.ok(tcp!.lines.includes('options:  MSS 1460, SACK_PERM, TS val 1409860984 ecr 0, NOP, WS 6'));

  const ping = seed('seed000-incoming-2');
  ping[14 + 20 + 2] = 0x12; // ICMP checksum
  const icmp = dissectFrame('incoming', ping, 0, ping.length)[2]!;
  assert.equal(icmp.lines[2], 'checksum: 0x1299 (bad, expected 0x8199)');
});

test('an ICMP port unreachable decodes the quoted datagram and is summarised as tcpdump does', () => {
  const original = ipv4Packet('192.0.2.2', '192.0.2.1', 17, udpDatagram('192.0.2.2', '192.0.2.1', 5353, 9, Uint8Array.of(1, 2, 3, 4)));
  const quoted = original.subarray(0, 28); // the header and 8 bytes, as RFC 792 asks
  const packet = ipv4Packet('192.0.2.1', '192.0.2.2', 1, icmpMessage(3, 3, 0, quoted));
  const blocks = dissectFrame('incoming', packet, 0, packet.length, 'ip');
  const icmp = blocks[1]!;
  assert.equal(icmp.lines[0], 'type:     Destination Unreachable (3)');
  assert.equal(icmp.lines[1], 'code:     Port Unreachable (3)');
  assert.match(icmp.lines[2]!, /^checksum: 0x[0-9a-f]{4} \(ok\)$/);
  assert.equal(icmp.lines[3], 'original: 192.0.2.2 > 192.0.2.1, UDP (17), ports 5353 > 9');
  assert.ok(icmp.lines[4]!.startsWith('payload:  45 00 00 20'));
  assert.equal(summarizeFrame(packet, 0, packet.length, 'ip'), '192.0.2.1 > 192.0.2.2: ICMP 192.0.2.1 udp port 9 unreachable, length 36');
});

test('ICMP errors: fragmentation needed shows the MTU; time exceeded and parameter problem name their codes', () => {
  const original = seed('seed003-0').subarray(0, 28);
  const fragNeeded = dissectIcmp('incoming', icmpMessage(3, 4, 1400, original), 0, 36);
  assert.deepEqual(fragNeeded.lines.slice(0, 2), ['type:     Destination Unreachable (3)', 'code:     Fragmentation Needed (4)']);
  assert.equal(fragNeeded.lines[3], 'mtu:      1400');
  assert.equal(fragNeeded.lines[4], 'original: 172.17.0.1 > 172.17.0.2, ICMP (1), Echo (8) id 19 seq 1');

  const ttl = dissectIcmp('outgoing', icmpMessage(11, 0, 0, original), 0, 36);
  assert.equal(ttl.title, 'outgoing icmp packet');
  assert.equal(ttl.lines[1], 'code:     TTL Exceeded in Transit (0)');
  const ttlPacket = ipv4Packet('192.0.2.2', '172.17.0.1', 1, icmpMessage(11, 0, 0, original));
  assert.equal(summarizeFrame(ttlPacket, 0, ttlPacket.length, 'ip'), '192.0.2.2 > 172.17.0.1: ICMP time exceeded in-transit, length 36');

  const param = dissectIcmp('outgoing', icmpMessage(12, 0, 20 << 24, original), 0, 36);
  assert.equal(param.lines[3], 'pointer:  20');
  const truncatedQuote = dissectIcmp('incoming', icmpMessage(3, 1, 0, original.subarray(0, 10)), 0, 18);
  assert.equal(truncatedQuote.lines[3], 'original: malformed (too-short, 10 bytes)');
});

test('UDP: ports, length, checksum ok / none / bad, payload', () => {
  const datagram = udpDatagram('192.0.2.1', '192.0.2.2', 40000, 53, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
  const packet = ipv4Packet('192.0.2.1', '192.0.2.2', 17, datagram);
  const udp = dissectFrame('incoming', packet, 0, packet.length, 'ip')[1]!;
  assert.equal(udp.title, 'incoming udp datagram');
  assert.deepEqual([udp.lines[0], udp.lines[1], udp.lines[2]], ['src port: 40000', 'dst port: 53', 'length:   12 bytes (payload: 4 bytes)']);
  assert.match(udp.lines[3]!, /^checksum: 0x[0-9a-f]{4} \(ok\)$/);
  assert.equal(udp.lines[4], 'payload:  de ad be ef');
  assert.equal(summarizeFrame(packet, 0, packet.length, 'ip'), '192.0.2.1.40000 > 192.0.2.2.53: UDP, length 4');

  datagram[6] = 0; datagram[7] = 0;
  assert.equal(dissectUdp('incoming', datagram, 0, datagram.length, { src: ip('192.0.2.1'), dst: ip('192.0.2.2') }).lines[3], 'checksum: 0x0000 (none)');
  datagram[7] = 1;
  assert.match(dissectUdp('incoming', datagram, 0, datagram.length, { src: ip('192.0.2.1'), dst: ip('192.0.2.2') }).lines[3]!, /^checksum: 0x0001 \(bad, expected 0x[0-9a-f]{4}\)$/);
  // Without the IP addresses there is no verdict to give.
  assert.equal(dissectUdp('incoming', datagram, 0, datagram.length).lines[3], 'checksum: 0x0001');

  datagram[5] = 200; // UDP length beyond the IP payload
  const bad = dissectUdp('incoming', datagram, 0, datagram.length);
  assert.equal(bad.malformed, 'bad-length (length 200, only 12 bytes present)');
  assert.equal(bad.lines.at(-1), 'malformed: bad-length (length 200, only 12 bytes present)');
});

test('IP options: record route with one address, NOPs, an unknown option by number, and a malformed one flagged', () => {
  const rr = buildRecordRouteOption(9);
  recordRouteAppend(rr, walkIpv4Options(rr, 0, rr.length).options[0]!, ip('192.0.2.2'));
  const withRr = ipv4Packet('192.0.2.1', '192.0.2.3', 1, icmpMessage(8, 0, 0x00110001, new Uint8Array(4)), { options: rr });
  const rrBlock = dissectIpv4('incoming', withRr, 0, withRr.length);
  assert.ok(rrBlock.lines.includes('options:             RR ptr=8 [192.0.2.2]'), rrBlock.lines.join('\n'));

  const odd = Uint8Array.of(1, 1, 153, 4, 0xab, 0xcd, 0, 0);
  const withOdd = ipv4Packet('192.0.2.1', '192.0.2.3', 1, icmpMessage(8, 0, 0, new Uint8Array(0)), { options: odd });
  const oddLines = dissectIpv4('incoming', withOdd, 0, withOdd.length).lines;
  const at = oddLines.findIndex((l) => l.startsWith('options:'));
  assert.deepEqual(oddLines.slice(at, at + 4), [
    'options:             NOP',
    '                     NOP',
    '                     opt-153 len=4 ab cd',
    '                     EOL',
  ]);

  const broken = Uint8Array.of(1, 7, 40, 4, 0, 0, 0, 0); // RR claims 40 bytes in an 8-byte area
  const withBroken = ipv4Packet('192.0.2.1', '192.0.2.3', 1, icmpMessage(8, 0, 0, new Uint8Array(0)), { options: broken });
  const blocks = dissectFrame('incoming', withBroken, 0, withBroken.length, 'ip');
  const brokenLines = blocks[0]!.lines;
  assert.ok(brokenLines.includes('options:             NOP'));
  assert.ok(brokenLines.includes('                     malformed option: bad-option-length at header byte 22'), brokenLines.join('\n'));
  // A bad option is flagged, but the rest of the packet is still shown.
  assert.equal(blocks[1]!.title, 'incoming icmp packet');
});

test('a truncated or malformed layer ends the dissection with a block saying why', () => {
  const frame = seed('seed000-incoming-2');
  const tooShortForIp = dissectFrame('incoming', frame, 0, 30);
  assert.equal(tooShortForIp.length, 2);
  assert.equal(tooShortForIp[1]!.malformed, 'too-short (16 bytes, header needs 20)');
  assert.deepEqual(tooShortForIp[1]!.lines, ['malformed: too-short (16 bytes, header needs 20)']);

  const truncated = dissectFrame('incoming', frame, 0, 60);
  assert.equal(truncated.length, 2);
  assert.equal(truncated[1]!.lines.at(-1), 'malformed: truncated (total length 84, only 46 bytes present)');
  assert.ok(truncated[1]!.lines.includes('checksum:            0xdb6d (ok)'), 'the header itself is still decoded');

  assert.deepEqual(dissectFrame('incoming', frame, 0, 10).map((b) => b.malformed), ['too-short (10 bytes, header needs 14)']);
  assert.equal(dissectEthernet('incoming', frame, 0, 10).title, 'incoming ethernet frame (10 bytes)');

  const notIpv4 = Uint8Array.from(frame.subarray(14));
  notIpv4[0] = 0x55;
  assert.deepEqual(dissectFrame('incoming', notIpv4, 0, notIpv4.length, 'ip')[0]!.lines, ['version:             5', 'malformed: bad-version (5)']);

  const syn = seed('seed001-incoming-12');
  syn[14 + 20 + 12] = 0xf0; // data offset 15 words = 60 bytes, in a 40-byte segment
  const tcp = dissectFrame('incoming', syn, 0, syn.length)[2]!;
  assert.equal(tcp.malformed, 'bad-header-length (offset 15 = 60 bytes, segment 40 bytes)');
  assert.equal(tcp.lines.at(-1), 'malformed: bad-header-length (offset 15 = 60 bytes, segment 40 bytes)');

  assert.equal(dissectArp('incoming', frame, 14, 5).malformed, 'too-short (5 bytes, header needs 8)');
  assert.equal(dissectTcp('incoming', frame, 0, 12).malformed, 'too-short (12 bytes, header needs 20)');
  assert.equal(summarizeFrame(frame, 0, 60), '192.0.2.1 > 192.0.2.2: [malformed ip: truncated]');
});

test('TCP options that do not parse are shown raw rather than guessed at', () => {
  const syn = seed('seed001-incoming-12');
  syn[14 + 20 + 20 + 1] = 40; // MSS option claims 40 bytes
  const tcp = dissectFrame('incoming', syn, 0, syn.length)[2]!;
  assert.ok(tcp.lines.includes('options:  malformed: 02 28 05 b4 04 02 08 0a 54 08 c5 78 00 00 00 00 01 03 03 07'), tcp.lines.join('\n'));
  assert.match(summarizeFrame(syn, 0, syn.length), /options \[bad opt\], length 0$/);
});

test('a later fragment has no transport block, and the summary gives tcpdump\'s frag notation', () => {
  const payload = new Uint8Array(16).fill(0xaa);
  const later = ipv4Packet('192.0.2.1', '192.0.2.2', 17, payload, { id: 4242, fragmentOffset: 1480, moreFragments: true });
  const blocks = dissectFrame('incoming', later, 0, later.length, 'ip');
  assert.equal(blocks.length, 1);
  assert.ok(blocks[0]!.lines.includes('flags:               0b001 (MF)'));
  assert.ok(blocks[0]!.lines.includes('fragment offset:     185 (1480 bytes)'));
  assert.equal(summarizeFrame(later, 0, later.length, 'ip'), '192.0.2.1 > 192.0.2.2: ip-proto-17 (frag 4242:16@1480+)');

  // A first fragment's transport header is decoded, but its checksum covers bytes not here.
  const datagram = udpDatagram('192.0.2.1', '192.0.2.2', 1, 2, new Uint8Array(100));
  const first = ipv4Packet('192.0.2.1', '192.0.2.2', 17, datagram.subarray(0, 48), { id: 4242, moreFragments: true });
  const firstBlocks = dissectFrame('incoming', first, 0, first.length, 'ip');
  const udp = firstBlocks[1]!;
  assert.equal(udp.title, 'incoming udp datagram');
  assert.equal(udp.malformed, undefined);
  assert.equal(udp.lines[2], 'length:   108 bytes (payload: 100 bytes, 40 in this fragment)');
  assert.match(udp.lines[3]!, /^checksum: 0x[0-9a-f]{4}$/);
  assert.equal(udp.lines.length, 6); // four fields, then 40 payload bytes on two lines
  assert.equal(summarizeFrame(first, 0, first.length, 'ip'), '192.0.2.1.1 > 192.0.2.2.2: UDP, length 100 (frag 4242:48@0+)');
});

test('maxHexBytes caps every payload field and says how much was left out', () => {
  const frame = seed('seed000-incoming-2');
  const blocks = dissectFrame('incoming', frame, 0, frame.length, 'ethernet', { maxHexBytes: 4 });
  assert.deepEqual(blocks[0]!.lines.slice(3), ['payload: 45 00 00 54', '         ... 80 more bytes']);
  assert.deepEqual(blocks[2]!.lines.slice(5), ['payload:  fb f2 d1 60', '          ... 52 more bytes']);
});

test('an ethernet frame of another type is shown but not decoded further', () => {
  const frame = new Uint8Array(30);
  emitEthernet(frame, 0, new Uint8Array(6).fill(0xff), Uint8Array.of(2, 0, 0, 0, 0, 1), 0x88cc);
  const blocks = dissectFrame('incoming', frame, 0, frame.length);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]!.lines[0], 'type:    unknown (0x88cc)');
  assert.equal(summarizeFrame(frame, 0, frame.length), 'ethertype Unknown (0x88cc), length 30');
});

// ---------------------------------------------------------------------------------------
// Never throws

function assertWellFormed(blocks: DissectionBlock[]): void {
  for (const block of blocks) {
    assert.equal(typeof block.title, 'string');
    for (const line of block.lines) {
      assert.equal(typeof line, 'string');
      assert.ok(!/undefined|NaN|dissector error/.test(line), line);
    }
  }
}

test('property: any bytes, at any offset and length, dissect and summarise without throwing', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      fc.integer({ min: -4, max: 210 }),
      fc.integer({ min: -4, max: 300 }),
      fc.constantFrom('ethernet' as const, 'ip' as const),
      (bytes, offset, length, link) => {
        assertWellFormed(dissectFrame('incoming', bytes, offset, length, link));
        assert.equal(typeof summarizeFrame(bytes, offset, length, link), 'string');
      },
    ),
    { numRuns: 2000 },
  );
});

test('property: seed frames with random bytes changed dissect deep and never throw', () => {
  const seeds = vectors.map((v) => ({ bytes: Uint8Array.from(Buffer.from(v.hex, 'hex')), link: v.layer === 'ipv4' ? 'ip' as const : 'ethernet' as const }));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      (which, edits, cut) => {
        const { bytes: original, link } = seeds[which]!;
        const bytes = Uint8Array.from(original);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        const length = cut % (bytes.length + 1);
        assertWellFormed(dissectFrame('outgoing', bytes, 0, length, link));
        assert.equal(typeof summarizeFrame(bytes, 0, length, link), 'string');
      },
    ),
    { numRuns: 3000 },
  );
});

test('a DNS query on port 53 and a DHCP message on 68 -> 67 get a block of their own after UDP', () => {
  const query = emitDnsQuery({ id: 0x1234, name: 'web.test', type: 1 });
  assert.ok(query instanceof Uint8Array);
  const dnsBlocks = dissectFrame('outgoing', ipv4Packet('192.0.2.2', '192.0.2.1', 17, udpDatagram('192.0.2.2', '192.0.2.1', 40000, 53, query)), 0, 28 + query.length, 'ip');
  assert.deepEqual(dnsBlocks.map((b) => b.title.split(' ').slice(1, 2)[0]), ['ip', 'udp', 'dns']);
  assert.ok(dnsBlocks[2]!.lines.some((l) => l.includes('web.test')), dnsBlocks[2]!.lines.join('\n'));
  const discover = encodeDhcp(createDhcpMessage({ op: 1, xid: 7, options: { messageType: 1 } }));
  const dhcpBlocks = dissectFrame('outgoing', ipv4Packet('0.0.0.0', '255.255.255.255', 17, udpDatagram('0.0.0.0', '255.255.255.255', 68, 67, discover)), 0, 28 + discover.length, 'ip');
  assert.equal(dhcpBlocks.length, 3);
  assert.match(dhcpBlocks[2]!.title, /dhcp/);
  // Not on those ports: no application block.
  const other = dissectFrame('outgoing', ipv4Packet('192.0.2.2', '192.0.2.1', 17, udpDatagram('192.0.2.2', '192.0.2.1', 40000, 54, query)), 0, 28 + query.length, 'ip');
  assert.equal(other.length, 2);
});
