/**
 * The Stack users import: the host (devices, routes, ARP, IPv4, ICMP) with its transports
 * (UDP, TCP) registered, plus the socket APIs, shaped like Node's own modules so existing
 * code ports by changing where it gets sockets:
 *
 *   const stack = await openTapStack({ tap: 'tap0', addr: '192.0.2.2/24' });
 *   stack.createServer((socket) => socket.pipe(socket)).listen(12345);   // like net.createServer
 *   const s = stack.connect({ host: '192.0.2.1', port: 80 });            // like net.connect
 *   const u = stack.createSocket('udp4');                                // like dgram.createSocket
 *
 * This is the one place where the network layer is handed its transports.
 */

import { Host, type HostOptions } from '../stack/host.js';
import { UdpLayer } from '../transport/udp.js';
import { Tcp } from '../transport/tcp/tcp.js';
import type { TcpConfig } from '../transport/tcp/tcb.js';
import { nodeAllocate, nodeTasks } from '../link/node-host.js';
import { setStorageAllocator } from '../transport/tcp/bytes.js';
import { Resolver, type ResolverOptions } from './dns.js';
import { isLinkLocalIpv6 } from '../wire/addr6.js';
import { reclaimMemoryFor } from './memory-reclaim.js';
import { dgramModule, dnsModule, netModule, type DgramModule, type DnsModule, type NetModule } from './node-modules.js';
import * as net from './net.js';
import * as dgram from './dgram.js';

// TCP's ring storage need not be zeroed: a buffer only reads back what it wrote.
setStorageAllocator(nodeAllocate);

export interface StackOptions extends HostOptions {
  /** TCP settings (buffer sizes, limits, congestion control); the rest keep their defaults. */
  tcp?: Partial<TcpConfig>;
  /** The stack's DNS resolver (servers, search list, timeouts). */
  dns?: ResolverOptions;
}

export class Stack extends Host {
  /** UDP (RFC 768): sockets are made with createSocket('udp4'). */
  readonly udp: UdpLayer;
  /** TCP (RFC 9293): servers and connections through createServer() and connect(). */
  readonly tcp: Tcp;
  /** Names over this stack: servers from the options or --dns, else a DHCP lease's and router advertisements'. */
  readonly resolver: Resolver;

  constructor(options: StackOptions = {}) {
    super({ tasks: nodeTasks, ...options });
    this.udp = new UdpLayer(this, this.ipv6);
    this.tcp = new Tcp(this, options.tcp, this.ipv6);
    this.resolver = new Resolver(this, options.dns);
    if (this.ipv6 !== null) {
      // RFC 8106: DNS servers from router advertisements, for as long as their lifetime lasts.
      this.ipv6.routerDiscovery.onDnsServers = (servers) => this.resolver.setDiscoveredServers('router-advertisement',
        servers.map((d) => (isLinkLocalIpv6(d.address.bytes) ? `${d.address.toString()}%${d.iface.device.name}` : d.address.toString())));
      this.ipv6.routerDiscovery.onSearchDomains = (domains) => this.resolver.setDiscoveredSearch('router-advertisement', domains.map((d) => d.domain));
    }
    reclaimMemoryFor(this.memory);
  }

  private modules: { net?: NetModule; dgram?: DgramModule; dns?: DnsModule } = {};

  /** node:net's surface over this stack: `new stack.net.Socket()`, `stack.net.connect(80, 'web.test')`. */
  get net(): NetModule {
    return (this.modules.net ??= netModule(this));
  }

  /** node:dgram's surface over this stack (udp4). */
  get dgram(): DgramModule {
    return (this.modules.dgram ??= dgramModule(this));
  }

  /** node:dns's surface over this stack's resolver, with `promises` and `Resolver`. */
  get dns(): DnsModule {
    return (this.modules.dns ??= dnsModule(this));
  }

  /** Like `net.createServer`: a Server whose sockets are pstack TCP connections. */
  createServer(options?: net.ServerOptions | ((socket: net.Socket) => void), connectionListener?: (socket: net.Socket) => void): net.Server {
    return this.net.createServer(options, connectionListener);
  }

  /** Like `net.connect`: an active open from this stack; host names go through its resolver. */
  connect(options: net.ConnectOptions, connectListener?: () => void): net.Socket;
  connect(port: number, host?: string, connectListener?: () => void): net.Socket;
  connect(...args: unknown[]): net.Socket {
    return this.net.connect(...args);
  }

  /** Same as connect(); the name Node's http `createConnection` option expects. */
  createConnection(options: net.ConnectOptions, connectListener?: () => void): net.Socket {
    return this.net.connect(options, connectListener);
  }

  /** Like `dgram.createSocket('udp4')`. */
  createSocket(type: dgram.SocketType, onMessage?: dgram.MessageListener): dgram.UdpSocket {
    return dgram.createSocket(this, type, onMessage);
  }
}

export { net, dgram };
