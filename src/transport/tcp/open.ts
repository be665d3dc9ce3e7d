/**
 * Opening connections (RFC 9293 3.10.1 OPEN, 3.10.7.2 LISTEN, 3.10.7.4 SYN_RECEIVED): the
 * active OPEN (connect), listeners and their ports, the SYN_RECEIVED child a SYN to a
 * listener makes, the handshake's completion into a listener's accept queue, and SYN
 * cookies while a listener's SYN queue overflows (RFC 4987 3.6).
 *
 * Also what a new block starts with: its heap timer, initial sequence number (RFC 6528,
 * isn.ts), the options agreed (RFC 7323, RFC 2018) and the MSS (RFC 9293 3.7.1, RFC 6691).
 */

import { randomInt } from '../random.js';
import { TX_HEADROOM, type IpAddress, type RouteResult } from '../../stack/network.js';
import { IN6ADDR_ANY, isAnyAddress } from '../../stack/network.js';
import { emitTcpWith, TcpFlag, TCP_MIN_HEADER, TCP_PROTOCOL } from '../../wire/tcp.js';
import { emitTcpOptions } from '../../wire/tcp-options.js';
import type { TcpContext } from './context.js';
import { closeTcb, notify, scheduleTcbTimer, setState } from './lifecycle.js';
import { initialWindow } from './memory.js';
import { Listener } from './listener.js';
import { sendRstFor, sendRstRaw, sendSyn } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd } from './seq.js';
import { COOKIE_PERIOD_MS, decodeCookieTimestamp, encodeCookieTimestamp } from './syn-cookies.js';
import { Tcb, TcbEvent, TcpState } from './tcb.js';
import { TcpError } from './tcp-error.js';
import { EcnMode, isEcnSetupSyn } from './ecn.js';
import { onTcbTimer } from './timers.js';

const { SYN, ACK, RST, ECE } = TcpFlag;

/** The dynamic port range (RFC 6335 section 6), for connect and listen without a port. */
const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;

// ------------------------------------------------------------------------------ new blocks

/** A block with its heap timer and random TSval offset (RFC 7323 5.4, as Linux). */
function newTcb(ctx: TcpContext, now: number): Tcb {
  const tcb = new Tcb(ctx.config, ctx.stack.memory);
  tcb.timer = ctx.stack.timers.create(() => onTcbTimer(ctx, tcb));
  tcb.createdAt = now;
  tcb.lastRecvAt = now;
  tcb.tsOffset = randomInt(0, 0x7fffffff);
  return tcb;
}

/** A TCB for a connection a peer opened to us (from its SYN, or from a SYN cookie's ACK). */
function newPassiveTcb(ctx: TcpContext, seg: Segment, rt: RouteResult, now: number): Tcb {
  const tcb = newTcb(ctx, now);
  tcb.localAddr = seg.dst;
  tcb.localPort = seg.dstPort;
  tcb.remoteAddr = seg.src;
  tcb.net = ctx.ip(seg.src);
  tcb.remotePort = seg.srcPort;
  tcb.route = rt;
  tcb.routeAt = now;
  tcb.rcvMss = mssFor(ctx, rt);
  tcb.active = false;
  return tcb;
}

/** The ISN for a connection's four-tuple (RFC 9293 3.4.1, RFC 6528). */
function isnFor(ctx: TcpContext, localAddr: IpAddress, localPort: number, remoteAddr: IpAddress, remotePort: number): number {
  const a = addrView(ctx, ctx.addrA, ctx.addrA4, localAddr);
  const b = addrView(ctx, ctx.addrB, ctx.addrB4, remoteAddr);
  return ctx.isn.next(a, localPort, b, remotePort);
}

/** The MSS a route's MTU allows: the MTU less the network and TCP headers (what we advertise). */
export function mssFor(ctx: TcpContext, rt: RouteResult): number {
  return rt.iface.mtu - ctx.ip(rt.src).headerLength - TCP_MIN_HEADER;
}

/**
 * The MSS the path to `dst` allows: the path MTU (the link's, or less after a Fragmentation
 * Needed / Packet Too Big for `dst`, stack/path-mtu.ts) less the network and TCP headers.
 */
export function pathMssFor(ctx: TcpContext, rt: RouteResult, dst: IpAddress): number {
  const net = ctx.ip(rt.src);
  return net.pathMtu(dst, rt) - net.headerLength - TCP_MIN_HEADER;
}

