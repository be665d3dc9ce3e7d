/**
 * (Over 600 lines on purpose: net.Socket's surface is one object whose reading, writing,
 * connecting and closing share state; errors, arguments, the server and the event loop are
 * in files of their own beside it.)
 *
 * net.Socket over pstack's TCP: a stream.Duplex that behaves as Node's (lib/net.js), event
 * for event: 'lookup' (for a host name), 'connect', 'ready', 'data', 'end', 'close' (with
 * hadError), 'error' (code, errno, syscall, address, port), 'timeout', 'drain'.
 *
 * Reading is eager, as with a kernel socket: from the connection (or the accept) on, data
 * moves from TCP's receive buffer into the stream's buffer up to its highWaterMark whether or
 * not anyone consumes, so the peer's FIN is noticed ('end', then our FIN unless allowHalfOpen,
 * then 'close') even by a socket that is never read. A full stream buffer stops the reading,
 * and the receive window closes as TCP's buffer fills (backpressure to the sender).
 *
 * Writing: write() copies into TCP's send buffer as room allows; a write made while
 * connecting waits (counted in writableLength/bufferSize) and goes once connected.
 *
 * TCP's notifications arrive at the end of the stack's receive batch; this socket records them
 * and handles them from the delivery queue (event-loop.ts), so application handlers never run
 * inside the stack and their exceptions reach the process as Node's would.
 */

import { Duplex, addAbortSignal, type DuplexOptions } from 'node:stream';
import { EventEmitter } from 'node:events';
import { getDefaultAutoSelectFamily, getDefaultAutoSelectFamilyAttemptTimeout, isIP } from 'node:net';
import { ADDRCONFIG, ALL, V4MAPPED } from 'node:dns';
import type { Timer } from '../../time/clock.js';
import { addressFromText, showAddress } from './addresses.js';
import { isAnyAddress, type IpAddress } from '../../stack/ip-address.js';
import { bindingsOverlap } from '../../transport/wildcard.js';
import { TcpError, type Tcp } from '../../transport/tcp/tcp.js';
import { TcpState, type Tcb, type TcbUser } from '../../transport/tcp/tcb.js';
import { normalizeArgs, type Callback, type LooseOptions } from './args.js';
import {
  ERR_INVALID_ADDRESS_FAMILY, ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_INVALID_IP_ADDRESS, ERR_MISSING_ARGS,
  ERR_SOCKET_CLOSED, ERR_SOCKET_CLOSED_BEFORE_CONNECTION, dnsException, errnoException, exceptionWithHostPort,
  getTimerDuration, validateBoolean, validateFunction, validateInt32, validateNumber, validatePort, type NetError,
} from './errors.js';
import { LoopHold, scheduleDelivery, type Deliverable } from './event-loop.js';
import { FamilyRace, MIN_ATTEMPT_TIMEOUT_MS, attemptOrder, type AttemptingSocket } from './happy-eyeballs.js';

/** What the socket API needs of a stack: its TCP. */
export interface TcpStack {
  readonly tcp: Tcp;
  /** The IPv6 layer, when the stack runs one (listen() with no host then takes ::, as Node). */
  readonly ipv6?: unknown;
}

export interface SocketOptions {
  allowHalfOpen?: boolean;
  /** Both buffers' highWaterMark (as stream.Duplex); the specific ones below take precedence. */
  highWaterMark?: number;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Destroys the socket (AbortError) when aborted. */
  signal?: AbortSignal;
}

