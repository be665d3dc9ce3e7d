/**
 * A ladder (message sequence) diagram of a capture: one lifeline per host, one arrow per packet
 * with its relative time, protocol and the facts a textbook would print (tcpdump's TCP flags
 * and relative seq/ack/length, ICMP type and sequence, ARP who-has/is-at, UDP ports, the DNS
 * question). The model keeps only the first `maxArrows` arrows and counts the rest, so a big
 * capture costs no more than a small one.
 */

import { TcpFlag, tcpFlagsShort, icmpTypeName, parseDns, dnsTypeName } from '../wire/index.js';
import type { PacketFacts } from './capture-packet.js';
import { connDirection, type ConnSpec } from './capture-conn.js';
import { line, num, svgClose, svgOpen, text } from './svg.js';

export type ArrowStyle = 'normal' | 'retransmission' | 'broadcast' | 'reset';

export interface LadderArrow {
  /** Seconds since the first drawn packet. */
  time: number;
  from: string;
  to: string;
  protocol: string;
  label: string;
  style: ArrowStyle;
}

export interface LadderOptions {
  maxArrows: number;
  conn?: ConnSpec;
}

interface DirectionState {
  isn: number;
  /** Highest relative sequence end sent so far (retransmission detection). */
  highest: number;
}

/** Relative difference a - b in 32-bit sequence space, as a non-negative number. */
function rel(a: number, b: number): number {
  return (a - b) >>> 0;
}

export class LadderModel {
  readonly arrows: LadderArrow[] = [];
  /** Lifelines in order of first appearance. */
  readonly hosts: string[] = [];
  /** A MAC address seen for a host, shown under its name. */
  readonly macs = new Map<string, string>();
  /** Packets that matched but were not drawn because of the limit. */
  omitted = 0;
  /** Packets that could not be decoded to a sender and receiver. */
  undrawable = 0;
  private firstTime = Number.NaN;
  private readonly tcp = new Map<string, DirectionState>();

  constructor(private readonly options: LadderOptions) {}

  add(time: number, f: PacketFacts): void {
    if (this.options.conn !== undefined && connDirection(this.options.conn, f) === 0) return;
    if (f.kind === 'other') { if (this.options.conn === undefined) this.undrawable++; return; }
    if (this.arrows.length >= this.options.maxArrows) { this.omitted++; return; }
    if (Number.isNaN(this.firstTime)) this.firstTime = time;
    const arrow: LadderArrow = { time: time - this.firstTime, from: f.src, to: f.dst, protocol: '', label: '', style: 'normal' };
    switch (f.kind) {
      case 'tcp': this.describeTcp(f, arrow); break;
      case 'udp': this.describeUdp(f, arrow); break;
      case 'icmp': case 'icmp6': this.describeIcmp(f, arrow); break;
      case 'arp': this.describeArp(f, arrow); break;
      default:
        if (f.fragmentOffset !== 0) arrow.protocol = `IP fragment ${PROTOCOL_NAMES[f.ipProtocol] ?? `proto ${f.ipProtocol}`}`;
        else { arrow.protocol = `IP proto ${f.ipProtocol}`; arrow.label = `${f.ipVersion === 6 ? 'next header' : 'protocol'} ${f.ipProtocol}`; }
    }
    // A fragment says where its bytes go and whether more follow, as tcpdump -v's "offset N, flags [+]".
    if (f.fragmentOffset !== 0 || f.moreFragments) {
      arrow.label += `${arrow.label === '' ? '' : ', '}offset ${f.fragmentOffset}${f.moreFragments ? ', MF' : ''}`;
    }
    this.host(arrow.from, f.srcMac);
    this.host(arrow.to, f.kind === 'arp' ? '' : f.dstMac);
    this.arrows.push(arrow);
  }

  private host(address: string, mac: string): void {
    if (!this.macs.has(address) && mac !== '' && mac !== '00:00:00:00:00:00' && mac !== 'ff:ff:ff:ff:ff:ff') this.macs.set(address, mac);
    if (!this.hosts.includes(address)) this.hosts.push(address);
  }

