// RFC 9293 state transitions, RST generation and processing (RFC 5961), PAWS (RFC 7323),
// driven segment by segment against one stack with a fake clock, and between two stacks
// on a MemoryWire in manual mode for simultaneous open and close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedPeer, F, PEER, US as US_ADDR, linuxSynOptions, tsOpt, type Seen } from '../helpers/tcp-peer.js';
import { makePair, ADDR_A, ADDR_B } from '../helpers/two-stacks.js';
import { TCP_STATE_NAMES, type Tcb, type TcbUser } from '../../src/transport/tcp/tcb.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';

const PORT = 12345;

function recorder() {
  const events: string[] = [];
  const user: TcbUser = {
    onConnect: () => events.push('connect'),
    onReadable: () => events.push('readable'),
    onWritable: () => events.push('writable'),
    onClose: (code) => events.push(`close:${code}`),
  };
  return { events, user };
}

function trackStates(tcp: Tcp, into: string[], prefix = ''): void {
  tcp.onStateChange = (_t, from, to) => into.push(`${prefix}${TCP_STATE_NAMES[from]}->${TCP_STATE_NAMES[to]}`);
}

/** Passive open from a Linux-like SYN; returns the established child and the handshake segments. */
function acceptOne(p: ScriptedPeer, synOptions = linuxSynOptions(5000)) {
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 64240, options: synOptions });
  const synack = p.take()[0]!;
  const hasTs = synOptions.some((o) => o.kind === 'TS');
  const hasWs = synOptions.some((o) => o.kind === 'WS');
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: hasWs ? 502 : 65535, options: hasTs ? tsOpt(5001, synack.ts!.tsVal) : [] });
  assert.equal(accepted.length, 1);
  const tcb = accepted[0]!;
  const r = recorder();
  p.tcp.attach(tcb, r.user);
  return { l, tcb, synack, iss: synack.seq, events: r.events };
}

test('LISTEN -> SYN_RECEIVED -> ESTABLISHED, with MSS, SACK_PERM, TS and WS in the SYN-ACK', () => {
  const p = new ScriptedPeer();
  const states: string[] = [];
  trackStates(p.tcp, states);
  const { tcb, synack } = acceptOne(p);
  assert.equal(synack.f, 'S.');
  assert.equal(synack.ack, 1001);
  assert.equal(synack.mss, 1460, 'MSS from the interface MTU');
  assert.ok(synack.sackPermitted);
  assert.equal(synack.ts!.tsEcr, 5000, 'echoes the SYN TSval');
  assert.equal(synack.ws, 5, '1 MiB receive buffer needs shift 5');
  assert.ok(synack.ipDf, 'TCP segments carry DF');
  assert.deepEqual(states, ['LISTEN->SYN_RECEIVED', 'SYN_RECEIVED->ESTABLISHED']);
  assert.equal(tcb.stateName, 'ESTABLISHED');
  assert.equal(tcb.sndWnd, 502 << 7, 'peer window scaled by its shift');
  assert.equal(tcb.smss, 1448, 'MSS less the timestamp option');
  assert.ok(tcb.tsOk && tcb.sackOk);
  p.close();
});

test('the MSS is clamped to the peer\'s, and options the peer did not offer are not used', () => {
  const p = new ScriptedPeer();
  const { tcb, synack } = acceptOne(p, [{ kind: 'MSS', value: 536 }]);
  assert.equal(synack.ws, undefined);
  assert.equal(synack.sackPermitted, false);
  assert.equal(synack.ts, undefined);
  assert.equal(tcb.smss, 536);
  assert.equal(tcb.sndWnd, 65535, 'no scaling without WS from both');
  assert.ok(!tcb.tsOk && !tcb.sackOk);
  p.close();
});

test('SYN_SENT -> ESTABLISHED on SYN-ACK; the SYN carries MSS, SACK_PERM, TS, WS', () => {
  const p = new ScriptedPeer();
  const states: string[] = [];
  trackStates(p.tcp, states);
  const tcb = p.tcp.connect(PEER, 80);
  const r = recorder();
  p.tcp.attach(tcb, r.user);
  const syn = p.take()[0]!;
  assert.equal(syn.f, 'S');
  assert.equal(syn.mss, 1460);
  assert.ok(syn.sackPermitted);
  assert.equal(syn.ts!.tsEcr, 0);
  assert.equal(syn.ws, 5);
  assert.ok(syn.srcPort >= 49152, 'ephemeral port');
  p.send({ srcPort: 80, dstPort: syn.srcPort, seq: 7000, ack: syn.seq + 1, flags: F.SYN | F.ACK, window: 65160, options: linuxSynOptions(9000) });
  const ack = p.take()[0]!;
  assert.equal(ack.f, '.');
  assert.equal(ack.seq, syn.seq + 1);
  assert.equal(ack.ack, 7001);
  assert.equal(ack.ts!.tsEcr, 9000);
  assert.deepEqual(states, ['CLOSED->SYN_SENT', 'SYN_SENT->ESTABLISHED']);
  assert.deepEqual(r.events, ['connect']);
  p.close();
});

