/**
 * The pstack side of `npm run bench`'s TCP tests: a pstack host on a TAP (flags as for the
 * examples: --tap, --addr, ...) running three services written with the Node-style Stack API.
 *
 *   5001 sink    reads and discards everything; closes when the peer has half-closed
 *   5002 source  reads one line "N\n", sends N bytes, then closes
 *   5003 echo    sends back what it receives (socket.pipe(socket)), half-close passes through
 *
 * bench/tcp_bench.py is the client (and, for the kernel reference, the same services in
 * Python over a veth). Prints "bench peer ready" on stderr once listening.
 */
import { startExampleHost } from '../examples/tap-host.js';
import { createServer, type Socket } from '../src/api/net.js';

const { host } = await startExampleHost({}, 'usage: peer [--tap NAME] [--addr CIDR] [--addr6 CIDR] [--log-level L]');
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    host.close();
    process.exit(0);
  });
}

const CHUNK = Buffer.alloc(256 * 1024);

function sink(socket: Socket): void {
  socket.on('data', () => { /* discard */ });
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
}

function source(socket: Socket): void {
  let line = '';
  let remaining = -1;
  const pump = (): void => {
    while (remaining > 0) {
      const n = Math.min(remaining, CHUNK.length);
      remaining -= n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  socket.on('data', (b: Buffer) => {
    if (remaining >= 0) return;
    line += b.toString('latin1');
    const nl = line.indexOf('\n');
    if (nl < 0) {
      if (line.length > 64) socket.destroy();
      return;
    }
    remaining = Math.max(0, Math.min(Number(line.slice(0, nl)) || 0, 10_000_000_000));
    pump();
  });
  socket.on('error', () => socket.destroy());
}

function echo(socket: Socket): void {
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
}

let listening = 0;
const ready = (): void => {
  if (++listening === 3) process.stderr.write(`bench peer ready (warm-up: ${host.warmUp === null ? 'off' : `${host.warmUp.connections} connections in ${Math.round(host.warmUp.elapsedMs)} ms`})\n`);
};
createServer(host.stack, { allowHalfOpen: true }, sink).listen(5001, ready);
createServer(host.stack, { allowHalfOpen: true }, source).listen(5002, ready);
createServer(host.stack, { allowHalfOpen: true }, echo).listen(5003, ready);
