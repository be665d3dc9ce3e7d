/**
 * A TCP time-sequence graph in the tcptrace/Stevens style for one direction of one connection:
 * x is time, y the sequence number relative to the sender's ISN. Data segments are vertical
 * bars from seq to seq+len with tick ends (retransmissions in red), the receiver's cumulative
 * ACK is a step line, ACK + window (scaled as the SYNs agreed) a second step line, SACK blocks
 * short segments, duplicate ACKs and SYN/FIN/RST marked.
 *
 * It streams: two passes over the capture. The census (pass 1) counts bytes per direction to
 * pick the busiest one and learns its time span; the model (pass 2) folds every segment into
 * one pixel column, so memory depends on the picture's width, not on the capture's size.
 */

import { TcpFlag } from '../wire/index.js';
import type { PacketFacts } from './capture-packet.js';
import { directionKey } from './capture-conn.js';
import { line, num, svgClose, svgOpen, text } from './svg.js';

/** Directions the census tracks at most (a scan or flood must not exhaust memory). */
export const CENSUS_MAX_DIRECTIONS = 100_000;

export interface DirectionTotals {
  key: string;
  bytes: number;
  segments: number;
  first: number;
  last: number;
}

/** Pass 1: bytes, segments and time span per TCP direction. */
export class TcpCensus {
  readonly directions = new Map<string, DirectionTotals>();
  untracked = 0;

  add(time: number, f: PacketFacts): void {
    if (f.kind !== 'tcp') return;
    const key = directionKey(f);
    let d = this.directions.get(key);
    if (d === undefined) {
      if (this.directions.size >= CENSUS_MAX_DIRECTIONS) { this.untracked++; return; }
      d = { key, bytes: 0, segments: 0, first: time, last: time };
      this.directions.set(key, d);
    }
    d.bytes += f.payloadLength;
    d.segments++;
    if (time < d.first) d.first = time;
    if (time > d.last) d.last = time;
  }

  /** The direction carrying most payload (null when the capture has no TCP). */
  busiest(): DirectionTotals | null {
    let best: DirectionTotals | null = null;
    for (const d of this.directions.values()) if (best === null || d.bytes > best.bytes) best = d;
    return best;
  }
}

export type MarkerKind = 'SYN' | 'FIN' | 'RST';

export interface Marker { time: number; seq: number; kind: MarkerKind }

const MAX_MARKERS = 256;

/** Put a 32-bit sequence number relative to `isn` on the unwrapped axis, nearest to `near`. */
function unwrap(raw: number, isn: number, near: number): number {
  const r = (raw - isn) >>> 0;
  const k = Math.round((near - r) / 4294967296);
  return r + k * 4294967296;
}

/** Pass 2: the graph of the direction `key`, folded into `columns` time columns over [t0, t1]. */
export class TimeSeqModel {
  /** New data per column: lowest start and highest end (NaN where none). */
  readonly dataLow: Float64Array;
  readonly dataHigh: Float64Array;
  readonly retransLow: Float64Array;
  readonly retransHigh: Float64Array;
  /** The receiver's cumulative ACK and ACK+window at the end of each column (NaN where none). */
  readonly ackAt: Float64Array;
  readonly windowAt: Float64Array;
  readonly sackLow: Float64Array;
  readonly sackHigh: Float64Array;
  /** Duplicate ACKs per column and the ACK they repeated. */
  readonly dupAcks: Uint32Array;
  readonly dupAckAt: Float64Array;
  readonly markers: Marker[] = [];
  segments = 0;
  retransmissions = 0;
  duplicateAcks = 0;
  sackBlocks = 0;
  /** Highest sequence offset seen (data end or window edge): the y range. */
  top = 1;
  /** True when the SYNs agreed on window scaling (or there were none to tell). */
  windowScaleKnown = false;
  private isn = Number.NaN;
  private highest = 0;
  private senderScale = -1;
  private receiverScale = -1;
  private lastAck = Number.NaN;
  private lastWindow = -1;
  private readonly reverse: string;

