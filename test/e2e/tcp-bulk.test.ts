// 100 MB each way between a pstack client (examples/netcat.js: the public net API over a TAP)
// and Linux's socat in the same namespace, checked with SHA-256, with the times reported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, createWriteStream, createReadStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { e2eUnavailable, Netns } from './harness.js';

const skip = e2eUnavailable();
const NETCAT = fileURLToPath(new URL('../../examples/netcat.js', import.meta.url));
const SIZE = 100 * 1024 * 1024;

let dir: string;
let ns: Netns;

/** Write `size` random bytes to `path`; returns their SHA-256. */
async function randomFile(path: string, size: number): Promise<string> {
  const out = createWriteStream(path);
  const h = createHash('sha256');
  for (let left = size; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    h.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-bulk-'));
  ns = await Netns.create('bulk');
});

after(async () => {
  if (skip) return;
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Wait for a spawned process to exit; its exit code. */
function exited(child: ReturnType<Netns['spawn']>): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('close', (code) => resolve(code));
  });
}

test('a pstack client uploads 100 MB to Linux and downloads 100 MB from it, SHA-256 equal both ways', { skip: skip ?? false }, async () => {
  const up = join(dir, 'up.bin');
  const upGot = join(dir, 'up-got.bin');
  const down = join(dir, 'down.bin');
  const downGot = join(dir, 'down-got.bin');
  const [upSha, downSha] = await Promise.all([randomFile(up, SIZE), randomFile(down, SIZE)]);

  // pstack -> Linux. The tap (and so 192.0.2.1) exists once netcat.js runs; socat listens on
  // every address and takes the connection when the SYN comes.
  const sink = ns.spawn('socat', ['-u', '-T', '60', 'TCP-LISTEN:5000,reuseaddr', `CREATE:${upGot}`]);
  try {
    const t0 = performance.now();
    const r = await ns.exec('bash', ['-c', `timeout 90 node ${NETCAT} --log-level warn --stats 192.0.2.1 5000 < ${up} > /dev/null`], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await exited(sink), 0);
    const wall = (performance.now() - t0) / 1000;
    assert.match(r.stderr, new RegExp(`sent ${SIZE} received 0 in`));
    console.log(`# upload pstack -> Linux: ${r.stderr.trim()}; ${wall.toFixed(2)} s with node's start`);
    assert.equal(await sha256File(upGot), upSha);
  } finally {
    sink.kill('SIGKILL');
  }

  // Linux -> pstack.
  const source = ns.spawn('socat', ['-u', '-T', '60', `FILE:${down}`, 'TCP-LISTEN:5001,reuseaddr']);
  try {
    const t0 = performance.now();
    const r = await ns.exec('bash', ['-c', `timeout 90 node ${NETCAT} --log-level warn --stats 192.0.2.1 5001 < /dev/null > ${downGot}`], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const wall = (performance.now() - t0) / 1000;
    assert.match(r.stderr, new RegExp(`sent 0 received ${SIZE} in`));
    console.log(`# download Linux -> pstack: ${r.stderr.trim()}; ${wall.toFixed(2)} s with node's start`);
    assert.equal(await sha256File(downGot), downSha);
    assert.equal(await exited(source), 0);
  } finally {
    source.kill('SIGKILL');
  }
});
