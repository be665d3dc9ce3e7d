import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CaptureReader, LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../src/observe/capture-reader.js';
import { PacketFacts, decodePacket } from '../../src/observe/capture-packet.js';
import { parseConnSpec } from '../../src/observe/capture-conn.js';
import { LadderModel, renderLadder } from '../../src/observe/draw-ladder.js';
import { TcpCensus, TimeSeqModel, renderTimeSeq } from '../../src/observe/draw-timeseq.js';
import { pcapFile, tcpPacket, hexBytes, wscaleOption, sackOption, type Rec, type Seg } from '../helpers/capture-files.js';
import { xmlProblem } from '../helpers/xml-check.js';

const vectors = (JSON.parse(readFileSync(new URL('../../../test/vectors/seed-frames.json', import.meta.url), 'utf8')) as {
  vectors: Array<{ name: string; layer: string; hex: string }>;
}).vectors;

function feed(file: Uint8Array, visit: (time: number, f: PacketFacts) => void): CaptureReader {
  const f = new PacketFacts();
  const reader = new CaptureReader((lt, time, data) => { decodePacket(lt, data, f); visit(time, f); });
  reader.push(file);
  reader.end();
  return reader;
}

test('ladder of the seed frames: ARP, ping and a TCP handshake, labelled as tcpdump would', () => {
  const seeds = vectors.filter((v) => v.layer === 'ethernet' && /^seed00[01]-/.test(v.name));
  assert.equal(seeds.length, 15);
  const file = pcapFile(LINKTYPE_ETHERNET, seeds.map((v, i) => ({ time: 10 + i * 0.001, data: hexBytes(v.hex) })));
  const model = new LadderModel({ maxArrows: 100 });
  feed(file, (t, f) => model.add(t, f));
  assert.equal(model.arrows.length, 15);
  assert.deepEqual(model.hosts, ['192.0.2.1', '192.0.2.2']);
  assert.equal(model.macs.get('192.0.2.1'), 'e2:20:76:2d:5d:2d');
  const labels = model.arrows.map((a) => `${a.from}>${a.to} ${a.protocol} ${a.label}`);
  assert.equal(labels[0], '192.0.2.1>192.0.2.2 ARP who-has 192.0.2.2 tell 192.0.2.1');
  assert.equal(model.arrows[0]!.style, 'broadcast');
  assert.equal(labels[1], '192.0.2.2>192.0.2.1 ARP 192.0.2.2 is-at 00:00:5e:00:53:01');
  assert.match(labels[2]!, /^192\.0\.2\.1>192\.0\.2\.2 ICMP Echo, id \d+, seq 1$/);
  assert.match(labels[3]!, /^192\.0\.2\.2>192\.0\.2\.1 ICMP Echo Reply, id \d+, seq 1$/);
  assert.match(labels[12]!, /^192\.0\.2\.1>192\.0\.2\.2 TCP 56988 → 12345 \[S\] seq 0, win \d+, mss \d+.*, length 0$/);
  assert.match(labels[13]!, /^192\.0\.2\.2>192\.0\.2\.1 TCP 12345 → 56988 \[S\.\] seq 0, ack 1, win \d+.*length 0$/);
  assert.match(labels[14]!, /^192\.0\.2\.1>192\.0\.2\.2 TCP 56988 → 12345 \[\.\] seq 1, ack 1, win \d+, length 0$/);
  assert.equal(model.arrows[1]!.time.toFixed(3), '0.001');
  const svg = renderLadder(model, 'seed');
  assert.equal(xmlProblem(svg), null);
  assert.equal(svg.match(/<g class="arrow /g)!.length, 15);
  assert.ok(svg.includes('[S.]'));
});

test('the ladder stops at its limit and says how many it left out; --conn keeps one connection', () => {
  const seeds = vectors.filter((v) => v.layer === 'ethernet' && /^seed00[01]-/.test(v.name));
  const file = pcapFile(LINKTYPE_ETHERNET, seeds.map((v, i) => ({ time: i, data: hexBytes(v.hex) })));
  const limited = new LadderModel({ maxArrows: 4 });
  feed(file, (t, f) => limited.add(t, f));
  assert.equal(limited.arrows.length, 4);
  assert.equal(limited.omitted, 11);
  assert.match(renderLadder(limited, 't'), /11 more packets not drawn/);
  const one = new LadderModel({ maxArrows: 100, conn: parseConnSpec('192.0.2.2:12345-192.0.2.1:56988')! });
  feed(file, (t, f) => one.add(t, f));
  assert.equal(one.arrows.length, 3);
  assert.equal(one.arrows[0]!.time, 0);
});

test('--conn syntax', () => {
  assert.deepEqual(parseConnSpec('192.0.2.1:1-192.0.2.2:80'), { a: '192.0.2.1', p: 1, b: '192.0.2.2', q: 80 });
  assert.deepEqual(parseConnSpec('[2001:DB8::1]:5-[2001:db8::2]:6'), { a: '2001:db8::1', p: 5, b: '2001:db8::2', q: 6 });
  for (const bad of ['192.0.2.1:1', '192.0.2.1-192.0.2.2:80', 'a:b-c:d', '192.0.2.1:70000-192.0.2.2:1', '']) assert.equal(parseConnSpec(bad), null, bad);
});

const C = '198.51.100.1', S = '198.51.100.2';
const ISN_C = 0xfffffc00; // wraps inside the transfer
const ISN_S = 5000;
const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;
const data = (n: number, extra: Partial<Seg> = {}): Seg => ({ src: C, sport: 40000, dst: S, dport: 80, seq: ISN_C + 1 + n * 1000, ack: ISN_S + 1, flags: ACK | PSH, len: 1000, win: 100, ...extra });
const ackOf = (rel: number, extra: Partial<Seg> = {}): Seg => ({ src: S, sport: 80, dst: C, dport: 40000, seq: ISN_S + 1, ack: ISN_C + 1 + rel, flags: ACK, win: 64, ...extra });

/** A handshake with window scaling, 6 segments of which #2 is lost and retransmitted after three SACKed dup ACKs, then FINs. */
function lossyTransfer(): Uint8Array {
  const segs: Seg[] = [
    { src: C, sport: 40000, dst: S, dport: 80, seq: ISN_C, flags: SYN, win: 64240, options: wscaleOption(7) },
    { src: S, sport: 80, dst: C, dport: 40000, seq: ISN_S, ack: ISN_C + 1, flags: SYN | ACK, win: 65000, options: wscaleOption(4) },
    { src: C, sport: 40000, dst: S, dport: 80, seq: ISN_C + 1, ack: ISN_S + 1, flags: ACK, win: 100 },
    data(0), data(1), ackOf(2000), data(2), data(3), data(4), data(5),
    ackOf(2000, { options: sackOption([[ISN_C + 1 + 3000, ISN_C + 1 + 4000]]) }),
    ackOf(2000, { options: sackOption([[ISN_C + 1 + 3000, ISN_C + 1 + 5000]]) }),
    ackOf(2000, { options: sackOption([[ISN_C + 1 + 3000, ISN_C + 1 + 6000]]) }),
    data(2), ackOf(6000),
    { src: C, sport: 40000, dst: S, dport: 80, seq: ISN_C + 6001, ack: ISN_S + 1, flags: FIN | ACK, win: 100 },
    ackOf(6002, { flags: FIN | ACK }),
  ];
  // Packet #2 (data(2), the 7th) never reached the receiver: a sender-side capture still has it.
  return pcapFile(LINKTYPE_RAW, segs.map((s, i): Rec => ({ time: 1 + i * 0.01, data: tcpPacket(s) })));
}

test('timeseq model: retransmission, duplicate ACKs, SACK blocks, scaled window, across a sequence wrap', () => {
  const file = lossyTransfer();
  const census = new TcpCensus();
  feed(file, (t, f) => census.add(t, f));
  const busiest = census.busiest()!;
  assert.equal(busiest.key, `${C}:40000-${S}:80`);
  assert.equal(busiest.bytes, 7000);
  const m = new TimeSeqModel(busiest.key, 1, 1 + 16 * 0.01, 161);
  feed(file, (t, f) => m.add(t, f));
  assert.equal(m.segments, 7);
  assert.equal(m.retransmissions, 1);
  assert.equal(m.duplicateAcks, 3);
  assert.equal(m.sackBlocks, 3);
  assert.ok(m.windowScaleKnown);
  // The retransmission sits at its own time column, from 2001 to 3001 (relative, SYN counts 1).
  const rc = m.column(1 + 13 * 0.01);
  assert.equal(m.retransLow[rc], 2001);
  assert.equal(m.retransHigh[rc], 3001);
  assert.equal(m.dataLow[m.column(1 + 6 * 0.01)], 2001, 'the first send of #2 is new data');
  // ACKs relative to the client ISN; window 64 << 4.
  const ac = m.column(1 + 14 * 0.01);
  assert.equal(m.ackAt[ac], 6001);
  assert.equal(m.windowAt[ac], 6001 + 64 * 16);
  assert.equal(m.sackHigh[m.column(1 + 12 * 0.01)], 6001);
  assert.deepEqual(m.markers.map((k) => `${k.kind}@${k.seq}`), ['SYN@0', 'FIN@6001']);
  const svg = renderTimeSeq(m, 'lossy');
  assert.equal(xmlProblem(svg), null);
  assert.match(svg, /class="retransmission" data-count="1"/);
  assert.equal(svg.match(/class="dupack"/g)!.length, 3);
  assert.match(svg, /class="sack"/);
  assert.match(svg, /class="marker SYN"/);
  assert.match(svg, /relative sequence number/);
});

test('the ladder marks the same retransmission and shows relative numbers', () => {
  const model = new LadderModel({ maxArrows: 100 });
  feed(lossyTransfer(), (t, f) => model.add(t, f));
  const labels = model.arrows.map((a) => a.label);
  assert.equal(labels[0], '[S] seq 0, win 64240, wscale 7, length 0');
  assert.equal(labels[1], '[S.] seq 0, ack 1, win 65000, wscale 4, length 0');
  assert.equal(labels[3], '[P.] seq 1:1001, ack 1, win 100, length 1000');
  assert.equal(labels[10], '[.] seq 1, ack 2001, win 64, sack 3001:4001, length 0');
  assert.deepEqual(model.arrows.map((a, i) => [i, a.style]).filter(([, s]) => s !== 'normal'), [[13, 'retransmission']]);
  assert.match(labels[13]!, /seq 2001:3001.*\(retransmission\)$/);
  assert.match(labels[15]!, /^\[F\.\] seq 6001, ack 1/);
});

test('a receiver-side capture (the hole filled late) marks the fill as a retransmission; no SYN means unscaled window', () => {
  const segs = [data(0), data(1), data(3), ackOf(2000), ackOf(2000), data(2)];
  const file = pcapFile(LINKTYPE_RAW, segs.map((s, i) => ({ time: i, data: tcpPacket(s) })));
  const m = new TimeSeqModel(`${C}:40000-${S}:80`, 0, 5, 50);
  feed(file, (t, f) => m.add(t, f));
  assert.equal(m.retransmissions, 1);
  assert.equal(m.duplicateAcks, 1);
  assert.equal(m.windowScaleKnown, false);
  assert.equal(m.windowAt[m.column(3)], 2000 + 64);
});

test('ladder of ping -s 3000 (captured by pstack capture -w): each fragment with its offset and MF, as tcpdump -v shows', () => {
  const file = new Uint8Array(readFileSync(new URL('../../../test/unit/fixtures/ping-s-3000.pcapng', import.meta.url)));
  const model = new LadderModel({ maxArrows: 100 });
  feed(file, (t, f) => model.add(t, f));
  const labels = model.arrows.map((a) => `${a.from}>${a.to} ${a.protocol} ${a.label}`);
  assert.equal(labels.length, 6);
  assert.match(labels[0]!, /^192\.0\.2\.1>192\.0\.2\.2 ICMP Echo, id \d+, seq 1, offset 0, MF$/);
  assert.equal(labels[1], '192.0.2.1>192.0.2.2 IP fragment ICMP offset 1480, MF');
  assert.equal(labels[2], '192.0.2.1>192.0.2.2 IP fragment ICMP offset 2960');
  assert.match(labels[3]!, /^192\.0\.2\.2>192\.0\.2\.1 ICMP Echo Reply, id \d+, seq 1, offset 0, MF$/);
  assert.equal(labels[5], '192.0.2.2>192.0.2.1 IP fragment ICMP offset 2960');
});

test('a narrow time-sequence graph keeps its legend and notes inside the picture', () => {
  for (const columns of [100, 300, 700, 1000]) {
    const m = new TimeSeqModel(`${C}:40000-${S}:80`, 0, 5, columns);
    const svg = renderTimeSeq(m, 'narrow', ['one note']);
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const height = Number(/<svg [^>]*height="(\d+)"/.exec(svg)![1]);
    const legend = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg)![1]!;
    for (const t of legend.matchAll(/<text x="([\d.]+)" y="([\d.]+)">([^<]*)<\/text>/g)) {
      // Monospace 11 px: about 6.6 px a character.
      assert.ok(Number(t[1]) + t[3]!.length * 6.6 <= width, `${columns} columns: "${t[3]}" at x ${t[1]} fits in ${width}`);
      assert.ok(Number(t[2]) < height);
    }
    assert.equal(legend.match(/<text /g)!.length, 7);
    const note = /<text x="10" y="([\d.]+)"[^>]*class="note">one note/.exec(svg)!;
    assert.ok(Number(note[1]) <= height, `the note at y ${note[1]} is inside ${height}`);
  }
});
