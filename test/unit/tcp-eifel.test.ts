// Eifel detection (RFC 3522) and response (RFC 4015) on a fake clock: a retransmission timeout
// whose first acceptable ACK echoes a timestamp older than the retransmission's is undone
// (cwnd and ssthresh restored, no go-back-N); one whose ACK echoes the retransmission is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F, tsOpt, type Seen } from '../helpers/tcp-peer.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';

const PORT = 12345;
const MSS = 1000; // the data per segment: the MSS option less the 12-byte timestamp option
const RTT = 20;

function accept(sack: boolean): { p: ScriptedPeer; tcb: Tcb; una: number } {
  const p = new ScriptedPeer({ tcp: { sendBufferMin: 256 * 1024 } });
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  const syn: TcpOption[] = [{ kind: 'MSS', value: MSS + 12 }, { kind: 'TS', tsVal: 5000, tsEcr: 0 }];
  if (sack) syn.push({ kind: 'SACK_PERMITTED' });
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: syn });
  const synack = p.take()[0]!;
  p.advance(RTT);
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535, options: tsOpt(5001, synack.ts!.tsVal) });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  assert.equal(tcb.smss, MSS);
  return { p, tcb, una: (synack.seq + 1) >>> 0 };
}

function dataSegs(segs: Seen[]): Seen[] {
  return segs.filter((s) => s.data.length > 0);
}

/**
 * Ten segments sent (the initial window) and received, every ACK lost: the timer expires and
 * resends the first. Returns the originals' TSval and the retransmission's.
 */
function timeoutAfterLostAcks(sack: boolean) {
  const c = accept(sack);
  const { p, tcb, una } = c;
  p.tcp.send(tcb, new Uint8Array(40 * MSS));
  const first = dataSegs(p.take());
  assert.equal(first.length, 10);
  const cwndBefore = tcb.cc.cwnd;
  const ssthreshBefore = tcb.cc.ssthresh;
  let rexmit: Seen | undefined;
  for (let t = 0; t < 5000 && rexmit === undefined; t++) {
    p.advance(1);
    // (With SACK a tail loss probe of new data comes first.)
    rexmit = dataSegs(p.take()).find((s) => s.seq === una);
  }
  assert.ok(rexmit !== undefined, 'the timer resent');
  assert.equal(rexmit.seq, una, 'the first segment');
  assert.equal(tcb.timeouts, 1);
  assert.equal(tcb.cc.cwnd, MSS, 'cwnd cut to one segment');
  return { ...c, origTs: first[0]!.ts!.tsVal, rexmitTs: rexmit.ts!.tsVal, cwndBefore, ssthreshBefore };
}

function ack(una: number, segs: number, tsEcr: number) {
  return { dstPort: PORT, seq: 1001, ack: (una + segs * MSS) >>> 0, flags: F.ACK, window: 65535, options: tsOpt(6000, tsEcr) };
}

for (const sack of [true, false]) {
  const label = sack ? 'SACK, RACK' : 'no SACK, go-back-N';
  test(`Eifel (${label}): an ACK echoing the original's timestamp undoes the timeout; new data follows, no resend`, () => {
    const { p, tcb, una, origTs, rexmitTs, cwndBefore, ssthreshBefore } = timeoutAfterLostAcks(sack);
    assert.ok(rexmitTs !== origTs);
    // The receiver's (delayed) ACK for the first five segments, echoing the originals' TSval.
    p.send(ack(una, 5, origTs));
    assert.equal(p.tcp.stats.spuriousRtos, 1);
    assert.ok(tcb.cc.cwnd >= cwndBefore, `cwnd ${tcb.cc.cwnd} restored (was ${cwndBefore})`);
    assert.equal(tcb.cc.ssthresh, ssthreshBefore, 'ssthresh restored');
    assert.equal(tcb.rtoRecovery, false);
    const next = dataSegs(p.take()).map((s) => ((s.seq - una) >>> 0) / MSS);
    assert.ok(next.length > 0, 'sending goes on');
    assert.ok(next.every((n) => n >= 10), `only new data (segments ${next}), segments 5-9 are not resent`);
    p.close();
  });

  test(`Eifel (${label}): a genuine timeout (the ACK echoes the retransmission) is not undone`, () => {
    const { p, tcb, una, rexmitTs } = timeoutAfterLostAcks(sack);
    p.send(ack(una, 5, rexmitTs));
    assert.equal(p.tcp.stats.spuriousRtos, 0);
    assert.ok(tcb.cc.cwnd <= 3 * MSS, `cwnd ${tcb.cc.cwnd} stays cut`);
    assert.ok(Number.isFinite(tcb.cc.ssthresh), 'ssthresh set by the timeout');
    const next = dataSegs(p.take()).map((s) => ((s.seq - una) >>> 0) / MSS);
    assert.equal(next[0], 5, `go-back from SND.UNA (segments ${next})`);
    p.close();
  });
}

test('Eifel: after a second timeout of the same segment, an old echo undoes nothing (RFC 3522 3.2)', () => {
  const { p, tcb, una, origTs } = timeoutAfterLostAcks(true);
  let again = false;
  for (let t = 0; t < 10_000 && !again; t++) {
    p.advance(1);
    again = dataSegs(p.take()).some((s) => s.seq === una);
  }
  assert.ok(again);
  assert.equal(tcb.timeouts, 2);
  p.send(ack(una, 5, origTs));
  assert.equal(p.tcp.stats.spuriousRtos, 0);
  assert.ok(tcb.cc.cwnd <= 3 * MSS, `cwnd ${tcb.cc.cwnd} stays cut`);
  p.close();
});
