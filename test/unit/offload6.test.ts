// TAP offloads for IPv6 without a TAP: what the virtio-net header decisions give (which
// offloads the TUN_F_* bits grant, the GSO type of a frame, the largest read), and TCP over
// IPv6 handing whole runs of segments to a device that cuts them up as the kernel's TSO6 does
// (test/helpers/offload-device.ts), intact both ways, with and without loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makePair } from '../helpers/two-stacks.js';
import { exchange, sha } from '../helpers/exchange.js';
import { NO_OFFLOADS } from '../../src/link/device.js';
import {
  TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
  gsoTypeOf, largestReceivedPacket, offloadsFromTunFlags,
} from '../../src/link/virtio-net.js';

test('offloadsFromTunFlags: TSO for each family the kernel granted, never without checksum offload', () => {
  assert.deepEqual(offloadsFromTunFlags(10, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), { txChecksum: true, tsoMaxBytes: 65535, tso6MaxBytes: 65535 });
  assert.deepEqual(offloadsFromTunFlags(10, TUN_F_CSUM | TUN_F_TSO4), { txChecksum: true, tsoMaxBytes: 65535, tso6MaxBytes: 0 });
  assert.deepEqual(offloadsFromTunFlags(10, TUN_F_CSUM), { txChecksum: true, tsoMaxBytes: 0, tso6MaxBytes: 0 });
  assert.deepEqual(offloadsFromTunFlags(10, TUN_F_TSO4 | TUN_F_TSO6), { txChecksum: false, tsoMaxBytes: 0, tso6MaxBytes: 0 });
  assert.equal(offloadsFromTunFlags(0, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), NO_OFFLOADS, 'no virtio header: nothing');
});

test('largestReceivedPacket: a 64 KB IPv6 payload after its header with TSO6, a 64 KB IPv4 datagram with TSO4, else the MTU', () => {
  assert.equal(largestReceivedPacket(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, 1500), 40 + 65535);
  assert.equal(largestReceivedPacket(TUN_F_CSUM | TUN_F_TSO4, 1500), 65535);
  assert.equal(largestReceivedPacket(TUN_F_CSUM, 1500), 1500);
  assert.equal(largestReceivedPacket(0, 9000), 9000);
  assert.equal(largestReceivedPacket(TUN_F_CSUM | TUN_F_TSO6, 65535), 40 + 65535);
});

test('gsoTypeOf: TCPv6 for an IPv6 frame, TCPv4 for an IPv4 one', () => {
  const f = new Uint8Array(60);
  f[12] = 0x86; f[13] = 0xdd;
  assert.equal(gsoTypeOf(f), VIRTIO_NET_HDR_GSO_TCPV6);
  f[12] = 0x08; f[13] = 0x00;
  assert.equal(gsoTypeOf(f), VIRTIO_NET_HDR_GSO_TCPV4);
  f[12] = 0x86; f[13] = 0x00;
  assert.equal(gsoTypeOf(f), VIRTIO_NET_HDR_GSO_TCPV4);
});

test('TSO6: bulk data over IPv6 leaves as large segments cut up below the stack, intact both ways', async () => {
  const p = makePair({ offload: true, ipv6: true });
  try {
    const up = randomBytes(4 << 20);
    const down = randomBytes(4 << 20);
    const r = await exchange(p, up, down, 60_000, '2001:db8::2');
    assert.equal(r.fromClient, sha(up));
    assert.equal(r.fromServer, sha(down));
    for (const d of [p.offloadA!, p.offloadB!]) {
      assert.deepEqual(d.errors, []);
      assert.ok(d.gsoSegments6 > 20, `large IPv6 segments were sent (${d.gsoSegments6})`);
      assert.equal(d.gsoSegments6, d.gsoSegments, 'all of them IPv6');
      assert.ok(d.piecesOut >= d.gsoSegments * 2);
      // How large depends on how much the application had written when the window opened; on
      // a loaded machine the largest seen is 20-30 KB, so ask for more than ten segments' worth.
      assert.ok(d.largestFrame > 10 * 1440, `segments of tens of KB (largest ${d.largestFrame})`);
      assert.ok(d.largestFrame <= 65535 + 14, 'never more than the 64 KB limit');
    }
    assert.equal(p.a.counters.internalErrors + p.b.counters.internalErrors, 0);
    for (const s of [p.a, p.b]) assert.equal(s.counters.drops.get('tcp: bad-checksum') ?? 0, 0);
  } finally {
    p.close();
  }
});

test('TSO6 under loss, reordering and duplication: retransmissions of large IPv6 segments repair it', async () => {
  const p = makePair({ offload: true, ipv6: true, wire: { lossRate: 0.02, reorderRate: 0.02, duplicateRate: 0.02, seed: 11 } });
  try {
    const up = randomBytes(2 << 20);
    const down = randomBytes(2 << 20);
    const r = await exchange(p, up, down, 60_000, '2001:db8::2');
    assert.equal(r.fromClient, sha(up));
    assert.equal(r.fromServer, sha(down));
    assert.deepEqual(p.offloadA!.errors, []);
    assert.deepEqual(p.offloadB!.errors, []);
    assert.ok(p.offloadA!.gsoSegments6 > 0 && p.offloadB!.gsoSegments6 > 0);
    assert.ok(p.wire.stats.dropped > 10, 'the link really lost frames');
  } finally {
    p.close();
  }
});

test('without offloads no IPv6 frame exceeds the MTU and no checksum is left partial', async () => {
  const p = makePair({ offload: 'off', ipv6: true });
  try {
    const up = randomBytes(1 << 20);
    const r = await exchange(p, up, new Uint8Array(0), 60_000, '2001:db8::2');
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
