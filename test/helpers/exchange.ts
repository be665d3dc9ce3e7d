// Both directions of a bulk transfer between the two stacks of a Pair, hashed on arrival.
import { createHash } from 'node:crypto';
import type { Pair } from './two-stacks.js';
import { createServer, connect, type Socket } from '../../src/api/net.js';

export function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface Result {
  fromServer: string;
  fromClient: string;
  ms: number;
}

/**
 * The client sends `up` bytes while the server sends `down` bytes, both at once; each side
 * hashes what it receives and half-closes when done sending.
 */
export async function exchange(p: Pair, up: Uint8Array, down: Uint8Array, timeoutMs = 60_000, host = '192.0.2.2'): Promise<Result> {
  const t0 = performance.now();
  return new Promise<Result>((resolve, reject) => {
    let fromClient = '';
    let fromServer = '';
    const timer = setTimeout(() => reject(new Error(`transfer timed out: ${JSON.stringify(p.tcpA.stats)} ${JSON.stringify(p.wire.stats)}`)), timeoutMs);
    const done = () => {
      if (fromClient !== '' && fromServer !== '') {
        clearTimeout(timer);
        resolve({ fromServer, fromClient, ms: performance.now() - t0 });
      }
    };
    const server = createServer(p.b, { allowHalfOpen: true }, (s: Socket) => {
      const h = createHash('sha256');
      s.on('data', (d: Buffer) => h.update(d));
      s.on('end', () => {
        fromClient = h.digest('hex');
        done();
      });
      s.on('error', reject);
      s.end(down);
    }).listen(5001);
    const c = connect(p.a, { host, port: 5001, allowHalfOpen: true });
    const h = createHash('sha256');
    c.on('data', (d: Buffer) => h.update(d));
    c.on('end', () => {
      fromServer = h.digest('hex');
      server.close();
      done();
    });
    c.on('error', reject);
    c.end(up);
  });
}

