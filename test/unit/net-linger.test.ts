// A destroyed socket whose data or FIN TCP still delivers keeps the event loop held, as a
// libuv handle would, without keeping the socket itself reachable: on a stream of short
// connections, sockets held until their FIN's ACK (or a periodic check) would outlive V8's
// young generation and be promoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makePair } from '../helpers/two-stacks.js';
import { createServer, connect, loopHolds, type Socket } from '../../src/api/net.js';
import { TcpState } from '../../src/transport/tcp/tcb.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('destroyed with its FIN unacknowledged: the loop stays held until TCP is done, the socket is collectable at once', { timeout: 30_000 }, async () => {
  const p = makePair();
  const keep = setInterval(() => {}, 1000);
  try {
    let accepted: Socket | null = null;
    const server = createServer(p.b, (s) => { accepted = s; }).listen(9);
    await once(server, 'listening');
    const c = connect(p.a, { host: '192.0.2.2', port: 9 });
    c.on('error', () => {});
    await once(c, 'connect');
    for (let i = 0; i < 100 && accepted === null; i++) await tick(1);
    assert.ok(accepted !== null, 'accepted');
    const holds = loopHolds();

    // A hears nothing any more: B's FIN stays unacknowledged and is retransmitted.
    p.wire.devices[0]!.close();
    let socket: Socket | null = accepted as Socket | null;
    accepted = null;
    const ref = new WeakRef(socket!);
    const closed = once(socket!, 'close');
    socket!.destroy();
    socket = null;
    await closed;
    await tick(120); // more than one linger check

    const tcb = p.b.tcp.connections().find((t) => t.localPort === 9);
    assert.ok(tcb !== undefined && tcb.state === TcpState.FIN_WAIT_1 && !tcb.finAcked, `FIN in flight (${tcb?.stateName})`);
    assert.equal(loopHolds(), holds, 'the destroyed socket still holds the loop while TCP delivers its FIN');
    gc();
    await tick();
    gc();
    assert.equal(ref.deref(), undefined, 'nothing keeps the destroyed socket reachable');

    // Once TCP gives up on the connection, the hold goes.
    p.tcpB.abort(tcb);
    await tick(120);
    assert.equal(loopHolds(), holds - 1, 'released once the connection is gone');
    c.destroy();
    server.close();
  } finally {
    clearInterval(keep);
    p.close();
  }
});
