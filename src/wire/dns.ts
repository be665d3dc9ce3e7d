/**
 * (One file for the whole message format, over 600 lines: header, names with compression,
 * every record type's data and EDNS share one bounds-checked reader and writer, and splitting
 * them would spread the limits that keep hostile input safe over several files.)
 *
 * DNS messages (RFC 1035 section 4, with the clarifications of RFC 2181, unknown types as in
 * RFC 3597 and EDNS(0) of RFC 6891): parse and emit as pure functions.
 *
 * Parsing never throws: every malformed input yields a string saying what is wrong and
 * where. Compressed names are followed with loop protection (a pointer must point before
 * itself, at most DNS_MAX_POINTER_HOPS pointers per name), labels are at most 63 bytes and
 * names at most 255 bytes in wire form; extended label types (0x40, 0x80) are refused.
 *
 * Names are text in master-file form without the trailing dot ('' is the root): '.' and '\'
 * inside a label are escaped with '\', bytes outside printable ASCII as '\DDD'. Parsed names
 * keep the case they arrived with; compare them with dnsNamesEqual (ASCII case-insensitive,
 * RFC 4343). Record data of A, AAAA, NS, CNAME, PTR, MX, TXT, SRV and SOA is decoded; any
 * other type (and A/AAAA outside class IN) is kept as raw bytes. The OPT pseudo-record is not
 * a record here but the message's `edns` field. TTLs are the raw 32-bit values (RFC 2181 8:
 * a user treats one with the top bit set as 0).
 *
 * A response with TC (truncated) set may end in the middle of its records: its parse stops
 * there and the message says `partial: true` instead of being an error.
 *
 * Emit compresses owner names and the names inside NS, CNAME, PTR, MX and SOA data (never
 * inside SRV or unknown types, RFC 3597 4), with case-sensitive suffix matching so that a
 * message round-trips exactly.
 */

export const DNS_PORT = 53;
export const DNS_HEADER_LENGTH = 12;
/** A name's longest wire form, length bytes and the root's zero included (RFC 1035 2.3.4). */
export const DNS_MAX_NAME_LENGTH = 255;
export const DNS_MAX_LABEL_LENGTH = 63;
/** Compression pointers followed while reading one name (more than any legal name needs). */
export const DNS_MAX_POINTER_HOPS = 127;
/** The largest DNS message (TCP's 2-byte length, RFC 7766). */
export const DNS_MAX_MESSAGE_LENGTH = 65535;
/** UDP messages without EDNS are at most this long (RFC 1035 4.2.1). */
export const DNS_UDP_CLASSIC_LENGTH = 512;
/** The DO bit in the OPT record's flags (RFC 3225). */
export const EDNS_FLAG_DO = 0x8000;

export const DnsType = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33,
  NAPTR: 35, DNAME: 39, OPT: 41, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, SVCB: 64, HTTPS: 65,
  AXFR: 252, ANY: 255, CAA: 257,
} as const;

export const DnsClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(DnsType).map(([k, v]) => [v, k]));
const CLASS_NAMES = new Map<number, string>(Object.entries(DnsClass).map(([k, v]) => [v, k]));
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const OPCODE_NAMES = ['QUERY', 'IQUERY', 'STATUS', 'OPCODE3', 'NOTIFY', 'UPDATE'];

/** 'A', 'MX', ... or RFC 3597's 'TYPE1234'. */
export function dnsTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}

/** The number of a type name ('mx', 'TYPE99' too), or null. */
export function dnsTypeFromName(name: string): number | null {
  const upper = name.toUpperCase();
  const known = (DnsType as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  return m !== null && Number(m[1]) <= 0xffff ? Number(m[1]) : null;
}

export function dnsClassName(cls: number): string {
  return CLASS_NAMES.get(cls) ?? `CLASS${cls}`;
}

export function dnsRcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export function dnsOpcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `OPCODE${opcode}`;
}