test('RST for a closed port: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK> or <SEQ=SEG.ACK><RST> (RFC 9293 3.10.7.1)', () => {
  const p = new ScriptedPeer();
  p.send({ dstPort: 9, seq: 5000, flags: F.SYN, options: linuxSynOptions() });
  let [r] = p.take();
  assert.equal(r!.f, 'R.');
  assert.equal(r!.seq, 0);
  assert.equal(r!.ack, 5001, 'the SYN counts one');
  assert.equal(r!.srcPort, 9);
  assert.equal(r!.dstPort, p.peerPort);
  p.send({ dstPort: 9, seq: 5000, flags: F.PSH, data: new Uint8Array(10) });
  [r] = p.take();
  assert.equal(r!.ack, 5010);
  p.send({ dstPort: 9, seq: 5000, flags: F.FIN, data: new Uint8Array(10) });
  [r] = p.take();
  assert.equal(r!.ack, 5011, 'data plus FIN');
  p.send({ dstPort: 9, seq: 5000, ack: 777777, flags: F.ACK });
  [r] = p.take();
  assert.equal(r!.f, 'R');
  assert.equal(r!.seq, 777777);
  p.send({ dstPort: 9, seq: 5000, ack: 1, flags: F.RST | F.ACK });
  assert.equal(p.take().length, 0, 'a RST is never answered');
  assert.equal(p.stack.counters.drops.get('tcp: no-connection'), 4);
  p.close();
});

test('an ACK to a listener is answered with <SEQ=SEG.ACK><RST>', () => {
  const p = new ScriptedPeer({ tcp: { synCookies: false } });
  p.tcp.listen(0, PORT);
  p.send({ dstPort: PORT, seq: 1, ack: 4242, flags: F.ACK });
  const [r] = p.take();
  assert.equal(r!.f, 'R');
  assert.equal(r!.seq, 4242);
  p.close();
});

test('RST to a SYN: SYN_SENT -> CLOSED with ECONNREFUSED; a RST with a bad ACK is ignored', () => {
  const p = new ScriptedPeer();
  const tcb = p.tcp.connect(PEER, 81);
  const r = recorder();
  p.tcp.attach(tcb, r.user);
  const syn = p.take()[0]!;
  p.send({ srcPort: 81, dstPort: syn.srcPort, seq: 0, ack: syn.seq + 5, flags: F.RST | F.ACK });
  assert.equal(tcb.stateName, 'SYN_SENT', 'unacceptable ACK: RST ignored');
  assert.equal(p.take().length, 0);
  p.send({ srcPort: 81, dstPort: syn.srcPort, seq: 0, ack: syn.seq + 1, flags: F.RST | F.ACK });
  assert.equal(tcb.stateName, 'CLOSED');
  assert.deepEqual(r.events, ['close:ECONNREFUSED']);
  p.close();
});

test('SYN retransmissions back off 1, 2, 4, 8 s, then ETIMEDOUT', async () => {
  const p = new ScriptedPeer({ tcp: { synRetries: 3 } });
  const tcb = p.tcp.connect(PEER, 82);
  const r = recorder();
  p.tcp.attach(tcb, r.user);
  const t0 = p.clock.now();
  const times: number[] = [];
  for (let ms = 0; ms <= 20_000; ms += 50) {
    for (const s of p.take()) if (s.f === 'S') times.push(p.clock.now() - t0);
    p.advance(50);
  }
  assert.deepEqual(times, [0, 1000, 3000, 7000]);
  await p.settle();
  assert.deepEqual(r.events, ['close:ETIMEDOUT']);
  assert.equal(tcb.stateName, 'CLOSED');
  p.close();
});

test('data RTO per RFC 6298: retransmission after RTO, doubling each time', () => {
  const p = new ScriptedPeer();
  // No SACK: no tail loss probe, just the retransmission timer. No timestamps: the SYN-ACK
  // was timed (Karn) and its immediate ACK gave a 0 ms sample, so RTO = the 200 ms floor.
  const { tcb } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  assert.equal(tcb.rtt.rto, 200);
  const t0 = p.clock.now();
  p.tcp.send(tcb, new Uint8Array(100));
  const times: number[] = [];
  for (let ms = 0; ms <= 7_000; ms += 10) {
    for (const s of p.take()) if (s.data.length === 100) times.push(p.clock.now() - t0);
    p.advance(10);
  }
  assert.deepEqual(times, [0, 200, 600, 1400, 3000, 6200]);
  assert.equal(tcb.cc.cwnd, tcb.smss, 'cwnd is one segment after a timeout');
  assert.equal(p.tcp.stats.timeouts, 5);
  p.close();
});

