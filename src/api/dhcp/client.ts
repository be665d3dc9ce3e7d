/**
 * (Over 600 lines on purpose: the RFC 2131 states and their transitions read best in one
 * place; the message codec is wire/dhcp.ts and the stack binding on-stack.ts.)
 *
 * A DHCP client (RFC 2131 section 4.4) as a pure state machine: it owns no socket, no
 * interface and no clock. What it needs comes through `DhcpClientHost`: a timer heap, a way
 * to send a UDP payload from port 68 to port 67, an RFC 5227 ARP probe, and callbacks when
 * a lease is gained or lost. The stack side feeds it every UDP payload that arrives on port
 * 68 through `receive()`; that is the whole coupling, so the tests run it on a FakeClock.
 *
 *   INIT --DISCOVER--> SELECTING --OFFER/REQUEST--> REQUESTING --ACK--> PROBING --ok--> BOUND
 *     ^                                                 |  NAK, no answer      | conflict:
 *     +-------------------------------------------------+----------------------+ DECLINE, wait
 *   BOUND --T1--> RENEWING (unicast) --T2--> REBINDING (broadcast) --expiry--> INIT
 *   start(previous) --> INIT-REBOOT --REQUEST--> REBOOTING --ACK--> PROBING; NAK/silence --> INIT
 *
 * PROBING is the check RFC 2131 4.4.1 asks for between the ACK and BOUND ("the client SHOULD
 * probe the newly received address, e.g., with ARP"); RFC 2131's figure folds it into the
 * REQUESTING -> BOUND edge. INIT is the (possibly timed) wait before a DISCOVER.
 *
 * Choices where the RFCs leave room:
 * - The first acceptable OFFER is taken; offers are not collected.
 * - One xid per exchange (DISCOVER and its REQUEST, a reboot, a renewal), kept across
 *   retransmissions, so a late answer to an earlier copy still matches.
 * - Retransmission (RFC 2131 4.1): 4, 8, 16, 32, 64 s, each +-1 s uniformly. A DISCOVER is
 *   repeated every 64 s from then on; a REQUEST in REQUESTING gives up after the 64 s wait
 *   (back to INIT); in REBOOTING after `rebootAttempts` sends (dhclient waits 10 s, dhcpcd 5 s:
 *   a server that has no record of us stays silent, RFC 2131 4.3.2). RENEWING and REBINDING
 *   retransmit after half the time left to T2 / expiry, at least 60 s (RFC 2131 4.4.5).
 * - A NAK restarts at once the first time; consecutive NAKs wait 1, 2, 4 .. 64 s, so a NAK
 *   storm costs at most one exchange per minute. The count resets when a lease is bound.
 * - After a DECLINE the client waits 10 s (RFC 2131 4.4.1); after 10 conflicts in a row it
 *   waits 60 s (RFC 5227 MAX_CONFLICTS, RATE_LIMIT_INTERVAL).
 * - The lease starts when the first REQUEST of the exchange was sent (RFC 2131 4.4.1). T1 and
 *   T2 default to 0.5 and 0.875 of the lease; a T2 not below the lease, or a T1 not below T2,
 *   is replaced by its default. An infinite lease arms no timers.
 * - A lease shorter than `minLeaseSeconds` (10 s) is refused, so a hostile or broken server
 *   cannot make the client spin through expiries.
 * - Classless static routes (121) replace the Router option (3) entirely (RFC 3442: the
 *   client MUST ignore the Router option); `lease.routes` is what to install, and
 *   `lease.routers` is empty when 121 was present. Without 121, the first router becomes
 *   the default route. A missing subnet mask means the classful one.
 * - A malformed option the client can do without (see wire/dhcp.ts) counts as absent; a
 *   malformed server identifier or lease time drops the message.
 * - The probe is the integration's: it should resolve after RFC 5227's probe phase (true on a
 *   conflict); the announcement belongs with configuring the address. A probe that rejects
 *   counts in `probeErrors` and is taken as no conflict.
 */

