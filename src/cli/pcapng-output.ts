/**
 * A live pcapng capture to a file or to standard output (`--pcap -`, `-w -`), for
 * `pstack server --pcap - | tshark -r -` or `wireshark -k -i -`.
 *
 * Packets are encoded into a chunk on the spot (the frame's bytes are valid only during the
 * observer call) and the chunk is handed to the sink at most FLUSH_INTERVAL_MS later, so a
 * reader sees each packet promptly while a burst costs one write. The sink is a stream
 * (a non-blocking pipe or socket, or the file system's thread pool for files), so a slow
 * reader never blocks the event loop: once MAX_QUEUED_BYTES wait unwritten, further packets
 * are dropped and counted instead.
 */

import { createWriteStream, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import {
  encodeCaptureHeader, encodeEnhancedPacket, encodeRawIpAsEthernet, enhancedPacketSize,
  LINKTYPE_ETHERNET, LINKTYPE_RAW, LOOPBACK_ETHERNET_HEADER, type PcapngInterface,
} from '../observe/pcapng.js';

const CHUNK_BYTES = 256 * 1024;
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
export const FLUSH_INTERVAL_MS = 20;
const CLOSE_TIMEOUT_MS = 2000;

/** Microseconds since the epoch, with the sub-millisecond part Date.now() lacks. */
export function wallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class PcapngOutput {
  /** Packets handed to the sink (or waiting for the next flush). */
  packets = 0;
  /** Packets dropped because the reader did not keep up. */
  dropped = 0;
  /** The first write error (EPIPE when the reader went away, ENOSPC, ...), if any. */
  error: Error | null = null;

  private chunk = new Uint8Array(CHUNK_BYTES);
  private used = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Interfaces that carry raw IP (loopback): written with a zero Ethernet header, as Linux's lo. */
  private readonly rawIp: boolean[];
  private readonly flushNow = () => {
    this.timer = null;
    this.flush();
  };

  /** `path` is a file to create (truncated), or "-" for standard output. */
  static open(path: string, interfaces: readonly PcapngInterface[]): PcapngOutput {
    return new PcapngOutput(openSink(path), path, interfaces);
  }

  constructor(private readonly sink: Writable, readonly path: string, interfaces: readonly PcapngInterface[]) {
    sink.on('error', (err: Error) => {
      if (this.error === null) this.error = err;
    });
    // Every interface of the file is Ethernet, so that tcpdump (libpcap) reads it too.
    this.rawIp = interfaces.map((i) => i.linkType === LINKTYPE_RAW);
    // The headers go out at once, so a reader starts (and a capture of nothing is a valid file).
    sink.write(encodeCaptureHeader(interfaces.map((i) => (i.linkType === LINKTYPE_RAW ? { ...i, linkType: LINKTYPE_ETHERNET } : i))));
  }

  /** Record one packet on interface `interfaceId` (its index in the interfaces given). */
  write(interfaceId: number, direction: number, buf: Uint8Array, offset: number, length: number, timestampUs = wallClockUs()): void {
    if (this.closed || this.error !== null) return;
    const raw = this.rawIp[interfaceId] === true;
    const size = enhancedPacketSize(raw ? length + LOOPBACK_ETHERNET_HEADER : length);
    if (this.sink.writableLength + this.used + size > MAX_QUEUED_BYTES) {
      this.dropped++;
      return;
    }
    if (this.used + size > this.chunk.length) {
      this.flush();
      if (size > this.chunk.length) this.chunk = new Uint8Array(size);
    }
    this.used += (raw ? encodeRawIpAsEthernet : encodeEnhancedPacket)(this.chunk, this.used, interfaceId, timestampUs, direction, buf, offset, length);
    this.packets++;
    if (this.timer === null) this.timer = setTimeout(this.flushNow, FLUSH_INTERVAL_MS);
  }

  /** Hand what is encoded to the sink now. */
  flush(): void {
    if (this.used === 0 || this.error !== null) return;
    // The chunk is given away (the stream holds it until written); the next one is fresh.
    this.sink.write(this.chunk.subarray(0, this.used));
    this.chunk = new Uint8Array(CHUNK_BYTES);
    this.used = 0;
  }

  /** Flush, end the stream and wait (at most CLOSE_TIMEOUT_MS: a stalled reader must not hang exit). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timeout);
        resolve();
      };
      const timeout = setTimeout(() => {
        this.sink.destroy();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      this.sink.once('error', done);
      if (this.path === '-') {
        // Standard output is not ours to close: wait until what was written has gone out.
        if (this.sink.writableLength === 0) done();
        else this.sink.once('drain', done);
      } else {
        this.sink.end(done);
      }
    });
  }
}

/**
 * A pipe or socket on standard output gets a non-blocking socket of its own (process.stdout
 * writes to pipes synchronously on Linux, which would stall the stack behind a slow reader);
 * a file or terminal gets a file stream, written from the thread pool.
 */
function openSink(path: string): Writable {
  if (path !== '-') return createWriteStream('', { fd: openSync(path, 'w') });
  const st = fstatSync(1);
  if (st.isFIFO() || st.isSocket()) return new Socket({ fd: 1, readable: false, writable: true });
  return createWriteStream('', { fd: 1, autoClose: false });
}