test('the first RTO is 1 s (RFC 6298 2.1) when no RTT sample exists', () => {
  const p = new ScriptedPeer({ tcp: { synRetries: 1 } });
  const tcb = p.tcp.connect(PEER, 83);
  assert.equal(tcb.rtt.rto, 1000);
  p.close();
});

test('RTT samples update SRTT/RTTVAR per RFC 6298 (2.3); an ACK of everything stops the timer', () => {
  const p = new ScriptedPeer();
  const { tcb, iss } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  assert.equal(tcb.rtt.srtt, 0, 'the handshake gave a 0 ms sample');
  p.tcp.send(tcb, new Uint8Array(100));
  p.take();
  p.advance(40);
  p.send({ dstPort: PORT, seq: 1001, ack: iss + 101, flags: F.ACK });
  assert.equal(tcb.rtt.rttvar, 10, 'RTTVAR = 3/4*0 + 1/4*|0-40|');
  assert.equal(tcb.rtt.srtt, 5, 'SRTT = 7/8*0 + 1/8*40');
  assert.equal(tcb.rtt.rto, 200, 'SRTT + 4*RTTVAR = 45, floored at 200');
  assert.equal(tcb.sndUna, (iss + 101) >>> 0);
  p.advance(5000);
  assert.equal(p.take().length, 0, 'nothing outstanding, nothing retransmitted');
  p.close();
});

test('fast retransmit after three duplicate ACKs (RFC 5681), before any timeout', () => {
  const p = new ScriptedPeer();
  const { tcb, iss } = acceptOne(p, [{ kind: 'MSS', value: 1000 }]);
  p.tcp.send(tcb, new Uint8Array(5000));
  const sent = p.take();
  assert.equal(sent.length, 5, 'IW allows all five 1000-byte segments');
  const una = (iss + 1) >>> 0;
  p.send({ dstPort: PORT, seq: 1001, ack: una + 1000, flags: F.ACK });
  assert.equal(p.take().length, 0);
  p.send({ dstPort: PORT, seq: 1001, ack: una + 1000, flags: F.ACK });
  p.send({ dstPort: PORT, seq: 1001, ack: una + 1000, flags: F.ACK });
  assert.equal(p.take().length, 0, 'two duplicates are not enough');
  p.send({ dstPort: PORT, seq: 1001, ack: una + 1000, flags: F.ACK });
  const rtx = p.take();
  assert.equal(rtx.length, 1);
  assert.equal(rtx[0]!.seq, (una + 1000) >>> 0, 'the segment after the cumulative ACK');
  assert.equal(rtx[0]!.data.length, 1000);
  assert.ok(tcb.cc.inRecovery);
  assert.equal(p.tcp.stats.fastRetransmits, 1);
  assert.equal(p.tcp.stats.timeouts, 0);
  // A full ACK ends recovery.
  p.send({ dstPort: PORT, seq: 1001, ack: una + 5000, flags: F.ACK });
  assert.ok(!tcb.cc.inRecovery);
  p.close();
});

test('zero window: persist probes back off; data flows when the window opens', () => {
  const p = new ScriptedPeer();
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 1000, options: [{ kind: 'MSS', value: 1460 }] });
  const synack = p.take()[0]!;
  const una = (synack.seq + 1) >>> 0;
  p.send({ dstPort: PORT, seq: 1001, ack: una, flags: F.ACK, window: 0 });
  const tcb = accepted[0]!;
  assert.equal(tcb.sndWnd, 0);
  p.tcp.send(tcb, new Uint8Array(3000).fill(7));
  assert.equal(p.take().length, 0, 'nothing fits a zero window');
  const t0 = p.clock.now();
  const probes: number[] = [];
  for (let ms = 0; ms < 8000; ms += 10) {
    p.advance(10);
    for (const s of p.take()) {
      probes.push(p.clock.now() - t0);
      assert.equal(s.seq, una, 'probe at SND.NXT');
      assert.equal(s.data.length, 1, 'one byte of new data (RFC 9293 3.8.6.1)');
      // The receiver still has no room: it answers with its (zero) window.
      p.send({ dstPort: PORT, seq: 1001, ack: una, flags: F.ACK, window: 0 });
    }
  }
  assert.deepEqual(probes, [200, 600, 1400, 3000, 6200], 'RTO-based interval, doubling');
  assert.equal(p.tcp.stats.windowProbes, 5);
  assert.equal(p.tcp.stats.fastRetransmits, 0, 'answers to probes are not duplicate ACKs');
  p.send({ dstPort: PORT, seq: 1001, ack: una, flags: F.ACK, window: 4000 });
  let data = p.take();
  assert.deepEqual(data.map((s) => s.data.length), [1460, 1460], 'Nagle holds the 80-byte tail while data is unacknowledged');
  assert.equal(data[0]!.seq, una);
  p.send({ dstPort: PORT, seq: 1001, ack: una + 2920, flags: F.ACK, window: 4000 });
  data = p.take();
  assert.deepEqual(data.map((s) => s.data.length), [80]);
  p.close();
});

