/**
 * TCP (RFC 9293) for one Stack: the IP protocol handler for protocol 6, connection and
 * listener tables, passive and active open, and the user operations (SEND, RECEIVE, CLOSE,
 * ABORT of RFC 9293 3.10) that the net API (src/api/net.ts) builds Node-style sockets on.
 *
 * Input runs segment by segment inside the stack's device batch (`receive`); everything it
 * owes afterwards is coalesced and done in `endBatch`: first the user notifications (data
 * became readable, a connection was accepted, ...), so the application can read and answer
 * in the same batch, then the ACKs still owed. User callbacks never run in the middle of
 * segment processing. Outside a batch (timers, user calls) the same flush runs from a
 * microtask.
 */

import { randomInt } from '../random.js';
import {
  TX_HEADROOM, type NetworkLayer, type TransportProtocol, type EndpointProvider, type EndpointInfo, type IpOutputOptions,
  type RouteResult, type InboundPacket, type TransportError, type IpAddress,
} from '../../stack/network.js';
import { emitTcpWith, TcpFlag, TCP_MIN_HEADER, TCP_PROTOCOL, type TcpRepr } from '../../wire/tcp.js';
import { emitTcpOptions, parseTcpOptions, type TcpOptionsOut } from '../../wire/tcp-options.js';
import { IsnGenerator } from './isn.js';
import { SynCookies, encodeCookieTimestamp, decodeCookieTimestamp, COOKIE_PERIOD_MS, type CookieTsOptions } from './syn-cookies.js';
import { seqAdd, seqGt, seqInRange, seqSub } from './seq.js';
import type { SeqRange } from './sack.js';
import {
  Tcb, TcbEvent, TcpState, TCP_STATE_NAMES, RetransmitKind, defaultTcpConfig, type TcpConfig, type TcbUser,
} from './tcb.js';
import { Segment, closedInput, listenInput, otherInput, synSentInput } from './input.js';
import { RecvBuffer } from './recv-buffer.js';
import { retransmitRange, sendAck, sendRstFor, sendRstRaw, sendSyn, tcpOutput } from './output.js';
import { onTcbTimer, scheduleTcbTimer } from './timers.js';

const { SYN, ACK, RST } = TcpFlag;

/** Counters in the spirit of the TCP MIB (RFC 4022) plus a few of Linux's. */
export class TcpStats {
  activeOpens = 0;
  passiveOpens = 0;
  activeOpensEstablished = 0;
  passiveOpensEstablished = 0;
  attemptFails = 0;
  estabResets = 0;
  retransSegs = 0;
  outRsts = 0;
  fastRetransmits = 0;
  timeouts = 0;
  challengeAcks = 0;
  pawsRejected = 0;
  delayedAcks = 0;
  windowProbes = 0;
  keepAliveProbes = 0;
  synCookiesSent = 0;
  synCookiesValidated = 0;
  timeWaitOverflows = 0;
  tailLossProbes = 0;
  /**
   * Retransmissions judged lost and sent again before the RTO: by the probe timeout in
   * recovery, or by SACKs after an RTO (Linux counts these as TCPLostRetransmit).
   */
  lostRetransmits = 0;
  /** SACK ranges a scoreboard forgot because it held tcp.maxSackRanges already. */
  sackRangesEvicted = 0;
  /** Sends cut short because the send buffer (tcp.sendBufferSize) was full. */
  sendBufferFull = 0;
}

/** Told when a listener has established connections to accept. */
export interface ListenerUser {
  onConnection(tcb: Tcb): void;
}

/** A passive OPEN (RFC 9293 3.10.1): a port (and address, or any) accepting connections. */
export class Listener {
  /** Established children not yet handed to the user (the accept queue). */
  readonly acceptQueue: Tcb[] = [];
  /** Children in SYN_RECEIVED (the SYN queue). */
  synQueueLength = 0;
  closed = false;
  user: ListenerUser | null = null;
  /** Last time the SYN or accept queue overflowed (SYN cookies are accepted shortly after). */
  lastOverflowAt = -Infinity;
  constructor(
    readonly localAddr: IpAddress,
    readonly localPort: number,
    /** Bound on the accept queue. */
    public backlog: number,
  ) {}
}

export class TcpError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;

export class Tcp implements TransportProtocol, EndpointProvider {
  readonly protocolNumber = TCP_PROTOCOL;
  readonly config: TcpConfig;
  readonly stats = new TcpStats();

