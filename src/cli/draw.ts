/**
 * `pstack draw ladder|timeseq CAPTURE`: pictures of a capture file as SVG. The file is read in
 * chunks through the streaming CaptureReader, so its size does not matter; the timeseq graph
 * reads it twice (once to find the busiest connection and its time span, once to draw).
 */

import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CaptureReader } from '../observe/capture-reader.js';
import { PacketFacts, decodePacket } from '../observe/capture-packet.js';
import { parseConnSpec, endpointText, type ConnSpec } from '../observe/capture-conn.js';
import { LadderModel, renderLadder } from '../observe/draw-ladder.js';
import { TcpCensus, TimeSeqModel, directionTitle, renderTimeSeq } from '../observe/draw-timeseq.js';
import { FatalError, UsageError } from './errors.js';

export const DRAW_USAGE = `usage: pstack draw ladder CAPTURE [options]    message sequence diagram, an arrow per packet
       pstack draw timeseq CAPTURE [options]   TCP time-sequence graph of one direction of a connection
CAPTURE is a pcap or pcapng file (tcpdump -w, Wireshark, pstack server --pcap).
  -o, --output FILE     write the SVG to FILE ("-" or no -o: standard output)
  --conn A:P-B:Q        only this connection (IPv6: [ADDR]:P); for timeseq the direction A:P -> B:Q
  -c, --count N         ladder: draw at most N arrows (default 200); the rest are counted in a note
  --width PIXELS        timeseq: plot width, one time column per pixel (default 1000)
  -h, --help            show this help`;

const CHUNK = 1024 * 1024;

/** Feed the whole file through a reader; decoding into one reused PacketFacts. */
function readCapture(path: string, visit: (time: number, facts: PacketFacts, decoded: boolean) => void): CaptureReader {
  const facts = new PacketFacts();
  const reader = new CaptureReader((linkType, time, data) => visit(time, facts, decodePacket(linkType, data, facts)));
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FatalError(`cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message}`);
  }
  const chunk = new Uint8Array(CHUNK);
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      reader.push(chunk.subarray(0, n));
    }
  } catch (err) {
    throw new FatalError(`cannot read ${path}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
  reader.end();
  return reader;
}

function positiveInt(text: string | undefined, flag: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: a whole number from 1 to ${max}`);
  return Number(text);
}

function output(svg: string, path: string | undefined): void {
  if (path === undefined || path === '-') { process.stdout.write(svg); return; }
  try {
    writeFileSync(path, svg);
  } catch (err) {
    throw new FatalError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

/** Print the reader's notes on stderr; a file that gave no packet at all is an error instead. */
function checkNotes(reader: CaptureReader, capture: string): string[] {
  const notes = reader.notes();
  if (reader.packets === 0 && notes.length > 0) throw new FatalError(`${capture}: no packets (${notes[0]})`);
  for (const n of notes) process.stderr.write(`pstack draw: ${n}\n`);
  return notes;
}

export async function runDraw(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        output: { type: 'string', short: 'o' },
        conn: { type: 'string' },
        count: { type: 'string', short: 'c' },
        width: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  if (values.help) { process.stdout.write(DRAW_USAGE + '\n'); return 0; }
  const [kind, capture, ...extra] = positionals;
  if (kind !== 'ladder' && kind !== 'timeseq') throw new UsageError(kind === undefined ? 'say which picture: pstack draw ladder|timeseq CAPTURE' : `unknown picture ${JSON.stringify(kind)}: ladder or timeseq`);
  if (capture === undefined) throw new UsageError(`pstack draw ${kind} needs a capture file`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  let conn: ConnSpec | undefined;
  if (values.conn !== undefined) {
    const spec = parseConnSpec(values.conn);
    if (spec === null) throw new UsageError(`invalid --conn ${JSON.stringify(values.conn)}: give ADDR:PORT-ADDR:PORT, e.g. 192.0.2.1:40000-192.0.2.2:80`);
    conn = spec;
  }
  if (kind === 'ladder') {
    if (values.width !== undefined) throw new UsageError('--width is for timeseq');
    const model = new LadderModel({ maxArrows: positiveInt(values.count, '--count', 200, 100_000), conn });
    const reader = readCapture(capture, (time, facts) => model.add(time, facts));
    const notes = checkNotes(reader, capture);
    output(renderLadder(model, `${capture}: ${reader.packets} packets${conn ? `, ${values.conn}` : ''}`, notes), values.output);
    return 0;
  }
  if (values.count !== undefined) throw new UsageError('--count is for ladder');
  const width = positiveInt(values.width, '--width', 1000, 10_000);
  const census = new TcpCensus();
  const first = readCapture(capture, (time, facts, ok) => { if (ok) census.add(time, facts); });
  const notes = checkNotes(first, capture);
  const key = conn ? `${endpointText(conn.a, conn.p)}-${endpointText(conn.b, conn.q)}` : census.busiest()?.key;
  const totals = key === undefined ? undefined : census.directions.get(key);
  if (key === undefined || totals === undefined) {
    throw new FatalError(conn ? `${capture}: no TCP segments from ${endpointText(conn.a, conn.p)} to ${endpointText(conn.b, conn.q)}` : `${capture}: no TCP segments`);
  }
  // The span covers the peer's ACKs too, which may come after the last data segment.
  const [a, b] = [key.slice(0, key.lastIndexOf('-')), key.slice(key.lastIndexOf('-') + 1)];
  const reverse = census.directions.get(`${b}-${a}`);
  const t0 = Math.min(totals.first, reverse?.first ?? Infinity);
  const t1 = Math.max(totals.last, reverse?.last ?? -Infinity);
  const model = new TimeSeqModel(key, t0, t1, width);
  readCapture(capture, (time, facts, ok) => { if (ok) model.add(time, facts); });
  const summary = `${model.segments} data segments, ${model.retransmissions} retransmissions, ${model.duplicateAcks} duplicate ACKs, ${model.sackBlocks} SACK blocks`;
  const graphNotes = [summary, ...notes];
  if (!model.windowScaleKnown) graphNotes.push('no SYN from the receiver in the capture: window drawn unscaled');
  output(renderTimeSeq(model, `${capture}: ${directionTitle(key)} (${totals.bytes} bytes)`, graphNotes), values.output);
  return 0;
}
