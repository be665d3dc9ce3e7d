/**
 * What the stack counts: frames and packets in and out per protocol, and every drop by its
 * reason. Plain numeric fields so that counting on the hot path is one increment.
 */

export class Counters {
  framesIn = 0;
  framesOut = 0;
  arpIn = 0;
  arpOut = 0;
  ipIn = 0;
  ipOut = 0;
  ipDelivered = 0;
  ipForwarded = 0;
  ipFragmentsIn = 0;
  ipFragmentsOut = 0;
  ipReassembled = 0;
  /** IPv4 datagrams to a multicast group the host takes, and sent to one (InMcastPkts, OutMcastPkts). */
  ipMulticastIn = 0;
  ipMulticastOut = 0;
  icmpIn = 0;
  icmpOut = 0;
  icmpEchoRequestsIn = 0;
  icmpEchoRepliesOut = 0;
  icmpErrorsOut = 0;
  icmpErrorsRateLimited = 0;
  /** Of those, the ones held back by the per-destination limit (the destination had its share). */
  icmpErrorsDestinationLimited = 0;
  /** Destinations the per-destination limiter forgot for a new one (icmp.maxDestinations). */
  icmpDestinationsEvicted = 0;
  igmpIn = 0;
  igmpOut = 0;
  igmpQueriesIn = 0;
  igmpReportsOut = 0;
  igmpLeavesOut = 0;
  /** MLD (mld.ts): messages in, queries in, reports (v1 and v2) and MLDv1 Dones sent. */
  mldIn = 0;
  mldQueriesIn = 0;
  mldReportsOut = 0;
  mldDonesOut = 0;
  /** IPv6 (the IPv6 layer, ipv6.ts): packets in, sent (fragments each count), delivered, fragments, reassembled. */
  ip6In = 0;
  ip6Out = 0;
  ip6Delivered = 0;
  ip6FragmentsIn = 0;
  ip6FragmentsOut = 0;
  ip6Reassembled = 0;
  /** Transit packets sent on as a router (forward6.ts). */
  ip6Forwarded = 0;
  icmp6In = 0;
  icmp6Out = 0;
  icmp6EchoRequestsIn = 0;
  icmp6EchoRepliesOut = 0;
  icmp6ErrorsOut = 0;
  icmp6ErrorsRateLimited = 0;
  /** Neighbor Discovery: solicitations and advertisements in and out. */
  ndpSolicitationsIn = 0;
  ndpSolicitationsOut = 0;
  ndpAdvertisementsIn = 0;
  ndpAdvertisementsOut = 0;
  /** Duplicate Address Detection found another host with one of our addresses. */
  ndpDuplicateAddresses = 0;
  /** Router discovery (router-discovery.ts): solicitations sent, advertisements received and what became of them. */
  ndpRouterSolicitationsOut = 0;
  ndpRouterAdvertisementsIn = 0;
  ndpRouterAdvertisementsAccepted = 0;
  ndpRouterAdvertisementsIgnored = 0;
  /** Redirects received, and those accepted (from the destination's first-hop router). */
  ndpRedirectsIn = 0;
  ndpRedirectsAccepted = 0;
  /** Addresses stateless autoconfiguration formed from a router's prefix that passed DAD. */
  ndpAddressesConfigured = 0;
  udpIn = 0;
  udpOut = 0;
  tcpIn = 0;
  tcpOut = 0;
  /** Exceptions caught at the stack boundary: each one is a bug, counted instead of crashing. */
  internalErrors = 0;
  /** Drops by reason, e.g. "ipv4: bad-checksum" or "arp: not-for-us". */
  readonly drops = new Map<string, number>();
  /** Told about every drop (the CLI logs them at debug level); null costs one check. */
  onDrop: ((reason: string, count: number) => void) | null = null;

  /** While set (a warm-path replay), drops are neither counted nor reported. */
  muted = false;

  drop(reason: string): void {
    if (this.muted) return;
    const n = (this.drops.get(reason) ?? 0) + 1;
    this.drops.set(reason, n);
    this.onDrop?.(reason, n);
  }

  /** Copy every numeric counter into `out` (for restore()); `out` is reused, nothing allocated once sized. */
  save(out: number[]): void {
    const keys = counterKeys(this);
    for (let i = 0; i < keys.length; i++) out[i] = (this as unknown as Record<string, number>)[keys[i]!]!;
  }

  restore(saved: readonly number[]): void {
    const keys = counterKeys(this);
    for (let i = 0; i < keys.length; i++) (this as unknown as Record<string, number>)[keys[i]!] = saved[i]!;
  }

  get totalDrops(): number {
    let n = 0;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v === 'number') out[k] = v;
    out.drops = Object.fromEntries([...this.drops.entries()].sort());
    return out;
  }
}

let keysCache: string[] | null = null;

/** The names of the numeric counters (the same for every instance). */
function counterKeys(c: Counters): string[] {
  keysCache ??= Object.keys(c).filter((k) => typeof (c as unknown as Record<string, unknown>)[k] === 'number');
  return keysCache;
}
