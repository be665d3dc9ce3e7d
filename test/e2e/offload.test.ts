// TAP offloads end to end: with them (the default) the kernel and pstack exchange TCP segments
// of tens of KB over the tap, checksums left to the other side, and data still arrives intact;
// with --offload off every frame fits the MTU. Seen with the kernel's own tools (ethtool, tshark).
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
  /** Frames longer than a 1500-byte MTU allows, by source address. */
  largeFrom: Map<string, number>;
  framesSeen: number;
  intact: boolean;
}

/** Echo `bytes` through pstack's TCP echo service while tshark records the tap. */
async function echoWhileCapturing(serverArgs: string[], bytes: number): Promise<Observed> {
  const ns = await Netns.create('offl');
  let server: ServerHandle | undefined;
  try {
    server = await startPstack(ns, ['server', ...serverArgs]);
    const features = await ns.must('ethtool', ['-k', 'tap0']);
    const tso = features.stdout.match(/tcp-segmentation-offload: (\w+)/)?.[1] ?? '?';
    const input = join(dir, `in-${ns.name}`);
    const output = join(dir, `out-${ns.name}`);
    const capture = join(dir, `cap-${ns.name}.pcap`);
    writeFileSync(input, randomBytes(bytes));
    // Only the headers are needed: a short snap length keeps the capture small.
    const tshark = ns.spawn('tshark', ['-n', '-q', '-i', 'tap0', '-s', '128', '-f', 'tcp port 12345', '-w', capture]);
    let tsharkErr = '';
    tshark.stderr!.on('data', (b: Buffer) => (tsharkErr += b.toString()));
    for (let i = 0; i < 100 && !/Capturing on/.test(tsharkErr); i++) await new Promise((r) => setTimeout(r, 100));
    const r = await ns.exec('bash', ['-c', `nc -N 192.0.2.2 12345 < ${input} > ${output}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 300));
    tshark.kill('SIGINT');
    await new Promise((res) => tshark.on('close', res));
    const fields = await ns.must('tshark', ['-n', '-r', capture, '-T', 'fields', '-e', 'ip.src', '-e', 'frame.len'], { timeoutMs: 60_000 });
    const largeFrom = new Map<string, number>();
    let framesSeen = 0;
    for (const line of fields.stdout.split('\n')) {
      const [src, len] = line.split('\t');
      if (src === undefined || len === undefined) continue;
      framesSeen++;
      if (Number(len) > 1514) largeFrom.set(src, (largeFrom.get(src) ?? 0) + 1);
    }
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    return { tso, largeFrom, framesSeen, intact: sha(input) === sha(output) };
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

test('--offload off: plain frames only, none beyond the MTU, echo intact', { skip: skip ?? false }, async () => {
  const o = await echoWhileCapturing(['--offload', 'off'], 5_000_000);
  assert.equal(o.tso, 'off');
  assert.ok(o.intact, '5 MB echoed intact');
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
