/** Records turned into the shapes Node's dns.promises.Resolver returns. */

import { ipv4ToString } from '../../wire/addr.js';
import { type DnsRecord } from '../../wire/dns.js';
import { ipv6ToString } from '../../wire/addr6.js';

export interface RecordWithTtl {
  address: string;
  ttl: number;
}

export interface MxRecord {
  priority: number;
  exchange: string;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface SoaRecord {
  nsname: string;
  hostmaster: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minttl: number;
}

/** What resolve(name, rrtype) gives per record. */
export type RecordResult<T extends string> =
  T extends 'A' | 'AAAA' ? RecordWithTtl
    : T extends 'MX' ? MxRecord
      : T extends 'SRV' ? SrvRecord
        : T extends 'SOA' ? SoaRecord
          : T extends 'TXT' ? string[]
            : string;

/** TXT strings as Node gives them: each byte a character (latin1). */
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** One record as Node shows it (addresses with `withTtl` as { address, ttl }). */
export function toResult(rr: DnsRecord, withTtl: boolean): unknown {
  const d = rr.data;
  switch (d.kind) {
    case 'a': return withTtl ? { address: ipv4ToString(d.address), ttl: rr.ttl } : ipv4ToString(d.address);
    case 'aaaa': return withTtl ? { address: ipv6ToString(d.address), ttl: rr.ttl } : ipv6ToString(d.address);
    case 'name': return d.target;
    case 'mx': return { priority: d.preference, exchange: d.exchange } satisfies MxRecord;
    case 'srv': return { name: d.target, port: d.port, priority: d.priority, weight: d.weight } satisfies SrvRecord;
    case 'soa': return { nsname: d.mname, hostmaster: d.rname, serial: d.serial, refresh: d.refresh, retry: d.retry, expire: d.expire, minttl: d.minimum } satisfies SoaRecord;
    case 'txt': return d.strings.map(latin1);
    case 'raw': return d.bytes;
  }
}
