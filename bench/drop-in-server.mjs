// The kernel's side of `npm run bench:drop-in`: a plain Node HTTP server on the kernel's stack
// (run without pstack), on every address of the bench's server namespace (the tap's 192.0.2.1
// and the veth's 203.0.113.1), port 8080. Keep-alive (Node's default), a tiny response.
// Prints "server ready" when it listens.
import http from 'node:http';

const body = Buffer.from('ok\n');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 30_000;
server.listen(8080, '0.0.0.0', () => console.log('server ready'));
process.on('SIGTERM', () => process.exit(0));