  /** The TCP MIB-style counters as tcpXxx names, merged into `pstack stats`. */
  statistics(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.stats)) out[`tcp${k[0]!.toUpperCase()}${k.slice(1)}`] = v as number;
    return out;
  }
  /** Connections by remote address and port, chained through `Tcb.nextInChain`. */
  private readonly table = new Map<number, Tcb>();
  private readonly listeners = new Map<number, Listener[]>();
  private readonly isn: IsnGenerator;
  private readonly cookies: SynCookies;
  /** TSval offset for SYN-cookie connections (a per-connection one cannot be remembered). */
  private readonly cookieTsOffset = randomInt(0, 0x7fffffff);
  /** Connection blocks (every state but LISTEN). */
  connectionCount = 0;
  timeWaitCount = 0;
  /** Observe state changes (tests, inspection). */
  onStateChange: ((tcb: Tcb, from: number, to: number) => void) | null = null;

  // Reused on every segment: parsing, building, sending.
  /** @internal */ readonly seg = new Segment();
  /** @internal */ readonly optsOut: TcpOptionsOut = {
    mss: -1, windowScale: -1, sackPermitted: false, timestamps: false, tsVal: 0, tsEcr: 0,
    sackBlocks: new Array<number>(8).fill(0), sackCount: 0,
  };
  /** @internal */ readonly reprOut: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgentPointer: 0 };
  /** @internal */ readonly ipOpts: IpOutputOptions = { src: 0, dst: 0, protocol: TCP_PROTOCOL, dontFragment: true };
  /** @internal */ readonly rangeScratch: SeqRange = { start: 0, end: 0 };
  // Room for an address of either IP version, for hashing into ISNs and cookies.
  private readonly addrA = new Uint8Array(16);
  private readonly addrB = new Uint8Array(16);
  private readonly cookieTs: CookieTsOptions = { wscale: -1, sackOk: false, ecn: false };

  private readonly ackList: Tcb[] = [];
  private readonly notifyList: Tcb[] = [];
  private flushQueued = false;
  private flushing = false;
  private readonly flushTask = () => {
    this.flushQueued = false;
    this.flush();
  };
  /** Connections whose immediate ACK waits for the application's reaction (see flush). */
  private readonly replyWaitList: Tcb[] = [];
  private replyWaitQueued = false;
  private readonly replyWaitTask = () => {
    this.replyWaitQueued = false;
    this.sendAcksAfterReplies();
  };
  // RFC 5961 section 7 challenge-ACK limiter (token bucket, one second).
  private challengeTokens: number;
  private challengeAt = 0;

  constructor(readonly stack: NetworkLayer, config: Partial<TcpConfig> = {}) {
    this.config = { ...defaultTcpConfig, ...config };
    this.isn = new IsnGenerator(stack.clock);
    this.cookies = new SynCookies(stack.clock);
    this.challengeTokens = this.config.challengeAckLimit;
    stack.registerTransport(this, this);
  }

  // ======================================================================== input

  receive(ip: InboundPacket): void {
    const stack = this.stack;
    const counters = stack.counters;
    counters.tcpIn++;
    const seg = this.seg;
    const v = seg.view.reset(ip.buf, ip.payloadOffset, ip.payloadLength);
    const bad = v.check();
    if (bad !== null) {
      counters.drop(bad === 'too-short' ? 'tcp: too-short' : 'tcp: bad-header-length');
      return;
    }
    const src = ip.src;
    const dst = ip.dst;
    // RFC 1122 4.2.3.10: never answer (or accept) segments to or from broadcast/multicast.
    if (!stack.isLocalAddress(dst)) {
      counters.drop('tcp: not-unicast');
      return;
    }
    if (!stack.isUnicast(src)) {
      counters.drop('tcp: bad-source');
      return;
    }
    if (!ip.checksumOk && !v.verifyChecksumWith(stack.pseudoHeaderSum(src, dst, TCP_PROTOCOL, v.length))) {
      counters.drop('tcp: bad-checksum');
      return;
    }
    if (v.optionsLength > 0) {
      if (parseTcpOptions(v.buf, v.optionsOffset, v.optionsLength, seg.opts) !== null) {
        counters.drop('tcp: bad-option');
        return;
      }
    } else {
      seg.opts.reset();
    }
    seg.buf = v.buf;
    seg.src = src;
    seg.dst = dst;
    seg.srcPort = v.srcPort;
    seg.dstPort = v.dstPort;
    seg.seq = v.seq;
    seg.ack = v.ack;
    seg.flags = v.flags;
    seg.wnd = v.window;
    seg.dataOffset = v.payloadOffset;
    seg.dataLength = v.payloadLength;
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      counters.drop('tcp: port-zero');
      return;
    }
    const now = stack.clock.now();
    this.flushSoon();
    let tcb = this.lookup(src, seg.srcPort, dst, seg.dstPort);
    if (tcb !== null && tcb.state === TcpState.TIME_WAIT && (seg.flags & (SYN | ACK | RST)) === SYN && this.timeWaitReusable(tcb, seg)) {
      // RFC 9293 3.10.7.4 / RFC 6191: a new SYN for a connection in TIME_WAIT whose sequence
      // number (or timestamp) is beyond the old incarnation's may open a new connection.
      this.closeTcb(tcb, null);
      tcb = null;
    }
    if (tcb !== null) {
      this.segmentArrives(tcb, seg, now);
      return;
    }
    const listener = this.findListener(dst, seg.dstPort);
    if (listener !== null) listenInput(this, listener, seg, now);
    else closedInput(this, seg);
  }

  private segmentArrives(tcb: Tcb, seg: Segment, now: number): void {
    tcb.segmentsIn++;
    tcb.lastRecvAt = now;
    tcb.keepAliveProbesSent = 0;
    if (tcb.state === TcpState.SYN_SENT) synSentInput(this, tcb, seg, now);
    else otherInput(this, tcb, seg, now);
    if (tcb.state !== TcpState.CLOSED) scheduleTcbTimer(tcb);
  }

  private timeWaitReusable(tcb: Tcb, seg: Segment): boolean {
    const o = seg.opts;
    if (tcb.tsOk && o.hasTimestamps) return seqGt(o.tsVal, tcb.tsRecent);
    return seqGt(seg.seq, tcb.rcvNxt);
  }

  /** Errors about segments we sent (ICMP: RFC 1122 4.2.3.9, RFC 5927, RFC 1191). */
  error(err: TransportError): void {
    if (err.length < 8) return;
    const b = err.buf;
    const o = err.offset;
    const srcPort = (b[o]! << 8) | b[o + 1]!;
    const dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    const seq = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
    const tcb = this.lookup(err.dst, dstPort, err.src, srcPort);
    if (tcb === null || tcb.state === TcpState.CLOSED) return;
    // RFC 5927 4.1: the quoted sequence number must be one we have outstanding.
    if (!seqInRange(seq, tcb.sndUna, seqAdd(tcb.sndMax, 1))) {
      this.stack.counters.drop('tcp: icmp-out-of-window');
      return;
    }
    const now = this.stack.clock.now();
    const kind = err.kind;
    if (kind === 'packet-too-big') {
      // RFC 1191: the path MTU shrank. Segments are sent with DF; resend smaller ones.
      const mtu = err.mtu;
      const headers = this.stack.headerLength + TCP_MIN_HEADER;
      if (mtu >= 68 && mtu - headers < tcb.maxSeg) {
        tcb.setMss(tcb.maxSeg, mtu - headers);
        retransmitRange(this, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
      }
      return;
    }
    if (kind === 'other' || kind === 'parameter-problem') return; // source quench etc.: RFC 6633
    const code = kind === 'time-exceeded' ? 'EHOSTUNREACH'
      : kind === 'port-unreachable' || kind === 'protocol-unreachable' ? 'ECONNREFUSED'
        : kind === 'net-unreachable' ? 'ENETUNREACH' : 'EHOSTUNREACH';
    if (tcb.state === TcpState.SYN_SENT) {
      // Linux treats these as hard errors for a connection attempt; RFC 1122 4.2.3.9 allows it.
      this.stats.attemptFails++;
      this.closeTcb(tcb, code);
    } else if (tcb.state === TcpState.SYN_RECEIVED && !tcb.active) {
      this.closeTcb(tcb, null);
    } else {
      tcb.softError = code; // reported if the connection later times out
    }
  }

  /** End of the stack's input batch: deliver notifications, then send the ACKs owed. */
  endBatch(): void {
    this.flush();
  }

  /** @internal Run `flush` from a microtask unless a batch end does it first. */
  flushSoon(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flushTask);
  }

  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      this.flushNotifications();
      const list = this.ackList;
      if (list.length > 0) {
        const now = this.stack.clock.now();
        for (let i = 0; i < list.length; i++) {
          const tcb = list[i]!;
          tcb.inAckList = false;
          if (tcb.state === TcpState.CLOSED || !tcb.ackPending) continue;
          if (tcb.ackNow) {
            // Two full segments or more unacknowledged: a bulk flow, whose sender waits for this
            // ACK to open its window; it goes now. Otherwise (a request, a FIN) the application
            // may answer in its turn: see ackAfterReplies.
            const bulk = tcb.unackedBytes >= 2 * (tcb.rcvMss - tcb.tsSpace);
            if (!bulk && (tcb.user !== null || tcb.listener !== null)) this.ackAfterReplies(tcb);
            else sendAck(this, tcb, now);
          } else if (tcb.delackAt === Infinity) {
            tcb.delackAt = now + this.config.delayedAckMs;
            scheduleTcbTimer(tcb);
          }
        }
        list.length = 0;
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * An ACK owed at once to a connection that an application holds waits until that
   * application has reacted to what this batch brought: its 'data', 'end' and 'connection'
   * handlers and the process.nextTick and promise work they start all run before Node's
   * check phase (setImmediate). A reply written in that time (an echo, an HTTP response, the
   * FIN of end() after the peer's FIN) carries the ACK, so a request-response exchange costs
   * one segment instead of two: a pure ACK and then the data (3 instead of 5 segments per
   * connect-request-reply-close). The ACK leaves microseconds later, within the same event-loop
   * turn; what a peer counts (duplicate ACKs for out-of-order data) is not deferred.
   */
  private ackAfterReplies(tcb: Tcb): void {
    if (tcb.inReplyWaitList) return;
    tcb.inReplyWaitList = true;
    this.replyWaitList.push(tcb);
    if (!this.replyWaitQueued) {
      this.replyWaitQueued = true;
      this.stack.tasks.defer(this.replyWaitTask);
    }
  }

  /**
   * @internal Send the ACKs waiting for the application's reaction (run from setImmediate;
   * tests that drive the stack synchronously call it where the event loop would).
   */
  sendAcksAfterReplies(): void {
    const list = this.replyWaitList;
    if (list.length === 0) return;
    const now = this.stack.clock.now();
    for (let i = 0; i < list.length; i++) {
      const tcb = list[i]!;
      tcb.inReplyWaitList = false;
      if (tcb.state !== TcpState.CLOSED && tcb.ackPending && tcb.ackNow) sendAck(this, tcb, now);
    }
    list.length = 0;
  }

  private flushNotifications(): void {
    const list = this.notifyList;
    for (let i = 0; i < list.length; i++) {
      const tcb = list[i]!;
      tcb.inNotifyList = false;
      const ev = tcb.events;
      tcb.events = 0;
      try {
        if ((ev & TcbEvent.ACCEPT) !== 0) this.deliverAccept(tcb);
        const u = tcb.user;
        if (u === null) continue;
        if ((ev & TcbEvent.CONNECT) !== 0) u.onConnect();
        if ((ev & TcbEvent.READABLE) !== 0 && tcb.user === u) u.onReadable();
        if ((ev & TcbEvent.WRITABLE) !== 0 && tcb.user === u) u.onWritable();
        if ((ev & TcbEvent.CLOSE) !== 0 && tcb.user === u) {
          tcb.user = null;
          u.onClose(tcb.error);
        }
      } catch (err) {
        // A throwing 'data' or 'connect' handler is the application's bug: surface it as an
        // uncaught exception, as Node would, without breaking the stack's own processing.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    list.length = 0;
  }

  private deliverAccept(tcb: Tcb): void {
    const l = tcb.listener as Listener | null;
    if (l === null) return;
    const i = l.acceptQueue.indexOf(tcb);
    if (i < 0) return;
    if (l.user === null || l.closed) return; // stays queued
    l.acceptQueue.splice(i, 1);
    tcb.listener = null;
    l.user.onConnection(tcb);
  }

  /** @internal Queue a notification for the user of `tcb`. */
  notify(tcb: Tcb, ev: number): void {
    tcb.events |= ev;
    if (!tcb.inNotifyList) {
      tcb.inNotifyList = true;
      this.notifyList.push(tcb);
      this.flushSoon();
    }
  }

  /** @internal An ACK is owed: decide at the end of the batch. */
  queueAckFlush(tcb: Tcb): void {
    if (!tcb.inAckList) {
      tcb.inAckList = true;
      this.ackList.push(tcb);
      this.flushSoon();
    }
  }

  /** @internal RFC 5961 section 7 rate limit. */
  allowChallengeAck(now: number): boolean {
    const limit = this.config.challengeAckLimit;
    this.challengeTokens += ((now - this.challengeAt) * limit) / 1000;
    if (this.challengeTokens > limit) this.challengeTokens = limit;
    this.challengeAt = now;
    if (this.challengeTokens < 1) return false;
    this.challengeTokens--;
    return true;
  }

  /** @internal */
  scheduleTimer(tcb: Tcb): void {
    scheduleTcbTimer(tcb);
  }

  // ======================================================================== tables

  private static key(addr: IpAddress, port: number): number {
    return addr * 65536 + port;
  }

  lookup(remoteAddr: IpAddress, remotePort: number, localAddr: IpAddress, localPort: number): Tcb | null {
    let t: Tcb | null | undefined = this.table.get(remoteAddr * 65536 + remotePort);
    while (t !== undefined && t !== null) {
      if (t.localPort === localPort && t.localAddr === localAddr) return t;
      t = t.nextInChain;
    }
    return null;
  }

  private insert(tcb: Tcb): void {
    const key = Tcp.key(tcb.remoteAddr, tcb.remotePort);
    tcb.nextInChain = this.table.get(key) ?? null;
    this.table.set(key, tcb);
    this.connectionCount++;
  }

  private remove(tcb: Tcb): void {
    const key = Tcp.key(tcb.remoteAddr, tcb.remotePort);
    let t = this.table.get(key) ?? null;
    if (t === tcb) {
      if (tcb.nextInChain !== null) this.table.set(key, tcb.nextInChain);
      else this.table.delete(key);
      this.connectionCount--;
      tcb.nextInChain = null;
      return;
    }
    while (t !== null) {
      if (t.nextInChain === tcb) {
        t.nextInChain = tcb.nextInChain;
        tcb.nextInChain = null;
        this.connectionCount--;
        return;
      }
      t = t.nextInChain;
    }
  }

  /** Every connection block (for inspection and tests). */
  connections(): Tcb[] {
    const out: Tcb[] = [];
    for (const head of this.table.values()) for (let t: Tcb | null = head; t !== null; t = t.nextInChain) out.push(t);
    return out;
  }

  findListener(addr: IpAddress, port: number): Listener | null {
    const list = this.listeners.get(port);
    if (list === undefined) return null;
    let wildcard: Listener | null = null;
    for (const l of list) {
      if (l.localAddr === addr) return l;
      if (l.localAddr === 0) wildcard = l;
    }
    return wildcard;
  }

  endpoints(): EndpointInfo[] {
    const out: EndpointInfo[] = [];
    for (const list of this.listeners.values()) {
      for (const l of list) {
        out.push({ protocol: 'tcp', localAddress: l.localAddr, localPort: l.localPort, remoteAddress: 0, remotePort: 0, state: 'LISTEN', recvQueue: l.acceptQueue.length, sendQueue: l.backlog });
      }
    }
    for (const t of this.connections()) {
      out.push({
        protocol: 'tcp', localAddress: t.localAddr, localPort: t.localPort, remoteAddress: t.remoteAddr, remotePort: t.remotePort,
        state: TCP_STATE_NAMES[t.state]!, recvQueue: t.recvBuffer.readable, sendQueue: t.sendBuffer.length,
      });
    }
    return out;
  }

  // ======================================================================== state helpers

  /** @internal */
  setState(tcb: Tcb, state: number): void {
    const from = tcb.state;
    if (from === state) return;
    tcb.state = state;
    this.onStateChange?.(tcb, from, state);
  }

  private newTcb(now: number): Tcb {
    const tcb = new Tcb(this.config);
    tcb.timer = this.stack.timers.create(() => onTcbTimer(this, tcb));
    tcb.createdAt = now;
    tcb.lastRecvAt = now;
    tcb.tsOffset = randomInt(0, 0x7fffffff);
    return tcb;
  }

  /** A TCB for a connection a peer opened to us (from its SYN, or from a SYN cookie's ACK). */
  private newPassiveTcb(seg: Segment, rt: RouteResult, now: number): Tcb {
    const tcb = this.newTcb(now);
    tcb.localAddr = seg.dst;
    tcb.localPort = seg.dstPort;
    tcb.remoteAddr = seg.src;
    tcb.remotePort = seg.srcPort;
    tcb.route = rt;
    tcb.routeAt = now;
    tcb.rcvMss = this.mssFor(rt);
    tcb.active = false;
    return tcb;
  }

  private isnFor(localAddr: IpAddress, localPort: number, remoteAddr: IpAddress, remotePort: number): number {
    const a = this.addrView(this.addrA, localAddr);
    const b = this.addrView(this.addrB, remoteAddr);
    return this.isn.next(a, localPort, b, remotePort);
  }

  /** The MSS a route's MTU allows: the MTU less the network and TCP headers. */
  mssFor(rt: RouteResult): number {
    return rt.iface.mtu - this.stack.headerLength - TCP_MIN_HEADER;
  }

  /** The bytes of `addr` in `scratch` (a view of its length: 4 for IPv4). */
  private addrView(scratch: Uint8Array, addr: IpAddress): Uint8Array {
    const n = this.stack.writeAddress(addr, scratch, 0);
    return n === scratch.length ? scratch : scratch.subarray(0, n);
  }

  /**
   * @internal The connection is gone (RFC 9293 "delete the TCB"): out of the tables, timers
   * off, the user told with `code` (null for an orderly end).
   */
  closeTcb(tcb: Tcb, code: string | null): void {
    if (tcb.state === TcpState.CLOSED) return;
    if (tcb.state === TcpState.TIME_WAIT) this.timeWaitCount--;
    const wasSynReceived = tcb.state === TcpState.SYN_RECEIVED;
    this.setState(tcb, TcpState.CLOSED);
    if (code === 'ETIMEDOUT' && tcb.softError !== null) code = tcb.softError;
    tcb.error = code;
    this.remove(tcb);
    tcb.rtoAt = Infinity;
    tcb.delackAt = Infinity;
    tcb.keepAt = Infinity;
    tcb.retransmitKind = RetransmitKind.NONE;
    tcb.timer.disarm();
    tcb.ackPending = false;
    tcb.sendBuffer.clear();
    tcb.sendBuffer.releaseMemory();
    if (code !== null) tcb.recvBuffer.clear();
    this.releaseBuffers(tcb);
    const l = tcb.listener as Listener | null;
    if (l !== null) {
      if (wasSynReceived) l.synQueueLength--;
      const i = l.acceptQueue.indexOf(tcb);
      if (i >= 0) l.acceptQueue.splice(i, 1);
      tcb.listener = null;
    }
    if (tcb.user !== null) this.notify(tcb, TcbEvent.CLOSE);
  }

  /**
   * Give back buffer storage a block no longer needs: no user will read it and no more data
   * can arrive (TIME_WAIT, CLOSED, or the peer's FIN is in). Up to 4096 blocks may sit in
   * TIME_WAIT; each should cost a few hundred bytes, not a grown megabyte ring. The capacity
   * (and so the advertised window) stays; only the storage goes.
   */
  private releaseBuffers(tcb: Tcb): void {
    if (tcb.user !== null) return;
    const st = tcb.state;
    if (st !== TcpState.CLOSED && st !== TcpState.TIME_WAIT && !tcb.finReceived) return;
    tcb.sendBuffer.releaseMemory();
    if (tcb.recvBuffer.storageSize > 1 || tcb.recvBuffer.readable > 0) {
      tcb.recvBuffer = new RecvBuffer(this.config.recvBufferSize, { initialStorage: 1 });
    }
  }

  /** @internal */
  enterTimeWait(tcb: Tcb, now: number): void {
    this.setState(tcb, TcpState.TIME_WAIT);
    this.timeWaitCount++;
    tcb.rtoAt = Infinity;
    tcb.retransmitKind = RetransmitKind.NONE;
    tcb.sendBuffer.clear();
    tcb.sendBuffer.releaseMemory();
    if (this.timeWaitCount > this.config.maxTimeWait) {
      // Like Linux's tcp_max_tw_buckets: too many; skip TIME_WAIT (after the final ACK).
      this.stats.timeWaitOverflows++;
      if (tcb.ackPending) sendAck(this, tcb, now);
      this.closeTcb(tcb, null);
      return;
    }
    tcb.keepAt = now + this.config.timeWaitMs;
    scheduleTcbTimer(tcb);
    this.releaseBuffers(tcb);
  }

  /** @internal */
  restartTimeWait(tcb: Tcb, now: number): void {
    tcb.keepAt = now + this.config.timeWaitMs;
    scheduleTcbTimer(tcb);
  }

  /** @internal An orphaned connection in FIN_WAIT_2 waits this long for the peer's FIN. */
  armFinWait2(tcb: Tcb, now: number): void {
    tcb.keepAt = now + this.config.finWait2TimeoutMs;
    scheduleTcbTimer(tcb);
  }

  // ======================================================================== opening

  /** @internal LISTEN + SYN: make the SYN_RECEIVED child and send SYN,ACK (RFC 9293 3.10.7.2). */
  passiveOpen(listener: Listener, seg: Segment, now: number): void {
    const cfg = this.config;
    const counters = this.stack.counters;
    if (listener.acceptQueue.length >= listener.backlog) {
      // Linux drops SYNs while the accept queue is full: the client retries later.
      listener.lastOverflowAt = now;
      counters.drop('tcp: accept-queue-full');
      return;
    }
    if (this.connectionCount >= cfg.maxConnections) {
      // Every connection block is in use. A SYN cookie would not help (its ACK needs a block
      // too): refuse at once, so the client sees ECONNREFUSED instead of retrying for minutes.
      this.refuseOverLimit(seg);
      return;
    }
    if (listener.synQueueLength >= cfg.maxSynBacklog) {
      listener.lastOverflowAt = now;
      if (cfg.synCookies) {
        this.sendCookieSynAck(seg, now);
        return;
      }
      counters.drop('tcp: syn-queue-full');
      return;
    }
    const rt = this.stack.route(seg.src);
    if (rt === null) {
      counters.drop('tcp: no-route');
      return;
    }
    const tcb = this.newPassiveTcb(seg, rt, now);
    tcb.irs = seg.seq;
    tcb.rcvNxt = seqAdd(seg.seq, 1);
    tcb.lastAckSent = tcb.rcvNxt;
    const o = seg.opts;
    // Agree on options: only those the peer offered and we support (RFC 7323 2.2/3.2, RFC 2018).
    tcb.synWs = cfg.windowScaling && o.windowScale >= 0;
    if (tcb.synWs) tcb.sndWscale = o.windowScale;
    else tcb.rcvWscale = 0;
    tcb.synTs = cfg.timestamps && o.hasTimestamps;
    if (tcb.synTs) {
      tcb.tsOk = true;
      tcb.tsRecent = o.tsVal;
      tcb.tsRecentAt = now;
    }
    tcb.synSack = cfg.sack && o.sackPermitted;
    const iss = this.isnFor(tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort);
    tcb.iss = iss;
    tcb.sndUna = iss;
    tcb.sndNxt = iss;
    tcb.sndMax = iss;
    tcb.sndBufSeq = seqAdd(iss, 1);
    tcb.recoveryPoint = iss;
    if (tcb.synSack) tcb.enableSack();
    tcb.setMss(o.mss >= 0 ? o.mss : 536, this.mssFor(rt));
    tcb.sndWnd = seg.wnd; // never scaled in a SYN
    tcb.maxSndWnd = seg.wnd;
    tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = iss;
    tcb.state = TcpState.SYN_RECEIVED;
    tcb.listener = listener;
    listener.synQueueLength++;
    this.insert(tcb);
    this.stats.passiveOpens++;
    this.onStateChange?.(tcb, TcpState.LISTEN, TcpState.SYN_RECEIVED);
    sendSyn(this, tcb, now);
    scheduleTcbTimer(tcb);
  }

  /** @internal SYN_RECEIVED -> ESTABLISHED on an acceptable ACK. False: drop the segment. */
  handshakeComplete(tcb: Tcb, seg: Segment, now: number): boolean {
    if (!tcb.active) {
      const l = tcb.listener as Listener | null;
      if (l === null || l.closed) {
        sendRstFor(this, tcb, now);
        this.closeTcb(tcb, null);
        return false;
      }
      if (l.acceptQueue.length >= l.backlog) {
        // Linux (tcp_abort_on_overflow = 0): ignore the ACK; the SYN-ACK timer retries.
        l.lastOverflowAt = now;
        this.stack.counters.drop('tcp: accept-queue-full');
        return false;
      }
      l.synQueueLength--;
      l.acceptQueue.push(tcb);
      this.stats.passiveOpensEstablished++;
      this.notify(tcb, TcbEvent.ACCEPT);
    } else {
      this.stats.activeOpensEstablished++;
      this.notify(tcb, TcbEvent.CONNECT);
    }
    this.establish(tcb, seg.wnd << tcb.sndWscale, seg.seq, seg.ack, now);
    return true;
  }

  private establish(tcb: Tcb, sndWnd: number, wl1: number, wl2: number, now: number): void {
    this.setState(tcb, tcb.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED);
    tcb.sndWnd = sndWnd;
    tcb.maxSndWnd = sndWnd > tcb.maxSndWnd ? sndWnd : tcb.maxSndWnd;
    tcb.sndWl1 = wl1;
    tcb.sndWl2 = wl2;
    const synLost = tcb.retries > 0;
    tcb.resetCongestion(synLost ? tcb.smss : undefined);
    if (synLost) tcb.rtt.applySynTimeoutRule();
    tcb.retries = 0;
    tcb.lastSendAt = now;
    tcb.quickAcks = this.config.quickAckSegments;
  }

  /** Active OPEN (RFC 9293 3.10.1): send a SYN. Throws TcpError (ENETUNREACH, EADDRINUSE, ...). */
  connect(remoteAddr: IpAddress, remotePort: number, opts: { localAddr?: IpAddress; localPort?: number } = {}): Tcb {
    if (!(remotePort > 0 && remotePort < 65536)) throw new TcpError('EINVAL', `invalid port ${remotePort}`);
    if (!this.stack.isUnicast(remoteAddr)) throw new TcpError('EINVAL', 'not a unicast address');
    const rt = this.stack.route(remoteAddr);
    if (rt === null) throw new TcpError('ENETUNREACH', 'no route to the destination');
    if (this.connectionCount >= this.config.maxConnections) {
      this.stack.counters.drop('tcp: max-connections');
      throw new TcpError('EAGAIN', 'too many connections');
    }
    const localAddr = opts.localAddr !== undefined && opts.localAddr !== 0 ? opts.localAddr : rt.src;
    if (!this.stack.isLocalAddress(localAddr)) throw new TcpError('EADDRNOTAVAIL', 'not a local address');
    let localPort = opts.localPort ?? 0;
    if (localPort === 0) localPort = this.ephemeralPort(localAddr, remoteAddr, remotePort);
    else if (this.lookup(remoteAddr, remotePort, localAddr, localPort) !== null) throw new TcpError('EADDRINUSE', 'address already in use');
    const now = this.stack.clock.now();
    const tcb = this.newTcb(now);
    const cfg = this.config;
    tcb.localAddr = localAddr;
    tcb.localPort = localPort;
    tcb.remoteAddr = remoteAddr;
    tcb.remotePort = remotePort;
    tcb.route = rt;
    tcb.routeAt = now;
    tcb.rcvMss = this.mssFor(rt);
    tcb.active = true;
    tcb.synWs = cfg.windowScaling;
    tcb.synSack = cfg.sack;
    tcb.synTs = cfg.timestamps;
    const iss = this.isnFor(localAddr, localPort, remoteAddr, remotePort);
    tcb.iss = iss;
    tcb.sndUna = iss;
    tcb.sndNxt = iss;
    tcb.sndMax = iss;
    tcb.sndBufSeq = seqAdd(iss, 1);
    tcb.recoveryPoint = iss;
    tcb.setMss(536, this.mssFor(rt));
    tcb.state = TcpState.SYN_SENT;
    this.insert(tcb);
    this.stats.activeOpens++;
    this.onStateChange?.(tcb, TcpState.CLOSED, TcpState.SYN_SENT);
    sendSyn(this, tcb, now);
    scheduleTcbTimer(tcb);
    return tcb;
  }

  private ephemeralPort(localAddr: IpAddress, remoteAddr: IpAddress, remotePort: number): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = randomInt(0, span);
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_LOW + ((start + i) % span);
      if (this.listeners.has(port)) continue;
      if (this.lookup(remoteAddr, remotePort, localAddr, port) === null) return port;
    }
    throw new TcpError('EADDRNOTAVAIL', 'no free local port');
  }

  /** Passive OPEN. Port 0 picks a free ephemeral port. Throws TcpError EADDRINUSE. */
  listen(localAddr: IpAddress, port: number, backlog = 511): Listener {
    if (localAddr !== 0 && !this.stack.isLocalAddress(localAddr)) throw new TcpError('EADDRNOTAVAIL', 'not a local address');
    if (port === 0) {
      const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
      const start = randomInt(0, span);
      for (let i = 0; i < span && port === 0; i++) {
        const p = EPHEMERAL_LOW + ((start + i) % span);
        if (!this.listeners.has(p)) port = p;
      }
      if (port === 0) throw new TcpError('EADDRINUSE', 'no free port');
    }
    if (!(port > 0 && port < 65536)) throw new TcpError('EINVAL', `invalid port ${port}`);
    const list = this.listeners.get(port) ?? [];
    for (const l of list) {
      if (l.localAddr === localAddr || l.localAddr === 0 || localAddr === 0) throw new TcpError('EADDRINUSE', 'address already in use');
    }
    const l = new Listener(localAddr, port, backlog > 0 ? backlog : 1);
    list.push(l);
    this.listeners.set(port, list);
    return l;
  }

  /** Stop listening: half-open and unaccepted connections are reset. */
  unlisten(l: Listener): void {
    if (l.closed) return;
    l.closed = true;
    l.user = null;
    const list = this.listeners.get(l.localPort);
    if (list !== undefined) {
      const i = list.indexOf(l);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.listeners.delete(l.localPort);
    }
    const now = this.stack.clock.now();
    for (const t of this.connections()) {
      if (t.listener === l) {
        sendRstFor(this, t, now);
        this.closeTcb(t, null);
      }
    }
  }

  // ---- SYN cookies (used only while a SYN queue overflows) ----

  private sendCookieSynAck(seg: Segment, now: number): void {
    const rt = this.stack.route(seg.src);
    if (rt === null) return;
    const cfg = this.config;
    const o = seg.opts;
    const cookie = this.cookies.encode(this.addrView(this.addrA, seg.dst), seg.dstPort, this.addrView(this.addrB, seg.src), seg.srcPort, seg.seq, o.mss >= 0 ? o.mss : 536);
    const out = this.optsOut;
    out.mss = this.mssFor(rt);
    out.sackCount = 0;
    // Without timestamps nothing but the MSS survives in the cookie: offer nothing else.
    const ts = cfg.timestamps && o.hasTimestamps;
    const ws = ts && cfg.windowScaling && o.windowScale >= 0;
    out.windowScale = ws ? this.ourWscale() : -1;
    out.sackPermitted = ts && cfg.sack && o.sackPermitted;
    out.timestamps = ts;
    if (ts) {
      out.tsVal = encodeCookieTimestamp((Math.floor(now) + this.cookieTsOffset) >>> 0, ws ? o.windowScale : -1, out.sackPermitted, false);
      out.tsEcr = o.tsVal;
    }
    const buf = this.stack.txBuffer;
    const optLen = emitTcpOptions(buf, TX_HEADROOM + TCP_MIN_HEADER, out);
    const repr = this.reprOut;
    repr.srcPort = seg.dstPort;
    repr.dstPort = seg.srcPort;
    repr.seq = cookie;
    repr.ack = seqAdd(seg.seq, 1);
    repr.flags = SYN | ACK;
    repr.window = Math.min(cfg.recvBufferSize, 0xffff);
    repr.urgentPointer = 0;
    emitTcpWith(buf, TX_HEADROOM, repr, optLen, 0, this.stack.pseudoHeaderSum(seg.dst, seg.src, TCP_PROTOCOL, TCP_MIN_HEADER + optLen));
    const ip = this.ipOpts;
    ip.src = seg.dst;
    ip.dst = seg.src;
    ip.partialChecksumAt = 0;
    ip.gsoSize = 0;
    this.stack.counters.tcpOut++;
    this.stats.synCookiesSent++;
    this.stack.output(ip, buf, TX_HEADROOM, TCP_MIN_HEADER + optLen, rt);
  }

  /** tcp.maxConnections is reached: count it and answer the segment with a RST. */
  private refuseOverLimit(seg: Segment): void {
    this.stack.counters.drop('tcp: max-connections');
    if ((seg.flags & ACK) === 0) sendRstRaw(this, seg.dst, seg.src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, seg.segLen), true);
    else sendRstRaw(this, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
  }

  private ourWscale(): number {
    let ws = 0;
    while (ws < 14 && this.config.recvBufferSize >> ws > 65535) ws++;
    return ws;
  }

  /** @internal LISTEN + bare ACK: a returning SYN cookie? If valid, make the connection. */
  trySynCookieAck(listener: Listener, seg: Segment, now: number): boolean {
    const cfg = this.config;
    if (!cfg.synCookies || now - listener.lastOverflowAt > 2 * COOKIE_PERIOD_MS) return false;
    if ((seg.flags & RST) !== 0) return false;
    const cookie = seqAdd(seg.ack, -1);
    const clientIsn = seqAdd(seg.seq, -1);
    const mss = this.cookies.decode(this.addrView(this.addrA, seg.dst), seg.dstPort, this.addrView(this.addrB, seg.src), seg.srcPort, clientIsn, cookie);
    if (mss === 0) return false;
    const o = seg.opts;
    const cts = this.cookieTs;
    cts.wscale = -1;
    cts.sackOk = false;
    if (o.hasTimestamps && !decodeCookieTimestamp(o.tsEcr, cts, (Math.floor(now) + this.cookieTsOffset) >>> 0)) return false;
    if (listener.acceptQueue.length >= listener.backlog) {
      this.stack.counters.drop('tcp: accept-queue-full');
      return true; // valid but no room: drop silently, the client retransmits
    }
    if (this.connectionCount >= cfg.maxConnections) {
      this.refuseOverLimit(seg);
      return true;
    }
    const rt = this.stack.route(seg.src);
    if (rt === null) return false;
    this.stats.synCookiesValidated++;
    const tcb = this.newPassiveTcb(seg, rt, now);
    tcb.iss = cookie;
    tcb.sndUna = cookie; // the SYN-ACK is acknowledged by this very segment
    tcb.sndNxt = seg.ack;
    tcb.sndMax = seg.ack;
    tcb.sndBufSeq = seg.ack;
    tcb.recoveryPoint = cookie;
    tcb.irs = clientIsn;
    tcb.rcvNxt = seg.seq;
    tcb.lastAckSent = seg.seq;
    if (o.hasTimestamps) {
      tcb.tsOk = true;
      tcb.tsOffset = this.cookieTsOffset;
      tcb.tsRecent = o.tsVal;
      tcb.tsRecentAt = now;
    }
    if (cts.wscale >= 0) {
      tcb.sndWscale = cts.wscale;
      tcb.rcvWscale = this.ourWscale();
    } else {
      tcb.sndWscale = 0;
      tcb.rcvWscale = 0;
    }
    if (cts.sackOk) tcb.enableSack();
    tcb.setMss(mss, this.mssFor(rt));
    tcb.rcvAdv = seqAdd(tcb.rcvNxt, Math.min(cfg.recvBufferSize, 0xffff));
    tcb.listener = listener;
    tcb.state = TcpState.SYN_RECEIVED;
    listener.synQueueLength++;
    this.insert(tcb);
    this.stats.passiveOpens++;
    // Process the ACK (and any data on it) as a SYN_RECEIVED connection would.
    this.segmentArrives(tcb, seg, now);
    return true;
  }

  // ======================================================================== user calls

  /** SEND: copy what fits into the send buffer and transmit. Returns bytes taken, -1 if closed for sending. */
  send(tcb: Tcb, data: Uint8Array, offset = 0, length = data.length - offset): number {
    const st = tcb.state;
    if (tcb.finQueued || !(st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED || st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT)) return -1;
    const n = tcb.sendBuffer.write(data, offset, length);
    if (n < length) this.stats.sendBufferFull++;
    if (n > 0 && (st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT)) {
      tcpOutput(this, tcb, this.stack.clock.now());
      scheduleTcbTimer(tcb);
    }
    return n;
  }

  /** RECEIVE: copy up to `max` in-order bytes out; the window reopens as the buffer drains. */
  read(tcb: Tcb, target: Uint8Array, offset = 0, max = target.length - offset): number {
    const n = tcb.recvBuffer.readInto(target, offset, max);
    if (n > 0) this.windowUpdate(tcb);
    return n;
  }

  /**
   * Every readable byte without a copy when the receive buffer can hand its storage over
   * (RecvBuffer.takeAll); null when the caller must copy with read().
   */
  readAll(tcb: Tcb): Uint8Array | null {
    const view = tcb.recvBuffer.takeAll();
    if (view !== null) this.windowUpdate(tcb);
    return view;
  }

  /**
   * After the application read: if the window can grow a lot (RFC 9293 3.8.6.2.2 threshold
   * and at least doubling, as Linux's tcp_cleanup_rbuf), tell the peer without waiting.
   */
  private windowUpdate(tcb: Tcb): void {
    const st = tcb.state;
    if (st !== TcpState.ESTABLISHED && st !== TcpState.FIN_WAIT_1 && st !== TcpState.FIN_WAIT_2) return;
    const rb = tcb.recvBuffer;
    const free = rb.window;
    let cur = seqSub(tcb.rcvAdv, tcb.rcvNxt);
    if (cur < 0) cur = 0;
    const threshold = Math.min(rb.capacity >> 1, tcb.rcvMss);
    if (free >= cur + threshold && free >= 2 * cur) {
      tcb.ackPending = true;
      tcb.ackNow = true;
      this.queueAckFlush(tcb);
    }
  }

  /** CLOSE for sending (shutdown(SHUT_WR) / end()): a FIN follows the buffered data. */
  shutdown(tcb: Tcb): void {
    if (tcb.finQueued) return;
    const now = this.stack.clock.now();
    switch (tcb.state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        tcb.finQueued = true; // sent once established (RFC 9293 3.10.4)
        return;
      case TcpState.ESTABLISHED:
        tcb.finQueued = true;
        this.setState(tcb, TcpState.FIN_WAIT_1);
        break;
      case TcpState.CLOSE_WAIT:
        tcb.finQueued = true;
        this.setState(tcb, TcpState.LAST_ACK);
        break;
      default:
        return;
    }
    tcpOutput(this, tcb, now);
    scheduleTcbTimer(tcb);
  }

  /**
   * The user is done with the connection (close(2) / destroy()): no more reads. Data still
   * buffered is sent and a FIN follows; the block lives on (FIN_WAIT, TIME_WAIT) without a
   * user. Unread received data makes it a RST instead (RFC 1122 4.2.2.13, as Linux).
   */
  close(tcb: Tcb): void {
    tcb.user = null;
    tcb.events = 0;
    if (tcb.state === TcpState.CLOSED) {
      this.releaseBuffers(tcb);
      return;
    }
    tcb.orphaned = true;
    if (tcb.recvBuffer.readable > 0 || tcb.state === TcpState.SYN_SENT) {
      this.abort(tcb);
      return;
    }
    const now = this.stack.clock.now();
    if (tcb.state === TcpState.FIN_WAIT_2) this.armFinWait2(tcb, now);
    else this.shutdown(tcb);
    if (tcb.state === TcpState.SYN_RECEIVED && !tcb.active) {
      // Not yet accepted and already closed: just reset it.
      this.abort(tcb);
      return;
    }
    this.releaseBuffers(tcb);
  }

  /** ABORT (RFC 9293 3.10.5): RST the peer (where the state calls for it) and delete the block. */
  abort(tcb: Tcb): void {
    tcb.user = null;
    tcb.events = 0;
    const st = tcb.state;
    if (st === TcpState.CLOSED) return;
    if (st === TcpState.SYN_RECEIVED || st === TcpState.ESTABLISHED || st === TcpState.FIN_WAIT_1
      || st === TcpState.FIN_WAIT_2 || st === TcpState.CLOSE_WAIT) {
      // SEQ=SND.MAX: the peer may have data up to there (after a go-back-N); RFC 5961 makes a
      // peer whose RCV.NXT is lower send a challenge ACK, which our next RST then matches.
      const nxt = tcb.sndNxt;
      tcb.sndNxt = tcb.sndMax;
      sendRstFor(this, tcb, this.stack.clock.now());
      tcb.sndNxt = nxt;
    }
    this.closeTcb(tcb, null);
  }

  setNoDelay(tcb: Tcb, noDelay: boolean): void {
    tcb.noDelay = noDelay;
    if (noDelay) {
      tcpOutput(this, tcb, this.stack.clock.now());
      scheduleTcbTimer(tcb);
    }
  }

  setKeepAlive(tcb: Tcb, enable: boolean, idleMs = 0): void {
    tcb.keepAlive = enable;
    if (idleMs > 0) tcb.keepAliveIdleMs = idleMs;
    const st = tcb.state;
    if (st === TcpState.TIME_WAIT || st === TcpState.FIN_WAIT_2 || st === TcpState.CLOSED) return;
    tcb.keepAliveProbesSent = 0;
    tcb.keepAt = enable ? this.stack.clock.now() + tcb.keepAliveIdleMs : Infinity;
    scheduleTcbTimer(tcb);
  }

  /** Attach the user that receives this connection's notifications. */
  attach(tcb: Tcb, user: TcbUser): void {
    tcb.user = user;
    // Anything that happened before the user existed (data, FIN, close) is announced now.
    let ev = 0;
    if (tcb.recvBuffer.readable > 0 || tcb.finReceived) ev |= TcbEvent.READABLE;
    if (tcb.state === TcpState.CLOSED) ev |= TcbEvent.CLOSE;
    if (ev !== 0) this.notify(tcb, ev);
  }
}

export { TcpState, TCP_STATE_NAMES, type Tcb, type TcpConfig };
