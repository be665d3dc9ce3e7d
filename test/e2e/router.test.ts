// pstack as a router (--forward) between two namespaces: A (192.0.2.1) and B (198.51.100.1)
// are joined only through pstack running in a third namespace R. Linux's ping, traceroute and
// socat in A see pstack as a hop: TTL, Record Route, fragments, Net and Host Unreachable.
//
// The taps are created in R by pstack; their host sides are then moved into A and B. The TAP
// file descriptor pstack holds stays attached to the same device across the move (the device
// changes namespace, not identity), which the first test verifies by pinging across.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let r: Netns;
let a: Netns;
let b: Netns;
let server: ServerHandle;
let echo: ChildProcess | null = null;

before(async () => {
  if (skip) return;
  r = await Netns.create('rtr');
  a = await Netns.create('rta');
  b = await Netns.create('rtb');
  server = await startPstack(r, [
    'server', '--forward',
    '--tap', 'tapa', '--addr', '192.0.2.2/24',
    '--tap', 'tapb', '--addr', '198.51.100.2/24',
    '--host-addr', 'none', '--host-addr', 'none',
    '--gateway', 'none',
  ]);
  await r.must('ip', ['link', 'set', 'tapa', 'netns', a.name]);
  await r.must('ip', ['link', 'set', 'tapb', 'netns', b.name]);
  for (const [ns, dev, addr, gw] of [[a, 'tapa', '192.0.2.1/24', '192.0.2.2'], [b, 'tapb', '198.51.100.1/24', '198.51.100.2']] as const) {
    await ns.must('ip', ['addr', 'add', addr, 'dev', dev]);
    await ns.must('ip', ['link', 'set', dev, 'up']);
    await ns.must('ip', ['route', 'add', 'default', 'via', gw]);
  }
});

after(async () => {
  if (skip) return;
  echo?.kill('SIGKILL');
  await server?.stop();
  for (const ns of [a, b, r]) await ns?.destroy();
});

const ping = (ns: Netns, args: string[], timeoutMs = 15_000) => ns.exec('ping', args, { timeoutMs });

test('ping from A reaches B across pstack (TTL one less) and both of pstack\'s addresses', { skip: skip ?? false }, async () => {
  const across = await ping(a, ['-c', '3', '-i', '0.2', '-W', '2', '198.51.100.1']);
  assert.equal(across.code, 0, across.stdout + across.stderr + server.log.slice(-2000));
  assert.match(across.stdout, /3 received/);
  assert.match(across.stdout, /from 198\.51\.100\.1: icmp_seq=1 ttl=63/, 'B answers with TTL 64, pstack decrements it');
  const back = await ping(b, ['-c', '1', '-W', '2', '192.0.2.1']);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  for (const addr of ['192.0.2.2', '198.51.100.2']) {
    const own = await ping(a, ['-c', '1', '-W', '2', addr]);
    assert.equal(own.code, 0, own.stdout + own.stderr);
    assert.match(own.stdout, new RegExp(`from ${addr.replace(/\./g, '\\.')}: icmp_seq=1 ttl=64`));
  }
});

test('traceroute (ICMP and UDP) lists pstack\'s 192.0.2.2 as hop 1 and B as hop 2', { skip: skip ?? false }, async () => {
  for (const mode of [['-I'], []]) {
    const t = await a.exec('traceroute', ['-n', ...mode, '-q', '1', '-w', '2', '-m', '5', '198.51.100.1'], { timeoutMs: 30_000 });
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /^\s*1\s+192\.0\.2\.2\s/m, t.stdout);
    assert.match(t.stdout, /^\s*2\s+198\.51\.100\.1\s/m, t.stdout);
    assert.doesNotMatch(t.stdout, /^\s*3\s/m, 'done at hop 2');
  }
});

