/** An IPv4 interface: one address with its prefix on one device. */

import type { Device } from '../link/device.js';
import { prefixToMask, type Ipv4Address } from '../wire/addr.js';

export class Interface {
  readonly mask: number;
  readonly network: Ipv4Address;
  readonly broadcast: Ipv4Address;

  constructor(
    /** Small number naming the device in logs, like the old pstack's net0, net1. */
    readonly index: number,
    readonly device: Device,
    readonly address: Ipv4Address,
    readonly prefixLength: number,
  ) {
    this.mask = prefixToMask(prefixLength);
    this.network = (address & this.mask) >>> 0;
    this.broadcast = (this.network | ~this.mask) >>> 0;
  }

  get name(): string {
    return `net${this.index}`;
  }

  get mtu(): number {
    return this.device.mtu;
  }

  get isLoopback(): boolean {
    return this.device.type === 'loopback';
  }

  /** Whether `addr` is on this interface's directly attached network. */
  onLink(addr: Ipv4Address): boolean {
    return ((addr & this.mask) >>> 0) === this.network;
  }
}
