/**
 * UDP sockets with Node's `dgram.Socket` surface, on a pstack Stack instead of the kernel:
 *
 *   const sock = createSocket(stack, 'udp4', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
 *   sock.bind(7);
 *
 * Semantics follow Node on Linux: bind() reports 'listening' (or an 'error' such as
 * EADDRINUSE) asynchronously, an unbound socket binds to an ephemeral port on its first send
 * or connect, send callbacks run on a later tick with (err, bytes), send errors go to the
 * callback only (Node's rule), a connected socket only hears its peer and gets an 'error'
 * ECONNREFUSED when the peer answers with ICMP Port Unreachable, and broadcasts need
 * setBroadcast(true) (EACCES otherwise). Errors carry Node's `code`, `errno`, `syscall`.
 *
 * Multicast as on Linux: addMembership / addSourceSpecificMembership join a group on an
 * interface (IGMPv3 reports it), a socket bound to the group's port (on 0.0.0.0 or the group)
 * receives the group's datagrams while the host is a member (filtered by the socket's own
 * source filter when it joined), several sockets share a port with `reuseAddr`, and datagrams
 * to a group leave with TTL 1 (setMulticastTTL), by the route's or setMulticastInterface's
 * interface, with a copy for this host's own members (setMulticastLoopback(false) stops it).
 * As with Node, a membership call on an unbound socket binds it to an ephemeral port, after
 * which bind() fails with EINVAL. On a udp6 socket IPv6 groups work the same way (MLDv2 reports
 * them); the interface is the scope of the address given ('::%tap0'), as libuv reads it; on a
 * udp4 socket they give ENOPROTOOPT.
 *
 * A bound socket keeps the process alive until it is closed (or unref()'d), as Node's does.
 * An exception thrown by a 'message' listener is an uncaught exception, as from Node's.
 *
 * Differences: addresses are IPv4 literals or 'localhost' (no DNS; other names fail with
 * ENOTFOUND); the port is reserved at once by bind(), so address() works right after it;
 * there is no receive buffer (a datagram is emitted as it arrives, as a fresh Buffer);
 * buffer-size options are not supported.
 */

import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { IN6ADDR_ANY, IN6ADDR_LOOPBACK, ipAddressToString, parseIpAddress, type IpAddress } from '../stack/ip-address.js';
import { addressFromText, showAddress } from './net/addresses.js';
import type { UdpEndpoint, UdpEndpointHandler, UdpLayer } from '../transport/udp.js';
import { LoopHold } from './net/event-loop.js';

/** What UDP sockets need of a stack: its UDP. */
export interface UdpStack {
  readonly udp: UdpLayer;
}

export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

export interface BindOptions {
  port?: number;
  address?: string;
  /** Accepted for compatibility; every binding here is exclusive. */
  exclusive?: boolean;
}

export interface SocketOptions {
  type: 'udp4' | 'udp6';
  /** udp6: bound to ::, take IPv6 only (IPV6_V6ONLY); otherwise IPv4 too, shown as ::ffff:a.b.c.d. */
  ipv6Only?: boolean;
  /** SO_REUSEADDR: sockets that all set it may bind the same address and port (multicast receivers). */
  reuseAddr?: boolean;
  /** pstack extension: path MTU discovery from the start (see setPathMtuDiscovery). */
  pathMtuDiscovery?: boolean;
}

export type SocketType = 'udp4' | 'udp6' | SocketOptions;
export type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;
export type SendCallback = (error: Error | null, bytes?: number) => void;
type Chunk = Buffer | Uint8Array | DataView | string;
type Message = Chunk | readonly Chunk[];

/** An Error with Node's system-error fields. */
export interface SocketError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

const LOCALHOST = 0x7f000001;

function nodeError(code: string, message: string, Ctor: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor = Error): SocketError {
  const err = new Ctor(message) as SocketError;
  err.code = code;
  // Node's internal errors print as "Error [CODE]: message".
  Object.defineProperty(err, 'name', { value: `${Ctor.name} [${code}]`, configurable: true, writable: true, enumerable: false });
  void err.stack; // materialize the stack with the decorated name, then restore the plain name
  Object.defineProperty(err, 'name', { value: Ctor.name, configurable: true, writable: true, enumerable: false });
  return err;
}