export type LookupFunction = (
  hostname: string,
  options: { family?: number; hints?: number; all?: boolean },
  callback: (err: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void,
) => void;

export interface ConnectOptions extends SocketOptions {
  port: number | string;
  /** An IPv4 literal, or a name resolved by `lookup` (by default only 'localhost'). Default 'localhost'. */
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  hints?: number;
  /** As dns.lookup; by default the stack's resolver (Stack.resolver), or without one IPv4 literals and 'localhost'. */
  lookup?: LookupFunction;
  /**
   * For a name with several addresses: try them in turn, families alternating, each for at most
   * autoSelectFamilyAttemptTimeout ms (happy-eyeballs.ts). Default net.getDefaultAutoSelectFamily();
   * without it, the lookup's first address is the only one tried.
   */
  autoSelectFamily?: boolean;
  /** Default net.getDefaultAutoSelectFamilyAttemptTimeout() (250); at least 10. */
  autoSelectFamilyAttemptTimeout?: number;
  /** Idle timeout in ms, as socket.setTimeout (applied by connect()/createConnection()). */
  timeout?: number;
}

/** The server side of an accepted socket, as the socket sees it. */
export interface SocketServer extends EventEmitter {
  /** @internal An accepted socket was destroyed: one connection less. */
  socketDestroyed(socket: SocketImpl): void;
}

/** Largest chunk pushed to the readable side at once when the data is copied. */
const READ_CHUNK = 64 * 1024;

// Pending notifications, handled in deliver().
const EV_ACCEPTED = 1;
const EV_CONNECT = 2;
const EV_READABLE = 4;
const EV_WRITABLE = 8;
const EV_CLOSE = 16;
const EV_TIMEOUT = 32;
const EV_ATTEMPT_TIMEOUT = 64;

// The "handle" in Node's sense: none until connect() or accept, open, then closed by destroy.
const HANDLE_NONE = 0;
const HANDLE_OPEN = 1;
const HANDLE_CLOSED = 2;

const NO_CHUNKS: Buffer[] = [];

/** How often a closed socket whose data TCP still delivers checks whether it is done. */
const LINGER_CHECK_MS = 50;

/** TCP still has our data or FIN to deliver (what the kernel would finish after close(2)). */
function tcpSending(t: Tcb): boolean {
  const st = t.state;
  if (st === TcpState.CLOSED || st === TcpState.TIME_WAIT) return false;
  return t.sendBuffer.length > 0 || (t.finQueued && !t.finAcked);
}

/**
 * Keeps the event loop held for a destroyed socket while TCP still delivers what it was
 * given (its data and FIN), checking every LINGER_CHECK_MS. It refers to neither the socket
 * nor the connection block, only to the block's four-tuple and initial sequence number, and
 * finds the block in TCP's table at each check: a socket on a stream of short connections is
 * done long before a check comes, and a check that held the socket (its streams, buffers,
 * handlers) or the block (its buffers, timers, congestion state) would keep them reachable
 * for those milliseconds, long enough for V8 to copy them out of the young generation and
 * promote them. A block no longer in the table has nothing left to deliver.
 */
class LingerWatch {
  private readonly timer: Timer;
  private readonly remoteAddr: IpAddress;
  private readonly remotePort: number;
  private readonly localAddr: IpAddress;
  private readonly localPort: number;
  private readonly iss: number;
  private done = false;

  constructor(tcb: Tcb, private readonly tcp: Tcp, private readonly loop: LoopHold) {
    this.remoteAddr = tcb.remoteAddr;
    this.remotePort = tcb.remotePort;
    this.localAddr = tcb.localAddr;
    this.localPort = tcb.localPort;
    this.iss = tcb.iss;
    this.timer = tcp.stack.timers.create(() => this.check());
    this.timer.arm(LINGER_CHECK_MS);
  }

  private check(): void {
    if (this.done) return;
    const t = this.tcp.lookup(this.remoteAddr, this.remotePort, this.localAddr, this.localPort);
    if (t !== null && t.iss === this.iss && tcpSending(t)) {
      this.timer.arm(LINGER_CHECK_MS);
      return;
    }
    this.done = true;
    this.loop.close();
  }

  /** The socket is reused (connect() after destroy): its own hold decides from now on. */
  cancel(): void {
    this.timer.disarm();
    this.done = true;
  }
}

function emitCloseNT(socket: SocketImpl): void {
  socket.emit('close');
}

function emitCloseWithFlag(socket: SocketImpl, hadError: boolean): void {
  socket.emit('close', hadError);
}

/** Called when 'end' is emitted: without allowHalfOpen, later writes fail with EPIPE (Node's writeAfterFIN). */
function onReadableStreamEnd(this: SocketImpl): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN;
}