  constructor(readonly key: string, readonly t0: number, readonly t1: number, readonly columns: number) {
    const nan = () => new Float64Array(columns).fill(Number.NaN);
    this.dataLow = nan(); this.dataHigh = nan(); this.retransLow = nan(); this.retransHigh = nan();
    this.ackAt = nan(); this.windowAt = nan(); this.sackLow = nan(); this.sackHigh = nan();
    this.dupAcks = new Uint32Array(columns);
    this.dupAckAt = nan();
    const [a, b] = splitKey(key);
    this.reverse = `${b}-${a}`;
  }

  column(time: number): number {
    const span = this.t1 - this.t0;
    if (!(span > 0)) return 0;
    const c = Math.floor(((time - this.t0) / span) * (this.columns - 1) + 0.5);
    return c < 0 ? 0 : c >= this.columns ? this.columns - 1 : c;
  }

  add(time: number, f: PacketFacts): void {
    if (f.kind !== 'tcp') return;
    const key = directionKey(f);
    if (key === this.key) this.fromSender(time, f);
    else if (key === this.reverse) this.fromReceiver(time, f);
  }

  private fromSender(time: number, f: PacketFacts): void {
    const syn = (f.flags & TcpFlag.SYN) !== 0;
    if (syn) { this.isn = f.seq; this.senderScale = f.options.windowScale; }
    else if (Number.isNaN(this.isn)) this.isn = f.seq;
    const start = unwrap(f.seq, this.isn, this.highest);
    const span = f.payloadLength + (syn ? 1 : 0) + (f.flags & TcpFlag.FIN ? 1 : 0);
    const c = this.column(time);
    if (syn) this.mark(time, start, 'SYN');
    if (f.flags & TcpFlag.FIN) this.mark(time, start + f.payloadLength, 'FIN');
    if (f.flags & TcpFlag.RST) this.mark(time, start, 'RST');
    if (f.payloadLength === 0) { if (start + span > this.highest) this.highest = start + span; return; }
    this.segments++;
    const end = start + f.payloadLength;
    if (start < this.highest) {
      this.retransmissions++;
      this.retransLow[c] = minOf(this.retransLow[c]!, start);
      this.retransHigh[c] = maxOf(this.retransHigh[c]!, end);
    } else {
      this.dataLow[c] = minOf(this.dataLow[c]!, start);
      this.dataHigh[c] = maxOf(this.dataHigh[c]!, end);
    }
    if (start + span > this.highest) this.highest = start + span;
    if (this.highest > this.top) this.top = this.highest;
  }

  private fromReceiver(time: number, f: PacketFacts): void {
    const syn = (f.flags & TcpFlag.SYN) !== 0;
    if (syn) {
      this.receiverScale = f.options.windowScale;
      this.windowScaleKnown = true;
    }
    if ((f.flags & TcpFlag.ACK) === 0 || Number.isNaN(this.isn)) return;
    const ack = unwrap(f.ack, this.isn, this.highest);
    // RFC 7323 2.2: the window in a SYN is never scaled; after it, only if both SYNs offered it.
    const shift = !syn && this.senderScale >= 0 && this.receiverScale >= 0 ? this.receiverScale : 0;
    const window = f.window * 2 ** shift;
    const c = this.column(time);
    const plain = f.payloadLength === 0 && (f.flags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) === 0;
    if (plain && ack === this.lastAck && window === this.lastWindow && this.highest > ack) {
      this.duplicateAcks++;
      this.dupAcks[c]!++;
      this.dupAckAt[c] = ack;
    }
    this.lastAck = ack;
    this.lastWindow = window;
    this.ackAt[c] = ack;
    this.windowAt[c] = ack + window;
    if (ack + window > this.top) this.top = ack + window;
    const o = f.options;
    for (let i = 0; i < o.sackCount; i++) {
      const left = unwrap(o.sackBlocks[2 * i]!, this.isn, ack);
      const right = unwrap(o.sackBlocks[2 * i + 1]!, this.isn, ack);
      if (right <= left) continue;
      this.sackBlocks++;
      this.sackLow[c] = minOf(this.sackLow[c]!, left);
      this.sackHigh[c] = maxOf(this.sackHigh[c]!, right);
    }
  }

  private mark(time: number, seq: number, kind: MarkerKind): void {
    if (this.markers.length < MAX_MARKERS) this.markers.push({ time, seq, kind });
  }
}

