/**
 * Frames as they happen, for the web pages watching: an observer that copies each frame into
 * the packet ring (nothing else on the stack's path), and a flush a few times a second that
 * summarizes the new frames once and sends them to every page over Server-Sent Events.
 *
 * A slow page never slows the stack: what a page has not taken stays in the ring, and a page
 * further behind than `maxClientLag` frames, or whose socket holds more than
 * `maxClientBufferBytes` unsent, skips ahead and is told how many frames it missed.
 */

import type { ServerResponse } from 'node:http';
import type { Device } from '../../link/device.js';
import type { PacketObserver } from '../../stack/observer.js';
import { summarizeFrame } from '../../observe/summary.js';
import { frameEnds } from '../../observe/frame-ends.js';
import type { LinkType } from '../../observe/dissect.js';
import type { FramePredicate } from '../../observe/filter.js';
import { PacketRing, DEFAULT_RING_LIMITS, type RingLimits } from './packet-ring.js';

export interface FeedLimits extends RingLimits {
  /** Frames a page may be behind before it skips ahead. */
  maxClientLag: number;
  /** Unsent bytes a page's socket may hold before the feed stops writing to it. */
  maxClientBufferBytes: number;
  /** Frames a newly opened page gets from before it connected. */
  backlog: number;
}

export const DEFAULT_FEED_LIMITS: FeedLimits = {
  ...DEFAULT_RING_LIMITS, maxClientLag: 5000, maxClientBufferBytes: 1024 * 1024, backlog: 1000,
};

const FLUSH_INTERVAL_MS = 100;
const HEARTBEAT_MS = 15_000;
/** Frames per SSE message, so that one message stays a reasonable size. */
const ROWS_PER_MESSAGE = 200;

export interface FeedDevice {
  name: string;
  linkType: LinkType;
}

interface Client {
  res: ServerResponse;
  /** Number of the next frame to send. */
  next: number;
  /** Frames skipped and not yet reported. */
  dropped: number;
  droppedTotal: number;
  waitingForDrain: boolean;
  /** The page's tcpdump filter: only matching frames are sent (the rest are not "dropped"). */
  filter: FramePredicate | null;
}

export class LiveFeed {
  readonly ring: PacketRing;
  readonly devices: FeedDevice[] = [];
  readonly observer: PacketObserver;
  private readonly limits: FeedLimits;
  private readonly deviceIds = new Map<Device, number>();
  /** One JSON text per ring slot (the table row), made once at flush; `rowIds` says for which frame. */
  private readonly rows: string[];
  private readonly rowIds: Float64Array;
  private summarized = 0;
  private readonly clients = new Set<Client>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(limits: Partial<FeedLimits> = {}) {
    this.limits = { ...DEFAULT_FEED_LIMITS, ...limits };
    this.ring = new PacketRing(this.limits);
    this.rows = new Array<string>(Math.max(1, this.limits.maxFrames)).fill('');
    this.rowIds = new Float64Array(this.rows.length);
    const feed = this;
    this.observer = {
      frame(direction, device, buf, offset, length) {
        feed.record(direction === 'outgoing', device, buf, offset, length);
      },
    };
    this.heartbeat = setInterval(() => this.sendAll(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  linkTypeOf(id: number): LinkType {
    return this.devices[this.ring.device(id)]?.linkType ?? 'ethernet';
  }

  private record(outgoing: boolean, device: Device, buf: Uint8Array, offset: number, length: number): void {
    let dev = this.deviceIds.get(device);
    if (dev === undefined) {
      dev = this.devices.length;
      this.devices.push({ name: device.name, linkType: device.type === 'loopback' ? 'ip' : 'ethernet' });
      this.deviceIds.set(device, dev);
    }
    const timeUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    this.ring.push(buf, offset, length, outgoing, dev, timeUs);
    if (this.flushTimer === null && !this.closed) this.flushTimer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  /** The table row of frame `id` as JSON text (made now if the flush has not reached it). */
  row(id: number): string | null {
    if (!this.ring.has(id)) return null;
    const slot = (id - 1) % this.rows.length;
    if (this.rowIds[slot] === id) return this.rows[slot]!;
    const bytes = this.ring.bytes(id)!;
    const linkType = this.linkTypeOf(id);
    const ends = frameEnds(bytes, 0, bytes.length, linkType);
    const text = JSON.stringify({
      id,
      time: this.ring.timeUs(id),
      dir: this.ring.outgoing(id) ? 'out' : 'in',
      dev: this.devices[this.ring.device(id)]?.name ?? '?',
      len: this.ring.wireLength(id),
      proto: ends.protocol,
      src: ends.src,
      dst: ends.dst,
      summary: summarizeFrame(bytes, 0, bytes.length, linkType),
    });
    this.rows[slot] = text;
    this.rowIds[slot] = id;
    return text;
  }

  private flush(): void {
    this.flushTimer = null;
    for (let id = Math.max(this.summarized + 1, this.ring.oldest); id <= this.ring.last; id++) this.row(id);
    this.summarized = this.ring.last;
    for (const c of this.clients) this.pump(c);
  }

  /** Start streaming to a page (the response to GET /events). */
  attach(res: ServerResponse, hello: Record<string, unknown>, filter: FramePredicate | null = null): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const client: Client = {
      res, next: Math.max(this.ring.oldest, this.ring.last - this.limits.backlog + 1), dropped: 0, droppedTotal: 0, waitingForDrain: false, filter,
    };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.on('drain', () => {
      client.waitingForDrain = false;
      this.pump(client);
    });
    res.write(`event: hello\ndata: ${JSON.stringify(hello)}\n\n`);
    this.pump(client);
  }

  private pump(c: Client): void {
    if (c.waitingForDrain || this.closed) return;
    const last = this.summarized;
    if (c.next < this.ring.oldest) {
      c.dropped += this.ring.oldest - c.next;
      c.next = this.ring.oldest;
    }
    if (last - c.next + 1 > this.limits.maxClientLag) {
      const skip = last - c.next + 1 - this.limits.maxClientLag;
      c.dropped += skip;
      c.next += skip;
    }
    if (c.dropped > 0) {
      c.droppedTotal += c.dropped;
      c.res.write(`event: dropped\ndata: ${JSON.stringify({ count: c.dropped, total: c.droppedTotal })}\n\n`);
      c.dropped = 0;
    }
    while (c.next <= last) {
      const end = Math.min(last, c.next + ROWS_PER_MESSAGE - 1);
      const parts: string[] = [];
      for (let id = c.next; id <= end; id++) {
        if (c.filter !== null && !this.matches(c.filter, id)) continue;
        const r = this.row(id);
        if (r !== null) parts.push(r);
      }
      c.next = end + 1;
      if (parts.length === 0) continue;
      const ok = c.res.write(`event: packets\ndata: [${parts.join(',')}]\n\n`);
      if (!ok && c.res.writableLength > this.limits.maxClientBufferBytes) {
        c.waitingForDrain = true;
        return;
      }
    }
  }

  private matches(filter: FramePredicate, id: number): boolean {
    const bytes = this.ring.bytes(id);
    return bytes !== null && filter(bytes, 0, bytes.length, this.linkTypeOf(id));
  }

  private sendAll(text: string): void {
    for (const c of this.clients) if (!c.waitingForDrain) c.res.write(text);
  }

  close(): void {
    this.closed = true;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
