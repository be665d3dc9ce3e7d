/**
 * The resolver's cache: answers by (name, type) until their TTL runs out (RFC 1035 7.4,
 * RFC 2181 8), and negative answers by the SOA's TTL (RFC 2308 5). Bounded: the oldest entry
 * goes when it is full; a TTL of 0 is not cached.
 */

import type { DnsRecord } from '../../wire/dns.js';

export interface CacheEntry {
  /** The records (already followed through CNAMEs), or none for a negative entry. */
  records: DnsRecord[];
  /** ENOTFOUND (NXDOMAIN) or ENODATA (NODATA) for a negative entry; null for records. */
  negative: string | null;
  /** When it was stored and when it expires, in ms of the resolver's clock. */
  stored: number;
  expires: number;
}

export class DnsCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(private readonly maxEntries: number) {}

  static key(canonicalName: string, type: number): string {
    return `${type} ${canonicalName}`;
  }

  get(key: string, now: number): CacheEntry | null {
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (e.expires <= now) {
      this.entries.delete(key);
      return null;
    }
    return e;
  }

  /** Store for `ttlSeconds` (nothing when it is 0 or the cache has no room at all). */
  set(key: string, records: DnsRecord[], negative: string | null, ttlSeconds: number, now: number): void {
    if (this.maxEntries <= 0 || !(ttlSeconds > 0)) return;
    this.entries.delete(key);
    // Bounded: drop expired entries first, then the oldest, a few at a time.
    for (let i = 0; this.entries.size >= this.maxEntries && i < 8; i++) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { records, negative, stored: now, expires: now + ttlSeconds * 1000 });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