function writeAfterFIN(this: SocketImpl, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return (Duplex.prototype.write as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
  if (typeof encoding === 'function') cb = encoding;
  const er = Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' });
  if (typeof cb === 'function') process.nextTick(cb as (e: Error) => void, er);
  this.destroy(er);
  return false;
}

/** The default resolver: IP literals and 'localhost' (pstack has no DNS of its own). */
const defaultLookup: LookupFunction = (hostname, options, callback) => {
  const ip = hostname === 'localhost' ? (options.family === 6 ? '::1' : '127.0.0.1') : isIP(hostname) !== 0 ? hostname : null;
  const family = ip === null ? 0 : isIP(ip);
  process.nextTick(() => {
    if (ip === null) callback(dnsException('ENOTFOUND', 'getaddrinfo', hostname), options.all ? [] : '', undefined);
    else if (options.all) callback(null, [{ address: ip, family }]);
    else callback(null, ip, family);
  });
};

/** A stack's own resolver (Stack.resolver), seen only through its lookup(). */
interface StackResolver {
  lookup(hostname: string, options: { family?: number; hints?: number; all?: boolean }): Promise<unknown>;
}

const resolverLookups = new WeakMap<StackResolver, LookupFunction>();

/**
 * How this stack resolves names for connect(): its resolver when it has one (Stack.resolver:
 * the hosts table, then DNS over the stack), else only IPv4 literals and 'localhost'.
 */
function lookupOf(stack: TcpStack): LookupFunction {
  const resolver = (stack as { resolver?: StackResolver | null }).resolver;
  if (resolver === undefined || resolver === null || typeof resolver.lookup !== 'function') return defaultLookup;
  let lookup = resolverLookups.get(resolver);
  if (lookup === undefined) {
    lookup = (hostname, options, callback) => {
      // The callback (and the 'lookup'/'connect' handlers it leads to) runs outside the
      // promise chain, so an exception there is an uncaught exception, not a rejection.
      resolver.lookup(hostname, options).then(
        (found) => {
          if (Array.isArray(found)) process.nextTick(callback, null, found as Array<{ address: string; family: number }>);
          else {
            const f = found as { address: string; family: number };
            process.nextTick(callback, null, f.address, f.family);
          }
        },
        (err: NodeJS.ErrnoException) => process.nextTick(callback, err, options.all ? [] : '', undefined),
      );
    };
    resolverLookups.set(resolver, lookup);
  }
  return lookup;
}

/** What the address getters show for one end of the connection. */
interface ShownEndpoint {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

function socketToDnsFamily(family: unknown): unknown {
  return family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : family;
}

export class SocketImpl extends Duplex implements TcbUser, Deliverable, AttemptingSocket {
  /** The TCP connection block (null before connect()). */
  tcb: Tcb | null = null;
  connecting = false;
  /** Set by a Server for accepted sockets. */
  server: SocketServer | null = null;
  _server: SocketServer | null = null;
  /** As socket.setTimeout last set it (undefined until then), like Node's. */
  timeout: number | undefined = undefined;
  /** @internal In the delivery queue. */
  queued = false;
  /** @internal Position among its server's open sockets (slot-list.ts). */
  slotInList = -1;

  private readonly stack: TcpStack;
  private readonly tcp: Tcp;
  private readonly loop: LoopHold;
  private handle = HANDLE_NONE;
  private ev = 0;
  private closeCode: string | null = null;
  private reading = false;
  private pulling = false;
  private eofPushed = false;
  private closedByTcp = false;
  private pauseOnAccept = false;
  // The write in progress (from _write/_writev): chunks, position, bytes moved, callback.
  private wChunks: Buffer[] = NO_CHUNKS;
  private wIndex = 0;
  private wOffset = 0;
  private wMoved = 0;
  private wCallback: ((err?: Error | null) => void) | null = null;
  private finalCallback: ((err?: Error | null) => void) | null = null;
  private readBytes = 0;
  private sentBytes = 0;
  private noDelayWanted: boolean;
  private keepAliveWanted: boolean;
  private keepAliveDelay: number;
  // Idle timeout (setTimeout): one timer, re-armed lazily from the last activity.
  private timeoutMs = 0;
  private timeoutTimer: Timer | null = null;
  private lingerTimer: Timer | null = null;
  private linger: LingerWatch | null = null;
  private lastActivity = 0;
  private resetting = false;
  // Where connect() is going (for error messages) and from where, if the caller chose.
  private connectAddress: string | undefined = undefined;
  private connectPort = 0;
  private connectLocal: string | undefined = undefined;
  // The connection whose addresses the getters show, remembered so that they still answer
  // after it is gone; the strings are made on first use (a server that never asks makes none).
  private remoteOf: Tcb | null = null;
  private localOf: Tcb | null = null;
  private remote: ShownEndpoint | null = null;
  private local: ShownEndpoint | null = null;
  /** A socket of the IPv6 family (IPv4 peers of a dual-stack listener show as ::ffff:a.b.c.d). */
  private v6 = false;
  /** Connecting to one of several addresses (autoSelectFamily), until connected or destroyed. */
  private race: FamilyRace | null = null;
  /** As Node's: `address:port` of each attempt, when connect() tried several addresses. */
  autoSelectFamilyAttemptedAddresses: string[] | undefined = undefined;

  constructor(stack: TcpStack, options: SocketOptions = {}) {
    const o = (options ?? {}) as LooseOptions;
    if (o.objectMode) throw ERR_INVALID_ARG_VALUE('options.objectMode', o.objectMode, 'is not supported');
    if (o.readableObjectMode || o.writableObjectMode) {
      const name = o.readableObjectMode ? 'readableObjectMode' : 'writableObjectMode';
      throw ERR_INVALID_ARG_VALUE(`options.${name}`, o[name], 'is not supported');
    }
    let keepAliveInitialDelay = 0;
    if (o.keepAliveInitialDelay !== undefined) {
      validateNumber(o.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
      keepAliveInitialDelay = o.keepAliveInitialDelay < 0 ? 0 : o.keepAliveInitialDelay;
    }
    const tcp = (stack as TcpStack | undefined)?.tcp;
    if (tcp === undefined || tcp === null) throw ERR_INVALID_ARG_TYPE('stack', 'Stack', stack);
    const { signal, ...streamOptions } = o;
    super({
      ...(streamOptions as DuplexOptions),
      allowHalfOpen: Boolean(o.allowHalfOpen),
      emitClose: false, // 'close' is emitted when the connection is released, with hadError
      autoDestroy: true,
      decodeStrings: true,
      objectMode: false,
    });
    this.stack = stack;
    this.tcp = tcp;
    this.loop = new LoopHold(tcp.stack);
    this.noDelayWanted = Boolean(o.noDelay);
    this.keepAliveWanted = Boolean(o.keepAlive);
    this.keepAliveDelay = keepAliveInitialDelay;
    this.on('end', onReadableStreamEnd);
    // As stream.Duplex would (an AbortError destroys the socket), once this socket exists.
    if (signal !== undefined) addAbortSignal(signal as AbortSignal, this);
  }

  // ------------------------------------------------------------------ connecting

  connect(options: ConnectOptions, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, cb] = normalizeArgs(args);
    if (cb !== null) this.once('connect', cb as () => void);
    if (options.port === undefined && options.path == null) throw ERR_MISSING_ARGS(['options', 'port', 'path']);
    if (options.path != null) throw ERR_INVALID_ARG_VALUE('options.path', options.path, 'is not supported: pstack has no IPC sockets');
    if (this.write !== SocketImpl.prototype.write) this.write = SocketImpl.prototype.write;
    const target = this.validateConnect(options);
    if (this.destroyed) this.reinitialize();
    this.openHandle();
    this.connecting = true;
    this.touch();
    this.lookupAndConnect(options, target);
    return this;
  }

  /** Node's checks of lookupAndConnect, made before anything is opened; the port to use. */
  private validateConnect(options: LooseOptions): number {
    const { localAddress, localPort, autoSelectFamily, autoSelectFamilyAttemptTimeout } = options;
    let port = options.port;
    if (localAddress && !isIP(localAddress as string)) throw ERR_INVALID_IP_ADDRESS(localAddress);
    if (localPort) validateNumber(localPort, 'options.localPort');
    if (port !== undefined) {
      if (typeof port !== 'number' && typeof port !== 'string') throw ERR_INVALID_ARG_TYPE('options.port', ['number', 'string'], port);
      port = validatePort(port);
    }
    if (autoSelectFamily != null) validateBoolean(autoSelectFamily, 'options.autoSelectFamily');
    if (autoSelectFamilyAttemptTimeout != null) validateInt32(autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout', 1);
    if (options.lookup != null) validateFunction(options.lookup, 'options.lookup');
    else if (options.hints != null && isIP((options.host as string) || 'localhost') === 0) {
      // What dns.lookup checks when it is the resolver.
      validateNumber(options.hints, 'options.hints');
      if (((options.hints >>> 0) & ~(ADDRCONFIG | ALL | V4MAPPED)) !== 0) throw ERR_INVALID_ARG_VALUE('hints', options.hints);
    }
    return (port as number) | 0;
  }

  private lookupAndConnect(options: LooseOptions, port: number): void {
    const localAddress = options.localAddress as string | undefined;
    const localPort = options.localPort as number | undefined;
    const host = (options.host as string | undefined) || 'localhost';
    const addressType = isIP(host);
    if (addressType !== 0) {
      // A literal: no lookup (and no 'lookup' event), the connect on the next tick.
      process.nextTick(() => {
        if (this.connecting) this.internalConnect(host, port, addressType, localAddress, localPort);
      });
      return;
    }
    const lookup = (options.lookup as LookupFunction | undefined) ?? lookupOf(this.stack);
    const family = socketToDnsFamily(options.family);
    const dnsopts: { family?: number; hints?: number; all?: boolean } = { family: family as number, hints: (options.hints as number) || 0 };
    const autoSelect = (options.autoSelectFamily as boolean | undefined) ?? getDefaultAutoSelectFamily();
    if (family !== 4 && family !== 6 && !localAddress && autoSelect) dnsopts.all = true;
    lookup(host, dnsopts, (err, ip, type) => {
      if (dnsopts.all && err === null && Array.isArray(ip)) {
        this.connectToOneOf(host, port, options, ip, localPort);
        return;
      }
      const address = Array.isArray(ip) ? ip[0]?.address : ip;
      const family4or6 = Array.isArray(ip) ? ip[0]?.family : type;
      this.emit('lookup', err, err ? undefined : address, err ? undefined : family4or6, host);
      if (!this.connecting) return;
      if (err) process.nextTick(connectErrorNT, this, err);
      else if (!isIP(address as string)) process.nextTick(connectErrorNT, this, ERR_INVALID_IP_ADDRESS(address));
      else if (family4or6 !== 4 && family4or6 !== 6) process.nextTick(connectErrorNT, this, ERR_INVALID_ADDRESS_FAMILY(family4or6, options.host, options.port));
      else {
        this.touch();
        this.internalConnect(address as string, port, family4or6, localAddress, localPort);
      }
    });
  }

  /**
   * The answer of a lookup with `all` (autoSelectFamily): 'lookup' for each address, then one
   * address connected to, or several tried in turn (happy-eyeballs.ts).
   */
  private connectToOneOf(host: string, port: number, options: LooseOptions, addresses: Array<{ address: string; family: number }>, localPort?: number): void {
    if (!this.connecting) return;
    for (const a of addresses) {
      this.emit('lookup', null, a.address, a.family, host);
      if (!this.connecting) return;
    }
    const order = attemptOrder(addresses, isIP);
    if (order.length === 0) {
      const first = addresses[0];
      let err: Error;
      if (first === undefined) err = dnsException('ENOTFOUND', 'getaddrinfo', host);
      else if (!isIP(first.address)) err = ERR_INVALID_IP_ADDRESS(first.address);
      else err = ERR_INVALID_ADDRESS_FAMILY(first.family, options.host, options.port);
      process.nextTick(connectErrorNT, this, err);
      return;
    }
    this.touch();
    if (order.length === 1) {
      this.internalConnect(order[0]!.address, port, order[0]!.family, undefined, localPort);
      return;
    }
    let timeout = (options.autoSelectFamilyAttemptTimeout as number | undefined) ?? getDefaultAutoSelectFamilyAttemptTimeout();
    if (timeout < MIN_ATTEMPT_TIMEOUT_MS) timeout = MIN_ATTEMPT_TIMEOUT_MS;
    const race = new FamilyRace(this, this.tcp.stack.timers, order, port, localPort, timeout);
    this.race = race;
    this.autoSelectFamilyAttemptedAddresses = race.attempted;
    race.start();
  }

  /** @internal One attempt of a race: as internalConnect, but a failure is returned, not thrown at the socket. */
  openAttempt(address: string, port: number, family: 4 | 6, localPort: number | undefined): NetError | null {
    // The previous attempt's connection is closed (by TCP, or by dropAttempt) and forgotten.
    this.tcb = null;
    this.closedByTcp = false;
    this.closeCode = null;
    this.ev &= ~(EV_CONNECT | EV_CLOSE | EV_READABLE | EV_WRITABLE);
    return this.startConnect(address, port, family, undefined, localPort);
  }

  /** @internal The attempt in progress timed out: its connection goes, as Node closes its handle. */
  dropAttempt(): void {
    const t = this.tcb;
    if (t !== null && !this.closedByTcp && t.user === this) this.tcp.close(t);
    this.tcb = null;
    this.ev &= ~(EV_CONNECT | EV_CLOSE | EV_READABLE | EV_WRITABLE);
  }

  /** @internal */
  attemptTimerExpired(): void {
    this.ev |= EV_ATTEMPT_TIMEOUT;
    scheduleDelivery(this);
  }

  private internalConnect(address: string, port: number, addressType: number, localAddress?: string, localPort?: number): void {
    const err = this.startConnect(address, port, addressType, localAddress, localPort);
    if (err !== null) this.destroy(err);
  }

  /** Bind (if asked) and send the SYN: null, or the error that kept the connection from starting. */
  private startConnect(address: string, port: number, addressType: number, localAddress?: string, localPort?: number): NetError | null {
    this.connectAddress = address;
    this.connectPort = port;
    const remoteAddr = addressFromText(address);
    if (remoteAddr === null || (addressType !== 4 && addressType !== 6)) {
      return exceptionWithHostPort('EAFNOSUPPORT', 'connect', address, port);
    }
    this.v6 = addressType === 6;
    let localAddr: IpAddress = 0;
    if (localAddress || localPort) {
      const bindAddress = localAddress || (this.v6 ? '::' : '0.0.0.0');
      const la = addressFromText(bindAddress);
      if (la === null || (!isAnyAddress(la) && (typeof la !== typeof remoteAddr || !this.tcp.isLocalAddress(la)))) {
        return exceptionWithHostPort('EADDRNOTAVAIL', 'bind', bindAddress, localPort);
      }
      if (localPort && this.portHeldByListener(la, localPort)) {
        return exceptionWithHostPort('EADDRINUSE', 'bind', bindAddress, localPort);
      }
      localAddr = la;
      if (localAddress && localPort) this.connectLocal = `${localAddress}:${localPort}`;
    }
    this.race?.attempted.push(`${address}:${port}`);
    this.emit('connectionAttempt', address, port, addressType);
    if (!this.connecting) return null;
    let tcb: Tcb;
    try {
      tcb = this.tcp.connect(remoteAddr, port, { localAddr: isAnyAddress(localAddr) ? undefined : localAddr, localPort: localPort || undefined });
    } catch (err) {
      const code = err instanceof TcpError ? err.code : 'EINVAL';
      return this.connectError(code === 'EADDRINUSE' && localPort ? 'EADDRINUSE' : code);
    }
    this.tcb = tcb;
    this.localOf = tcb;
    this.local = null;
    this.tcp.attach(tcb, this);
    this.updateHold();
    return null;
  }

  /** A listener holds localPort on an address overlapping `addr` (0 = any): bind(2) fails. */
  private portHeldByListener(addr: IpAddress, port: number): boolean {
    if (this.tcp.findListener(addr, port) !== null) return true;
    for (const e of this.tcp.endpoints()) {
      if (e.state === 'LISTEN' && e.localPort === port && bindingsOverlap(addr, false, e.localAddress, false)) return true;
    }
    return false;
  }

  private connectError(code: string): NetError {
    const err = exceptionWithHostPort(code, 'connect', this.connectAddress, this.connectPort, this.connectLocal);
    if (this.connectLocal !== undefined) {
      const i = this.connectLocal.lastIndexOf(':');
      err.localAddress = this.connectLocal.slice(0, i);
      err.localPort = Number(this.connectLocal.slice(i + 1));
    }
    return err;
  }

  /** @internal An accepted connection (from a Server). */
  attachAccepted(tcb: Tcb, server: SocketServer, pauseOnConnect: boolean, v6Socket = typeof tcb.localAddr !== 'number'): void {
    this.server = server;
    this._server = server;
    this.tcb = tcb;
    this.v6 = v6Socket;
    this.remember();
    this.openHandle();
    this.pauseOnAccept = pauseOnConnect;
    if (pauseOnConnect) (this as { readableFlowing: boolean | null }).readableFlowing = false; // paused, without a 'pause' event
    this.applyOptions();
    this.tcp.attach(tcb, this);
    this.touch();
    this.ev |= EV_ACCEPTED;
    scheduleDelivery(this);
  }

  private openHandle(): void {
    this.handle = HANDLE_OPEN;
    this.updateHold();
  }

  /**
   * Whether this socket keeps the event loop alive, as libuv decides for a TCP handle: while
   * it connects (from the SYN on: a lookup holds the loop by its own means, if any), reads
   * (until the EOF, or the stream's buffer is full), or has writes pending; and, once closed
   * or done, while TCP still delivers its data and FIN.
   */
  private updateHold(): void {
    const t = this.tcb;
    if (this.handle === HANDLE_OPEN && t !== null && (this.connecting || (this.reading && !this.eofPushed) || this.wCallback !== null || this.finalCallback !== null)) {
      this.loop.activate();
      return;
    }
    if (t !== null && tcpSending(t)) {
      this.loop.activate();
      if (this.handle === HANDLE_CLOSED) {
        // Destroyed: nothing but TCP's progress matters any more; watch it without the socket.
        this.lingerTimer?.disarm();
        this.linger ??= new LingerWatch(t, this.tcp, this.loop);
        return;
      }
      this.lingerTimer ??= this.tcp.stack.timers.create(() => this.updateHold());
      this.lingerTimer.arm(LINGER_CHECK_MS);
      return;
    }
    this.lingerTimer?.disarm();
    this.loop.close();
  }

  /** connect() on a destroyed socket starts over, as Node's does. */
  private reinitialize(): void {
    (this as unknown as { _undestroy(): void })._undestroy();
    this.lingerTimer?.disarm();
    this.linger?.cancel();
    this.linger = null;
    this.tcb = null;
    this.handle = HANDLE_NONE;
    this.ev = 0;
    this.closeCode = null;
    this.reading = false;
    this.eofPushed = false;
    this.closedByTcp = false;
    this.resetting = false;
    this.remoteOf = null;
    this.localOf = null;
    this.remote = null;
    this.local = null;
    this.connectLocal = undefined;
    this.autoSelectFamilyAttemptedAddresses = undefined;
    this.readBytes = 0;
    this.sentBytes = 0;
  }

  private remember(): void {
    this.remoteOf = this.tcb;
    this.localOf = this.tcb;
    this.remote = null;
    this.local = null;
  }

  private remoteEndpoint(): ShownEndpoint | null {
    const t = this.remoteOf;
    if (this.remote === null && t !== null) this.remote = { ...showAddress(t.remoteAddr, this.v6), port: t.remotePort };
    return this.remote;
  }

  private localEndpoint(): ShownEndpoint | null {
    const t = this.localOf;
    if (this.local === null && t !== null) this.local = { ...showAddress(t.localAddr, this.v6), port: t.localPort };
    return this.local;
  }

  private applyOptions(): void {
    const t = this.tcb;
    if (t === null) return;
    if (this.noDelayWanted) this.tcp.setNoDelay(t, true);
    if (this.keepAliveWanted) this.tcp.setKeepAlive(t, true, this.keepAliveDelay);
  }

  // ------------------------------------------------------------------ TcbUser (at the end of the stack's batch)

  /** @internal */
  onConnect(): void {
    this.ev |= EV_CONNECT;
    scheduleDelivery(this);
  }

  /** @internal */
  onReadable(): void {
    this.ev |= EV_READABLE;
    scheduleDelivery(this);
  }

  /** @internal */
  onWritable(): void {
    this.ev |= EV_WRITABLE;
    scheduleDelivery(this);
  }

  /** @internal */
  onClose(code: string | null): void {
    this.closedByTcp = true;
    this.closeCode = code;
    this.ev |= EV_CLOSE;
    scheduleDelivery(this);
  }

  /**
   * @internal What TCP reported, handled outside the stack (see event-loop.ts). If an
   * application handler throws, the exception goes on to the process; what is left (and the
   * step that threw, for reading and writing, which resume where they stopped) runs next tick.
   */
  deliver(): void {
    let retry = 0;
    try {
      if ((this.ev & EV_ACCEPTED) !== 0) {
        this.ev &= ~EV_ACCEPTED;
        this.afterAccept();
      }
      if ((this.ev & EV_CONNECT) !== 0) {
        this.ev &= ~EV_CONNECT;
        this.afterConnect();
      }
      if ((this.ev & EV_READABLE) !== 0) {
        this.ev &= ~EV_READABLE;
        retry = EV_READABLE;
        this.readFromTcp();
        retry = 0;
      }
      if ((this.ev & EV_WRITABLE) !== 0) {
        this.ev &= ~EV_WRITABLE;
        retry = EV_WRITABLE;
        this.pump();
        retry = 0;
      }
      if ((this.ev & EV_CLOSE) !== 0) {
        this.ev &= ~EV_CLOSE;
        retry = EV_CLOSE;
        this.afterTcpClose();
        retry = 0;
      }
      if ((this.ev & EV_ATTEMPT_TIMEOUT) !== 0) {
        this.ev &= ~EV_ATTEMPT_TIMEOUT;
        this.race?.timedOut();
      }
      if ((this.ev & EV_TIMEOUT) !== 0) {
        this.ev &= ~EV_TIMEOUT;
        if (!this.destroyed) this.emit('timeout');
      }
    } finally {
      this.ev |= retry;
      if (this.ev !== 0 && !this.destroyed) scheduleDelivery(this);
    }
  }

  private afterAccept(): void {
    if (this.destroyed) return;
    // Start the flow of data into the buffer, as Node's Socket constructor does for a handle.
    if (!this.pauseOnAccept) this.startReading();
    this.server?.emit('connection', this);
  }

  private afterConnect(): void {
    if (this.destroyed || !this.connecting) return;
    this.race?.stop();
    this.race = null;
    this.connecting = false;
    this.updateHold();
    this.remember();
    this.applyOptions();
    this.touch();
    try {
      this.emit('connect');
      this.emit('ready');
    } finally {
      // Even if a 'connect' handler threw: start the first read (or notice an immediate EOF),
      // as Node does after 'ready', and send what was written while connecting.
      if (!this.destroyed) {
        if (!this.isPaused()) this.startReading();
        this.pump();
      }
    }
  }

  /** read(0): fill the stream's buffer; if that met the end of the stream, let it end now. */
  private startReading(): void {
    this.read(0);
    // An EOF pushed from inside that read (synchronously, in _read) does not end the stream
    // by itself; Node's reads are never synchronous. A second read(0) does.
    if (this.eofPushed && !this.destroyed) this.read(0);
  }

  private readFromTcp(): void {
    if (!this.reading) return;
    const eof = this.eofPushed;
    this.pull();
    if (!eof && this.eofPushed && !this.destroyed) this.read(0); // as Node after push(null): 'end' if nothing is left
  }

  private afterTcpClose(): void {
    if (this.destroyed) return;
    const code = this.closeCode;
    if (code !== null) {
      if (this.connecting && this.race !== null) {
        this.race.attemptFailed(this.connectError(code));
        return;
      }
      this.destroy(this.connecting ? this.connectError(code) : errnoException(code, 'read'));
      return;
    }
    // Orderly: the peer's FIN has been received (pushed as EOF when read), ours acknowledged.
    this.connecting = false;
    this.readFromTcp();
    this.pump(); // a write still waiting fails with EPIPE
    this.updateHold();
  }

  // ------------------------------------------------------------------ stream internals

  override _read(): void {
    if (!this.reading) {
      this.reading = true;
      this.updateHold();
    }
    this.pull();
  }

  /** Move received data into the stream until it is full (push() false) or TCP has none. */
  private pull(): void {
    const t = this.tcb;
    if (t === null || this.pulling || this.destroyed) return;
    this.pulling = true;
    try {
      while (this.reading) {
        const n = t.recvBuffer.readable;
        if (n === 0) {
          if (t.finReceived && !this.eofPushed) {
            this.eofPushed = true;
            this.reading = false;
            this.updateHold();
            this.push(null);
          }
          break;
        }
        // Bulk data for a flowing reader leaves the receive buffer without a copy: its storage
        // becomes the chunk. Otherwise (or for a reader that lets data pile up in the stream)
        // one copy into a chunk of at most READ_CHUNK.
        let chunk: Buffer;
        const whole = this.readableFlowing === true ? this.tcp.readAll(t) : null;
        if (whole !== null) {
          chunk = Buffer.from(whole.buffer, whole.byteOffset, whole.length);
        } else {
          chunk = Buffer.allocUnsafe(n < READ_CHUNK ? n : READ_CHUNK);
          this.tcp.read(t, chunk, 0, chunk.length);
        }
        this.readBytes += chunk.length;
        this.touch();
        if (!this.push(chunk)) {
          this.reading = false; // the stream is full: TCP's window closes as its buffer fills
          this.updateHold();
        }
      }
    } finally {
      this.pulling = false;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.handle !== HANDLE_OPEN) {
      callback(ERR_SOCKET_CLOSED());
      return;
    }
    this.wChunks = [chunk];
    this.startWrite(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    if (this.handle !== HANDLE_OPEN) {
      callback(ERR_SOCKET_CLOSED());
      return;
    }
    const list: Buffer[] = new Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) list[i] = chunks[i]!.chunk;
    this.wChunks = list;
    this.startWrite(callback);
  }

  private startWrite(callback: (err?: Error | null) => void): void {
    this.wIndex = 0;
    this.wOffset = 0;
    this.wMoved = 0;
    this.wCallback = callback;
    this.touch();
    this.pump();
    if (this.wCallback !== null) this.updateHold(); // waiting for room (or the connection)
  }

  /** Move the pending write into the TCP send buffer as room allows (once connected). */
  private pump(): void {
    const t = this.tcb;
    if (t === null || this.connecting) return;
    if (this.wCallback !== null) {
      const chunks = this.wChunks;
      while (this.wIndex < chunks.length) {
        const c = chunks[this.wIndex]!;
        const n = this.tcp.send(t, c, this.wOffset, c.length - this.wOffset);
        if (n < 0) {
          const cb = this.wCallback;
          this.wCallback = null;
          this.wChunks = NO_CHUNKS;
          this.wMoved = 0;
          this.updateHold();
          cb(errnoException(t.error ?? 'EPIPE', 'write'));
          return;
        }
        this.wOffset += n;
        this.wMoved += n;
        this.sentBytes += n;
        if (n > 0) this.touch();
        if (this.wOffset < c.length) return; // the send buffer is full: wait for onWritable
        this.wIndex++;
        this.wOffset = 0;
      }
      const cb = this.wCallback;
      this.wCallback = null;
      this.wChunks = NO_CHUNKS;
      this.wMoved = 0;
      this.updateHold();
      cb();
    }
    if (this.finalCallback !== null && this.wCallback === null) {
      const cb = this.finalCallback;
      this.finalCallback = null;
      this.tcp.shutdown(t);
      this.updateHold();
      cb();
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.pending) {
      // end() before the connection is up: the FIN follows it (and the writes before it).
      this.once('connect', () => this._final(callback));
      return;
    }
    if (this.tcb === null) {
      callback();
      return;
    }
    this.finalCallback = callback;
    this.pump();
    if (this.finalCallback !== null) this.updateHold();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const wasConnecting = this.connecting;
    this.connecting = false;
    this.race?.stop();
    this.race = null;
    this.clearIdleTimer();
    const t = this.tcb;
    if (t !== null && !this.closedByTcp && t.user === this) {
      if (this.resetting) this.tcp.abort(t);
      else this.tcp.close(t);
    }
    this.resetting = false;
    const wcb = this.wCallback;
    this.wCallback = null;
    this.wChunks = NO_CHUNKS;
    this.wMoved = 0;
    this.finalCallback = null;
    if (wcb !== null) wcb(wasConnecting ? ERR_SOCKET_CLOSED_BEFORE_CONNECTION() : err ?? undefined);
    const hadHandle = this.handle === HANDLE_OPEN;
    if (hadHandle) {
      this.handle = HANDLE_CLOSED;
      this.updateHold(); // released, unless TCP still delivers what was written
    }
    callback(err);
    // As Node: 'close' once the handle is closed (after the 'error' of this destroy), with
    // hadError; a socket that never had a connection closes on the next tick, without it.
    if (hadHandle) setImmediate(emitCloseWithFlag, this, err ? true : false);
    else process.nextTick(emitCloseNT, this);
    this._server?.socketDestroyed(this);
  }

  // ------------------------------------------------------------------ net.Socket surface

  /** Close with a RST (Node's socket.resetAndDestroy). */
  resetAndDestroy(): this {
    if (this.handle === HANDLE_OPEN) {
      if (this.connecting) this.once('connect', () => this.reset());
      else this.reset();
    } else {
      this.destroy(ERR_SOCKET_CLOSED());
    }
    return this;
  }

  private reset(): void {
    this.resetting = true;
    this.destroy();
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  setNoDelay(enable?: boolean): this {
    const on = Boolean(enable === undefined ? true : enable);
    const t = this.tcb;
    if (t === null || this.handle !== HANDLE_OPEN) {
      this.noDelayWanted = on;
      return this;
    }
    if (on !== this.noDelayWanted) {
      this.noDelayWanted = on;
      if (t.state !== TcpState.CLOSED) this.tcp.setNoDelay(t, on);
    }
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelayMsecs?: number): this {
    const on = Boolean(enable);
    const delay = initialDelayMsecs !== undefined && initialDelayMsecs > 0 ? initialDelayMsecs : 0;
    const t = this.tcb;
    if (t === null || this.handle !== HANDLE_OPEN) {
      this.keepAliveWanted = on;
      this.keepAliveDelay = delay;
      return this;
    }
    if (on !== this.keepAliveWanted || (on && delay !== this.keepAliveDelay)) {
      this.keepAliveWanted = on;
      this.keepAliveDelay = delay;
      if (t.state !== TcpState.CLOSED) this.tcp.setKeepAlive(t, on, delay);
    }
    return this;
  }

  /** Emit 'timeout' after `msecs` of inactivity (0 disables), as net.Socket.setTimeout. */
  setTimeout(msecs: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = msecs;
    const ms = getTimerDuration(msecs, 'msecs');
    this.clearIdleTimer();
    if (ms === 0) {
      this.timeoutMs = 0;
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.removeListener('timeout', callback);
      }
      return this;
    }
    if (callback !== undefined) validateFunction(callback, 'callback');
    this.timeoutMs = ms;
    if (this.timeoutTimer === null) this.timeoutTimer = this.tcp.stack.timers.create(() => this.onIdleTimer());
    this.touch();
    this.timeoutTimer.arm(ms);
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  private touch(): void {
    if (this.timeoutMs > 0) this.lastActivity = this.tcp.stack.clock.now();
  }

  /**
   * From the stack's timer heap: idle for the whole period (else wait the rest). 'timeout' is
   * emitted from the delivery queue, not from here.
   */
  private onIdleTimer(): void {
    if (this.timeoutMs === 0 || this.destroyed) return;
    const due = this.lastActivity + this.timeoutMs;
    const now = this.tcp.stack.clock.now();
    if (now < due) {
      this.timeoutTimer!.armAt(due); // activity since arming: wait the rest
      return;
    }
    // Once, as Node's: the next 'timeout' needs another setTimeout().
    this.timeoutMs = 0;
    this.ev |= EV_TIMEOUT;
    scheduleDelivery(this);
  }

  private clearIdleTimer(): void {
    this.timeoutTimer?.disarm();
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    const local = this.localEndpoint();
    return local !== null ? { address: local.address, family: local.family, port: local.port } : {};
  }

  get remoteAddress(): string | undefined {
    return this.remoteEndpoint()?.address;
  }

  get remotePort(): number | undefined {
    return this.remoteEndpoint()?.port;
  }

  get remoteFamily(): string | undefined {
    return this.remoteEndpoint()?.family;
  }

  get localAddress(): string | undefined {
    return this.localEndpoint()?.address;
  }

  get localPort(): number | undefined {
    return this.localEndpoint()?.port;
  }

  get localFamily(): string | undefined {
    return this.localEndpoint()?.family;
  }

  get bytesRead(): number {
    return this.readBytes;
  }

  /**
   * Bytes handed to TCP plus those still waiting in the stream (as Node counts: written to
   * the handle plus buffered); the part of the current write already in TCP counts once.
   */
  get bytesWritten(): number {
    return this.sentBytes + this.writableLength - this.wMoved;
  }

  get pending(): boolean {
    return this.handle !== HANDLE_OPEN || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Deprecated in Node; the bytes waiting to be written (undefined without a connection). */
  get bufferSize(): number | undefined {
    return this.handle === HANDLE_OPEN ? this.writableLength : undefined;
  }

  get _connecting(): boolean {
    return this.connecting;
  }

  /** The TCP state name (ESTABLISHED, ...), for diagnostics. */
  get tcpState(): string {
    return this.tcb !== null ? this.tcb.stateName : 'CLOSED';
  }

  /** Keep the process alive while this socket is open (the default). */
  ref(): this {
    this.loop.ref();
    return this;
  }

  /** Let the process exit even though this socket is open. */
  unref(): this {
    this.loop.unref();
    return this;
  }
}

function connectErrorNT(socket: SocketImpl, err: Error): void {
  socket.destroy(err);
}

/**
 * Node's net.Socket (`new Socket(stack, options)`), also callable without `new` as Node's
 * is; subclassable with `class MySocket extends Socket`.
 */
export interface SocketConstructor {
  new (stack: TcpStack, options?: SocketOptions): SocketImpl;
  (stack: TcpStack, options?: SocketOptions): SocketImpl;
  readonly prototype: SocketImpl;
}

export const Socket = new Proxy(SocketImpl, {
  apply(target, _thisArg, args: [TcpStack, SocketOptions?]) {
    return new target(...args);
  },
}) as unknown as SocketConstructor;

export type Socket = SocketImpl;

export type { Callback };
