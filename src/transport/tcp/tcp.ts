/**
 * TCP (RFC 9293) for one network layer: the transport handler for IP protocol 6 and the
 * user operations (OPEN, SEND, RECEIVE, CLOSE, ABORT of RFC 9293 3.10) that the net API
 * (src/api/net.ts) builds Node-style sockets on.
 *
 * `Tcp` is the facade: it owns the state its parts share (context.ts) and is the only way in
 * from outside. The parts depend on each other one way, each only on those listed before it:
 *
 *   context.ts       shared state: network layer, config, counters, tables, scratch objects
 *   lifecycle.ts     state changes, timer scheduling, TIME_WAIT, deleting the TCB, queueing
 *                    notifications and ACKs owed
 *   output.ts        building and sending segments, what may be sent, retransmission
 *   timers.ts        what happens when a connection's timer expires
 *   end-of-batch.ts  delivering notifications and sending the ACKs owed
 *   open.ts          active and passive open, listeners, handshake completion, SYN cookies
 *   ack-processing.ts  the ACK field: SND.UNA, RTT, congestion control, loss recovery
 *   input.ts         SEGMENT ARRIVES, state by state
 *
 * Input runs segment by segment inside the stack's device batch (`receive`); everything it
 * owes afterwards is coalesced and done in `endBatch`: first the user notifications (data
 * became readable, a connection was accepted, ...), so the application can read and answer
 * in the same batch, then the ACKs still owed. User callbacks never run in the middle of
 * segment processing. Outside a batch (timers, user calls) the same flush runs from a
 * microtask.
 */

import type {
  NetworkLayer, TransportProtocol, EndpointProvider, EndpointInfo, RouteResult, InboundPacket, TransportError, IpAddress,
} from '../../stack/network.js';
import { TcpFlag, TCP_PROTOCOL } from '../../wire/tcp.js';
import { parseTcpOptions } from '../../wire/tcp-options.js';
import { TcpContext } from './context.js';
import { batchWork, flush, sendAcksAfterReplies } from './end-of-batch.js';
import { closedInput, listenInput, segmentArrives } from './input.js';
import {
  armFinWait2, closeTcb, flushSoon, notify, queueAckFlush, releaseBuffers, scheduleTcbTimer, setState,
} from './lifecycle.js';
import type { Listener } from './listener.js';
import { adoptOrphan, receiveSpace, tuneSendBuffer } from './memory.js';
import { IN6ADDR_ANY } from '../../stack/network.js';
import { activeOpen, closeListener, mssFor, openListener } from './open.js';
import { retransmitRange, sendRstFor, syncPathMtu, tcpOutput } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqInRange, seqSub } from './seq.js';
import type { TcpStats } from './stats.js';
import { TcbEvent, TcpState, TCP_STATE_NAMES, defaultTcpConfig, type Tcb, type TcpConfig, type TcbUser } from './tcb.js';

export { Listener, type ListenerUser } from './listener.js';
export { TcpError } from './tcp-error.js';
export { TcpStats } from './stats.js';
export { TcpState, TCP_STATE_NAMES, type Tcb, type TcpConfig };

const { SYN, ACK, RST } = TcpFlag;

/** The smallest path MTU an ICMP Fragmentation Needed may set (Linux's min_pmtu, 512 + 40). */
export const MIN_PMTU = 552;

export class Tcp implements TransportProtocol, EndpointProvider {
  readonly protocolNumber = TCP_PROTOCOL;
  readonly config: TcpConfig;
  readonly stats: TcpStats;
  /** What the parts of TCP share (the same stack, config and stats as here). */
  private readonly ctx: TcpContext;