import { isMulticast, macEquals, prefixToMask, maskToPrefix, type Ipv4Address } from '../../wire/addr.js';
import {
  BootpOp, DHCP_FLAG_BROADCAST, DHCP_INFINITE_LEASE, DhcpMessageType, DhcpOptionCode, createDhcpMessage, encodeDhcp,
  parseDhcp, type ClasslessRoute, type DhcpMessage, type DhcpOptions,
} from '../../wire/dhcp.js';
import type { Timer, Timers } from '../../time/clock.js';

export type DhcpState =
  | 'STOPPED' | 'INIT' | 'SELECTING' | 'REQUESTING' | 'PROBING' | 'BOUND' | 'RENEWING' | 'REBINDING'
  | 'INIT-REBOOT' | 'REBOOTING';

export type DhcpDestination = 'broadcast' | Ipv4Address;

export interface DhcpLease {
  address: Ipv4Address;
  prefixLength: number;
  subnetMask: Ipv4Address;
  /** Option 3 in order of preference; empty when classless routes (121) were given. */
  routers: Ipv4Address[];
  /** The routes to install: option 121's, or a default route via the first router. */
  routes: ClasslessRoute[];
  dnsServers: Ipv4Address[];
  domainName?: string;
  domainSearch: string[];
  mtu?: number;
  serverId: Ipv4Address;
  /** Seconds, as granted (DHCP_INFINITE_LEASE for ever); T1 and T2 after defaulting. */
  leaseSeconds: number;
  renewalSeconds: number;
  rebindingSeconds: number;
  /** Clock times (ms): when the lease started, and when T1, T2 and expiry fall (Infinity: never). */
  obtainedAt: number;
  renewAt: number;
  rebindAt: number;
  expiresAt: number;
}

export type DhcpLeaseLostReason = 'expired' | 'nak' | 'released' | 'stopped';

/** Everything the client needs from the world. */
export interface DhcpClientHost {
  /** The timer heap; `timers.clock` is the clock. */
  readonly timers: Timers;
  /**
   * Send a DHCP message as a UDP payload from port 68 to port 67, to the limited broadcast
   * (255.255.255.255, Ethernet broadcast) or unicast to an address, from `from` (0.0.0.0
   * until a lease is bound, then the leased address). The bytes are the caller's to keep.
   */
  send(payload: Uint8Array, destination: DhcpDestination, from: Ipv4Address): void;
  /** RFC 5227 probe of `address` on the link; resolves true when another host has it. */
  probe(address: Ipv4Address): Promise<boolean>;
  /** A lease is bound: configure it. Called again with kind 'renewed' after each renewal. */
  onLease(lease: DhcpLease, kind: 'new' | 'renewed'): void;
  /** The lease may no longer be used: remove the address and the routes. */
  onLeaseLost(lease: DhcpLease, reason: DhcpLeaseLostReason): void;
  /** A uniformly random unsigned 32-bit integer (xids, jitter); default crypto.getRandomValues. */
  random?(): number;
  /** Told about every state change (for logs). */
  onStateChange?(from: DhcpState, to: DhcpState): void;
}

export interface DhcpClientOptions {
  /** The interface's Ethernet address (chaddr, and the default client identifier). */
  mac: Uint8Array;
  /** Option 61; default hardware type 1 followed by the MAC (RFC 2132 9.14). */
  clientId?: Uint8Array;
  /** Option 12, sent in DISCOVER and REQUEST. */
  hostName?: string;
  /** Ask servers to broadcast their answers (needed while the stack cannot take unicast to an unconfigured address). Default true. */
  broadcastFlag?: boolean;
  /** Option 55; default subnet mask, classless routes, router, DNS, domain, search, MTU, times. */
  parameterRequestList?: number[];
  /** Option 57, the largest DHCP message (IP datagram) we accept; default 1500. */
  maxMessageSize?: number;
  /** REQUESTs sent in REBOOTING before falling back to INIT; default 2 (about 12 s). */
  rebootAttempts?: number;
  /** REQUESTs sent in REQUESTING before falling back to INIT; default 5 (about 124 s). */
  requestAttempts?: number;
  /** Shortest lease accepted, in seconds; default 10. */
  minLeaseSeconds?: number;
}

