/**
 * A Linux TAP device, read and written through the small native addon in native/tap.c.
 *
 * The addon drains every waiting frame into one shared buffer per event-loop wakeup and calls
 * back once per batch; this class turns that batch into `receiveFrame` calls followed by one
 * `endBatch`. Host-side setup (link up, addresses) is not done here: see host-link.ts.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Device, type DeviceCounters, type DeviceOffloads, type FrameReceiver, RxFlags, newDeviceCounters,
} from './device.js';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoTypeOf, largestReceivedPacket, offloadsFromTunFlags,
} from './virtio-net.js';

/** Our own stack's MAC by default: 00:00:5e:00:53:01, from the range RFC 7042 reserves for documentation. */
export const DEFAULT_TAP_MAC: Uint8Array = Uint8Array.of(0x00, 0x00, 0x5e, 0x00, 0x53, 0x01);

/** Frames read per wakeup at most; the poll is level-triggered, so the rest wait one loop turn. */
export const DEFAULT_BATCH_FRAMES = 256;

/**
 * Busy polling after the last frame, in microseconds, by default (see
 * {@link TapOpenOptions.busyPoll}): long enough to catch a sender on another CPU that answers
 * each reply at once (ping -f: 12k -> 14-35k replies/s on the 2-core VM), short enough that
 * sparse traffic costs little CPU (at most 50 us per frame) and an idle device none. Its
 * price: a sender on the same CPU waits while we spin (ping -f on one CPU: 68k -> 46k/s).
 */
export const DEFAULT_BUSY_POLL_US = 50;

/** Longest adaptive busy-poll window accepted, in microseconds. */
export const MAX_BUSY_POLL_US = 1_000_000;

/** Ethernet header plus one VLAN tag. */
const ETHERNET_OVERHEAD = 14 + 4;


export interface TapOpenOptions {
  /** Interface name, at most 15 bytes; created if absent. */
  name: string;
  /** Largest IP packet (default 1500). Sizes the receive slots; does not change the host side. */
  mtu?: number;
  /** Our stack's MAC (default {@link DEFAULT_TAP_MAC}); the kernel's side of the tap has its own. */
  mac?: Uint8Array;
  /** Frames read per wakeup at most (default 256, max 4096). */
  batchFrames?: number;
  /**
   * Open with IFF_VNET_HDR and ask the kernel for checksum offload and TSO for IPv4 and IPv6
   * (default true): the kernel then hands over TCP segments of up to 64 KB with checksums it
   * vouches for, and takes such segments to cut up itself. Falls back to plain frames when refused. Turn off
   * for a router (forwarded segments must fit the next link as they are).
   */
  offload?: boolean;
  /**
   * Told about receive-side failures: an exception from the receiver (also counted in
   * `receiveErrors`) and a fatal read error, after which the device receives nothing more.
   * Default: an exception from the receiver is the program's own (its receiver, or a handler
   * of its that the receiver called) and goes to the process as Node's would, an uncaught
   * exception ('uncaughtException', or exit with its stack trace), once the batch is done;
   * a fatal read error is a process warning (PSTACK_TAP_FAILED).
   */
  onError?: (error: unknown) => void;
  /**
   * Busy polling, as Linux's SO_BUSY_POLL: a number of microseconds keeps the event loop
   * polling the tap (instead of sleeping in epoll) that long after each received frame, so
   * a frame that follows soon is read without a wakeup; an idle device still costs no CPU.
   * 0 turns it off. 'always' never sleeps: one CPU at 100% for as long as the device is
   * open, for the lowest latency. Default {@link DEFAULT_BUSY_POLL_US}.
   */
  busyPoll?: number | 'always';
}

export interface TapStats {
  /** Times the event loop found the fd readable. */
  wakeups: number;
  framesRead: number;
  /** Wakeups that hit the batch limit (frames were left waiting for the next turn). */
  fullBatches: number;
  /** Exceptions that escaped even the error callback (should stay 0). */
  callbackErrors: number;
  /** Busy-poll passes over the fd (event-loop turns while a busy window was open). */
  busyPasses: number;
  /** Busy-poll passes that found frames (each one a wakeup saved). */
  busyHits: number;
  /** Milliseconds spent with a busy window open (the loop spinning instead of sleeping). */
  busyMs: number;
  /** Empty batches handed to the receiver to keep its path warm (polling always, nothing read). */
  warmCalls: number;
}

