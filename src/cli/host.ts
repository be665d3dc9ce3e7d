/**
 * Assemble a pstack host the way the CLI commands run it: a loopback device with 127.0.0.1/8,
 * one or more TAP devices with addresses, routes, the default gateway, the host side of each
 * tap brought up, logging of events and dissections, and an optional capture file.
 */

import { existsSync } from 'node:fs';
import { tapAddonAvailable, type TapDevice } from '../link/tap.js';
import type { Device } from '../link/device.js';
import { ipv4ToString, prefixToMask, type Ipv4Address, type Ipv4Cidr } from '../wire/addr.js';
import { dissectFrame } from '../observe/dissect.js';
import { hexdumpX } from '../observe/hexdump.js';
import type { Logger } from '../observe/log.js';
import type { PacketObserver, StackEvents } from '../stack/observer.js';
import { ObserverHub } from '../stack/observer-hub.js';
import type { Stack } from '../api/stack.js';
import { TCP_STATE_NAMES, type Tcb } from '../transport/tcp/tcp.js';
import { ipAddressToString } from '../stack/ip-address.js';
import { PcapngOutput } from './pcapng-output.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, DIRECTION_INBOUND, DIRECTION_OUTBOUND, type PcapngInterface } from '../observe/pcapng.js';
import { openTapHost, TapSetupError, type TapHost, type TapHostSpec, type TapSpec } from '../api/tap-host.js';
import { FatalError, describeTapOpenError } from './errors.js';
import type { LimitSettings } from './limits.js';
import type { Ipv6Options } from '../stack/ipv6.js';

export type { TapSpec };

export interface HostSpec {
  taps: TapSpec[];
  gateway: Ipv4Address | null;
  mtu: number;
  forwarding: boolean;
  /** TAP checksum offload and TSO (default: on unless forwarding). */
  offload?: boolean;
  /** Live pcapng capture of every device to this file ("-": standard output). */
  pcapPath: string | null;
  logger: Logger;
  /** Bounds for the stack (--limit). */
  limits?: LimitSettings;
  /** Busy polling of the taps (TapOpenOptions.busyPoll); default the device's default. */
  busyPoll?: number | 'always';
  /** For --addr dhcp: how long to wait for a lease. */
  dhcpTimeoutMs?: number;
  /** DNS servers for the stack's resolver. */
  dns?: string[];
  /** The start-up warm-up (api/warm-up.ts; default on, off with --no-warmup). */
  warmUp?: TapHostSpec['warmUp'];
  /** IPv6 on every tap, with its options (SLAAC on or off); true runs it with link-local addresses only (pstack ping -6). Default: when a tap has an IPv6 address. */
  ipv6?: boolean | Ipv6Options;
}

