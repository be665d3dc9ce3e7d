// The receive window at zero and back, driven segment by segment with a fake clock: a full
// buffer advertises 0; a read too small to matter (under one MSS) sends nothing (RFC 9293
// 3.8.6.2.2 receiver silly-window avoidance); a read that frees at least one MSS sends one
// window update at once, without waiting for the peer's persist timer; the peer's probe into
// the closed window is answered with the current (zero) window and not accepted. "One MSS"
// is the MSS pstack advertised (1460 here: the interface MTU less 40), the largest segment
// the peer may send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F } from '../helpers/tcp-peer.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';

const PORT = 12345;
const MSS = 1000;
const BUFFER = 8 * MSS;
/** What pstack advertised in its SYN-ACK: the threshold of the silly-window rule. */
const OUR_MSS = 1460;
const SYN_OPTIONS: TcpOption[] = [{ kind: 'MSS', value: MSS }, { kind: 'SACK_PERMITTED' }];

function accept(p: ScriptedPeer): { tcb: Tcb; ours: number } {
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: SYN_OPTIONS });
  const synack = p.take()[0]!;
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535 });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  return { tcb, ours: (synack.seq + 1) >>> 0 };
}

test('a closed receive window reopens with one immediate update once a read frees an MSS', async () => {
  const p = new ScriptedPeer({ tcp: { recvBufferSize: BUFFER } });
  const { tcb, ours } = accept(p);
  const data = (seq: number) => ({ dstPort: PORT, seq, ack: ours, flags: F.ACK | F.PSH, window: 65535, data: new Uint8Array(MSS) });
  // Fill the buffer: the ACK of the last segment offers nothing more.
  for (let i = 0; i < 8; i++) p.send(data(1001 + i * MSS));
  const acks = p.take();
  const last = acks.at(-1)!;
  assert.equal(last.ack, 1001 + BUFFER);
  assert.equal(last.window, 0, 'the full buffer advertises a zero window');

  // The peer probes the closed window with one byte: not accepted, answered with window 0.
  p.send({ dstPort: PORT, seq: 1001 + BUFFER, ack: ours, flags: F.ACK, window: 65535, data: new Uint8Array(1) });
  const probeAnswer = p.take();
  assert.equal(probeAnswer.length, 1);
  assert.equal(probeAnswer[0]!.ack, 1001 + BUFFER, 'the probe byte is not taken');
  assert.equal(probeAnswer[0]!.window, 0);

  // Reading less than an MSS would offer a silly window: nothing is sent.
  const sink = new Uint8Array(BUFFER);
  assert.equal(p.tcp.read(tcb, sink, 0, 1000), 1000);
  await p.settle();
  assert.deepEqual(p.take(), [], 'no update for less than an MSS');

  // Another 600 bytes: 1600 free, at least one MSS. One update goes now, before any timer.
  assert.equal(p.tcp.read(tcb, sink, 0, 600), 600);
  await p.settle(); // the ACK goes from a microtask after the application's turn, no timer
  const update = p.take();
  assert.equal(update.length, 1, 'one window update');
  assert.equal(update[0]!.data.length, 0);
  assert.equal(update[0]!.ack, 1001 + BUFFER);
  assert.ok(1600 >= OUR_MSS);
  assert.equal(update[0]!.window, 1600, 'the whole free space is offered');

  // The peer fills it; the window closes again and the next large read reopens it at once.
  p.send({ dstPort: PORT, seq: 1001 + BUFFER, ack: ours, flags: F.ACK, window: 65535, data: new Uint8Array(1600) });
  assert.equal(p.take().at(-1)!.window, 0);
  assert.equal(p.tcp.read(tcb, sink, 0, BUFFER), BUFFER);
  await p.settle();
  const reopened = p.take();
  assert.equal(reopened.length, 1);
  assert.equal(reopened[0]!.window, BUFFER, 'a drained buffer is offered whole');
  p.close();
});

test('a read that leaves the open window less than doubled sends no extra update', async () => {
  const p = new ScriptedPeer({ tcp: { recvBufferSize: BUFFER } });
  const { tcb, ours } = accept(p);
  // Half the buffer arrives: 4000 offered. Reading 1000 would offer 5000, not twice 4000:
  // the next ACK carries it (as Linux's tcp_cleanup_rbuf decides).
  for (let i = 0; i < 4; i++) p.send({ dstPort: PORT, seq: 1001 + i * MSS, ack: ours, flags: F.ACK, window: 65535, data: new Uint8Array(MSS) });
  assert.equal(p.take().at(-1)!.window, 4 * MSS);
  const sink = new Uint8Array(BUFFER);
  assert.equal(p.tcp.read(tcb, sink, 0, MSS), MSS);
  await p.settle();
  assert.deepEqual(p.take(), []);
  p.close();
});
