/**
 * Node's own http server, served over pstack's TCP on a TAP device.
 *
 *   sudo node dist/examples/http-server.js [--tap tap0] [--addr 192.0.2.2/24] [--port 8080]
 *   curl http://192.0.2.2:8080/            # from the host
 *   curl http://192.0.2.2:8080/bytes/1000000 | sha256sum
 *
 * Every accepted pstack socket is handed to http.Server as a 'connection' (serveHttp), so
 * the request parsing, keep-alive and chunking are all Node's; only TCP/IP is pstack's.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startExampleHost } from './tap-host.js';
import { createServer, serveHttp } from '../src/api/net.js';

const USAGE = `usage: http-server [--tap NAME] [--addr CIDR] [--host-addr CIDR|none] [--port N] [--log-level L]
  GET /            a greeting
  GET /bytes/N     N pseudo-random bytes (deterministic; sha256 in the x-sha256 header)
  POST /echo       the request body back`;

const { host, logger, values } = await startExampleHost({ port: { type: 'string' } }, USAGE);
const port = Number(values.port ?? process.env.PSTACK_PORT ?? 8080);

/** Deterministic bytes (xorshift) so a client can check what it got. */
function bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const httpServer = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const m = /^\/bytes\/(\d+)$/.exec(url);
  if (m !== null && Number(m[1]) <= 256 * 1024 * 1024) {
    const body = bytes(Number(m[1]));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-sha256': createHash('sha256').update(body).digest('hex') });
    res.end(body);
  } else if (url === '/echo' && req.method === 'POST') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
  } else if (url === '/') {
    const text = `hello from pstack: you are ${req.socket.remoteAddress}:${req.socket.remotePort}, I am ${req.socket.localAddress}:${req.socket.localPort}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
});

const server = serveHttp(createServer(host.stack), httpServer);
server.on('error', (err) => {
  logger.error('cannot listen', String(err));
  process.exit(1);
});
server.listen(port, () => logger.info(`pstack http server listening on port ${port}`));

const stop = () => {
  server.close();
  server.destroyAll();
  httpServer.close();
  host.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
