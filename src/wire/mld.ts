/**
 * Multicast Listener Discovery: MLDv1 (RFC 2710) query, report and done, MLDv2 (RFC 3810)
 * query and report with multicast address records. Parse returns objects (control traffic,
 * a few packets per group per minute); emit writes the whole ICMPv6 message with its
 * checksum. Every MLD packet goes out with hop limit 1 from a link-local source and a
 * Hop-by-Hop Router Alert (value 0): see emitRouterAlertHopByHop in ipv6-ext.ts.
 */

import { readIpv6, writeIpv6, type Ipv6Address } from './addr6.js';
import { Icmpv6Type, fillIcmpv6Checksum } from './icmpv6.js';

export const MLD_HOP_LIMIT = 1;
export const MLDV1_LENGTH = 24;
export const MLDV2_QUERY_MIN_LENGTH = 28;

/** Multicast address record types (RFC 3810 5.2.12), shared with IGMPv3 group records. */
export const MulticastRecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
  AllowNewSources: 5,
  BlockOldSources: 6,
} as const;

export function multicastRecordTypeName(type: number): string {
  return ['', 'MODE_IS_INCLUDE', 'MODE_IS_EXCLUDE', 'CHANGE_TO_INCLUDE_MODE', 'CHANGE_TO_EXCLUDE_MODE',
    'ALLOW_NEW_SOURCES', 'BLOCK_OLD_SOURCES'][type] ?? `type ${type}`;
}

export interface MldQuery {
  kind: 'query';
  version: 1 | 2;
  /** The raw Maximum Response Code (v2) or Delay (v1). */
  maxResponseCode: number;
  /** Milliseconds. */
  maxResponseDelay: number;
  /** :: for a general query. */
  group: Ipv6Address;
  /** v2: S, suppress router-side processing. */
  suppressRouterSide: boolean;
  /** v2: QRV (0 means "use the default"). */
  robustness: number;
  /** v2: the raw QQIC. */
  qqic: number;
  /** v2: seconds, decoded from QQIC. */
  queryInterval: number;
  sources: Ipv6Address[];
}
export interface MldV1Report { kind: 'report'; group: Ipv6Address }
export interface MldDone { kind: 'done'; group: Ipv6Address }
export interface MldRecord {
  type: number;
  group: Ipv6Address;
  sources: Ipv6Address[];
  /** Auxiliary data (RFC 3810 says none is defined; kept to be shown). */
  auxData: Uint8Array;
}
export interface MldV2Report { kind: 'report2'; records: MldRecord[] }

export type MldMessage = MldQuery | MldV1Report | MldDone | MldV2Report;

export function isMldType(type: number): boolean {
  return type === 130 || type === 131 || type === 132 || type === 143;
}

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;

/** RFC 3810 5.1.3: the Maximum Response Code as milliseconds. */
export function mldMaxResponseDelay(code: number): number {
  if (code < 0x8000) return code;
  return ((code & 0x0fff) | 0x1000) << (((code >>> 12) & 7) + 3);
}

/** The Maximum Response Code for a delay in milliseconds (rounded down to what the format holds). */
export function encodeMldMaxResponseCode(ms: number): number {
  if (ms < 0x8000) return Math.max(0, Math.floor(ms));
  for (let exp = 0; exp < 8; exp++) {
    const mant = Math.floor(ms / (1 << (exp + 3))) - 0x1000;
    if (mant < 0x1000) return 0x8000 | (exp << 12) | Math.max(0, mant);
  }
  return 0xffff;
}

/** RFC 3810 5.1.9 / RFC 3376 4.1.7: QQIC as seconds (the same 8-bit float as IGMPv3 codes). */
export function decodeQqic(code: number): number {
  if (code < 0x80) return code;
  return ((code & 0x0f) | 0x10) << (((code >>> 4) & 7) + 3);
}

export function encodeQqic(seconds: number): number {
  if (seconds < 0x80) return Math.max(0, Math.floor(seconds));
  for (let exp = 0; exp < 8; exp++) {
    const mant = Math.floor(seconds / (1 << (exp + 3))) - 0x10;
    if (mant < 0x10) return 0x80 | (exp << 4) | Math.max(0, mant);
  }
  return 0xff;
}

/**
 * Parse the MLD message at `offset` (`length` = the ICMPv6 length; checksum is the caller's).
 * A query of 24 bytes is v1, of 28 or more v2, anything else invalid (RFC 3810 8.1).
 */
