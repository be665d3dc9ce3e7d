/** A TCP/UDP connection named on the command line as A:P-B:Q ([v6]:P for IPv6 addresses). */

import type { PacketFacts } from './capture-packet.js';

export interface ConnSpec {
  a: string;
  p: number;
  b: string;
  q: number;
}

const END = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/;

/** Parse "192.0.2.1:5000-192.0.2.2:80" or "[2001:db8::1]:5000-[2001:db8::2]:80"; null when malformed. */
export function parseConnSpec(text: string): ConnSpec | null {
  const m = /^(\[[^\]]+\]:\d+|[^-]+)-(\[[^\]]+\]:\d+|[^-]+)$/.exec(text);
  if (!m) return null;
  const x = END.exec(m[1]!);
  const y = END.exec(m[2]!);
  if (!x || !y) return null;
  const p = Number(x[3]), q = Number(y[3]);
  if (p > 65535 || q > 65535) return null;
  return { a: (x[1] ?? x[2]!).toLowerCase(), p, b: (y[1] ?? y[2]!).toLowerCase(), q };
}

/** 1 when the packet goes A:P -> B:Q, -1 when B:Q -> A:P, 0 when it is not on the connection. */
export function connDirection(spec: ConnSpec, f: PacketFacts): number {
  if (f.kind !== 'tcp' && f.kind !== 'udp') return 0;
  if (f.src === spec.a && f.srcPort === spec.p && f.dst === spec.b && f.dstPort === spec.q) return 1;
  if (f.src === spec.b && f.srcPort === spec.q && f.dst === spec.a && f.dstPort === spec.p) return -1;
  return 0;
}

/** "A:P" with brackets around IPv6 addresses. */
export function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The key of one direction of a TCP/UDP flow. */
export function directionKey(f: PacketFacts): string {
  return `${endpointText(f.src, f.srcPort)}-${endpointText(f.dst, f.dstPort)}`;
}
