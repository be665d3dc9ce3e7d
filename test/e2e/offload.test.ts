// TAP offloads end to end: with them (the default) the kernel and pstack exchange TCP segments
// of tens of KB over the tap, checksums left to the other side, over IPv4 and over IPv6 (TSO6,
// the virtio header's TCPv6 GSO type both ways), and data still arrives intact; with
// --offload off every frame fits the MTU. Seen with the kernel's own tools (ethtool, tshark).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { e2eUnavailable, Netns, startPstack, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let dir: string;

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-offload-e2e-'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Observed {
  tso: string;
  /** ethtool's tx-tcp6-segmentation: whether the kernel hands the tap TCPv6 segments to cut up. */
  tso6: string;
  /** pstack's log line saying what offloads it was granted. */
  offloadsLogged: string;
  /** Frames longer than a 1500-byte MTU allows, by source address. */
  largeFrom: Map<string, number>;
  framesSeen: number;
  intact: boolean;
}

/**
 * Echo `bytes` through pstack's TCP echo service while tshark records the tap: over IPv4 to
 * 192.0.2.2, or with `family` 6 over IPv6 to 2001:db8::2 (the kernel's side 2001:db8::1).
 */
async function echoWhileCapturing(serverArgs: string[], bytes: number, family: 4 | 6 = 4): Promise<Observed> {
  const ns = await Netns.create(`offl${family}`);
  let server: ServerHandle | undefined;
  try {
    const addrs = family === 6 ? ['--addr', '192.0.2.2/24', '--addr', '2001:db8::2/64'] : [];
    server = await startPstack(ns, ['server', ...addrs, ...serverArgs]);
    if (family === 6) await server.waitForLog(/ipv6 address is ready\n\s+ip:\s+2001:db8::2\/64/, 15_000);
    const features = await ns.must('ethtool', ['-k', 'tap0']);
    const tso = features.stdout.match(/tcp-segmentation-offload: (\w+)/)?.[1] ?? '?';
    const tso6 = features.stdout.match(/tx-tcp6-segmentation: (\w+)/)?.[1] ?? '?';
    const offloadsLogged = server.log.match(/offloads:\s+(.*)/)?.[1] ?? '?';
    const input = join(dir, `in-${ns.name}`);
    const output = join(dir, `out-${ns.name}`);
    const capture = join(dir, `cap-${ns.name}.pcap`);
    writeFileSync(input, randomBytes(bytes));
    // Only the headers are needed: a short snap length keeps the capture small.
    const tshark = ns.spawn('tshark', ['-n', '-q', '-i', 'tap0', '-s', '128', '-f', 'tcp port 12345', '-w', capture]);
    let tsharkErr = '';
    tshark.stderr!.on('data', (b: Buffer) => (tsharkErr += b.toString()));
    for (let i = 0; i < 100 && !/Capturing on/.test(tsharkErr); i++) await new Promise((r) => setTimeout(r, 100));
    const target = family === 6 ? '-6 2001:db8::2' : '192.0.2.2';
    const r = await ns.exec('bash', ['-c', `timeout 90 nc -N ${target} 12345 < ${input} > ${output}`], { timeoutMs: 100_000 });
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 300));
    tshark.kill('SIGINT');
    await new Promise((res) => tshark.on('close', res));
    const fields = await ns.must('tshark', ['-n', '-r', capture, '-T', 'fields', '-e', family === 6 ? 'ipv6.src' : 'ip.src', '-e', 'frame.len'], { timeoutMs: 60_000 });
    const largeFrom = new Map<string, number>();
    let framesSeen = 0;
    for (const line of fields.stdout.split('\n')) {
      const [src, len] = line.split('\t');
      if (src === undefined || src === '' || len === undefined) continue;
      framesSeen++;
      if (Number(len) > 1514) largeFrom.set(src, (largeFrom.get(src) ?? 0) + 1);
    }
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    return { tso, tso6, offloadsLogged, largeFrom, framesSeen, intact: sha(input) === sha(output) };
  } finally {
    const code = await server?.stop();
    await ns.destroy();
    assert.equal(code, 0, 'pstack server exits cleanly');
  }
}

test('offloads on (default): segments of tens of KB both ways over the tap, echo intact', { skip: skip ?? false }, async () => {
  const o = await echoWhileCapturing([], 20_000_000);
  assert.equal(o.tso, 'on', 'the kernel sees a tap that takes TSO');
  assert.ok(o.intact, '20 MB echoed intact');
  assert.ok(o.framesSeen > 100);
  assert.ok((o.largeFrom.get('192.0.2.1') ?? 0) > 10, `the kernel sent coalesced segments to pstack: ${[...o.largeFrom]}`);
  assert.ok((o.largeFrom.get('192.0.2.2') ?? 0) > 10, `pstack sent large segments for the kernel to cut up: ${[...o.largeFrom]}`);
});

test('offloads on over IPv6: TSO6 both ways, segments of tens of KB between 2001:db8::1 and ::2, 100 MB echo intact', { skip: skip ?? false }, async () => {
  const o = await echoWhileCapturing([], 100_000_000, 6);
  assert.equal(o.tso6, 'on', 'the kernel sees a tap that takes TCPv6 segments to cut up');
  assert.match(o.offloadsLogged, /^checksum, tso ipv4 ipv6 /);
  assert.ok(o.intact, '100 MB echoed intact over IPv6');
  assert.ok(o.framesSeen > 100);
  assert.ok((o.largeFrom.get('2001:db8::1') ?? 0) > 10, `the kernel sent coalesced IPv6 segments to pstack: ${[...o.largeFrom]}`);
  assert.ok((o.largeFrom.get('2001:db8::2') ?? 0) > 10, `pstack sent large IPv6 segments for the kernel to cut up: ${[...o.largeFrom]}`);
});

test('--offload off: plain frames only, none beyond the MTU, echo intact', { skip: skip ?? false }, async () => {
  const o = await echoWhileCapturing(['--offload', 'off'], 5_000_000);
  assert.equal(o.tso, 'off');
  assert.equal(o.tso6, 'off');
  assert.equal(o.offloadsLogged, 'off');
  assert.ok(o.intact, '5 MB echoed intact');
  assert.ok(o.framesSeen > 100);
  assert.equal(o.largeFrom.size, 0, `no frame longer than 1514 bytes: ${[...o.largeFrom]}`);
});

test('--offload off over IPv6: plain frames only, none beyond the MTU, echo intact', { skip: skip ?? false }, async () => {
  const o = await echoWhileCapturing(['--offload', 'off'], 5_000_000, 6);
  assert.equal(o.tso6, 'off');
  assert.ok(o.intact, '5 MB echoed intact over IPv6');
  assert.ok(o.framesSeen > 100);
  assert.equal(o.largeFrom.size, 0, `no frame longer than 1514 bytes: ${[...o.largeFrom]}`);
});

test('--offload on with --forward is refused with a clear error', { skip: skip ?? false }, async () => {
  const ns = await Netns.create('offlbad');
  try {
    const { CLI } = await import('./harness.js');
    const r = await ns.exec(process.execPath, [CLI, 'server', '--forward', '--offload', 'on', '--control', 'none']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.split('\n')[0]!, /^pstack: --offload on cannot be combined with --forward/);
  } finally {
    await ns.destroy();
  }
});
