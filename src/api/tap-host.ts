/**
 * A started Stack on TAP devices, set up the one way both `openTapStack` and the `pstack`
 * commands use: every TAP opened first (so a missing privilege or a busy device fails before
 * anything is configured), loopback 127.0.0.1/8, each TAP's address, the kernel's side of
 * each tap addressed and up, the default gateway, then the devices started.
 */

import { LoopbackDevice } from '../link/loopback.js';
import { TapDevice, DEFAULT_TAP_MAC } from '../link/tap.js';
import { addAddress, addAddress6, linkUp, setMtu } from '../link/host-link.js';
import { parseIpv6Cidr, ipv6Prefix, type Ipv6Cidr } from '../wire/addr6.js';
import { ipv4ToString, parseCidr, parseIpv4, parseMac, type Ipv4Address, type Ipv4Cidr } from '../wire/addr.js';
import { Stack, type StackOptions } from './stack.js';
import { StackDhcp, type StackDhcpOptions } from './dhcp/on-stack.js';
import type { DhcpLease } from './dhcp/client.js';
import { warmUp, type WarmUpOptions, type WarmUpReport } from './warm-up.js';

export interface TapSpec {
  name: string;
  /** pstack's address on this tap, or 'dhcp' to lease one from a DHCP server on the link. */
  addr: Ipv4Cidr | 'dhcp';
  /** Address the kernel's side of the tap gets (e.g. 192.0.2.1/24); null leaves it alone. */
  hostAddr: Ipv4Cidr | null;
  mac: Uint8Array;
  /** pstack's IPv6 addresses on this tap, each with the kernel side's address (null: none). */
  addrs6?: TapAddress6[];
  /** This tap's MTU, when it differs from TapHostSpec.mtu. */
  mtu?: number;
}

export interface TapAddress6 {
  addr: Ipv6Cidr;
  hostAddr: Ipv6Cidr | null;
}

export interface TapHostSpec {
  taps: TapSpec[];
  gateway: Ipv4Address | null;
  /** MTU of every tap (the kernel's side is set to it too when it is not 1500). */
  mtu?: number;
  /** TAP checksum offload and TSO (default: on unless forwarding). */
  offload?: boolean;
  /** Busy polling of the taps (TapOpenOptions.busyPoll); default the device's default. */
  busyPoll?: number | 'always';
  /** Errors a tap reports after it opened (a write that failed). */
  onTapError?: (error: unknown) => void;
  stack?: StackOptions;
  /** Called with the stack before any address is configured (to attach a capture, say). */
  configure?: (stack: Stack) => void;
  /** For taps with addr 'dhcp': how long to wait for the first lease (default 30 s), and the client's options. */
  dhcpTimeoutMs?: number;
  dhcp?: StackDhcpOptions;
  /** DNS servers for the stack's resolver (IPv4 or IPv6; without them, a DHCP lease's and router advertisements' are used). */
  dns?: readonly string[];
  /**
   * Run the start-up warm-up (warm-up.ts) once the taps are open and before the stack is
   * made, so the first connections find compiled code (default true; an object sets its
   * bounds). It touches neither the taps nor the stack.
   */
  warmUp?: boolean | WarmUpOptions;
}

export interface TapHost {
  stack: Stack;
  taps: TapDevice[];
  /** The DHCP client of each tap whose address was leased (in tap order; others absent). */
  dhcp: Map<string, { client: StackDhcp; lease: DhcpLease }>;
  /** What the start-up warm-up did, or null when it was turned off. */
  warmUp: WarmUpReport | null;
  /** Stop (a DHCP lease is released) and close the devices. */
  close(): void;
}

