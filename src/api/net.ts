/**
 * A Node `net`-compatible API over pstack's TCP: Node's net module with the stack as the
 * first argument. Programs usually reach it without the argument, through `stack.net`
 * (node-modules.ts), `import net from 'pstack/net'` (the default stack) or the preload.
 *
 *   import { Socket, Server } from 'pstack';                     // the stack-first classes
 *   const server = createServer(stack, (socket) => socket.pipe(socket)).listen(7);
 *   const socket = connect(stack, { host: '192.0.2.1', port: 80 }, () => socket.write('hi'));
 *
 * It behaves as node:net does over 127.0.0.1 (Node's own test-net-* tests are the reference):
 *
 * - `Socket` (src/api/net/socket.ts) is a stream.Duplex: 'lookup' (host names only),
 *   'connect', 'ready', 'data', 'end', 'close' (hadError), 'error' with Node's `code`,
 *   `errno` (negative), `syscall` and, for connect errors, `address`/`port`; 'timeout',
 *   'drain'. Reading is eager up to the highWaterMark (so a FIN is noticed by a socket nobody
 *   reads), writes made while connecting wait for the connection, backpressure reaches TCP's
 *   window, end() half-closes (allowHalfOpen), destroy() closes (RST if unread data remains,
 *   as close(2)), resetAndDestroy() resets. setNoDelay, setKeepAlive, setTimeout, address(),
 *   remote and local address getters, bytesRead/bytesWritten, bufferSize, readyState, pending.
 * - `Server` (src/api/net/server.ts): listen() in Node's forms, close(), address(),
 *   getConnections(), maxConnections and 'drop', 'listening', 'connection', 'close', 'error'.
 * - Arguments are checked synchronously with Node's errors (ERR_MISSING_ARGS,
 *   ERR_SOCKET_BAD_PORT, ERR_INVALID_ARG_TYPE, ERR_INVALID_IP_ADDRESS, ...).
 * - An open socket or a listening server keeps the process alive; ref()/unref() as Node's.
 * - Application handlers run from the event loop, never inside the stack: an exception thrown
 *   by one is an uncaught exception, as with node:net (src/api/net/event-loop.ts).
 *
 * Node's http works over it: `httpServer.emit('connection', socket)` for each accepted
 * socket (see `serveHttp`), and `http.request({ createConnection: () => connect(stack, ...) })`.
 *
 * Addresses are IPv4. Host names are resolved by the `lookup` option (as dns.lookup); by
 * default only 'localhost' (127.0.0.1) and IPv4 literals are known. No IPC paths.
 */

import type { EventEmitter } from 'node:events';
import * as nodeNet from 'node:net';
import type { Tcp, Tcb, TcpConfig } from '../transport/tcp/tcp.js';
import { normalizeArgs } from './net/args.js';
import { Socket, SocketImpl, type ConnectOptions, type SocketOptions, type TcpStack } from './net/socket.js';
import { Server, ServerImpl, type ServerOptions } from './net/server.js';

export { Socket, Server };
export type { SocketConstructor, ConnectOptions, SocketOptions, TcpStack, LookupFunction, SocketServer } from './net/socket.js';
export type { ServerConstructor, ServerOptions, ListenOptions, AddressInfo } from './net/server.js';
export type { NetError, CodedError } from './net/errors.js';
export { loopHolds } from './net/event-loop.js';

/** Legacy name of Socket, as in node:net. */
export const Stream = Socket;

/** net.createServer over `stack`. */
export function createServer(stack: TcpStack, options?: ServerOptions | ((socket: Socket) => void) | null, connectionListener?: (socket: Socket) => void): Server {
  return new ServerImpl(stack, options, connectionListener);
}

/** net.connect over `stack`: connect(stack, options[, cb]) or connect(stack, port[, host][, cb]). */
export function connect(stack: TcpStack, options: ConnectOptions, connectListener?: () => void): Socket;
export function connect(stack: TcpStack, port: number | string, host?: string, connectListener?: () => void): Socket;
export function connect(stack: TcpStack, port: number | string, connectListener?: () => void): Socket;
export function connect(stack: TcpStack, ...args: unknown[]): Socket {
  const [options] = normalizeArgs(args);
  const socket = new SocketImpl(stack, options as SocketOptions);
  if (options.timeout) socket.setTimeout(options.timeout as number);
  return (socket.connect as (...a: unknown[]) => Socket)(...args);
}

/** net.createConnection: the same as connect. */
export const createConnection = connect;

/** Which IP version `input` is (4, 6, or 0 for neither), as net.isIP. */
export const isIP: (input: string) => number = nodeNet.isIP;
export const isIPv4: (input: string) => boolean = nodeNet.isIPv4;
export const isIPv6: (input: string) => boolean = nodeNet.isIPv6;
/** Node's own: an address as an object, and an address block list (pure data, no sockets). */
export const SocketAddress = nodeNet.SocketAddress;
export type SocketAddress = nodeNet.SocketAddress;
export const BlockList = nodeNet.BlockList;
export type BlockList = nodeNet.BlockList;
export const getDefaultAutoSelectFamily = nodeNet.getDefaultAutoSelectFamily;
export const setDefaultAutoSelectFamily = nodeNet.setDefaultAutoSelectFamily;
export const getDefaultAutoSelectFamilyAttemptTimeout = nodeNet.getDefaultAutoSelectFamilyAttemptTimeout;
export const setDefaultAutoSelectFamilyAttemptTimeout = nodeNet.setDefaultAutoSelectFamilyAttemptTimeout;

/**
 * Serve a Node http.Server (or https/http2 server that takes raw sockets) over a pstack
 * listener: each accepted pstack socket is handed to it as a 'connection'.
 */
export function serveHttp(server: Server, httpServer: EventEmitter): Server {
  server.on('connection', (socket: Socket) => httpServer.emit('connection', socket));
  return server;
}

export type { Tcp, Tcb, TcpConfig };
