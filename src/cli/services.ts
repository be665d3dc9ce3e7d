/**
 * The services `pstack server` offers on its own addresses. ARP and ping are the stack's own;
 * transport services are here: echo (UDP 7, TCP 12345), discard (9) and chargen (19), UDP and TCP.
 */

import { randomInt } from 'node:crypto';
import type { Stack } from '../api/stack.js';
import type { Logger } from '../observe/log.js';
import { createSocket, type UdpSocket } from '../api/dgram.js';
import { createServer as createTcpServer, type ServerOptions, type Socket as TcpSocket } from '../api/net.js';
import { ipv4ToString } from '../wire/addr.js';

export interface RunningServices {
  describe(): string;
  close(): void;
}

export function startServices(stack: Stack, logger: Logger): RunningServices {
  const names = ['arp', 'icmp echo'];
  const closers: Array<() => void> = [];
  closers.push(startUdpService(stack, logger, 'udp echo', UDP_ECHO_PORT, (msg) => msg));
  names.push(`udp echo (${UDP_ECHO_PORT})`);
  closers.push(startUdpService(stack, logger, 'udp discard', DISCARD_PORT, () => null));
  names.push(`udp discard (${DISCARD_PORT})`);
  closers.push(startUdpService(stack, logger, 'udp chargen', CHARGEN_PORT, () => chargenDatagram()));
  names.push(`udp chargen (${CHARGEN_PORT})`);
  closers.push(startTcpEcho(stack, logger));
  names.push(`tcp echo (${TCP_ECHO_PORT})`);
  closers.push(startTcpDiscard(stack, logger));
  names.push(`tcp discard (${DISCARD_PORT})`);
  closers.push(startTcpChargen(stack, logger));
  names.push(`tcp chargen (${CHARGEN_PORT})`);
  return {
    describe: () => names.join(', '),
    close() {
      for (const c of closers.splice(0)) c();
    },
  };
}

export const UDP_ECHO_PORT = 7;
/** Discard (RFC 863) and character generator (RFC 864): a sink and a source for measurements. */
export const DISCARD_PORT = 9;
export const CHARGEN_PORT = 19;
/** The old pstack's TCP application port. */
export const TCP_ECHO_PORT = 12345;

/**
 * Source ports of services that answer whatever datagram they get (echo, daytime, qotd,
 * chargen, time): answering one of them would start an endless ping-pong between the two
 * services (the classic echo/chargen loop), so datagrams from these ports are not answered,
 * as inetd's built-in services refuse them.
 */
const REFLECTOR_PORTS = new Set([7, 13, 17, 19, 37]);

/**
 * A UDP service on `port` of every address: `answer` turns a datagram into the reply, or
 * null for none. One socket per address rather than one on 0.0.0.0, so that each reply
 * leaves from the address the request was sent to (a client's connected socket ignores
 * replies from any other address) and so broadcasts are not answered (a socket bound to one
 * address hears no broadcasts): answering a broadcast would be an amplifier (the "fraggle"
 * attack).
 */
function startUdpService(stack: Stack, logger: Logger, name: string, port: number, answer: (msg: Buffer) => Uint8Array | null): () => void {
  const sockets: UdpSocket[] = [];
  const open = (type: 'udp4' | 'udp6', address: string) => {
    const sock = createSocket(stack, { type, ipv6Only: type === 'udp6' }, (msg, rinfo) => {
      const reply = answer(msg);
      if (reply === null) return;
      if (REFLECTOR_PORTS.has(rinfo.port)) {
        stack.counters.drop(`${name}: reflector-port`);
        return;
      }
      sock.send(reply, rinfo.port, rinfo.address);
    });
    sock.on('error', (err) => logger.warn(`${name} socket error`, String(err)));
    sock.bind(port, address);
    sockets.push(sock);
  };
  for (const iface of stack.interfaces) open('udp4', ipv4ToString(iface.address));
  // The same on each usable IPv6 address (link-local ones included), when IPv6 runs.
  for (const iface of stack.ipv6?.interfaces ?? []) {
    for (const a of iface.addresses) if (a.state === 'preferred') open('udp6', a.address.toString());
  }
  return () => {
    for (const s of sockets) s.close();
  };
}

/**
 * A TCP service on `port` of every address, `serve` taking each accepted connection. Every
 * connection is logged when accepted, as the old pstack's echo did.
 *
 * A service may hold tens of thousands of connections, so the per-connection event handlers
 * here are shared functions that find their socket as `this` (an EventEmitter calls its
 * listeners so) rather than closures made for each connection; the logger rides on the
 * socket for them.
 */
function startTcpService(stack: Stack, logger: Logger, port: number, options: ServerOptions, serve: (socket: ServiceSocket) => void, onListening?: () => void): () => void {
  const server = createTcpServer(stack, options, (socket: TcpSocket) => {
    logger.info('connection accepted', `Host: ${socket.remoteAddress}`, `Port: ${socket.remotePort}`);
    const s = socket as ServiceSocket;
    s.serviceLogger = logger;
    s.on('error', logConnectionError);
    serve(s);
  });
  server.on('error', (err) => logger.error(`tcp port ${port} could not listen`, String(err)));
  server.listen(port, onListening);
  return () => {
    server.close();
    server.destroyAll();
  };
}

type ServiceSocket = TcpSocket & { serviceLogger: Logger };

