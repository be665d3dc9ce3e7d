// pstack as an IPv6 router (--forward) between two namespaces: A (2001:db8:1::1) and B
// (2001:db8:2::1) are joined only through pstack in a third namespace R, each with its default
// route via pstack. B's link has a smaller MTU (1400) than A's (1500), so a full-size packet
// from A draws Packet Too Big. Linux's ping -6 and traceroute -6 in A see pstack as a hop.
// The taps are created in R by pstack and their host sides moved into A and B (as router.test.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let r: Netns;
let a: Netns;
let b: Netns;
let server: ServerHandle;
let dir: string;
let control: string;

before(async () => {
  if (skip) return;
  r = await Netns.create('r6r');
  a = await Netns.create('r6a');
  b = await Netns.create('r6b');
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-router6-'));
  control = join(dir, 'control.sock');
  server = await startPstack(r, [
    'server', '--forward',
    '--tap', 'tapa', '--addr', '192.0.2.2/24', '--addr', '2001:db8:1::2/64', '--mtu', '1500',
    '--tap', 'tapb', '--addr', '198.51.100.2/24', '--addr', '2001:db8:2::2/64', '--mtu', '1400',
    '--host-addr', 'none', '--host-addr', 'none',
    '--gateway', 'none', '--control', control,
  ]);
  await server.waitForLog(/ipv6 address is ready\n\s+ip:\s+2001:db8:2::2\/64/, 10_000);
  await r.must('ip', ['link', 'set', 'tapa', 'netns', a.name]);
  await r.must('ip', ['link', 'set', 'tapb', 'netns', b.name]);
  for (const [ns, dev, addr, gw] of [[a, 'tapa', '2001:db8:1::1/64', '2001:db8:1::2'], [b, 'tapb', '2001:db8:2::1/64', '2001:db8:2::2']] as const) {
    await ns.must('ip', ['addr', 'add', addr, 'dev', dev, 'nodad']);
    await ns.must('ip', ['link', 'set', dev, 'up']);
    await ns.must('ip', ['-6', 'route', 'add', 'default', 'via', gw]);
  }
});

