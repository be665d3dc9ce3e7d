/**
 * The host's IPv4 interfaces (address + prefix on a device) and the questions every layer
 * asks of them: is this address ours, is it one of our networks' broadcasts, which
 * interface sits on this device.
 */

import type { Device } from '../link/device.js';
import type { Ipv4Address } from '../wire/addr.js';
import { Interface } from './interface.js';

export class InterfaceTable {
  readonly list: Interface[] = [];

  add(iface: Interface): void {
    this.list.push(iface);
  }

  remove(iface: Interface): boolean {
    const i = this.list.indexOf(iface);
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }

  isLocalAddress(addr: Ipv4Address): boolean {
    const l = this.list;
    for (let i = 0; i < l.length; i++) if (l[i]!.address === addr) return true;
    return false;
  }

  /** Whether `addr` is the broadcast address of one of our (non-loopback) networks. */
  isDirectedBroadcast(addr: Ipv4Address): boolean {
    // (A /31 has no broadcast address, RFC 3021: its "broadcast" is the other host.)
    for (const i of this.list) if (!i.isLoopback && i.prefixLength <= 30 && i.broadcast === addr) return true;
    return false;
  }

  /** The non-loopback interface whose directed broadcast `addr` is. */
  withBroadcast(addr: Ipv4Address): Interface | undefined {
    return this.list.find((i) => !i.isLoopback && i.prefixLength <= 30 && i.broadcast === addr);
  }

  /** The first interface on `device`. */
  onDevice(device: Device): Interface | undefined {
    const l = this.list;
    for (let i = 0; i < l.length; i++) if (l[i]!.device === device) return l[i];
    return undefined;
  }

  loopback(): Interface | undefined {
    return this.list.find((i) => i.isLoopback);
  }
}
