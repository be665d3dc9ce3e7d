import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { FrameReceiver } from '../../src/link/device.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  PcapDevice,
  PcapWriter,
  parsePcap,
} from '../../src/link/pcap-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'pstack-pcap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNumber = 0;
const tempPath = () => join(dir, `capture-${fileNumber++}.pcap`);

const MAC_US = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];
const MAC_PEER = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x02];

/** ARP who-has 192.0.2.1 tell 192.0.2.3, broadcast: 42 bytes. */
function arpRequest(): Uint8Array {
  return Uint8Array.from([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ...MAC_US, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
    ...MAC_US, 192, 0, 2, 3,
    0, 0, 0, 0, 0, 0, 192, 0, 2, 1,
  ]);
}

/** IPv4/UDP 198.51.100.1:4000 -> 198.51.100.2:5000 with a correct header checksum. */
function ipv4Udp(payload: number[]): Uint8Array {
  const total = 20 + 8 + payload.length;
  const p = new Uint8Array(total);
  const v = new DataView(p.buffer);
  p.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2]);
  v.setUint16(2, total);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  v.setUint16(20, 4000);
  v.setUint16(22, 5000);
  v.setUint16(24, 8 + payload.length);
  p.set(payload, 28);
  return p;
}

function ethernet(dst: number[], src: number[], payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  f.set([0x08, 0x00], 12);
  f.set(payload, 14);
  return f;
}

const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

function runTshark(path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('tshark', ['-n', '-r', path], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const tsharkPath = ['/usr/bin/tshark', '/usr/local/bin/tshark'].find((p) => existsSync(p));

/** tshark warns when run as root; that line is not a complaint about the file. */
function tsharkComplaints(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/Running as user "root"/.test(line));
}

describe('PcapWriter', () => {
  test('writes the global header and records byte for byte', () => {
    const path = tempPath();
    const writer = new PcapWriter(path);
    const arp = arpRequest();
    const udp = ethernet(MAC_PEER, MAC_US, ipv4Udp([1, 2, 3, 4]));
    writer.write(arp, 1_700_000_000_123.456);
    writer.write(udp, 1_700_000_001_000);
    writer.write(udp, 1_700_000_001_999.9996); // rounds up into the next second
    writer.close();
    writer.close();
    assert.equal(writer.packets, 3);

    const bytes = readFileSync(path);
    assert.deepEqual(
      [...bytes.subarray(0, 24)],
      [
        0xd4, 0xc3, 0xb2, 0xa1, // magic, microsecond timestamps, little-endian
        2, 0, 4, 0, // version 2.4
        0, 0, 0, 0, // thiszone
        0, 0, 0, 0, // sigfigs
        0x00, 0x00, 0x04, 0x00, // snaplen 262144
        1, 0, 0, 0, // LINKTYPE_ETHERNET
      ],
    );
    let at = 24;
    const expectRecord = (seconds: number, micros: number, frame: Uint8Array) => {
      assert.deepEqual(
        [...bytes.subarray(at, at + 16)],
        [...le32(seconds), ...le32(micros), ...le32(frame.length), ...le32(frame.length)],
      );
      assert.deepEqual([...bytes.subarray(at + 16, at + 16 + frame.length)], [...frame]);
      at += 16 + frame.length;
    };
    expectRecord(1_700_000_000, 123_456, arp);
    expectRecord(1_700_000_001, 0, udp);
    expectRecord(1_700_000_002, 0, udp);
    assert.equal(bytes.length, at);

    const parsed = parsePcap(bytes);
    assert.equal(parsed.linkType, LINKTYPE_ETHERNET);
    assert.equal(parsed.records.length, 3);
    assert.equal(parsed.records[0]!.microseconds, 123_456);
  });

  test('an empty capture is a valid file as soon as it is created', () => {
    const path = tempPath();
    const writer = new PcapWriter(path);
    assert.equal(statSync(path).size, 24);
    writer.close();
    assert.deepEqual(parsePcap(readFileSync(path)).records, []);
  });

  test('truncates to the snap length but keeps the original length', () => {
    const path = tempPath();
    const writer = new PcapWriter(path, { snapLength: 20 });
    writer.write(new Uint8Array(100).fill(7), 0);
    writer.close();
    const [record] = parsePcap(readFileSync(path)).records;
    assert.equal(record!.data.length, 20);
    assert.equal(record!.originalLength, 100);
  });

  test('keeps every byte across buffer flushes, frames larger than the buffer, and close', () => {
    const path = tempPath();
    const writer = new PcapWriter(path, { bufferSize: 100 });
    const frames = [10, 60, 84, 85, 500, 1, 3000, 42].map((n, i) => new Uint8Array(n).fill(i + 1));
    frames.forEach((f, i) => writer.write(f, i * 1000));
    // Nothing may be lost between the last buffered record and close().
    writer.close();
    const records = parsePcap(readFileSync(path)).records;
    assert.deepEqual(
      records.map((r) => [r.seconds, r.data.length, r.data[0]]),
      frames.map((f, i) => [i, f.length, i + 1]),
    );
    assert.throws(() => writer.write(new Uint8Array(1)), /closed/);
  });

  test('tshark reads our capture without complaint', { skip: tsharkPath ? false : 'tshark not installed' }, async () => {
    const path = tempPath();
    const writer = new PcapWriter(path);
    writer.write(arpRequest());
    writer.write(ethernet(MAC_PEER, MAC_US, ipv4Udp([0x68, 0x69])));
    writer.close();
    const rawPath = tempPath();
    const raw = new PcapWriter(rawPath, { linkType: LINKTYPE_RAW });
    raw.write(ipv4Udp([1, 2, 3]));
    raw.close();

    const ethernetRun = await runTshark(path);
    assert.equal(ethernetRun.code, 0, ethernetRun.stderr);
    assert.deepEqual(tsharkComplaints(ethernetRun.stderr), []);
    assert.doesNotMatch(ethernetRun.stdout, /Malformed|error/i);
    const lines = ethernetRun.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /ARP.*Who has 192\.0\.2\.1\? Tell 192\.0\.2\.3/);
    assert.match(lines[1]!, /198\.51\.100\.1 → 198\.51\.100\.2 .*UDP/);

    const rawRun = await runTshark(rawPath);
    assert.equal(rawRun.code, 0, rawRun.stderr);
    assert.deepEqual(tsharkComplaints(rawRun.stderr), []);
    assert.doesNotMatch(rawRun.stdout, /Malformed|error/i);
    assert.match(rawRun.stdout, /198\.51\.100\.1 → 198\.51\.100\.2 .*UDP/);
  });
});

