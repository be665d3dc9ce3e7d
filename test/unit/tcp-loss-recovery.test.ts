// Loss recovery at its edges, driven segment by segment with a fake clock: the probe is armed
// after a burst that began when nothing was outstanding, and a segment still lost when a
// recovery ends starts the next one at once. RACK-TLP and PRR rule by rule: tcp-rack.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F } from '../helpers/tcp-peer.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';

const PORT = 12345;
const MSS = 1000;
/** SACK without timestamps keeps the peer's segments short; MSS 1000 keeps the arithmetic plain. */
const SYN_OPTIONS: TcpOption[] = [{ kind: 'MSS', value: MSS }, { kind: 'SACK_PERMITTED' }];

function accept(p: ScriptedPeer): { tcb: Tcb; una: number } {
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: SYN_OPTIONS });
  const synack = p.take()[0]!;
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535 });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  return { tcb, una: (synack.seq + 1) >>> 0 };
}

/** A duplicate ACK of `una` SACKing [una + from, una + to). */
function sackAck(una: number, from: number, to: number) {
  const block: [number, number] = [(una + from) >>> 0, (una + to) >>> 0];
  return { dstPort: PORT, seq: 1001, ack: una, flags: F.ACK, window: 65535, options: [{ kind: 'SACK', blocks: [block] }] as TcpOption[] };
}

test('a burst that starts with nothing outstanding arms the probe, not only the RTO', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  // One segment alone would wait for the peer's delayed ACK (PTO 10 + 200 ms > RTO): the
  // RTO. Three in one burst: PTO = max(2*SRTT, 10 ms).
  p.tcp.send(tcb, new Uint8Array(3 * MSS));
  assert.equal(p.take().length, 3);
  const probes: number[] = [];
  for (let t = 1; t <= 50; t++) {
    p.advance(1);
    for (const s of p.take()) if (s.data.length > 0) probes.push(t, s.seq - una);
  }
  assert.deepEqual(probes, [10, 2 * MSS], 'a tail loss probe of the last segment at 10 ms');
  assert.equal(p.tcp.stats.tailLossProbes, 1);
  assert.equal(p.tcp.stats.timeouts, 0);
  p.close();
});

test('recovery ends on a full ACK with the next segment lost: a new recovery starts at once', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  p.tcp.send(tcb, new Uint8Array(10 * MSS));
  assert.equal(p.take().length, 10);
  // Segment 1 lost, 2-10 SACKed: recovery with RecoveryPoint = una + 10000; the pipe then
  // lets four new segments (11-14) go.
  p.send(sackAck(una, MSS, 2 * MSS), sackAck(una, MSS, 3 * MSS), sackAck(una, MSS, 4 * MSS), sackAck(una, MSS, 10 * MSS));
  p.take();
  assert.ok(tcb.cc.inRecovery);
  p.tcp.send(tcb, new Uint8Array(4 * MSS));
  const fresh = new Set(p.take().filter((s) => s.seq - una >= 10 * MSS).map((s) => s.seq - una));
  assert.equal(fresh.size, 4);
  // The peer got the retransmission and segments 12-14, not 11: the full ACK of
  // RecoveryPoint already SACKs three segments above the new SND.UNA, and no duplicate
  // ACK will follow. Before, nothing was sent until the RTO.
  const eleven = (una + 10 * MSS) >>> 0;
  p.send(sackAck(eleven, MSS, 4 * MSS));
  const out = p.take().filter((s) => s.seq === eleven && s.data.length > 0);
  assert.equal(out.length, 1, 'segment 11 resent on that very ACK, once');
  assert.ok(tcb.cc.inRecovery, 'in a new recovery');
  assert.equal(p.tcp.stats.fastRetransmits, 2);
  assert.equal(p.tcp.stats.timeouts, 0);
  p.close();
});
