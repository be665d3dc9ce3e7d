/**
 * Packet capture in the classic libpcap format (what tcpdump -w writes and Wireshark reads).
 *
 * - PcapWriter writes records to a file with synchronous, buffered writes: a capture must not
 *   reorder with the traffic it records, and sync writes make close() trivially complete.
 * - PcapDevice wraps any Device and records every frame in and out, like smoltcp's PcapWriter
 *   middleware; devices that are not wrapped pay nothing.
 * - parsePcap reads a capture back (tests, tools).
 *
 * Format: little-endian, magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, then per frame
 * a 16-byte record header (ts_sec, ts_usec, incl_len, orig_len) and the bytes.
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import type { Device, DeviceCounters, DeviceOffloads, DeviceType, FrameReceiver } from './device.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
/** Raw IPv4/IPv6 packets with no link header: what the loopback device carries. */
export const LINKTYPE_RAW = 101;
export const DEFAULT_SNAPLEN = 262144;

const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
const DEFAULT_BUFFER_SIZE = 256 * 1024;

export function linkTypeFor(type: DeviceType): number {
  return type === 'loopback' ? LINKTYPE_RAW : LINKTYPE_ETHERNET;
}

/** Wall-clock milliseconds since the epoch with sub-millisecond precision (Date.now() has none). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface PcapWriterOptions {
  /** LINKTYPE_ETHERNET (default) or LINKTYPE_RAW. */
  linkType?: number;
  snapLength?: number;
  /** Bytes gathered before a write to the file (default 256 KiB). */
  bufferSize?: number;
  /** Timestamp source in ms since the epoch (default {@link wallClockMs}). */
  now?: () => number;
}

export class PcapWriter {
  readonly linkType: number;
  readonly snapLength: number;
  /** Records written (or buffered) so far. */
  packets = 0;

  private fd: number | null;
  private readonly buffer: Uint8Array;
  private readonly view: DataView;
  private used = 0;
  private readonly now: () => number;

  /** Creates (truncates) `path` and writes the global header. Throws fs errors as they are. */
  constructor(
    readonly path: string,
    opts: PcapWriterOptions = {},
  ) {
    this.linkType = opts.linkType ?? LINKTYPE_ETHERNET;
    this.snapLength = opts.snapLength ?? DEFAULT_SNAPLEN;
    this.now = opts.now ?? wallClockMs;
    const size = Math.max(opts.bufferSize ?? DEFAULT_BUFFER_SIZE, GLOBAL_HEADER_LENGTH + RECORD_HEADER_LENGTH);
    this.buffer = new Uint8Array(size);
    this.view = new DataView(this.buffer.buffer);
    this.fd = openSync(path, 'w');
    const v = this.view;
    v.setUint32(0, PCAP_MAGIC_MICROSECONDS, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone: timestamps are UTC
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, this.snapLength, true);
    v.setUint32(20, this.linkType, true);
    this.used = GLOBAL_HEADER_LENGTH;
    // The header goes to disk at once, so even a capture that records nothing is a valid file.
    this.flush();
  }

  get closed(): boolean {
    return this.fd === null;
  }

  /** Records one frame; `timestampMs` is wall-clock ms since the epoch (default: now). */
  write(frame: Uint8Array, timestampMs: number = this.now()): void {
    if (this.fd === null) throw new Error(`pcap writer for ${this.path} is closed`);
    const captured = Math.min(frame.length, this.snapLength);
    if (this.used + RECORD_HEADER_LENGTH + captured > this.buffer.length) this.flush();
    let seconds = Math.floor(timestampMs / 1000);
    let micros = Math.round((timestampMs - seconds * 1000) * 1000);
    if (micros >= 1_000_000) {
      seconds++;
      micros -= 1_000_000;
    }
    const v = this.view;
    const at = this.used;
    v.setUint32(at, seconds >>> 0, true);
    v.setUint32(at + 4, micros, true);
    v.setUint32(at + 8, captured, true);
    v.setUint32(at + 12, frame.length, true);
    this.used += RECORD_HEADER_LENGTH;
    if (this.used + captured <= this.buffer.length) {
      this.buffer.set(frame.subarray(0, captured), this.used);
      this.used += captured;
    } else {
      // Larger than the whole buffer: the header is buffered, so flush it and write the frame directly.
      this.flush();
      writeAll(this.fd, frame.subarray(0, captured));
    }
    this.packets++;
  }

  /** Writes everything buffered to the file. */
  flush(): void {
    if (this.fd === null || this.used === 0) return;
    const pending = this.used;
    // Reset first: should the write throw (disk full), the buffer is not replayed half-written.
    this.used = 0;
    writeAll(this.fd, this.buffer.subarray(0, pending));
  }