/** The addon's JavaScript surface; see the header comment of native/tap.c. */
export interface NativeTap {
  open(name: string, mtu: number, maxFrames: number, offload: boolean): NativeTapOpenResult;
  start(handle: NativeHandle, onBatch: (count: number) => void, onError: (error: unknown) => void): void;
  write(handle: NativeHandle, frame: Uint8Array, gsoSize?: number, csumStart?: number, csumOffset?: number, gsoType?: number): number;
  /** Writes frames[start..end), stopping at the first failure; returns its index, or end. */
  close(handle: NativeHandle): void;
  ref(handle: NativeHandle): void;
  unref(handle: NativeHandle): void;
  stats(handle: NativeHandle): TapStats;
  /** 0 off, > 0 microseconds after the last frame, -1 always. */
  setBusyPoll(handle: NativeHandle, microseconds: number): void;
  /** process.hrtime's clock, in nanoseconds, when the last batch was picked up. */
  lastWakeup(handle: NativeHandle): number;
}

declare const nativeHandleBrand: unique symbol;
export type NativeHandle = { readonly [nativeHandleBrand]: true };

export interface NativeTapOpenResult {
  handle: NativeHandle;
  fd: number;
  name: string;
  frames: ArrayBuffer;
  offsets: Int32Array;
  lengths: Int32Array;
  frameSlot: number;
  maxFrames: number;
  /** Bytes of struct virtio_net_hdr before every frame read and written; 0 without offloads. */
  vnetHeader: number;
  /** TUN_F_* bits the kernel accepted. */
  offloads: number;
}

/**
 * The package root: the nearest directory above this module holding binding.gyp (a source
 * checkout and an installed package both have it). dist/src/link/tap.js is three levels below.
 */
const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  for (let dir = from, depth = 0; depth < 4; depth++) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return fileURLToPath(new URL('../../../', import.meta.url));
}

const requireHere = createRequire(import.meta.url);

/**
 * Where node-gyp-build finds the addon under the package root: build/Release (built from
 * source: a checkout, or an install without a matching prebuild), else the prebuilt binary
 * for this platform in prebuilds/ (an installed package). Null when there is neither.
 */
function resolveAddonPath(): string | null {
  try {
    const nodeGypBuild = requireHere('node-gyp-build') as { path(dir: string): string };
    return nodeGypBuild.path(PACKAGE_ROOT);
  } catch {
    return null;
  }
}

/** The addon's file as found at import time, or where a source build puts it when there is none yet. */
export const TAP_ADDON_PATH = resolveAddonPath() ?? join(PACKAGE_ROOT, 'build', 'Release', 'pstack_tap.node');

let nativeTap: NativeTap | null = null;

/** Loaded on first use so that importing pstack never requires the addon (loopback-only use, tests). */
function loadNativeTap(): NativeTap {
  if (nativeTap !== null) return nativeTap;
  const path = resolveAddonPath() ?? TAP_ADDON_PATH;
  try {
    nativeTap = requireHere(path) as NativeTap;
  } catch (cause) {
    throw new Error(`native addon not built: run npm install (looked in build/Release and prebuilds/ under ${PACKAGE_ROOT})`, { cause });
  }
  return nativeTap;
}

/** True when the TAP addon can be loaded (it may still fail to open a device without privileges). */
export function tapAddonAvailable(): boolean {
  try {
    loadNativeTap();
    return true;
  } catch {
    return false;
  }
}

export class TapDevice implements Device {
  /** The name the kernel gave the interface (the requested one, or e.g. "tap0" for a pattern). */
  readonly name: string;
  /** The tap's file descriptor, for diagnostics only; the device owns it. */
  readonly fd: number;

  readonly type = 'ethernet' as const;
  readonly counters: DeviceCounters = newDeviceCounters();
  readonly offloads: DeviceOffloads;
  /** Received frames whose checksum the kernel vouched for (partial or verified). */
  checksumOffloadedIn = 0;
  /** Received TCP segments the kernel marks as coalesced (gso_type set: its TSO/GRO). */
  largeSegmentsIn = 0;
  /** TCP segments handed to the kernel to cut up (gsoSize set). */
  largeSegmentsOut = 0;
  /**
   * Exceptions thrown by the receiver (per frame or in endBatch). Each is caught so the rest of
   * the batch is delivered, then reported (see {@link TapOpenOptions.onError}).
   */
  receiveErrors = 0;
  lastReceiveError: unknown = undefined;
  /** Frames longer than mtu + Ethernet header + VLAN tag; dropped since they may be truncated. */
  oversizeFrames = 0;
  /** Set once a fatal read error stopped reception. */
  failure: Error | null = null;

  /** errno of the last failed send() (e.g. 5 = EIO while the interface is down), 0 if none. */
  lastSendErrno = 0;