test('delayed ACK: a lone segment waits 40 ms; two full segments in a batch are ACKed at the batch end', () => {
  const p = new ScriptedPeer({ tcp: { quickAckSegments: 0 } });
  const { tcb } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  let seq = 1001;
  p.send({ dstPort: PORT, seq, ack: tcb.sndNxt, flags: F.ACK | F.PSH, data: new Uint8Array(1460) });
  seq += 1460;
  assert.equal(p.take().length, 0);
  p.advance(39);
  assert.equal(p.take().length, 0);
  p.advance(1);
  let acks = p.take();
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.ack, seq);
  p.send(
    { dstPort: PORT, seq, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(1460) },
    { dstPort: PORT, seq: seq + 1460, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(1460) },
    { dstPort: PORT, seq: seq + 2920, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(1460) },
  );
  seq += 3 * 1460;
  acks = p.take();
  assert.equal(acks.length, 1, 'one coalesced ACK for the batch');
  assert.equal(acks[0]!.ack, seq);
  p.close();
});

test('an ACK owed at once waits for the application\'s turn: a reply (or FIN) written then carries it', async () => {
  const p = new ScriptedPeer();
  const { tcb } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  const turn = () => new Promise<void>((r) => setImmediate(r));
  // An echo that answers as Node streams do: from process.nextTick after the readable event.
  let echo = true;
  const buf = new Uint8Array(64);
  p.tcp.attach(tcb, {
    onConnect: () => {},
    onWritable: () => {},
    onClose: () => {},
    onReadable: () => {
      process.nextTick(() => {
        const n = p.tcp.read(tcb, buf);
        if (echo && n > 0) p.tcp.send(tcb, buf, 0, n);
        if (tcb.finReceived) p.tcp.shutdown(tcb);
      });
    },
  });
  p.send({ dstPort: PORT, seq: 1001, ack: tcb.sndNxt, flags: F.ACK | F.PSH, data: new Uint8Array([7]) });
  assert.equal(p.dev.take().length, 0, 'nothing leaves before the application has had its turn');
  await turn();
  let out = p.take();
  assert.deepEqual(out.map((s) => [s.f, s.ack, s.data.length]), [['P.', 1002, 1]], 'one segment: the echo carries the ACK');
  // Nothing written in the application's turn: the ACK still leaves in the same loop turn.
  echo = false;
  p.send({ dstPort: PORT, seq: 1002, ack: tcb.sndNxt, flags: F.ACK | F.PSH, data: new Uint8Array([8]) });
  await turn();
  out = p.take();
  assert.deepEqual(out.map((s) => [s.f, s.ack, s.data.length]), [['.', 1003, 0]], 'a pure ACK, at once, not after the 40 ms delayed-ACK timer');
  // The peer's FIN: our FIN (end() in the application's turn) carries its ACK.
  p.send({ dstPort: PORT, seq: 1003, ack: tcb.sndNxt, flags: F.FIN | F.ACK });
  await turn();
  out = p.take();
  assert.deepEqual(out.map((s) => [s.f, s.ack]), [['F.', 1004]], 'one FIN+ACK, no separate ACK of the FIN');
  p.close();
});

test('out-of-order data is ACKed at once with a SACK block; the gap fill is ACKed at once', () => {
  const p = new ScriptedPeer({ tcp: { quickAckSegments: 0 } });
  const { tcb } = acceptOne(p);
  const ts = (v: number) => tsOpt(v, 0);
  p.send({ dstPort: PORT, seq: 1001 + 1448, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(1448).fill(2), options: ts(6000) });
  let [a] = p.take();
  assert.equal(a!.ack, 1001, 'duplicate ACK for the hole');
  assert.deepEqual(a!.sack, [[1001 + 1448, 1001 + 2896]]);
  p.send({ dstPort: PORT, seq: 1001 + 4 * 1448, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(1448), options: ts(6001) });
  [a] = p.take();
  assert.deepEqual(a!.sack, [[1001 + 4 * 1448, 1001 + 5 * 1448], [1001 + 1448, 1001 + 2896]], 'most recent block first (RFC 2018)');
  p.send({ dstPort: PORT, seq: 1001, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(1448).fill(1), options: ts(6002) });
  [a] = p.take();
  assert.equal(a!.ack, 1001 + 2896, 'cumulative ACK jumps over the queued segment');
  assert.deepEqual(a!.sack, [[1001 + 4 * 1448, 1001 + 5 * 1448]]);
  assert.equal(tcb.recvBuffer.readable, 2896);
  p.close();
});