  /** Flushes the tail and closes the file. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    try {
      this.flush();
    } finally {
      this.fd = null;
      closeSync(fd);
    }
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

/**
 * A Device that records every frame it receives and sends into a pcap file, and otherwise
 * passes everything through unchanged to and from the wrapped device.
 *
 * A capture failure (disk full, ...) never disturbs traffic: it is counted in
 * `captureErrors`, remembered in `captureFailure`, and recording stops.
 */
export class PcapDevice implements Device {
  readonly writer: PcapWriter;
  captureErrors = 0;
  captureFailure: unknown = undefined;
  private readonly ownsWriter: boolean;
  private receiver: FrameReceiver | null = null;

  /** `capture` is a file path (a writer with the right link type is created and owned) or a writer. */
  constructor(
    readonly inner: Device,
    capture: string | PcapWriter,
  ) {
    if (typeof capture === 'string') {
      this.writer = new PcapWriter(capture, { linkType: linkTypeFor(inner.type) });
      this.ownsWriter = true;
    } else {
      this.writer = capture;
      this.ownsWriter = false;
    }
  }

  get name(): string {
    return this.inner.name;
  }
  get type(): DeviceType {
    return this.inner.type;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get counters(): DeviceCounters {
    return this.inner.counters;
  }
  get offloads(): DeviceOffloads | undefined {
    return this.inner.offloads;
  }

  open(receiver: FrameReceiver): void {
    this.receiver = receiver;
    this.inner.open(this.relay);
  }

  send(frame: Uint8Array, gsoSize?: number, csumStart?: number, csumOffset?: number): void {
    // Recorded as handed to the device, like tcpdump on an interface with offloads: one large
    // segment, its checksum still partial.
    this.record(frame);
    this.inner.send(frame, gsoSize, csumStart, csumOffset);
  }

  close(): void {
    this.receiver = null;
    this.inner.close();
    if (this.ownsWriter) {
      try {
        this.writer.close();
      } catch (error) {
        this.captureFailed(error);
      }
    }
  }

  /** Receivers see this wrapper as the device, so the stack's idea of "which device" holds. */
  private readonly relay: FrameReceiver = {
    receiveFrame: (_device, frame, rxFlags) => {
      this.record(frame);
      this.receiver?.receiveFrame(this, frame, rxFlags);
    },
    endBatch: () => {
      this.receiver?.endBatch(this);
    },
  };

  private record(frame: Uint8Array): void {
    if (this.captureFailure !== undefined || this.writer.closed) return;
    try {
      this.writer.write(frame);
    } catch (error) {
      this.captureFailed(error);
    }
  }

  private captureFailed(error: unknown): void {
    this.captureErrors++;
    if (this.captureFailure === undefined) this.captureFailure = error;
  }
}

export interface PcapRecord {
  /** Timestamp in ms since the epoch (microsecond precision). */
  timestampMs: number;
  seconds: number;
  microseconds: number;
  /** Length of the frame on the wire; `data` may be shorter when it exceeded the snap length. */
  originalLength: number;
  data: Uint8Array;
}

export interface PcapFile {
  linkType: number;
  snapLength: number;
  versionMajor: number;
  versionMinor: number;
  records: PcapRecord[];
}

/** Parses a classic pcap (either byte order, microsecond magic only). Throws on malformed input. */
export function parsePcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < GLOBAL_HEADER_LENGTH) throw new Error('pcap: file shorter than the global header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  if (view.getUint32(0, true) === PCAP_MAGIC_MICROSECONDS) little = true;
  else if (view.getUint32(0, false) === PCAP_MAGIC_MICROSECONDS) little = false;
  else throw new Error(`pcap: bad magic 0x${view.getUint32(0, false).toString(16)}`);
  const file: PcapFile = {
    versionMajor: view.getUint16(4, little),
    versionMinor: view.getUint16(6, little),
    snapLength: view.getUint32(16, little),
    linkType: view.getUint32(20, little),
    records: [],
  };
  let at = GLOBAL_HEADER_LENGTH;
  while (at < bytes.length) {
    if (at + RECORD_HEADER_LENGTH > bytes.length) throw new Error(`pcap: truncated record header at byte ${at}`);
    const seconds = view.getUint32(at, little);
    const microseconds = view.getUint32(at + 4, little);
    const included = view.getUint32(at + 8, little);
    const originalLength = view.getUint32(at + 12, little);
    at += RECORD_HEADER_LENGTH;
    if (at + included > bytes.length) throw new Error(`pcap: truncated record data at byte ${at}`);
    file.records.push({
      timestampMs: seconds * 1000 + microseconds / 1000,
      seconds,
      microseconds,
      originalLength,
      data: bytes.subarray(at, at + included),
    });
    at += included;
  }
  return file;
}
