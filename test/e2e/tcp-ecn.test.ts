// ECN (RFC 3168) against the Linux kernel's TCP, both ways round, in namespaces of their own
// with the kernel set to ask for ECN (namespace-local sysctl net.ipv4.tcp_ecn=1):
//  (a) the kernel connects to `pstack server --limit tcp.ecn=1` and echoes 4 MB;
//  (b) a pstack stack (openTapStack, tcp.ecn=1) connects to an echo server of the kernel's.
// Congestion is marked on the tap by nftables (this kernel has no sch_netem, and a queue only
// marks when it happens to build up): 10% of the ECT(0) TCP packets each way become CE, so
// both TCPs must echo CE with ECE, cut their windows, and say CWR. The capture of the tap,
// taken by tcpdump and read by tshark, shows the negotiation and the codepoints; pstack's counters and `pstack ss`
// show its side; the data arrives intact (SHA-256).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { CLI, e2eUnavailable, Netns, ROOT, run, startNodeScript, startPstack, type ServerHandle } from './harness.js';

const skip = e2eUnavailable();
const SIZE = 4 * 1024 * 1024;

/** 10% of ECT(0) TCP packets each way across `tap` become CE (egress: to pstack; ingress: from it). */
function markRules(tap: string): string {
  return `
table netdev cemark {
  chain to_pstack {
    type filter hook egress device "${tap}" priority 0;
    ip protocol tcp ip ecn ect0 numgen random mod 100 < 10 ip ecn set ce counter
  }
  chain from_pstack {
    type filter hook ingress device "${tap}" priority 0;
    ip protocol tcp ip ecn ect0 numgen random mod 100 < 10 ip ecn set ce counter
  }
}
`;
}

/**
 * A kernel TCP client: sends SIZE pseudo-random bytes to the echo port while reading the echo,
 * prints "DONE <sha of sent> <sha of received>", then holds the connection open for 4 s.
 */
const KERNEL_CLIENT = `
import hashlib, random, socket, sys, threading, time
data = random.Random(7).randbytes(${SIZE})
s = socket.create_connection(("192.0.2.2", 12345), timeout=60)
def send():
    s.sendall(data)
t = threading.Thread(target=send); t.start()
got = bytearray()
while len(got) < len(data):
    b = s.recv(65536)
    if not b: break
    got += b
t.join()
print("DONE", hashlib.sha256(data).hexdigest(), hashlib.sha256(got).hexdigest(), flush=True)
time.sleep(4)
s.close()
`;

/** A kernel TCP echo server on 192.0.2.1:7001 for one connection. */
const KERNEL_ECHO = `
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("192.0.2.1", 7001)); l.listen(1)
print("LISTENING", flush=True)
c, _ = l.accept()
while True:
    b = c.recv(65536)
    if not b: break
    c.sendall(b)
c.close()
`;

/** pstack as the client: connect with ECN asked for, echo SIZE bytes, report. */
function clientProgram(tap: string, goFile: string): string {
  const api = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', p)).href);
  return `
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { openTapStack } from ${api('index.js')};
import { connect } from ${api('api/net.js')};
import { tcpConnectionInfo } from ${api('api/tcp-info.js')};

const stack = await openTapStack({ tap: ${JSON.stringify(tap)}, addr: '192.0.2.2/24', hostAddr: '192.0.2.1/24', tcp: { ecn: 1 } });
console.log('stack ready');
for (let i = 0; i < 300 && !existsSync(${JSON.stringify(goFile)}); i++) await new Promise((r) => setTimeout(r, 50));
const data = Buffer.alloc(${SIZE});
for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761 >>> 24) & 0xff;
const got = [];
let received = 0;
let info = null;
const s = connect(stack, 7001, '192.0.2.1');
const timer = setTimeout(() => { console.log('RESULT ' + JSON.stringify({ error: 'timeout', received })); process.exit(1); }, 90000);
s.on('data', (b) => {
  got.push(Buffer.from(b));
  received += b.length;
  if (received >= data.length && info === null) {
    info = tcpConnectionInfo(stack).find((c) => c.remotePort === 7001) ?? null;
    s.end();
  }
});
s.on('close', () => {
  clearTimeout(timer);
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  console.log('RESULT ' + JSON.stringify({ sent: sha(data), received: sha(Buffer.concat(got)), info, stats: stack.tcp.statistics() }));
  stack.close();
  process.exit(0);
});
s.write(data);
`;
}

interface PcapRow { src: string; syn: boolean; ack: boolean; ece: boolean; cwr: boolean; ecn: number; len: number }

