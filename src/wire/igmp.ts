/**
 * IGMP for IPv4 multicast: v1 (RFC 1112), v2 (RFC 2236) and v3 (RFC 3376) queries and
 * reports, leave, and v3 group records. The checksum covers the IGMP message only. Sent
 * with TTL 1 and an IPv4 Router Alert option (ipv4-options.ts), which v2 and v3 require.
 */

import { internetChecksum, sum16, fold16 } from './checksum.js';
import { readIpv4, writeIpv4, type Ipv4Address } from './addr.js';
import { decodeQqic } from './mld.js';

export const IGMP_PROTOCOL = 2;
export const IGMP_MIN_LENGTH = 8;
export const IGMPV3_QUERY_MIN_LENGTH = 12;
/** 224.0.0.22, where IGMPv3 reports go. */
export const IGMPV3_ALL_ROUTERS: Ipv4Address = 0xe0000016;

export const IgmpType = {
  Query: 0x11,
  V1Report: 0x12,
  V2Report: 0x16,
  Leave: 0x17,
  V3Report: 0x22,
} as const;

export function igmpTypeName(type: number): string {
  switch (type) {
    case 0x11: return 'Membership Query';
    case 0x12: return 'Membership Report v1';
    case 0x16: return 'Membership Report v2';
    case 0x17: return 'Leave Group';
    case 0x22: return 'Membership Report v3';
    default: return 'Unknown';
  }
}

export interface IgmpQuery {
  kind: 'query';
  /** 1 (length 8, code 0), 2 (length 8), 3 (length >= 12), per RFC 3376 7.1. */
  version: 1 | 2 | 3;
  maxResponseCode: number;
  /** Tenths of a second, decoded (v3 codes >= 128 are floating point). */
  maxResponseTime: number;
  group: Ipv4Address;
  suppressRouterSide: boolean;
  robustness: number;
  qqic: number;
  /** Seconds. */
  queryInterval: number;
  sources: Ipv4Address[];
}
export interface IgmpReport { kind: 'report'; version: 1 | 2; group: Ipv4Address }
export interface IgmpLeave { kind: 'leave'; group: Ipv4Address }
export interface IgmpGroupRecord { type: number; group: Ipv4Address; sources: Ipv4Address[]; auxData: Uint8Array }
export interface IgmpV3Report { kind: 'report3'; records: IgmpGroupRecord[] }

export type IgmpMessage = IgmpQuery | IgmpReport | IgmpLeave | IgmpV3Report;

/** RFC 3376 4.1.1: the Max Resp Code as tenths of a second. */
export function igmpMaxResponseTime(code: number): number {
  return decodeQqic(code);
}

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;

export function verifyIgmpChecksum(buf: Uint8Array, offset: number, length: number): boolean {
  return fold16(sum16(buf, offset, length)) === 0xffff;
}

/** Parse the IGMP message at `offset` (`length` = the IPv4 payload length); checksum separate. */
export function parseIgmp(buf: Uint8Array, offset: number, length: number): IgmpMessage | string {
  if (length < IGMP_MIN_LENGTH || offset + length > buf.length) return 'too-short';
  const o = offset;
  const type = buf[o]!;
  switch (type) {
    case IgmpType.Query: {
      const code = buf[o + 1]!;
      const group = readIpv4(buf, o + 4);
      if (length < IGMPV3_QUERY_MIN_LENGTH) {
        // RFC 3376 7.1: 8 bytes is v1 (code 0) or v2; 9 to 11 bytes is not a valid query.
        if (length !== IGMP_MIN_LENGTH) return 'bad-length';
        return { kind: 'query', version: code === 0 ? 1 : 2, maxResponseCode: code, maxResponseTime: code === 0 ? 100 : code, group, suppressRouterSide: false, robustness: 0, qqic: 0, queryInterval: 0, sources: [] };
      }
      const n = u16(buf, o + 10);
      if (IGMPV3_QUERY_MIN_LENGTH + 4 * n > length) return 'truncated-sources';
      const sources: Ipv4Address[] = [];
      for (let i = 0; i < n; i++) sources.push(readIpv4(buf, o + 12 + 4 * i));
      return {
        kind: 'query', version: 3, maxResponseCode: code, maxResponseTime: igmpMaxResponseTime(code), group,
        suppressRouterSide: (buf[o + 8]! & 8) !== 0, robustness: buf[o + 8]! & 7, qqic: buf[o + 9]!, queryInterval: decodeQqic(buf[o + 9]!), sources,
      };
    }
    case IgmpType.V1Report:
    case IgmpType.V2Report:
      return { kind: 'report', version: type === IgmpType.V1Report ? 1 : 2, group: readIpv4(buf, o + 4) };
    case IgmpType.Leave:
      return { kind: 'leave', group: readIpv4(buf, o + 4) };
    case IgmpType.V3Report: {
      const n = u16(buf, o + 6);
      const records: IgmpGroupRecord[] = [];
      const end = o + length;
      let at = o + 8;
      for (let i = 0; i < n; i++) {
        if (end - at < 8) return 'truncated-record';
        const ns = u16(buf, at + 2);
        const size = 8 + 4 * ns + buf[at + 1]! * 4;
        if (at + size > end) return 'truncated-record';
        const sources: Ipv4Address[] = [];
        for (let s = 0; s < ns; s++) sources.push(readIpv4(buf, at + 8 + 4 * s));
        records.push({ type: buf[at]!, group: readIpv4(buf, at + 4), sources, auxData: buf.slice(at + 8 + 4 * ns, at + size) });
        at += size;
      }
      return { kind: 'report3', records };
    }
    default:
      return 'unknown-type';
  }
}

