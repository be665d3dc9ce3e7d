/**
 * Module objects shaped like Node's `net`, `dgram` and `dns` (with `dns.promises`), bound to
 * one Stack: what `stack.net`, `stack.dgram` and `stack.dns` return, and what the preload
 * (register.ts) puts in place of Node's own. Constructors need no stack argument
 * (`new net.Socket()`, `net.Server()`), host names go through the stack's resolver (with
 * net's 'lookup' event), and everything else behaves as the stack-first API in net.ts,
 * dgram.ts and dns.ts does.
 */

import * as nodeNet from 'node:net';
import * as nodeDns from 'node:dns';
import { normalizeArgs } from './net/args.js';
import { SocketImpl, type LookupFunction, type SocketOptions } from './net/socket.js';
import { ServerImpl, type ServerOptions } from './net/server.js';
import { UdpSocket, type MessageListener, type SocketType } from './dgram.js';
import { Resolver, type LookupAddress, type LookupOptions, type ResolverOptions } from './dns.js';
import type { TcpStack } from './net/socket.js';
import type { UdpStack } from './dgram.js';

/** What the modules need of a stack: its TCP, UDP and resolver. */
export interface ModuleStack extends TcpStack, UdpStack {
  readonly resolver: Resolver;
}

type Callback = (...args: never[]) => unknown;

/** dns.lookup's callback form over a pstack resolver, as net's `lookup` option takes it. */
export function lookupVia(resolver: Resolver): LookupFunction {
  return ((hostname: string, options: unknown, callback: (err: Error | null, address?: unknown, family?: number) => void) => {
    const o = (typeof options === 'number' ? { family: options } : options ?? {}) as LookupOptions;
    resolver.lookup(hostname, o).then(
      (found) => {
        if (Array.isArray(found)) callback(null, found);
        else callback(null, (found as LookupAddress).address, (found as LookupAddress).family);
      },
      (err: Error) => callback(err),
    );
  }) as unknown as LookupFunction;
}

/** Make a class callable without `new`, as Node's net.Socket and net.Server are. */
function callable<T extends new (...args: never[]) => object>(cls: T): T {
  return new Proxy(cls, { apply: (target, _this, args: never[]) => new target(...args) });
}

/** net.Socket and net.Server without the stack argument, callable with or without `new`. */
export interface BoundSocketClass {
  new (options?: SocketOptions): SocketImpl;
  (options?: SocketOptions): SocketImpl;
}
export interface BoundServerClass {
  new (options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void): ServerImpl;
  (options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void): ServerImpl;
}

/** What `stack.net` is: node:net's surface over one stack. */
export interface NetModule {
  Socket: BoundSocketClass;
  Stream: BoundSocketClass;
  Server: BoundServerClass;
  connect(...args: unknown[]): SocketImpl;
  createConnection(...args: unknown[]): SocketImpl;
  createServer(options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void): ServerImpl;
  isIP: typeof nodeNet.isIP;
  isIPv4: typeof nodeNet.isIPv4;
  isIPv6: typeof nodeNet.isIPv6;
  SocketAddress: typeof nodeNet.SocketAddress;
  BlockList: typeof nodeNet.BlockList;
  getDefaultAutoSelectFamily: typeof nodeNet.getDefaultAutoSelectFamily;
  setDefaultAutoSelectFamily: typeof nodeNet.setDefaultAutoSelectFamily;
  getDefaultAutoSelectFamilyAttemptTimeout: typeof nodeNet.getDefaultAutoSelectFamilyAttemptTimeout;
  setDefaultAutoSelectFamilyAttemptTimeout: typeof nodeNet.setDefaultAutoSelectFamilyAttemptTimeout;
}

/** What `stack.dgram` is: node:dgram's surface over one stack (udp4). */
export interface DgramModule {
  Socket: new (onMessage?: MessageListener) => UdpSocket;
  createSocket(type: SocketType, onMessage?: MessageListener): UdpSocket;
}

/** What `stack.dns` is: node:dns's surface (callbacks, `promises`, Resolver) over one stack. */
export type DnsModule = Record<string, unknown> & { promises: Record<string, unknown> };

export function netModule(stack: ModuleStack): NetModule {
  const lookup = lookupVia(stack.resolver);
  class Socket extends SocketImpl {
    /** Node walks `_parent` up from a TLS socket to the socket under it, ending at null. */
    _parent: null = null;

    constructor(options: SocketOptions = {}) {
      super(stack, options);
    }

    override connect(...args: unknown[]): this {
      const [options, cb] = normalizeArgs(args);
      if (options.lookup == null && options.path == null) options.lookup = lookup;
      return (super.connect as (o: unknown, cb?: unknown) => this)(options, cb ?? undefined);
    }
  }
  class Server extends ServerImpl {
    constructor(options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void) {
      super(stack, options, connectionListener);
    }
  }
  const BoundSocket = callable(Socket) as unknown as BoundSocketClass;
  const BoundServer = callable(Server) as unknown as BoundServerClass;
  function connect(...args: unknown[]): Socket {
    const [options] = normalizeArgs(args);
    const socket = new Socket(options as SocketOptions);
    if (options.timeout) socket.setTimeout(options.timeout as number);
    return socket.connect(...args);
  }
  function createServer(options?: ServerOptions | ((socket: SocketImpl) => void) | null, connectionListener?: (socket: SocketImpl) => void): Server {
    return new Server(options, connectionListener);
  }
  return {
    Socket: BoundSocket,
    Stream: BoundSocket,
    Server: BoundServer,
    connect,
    createConnection: connect,
    createServer,
    isIP: nodeNet.isIP,
    isIPv4: nodeNet.isIPv4,
    isIPv6: nodeNet.isIPv6,
    SocketAddress: nodeNet.SocketAddress,
    BlockList: nodeNet.BlockList,
    getDefaultAutoSelectFamily: nodeNet.getDefaultAutoSelectFamily,
    setDefaultAutoSelectFamily: nodeNet.setDefaultAutoSelectFamily,
    getDefaultAutoSelectFamilyAttemptTimeout: nodeNet.getDefaultAutoSelectFamilyAttemptTimeout,
    setDefaultAutoSelectFamilyAttemptTimeout: nodeNet.setDefaultAutoSelectFamilyAttemptTimeout,
  };
}

