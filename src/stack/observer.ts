/**
 * How the stack lets the outside watch traffic (debug dissection, capture) without knowing
 * about logs or files: one optional hook at the device boundary, a null check when unused.
 */

import type { Device } from '../link/device.js';

export type Direction = 'incoming' | 'outgoing';

export interface PacketObserver {
  /**
   * A frame crossing `device` (for loopback, a raw IPv4 packet). The bytes are valid only
   * during the call.
   */
  frame(direction: Direction, device: Device, buf: Uint8Array, offset: number, length: number): void;
}

/** Events worth an info line: devices, interfaces, routes, drops, errors. */
export interface StackEvents {
  event(title: string, details: Record<string, string | number>): void;
  error(title: string, details: Record<string, string | number>): void;
}