test('ping -R records pstack\'s outgoing address each way', { skip: skip ?? false }, async () => {
  const p = await ping(a, ['-c', '1', '-W', '2', '-R', '198.51.100.1']);
  assert.equal(p.code, 0, p.stdout + p.stderr);
  const rr = (p.stdout.split('RR:')[1] ?? '').trim().split(/\s+/).slice(0, 6);
  // A's tapa, pstack towards B, B (as it receives and as it replies), pstack towards A, A.
  assert.deepEqual(rr, ['192.0.2.1', '198.51.100.2', '198.51.100.1', '198.51.100.1', '192.0.2.2', '192.0.2.1'], p.stdout);
});

test('ping -s 4000 works across pstack (fragments forwarded) and to pstack (reassembled)', { skip: skip ?? false }, async () => {
  for (const dst of ['198.51.100.1', '192.0.2.2']) {
    const p = await ping(a, ['-c', '2', '-i', '0.2', '-W', '2', '-s', '4000', dst]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /4008 bytes from/);
    assert.match(p.stdout, /2 received/);
  }
  // A full-size packet with DF fits the next hop's MTU and passes.
  const df = await ping(a, ['-c', '1', '-W', '2', '-M', 'do', '-s', '1472', '198.51.100.1']);
  assert.equal(df.code, 0, df.stdout + df.stderr);
});

test('UDP across pstack: a 60 KB datagram to a server in B and back, in fragments both ways', { skip: skip ?? false }, async () => {
  const serverScript = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.1", 9999))
s.settimeout(20)
print("ready", flush=True)
try:
    while True:
        d, peer = s.recvfrom(65535)
        s.sendto(d, peer)
except socket.timeout:
    pass
`;
  echo = b.spawn('python3', ['-c', serverScript]);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server in B did not start')), 10_000);
    echo!.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const client = `
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for n in (10, 1472, 4000, 60000):
    d = os.urandom(n)
    s.sendto(d, ("198.51.100.1", 9999))
    g, addr = s.recvfrom(65535)
    print(n, g == d, addr[0])
`;
  const c = await a.exec('python3', ['-c', client], { timeoutMs: 30_000 });
  assert.equal(c.code, 0, c.stderr + server.log.slice(-2000));
  assert.equal(c.stdout, '10 True 198.51.100.1\n1472 True 198.51.100.1\n4000 True 198.51.100.1\n60000 True 198.51.100.1\n');
  echo.kill('SIGKILL');
  echo = null;
  // pstack's own echo service answers on its far address, from that address.
  const s = await a.exec('socat', ['-t', '2', '-', 'UDP:198.51.100.2:7'], { input: 'via the far address\n', timeoutMs: 10_000 });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, 'via the far address\n');
});

test('an unrouted destination gets "Destination Net Unreachable" from 192.0.2.2', { skip: skip ?? false }, async () => {
  const p = await ping(a, ['-c', '1', '-W', '2', '203.0.113.9']);
  assert.notEqual(p.code, 0);
  assert.match(p.stdout, /From 192\.0\.2\.2 icmp_seq=1 Destination Net Unreachable/);
});

test('a silent host on B\'s network gets "Destination Host Unreachable" from 192.0.2.2 once ARP gives up', { skip: skip ?? false }, async () => {
  const started = Date.now();
  const p = await ping(a, ['-c', '1', '-W', '8', '198.51.100.77'], 20_000);
  const elapsed = Date.now() - started;
  assert.notEqual(p.code, 0);
  assert.match(p.stdout, /From 192\.0\.2\.2 icmp_seq=1 Destination Host Unreachable/, p.stdout + server.log.slice(-2000));
  assert.ok(elapsed >= 2_500 && elapsed < 8_000, `after the ARP retries (~3 s), took ${elapsed} ms`);
  assert.match(server.log, /arp resolution failed[\s\S]*?ip:\s+198\.51\.100\.77/);
});

test('Ctrl-C: forwarding drops are counted by reason, no internal errors', { skip: skip ?? false }, async () => {
  const code = await server.stop();
  assert.equal(code, 0, server.log.slice(-2000));
  assert.match(server.log, /forwarding: on/);
  assert.match(server.log, /internal errors: 0/);
  assert.match(server.log, /drop forward: ttl-exceeded: \d+/);
  assert.match(server.log, /drop forward: no-route: 1/);
  assert.match(server.log, /drop arp: unresolved: 1/);
});
