/**
 * Assemble a pstack host the way the CLI commands run it: a loopback device with 127.0.0.1/8,
 * one or more TAP devices with addresses, routes, the default gateway, the host side of each
 * tap brought up, logging of events and dissections, and an optional capture file.
 */

import { existsSync } from 'node:fs';
import { Stack } from '../stack/stack.js';
import { LoopbackDevice } from '../link/loopback.js';
import { TapDevice, tapAddonAvailable } from '../link/tap.js';
import { linkUp, addAddress, setMtu } from '../link/host-link.js';
import { PcapWriter, LINKTYPE_ETHERNET } from '../link/pcap-writer.js';
import type { Device } from '../link/device.js';
import { ipv4ToString, parseIpv4, prefixToMask, type Ipv4Address, type Ipv4Cidr } from '../wire/addr.js';
import { dissectFrame } from '../observe/dissect.js';
import { hexdumpX } from '../observe/hexdump.js';
import type { Logger } from '../observe/log.js';
import type { PacketObserver, StackEvents } from '../stack/observer.js';
import { FatalError, describeTapOpenError } from './errors.js';
import type { LimitSettings } from './limits.js';

export interface TapSpec {
  name: string;
  addr: Ipv4Cidr;
  /** Address the kernel's side of the tap gets (e.g. 192.0.2.1/24); null leaves it alone. */
  hostAddr: Ipv4Cidr | null;
  mac: Uint8Array;
}

export interface HostSpec {
  taps: TapSpec[];
  gateway: Ipv4Address | null;
  mtu: number;
  forwarding: boolean;
  /** TAP checksum offload and TSO (default: on unless forwarding). */
  offload?: boolean;
  pcapPath: string | null;
  logger: Logger;
  /** Bounds for the stack (--limit); TCP's part is applied where TCP is created. */
  limits?: LimitSettings;
  /** Busy polling of the taps (TapOpenOptions.busyPoll); default the device's default. */
  busyPoll?: number | 'always';
}

export interface RunningHost {
  stack: Stack;
  taps: TapDevice[];
  pcap: PcapWriter | null;
  close(): void;
}

export function cidrToString(c: Ipv4Cidr): string {
  return `${ipv4ToString(c.address)}/${c.prefixLength}`;
}

/** Key: value lines aligned like the old pstack's event blocks. */
export function detailLines(details: Record<string, string | number>): string[] {
  const keys = Object.keys(details);
  const width = Math.max(0, ...keys.map((k) => k.length)) + 1;
  return keys.map((k) => `${(k + ':').padEnd(width)} ${details[k]}`);
}

export function loggerEvents(logger: Logger): StackEvents {
  return {
    event: (title, details) => logger.info(title, ...detailLines(details)),
    error: (title, details) => logger.error(title, ...detailLines(details)),
  };
}

/** Check what opening a TAP needs before touching anything, so the user gets one clear line. */
export function checkTapPrerequisites(): void {
  if (!existsSync('/dev/net/tun')) throw new FatalError('/dev/net/tun is missing: TUN/TAP support is needed (modprobe tun)');
  if (!tapAddonAvailable()) throw new FatalError('the native TAP addon is not built: run npm install (or npm ci)');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    // Non-root can still work with CAP_NET_ADMIN; the open itself will say if not.
  }
}

export async function startHost(spec: HostSpec): Promise<RunningHost> {
  checkTapPrerequisites();
  const logger = spec.logger;
  // Open every TAP before anything is logged or configured, so that a missing privilege or
  // a busy device is one clear line and nothing half-started.
  const taps: TapDevice[] = [];
  for (const t of spec.taps) {
    try {
      taps.push(TapDevice.open({
        name: t.name, mtu: spec.mtu, mac: t.mac, offload: spec.offload ?? !spec.forwarding, busyPoll: spec.busyPoll,
        onError: (err) => logger.error('tap device error', String(err)),
      }));
    } catch (err) {
      for (const opened of taps) opened.close();
      throw new FatalError(describeTapOpenError(err, t.name));
    }
  }
  const limits = spec.limits;
  const stack = new Stack({
    events: loggerEvents(logger), forwarding: spec.forwarding,
    neighbor: limits?.neighbor, reassembly: limits?.reassembly, icmp: limits?.icmp,
  });
  let pcap: PcapWriter | null = null;
  const closeAll = () => {
    stack.close();
    for (const t of taps) t.close();
    pcap?.close();
  };
  try {
    if (spec.pcapPath !== null) {
      try {
        pcap = new PcapWriter(spec.pcapPath, { linkType: LINKTYPE_ETHERNET });
      } catch (err) {
        throw new FatalError(`cannot write capture file ${spec.pcapPath}: ${(err as Error).message}`);
      }
    }
    stack.observer = makeObserver(logger, pcap);
    if (logger.enabled('debug')) stack.counters.onDrop = (reason, n) => logger.debug(`dropped: ${reason}`, `total: ${n}`);
    const loopback = new LoopbackDevice();
    stack.addInterface(loopback, { address: parseIpv4('127.0.0.1')!, prefixLength: 8 });
    for (let i = 0; i < spec.taps.length; i++) {
      const t = spec.taps[i]!;
      stack.addInterface(taps[i]!, t.addr);
      try {
        if (spec.mtu !== 1500) await setMtu(t.name, spec.mtu);
        if (t.hostAddr !== null) await addAddress(t.name, cidrToString(t.hostAddr));
        await linkUp(t.name);
      } catch (err) {
        throw new FatalError(`cannot configure the host side of ${t.name}: ${(err as Error).message}`);
      }
    }
    if (spec.gateway !== null) {
      try {
        stack.setDefaultGateway(spec.gateway);
      } catch (err) {
        throw new FatalError((err as Error).message, 2);
      }
    }
    stack.start();
  } catch (err) {
    closeAll();
    throw err;
  }
  return { stack, taps, pcap, close: closeAll };
}

function makeObserver(logger: Logger, pcap: PcapWriter | null): PacketObserver | null {
  if (!logger.enabled('debug') && pcap === null) return null;
  return {
    frame(direction, device: Device, buf, offset, length) {
      const linkType = device.type === 'loopback' ? 'ip' : 'ethernet';
      if (pcap !== null && linkType === 'ethernet') pcap.write(buf.subarray(offset, offset + length));
      if (!logger.enabled('debug')) return;
      const blocks = dissectFrame(direction, buf, offset, length, linkType);
      const where = `${device.name}`;
      for (const b of blocks) logger.debug(`${b.title} [${where}]`, ...b.lines);
      if (logger.enabled('trace')) logger.trace(`${direction} frame hexdump (${length} bytes)`, ...hexdumpX(buf, offset, length, ''));
    },
  };
}

export function netmaskOf(c: Ipv4Cidr): string {
  return ipv4ToString(prefixToMask(c.prefixLength));
}
