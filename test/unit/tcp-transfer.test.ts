// Bulk transfers between two pstack stacks over a MemoryWire that loses, reorders and
// duplicates frames (seeded), checked end to end with SHA-256.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makePair, ADDR_B } from '../helpers/two-stacks.js';
import { exchange, sha } from '../helpers/exchange.js';
import type { TcpConfig } from '../../src/transport/tcp/tcb.js';
import type { Tcb } from '../../src/transport/tcp/tcp.js';

async function checkExchange(opts: { loss?: number; reorder?: number; dup?: number; seed?: number; tcp?: Partial<TcpConfig>; up: number; down: number }) {
  const p = makePair({ wire: { lossRate: opts.loss ?? 0, reorderRate: opts.reorder ?? 0, duplicateRate: opts.dup ?? 0, seed: opts.seed ?? 1 }, tcp: opts.tcp });
  try {
    const up = randomBytes(opts.up);
    const down = randomBytes(opts.down);
    const r = await exchange(p, up, down);
    assert.equal(r.fromClient, sha(up), 'client -> server intact');
    assert.equal(r.fromServer, sha(down), 'server -> client intact');
    assert.equal(p.a.counters.internalErrors + p.b.counters.internalErrors, 0);
    return { ...r, p };
  } finally {
    p.close();
  }
}

test('clean link: 16 MiB each way at once, intact', async () => {
  const r = await checkExchange({ up: 16 << 20, down: 16 << 20 });
  for (const st of [r.p.tcpA.stats, r.p.tcpB.stats]) {
    // A clean link loses nothing; the only retransmissions allowed are tail loss probes,
    // which a busy event loop can trigger when the RTT is well under a millisecond (a probe
    // sends new data when there is some, which is no retransmission).
    assert.ok(st.retransSegs <= st.tailLossProbes);
    assert.equal(st.fastRetransmits, 0);
  }
  assert.equal(r.p.tcpA.stats.timeouts + r.p.tcpB.stats.timeouts, 0);
});

test('lossy link (2% loss, 2% reorder, 2% duplication): 4 MiB each way, SACK + CUBIC', async () => {
  const r = await checkExchange({ loss: 0.02, reorder: 0.02, dup: 0.02, seed: 42, up: 4 << 20, down: 4 << 20 });
  assert.ok(r.p.wire.stats.dropped > 100, 'the link really lost frames');
  assert.ok(r.p.tcpA.stats.fastRetransmits + r.p.tcpB.stats.fastRetransmits > 0, 'losses were repaired by fast retransmit');
});

test('lossy link, other seeds: 1 MiB each way', async () => {
  for (const seed of [2, 3, 4]) await checkExchange({ loss: 0.03, reorder: 0.03, dup: 0.03, seed, up: 1 << 20, down: 1 << 20 });
});

test('lossy link without SACK or timestamps: NewReno fast recovery and Karn timing', async () => {
  const r = await checkExchange({ loss: 0.02, reorder: 0.01, seed: 9, tcp: { sack: false, timestamps: false, congestion: 'newreno' }, up: 2 << 20, down: 2 << 20 });
  assert.ok(r.p.tcpA.stats.fastRetransmits + r.p.tcpB.stats.fastRetransmits > 0);
});

test('no window scaling (64 KiB windows) and small buffers still move data intact', async () => {
  await checkExchange({ loss: 0.01, seed: 5, tcp: { windowScaling: false, sendBufferSize: 32 * 1024, recvBufferSize: 48 * 1024 }, up: 1 << 20, down: 1 << 20 });
});

test('fake clock, manual wire: a lossy transfer is driven entirely by the timer heap', () => {
  const p = makePair({ fake: true, wire: { lossRate: 0.05, reorderRate: 0.05, duplicateRate: 0.05, seed: 11 } });
  const l = p.tcpB.listen(0, 6000);
  let server: Tcb | null = null;
  l.user = { onConnection: (t) => { server = t; } };
  const a = p.tcpA.connect(ADDR_B, 6000);
  const data = randomBytes(300_000);
  let off = 0;
  const got: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (let step = 0; step < 200_000 && got.reduce((n, b) => n + b.length, 0) < data.length; step++) {
    if (off < data.length && a.stateName === 'ESTABLISHED') off += Math.max(0, p.tcpA.send(a, data, off, data.length - off));
    if (server !== null) {
      const n = p.tcpB.read(server, buf);
      if (n > 0) got.push(Buffer.from(buf.subarray(0, n)));
    }
    p.run(1);
  }
  const all = Buffer.concat(got);
  assert.equal(all.length, data.length);
  assert.equal(sha(all), sha(data));
  assert.ok(p.wire.stats.dropped > 0);
  p.close();
});