export interface RunningHost {
  stack: Stack;
  taps: TapDevice[];
  dhcp: TapHost['dhcp'];
  warmUp: TapHost['warmUp'];
  pcap: PcapngOutput | null;
  /** Everything that watches frames (log, capture file, capture clients): add watchers here. */
  observers: ObserverHub;
  /** Stop the stack and close the devices; then finish the capture (flushed, at most 2 s). */
  close(): Promise<void>;
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
  const limits = spec.limits;
  let pcap: PcapngOutput | null = null;
  let observers: ObserverHub | null = null;
  let host;
  try {
    host = await openTapHost({
      taps: spec.taps, gateway: spec.gateway, mtu: spec.mtu, offload: spec.offload, busyPoll: spec.busyPoll, dhcpTimeoutMs: spec.dhcpTimeoutMs, dns: spec.dns, warmUp: spec.warmUp,
      onTapError: (err) => logger.error('tap device error', String(err)),
      stack: {
        events: loggerEvents(logger), forwarding: spec.forwarding, ...(spec.ipv6 !== undefined ? { ipv6: spec.ipv6 } : {}),
        neighbor: limits?.neighbor, reassembly: limits?.reassembly, icmp: limits?.icmp, tcp: limits?.tcp, memory: limits?.memory,
      },
      configure: (stack) => {
        if (spec.pcapPath !== null) {
          try {
            pcap = PcapngOutput.open(spec.pcapPath, captureInterfaces(spec.taps.map((t) => t.name)));
          } catch (err) {
            throw new FatalError(`cannot write capture file ${spec.pcapPath}: ${(err as Error).message}`);
          }
        }
        observers = new ObserverHub((o) => { stack.observer = o; });
        if (pcap !== null) observers.add(pcapngWatcher(pcap, captureInterfaces(spec.taps.map((t) => t.name))));
        if (logger.enabled('debug')) observers.add(logWatcher(logger));
        if (logger.enabled('debug')) stack.tcp.onStateChange = tcpStateLogger(logger);
        if (logger.enabled('debug')) stack.counters.onDrop = (reason, n) => logger.debug(`dropped: ${reason}`, `total: ${n}`);
      },
    });
  } catch (err) {
    void (pcap as PcapngOutput | null)?.close();
    if (!(err instanceof TapSetupError)) throw err;
    if (err.step === 'open') throw new FatalError(describeTapOpenError(err.cause, err.device));
    if (err.step === 'configure') throw new FatalError(`cannot configure the host side of ${err.device}: ${err.message}`);
    if (err.step === 'dhcp') throw new FatalError(err.message);
    throw new FatalError(err.message, 2);
  }
  const { stack, taps, dhcp, warmUp } = host;
  const captured = pcap as PcapngOutput | null;
  return {
    stack, taps, dhcp, warmUp, pcap: captured, observers: observers as unknown as ObserverHub,
    close: async () => {
      host.close();
      await captured?.close();
    },
  };
}

/** The capture's interfaces: loopback (raw IP) first, then the taps (Ethernet), by name. */
export function captureInterfaces(tapNames: readonly string[]): PcapngInterface[] {
  return [{ name: 'lo', linkType: LINKTYPE_RAW }, ...tapNames.map((name) => ({ name, linkType: LINKTYPE_ETHERNET }))];
}

/**
 * Records every frame on the interface of the same name (a device not named in `interfaces`
 * is skipped). Devices are looked up by name once and remembered.
 */
export function pcapngWatcher(out: PcapngOutput, interfaces: readonly PcapngInterface[]): PacketObserver {
  const ids = new Map<Device, number>();
  return {
    frame(direction, device: Device, buf, offset, length) {
      let id = ids.get(device);
      if (id === undefined) {
        id = interfaces.findIndex((i) => i.name === device.name);
        ids.set(device, id);
      }
      if (id >= 0) out.write(id, direction === 'incoming' ? DIRECTION_INBOUND : DIRECTION_OUTBOUND, buf, offset, length);
    },
  };
}

/** Seed-style dissection at debug, tcpdump -X hexdump at trace. */
function logWatcher(logger: Logger): PacketObserver {
  return {
    frame(direction, device: Device, buf, offset, length) {
      const linkType = device.type === 'loopback' ? 'ip' : 'ethernet';
      const blocks = dissectFrame(direction, buf, offset, length, linkType);
      for (const b of blocks) logger.debug(`${b.title} [${device.name}]`, ...b.lines);
      if (logger.enabled('trace')) logger.trace(`${direction} frame hexdump (${length} bytes)`, ...hexdumpX(buf, offset, length, ''));
    },
  };
}

/**
 * One debug line per TCP state change, with the connection's 4-tuple. Installed only at
 * debug level: otherwise the hook stays null and a state change costs one null check.
 */
export function tcpStateLogger(logger: Logger): (tcb: Tcb, from: number, to: number) => void {
  return (tcb, from, to) => {
    logger.debug(`tcp ${ipAddressToString(tcb.localAddr)}:${tcb.localPort} > ${ipAddressToString(tcb.remoteAddr)}:${tcb.remotePort}: ${TCP_STATE_NAMES[from]} -> ${TCP_STATE_NAMES[to]}`);
  };
}

export function netmaskOf(c: Ipv4Cidr): string {
  return ipv4ToString(prefixToMask(c.prefixLength));
}
