/**
 * IPv4 reassembly (RFC 791 3.2, RFC 815) with the defenses a host needs: bounded memory
 * (datagrams, bytes of buffers, fragments per datagram; when full, the oldest incomplete
 * datagram gives way, so a handful of stray fragments cannot block reassembly for a whole
 * timeout), a timeout that reports Time Exceeded code 1 when the first fragment was seen
 * (RFC 792), datagrams over 65535 bytes dropped whole (ping of death), and any partial
 * overlap dropping the whole datagram (RFC 5722's policy, applied to IPv4). A fragment whose
 * bytes were all received already is a duplicate and is ignored, as Linux does (RFC 5722
 * errata 3089): links and retransmitting middleboxes do duplicate packets.
 */

import type { Timers, Timer } from '../time/clock.js';
import { Ipv4Packet, IPV4_MIN_HEADER } from '../wire/ipv4.js';
import { internetChecksum } from '../wire/checksum.js';
import type { Counters } from './counters.js';
import type { Interface } from './interface.js';
import type { MemoryAccount } from './network.js';

export interface ReassemblyConfig {
  timeoutMs: number;
  maxDatagrams: number;
  maxBytes: number;
  maxFragmentsPerDatagram: number;
}

export const defaultReassemblyConfig: ReassemblyConfig = {
  timeoutMs: 30_000,
  // Incomplete datagrams are cheap (a record and a buffer as long as the data seen, counted
  // in maxBytes), so the count limit is well above what stray fragments reach: with 64, as
  // many tiny fragments made every later datagram wait (or, with eviction, be evicted) for
  // the whole timeout. Memory stays bounded by maxBytes.
  maxDatagrams: 1024,
  maxBytes: 4 * 1024 * 1024,
  maxFragmentsPerDatagram: 64,
};

const MAX_DATAGRAM = 65535;

class Pending {
  /** Payload bytes by offset; grown as fragments arrive (its length is what memory counts). */
  payload = new Uint8Array(0);
  /** Received [start, end) payload ranges, sorted, non-overlapping. */
  readonly ranges: number[] = [];
  fragments = 0;
  received = 0;
  /** Payload length, known once the last fragment (MF clear) arrived; -1 before. */
  totalPayload = -1;
  /** Header (with options) and first 8 payload bytes of the offset-0 fragment, for the datagram and errors. */
  firstHeader: Uint8Array | null = null;
  firstPrefix: Uint8Array | null = null;
  readonly timer: Timer;
  constructor(readonly key: string, readonly iface: Interface, timers: Timers, onTimeout: (p: Pending) => void) {
    this.timer = timers.create(() => onTimeout(this));
  }
}

