// Peers that behave badly within the rules: a tiny MSS, a forged Fragmentation Needed, in-window
// RSTs spent to read the shared challenge-ACK budget (CVE-2016-5696), one source drawing ICMP
// errors as fast as it can. The pure parts on their own, then TCP on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChallengeAckBudget, connectionMayChallenge } from '../../src/transport/tcp/challenge-ack.js';
import { DestinationRateLimiter, TokenBucket } from '../../src/stack/icmp-rate-limit.js';
import { MIN_SND_MSS, type Tcb } from '../../src/transport/tcp/tcb.js';
import { MIN_PMTU } from '../../src/transport/tcp/tcp.js';
import { ScriptedPeer, F, PEER, US, tsOpt, type Seen } from '../helpers/tcp-peer.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4, Ipv4Packet } from '../../src/wire/ipv4.js';
import { emitIcmpHeader } from '../../src/wire/icmp.js';
import type { TcpOption } from '../../src/wire/tcp-options.js';

const PORT = 80;

// ------------------------------------------------------------------------ the pure parts

test('ChallengeAckBudget: each second draws its budget from [limit/2, limit*3/2)', () => {
  const asked: Array<[number, number]> = [];
  const b = new ChallengeAckBudget(1000, (min, max) => {
    asked.push([min, max]);
    return 700;
  });
  let n = 0;
  while (b.take(5_000)) n++;
  assert.equal(n, 700);
  assert.deepEqual(asked, [[500, 1500]]);
  assert.equal(b.take(5_999), false, 'the same second: spent');
  assert.equal(b.take(6_000), true, 'a new second: a new draw');
  assert.equal(asked.length, 2);
  assert.equal(new ChallengeAckBudget(0).take(0), false, 'limit 0: none');
});

test('ChallengeAckBudget with the real random source: budgets vary, always within the range', () => {
  const seen = new Set<number>();
  for (let s = 0; s < 40; s++) {
    const b = new ChallengeAckBudget(20);
    let n = 0;
    while (b.take(s * 1000) && n < 100) n++;
    assert.ok(n >= 10 && n < 30, `budget ${n}`);
    seen.add(n);
  }
  assert.ok(seen.size > 3, `budgets drawn: ${[...seen]}`);
});

test('connectionMayChallenge: one per interval; interval 0 never limits', () => {
  assert.equal(connectionMayChallenge(-Infinity, 0, 500), true);
  assert.equal(connectionMayChallenge(1000, 1499, 500), false);
  assert.equal(connectionMayChallenge(1000, 1500, 500), true);
  assert.equal(connectionMayChallenge(1000, 1000, 0), true);
});

test('DestinationRateLimiter: a burst per destination, then one per interval; destinations apart', () => {
  const l = new DestinationRateLimiter(1000, 6, 16);
  let ok = 0;
  for (let i = 0; i < 100; i++) if (l.allow(1, 0)) ok++;
  assert.equal(ok, 6, 'burst of 6');
  assert.equal(l.allow(2, 0), true, 'another destination has its own bucket');
  assert.equal(l.allow(1, 999), false);
  assert.equal(l.allow(1, 1000), true, 'one second later: one more');
  assert.equal(l.allow(1, 1000), false);
  // Idle long enough, the burst is back, and no more than it.
  ok = 0;
  for (let i = 0; i < 100; i++) if (l.allow(1, 60_000)) ok++;
  assert.equal(ok, 6);
  assert.equal(new DestinationRateLimiter(0, 6, 16).allow(1, 0), true, 'interval 0: off');
});

test('DestinationRateLimiter: the table is bounded; the longest known gives way and starts over', () => {
  const l = new DestinationRateLimiter(1000, 2, 3);
  for (const d of [1, 2, 3]) {
    l.allow(d, 0);
    l.allow(d, 0);
    assert.equal(l.allow(d, 0), false);
  }
  assert.equal(l.size, 3);
  assert.equal(l.allow(4, 0), true);
  assert.equal(l.size, 3);
  assert.equal(l.evictions, 1);
  assert.equal(l.allow(2, 0), false, 'destination 2 is still known and still limited');
  assert.equal(l.allow(1, 0), true, 'destination 1 was forgotten: a new burst');
  assert.equal(l.evictions, 2);
});

test('TokenBucket: available() looks without taking', () => {
  const b = new TokenBucket(10, 1, 0);
  assert.equal(b.available(0), true);
  assert.equal(b.available(0), true);
  assert.equal(b.allow(0), true);
  assert.equal(b.available(50), false);
  assert.equal(b.available(100), true);
});

// ------------------------------------------------------------------------ TCP