test('RFC 5961: a RST exactly at RCV.NXT resets; one elsewhere in the window gets a challenge ACK', () => {
  const p = new ScriptedPeer();
  const { tcb, events } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  p.send({ dstPort: PORT, seq: 1001 + 500, flags: F.RST });
  const [c] = p.take();
  assert.equal(c!.f, '.', 'challenge ACK');
  assert.equal(c!.seq, tcb.sndNxt);
  assert.equal(c!.ack, 1001);
  assert.equal(tcb.stateName, 'ESTABLISHED');
  p.send({ dstPort: PORT, seq: 1001 + 5_000_000, flags: F.RST });
  assert.equal(p.take().length, 0, 'outside the window: silently dropped');
  p.send({ dstPort: PORT, seq: 1001, flags: F.RST });
  assert.equal(tcb.stateName, 'CLOSED');
  assert.deepEqual(events, ['close:ECONNRESET']);
  assert.equal(p.take().length, 0, 'no answer to a valid RST');
  p.close();
});

test('RFC 5961: a SYN in ESTABLISHED gets a challenge ACK and changes nothing', () => {
  const p = new ScriptedPeer();
  const { tcb } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  p.send({ dstPort: PORT, seq: 1001 + 10, flags: F.SYN, options: [{ kind: 'MSS', value: 1460 }] });
  let [c] = p.take();
  assert.equal(c!.f, '.');
  assert.equal(c!.ack, 1001);
  assert.equal(tcb.stateName, 'ESTABLISHED');
  assert.equal(p.tcp.stats.challengeAcks, 1);
  // Out of the window the sequence check already answers with an ACK.
  p.send({ dstPort: PORT, seq: 99_999_999, flags: F.SYN, options: [{ kind: 'MSS', value: 1460 }] });
  [c] = p.take();
  assert.equal(c!.f, '.');
  assert.equal(tcb.stateName, 'ESTABLISHED');
  p.close();
});

test('PAWS (RFC 7323 5.3): a segment with an old timestamp is dropped and ACKed', () => {
  const p = new ScriptedPeer();
  const { tcb } = acceptOne(p);
  p.send({ dstPort: PORT, seq: 1001, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(100), options: tsOpt(7000, 0) });
  assert.equal(tcb.recvBuffer.readable, 100);
  assert.equal(tcb.tsRecent, 7000);
  p.take();
  // Old duplicate (wrapped sequence space) with TSval < TS.Recent.
  p.send({ dstPort: PORT, seq: 1101, ack: tcb.sndNxt, flags: F.ACK, data: new Uint8Array(100), options: tsOpt(6999, 0) });
  assert.equal(tcb.recvBuffer.readable, 100, 'not accepted');
  assert.equal(p.stack.counters.drops.get('tcp: paws'), 1);
  const [a] = p.take();
  assert.equal(a!.ack, 1101, 'an ACK is still sent');
  p.close();
});

test('passive close: CLOSE_WAIT -> LAST_ACK -> CLOSED', () => {
  const p = new ScriptedPeer();
  const states: string[] = [];
  const { tcb, events } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  trackStates(p.tcp, states);
  p.send({ dstPort: PORT, seq: 1001, ack: tcb.sndNxt, flags: F.FIN | F.ACK });
  assert.equal(tcb.stateName, 'CLOSE_WAIT');
  const [a] = p.take();
  assert.equal(a!.ack, 1002, 'the FIN is ACKed at once');
  assert.ok(events.includes('readable'), 'EOF is announced');
  assert.ok(tcb.finReceived);
  p.tcp.shutdown(tcb);
  const [fin] = p.take();
  assert.equal(fin!.f, 'F.');
  assert.equal(tcb.stateName, 'LAST_ACK');
  p.send({ dstPort: PORT, seq: 1002, ack: fin!.seq + 1, flags: F.ACK });
  assert.deepEqual(states, ['ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSED']);
  assert.ok(events.includes('close:null'));
  p.close();
});

