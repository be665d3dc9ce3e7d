// IPv6 path MTU discovery (RFC 8201) against a real router: pstack's tap leads into namespace
// K, where the kernel routes to a far namespace F behind a veth with MTU 1400. pstack's
// full-sized packets draw real ICMPv6 Packet Too Big from the kernel (routers never fragment
// IPv6); pstack learns the path MTU, resends smaller, and the transfer completes. TCP goes
// through pstack server's echo service (`pstack route cache` shows the entry); UDP through a
// Node program on a second tap whose socket asks for path MTU discovery: a datagram larger than
// the path then fails with EMSGSIZE instead of being cut into fragments, and one that fits arrives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, ROOT, startPstack, startNodeScript, run, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let k: Netns;
let f: Netns;
let server: ServerHandle;
let dir: string;
let control: string;
const FAR = '2001:db8:1::2';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-pmtu6-'));
  control = join(dir, 'control.sock');
  k = await Netns.create('pm6k');
  f = await Netns.create('pm6f');
  // pstack 2001:db8::2 on tap0, the kernel 2001:db8::1 there.
  server = await startPstack(k, ['server', '--addr', '192.0.2.2/24', '--addr', '2001:db8::2/64', '--no-slaac', '--control', control]);
  // K routes between pstack's tap (2001:db8::/64) and F (2001:db8:1::/64) over a 1400-byte link.
  await k.must('ip', ['link', 'add', 'pm6k0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'pm6f0', 'mtu', '1400']);
  await k.must('ip', ['link', 'set', 'pm6f0', 'netns', f.name]);
  await k.must('ip', ['-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'pm6k0', 'nodad']);
  await k.must('ip', ['link', 'set', 'pm6k0', 'up']);
  await k.must('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  await f.must('ip', ['-6', 'addr', 'add', `${FAR}/64`, 'dev', 'pm6f0', 'nodad']);
  await f.must('ip', ['link', 'set', 'pm6f0', 'up']);
  // F advertises MSS 1440 as a host on a 1500-byte LAN behind a smaller hop would: pstack's
  // full-sized segments then meet the 1400-byte link only at K, which drops them and answers
  // Packet Too Big with MTU 1400.
  await f.must('ip', ['-6', 'route', 'add', 'default', 'via', '2001:db8:1::1', 'advmss', '1440']);
  const r = await cli(['route', 'add', '2001:db8:1::/64', 'via', '2001:db8::1']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  for (const ns of [f, k]) await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return run(process.execPath, [CLI, ...args, '--control', control], { timeoutMs: 15_000 });
}

test('a TCP transfer over IPv6 from pstack to a host behind a 1400-byte link completes; Packet Too Big from the kernel router sets the path MTU', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const data = randomBytes(2 * 1024 * 1024);
  const file = join(dir, 'in.bin');
  writeFileSync(file, data);
  const want = createHash('sha256').update(data).digest('hex');
  // nc in F sends to pstack's echo service; the echo comes back in pstack's full-sized segments.
  const r = await f.exec('bash', ['-c', `timeout 60 nc -6 -N 2001:db8::2 12345 < ${file} | sha256sum`], { timeoutMs: 70_000 });
  assert.equal(r.code, 0, r.stderr + server.log.slice(-2000));
  assert.equal(r.stdout.split(' ')[0], want, 'the echo came back whole through the 1400-byte link');
  const stats = await cli(['stats', '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const counters = (JSON.parse(stats.stdout) as { counters: Record<string, number> }).counters;
  assert.ok(counters['pmtu6Lowered']! >= 1, `pmtu6Lowered ${counters['pmtu6Lowered']}: ${JSON.stringify(counters)}`);
  assert.ok(counters['tcpPmtuShrinks']! >= 1, `tcpPmtuShrinks ${counters['tcpPmtuShrinks']}`);
  assert.equal(counters['pmtu6BelowFloor'] ?? 0, 0);
});

test('pstack route cache shows the learned IPv6 path MTU to the far host', { skip: skip ?? false }, async () => {
  const r = await cli(['route', 'cache']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^2001:db8:1::2 mtu 1400 expires \d+sec$/m);
  const j = await cli(['route', 'cache', '--json']);
  const entries = (JSON.parse(j.stdout) as { entries: Array<{ destination: string; mtu: number; family: string }> }).entries;
  assert.deepEqual(entries.map((e) => [e.destination, e.mtu, e.family]), [[FAR, 1400, 'inet6']]);
});

test('ping -6 -s 1400 from the far host: pstack fragments its replies to the cached path MTU', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const fragments = async () => (JSON.parse((await cli(['stats', '--json'])).stdout).counters as Record<string, number>)['ip6FragmentsOut'] ?? 0;
  const before = await fragments();
  const p = await f.exec('ping', ['-6', '-c', '2', '-i', '0.3', '-W', '3', '-s', '1400', '2001:db8::2'], { timeoutMs: 20_000 });
  assert.equal(p.code, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /2 received/);
  // Each 1448-byte reply fits the tap but not the path: pstack cuts it in two itself (the router would drop it).
  const after = await fragments();
  assert.ok(after >= before + 4, `pstack fragmented its replies: ${before} -> ${after}`);
});

/** A stack on its own tap (2001:db8:2::2), a UDP socket with path MTU discovery sending to F. */
function udpProgram(): string {
  const api = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', p)).href);
  return `
import { openTapStack } from ${api('index.js')};
import { parseIpv6 } from ${api('wire/addr6.js')};
import { intern6 } from ${api('stack/ip-address.js')};
import { existsSync } from 'node:fs';
const stack = await openTapStack({ tap: 'tappm6u', addr: ['198.51.100.66/24', '2001:db8:2::2/64'], hostAddr: null, gateway: null, ipv6: { slaac: false } });
stack.ipv6.routes.add(parseIpv6('2001:db8:1::'), 64, intern6(parseIpv6('2001:db8:2::1')), stack.ipv6.interfaces.find((i) => !i.isLoopback), 'static');
console.log('stack ready');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 300 && !existsSync(process.argv[2]); i++) await sleep(50);
const s = stack.createSocket({ type: 'udp6', pathMtuDiscovery: true });
s.bind(0);
await new Promise((r) => s.once('listening', r));
const send = (n) => new Promise((resolve) => s.send(Buffer.alloc(n, 0x61), 9999, '${FAR}', (err) => resolve(err ? err.code : 'sent')));
const out = { before: s.getPathMtu('${FAR}') };
// 1452 bytes of data: 1500 on the wire, too big for the 1400-byte hop. The router drops it and says so.
out.first = await send(1452);
for (let i = 0; i < 50 && s.getPathMtu('${FAR}') === out.before; i++) await sleep(100);
out.after = s.getPathMtu('${FAR}');
out.tooBig = await send(1452);
out.fits = await send(1400 - 48);
console.log('RESULT ' + JSON.stringify(out));
s.close();
stack.close();
process.exit(0);
`;
}

test('UDP over IPv6 with path MTU discovery: the Packet Too Big lowers getPathMtu, a larger datagram then fails with EMSGSIZE, one that fits arrives whole', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const script = join(dir, 'udp6.mjs');
  writeFileSync(script, udpProgram());
  let listener: ChildProcess | null = null;
  let received = '';
  let program: ServerHandle | null = null;
  try {
    // F prints the size and source of each datagram it receives.
    listener = f.spawn('python3', ['-u', '-c', [
      'import socket', 's = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)', 's.bind(("::", 9999))',
      'while True:', '    d, a = s.recvfrom(65535)', '    print(len(d), a[0], flush=True)',
    ].join('\n')]);
    listener.stdout!.on('data', (b: Buffer) => { received += b.toString(); });
    const go = join(dir, 'go');
    program = await startNodeScript(k, script, [go], /stack ready/, 30_000);
    await k.must('ip', ['-6', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'tappm6u', 'nodad']);
    writeFileSync(go, '');
    const [, json] = await program.waitForLog(/RESULT (.*)\n/, 60_000);
    const out = JSON.parse(json!);
    assert.equal(out.before, 1500);
    assert.equal(out.first, 'sent');
    assert.equal(out.after, 1400, 'learned from the kernel router\'s Packet Too Big');
    assert.equal(out.tooBig, 'EMSGSIZE');
    assert.equal(out.fits, 'sent');
    for (let i = 0; i < 50 && !/1352 2001:db8:2::2/.test(received); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(received, /^1352 2001:db8:2::2$/m, 'the datagram that fits arrived whole');
    assert.doesNotMatch(received, /^1452 /m, 'the one too big never got through');
  } finally {
    if (listener !== null && listener.exitCode === null) listener.kill();
    if (program !== null && program.child.exitCode === null) await program.stop();
  }
});