/** The bytes of `addr` in `scratch`, as a view of their length (`four` for IPv4). */
function addrView(ctx: TcpContext, scratch: Uint8Array, four: Uint8Array, addr: IpAddress): Uint8Array {
  const n = ctx.ip(addr).writeAddress(addr, scratch, 0);
  return n === 4 ? four : n === scratch.length ? scratch : scratch.subarray(0, n);
}

// ------------------------------------------------------------------------------ passive open

/** LISTEN + SYN: make the SYN_RECEIVED child and send SYN,ACK (RFC 9293 3.10.7.2). */
export function passiveOpen(ctx: TcpContext, listener: Listener, seg: Segment, now: number): void {
  const cfg = ctx.config;
  const counters = ctx.stack.counters;
  if (listener.acceptQueue.length >= listener.backlog) {
    // Linux drops SYNs while the accept queue is full: the client retries later.
    listener.lastOverflowAt = now;
    counters.drop('tcp: accept-queue-full');
    return;
  }
  if (ctx.connections.count >= cfg.maxConnections) {
    // Every connection block is in use. A SYN cookie would not help (its ACK needs a block
    // too): refuse at once, so the client sees ECONNREFUSED instead of retrying for minutes.
    refuseOverLimit(ctx, seg);
    return;
  }
  if (listener.synQueueLength >= cfg.maxSynBacklog) {
    listener.lastOverflowAt = now;
    if (cfg.synCookies) {
      sendCookieSynAck(ctx, seg, now);
      return;
    }
    counters.drop('tcp: syn-queue-full');
    return;
  }
  const rt = ctx.ip(seg.src).route(seg.src);
  if (rt === null) {
    counters.drop('tcp: no-route');
    return;
  }
  const tcb = newPassiveTcb(ctx, seg, rt, now);
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
  // RFC 3168 6.1.1: agree to ECN when asked (tcp.ecn 1 or 2, as Linux).
  tcb.synEcn = cfg.ecn !== EcnMode.OFF && isEcnSetupSyn(seg.flags);
  tcb.ecnOk = tcb.synEcn;
  if (tcb.ecnOk) ctx.stats.ecnNegotiated++;
  const iss = isnFor(ctx, tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort);
  tcb.iss = iss;
  tcb.sndUna = iss;
  tcb.sndNxt = iss;
  tcb.sndMax = iss;
  tcb.sndBufSeq = seqAdd(iss, 1);
  tcb.recoveryPoint = iss;
  if (tcb.synSack) tcb.enableSack();
  tcb.setMss(o.mss >= 0 ? o.mss : 536, pathMssFor(ctx, rt, tcb.remoteAddr));
  tcb.sndWnd = seg.wnd; // never scaled in a SYN
  tcb.maxSndWnd = seg.wnd;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = iss;
  tcb.state = TcpState.SYN_RECEIVED;
  tcb.listener = listener;
  listener.synQueueLength++;
  ctx.connections.insert(tcb);
  ctx.stats.passiveOpens++;
  ctx.onStateChange?.(tcb, TcpState.LISTEN, TcpState.SYN_RECEIVED);
  sendSyn(ctx, tcb, now);
  scheduleTcbTimer(tcb);
}

/** SYN_RECEIVED -> ESTABLISHED on an acceptable ACK. False: drop the segment. */
export function handshakeComplete(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  if (!tcb.active) {
    const l = tcb.listener as Listener | null;
    if (l === null || l.closed) {
      sendRstFor(ctx, tcb, now);
      closeTcb(ctx, tcb, null);
      return false;
    }
    if (l.acceptQueue.length >= l.backlog) {
      // Linux (tcp_abort_on_overflow = 0): ignore the ACK; the SYN-ACK timer retries.
      l.lastOverflowAt = now;
      ctx.stack.counters.drop('tcp: accept-queue-full');
      return false;
    }
    l.synQueueLength--;
    l.acceptQueue.push(tcb);
    ctx.stats.passiveOpensEstablished++;
    notify(ctx, tcb, TcbEvent.ACCEPT);
  } else {
    ctx.stats.activeOpensEstablished++;
    notify(ctx, tcb, TcbEvent.CONNECT);
  }
  establish(ctx, tcb, seg.wnd << tcb.sndWscale, seg.seq, seg.ack, now);
  return true;
}