export interface DnsHeader {
  id: number;
  /** Response (true) or query. */
  qr: boolean;
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** The reserved bit (must be zero; kept as it arrived). */
  z: boolean;
  /** Authentic data (RFC 4035). */
  ad: boolean;
  /** Checking disabled (RFC 4035). */
  cd: boolean;
  /** The header's 4 bits; with EDNS the full code is dnsFullRcode(message). */
  rcode: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export type DnsRdata =
  | { kind: 'a'; address: number }
  | { kind: 'aaaa'; address: Uint8Array }
  /** NS, CNAME and PTR: one domain name. */
  | { kind: 'name'; target: string }
  | { kind: 'mx'; preference: number; exchange: string }
  /** Character-strings, each at most 255 bytes. */
  | { kind: 'txt'; strings: Uint8Array[] }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: string }
  | { kind: 'soa'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { kind: 'raw'; bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: DnsRdata;
}

export interface DnsEdnsOption {
  code: number;
  data: Uint8Array;
}

/** The OPT pseudo-record (RFC 6891 6.1.2). */
export interface DnsEdns {
  /** The requestor's UDP payload size (the OPT record's CLASS). */
  udpPayloadSize: number;
  /** The upper 8 bits of the 12-bit RCODE. */
  extendedRcode: number;
  version: number;
  /** DO (EDNS_FLAG_DO) and the reserved Z bits. */
  flags: number;
  options: DnsEdnsOption[];
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  /** The additional section without the OPT record, which is `edns`. */
  additionals: DnsRecord[];
  edns: DnsEdns | null;
  /** Set by parse on a TC response whose records end early: what arrived, no error. */
  partial?: boolean;
}

/** What emit takes: any header field left out is zero/false, any section left out empty. */
export interface DnsMessageInit {
  header?: Partial<DnsHeader>;
  questions?: readonly DnsQuestion[];
  answers?: readonly DnsRecord[];
  authorities?: readonly DnsRecord[];
  additionals?: readonly DnsRecord[];
  edns?: DnsEdns | null;
}

/** The 12-bit response code: the header's 4 bits and EDNS's upper 8. */
export function dnsFullRcode(message: DnsMessage): number {
  return ((message.edns?.extendedRcode ?? 0) << 4) | message.header.rcode;
}

// ---------------------------------------------------------------------------------------
// Names as text

const BACKSLASH = 0x5c;
const DOT = 0x2e;

/**
 * The labels of a name in text form, or a string saying why it is not one. Accepts a
 * trailing dot; '' and '.' are the root (no labels).
 */
export function dnsNameToLabels(text: string): Uint8Array[] | string {
  if (typeof text !== 'string') return 'name is not a string';
  if (text === '' || text === '.') return [];
  if (text.length > 4 * DNS_MAX_NAME_LENGTH) return 'name longer than 255 bytes';
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wire = 1;
  const endLabel = (): string | null => {
    if (cur.length === 0) return 'empty label';
    if (cur.length > DNS_MAX_LABEL_LENGTH) return `label longer than ${DNS_MAX_LABEL_LENGTH} bytes`;
    wire += cur.length + 1;
    if (wire > DNS_MAX_NAME_LENGTH) return 'name longer than 255 bytes';
    labels.push(Uint8Array.from(cur));
    cur = [];
    return null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      const d = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) return `bad escape \\${d}`;
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        const n = text.codePointAt(i + 1)!;
        if (n >= 0x80) return 'bad escape of a non-ASCII character';
        cur.push(n);
        i += 1;
      } else return 'name ends with a lone backslash';
    } else if (c === DOT) {
      const err = endLabel();
      if (err !== null) return err;
      if (i === text.length - 1) return labels; // the trailing dot
    } else if (c < 0x80) {
      cur.push(c);
    } else {
      // Non-ASCII text goes on the wire as its UTF-8 bytes (no IDNA here).
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of utf8(cp)) cur.push(b);
    }
    if (cur.length > DNS_MAX_LABEL_LENGTH) return `label longer than ${DNS_MAX_LABEL_LENGTH} bytes`;
  }
  const err = endLabel();
  return err ?? labels;
}

