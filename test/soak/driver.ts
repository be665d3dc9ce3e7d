/**
 * The soak's traffic, run inside the test namespace with the kernel's own sockets (Node's net
 * and dgram): TCP echo connections churning (many short ones, some long bulk transfers), and
 * a UDP echo stream, every echo checked byte for byte (SHA-256). Runs until its deadline, then
 * prints one JSON summary line; a progress line every few seconds goes to stderr.
 *
 *   node driver.js HOST SECONDS [SHORT_WORKERS] [BULK_WORKERS]
 *   node driver.js HOST --check     one 64 KB echo: prints "ok", or why not and exits 1
 *
 * Bounded: every connection has a timeout, workers pause between connections, and nothing
 * new starts after the deadline.
 */

import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { controlRequest } from '../../src/cli/control.js';

const TCP_PORT = 12345;
const UDP_PORT = 7;

export interface DriverSummary {
  shortOk: number;
  shortFailed: number;
  bulkOk: number;
  bulkFailed: number;
  bytesEchoed: number;
  /** Echoes that came back different from what was sent: always a failure. */
  corrupt: number;
  udpSent: number;
  udpEchoed: number;
  udpCorrupt: number;
  /** The first few failure reasons, for the report. */
  errors: string[];
}

const summary: DriverSummary = {
  shortOk: 0, shortFailed: 0, bulkOk: 0, bulkFailed: 0, bytesEchoed: 0, corrupt: 0,
  udpSent: 0, udpEchoed: 0, udpCorrupt: 0, errors: [],
};

function noteError(what: string): void {
  if (summary.errors.length < 20) summary.errors.push(what);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * How the kernel sees a connection that timed out (`ss -tin` for its local port: state,
 * retransmissions, RTO, bytes unacknowledged), so a failure says where it stuck.
 */
function kernelView(sock: Socket, host: string): string {
  const port = sock.localPort;
  if (port === undefined) return '; never connected';
  try {
    const out = execFileSync('ss', ['-tinH', 'state', 'all', `( sport = :${port} )`], { timeout: 2000 }).toString();
    // The kernel's ARP entry for pstack too: a SYN-SENT socket with more retransmissions than
    // its backoff allows (seen once) suggests SYNs that failed locally, i.e. ARP.
    const neigh = execFileSync('ip', ['-4', 'neigh', 'show', 'to', host], { timeout: 2000 }).toString();
    // And the kernel's counters that say why it would ignore or refuse a SYN-ACK.
    const mib = execFileSync('nstat', ['-az', 'TcpInCsumErrors', 'TcpInErrs', 'TcpOutRsts', 'TcpAttemptFails', 'TcpExtPAWSActive', 'TcpExtTCPSynRetrans', 'TcpExtTCPChallengeACK'], { timeout: 2000 }).toString();
    const counters = [...mib.matchAll(/^(\w+)\s+(\d+)/gm)].map((m) => `${m[1]}=${m[2]}`).join(' ');
    return `; port ${port}, kernel: ${out.replace(/\s+/g, ' ').trim() || 'no socket'}; neigh: ${neigh.trim() || 'none'}; ${counters}`;
  } catch (err) {
    return `; port ${port}, ss failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * How pstack sees the same connection (its netstat over the control socket the soak passes in
 * PSTACK_SOAK_CONTROL): which block, if any, that 4-tuple meets on pstack's side.
 */
async function pstackView(port: number | undefined): Promise<string> {
  const control = process.env['PSTACK_SOAK_CONTROL'];
  if (control === undefined || port === undefined) return '';
  try {
    const r = await controlRequest(control, { cmd: 'netstat' });
    const mine = ((r['endpoints'] ?? []) as Array<Record<string, unknown>>).filter((e) => e['protocol'] === 'tcp' && e['remotePort'] === port);
    return `; pstack: ${mine.length === 0 ? 'no block for that port' : JSON.stringify(mine)}`;
  } catch (err) {
    return `; pstack netstat failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * One echo connection: send `total` random bytes in chunks (as fast as the window allows),
 * half-close, read the echo to the end and compare hashes. Resolves with the outcome.
 */
function echoOnce(host: string, total: number, timeoutMs: number): Promise<'ok' | 'corrupt' | string> {
  return new Promise((resolve) => {
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let received = 0;
    let settled = false;
    const sock: Socket = connect({ host, port: TCP_PORT, allowHalfOpen: true });
    const finish = (outcome: 'ok' | 'corrupt' | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      const why = `timeout after ${timeoutMs} ms (${received}/${total} bytes back)${kernelView(sock, host)}`;
      void pstackView(sock.localPort).then((view) => finish(why + view));
    }, timeoutMs);
    sock.on('error', (err: NodeJS.ErrnoException) => finish(`error ${err.code ?? err.message} (${received}/${total} bytes back)`));
    sock.on('data', (b: Buffer) => {
      received += b.length;
      got.update(b);
    });
    sock.on('end', () => {
      if (received !== total) finish(`short echo: ${received}/${total} bytes`);
      else finish(sent.digest('hex') === got.digest('hex') ? 'ok' : 'corrupt');
    });
    sock.on('connect', () => {
      let left = total;
      const writeMore = () => {
        while (left > 0) {
          const chunk = randomBytes(Math.min(left, 64 * 1024));
          sent.update(chunk);
          left -= chunk.length;
          if (!sock.write(chunk)) {
            sock.once('drain', writeMore);
            return;
          }
        }
        sock.end();
      };
      writeMore();
    });
  });
}

async function shortWorker(host: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const size = randomInt(1, 16 * 1024);
    const outcome = await echoOnce(host, size, 30_000);
    if (outcome === 'ok') {
      summary.shortOk++;
      summary.bytesEchoed += size;
    } else {
      summary.shortFailed++;
      if (outcome === 'corrupt') summary.corrupt++;
      noteError(`short ${size} B: ${outcome}`);
    }
    await sleep(randomInt(10, 60));
  }
}

async function bulkWorker(host: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const size = randomInt(2, 9) * 1024 * 1024;
    const outcome = await echoOnce(host, size, 180_000);
    if (outcome === 'ok') {
      summary.bulkOk++;
      summary.bytesEchoed += size;
    } else {
      summary.bulkFailed++;
      if (outcome === 'corrupt') summary.corrupt++;
      noteError(`bulk ${size} B: ${outcome}`);
    }
    await sleep(500);
  }
}