/** The handshake is done: ESTABLISHED (or FIN_WAIT_1 after an early CLOSE), send window and cwnd from here. */
function establish(ctx: TcpContext, tcb: Tcb, sndWnd: number, wl1: number, wl2: number, now: number): void {
  setState(ctx, tcb, tcb.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED);
  tcb.sndWnd = sndWnd;
  tcb.maxSndWnd = sndWnd > tcb.maxSndWnd ? sndWnd : tcb.maxSndWnd;
  tcb.sndWl1 = wl1;
  tcb.sndWl2 = wl2;
  const synLost = tcb.retries > 0;
  tcb.resetCongestion(synLost ? tcb.smss : undefined);
  if (synLost) tcb.rtt.applySynTimeoutRule();
  tcb.retries = 0;
  tcb.lastSendAt = now;
  tcb.quickAcks = ctx.config.quickAckSegments;
}

// ------------------------------------------------------------------------------ user calls

/** Active OPEN (RFC 9293 3.10.1): send a SYN. Throws TcpError (ENETUNREACH, EADDRINUSE, ...). */
export function activeOpen(ctx: TcpContext, remoteAddr: IpAddress, remotePort: number, opts: { localAddr?: IpAddress; localPort?: number } = {}): Tcb {
  if (!(remotePort > 0 && remotePort < 65536)) throw new TcpError('EINVAL', `invalid port ${remotePort}`);
  if (typeof remoteAddr !== 'number' && ctx.stack6 === null) throw new TcpError('EAFNOSUPPORT', 'no IPv6 network layer');
  const net = ctx.ip(remoteAddr);
  if (!net.isUnicast(remoteAddr)) throw new TcpError('EINVAL', 'not a unicast address');
  const rt = net.route(remoteAddr);
  if (rt === null) throw new TcpError('ENETUNREACH', 'no route to the destination');
  if (ctx.connections.count >= ctx.config.maxConnections) {
    ctx.stack.counters.drop('tcp: max-connections');
    throw new TcpError('EAGAIN', 'too many connections');
  }
  const localAddr = opts.localAddr !== undefined && !isAnyAddress(opts.localAddr) ? opts.localAddr : rt.src;
  if (typeof localAddr !== typeof remoteAddr || !net.isLocalAddress(localAddr)) throw new TcpError('EADDRNOTAVAIL', 'not a local address');
  let localPort = opts.localPort ?? 0;
  if (localPort === 0) localPort = ephemeralPort(ctx, localAddr, remoteAddr, remotePort);
  else if (ctx.connections.lookup(remoteAddr, remotePort, localAddr, localPort) !== null) throw new TcpError('EADDRINUSE', 'address already in use');
  const now = ctx.stack.clock.now();
  const tcb = newTcb(ctx, now);
  const cfg = ctx.config;
  tcb.localAddr = localAddr;
  tcb.localPort = localPort;
  tcb.remoteAddr = remoteAddr;
  tcb.net = net;
  tcb.remotePort = remotePort;
  tcb.route = rt;
  tcb.routeAt = now;
  tcb.rcvMss = mssFor(ctx, rt);
  tcb.active = true;
  tcb.synWs = cfg.windowScaling;
  tcb.synSack = cfg.sack;
  tcb.synTs = cfg.timestamps;
  tcb.synEcn = cfg.ecn === EcnMode.ON;
  const iss = isnFor(ctx, localAddr, localPort, remoteAddr, remotePort);
  tcb.iss = iss;
  tcb.sndUna = iss;
  tcb.sndNxt = iss;
  tcb.sndMax = iss;
  tcb.sndBufSeq = seqAdd(iss, 1);
  tcb.recoveryPoint = iss;
  tcb.setMss(536, pathMssFor(ctx, rt, tcb.remoteAddr));
  tcb.state = TcpState.SYN_SENT;
  ctx.connections.insert(tcb);
  ctx.stats.activeOpens++;
  ctx.onStateChange?.(tcb, TcpState.CLOSED, TcpState.SYN_SENT);
  sendSyn(ctx, tcb, now);
  scheduleTcbTimer(tcb);
  return tcb;
}

