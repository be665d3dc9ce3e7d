/**
 * Family-neutral addresses as transports hold them (`IpAddress`): IPv4 stays an unsigned 32-bit
 * number (no allocation on the IPv4 path), IPv6 is an interned immutable `Ipv6Addr` — one
 * object per distinct address — so that equality is `===` in the TCP and UDP tables, as it is
 * for numbers, and hashing reads a precomputed 32-bit value.
 *
 * The intern table holds its objects weakly: an address nothing refers to any more (a
 * datagram's source, long gone) is collected and its slot swept when the table grows, so a
 * flood of spoofed sources cannot grow it without bound; an address a connection or a
 * neighbor entry holds stays one object for as long as it is held.
 */

import {
  ipv6ToString, parseScopedIpv6, isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6, isLoopbackIpv6,
  isV4MappedIpv6, v4MappedToIpv4,
} from '../wire/addr6.js';
import { ipv4ToString, parseIpv4 } from '../wire/addr.js';

/** An IPv6 address, interned: compare with ===. Never construct one directly: use `intern6`. */
export class Ipv6Addr {
  private text: string | null = null;
  /** @internal Chain link in the intern table. */
  constructor(
    /** The 16 bytes (do not modify). */
    readonly bytes: Uint8Array,
    /** A 32-bit hash of the bytes (FNV-1a), for tables keyed by address. */
    readonly hash: number,
  ) {}

  toString(): string {
    return (this.text ??= ipv6ToString(this.bytes));
  }

  get isLinkLocal(): boolean {
    return isLinkLocalIpv6(this.bytes);
  }

  get isMulticast(): boolean {
    return isMulticastIpv6(this.bytes);
  }
}

/** An IP address as the transports hold it: IPv4 as an unsigned 32-bit number, IPv6 interned. */
export type IpAddress = number | Ipv6Addr;

function hash16(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ b[o + i]!, 0x01000193);
  return h >>> 0;
}

/** Sweep dead entries when the table passes this many, and each time it doubles after a sweep. */
const SWEEP_AT = 4096;

const table = new Map<number, WeakRef<Ipv6Addr>[]>();
let entries = 0;
let sweepAt = SWEEP_AT;

function sweep(): void {
  entries = 0;
  for (const [h, chain] of table) {
    let w = 0;
    for (let i = 0; i < chain.length; i++) if (chain[i]!.deref() !== undefined) chain[w++] = chain[i]!;
    chain.length = w;
    if (w === 0) table.delete(h);
    entries += w;
  }
  sweepAt = Math.max(SWEEP_AT, entries * 2);
}

/** The one Ipv6Addr for the 16 bytes at buf[offset]. Allocates only for an address not yet held. */
export function intern6(buf: Uint8Array, offset = 0): Ipv6Addr {
  const h = hash16(buf, offset);
  let chain = table.get(h);
  if (chain !== undefined) {
    for (let i = 0; i < chain.length; i++) {
      const a = chain[i]!.deref();
      if (a === undefined) continue;
      const b = a.bytes;
      let same = true;
      for (let j = 0; j < 16; j++) if (b[j] !== buf[offset + j]) { same = false; break; }
      if (same) return a;
    }
  }
  if (entries >= sweepAt) {
    sweep();
    chain = table.get(h);
  }
  const addr = new Ipv6Addr(buf.slice(offset, offset + 16), h);
  if (chain === undefined) table.set(h, (chain = []));
  chain.push(new WeakRef(addr));
  entries++;
  return addr;
}

/** `::`, the IPv6 wildcard (a socket bound to it takes every address, IPv4 too unless v6-only). */
export const IN6ADDR_ANY: Ipv6Addr = intern6(new Uint8Array(16));
/** `::1`. */
export const IN6ADDR_LOOPBACK: Ipv6Addr = intern6(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));

/** Whether `addr` is IPv4 (the transports' only family test). */
export function isIpv4(addr: IpAddress): addr is number {
  return typeof addr === 'number';
}

/** The wildcard of either family (0.0.0.0 or ::). */
export function isAnyAddress(addr: IpAddress): boolean {
  return addr === 0 || addr === IN6ADDR_ANY;
}

/** Text form: dotted quad, or RFC 5952 for IPv6. */
export function ipAddressToString(addr: IpAddress): string {
  return typeof addr === 'number' ? ipv4ToString(addr) : addr.toString();
}

/** An address parsed from text with an optional zone (`fe80::1%tap0`). */
export interface ParsedIpAddress {
  address: IpAddress;
  /** The zone after `%`, or '' when none. */
  zone: string;
  /** The text was `::ffff:a.b.c.d` (address holds the IPv4 number). */
  mapped: boolean;
}

/**
 * Parse an IPv4 or IPv6 address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the
 * IPv4 number with `mapped` set: IPv4 traffic is IPv4 whatever the socket's family.
 */
export function parseIpAddress(text: string): ParsedIpAddress | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { address: v4, zone: '', mapped: false };
  const v6 = parseScopedIpv6(text);
  if (v6 === null) return null;
  if (isV4MappedIpv6(v6.address)) return { address: v4MappedToIpv4(v6.address), zone: v6.zone ?? '', mapped: true };
  return { address: intern6(v6.address), zone: v6.zone ?? '', mapped: false };
}

/** Whether an IPv6 address can be one host's unicast address. */
export function isUnicast6(addr: Ipv6Addr): boolean {
  const b = addr.bytes;
  return !isUnspecifiedIpv6(b) && !isMulticastIpv6(b);
}

export function isLoopback6(addr: Ipv6Addr): boolean {
  return isLoopbackIpv6(addr.bytes);
}