  private receiver: FrameReceiver | null = null;
  private started = false;
  private closed = false;
  private readonly handle: NativeHandle;
  private readonly frames: ArrayBuffer;
  private readonly frameBytes: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private readonly vnetHeader: number;
  /** Largest plain frame: the MTU's worth of packet. */
  private readonly maxFrameLength: number;
  /** Largest frame the kernel marks as a coalesced TCP segment (gso_type set), with TSO. */
  private readonly maxSegmentFrameLength: number;
  /**
   * One cached view per batch position: bulk traffic repeats the same offsets and lengths, so
   * the view of the previous batch can usually be reused instead of allocating one per frame.
   */
  private readonly slotViews: (Uint8Array | undefined)[];
  private readonly onError: (error: unknown) => void;
  private busyPollUs: number;

  private constructor(
    private readonly native: NativeTap,
    opened: NativeTapOpenResult,
    readonly mtu: number,
    readonly mac: Uint8Array,
    onError: ((error: unknown) => void) | undefined,
    busyPoll: number | 'always',
  ) {
    this.busyPollUs = busyPollMicroseconds(busyPoll);
    this.name = opened.name;
    this.fd = opened.fd;
    this.handle = opened.handle;
    this.frames = opened.frames;
    this.frameBytes = new Uint8Array(opened.frames);
    this.offsets = opened.offsets;
    this.lengths = opened.lengths;
    this.vnetHeader = opened.vnetHeader;
    this.offloads = offloadsFromTunFlags(opened.vnetHeader, opened.offloads);
    this.maxFrameLength = mtu + ETHERNET_OVERHEAD;
    this.maxSegmentFrameLength = (opened.vnetHeader === 0 ? mtu : largestReceivedPacket(opened.offloads, mtu)) + ETHERNET_OVERHEAD;
    this.slotViews = new Array<Uint8Array | undefined>(opened.maxFrames).fill(undefined);
    this.onError = onError ?? ((error) => this.defaultOnError(error));
  }

  /** Creates (or attaches to) the tap. Throws Errors with `code` such as EPERM, ENOENT, EBUSY. */
  static open(opts: TapOpenOptions): TapDevice {
    return TapDevice.over(loadNativeTap(), opts);
  }

  /**
   * A TapDevice over another implementation of the addon's surface: the start-up warm-up's
   * in-memory pair (memory-tap.ts), which must run this very class so that V8 learns the
   * shapes it will meet in service.
   */
  static over(native: NativeTap, opts: TapOpenOptions): TapDevice {
    const mtu = opts.mtu ?? 1500;
    const mac = opts.mac ?? DEFAULT_TAP_MAC;
    if (mac.length !== 6) throw new RangeError(`mac must be 6 bytes, got ${mac.length}`);
    const busyPoll = opts.busyPoll ?? DEFAULT_BUSY_POLL_US;
    busyPollMicroseconds(busyPoll); // validate before opening anything
    const opened = native.open(opts.name, mtu, opts.batchFrames ?? DEFAULT_BATCH_FRAMES, opts.offload ?? true);
    return new TapDevice(native, opened, mtu, Uint8Array.from(mac), opts.onError, busyPoll);
  }

  /** Starts delivery; calling it again switches to another receiver. */
  open(receiver: FrameReceiver): void {
    if (this.closed) throw new Error(`tap device ${this.name} is closed`);
    if (!this.started) {
      this.native.start(this.handle, this.onBatch, this.onNativeError);
      this.started = true;
      if (this.busyPollUs !== 0) this.native.setBusyPoll(this.handle, this.busyPollUs);
    }
    this.receiver = receiver;
  }

  send(frame: Uint8Array, gsoSize = 0, csumStart = 0, csumOffset = 0): void {
    if (this.closed) {
      this.counters.sendErrors++;
      return;
    }
    let written: number;
    if (csumStart === 0) written = this.native.write(this.handle, frame);
    else if (gsoSize === 0) written = this.native.write(this.handle, frame, 0, csumStart, csumOffset);
    else {
      written = this.native.write(this.handle, frame, gsoSize, csumStart, csumOffset, gsoTypeOf(frame));
      if (written >= 0) this.largeSegmentsOut++;
    }
    if (written < 0) {
      this.counters.sendErrors++;
      this.lastSendErrno = -written;
      return;
    }
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    this.native.close(this.handle);
  }

  /** Let the process exit even while the device is open (like socket.unref()). */
  unref(): void {
    this.native.unref(this.handle);
  }

  ref(): void {
    this.native.ref(this.handle);
  }