test('active close: FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT (2*MSL = 60 s) -> CLOSED; a retransmitted FIN is re-ACKed', () => {
  const p = new ScriptedPeer();
  const states: string[] = [];
  const { tcb } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  trackStates(p.tcp, states);
  p.tcp.shutdown(tcb);
  const [fin] = p.take();
  assert.equal(fin!.f, 'F.');
  p.send({ dstPort: PORT, seq: 1001, ack: fin!.seq + 1, flags: F.ACK });
  assert.equal(tcb.stateName, 'FIN_WAIT_2');
  p.send({ dstPort: PORT, seq: 1001, ack: fin!.seq + 1, flags: F.FIN | F.ACK });
  assert.equal(tcb.stateName, 'TIME_WAIT');
  let [a] = p.take();
  assert.equal(a!.ack, 1002);
  p.advance(30_000);
  p.send({ dstPort: PORT, seq: 1001, ack: fin!.seq + 1, flags: F.FIN | F.ACK });
  [a] = p.take();
  assert.equal(a!.ack, 1002, 'the retransmitted FIN is ACKed again');
  p.advance(59_999);
  assert.equal(tcb.stateName, 'TIME_WAIT', 'the timer restarted');
  p.advance(1);
  assert.equal(tcb.stateName, 'CLOSED');
  assert.deepEqual(states, ['ESTABLISHED->FIN_WAIT_1', 'FIN_WAIT_1->FIN_WAIT_2', 'FIN_WAIT_2->TIME_WAIT', 'TIME_WAIT->CLOSED']);
  assert.equal(p.tcp.connectionCount, 0);
  p.close();
});

test('a SYN with a higher sequence number reopens a TIME_WAIT connection (RFC 6191)', () => {
  const p = new ScriptedPeer();
  const { tcb, l } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.tcp.shutdown(tcb);
  const [fin] = p.take();
  p.send({ dstPort: PORT, seq: 1001, ack: fin!.seq + 1, flags: F.FIN | F.ACK });
  assert.equal(tcb.stateName, 'TIME_WAIT');
  p.take();
  p.send({ dstPort: PORT, seq: 900_000, flags: F.SYN, options: [{ kind: 'MSS', value: 1460 }] });
  const [synack] = p.take();
  assert.equal(synack!.f, 'S.');
  assert.equal(synack!.ack, 900_001);
  assert.equal(tcb.stateName, 'CLOSED');
  p.close();
});

test('two stacks: normal close walks both sides through every state', () => {
  const pair = makePair({ fake: true });
  const states: string[] = [];
  trackStates(pair.tcpA, states, 'A:');
  trackStates(pair.tcpB, states, 'B:');
  const l = pair.tcpB.listen(0, 7);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  const a = pair.tcpA.connect(ADDR_B, 7);
  pair.run(10);
  const b = accepted[0]!;
  assert.equal(a.stateName, 'ESTABLISHED');
  assert.equal(b.stateName, 'ESTABLISHED');
  pair.tcpA.shutdown(a);
  pair.run(10);
  assert.equal(a.stateName, 'FIN_WAIT_2');
  assert.equal(b.stateName, 'CLOSE_WAIT');
  pair.tcpB.shutdown(b);
  pair.run(10);
  assert.equal(b.stateName, 'CLOSED');
  assert.equal(a.stateName, 'TIME_WAIT');
  pair.run(60_000, 1000);
  assert.equal(a.stateName, 'CLOSED');
  assert.deepEqual(states.filter((s) => s.startsWith('A:')), [
    'A:CLOSED->SYN_SENT', 'A:SYN_SENT->ESTABLISHED', 'A:ESTABLISHED->FIN_WAIT_1', 'A:FIN_WAIT_1->FIN_WAIT_2',
    'A:FIN_WAIT_2->TIME_WAIT', 'A:TIME_WAIT->CLOSED',
  ]);
  assert.deepEqual(states.filter((s) => s.startsWith('B:')), [
    'B:LISTEN->SYN_RECEIVED', 'B:SYN_RECEIVED->ESTABLISHED', 'B:ESTABLISHED->CLOSE_WAIT', 'B:CLOSE_WAIT->LAST_ACK', 'B:LAST_ACK->CLOSED',
  ]);
  pair.close();
});

test('two stacks: simultaneous open (SYN_SENT -> SYN_RECEIVED -> ESTABLISHED on both)', () => {
  const pair = makePair({ fake: true });
  const states: string[] = [];
  trackStates(pair.tcpA, states, 'A:');
  trackStates(pair.tcpB, states, 'B:');
  const a = pair.tcpA.connect(ADDR_B, 5000, { localPort: 6000 });
  const b = pair.tcpB.connect(ADDR_A, 6000, { localPort: 5000 });
  pair.run(50);
  assert.equal(a.stateName, 'ESTABLISHED');
  assert.equal(b.stateName, 'ESTABLISHED');
  assert.deepEqual(states.filter((s) => s.startsWith('A:')), ['A:CLOSED->SYN_SENT', 'A:SYN_SENT->SYN_RECEIVED', 'A:SYN_RECEIVED->ESTABLISHED']);
  assert.deepEqual(states.filter((s) => s.startsWith('B:')), ['B:CLOSED->SYN_SENT', 'B:SYN_SENT->SYN_RECEIVED', 'B:SYN_RECEIVED->ESTABLISHED']);
  // Data flows both ways afterwards.
  pair.tcpA.send(a, new TextEncoder().encode('from a'));
  pair.tcpB.send(b, new TextEncoder().encode('from b'));
  pair.run(100);
  assert.equal(b.recvBuffer.readable, 6);
  assert.equal(a.recvBuffer.readable, 6);
  pair.close();
});

