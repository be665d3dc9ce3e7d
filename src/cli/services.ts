/**
 * The services `pstack server` offers on its own addresses. ARP and ping are the stack's own;
 * transport services (TCP echo, UDP echo, discard, chargen) are added here as they exist.
 */

import type { Stack } from '../stack/stack.js';
import type { Logger } from '../observe/log.js';
import { createSocket, type UdpSocket } from '../api/dgram.js';
import { createServer as createTcpServer, type Socket as TcpSocket } from '../api/net.js';
import { ipv4ToString } from '../wire/addr.js';

export interface RunningServices {
  describe(): string;
  close(): void;
}

export function startServices(stack: Stack, logger: Logger): RunningServices {
  const names = ['arp', 'icmp echo'];
  const closers: Array<() => void> = [];
  const udpEcho = startUdpEcho(stack, logger);
  names.push('udp echo (7)');
  closers.push(udpEcho);
  const tcpEcho = startTcpEcho(stack, logger, TCP_ECHO_PORT);
  if (tcpEcho !== null) {
    names.push(`tcp echo (${TCP_ECHO_PORT})`);
    closers.push(tcpEcho);
  }
  return {
    describe: () => names.join(', '),
    close() {
      for (const c of closers.splice(0)) c();
    },
  };
}

/**
 * Source ports of services that answer whatever datagram they get (echo, daytime, qotd,
 * chargen, time): echoing to one of them would start an endless ping-pong between the two
 * services (the classic echo/chargen loop), so datagrams from these ports are not answered,
 * as inetd's built-in services refuse them.
 */
const REFLECTOR_PORTS = new Set([7, 13, 17, 19, 37]);

/**
 * UDP echo (RFC 862): every datagram is sent back to where it came from. One socket per
 * address rather than one on 0.0.0.0, so that each reply leaves from the address the request
 * was sent to (a client's connected socket ignores replies from any other address) and so
 * broadcasts are not echoed (a socket bound to one address hears no broadcasts): echoing a
 * broadcast would be an amplifier (the "fraggle" attack).
 */
function startUdpEcho(stack: Stack, logger: Logger): () => void {
  const sockets: UdpSocket[] = [];
  for (const iface of stack.interfaces) {
    const sock = createSocket(stack, 'udp4', (msg, rinfo) => {
      if (REFLECTOR_PORTS.has(rinfo.port)) {
        stack.counters.drop('udp echo: reflector-port');
        return;
      }
      sock.send(msg, rinfo.port, rinfo.address);
    });
    sock.on('error', (err) => logger.warn('udp echo socket error', String(err)));
    sock.bind(7, ipv4ToString(iface.address));
    sockets.push(sock);
  }
  return () => {
    for (const s of sockets) s.close();
  };
}

/** The old pstack's TCP application port. */
export const TCP_ECHO_PORT = 12345;

/**
 * TCP echo on port 12345, as the old pstack's demo application: every byte comes back.
 * Half-open is allowed, so `nc -N` (which shuts down its sending side at end of input) still
 * gets the whole echo before the connection closes. Backpressure is end to end: when the
 * client reads slowly, pipe() pauses reading, the receive window closes and the client's
 * kernel stops sending.
 */
function startTcpEcho(stack: Stack, logger: Logger, port: number): (() => void) | null {
  const first = stack.interfaces.find((i) => !i.isLoopback) ?? stack.interfaces[0];
  const server = createTcpServer(stack, { allowHalfOpen: true }, (socket: TcpSocket) => {
    logger.info('connection accepted', `Host: ${socket.remoteAddress}`, `Port: ${socket.remotePort}`);
    socket.on('error', (err: NodeJS.ErrnoException) => logger.info('connection error', `Host: ${socket.remoteAddress}`, `Port: ${socket.remotePort}`, `error: ${err.code ?? err.message}`));
    socket.pipe(socket);
  });
  server.on('error', (err) => logger.error('tcp echo could not listen', String(err)));
  server.listen(port, () => {
    logger.info(`address and port assigned: addr = ${first !== undefined ? ipv4ToString(first.address) : '0.0.0.0'}, port = ${port}`);
  });
  return () => {
    server.close();
    server.destroyAll();
  };
}
