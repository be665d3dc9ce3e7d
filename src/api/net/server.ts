/**
 * net.Server over pstack's TCP, as Node's (lib/net.js): listen() in all its forms with Node's
 * argument checks, 'listening' on the next tick (not after a close() in the same tick),
 * 'connection', 'error' (listen EADDRINUSE ...), 'drop' past maxConnections, close() that
 * stops accepting at once and emits 'close' when the last connection is gone (its callback
 * gets ERR_SERVER_NOT_RUNNING when the server was not listening), ref()/unref(), and the
 * `signal` listen option. A listening server keeps the process alive, as Node's does.
 */

import { EventEmitter } from 'node:events';
import { addressFromText, showAddress } from './addresses.js';
import { IN6ADDR_ANY, type IpAddress } from '../../stack/ip-address.js';
import { TcpError, type Listener, type ListenerUser, type Tcp } from '../../transport/tcp/tcp.js';
import type { Tcb } from '../../transport/tcp/tcb.js';
import { isPipeName, normalizeArgs, toNumber, type LooseOptions } from './args.js';
import {
  ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_SERVER_ALREADY_LISTEN, ERR_SERVER_NOT_RUNNING, dnsException,
  uvExceptionWithHostPort, validateAbortSignal, validateNumber, validatePort,
} from './errors.js';
import { LoopHold } from './event-loop.js';
import { SlotList } from './slot-list.js';
import { SocketImpl, type SocketServer, type TcpStack } from './socket.js';

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** highWaterMark of the accepted sockets' buffers (default: the stream default). */
  highWaterMark?: number;
}

export interface ListenOptions {
  port?: number | string | null;
  /** An IPv4 literal, 'localhost', or '0.0.0.0'/'::' (every address). */
  host?: string;
  backlog?: number;
  exclusive?: boolean;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

function emitErrorNT(server: ServerImpl, err: Error): void {
  server.emit('error', err);
}

function emitListeningNT(server: ServerImpl): void {
  // Not if closed in the meantime (listen(); close() in one tick emits no 'listening').
  if (server.listening) server.emit('listening');
}

function emitCloseNT(server: ServerImpl): void {
  server.emit('close');
}

export class ServerImpl extends EventEmitter implements ListenerUser, SocketServer {
  maxConnections: number | undefined = undefined;
  /** Open connections (accepted, not yet destroyed). */
  _connections = 0;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  highWaterMark: number | undefined;
  private readonly stack: TcpStack;
  private readonly tcp: Tcp;
  private readonly loop: LoopHold;
  private listener: Listener | null = null;
  private listeningId = 1;
  private readonly sockets = new SlotList<SocketImpl>();