/** Like Node's ErrnoException / ExceptionWithHostPort: "send EACCES 255.255.255.255:9". */
function systemError(code: string, syscall: string, address?: string, port?: number): SocketError {
  let message = `${syscall} ${code}`;
  if (address !== undefined && address !== '') message += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const err = new Error(message) as SocketError;
  const n = (osConstants.errno as Record<string, number | undefined>)[code];
  if (n !== undefined) err.errno = -n;
  err.code = code;
  err.syscall = syscall;
  if (address !== undefined && address !== '') err.address = address;
  if (port !== undefined && port > 0) err.port = port;
  return err;
}

function notRunning(): SocketError {
  return nodeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
}

function validatePort(port: unknown, allowZero: boolean): number {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 0xffff) {
    throw nodeError('ERR_SOCKET_BAD_PORT', `Port should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${typeof port === 'string' ? `type string ('${port}')` : String(port)}.`, RangeError);
  }
  return n;
}

/** An IP literal or 'localhost' (of the socket's family); there is no resolver behind pstack. */
function lookup(address: string | undefined | null, fallback: IpAddress, v6: boolean): IpAddress | null {
  if (address === undefined || address === null || address === '') return fallback;
  if (address === 'localhost') return v6 ? IN6ADDR_LOOPBACK : LOCALHOST;
  const a = addressFromText(address);
  // A udp4 socket takes IPv4 only; a udp6 one both (::ffff:a.b.c.d and plain IPv4 text alike).
  return a === null || (!v6 && typeof a !== 'number') ? null : a;
}

function toChunk(c: unknown): Uint8Array | null {
  if (typeof c === 'string') return Buffer.from(c);
  if (c instanceof Uint8Array) return c;
  if (ArrayBuffer.isView(c)) return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  return null;
}

function badBuffer(value: unknown): SocketError {
  return nodeError('ERR_INVALID_ARG_TYPE', `The "buffer" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received ${describe(value)}`, TypeError);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  // Node's inspect form: strings quoted.
  return typeof value === 'string' ? `type string ('${value}')` : `type ${typeof value} (${String(value)})`;
}

type BindState = 'unbound' | 'bound';

/**
 * A UDP socket on a pstack Stack, with Node's dgram.Socket methods and events
 * ('listening', 'message', 'connect', 'error', 'close').
 */
export class UdpSocket extends EventEmitter implements UdpEndpointHandler {
  readonly type: 'udp4' | 'udp6';
  /** udp6: the wildcard is ::, IPv4 peers show as ::ffff:a.b.c.d. */
  private readonly v6: boolean;
  private readonly layer: UdpLayer;
  private endpoint: UdpEndpoint | null;
  private bindState: BindState = 'unbound';
  private connectState: 'disconnected' | 'connected' = 'disconnected';
  private readonly loop: LoopHold;

  constructor(stack: UdpStack, onMessage?: MessageListener, type: 'udp4' | 'udp6' = 'udp4', ipv6Only = false, reuseAddr = false) {
    super();
    this.type = type;
    this.v6 = type === 'udp6';
    this.layer = stack.udp;
    this.loop = new LoopHold(stack);
    this.endpoint = this.layer.open(this);
    this.endpoint.v6Only = this.v6 && ipv6Only;
    this.endpoint.reuseAddr = reuseAddr;
    if (onMessage !== undefined) this.on('message', onMessage);
  }

