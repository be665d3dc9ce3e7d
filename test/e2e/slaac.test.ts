// Stateless autoconfiguration against a real router: radvd on the kernel's side of the tap (in
// the test's namespace, 2001:db8:1::/64 with RDNSS 2001:db8:1::53) and pstack server --ipv6
// with nothing but its link-local address. pstack must form 2001:db8:1:0:<EUI-64>/64 (seen with
// pstack addr), the kernel must ping -6 it and reach the echo service with nc -6, ndisc6 must
// get pstack's MAC, and rdisc6 aimed at pstack must get no answer (a host is no router).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable() ?? ((await run('which', ['radvd', 'ndisc6', 'rdisc6'])).code !== 0 ? 'radvd/ndisc6 missing (scripts/install-deps.sh)' : null);
let ns: Netns;
let server: ServerHandle;
let radvd: ChildProcess | null = null;
let radvdLog = '';
let dir: string;
let control: string;
const LINK_LOCAL = 'fe80::200:5eff:fe00:5301';
const SLAAC = '2001:db8:1:0:200:5eff:fe00:5301';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-slaac-'));
  control = join(dir, 'control.sock');
  ns = await Netns.create('slaac');
  server = await startPstack(ns, ['server', '--ipv6', '--control', control]);
  // The router's own address in the prefix it advertises, so that the kernel reaches pstack's.
  await ns.must('ip', ['-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'tap0', 'nodad']);
  writeFileSync(join(dir, 'radvd.conf'), `interface tap0 {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvDefaultLifetime 600;
  prefix 2001:db8:1::/64 {
    AdvOnLink on;
    AdvAutonomous on;
    AdvValidLifetime 3600;
    AdvPreferredLifetime 1800;
  };
  RDNSS 2001:db8:1::53 {
    AdvRDNSSLifetime 600;
  };
};
`);
  radvd = ns.spawn('radvd', ['--nodaemon', '-C', join(dir, 'radvd.conf'), '-p', join(dir, 'radvd.pid'), '-m', 'stderr', '-d', '1']);
  radvd.stderr?.on('data', (d: Buffer) => { radvdLog += d.toString(); });
  radvd.stdout?.on('data', (d: Buffer) => { radvdLog += d.toString(); });
});

after(async () => {
  if (skip) return;
  if (radvd !== null && radvd.exitCode === null) {
    radvd.kill('SIGTERM');
    await new Promise((resolve) => { radvd!.once('close', resolve); setTimeout(resolve, 5000); });
  }
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function addr(): Promise<string> {
  const r = await run(process.execPath, [CLI, 'addr', '--control', control]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('pstack forms 2001:db8:1::/64 + its EUI-64 from radvd, with lifetimes, router and RDNSS server', { skip: skip ?? false, timeout: 90_000 }, async () => {
  let text = '';
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    text = await addr();
    if (new RegExp(`inet6 ${SLAAC}/64 scope global dynamic\\n`).test(text)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.match(text, new RegExp(`inet6 ${SLAAC}/64 scope global dynamic\\n\\s+valid_lft (\\d+)sec preferred_lft (\\d+)sec`), `${text}\nradvd: ${radvdLog}`);
  const [, valid, preferred] = new RegExp(`valid_lft (\\d+)sec preferred_lft (\\d+)sec`).exec(text)!;
  assert.ok(Number(valid) > 3500 && Number(valid) <= 3600, `valid ${valid}`);
  assert.ok(Number(preferred) > 1700 && Number(preferred) <= 1800, `preferred ${preferred}`);
  assert.match(text, new RegExp(`inet6 ${LINK_LOCAL}/64 scope link`));
  assert.match(text, /router fe80::[0-9a-f:]+ lifetime \d+sec preference medium default/);
  assert.match(text, /dns 2001:db8:1::53 lifetime \d+sec/);
  assert.match(server.log, /ipv6 default router learned/);
});

test('the kernel pings the SLAAC address and reaches the echo service over it with nc -6', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const p = await ns.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', SLAAC], { timeoutMs: 20_000 });
  assert.equal(p.code, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /3 packets transmitted, 3 received/);
  const e = await ns.exec('bash', ['-c', `printf 'hello over slaac\\n' | timeout 10 nc -6 -N ${SLAAC} 12345`], { timeoutMs: 20_000 });
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.stdout, 'hello over slaac\n');
});

test('ndisc6 gets pstack\'s MAC for its SLAAC address; rdisc6 aimed at pstack gets no answer', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const n = await ns.exec('ndisc6', ['-1', '-r', '3', '-w', '1000', SLAAC, 'tap0'], { timeoutMs: 20_000 });
  assert.equal(n.code, 0, n.stdout + n.stderr);
  assert.match(n.stdout, /Target link-layer address: 00:00:5E:00:53:01/i);
  const r = await ns.exec('rdisc6', ['-1', '-r', '2', '-w', '1000', LINK_LOCAL, 'tap0'], { timeoutMs: 20_000 });
  assert.notEqual(r.code, 0, `pstack is a host, not a router: ${r.stdout}`);
  assert.match(r.stdout + r.stderr, /No response/i);
});

test('pstack stats: router solicitations, advertisements accepted, one address configured', { skip: skip ?? false }, async () => {
  const r = await run(process.execPath, [CLI, 'stats', '--control', control]);
  assert.equal(r.code, 0, r.stderr);
  // None when radvd's own advertisement came before pstack's first solicitation was due (RFC 4861 6.3.7).
  assert.match(r.stdout, /\n\s+[0-3] router solicitations sent/);
  assert.match(r.stdout, /\n\s+[1-9]\d* router advertisements accepted/);
  assert.match(r.stdout, /\n\s+1 addresses configured from router advertisements/);
  assert.match(r.stdout, /Ndp:[^]*\n\s+[1-9]\d* dropped: rs-ignored/, `rdisc6's solicitation, discarded as a host must:\n${r.stdout}`);
});
