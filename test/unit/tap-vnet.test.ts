// The TAP device's side of the virtio-net header (src/link/tap.ts), with a stand-in for the
// native addon so no root or /dev/net/tun is needed: which offloads a device reports for the
// TUN_F_* bits granted, how received headers turn into rxFlags and size limits (a coalesced
// IPv6 segment of a 64 KB payload passes, an uncoalesced long frame does not), and which GSO
// type a large segment is written with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TapDevice } from '../../src/link/tap.js';
import { RxFlags, type Device } from '../../src/link/device.js';
import {
  TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
} from '../../src/link/virtio-net.js';

const VNET = 10;
const SLOT = 70_016;

interface Fake {
  device: TapDevice;
  /** Put frame i of the next batch: its virtio header fields, EtherType and IP packet length. */
  put(i: number, flags: number, gsoType: number, etherType: number, packetLength: number): void;
  deliver(count: number): void;
  received: { length: number; rxFlags: number }[];
  writes: unknown[][];
}

function fakeTap(tunFlags: number, vnetHeader = VNET): Fake {
  let onBatch: (count: number) => void = () => {};
  const writes: unknown[][] = [];
  const native = {
    start(_h: unknown, batch: (count: number) => void) { onBatch = batch; },
    setBusyPoll() {}, close() {}, ref() {}, unref() {}, stats() { return {}; }, lastWakeup() { return 0; },
    write(...args: unknown[]) { writes.push(args.slice(1)); return (args[1] as Uint8Array).length; },
  };
  const frames = new ArrayBuffer(4 * SLOT);
  const offsets = Int32Array.from([0, 1, 2, 3], (i) => i * SLOT);
  const lengths = new Int32Array(4);
  const opened = { handle: {}, fd: -1, name: 'fake0', frames, offsets, lengths, frameSlot: SLOT, maxFrames: 4, vnetHeader, offloads: tunFlags };
  const Ctor = TapDevice as unknown as new (...a: unknown[]) => TapDevice;
  const device = new Ctor(native, opened, 1500, new Uint8Array(6), undefined, 0);
  const received: { length: number; rxFlags: number }[] = [];
  device.open({ receiveFrame: (_d: Device, f: Uint8Array, rxFlags = 0) => { received.push({ length: f.length, rxFlags }); }, endBatch() {} });
  const bytes = new Uint8Array(frames);
  return {
    device, received, writes,
    deliver: (count) => onBatch(count),
    put(i, flags, gsoType, etherType, packetLength) {
      const at = offsets[i]!;
      bytes.fill(0, at, at + SLOT);
      bytes[at] = flags;
      bytes[at + 1] = gsoType;
      bytes[at + vnetHeader + 12] = etherType >>> 8;
      bytes[at + vnetHeader + 13] = etherType & 0xff;
      lengths[i] = vnetHeader + 14 + packetLength;
    },
  };
}

test('a tap granted checksum, TSO4 and TSO6 offers 64 KB segments for both families', () => {
  const all = fakeTap(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
  assert.deepEqual({ ...all.device.offloads }, { txChecksum: true, tsoMaxBytes: 65535, tso6MaxBytes: 65535 });
  const v4only = fakeTap(TUN_F_CSUM | TUN_F_TSO4);
  assert.deepEqual({ ...v4only.device.offloads }, { txChecksum: true, tsoMaxBytes: 65535, tso6MaxBytes: 0 });
  const plain = fakeTap(0, 0);
  assert.deepEqual({ ...plain.device.offloads }, { txChecksum: false, tsoMaxBytes: 0, tso6MaxBytes: 0 });
});

test('received: a coalesced IPv6 segment with a 64 KB payload passes, flagged checksum-ok; a long uncoalesced frame is dropped', () => {
  const t = fakeTap(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
  t.put(0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 0x86dd, 40 + 65535);
  t.put(1, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0x86dd, 1500);
  // The limits allow for one VLAN tag (4 bytes) after the Ethernet header.
  t.put(2, 0, 0, 0x86dd, 1500 + 4 + 1); // longer than the MTU and not marked coalesced
  t.put(3, 0, VIRTIO_NET_HDR_GSO_TCPV6, 0x86dd, 40 + 65535 + 4 + 1); // longer than any IPv6 packet
  t.deliver(4);
  assert.deepEqual(t.received, [
    { length: 14 + 40 + 65535, rxFlags: RxFlags.ChecksumOk },
    { length: 14 + 1500, rxFlags: RxFlags.ChecksumOk },
  ]);
  assert.equal(t.device.largeSegmentsIn, 1);
  assert.equal(t.device.checksumOffloadedIn, 2);
  assert.equal(t.device.oversizeFrames, 2);
});

test('received with TSO4 only: an IPv4 datagram of 64 KB passes, a larger coalesced frame does not', () => {
  const t = fakeTap(TUN_F_CSUM | TUN_F_TSO4);
  t.put(0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0x0800, 65535);
  t.put(1, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 0x86dd, 65535 + 4 + 1);
  t.deliver(2);
  assert.deepEqual(t.received.map((r) => r.length), [14 + 65535]);
  assert.equal(t.device.oversizeFrames, 1);
});

test('sent: a large segment is written with the GSO type of its family; others with none', () => {
  const t = fakeTap(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
  const v6 = new Uint8Array(14 + 40 + 20 + 4000);
  v6[12] = 0x86; v6[13] = 0xdd;
  const v4 = new Uint8Array(14 + 20 + 20 + 4000);
  v4[12] = 0x08; v4[13] = 0x00;
  t.device.send(v6, 1440, 54, 16);
  t.device.send(v4, 1460, 34, 16);
  t.device.send(v6.subarray(0, 1000), 0, 54, 16);
  t.device.send(v4.subarray(0, 60));
  assert.equal(t.writes.length, 4);
  assert.deepEqual(t.writes[0]!.slice(1), [1440, 54, 16, VIRTIO_NET_HDR_GSO_TCPV6]);
  assert.deepEqual(t.writes[1]!.slice(1), [1460, 34, 16, VIRTIO_NET_HDR_GSO_TCPV4]);
  assert.deepEqual(t.writes[2]!.slice(1), [0, 54, 16]);
  assert.deepEqual(t.writes[3]!.slice(1), []);
  assert.equal(t.device.largeSegmentsOut, 2);
});
