// UDP against pstack server on a TAP, driven by Linux's socat, nc and a Python socket client:
// the echo service (RFC 862), Port Unreachable seen as "Connection refused", a 60 KB datagram
// fragmented both ways, and checksums that tshark finds correct.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;
let pcapPath: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-udp-'));
  pcapPath = join(dir, 'udp.pcap');
  ns = await Netns.create('udp');
  server = await startPstack(ns, ['server', '--pcap', pcapPath]);
  assert.match(server.log, /services:.*udp echo \(7\)/);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('socat and nc -u get their datagram echoed by port 7', { skip: skip ?? false }, async () => {
  const s = await ns.exec('socat', ['-t', '2', '-', 'UDP:192.0.2.2:7'], { input: 'hello pstack\n', timeoutMs: 10_000 });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, 'hello pstack\n');
  const n = await ns.exec('nc', ['-u', '-w', '1', '192.0.2.2', '7'], { input: 'hello from nc\n', timeoutMs: 10_000 });
  assert.equal(n.code, 0, n.stderr);
  assert.equal(n.stdout, 'hello from nc\n');
});

test('a datagram to a closed port makes socat see "Connection refused" (ICMP Port Unreachable)', { skip: skip ?? false }, async () => {
  const s = await ns.exec('socat', ['-t', '2', '-', 'UDP:192.0.2.2:10'], { input: 'anyone?\n', timeoutMs: 10_000 });
  assert.notEqual(s.code, 0);
  assert.match(s.stderr, /Connection refused/);
});

test('a 60 KB datagram comes back whole; many sizes come back byte for byte; a closed port refuses', { skip: skip ?? false }, async () => {
  const script = `
import os, socket, random
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
big = os.urandom(60000)
s.sendto(big, ("192.0.2.2", 7))
got, addr = s.recvfrom(65535)
print("big", len(got), got == big, addr[0], addr[1])
rng = random.Random(7)
ok = 0
for i in range(100):
    n = rng.choice([0, 1, 7, 8, 100, 1471, 1472, 1473, 2960, 9000, rng.randrange(0, 20000)])
    d = os.urandom(n)
    s.sendto(d, ("192.0.2.2", 7))
    g, _ = s.recvfrom(65535)
    ok += g == d
print("sizes", ok)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(3)
c.connect(("192.0.2.2", 10))
c.send(b"x")
try:
    c.recv(100)
    print("closed no-error")
except ConnectionRefusedError:
    print("closed refused")
`;
  const r = await ns.exec('python3', ['-c', script], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr + server.log.slice(-2000));
  assert.match(r.stdout, /^big 60000 True 192\.0\.2\.2 7$/m);
  assert.match(r.stdout, /^sizes 100$/m);
  assert.match(r.stdout, /^closed refused$/m);
});

test('Ctrl-C: UDP counted, no internal errors; tshark finds every UDP checksum pstack sent correct', { skip: skip ?? false }, async () => {
  const code = await server.stop();
  assert.equal(code, 0, server.log.slice(-2000));
  assert.match(server.log, /udp in\/out:\s+[1-9]\d* \/ [1-9]\d*/);
  assert.match(server.log, /internal errors: 0/);
  assert.match(server.log, /drop udp: no-port: \d+/);
  const all = await run('tshark', ['-r', pcapPath, '-o', 'udp.check_checksum:TRUE', '-Y', 'udp && eth.src == 00:00:5e:00:53:01'], { timeoutMs: 60_000 });
  assert.equal(all.code, 0, all.stderr);
  assert.ok(all.stdout.trim().split('\n').length >= 100, 'pstack sent UDP');
  const bad = await run('tshark', ['-r', pcapPath, '-o', 'udp.check_checksum:TRUE', '-Y', 'eth.src == 00:00:5e:00:53:01 && (udp.checksum.status == "Bad" || _ws.malformed || _ws.expert.severity == error)'], { timeoutMs: 60_000 });
  assert.equal(bad.code, 0, bad.stderr);
  assert.equal(bad.stdout.trim(), '', 'no bad checksum or malformed frame from pstack');
  const unreach = await run('tshark', ['-r', pcapPath, '-Y', 'icmp.type == 3 && icmp.code == 3'], { timeoutMs: 60_000 });
  assert.match(unreach.stdout, /Destination unreachable \(Port unreachable\)/);
});
