import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tcpConnectionInfo } from '../../src/api/tcp-info.js';
import { formatSs } from '../../src/cli/ss.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import { ADDR_B, makePair } from '../helpers/two-stacks.js';

test('tcp info: a transfer over a lossy wire shows its cwnd, RTT, windows, byte counts and retransmits', () => {
  const p = makePair({ fake: true, wire: { lossRate: 0.05, seed: 7, delayMs: 5 } });
  const l = p.tcpB.listen(0, 6000);
  let server: Tcb | null = null;
  l.user = { onConnection: (t) => { server = t; } };
  const a = p.tcpA.connect(ADDR_B, 6000);
  const data = new Uint8Array(200_000).fill(7);
  let off = 0;
  let got = 0;
  const buf = new Uint8Array(65536);
  for (let step = 0; step < 100_000 && got < data.length; step++) {
    if (off < data.length && a.stateName === 'ESTABLISHED') off += Math.max(0, p.tcpA.send(a, data, off, data.length - off));
    if (server !== null) got += Math.max(0, p.tcpB.read(server, buf));
    p.run(1);
  }
  p.run(500);
  assert.equal(got, data.length);
  const [mine] = tcpConnectionInfo(p.a);
  const [theirs] = tcpConnectionInfo(p.b);
  assert.ok(mine !== undefined && theirs !== undefined);
  assert.equal(mine.state, 'ESTABLISHED');
  assert.equal(mine.remoteAddress, '192.0.2.2');
  assert.equal(mine.remotePort, 6000);
  assert.equal(mine.bytesAcked, data.length);
  assert.equal(mine.bytesSent, data.length);
  assert.equal(theirs.bytesReceived, data.length);
  assert.equal(mine.bytesInFlight, 0);
  assert.equal(mine.unacked, 0);
  assert.ok(mine.retransTotal > 0, 'a 5% lossy wire made it retransmit');
  // The wire's round trip is 10 ms. SRTT may sit well above it: a sample taken across a loss
  // repaired by a timeout (the echoed timestamp is then that old) weighs on it for a while.
  assert.ok(mine.minRttMs !== null && mine.minRttMs >= 10 && mine.minRttMs < 12, `min rtt ${mine.minRttMs}`);
  assert.ok(mine.srttMs >= 10 && mine.srttMs < mine.rtoMs, `srtt ${mine.srttMs}, rto ${mine.rtoMs}`);
  assert.ok(mine.rtoMs >= 200);
  assert.ok(mine.cwnd >= 2 && mine.cwndBytes >= mine.cwnd * mine.mss);
  assert.equal(mine.mss, 1448);
  assert.ok(mine.sndWnd > 0 && theirs.rcvWnd > 0);
  assert.ok(mine.sndWscale >= 0 && mine.rcvWscale >= 0);
  assert.equal(mine.congestion, 'cubic');
  const text = formatSs(tcpConnectionInfo(p.a));
  const lines = text.split('\n');
  assert.match(lines[0]!, /^State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port$/);
  assert.match(lines[1]!, /^ESTAB\s+0\s+0\s+192\.0\.2\.1:\d+\s+192\.0\.2\.2:6000$/);
  assert.match(lines[2]!, /^\t cubic wscale:\d+,\d+ rto:\d+ rtt:[\d.]+\/[\d.]+ mss:1448 advmss:1460 cwnd:\d+ (ssthresh:\d+ )?bytes_sent:200000 bytes_acked:200000 segs_out:\d+ segs_in:\d+ lastsnd:\d+ lastrcv:\d+ bytes_in_flight:0 retrans:0\/\d+ /);
  assert.match(lines[2]!, / snd_wnd:\d+ rcv_wnd:\d+$/);
  p.close();
});