/** A datagram every 20 ms; each carries its sequence number and its own hash. */
async function udpWorker(host: string, deadline: number): Promise<void> {
  const sock = createSocket('udp4');
  sock.on('message', (msg) => {
    if (msg.length < 36) {
      summary.udpCorrupt++;
      return;
    }
    const body = msg.subarray(32);
    const ok = createHash('sha256').update(body).digest().equals(msg.subarray(0, 32));
    if (ok) summary.udpEchoed++;
    else summary.udpCorrupt++;
  });
  sock.on('error', (err) => noteError(`udp: ${err.message}`));
  while (Date.now() < deadline) {
    const body = randomBytes(randomInt(4, 1400));
    body.writeUInt32BE(summary.udpSent, 0);
    const msg = Buffer.concat([createHash('sha256').update(body).digest(), body]);
    sock.send(msg, UDP_PORT, host);
    summary.udpSent++;
    await sleep(20);
  }
  await sleep(1000); // the last echoes
  sock.close();
}

async function main(): Promise<void> {
  const [host = '192.0.2.2', secondsText = '60', shortText = '4', bulkText = '1'] = process.argv.slice(2);
  if (secondsText === '--check') {
    const outcome = await echoOnce(host, 64 * 1024, 10_000);
    process.stdout.write(`${outcome}\n`);
    if (outcome !== 'ok') process.exitCode = 1;
    return;
  }
  const deadline = Date.now() + Number(secondsText) * 1000;
  const progress = setInterval(() => process.stderr.write(`driver ${JSON.stringify(summary)}\n`), 10_000);
  const workers: Promise<void>[] = [udpWorker(host, deadline)];
  for (let i = 0; i < Number(shortText); i++) workers.push(shortWorker(host, deadline));
  for (let i = 0; i < Number(bulkText); i++) workers.push(bulkWorker(host, deadline));
  await Promise.all(workers);
  clearInterval(progress);
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`driver failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