/** A free local port for a connection to remoteAddr:remotePort, tried from a random start. */
function ephemeralPort(ctx: TcpContext, localAddr: IpAddress, remoteAddr: IpAddress, remotePort: number): number {
  const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
  const start = randomInt(0, span);
  for (let i = 0; i < span; i++) {
    const port = EPHEMERAL_LOW + ((start + i) % span);
    if (ctx.listeners.hasPort(port)) continue;
    if (ctx.connections.lookup(remoteAddr, remotePort, localAddr, port) === null) return port;
  }
  throw new TcpError('EADDRNOTAVAIL', 'no free local port');
}

/** Passive OPEN. Port 0 picks a free ephemeral port. Throws TcpError EADDRINUSE. */
export function openListener(ctx: TcpContext, localAddr: IpAddress, port: number, backlog = 511, v6Only = false): Listener {
  if (!isAnyAddress(localAddr) && !ctx.ip(localAddr).isLocalAddress(localAddr)) throw new TcpError('EADDRNOTAVAIL', 'not a local address');
  if (port === 0) {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = randomInt(0, span);
    for (let i = 0; i < span && port === 0; i++) {
      const p = EPHEMERAL_LOW + ((start + i) % span);
      if (!ctx.listeners.hasPort(p)) port = p;
    }
    if (port === 0) throw new TcpError('EADDRINUSE', 'no free port');
  }
  if (!(port > 0 && port < 65536)) throw new TcpError('EINVAL', `invalid port ${port}`);
  if (typeof localAddr !== 'number' && localAddr !== IN6ADDR_ANY && ctx.stack6 === null) throw new TcpError('EAFNOSUPPORT', 'no IPv6 network layer');
  if (ctx.listeners.conflicts(localAddr, port, v6Only)) throw new TcpError('EADDRINUSE', 'address already in use');
  const l = new Listener(localAddr, port, backlog > 0 ? backlog : 1, v6Only);
  ctx.listeners.add(l);
  return l;
}

/** Stop listening: half-open and unaccepted connections are reset. */
export function closeListener(ctx: TcpContext, l: Listener): void {
  if (l.closed) return;
  l.closed = true;
  l.user = null;
  ctx.listeners.remove(l);
  const now = ctx.stack.clock.now();
  for (const t of ctx.connections.all()) {
    if (t.listener === l) {
      sendRstFor(ctx, t, now);
      closeTcb(ctx, t, null);
    }
  }
}

// ------------------------------------------------------------------------------ SYN cookies
// Used only while a SYN queue overflows (syn-cookies.ts has the encoding).

function sendCookieSynAck(ctx: TcpContext, seg: Segment, now: number): void {
  const rt = ctx.ip(seg.src).route(seg.src);
  if (rt === null) return;
  const cfg = ctx.config;
  const o = seg.opts;
  const cookie = ctx.cookies.encode(addrView(ctx, ctx.addrA, ctx.addrA4, seg.dst), seg.dstPort, addrView(ctx, ctx.addrB, ctx.addrB4, seg.src), seg.srcPort, seg.seq, o.mss >= 0 ? o.mss : 536);
  const out = ctx.optsOut;
  out.mss = mssFor(ctx, rt);
  out.sackCount = 0;
  // Without timestamps nothing but the MSS survives in the cookie: offer nothing else.
  const ts = cfg.timestamps && o.hasTimestamps;
  const ws = ts && cfg.windowScaling && o.windowScale >= 0;
  out.windowScale = ws ? ourWscale(ctx) : -1;
  out.sackPermitted = ts && cfg.sack && o.sackPermitted;
  out.timestamps = ts;
  // ECN is agreed only when the timestamp can carry the agreement (as Linux).
  const ecn = ts && cfg.ecn !== EcnMode.OFF && isEcnSetupSyn(seg.flags);
  if (ts) {
    out.tsVal = encodeCookieTimestamp((Math.floor(now) + ctx.cookieTsOffset) >>> 0, ws ? o.windowScale : -1, out.sackPermitted, ecn);
    out.tsEcr = o.tsVal;
  }
  const buf = ctx.stack.txBuffer;
  const optLen = emitTcpOptions(buf, TX_HEADROOM + TCP_MIN_HEADER, out);
  const repr = ctx.reprOut;
  repr.srcPort = seg.dstPort;
  repr.dstPort = seg.srcPort;
  repr.seq = cookie;
  repr.ack = seqAdd(seg.seq, 1);
  repr.flags = ecn ? SYN | ACK | ECE : SYN | ACK;
  repr.window = initialWindow(ctx);
  repr.urgentPointer = 0;
  emitTcpWith(buf, TX_HEADROOM, repr, optLen, 0, ctx.ip(seg.src).pseudoHeaderSum(seg.dst, seg.src, TCP_PROTOCOL, TCP_MIN_HEADER + optLen));
  const ip = ctx.ipOpts;
  ip.src = seg.dst;
  ip.dst = seg.src;
  ip.partialChecksumAt = 0;
  ip.gsoSize = 0;
  ip.dontFragment = true;
  ip.tos = 0;
  ctx.stack.counters.tcpOut++;
  ctx.stats.synCookiesSent++;
  ctx.ip(seg.src).output(ip, buf, TX_HEADROOM, TCP_MIN_HEADER + optLen, rt);
}