function accept(p: ScriptedPeer, synOptions: TcpOption[]): { tcb: Tcb; iss: number; ts: boolean } {
  const l = p.tcp.listen(0, PORT);
  const accepted: Tcb[] = [];
  l.user = { onConnection: (t) => accepted.push(t) };
  p.send({ dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535, options: synOptions });
  const synack = p.take()[0]!;
  assert.equal(synack.f, 'S.');
  const ts = synOptions.some((o) => o.kind === 'TS');
  p.send({ dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535, options: ts ? tsOpt(5001, synack.ts!.tsVal) : [] });
  assert.equal(accepted.length, 1);
  const tcb = accepted[0]!;
  p.tcp.attach(tcb, { onConnect() {}, onReadable() {}, onWritable() {}, onClose() {} });
  return { tcb, iss: synack.seq, ts };
}

/** Send `bytes` from pstack and ACK everything it sends until it is all in; every data segment seen. */
function pull(p: ScriptedPeer, tcb: Tcb, iss: number, bytes: number, ts: boolean): Seen[] {
  const data = new Uint8Array(bytes).map((_, i) => i & 0xff);
  assert.equal(p.tcp.send(tcb, data), bytes);
  const segs: Seen[] = [];
  let acked = iss + 1;
  let tsVal = 6000;
  for (let round = 0; round < 5000 && acked !== iss + 1 + bytes; round++) {
    const out = p.take().filter((s) => s.data.length > 0);
    segs.push(...out);
    for (const s of out) if (((s.seq + s.data.length - acked) | 0) > 0) acked = (s.seq + s.data.length) >>> 0;
    p.send({ dstPort: PORT, seq: 1001, ack: acked, flags: F.ACK, window: 65535, options: ts ? tsOpt(tsVal++, tcb.tsNow(p.clock.now())) : [] });
    if (out.length === 0) p.advance(250);
  }
  assert.equal(acked, (iss + 1 + bytes) >>> 0, 'everything arrived');
  return segs;
}

for (const offload of [true, false]) {
  for (const [offered, label] of [[48, 'MSS 48'], [1, 'MSS 1']] as const) {
    test(`a SYN offering ${label} (${offload ? 'TSO' : 'no offloads'}): no segment carries more than the floor allows`, () => {
      const p = new ScriptedPeer({ offload, tcp: { sendBufferMin: 65536 } });
      const syn: TcpOption[] = [{ kind: 'MSS', value: offered }, { kind: 'SACK_PERMITTED' }, { kind: 'TS', tsVal: 5000, tsEcr: 0 }];
      const { tcb, iss, ts } = accept(p, syn);
      assert.equal(tcb.maxSeg, MIN_SND_MSS, 'the effective MSS is the floor, 48');
      assert.equal(tcb.smss, MIN_SND_MSS - 12, 'less the timestamp option');
      const segs = pull(p, tcb, iss, 30_000, ts);
      const sizes = segs.map((s) => s.data.length);
      const over = sizes.filter((n) => n > MIN_SND_MSS - 12);
      assert.deepEqual(over, [], `segments over ${MIN_SND_MSS - 12} bytes of data: ${over.length} of ${sizes.length}`);
      assert.ok(segs.length >= 30_000 / (MIN_SND_MSS - 12));
      if (offload) {
        assert.deepEqual(p.offload!.errors, []);
        assert.ok(p.offload!.gsoSegments > 10, `the TSO path was taken (${p.offload!.gsoSegments} super-segments)`);
      }
      p.close();
    });
  }
}

/** An ICMP Fragmentation Needed from PEER quoting the first 28 bytes of `frame` (one of our segments). */
function fragNeeded(p: ScriptedPeer, frame: Uint8Array, mtu: number, seqOverride?: number): Uint8Array {
  const quoted = frame.slice(14, 14 + 28);
  if (seqOverride !== undefined) new DataView(quoted.buffer).setUint32(24, seqOverride >>> 0);
  const f = new Uint8Array(14 + 20 + 8 + quoted.length);
  emitEthernet(f, 0, p.dev.mac, new Uint8Array([2, 0, 0, 0, 0, 1]), EtherType.IPv4);
  f.set(quoted, 34 + 8);
  emitIcmpHeader(f, 34, 3, 4, mtu & 0xffff, quoted.length);
  emitIpv4(f, 14, {
    tos: 0, id: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1,
    src: PEER, dst: US, options: new Uint8Array(0), payloadLength: 8 + quoted.length,
  });
  return f;
}

/** A data segment pstack just sent, raw (its frame). */
function sendAndCapture(p: ScriptedPeer, tcb: Tcb, bytes: number): Uint8Array {
  p.tcp.send(tcb, new Uint8Array(bytes));
  p.tcp.sendAcksAfterReplies();
  const frames = p.dev.take().filter((f) => f.length > 14 + 20 + 32 + 100);
  assert.ok(frames.length > 0);
  return frames[0]!;
}

