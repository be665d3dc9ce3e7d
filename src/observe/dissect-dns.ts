/**
 * A DNS message (a UDP payload, port 53) as a seed-style log block: the header's fields, then
 * each question and record in master-file form, the way dig shows them:
 *
 *   incoming dns response (id 0x1001)
 *     flags:      response, QUERY, AA RD RA (0x8580)
 *     rcode:      NOERROR (0)
 *     counts:     1 question, 2 answers, 0 authority, 0 additional
 *     question:   www.example.test. IN A
 *     answer:     www.example.test. 300 IN CNAME host.example.test.
 *     answer:     host.example.test. 300 IN A 192.0.2.81
 *     edns:       version 0, udp 1232, flags -
 *
 * Nothing here throws, whatever the bytes: a message that does not parse still shows its
 * header when it has one, then a "malformed: <reason>" line (and the block's `malformed`).
 *
 * The block has the shape of dissect.ts's DissectionBlock; it is declared here, not imported,
 * so that dissect.ts can import this module without a cycle.
 */

import { ipv4ToString } from '../wire/addr.js';
import { ipv6ToString } from '../wire/addr6.js';
import {
  dnsClassName, dnsHeaderCounts, dnsOpcodeName, dnsRcodeName, dnsTypeName, parseDns, parseDnsHeader,
  EDNS_FLAG_DO, type DnsHeader, type DnsQuestion, type DnsRecord,
} from '../wire/dns.js';

export interface DnsDissectionBlock {
  title: string;
  lines: string[];
  malformed?: string;
}

export interface DnsDissectOptions {
  /** Show at most this many records per section, then say how many were left out. Default: all. */
  maxRecords?: number;
}

const LABEL_WIDTH = 12; // "additional: "

function field(name: string, value: string): string {
  return (name + ':').padEnd(LABEL_WIDTH) + value;
}

function hex(n: number, digits: number): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

const fqdn = (name: string) => (name === '' ? '.' : name + '.');

function bytesHex(b: Uint8Array, max = 32): string {
  const shown = [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, '0')).join('');
  return b.length > max ? `${shown}... (${b.length} bytes)` : shown;
}

/** A character-string as dig quotes it. */
function quoted(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s + '"';
}

function flagsText(h: DnsHeader, word: number): string {
  const bits = [h.aa && 'AA', h.tc && 'TC', h.rd && 'RD', h.ra && 'RA', h.z && 'Z', h.ad && 'AD', h.cd && 'CD'].filter(Boolean).join(' ');
  return `${h.qr ? 'response' : 'query'}, ${dnsOpcodeName(h.opcode)}, ${bits || '-'} (${hex(word, 4)})`;
}

export function dnsQuestionText(q: DnsQuestion): string {
  return `${fqdn(q.name)} ${dnsClassName(q.class)} ${dnsTypeName(q.type)}`;
}

/** A record as one master-file line: name TTL class type data. */
export function dnsRecordText(rr: DnsRecord): string {
  const d = rr.data;
  let data: string;
  switch (d.kind) {
    case 'a': data = ipv4ToString(d.address); break;
    case 'aaaa': data = ipv6ToString(d.address); break;
    case 'name': data = fqdn(d.target); break;
    case 'mx': data = `${d.preference} ${fqdn(d.exchange)}`; break;
    case 'srv': data = `${d.priority} ${d.weight} ${d.port} ${fqdn(d.target)}`; break;
    case 'soa': data = `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`; break;
    case 'txt': data = d.strings.map(quoted).join(' '); break;
    case 'raw': data = `\\# ${d.bytes.length}${d.bytes.length > 0 ? ' ' + bytesHex(d.bytes) : ''}`; break; // RFC 3597 form
  }
  return `${fqdn(rr.name)} ${rr.ttl} ${dnsClassName(rr.class)} ${dnsTypeName(rr.type)} ${data}`;
}

/** `length` is the UDP payload's; every byte outside [offset, offset+length) is ignored. */
export function dissectDns(
  direction: 'incoming' | 'outgoing', buf: Uint8Array, offset = 0, length = buf.length - offset, options: DnsDissectOptions = {},
): DnsDissectionBlock {
  const lines: string[] = [];
  try {
    const len = Number.isInteger(offset) && offset >= 0 && offset <= buf.length ? Math.min(Math.max(0, Math.floor(length) || 0), buf.length - offset) : 0;
    const view = buf.subarray(Math.min(Math.max(0, offset | 0), buf.length), Math.min(Math.max(0, offset | 0), buf.length) + len);
    const header = parseDnsHeader(view);
    if (typeof header === 'string') {
      lines.push('malformed: ' + header);
      return { title: `${direction} dns message`, lines, malformed: header };
    }
    const title = `${direction} dns ${header.qr ? 'response' : 'query'} (id ${hex(header.id, 4)})`;
    const [qd, an, ns, ar] = dnsHeaderCounts(view)!;
    lines.push(field('flags', flagsText(header, (view[2]! << 8) | view[3]!)));
    const m = parseDns(view);
    const rcode = typeof m === 'string' ? header.rcode : ((m.edns?.extendedRcode ?? 0) << 4) | header.rcode;
    lines.push(field('rcode', `${dnsRcodeName(rcode)} (${rcode})`));
    lines.push(field('counts', `${qd} question${qd === 1 ? '' : 's'}, ${an} answer${an === 1 ? '' : 's'}, ${ns} authority, ${ar} additional`));
    if (typeof m === 'string') {
      lines.push('malformed: ' + m);
      return { title, lines, malformed: m };
    }
    const max = options.maxRecords ?? Infinity;
    const section = (name: string, texts: string[]) => {
      texts.slice(0, max).forEach((t) => lines.push(field(name, t)));
      if (texts.length > max) lines.push(field(name, `... ${texts.length - max} more`));
    };
    section('question', m.questions.map(dnsQuestionText));
    section('answer', m.answers.map(dnsRecordText));
    section('authority', m.authorities.map(dnsRecordText));
    section('additional', m.additionals.map(dnsRecordText));
    if (m.edns !== null) {
      const e = m.edns;
      const opts = e.options.map((o) => `option ${o.code} (${o.data.length} bytes)`).join(', ');
      lines.push(field('edns', `version ${e.version}, udp ${e.udpPayloadSize}, flags ${(e.flags & EDNS_FLAG_DO) !== 0 ? 'do' : '-'}${opts !== '' ? ', ' + opts : ''}`));
    }
    if (m.partial === true) lines.push(field('truncated', 'records end early (TC set)'));
    return { title, lines };
  } catch (err) {
    // Not expected; a log line must never take the stack down.
    const reason = `internal error: ${err instanceof Error ? err.message : String(err)}`;
    lines.push('malformed: ' + reason);
    return { title: `${direction} dns message`, lines, malformed: reason };
  }
}
