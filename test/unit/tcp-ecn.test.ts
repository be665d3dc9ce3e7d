// ECN (RFC 3168) segment by segment on the fake clock: negotiation both ways (and through SYN
// cookies), which segments go out ECT(0), CE echoed with ECE until CWR, and one window
// reduction per round trip with CWR on the next new data segment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F, PEER, linuxSynOptions, tsOpt, type Seen } from '../helpers/tcp-peer.js';
import type { Tcb, TcpConfig } from '../../src/transport/tcp/tcb.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';
import { formatTcpDetails } from '../../src/cli/ss.js';
import { tcbInfo } from '../../src/api/tcp-info.js';

const PORT = 12345;
const MSS = 1000;
const SYN_OPTIONS: TcpOption[] = [{ kind: 'MSS', value: MSS }, { kind: 'SACK_PERMITTED' }];
const ECT0 = 2;
const CE = 3;
const ECN_BITS = F.ECE | F.CWR;

/** Accept a connection whose SYN carries `synFlags`; returns the block, our SND.UNA and the SYN-ACK. */
function accept(p: ScriptedPeer, synFlags = F.SYN | F.ECE | F.CWR): { tcb: Tcb; una: number; synack: Seen } {
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: synFlags, window: 65535, options: SYN_OPTIONS });
  const synack = p.take()[0]!;
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535 });
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  return { tcb, una: (synack.seq + 1) >>> 0, synack };
}

function ack(una: number, flags = 0, seq = 1001) {
  return { dstPort: PORT, seq, ack: una >>> 0, flags: F.ACK | flags, window: 65535 };
}

function data(una: number, seq: number, len: number, ecn: number, flags = 0) {
  return { dstPort: PORT, seq, ack: una, flags: F.ACK | F.PSH | flags, window: 65535, data: new Uint8Array(len).fill(7), ecn };
}

test('passive: an ECN-setup SYN gets an ECN-setup SYN-ACK (ECE, no CWR, Not-ECT); a SYN with ECE alone does not', () => {
  const p = new ScriptedPeer();
  const { tcb, synack } = accept(p);
  assert.equal(synack.flags & ECN_BITS, F.ECE);
  assert.equal(synack.ecn, 0, 'SYN-ACKs are Not-ECT (RFC 3168 6.1.1)');
  assert.ok(tcb.ecnOk);
  assert.equal(p.tcp.stats.ecnNegotiated, 1);
  p.close();
  const q = new ScriptedPeer();
  const half = accept(q, F.SYN | F.ECE);
  assert.equal(half.synack.flags & ECN_BITS, 0);
  assert.ok(!half.tcb.ecnOk);
  q.close();
  const off = new ScriptedPeer({ tcp: { ecn: 0 } });
  const refused = accept(off);
  assert.equal(refused.synack.flags & ECN_BITS, 0, 'tcp.ecn=0 never agrees');
  assert.ok(!refused.tcb.ecnOk);
  off.close();
});

test('active (tcp.ecn=1): ECN-setup SYN; agreed only on an ECN-setup SYN-ACK; a retransmitted SYN asks no more', () => {
  for (const [answer, agreed] of [[F.ECE, true], [F.ECE | F.CWR, false], [0, false]] as const) {
    const p = new ScriptedPeer({ tcp: { ecn: 1 } });
    const tcb = p.tcp.connect(PEER, 80);
    const syn = p.take()[0]!;
    assert.equal(syn.flags & ECN_BITS, F.ECE | F.CWR);
    assert.equal(syn.ecn, 0);
    p.send({ srcPort: 80, dstPort: tcb.localPort, seq: 5000, ack: syn.seq + 1, flags: F.SYN | F.ACK | answer, window: 65535, options: SYN_OPTIONS });
    assert.equal(tcb.stateName, 'ESTABLISHED');
    assert.equal(tcb.ecnOk, agreed, `SYN-ACK flags ${answer}`);
    p.close();
  }
  const p = new ScriptedPeer({ tcp: { ecn: 1 } });
  p.tcp.connect(PEER, 80);
  assert.equal(p.take()[0]!.flags & ECN_BITS, F.ECE | F.CWR);
  p.advance(1000);
  const again = p.take();
  assert.equal(again.length, 1);
  assert.equal(again[0]!.flags & ECN_BITS, 0, 'the SYN retransmission falls back to plain TCP');
  p.close();
});