  // ------------------------------------------------------------------ Node's API

  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), callback?: () => void): this {
    let p: unknown = port;
    let a: unknown = address;
    let cb: unknown = callback;
    if (typeof p === 'function') {
      cb = p;
      p = 0;
      a = undefined;
    } else if (p !== null && typeof p === 'object') {
      cb = a;
      a = (p as BindOptions).address;
      p = (p as BindOptions).port ?? 0;
    } else if (typeof a === 'function') {
      cb = a;
      a = undefined;
    }
    const ep = this.healthCheck();
    if (this.bindState !== 'unbound') throw nodeError('ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    const portNumber = p === undefined || p === null ? 0 : validatePort(p, true);
    if (a !== undefined && a !== null && typeof a !== 'string') {
      throw nodeError('ERR_INVALID_ARG_TYPE', `The "address" argument must be of type string. Received ${describe(a)}`, TypeError);
    }
    if (typeof cb === 'function') this.once('listening', cb as () => void);
    const addr = lookup(a as string | undefined, this.v6 ? IN6ADDR_ANY : 0, this.v6);
    if (addr === null) {
      process.nextTick(() => this.emit('error', systemError('ENOTFOUND', 'getaddrinfo', a as string)));
      return this;
    }
    const err = this.layer.bind(ep, addr, portNumber);
    if (err !== null) {
      process.nextTick(() => this.emit('error', systemError(err, 'bind', ipAddressToString(addr), portNumber)));
      return this;
    }
    this.bindState = 'bound';
    this.loop.activate();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  connect(port: number, address?: string | (() => void), callback?: () => void): void {
    const portNumber = validatePort(port, false);
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    }
    if (address !== undefined && typeof address !== 'string') {
      throw nodeError('ERR_INVALID_ARG_TYPE', `The "address" argument must be of type string. Received ${describe(address)}`, TypeError);
    }
    if (this.connectState !== 'disconnected') throw nodeError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    const ep = this.healthCheck();
    this.implicitBind(ep);
    if (callback !== undefined) this.once('connect', callback);
    const fail = (ex: SocketError) => process.nextTick(() => {
      if (callback !== undefined) {
        this.removeListener('connect', callback);
        (callback as (e: Error) => void)(ex);
      } else this.emit('error', ex);
    });
    const addr = lookup(address, this.v6 ? IN6ADDR_LOOPBACK : LOCALHOST, this.v6);
    if (addr === null) {
      fail(systemError('ENOTFOUND', 'getaddrinfo', address));
      return;
    }
    const err = this.layer.connect(ep, addr, portNumber);
    if (err !== null) {
      fail(systemError(err, 'connect', address ?? ipAddressToString(addr), portNumber));
      return;
    }
    this.connectState = 'connected';
    process.nextTick(() => this.emit('connect'));
  }

  disconnect(): void {
    const ep = this.healthCheck();
    if (this.connectState !== 'connected') throw nodeError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    this.layer.disconnect(ep);
    this.connectState = 'disconnected';
  }

  /**
   * send(msg, [offset, length,] port, [address,] [callback]) on an unconnected socket;
   * send(msg, [offset, length,] [callback]) on a connected one. `msg` is a Buffer, a
   * TypedArray, a DataView, a string or an array of those (sent as one datagram).
   */
  send(msg: Message, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Message, port?: number, callback?: SendCallback): void;
  send(msg: Message, callback?: SendCallback): void;
  send(msg: Message, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Message, offset: number, length: number, port?: number, callback?: SendCallback): void;
  send(msg: Message, offset: number, length: number, callback?: SendCallback): void;
  send(msg: Message, ...args: unknown[]): void {
    // Node's own argument shuffle (lib/dgram.js), so every form it accepts behaves the same.
    let [offset, length, port, address, callback] = args;
    const connected = this.connectState === 'connected';
    let sliced = false;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) sliced = true;
      else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        sliced = true;
        if (typeof port === 'function') {
          callback = port;
          port = null;
        }
      } else callback = offset;
      if (port || address) throw nodeError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    }
    let list: Uint8Array[];
    if (sliced) {
      const c = toChunk(msg);
      if (c === null || Array.isArray(msg)) throw badBuffer(msg);
      const o = Number(offset) >>> 0;
      const l = Number(length) >>> 0;
      if (o > c.length) throw nodeError('ERR_BUFFER_OUT_OF_BOUNDS', '"offset" is outside of buffer bounds', RangeError);
      if (o + l > c.length) throw nodeError('ERR_BUFFER_OUT_OF_BOUNDS', '"length" is outside of buffer bounds', RangeError);
      list = [c.subarray(o, o + l)];
    } else if (Array.isArray(msg)) {
      list = [];
      for (const m of msg as readonly unknown[]) {
        const c = toChunk(m);
        if (c === null) throw nodeError('ERR_INVALID_ARG_TYPE', `The "buffer list arguments" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received ${describe(msg)}`, TypeError);
        list.push(c);
      }
    } else {
      const c = toChunk(msg);
      if (c === null) throw badBuffer(msg);
      list = [c];
    }
    let dstPort = 0;
    if (!connected) dstPort = validatePort(port, false);
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    } else if (address !== undefined && address !== null && typeof address !== 'string') {
      throw nodeError('ERR_INVALID_ARG_TYPE', `The "address" argument must be of type string. Received ${describe(address)}`, TypeError);
    }
    const cb = typeof callback === 'function' ? (callback as SendCallback) : undefined;
    const ep = this.healthCheck();
    this.implicitBind(ep);
    let dst: IpAddress = 0;
    if (!connected) {
      const resolved = lookup(address as string | undefined, this.v6 ? IN6ADDR_LOOPBACK : LOCALHOST, this.v6);
      if (resolved === null) {
        // A lookup failure goes to the callback, or to 'error' without one (as Node).
        const ex = systemError('ENOTFOUND', 'getaddrinfo', address as string);
        if (cb !== undefined) process.nextTick(cb, ex);
        else process.nextTick(() => this.emit('error', ex));
        return;
      }
      dst = resolved;
    }
    let bytes = 0;
    for (const c of list) bytes += c.length;
    const err = this.layer.send(ep, list.length === 1 ? list[0]! : list, dst, dstPort);
    if (cb === undefined) return; // Node reports send errors to the callback only.
    if (err !== null) process.nextTick(cb, systemError(err, 'send', connected ? undefined : ((address as string | undefined) || ipAddressToString(dst)), connected ? undefined : dstPort));
    else process.nextTick(cb, null, bytes);
  }

  close(callback?: () => void): this {
    if (typeof callback === 'function') this.on('close', callback);
    const ep = this.healthCheck();
    this.layer.close(ep);
    this.endpoint = null;
    this.loop.close();
    process.nextTick(() => this.emit('close'));
    return this;
  }

  address(): AddressInfo {
    const ep = this.healthCheck();
    if (!ep.bound) throw systemError('EBADF', 'getsockname');
    return { ...showAddress(ep.localAddress, this.v6), port: ep.localPort };
  }

  remoteAddress(): AddressInfo {
    const ep = this.healthCheck();
    if (this.connectState !== 'connected') throw nodeError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    return { ...showAddress(ep.remoteAddress, this.v6), port: ep.remotePort };
  }

  setBroadcast(flag: boolean): void {
    const ep = this.healthCheck();
    if (!ep.bound) throw systemError('EBADF', 'setBroadcast');
    ep.broadcast = !!flag;
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw nodeError('ERR_INVALID_ARG_TYPE', `The "ttl" argument must be of type number. Received ${describe(ttl)}`, TypeError);
    const ep = this.healthCheck();
    if (!ep.bound) throw systemError('EBADF', 'setTTL');
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw systemError('EINVAL', 'setTTL');
    ep.ttl = ttl;
    return ttl;
  }

  // ------------------------------------------------------------------ path MTU (pstack extensions)

  /**
   * Path MTU discovery, as Linux's IP_MTU_DISCOVER = IP_PMTUDISC_DO (IPV6_DONTFRAG for IPv6),
   * which Node does not expose: datagrams leave with DF, a datagram larger than the known path
   * MTU fails with EMSGSIZE instead of leaving in fragments, and a connected socket gets an
   * 'error' EMSGSIZE when a router reports the path too small. Off (fragment) by default.
   */
  setPathMtuDiscovery(flag: boolean): void {
    this.healthCheck().pmtuDiscovery = !!flag;
  }

  /**
   * The path MTU (like Linux's IP_MTU getsockopt) to the connected peer, or to `address` on an
   * unconnected socket: the link MTU, or less after a router reported the path smaller.
   */
  getPathMtu(address?: string): number {
    const ep = this.healthCheck();
    let dst: IpAddress | undefined;
    if (address !== undefined) {
      const a = lookup(address, 0, this.v6);
      if (a === null) throw systemError('EINVAL', 'getsockopt');
      dst = a;
    }
    const r = this.layer.pathMtu(ep, dst);
    if (typeof r === 'string') throw systemError(r, 'getsockopt');
    return r;
  }

  // ------------------------------------------------------------------ multicast

  addMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.membership('addMembership', multicastAddress, interfaceAddress, undefined, true);
  }

  dropMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.membership('dropMembership', multicastAddress, interfaceAddress, undefined, false);
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.sourceMembership('addSourceSpecificMembership', sourceAddress, groupAddress, interfaceAddress, true);
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.sourceMembership('dropSourceSpecificMembership', sourceAddress, groupAddress, interfaceAddress, false);
  }

  /** TTL of datagrams to a group (0 to 255; default 1, the local link only). */
  setMulticastTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw nodeError('ERR_INVALID_ARG_TYPE', `The "ttl" argument must be of type number. Received ${describe(ttl)}`, TypeError);
    const ep = this.healthCheck();
    if (!ep.bound) throw systemError('EBADF', 'setMulticastTTL');
    const n = Math.trunc(ttl);
    if (!(n >= 0 && n <= 255)) throw systemError('EINVAL', 'setMulticastTTL');
    ep.multicastTtl = n;
    return ttl;
  }

  /** Whether this host's own members of a group get what this socket sends there (default true). */
  setMulticastLoopback(flag: unknown): unknown {
    const ep = this.healthCheck();
    if (!ep.bound) throw systemError('EBADF', 'setMulticastLoopback');
    ep.multicastLoop = !!flag;
    return flag;
  }

  /** The interface (by its address; '0.0.0.0' for the default) datagrams to a group leave by. */
  setMulticastInterface(interfaceAddress: string): void {
    const ep = this.healthCheck();
    if (typeof interfaceAddress !== 'string') {
      throw nodeError('ERR_INVALID_ARG_TYPE', `The "interfaceAddress" argument must be of type string. Received ${describe(interfaceAddress)}`, TypeError);
    }
    if (!ep.bound) throw systemError('EBADF', 'setMulticastInterface');
    if (this.v6) {
      // IPV6_MULTICAST_IF takes an interface index: libuv's is the scope ('::%tap0'); none is 0 (the route's).
      const parsed = parseIpAddress(interfaceAddress);
      if (parsed === null) throw systemError('EINVAL', 'setMulticastInterface');
      ep.multicastInterface = typeof parsed.address === 'number' || parsed.zone === '' ? 0 : this.layer.interfaceIndex6(parsed.zone);
      return;
    }
    const a = addressFromText(interfaceAddress);
    if (a === null) throw systemError('EINVAL', 'setMulticastInterface');
    if (typeof a !== 'number') throw systemError('ENOPROTOOPT', 'setMulticastInterface');
    if (a !== 0 && !this.layer.isLocal(a)) throw systemError('EADDRNOTAVAIL', 'setMulticastInterface');
    ep.multicastInterface = a;
  }

  /** IP type of service byte for datagrams from this socket (IP_TOS; not in Node's API). */
  setTOS(tos: number): void {
    this.healthCheck().tos = tos & 0xff;
  }

  /** Keep the process alive while this socket is bound (the default). */
  ref(): this {
    this.loop.ref();
    return this;
  }

  /** Let the process exit even though this socket is bound. */
  unref(): this {
    this.loop.unref();
    return this;
  }

  getSendQueueSize(): number {
    return 0;
  }

  getSendQueueCount(): number {
    return 0;
  }

  // ------------------------------------------------------------------ from the UDP layer

  /** @internal UdpEndpointHandler: a datagram arrived. */
  message(payload: Uint8Array, from: IpAddress, fromPort: number): void {
    // The payload is a view into the receive buffer: the listener gets its own copy.
    const msg = Buffer.allocUnsafe(payload.length);
    msg.set(payload);
    this.safeEmit('message', msg, { ...showAddress(from, this.v6), port: fromPort, size: msg.length } satisfies RemoteInfo);
  }

  /** @internal UdpEndpointHandler: a hard ICMP error from the connected peer. */
  error(errno: string): void {
    // What libuv's recvmsg reports on Linux, and Node turns into an 'error' event.
    this.safeEmit('error', systemError(errno, 'recvmsg'));
  }

  // ------------------------------------------------------------------ helpers

  private membership(syscall: string, group: unknown, iface: unknown, source: IpAddress | undefined, join: boolean): void {
    const ep = this.healthCheck();
    if (!group) throw nodeError('ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified', TypeError);
    this.joinOrLeave(ep, syscall, group, iface, source, join);
  }

  private sourceMembership(syscall: string, source: unknown, group: unknown, iface: unknown, join: boolean): void {
    const ep = this.healthCheck();
    if (typeof source !== 'string') throw nodeError('ERR_INVALID_ARG_TYPE', `The "sourceAddress" argument must be of type string. Received ${describe(source)}`, TypeError);
    if (typeof group !== 'string') throw nodeError('ERR_INVALID_ARG_TYPE', `The "groupAddress" argument must be of type string. Received ${describe(group)}`, TypeError);
    const src = addressFromText(source);
    if (src === null) throw systemError('EINVAL', syscall);
    this.joinOrLeave(ep, syscall, group, iface, src, join);
  }

  /** The setsockopt behind the four membership calls, with libuv's parsing and Linux's errors. */
  private joinOrLeave(ep: UdpEndpoint, syscall: string, group: unknown, iface: unknown, source: IpAddress | undefined, join: boolean): void {
    const g = typeof group === 'string' ? addressFromText(group) : null;
    if (g === null) throw systemError('EINVAL', syscall);
    // An unbound socket is bound (0.0.0.0 or ::, an ephemeral port) by libuv first.
    if (!ep.bound) this.layer.bind(ep, this.v6 ? IN6ADDR_ANY : 0, 0);
    let ifaceAddr: IpAddress = 0;
    if (iface !== undefined && iface !== null) {
      const a = typeof iface === 'string' ? addressFromText(iface) : null;
      if (a === null) throw systemError('EINVAL', syscall);
      ifaceAddr = a;
    }
    if (typeof g !== 'number') {
      // IPv6 (IPV6_ADD_MEMBERSHIP, MCAST_JOIN_SOURCE_GROUP): libuv takes the interface's scope as its index.
      if (!this.v6) throw systemError('ENOPROTOOPT', syscall);
      if (source !== undefined && typeof source === 'number') throw systemError('EINVAL', syscall);
      ifaceAddr = 0;
      if (iface !== undefined && iface !== null) {
        const parsed = typeof iface === 'string' ? parseIpAddress(iface) : null;
        if (parsed === null || typeof parsed.address === 'number') throw systemError('EINVAL', syscall);
        ifaceAddr = parsed.zone === '' ? 0 : this.layer.interfaceIndex6(parsed.zone);
      }
    } else if ((source !== undefined && typeof source !== 'number') || typeof ifaceAddr !== 'number') {
      throw systemError('ENOPROTOOPT', syscall);
    }
    const err = join ? this.layer.joinGroup(ep, g, ifaceAddr, source) : this.layer.leaveGroup(ep, g, ifaceAddr, source);
    if (err !== null) throw systemError(err, syscall);
  }

  private healthCheck(): UdpEndpoint {
    if (this.endpoint === null) throw notRunning();
    return this.endpoint;
  }

  private implicitBind(ep: UdpEndpoint): void {
    if (this.bindState !== 'unbound') return;
    // Node binds an unbound socket on first send/connect ({port: 0, exclusive: true}) and
    // emits 'listening' for it.
    if (!ep.bound && this.layer.bind(ep, this.v6 ? IN6ADDR_ANY : 0, 0) !== null) return; // the send/connect reports it
    this.bindState = 'bound';
    this.loop.activate();
    process.nextTick(() => this.emit('listening'));
  }

  /**
   * Listeners run inside the stack's receive path (a datagram is emitted as it arrives). An
   * exception from one must not unwind through the stack (it would be counted as a stack bug
   * and the rest of the batch lost): it is rethrown on the next tick, where it is an uncaught
   * exception exactly as it would be from a Node dgram listener.
   */
  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      process.nextTick(rethrow, err);
    }
  }
}

function rethrow(err: unknown): never {
  throw err;
}

/**
 * Node's dgram.createSocket on a pstack stack: createSocket(stack, 'udp4', onMessage?) or
 * createSocket(stack, { type: 'udp4' }, onMessage?).
 */
export function createSocket(stack: UdpStack, type: SocketType, onMessage?: MessageListener): UdpSocket {
  const t = typeof type === 'string' ? type : type?.type;
  if (t !== 'udp4' && t !== 'udp6') throw nodeError('ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6', TypeError);
  const socket = new UdpSocket(stack, onMessage, t, typeof type === 'object' && type.ipv6Only === true, typeof type === 'object' && type.reuseAddr === true);
  if (typeof type === 'object' && type.pathMtuDiscovery === true) socket.setPathMtuDiscovery(true);
  return socket;
}
