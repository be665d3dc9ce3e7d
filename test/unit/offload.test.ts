// TAP offloads without a TAP: the stack's side of checksum offload and TSO, against a device
// that does in software what the kernel does with the virtio header (test/helpers/offload-device.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makePair } from '../helpers/two-stacks.js';
import { exchange, sha } from '../helpers/exchange.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { Stack } from '../../src/api/stack.js';
import { RxFlags } from '../../src/link/device.js';
import { emitTcp, TcpSegment } from '../../src/wire/tcp.js';
import { fold16, pseudoHeaderSum, sum16 } from '../../src/wire/checksum.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4 } from '../../src/wire/ipv4.js';
import { emitUdp } from '../../src/wire/udp.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { createSocket } from '../../src/api/dgram.js';
import { dissectFrame } from '../../src/observe/dissect.js';

const SRC = parseIpv4('192.0.2.1')!;
const DST = parseIpv4('192.0.2.2')!;

test('emitTcp with a partial checksum writes the pseudo-header sum, which completes to a valid checksum', () => {
  const buf = new Uint8Array(20 + 100);
  buf.set(randomBytes(100), 20);
  const repr = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: 0x18, window: 5, urgentPointer: 0 };
  emitTcp(buf, 0, repr, 0, 100, SRC, DST, true);
  const field = (buf[16]! << 8) | buf[17]!;
  assert.equal(field, fold16(pseudoHeaderSum(SRC, DST, 6, 120)));
  assert.equal(new TcpSegment(buf, 0, 120).verifyChecksum(SRC, DST), false, 'partial is not yet valid');
  // What the device does: checksum from the TCP header to the end, field included.
  const csum = ~fold16(sum16(buf, 0, 120)) & 0xffff;
  buf[16] = csum >>> 8; buf[17] = csum & 0xff;
  assert.equal(new TcpSegment(buf, 0, 120).verifyChecksum(SRC, DST), true);
  const full = new Uint8Array(buf);
  emitTcp(full, 0, repr, 0, 100, SRC, DST, false);
  assert.deepEqual(full.subarray(16, 18), buf.subarray(16, 18), 'same checksum as computed in full');
});

test('TSO: bulk data leaves as large segments with gsoSize = SMSS, cut up below the stack, intact both ways', async () => {
  const p = makePair({ offload: true });
  try {
    const up = randomBytes(4 << 20);
    const down = randomBytes(4 << 20);
    const r = await exchange(p, up, down);
    assert.equal(r.fromClient, sha(up));
    assert.equal(r.fromServer, sha(down));
    for (const d of [p.offloadA!, p.offloadB!]) {
      assert.deepEqual(d.errors, []);
      assert.ok(d.gsoSegments > 20, `large segments were sent (${d.gsoSegments})`);
      assert.ok(d.piecesOut >= d.gsoSegments * 2);
      // How large depends on how much the application had written when the window opened; on a
      // loaded machine the largest seen is 20-30 KB, so ask for more than ten segments' worth.
      assert.ok(d.largestFrame > 10 * 1460, `segments of tens of KB (largest ${d.largestFrame})`);
      assert.ok(d.largestFrame <= 65535 + 14, 'never more than one IPv4 datagram');
    }
    assert.equal(p.a.counters.internalErrors + p.b.counters.internalErrors, 0);
    assert.equal(p.a.counters.drops.get('tcp: bad-checksum') ?? 0, 0);
    assert.equal(p.b.counters.drops.get('tcp: bad-checksum') ?? 0, 0);
  } finally {
    p.close();
  }
});

test('TSO under loss, reordering and duplication: retransmissions of large segments repair it', async () => {
  const p = makePair({ offload: true, wire: { lossRate: 0.02, reorderRate: 0.02, duplicateRate: 0.02, seed: 7 } });
  try {
    const up = randomBytes(2 << 20);
    const down = randomBytes(2 << 20);
    const r = await exchange(p, up, down);
    assert.equal(r.fromClient, sha(up));
    assert.equal(r.fromServer, sha(down));
    assert.deepEqual(p.offloadA!.errors, []);
    assert.deepEqual(p.offloadB!.errors, []);
    assert.ok(p.wire.stats.dropped > 10, 'the link really lost frames');
  } finally {
    p.close();
  }
});

test('without offloads no frame exceeds the MTU and no checksum is left partial', async () => {
  const p = makePair({ offload: 'off' });
  try {
    const up = randomBytes(1 << 20);
    const r = await exchange(p, up, new Uint8Array(0));
    assert.equal(r.fromClient, sha(up));
    for (const d of [p.offloadA!, p.offloadB!]) {
      assert.deepEqual(d.errors, []);
      assert.equal(d.partialChecksums, 0);
      assert.ok(d.largestFrame <= 1514, `nothing beyond the MTU (largest ${d.largestFrame})`);
    }
    assert.ok(p.offloadA!.largestFrame > 1400, 'the sender sent full-sized frames');
  } finally {
    p.close();
  }
});

function udpFrame(payload: Uint8Array, corruptChecksum: boolean): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + payload.length);
  emitEthernet(f, 0, parseMac('00:00:5e:00:53:01')!, parseMac('00:00:5e:00:53:02')!, EtherType.IPv4);
  f.set(payload, 42);
  emitUdp(f, 34, { srcPort: 4000, dstPort: 4001, payloadLength: payload.length }, SRC, DST);
  if (corruptChecksum) f[40] ^= 0x55;
  emitIpv4(f, 14, {
    tos: 0, id: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 17,
    src: SRC, dst: DST, options: new Uint8Array(0), payloadLength: 8 + payload.length,
  });
  return f;
}

test('a checksum the device vouches for (RxFlags.ChecksumOk) is not verified again; others still are', () => {
  const dev = new CaptureDevice();
  const stack = new Stack();
  stack.addInterface(dev, { address: DST, prefixLength: 24 });
  stack.start();
  const got: string[] = [];
  const sock = createSocket(stack, 'udp4', (msg) => got.push(msg.toString()));
  sock.bind(4001);
  // A partial checksum, as the kernel hands it over with NEEDS_CSUM, fails a software check.
  stack.receiveFrame(dev, udpFrame(Buffer.from('vouched'), true), RxFlags.ChecksumOk);
  stack.receiveFrame(dev, udpFrame(Buffer.from('unchecked'), true));
  stack.receiveFrame(dev, udpFrame(Buffer.from('good'), false));
  assert.deepEqual(got, ['vouched', 'good']);
  assert.equal(stack.counters.drops.get('udp: bad-checksum'), 1);
  sock.close();
  stack.close();
});

test('the dissector calls a checksum left for offload partial, not bad', () => {
  const payload = randomBytes(64);
  const f = new Uint8Array(14 + 20 + 20 + payload.length);
  emitEthernet(f, 0, parseMac('00:00:5e:00:53:01')!, parseMac('00:00:5e:00:53:02')!, EtherType.IPv4);
  f.set(payload, 54);
  emitTcp(f, 34, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: 0x18, window: 5, urgentPointer: 0 }, 0, payload.length, SRC, DST, true);
  emitIpv4(f, 14, {
    tos: 0, id: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6,
    src: SRC, dst: DST, options: new Uint8Array(0), payloadLength: 20 + payload.length,
  });
  const text = JSON.stringify(dissectFrame('outgoing', f, 0, f.length));
  assert.match(text, /partial, completed by checksum offload/);
  f[60] ^= 1; // now neither complete nor the bare pseudo-header sum
  f[50] ^= 1;
  assert.match(JSON.stringify(dissectFrame('outgoing', f, 0, f.length)), /bad, expected/);
});