export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  private bytes = 0;
  private readonly onTimeout = (p: Pending) => this.expire(p);

  constructor(
    private readonly timers: Timers,
    private readonly counters: Counters,
    readonly config: ReassemblyConfig,
    /** Called with header + 8 bytes of the first fragment when a datagram times out. */
    private readonly timedOut: (firstFragment: Ipv4Packet) => void,
    /** The stack's buffer budget, charged with every reassembly buffer (null: only maxBytes bounds them). */
    private readonly memory: MemoryAccount | null = null,
  ) {}

  get datagrams(): number {
    return this.pending.size;
  }

  /** Bytes of reassembly buffers held (allocated, not just received): at most config.maxBytes. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /**
   * Add one fragment (already validated, `ip.length` trimmed to its total length). Returns
   * the whole datagram (a fresh buffer holding header and payload) when complete, else null.
   */
  add(ip: Ipv4Packet, iface: Interface): Uint8Array | null {
    const start = ip.fragmentOffset;
    const len = ip.payloadLength;
    const end = start + len;
    const more = ip.moreFragments;
    const key = `${ip.src}:${ip.dst}:${ip.id}:${ip.protocol}`;
    let p = this.pending.get(key);
    if (end + ip.headerLength > MAX_DATAGRAM) {
      // The datagram can never be valid: drop what was gathered too, so no Time Exceeded
      // follows for it (Linux drops it whole as well).
      this.counters.drop('reassembly: oversized');
      if (p !== undefined) this.discard(p);
      return null;
    }
    if (more && (len === 0 || len % 8 !== 0)) {
      this.counters.drop('reassembly: bad-fragment-length');
      return null;
    }
    if (p === undefined) {
      if (this.pending.size >= this.config.maxDatagrams && !this.evictOldest(null, 'reassembly: evicted-datagram-limit')) {
        this.counters.drop('reassembly: too-many-datagrams');
        return null;
      }
      p = new Pending(key, iface, this.timers, this.onTimeout);
      this.pending.set(key, p);
      p.timer.arm(this.config.timeoutMs);
    }
    if (++p.fragments > this.config.maxFragmentsPerDatagram) {
      this.counters.drop('reassembly: too-many-fragments');
      this.discard(p);
      return null;
    }
    if (!more) {
      if (p.totalPayload >= 0 && p.totalPayload !== end) return this.reject(p, 'reassembly: conflicting-length');
      // Data already received beyond the end the last fragment gives: the datagram is corrupt.
      if (p.ranges.length > 0 && p.ranges[p.ranges.length - 1]! > end) return this.reject(p, 'reassembly: past-end');
      p.totalPayload = end;
    }
    if (p.totalPayload >= 0 && end > p.totalPayload) return this.reject(p, 'reassembly: past-end');
    for (let i = 0; i < p.ranges.length; i += 2) {
      const rs = p.ranges[i]!;
      const re = p.ranges[i + 1]!;
      if (start >= rs && end <= re) {
        // Every byte of it is here already: a duplicate, ignored (the datagram goes on).
        this.counters.drop('reassembly: duplicate');
        return null;
      }
      // A partial overlap drops the datagram: overlapping fragments are how teardrop and
      // firewall-evasion attacks work, and no honest sender produces them.
      if (start < re && end > rs) return this.reject(p, 'reassembly: overlap');
    }
    if (end > p.payload.length) {
      const size = Math.min(MAX_DATAGRAM, Math.max(end, p.payload.length * 2));
      const extra = size - p.payload.length;
      while (this.bytes + extra > this.config.maxBytes) {
        if (!this.evictOldest(p, 'reassembly: evicted-memory-limit')) return this.reject(p, 'reassembly: memory-limit');
      }
      // The stack's buffers as a whole are at their hard limit: a datagram in pieces is the
      // first thing to give up (its sender retransmits, or the application does).
      if (this.memory !== null && !this.memory.charge(extra)) return this.reject(p, 'reassembly: memory-budget');
      const grown = new Uint8Array(size);
      grown.set(p.payload);
      p.payload = grown;
      this.bytes += extra;
    }
    p.payload.set(ip.buf.subarray(ip.payloadOffset, ip.payloadOffset + len), start);
    p.received += len;
    insertRange(p.ranges, start, end);
    if (start === 0) {
      p.firstHeader = ip.buf.slice(ip.offset, ip.offset + ip.headerLength);
      p.firstPrefix = ip.buf.slice(ip.payloadOffset, ip.payloadOffset + Math.min(8, len));
    }
    if (p.totalPayload < 0 || p.received !== p.totalPayload || p.firstHeader === null) return null;
    // Complete: header of the first fragment with fragmentation fields cleared.
    const header = p.firstHeader;
    const out = new Uint8Array(header.length + p.totalPayload);
    out.set(header);
    out.set(p.payload.subarray(0, p.totalPayload), header.length);
    const total = out.length;
    out[2] = total >>> 8;
    out[3] = total & 0xff;
    out[6] = out[6]! & 0x40; // keep DF, clear MF and offset
    out[7] = 0;
    out[10] = 0;
    out[11] = 0;
    const c = internetChecksum(out, 0, header.length);
    out[10] = c >>> 8;
    out[11] = c & 0xff;
    this.discard(p);
    return out;
  }

  clear(): void {
    for (const p of this.pending.values()) p.timer.disarm();
    this.pending.clear();
    this.memory?.release(this.bytes);
    this.bytes = 0;
  }

  private reject(p: Pending, reason: string): null {
    this.counters.drop(reason);
    this.discard(p);
    return null;
  }

  private discard(p: Pending): void {
    if (this.pending.get(p.key) !== p) return;
    p.timer.disarm();
    this.bytes -= p.payload.length;
    this.memory?.release(p.payload.length);
    this.pending.delete(p.key);
  }

  /**
   * Make room by dropping the oldest incomplete datagram other than `keep` (silently: no Time
   * Exceeded, the sender is not at fault). Returns false when there is nothing to drop.
   * `reason` names the limit that made room necessary, so each limit's hits are counted.
   */
  private evictOldest(keep: Pending | null, reason: string): boolean {
    for (const p of this.pending.values()) {
      if (p === keep) continue;
      this.counters.drop(reason);
      this.discard(p);
      return true;
    }
    return false;
  }

  private expire(p: Pending): void {
    this.counters.drop('reassembly: timeout');
    this.discard(p);
    if (p.firstHeader !== null && p.firstPrefix !== null) {
      const b = new Uint8Array(p.firstHeader.length + p.firstPrefix.length);
      b.set(p.firstHeader);
      b.set(p.firstPrefix, p.firstHeader.length);
      // The view reports the fragment's own header; its total length still names the fragment.
      const view = new Ipv4Packet(b, 0, b.length);
      view.length = b.length;
      this.timedOut(view);
    }
  }
}

function insertRange(ranges: number[], start: number, end: number): void {
  let i = 0;
  while (i < ranges.length && ranges[i]! < start) i += 2;
  ranges.splice(i, 0, start, end);
  // Merge touching neighbours so the list stays short.
  for (let j = 0; j + 2 < ranges.length; ) {
    if (ranges[j + 1] === ranges[j + 2]) ranges.splice(j + 1, 2);
    else j += 2;
  }
}

export { IPV4_MIN_HEADER };