  stats(): TapStats {
    return this.native.stats(this.handle);
  }

  /** Change busy polling (see {@link TapOpenOptions.busyPoll}) while running. */
  setBusyPoll(busyPoll: number | 'always'): void {
    const us = busyPollMicroseconds(busyPoll);
    this.busyPollUs = us;
    if (this.started && !this.closed) this.native.setBusyPoll(this.handle, us);
  }

  /** Current busy polling: microseconds after the last frame, 0 off, or 'always'. */
  get busyPoll(): number | 'always' {
    return this.busyPollUs < 0 ? 'always' : this.busyPollUs;
  }

  /**
   * When the last batch was picked up (by an epoll wakeup or a busy-poll pass), in
   * nanoseconds on process.hrtime's clock: for latency tracing.
   */
  lastWakeupNs(): number {
    return this.native.lastWakeup(this.handle);
  }

  private readonly onBatch = (count: number): void => {
    const offsets = this.offsets;
    const lengths = this.lengths;
    const counters = this.counters;
    const bytes = this.frameBytes;
    const vnet = this.vnetHeader;
    if (count === 0) {
      // Polling always and nothing arrived for a while (see the addon's busy polling).
      try {
        this.receiver?.warm?.(this);
      } catch (error) {
        this.receiveFailed(error);
      }
      return;
    }
    for (let i = 0; i < count; i++) {
      // The receiver may close the device (or switch receivers) in the middle of a batch.
      const receiver = this.receiver;
      if (receiver === null) return;
      const at = offsets[i]!;
      const length = lengths[i]! - vnet;
      // Only a segment the kernel says it coalesced (gso_type set) may exceed the MTU; any
      // other long frame is dropped as a NIC would (and may have been cut short by the read).
      const coalesced = vnet !== 0 && bytes[at + 1] !== 0;
      if (length < 0 || length > (coalesced ? this.maxSegmentFrameLength : this.maxFrameLength)) {
        this.oversizeFrames++;
        continue;
      }
      let rxFlags = 0;
      if (vnet !== 0) {
        if ((bytes[at]! & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0) {
          rxFlags = RxFlags.ChecksumOk;
          this.checksumOffloadedIn++;
        }
        if (coalesced) this.largeSegmentsIn++;
      }
      counters.framesIn++;
      counters.bytesIn += length;
      try {
        receiver.receiveFrame(this, this.frameView(i, at + vnet, length), rxFlags);
      } catch (error) {
        this.receiveFailed(error);
      }
    }
    const receiver = this.receiver;
    if (receiver === null) return;
    try {
      receiver.endBatch(this);
    } catch (error) {
      this.receiveFailed(error);
    }
  };

  private frameView(slot: number, offset: number, length: number): Uint8Array {
    let view = this.slotViews[slot];
    if (view === undefined || view.length !== length || view.byteOffset !== offset) {
      view = new Uint8Array(this.frames, offset, length);
      this.slotViews[slot] = view;
    }
    return view;
  }

  private receiveFailed(error: unknown): void {
    this.receiveErrors++;
    this.lastReceiveError = error;
    this.safeReport(error);
  }

  /** Called by the addon for read/poll failures and for exceptions that escaped onBatch. */
  private readonly onNativeError = (error: unknown): void => {
    if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
      this.failure = error;
    } else {
      this.receiveErrors++;
      this.lastReceiveError = error;
    }
    this.safeReport(error);
  };

  private safeReport(error: unknown): void {
    try {
      this.onError(error);
    } catch (thrown) {
      // The program's error hook threw: that is its exception, for the process to see. Not
      // here on the receive path (the addon would swallow it), but once the batch is done.
      process.nextTick(rethrow, thrown);
    }
  }

  private defaultOnError(error: unknown): void {
    if (error !== this.failure) {
      // The receiver's exception: uncaught, as Node would have it, after this batch.
      process.nextTick(rethrow, error);
      return;
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.emitWarning(`tap ${this.name}: ${detail}`, { code: 'PSTACK_TAP_FAILED' });
  }
}

function rethrow(error: unknown): never {
  throw error;
}

/** The addon's encoding of a busy-poll setting: microseconds, 0 off, -1 always. */
function busyPollMicroseconds(busyPoll: number | 'always'): number {
  if (busyPoll === 'always') return -1;
  if (!Number.isFinite(busyPoll) || busyPoll < 0 || busyPoll > MAX_BUSY_POLL_US) {
    throw new RangeError(`busyPoll must be 'always' or a number of microseconds from 0 to ${MAX_BUSY_POLL_US}, got ${busyPoll}`);
  }
  return busyPoll;
}
