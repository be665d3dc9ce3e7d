/**
 * Addresses between the socket APIs (text, as Node shows them) and the transports
 * (`IpAddress`). A socket of the IPv6 family that carries IPv4 (a dual-stack listener on `::`)
 * shows its IPv4 peers as ::ffff:a.b.c.d, family 'IPv6', as Node does on Linux.
 */

import { ipAddressToString, parseIpAddress, type IpAddress } from '../../stack/ip-address.js';
import { ipv4ToString } from '../../wire/addr.js';

export interface ShownAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
}

/** How an address is shown on a socket; `v6Socket` for sockets of the IPv6 family. */
export function showAddress(addr: IpAddress, v6Socket: boolean): ShownAddress {
  if (typeof addr === 'number') return v6Socket ? { address: `::ffff:${ipv4ToString(addr)}`, family: 'IPv6' } : { address: ipv4ToString(addr), family: 'IPv4' };
  return { address: ipAddressToString(addr), family: 'IPv6' };
}

/**
 * An address from text: IPv4, IPv6 (with a zone naming an interface for link-local ones),
 * or 'localhost'. ::ffff:a.b.c.d is IPv4 on the wire. Null when it is none of these.
 */
export function addressFromText(text: string): IpAddress | null {
  if (text === 'localhost') return 0x7f000001;
  return parseIpAddress(text)?.address ?? null;
}
