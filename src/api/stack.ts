/**
 * The Stack users import: the host (devices, routes, ARP, IPv4, ICMP) plus the socket APIs,
 * shaped like Node's own modules so existing code ports by changing where it gets sockets:
 *
 *   const stack = await openTapStack({ tap: 'tap0', addr: '192.0.2.2/24' });
 *   stack.createServer((socket) => socket.pipe(socket)).listen(12345);   // like net.createServer
 *   const s = stack.connect({ host: '192.0.2.1', port: 80 });            // like net.connect
 *   const u = stack.createSocket('udp4');                                // like dgram.createSocket
 */

import { Stack as StackCore, type StackOptions } from '../stack/stack.js';
import { LoopbackDevice } from '../link/loopback.js';
import { TapDevice, DEFAULT_TAP_MAC } from '../link/tap.js';
import { addAddress, linkUp } from '../link/host-link.js';
import { parseCidr, parseIpv4, parseMac } from '../wire/addr.js';
import * as net from './net.js';
import * as dgram from './dgram.js';

export class Stack extends StackCore {
  constructor(options: StackOptions = {}) {
    super(options);
  }

  /** Like `net.createServer`: a Server whose sockets are pstack TCP connections. */
  createServer(options?: net.ServerOptions | ((socket: net.Socket) => void), connectionListener?: (socket: net.Socket) => void): net.Server {
    return net.createServer(this, options, connectionListener);
  }

  /** Like `net.connect`: an active open from this stack. */
  connect(options: net.ConnectOptions, connectListener?: () => void): net.Socket;
  connect(port: number, host?: string, connectListener?: () => void): net.Socket;
  connect(a: net.ConnectOptions | number, b?: string | (() => void), c?: () => void): net.Socket {
    return typeof a === 'object' ? net.connect(this, a, typeof b === 'function' ? b : undefined) : net.connect(this, a, typeof b === 'string' ? b : undefined, typeof b === 'function' ? b : c);
  }

  /** Same as connect(); the name Node's http `createConnection` option expects. */
  createConnection(options: net.ConnectOptions, connectListener?: () => void): net.Socket {
    return net.connect(this, options, connectListener);
  }

  /** Like `dgram.createSocket('udp4')`. */
  createSocket(type: dgram.SocketType, onMessage?: dgram.MessageListener): dgram.UdpSocket {
    return dgram.createSocket(this, type, onMessage);
  }
}

export interface TapStackOptions extends StackOptions {
  /** TAP device (created if absent). Default tap0. */
  tap?: string;
  /** pstack's address. Default 192.0.2.2/24. */
  addr?: string;
  /** Address for the kernel's side of the tap, or null to leave it alone. Default 192.0.2.1/24. */
  hostAddr?: string | null;
  /** Default gateway, or null for none. Default 192.0.2.1. */
  gateway?: string | null;
  mac?: string;
  mtu?: number;
  /** TAP checksum offload and TSO (default true; see TapOpenOptions.offload). */
  offload?: boolean;
}

/**
 * A started Stack on a TAP device, with loopback 127.0.0.1/8, the host side of the tap up
 * and addressed, and a default route: what `pstack server` runs, for programs.
 * `stack.close()` closes the devices.
 */
export async function openTapStack(options: TapStackOptions = {}): Promise<Stack> {
  const name = options.tap ?? 'tap0';
  const addr = parseCidr(options.addr ?? '192.0.2.2/24');
  if (addr === null) throw new TypeError(`invalid addr ${JSON.stringify(options.addr)}`);
  const mac = options.mac !== undefined ? parseMac(options.mac) : DEFAULT_TAP_MAC;
  if (mac === null) throw new TypeError(`invalid mac ${JSON.stringify(options.mac)}`);
  const hostAddr = options.hostAddr === undefined ? '192.0.2.1/24' : options.hostAddr;
  const gatewayText = options.gateway === undefined ? '192.0.2.1' : options.gateway;
  const gateway = gatewayText === null ? null : parseIpv4(gatewayText);
  if (gatewayText !== null && gateway === null) throw new TypeError(`invalid gateway ${JSON.stringify(gatewayText)}`);
  const tap = TapDevice.open({ name, mtu: options.mtu, mac, offload: options.offload ?? !(options.forwarding ?? false) });
  const stack = new Stack(options);
  try {
    stack.addInterface(new LoopbackDevice(), { address: parseIpv4('127.0.0.1')!, prefixLength: 8 });
    stack.addInterface(tap, addr);
    if (hostAddr !== null) await addAddress(name, hostAddr);
    await linkUp(name);
    if (gateway !== null) stack.setDefaultGateway(gateway);
    stack.start();
  } catch (err) {
    stack.close();
    tap.close();
    throw err;
  }
  return stack;
}

export { net, dgram };
