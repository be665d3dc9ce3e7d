/**
 * A Node `net`-compatible API over pstack's TCP.
 *
 *   import { createServer, connect } from 'pstack/net';
 *   const server = createServer(stack, (socket) => socket.pipe(socket)).listen(7);
 *   const socket = connect(stack, { host: '192.0.2.1', port: 80 }, () => socket.write('hi'));
 *
 * `Socket` is a stream.Duplex with Node's net.Socket surface: 'connect'/'ready', 'data',
 * 'end', 'close', 'error' (err.code ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ...),
 * 'timeout', 'drain'; write() backpressure (false once the TCP send buffer is full and the
 * stream's own buffer passes its highWaterMark; 'drain' follows as ACKs free room);
 * pause()/resume() that close and reopen the TCP receive window; end() as a half-close
 * (FIN), with allowHalfOpen; destroy() (graceful close, RST if unread data remains, like
 * close(2)), resetAndDestroy() (RST); setNoDelay, setKeepAlive, setTimeout; address(),
 * remoteAddress/remotePort/remoteFamily, localAddress/localPort, bytesRead/bytesWritten,
 * readyState, pending, connecting. `Server` is an EventEmitter like net.Server: listen(),
 * close(), address(), getConnections(), maxConnections, 'listening', 'connection', 'close',
 * 'error', 'drop'.
 *
 * Node's http works over it: `httpServer.emit('connection', socket)` for each accepted
 * socket (see `serveHttp`), and `http.request({ createConnection: () => connect(stack, ...) })`.
 *
 * Addresses are IPv4 literals (no name resolution; 'localhost' means 127.0.0.1).
 */

import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { Timer } from '../time/clock.js';
import { ipv4ToString, parseIpv4 } from '../wire/addr.js';
import { TcpError, type Listener, type ListenerUser, type Tcp } from '../transport/tcp/tcp.js';
import { TcpState, type Tcb, type TcbUser, type TcpConfig } from '../transport/tcp/tcb.js';

/** What the socket API needs of a stack: its TCP. */
export interface TcpStack {
  readonly tcp: Tcp;
}

/** errno values as Linux (and so Node's err.errno) has them. */
const ERRNO: Record<string, number> = {
  ECONNREFUSED: -111, ECONNRESET: -104, ETIMEDOUT: -110, EHOSTUNREACH: -113, ENETUNREACH: -101,
  EADDRINUSE: -98, EADDRNOTAVAIL: -99, EINVAL: -22, EPIPE: -32, EAGAIN: -11, ENOTFOUND: -3008,
};

export interface NetError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