  /**
   * @param stack  the IPv4 network layer (its clock, timers and counters serve both families)
   * @param stack6 the IPv6 network layer, if any: one TCP over both
   */
  constructor(readonly stack: NetworkLayer, config: Partial<TcpConfig> = {}, stack6: NetworkLayer | null = null) {
    this.config = { ...defaultTcpConfig, ...config };
    this.ctx = new TcpContext(stack, this.config, batchWork, stack6);
    this.stats = this.ctx.stats;
    stack.registerTransport(this, this);
    // Endpoints are listed once, through the IPv4 layer; the IPv6 layer only delivers.
    stack6?.registerTransport(this);
  }

  /** Connection blocks (every state but LISTEN). */
  get connectionCount(): number {
    return this.ctx.connections.count;
  }

  get timeWaitCount(): number {
    return this.ctx.timeWaitCount;
  }

  /** Connections closed by their application still delivering data or a FIN (memory.ts). */
  get orphanCount(): number {
    return this.ctx.orphanCount;
  }

  /** Observe state changes (tests, inspection). */
  get onStateChange(): ((tcb: Tcb, from: number, to: number) => void) | null {
    return this.ctx.onStateChange;
  }

  set onStateChange(fn: ((tcb: Tcb, from: number, to: number) => void) | null) {
    this.ctx.onStateChange = fn;
  }

