/**
 * A DHCP client (client.ts) running on a Stack's Ethernet device: it takes UDP port 68, talks
 * from 0.0.0.0 through an address-less interface until a lease is bound, checks the offered
 * address with ARP probes (RFC 5227) before using it, then configures the interface, its
 * routes (classless routes per RFC 3442, else the routers) and tells `onLease` about DNS
 * servers and search domains. A lost lease takes the address and its routes away again.
 */

import type { Device } from '../../link/device.js';
import type { Interface } from '../../stack/interface.js';
import type { UdpEndpoint } from '../../transport/udp.js';
import { ipv4ToString, type Ipv4Address } from '../../wire/addr.js';
import type { Stack } from '../stack.js';
import { DhcpClient, type DhcpClientOptions, type DhcpLease, type DhcpLeaseLostReason } from './client.js';

const DHCP_SERVER_PORT = 67;
const DHCP_CLIENT_PORT = 68;
const LIMITED_BROADCAST = 0xffffffff;

export interface StackDhcpOptions extends Partial<DhcpClientOptions> {
  /** ARP probes before using an address (RFC 5227 says 3, 1-2 s apart). */
  probes?: number;
  probeIntervalMs?: number;
  /** A lease was bound or renewed (DNS servers, search domains, MTU are in it). */
  onLease?: (lease: DhcpLease, kind: 'new' | 'renewed') => void;
  onLeaseLost?: (lease: DhcpLease, reason: DhcpLeaseLostReason) => void;
}

export class StackDhcp {
  readonly client: DhcpClient;
  private readonly endpoint: UdpEndpoint;
  /** The interface the client speaks through: 0.0.0.0/0 while unbound, the lease's after. */
  private iface: Interface;
  private leased = false;

  constructor(
    private readonly stack: Stack,
    private readonly device: Device,
    private readonly options: StackDhcpOptions = {},
  ) {
    this.iface = stack.addInterface(device, { address: 0, prefixLength: 0 });
    const udp = stack.udp;
    this.endpoint = udp.open({
      message: (payload) => this.client.receive(payload),
      error: () => {},
    });
    const err = udp.bind(this.endpoint, 0, DHCP_CLIENT_PORT);
    if (err !== null) throw Object.assign(new Error(`dhcp: cannot take UDP port ${DHCP_CLIENT_PORT} (${err})`), { code: err });
    this.endpoint.broadcast = true;
    this.client = new DhcpClient({
      timers: stack.timers,
      send: (payload, destination) => {
        const dst = destination === 'broadcast' ? LIMITED_BROADCAST : destination;
        udp.send(this.endpoint, payload, dst, DHCP_SERVER_PORT);
      },
      probe: async (address) => (await stack.probeAddress(device, address, options.probes ?? 3, options.probeIntervalMs ?? 1000)) !== null,
      onLease: (lease, kind) => {
        if (kind === 'new' || !this.leased) this.configure(lease);
        this.options.onLease?.(lease, kind);
      },
      onLeaseLost: (lease, reason) => {
        this.unconfigure();
        this.options.onLeaseLost?.(lease, reason);
      },
    }, { mac: device.mac, ...options });
  }

  /** Ask for a lease (INIT-REBOOT when a previous address is given). */
  start(previous?: { address: Ipv4Address }): void {
    this.client.start(previous);
  }

  /** Resolves with the first lease bound. */
  waitForLease(): Promise<DhcpLease> {
    const now = this.client.lease;
    if (now !== null && this.leased) return Promise.resolve(now);
    return new Promise((resolve) => {
      const previous = this.options.onLease;
      this.options.onLease = (lease, kind) => {
        this.options.onLease = previous;
        previous?.(lease, kind);
        resolve(lease);
      };
    });
  }

  /** Give the lease back (RELEASE) and stop. */
  stop(release = true): void {
    this.client.stop({ release });
    this.stack.udp.close(this.endpoint);
  }

  private configure(lease: DhcpLease): void {
    const stack = this.stack;
    stack.removeInterface(this.iface);
    this.iface = stack.addInterface(this.device, { address: lease.address, prefixLength: lease.prefixLength });
    this.leased = true;
    for (const r of lease.routes) {
      try {
        if (r.prefixLength === 0) stack.setDefaultGateway(r.router);
        else stack.addRoute(r.destination, r.prefixLength, r.router, r.router === 0 ? this.device.name : undefined);
      } catch (err) {
        stack.events.error('dhcp route not installed', { route: `${ipv4ToString(r.destination)}/${r.prefixLength} via ${ipv4ToString(r.router)}`, error: String(err) });
      }
    }
    stack.announceAddress(this.device, lease.address);
    stack.events.event('dhcp lease was bound', {
      address: `${ipv4ToString(lease.address)}/${lease.prefixLength}`,
      server: ipv4ToString(lease.serverId),
      lease: `${lease.leaseSeconds} s`,
    });
  }

  private unconfigure(): void {
    if (!this.leased) return;
    this.leased = false;
    this.stack.removeInterface(this.iface);
    this.iface = this.stack.addInterface(this.device, { address: 0, prefixLength: 0 });
  }
}