  private describeTcp(f: PacketFacts, arrow: LadderArrow): void {
    arrow.protocol = `TCP ${f.srcPort} → ${f.dstPort}`;
    const key = `${f.src} ${f.srcPort} ${f.dst} ${f.dstPort}`;
    const back = `${f.dst} ${f.dstPort} ${f.src} ${f.srcPort}`;
    let me = this.tcp.get(key);
    const syn = (f.flags & TcpFlag.SYN) !== 0;
    if (me === undefined || (syn && me.highest === 0)) {
      me = { isn: f.seq, highest: 0 };
      this.tcp.set(key, me);
    }
    const peer = this.tcp.get(back);
    const start = rel(f.seq, me.isn);
    const span = f.payloadLength + (syn ? 1 : 0) + (f.flags & TcpFlag.FIN ? 1 : 0);
    const parts = [`[${tcpFlagsShort(f.flags)}]`];
    parts.push(f.payloadLength > 0 ? `seq ${start}:${start + f.payloadLength}` : `seq ${start}`);
    if (f.flags & TcpFlag.ACK) parts.push(`ack ${peer ? rel(f.ack, peer.isn) : f.ack}`);
    parts.push(`win ${f.window}`);
    if (f.options.mss >= 0) parts.push(`mss ${f.options.mss}`);
    if (f.options.windowScale >= 0) parts.push(`wscale ${f.options.windowScale}`);
    if (f.options.sackCount > 0 && peer) {
      const blocks: string[] = [];
      for (let i = 0; i < f.options.sackCount; i++) blocks.push(`${rel(f.options.sackBlocks[2 * i]!, peer.isn)}:${rel(f.options.sackBlocks[2 * i + 1]!, peer.isn)}`);
      parts.push(`sack ${blocks.join(' ')}`);
    }
    parts.push(`length ${f.payloadLength}`);
    if (span > 0 && start < me.highest) {
      arrow.style = 'retransmission';
      parts.push('(retransmission)');
    } else if (f.flags & TcpFlag.RST) arrow.style = 'reset';
    if (start + span > me.highest) me.highest = start + span;
    arrow.label = parts.join(', ').replace(/^(\[[^\]]*\]),/, '$1');
  }

  private describeUdp(f: PacketFacts, arrow: LadderArrow): void {
    arrow.protocol = `UDP ${f.srcPort} → ${f.dstPort}`;
    arrow.label = `length ${f.payloadLength}`;
    if ((f.srcPort === 53 || f.dstPort === 53 || f.srcPort === 5353 || f.dstPort === 5353) && f.capturedPayload >= 12) {
      const m = parseDns(f.buf, f.payloadOffset, f.capturedPayload);
      if (typeof m !== 'string') {
        arrow.protocol = `DNS ${f.srcPort} → ${f.dstPort}`;
        const q = m.questions[0];
        const question = q ? `${dnsTypeName(q.type)} ${q.name || '.'}` : '';
        arrow.label = m.header.qr ? `response ${question}, ${m.answers.length} answers` : `query ${question}`;
      }
    }
  }

  private describeIcmp(f: PacketFacts, arrow: LadderArrow): void {
    arrow.protocol = f.kind === 'icmp' ? 'ICMP' : 'ICMPv6';
    const echo = f.kind === 'icmp' ? f.icmpType === 8 || f.icmpType === 0 : f.icmpType === 128 || f.icmpType === 129;
    const name = f.kind === 'icmp' ? icmpTypeName(f.icmpType) : icmp6Name(f.icmpType);
    arrow.label = echo ? `${name}, id ${f.echoId}, seq ${f.echoSeq}` : `${name}, code ${f.icmpCode}`;
  }

  private describeArp(f: PacketFacts, arrow: LadderArrow): void {
    arrow.protocol = 'ARP';
    if (f.arpOp === 1) {
      arrow.label = f.src === f.dst ? `announce ${f.src}` : `who-has ${f.dst} tell ${f.src}`;
      arrow.style = 'broadcast';
    } else if (f.arpOp === 2) arrow.label = `${f.src} is-at ${f.srcMac}`;
    else arrow.label = `op ${f.arpOp}`;
  }
}