export type IgmpMessageInit =
  | (Pick<IgmpQuery, 'kind' | 'version' | 'maxResponseCode' | 'group'> & Partial<Pick<IgmpQuery, 'suppressRouterSide' | 'robustness' | 'qqic' | 'sources'>>)
  | IgmpReport | IgmpLeave
  | { kind: 'report3'; records: (Omit<IgmpGroupRecord, 'auxData'> & { auxData?: Uint8Array })[] };

export function igmpMessageLength(m: IgmpMessageInit): number {
  if (m.kind === 'query') return m.version === 3 ? IGMPV3_QUERY_MIN_LENGTH + 4 * (m.sources?.length ?? 0) : IGMP_MIN_LENGTH;
  if (m.kind !== 'report3') return IGMP_MIN_LENGTH;
  let n = 8;
  for (const r of m.records) n += 8 + 4 * r.sources.length + ((r.auxData?.length ?? 0) + 3 & ~3);
  return n;
}

/** Write a whole IGMP message with its checksum; returns the offset after it. */
export function emitIgmp(buf: Uint8Array, offset: number, m: IgmpMessageInit): number {
  const len = igmpMessageLength(m);
  const o = offset;
  buf.fill(0, o, o + len);
  switch (m.kind) {
    case 'query':
      buf[o] = IgmpType.Query;
      buf[o + 1] = m.version === 1 ? 0 : m.maxResponseCode;
      writeIpv4(buf, o + 4, m.group);
      if (m.version === 3) {
        buf[o + 8] = (m.suppressRouterSide ? 8 : 0) | ((m.robustness ?? 0) & 7);
        buf[o + 9] = m.qqic ?? 0;
        const sources = m.sources ?? [];
        buf[o + 10] = sources.length >>> 8;
        buf[o + 11] = sources.length & 0xff;
        for (let i = 0; i < sources.length; i++) writeIpv4(buf, o + 12 + 4 * i, sources[i]!);
      }
      break;
    case 'report':
      buf[o] = m.version === 1 ? IgmpType.V1Report : IgmpType.V2Report;
      writeIpv4(buf, o + 4, m.group);
      break;
    case 'leave':
      buf[o] = IgmpType.Leave;
      writeIpv4(buf, o + 4, m.group);
      break;
    case 'report3': {
      buf[o] = IgmpType.V3Report;
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
        writeIpv4(buf, at + 4, r.group);
        for (let i = 0; i < r.sources.length; i++) writeIpv4(buf, at + 8 + 4 * i, r.sources[i]!);
        buf.set(aux, at + 8 + 4 * r.sources.length);
        at += 8 + 4 * r.sources.length + auxWords * 4;
      }
      break;
    }
  }
  const csum = internetChecksum(buf, o, len);
  buf[o + 2] = csum >>> 8;
  buf[o + 3] = csum & 0xff;
  return o + len;
}