export function dgramModule(stack: ModuleStack): DgramModule {
  class Socket extends UdpSocket {
    constructor(onMessage?: MessageListener, reuseAddr = false) {
      super(stack, onMessage, 'udp4', false, reuseAddr);
    }
  }
  function createSocket(type: SocketType, onMessage?: MessageListener): UdpSocket {
    const t = typeof type === 'string' ? type : type?.type;
    if (t !== 'udp4') {
      throw Object.assign(new TypeError('Bad socket type specified. Valid types are: udp4'), { code: 'ERR_SOCKET_BAD_TYPE' });
    }
    return new Socket(onMessage, typeof type === 'object' && type.reuseAddr === true);
  }
  return { Socket, createSocket };
}

/** Turn a promise-returning method into Node's callback form (callback last). */
function withCallback<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  return (...args: unknown[]) => {
    const callback = args.pop();
    if (typeof callback !== 'function') {
      throw Object.assign(new TypeError('The "callback" argument must be of type function'), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    const cb = callback as Callback as (err: Error | null, ...results: unknown[]) => void;
    fn(...(args as A)).then(
      (result) => cb(null, result),
      (err: Error) => cb(err),
    );
  };
}

const RESOLVE_METHODS = [
  'resolve', 'resolve4', 'resolve6', 'resolveCname', 'resolveMx', 'resolveNs', 'resolvePtr', 'resolveSrv', 'resolveTxt',
  'resolveSoa', 'reverse',
] as const;

export function dnsModule(stack: ModuleStack): DnsModule {
  const shared = stack.resolver;
  class PromiseResolver extends Resolver {
    constructor(options: ResolverOptions = {}) {
      super(stack, { servers: shared.getServers(), ...options });
    }
  }
  /** dns.Resolver: the callback form of the same resolver. */
  class CallbackResolver {
    readonly promises: Resolver;
    constructor(options: ResolverOptions = {}) {
      this.promises = new PromiseResolver(options);
      for (const m of RESOLVE_METHODS) {
        (this as unknown as Record<string, unknown>)[m] = withCallback((...a: unknown[]) => (this.promises[m] as (...x: unknown[]) => Promise<unknown>)(...a));
      }
    }
    setServers(servers: readonly string[]): void {
      this.promises.setServers(servers);
    }
    getServers(): string[] {
      return this.promises.getServers();
    }
    cancel(): void {
      this.promises.cancel();
    }
  }
  const lookup = (hostname: string, options?: number | LookupOptions) => shared.lookup(hostname, options);
  const promises: Record<string, unknown> = {
    Resolver: PromiseResolver,
    lookup,
    lookupService: (address: string, port: number) => lookupService(shared, address, port),
    setServers: (servers: readonly string[]) => shared.setServers(servers),
    getServers: () => shared.getServers(),
  };
  for (const m of RESOLVE_METHODS) promises[m] = (...a: unknown[]) => (shared[m] as (...x: unknown[]) => Promise<unknown>)(...a);
  const dns: DnsModule = {
    ...nodeDns,
    Resolver: CallbackResolver,
    promises,
    lookup: (hostname: string, ...rest: unknown[]) => {
      const callback = rest.pop() as (err: Error | null, address?: unknown, family?: number) => void;
      const options = rest[0] as number | LookupOptions | undefined;
      if (typeof callback !== 'function') {
        throw Object.assign(new TypeError('The "callback" argument must be of type function'), { code: 'ERR_INVALID_ARG_TYPE' });
      }
      (lookupVia(shared) as unknown as (h: string, o: unknown, cb: typeof callback) => void)(hostname, options ?? {}, callback);
      return {};
    },
    lookupService: withCallback((address: string, port: number) => lookupService(shared, address, port)),
    setServers: (servers: readonly string[]) => shared.setServers(servers),
    getServers: () => shared.getServers(),
  };
  for (const m of RESOLVE_METHODS) dns[m] = withCallback((...a: unknown[]) => (shared[m] as (...x: unknown[]) => Promise<unknown>)(...a));
  return dns;
}

/** dns.lookupService: the host name from a PTR record; the service from the port (as getnameinfo). */
async function lookupService(resolver: Resolver, address: string, port: number): Promise<{ hostname: string; service: string }> {
  const names = await resolver.reverse(address);
  return { hostname: names[0] ?? address, service: SERVICES[port] ?? String(port) };
}

const SERVICES: Record<number, string> = {
  7: 'echo', 9: 'discard', 13: 'daytime', 19: 'chargen', 21: 'ftp', 22: 'ssh', 23: 'telnet', 25: 'smtp', 53: 'domain',
  80: 'http', 110: 'pop3', 143: 'imap2', 443: 'https', 5432: 'postgresql', 6379: 'redis',
};
