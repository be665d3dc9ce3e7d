/**
 * Stateless address autoconfiguration (RFC 4862 5.5.3 and 5.5.4): an address formed from each
 * autonomous /64 prefix a router advertises, with the interface identifier of the interface's
 * link-local address (modified EUI-64 of the MAC), probed by DAD before use. Its preferred
 * lifetime ends in deprecation (still ours, no longer chosen as a source), its valid lifetime
 * in removal, both on the host's timers. An advertisement may shorten a valid lifetime only
 * down to two hours (rule e), so that a forged one cannot take an address away at once.
 *
 * The number of addresses is bounded (maxAddresses): a flood of prefixes is counted, not followed.
 */

import { isLinkLocalIpv6, ipv6PrefixMatch, type Ipv6Address } from '../wire/addr6.js';
import type { Timers, Timer } from '../time/clock.js';
import type { Counters } from './counters.js';
import type { StackEvents } from './observer.js';
import { intern6 } from './ip-address.js';
import type { Ipv6AddressEntry, Ipv6Interface } from './ipv6-interface.js';

/** RFC 4862 5.5.3 e: the valid lifetime an unauthenticated advertisement cannot go below. */
export const TWO_HOURS_MS = 2 * 3600 * 1000;

/** The length of the interface identifier: SLAAC takes /64 prefixes only (RFC 4291 2.5.1). */
const IID_BITS = 64;

/** A lifetime in seconds as milliseconds; all ones is infinity (RFC 4861 4.6.2). */
export function lifetimeMs(seconds: number): number {
  return seconds === 0xffffffff ? Infinity : seconds * 1000;
}

/** What the autoconfiguration needs from the IPv6 layer: adding and removing addresses. */
export interface AutoconfHost {
  /** Add `address`/64 as an 'autoconf' address (DAD starts) on `iface`. */
  addAddress(iface: Ipv6Interface, address: Uint8Array): Ipv6AddressEntry;
  removeAddress(entry: Ipv6AddressEntry): void;
}

export interface PrefixAdvertisement {
  prefix: Ipv6Address;
  prefixLength: number;
  /** Seconds (0xffffffff: infinity). */
  validLifetime: number;
  preferredLifetime: number;
}

export class AddressAutoconf {
  /** The addresses formed, each with its interface. */
  private readonly formed: Array<{ entry: Ipv6AddressEntry; iface: Ipv6Interface }> = [];
  private readonly timer: Timer;

  constructor(
    private readonly host: AutoconfHost,
    private readonly timers: Timers,
    private readonly counters: Counters,
    private readonly events: StackEvents,
    /** At most this many autoconfigured addresses in all. */
    private readonly maxAddresses: () => number,
  ) {
    this.timer = timers.create(() => this.expire());
  }

  get addresses(): readonly Ipv6AddressEntry[] {
    return this.formed.map((f) => f.entry);
  }

  /**
   * An autonomous prefix from a valid advertisement on `iface` (RFC 4862 5.5.3 b to e; the A
   * flag is the caller's test). Returns the address it formed or refreshed, if any.
   */
  prefixAdvertised(iface: Ipv6Interface, p: PrefixAdvertisement): Ipv6AddressEntry | undefined {
    if (isLinkLocalIpv6(p.prefix)) {
      this.counters.drop('ndp: autoconf-link-local-prefix');
      return undefined;
    }
    if (p.preferredLifetime > p.validLifetime) {
      this.counters.drop('ndp: autoconf-preferred-over-valid');
      return undefined;
    }
    const now = this.timers.clock.now();
    const valid = lifetimeMs(p.validLifetime);
    const preferred = lifetimeMs(p.preferredLifetime);
    const existing = this.find(iface, p);
    if (existing !== undefined) {
      this.refresh(existing, now, valid, preferred);
      this.schedule();
      return existing;
    }
    if (valid === 0) return undefined;
    if (p.prefixLength + IID_BITS !== 128) {
      this.counters.drop('ndp: autoconf-prefix-not-64');
      return undefined;
    }
    const ll = iface.addresses.find((a) => a.origin === 'link-local');
    if (ll === undefined) return undefined;
    const bytes = ll.address.bytes.slice();
    bytes.set(p.prefix.subarray(0, 8), 0);
    if (iface.find(intern6(bytes)) !== undefined) return undefined; // configured by hand already
    if (this.formed.length >= this.maxAddresses()) {
      this.counters.drop('ndp: autoconf-address-limit');
      return undefined;
    }
    const entry = this.host.addAddress(iface, bytes);
    entry.validUntil = now + valid;
    entry.preferredUntil = now + preferred;
    entry.deprecated = preferred === 0;
    this.formed.push({ entry, iface });
    this.schedule();
    return entry;
  }

  /** The address DAD just found usable: one more configured (counted once). */
  addressReady(entry: Ipv6AddressEntry): void {
    if (entry.origin === 'autoconf' && this.formed.some((f) => f.entry === entry)) this.counters.ndpAddressesConfigured++;
  }

  /** The address was taken away by other means: no longer ours to expire. */
  forget(entry: Ipv6AddressEntry): void {
    const i = this.formed.findIndex((f) => f.entry === entry);
    if (i >= 0) this.formed.splice(i, 1);
  }

  close(): void {
    this.timer.disarm();
  }

  private find(iface: Ipv6Interface, p: PrefixAdvertisement): Ipv6AddressEntry | undefined {
    for (const f of this.formed) {
      if (f.iface === iface && f.entry.prefixLength === p.prefixLength && ipv6PrefixMatch(f.entry.address.bytes, 0, p.prefix, 0, p.prefixLength)) return f.entry;
    }
    return undefined;
  }

  /** RFC 4862 5.5.3 e: the preferred lifetime is taken as it is, the valid one by the two-hour rule. */
  private refresh(entry: Ipv6AddressEntry, now: number, valid: number, preferred: number): void {
    entry.preferredUntil = now + preferred;
    if (entry.deprecated && preferred > 0) entry.deprecated = false;
    else if (preferred === 0) entry.deprecated = true;
    const remaining = entry.validUntil - now;
    if (valid > TWO_HOURS_MS || valid > remaining) entry.validUntil = now + valid;
    else if (remaining <= TWO_HOURS_MS) this.counters.drop('ndp: autoconf-valid-lifetime-kept');
    else entry.validUntil = now + TWO_HOURS_MS;
  }

  private schedule(): void {
    let next = Infinity;
    for (const { entry } of this.formed) {
      if (entry.validUntil < next) next = entry.validUntil;
      if (!entry.deprecated && entry.preferredUntil < next) next = entry.preferredUntil;
    }
    if (next === Infinity) this.timer.disarm();
    else this.timer.armAt(next);
  }

  private expire(): void {
    const now = this.timers.clock.now();
    for (let i = this.formed.length - 1; i >= 0; i--) {
      const { entry, iface } = this.formed[i]!;
      const where = { ip: `${entry.address}/${entry.prefixLength}`, device: `${iface.name} (${iface.device.name})` };
      if (entry.validUntil <= now) {
        this.formed.splice(i, 1);
        this.host.removeAddress(entry);
        this.events.event('ipv6 address expired (its valid lifetime ended)', where);
      } else if (!entry.deprecated && entry.preferredUntil <= now) {
        entry.deprecated = true;
        this.events.event('ipv6 address is deprecated (its preferred lifetime ended)', where);
      }
    }
    this.schedule();
  }
}