export function parseMld(buf: Uint8Array, offset: number, length: number): MldMessage | string {
  if (offset + length > buf.length || length < 8) return 'too-short';
  const type = buf[offset]!;
  const o = offset;
  switch (type) {
    case Icmpv6Type.MldQuery: {
      if (length < MLDV1_LENGTH) return 'too-short';
      const code = u16(buf, o + 4);
      const group = readIpv6(buf, o + 8);
      if (length < MLDV2_QUERY_MIN_LENGTH) {
        if (length !== MLDV1_LENGTH) return 'bad-length';
        return { kind: 'query', version: 1, maxResponseCode: code, maxResponseDelay: code, group, suppressRouterSide: false, robustness: 0, qqic: 0, queryInterval: 0, sources: [] };
      }
      const n = u16(buf, o + 26);
      if (MLDV2_QUERY_MIN_LENGTH + 16 * n > length) return 'truncated-sources';
      const sources: Ipv6Address[] = [];
      for (let i = 0; i < n; i++) sources.push(readIpv6(buf, o + 28 + 16 * i));
      const qqic = buf[o + 25]!;
      return {
        kind: 'query', version: 2, maxResponseCode: code, maxResponseDelay: mldMaxResponseDelay(code), group,
        suppressRouterSide: (buf[o + 24]! & 8) !== 0, robustness: buf[o + 24]! & 7, qqic, queryInterval: decodeQqic(qqic), sources,
      };
    }
    case Icmpv6Type.MldReport:
    case Icmpv6Type.MldDone:
      if (length < MLDV1_LENGTH) return 'too-short';
      return { kind: type === Icmpv6Type.MldReport ? 'report' : 'done', group: readIpv6(buf, o + 8) };
    case Icmpv6Type.Mldv2Report: {
      const n = u16(buf, o + 6);
      const records: MldRecord[] = [];
      let at = o + 8;
      const end = o + length;
      for (let i = 0; i < n; i++) {
        if (end - at < 20) return 'truncated-record';
        const aux = buf[at + 1]! * 4;
        const ns = u16(buf, at + 2);
        const size = 20 + 16 * ns + aux;
        if (at + size > end) return 'truncated-record';
        const sources: Ipv6Address[] = [];
        for (let s = 0; s < ns; s++) sources.push(readIpv6(buf, at + 20 + 16 * s));
        records.push({ type: buf[at]!, group: readIpv6(buf, at + 4), sources, auxData: buf.slice(at + 20 + 16 * ns, at + size) });
        at += size;
      }
      return { kind: 'report2', records };
    }
    default:
      return 'not-mld';
  }
}

/** Fields an emit may leave out. */
export type MldMessageInit =
  | (Pick<MldQuery, 'kind' | 'version' | 'maxResponseCode' | 'group'> & Partial<Pick<MldQuery, 'suppressRouterSide' | 'robustness' | 'qqic' | 'sources'>>)
  | MldV1Report | MldDone
  | { kind: 'report2'; records: (Omit<MldRecord, 'auxData'> & { auxData?: Uint8Array })[] };

export function mldMessageLength(m: MldMessageInit): number {
  switch (m.kind) {
    case 'query': return m.version === 1 ? MLDV1_LENGTH : MLDV2_QUERY_MIN_LENGTH + 16 * (m.sources?.length ?? 0);
    case 'report':
    case 'done': return MLDV1_LENGTH;
    case 'report2': {
      let n = 8;
      for (const r of m.records) n += 20 + 16 * r.sources.length + ((r.auxData?.length ?? 0) + 3 & ~3);
      return n;
    }
  }
}

/** Write a whole MLD message with its checksum for `src` -> `dst`; returns the offset after it. */
export function emitMld(buf: Uint8Array, offset: number, m: MldMessageInit, src: Uint8Array, dst: Uint8Array): number {
  const len = mldMessageLength(m);
  buf.fill(0, offset, offset + len);
  const o = offset;
  switch (m.kind) {
    case 'query':
      buf[o] = Icmpv6Type.MldQuery;
      buf[o + 4] = m.maxResponseCode >>> 8;
      buf[o + 5] = m.maxResponseCode & 0xff;
      writeIpv6(buf, o + 8, m.group);
      if (m.version === 2) {
        buf[o + 24] = (m.suppressRouterSide ? 8 : 0) | ((m.robustness ?? 0) & 7);
        buf[o + 25] = m.qqic ?? 0;
        const sources = m.sources ?? [];
        buf[o + 26] = sources.length >>> 8;
        buf[o + 27] = sources.length & 0xff;
        for (let i = 0; i < sources.length; i++) writeIpv6(buf, o + 28 + 16 * i, sources[i]!);
      }
      break;
    case 'report':
    case 'done':
      buf[o] = m.kind === 'report' ? Icmpv6Type.MldReport : Icmpv6Type.MldDone;
      writeIpv6(buf, o + 8, m.group);
      break;
    case 'report2': {
      buf[o] = Icmpv6Type.Mldv2Report;
      buf[o + 6] = m.records.length >>> 8;
      buf[o + 7] = m.records.length & 0xff;
      let at = o + 8;
      for (const r of m.records) {
        const aux = r.auxData ?? new Uint8Array(0);
        const auxWords = (aux.length + 3) >>> 2;
        buf[at] = r.type;
        buf[at + 1] = auxWords;
        buf[at + 2] = r.sources.length >>> 8;
        buf[at + 3] = r.sources.length & 0xff;
        writeIpv6(buf, at + 4, r.group);
        for (let i = 0; i < r.sources.length; i++) writeIpv6(buf, at + 20 + 16 * i, r.sources[i]!);
        buf.set(aux, at + 20 + 16 * r.sources.length);
        at += 20 + 16 * r.sources.length + auxWords * 4;
      }
      break;
    }
  }
  fillIcmpv6Checksum(buf, offset, len, src, dst);
  return offset + len;
}