function logConnectionError(this: ServiceSocket, err: NodeJS.ErrnoException): void {
  this.serviceLogger.info('connection error', `Host: ${this.remoteAddress}`, `Port: ${this.remotePort}`, `error: ${err.code ?? err.message}`);
}

/**
 * TCP echo on port 12345, as the old pstack's demo application: every byte comes back.
 * Half-open is allowed, so `nc -N` (which shuts down its sending side at end of input) still
 * gets the whole echo before the connection closes. Backpressure is end to end: when the
 * client reads slowly, pipe() pauses reading, the receive window closes and the client's
 * kernel stops sending.
 */
function startTcpEcho(stack: Stack, logger: Logger): () => void {
  const first = stack.interfaces.find((i) => !i.isLoopback) ?? stack.interfaces[0];
  return startTcpService(stack, logger, TCP_ECHO_PORT, { allowHalfOpen: true }, (socket) => {
    // What socket.pipe(socket) does, without its nine closures per connection.
    socket.on('data', echoData);
    socket.on('drain', resumeReading);
    socket.on('end', endWriting);
  }, () => {
    logger.info(`address and port assigned: addr = ${first !== undefined ? ipv4ToString(first.address) : '0.0.0.0'}, port = ${TCP_ECHO_PORT}`);
  });
}

function echoData(this: TcpSocket, chunk: Buffer): void {
  if (!this.write(chunk)) this.pause(); // the peer reads slowly: stop reading until 'drain'
}

function resumeReading(this: TcpSocket): void {
  this.resume();
}

function endWriting(this: TcpSocket): void {
  this.end();
}

/**
 * TCP discard (RFC 863): everything received is thrown away and nothing is ever sent. The
 * client's FIN is answered with ours (no half-open), so `nc -N` ends cleanly once its input
 * is in. How much arrived is logged at close.
 */
function startTcpDiscard(stack: Stack, logger: Logger): () => void {
  return startTcpService(stack, logger, DISCARD_PORT, { allowHalfOpen: false }, (socket) => {
    socket.on('close', logDiscardClosed);
    socket.resume(); // flowing with no 'data' listener: read and dropped
  });
}

function logDiscardClosed(this: ServiceSocket): void {
  this.serviceLogger.info('discard connection closed', `Host: ${this.remoteAddress}`, `Port: ${this.remotePort}`, `bytes discarded: ${this.bytesRead}`);
}

/**
 * RFC 864's pattern: the 95 printing ASCII characters (space to '~') as a ring; line N holds
 * characters N .. N+71 (mod 95) and ends with CR LF. It repeats every 95 lines.
 */
export const CHARGEN_LINE_CHARS = 72;
export function chargenPattern(): Buffer {
  const lineBytes = CHARGEN_LINE_CHARS + 2;
  const out = Buffer.alloc(95 * lineBytes);
  for (let line = 0; line < 95; line++) {
    const at = line * lineBytes;
    for (let i = 0; i < CHARGEN_LINE_CHARS; i++) out[at + i] = 0x20 + ((line + i) % 95);
    out[at + CHARGEN_LINE_CHARS] = 0x0d;
    out[at + CHARGEN_LINE_CHARS + 1] = 0x0a;
  }
  return out;
}

const CHARGEN_PERIOD = chargenPattern();
/**
 * The stream is written in chunks of whole periods, so every chunk is this same buffer
 * (nothing is allocated per write) and the pattern runs on across chunk boundaries.
 */
const CHARGEN_CHUNK = Buffer.concat(new Array<Buffer>(9).fill(CHARGEN_PERIOD));
/** Two periods back to back: any datagram's worth of the pattern is one subarray of it. */
const CHARGEN_TWICE = Buffer.concat([CHARGEN_PERIOD, CHARGEN_PERIOD]);
let chargenNextLine = 0;

/**
 * UDP chargen's answer (RFC 864): a random number (0 to 512) of characters. Each answer
 * starts at the next line of the pattern; there is no other continuity between them.
 */
function chargenDatagram(): Uint8Array {
  const start = chargenNextLine * (CHARGEN_LINE_CHARS + 2);
  chargenNextLine = (chargenNextLine + 1) % 95;
  return CHARGEN_TWICE.subarray(start, start + randomInt(0, 513));
}

/**
 * TCP chargen (RFC 864): the pattern, as fast as the peer's window takes it. Stream
 * backpressure paces it: write until write() says the stream's buffer is full, go on at
 * 'drain' (which comes as ACKs free the TCP send buffer), stop when the socket stops being
 * writable (the peer reset or closed it). Data received is thrown away; a half-close by the
 * client does not stop the stream, only the end of the connection does.
 */
function startTcpChargen(stack: Stack, logger: Logger): () => void {
  return startTcpService(stack, logger, CHARGEN_PORT, { allowHalfOpen: true }, (socket) => {
    socket.on('drain', chargenFill);
    socket.on('close', logChargenClosed);
    socket.resume();
    chargenFill.call(socket);
  });
}

function chargenFill(this: TcpSocket): void {
  while (this.writable && this.write(CHARGEN_CHUNK)) { /* until the stream's buffer is full */ }
}

function logChargenClosed(this: ServiceSocket): void {
  this.serviceLogger.info('chargen connection closed', `Host: ${this.remoteAddress}`, `Port: ${this.remotePort}`, `bytes written: ${this.bytesWritten}`);
}
