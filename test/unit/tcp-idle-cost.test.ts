// What an idle connection costs: no host timer of its own (one entry in the stack's timer
// heap, re-armed, never re-created), and no buffer storage once its data is delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePair } from '../helpers/two-stacks.js';
import { createServer, connect, type Socket } from '../../src/api/net.js';

const CONNECTIONS = 300;

/**
 * Host timers (setTimeout handles, unref'd or not) alive while the test runs: the global
 * setTimeout/clearTimeout are wrapped to keep a count of the live ones.
 */
const liveTimers = new Set<unknown>();
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
function trackHostTimers(): () => void {
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const h = realSetTimeout(() => {
      liveTimers.delete(h);
      fn(...args);
    }, ms);
    liveTimers.add(h);
    return h;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((h: NodeJS.Timeout | undefined) => {
    liveTimers.delete(h);
    realClearTimeout(h);
  }) as typeof clearTimeout;
  return () => {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  };
}

function hostTimers(): number {
  return liveTimers.size;
}

test(`${CONNECTIONS} connections from SYN to ESTABLISHED add no host timers, one heap timer each, and hold no buffer storage once idle`, async () => {
  const untrack = trackHostTimers();
  const p = makePair();
  try {
    const accepted: Socket[] = [];
    const server = createServer(p.b, (s: Socket) => {
      accepted.push(s);
      s.on('data', (d: Buffer) => s.write(d)); // echo once, then idle
    }).listen(7000);
    // The stack's own timers (ARP and the like) first: resolve the neighbour once.
    const warm = connect(p.a, { host: '192.0.2.2', port: 7000 });
    await new Promise<void>((resolve) => warm.once('connect', resolve));
    while (accepted.length < 1) await new Promise((r) => setImmediate(r));
    const hostBefore = hostTimers();
    const heapBefore = p.a.timers.size + p.b.timers.size;

    const clients: Socket[] = [];
    await Promise.all(Array.from({ length: CONNECTIONS }, () => new Promise<void>((resolve, reject) => {
      const c = connect(p.a, { host: '192.0.2.2', port: 7000 }, resolve);
      c.on('error', reject);
      clients.push(c);
    })));
    while (accepted.length < CONNECTIONS + 1) await new Promise((r) => setImmediate(r));
    // The heap's one wake-up timer may be re-armed, never multiplied.
    assert.ok(hostTimers() <= Math.max(hostBefore, 2), `host timers ${hostBefore} -> ${hostTimers()}`);
    // At most one heap entry per connection block on each side (armed only while a deadline is set).
    assert.ok(p.a.timers.size + p.b.timers.size - heapBefore <= 2 * CONNECTIONS, `heap timers ${heapBefore} -> ${p.a.timers.size + p.b.timers.size}`);

    // One exchange on each, then idle: every buffer gives its storage back.
    await Promise.all(clients.map((c, i) => new Promise<void>((resolve) => {
      c.once('data', () => resolve());
      c.write(`hello ${i}`);
    })));
    await new Promise((r) => realSetTimeout(r, 100)); // the last ACKs
    const tcbs = [...p.tcpA.connections(), ...p.tcpB.connections()];
    assert.equal(tcbs.length, 2 * (CONNECTIONS + 1));
    const holding = tcbs.filter((t) => t.sendBuffer.storageSize !== 0 || t.recvBuffer.storageSize !== 0);
    assert.deepEqual(holding.map((t) => `${t.localPort}->${t.remotePort} send ${t.sendBuffer.storageSize} recv ${t.recvBuffer.storageSize}`), []);
    assert.ok(hostTimers() <= Math.max(hostBefore, 2));

    for (const c of [warm, ...clients]) c.destroy();
    server.close();
  } finally {
    p.close();
    untrack();
  }
});
