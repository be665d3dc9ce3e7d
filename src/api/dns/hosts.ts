/**
 * A static hosts table, as /etc/hosts is to getaddrinfo: 'localhost' is 127.0.0.1 (and ::1),
 * plus entries given as text in /etc/hosts form or as a map of name to address(es).
 */

import { canonicalDnsName } from '../../wire/dns.js';
import { parseIpv6, ipv6ToString } from '../../wire/addr6.js';
import { parseIpv4, ipv4ToString } from '../../wire/addr.js';

export type HostsInit = string | Record<string, string | readonly string[]>;

export interface HostAddresses {
  v4: string[];
  v6: string[];
}

/** Lines of hosts text read, at most (a bound for careless input). */
const MAX_LINES = 10_000;

export class HostsTable {
  private readonly map = new Map<string, HostAddresses>();

  constructor(init?: HostsInit) {
    this.add('localhost', '127.0.0.1');
    this.add('localhost', '::1');
    if (typeof init === 'string') this.addText(init);
    else if (init !== undefined && init !== null) {
      for (const [name, addrs] of Object.entries(init)) {
        for (const a of typeof addrs === 'string' ? [addrs] : addrs) {
          if (!this.add(name, a)) throw new TypeError(`hosts: ${JSON.stringify(a)} for ${JSON.stringify(name)} is not an IP address`);
        }
      }
    }
  }

  /** Add one name -> address; false when either is not valid. */
  add(name: string, address: string): boolean {
    const key = canonicalDnsName(name);
    if (key === null || key === '') return false;
    const v4 = parseIpv4(address);
    const v6 = v4 === null ? parseIpv6(address) : null;
    if (v4 === null && v6 === null) return false;
    let e = this.map.get(key);
    if (e === undefined) {
      e = { v4: [], v6: [] };
      this.map.set(key, e);
    }
    const list = v4 !== null ? e.v4 : e.v6;
    const text = v4 !== null ? ipv4ToString(v4) : ipv6ToString(v6!);
    if (!list.includes(text)) list.push(text);
    return true;
  }

  /** /etc/hosts text: "address name [aliases...]" per line, '#' comments; bad lines skipped. */
  addText(text: string): void {
    const lines = text.split('\n', MAX_LINES);
    for (const line of lines) {
      const [addr, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (addr === undefined || addr === '') continue;
      for (const n of names) this.add(n, addr);
    }
  }

  get(name: string): HostAddresses | null {
    const key = canonicalDnsName(name);
    return key === null ? null : this.map.get(key) ?? null;
  }
}
