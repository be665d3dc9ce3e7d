/**
 * The one small interface every link device implements: TAP, loopback, the in-memory wire,
 * and wrappers such as the pcap tap. The stack above sees nothing else of a device.
 */

export type DeviceType = 'ethernet' | 'loopback';

/**
 * Bits of `receiveFrame`'s `rxFlags`. A device sets them for what it vouches for, so the stack
 * can skip work (the virtio header of a TAP opened with offloads carries them).
 */
export const RxFlags = {
  /**
   * The TCP/UDP checksum needs no verifying: either the kernel already did (DATA_VALID), or
   * the frame was made by the local kernel and never crossed a wire, and its checksum field
   * holds only the pseudo-header sum for a device to complete (NEEDS_CSUM).
   */
  ChecksumOk: 1,
} as const;

/** What a device does for the stack, beyond carrying frames (all false/0 when absent). */
export interface DeviceOffloads {
  /** send() honours `csumStart`/`csumOffset`: the transport checksum is completed below us. */
  readonly txChecksum: boolean;
  /**
   * Largest IPv4 datagram send() takes as one TCP segment to be cut into `gsoSize` pieces
   * below us (TSO/GSO); 0 when the device cannot.
   */
  readonly tsoMaxBytes: number;
  /** The same for IPv6: the largest packet, 40-byte header included (TSO6); 0 when the device cannot. */
  readonly tso6MaxBytes: number;
}

export const NO_OFFLOADS: DeviceOffloads = { txChecksum: false, tsoMaxBytes: 0, tso6MaxBytes: 0 };

export interface FrameReceiver {
  /**
   * One received frame. `frame` is a view into the device's batch buffer and is valid only
   * during this call: copy what must outlive it. `rxFlags` has {@link RxFlags} bits (0 if absent).
   */
  receiveFrame(device: Device, frame: Uint8Array, rxFlags?: number): void;
  /** Called after the last frame of a read batch, so coalesced output (ACKs) can be flushed. */
  endBatch(device: Device): void;
  /**
   * Called instead of a batch while a polling device finds nothing, now and then: a chance to
   * run the receive path without effect so that it stays in the CPU's caches (Stack.warm).
   */
  warm?(device: Device): void;
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
  /** What the device does beyond carrying frames; absent means {@link NO_OFFLOADS}. */
  readonly offloads?: DeviceOffloads;
  /** Start delivering received frames to `receiver`. */
  open(receiver: FrameReceiver): void;
  /**
   * Write one whole frame. The frame may be reused by the caller as soon as this returns.
   * Only on a device with offloads: `csumStart` > 0 (frame offset of the transport header)
   * asks it to complete the checksum at csumStart + csumOffset, whose field holds the
   * pseudo-header sum; `gsoSize` > 0 asks it to cut a TCP segment into pieces of that much data.
   */
  send(frame: Uint8Array, gsoSize?: number, csumStart?: number, csumOffset?: number): void;
  /** Stop receiving and release the device. Idempotent. */
  close(): void;
}

export function newDeviceCounters(): DeviceCounters {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, sendErrors: 0 };
}
