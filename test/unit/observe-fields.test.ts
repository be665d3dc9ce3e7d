// The structured dissection (fields.ts): every field the seed-style log shows, with the bytes it
// comes from, checked against the frames' own bytes; and the log text is the same as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { dissectFrame } from '../../src/observe/dissect.js';
import { frameLayers, type FrameLayer } from '../../src/observe/fields.js';

interface Vector { name: string; layer: 'ethernet' | 'ipv4'; hex: string }
const file = new URL('../../../test/vectors/seed-frames.json', import.meta.url);
const vectors: Vector[] = JSON.parse(readFileSync(file, 'utf8')).vectors;

function seed(name: string): Uint8Array {
  const v = vectors.find((x) => x.name === name);
  assert.ok(v, `vector ${name}`);
  return Uint8Array.from(Buffer.from(v.hex, 'hex'));
}

function fieldOf(layers: FrameLayer[], layerTitle: string, name: string) {
  const layer = layers.find((l) => l.title.includes(layerTitle));
  assert.ok(layer, `layer ${layerTitle} in ${layers.map((l) => l.title).join(', ')}`);
  const f = layer.fields.find((x) => x.name === name);
  assert.ok(f, `field ${name} in ${layer.fields.map((x) => x.name).join(', ')}`);
  return f;
}

const hexOf = (bytes: Uint8Array, offset: number, length: number) => Buffer.from(bytes.subarray(offset, offset + length)).toString('hex');

test('an ICMP echo request: each field with its bytes, offsets counted from the frame', () => {
  const bytes = seed('seed000-incoming-2');
  // Put the frame in the middle of a bigger buffer: offsets must still count from its first byte.
  const buf = new Uint8Array(bytes.length + 30);
  buf.set(bytes, 10);
  const layers = frameLayers('incoming', buf, 10, bytes.length);
  assert.deepEqual(layers.map((l) => l.title), ['incoming ethernet frame (98 bytes)', 'incoming ip packet', 'incoming icmp packet']);
  assert.deepEqual(layers.map((l) => [l.offset, l.length]), [[0, 98], [14, 84], [34, 64]]);
  const type = fieldOf(layers, 'icmp', 'type');
  assert.match(type.value, /\(8\)$/);
  assert.deepEqual([type.offset, type.length], [34, 1]);
  assert.equal(bytes[type.offset], 8);
  const checksum = fieldOf(layers, 'icmp', 'checksum');
  assert.deepEqual([checksum.offset, checksum.length], [36, 2]);
  assert.equal(checksum.value, `0x${hexOf(bytes, 36, 2)} (ok)`);
  const src = fieldOf(layers, 'ip packet', 'source address');
  assert.equal(src.value, '192.0.2.1');
  assert.deepEqual([src.offset, src.length], [26, 4]);
  assert.equal(hexOf(bytes, src.offset, src.length), 'c0000201');
  const ttl = fieldOf(layers, 'ip packet', 'ttl');
  assert.equal(ttl.value, String(bytes[ttl.offset]));
  assert.equal(ttl.offset, 22);
  const ethType = fieldOf(layers, 'ethernet', 'type');
  assert.deepEqual([ethType.offset, ethType.length], [12, 2]);
  // A multi-line hex payload is one field whose value has every byte, covering the bytes shown.
  const payload = fieldOf(layers, 'icmp', 'payload');
  assert.deepEqual([payload.offset, payload.length], [42, 56]);
  assert.equal(payload.value.replace(/\s+/g, ''), hexOf(bytes, 42, 56));
});

test('ARP and TCP fields point at the bytes their values come from', () => {
  const arp = seed('seed000-incoming-0');
  const arpLayers = frameLayers('incoming', arp, 0, arp.length);
  const tpa = fieldOf(arpLayers, 'arp', 'target protocol address');
  assert.equal(tpa.value, '192.0.2.2');
  assert.equal(hexOf(arp, tpa.offset, tpa.length), 'c0000202');
  const sha = fieldOf(arpLayers, 'arp', 'sender hardware address');
  assert.equal(hexOf(arp, sha.offset, sha.length), sha.value.replaceAll(':', ''));
  const syn = seed('seed001-incoming-12');
  const tcpLayers = frameLayers('incoming', syn, 0, syn.length);
  const dport = fieldOf(tcpLayers, 'tcp', 'dst port');
  assert.equal(Number(dport.value), (syn[dport.offset]! << 8) | syn[dport.offset + 1]!);
  const seq = fieldOf(tcpLayers, 'tcp', 'Seq');
  assert.equal(Number(seq.value), Buffer.from(syn.subarray(seq.offset, seq.offset + 4)).readUInt32BE());
  const options = fieldOf(tcpLayers, 'tcp', 'options');
  assert.match(options.value, /MSS/);
  assert.equal(options.offset, 34 + 20);
});

test('the log lines are the same whether or not anyone reads the fields', () => {
  for (const v of vectors) {
    const bytes = Uint8Array.from(Buffer.from(v.hex, 'hex'));
    const linkType = v.layer === 'ipv4' ? 'ip' : 'ethernet';
    const blocks = dissectFrame('incoming', bytes, 0, bytes.length, linkType);
    const layers = frameLayers('incoming', bytes, 0, bytes.length, linkType);
    assert.equal(layers.length, blocks.length, v.name);
    // Every field's bytes lie inside the frame, and every line's text is in some field.
    for (const layer of layers) {
      for (const f of layer.fields) {
        if (f.offset >= 0) assert.ok(f.offset + f.length <= bytes.length, `${v.name} ${layer.title} ${f.name}`);
      }
    }
    blocks.forEach((b, i) => {
      const text = layers[i]!.fields.map((f) => `${f.name} ${f.value}`).join('\n');
      for (const line of b.lines) {
        const value = line.includes(':') && !/^\s/.test(line) ? line.slice(line.indexOf(':') + 1).trim() : line.trim();
        assert.ok(text.includes(value), `${v.name}: ${JSON.stringify(line)}`);
      }
    });
  }
});

test('any bytes: layers and fields stay inside the frame, nothing throws', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, ip) => {
    const layers = frameLayers('outgoing', bytes, 0, bytes.length, ip ? 'ip' : 'ethernet');
    for (const l of layers) for (const f of l.fields) {
      assert.ok(f.offset === -1 || (f.offset >= 0 && f.offset + f.length <= bytes.length + 0), `${l.title} ${f.name} ${f.offset}+${f.length}`);
    }
  }), { numRuns: 2000 });
});
