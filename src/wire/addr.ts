/**
 * Addresses as the stack holds them: IPv4 addresses as unsigned 32-bit numbers (cheap to
 * compare, hash and mask), MAC addresses as 6-byte arrays. Text forms only for people.
 */

export type Ipv4Address = number;

export const IPV4_ANY: Ipv4Address = 0;
export const IPV4_BROADCAST: Ipv4Address = 0xffffffff;

export function readIpv4(buf: Uint8Array, offset: number): Ipv4Address {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

export function writeIpv4(buf: Uint8Array, offset: number, addr: Ipv4Address): void {
  buf[offset] = addr >>> 24;
  buf[offset + 1] = (addr >>> 16) & 0xff;
  buf[offset + 2] = (addr >>> 8) & 0xff;
  buf[offset + 3] = addr & 0xff;
}

export function ipv4ToString(addr: Ipv4Address): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** Parse dotted-quad text; returns null when it is not exactly four decimal octets. */
export function parseIpv4(text: string): Ipv4Address | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let addr = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    addr = addr * 256 + octet;
  }
  return addr >>> 0;
}

export interface Ipv4Cidr {
  address: Ipv4Address;
  prefixLength: number;
}

/** Parse "a.b.c.d/n"; returns null on any error. */
export function parseCidr(text: string): Ipv4Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (address === null || !/^\d{1,2}$/.test(lenText)) return null;
  const prefixLength = Number(lenText);
  if (prefixLength > 32) return null;
  return { address, prefixLength };
}

export function prefixToMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function maskToPrefix(mask: number): number {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return n;
}

export function isMulticast(addr: Ipv4Address): boolean {
  return addr >>> 28 === 0xe;
}

export const MAC_BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const MAC_ZERO = new Uint8Array(6);

export function macToString(buf: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = buf[offset + i]!;
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

/** Parse "aa:bb:cc:dd:ee:ff" (or with '-'); returns null on any error. */
export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) return null;
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i]!)) return null;
    mac[i] = parseInt(parts[i]!, 16);
  }
  return mac;
}

export function macEquals(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset = 0): boolean {
  return (
    a[aOffset] === b[bOffset] &&
    a[aOffset + 1] === b[bOffset + 1] &&
    a[aOffset + 2] === b[bOffset + 2] &&
    a[aOffset + 3] === b[bOffset + 3] &&
    a[aOffset + 4] === b[bOffset + 4] &&
    a[aOffset + 5] === b[bOffset + 5]
  );
}

export function isBroadcastMac(buf: Uint8Array, offset: number): boolean {
  return (buf[offset]! & buf[offset + 1]! & buf[offset + 2]! & buf[offset + 3]! & buf[offset + 4]! & buf[offset + 5]!) === 0xff;
}

/** Group bit set: broadcast or multicast. */
export function isMulticastMac(buf: Uint8Array, offset: number): boolean {
  return (buf[offset]! & 1) === 1;
}