function minOf(a: number, b: number): number { return Number.isNaN(a) || b < a ? b : a; }
function maxOf(a: number, b: number): number { return Number.isNaN(a) || b > a ? b : a; }

/** "A:P-B:Q" into its two endpoints (IPv6 endpoints are bracketed, so '-' is unambiguous). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('-', key.startsWith('[') ? key.indexOf(']') : 0);
  return [key.slice(0, i), key.slice(i + 1)];
}

export function directionTitle(key: string): string {
  const [a, b] = splitKey(key);
  return `${a} → ${b}`;
}

const PLOT_LEFT = 90;
const PLOT_TOP = 50;
const PLOT_HEIGHT = 560;
const COLOURS = { data: '#1f4e9c', retrans: '#d62728', ack: '#2ca02c', window: '#e6a100', sack: '#9467bd', dup: '#d62728', mark: '#111' };

/** Round numbers for axis ticks. */
function ticks(max: number, count: number): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9 && out.length < 50; v += step) out.push(v);
  return out;
}

const LEGEND_COLUMN = 230;
const LEGEND: ReadonlyArray<[string, string]> = [
  [COLOURS.data, 'data segment (seq..seq+len)'], [COLOURS.retrans, 'retransmission'], [COLOURS.ack, 'ACK'],
  [COLOURS.window, 'ACK + receive window'], [COLOURS.sack, 'SACK block'], [COLOURS.dup, 'duplicate ACK (circle)'], [COLOURS.mark, 'SYN / FIN / RST'],
];