test('two stacks: simultaneous close (FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both)', () => {
  const pair = makePair({ fake: true });
  const states: string[] = [];
  const l = pair.tcpB.listen(0, 7);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  const a = pair.tcpA.connect(ADDR_B, 7);
  pair.run(10);
  const b = accepted[0]!;
  trackStates(pair.tcpA, states, 'A:');
  trackStates(pair.tcpB, states, 'B:');
  pair.tcpA.shutdown(a);
  pair.tcpB.shutdown(b);
  pair.run(10);
  assert.equal(a.stateName, 'TIME_WAIT');
  assert.equal(b.stateName, 'TIME_WAIT');
  assert.deepEqual(states.filter((s) => s.startsWith('A:')), ['A:ESTABLISHED->FIN_WAIT_1', 'A:FIN_WAIT_1->CLOSING', 'A:CLOSING->TIME_WAIT']);
  assert.deepEqual(states.filter((s) => s.startsWith('B:')), ['B:ESTABLISHED->FIN_WAIT_1', 'B:FIN_WAIT_1->CLOSING', 'B:CLOSING->TIME_WAIT']);
  pair.close();
});

test('a full listen backlog: extra SYNs get SYN cookies, and a returning cookie ACK is accepted', () => {
  const p = new ScriptedPeer({ tcp: { maxSynBacklog: 2 } });
  const l = p.tcp.listen(0, PORT, 8);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  const synacks: Seen[] = [];
  for (let i = 0; i < 3; i++) {
    p.send({ srcPort: 41000 + i, dstPort: PORT, seq: 100 * i + 1, flags: F.SYN, options: linuxSynOptions(3000 + i) });
    synacks.push(...p.take());
  }
  assert.equal(synacks.length, 3);
  assert.equal(l.synQueueLength, 2, 'the SYN queue is bounded');
  assert.equal(p.tcp.stats.synCookiesSent, 1);
  const cookie = synacks[2]!;
  assert.equal(cookie.ws, 5, 'WS is offered: the timestamp carries the peer\'s options');
  p.send({ srcPort: 41002, dstPort: PORT, seq: 202, ack: cookie.seq + 1, flags: F.ACK, window: 100, options: tsOpt(3003, cookie.ts!.tsVal) });
  assert.equal(accepted.length, 1);
  const t = accepted[0]!;
  assert.equal(t.stateName, 'ESTABLISHED');
  assert.equal(t.remotePort, 41002);
  assert.equal(t.sndWscale, 7);
  assert.ok(t.sackOk);
  assert.equal(p.tcp.stats.synCookiesValidated, 1);
  // A forged cookie is refused with a RST.
  p.send({ srcPort: 41003, dstPort: PORT, seq: 303, ack: 12345, flags: F.ACK });
  const [r] = p.take().filter((s) => s.dstPort === 41003);
  assert.equal(r!.f, 'R');
  p.close();
});

test('keepalive (RFC 9293 3.8.4): probes after the idle time, ETIMEDOUT after unanswered probes; an answer resets them', async () => {
  const p = new ScriptedPeer({ tcp: { keepAliveIntervalMs: 1000, keepAliveProbes: 3 } });
  const { tcb, events } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  p.tcp.setKeepAlive(tcb, true, 5000);
  p.advance(4999);
  assert.equal(p.take().length, 0);
  p.advance(1);
  let [k] = p.take();
  assert.equal(k!.seq, (tcb.sndUna - 1) >>> 0, 'SEG.SEQ = SND.UNA - 1');
  assert.equal(k!.data.length, 0);
  assert.equal(k!.ack, 1001);
  // The peer answers: the connection is alive, probing stops until the next idle period.
  p.send({ dstPort: PORT, seq: 1001, ack: tcb.sndUna, flags: F.ACK });
  p.advance(4999);
  assert.equal(p.take().length, 0);
  p.advance(1);
  [k] = p.take();
  assert.ok(k, 'probing again after 5 s idle');
  const times: number[] = [];
  const t0 = p.clock.now();
  for (let i = 0; i < 50; i++) {
    p.advance(100);
    for (const _ of p.take()) times.push(p.clock.now() - t0);
  }
  assert.deepEqual(times, [1000, 2000], 'two more probes at the interval');
  await p.settle();
  assert.deepEqual(events, ['close:ETIMEDOUT']);
  assert.equal(p.tcp.stats.keepAliveProbes, 4);
  p.close();
});

