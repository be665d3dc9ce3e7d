// The web page's server side without a browser: the packet ring's bounds, who-to-whom of a
// frame, the --web value, and a slow page that is skipped ahead and told how much it missed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PacketRing } from '../../src/cli/web/packet-ring.js';
import { hostHeaderAllowed, parseWebAddress } from '../../src/cli/web/address.js';
import { LiveFeed } from '../../src/cli/web/live-feed.js';
import { capturePcapng } from '../../src/cli/web/web-server.js';
import { frameEnds } from '../../src/observe/frame-ends.js';
import { parsePcapng } from '../../src/observe/pcapng.js';
import { UsageError } from '../../src/cli/errors.js';
import type { Device } from '../../src/link/device.js';

const vectors: Array<{ name: string; hex: string }> = JSON.parse(readFileSync(new URL('../../../test/vectors/seed-frames.json', import.meta.url), 'utf8')).vectors;
const seed = (name: string) => Uint8Array.from(Buffer.from(vectors.find((v) => v.name === name)!.hex, 'hex'));

test('the ring keeps the newest frames within its count and byte bounds, bytes intact', () => {
  const ring = new PacketRing({ maxFrames: 4, maxBytes: 100 });
  const frame = (n: number, len: number) => new Uint8Array(len).fill(n);
  for (let n = 1; n <= 3; n++) assert.equal(ring.push(frame(n, 30), 0, 30, n % 2 === 0, 0, n), n);
  assert.deepEqual([ring.oldest, ring.last, ring.size], [1, 3, 3]);
  // 30 more bytes do not fit after 90: the ring starts again at 0, forgetting frame 1 only.
  ring.push(frame(4, 30), 0, 30, false, 0, 4);
  assert.deepEqual([ring.oldest, ring.last], [2, 4]);
  for (let n = 2; n <= 4; n++) assert.deepEqual([...ring.bytes(n)!], [...frame(n, 30)]);
  assert.equal(ring.bytes(1), null);
  assert.equal(ring.outgoing(2), true);
  // The count bound: five small frames, four kept.
  for (let n = 5; n <= 9; n++) ring.push(frame(n, 5), 0, 5, false, 0, n);
  assert.deepEqual([ring.oldest, ring.last, ring.size], [6, 9, 4]);
  for (let n = 6; n <= 9; n++) assert.deepEqual([...ring.bytes(n)!], [...frame(n, 5)]);
  // A frame longer than the arena is cut to it, its wire length kept.
  const id = ring.push(frame(10, 150), 0, 150, false, 0, 10);
  assert.deepEqual([ring.bytes(id)!.length, ring.wireLength(id), ring.size], [100, 150, 1]);
});