  /** The TCP MIB-style counters as tcpXxx names, merged into `pstack stats`. */
  statistics(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.stats)) out[`tcp${k[0]!.toUpperCase()}${k.slice(1)}`] = v as number;
    return out;
  }

  // ======================================================================== from the network layer

  receive(ip: InboundPacket): void {
    const ctx = this.ctx;
    const counters = ctx.stack.counters;
    counters.tcpIn++;
    const seg = ctx.seg;
    const v = seg.view.reset(ip.buf, ip.payloadOffset, ip.payloadLength);
    const bad = v.check();
    if (bad !== null) {
      counters.drop(bad === 'too-short' ? 'tcp: too-short' : 'tcp: bad-header-length');
      return;
    }
    const src = ip.src;
    const dst = ip.dst;
    const stack = ctx.ip(src);
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
    seg.ecn = ip.ecn;
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      counters.drop('tcp: port-zero');
      return;
    }
    const now = stack.clock.now();
    flushSoon(ctx);
    let tcb = ctx.connections.lookup(src, seg.srcPort, dst, seg.dstPort);
    if (tcb !== null && tcb.state === TcpState.TIME_WAIT && (seg.flags & (SYN | ACK | RST)) === SYN && this.timeWaitReusable(tcb, seg)) {
      // RFC 9293 3.10.7.4 / RFC 6191: a new SYN for a connection in TIME_WAIT whose sequence
      // number (or timestamp) is beyond the old incarnation's may open a new connection.
      closeTcb(ctx, tcb, null);
      tcb = null;
    }
    if (tcb !== null) {
      segmentArrives(ctx, tcb, seg, now);
      return;
    }
    const listener = ctx.listeners.find(dst, seg.dstPort);
    if (listener !== null) listenInput(ctx, listener, seg, now);
    else closedInput(ctx, seg);
  }

  /** RFC 6191: the SYN's timestamp, or else its sequence number, is beyond the old incarnation's. */
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
    const ctx = this.ctx;
    const tcb = ctx.connections.lookup(err.dst, dstPort, err.src, srcPort);
    if (tcb === null || tcb.state === TcpState.CLOSED) return;
    // RFC 5927 4.1: the quoted sequence number must be one we have outstanding.
    if (!seqInRange(seq, tcb.sndUna, seqAdd(tcb.sndMax, 1))) {
      ctx.stack.counters.drop('tcp: icmp-out-of-window');
      return;
    }
    const now = ctx.stack.clock.now();
    const kind = err.kind;
    if (kind === 'packet-too-big') {
      // RFC 1191 / RFC 8201: the path MTU shrank. The report is validated (the quote names
      // this connection and data it has outstanding), so it goes into the network layer's
      // path MTU cache, where every connection to this host sees it; resend smaller segments.
      const floor = typeof tcb.remoteAddr === 'number' ? MIN_PMTU : 1280;
      if (err.mtu < floor) {
        // As Linux (min_pmtu): a smaller MTU, or none (0, a pre-RFC 1191 router), is taken as
        // the floor, and DF goes off so that a path really that small fragments our segments.
        // A forged "MTU 68" would otherwise cut a connection to 28-byte segments.
        ctx.stats.pmtuBelowFloor++;
        tcb.pmtuLocked = true;
      }
      tcb.net!.learnPathMtu(tcb.remoteAddr, err.mtu);
      if (syncPathMtu(ctx, tcb, now)) retransmitRange(ctx, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.smss), now);
      return;
    }
    if (kind === 'other' || kind === 'parameter-problem') return; // source quench etc.: RFC 6633
    const code = kind === 'time-exceeded' ? 'EHOSTUNREACH'
      : kind === 'port-unreachable' || kind === 'protocol-unreachable' ? 'ECONNREFUSED'
        : kind === 'net-unreachable' ? 'ENETUNREACH' : 'EHOSTUNREACH';
    if (tcb.state === TcpState.SYN_SENT) {
      // Linux treats these as hard errors for a connection attempt; RFC 1122 4.2.3.9 allows it.
      ctx.stats.attemptFails++;
      closeTcb(ctx, tcb, code);
    } else if (tcb.state === TcpState.SYN_RECEIVED && !tcb.active) {
      closeTcb(ctx, tcb, null);
    } else {
      tcb.softError = code; // reported if the connection later times out
    }
  }

  /** End of the stack's input batch: deliver notifications, then send the ACKs owed. */
  endBatch(): void {
    flush(this.ctx);
  }

  /**
   * @internal Send the ACKs waiting for the application's reaction (run from stack.tasks;
   * tests that drive the stack synchronously call it where the event loop would).
   */
  sendAcksAfterReplies(): void {
    sendAcksAfterReplies(this.ctx);
  }

  // ======================================================================== tables

  lookup(remoteAddr: IpAddress, remotePort: number, localAddr: IpAddress, localPort: number): Tcb | null {
    return this.ctx.connections.lookup(remoteAddr, remotePort, localAddr, localPort);
  }

  /** Every connection block (for inspection and tests). */
  connections(): Tcb[] {
    return this.ctx.connections.all();
  }

  findListener(addr: IpAddress, port: number): Listener | null {
    return this.ctx.listeners.find(addr, port);
  }

  endpoints(): EndpointInfo[] {
    const out: EndpointInfo[] = [];
    for (const l of this.ctx.listeners.all()) {
      out.push({ protocol: 'tcp', localAddress: l.localAddr, localPort: l.localPort, remoteAddress: typeof l.localAddr === 'number' ? 0 : IN6ADDR_ANY, remotePort: 0, state: 'LISTEN', recvQueue: l.acceptQueue.length, sendQueue: l.backlog });
    }
    for (const t of this.connections()) {
      out.push({
        protocol: 'tcp', localAddress: t.localAddr, localPort: t.localPort, remoteAddress: t.remoteAddr, remotePort: t.remotePort,
        state: TCP_STATE_NAMES[t.state]!, recvQueue: t.recvBuffer.readable, sendQueue: t.sendBuffer.length,
      });
    }
    return out;
  }

  /** The MSS a route's MTU allows: the MTU less the network and TCP headers. */
  mssFor(rt: RouteResult): number {
    return mssFor(this.ctx, rt);
  }

  // ======================================================================== user calls

  /** Whether `addr` is one of the stack's addresses (of its family's network layer). */
  isLocalAddress(addr: IpAddress): boolean {
    if (typeof addr !== 'number' && this.ctx.stack6 === null) return false;
    return this.ctx.ip(addr).isLocalAddress(addr);
  }

  /** Active OPEN (RFC 9293 3.10.1): send a SYN. Throws TcpError (ENETUNREACH, EADDRINUSE, ...). */
  connect(remoteAddr: IpAddress, remotePort: number, opts: { localAddr?: IpAddress; localPort?: number } = {}): Tcb {
    return activeOpen(this.ctx, remoteAddr, remotePort, opts);
  }

  /**
   * Passive OPEN on localAddr:port (0 or :: for every address; `v6Only` keeps :: from taking
   * IPv4). Port 0 picks a free ephemeral port. Throws TcpError EADDRINUSE.
   */
  listen(localAddr: IpAddress, port: number, backlog = 511, v6Only = false): Listener {
    return openListener(this.ctx, localAddr, port, backlog, v6Only);
  }

  /** Stop listening: half-open and unaccepted connections are reset. */
  unlisten(l: Listener): void {
    closeListener(this.ctx, l);
  }

  /** SEND: copy what fits into the send buffer and transmit. Returns bytes taken, -1 if closed for sending. */
  send(tcb: Tcb, data: Uint8Array, offset = 0, length = data.length - offset): number {
    const st = tcb.state;
    if (tcb.finQueued || !(st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED || st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT)) return -1;
    const sb = tcb.sendBuffer;
    tuneSendBuffer(this.ctx, tcb);
    const refusals = sb.memoryRefusals;
    const n = sb.write(data, offset, length);
    if (n < length) {
      if (sb.memoryRefusals !== refusals) this.stats.sendBufferMemoryLimited++;
      else this.stats.sendBufferFull++;
    }
    if (n > 0 && (st === TcpState.ESTABLISHED || st === TcpState.CLOSE_WAIT)) {
      tcpOutput(this.ctx, tcb, this.stack.clock.now());
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
    const free = receiveSpace(this.ctx, tcb);
    let cur = seqSub(tcb.rcvAdv, tcb.rcvNxt);
    if (cur < 0) cur = 0;
    const threshold = Math.min(rb.capacity >> 1, tcb.rcvMss);
    if (free >= cur + threshold && free >= 2 * cur) {
      tcb.ackPending = true;
      tcb.ackNow = true;
      queueAckFlush(this.ctx, tcb);
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
        setState(this.ctx, tcb, TcpState.FIN_WAIT_1);
        break;
      case TcpState.CLOSE_WAIT:
        tcb.finQueued = true;
        setState(this.ctx, tcb, TcpState.LAST_ACK);
        break;
      default:
        return;
    }
    tcpOutput(this.ctx, tcb, now);
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
      releaseBuffers(this.ctx, tcb);
      return;
    }
    tcb.orphaned = true;
    if (tcb.recvBuffer.readable > 0 || tcb.state === TcpState.SYN_SENT) {
      this.abort(tcb);
      return;
    }
    const now = this.stack.clock.now();
    if (tcb.state === TcpState.FIN_WAIT_2) armFinWait2(this.ctx, tcb, now);
    else this.shutdown(tcb);
    if (tcb.state === TcpState.SYN_RECEIVED && !tcb.active) {
      // Not yet accepted and already closed: just reset it.
      this.abort(tcb);
      return;
    }
    if (!adoptOrphan(this.ctx, tcb)) {
      // tcp.maxOrphans connections are delivering data nobody waits for already (Linux:
      // "too many orphaned sockets"): this one is reset instead of joining them.
      this.abort(tcb);
      return;
    }
    releaseBuffers(this.ctx, tcb);
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
      sendRstFor(this.ctx, tcb, this.stack.clock.now());
      tcb.sndNxt = nxt;
    }
    closeTcb(this.ctx, tcb, null);
  }

  setNoDelay(tcb: Tcb, noDelay: boolean): void {
    tcb.noDelay = noDelay;
    if (noDelay) {
      tcpOutput(this.ctx, tcb, this.stack.clock.now());
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
    if (ev !== 0) notify(this.ctx, tcb, ev);
  }
}