const LINUX_SYN: TcpOption[] = [{ kind: 'MSS', value: 1460 }, { kind: 'SACK_PERMITTED' }, { kind: 'TS', tsVal: 5000, tsEcr: 0 }];

test('a Fragmentation Needed with MTU 68 is taken as the 552-byte floor, and DF goes off (as Linux)', () => {
  const p = new ScriptedPeer();
  const { tcb } = accept(p, LINUX_SYN);
  const frame = sendAndCapture(p, tcb, 8000);
  p.dev.inject(fragNeeded(p, frame, 68));
  assert.equal(tcb.maxSeg, MIN_PMTU - 40);
  assert.equal(tcb.pmtuLocked, true);
  assert.equal(p.tcp.stats.pmtuBelowFloor, 1);
  const resent = p.take().filter((s) => s.data.length > 0);
  assert.ok(resent.length > 0, 'the lost segment is resent at once');
  for (const s of resent) {
    assert.ok(s.data.length <= MIN_PMTU - 40 - 12, `${s.data.length} bytes`);
    assert.equal(s.ipDf, false, 'without DF, a path that small fragments it');
  }
  // MTU 0 (a router from before RFC 1191) is the same.
  p.dev.inject(fragNeeded(p, frame, 0));
  assert.equal(tcb.maxSeg, MIN_PMTU - 40);
  p.close();
});

test('a Fragmentation Needed above the floor lowers the MSS to it and keeps DF', () => {
  const p = new ScriptedPeer();
  const { tcb } = accept(p, LINUX_SYN);
  const frame = sendAndCapture(p, tcb, 8000);
  p.dev.inject(fragNeeded(p, frame, 1000));
  assert.equal(tcb.maxSeg, 960);
  assert.equal(tcb.pmtuLocked, false);
  const resent = p.take().filter((s) => s.data.length > 0);
  assert.ok(resent.length > 0 && resent.every((s) => s.ipDf && s.data.length <= 948));
  p.close();
});

test('a Fragmentation Needed quoting a sequence number outside what is in flight is ignored (RFC 5927)', () => {
  const p = new ScriptedPeer();
  const { tcb, iss } = accept(p, LINUX_SYN);
  const frame = sendAndCapture(p, tcb, 8000);
  for (const seq of [iss - 100_000, iss + 1 + 8000 + 1, iss + 1_000_000]) p.dev.inject(fragNeeded(p, frame, 68, seq));
  assert.equal(tcb.maxSeg, 1460);
  assert.equal(tcb.pmtuLocked, false);
  assert.equal(p.stack.counters.drops.get('tcp: icmp-out-of-window'), 3);
  assert.equal(new Ipv4Packet(frame, 14, frame.length - 14).dontFragment, true);
  p.close();
});

test('CVE-2016-5696: in-window RSTs on one connection change nothing in the challenge ACKs of another', () => {
  // Two runs of the same exchange on B; in one, an attacker fires 200 in-window RSTs at A first.
  const challengeAcksOnB = (attack: boolean): number[] => {
    const p = new ScriptedPeer({ tcp: { challengeAckLimit: 100 } });
    const a = accept(p, []);
    p.peerPort = 40001;
    p.send({ srcPort: 40001, dstPort: PORT, seq: 1000, flags: F.SYN, window: 65535 });
    const synack = p.take()[0]!;
    p.send({ srcPort: 40001, dstPort: PORT, seq: 1001, ack: synack.seq + 1, flags: F.ACK, window: 65535 });
    p.take();
    const perWindow: number[] = [];
    for (let w = 0; w < 4; w++) {
      if (attack) for (let i = 0; i < 200; i++) p.send({ srcPort: 40000, dstPort: PORT, seq: 1500 + i, ack: a.iss + 1, flags: F.RST });
      p.take();
      // The attacker's own probes on B: 10 in-window RSTs.
      let n = 0;
      for (let i = 0; i < 10; i++) {
        p.send({ srcPort: 40001, dstPort: PORT, seq: 2000 + i, ack: synack.seq + 1, flags: F.RST });
        n += p.take().filter((s) => s.f === '.' && s.dstPort === 40001).length;
      }
      perWindow.push(n);
      p.advance(500);
    }
    assert.equal(a.tcb.stateName, 'ESTABLISHED');
    p.close();
    return perWindow;
  };
  const quiet = challengeAcksOnB(false);
  const attacked = challengeAcksOnB(true);
  assert.deepEqual(quiet, [1, 1, 1, 1], 'one challenge ACK per connection per 500 ms');
  assert.deepEqual(attacked, quiet, 'the attack on A shows nowhere on B');
});