test('ICMP fragmentation needed (RFC 1191) lowers the MSS and resends at once', () => {
  const p = new ScriptedPeer();
  const { tcb } = acceptOne(p, [{ kind: 'MSS', value: 1460 }]);
  p.tcp.send(tcb, new Uint8Array(3000));
  const sent = p.take();
  assert.equal(sent[0]!.data.length, 1460);
  // Build the router's ICMP error quoting our first segment's IP header + 8 bytes.
  const quoted = new Uint8Array(28);
  const ipHdr = new Uint8Array([0x45, 0, 0x05, 0xdc, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1]);
  quoted.set(ipHdr, 0);
  const s0 = sent[0]!;
  const v = new DataView(quoted.buffer);
  v.setUint16(20, s0.srcPort);
  v.setUint16(22, s0.dstPort);
  v.setUint32(24, s0.seq);
  const icmp = new Uint8Array(8 + quoted.length);
  icmp[0] = 3; icmp[1] = 4;
  new DataView(icmp.buffer).setUint16(6, 1200); // next-hop MTU
  icmp.set(quoted, 8);
  let sum = 0;
  for (let i = 0; i < icmp.length; i += 2) sum += (icmp[i]! << 8) | (icmp[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  new DataView(icmp.buffer).setUint16(2, ~sum & 0xffff);
  p.dev.inject(ipFrame(icmp));
  assert.equal(tcb.maxSeg, 1160);
  const again = p.take();
  assert.equal(again.length, 1);
  assert.equal(again[0]!.seq, s0.seq, 'the first segment again');
  assert.equal(again[0]!.data.length, 1160);
  p.close();
});

/** An Ethernet + IPv4 frame from the peer carrying an ICMP message. */
function ipFrame(icmp: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 20 + icmp.length);
  f.set([0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00], 0);
  const ip = new Uint8Array([0x45, 0, 0, 0, 0, 2, 0, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
  new DataView(ip.buffer).setUint16(2, 20 + icmp.length);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (ip[i]! << 8) | ip[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  new DataView(ip.buffer).setUint16(10, ~sum & 0xffff);
  f.set(ip, 14);
  f.set(icmp, 34);
  return f;
}

test('property: random segments (flags, numbers, options bytes, data) never throw and never break the stack', async () => {
  const fc = (await import('fast-check')).default;
  const { emitTcp } = await import('../../src/wire/tcp.js');
  const { emitIpv4 } = await import('../../src/wire/ipv4.js');
  const { emitEthernet, EtherType } = await import('../../src/wire/ethernet.js');
  const p = new ScriptedPeer();
  const { tcb } = acceptOne(p);
  p.tcp.listen(0, 80);
  const us = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];
  const them = [0x02, 0, 0, 0, 0, 0x01];
  fc.assert(fc.property(
    fc.record({
      port: fc.constantFrom(PORT, 80, 9),
      srcPort: fc.constantFrom(p.peerPort, 40001, 0),
      seqDelta: fc.integer({ min: -70000, max: 70000 }),
      ackDelta: fc.integer({ min: -70000, max: 70000 }),
      flags: fc.integer({ min: 0, max: 0x1ff }),
      window: fc.integer({ min: 0, max: 0xffff }),
      options: fc.uint8Array({ maxLength: 40 }),
      dataOffsetWords: fc.option(fc.integer({ min: 0, max: 15 })),
      data: fc.uint8Array({ maxLength: 1600 }),
    }),
    (r) => {
      const optLen = r.options.length & ~3;
      const tcpLen = 20 + optLen + r.data.length;
      const f = new Uint8Array(14 + 20 + tcpLen);
      emitEthernet(f, 0, Uint8Array.from(us), Uint8Array.from(them), EtherType.IPv4);
      f.set(r.options.subarray(0, optLen), 54);
      f.set(r.data, 54 + optLen);
      emitTcp(f, 34, {
        srcPort: r.srcPort, dstPort: r.port, seq: (tcb.rcvNxt + r.seqDelta) >>> 0, ack: (tcb.sndNxt + r.ackDelta) >>> 0,
        flags: r.flags, window: r.window, urgentPointer: 0,
      }, optLen, r.data.length, PEER, US_ADDR);
      if (r.dataOffsetWords !== null) f[46] = (r.dataOffsetWords << 4) | (f[46]! & 0x0f); // checksum now wrong or header bogus
      emitIpv4(f, 14, { tos: 0, id: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6, src: PEER, dst: US_ADDR, options: new Uint8Array(0), payloadLength: tcpLen });
      p.dev.inject(f);
      p.advance(7);
      p.take();
    },
  ), { numRuns: 3000, seed: 20240601 });
  await p.settle();
  assert.equal(p.stack.counters.internalErrors, 0);
  assert.equal(p.dev.counters.framesOut > 0, true);
  p.close();
});
