/**
 * The order lookup() gives addresses in, as Node's: 'ipv4first', 'ipv6first', or 'verbatim'
 * (Node's default), which is getaddrinfo's order. glibc sorts by RFC 6724 6; of its rules the
 * ones that decide between the answers of one name are kept here: rule 1, destinations this
 * host has no route (or no source address) for go last, and rule 6, by precedence from the
 * policy table (IPv6 ::/0 40 before IPv4 35 before ULA fc00::/7 3). The sort is stable: the
 * server's order stands between equals.
 */

import { parseIpv6 } from '../../wire/addr6.js';

export type ResultOrder = 'ipv4first' | 'ipv6first' | 'verbatim';

export interface Ordered {
  address: string;
  family: 4 | 6;
}

/** RFC 6724 2.1's default policy table: the precedence of an address. */
function precedence(a: Ordered): number {
  if (a.family === 4) return 35;
  const b = parseIpv6(a.address.replace(/%.*$/, ''));
  if (b === null) return 40;
  if (b.every((x, i) => (i === 15 ? x === 1 : x === 0))) return 50; // ::1
  if (b[0] === 0x20 && b[1] === 0x02) return 30; // 6to4
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return 5; // Teredo
  if ((b[0]! & 0xfe) === 0xfc) return 3; // ULA
  if (b.slice(0, 12).every((x) => x === 0)) return 1; // IPv4-compatible
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 1; // site-local
  if (b[0] === 0x3f && b[1] === 0xfe) return 1; // 6bone
  return 40;
}

/** `list` in `order`; `usable` says whether the host can send to an address (rule 1). */
export function orderAddresses<T extends Ordered>(list: readonly T[], order: ResultOrder, usable: (a: T) => boolean): T[] {
  if (order === 'ipv4first') return [...list.filter((a) => a.family === 4), ...list.filter((a) => a.family === 6)];
  if (order === 'ipv6first') return [...list.filter((a) => a.family === 6), ...list.filter((a) => a.family === 4)];
  const keyed = list.map((a, i) => ({ a, i, usable: usable(a) ? 1 : 0, precedence: precedence(a) }));
  keyed.sort((x, y) => (y.usable - x.usable) || (y.precedence - x.precedence) || (x.i - y.i));
  return keyed.map((k) => k.a);
}
