// pstack server on a real TAP in a namespace of its own, driven by Linux's ping, arping,
// ip neigh and tshark, as a learner would use it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, ROOT, CLI, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let ns: Netns;
let server: ServerHandle;
let dir: string;
let pcapPath: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-'));
  pcapPath = join(dir, 'capture.pcap');
  ns = await Netns.create('arp');
  server = await startPstack(ns, ['server', '--log-level', 'debug', '--pcap', pcapPath]);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('ping -c 5 gets every reply', { skip: skip ?? false }, async () => {
  const r = await ns.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /5 packets transmitted, 5 received, 0% packet loss/);
  assert.match(r.stdout, /64 bytes from 192\.0\.2\.2: icmp_seq=1 ttl=64/);
});

test('ping -s 1472 fills the MTU and is answered whole', { skip: skip ?? false }, async () => {
  const r = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '-s', '1472', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1480 bytes from 192\.0\.2\.2/);
  assert.match(r.stdout, /2 received, 0% packet loss/);
});

test('ping -p 6162 gets its pattern echoed back', { skip: skip ?? false }, async () => {
  const r = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '-p', '6162', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PATTERN: 0x6162/);
  assert.match(r.stdout, /2 received/);
  // iputils ping checks the echoed data and reports any difference.
  assert.doesNotMatch(r.stdout, /wrong data byte/);
});

test('ping -R lists 192.0.2.2 in the recorded route', { skip: skip ?? false }, async () => {
  const r = await ns.exec('ping', ['-c', '1', '-W', '2', '-R', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rr = r.stdout.split('RR:')[1] ?? '';
  assert.match(rr, /192\.0\.2\.1\s+192\.0\.2\.2\s+192\.0\.2\.2\s+192\.0\.2\.1/);
});

test('arping -I tap0 gets ARP replies from our MAC, and ip neigh shows it', { skip: skip ?? false }, async () => {
  const r = await ns.exec('arping', ['-c', '2', '-w', '3', '-I', 'tap0', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Unicast reply from 192\.0\.2\.2 \[00:00:5E:00:53:01\]/i);
  assert.match(r.stdout, /Received 2 response/);
  const n = await ns.must('ip', ['neigh', 'show', '192.0.2.2', 'dev', 'tap0']);
  assert.match(n.stdout, /192\.0\.2\.2 lladdr 00:00:5e:00:53:01/);
});

test('the debug log dissects ARP and ICMP layer by layer with the IP payload at the right offset', { skip: skip ?? false }, async () => {
  await ns.exec('ping', ['-c', '1', '-W', '2', '192.0.2.2']);
  await server.waitForLog(/outgoing icmp packet/);
  const log = server.log;
  assert.match(log, /incoming arp packet/);
  assert.match(log, /opcode:\s+REQUEST \(1\)/);
  assert.match(log, /incoming ip packet/);
  assert.match(log, /protocol:\s+ICMP \(1\)/);
  assert.match(log, /type:\s+Echo \(8\)/);
  assert.match(log, /type:\s+Echo Reply \(0\)/);
  // The IP block's payload starts with the ICMP header (type 8, code 0), not mid-header.
  assert.match(log, /incoming ip packet[\s\S]*?payload:\s+08 00 /);
});

test('10,000 random, truncated and mutated frames leave pstack alive and answering ping', { skip: skip ?? false }, async () => {
  // The frames claim to come from 192.0.2.99, a host that does not exist: a frame claiming
  // 192.0.2.1 with another MAC would rightly move pstack's ARP entry for the real host.
  const inj = await ns.exec('python3', [join(ROOT, 'test/e2e/inject_frames.py'), 'tap0', '10000', '7', '00:00:5e:00:53:01', '192.0.2.2', '192.0.2.99'], { timeoutMs: 90_000 });
  assert.equal(inj.code, 0, inj.stderr);
  assert.ok(Number(inj.stdout.trim()) >= 9_000, `frames sent: ${inj.stdout}`);
  // The tap's queue may still hold injected frames, and a ping behind them can be dropped by
  // the kernel's queue; wait (bounded) until pstack has drained them, then expect every reply.
  for (let i = 0; i < 10; i++) {
    if ((await ns.exec('ping', ['-c', '1', '-W', '1', '192.0.2.2'])).code === 0) break;
  }
  const r = await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr + server.log.slice(-3000));
  assert.match(r.stdout, /3 received/);
  assert.equal(server.child.exitCode, null, 'server still running');
});

test('Ctrl-C shuts down cleanly with counters, and the capture reads in tshark without errors', { skip: skip ?? false }, async () => {
  const code = await server.stop();
  assert.equal(code, 0, server.log.slice(-2000));
  assert.match(server.log, /SIGINT received, shutting down/);
  assert.match(server.log, /frames in\/out:\s+\d+ \/ \d+/);
  assert.match(server.log, /internal errors: 0/);
  assert.match(server.log, /drop ethernet: /, 'injected garbage is counted as drops');
  assert.match(server.log, /\[D\] dropped: ipv4: bad-checksum/, 'each drop is in the debug log as it happens');
  assert.match(server.log, /capture written/);
  assert.ok(existsSync(pcapPath));
  const t = await run('tshark', ['-r', pcapPath, '-Y', 'icmp || arp'], { timeoutMs: 60_000 });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /Echo \(ping\) request/);
  assert.match(t.stdout, /Echo \(ping\) reply/);
  assert.match(t.stdout, /is at 00:00:5e:00:53:01/);
  // Frames pstack itself sent must be well formed. The injected garbage is malformed on
  // purpose, and ICMP errors quoting it (as RFC 792 asks) carry that garbage inside.
  const ours = await run('tshark', ['-r', pcapPath, '-Y', 'eth.src == 00:00:5e:00:53:01 && _ws.malformed && !(icmp.type == 3 || icmp.type == 11 || icmp.type == 12)'], { timeoutMs: 60_000 });
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout.trim(), '', 'no malformed frame sent by pstack');
});

test('command-line errors are one clear line and a non-zero exit', { skip: skip ?? false }, async () => {
  const bad = await run(process.execPath, [CLI, 'server', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pstack: Unknown option '--bogus'/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const badAddr = await run(process.execPath, [CLI, 'server', '--addr', '192.0.2.300/24']);
  assert.equal(badAddr.code, 2);
  assert.match(badAddr.stderr, /invalid --addr/);
  const nobody = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'server', '--tap', 'pstknoperm0']);
  assert.equal(nobody.code, 1, nobody.stderr);
  assert.equal(nobody.stderr.trim().split('\n').length, 1, nobody.stderr);
  assert.match(nobody.stderr, /^pstack: permission denied opening TAP device pstknoperm0: run as root/);
});
