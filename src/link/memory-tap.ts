/**
 * Two TapDevices joined back to back in memory: what one writes, the other reads. It exists for
 * the start-up warm-up (api/warm-up.ts), which runs TCP connections between two throw-away
 * stacks through the very code a TAP-attached stack runs. So these are TapDevice instances
 * (tap.ts) over an in-memory stand-in for the native addon, not a device class of their own:
 * V8 then learns the shapes it will meet in service (the device's class, the batch buffer's
 * views, the virtio-net header) instead of ones that would make it throw away compiled code
 * at the first real frame. The stand-in acts as a TAP opened with offloads does: every frame
 * read carries a virtio-net header saying its checksum is valid, writes take checksum and
 * segmentation metadata, and frames written during one turn are read in one batch from a
 * setImmediate, like one wake-up (never inside the write: the reader may answer at once).
 */

import { TapDevice, type NativeHandle, type NativeTap, type NativeTapOpenResult, type TapStats } from './tap.js';
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VIRTIO_NET_HDR_F_DATA_VALID } from './virtio-net.js';

/** struct virtio_net_hdr_v1 (linux/virtio_net.h), what the addon puts before every frame. */
const VNET_HEADER = 12;
/** What the kernel grants a TAP opened with offloads (native/tap.c asks for these). */
const OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
const SLOT = 2048;
const MAX_FRAMES = 64;

/** One end: its read batch buffer and the frames written to it, not yet read. */
class End {
  readonly frames = new ArrayBuffer(SLOT * MAX_FRAMES);
  readonly bytes = new Uint8Array(this.frames);
  readonly offsets = new Int32Array(MAX_FRAMES);
  readonly lengths = new Int32Array(MAX_FRAMES);
  pending: Uint8Array[] = [];
  peer: End | null = null;
  onBatch: ((count: number) => void) | null = null;
  closed = false;
  private scheduled: ReturnType<typeof setImmediate> | null = null;
  /** Frames too large for a slot (never seen with the warm-up's one-byte segments). */
  dropped = 0;

  schedule(): void {
    if (this.scheduled !== null || this.onBatch === null || this.closed || this.pending.length === 0) return;
    this.scheduled = setImmediate(this.read);
  }

  cancel(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.pending.length = 0;
  }

  private readonly read = (): void => {
    this.scheduled = null;
    const onBatch = this.onBatch;
    if (onBatch === null || this.closed) return;
    const take = this.pending.splice(0, MAX_FRAMES);
    let count = 0;
    for (const frame of take) {
      if (frame.length + VNET_HEADER > SLOT) {
        this.dropped++;
        continue;
      }
      const at = count * SLOT;
      this.bytes.fill(0, at, at + VNET_HEADER);
      this.bytes[at] = VIRTIO_NET_HDR_F_DATA_VALID;
      this.bytes.set(frame, at + VNET_HEADER);
      this.offsets[count] = at;
      this.lengths[count] = VNET_HEADER + frame.length;
      count++;
    }
    if (count > 0) onBatch(count);
    this.schedule();
  };
}

const handleOf = (end: End): NativeHandle => end as unknown as NativeHandle;
const endOf = (handle: NativeHandle): End => handle as unknown as End;

/** The addon's surface, in memory. `open` hands out the ends in turn. */
function memoryNative(ends: End[]): NativeTap {
  let next = 0;
  return {
    open(name: string): NativeTapOpenResult {
      const end = ends[next++]!;
      return {
        handle: handleOf(end), fd: -1, name, frames: end.frames, offsets: end.offsets, lengths: end.lengths,
        frameSlot: SLOT, maxFrames: MAX_FRAMES, vnetHeader: VNET_HEADER, offloads: OFFLOADS,
      };
    },
    start(handle, onBatch) {
      const end = endOf(handle);
      end.onBatch = onBatch;
      end.schedule();
    },
    write(handle, frame) {
      const end = endOf(handle);
      const peer = end.peer;
      if (end.closed || peer === null || peer.closed) return -5; // EIO, as a tap whose link is down
      // The caller reuses its buffer as soon as this returns.
      peer.pending.push(frame.slice());
      peer.schedule();
      return frame.length;
    },
    close(handle) {
      const end = endOf(handle);
      end.closed = true;
      end.onBatch = null;
      end.cancel();
    },
    ref() {},
    unref() {},
    stats(): TapStats {
      return { wakeups: 0, framesRead: 0, fullBatches: 0, callbackErrors: 0, busyPasses: 0, busyHits: 0, busyMs: 0, warmCalls: 0 };
    },
    setBusyPoll() {},
    lastWakeup: () => 0,
  };
}

const endsOfDevices = new WeakMap<TapDevice, End>();

/** A pair of TapDevices joined back to back (no kernel, no file descriptor). */
export function memoryTapPair(a: { name: string; mac: Uint8Array }, b: { name: string; mac: Uint8Array }): [TapDevice, TapDevice] {
  const ea = new End();
  const eb = new End();
  ea.peer = eb;
  eb.peer = ea;
  const native = memoryNative([ea, eb]);
  const da = TapDevice.over(native, { name: a.name, mac: a.mac });
  const db = TapDevice.over(native, { name: b.name, mac: b.mac });
  endsOfDevices.set(da, ea);
  endsOfDevices.set(db, eb);
  return [da, db];
}

/** Frames written to `device` (one of a pair) and not yet read; 0 for any other device. */
export function memoryTapQueued(device: TapDevice): number {
  return endsOfDevices.get(device)?.pending.length ?? 0;
}