/** Which step of the set-up failed, on which device, and why. */
export class TapSetupError extends Error {
  constructor(
    readonly step: 'open' | 'configure' | 'gateway' | 'dhcp',
    readonly device: string,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

const LOOPBACK: Ipv4Cidr = { address: 0x7f000001, prefixLength: 8 };

export async function openTapHost(spec: TapHostSpec): Promise<TapHost> {
  const mtu = spec.mtu ?? 1500;
  const forwarding = spec.stack?.forwarding ?? false;
  const taps: TapDevice[] = [];
  for (const t of spec.taps) {
    try {
      taps.push(TapDevice.open({ name: t.name, mtu: t.mtu ?? mtu, mac: t.mac, offload: spec.offload ?? !forwarding, busyPoll: spec.busyPoll, onError: spec.onTapError }));
    } catch (err) {
      for (const opened of taps) opened.close();
      throw new TapSetupError('open', t.name, err);
    }
  }
  // IPv6 runs when an IPv6 address is configured, or the stack options ask for it (`ipv6: true`:
  // link-local addresses and SLAAC only; `ipv6: { slaac: false }` to take nothing from routers).
  const wantsIpv6 = spec.taps.some((t) => (t.addrs6?.length ?? 0) > 0);
  const ipv6Given = spec.stack?.ipv6 !== undefined && spec.stack.ipv6 !== false;
  // Before the stack exists: objects made before the warm-up keep the shapes V8 had seen
  // until then, and code it compiled during the warm-up would be thrown away at their first
  // use. It never throws.
  let warmReport: WarmUpReport | null = null;
  if (spec.warmUp !== false) {
    try {
      warmReport = await warmUp({ tcp: spec.stack?.tcp, ...(typeof spec.warmUp === 'object' ? spec.warmUp : {}) });
    } catch (err) {
      for (const opened of taps) opened.close();
      throw err;
    }
  }
  const stack = new Stack(wantsIpv6 && !ipv6Given ? { ...spec.stack, ipv6: true } : spec.stack);
  const dhcp = new Map<string, { client: StackDhcp; lease: DhcpLease }>();
  const leasing: Array<{ name: string; client: StackDhcp }> = [];
  const close = () => {
    for (const l of leasing) l.client.stop(true);
    stack.close();
    for (const t of taps) t.close();
  };
  try {
    spec.configure?.(stack);
    stack.addInterface(new LoopbackDevice(), LOOPBACK);
    for (let i = 0; i < spec.taps.length; i++) {
      const t = spec.taps[i]!;
      if (t.addr === 'dhcp') {
        // The kernel's side belongs to whoever runs the DHCP server there: only the link is brought up.
        stack.addDevice(taps[i]!);
        for (const a of t.addrs6 ?? []) stack.ipv6!.addAddress(taps[i]!, stack.devices.indexOf(taps[i]!), a.addr);
        leasing.push({ name: t.name, client: new StackDhcp(stack, taps[i]!, { ...spec.dhcp, onLease: (lease, kind) => {
          // Used while no server was given (--dns): an explicit list wins over what the network says.
          stack.resolver.setDiscoveredServers(`dhcp:${t.name}`, lease.dnsServers.map(ipv4ToString));
          const search = lease.domainSearch.length > 0 ? lease.domainSearch : lease.domainName !== undefined ? [lease.domainName] : [];
          stack.resolver.setDiscoveredSearch(`dhcp:${t.name}`, search);
          spec.dhcp?.onLease?.(lease, kind);
        } }) });
        try {
          await linkUp(t.name);
        } catch (err) {
          throw new TapSetupError('configure', t.name, err);
        }
        continue;
      }
      stack.addInterface(taps[i]!, t.addr);
      for (const a of t.addrs6 ?? []) stack.ipv6!.addAddress(taps[i]!, stack.devices.indexOf(taps[i]!), a.addr);
      try {
        if ((t.mtu ?? mtu) !== 1500) await setMtu(t.name, t.mtu ?? mtu);
        if (t.hostAddr !== null) await addAddress(t.name, `${ipv4ToString(t.hostAddr.address)}/${t.hostAddr.prefixLength}`);
        for (const a of t.addrs6 ?? []) if (a.hostAddr !== null) await addAddress6(t.name, a.hostAddr);
        await linkUp(t.name);
      } catch (err) {
        throw new TapSetupError('configure', t.name, err);
      }
    }
    if (spec.gateway !== null) {
      try {
        stack.setDefaultGateway(spec.gateway);
      } catch (err) {
        throw new TapSetupError('gateway', '', err);
      }
    }
    if (spec.dns !== undefined) stack.resolver.setServers(spec.dns);
    stack.start();
    // Leases are asked for while Duplicate Address Detection runs (about a second), after which
    // the IPv6 addresses are usable.
    const leases = leasing.map((l) => leaseWithin(l.client, spec.dhcpTimeoutMs ?? 30_000, l.name));
    for (const p of leases) p.catch(() => {});
    if (stack.ipv6 !== null) await stack.ipv6.whenAddressesSettled();
    for (let i = 0; i < leasing.length; i++) dhcp.set(leasing[i]!.name, { client: leasing[i]!.client, lease: await leases[i]! });
  } catch (err) {
    close();
    throw err;
  }
  return { stack, taps, dhcp, warmUp: warmReport, close };
}

async function leaseWithin(client: StackDhcp, timeoutMs: number, device: string): Promise<DhcpLease> {
  const leased = client.waitForLease();
  client.start();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TapSetupError('dhcp', device, new Error(`no DHCP lease on ${device} within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
  });
  try {
    return await Promise.race([leased, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TapStackOptions extends StackOptions {
  /** TAP device (created if absent). Default tap0. */
  tap?: string;
  /** pstack's address, or several (IPv4 and IPv6 CIDRs). Default 192.0.2.2/24. */
  addr?: string | string[];
  /** Address for the kernel's side of the tap, or null to leave it alone. Default 192.0.2.1/24. */
  hostAddr?: string | null;
  /** Default gateway, or null for none. Default 192.0.2.1. */
  gateway?: string | null;
  mac?: string;
  mtu?: number;
  /** TAP checksum offload and TSO (default true unless forwarding; see TapOpenOptions.offload). */
  offload?: boolean;
  /** The start-up warm-up (TapHostSpec.warmUp; default true). */
  warmUp?: boolean | WarmUpOptions;
}

/**
 * What `pstack server` runs, for programs: a started Stack on one TAP (see openTapHost).
 * `stack.close()` closes the devices.
 */
export async function openTapStack(options: TapStackOptions = {}): Promise<Stack> {
  const { tap, addr: addrOption, hostAddr: hostText, gateway: gatewayText, mac: macText, mtu, offload, warmUp: warm, ...stackOptions } = options;
  const addrTexts = addrOption === undefined ? ['192.0.2.2/24'] : typeof addrOption === 'string' ? [addrOption] : addrOption;
  const v4Texts = addrTexts.filter((a) => !a.includes(':'));
  if (v4Texts.length !== 1) throw new TypeError(`addr needs exactly one IPv4 address (got ${JSON.stringify(addrOption)})`);
  const addrText = v4Texts[0]!;
  const addr = parseCidr(addrText);
  if (addr === null) throw new TypeError(`invalid addr ${JSON.stringify(addrText)}`);
  const addrs6: TapAddress6[] = [];
  for (const text of addrTexts.filter((a) => a.includes(':'))) {
    const a6 = parseIpv6Cidr(text);
    if (a6 === null || a6.prefixLength === 0 || a6.prefixLength > 126) throw new TypeError(`invalid addr ${JSON.stringify(text)}`);
    addrs6.push({ addr: a6, hostAddr: hostText === null ? null : defaultHostAddr6(a6) });
  }
  const mac = macText !== undefined ? parseMac(macText) : DEFAULT_TAP_MAC;
  if (mac === null) throw new TypeError(`invalid mac ${JSON.stringify(macText)}`);
  const hostAddrText = hostText === undefined ? '192.0.2.1/24' : hostText;
  const hostAddr = hostAddrText === null ? null : parseCidr(hostAddrText);
  if (hostAddrText !== null && hostAddr === null) throw new TypeError(`invalid hostAddr ${JSON.stringify(hostAddrText)}`);
  const gw = gatewayText === undefined ? '192.0.2.1' : gatewayText;
  const gateway = gw === null ? null : parseIpv4(gw);
  if (gw !== null && gateway === null) throw new TypeError(`invalid gateway ${JSON.stringify(gw)}`);
  const host = await openTapHost({
    taps: [{ name: tap ?? 'tap0', addr, hostAddr, mac, addrs6 }], gateway, mtu, offload, warmUp: warm, stack: stackOptions,
  });
  return host.stack;
}

/** The kernel side's IPv6 address: the network's first host (::1), or ::2 when pstack has ::1. */
export function defaultHostAddr6(addr: Ipv6Cidr): Ipv6Cidr {
  const net = ipv6Prefix(addr.address, addr.prefixLength);
  const first = net.slice();
  first[15] = first[15]! | 1;
  let same = true;
  for (let i = 0; i < 16; i++) if (first[i] !== addr.address[i]) same = false;
  if (same) first[15] = (first[15]! & ~3) | 2;
  return { address: first, prefixLength: addr.prefixLength };
}
