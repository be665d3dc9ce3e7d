/**
 * Blocks for the stack's life events, in the old pstack's layout (its log of `pstack server`
 * starting up), so that a pstack log reads the same from the first line:
 *
 *   device was registered        interface was attached     route was registered
 *   type: Ethernet               ip:     192.0.2.2          network:  192.0.0.0
 *   name: net1 (tap0)            device: net1 (tap0)        netmask:  255.255.255.0
 *   addr: 00:00:5e:00:53:01                                 unicast:  192.0.2.2
 *                                                           next hop: 0.0.0.0
 *                                                           device:   net1 (tap0)
 *
 * Each returns { title, lines } for `logger.debug(block.title, ...block.lines)` or logBlocks.
 */

import { ipv4ToString, macToString, type Ipv4Address } from '../wire/addr.js';

export interface EventBlock {
  title: string;
  lines: string[];
}

/** A device as the log names it: "net1 (tap0)", the stack's name and the host's. */
export interface DeviceName {
  name: string;
  /** The host-side interface ("tap0"); empty for devices with none, such as loopback. */
  hostName?: string;
}

export interface DeviceDescription extends DeviceName {
  /** 'ethernet' | 'loopback' (the device's type), shown capitalised. */
  type: string;
  /** 6 bytes, or already formatted text. */
  mac?: Uint8Array | string;
}

export interface InterfaceDescription {
  unicast: Ipv4Address | string;
  device: DeviceName | string;
}

export interface RouteDescription {
  network: Ipv4Address | string;
  netmask: Ipv4Address | string;
  unicast: Ipv4Address | string;
  /** 0 (0.0.0.0) for a directly connected network. */
  nextHop: Ipv4Address | string;
  device: DeviceName | string;
}

function deviceLabel(device: DeviceName | string): string {
  return typeof device === 'string' ? device : `${device.name} (${device.hostName ?? ''})`;
}

function address(a: Ipv4Address | string): string {
  return typeof a === 'string' ? a : ipv4ToString(a);
}

function typeLabel(type: string): string {
  return type.length ? type[0]!.toUpperCase() + type.slice(1) : type;
}

function macLabel(mac: Uint8Array | string | undefined): string {
  if (mac === undefined) return '00:00:00:00:00:00';
  return typeof mac === 'string' ? mac : macToString(mac, 0);
}

export function formatDeviceRegistered(device: DeviceDescription): EventBlock {
  return {
    title: 'device was registered',
    lines: [`type: ${typeLabel(device.type)}`, `name: ${deviceLabel(device)}`, `addr: ${macLabel(device.mac)}`],
  };
}

export function formatDeviceOpened(device: DeviceDescription): EventBlock {
  return { title: 'device was opened', lines: [`type: ${typeLabel(device.type)}`, `name: ${deviceLabel(device)}`] };
}

export function formatInterfaceAttached(iface: InterfaceDescription): EventBlock {
  return { title: 'interface was attached', lines: [`ip:     ${address(iface.unicast)}`, `device: ${deviceLabel(iface.device)}`] };
}

/** A route with netmask 0.0.0.0 is the default route, which the old log announced as such. */
export function formatRouteRegistered(route: RouteDescription): EventBlock {
  const netmask = address(route.netmask);
  return {
    title: netmask === '0.0.0.0' ? 'default gateway was registered' : 'route was registered',
    lines: [
      `network:  ${address(route.network)}`,
      `netmask:  ${netmask}`,
      `unicast:  ${address(route.unicast)}`,
      `next hop: ${address(route.nextHop)}`,
      `device:   ${deviceLabel(route.device)}`,
    ],
  };
}

const BANNER_WIDTH = 55;

/**
 * A section banner such as the old log's "I N I T I A L I Z E   D E V I C E S": the text
 * letter-spaced and centred between two 55-character rules of `rule` ('-' or '/').
 */
export function formatBanner(text: string, rule = '-'): EventBlock {
  const line = (rule || '-').repeat(BANNER_WIDTH).slice(0, BANNER_WIDTH);
  const spaced = text.toUpperCase().split('').join(' ');
  const left = Math.max(0, Math.floor((BANNER_WIDTH - spaced.length) / 2));
  return { title: line, lines: [' '.repeat(left) + spaced, line] };
}