export const DEFAULT_PARAMETER_REQUEST_LIST: readonly number[] = [
  DhcpOptionCode.SubnetMask, DhcpOptionCode.ClasslessRoutes, DhcpOptionCode.Router, DhcpOptionCode.DnsServer,
  DhcpOptionCode.DomainName, DhcpOptionCode.DomainSearch, DhcpOptionCode.InterfaceMtu, DhcpOptionCode.LeaseTime,
  DhcpOptionCode.RenewalTime, DhcpOptionCode.RebindingTime,
];

export const DHCP_DROP_REASONS = [
  /** Arrived in a state that waits for nothing (INIT, PROBING, BOUND, STOPPED). */
  'not-expected',
  /** The codec could not frame it (see parseDhcp's errors). */
  'malformed',
  'not-reply',
  'wrong-xid',
  'wrong-chaddr',
  /** Echoed a client identifier (RFC 6842) that is not ours. */
  'wrong-client-id',
  'no-message-type',
  /** An OFFER while requesting, an ACK while selecting, a DISCOVER, ... */
  'unexpected-type',
  'missing-server-id',
  /** From a server other than the one chosen (or holding the lease, when renewing). */
  'wrong-server',
  /** A yiaddr no host may have: 0/8, loopback, multicast, class E, subnet network or broadcast. */
  'bad-address',
  /** An ACK for an address other than the one requested. */
  'wrong-address',
  'missing-lease-time',
  'lease-too-short',
  /** A non-contiguous or zero subnet mask. */
  'bad-subnet-mask',
  /** The server identifier or lease time was present but malformed. */
  'malformed-option',
] as const;

export type DhcpDropReason = (typeof DHCP_DROP_REASONS)[number];

export class DhcpClientCounters {
  discovers = 0;
  requests = 0;
  declines = 0;
  releases = 0;
  /** Repeated sends of a DISCOVER or REQUEST (included in the counts above). */
  retransmissions = 0;
  /** Messages handed to receive(). */
  received = 0;
  offersAccepted = 0;
  acks = 0;
  naks = 0;
  conflicts = 0;
  probeErrors = 0;
  leasesBound = 0;
  leasesRenewed = 0;
  leasesLost = 0;
  /** REQUEST exchanges that got no answer in time. */
  timeouts = 0;
  /** Malformed options ignored in accepted messages. */
  ignoredOptions = 0;
  readonly drops = Object.fromEntries(DHCP_DROP_REASONS.map((r) => [r, 0])) as Record<DhcpDropReason, number>;

  drop(reason: DhcpDropReason): void {
    this.drops[reason]++;
  }

  get totalDrops(): number {
    let n = 0;
    for (const r of DHCP_DROP_REASONS) n += this.drops[r];
    return n;
  }
}

const SECOND = 1000;
const DECLINE_WAIT = 10 * SECOND;
const MAX_CONFLICTS = 10;
const RATE_LIMIT_INTERVAL = 60 * SECOND;
const RENEW_MIN_WAIT = 60 * SECOND;
const MAX_NAK_WAIT = 64 * SECOND;

function defaultRandom(): number {
  const w = new Uint32Array(1);
  globalThis.crypto.getRandomValues(w);
  return w[0]!;
}

function classfulMask(addr: Ipv4Address): Ipv4Address {
  const top = addr >>> 24;
  if (top < 128) return 0xff000000;
  if (top < 192) return 0xffff0000;
  return 0xffffff00;
}