function utf8(cp: number): number[] {
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** One label as master-file text. */
export function dnsLabelToText(buf: Uint8Array, offset = 0, length = buf.length - offset): string {
  let s = '';
  for (let i = offset; i < offset + length; i++) {
    const b = buf[i]!;
    if (b === DOT || b === BACKSLASH) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

export function dnsLabelsToName(labels: readonly Uint8Array[]): string {
  return labels.map((l) => dnsLabelToText(l)).join('.');
}

/** A name's canonical text (escapes normalized, ASCII lowercase, no trailing dot), or null. */
export function canonicalDnsName(text: string): string | null {
  const labels = dnsNameToLabels(text);
  return typeof labels === 'string' ? null : dnsLabelsToName(labels).toLowerCase();
}

/** Whether two names are the same name (ASCII case-insensitive); false if either is invalid. */
export function dnsNamesEqual(a: string, b: string): boolean {
  if (a === b) return true;
  const x = canonicalDnsName(a);
  return x !== null && x === canonicalDnsName(b);
}

// ---------------------------------------------------------------------------------------
// Parse

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** The header alone (12 bytes), or an error. */
export function parseDnsHeader(buf: Uint8Array, offset = 0, length = buf.length - offset): DnsHeader | string {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) return 'bad offset';
  const len = Math.min(Math.max(0, Math.floor(length) || 0), buf.length - offset);
  if (len < DNS_HEADER_LENGTH) return `truncated header (${len} bytes, needs ${DNS_HEADER_LENGTH})`;
  const f = u16(buf, offset + 2);
  return {
    id: u16(buf, offset),
    qr: (f & 0x8000) !== 0,
    opcode: (f >>> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    z: (f & 0x0040) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
  };
}

/** The header's four counts (QD, AN, NS, AR), or null when there is no full header. */
export function dnsHeaderCounts(buf: Uint8Array, offset = 0): [number, number, number, number] | null {
  if (!Number.isInteger(offset) || offset < 0 || buf.length - offset < DNS_HEADER_LENGTH) return null;
  return [u16(buf, offset + 4), u16(buf, offset + 6), u16(buf, offset + 8), u16(buf, offset + 10)];
}

interface NameResult { name: string; next: number }

/**
 * Read a (possibly compressed) name at `pos` of the message `m`; `end` bounds the bytes the
 * name itself may occupy before its first pointer (the end of the record data, say).
 */
function readName(m: Uint8Array, pos: number, end: number): NameResult | string {
  let s = '';
  let wire = 1;
  let hops = 0;
  let next = -1;
  let p = pos;
  let limit = end;
  for (;;) {
    if (p >= limit) return `name at ${pos} runs past the end`;
    const len = m[p]!;
    if (len === 0) {
      if (next < 0) next = p + 1;
      return { name: s, next };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= limit) return `name at ${pos}: compression pointer runs past the end`;
      const target = ((len & 0x3f) << 8) | m[p + 1]!;
      if (target >= p) return `name at ${pos}: compression pointer at ${p} points forward (to ${target})`;
      if (++hops > DNS_MAX_POINTER_HOPS) return `name at ${pos}: more than ${DNS_MAX_POINTER_HOPS} compression pointers`;
      if (next < 0) next = p + 2;
      p = target;
      // What a pointer reaches is earlier in the message, outside the bounds of the record data.
      limit = m.length;
      continue;
    }
    if (kind !== 0) return `name at ${pos}: unsupported label type 0x${kind.toString(16)} at ${p}`;
    if (p + 1 + len > limit) return `name at ${pos}: label runs past the end`;
    wire += len + 1;
    if (wire > DNS_MAX_NAME_LENGTH) return `name at ${pos} is longer than ${DNS_MAX_NAME_LENGTH} bytes`;
    s += (s === '' ? '' : '.') + dnsLabelToText(m, p + 1, len);
    p += 1 + len;
  }
}

class Reader {
  pos = DNS_HEADER_LENGTH;
  constructor(readonly m: Uint8Array) {}
}

function readQuestion(r: Reader, i: number): DnsQuestion | string {
  const n = readName(r.m, r.pos, r.m.length);
  if (typeof n === 'string') return `question ${i + 1}: ${n}`;
  if (n.next + 4 > r.m.length) return `question ${i + 1}: truncated`;
  const q = { name: n.name, type: u16(r.m, n.next), class: u16(r.m, n.next + 2) };
  r.pos = n.next + 4;
  return q;
}

type RawRecord = { name: string; type: number; class: number; ttl: number; rdStart: number; rdEnd: number };

function readRecordHeader(r: Reader, where: string): RawRecord | string {
  const n = readName(r.m, r.pos, r.m.length);
  if (typeof n === 'string') return `${where}: ${n}`;
  const p = n.next;
  if (p + 10 > r.m.length) return `${where}: truncated record header`;
  const rdLength = u16(r.m, p + 8);
  if (p + 10 + rdLength > r.m.length) return `${where}: rdata (${rdLength} bytes) runs past the end`;
  r.pos = p + 10 + rdLength;
  return { name: n.name, type: u16(r.m, p), class: u16(r.m, p + 2), ttl: u32(r.m, p + 4), rdStart: p + 10, rdEnd: p + 10 + rdLength };
}

/** Decode the rdata of the known types; anything else (or a class other than IN for A/AAAA) stays raw. */
function readRdata(m: Uint8Array, rr: RawRecord, where: string): DnsRdata | string {
  const { rdStart: s, rdEnd: e, type } = rr;
  const len = e - s;
  const name = (p: number): NameResult | string => {
    const n = readName(m, p, e);
    return typeof n === 'string' ? `${where}: ${dnsTypeName(type)} data: ${n}` : n;
  };
  const exact = (n: NameResult, extra: number): string | null =>
    n.next + extra === e ? null : `${where}: ${dnsTypeName(type)} data has ${e - n.next - extra} bytes too ${n.next + extra > e ? 'few' : 'many'}`;
  switch (type) {
    case DnsType.A:
      if (rr.class !== DnsClass.IN) break;
      if (len !== 4) return `${where}: A data is ${len} bytes, not 4`;
      return { kind: 'a', address: u32(m, s) };
    case DnsType.AAAA:
      if (rr.class !== DnsClass.IN) break;
      if (len !== 16) return `${where}: AAAA data is ${len} bytes, not 16`;
      return { kind: 'aaaa', address: m.slice(s, e) };
    case DnsType.NS: case DnsType.CNAME: case DnsType.PTR: {
      const n = name(s);
      if (typeof n === 'string') return n;
      return exact(n, 0) ?? { kind: 'name', target: n.name };
    }
    case DnsType.MX: {
      if (len < 3) return `${where}: MX data too short`;
      const n = name(s + 2);
      if (typeof n === 'string') return n;
      return exact(n, 0) ?? { kind: 'mx', preference: u16(m, s), exchange: n.name };
    }
    case DnsType.SRV: {
      if (len < 7) return `${where}: SRV data too short`;
      const n = name(s + 6);
      if (typeof n === 'string') return n;
      return exact(n, 0) ?? { kind: 'srv', priority: u16(m, s), weight: u16(m, s + 2), port: u16(m, s + 4), target: n.name };
    }
    case DnsType.SOA: {
      const mn = name(s);
      if (typeof mn === 'string') return mn;
      const rn = name(mn.next);
      if (typeof rn === 'string') return rn;
      const bad = exact(rn, 20);
      if (bad !== null) return bad;
      const p = rn.next;
      return { kind: 'soa', mname: mn.name, rname: rn.name, serial: u32(m, p), refresh: u32(m, p + 4), retry: u32(m, p + 8), expire: u32(m, p + 12), minimum: u32(m, p + 16) };
    }
    case DnsType.TXT: {
      const strings: Uint8Array[] = [];
      for (let p = s; p < e;) {
        const l = m[p]!;
        if (p + 1 + l > e) return `${where}: TXT string runs past the record data`;
        strings.push(m.slice(p + 1, p + 1 + l));
        p += 1 + l;
      }
      return { kind: 'txt', strings };
    }
    default: break;
  }
  return { kind: 'raw', bytes: m.slice(s, e) };
}

function readEdns(m: Uint8Array, rr: RawRecord, where: string): DnsEdns | string {
  if (rr.name !== '') return `${where}: OPT record with a name other than the root`;
  const options: DnsEdnsOption[] = [];
  for (let p = rr.rdStart; p < rr.rdEnd;) {
    if (p + 4 > rr.rdEnd) return `${where}: truncated EDNS option header`;
    const code = u16(m, p), l = u16(m, p + 2);
    if (p + 4 + l > rr.rdEnd) return `${where}: EDNS option ${code} runs past the record data`;
    options.push({ code, data: m.slice(p + 4, p + 4 + l) });
    p += 4 + l;
  }
  return { udpPayloadSize: rr.class, extendedRcode: rr.ttl >>> 24, version: (rr.ttl >>> 16) & 0xff, flags: rr.ttl & 0xffff, options };
}

const SECTIONS = ['answer', 'authority', 'additional'] as const;

/**
 * Parse a whole DNS message (a UDP payload, or a TCP message without its length prefix).
 * Returns the message or a string saying why it is malformed; never throws. Bytes after the
 * last record are ignored.
 */
export function parseDns(buf: Uint8Array, offset = 0, length = buf.length - offset): DnsMessage | string {
  try {
    return parseUnsafe(buf, offset, length);
  } catch (err) {
    // Not expected: every read above is bounds-checked. A last resort, so bad bytes never throw.
    return `internal parse error: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function parseUnsafe(buf: Uint8Array, offset: number, length: number): DnsMessage | string {
  if (!(buf instanceof Uint8Array)) return 'not a byte array';
  const header = parseDnsHeader(buf, offset, length);
  if (typeof header === 'string') return header;
  const len = Math.min(Math.max(0, Math.floor(length) || 0), buf.length - offset);
  const m = buf.subarray(offset, offset + len);
  const r = new Reader(m);
  const [qd, an, ns, ar] = dnsHeaderCounts(m)!;
  const msg: DnsMessage = { header, questions: [], answers: [], authorities: [], additionals: [], edns: null };
  for (let i = 0; i < qd; i++) {
    const q = readQuestion(r, i);
    if (typeof q === 'string') return q;
    msg.questions.push(q);
  }
  const counts = [an, ns, ar] as const;
  const lists = [msg.answers, msg.authorities, msg.additionals];
  for (let sec = 0; sec < 3; sec++) {
    for (let i = 0; i < counts[sec]!; i++) {
      const where = `${SECTIONS[sec]} ${i + 1}`;
      if (header.tc && r.pos >= m.length) {
        msg.partial = true;
        return msg;
      }
      const rr = readRecordHeader(r, where);
      if (typeof rr === 'string') {
        if (header.tc) {
          msg.partial = true;
          return msg;
        }
        return rr;
      }
      if (rr.type === DnsType.OPT) {
        if (sec !== 2) return `${where}: OPT record outside the additional section`;
        if (msg.edns !== null) return `${where}: a second OPT record`;
        const e = readEdns(m, rr, where);
        if (typeof e === 'string') return e;
        msg.edns = e;
        continue;
      }
      const data = readRdata(m, rr, where);
      if (typeof data === 'string') return data;
      lists[sec]!.push({ name: rr.name, type: rr.type, class: rr.class, ttl: rr.ttl, data });
    }
  }
  return msg;
}

// ---------------------------------------------------------------------------------------
// Emit

class EmitError {
  constructor(readonly reason: string) {}
}

class Writer {
  pos: number;
  private readonly names = new Map<string, number>();

  constructor(public buf: Uint8Array, readonly base: number, readonly growable: boolean) {
    this.pos = base;
  }

  private room(n: number): void {
    if (this.pos - this.base + n > DNS_MAX_MESSAGE_LENGTH) throw new EmitError(`message longer than ${DNS_MAX_MESSAGE_LENGTH} bytes`);
    if (this.pos + n <= this.buf.length) return;
    if (!this.growable) throw new EmitError(`buffer too small (${this.buf.length - this.base} bytes from the offset)`);
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = new Uint8Array(Math.min(size, DNS_MAX_MESSAGE_LENGTH + this.base));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new EmitError(`${what} ${String(v)} is not a 16-bit value`);
    this.room(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new EmitError(`${what} ${String(v)} is not a 32-bit value`);
    this.room(4);
    this.buf[this.pos++] = v >>> 24;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A name, compressed against earlier ones when `compress`. */
  name(text: string, compress: boolean, what: string): void {
    const labels = dnsNameToLabels(text);
    if (typeof labels === 'string') throw new EmitError(`${what}: ${labels} (${JSON.stringify(String(text)).slice(0, 80)})`);
    const texts = labels.map((l) => dnsLabelToText(l));
    for (let i = 0; i < labels.length; i++) {
      const key = texts.slice(i).join('.');
      const at = this.names.get(key);
      if (compress && at !== undefined) {
        this.u16(0xc000 | at, 'pointer');
        return;
      }
      const here = this.pos - this.base;
      if (at === undefined && here < 0x4000) this.names.set(key, here);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
}

function emitRdata(w: Writer, rr: DnsRecord, where: string): void {
  const d = rr.data;
  if (d === null || typeof d !== 'object') throw new EmitError(`${where}: no data`);
  const compress = rr.type === DnsType.NS || rr.type === DnsType.CNAME || rr.type === DnsType.PTR || rr.type === DnsType.MX || rr.type === DnsType.SOA;
  switch (d.kind) {
    case 'a': w.u32(d.address, `${where}: address`); break;
    case 'aaaa':
      if (!(d.address instanceof Uint8Array) || d.address.length !== 16) throw new EmitError(`${where}: AAAA address is not 16 bytes`);
      w.bytes(d.address);
      break;
    case 'name': w.name(d.target, compress, `${where}: target`); break;
    case 'mx':
      w.u16(d.preference, `${where}: preference`);
      w.name(d.exchange, compress, `${where}: exchange`);
      break;
    case 'srv':
      w.u16(d.priority, `${where}: priority`);
      w.u16(d.weight, `${where}: weight`);
      w.u16(d.port, `${where}: port`);
      w.name(d.target, false, `${where}: target`);
      break;
    case 'soa':
      w.name(d.mname, compress, `${where}: mname`);
      w.name(d.rname, compress, `${where}: rname`);
      w.u32(d.serial, `${where}: serial`);
      w.u32(d.refresh, `${where}: refresh`);
      w.u32(d.retry, `${where}: retry`);
      w.u32(d.expire, `${where}: expire`);
      w.u32(d.minimum, `${where}: minimum`);
      break;
    case 'txt':
      if (!Array.isArray(d.strings)) throw new EmitError(`${where}: TXT strings is not an array`);
      for (const s of d.strings) {
        if (!(s instanceof Uint8Array) || s.length > 255) throw new EmitError(`${where}: a TXT string is not at most 255 bytes`);
        w.u8(s.length);
        w.bytes(s);
      }
      break;
    case 'raw':
      if (!(d.bytes instanceof Uint8Array)) throw new EmitError(`${where}: raw data is not bytes`);
      w.bytes(d.bytes);
      break;
    default: throw new EmitError(`${where}: unknown data kind ${JSON.stringify((d as { kind: unknown }).kind)}`);
  }
}

function emitRecord(w: Writer, rr: DnsRecord, where: string): void {
  w.name(rr.name, true, `${where}: name`);
  w.u16(rr.type, `${where}: type`);
  w.u16(rr.class, `${where}: class`);
  w.u32(rr.ttl, `${where}: ttl`);
  const lengthAt = w.pos;
  w.u16(0, 'rdlength');
  emitRdata(w, rr, where);
  const rdLength = w.pos - lengthAt - 2;
  if (rdLength > 0xffff) throw new EmitError(`${where}: rdata longer than 65535 bytes`);
  w.buf[lengthAt] = rdLength >>> 8;
  w.buf[lengthAt + 1] = rdLength & 0xff;
}

function bit(b: boolean | undefined, v: number): number {
  return b === true ? v : 0;
}

/**
 * Write a message. With `buf`, into it at `offset` (an error if it does not fit); without, into
 * a new array. Returns the bytes written (a view of `buf`, or the new array), or a string
 * saying why the message cannot be written (a bad name, a value out of range, too long).
 */
export function emitDns(message: DnsMessageInit, buf?: Uint8Array, offset = 0): Uint8Array | string {
  const w = new Writer(buf ?? new Uint8Array(512), buf === undefined ? 0 : offset, buf === undefined);
  try {
    if (!Number.isInteger(offset) || offset < 0 || offset > w.buf.length) throw new EmitError('bad offset');
    const h = message.header ?? {};
    const questions = message.questions ?? [];
    const answers = message.answers ?? [];
    const authorities = message.authorities ?? [];
    const additionals = message.additionals ?? [];
    const edns = message.edns ?? null;
    const opcode = h.opcode ?? 0, rcode = h.rcode ?? 0;
    if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15) throw new EmitError(`opcode ${String(opcode)} is not 4 bits`);
    if (!Number.isInteger(rcode) || rcode < 0 || rcode > 15) throw new EmitError(`rcode ${String(rcode)} is not 4 bits (the rest goes in edns.extendedRcode)`);
    w.u16(h.id ?? 0, 'id');
    w.u16(bit(h.qr, 0x8000) | (opcode << 11) | bit(h.aa, 0x400) | bit(h.tc, 0x200) | bit(h.rd, 0x100) | bit(h.ra, 0x80)
      | bit(h.z, 0x40) | bit(h.ad, 0x20) | bit(h.cd, 0x10) | rcode, 'flags');
    w.u16(questions.length, 'question count');
    w.u16(answers.length, 'answer count');
    w.u16(authorities.length, 'authority count');
    w.u16(additionals.length + (edns !== null ? 1 : 0), 'additional count');
    questions.forEach((q, i) => {
      w.name(q.name, true, `question ${i + 1}: name`);
      w.u16(q.type, `question ${i + 1}: type`);
      w.u16(q.class, `question ${i + 1}: class`);
    });
    answers.forEach((rr, i) => emitRecord(w, rr, `answer ${i + 1}`));
    authorities.forEach((rr, i) => emitRecord(w, rr, `authority ${i + 1}`));
    additionals.forEach((rr, i) => emitRecord(w, rr, `additional ${i + 1}`));
    if (edns !== null) {
      const ttl = edns.extendedRcode * 0x1000000 + edns.version * 0x10000 + edns.flags;
      if (![edns.extendedRcode, edns.version].every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) throw new EmitError('EDNS extended rcode and version are 8 bits each');
      if (!Number.isInteger(edns.flags) || edns.flags < 0 || edns.flags > 0xffff) throw new EmitError('EDNS flags are 16 bits');
      w.u8(0);
      w.u16(DnsType.OPT, 'type');
      w.u16(edns.udpPayloadSize, 'EDNS UDP payload size');
      w.u32(ttl, 'EDNS ttl');
      const options = edns.options ?? [];
      let rdLength = 0;
      for (const o of options) rdLength += 4 + (o.data?.length ?? 0);
      w.u16(rdLength, 'EDNS options length');
      for (const o of options) {
        if (!(o.data instanceof Uint8Array)) throw new EmitError('EDNS option data is not bytes');
        w.u16(o.code, 'EDNS option code');
        w.u16(o.data.length, 'EDNS option length');
        w.bytes(o.data);
      }
    }
  } catch (err) {
    if (err instanceof EmitError) return err.reason;
    return `internal emit error: ${err instanceof Error ? err.message : String(err)}`;
  }
  return w.buf.subarray(w.base, w.pos);
}

export interface DnsQueryInit {
  id: number;
  name: string;
  type: number;
  /** Default IN. */
  class?: number;
  /** Recursion desired; default true (a stub asks a recursive server). */
  rd?: boolean;
  /** Checking disabled. */
  cd?: boolean;
  /** Ask for the AD bit (RFC 6840 5.7). */
  ad?: boolean;
  /** Add an OPT record advertising this UDP payload size (EDNS0); 0 or absent: none. */
  udpPayloadSize?: number;
  /** Set DO in the OPT record. */
  dnssecOk?: boolean;
}

/** The message of a standard query for one question. */
export function dnsQuery(q: DnsQueryInit): DnsMessageInit {
  const size = q.udpPayloadSize ?? 0;
  return {
    header: { id: q.id, rd: q.rd ?? true, cd: q.cd ?? false, ad: q.ad ?? false },
    questions: [{ name: q.name, type: q.type, class: q.class ?? DnsClass.IN }],
    edns: size > 0 ? { udpPayloadSize: size, extendedRcode: 0, version: 0, flags: q.dnssecOk === true ? EDNS_FLAG_DO : 0, options: [] } : null,
  };
}

/** Write a standard query (see emitDns for `buf`, `offset` and the result). */
export function emitDnsQuery(q: DnsQueryInit, buf?: Uint8Array, offset = 0): Uint8Array | string {
  return emitDns(dnsQuery(q), buf, offset);
}
