/**
 * IPv6 reassembly (RFC 8200 4.5) with the bounds of IPv4's (fragments.ts): a cap on
 * datagrams, on bytes of buffers (charged to the stack's memory budget) and on fragments per
 * datagram, the oldest incomplete datagram giving way when full; a 60 s timeout that reports
 * Time Exceeded code 1 when the first fragment was seen; any overlap dropping the whole
 * datagram (RFC 5722), exact duplicates ignored (RFC 5722 errata 3089); a reassembled
 * payload over 65535 bytes refused. An atomic fragment (offset 0, no more fragments) is a
 * packet of its own (RFC 6946 4): it never meets, and so never disturbs, a pending datagram
 * that happens to share its identification.
 *
 * Fragments are matched on source, destination and identification (the next header is not
 * part of the key in IPv6). The reassembled packet is the first fragment's unfragmentable
 * part (the IPv6 header and the extension headers before the Fragment header) with the
 * Fragment header taken out, then the payload.
 */

import type { Timers, Timer } from '../time/clock.js';
import { IPV6_HEADER_LENGTH } from '../wire/ipv6.js';
import { FRAGMENT_HEADER_LENGTH, ipv6ExtensionHeaderLength } from '../wire/ipv6-ext.js';
import type { Counters } from './counters.js';
import type { ReassemblyConfig } from './fragments.js';
import type { MemoryAccount } from './network.js';
import type { Ipv6Interface } from './ipv6-interface.js';

export const defaultReassembly6Config: ReassemblyConfig = {
  timeoutMs: 60_000,
  maxDatagrams: 1024,
  maxBytes: 4 * 1024 * 1024,
  maxFragmentsPerDatagram: 64,
};

const MAX_PAYLOAD = 65535;

/** One fragment, as the input path found it. Offsets are absolute in `buf`. */
export interface Fragment6 {
  buf: Uint8Array;
  ipOffset: number;
  /** The Fragment header. */
  fragmentHeaderOffset: number;
  /** End of the IPv6 payload (ipOffset + 40 + payload length). */
  end: number;
  fragmentOffset: number;
  moreFragments: boolean;
  id: number;
  nextHeader: number;
}

class Pending6 {
  payload = new Uint8Array(0);
  readonly ranges: number[] = [];
  fragments = 0;
  received = 0;
  totalPayload = -1;
  /** The offset-0 fragment's unfragmentable part (with its next-header field fixed) and its first data bytes. */
  head: Uint8Array | null = null;
  /** The first fragment as received, up to 1232 bytes, for a Time Exceeded quote. */
  firstQuote: Uint8Array | null = null;
  readonly timer: Timer;
  constructor(readonly key: string, readonly iface: Ipv6Interface, timers: Timers, onTimeout: (p: Pending6) => void) {
    this.timer = timers.create(() => onTimeout(this));
  }
}

export class Reassembler6 {
  private readonly pending = new Map<string, Pending6>();
  private bytes = 0;
  private readonly onTimeout = (p: Pending6) => this.expire(p);

  constructor(
    private readonly timers: Timers,
    private readonly counters: Counters,
    readonly config: ReassemblyConfig,
    /** Called with the first fragment (from its IPv6 header) when its datagram times out. */
    private readonly timedOut: (firstFragment: Uint8Array, iface: Ipv6Interface) => void,
    private readonly memory: MemoryAccount | null = null,
  ) {}