describe('PcapDevice', () => {
  test('records frames in and out and passes everything through unchanged', () => {
    const wire = new MemoryWire({ mode: 'manual' });
    const us = wire.createDevice('us', Uint8Array.from(MAC_US));
    const peer = wire.createDevice('peer', Uint8Array.from(MAC_PEER));
    const path = tempPath();
    const captured = new PcapDevice(us, path);
    assert.equal(captured.name, 'us');
    assert.equal(captured.type, 'ethernet');
    assert.equal(captured.mtu, 1500);
    assert.equal(captured.mac, us.mac);

    const received: { device: unknown; frame: number[] }[] = [];
    let batches = 0;
    const receiver: FrameReceiver = {
      receiveFrame: (device, frame) => received.push({ device, frame: [...frame] }),
      endBatch: (device) => {
        assert.equal(device, captured);
        batches++;
      },
    };
    captured.open(receiver);
    const peerGot: number[][] = [];
    peer.open({ receiveFrame: (_d, f) => peerGot.push([...f]), endBatch: () => {} });

    const out1 = arpRequest();
    const out2 = ethernet(MAC_PEER, MAC_US, ipv4Udp([1]));
    const out3 = ethernet(MAC_PEER, MAC_US, ipv4Udp([2]));
    captured.send(out1);
    captured.send(out2);
    captured.send(out3);
    const incoming = ethernet(MAC_US, MAC_PEER, ipv4Udp([9, 9]));
    peer.send(incoming);
    wire.flush();

    assert.deepEqual(peerGot, [[...out1], [...out2], [...out3]]);
    assert.deepEqual(received, [{ device: captured, frame: [...incoming] }], 'receivers see the wrapper as the device');
    assert.equal(batches, 1);
    assert.equal(captured.counters, us.counters);
    assert.equal(us.counters.framesOut, 3);

    captured.close();
    assert.equal(captured.writer.closed, true);
    const file = parsePcap(readFileSync(path));
    assert.equal(file.linkType, LINKTYPE_ETHERNET);
    assert.deepEqual(
      file.records.map((r) => [...r.data]),
      [[...out1], [...out2], [...out3], [...incoming]],
    );
    const now = Date.now();
    for (const r of file.records) assert.ok(Math.abs(r.timestampMs - now) < 60_000, 'wall-clock timestamps');
  });

  test('wrapping loopback writes a LINKTYPE_RAW capture', async () => {
    const path = tempPath();
    const lo = new PcapDevice(new LoopbackDevice(), path);
    const got = new Promise<void>((resolve) => lo.open({ receiveFrame: () => {}, endBatch: () => resolve() }));
    lo.send(ipv4Udp([5]));
    await got;
    lo.close();
    const file = parsePcap(readFileSync(path));
    assert.equal(file.linkType, LINKTYPE_RAW);
    // Sent once, received once.
    assert.equal(file.records.length, 2);
  });

  test('a capture that fails never disturbs traffic', () => {
    const wire = new MemoryWire({ mode: 'manual' });
    const us = wire.createDevice('us', Uint8Array.from(MAC_US));
    const peer = wire.createDevice('peer', Uint8Array.from(MAC_PEER));
    class DiskFullWriter extends PcapWriter {
      override write(): void {
        throw new Error('ENOSPC: no space left on device');
      }
    }
    const writer = new DiskFullWriter(tempPath());
    const captured = new PcapDevice(us, writer);
    let weGot = 0;
    captured.open({ receiveFrame: () => weGot++, endBatch: () => {} });
    let peerGot = 0;
    peer.open({ receiveFrame: () => peerGot++, endBatch: () => {} });
    captured.send(arpRequest());
    captured.send(arpRequest());
    peer.send(arpRequest());
    wire.flush();
    assert.equal(peerGot, 2);
    assert.equal(weGot, 1);
    assert.equal(captured.captureErrors, 1, 'recording stops after the first failure');
    assert.match(String(captured.captureFailure), /ENOSPC/);
    captured.close();
    writer.close();
  });
});
