/**
 * `node --import pstack/register app.js`: the program's network becomes pstack, with no
 * change to the program. Before it runs, the default stack is opened from the environment
 * (env-config.ts: PSTACK_TAP, PSTACK_ADDR, PSTACK_GATEWAY, PSTACK_DNS, PSTACK_IPV6, ...), its
 * IPv4 address leased by DHCP unless one is given, its IPv6 ones from SLAAC (default-stack.ts),
 * and Node's own modules are pointed at it:
 *
 * - node:net (Socket, Server, connect, createConnection, createServer), node:dgram and
 *   node:dns (callbacks and promises) become pstack's drop-ins (node-modules.ts), for CommonJS
 *   requires and ES imports alike (syncBuiltinESMExports);
 * - node:http's and node:https's agents connect through pstack, and tls.connect without a
 *   socket of its own runs TLS over a pstack connection;
 * - the global fetch (undici) gets a dispatcher whose connections are pstack's.
 *
 * A configuration or set-up error prints one line and exits with status 2 before the
 * program runs.
 */

import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as NodeNet from 'node:net';
import type * as NodeTls from 'node:tls';
import type * as NodeHttp from 'node:http';
import { Agent, setGlobalDispatcher } from 'undici';
import { defaultStack } from './default-stack.js';
import type { Stack } from './stack.js';

const require = createRequire(import.meta.url);

/** Point Node's network modules at `stack`. */
export function installDropIns(stack: Stack): void {
  const net = require('node:net') as Record<string, unknown>;
  const dropNet = stack.net;
  // Only the network goes over pstack: sockets on a file descriptor or a handle (process.stdout
  // and stdin are net.Sockets on pipes), IPC paths, and Node's own subclasses of net.Socket
  // calling it as their super constructor at run time (tls.TLSSocket) stay Node's.
  void process.stdout;
  void process.stderr;
  const NodeSocket = net['Socket'] as new (...args: unknown[]) => object;
  const NodeServer = net['Server'] as new (...args: unknown[]) => object;
  const nodeConnect = net['connect'] as (...args: unknown[]) => unknown;
  const isLocal = (o: unknown) => typeof o === 'object' && o !== null && ((o as { fd?: unknown }).fd != null || (o as { handle?: unknown }).handle != null || typeof (o as { path?: unknown }).path === 'string');
  const socketClass = hybrid(NodeSocket, dropNet.Socket as unknown as new (...args: unknown[]) => object, isLocal);
  const serverClass = hybrid(NodeServer, dropNet.Server as unknown as new (...args: unknown[]) => object, () => false);
  const connect = (...args: unknown[]) => (isLocal(args[0]) || (typeof args[0] === 'string' && Number.isNaN(Number(args[0]))) ? nodeConnect(...args) : dropNet.connect(...args));
  listenOverPstack(net['Server'] as typeof NodeNet.Server, dropNet);
  net['Socket'] = socketClass;
  net['Stream'] = socketClass;
  net['connect'] = connect;
  net['createConnection'] = connect;
  net['Server'] = serverClass;
  net['createServer'] = dropNet.createServer;

  const dgram = require('node:dgram') as Record<string, unknown>;
  dgram['createSocket'] = stack.dgram.createSocket;
  dgram['Socket'] = stack.dgram.Socket;

  const dns = require('node:dns') as Record<string, unknown>;
  const dnsPromises = require('node:dns/promises') as Record<string, unknown>;
  const dropDns = stack.dns;
  for (const [k, v] of Object.entries(dropDns)) if (k !== 'promises' && typeof v === 'function') dns[k] = v;
  for (const [k, v] of Object.entries(dropDns.promises)) dnsPromises[k] = v;

  const tls = require('node:tls') as typeof NodeTls & Record<string, unknown>;
  const nodeTlsConnect = tls.connect;
  tls.connect = function connect(...args: unknown[]) {
    const options = tlsOptions(args);
    if (options.socket == null && options.path == null) {
      options.socket = dropNet.connect({ host: options.host ?? 'localhost', port: options.port, lookup: options.lookup } as never) as unknown as NodeNet.Socket;
      options.servername ??= typeof options.host === 'string' && dropNet.isIP(options.host) === 0 ? options.host : undefined;
    }
    const callback = typeof args[args.length - 1] === 'function' ? args[args.length - 1] as () => void : undefined;
    return nodeTlsConnect(options, callback);
  } as typeof tls.connect;

  const http = require('node:http') as typeof NodeHttp;
  http.Agent.prototype.createConnection = function createConnection(options: NodeNet.NetConnectOpts, callback?: () => void) {
    return dropNet.createConnection(options, callback) as unknown as NodeNet.Socket;
  } as unknown as typeof http.Agent.prototype.createConnection;

  setGlobalDispatcher(new Agent({
    connect(opts, callback) {
      const secure = opts.protocol === 'https:';
      const port = Number(opts.port) || (secure ? 443 : 80);
      const socket = secure
        ? tls.connect({ host: opts.hostname, port, servername: opts.servername ?? opts.hostname, ALPNProtocols: ['http/1.1'] })
        : dropNet.connect({ host: opts.hostname, port });
      let answered = false;
      const answer = (err: Error | null) => {
        if (answered) return;
        answered = true;
        if (err !== null) callback(err, null);
        else callback(null, socket as unknown as NodeNet.Socket);
      };
      socket.once(secure ? 'secureConnect' : 'connect', () => answer(null));
      socket.once('error', (err: Error) => answer(err));
    },
  }));

  syncBuiltinESMExports();
}