async function readPcap(pcap: string): Promise<PcapRow[]> {
  const r = await run('tshark', ['-r', pcap, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=,',
    '-e', 'ip.src', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'tcp.flags.ece', '-e', 'tcp.flags.cwr', '-e', 'ip.dsfield.ecn', '-e', 'tcp.len'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const bit = (s: string | undefined) => s === '1' || s === 'True';
  return r.stdout.trim().split('\n').map((line) => {
    const [src, syn, ack, ece, cwr, ecn, len] = line.split(',');
    return { src: src!, syn: bit(syn), ack: bit(ack), ece: bit(ece), cwr: bit(cwr), ecn: Number(ecn), len: Number(len) };
  });
}

/**
 * Start tcpdump on `tap` and wait until it captures. Each packet is read and written as it comes
 * (--immediate-mode, -U): in (b) the tap vanishes with its program, and what a capture still
 * held in its buffers would be lost. A large kernel buffer keeps a loaded machine from dropping.
 */
async function capture(ns: Netns, tap: string, pcap: string): Promise<ChildProcess> {
  const c = ns.spawn('tcpdump', ['-n', '-i', tap, '-s', '96', '-B', '32768', '--immediate-mode', '-U', '-w', pcap]);
  let log = '';
  c.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  for (let i = 0; i < 100 && !/listening on/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(log, /listening on/);
  // In (b) the tap goes with the client program that owns it, and tcpdump ends there by itself.
  c.on('close', (code, signal) => { if (signal !== 'SIGINT') console.log(`# tcpdump ended (${code ?? signal}): ${log.trim()}`); });
  return c;
}

async function stopCapture(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const closed = new Promise((r) => c.once('close', r));
  c.kill('SIGINT');
  await closed;
}

/** What the capture must show for a connection where `client` asked for ECN and both marked. */
function checkCapture(rows: PcapRow[], client: string, server: string): void {
  const syn = rows.find((r) => r.syn && !r.ack && r.src === client)!;
  assert.ok(syn, `a SYN: ${JSON.stringify(rows.filter((r) => r.syn || rows.indexOf(r) < 5))}`);
  assert.ok(syn.ece && syn.cwr && syn.ecn === 0, 'ECN-setup SYN: ECE and CWR, Not-ECT');
  const synack = rows.find((r) => r.syn && r.ack && r.src === server)!;
  assert.ok(synack.ece && !synack.cwr && synack.ecn === 0, 'ECN-setup SYN-ACK: ECE alone, Not-ECT');
  for (const who of [client, server]) {
    const data = rows.filter((r) => r.src === who && !r.syn && r.len > 0);
    const pureAcks = rows.filter((r) => r.src === who && !r.syn && r.len === 0);
    assert.ok(data.length > 0);
    // Data goes out ECT(0) (CE as the marks applied on the kernel's way out are seen here);
    // retransmissions alone may be Not-ECT.
    const ect = data.filter((r) => r.ecn === 2 || r.ecn === 3).length;
    assert.ok(ect >= data.length * 0.95, `${who}: ${ect} of ${data.length} data segments ECT`);
    assert.ok(pureAcks.every((r) => r.ecn === 0), `${who}: pure ACKs Not-ECT`);
    assert.ok(rows.some((r) => r.src === who && !r.syn && r.ece), `${who} echoed CE with ECE`);
    assert.ok(rows.some((r) => r.src === who && !r.syn && r.cwr && r.len > 0), `${who} said CWR on data`);
  }
}

test('(a) the kernel (tcp_ecn=1) connects to pstack server: ECN agreed, CE echoed both ways, windows cut, data intact',
  { skip: skip ?? false, timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-ecn-'));
    const control = join(dir, 'control.sock');
    const pcap = join(dir, 'ecn.pcap');
    let ns: Netns | null = null;
    let server: ServerHandle | null = null;
    let cap: ChildProcess | null = null;
    try {
      ns = await Netns.create('ecn-a');
      await ns.must('sysctl', ['-q', '-w', 'net.ipv4.tcp_ecn=1']);
      server = await startPstack(ns, ['server', '--control', control, '--limit', 'tcp.ecn=1']);
      await ns.must('nft', ['-f', '-'], { input: markRules('tap0') });
      cap = await capture(ns, 'tap0', pcap);
      const client = ns.spawn('/usr/bin/python3', ['-c', KERNEL_CLIENT]);
      let out = '';
      client.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
      client.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
      const closed = new Promise<number | null>((r) => client.once('close', (c: number | null) => r(c)));
      for (let i = 0; i < 1200 && !/DONE|Error/.test(out) && client.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      const done = out.match(/DONE (\w+) (\w+)/);
      assert.ok(done, `the client finished: ${out}`);
      assert.equal(done[2], done[1], 'the echo came back intact');
      // While the connection is still open: pstack ss says ECN, and that marks arrived.
      const ss = await run(process.execPath, [CLI, 'ss', '--control', control]);
      assert.equal(ss.code, 0, ss.stderr);
      assert.match(ss.stdout, /\t ecn ecnseen cubic /, ss.stdout);
      assert.equal(await closed, 0, out);
      const stats = await run(process.execPath, [CLI, 'stats', '--control', control, '--json']);
      assert.equal(stats.code, 0, stats.stderr);
      const tcp = JSON.parse(stats.stdout).counters as Record<string, number>;
      assert.ok(tcp['tcpEcnNegotiated']! >= 1, JSON.stringify(tcp));
      assert.ok(tcp['tcpEcnCeReceived']! > 0, 'CE marks reached pstack');
      assert.ok(tcp['tcpEcnEchoesSent']! > 0, 'and were echoed');
      assert.ok(tcp['tcpEcnReductions']! > 0, 'the kernel echoed CE on pstack\'s data and pstack cut its window');
      const marks = (await ns.must('nft', ['list', 'table', 'netdev', 'cemark'])).stdout;
      const packets = [...marks.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      assert.ok(packets.length === 2 && packets.every((n) => n > 0), `both directions marked: ${packets.join(', ')}`);
      await stopCapture(cap);
      cap = null;
      checkCapture(await readPcap(pcap), '192.0.2.1', '192.0.2.2');
      assert.equal(await server.stop(), 0);
      assert.match(server.log, /internal errors: 0/);
    } finally {
      if (cap) await stopCapture(cap);
      await server?.stop();
      await ns?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('(b) pstack (tcp.ecn=1) connects to the kernel: ECN agreed, CE echoed both ways, windows cut, data intact',
  { skip: skip ?? false, timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-ecn-'));
    const tap = 'tapecn1';
    const script = join(dir, 'client.mjs');
    const goFile = join(dir, 'go');
    const pcap = join(dir, 'ecn.pcap');
    writeFileSync(script, clientProgram(tap, goFile));
    let ns: Netns | null = null;
    let client: ServerHandle | null = null;
    let echo: ChildProcess | null = null;
    let cap: ChildProcess | null = null;
    try {
      ns = await Netns.create('ecn-b');
      await ns.must('sysctl', ['-q', '-w', 'net.ipv4.tcp_ecn=1']);
      client = await startNodeScript(ns, script, [], /stack ready/, 20_000);
      await ns.must('nft', ['-f', '-'], { input: markRules(tap) });
      cap = await capture(ns, tap, pcap);
      echo = ns.spawn('/usr/bin/python3', ['-c', KERNEL_ECHO]);
      let echoLog = '';
      echo.stdout!.on('data', (b: Buffer) => { echoLog += b.toString(); });
      echo.stderr!.on('data', (b: Buffer) => { echoLog += b.toString(); });
      for (let i = 0; i < 100 && !/LISTENING/.test(echoLog); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(echoLog, /LISTENING/);
      writeFileSync(goFile, '');
      const [, json] = await client.waitForLog(/RESULT (.*)\n/, 120_000);
      const out = JSON.parse(json!);
      assert.equal(out.error, undefined, json);
      assert.equal(out.received, out.sent, 'the echo came back intact');
      assert.equal(out.info?.ecn, true, 'ss: ecn');
      assert.equal(out.info?.ecnSeen, true, 'ss: ecnseen');
      assert.ok(out.stats.tcpEcnNegotiated === 1);
      assert.ok(out.stats.tcpEcnCeReceived > 0 && out.stats.tcpEcnEchoesSent > 0, 'CE reached pstack and was echoed');
      assert.ok(out.stats.tcpEcnReductions > 0, 'pstack cut its window for the kernel\'s ECE');
      const marks = (await ns.must('nft', ['list', 'table', 'netdev', 'cemark'])).stdout;
      const packets = [...marks.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      assert.ok(packets.length === 2 && packets.every((n) => n > 0), `both directions marked: ${packets.join(', ')}`);
      await stopCapture(cap);
      cap = null;
      checkCapture(await readPcap(pcap), '192.0.2.2', '192.0.2.1');
    } finally {
      if (cap) await stopCapture(cap);
      echo?.kill();
      await client?.stop();
      await ns?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