function netError(code: string, syscall: string, address?: string, port?: number): NetError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? ':' + port : ''}` : '';
  const err = new Error(`${syscall} ${code}${where}`) as NetError;
  err.code = code;
  err.errno = ERRNO[code] ?? -1;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

function parseHost(host: string | undefined, fallback: string): number | null {
  const h = host === undefined || host === '' ? fallback : host === 'localhost' ? '127.0.0.1' : host;
  return parseIpv4(h);
}

export interface SocketOptions {
  allowHalfOpen?: boolean;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface ConnectOptions extends SocketOptions {
  port: number;
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** Idle timeout in ms, as socket.setTimeout. */
  timeout?: number;
}

/** Largest chunk pushed to the readable side at once. */
const READ_CHUNK = 64 * 1024;

export class Socket extends Duplex implements TcbUser {
  /** The TCP connection block (null before connect()). */
  tcb: Tcb | null = null;
  connecting = false;
  /** Set by a Server for accepted sockets. */
  server: Server | null = null;
  private readonly tcp: Tcp;
  private reading = false;
  private pulling = false;
  private eofPushed = false;
  private closedByTcp = false;
  // The write in progress (from _write/_writev): chunks, position, callback.
  private wChunks: Buffer[] = [];
  private wIndex = 0;
  private wOffset = 0;
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
  private lastActivity = 0;
  private resetting = false;
  // Remembered so the getters still answer after the connection is gone (as Node's do).
  private remote: { address: string; port: number } | null = null;
  private local: { address: string; port: number } | null = null;

  constructor(stack: TcpStack, options: SocketOptions = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
      decodeStrings: true,
      emitClose: true,
      autoDestroy: true,
    });
    this.tcp = stack.tcp;
    this.noDelayWanted = options.noDelay ?? false;
    this.keepAliveWanted = options.keepAlive ?? false;
    this.keepAliveDelay = options.keepAliveInitialDelay ?? 0;
  }

  // ------------------------------------------------------------------ connecting

  connect(options: ConnectOptions, connectListener?: () => void): this;
  connect(port: number, host?: string, connectListener?: () => void): this;
  connect(port: number, connectListener?: () => void): this;
  connect(a: ConnectOptions | number, b?: string | (() => void), c?: () => void): this {
    let opts: ConnectOptions;
    let cb: (() => void) | undefined;
    if (typeof a === 'object') {
      opts = a;
      cb = typeof b === 'function' ? b : undefined;
    } else {
      opts = { port: a, host: typeof b === 'string' ? b : undefined };
      cb = typeof b === 'function' ? b : c;
    }
    if (cb !== undefined) this.once('connect', cb);
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    if (opts.noDelay !== undefined) this.noDelayWanted = opts.noDelay;
    if (opts.keepAlive !== undefined) this.keepAliveWanted = opts.keepAlive;
    if (opts.keepAliveInitialDelay !== undefined) this.keepAliveDelay = opts.keepAliveInitialDelay;
    const hostText = opts.host ?? 'localhost';
    const port = Number(opts.port);
    const addr = parseHost(opts.host, '127.0.0.1');
    this.connecting = true;
    if (addr === null) {
      process.nextTick(() => this.destroy(netError('ENOTFOUND', 'getaddrinfo', hostText)));
      return this;
    }
    let localAddr: number | undefined;
    if (opts.localAddress !== undefined) {
      const la = parseIpv4(opts.localAddress);
      if (la === null) {
        process.nextTick(() => this.destroy(netError('EINVAL', 'connect', opts.localAddress)));
        return this;
      }
      localAddr = la;
    }
    try {
      this.tcb = this.tcp.connect(addr, port, { localAddr, localPort: opts.localPort });
    } catch (err) {
      const code = err instanceof TcpError ? err.code : 'EINVAL';
      process.nextTick(() => this.destroy(netError(code, 'connect', hostText, port)));
      return this;
    }
    this.remember();
    this.tcp.attach(this.tcb, this);
    this.touch();
    this.pump();
    return this;
  }

  /** @internal An accepted connection (from a Server). */
  attachAccepted(tcb: Tcb): void {
    this.tcb = tcb;
    this.remember();
    this.applyOptions();
    this.tcp.attach(tcb, this);
    this.touch();
  }

  private remember(): void {
    const t = this.tcb!;
    this.remote = { address: ipv4ToString(t.remoteAddr), port: t.remotePort };
    this.local = { address: ipv4ToString(t.localAddr), port: t.localPort };
  }

  private applyOptions(): void {
    const t = this.tcb;
    if (t === null) return;
    if (this.noDelayWanted) this.tcp.setNoDelay(t, true);
    if (this.keepAliveWanted) this.tcp.setKeepAlive(t, true, this.keepAliveDelay);
  }

  // ------------------------------------------------------------------ TcbUser

  /** @internal */
  onConnect(): void {
    this.connecting = false;
    this.applyOptions();
    this.touch();
    this.emit('connect');
    this.emit('ready');
    this.pump();
    if (this.reading) this.pull();
  }

  /** @internal */
  onReadable(): void {
    if (this.reading) this.pull();
  }

  /** @internal */
  onWritable(): void {
    this.pump();
  }

  /** @internal */
  onClose(code: string | null): void {
    this.closedByTcp = true;
    if (code !== null) {
      const syscall = this.connecting ? 'connect' : 'read';
      this.destroy(netError(code, syscall, this.remote?.address, this.remote?.port));
      return;
    }
    this.connecting = false;
    // Orderly: the peer's FIN has been received (pushed as EOF when read), ours acknowledged.
    if (this.reading) this.pull();
    this.pump(); // a write still waiting fails with EPIPE
  }

  // ------------------------------------------------------------------ stream internals

  override _read(): void {
    this.reading = true;
    this.pull();
  }

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
            this.push(null);
          }
          break;
        }
        // Bulk data (a 64 KB segment, say) leaves the receive buffer without a copy: its
        // storage becomes the chunk. Otherwise one copy into a chunk of at most READ_CHUNK.
        let chunk: Buffer;
        const whole = this.tcp.readAll(t);
        if (whole !== null) {
          chunk = Buffer.from(whole.buffer, whole.byteOffset, whole.length);
        } else {
          chunk = Buffer.allocUnsafe(n < READ_CHUNK ? n : READ_CHUNK);
          this.tcp.read(t, chunk, 0, chunk.length);
        }
        const len = chunk.length;
        this.readBytes += len;
        this.touch();
        if (!this.push(chunk)) this.reading = false;
      }
    } finally {
      this.pulling = false;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.wChunks = [chunk];
    this.startWrite(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    const list: Buffer[] = new Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) list[i] = chunks[i]!.chunk;
    this.wChunks = list;
    this.startWrite(callback);
  }

  private startWrite(callback: (err?: Error | null) => void): void {
    this.wIndex = 0;
    this.wOffset = 0;
    this.wCallback = callback;
    this.pump();
  }

  /** Move the pending write into the TCP send buffer as room allows. */
  private pump(): void {
    const t = this.tcb;
    if (t === null) return;
    if (this.wCallback !== null) {
      const chunks = this.wChunks;
      while (this.wIndex < chunks.length) {
        const c = chunks[this.wIndex]!;
        const n = this.tcp.send(t, c, this.wOffset, c.length - this.wOffset);
        if (n < 0) {
          const cb = this.wCallback;
          this.wCallback = null;
          this.wChunks = [];
          cb(netError(t.error ?? 'EPIPE', 'write', this.remote?.address, this.remote?.port));
          return;
        }
        this.wOffset += n;
        this.sentBytes += n;
        if (n > 0) this.touch();
        if (this.wOffset < c.length) return; // the send buffer is full: wait for onWritable
        this.wIndex++;
        this.wOffset = 0;
      }
      const cb = this.wCallback;
      this.wCallback = null;
      this.wChunks = [];
      cb();
    }
    if (this.finalCallback !== null && this.wCallback === null) {
      const cb = this.finalCallback;
      this.finalCallback = null;
      this.tcp.shutdown(t);
      cb();
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.tcb === null) {
      // end() before connect(): Node waits for the connection.
      this.once('connect', () => this._final(callback));
      return;
    }
    this.finalCallback = callback;
    this.pump();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.clearIdleTimer();
    this.connecting = false;
    const t = this.tcb;
    if (t !== null && !this.closedByTcp && t.user === this) {
      if (this.resetting) this.tcp.abort(t);
      else this.tcp.close(t);
    }
    const cb = this.wCallback;
    this.wCallback = null;
    if (cb !== null) cb(err ?? undefined);
    callback(err);
  }

  // ------------------------------------------------------------------ net.Socket surface

  /** Close with a RST (Node's socket.resetAndDestroy). */
  resetAndDestroy(): this {
    this.resetting = true;
    this.destroy();
    return this;
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  setNoDelay(noDelay = true): this {
    this.noDelayWanted = noDelay;
    if (this.tcb !== null && this.tcb.state !== TcpState.CLOSED) this.tcp.setNoDelay(this.tcb, noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAliveWanted = enable;
    this.keepAliveDelay = initialDelay;
    if (this.tcb !== null && this.tcb.state !== TcpState.CLOSED) this.tcp.setKeepAlive(this.tcb, enable, initialDelay);
    return this;
  }

  /** Emit 'timeout' after `ms` of inactivity (0 disables), as net.Socket.setTimeout. */
  setTimeout(ms: number, callback?: () => void): this {
    this.timeoutMs = ms > 0 ? ms : 0;
    if (callback !== undefined) {
      if (this.timeoutMs === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (this.timeoutMs === 0) {
      this.clearIdleTimer();
      return this;
    }
    if (this.timeoutTimer === null) this.timeoutTimer = this.tcp.stack.timers.create(() => this.onIdleTimer());
    this.touch();
    this.timeoutTimer.arm(this.timeoutMs);
    return this;
  }

  get timeout(): number | undefined {
    return this.timeoutMs > 0 ? this.timeoutMs : undefined;
  }

  private touch(): void {
    if (this.timeoutMs > 0) this.lastActivity = this.tcp.stack.clock.now();
  }

  private onIdleTimer(): void {
    if (this.timeoutMs === 0 || this.destroyed) return;
    const due = this.lastActivity + this.timeoutMs;
    const now = this.tcp.stack.clock.now();
    if (now < due) {
      this.timeoutTimer!.armAt(due); // activity since arming: wait the rest
      return;
    }
    this.emit('timeout');
    if (this.timeoutMs > 0 && !this.destroyed) this.timeoutTimer!.arm(this.timeoutMs);
  }

  private clearIdleTimer(): void {
    this.timeoutTimer?.disarm();
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    return this.local !== null ? { address: this.local.address, family: 'IPv4', port: this.local.port } : {};
  }

  get remoteAddress(): string | undefined {
    return this.remote?.address;
  }

  get remotePort(): number | undefined {
    return this.remote?.port;
  }

  get remoteFamily(): string | undefined {
    return this.remote !== null ? 'IPv4' : undefined;
  }

  get localAddress(): string | undefined {
    return this.local?.address;
  }

  get localPort(): number | undefined {
    return this.local?.port;
  }

  get localFamily(): string | undefined {
    return this.local !== null ? 'IPv4' : undefined;
  }

  get bytesRead(): number {
    return this.readBytes;
  }

  /** Bytes handed to TCP plus those still queued in the stream, as Node counts. */
  get bytesWritten(): number {
    return this.sentBytes + this.writableLength;
  }

  get pending(): boolean {
    return this.tcb === null || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Deprecated in Node; the bytes waiting to be written. */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** The TCP state name (ESTABLISHED, ...), for diagnostics. */
  get tcpState(): string {
    return this.tcb !== null ? this.tcb.stateName : 'CLOSED';
  }

  /** pstack sockets hold no event-loop handle of their own: these are no-ops. */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
}

export class Server extends EventEmitter implements ListenerUser {
  maxConnections: number | undefined = undefined;
  private readonly tcp: Tcp;
  private listener: Listener | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly options: ServerOptions;
  private closing = false;

  constructor(private readonly stack: TcpStack, options: ServerOptions = {}, connectionListener?: (socket: Socket) => void) {
    super();
    this.tcp = stack.tcp;
    this.options = options;
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  listen(options: ListenOptions, callback?: () => void): this;
  listen(port?: number, host?: string, backlog?: number, callback?: () => void): this;
  listen(port?: number, host?: string, callback?: () => void): this;
  listen(port?: number, callback?: () => void): this;
  listen(...args: unknown[]): this {
    let opts: ListenOptions = {};
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    if (typeof args[0] === 'object' && args[0] !== null) opts = args[0] as ListenOptions;
    else {
      opts.port = args[0] as number | undefined;
      if (typeof args[1] === 'string') opts.host = args[1];
      else if (typeof args[1] === 'number') opts.backlog = args[1];
      if (typeof args[2] === 'number') opts.backlog = args[2];
    }
    if (cb !== undefined) this.once('listening', cb);
    const host = opts.host;
    const addr = host === undefined || host === '' || host === '0.0.0.0' || host === '::' ? 0 : parseHost(host, '0.0.0.0');
    const port = Number(opts.port ?? 0);
    if (addr === null) {
      process.nextTick(() => this.emit('error', netError('ENOTFOUND', 'getaddrinfo', host)));
      return this;
    }
    if (this.listener !== null) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    try {
      this.listener = this.tcp.listen(addr, port, opts.backlog ?? 511);
    } catch (err) {
      const code = err instanceof TcpError ? err.code : 'EINVAL';
      process.nextTick(() => this.emit('error', netError(code, 'listen', host ?? '0.0.0.0', port)));
      return this;
    }
    this.closing = false;
    this.listener.user = this;
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /** @internal */
  onConnection(tcb: Tcb): void {
    if (this.maxConnections !== undefined && this.sockets.size >= this.maxConnections) {
      this.tcp.close(tcb);
      this.emit('drop', { localAddress: ipv4ToString(tcb.localAddr), localPort: tcb.localPort, remoteAddress: ipv4ToString(tcb.remoteAddr), remotePort: tcb.remotePort, remoteFamily: 'IPv4' });
      return;
    }
    const o = this.options;
    const socket = new Socket(this.stack, { allowHalfOpen: o.allowHalfOpen, noDelay: o.noDelay, keepAlive: o.keepAlive, keepAliveInitialDelay: o.keepAliveInitialDelay });
    socket.server = this;
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.maybeEmitClose();
    });
    socket.attachAccepted(tcb);
    if (o.pauseOnConnect) socket.pause();
    this.emit('connection', socket);
  }

  /** Stop accepting; 'close' once every connection has ended (as net.Server.close). */
  close(callback?: (err?: Error) => void): this {
    if (this.listener === null) {
      if (callback !== undefined) {
        process.nextTick(() => callback(Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' })));
      }
      return this;
    }
    if (callback !== undefined) this.once('close', callback);
    this.tcp.unlisten(this.listener);
    this.listener = null;
    this.closing = true;
    this.maybeEmitClose();
    return this;
  }

  private maybeEmitClose(): void {
    if (this.closing && this.listener === null && this.sockets.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  address(): { address: string; family: string; port: number } | null {
    const l = this.listener;
    if (l === null) return null;
    return { address: ipv4ToString(l.localAddr), family: 'IPv4', port: l.localPort };
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    const n = this.sockets.size;
    process.nextTick(() => callback(null, n));
    return this;
  }

  /** Destroy every open connection (used by tests and shutdown). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/** net.createServer over `stack`. */
export function createServer(stack: TcpStack, options?: ServerOptions | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void): Server {
  if (typeof options === 'function') return new Server(stack, {}, options);
  return new Server(stack, options ?? {}, connectionListener);
}

/** net.connect / net.createConnection over `stack`. */
export function connect(stack: TcpStack, options: ConnectOptions, connectListener?: () => void): Socket;
export function connect(stack: TcpStack, port: number, host?: string, connectListener?: () => void): Socket;
export function connect(stack: TcpStack, a: ConnectOptions | number, b?: string | (() => void), c?: () => void): Socket {
  if (typeof a === 'object') {
    const s = new Socket(stack, a);
    return s.connect(a, typeof b === 'function' ? b : undefined);
  }
  const s = new Socket(stack);
  return s.connect(a, typeof b === 'string' ? b : undefined, typeof b === 'function' ? b : c);
}

export const createConnection = connect;

/**
 * Serve a Node http.Server (or https/http2 server that takes raw sockets) over a pstack
 * listener: each accepted pstack socket is handed to it as a 'connection'.
 */
export function serveHttp(server: Server, httpServer: EventEmitter): Server {
  server.on('connection', (socket: Socket) => httpServer.emit('connection', socket));
  return server;
}

export type { Tcp, Tcb, TcpConfig };
