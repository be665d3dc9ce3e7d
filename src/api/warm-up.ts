/**
 * The start-up warm-up: before a stack on a TAP takes its first connection, run a bounded
 * number of TCP connections (handshake, one byte each way, close) between two throw-away
 * stacks joined back to back in memory, through the same code a TAP-attached stack runs:
 * Ethernet, ARP, IPv4 input and output, TCP's input, output, timers and lifecycle, the
 * net-like Socket and Server, Node's streams. V8 runs new code in its interpreter and
 * compiles it only once it has seen it run many times; a cold stack answers its first
 * thousand connections several times slower than it does after a few thousand (2.3k/s
 * against 10k/s one at a time). What V8 has to learn is taught here, at start-up.
 *
 * Nothing touches the stack being started: the two stacks here have their own devices
 * (TapDevices over an in-memory stand-in for the addon, link/memory-tap.ts), counters, tables, timers
 * and neighbor caches, and are closed before this returns, so no frame reaches a TAP, no
 * socket, TIME_WAIT entry, neighbor entry or timer is left, and the started stack's
 * counters stay as they were. What remains is what warming is for: compiled code, type
 * feedback, and up to the free lists' bound of spare TCP ring storage (transport/tcp/bytes.ts).
 *
 * Bounded in CPU time (1 s by default, checked between connections), in wall time (three
 * times that) and in count (4,000 connections, about what it takes V8 to compile the path).
 */

import type { TcpConfig } from '../transport/tcp/tcb.js';
import { memoryTapPair, memoryTapQueued } from '../link/memory-tap.js';
import { LoopbackDevice } from '../link/loopback.js';
import { Stack } from './stack.js';
import { createServer, connect, type Socket } from './net.js';

export interface WarmUpOptions {
  /** TCP settings of the stack being started: its code paths depend on them. */
  tcp?: Partial<TcpConfig>;
  /**
   * Stop starting new connections once the process has spent this many milliseconds of CPU
   * time on the warm-up (default 1000). CPU time, not wall time: on a loaded machine the same
   * wall time buys a fraction of the warming.
   */
  budgetMs?: number;
  /** And in any case after this many milliseconds of wall time (default 3 x budgetMs). */
  maxWallMs?: number;
  /** Stop after this many connections (default 4000). */
  maxConnections?: number;
  /** Connections open at once (default 4): more per event-loop turn, the same code. */
  inFlight?: number;
}

export interface WarmUpReport {
  /** Connections that completed (echo received, both sides closed). */
  connections: number;
  /** Connections that failed (an error, or a wrong echo); the warm-up stops at the first. */
  failures: number;
  elapsedMs: number;
  /** CPU time the process spent meanwhile (all its threads: V8 compiles in the background). */
  cpuMs: number;
  /**
   * What was left once done: the server's connections and TIME_WAIT entries (it closes
   * passively, as a server does), both stacks' armed timers and undelivered frames. All zero
   * unless something went wrong; the stacks are closed and dropped either way.
   */
  left: { connections: number; timeWait: number; timers: number; queuedFrames: number };
}

export const DEFAULT_WARM_UP_BUDGET_MS = 1000;
export const DEFAULT_WARM_UP_CONNECTIONS = 4000;

/** Addresses that exist only between the two throw-away stacks (nothing reaches a wire). */
const SERVER_ADDR = 0xc0000202; // 192.0.2.2
const CLIENT_ADDR = 0xc0000201; // 192.0.2.1
const SERVER_HOST = '192.0.2.2';
const LOOPBACK = { address: 0x7f000001, prefixLength: 8 };
const PORT = 7;
const MACS = { server: Uint8Array.of(0x02, 0, 0x5e, 0, 0x53, 0x02), client: Uint8Array.of(0x02, 0, 0x5e, 0, 0x53, 0x01) };
const BYTE = new Uint8Array([0x78]);
const AHEAD_CLOCK = { now: (): number => performance.now() + 2 ** 31 };

