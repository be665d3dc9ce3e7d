import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  DIRECTION_INBOUND, DIRECTION_OUTBOUND, LINKTYPE_ETHERNET, LINKTYPE_RAW,
  encodeCaptureHeader, encodeEnhancedPacket, enhancedPacketSize, parsePcapng,
} from '../../src/observe/pcapng.js';
import { PcapngOutput } from '../../src/cli/pcapng-output.js';

const dir = mkdtempSync(join(tmpdir(), 'pstack-pcapng-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const vectors = (JSON.parse(readFileSync(new URL('../../../test/vectors/seed-frames.json', import.meta.url), 'utf8')) as {
  vectors: Array<{ name: string; layer: string; hex: string }>;
}).vectors;
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));

function captureOfVectors(): Uint8Array {
  const header = encodeCaptureHeader([{ name: 'lo', linkType: LINKTYPE_RAW }, { name: 'tap0', linkType: LINKTYPE_ETHERNET }]);
  const parts: Uint8Array[] = [header];
  vectors.forEach((v, i) => {
    const frame = hex(v.hex);
    // An odd offset into a larger buffer: the encoder must copy the right slice.
    const holder = new Uint8Array(frame.length + 3);
    holder.set(frame, 3);
    const out = new Uint8Array(enhancedPacketSize(frame.length));
    const n = encodeEnhancedPacket(out, 0, v.layer === 'ethernet' ? 1 : 0, 1_700_000_000_123_456 + i, i % 2 === 0 ? DIRECTION_INBOUND : DIRECTION_OUTBOUND, holder, 3, frame.length);
    assert.equal(n, out.length);
    parts.push(out);
  });
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return all;
}

test('pcapng round trip: interfaces, timestamps, directions and bytes come back', () => {
  const file = parsePcapng(captureOfVectors());
  assert.equal(file.application, 'pstack');
  assert.deepEqual(file.interfaces.map((i) => [i.name, i.linkType, i.tsresol]), [['lo', 101, 6], ['tap0', 1, 6]]);
  assert.equal(file.packets.length, vectors.length);
  file.packets.forEach((p, i) => {
    assert.equal(p.interfaceId, vectors[i]!.layer === 'ethernet' ? 1 : 0);
    assert.equal(p.timestampUs, 1_700_000_000_123_456 + i);
    assert.equal(p.direction, i % 2 === 0 ? DIRECTION_INBOUND : DIRECTION_OUTBOUND);
    assert.deepEqual([...p.data], [...hex(vectors[i]!.hex)]);
    assert.equal(p.originalLength, p.data.length);
  });
});

test('pcapng parser rejects a cut stream and bad magic', () => {
  const bytes = captureOfVectors();
  assert.throws(() => parsePcapng(bytes.subarray(0, bytes.length - 5)), /truncated/);
  const bad = bytes.slice();
  bad[8] = 0;
  assert.throws(() => parsePcapng(bad), /magic/);
});

test('tshark reads the encoding: interface names, link types, directions, every frame dissected', { skip: !hasTool('tshark') }, () => {
  const path = join(dir, 'vectors.pcapng');
  writeFileSync(path, captureOfVectors());
  const out = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.p2p_dir', '-e', 'frame.protocols', '-e', 'frame.time_epoch', '-e', '_ws.malformed'], { encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => l.split('\t'));
  assert.equal(lines.length, vectors.length);
  lines.forEach((f, i) => {
    const v = vectors[i]!;
    assert.equal(f[0], v.layer === 'ethernet' ? 'tap0' : 'lo');
    assert.equal(f[1], i % 2 === 0 ? '1' : '0', `direction of ${v.name}`); // tshark: 1 received, 0 sent
    assert.match(f[2]!, v.layer === 'ethernet' ? /^eth:ethertype:(arp|ip)/ : /^(raw:)?ip/);
    assert.equal(f[3], `1700000000.${String(123456 + i).padStart(6, '0')}000`);
    assert.equal(f[4] ?? '', '', `${v.name} is not malformed`);
  });
});

test('PcapngOutput writes a file tshark reads, and counts packets', { skip: !hasTool('tshark') }, async () => {
  const path = join(dir, 'out.pcapng');
  const out = PcapngOutput.open(path, [{ name: 'lo', linkType: LINKTYPE_RAW }, { name: 'tap0', linkType: LINKTYPE_ETHERNET }]);
  for (const v of vectors) {
    const f = hex(v.hex);
    out.write(v.layer === 'ethernet' ? 1 : 0, DIRECTION_OUTBOUND, f, 0, f.length);
  }
  await out.close();
  assert.equal(out.packets, vectors.length);
  assert.equal(out.dropped, 0);
  assert.equal(parsePcapng(readFileSync(path)).packets.length, vectors.length);
  const count = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n').length;
  assert.equal(count, vectors.length);
});

test('loopback raw IP goes into the file as Linux lo does (zero Ethernet header), so tcpdump reads every packet', { skip: !hasTool('tcpdump') }, async () => {
  const path = join(dir, 'lo.pcapng');
  const out = PcapngOutput.open(path, [{ name: 'lo', linkType: LINKTYPE_RAW }, { name: 'tap0', linkType: LINKTYPE_ETHERNET }]);
  // An ICMP echo request 127.0.0.1 > 127.0.0.1 (checksums as the stack would write them).
  const ip = hex('450000540001000040017cc27f0000017f000001080047fe0001000100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000');
  out.write(0, DIRECTION_OUTBOUND, ip, 0, ip.length);
  const eth = hex(vectors.find((v) => v.layer === 'ethernet')!.hex);
  out.write(1, DIRECTION_INBOUND, eth, 0, eth.length);
  await out.close();
  const file = parsePcapng(readFileSync(path));
  assert.deepEqual(file.interfaces.map((i) => i.linkType), [LINKTYPE_ETHERNET, LINKTYPE_ETHERNET]);
  const lo = file.packets[0]!;
  assert.deepEqual([...lo.data.subarray(0, 14)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]);
  assert.deepEqual([...lo.data.subarray(14)], [...ip]);
  assert.equal(lo.originalLength, ip.length + 14);
  const lines = execFileSync('tcpdump', ['-n', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /IP 127\.0\.0\.1 > 127\.0\.0\.1: ICMP echo request/);
});

function hasTool(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