const PROTOCOL_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

function icmp6Name(type: number): string {
  switch (type) {
    case 1: return 'destination unreachable';
    case 2: return 'packet too big';
    case 3: return 'time exceeded';
    case 128: return 'echo request';
    case 129: return 'echo reply';
    case 133: return 'router solicitation';
    case 134: return 'router advertisement';
    case 135: return 'neighbor solicitation';
    case 136: return 'neighbor advertisement';
    default: return `type ${type}`;
  }
}

const LANE = 300;
const LEFT = 110;
const TOP = 70;
const ROW = 30;

const STYLE_COLOUR: Record<ArrowStyle, string> = { normal: '#1f4e9c', retransmission: '#d62728', broadcast: '#6a6a6a', reset: '#9c1f8f' };

/** The diagram as a self-contained SVG document. */
export function renderLadder(model: LadderModel, title: string, extraNotes: readonly string[] = []): string {
  const hosts = model.hosts;
  const notes = [...extraNotes];
  if (model.omitted > 0) notes.push(`${model.omitted} more packets not drawn (raise the limit with -c)`);
  if (model.undrawable > 0) notes.push(`${model.undrawable} packets of other kinds not drawn`);
  const width = LEFT + Math.max(1, hosts.length) * LANE;
  const bottom = TOP + (model.arrows.length + 1) * ROW;
  const height = bottom + 20 + notes.length * 16;
  const x = (h: string) => LEFT + LANE / 2 + hosts.indexOf(h) * LANE;
  let out = svgOpen(width, height, title);
  out += '<defs>';
  for (const [style, colour] of Object.entries(STYLE_COLOUR)) {
    out += `<marker id="head-${style}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${colour}"/></marker>`;
  }
  out += '</defs>\n';
  out += text(10, 20, title, 'font-size="13" font-weight="bold"');
  out += text(10, TOP - 8, 'time (s)', 'fill="#555"');
  for (const h of hosts) {
    out += text(x(h), 36, h, 'text-anchor="middle" font-weight="bold" class="host"');
    const mac = model.macs.get(h);
    if (mac) out += text(x(h), 50, mac, 'text-anchor="middle" fill="#555"');
    out += line(x(h), TOP - 4, x(h), bottom, 'stroke="#999" stroke-dasharray="4 3"');
  }
  model.arrows.forEach((a, i) => {
    const y = TOP + (i + 1) * ROW;
    const colour = STYLE_COLOUR[a.style];
    out += `<g class="arrow ${a.style}">\n`;
    out += text(10, y + 4, a.time.toFixed(6), 'fill="#555"');
    const x1 = x(a.from), x2 = x(a.to);
    const caption = `${a.protocol} ${a.label}`;
    if (x1 === x2) {
      out += `<path d="M${num(x1)},${num(y - 6)} h30 v12 h-30" fill="none" stroke="${colour}" marker-end="url(#head-${a.style})"/>\n`;
      out += text(x1 + 36, y + 4, caption, `fill="${colour}" class="label"`);
    } else {
      out += line(x1, y, x2, y, `stroke="${colour}" stroke-width="1.3"${a.style === 'broadcast' ? ' stroke-dasharray="6 3"' : ''} marker-end="url(#head-${a.style})"`);
      out += text((x1 + x2) / 2, y - 4, caption, `text-anchor="middle" fill="${colour}" class="label"`);
    }
    out += '</g>\n';
  });
  notes.forEach((n, i) => { out += text(10, bottom + 20 + i * 16, n, 'fill="#555" class="note"'); });
  return out + svgClose();
}