/** tcp.maxConnections is reached: count it and answer the segment with a RST. */
function refuseOverLimit(ctx: TcpContext, seg: Segment): void {
  ctx.stack.counters.drop('tcp: max-connections');
  if ((seg.flags & ACK) === 0) sendRstRaw(ctx, seg.dst, seg.src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, seg.segLen), true);
  else sendRstRaw(ctx, seg.dst, seg.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
}

/** Our window shift: the smallest that advertises the whole receive buffer (RFC 7323 2.3). */
function ourWscale(ctx: TcpContext): number {
  let ws = 0;
  while (ws < 14 && ctx.config.recvBufferSize >> ws > 65535) ws++;
  return ws;
}

/**
 * LISTEN + bare ACK: a returning SYN cookie? If valid, make the connection. Returns the new
 * block, in SYN_RECEIVED, for the caller to process this ACK (and any data on it) as such a
 * block would; true when the cookie is valid but no block could be made (the segment is
 * consumed); false when it is no valid cookie (the ACK is answered as any ACK to a listener).
 */
export function trySynCookieAck(ctx: TcpContext, listener: Listener, seg: Segment, now: number): Tcb | boolean {
  const cfg = ctx.config;
  if (!cfg.synCookies || now - listener.lastOverflowAt > 2 * COOKIE_PERIOD_MS) return false;
  if ((seg.flags & RST) !== 0) return false;
  const cookie = seqAdd(seg.ack, -1);
  const clientIsn = seqAdd(seg.seq, -1);
  const mss = ctx.cookies.decode(addrView(ctx, ctx.addrA, ctx.addrA4, seg.dst), seg.dstPort, addrView(ctx, ctx.addrB, ctx.addrB4, seg.src), seg.srcPort, clientIsn, cookie);
  if (mss === 0) return false;
  const o = seg.opts;
  const cts = ctx.cookieTs;
  cts.wscale = -1;
  cts.sackOk = false;
  cts.ecn = false;
  if (o.hasTimestamps && !decodeCookieTimestamp(o.tsEcr, cts, (Math.floor(now) + ctx.cookieTsOffset) >>> 0)) return false;
  if (listener.acceptQueue.length >= listener.backlog) {
    ctx.stack.counters.drop('tcp: accept-queue-full');
    return true; // valid but no room: drop silently, the client retransmits
  }
  if (ctx.connections.count >= cfg.maxConnections) {
    refuseOverLimit(ctx, seg);
    return true;
  }
  const rt = ctx.ip(seg.src).route(seg.src);
  if (rt === null) return false;
  ctx.stats.synCookiesValidated++;
  const tcb = newPassiveTcb(ctx, seg, rt, now);
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
    tcb.tsOffset = ctx.cookieTsOffset;
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAt = now;
  }
  if (cts.wscale >= 0) {
    tcb.sndWscale = cts.wscale;
    tcb.rcvWscale = ourWscale(ctx);
  } else {
    tcb.sndWscale = 0;
    tcb.rcvWscale = 0;
  }
  if (cts.sackOk) tcb.enableSack();
  tcb.ecnOk = cts.ecn && cfg.ecn !== EcnMode.OFF;
  if (tcb.ecnOk) ctx.stats.ecnNegotiated++;
  tcb.setMss(mss, pathMssFor(ctx, rt, tcb.remoteAddr));
  tcb.rcvAdv = seqAdd(tcb.rcvNxt, initialWindow(ctx));
  tcb.listener = listener;
  tcb.state = TcpState.SYN_RECEIVED;
  listener.synQueueLength++;
  ctx.connections.insert(tcb);
  ctx.stats.passiveOpens++;
  return tcb;
}
