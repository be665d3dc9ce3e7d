// NDP frames from a router on the link, for router discovery tests: RA and Redirect built with
// pstack's own emitters (wire/ndp.ts is tested against scapy and tshark in wire-icmpv6-ndp).
import { emitNdp, type NdpMessageInit } from '../../src/wire/ndp.js';
import { emitIpv6Header } from '../../src/wire/ipv6.js';
import { fillIcmpv6Checksum } from '../../src/wire/icmpv6.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { parseIpv6, multicastMac6 } from '../../src/wire/addr6.js';
import { parseMac } from '../../src/wire/addr.js';

export const ROUTER_MAC = parseMac('02:00:00:00:00:aa')!;
export const ip6 = (s: string) => parseIpv6(s)!;

export interface FrameOptions {
  src?: string;
  dst?: string;
  hopLimit?: number;
  /** Bytes written over the message after the checksum (to corrupt it). */
  corrupt?: (icmp: Uint8Array) => void;
  /** After `corrupt`, checksum the message again (a malformed message that arrives intact). */
  fixChecksum?: boolean;
  mac?: Uint8Array;
  /** Destination MAC (default: ours for unicast, 33:33:... for multicast). */
  dstMac?: Uint8Array;
}

/** An NDP message from `src` (default fe80::1) to `dst` (default ff02::1) in an Ethernet frame. */
export function ndpFrame(m: NdpMessageInit, o: FrameOptions = {}): Uint8Array {
  const src = ip6(o.src ?? 'fe80::1');
  const dst = ip6(o.dst ?? 'ff02::1');
  const buf = new Uint8Array(14 + 40 + 1500);
  const end = emitNdp(buf, 54, m, src, dst);
  const length = end - 54;
  o.corrupt?.(buf.subarray(54, end));
  if (o.fixChecksum === true) fillIcmpv6Checksum(buf, 54, length, src, dst);
  emitIpv6Header(buf, 14, src, 0, dst, 0, 58, length, o.hopLimit ?? 255);
  const dstMac = o.dstMac ?? (dst[0] === 0xff ? multicastMac6(dst) : parseMac('00:00:5e:00:53:01')!);
  emitEthernet(buf, 0, dstMac, o.mac ?? ROUTER_MAC, EtherType.IPv6);
  return buf.slice(0, end);
}

export interface RaInit {
  routerLifetime?: number;
  curHopLimit?: number;
  reachableTime?: number;
  retransTimer?: number;
  preference?: number;
  mtu?: number;
  prefixes?: Array<{ prefix: string; length?: number; onLink?: boolean; autonomous?: boolean; valid: number; preferred: number }>;
  rdnss?: Array<{ lifetime: number; servers: string[] }>;
  dnssl?: Array<{ lifetime: number; domains: string[] }>;
  sourceLinkLayer?: Uint8Array | null;
}

export function raFrame(ra: RaInit = {}, o: FrameOptions = {}): Uint8Array {
  return ndpFrame({
    kind: 'ra', curHopLimit: ra.curHopLimit ?? 0, managed: false, other: false, preference: ra.preference ?? 0,
    routerLifetime: ra.routerLifetime ?? 1800, reachableTime: ra.reachableTime ?? 0, retransTimer: ra.retransTimer ?? 0,
    options: {
      sourceLinkLayer: ra.sourceLinkLayer === undefined ? (o.mac ?? ROUTER_MAC) : ra.sourceLinkLayer,
      mtu: ra.mtu ?? null,
      prefixes: (ra.prefixes ?? []).map((p) => ({
        prefix: ip6(p.prefix), prefixLength: p.length ?? 64, onLink: p.onLink ?? true, autonomous: p.autonomous ?? true,
        validLifetime: p.valid, preferredLifetime: p.preferred,
      })),
      rdnss: (ra.rdnss ?? []).map((r) => ({ lifetime: r.lifetime, servers: r.servers.map(ip6) })),
      dnssl: ra.dnssl ?? [],
    },
  }, o);
}

export function redirectFrame(target: string, destination: string, o: FrameOptions & { targetMac?: Uint8Array } = {}): Uint8Array {
  return ndpFrame({
    kind: 'redirect', target: ip6(target), destination: ip6(destination),
    options: o.targetMac !== undefined ? { targetLinkLayer: o.targetMac } : {},
  }, { dst: 'fe80::200:5eff:fe00:5301', ...o });
}