test('sender: new data goes out ECT(0); pure ACKs and retransmissions Not-ECT', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  p.tcp.send(tcb, new Uint8Array(3 * MSS));
  const sent = p.take();
  assert.equal(sent.length, 3);
  for (const s of sent) assert.equal(s.ecn, ECT0);
  // Data from the peer draws a pure ACK: Not-ECT.
  p.send(data(una, 1001, 100, 0));
  const acks = p.take().filter((s) => s.data.length === 0);
  assert.ok(acks.length >= 1);
  for (const s of acks) assert.equal(s.ecn, 0);
  // The RTO retransmits the first segment: Not-ECT.
  p.advance(1000);
  const rtx = p.take().filter((s) => s.seq === una && s.data.length > 0);
  assert.ok(rtx.length >= 1, 'retransmitted');
  for (const s of rtx) assert.equal(s.ecn, 0);
  assert.equal(tcb.ecnSeen, false, 'nothing arrived marked');
  p.close();
  // Without ECN agreed, data is Not-ECT and ECE means nothing.
  const q = new ScriptedPeer();
  const plain = accept(q, F.SYN);
  q.tcp.send(plain.tcb, new Uint8Array(2 * MSS));
  for (const s of q.take()) assert.equal(s.ecn, 0);
  const cwnd = plain.tcb.cc.cwnd;
  q.send(ack(plain.una + MSS, F.ECE));
  assert.ok(plain.tcb.cc.cwnd >= cwnd);
  assert.equal(q.tcp.stats.ecnReductions, 0);
  q.close();
});

test('receiver: CE is echoed with ECE on every ACK, at once, until a data segment with CWR', () => {
  const p = new ScriptedPeer();
  const { tcb, una } = accept(p);
  p.send(data(una, 1001, 500, ECT0));
  assert.ok(tcb.ecnSeen);
  for (const s of p.take()) assert.equal(s.flags & F.ECE, 0, 'ECT(0) alone is no congestion');
  tcb.quickAcks = 0; // past the start of the connection: ACKs may be delayed
  p.send(data(una, 1501, 500, CE));
  const first = p.take();
  assert.equal(first.length, 1, 'the first CE is ACKed at once');
  assert.equal(first[0]!.flags & F.ECE, F.ECE);
  assert.equal(p.tcp.stats.ecnCeReceived, 1);
  // Later ACKs keep ECE although their data was not marked.
  p.send(data(una, 2001, 500, ECT0), data(una, 2501, 500, ECT0));
  p.advance(50);
  const later = p.take();
  assert.ok(later.length >= 1);
  for (const s of later) assert.equal(s.flags & F.ECE, F.ECE);
  // CWR ends the echo.
  p.send(data(una, 3001, 500, ECT0, F.CWR), data(una, 3501, 500, ECT0));
  p.advance(50);
  const after = p.take();
  assert.ok(after.length >= 1);
  for (const s of after) assert.equal(s.flags & F.ECE, 0);
  // A CE on the CWR segment itself starts a new echo.
  p.send(data(una, 4001, 500, CE, F.CWR));
  p.advance(50);
  const again = p.take();
  assert.ok(again.length >= 1 && again.every((s) => (s.flags & F.ECE) !== 0));
  assert.equal(p.tcp.stats.ecnCeReceived, 2);
  assert.ok(p.tcp.stats.ecnEchoesSent >= 3);
  assert.match(formatTcpDetails(tcbInfo(tcb, p.clock.now())), /^\t ecn ecnseen cubic /);
  p.close();
});