  get datagrams(): number {
    return this.pending.size;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Add a fragment; returns the whole packet (a fresh buffer from its IPv6 header) when complete. */
  add(f: Fragment6, iface: Ipv6Interface): Uint8Array | null {
    const b = f.buf;
    const dataOffset = f.fragmentHeaderOffset + FRAGMENT_HEADER_LENGTH;
    const len = f.end - dataOffset;
    const start = f.fragmentOffset;
    const end = start + len;
    const key = `${keyPart(b, f.ipOffset + 8)}${keyPart(b, f.ipOffset + 24)}${f.id}`;
    let p = this.pending.get(key);
    const unfragmentable = f.fragmentHeaderOffset - f.ipOffset;
    if (end + unfragmentable - IPV6_HEADER_LENGTH > MAX_PAYLOAD) {
      this.counters.drop('reassembly6: oversized');
      if (p !== undefined) this.discard(p);
      return null;
    }
    if (start === 0 && !f.moreFragments) return atomic(f, dataOffset);
    if (len === 0 && f.moreFragments) {
      this.counters.drop('reassembly6: bad-fragment-length');
      return null;
    }
    if (p === undefined) {
      if (this.pending.size >= this.config.maxDatagrams && !this.evictOldest(null, 'reassembly6: evicted-datagram-limit')) {
        this.counters.drop('reassembly6: too-many-datagrams');
        return null;
      }
      p = new Pending6(key, iface, this.timers, this.onTimeout);
      this.pending.set(key, p);
      p.timer.arm(this.config.timeoutMs);
    }
    if (++p.fragments > this.config.maxFragmentsPerDatagram) {
      this.counters.drop('reassembly6: too-many-fragments');
      this.discard(p);
      return null;
    }
    if (!f.moreFragments) {
      if (p.totalPayload >= 0 && p.totalPayload !== end) return this.reject(p, 'reassembly6: conflicting-length');
      if (p.ranges.length > 0 && p.ranges[p.ranges.length - 1]! > end) return this.reject(p, 'reassembly6: past-end');
      p.totalPayload = end;
    }
    if (p.totalPayload >= 0 && end > p.totalPayload) return this.reject(p, 'reassembly6: past-end');
    for (let i = 0; i < p.ranges.length; i += 2) {
      const rs = p.ranges[i]!;
      const re = p.ranges[i + 1]!;
      if (start === rs && end === re) {
        this.counters.drop('reassembly6: duplicate');
        return null;
      }
      // RFC 5722: any overlap (a fragment inside another included) drops the whole datagram.
      if (start < re && end > rs) return this.reject(p, 'reassembly6: overlap');
    }
    if (end > p.payload.length) {
      const size = Math.min(MAX_PAYLOAD, Math.max(end, p.payload.length * 2));
      const extra = size - p.payload.length;
      while (this.bytes + extra > this.config.maxBytes) {
        if (!this.evictOldest(p, 'reassembly6: evicted-memory-limit')) return this.reject(p, 'reassembly6: memory-limit');
      }
      if (this.memory !== null && !this.memory.charge(extra)) return this.reject(p, 'reassembly6: memory-budget');
      const grown = new Uint8Array(size);
      grown.set(p.payload);
      p.payload = grown;
      this.bytes += extra;
    }
    p.payload.set(b.subarray(dataOffset, f.end), start);
    p.received += len;
    insertRange(p.ranges, start, end);
    if (start === 0) {
      const head = b.slice(f.ipOffset, f.fragmentHeaderOffset);
      // The byte that named the Fragment header now names what the fragments carry.
      head[fieldNaming(b, f.ipOffset, f.fragmentHeaderOffset) - f.ipOffset] = f.nextHeader;
      p.head = head;
      p.firstQuote = b.slice(f.ipOffset, Math.min(f.end, f.ipOffset + 1232));
    }
    if (p.totalPayload < 0 || p.received !== p.totalPayload || p.head === null) return null;
    const head = p.head;
    const out = new Uint8Array(head.length + p.totalPayload);
    out.set(head);
    out.set(p.payload.subarray(0, p.totalPayload), head.length);
    const payloadLength = out.length - IPV6_HEADER_LENGTH;
    out[4] = payloadLength >>> 8;
    out[5] = payloadLength & 0xff;
    this.discard(p);
    return out;
  }

  clear(): void {
    for (const p of this.pending.values()) p.timer.disarm();
    this.pending.clear();
    this.memory?.release(this.bytes);
    this.bytes = 0;
  }

  private reject(p: Pending6, reason: string): null {
    this.counters.drop(reason);
    this.discard(p);
    return null;
  }

  private discard(p: Pending6): void {
    if (this.pending.get(p.key) !== p) return;
    p.timer.disarm();
    this.bytes -= p.payload.length;
    this.memory?.release(p.payload.length);
    this.pending.delete(p.key);
  }

  private evictOldest(keep: Pending6 | null, reason: string): boolean {
    for (const p of this.pending.values()) {
      if (p === keep) continue;
      this.counters.drop(reason);
      this.discard(p);
      return true;
    }
    return false;
  }

  private expire(p: Pending6): void {
    this.counters.drop('reassembly6: timeout');
    this.discard(p);
    if (p.firstQuote !== null) this.timedOut(p.firstQuote, p.iface);
  }
}

/** An atomic fragment as the packet it carries: the Fragment header taken out. */
function atomic(f: Fragment6, dataOffset: number): Uint8Array {
  const b = f.buf;
  const unfragmentable = f.fragmentHeaderOffset - f.ipOffset;
  const out = new Uint8Array(unfragmentable + f.end - dataOffset);
  out.set(b.subarray(f.ipOffset, f.fragmentHeaderOffset));
  out[fieldNaming(b, f.ipOffset, f.fragmentHeaderOffset) - f.ipOffset] = f.nextHeader;
  out.set(b.subarray(dataOffset, f.end), unfragmentable);
  const payloadLength = out.length - IPV6_HEADER_LENGTH;
  out[4] = payloadLength >>> 8;
  out[5] = payloadLength & 0xff;
  return out;
}

/** The offset of the next-header byte that names the header at `target` (the walker already checked the chain). */
function fieldNaming(b: Uint8Array, ipOffset: number, target: number): number {
  let field = ipOffset + 6;
  let at = ipOffset + IPV6_HEADER_LENGTH;
  while (at < target) {
    const nh = b[field]!;
    field = at;
    at += ipv6ExtensionHeaderLength(b, at, nh);
  }
  return field;
}

/** 16 address bytes as a key fragment (fragments are rare enough that a string key is fine). */
function keyPart(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 16; i += 2) s += ((b[o + i]! << 8) | b[o + i + 1]!).toString(16) + ':';
  return s;
}

function insertRange(ranges: number[], start: number, end: number): void {
  let i = 0;
  while (i < ranges.length && ranges[i]! < start) i += 2;
  // Kept one range per fragment (not merged), so that only an exact duplicate is told apart from an overlap.
  ranges.splice(i, 0, start, end);
}