after(async () => {
  if (skip) return;
  await server?.stop();
  for (const ns of [a, b, r]) await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ping6 = (ns: Netns, args: string[], timeoutMs = 15_000) => ns.exec('ping', ['-6', '-n', ...args], { timeoutMs });

test('ping -6 from A reaches B across pstack (hop limit one less), and back', { skip: skip ?? false }, async () => {
  const across = await ping6(a, ['-c', '3', '-i', '0.2', '-W', '3', '2001:db8:2::1']);
  assert.equal(across.code, 0, across.stdout + across.stderr + server.log.slice(-2000));
  assert.match(across.stdout, /3 received/);
  assert.match(across.stdout, /from 2001:db8:2::1: icmp_seq=1 (ttl|hlim)=63/, 'B answers with 64, pstack decrements it');
  const back = await ping6(b, ['-c', '1', '-W', '3', '2001:db8:1::1']);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  const far = await ping6(a, ['-c', '1', '-W', '3', '2001:db8:2::2']);
  assert.equal(far.code, 0, far.stdout + far.stderr);
  assert.match(far.stdout, /from 2001:db8:2::2: icmp_seq=1 (ttl|hlim)=64/, 'pstack\'s own far address is not forwarded');
});

test('traceroute -6 (ICMP and UDP) lists pstack\'s 2001:db8:1::2 as hop 1 and B as hop 2', { skip: skip ?? false }, async () => {
  for (const mode of [['-I'], []]) {
    const t = await a.exec('traceroute', ['-6', '-n', ...mode, '-q', '1', '-w', '2', '-m', '5', '2001:db8:2::1'], { timeoutMs: 30_000 });
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /^\s*1\s+2001:db8:1::2\s/m, t.stdout);
    assert.match(t.stdout, /^\s*2\s+2001:db8:2::1\s/m, t.stdout);
    assert.doesNotMatch(t.stdout, /^\s*3\s/m, 'done at hop 2');
  }
});

test('ping -6 -t 1 gets "Time exceeded: Hop limit" from pstack', { skip: skip ?? false }, async () => {
  const p = await ping6(a, ['-c', '1', '-W', '3', '-t', '1', '2001:db8:2::1']);
  assert.notEqual(p.code, 0);
  assert.match(p.stdout, /From 2001:db8:1::2 icmp_seq=1 Time exceeded: Hop limit/, p.stdout + p.stderr);
});

test('a packet larger than B\'s link MTU gets "Packet too big: mtu=1400"; a fitting one passes', { skip: skip ?? false }, async () => {
  const big = await ping6(a, ['-c', '1', '-W', '3', '-s', '1400', '-M', 'do', '2001:db8:2::1']);
  assert.notEqual(big.code, 0);
  assert.match(big.stdout + big.stderr, /From 2001:db8:1::2 icmp_seq=1 Packet too big: mtu=1400/, big.stdout + big.stderr);
  // The kernel in A learned the path MTU from it.
  const route = await a.must('ip', ['-6', 'route', 'get', '2001:db8:2::1']);
  assert.match(route.stdout, /mtu 1400/, route.stdout);
  const fits = await ping6(a, ['-c', '1', '-W', '3', '-s', '1352', '-M', 'do', '2001:db8:2::1']);
  assert.equal(fits.code, 0, fits.stdout + fits.stderr);
  assert.match(fits.stdout, /1360 bytes from 2001:db8:2::1/);
});

test('an unrouted destination gets "Destination unreachable: No route" from pstack', { skip: skip ?? false }, async () => {
  const p = await ping6(a, ['-c', '1', '-W', '3', '2001:db8:3::1']);
  assert.notEqual(p.code, 0);
  assert.match(p.stdout, /From 2001:db8:1::2 icmp_seq=1 Destination unreachable: No route/, p.stdout + p.stderr);
});

test('a silent host on B\'s network gets "Address unreachable" once Neighbor Discovery gives up', { skip: skip ?? false }, async () => {
  const started = Date.now();
  const p = await ping6(a, ['-c', '1', '-W', '8', '2001:db8:2::77'], 20_000);
  const elapsed = Date.now() - started;
  assert.notEqual(p.code, 0);
  assert.match(p.stdout, /From 2001:db8:1::2 icmp_seq=1 Destination unreachable: Address unreachable/, p.stdout + server.log.slice(-2000));
  assert.ok(elapsed >= 2_500 && elapsed < 8_000, `after the solicitations (~3 s), took ${elapsed} ms`);
});

test('pstack route -6 shows the table; a route added through the control socket carries traffic', { skip: skip ?? false }, async () => {
  const list = await run(process.execPath, [CLI, 'route', '-6', '--control', control]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^2001:db8:2::\/64\s+::\s+U\s+tapb\s+interface$/m, list.stdout);
  // B also answers for 2001:db8:4::1, a network pstack only reaches once told to go via B.
  await b.must('ip', ['addr', 'add', '2001:db8:4::1/128', 'dev', 'tapb', 'nodad']);
  const before = await ping6(a, ['-c', '1', '-W', '3', '2001:db8:4::1']);
  assert.match(before.stdout, /Destination unreachable: No route/, before.stdout);
  const add = await run(process.execPath, [CLI, 'route', 'add', '2001:db8:4::/64', 'via', '2001:db8:2::1', '--control', control]);
  assert.equal(add.code, 0, add.stdout + add.stderr);
  const after = await ping6(a, ['-c', '1', '-W', '3', '2001:db8:4::1']);
  assert.equal(after.code, 0, after.stdout + after.stderr);
  const del = await run(process.execPath, [CLI, 'route', 'del', '2001:db8:4::/64', '--control', control]);
  assert.equal(del.code, 0, del.stderr);
  const list2 = await run(process.execPath, [CLI, 'route', '-6', '--control', control]);
  assert.doesNotMatch(list2.stdout, /2001:db8:4::/);
});

test('Ctrl-C: IPv6 forwarding is counted, drops by reason, no internal errors', { skip: skip ?? false }, async () => {
  const code = await server.stop();
  assert.equal(code, 0, server.log.slice(-2000));
  assert.match(server.log, /internal errors: 0/);
  const forwarded = Number(/ip6 forwarded:\s+(\d+)/.exec(server.log)?.[1] ?? 0);
  assert.ok(forwarded >= 8, `ip6 forwarded: ${forwarded}`);
  assert.match(server.log, /drop forward6: hop-limit-exceeded: \d+/);
  assert.match(server.log, /drop forward6: too-big: 1/);
  assert.match(server.log, /drop forward6: no-route: 2/);
});
