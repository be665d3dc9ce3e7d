// TCP through a lossy, duplicating link on the kernel side: the transfer must still arrive
// intact. The issue asks for `tc qdisc ... netem`; this kernel is built without sch_netem
// (CONFIG_NET_SCH_NETEM is not set), so the impairment is done with nftables on the tap
// instead: random loss both ways and random duplication toward pstack. Reordering has no
// nftables equivalent; the unit transfer tests cover it on the in-memory wire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;

const RULES = `
table netdev impair {
  chain to_pstack {
    type filter hook egress device "tap0" priority 0;
    ip protocol tcp numgen random mod 100 < 5 counter drop
    ip protocol tcp numgen random mod 100 < 2 counter dup to "tap0"
  }
  chain from_pstack {
    type filter hook ingress device "tap0" priority 0;
    ip protocol tcp numgen random mod 100 < 5 counter drop
  }
}
`;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-impair-'));
  ns = await Netns.create('lossy');
  server = await startPstack(ns, ['server', '--control', 'none']);
  await ns.must('nft', ['-f', '-'], { input: RULES });
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('5 MB echoed through 5% loss each way and 2% duplication arrives intact', { skip: skip ?? false }, async () => {
  const input = randomBytes(5 * 1024 * 1024);
  const inPath = join(dir, 'in.bin');
  const outPath = join(dir, 'out.bin');
  writeFileSync(inPath, input);
  const r = await ns.exec('sh', ['-c', `nc -N 192.0.2.2 12345 < ${inPath} > ${outPath}`], { timeoutMs: 150_000 });
  assert.equal(r.code, 0, r.stderr);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(readFileSync(outPath)), sha(input));
  // The impairment really happened: the rules dropped and duplicated segments.
  const counters = (await ns.must('nft', ['list', 'table', 'netdev', 'impair'])).stdout;
  const packets = [...counters.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(packets.length, 3);
  for (const n of packets) assert.ok(n > 0, `every impairment rule fired: ${packets.join(', ')}`);
  assert.equal(server.child.exitCode, null);
});

test('the server shuts down cleanly afterwards with no internal errors', { skip: skip ?? false }, async () => {
  assert.equal(await server.stop(), 0);
  assert.match(server.log, /internal errors: 0/);
});
