/**
 * Name server addresses as setServers() takes them and getServers() shows them, in Node's
 * forms: '192.0.2.1', '192.0.2.1:5353', '2001:db8::1', '[2001:db8::1]:5353'. A link-local
 * IPv6 server carries the interface as its zone ('fe80::1%tap0', '[fe80::1%tap0]:53'), kept
 * in what getServers() shows (Node drops it; a link-local server means nothing without it).
 */

import { isIPv4 } from 'node:net';
import { parseIpv4, ipv4ToString } from '../../wire/addr.js';
import { ipv6ToString, isLinkLocalIpv6, parseScopedIpv6 } from '../../wire/addr6.js';
import { DNS_PORT } from '../../wire/dns.js';
import { argError } from './errors.js';

export interface ServerAddress {
  /** The address as datagrams from it report their source: dotted quad, or RFC 5952 IPv6. */
  host: string;
  port: number;
  family: 4 | 6;
  /** The interface of a link-local IPv6 server ('' when none): sockets are given `host%zone`. */
  zone: string;
}

/** What a socket is given to reach the server: the address with its zone. */
export function serverTarget(s: ServerAddress): string {
  return s.zone === '' ? s.host : `${s.host}%${s.zone}`;
}

/** As getServers() shows it (Node's form: the port only when it is not 53, IPv6 then in brackets). */
export function formatServer(s: ServerAddress): string {
  const host = serverTarget(s);
  if (s.port === DNS_PORT) return host;
  return s.family === 6 ? `[${host}]:${s.port}` : `${host}:${s.port}`;
}

function address(text: string, port: number): ServerAddress | null {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) return null;
  if (isIPv4(text)) {
    const v4 = parseIpv4(text);
    return v4 === null ? null : { host: ipv4ToString(v4), port, family: 4, zone: '' };
  }
  const v6 = parseScopedIpv6(text);
  if (v6 === null) return null;
  // A zone only means something on a link-local address; elsewhere it is dropped, as the kernel ignores it.
  const zone = v6.zone !== null && isLinkLocalIpv6(v6.address) ? v6.zone : '';
  return { host: ipv6ToString(v6.address), port, family: 6, zone };
}

/** One server from text (Node's setServers forms), or Node's ERR_INVALID_IP_ADDRESS. */
export function parseServer(text: unknown): ServerAddress {
  if (typeof text !== 'string') throw argError('ERR_INVALID_ARG_TYPE', `The "servers[]" argument must be of type string. Received ${typeof text}`);
  let found: ServerAddress | null = null;
  const bracketed = /^\[([^[\]]*)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed !== null) {
    found = address(bracketed[1]!, bracketed[2] !== undefined ? Number(bracketed[2]) : DNS_PORT);
  } else {
    found = address(text, DNS_PORT);
    const withPort = found === null ? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text) : null;
    if (withPort !== null) found = address(withPort[1]!, Number(withPort[2]));
  }
  if (found === null) throw argError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${text}`);
  return found;
}

/** A comma-separated server list (--dns, PSTACK_DNS), checked; the first bad entry when one is. */
export function parseServerList(text: string): { servers: string[] } | { bad: string } {
  const servers = text.split(',').map((d) => d.trim()).filter((d) => d !== '');
  for (const d of servers) {
    try {
      parseServer(d);
    } catch {
      return { bad: d };
    }
  }
  return { servers };
}
