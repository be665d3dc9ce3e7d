/**
 * Node's http client over pstack's TCP: fetch a URL from a server on the host side of the tap.
 *
 *   sudo node dist/examples/http-client.js --addr 192.0.2.2/24 http://192.0.2.1:8000/
 *   ... --sha256        print the body's length and SHA-256 instead of the body
 *
 * http.request gets `createConnection: () => connect(stack, ...)`, so everything above the
 * socket is Node's.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startExampleHost } from './tap-host.js';
import { connect } from '../src/api/net.js';

const USAGE = 'usage: http-client [--tap NAME] [--addr CIDR] [--host-addr CIDR|none] [--sha256] URL';
const { host, logger, values, positionals } = await startExampleHost({ sha256: { type: 'boolean' } }, USAGE);
const url = new URL(positionals[0] ?? 'http://192.0.2.1/');

const req = http.request({
  host: url.hostname,
  port: Number(url.port || 80),
  path: url.pathname + url.search,
  method: 'GET',
  createConnection: () => connect(host.stack, { host: url.hostname, port: Number(url.port || 80) }),
}, (res) => {
  const hash = createHash('sha256');
  let length = 0;
  res.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (values.sha256) hash.update(chunk);
    else process.stdout.write(chunk);
  });
  res.on('end', () => {
    if (values.sha256) process.stdout.write(`status ${res.statusCode} length ${length} sha256 ${hash.digest('hex')}\n`);
    else logger.info('response complete', `status: ${res.statusCode}`, `length: ${length}`);
    // Let the FIN exchange finish before the process (and the stack) goes away.
    setTimeout(() => {
      host.close();
      process.exit(res.statusCode === 200 ? 0 : 1);
    }, 100);
  });
});
req.on('error', (err) => {
  logger.error('request failed', String(err));
  host.close();
  process.exit(1);
});
req.end();