function contiguous(mask: Ipv4Address): boolean {
  const inv = ~mask >>> 0;
  return ((inv + 1) & inv) === 0;
}

/** An address no DHCP server may lease (before any mask is known). */
function unusable(addr: Ipv4Address): boolean {
  const top = addr >>> 24;
  return top === 0 || top === 127 || isMulticast(addr) || top >= 240;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class DhcpClient {
  readonly counters = new DhcpClientCounters();
  private _state: DhcpState = 'STOPPED';
  private _lease: DhcpLease | null = null;
  /** Bumped on every state change: a probe answer from an earlier state is ignored. */
  private epoch = 0;

  private readonly mac: Uint8Array;
  private readonly clientId: Uint8Array;
  private readonly random: () => number;
  private readonly retransmitTimer: Timer;
  private readonly renewTimer: Timer;
  private readonly rebindTimer: Timer;
  private readonly expiryTimer: Timer;

  private xid = 0;
  /** Sends of the current message in this exchange (1 after the first). */
  private sends = 0;
  /** When the exchange began ('secs'), and when its first REQUEST left (lease start). */
  private exchangeStart = 0;
  private requestSentAt = 0;
  /** 'secs' of the last DISCOVER, repeated in the REQUEST that follows (RFC 2131 4.4.1). */
  private discoverSecs = 0;
  /** The server and address chosen (SELECTING) or asked for again (REBOOTING). */
  private chosenServer = 0;
  private chosenAddress = 0;
  /** The address to suggest in a DISCOVER (option 50), from the last lease. */
  private lastAddress = 0;
  private nakCount = 0;
  private conflictCount = 0;

  constructor(
    private readonly host: DhcpClientHost,
    private readonly options: DhcpClientOptions,
  ) {
    this.mac = options.mac.slice(0, 6);
    this.clientId = options.clientId?.slice() ?? Uint8Array.from([1, ...this.mac]);
    this.random = host.random ? () => host.random!() >>> 0 : defaultRandom;
    const t = host.timers;
    this.retransmitTimer = t.create(() => this.onRetransmit());
    this.renewTimer = t.create(() => this.onRenew());
    this.rebindTimer = t.create(() => this.onRebind());
    this.expiryTimer = t.create(() => this.onExpiry());
  }

  get state(): DhcpState {
    return this._state;
  }

  /** The lease in use (BOUND, RENEWING, REBINDING), else null. */
  get lease(): DhcpLease | null {
    return this._lease;
  }

  private now(): number {
    return this.host.timers.clock.now();
  }

  /**
   * Begin. With the address of a previous lease the client asks for it again (INIT-REBOOT);
   * without, it discovers. Does nothing unless stopped.
   */
  start(previous?: { address: Ipv4Address }): void {
    if (this._state !== 'STOPPED') return;
    this.nakCount = 0;
    this.conflictCount = 0;
    if (previous && !unusable(previous.address) && previous.address !== 0xffffffff) {
      this.lastAddress = previous.address;
      this.initReboot(previous.address);
    } else {
      this.enterInit(0);
    }
  }

  /** Stop; a lease in use is released (RELEASE unicast to its server) unless release is false. */
  stop(options: { release?: boolean } = {}): void {
    if (this._state === 'STOPPED') return;
    const lease = this._lease;
    const release = options.release ?? true;
    if (lease && release) {
      const m = this.message(DhcpMessageType.Release, this.newXid(), { serverId: lease.serverId });
      m.ciaddr = lease.address;
      this.counters.releases++;
      this.transmit(m, lease.serverId, lease.address);
    }
    this.clearTimers();
    this._lease = null;
    this.setState('STOPPED');
    if (lease) this.loseLease(lease, release ? 'released' : 'stopped');
  }

  /** A UDP payload that arrived on port 68. */
  receive(payload: Uint8Array): void {
    this.counters.received++;
    const state = this._state;
    if (state !== 'SELECTING' && state !== 'REQUESTING' && state !== 'REBOOTING' && state !== 'RENEWING' && state !== 'REBINDING') {
      return this.counters.drop('not-expected');
    }
    const parsed = parseDhcp(payload, 0, payload.length);
    if (parsed.error !== null) return this.counters.drop('malformed');
    const m = parsed.message;
    const o = m.options;
    if (m.op !== BootpOp.Reply) return this.counters.drop('not-reply');
    if (m.xid !== this.xid) return this.counters.drop('wrong-xid');
    if (m.htype !== 1 || m.hlen !== 6 || !macEquals(m.chaddr, 0, this.mac)) return this.counters.drop('wrong-chaddr');
    if (o.clientId && !bytesEqual(o.clientId, this.clientId)) return this.counters.drop('wrong-client-id');
    if (o.messageType === undefined) return this.counters.drop('no-message-type');
    const bad = new Set(parsed.problems.map((p) => p.code));
    if (bad.has(DhcpOptionCode.ServerId)) return this.counters.drop('malformed-option');
    const type = o.messageType;
    if (state === 'SELECTING') {
      if (type !== DhcpMessageType.Offer) return this.counters.drop('unexpected-type');
      return this.onOffer(m, parsed.problems.length);
    }
    if (type === DhcpMessageType.Ack) {
      if (bad.has(DhcpOptionCode.LeaseTime)) return this.counters.drop('malformed-option');
      return this.onAck(m, parsed.problems.length);
    }
    if (type === DhcpMessageType.Nak) return this.onNak(m);
    this.counters.drop('unexpected-type');
  }

  // -------------------------------------------------------------------------------------
  // Receiving

  /** The server a reply must come from in this state, or 0 for any. */
  private expectedServer(): number {
    if (this._state === 'REQUESTING') return this.chosenServer;
    if (this._state === 'RENEWING') return this._lease!.serverId;
    return 0;
  }

  private onOffer(m: DhcpMessage, problems: number): void {
    const o = m.options;
    if (o.serverId === undefined || o.serverId === 0) return this.counters.drop('missing-server-id');
    const mask = this.maskFor(m);
    if (mask === null) return this.counters.drop('bad-subnet-mask');
    if (!this.acceptableAddress(m.yiaddr, mask)) return this.counters.drop('bad-address');
    this.counters.offersAccepted++;
    this.counters.ignoredOptions += problems;
    this.chosenServer = o.serverId;
    this.chosenAddress = m.yiaddr;
    this.setState('REQUESTING');
    this.sends = 0;
    this.requestSentAt = this.now();
    this.sendRequest();
  }

  private onAck(m: DhcpMessage, problems: number): void {
    const o = m.options;
    if (o.serverId === undefined || o.serverId === 0) return this.counters.drop('missing-server-id');
    const expected = this.expectedServer();
    if (expected !== 0 && o.serverId !== expected) return this.counters.drop('wrong-server');
    const wanted = this._lease ? this._lease.address : this.chosenAddress;
    if (m.yiaddr !== wanted) return this.counters.drop(m.yiaddr === 0 ? 'bad-address' : 'wrong-address');
    if (o.leaseTime === undefined) return this.counters.drop('missing-lease-time');
    if (o.leaseTime < (this.options.minLeaseSeconds ?? 10)) return this.counters.drop('lease-too-short');
    const mask = this.maskFor(m);
    if (mask === null) return this.counters.drop('bad-subnet-mask');
    if (!this.acceptableAddress(m.yiaddr, mask)) return this.counters.drop('bad-address');
    this.counters.acks++;
    this.counters.ignoredOptions += problems;
    const lease = this.buildLease(m, mask);
    if (this._state === 'RENEWING' || this._state === 'REBINDING') {
      this.bind(lease, 'renewed');
      return;
    }
    this.retransmitTimer.disarm();
    this.setState('PROBING');
    const epoch = this.epoch;
    let probe: Promise<boolean>;
    try {
      probe = this.host.probe(lease.address);
    } catch {
      probe = Promise.reject(new Error('probe threw'));
    }
    probe.then(
      (conflict) => { if (this.epoch === epoch) this.afterProbe(lease, conflict); },
      () => {
        if (this.epoch !== epoch) return;
        this.counters.probeErrors++;
        this.afterProbe(lease, false);
      },
    );
  }

  private afterProbe(lease: DhcpLease, conflict: boolean): void {
    if (!conflict) {
      this.bind(lease, 'new');
      return;
    }
    this.counters.conflicts++;
    this.conflictCount++;
    const m = this.message(DhcpMessageType.Decline, this.xid, {
      serverId: lease.serverId, requestedIp: lease.address, message: 'address in use (ARP probe)',
    });
    this.counters.declines++;
    this.transmit(m, 'broadcast', 0);
    this.lastAddress = 0; // do not suggest it again
    this.enterInit(this.conflictCount >= MAX_CONFLICTS ? RATE_LIMIT_INTERVAL : DECLINE_WAIT);
  }

  private onNak(m: DhcpMessage): void {
    const server = m.options.serverId;
    if (server === undefined || server === 0) return this.counters.drop('missing-server-id');
    const expected = this.expectedServer();
    if (expected !== 0 && server !== expected) return this.counters.drop('wrong-server');
    this.counters.naks++;
    this.nakCount++;
    const lease = this._lease;
    this._lease = null;
    this.clearTimers();
    this.lastAddress = 0;
    this.enterInit(this.nakCount <= 1 ? 0 : Math.min(SECOND * 2 ** (this.nakCount - 2), MAX_NAK_WAIT));
    if (lease) this.loseLease(lease, 'nak');
  }

  private maskFor(m: DhcpMessage): Ipv4Address | null {
    const mask = m.options.subnetMask ?? classfulMask(m.yiaddr);
    return mask === 0 || !contiguous(mask) ? null : mask;
  }

  private acceptableAddress(addr: Ipv4Address, mask: Ipv4Address): boolean {
    if (addr === 0 || unusable(addr)) return false;
    if (maskToPrefix(mask) <= 30) {
      const host = addr & ~mask;
      if (host === 0 || (host | mask) >>> 0 === 0xffffffff) return false;
    }
    return true;
  }

  private buildLease(m: DhcpMessage, mask: Ipv4Address): DhcpLease {
    const o = m.options;
    const leaseSeconds = o.leaseTime!;
    const infinite = leaseSeconds === DHCP_INFINITE_LEASE;
    const t2 = o.rebindingTime !== undefined && o.rebindingTime < leaseSeconds ? o.rebindingTime : Math.floor(leaseSeconds * 0.875);
    const t1 = o.renewalTime !== undefined && o.renewalTime < t2 ? o.renewalTime : Math.min(Math.floor(leaseSeconds * 0.5), t2);
    const start = this.requestSentAt;
    const classless = o.classlessRoutes;
    const routers = classless ? [] : (o.routers ?? []);
    const routes = classless
      ? classless.map((r) => ({ ...r }))
      : routers.length > 0 ? [{ destination: 0, prefixLength: 0, router: routers[0]! }] : [];
    const lease: DhcpLease = {
      address: m.yiaddr,
      prefixLength: maskToPrefix(mask),
      subnetMask: prefixToMask(maskToPrefix(mask)),
      routers: [...routers],
      routes,
      dnsServers: [...(o.dnsServers ?? [])],
      domainSearch: [...(o.domainSearch ?? [])],
      serverId: o.serverId!,
      leaseSeconds,
      renewalSeconds: t1,
      rebindingSeconds: t2,
      obtainedAt: start,
      renewAt: infinite ? Infinity : start + t1 * SECOND,
      rebindAt: infinite ? Infinity : start + t2 * SECOND,
      expiresAt: infinite ? Infinity : start + leaseSeconds * SECOND,
    };
    if (o.domainName !== undefined) lease.domainName = o.domainName;
    if (o.interfaceMtu !== undefined) lease.mtu = o.interfaceMtu;
    return lease;
  }

  private bind(lease: DhcpLease, kind: 'new' | 'renewed'): void {
    this.clearTimers();
    this._lease = lease;
    this.lastAddress = lease.address;
    this.nakCount = 0;
    this.conflictCount = 0;
    this.setState('BOUND');
    if (lease.expiresAt !== Infinity) {
      this.renewTimer.armAt(lease.renewAt);
      this.rebindTimer.armAt(lease.rebindAt);
      this.expiryTimer.armAt(lease.expiresAt);
    }
    if (kind === 'new') this.counters.leasesBound++;
    else this.counters.leasesRenewed++;
    this.host.onLease(lease, kind);
  }

  private loseLease(lease: DhcpLease, reason: DhcpLeaseLostReason): void {
    this.counters.leasesLost++;
    this.host.onLeaseLost(lease, reason);
  }

  // -------------------------------------------------------------------------------------
  // Timers

  private onRetransmit(): void {
    switch (this._state) {
      case 'INIT':
        this.startSelecting();
        break;
      case 'SELECTING':
        this.counters.retransmissions++;
        this.sendDiscover();
        break;
      case 'REQUESTING':
      case 'REBOOTING': {
        const max = this._state === 'REQUESTING' ? (this.options.requestAttempts ?? 5) : (this.options.rebootAttempts ?? 2);
        if (this.sends >= max) {
          this.counters.timeouts++;
          this.enterInit(0);
        } else {
          this.counters.retransmissions++;
          this.sendRequest();
        }
        break;
      }
      case 'RENEWING':
      case 'REBINDING':
        this.counters.retransmissions++;
        this.sendRequest();
        break;
      default:
        break;
    }
  }

  private onRenew(): void {
    if (this._state !== 'BOUND') return;
    this.setState('RENEWING');
    this.beginRenewal();
  }

  private onRebind(): void {
    if (this._state !== 'BOUND' && this._state !== 'RENEWING') return;
    this.setState('REBINDING');
    this.beginRenewal();
  }

  private beginRenewal(): void {
    this.xid = this.newXid();
    this.sends = 0;
    this.exchangeStart = this.now();
    this.requestSentAt = this.exchangeStart;
    this.sendRequest();
  }

  private onExpiry(): void {
    const lease = this._lease;
    if (!lease) return;
    this._lease = null;
    this.clearTimers();
    this.enterInit(0);
    this.loseLease(lease, 'expired');
  }

  // -------------------------------------------------------------------------------------
  // Sending

  /** INIT, then a DISCOVER at once or after `delayMs`. */
  private enterInit(delayMs: number): void {
    this.clearTimers();
    this.setState('INIT');
    if (delayMs > 0) this.retransmitTimer.arm(delayMs);
    else this.startSelecting();
  }

  private startSelecting(): void {
    this.xid = this.newXid();
    this.sends = 0;
    this.exchangeStart = this.now();
    this.chosenServer = 0;
    this.chosenAddress = 0;
    this.setState('SELECTING');
    this.sendDiscover();
  }

  private initReboot(address: Ipv4Address): void {
    this.setState('INIT-REBOOT');
    this.xid = this.newXid();
    this.sends = 0;
    this.exchangeStart = this.now();
    this.requestSentAt = this.exchangeStart;
    this.chosenServer = 0;
    this.chosenAddress = address;
    this.setState('REBOOTING');
    this.sendRequest();
  }

  private sendDiscover(): void {
    const opts: DhcpOptions = this.requestOptions();
    if (this.lastAddress !== 0) opts.requestedIp = this.lastAddress;
    const m = this.message(DhcpMessageType.Discover, this.xid, opts);
    this.discoverSecs = this.secs();
    m.secs = this.discoverSecs;
    if (this.options.broadcastFlag ?? true) m.flags = DHCP_FLAG_BROADCAST;
    this.counters.discovers++;
    this.transmit(m, 'broadcast', 0);
    this.scheduleRetransmit();
  }

  /** The REQUEST of the current state (RFC 2131 table 5 and 4.3.2). */
  private sendRequest(): void {
    const state = this._state;
    const opts = this.requestOptions();
    let destination: DhcpDestination = 'broadcast';
    let from = 0;
    let ciaddr = 0;
    let secs = this.secs();
    if (state === 'REQUESTING') {
      opts.serverId = this.chosenServer;
      opts.requestedIp = this.chosenAddress;
      secs = this.discoverSecs;
    } else if (state === 'REBOOTING') {
      opts.requestedIp = this.chosenAddress;
    } else {
      const lease = this._lease!;
      ciaddr = lease.address;
      from = lease.address;
      if (state === 'RENEWING') destination = lease.serverId;
    }
    const m = this.message(DhcpMessageType.Request, this.xid, opts);
    m.ciaddr = ciaddr;
    m.secs = secs;
    if ((state === 'REQUESTING' || state === 'REBOOTING') && (this.options.broadcastFlag ?? true)) m.flags = DHCP_FLAG_BROADCAST;
    this.counters.requests++;
    this.transmit(m, destination, from);
    this.scheduleRetransmit();
  }

  private scheduleRetransmit(): void {
    this.sends++;
    const state = this._state;
    if (state === 'RENEWING' || state === 'REBINDING') {
      const lease = this._lease!;
      const until = state === 'RENEWING' ? lease.rebindAt : lease.expiresAt;
      const now = this.now();
      const wait = Math.max(RENEW_MIN_WAIT, (until - now) / 2);
      if (now + wait < until) this.retransmitTimer.arm(wait);
      else this.retransmitTimer.disarm(); // T2 or expiry comes first
      return;
    }
    // RFC 2131 4.1: 4 s, doubling to 64 s, each randomized by a uniform -1..+1 s.
    const base = Math.min(4 * SECOND * 2 ** (this.sends - 1), 64 * SECOND);
    const jitter = (this.random() / 0x100000000) * 2 * SECOND - SECOND;
    this.retransmitTimer.arm(base + jitter);
  }

  private requestOptions(): DhcpOptions {
    const opts: DhcpOptions = {
      clientId: this.clientId,
      maxMessageSize: this.options.maxMessageSize ?? 1500,
      parameterRequestList: [...(this.options.parameterRequestList ?? DEFAULT_PARAMETER_REQUEST_LIST)],
    };
    if (this.options.hostName !== undefined) opts.hostName = this.options.hostName;
    return opts;
  }

  private message(type: number, xid: number, options: DhcpOptions): DhcpMessage {
    const chaddr = new Uint8Array(16);
    chaddr.set(this.mac);
    const base: DhcpOptions = { messageType: type };
    if (type === DhcpMessageType.Decline || type === DhcpMessageType.Release) base.clientId = this.clientId;
    return createDhcpMessage({ op: BootpOp.Request, xid, chaddr, options: Object.assign(base, options) });
  }

  private transmit(m: DhcpMessage, destination: DhcpDestination, from: Ipv4Address): void {
    this.host.send(encodeDhcp(m), destination, from);
  }

  private secs(): number {
    return Math.min(0xffff, Math.floor((this.now() - this.exchangeStart) / SECOND));
  }

  private newXid(): number {
    return this.random() >>> 0;
  }

  private clearTimers(): void {
    this.retransmitTimer.disarm();
    this.renewTimer.disarm();
    this.rebindTimer.disarm();
    this.expiryTimer.disarm();
  }

  private setState(to: DhcpState): void {
    const from = this._state;
    this._state = to;
    this.epoch++;
    if (from !== to) this.host.onStateChange?.(from, to);
  }
}
