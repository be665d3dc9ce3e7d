/**
 * The capture stream of the control socket: `{"cmd":"capture","interface":"tap0","count":10,
 * "filter":"icmp"}` turns the connection into a stream of frames, for `pstack capture`.
 *
 * After the request the server answers one JSON line, {"ok":true,"interfaces":[{"name","linkType"}]}
 * (or {"ok":false,"error":...} and closes), then sends records, each a 4-byte big-endian length
 * and that many bytes:
 *
 *   type 1, a frame:  u8 1, u8 direction (1 in, 2 out), u16 interface index, u32 seconds,
 *                     u32 microseconds, then the frame's bytes
 *   type 2, the end:  u8 2, then JSON {"matched","dropped"}; the server then closes
 *
 * The client may send {"cmd":"capture-stop"} to end early (it still gets the end record).
 *
 * The filter runs here, in the server, before any copy: a frame that does not match costs the
 * predicate only. A frame that matches is copied into the client's queue; when the client
 * reads too slowly and MAX_QUEUED_BYTES wait unsent, frames are dropped and counted instead,
 * so a stalled reader never holds up the stack (each client has its own queue and count).
 */

import type { Socket } from 'node:net';
import type { Stack } from '../api/stack.js';
import type { Device } from '../link/device.js';
import type { ObserverHub } from '../stack/observer-hub.js';
import type { PacketObserver } from '../stack/observer.js';
import { FilterSyntaxError, compileFilter, type FramePredicate } from '../observe/filter.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../observe/pcapng.js';

export const RECORD_FRAME = 1;
export const RECORD_END = 2;
const FRAME_HEADER = 4 + 12;
const MAX_QUEUED_BYTES = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const FLUSH_MS = 10;
/** Captures attached at once (each costs a copy per matching frame). */
export const MAX_CAPTURES = 8;

export interface CaptureInterfaceJson {
  name: string;
  linkType: number;
}

export interface CaptureEndJson {
  matched: number;
  dropped: number;
}

let active = 0;

function wallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Serve a capture request on `conn` (its request line already read). Returns false when the
 * request was refused (an error line was sent).
 */
export function startCaptureStream(stack: Stack, hub: ObserverHub, conn: Socket, req: Record<string, unknown>): boolean {
  const refuse = (error: string) => {
    conn.end(JSON.stringify({ ok: false, error }) + '\n');
    return false;
  };
  const ifaceName = req['interface'];
  if (ifaceName !== undefined && ifaceName !== null && typeof ifaceName !== 'string') return refuse('"interface" must be a string');
  const count = req['count'];
  if (count !== undefined && count !== null && (typeof count !== 'number' || !Number.isInteger(count) || count < 1)) return refuse('"count" must be a whole number of at least 1');
  const filterText = req['filter'] ?? '';
  if (typeof filterText !== 'string') return refuse('"filter" must be a string');
  let filter: FramePredicate;
  try {
    filter = compileFilter(filterText);
  } catch (err) {
    if (err instanceof FilterSyntaxError) return refuse(err.message);
    throw err;
  }
  const devices = stack.devices;
  let only: Device | null = null;
  if (typeof ifaceName === 'string' && ifaceName !== 'any') {
    only = devices.find((d) => d.name === ifaceName) ?? null;
    if (only === null) return refuse(`no interface named ${JSON.stringify(ifaceName)} (have ${devices.map((d) => d.name).join(', ')}, any)`);
  }
  if (active >= MAX_CAPTURES) return refuse(`${MAX_CAPTURES} captures are attached already`);
  active++;
  const interfaces: CaptureInterfaceJson[] = devices.map((d) => ({ name: d.name, linkType: d.type === 'loopback' ? LINKTYPE_RAW : LINKTYPE_ETHERNET }));
  conn.setTimeout(0);
  conn.write(JSON.stringify({ ok: true, interfaces }) + '\n');

  const limit = typeof count === 'number' ? count : Infinity;
  let matched = 0;
  let dropped = 0;
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let used = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let finished = false;
  const flush = () => {
    timer = null;
    if (used === 0 || conn.destroyed) return;
    conn.write(chunk.subarray(0, used));
    chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    used = 0;
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    stop();
    active--;
    if (timer !== null) clearTimeout(timer);
    flush();
    if (conn.destroyed) return;
    const end = Buffer.from(JSON.stringify({ matched, dropped } satisfies CaptureEndJson));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(end.length + 1, 0);
    head[4] = RECORD_END;
    conn.end(Buffer.concat([head, end]));
  };
  const watcher: PacketObserver = {
    frame(direction, device, buf, offset, length) {
      if (finished || (only !== null && device !== only)) return;
      if (!filter(buf, offset, length, device.type === 'loopback' ? 'ip' : 'ethernet')) return;
      matched++;
      const size = FRAME_HEADER + length;
      if (conn.writableLength + used + size > MAX_QUEUED_BYTES) {
        dropped++;
      } else {
        if (used + size > chunk.length) {
          flush();
          if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
        }
        const us = wallClockUs();
        const at = used;
        chunk.writeUInt32BE(size - 4, at);
        chunk[at + 4] = RECORD_FRAME;
        chunk[at + 5] = direction === 'incoming' ? 1 : 2;
        chunk.writeUInt16BE(devices.indexOf(device), at + 6);
        chunk.writeUInt32BE(Math.floor(us / 1e6), at + 8);
        chunk.writeUInt32BE(us % 1e6, at + 12);
        chunk.set(buf.subarray(offset, offset + length), at + FRAME_HEADER);
        used += size;
        if (timer === null) timer = setTimeout(flush, FLUSH_MS);
      }
      if (matched >= limit) queueMicrotask(finish);
    },
  };
  const stop = hub.add(watcher);
  conn.on('close', finish);
  let pending = '';
  conn.setEncoding('utf8');
  conn.removeAllListeners('data');
  conn.on('data', (text: string) => {
    pending += text;
    if (pending.includes('capture-stop')) finish();
    if (pending.length > 4096) pending = pending.slice(-64);
  });
  return true;
}