export async function warmUp(options: WarmUpOptions = {}): Promise<WarmUpReport> {
  const budgetMs = options.budgetMs ?? DEFAULT_WARM_UP_BUDGET_MS;
  const maxConnections = options.maxConnections ?? DEFAULT_WARM_UP_CONNECTIONS;
  const inFlight = Math.max(1, options.inFlight ?? 4);
  const start = performance.now();
  const wallDeadline = start + (options.maxWallMs ?? 3 * budgetMs);
  const cpuStart = process.cpuUsage();
  let overBudget = false;
  /** Checked between connections; CPU time every 16th time (getrusage costs up to 0.2 ms on a VM). */
  const withinBudget = (): boolean => {
    if (overBudget || performance.now() >= wallDeadline) return false;
    if ((started & 15) === 0) {
      const used = process.cpuUsage(cpuStart);
      overBudget = (used.user + used.system) / 1000 >= budgetMs;
    }
    return !overBudget;
  };
  const server = new Stack({ tcp: options.tcp });
  // The client's TIME_WAIT entries would pile up by the thousand and slow its port search; they
  // are not on a server's path, so they are let go after 50 ms (not at once: the ACK of
  // the server's FIN goes out on the next turn, and the server's LAST_ACK must see it).
  // Its clock runs 2^31 ms ahead, so its timestamps (clock + a random offset below 2^31) cover
  // the whole 32-bit range as a kernel's do: code V8 compiled for values below 2^31 only would
  // be thrown away at the first such timestamp from a real peer.
  const client = new Stack({ tcp: { ...options.tcp, timeWaitMs: 50 }, clock: AHEAD_CLOCK });
  // The collections memory-reclaim.ts schedules would land on the started stack's first connections.
  server.memory.onGiveBack = null;
  client.memory.onGiveBack = null;
  const [serverDevice, clientDevice] = memoryTapPair({ name: 'warm0', mac: MACS.server }, { name: 'warm1', mac: MACS.client });
  let connections = 0;
  let failures = 0;
  let started = 0;
  try {
    // Loopback beside the tap, as openTapHost sets a stack up: route lookups and address
    // checks then meet both kinds of interface, as they will in service.
    for (const stack of [server, client]) stack.addInterface(new LoopbackDevice(), LOOPBACK);
    server.addInterface(serverDevice, { address: SERVER_ADDR, prefixLength: 24 });
    client.addInterface(clientDevice, { address: CLIENT_ADDR, prefixLength: 24 });
    server.start();
    client.start();
    const listener = createServer(server, { allowHalfOpen: true }, echo);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(PORT, resolve);
    });
    await new Promise<void>((resolve) => {
      let open = 0;
      const next = (): void => {
        while (open < inFlight && failures === 0 && started < maxConnections && withinBudget()) {
          started++;
          open++;
          oneConnection(client, (ok) => {
            open--;
            if (ok) connections++;
            else failures++;
            next();
          });
        }
        if (open === 0) resolve();
      };
      next();
    });
    listener.close();
    // The server's last ACKs may still be on their way: let them land, so both sides end closed.
    for (let turn = 0; turn < 50 && (server.tcp.connectionCount > 0 || memoryTapQueued(serverDevice) + memoryTapQueued(clientDevice) > 0); turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch {
    failures++;
  } finally {
    client.close();
    server.close();
  }
  const left = {
    connections: server.tcp.connectionCount,
    timeWait: server.tcp.timeWaitCount,
    timers: server.timers.size + client.timers.size,
    queuedFrames: memoryTapQueued(serverDevice) + memoryTapQueued(clientDevice),
  };
  const cpu = process.cpuUsage(cpuStart);
  return { connections, failures, elapsedMs: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000, left };
}

/** The server's side, as an echo service is commonly written. */
function echo(socket: Socket): void {
  socket.pipe(socket);
  socket.on('error', destroy);
}

function destroy(this: Socket): void {
  this.destroy();
}

/**
 * The client's side, as a connections/s client does it: connect, send one byte, read it back,
 * close. `done(true)` once the echo came back and the socket closed.
 */
function oneConnection(stack: Stack, done: (ok: boolean) => void): void {
  let echoed = false;
  let finished = false;
  const finish = (ok: boolean): void => {
    if (finished) return;
    finished = true;
    done(ok);
  };
  const socket = connect(stack, { host: SERVER_HOST, port: PORT }, () => socket.write(BYTE));
  socket.on('data', (chunk: Buffer) => {
    echoed = chunk.length === 1 && chunk[0] === BYTE[0];
    socket.end();
  });
  socket.on('error', () => {
    socket.destroy();
    finish(false);
  });
  socket.on('close', () => finish(echoed));
}
