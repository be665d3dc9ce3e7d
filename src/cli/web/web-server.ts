/**
 * `pstack server --web HOST:PORT`: the live web page, served by Node's own http on the host
 * (not over pstack), on the address given and no other.
 *
 *   GET /                 the page (static files from the package's web/ folder)
 *   GET /events           Server-Sent Events: hello, packets (table rows), dropped;
 *                         ?filter=EXPR sends only the frames a tcpdump expression matches
 *   GET /filter?filter=EXPR  whether EXPR compiles ({ok: true} or {error})
 *   GET /packet/ID        one frame: its layers field by field with byte ranges, and its bytes
 *   GET /tcp              the TCP connections, as `ss -ti` shows them
 *   GET /capture.pcapng   the frames still kept, as a pcapng file
 *
 * Everything is read-only: no request changes the stack. Requests whose Host header is not an
 * IP address or localhost are refused (403), so no other web site can read the page's data.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ObserverHub } from '../../stack/observer-hub.js';
import type { Stack } from '../../api/stack.js';
import { tcpConnectionInfo } from '../../api/tcp-info.js';
import { frameLayers } from '../../observe/fields.js';
import {
  DIRECTION_INBOUND, DIRECTION_OUTBOUND, LINKTYPE_ETHERNET,
  encodeCaptureHeader, encodeEnhancedPacket, encodeRawIpAsEthernet, enhancedPacketSize, LOOPBACK_ETHERNET_HEADER,
} from '../../observe/pcapng.js';
import { compileFilter, FilterSyntaxError, type FramePredicate } from '../../observe/filter.js';
import { FatalError } from '../errors.js';
import { hostHeaderAllowed, webUrl, type WebAddress } from './address.js';
import { LiveFeed, type FeedLimits } from './live-feed.js';

/** The page's files: web/ at the package root (this file is dist/src/cli/web/web-server.js). */
const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../../../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface WebServerOptions {
  address: WebAddress;
  observers: ObserverHub;
  /** Whose TCP connections GET /tcp lists. */
  stack: Stack;
  /** Shown on the page: pstack's interfaces, one string each. */
  interfaces: string[];
  staticDir?: string;
  limits?: Partial<FeedLimits>;
}

export interface WebServer {
  readonly url: string;
  readonly feed: LiveFeed;
  close(): Promise<void>;
}

function loadStatic(dir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type !== undefined) files.set('/' + name, { type, body: readFileSync(join(dir, name)) });
  }
  const index = files.get('/index.html');
  if (index === undefined) throw new FatalError(`the web page's files are missing: no index.html in ${dir}`);
  files.set('/', index);
  return files;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function packetJson(feed: LiveFeed, id: number): unknown {
  const bytes = feed.ring.bytes(id);
  if (bytes === null) return null;
  const row = JSON.parse(feed.row(id)!) as Record<string, unknown>;
  const direction = feed.ring.outgoing(id) ? 'outgoing' : 'incoming';
  return {
    ...row,
    captured: bytes.length,
    hex: Buffer.from(bytes).toString('hex'),
    layers: frameLayers(direction, bytes, 0, bytes.length, feed.linkTypeOf(id)),
  };
}

/** The kept frames as one pcapng file: an interface per device seen, each frame with its direction. */
export function capturePcapng(feed: LiveFeed): Uint8Array {
  const ring = feed.ring;
  const header = encodeCaptureHeader(feed.devices.map((d) => ({
    // Loopback's raw IP goes in as Linux's lo does (zero Ethernet header): tcpdump reads a
    // pcapng file only when all its interfaces share one link type.
    name: d.name, linkType: LINKTYPE_ETHERNET,
  })));
  const rawIp = feed.devices.map((d) => d.linkType === 'ip');
  let size = header.length;
  for (let id = ring.oldest; id <= ring.last; id++) {
    size += enhancedPacketSize(ring.bytes(id)!.length + (rawIp[ring.device(id)] === true ? LOOPBACK_ETHERNET_HEADER : 0));
  }
  const out = new Uint8Array(size);
  out.set(header, 0);
  let at = header.length;
  for (let id = ring.oldest; id <= ring.last; id++) {
    const bytes = ring.bytes(id)!;
    const encode = rawIp[ring.device(id)] === true ? encodeRawIpAsEthernet : encodeEnhancedPacket;
    at += encode(out, at, ring.device(id), ring.timeUs(id), ring.outgoing(id) ? DIRECTION_OUTBOUND : DIRECTION_INBOUND,
      bytes, 0, bytes.length, ring.wireLength(id));
  }
  return out;
}

function listenError(err: NodeJS.ErrnoException, where: string): FatalError {
  const why =
    err.code === 'EADDRINUSE' ? 'the address is already in use' :
    err.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' :
    err.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' :
    err.message;
  return new FatalError(`cannot serve the web page on ${where}: ${why}`);
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const files = loadStatic(options.staticDir ?? DEFAULT_STATIC_DIR);
  const feed = new LiveFeed(options.limits);
  const started = Date.now();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!hostHeaderAllowed(req.headers.host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('open the page by its address (the URL pstack printed)\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://page/');
    const path = url.pathname;
    const expression = url.searchParams.get('filter')?.trim() ?? '';
    let filter: FramePredicate | null = null;
    if (expression !== '') {
      try {
        filter = compileFilter(expression);
      } catch (err) {
        if (!(err instanceof FilterSyntaxError)) throw err;
        sendJson(res, 400, { error: err.message });
        return;
      }
    }
    if (path === '/filter') {
      sendJson(res, 200, { ok: true });
      return;
    }
    if (path === '/events') {
      feed.attach(res, { interfaces: options.interfaces, started, oldest: feed.ring.oldest, last: feed.ring.last, filter: expression }, filter);
      return;
    }
    const packet = /^\/packet\/(\d{1,15})$/.exec(path);
    if (packet !== null) {
      const value = packetJson(feed, Number(packet[1]));
      if (value === null) sendJson(res, 404, { error: 'that packet is no longer kept' });
      else sendJson(res, 200, value);
      return;
    }
    if (path === '/tcp') {
      sendJson(res, 200, { connections: tcpConnectionInfo(options.stack) });
      return;
    }
    if (path === '/capture.pcapng') {
      const body = capturePcapng(feed);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-disposition': 'attachment; filename="pstack.pcapng"',
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      res.end(body);
      return;
    }
    const file = files.get(path);
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      // A bug in a handler must not take the stack down: answer 500 and keep serving.
      if (!res.headersSent) sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.end();
    }
  });
  const { host, port } = options.address;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err as NodeJS.ErrnoException, `${host}:${port}`)));
    server.listen(port, host, () => resolve());
  }).catch((err) => {
    feed.close();
    throw err;
  });
  const bound = server.address();
  const url = webUrl(host, typeof bound === 'object' && bound !== null ? bound.port : port);
  const stopWatching = options.observers.add(feed.observer);
  return {
    url,
    feed,
    close: () => new Promise<void>((resolve) => {
      stopWatching();
      feed.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