test('sender: ECE cuts the window once per round trip; the next new data segment carries CWR, alone', () => {
  for (const congestion of ['cubic', 'newreno'] as const) {
    const p = new ScriptedPeer({ offload: true, tcp: { congestion } as Partial<TcpConfig> });
    const { tcb, una } = accept(p);
    p.tcp.send(tcb, new Uint8Array(40 * MSS));
    const burst = p.take();
    const sent = burst.reduce((n, s) => n + s.data.length, 0);
    assert.equal(sent, 10 * MSS, 'the initial window');
    const flight = 10 * MSS;
    // The first ACK (one segment) carries ECE: reduce from the flight before it.
    p.send(ack(una + MSS, F.ECE));
    const expected = Math.floor(flight * (congestion === 'cubic' ? 0.7 : 0.5));
    assert.equal(tcb.cc.ssthresh, expected, `${congestion}: ssthresh from the flight`);
    assert.equal(tcb.cc.cwnd, expected);
    assert.equal(p.tcp.stats.ecnReductions, 1);
    assert.ok(!tcb.cc.inRecovery, 'no retransmission, no recovery');
    const reductionAt = tcb.ecnCwrSeq;
    assert.equal(reductionAt, (una + 10 * MSS) >>> 0);
    // As the window allows, new data: the first segment has CWR and is one MSS, not a TSO burst.
    for (let k = 2; k <= 6; k++) p.send(ack(una + k * MSS, F.ECE)); // ECE for data before the cut: ignored
    const out = p.take().filter((s) => s.data.length > 0);
    assert.ok(out.length >= 1, 'new data went out');
    assert.equal(out[0]!.flags & F.CWR, F.CWR);
    assert.equal(out[0]!.data.length, MSS);
    assert.equal(out[0]!.ecn, ECT0);
    for (const s of out.slice(1)) assert.equal(s.flags & F.CWR, 0, 'CWR once');
    assert.equal(p.tcp.stats.ecnReductions, 1, 'ECE for data sent before the reduction does not cut again');
    assert.equal(tcb.cc.cwnd, expected, 'nor grow the window (the ACKs carried ECE)');
    // Once SND.UNA passes SND.MAX of the reduction, an ECE is news again.
    p.send(ack(reductionAt + MSS, F.ECE));
    assert.equal(p.tcp.stats.ecnReductions, 2);
    assert.ok(tcb.cc.cwnd < expected);
    p.close();
  }
});

test('SYN cookies carry the ECN agreement in the timestamp (as Linux); without timestamps no ECN', () => {
  for (const withTs of [true, false]) {
    const p = new ScriptedPeer({ tcp: { maxSynBacklog: 1 } });
    const l = p.tcp.listen(0, PORT);
    const accepted: Tcb[] = [];
    l.user = { onConnection: (t) => accepted.push(t) };
    // The first SYN fills the SYN queue; the second is answered with a cookie.
    p.send({ srcPort: 40000, dstPort: PORT, seq: 1000, flags: F.SYN, options: SYN_OPTIONS });
    p.take();
    const opts = withTs ? linuxSynOptions(5000) : SYN_OPTIONS;
    p.send({ srcPort: 40001, dstPort: PORT, seq: 7000, flags: F.SYN | F.ECE | F.CWR, options: opts });
    const cookie = p.take()[0]!;
    assert.equal(p.tcp.stats.synCookiesSent, 1);
    assert.equal(cookie.flags & ECN_BITS, withTs ? F.ECE : 0);
    p.send({ srcPort: 40001, dstPort: PORT, seq: 7001, ack: cookie.seq + 1, flags: F.ACK, options: withTs ? tsOpt(5001, cookie.ts!.tsVal) : [] });
    assert.equal(p.tcp.stats.synCookiesValidated, 1);
    const tcb = p.tcp.connections().find((t) => t.remotePort === 40001)!;
    assert.equal(tcb.stateName, 'ESTABLISHED');
    assert.equal(tcb.ecnOk, withTs);
    p.close();
  }
});

test('the CWR segment is never a TSO burst: the burst after it is', () => {
  const p = new ScriptedPeer({ offload: true });
  const { tcb, una } = accept(p);
  p.tcp.send(tcb, new Uint8Array(16 * 1024));
  p.take();
  p.send(ack(una + MSS, F.ECE));
  assert.equal(p.tcp.stats.ecnReductions, 1);
  const gsoBefore = p.offload!.gsoSegments;
  // Nearly everything is ACKed at once: several segments may go, the first alone with CWR.
  p.send(ack(una + 9 * MSS));
  const out = p.take().filter((s) => s.data.length > 0);
  assert.ok(out.length >= 3, `${out.length} segments`);
  assert.equal(out[0]!.flags & F.CWR, F.CWR);
  assert.ok(out.slice(1).every((s) => (s.flags & F.CWR) === 0));
  assert.equal(p.offload!.gsoSegments, gsoBefore + 1, 'the segments after the CWR one went as one TSO segment');
  p.close();
});
