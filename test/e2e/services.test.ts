// The benchmark services of `pstack server` driven by Linux's nc and a Python client:
// discard (RFC 863) takes 10 MB and closes cleanly, chargen (RFC 864) streams exactly the
// RFC's rotating-line pattern, and their UDP forms answer (chargen) or stay silent (discard).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { e2eUnavailable, Netns, startPstack, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
let dir: string;
let ns: Netns;
let server: ServerHandle;

/**
 * RFC 864's pattern written out from the RFC's words (not from the service's code): the 95
 * printing characters numbered 0 (space) to 94 ('~') as a ring; line N holds characters
 * N mod 95 through N+71 mod 95, then CR LF.
 */
function expectedChargen(length: number): Buffer {
  const out = Buffer.alloc(length);
  let pos = 0;
  for (let line = 0; pos < length; line++) {
    for (let i = 0; i < 72 && pos < length; i++) out[pos++] = 32 + ((line + i) % 95);
    if (pos < length) out[pos++] = 13;
    if (pos < length) out[pos++] = 10;
  }
  return out;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-services-'));
  ns = await Netns.create('svc');
  server = await startPstack(ns, ['server']);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the services line lists discard and chargen, TCP and UDP', { skip: skip ?? false }, () => {
  assert.match(server.log, /services: .*udp discard \(9\), udp chargen \(19\), tcp echo \(12345\), tcp discard \(9\), tcp chargen \(19\)/);
});

test('nc sends 10 MB to discard (9): all taken, nothing sent back, the connection closes cleanly', { skip: skip ?? false }, async () => {
  const f = join(dir, 'ten.bin');
  writeFileSync(f, randomBytes(10 * 1024 * 1024));
  // -N: shut down the sending side at end of input; discard answers with its own FIN.
  const r = await ns.exec('bash', ['-c', `nc -N -w 10 192.0.2.2 9 < ${f} | wc -c`], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0', 'discard never sends');
  await server.waitForLog(/discard connection closed\n\s+Host: 192\.0\.2\.1\n\s+Port: \d+\n\s+bytes discarded: 10485760\n/);
});

test('nc 192.0.2.2 19 | head -c 10000000 is exactly RFC 864\'s pattern', { skip: skip ?? false }, async () => {
  const g = join(dir, 'chargen.bin');
  // head exits after 10,000,000 bytes; nc then dies of SIGPIPE and its kernel resets the
  // connection, which is how chargen's clients usually leave (RFC 864 expects it).
  const r = await ns.exec('bash', ['-c', `nc -d 192.0.2.2 19 | head -c 10000000 > ${g}`], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const got = readFileSync(g);
  assert.equal(got.length, 10_000_000);
  const want = expectedChargen(got.length);
  if (!got.equals(want)) {
    let i = 0;
    while (got[i] === want[i]) i++;
    assert.fail(`chargen differs from RFC 864's pattern at byte ${i}: got ${JSON.stringify(got.subarray(i, i + 20).toString('latin1'))}, want ${JSON.stringify(want.subarray(i, i + 20).toString('latin1'))}`);
  }
  assert.equal(got.subarray(0, 74).toString('latin1'), ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n');
  // The reset ends the stream on pstack's side too.
  await server.waitForLog(/chargen connection closed\n\s+Host: 192\.0\.2\.1/);
});

test('UDP chargen answers each datagram with up to 512 bytes of the pattern; UDP discard answers nothing', { skip: skip ?? false }, async () => {
  const script = `
import socket
ring = bytes(32 + i for i in range(95))
pattern = b"".join((ring + ring)[n:n + 72] + b"\\r\\n" for n in range(95))
twice = pattern + pattern
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("192.0.2.2", 19))
ok = 0
sizes = set()
for i in range(50):
    s.send(b"any")
    d = s.recv(65535)
    sizes.add(len(d))
    ok += len(d) <= 512 and any(twice[k * 74:k * 74 + len(d)] == d for k in range(95))
print("chargen", ok, len(sizes) > 1)
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.settimeout(1)
d.connect(("192.0.2.2", 9))
for i in range(5):
    d.send(b"into the void")
try:
    d.recv(100)
    print("discard answered")
except socket.timeout:
    print("discard silent")
except ConnectionRefusedError:
    print("discard refused")
`;
  const r = await ns.exec('python3', ['-c', script], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^chargen 50 True$/m);
  assert.match(r.stdout, /^discard silent$/m);
});

test('Ctrl-C after the services: clean exit, no internal errors', { skip: skip ?? false }, async () => {
  const code = await server.stop();
  assert.equal(code, 0, server.log.slice(-3000));
  assert.match(server.log, /internal errors: 0/);
});
