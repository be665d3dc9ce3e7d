/**
 * What a response says about one question: the records of the asked type at the end of the
 * CNAME chain inside the answer section (followed a bounded number of steps), or a negative
 * answer (NXDOMAIN, or NODATA) with the TTL it may be cached for (RFC 2308 5: the SOA in the
 * authority section, the smaller of its TTL and its MINIMUM field).
 */

import { DnsClass, DnsRcode, DnsType, canonicalDnsName, type DnsMessage, type DnsRecord } from '../../wire/dns.js';
import { BADRESP, NODATA, NOTFOUND } from './errors.js';

export type Outcome =
  /** `ttl`: the smallest TTL along the chain and of the records, in seconds. */
  | { kind: 'records'; records: DnsRecord[]; ttl: number }
  /** `ttl`: how long it may be cached, or null (no SOA: not cached). */
  | { kind: 'negative'; code: string; ttl: number | null }
  | { kind: 'error'; code: string };

/** RFC 2181 8: a TTL with the top bit set is 0. */
export function ttlOf(ttl: number): number {
  return ttl > 0x7fffffff ? 0 : ttl;
}

function negativeTtl(msg: DnsMessage): number | null {
  for (const rr of msg.authorities) {
    if (rr.type === DnsType.SOA && rr.data.kind === 'soa') return Math.min(ttlOf(rr.ttl), ttlOf(rr.data.minimum));
  }
  return null;
}

/**
 * The outcome of a NOERROR or NXDOMAIN response to (`qname`, `qtype`, class IN). For
 * qtype CNAME, the CNAME records at `qname` themselves.
 */
export function interpret(msg: DnsMessage, qname: string, qtype: number, maxChain: number): Outcome {
  if (msg.header.rcode === DnsRcode.NXDOMAIN) return { kind: 'negative', code: NOTFOUND, ttl: negativeTtl(msg) };
  // Owner names compared canonically, once per record.
  const answers = msg.answers.filter((rr) => rr.class === DnsClass.IN).map((rr) => ({ rr, owner: canonicalDnsName(rr.name) }));
  let current = canonicalDnsName(qname);
  if (current === null) return { kind: 'error', code: BADRESP };
  let ttl = Infinity;
  const seen = new Set<string>();
  for (let hop = 0; hop <= maxChain; hop++) {
    const here = answers.filter((a) => a.owner === current);
    const wanted = here.filter((a) => a.rr.type === qtype).map((a) => a.rr);
    if (wanted.length > 0) {
      for (const rr of wanted) ttl = Math.min(ttl, ttlOf(rr.ttl));
      return { kind: 'records', records: wanted, ttl };
    }
    const cname = here.find((a) => a.rr.type === DnsType.CNAME && a.rr.data.kind === 'name');
    if (cname === undefined || cname.rr.data.kind !== 'name') return { kind: 'negative', code: NODATA, ttl: negativeTtl(msg) };
    seen.add(current);
    const next = canonicalDnsName(cname.rr.data.target);
    if (next === null || seen.has(next)) return { kind: 'error', code: BADRESP }; // a CNAME loop
    ttl = Math.min(ttl, ttlOf(cname.rr.ttl));
    current = next;
  }
  return { kind: 'error', code: BADRESP }; // a chain longer than we follow
}