  constructor(stack: TcpStack, options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void) {
    super();
    const tcp = (stack as TcpStack | undefined)?.tcp;
    if (tcp === undefined || tcp === null) throw ERR_INVALID_ARG_TYPE('stack', 'Stack', stack);
    let opts: LooseOptions;
    if (typeof options === 'function') {
      this.on('connection', options);
      opts = {};
    } else if (options == null || typeof options === 'object') {
      opts = { ...options };
      if (typeof connectionListener === 'function') this.on('connection', connectionListener);
    } else {
      throw ERR_INVALID_ARG_TYPE('options', 'Object', options);
    }
    let keepAliveInitialDelay = 0;
    if (opts.keepAliveInitialDelay !== undefined) {
      validateNumber(opts.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
      keepAliveInitialDelay = opts.keepAliveInitialDelay < 0 ? 0 : opts.keepAliveInitialDelay;
    }
    let highWaterMark: number | undefined;
    if (opts.highWaterMark !== undefined) {
      validateNumber(opts.highWaterMark, 'options.highWaterMark');
      highWaterMark = opts.highWaterMark < 0 ? undefined : opts.highWaterMark;
    }
    this.stack = stack;
    this.tcp = tcp;
    this.loop = new LoopHold(tcp.stack);
    this.allowHalfOpen = Boolean(opts.allowHalfOpen);
    this.pauseOnConnect = Boolean(opts.pauseOnConnect);
    this.noDelay = Boolean(opts.noDelay);
    this.keepAlive = Boolean(opts.keepAlive);
    this.keepAliveInitialDelay = keepAliveInitialDelay;
    this.highWaterMark = highWaterMark;
  }

  listen(options: ListenOptions, callback?: () => void): this;
  listen(port?: number | string | null, host?: string, backlog?: number, callback?: () => void): this;
  listen(port?: number | string | null, host?: string, callback?: () => void): this;
  listen(port?: number | string | null, backlog?: number, callback?: () => void): this;
  listen(port?: number | string | null, callback?: () => void): this;
  listen(callback?: () => void): this;
  listen(...args: unknown[]): this {
    const [given, cb] = normalizeArgs(args);
    if (this.listener !== null) throw ERR_SERVER_ALREADY_LISTEN();
    if (cb !== null) this.once('listening', cb as () => void);
    const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
    const options: LooseOptions = { ...given };
    this.listeningId++;
    if (options._handle || options.handle || typeof options.fd === 'number') {
      throw ERR_INVALID_ARG_VALUE('options', given, 'is not supported: pstack listens on ports, not handles or file descriptors');
    }
    this.abortSignal(options.signal);
    if (args.length === 0 || typeof args[0] === 'function' || (options.port === undefined && 'port' in options) || options.port === null) {
      options.port = 0;
    }
    if (typeof options.port === 'number' || typeof options.port === 'string') {
      const port = validatePort(options.port, 'options.port');
      const backlog = (options.backlog as number | undefined) || backlogFromArgs || 0;
      const host = options.host as string | undefined;
      if (host) this.lookupAndListen(port, host, backlog, options.ipv6Only === true);
      // As Node: no host means :: (IPv4 too, shown as ::ffff:a.b.c.d) when IPv6 is there.
      else if (this.stack.ipv6 != null) this.listenOn(IN6ADDR_ANY, '::', port, backlog);
      else this.listenOn(0, '0.0.0.0', port, backlog);
      return this;
    }
    if (options.path && isPipeName(options.path)) {
      throw ERR_INVALID_ARG_VALUE('options.path', options.path, 'is not supported: pstack has no IPC sockets');
    }
    if (!('port' in options) && !('path' in options)) {
      throw ERR_INVALID_ARG_VALUE('options', given, 'must have the property "port" or "path"');
    }
    throw ERR_INVALID_ARG_VALUE('options', given);
  }

  private abortSignal(signal: unknown): void {
    if (signal === undefined) return;
    validateAbortSignal(signal, 'options.signal');
    const s = signal as AbortSignal;
    const onAborted = () => this.close();
    if (s.aborted) process.nextTick(onAborted);
    else {
      s.addEventListener('abort', onAborted, { once: true });
      this.once('close', () => s.removeEventListener('abort', onAborted));
    }
  }

  private lookupAndListen(port: number, host: string, backlog: number, v6Only: boolean): void {
    const ip = addressFromText(host);
    if (ip === null) {
      const id = this.listeningId;
      process.nextTick(() => {
        if (id === this.listeningId) this.emit('error', dnsException('ENOTFOUND', 'getaddrinfo', host));
      });
      return;
    }
    this.listenOn(ip, host, port, backlog, v6Only);
  }

  private listenOn(addr: IpAddress, addrText: string, port: number, backlog: number, v6Only = false): void {
    let listener: Listener;
    try {
      listener = this.tcp.listen(addr, port, backlog || 511, v6Only);
    } catch (err) {
      const code = err instanceof TcpError ? err.code : 'EINVAL';
      process.nextTick(emitErrorNT, this, uvExceptionWithHostPort(code, 'listen', addrText, port));
      return;
    }
    this.listener = listener;
    listener.user = this;
    this.loop.activate();
    process.nextTick(emitListeningNT, this);
  }

  /**
   * @internal ListenerUser: an established connection to accept. Runs at the end of the
   * stack's batch: the socket is made and attached now, 'connection' is emitted from the
   * delivery queue.
   */
  onConnection(tcb: Tcb): void {
    if (this.maxConnections && this._connections >= this.maxConnections) {
      const v6 = this.listener !== null && typeof this.listener.localAddr !== 'number';
      const local = showAddress(tcb.localAddr, v6);
      const remote = showAddress(tcb.remoteAddr, v6);
      const data = {
        localAddress: local.address, localPort: tcb.localPort, localFamily: local.family,
        remoteAddress: remote.address, remotePort: tcb.remotePort, remoteFamily: remote.family,
      };
      this.tcp.close(tcb);
      process.nextTick(() => this.emit('drop', data));
      return;
    }
    const hwm = this.highWaterMark;
    const socket = new SocketImpl(this.stack, {
      allowHalfOpen: this.allowHalfOpen,
      readableHighWaterMark: hwm,
      writableHighWaterMark: hwm,
      noDelay: this.noDelay,
      keepAlive: this.keepAlive,
      keepAliveInitialDelay: this.keepAliveInitialDelay,
    });
    this._connections++;
    this.sockets.add(socket);
    socket.attachAccepted(tcb, this, this.pauseOnConnect, this.listener !== null && typeof this.listener.localAddr !== 'number');
  }

  /** @internal An accepted socket was destroyed. */
  socketDestroyed(socket: SocketImpl): void {
    if (!this.sockets.delete(socket)) return;
    this._connections--;
    this.emitCloseIfDrained();
  }

  /**
   * Stop accepting; 'close' once every connection has ended (as net.Server.close). The
   * callback gets ERR_SERVER_NOT_RUNNING if the server was not listening.
   */
  close(callback?: (err?: Error) => void): this {
    this.listeningId++;
    if (typeof callback === 'function') {
      if (this.listener === null) this.once('close', () => callback(ERR_SERVER_NOT_RUNNING()));
      else this.once('close', callback);
    }
    if (this.listener !== null) {
      this.tcp.unlisten(this.listener);
      this.listener = null;
      this.loop.close();
    }
    this.emitCloseIfDrained();
    return this;
  }

  private emitCloseIfDrained(): void {
    if (this.listener !== null || this._connections > 0) return;
    process.nextTick(emitCloseNT, this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.listener === null) return;
    await new Promise<void>((resolve, reject) => this.close((err) => (err ? reject(err) : resolve())));
  }

  address(): AddressInfo | null {
    const l = this.listener;
    if (l === null) return null;
    return { ...showAddress(l.localAddr, typeof l.localAddr !== 'number'), port: l.localPort };
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    process.nextTick(callback, null, this._connections);
    return this;
  }

  /** Destroy every open connection (pstack's; used by services and tests at shutdown). */
  destroyAll(): void {
    for (const s of this.sockets.toArray()) s.destroy();
  }

  /** Keep the process alive while listening (the default). */
  ref(): this {
    this.loop.ref();
    return this;
  }

  /** Let the process exit even while this server listens. */
  unref(): this {
    this.loop.unref();
    return this;
  }
}

/**
 * Node's net.Server (`new Server(stack, options, listener)`), also callable without `new`
 * as Node's is; subclassable with `class MyServer extends Server`.
 */
export interface ServerConstructor {
  new (stack: TcpStack, options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void): ServerImpl;
  (stack: TcpStack, options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void): ServerImpl;
  readonly prototype: ServerImpl;
}

export const Server = new Proxy(ServerImpl, {
  apply(target, _thisArg, args: ConstructorParameters<typeof ServerImpl>) {
    return new target(...args);
  },
}) as unknown as ServerConstructor;

export type Server = ServerImpl;