test('the ring under many random frames: every kept frame reads back as written', () => {
  const ring = new PacketRing({ maxFrames: 50, maxBytes: 3000 });
  const written = new Map<number, number>();
  let seedValue = 7;
  const rand = () => (seedValue = (seedValue * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 5000; i++) {
    const len = rand() % 400;
    const id = ring.push(new Uint8Array(len).fill(i & 0xff), 0, len, false, 0, i);
    written.set(id, i);
    let kept = 0;
    for (let k = ring.oldest; k <= ring.last; k++) {
      const b = ring.bytes(k)!;
      assert.ok(b.every((x) => x === (written.get(k)! & 0xff)), `frame ${k} after ${i}`);
      kept += b.length;
    }
    assert.ok(kept <= 3000 && ring.size <= 50);
  }
});

test('who sent a frame to whom: ARP by protocol address, IP by address, DNS by port', () => {
  assert.deepEqual(frameEnds(seed('seed000-incoming-0'), 0, 42), { src: '192.0.2.1', dst: '192.0.2.2', protocol: 'arp' });
  const ping = seed('seed000-incoming-2');
  assert.deepEqual(frameEnds(ping, 0, ping.length), { src: '192.0.2.1', dst: '192.0.2.2', protocol: 'icmp' });
  assert.deepEqual(frameEnds(ping, 14, ping.length - 14, 'ip'), { src: '192.0.2.1', dst: '192.0.2.2', protocol: 'icmp' });
  const syn = seed('seed001-incoming-12');
  assert.equal(frameEnds(syn, 0, syn.length).protocol, 'tcp');
  assert.deepEqual(frameEnds(new Uint8Array(5), 0, 5), { src: '?', dst: '?', protocol: 'ethernet' });
});

test('--web takes HOST:PORT with an IP address or localhost, and nothing else', () => {
  assert.deepEqual(parseWebAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseWebAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseWebAddress('localhost:9000'), { host: 'localhost', port: 9000 });
  for (const bad of ['8080', '127.0.0.1', ':8080', 'example.com:80', '127.0.0.1:70000', '::1:80', '[127.0.0.1]:80', '1.2.3:80', '127.0.0.1:-1']) {
    assert.throws(() => parseWebAddress(bad), (e: unknown) => e instanceof UsageError && /^invalid --web /.test(e.message), bad);
  }
});

/** A stand-in for an http response: records what was written; `full` makes it report backpressure. */
class FakeResponse {
  written = '';
  /** Everything ever written (`written` may be cleared by the test). */
  log = '';
  full = false;
  writableLength = 0;
  private handlers = new Map<string, () => void>();
  writeHead() { return this; }
  write(text: string) { this.written += text; this.log += text; if (this.full) this.writableLength += text.length; return !this.full; }
  end() {}
  on(event: string, f: () => void) { this.handlers.set(event, f); return this; }
  emit(event: string) { this.handlers.get(event)?.(); }
}

test('a page that cannot keep up is skipped ahead and told how many frames it missed; the stack never waits', async () => {
  const feed = new LiveFeed({ maxFrames: 1000, maxBytes: 1 << 20, maxClientLag: 100, maxClientBufferBytes: 1000, backlog: 10 });
  try {
    const device = { name: 'tap0', type: 'tap' } as unknown as Device;
    const ping = seed('seed000-incoming-2');
    for (let i = 0; i < 20; i++) feed.observer.frame('incoming', device, ping, 0, ping.length);
    const res = new FakeResponse();
    feed.attach(res as never, { interfaces: [] });
    // Only the backlog of 10 for a page that opens now; each row a summary.
    await new Promise((r) => setTimeout(r, 250));
    const rows = [...res.written.matchAll(/^event: packets\ndata: (.*)$/gm)].flatMap((m) => JSON.parse(m[1]!));
    assert.deepEqual(rows.map((r: { id: number }) => r.id), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    assert.equal(rows[0].summary, '192.0.2.1 > 192.0.2.2: ICMP echo request, id 17, seq 1, length 64');
    assert.deepEqual([rows[0].proto, rows[0].src, rows[0].dst, rows[0].dir, rows[0].dev], ['icmp', '192.0.2.1', '192.0.2.2', 'in', 'tap0']);
    // The page stops reading: its socket fills, the feed stops writing to it...
    res.full = true;
    for (let i = 0; i < 300; i++) feed.observer.frame('incoming', device, ping, 0, ping.length);
    await new Promise((r) => setTimeout(r, 250));
    const before = res.written.length;
    for (let i = 0; i < 300; i++) feed.observer.frame('incoming', device, ping, 0, ping.length);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(res.written.length, before);
    // ...and when it drains, it gets the newest 100 and a count of the rest.
    res.full = false;
    res.writableLength = 0;
    res.written = '';
    res.emit('drain');
    const dropped = /event: dropped\ndata: (.*)/.exec(res.written);
    assert.ok(dropped, res.written.slice(0, 200));
    const after = [...res.written.matchAll(/^event: packets\ndata: (.*)$/gm)].flatMap((m) => JSON.parse(m[1]!));
    assert.equal(after.at(-1).id, 620);
    assert.equal(after.length, 100);
    // Every frame from the backlog on was either sent once, in order, or counted as missed.
    const sent = [...res.log.matchAll(/^event: packets\ndata: (.*)$/gm)].flatMap((m) => JSON.parse(m[1]!).map((r: { id: number }) => r.id));
    const missed = [...res.log.matchAll(/^event: dropped\ndata: (.*)$/gm)].reduce((n, m) => n + JSON.parse(m[1]!).count, 0);
    assert.ok(sent.every((id, i) => i === 0 || id > sent[i - 1]!));
    assert.equal(sent.length + missed, 620 - 10);
    assert.ok(missed > 0);
    // What the ring holds downloads as pcapng, one interface per device seen.
    const file = parsePcapng(capturePcapng(feed));
    assert.equal(file.packets.length, 620);
    assert.equal(file.interfaces[0]!.name, 'tap0');
  } finally {
    feed.close();
  }
});

test('the page answers only requests that name it by address (no DNS rebinding)', () => {
  for (const ok of ['127.0.0.1:8080', '127.0.0.1', '[::1]:8080', '[::1]', 'localhost:9000', 'LOCALHOST', '192.0.2.1:80']) {
    assert.ok(hostHeaderAllowed(ok), ok);
  }
  for (const bad of [undefined, '', 'evil.example:8080', 'example.com', '127.0.0.1.nip.io:8080', '[::1', '::1', '[example]:80', '127.0.0.1:8080:1']) {
    assert.ok(!hostHeaderAllowed(bad), String(bad));
  }
});
