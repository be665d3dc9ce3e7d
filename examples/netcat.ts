/**
 * A small netcat over pstack: connect to HOST:PORT from a TAP device, copy stdin to the
 * connection (then half-close it) and the connection to stdout, until the peer closes.
 *
 *   sudo node dist/examples/netcat.js --tap tap0 --addr 192.0.2.2/24 192.0.2.1 5000 < in > out
 *   sudo node dist/examples/netcat.js ... --listen 5000     # accept one connection instead
 *
 * Exit status 0 when the connection ended cleanly. Reports transfer statistics on stderr
 * with --stats.
 */
import { startExampleHost } from './tap-host.js';
import { connect, createServer, type Socket } from '../src/api/net.js';

const USAGE = 'usage: netcat [--tap NAME] [--addr CIDR] [--host-addr CIDR|none] [--stats] (HOST PORT | --listen PORT)';
const { host, logger, values, positionals } = await startExampleHost({ listen: { type: 'string' }, stats: { type: 'boolean' } }, USAGE);
let t0 = performance.now();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    host.close(); // flushes a --pcap capture
    process.exit(130);
  });
}

function run(socket: Socket): void {
  if (!socket.connecting) t0 = performance.now();
  socket.once('connect', () => { t0 = performance.now(); });
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
  socket.on('error', (err) => {
    logger.error('connection failed', String(err));
    host.close();
    process.exit(1);
  });
  socket.on('close', () => {
    const s = (performance.now() - t0) / 1000;
    if (values.stats) {
      const mb = Math.max(socket.bytesWritten, socket.bytesRead) / 1e6;
      process.stderr.write(`sent ${socket.bytesWritten} received ${socket.bytesRead} in ${s.toFixed(3)} s (${(mb / s).toFixed(1)} MB/s)\n`);
    }
    process.stdout.write('', () => {
      // Give our last ACK a moment to leave before the device closes.
      setTimeout(() => {
        host.close();
        process.exit(0);
      }, 50);
    });
  });
}

if (typeof values.listen === 'string') {
  const server = createServer(host.stack, { allowHalfOpen: true }, (socket) => {
    server.close();
    run(socket);
  });
  server.listen(Number(values.listen), () => logger.info(`listening on port ${values.listen}`));
} else {
  const [h, p] = positionals;
  if (h === undefined || p === undefined) {
    process.stderr.write(USAGE + '\n');
    process.exit(2);
  }
  const socket = connect(host.stack, { host: h, port: Number(p), allowHalfOpen: true });
  run(socket);
}