/**
 * What stands for net.Socket or net.Server: `new` and a plain call make pstack's, except for
 * `local` arguments, subclasses, and Node's own subclasses (tls.TLSSocket, tty.ReadStream,
 * http.Server) calling it as their super constructor at run time, which get Node's. Node's
 * modules also reach for `net.Server.prototype.close` and the like at run time with their
 * own instances as `this`, so `prototype` stays Node's; `instanceof` accepts both.
 */
function hybrid(NodeClass: new (...args: unknown[]) => object, PstackClass: new (...args: unknown[]) => object, local: (arg: unknown) => boolean): unknown {
  function Hybrid(this: unknown, ...args: unknown[]): object {
    if (new.target === undefined) {
      if (this instanceof NodeClass || local(args[0])) return Reflect.apply(NodeClass, this, args) as object;
      return Reflect.construct(PstackClass, args);
    }
    // A subclass written against Node's class (class X extends net.Socket) gets Node's.
    if (new.target !== Hybrid || local(args[0])) return Reflect.construct(NodeClass, args, new.target === Hybrid ? NodeClass : new.target);
    return Reflect.construct(PstackClass, args);
  }
  Hybrid.prototype = NodeClass.prototype;
  Object.defineProperty(Hybrid, 'name', { value: NodeClass.name });
  Object.defineProperty(Hybrid, Symbol.hasInstance, { value: (x: unknown) => x instanceof PstackClass || x instanceof NodeClass });
  return Hybrid;
}

/**
 * Servers made by Node's own modules (http, https, tls and whatever builds on them, such as
 * ws) are subclasses of Node's net.Server, fixed when those modules loaded. Their listen()
 * (except on a path, handle or fd) opens a pstack server instead, whose connections are
 * handed to them as 'connection', as a handle's would be; address(), close(), ref() and
 * unref() follow that pstack server.
 */
function listenOverPstack(NodeServer: typeof NodeNet.Server, dropNet: Stack['net']): void {
  const proto = NodeServer.prototype as unknown as Record<string, unknown>;
  const nodeListen = proto['listen'] as (...args: unknown[]) => unknown;
  const nodeClose = proto['close'] as (...args: unknown[]) => unknown;
  const nodeAddress = proto['address'] as () => unknown;
  const nodeRef = proto['ref'] as () => unknown;
  const nodeUnref = proto['unref'] as () => unknown;
  const inner = new WeakMap<object, ReturnType<Stack['net']['createServer']>>();
  proto['listen'] = function listen(this: NodeNet.Server & { emit(e: string, ...a: unknown[]): boolean }, ...args: unknown[]) {
    const first = args[0] as Record<string, unknown> | string | undefined;
    const local = typeof first === 'string' && Number.isNaN(Number(first))
      || (typeof first === 'object' && first !== null && (first['path'] != null || first['handle'] != null || first['_handle'] != null || typeof first['fd'] === 'number'));
    if (local) return nodeListen.apply(this, args);
    const server = dropNet.createServer((socket) => this.emit('connection', socket));
    inner.set(this, server);
    server.on('listening', () => this.emit('listening'));
    server.on('error', (err: Error) => this.emit('error', err));
    (server.listen as (...a: unknown[]) => unknown)(...args.filter((a) => typeof a !== 'function'));
    const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (callback !== undefined) this.once('listening', callback);
    return this;
  };
  proto['close'] = function close(this: NodeNet.Server & { emit(e: string, ...a: unknown[]): boolean }, callback?: (err?: Error) => void) {
    const server = inner.get(this);
    if (server === undefined) return nodeClose.call(this, callback);
    inner.delete(this);
    server.close((err?: Error) => {
      callback?.(err);
      this.emit('close');
    });
    return this;
  };
  proto['address'] = function address(this: object) {
    const server = inner.get(this);
    return server === undefined ? nodeAddress.call(this) : server.address();
  };
  proto['ref'] = function ref(this: object) {
    const server = inner.get(this);
    if (server === undefined) return nodeRef.call(this);
    server.ref();
    return this;
  };
  proto['unref'] = function unref(this: object) {
    const server = inner.get(this);
    if (server === undefined) return nodeUnref.call(this);
    server.unref();
    return this;
  };
  Object.defineProperty(proto, 'listening', {
    configurable: true,
    get(this: { _handle?: unknown }) {
      const server = inner.get(this);
      return server !== undefined ? server.listening : this._handle != null;
    },
  });
}

/** tls.connect's forms (options[, cb]) and (port[, host][, options][, cb]) as one options object. */
function tlsOptions(args: unknown[]): NodeTls.ConnectionOptions & { path?: string; lookup?: unknown } {
  let i = 0;
  let options: Record<string, unknown> = {};
  if (typeof args[0] === 'object' && args[0] !== null) options = { ...(args[0] as object) };
  else {
    if (args[i] !== undefined && typeof args[i] !== 'function') options.port = args[i++];
    if (typeof args[i] === 'string') options.host = args[i++];
    if (typeof args[i] === 'object' && args[i] !== null) options = { ...(args[i] as object), ...options };
  }
  return options as NodeTls.ConnectionOptions & { path?: string; lookup?: unknown };
}

try {
  installDropIns(await defaultStack());
} catch (err) {
  process.stderr.write(`pstack: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