/** The graph as a self-contained SVG document. */
export function renderTimeSeq(m: TimeSeqModel, title: string, notes: readonly string[] = []): string {
  const plotWidth = m.columns;
  const width = Math.max(PLOT_LEFT + plotWidth + 40, PLOT_LEFT + LEGEND_COLUMN + 10);
  const legendTop = PLOT_TOP + PLOT_HEIGHT + 45;
  // As many legend columns as the picture is wide enough for, so a narrow graph keeps its legend inside.
  const legendColumns = Math.max(1, Math.min(4, Math.floor((width - PLOT_LEFT) / LEGEND_COLUMN)));
  const legendRows = Math.ceil(LEGEND.length / legendColumns);
  const notesTop = legendTop + legendRows * 18 + 4;
  const height = notesTop + notes.length * 16;
  const span = m.t1 - m.t0 > 0 ? m.t1 - m.t0 : 1;
  const xOf = (c: number) => PLOT_LEFT + c;
  const top = m.top * 1.02;
  const yOf = (seq: number) => PLOT_TOP + PLOT_HEIGHT - (seq / top) * PLOT_HEIGHT;
  let out = svgOpen(width, height, title);
  out += text(10, 20, title, 'font-size="13" font-weight="bold"');
  // Axes and grid.
  out += `<g class="axes" stroke="#888">\n`;
  out += line(PLOT_LEFT, PLOT_TOP, PLOT_LEFT, PLOT_TOP + PLOT_HEIGHT, '');
  out += line(PLOT_LEFT, PLOT_TOP + PLOT_HEIGHT, PLOT_LEFT + plotWidth, PLOT_TOP + PLOT_HEIGHT, '');
  out += '</g>\n';
  for (const v of ticks(top, 8)) {
    const y = yOf(v);
    out += line(PLOT_LEFT - 4, y, PLOT_LEFT + plotWidth, y, 'stroke="#eee"');
    out += text(PLOT_LEFT - 6, y + 4, String(v), 'text-anchor="end" fill="#555"');
  }
  for (const v of ticks(span, 10)) {
    const x = PLOT_LEFT + (v / span) * (plotWidth - 1);
    out += line(x, PLOT_TOP + PLOT_HEIGHT, x, PLOT_TOP + PLOT_HEIGHT + 4, 'stroke="#888"');
    out += text(x, PLOT_TOP + PLOT_HEIGHT + 16, Number(v.toPrecision(6)).toString(), 'text-anchor="middle" fill="#555"');
  }
  out += text(PLOT_LEFT + plotWidth / 2, PLOT_TOP + PLOT_HEIGHT + 32, 'time (s)', 'text-anchor="middle"');
  out += text(14, PLOT_TOP + PLOT_HEIGHT / 2, 'relative sequence number', `text-anchor="middle" transform="rotate(-90 14 ${num(PLOT_TOP + PLOT_HEIGHT / 2)})"`);
  // Window and ACK step lines.
  out += stepLine(m.windowAt, xOf, yOf, COLOURS.window, 'window');
  out += stepLine(m.ackAt, xOf, yOf, COLOURS.ack, 'ack');
  // Segments: a bar with tick ends per column.
  out += bars(m.dataLow, m.dataHigh, xOf, yOf, COLOURS.data, 'segment');
  out += bars(m.retransLow, m.retransHigh, xOf, yOf, COLOURS.retrans, 'retransmission');
  let sack = '';
  for (let c = 0; c < m.columns; c++) {
    if (Number.isNaN(m.sackLow[c]!)) continue;
    sack += `M${num(xOf(c) + 2)},${num(yOf(m.sackLow[c]!))}V${num(yOf(m.sackHigh[c]!))}`;
  }
  if (sack) out += `<path class="sack" d="${sack}" stroke="${COLOURS.sack}" stroke-width="2" fill="none"/>\n`;
  for (let c = 0; c < m.columns; c++) {
    if (m.dupAcks[c] === 0) continue;
    out += `<circle class="dupack" cx="${num(xOf(c))}" cy="${num(yOf(m.dupAckAt[c]!))}" r="3" fill="none" stroke="${COLOURS.dup}"><title>${m.dupAcks[c]} duplicate ACK(s)</title></circle>\n`;
  }
  for (const k of m.markers) {
    const x = xOf(m.column(k.time)), y = yOf(k.seq);
    out += `<g class="marker ${k.kind}">${text(x + 4, y - 4, k.kind, `fill="${COLOURS.mark}" font-weight="bold"`).trimEnd()}<rect x="${num(x - 3)}" y="${num(y - 3)}" width="6" height="6" fill="${COLOURS.mark}"/></g>\n`;
  }
  // Legend.
  out += '<g class="legend">\n';
  LEGEND.forEach(([colour, label], i) => {
    const x = PLOT_LEFT + (i % legendColumns) * LEGEND_COLUMN, y = legendTop + Math.floor(i / legendColumns) * 18;
    out += line(x, y - 4, x + 20, y - 4, `stroke="${colour}" stroke-width="3"`);
    out += text(x + 26, y, label);
  });
  out += '</g>\n';
  notes.forEach((n, i) => { out += text(10, notesTop + 12 + i * 16, n, 'fill="#555" class="note"'); });
  return out + svgClose();
}

function stepLine(values: Float64Array, xOf: (c: number) => number, yOf: (v: number) => number, colour: string, cls: string): string {
  let d = '';
  let lastY = Number.NaN;
  for (let c = 0; c < values.length; c++) {
    const v = values[c]!;
    if (Number.isNaN(v)) continue;
    const y = yOf(v);
    if (Number.isNaN(lastY)) d += `M${num(xOf(c))},${num(y)}`;
    else d += `H${num(xOf(c))}V${num(y)}`;
    lastY = y;
  }
  if (!d) return '';
  d += `H${num(xOf(values.length - 1))}`;
  return `<path class="${cls}" d="${d}" stroke="${colour}" stroke-width="1.2" fill="none"/>\n`;
}

function bars(low: Float64Array, high: Float64Array, xOf: (c: number) => number, yOf: (v: number) => number, colour: string, cls: string): string {
  let d = '';
  let count = 0;
  for (let c = 0; c < low.length; c++) {
    if (Number.isNaN(low[c]!)) continue;
    const x = xOf(c), y1 = yOf(low[c]!), y2 = yOf(high[c]!);
    d += `M${num(x)},${num(y1)}V${num(y2)}M${num(x - 2)},${num(y1)}h4M${num(x - 2)},${num(y2)}h4`;
    count++;
  }
  if (!d) return '';
  return `<path class="${cls}" data-count="${count}" d="${d}" stroke="${colour}" stroke-width="1.2" fill="none"/>\n`;
}
