/**
 * The one small interface every link device implements: TAP, loopback, the in-memory wire,
 * and wrappers such as the pcap tap. The stack above sees nothing else of a device.
 */

export type DeviceType = 'ethernet' | 'loopback';

export interface FrameReceiver {
  /**
   * One received frame. `frame` is a view into the device's batch buffer and is valid only
   * during this call: copy what must outlive it.
   */
  receiveFrame(device: Device, frame: Uint8Array): void;
  /** Called after the last frame of a read batch, so coalesced output (ACKs) can be flushed. */
  endBatch(device: Device): void;
}

export interface DeviceCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames the device could not write (queue full, device gone). */
  sendErrors: number;
}

export interface Device {
  /** Host-side name, e.g. "tap0", or "lo" for loopback. */
  readonly name: string;
  readonly type: DeviceType;
  /** Hardware address (6 bytes); all zero for loopback. */
  readonly mac: Uint8Array;
  /** Largest IP packet the device carries (Ethernet payload), e.g. 1500. */
  readonly mtu: number;
  readonly counters: DeviceCounters;
  /** Start delivering received frames to `receiver`. */
  open(receiver: FrameReceiver): void;
  /** Write one whole frame. The frame may be reused by the caller as soon as this returns. */
  send(frame: Uint8Array): void;
  /** Write `count` frames (default all) in one go where the device can. */
  sendBatch(frames: readonly Uint8Array[], count?: number): void;
  /** Stop receiving and release the device. Idempotent. */
  close(): void;
}

export function newDeviceCounters(): DeviceCounters {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, sendErrors: 0 };
}
