// Watching packets live: `pstack server --pcap -` into tshark while the server runs, and
// `pstack capture` beside `tcpdump -n` on the kernel's side of the same tap (same lines),
// two captures at once, a filter, -c, a reader that stops reading, and `pstack ss`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle, type RunResult } from './harness.js';

const skip = e2eUnavailable();
const tap = `pc${randomBytes(4).toString('hex')}`;
const control = `/run/pstack/${tap}.sock`;
let ns: Netns;
let server: ServerHandle;

before(async () => {
  if (skip) return;
  ns = await Netns.create('capt');
  server = await startPstack(ns, ['server', '--tap', tap, '--log-level', 'debug']);
  await ns.must('ping', ['-c', '1', '-W', '2', '192.0.2.2']);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
});

function pstack(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { timeoutMs: 60_000 });
}

/** A process in the namespace whose stdout we read as it comes. */
function watch(cmd: string, args: string[]) {
  return watchIn(ns, cmd, args);
}

function watchIn(ns: Netns, cmd: string, args: string[]): { child: ChildProcess; out: () => string; err: () => string; waitFor(re: RegExp, ms?: number): Promise<void>; closed: Promise<number | null> } {
  // Its own process group, so a pipeline can be stopped whole by the group's id.
  const child = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child, out: () => out, err: () => err, closed,
    async waitFor(re, ms = 20_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}\n--- stdout\n${out}\n--- stderr\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** tcpdump's and pstack's lines without timestamps. */
const lines = (text: string) => text.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{6} /.test(l)).map((l) => l.slice(16));

test('pstack server --pcap - | tshark -r - shows a ping while the server still runs', { skip: skip ?? false }, async () => {
  const ns2 = await Netns.create('pcap');
  const tap2 = `pp${randomBytes(4).toString('hex')}`;
  const w = watchIn(ns2, 'bash', ['-c', `${process.execPath} ${CLI} server --tap ${tap2} --control none --pcap - | tshark -l -n -r - -Y icmp -T fields -e ip.src -e ip.dst -e icmp.type -e frame.interface_name`]);
  const kill = async () => { try { process.kill(-w.child.pid!, 'SIGINT'); } catch { /* gone */ } };
  try {
    // The namespace has the tap once the server is up.
    const end = Date.now() + 20_000;
    while ((await ns2.exec('ping', ['-c', '1', '-W', '1', '192.0.2.2'])).code !== 0) {
      assert.ok(Date.now() < end, `server did not come up:\n${w.err()}`);
    }
    await w.waitFor(/192\.0\.2\.1\t192\.0\.2\.2\t8\t/);
    await w.waitFor(/192\.0\.2\.2\t192\.0\.2\.1\t0\t/);
    assert.match(w.out(), new RegExp(`\\t${tap2}\\n`));
    assert.doesNotMatch(w.err(), /tshark: .*(error|isn't|corrupt)/i);
    assert.match(w.err(), /pstack server started/, 'the log goes to standard error');
  } finally {
    await kill();
    await w.closed;
    await ns2.destroy();
  }
});

test('pstack capture prints what tcpdump -n prints on the kernel side: ping, TCP echo, UDP', { skip: skip ?? false }, async () => {
  const td = watch('tcpdump', ['-n', '-l', '-i', tap, '-c', '200', 'ip']);
  await new Promise((r) => setTimeout(r, 200));
  const pc = watch(process.execPath, [CLI, 'capture', '--tap', tap, 'ip']);
  const second = watch(process.execPath, [CLI, 'capture', '--tap', tap, '-c', '2', 'icmp and src host 192.0.2.2']);
  const ready = Date.now() + 10_000;
  while (!/listening on/.test(pc.err()) || !/listening on/.test(td.err()) || !/listening on/.test(second.err())) {
    assert.ok(Date.now() < ready, pc.err() + td.err());
    await new Promise((r) => setTimeout(r, 50));
  }
  await ns.must('ping', ['-c', '2', '-i', '0.2', '192.0.2.2']);
  const nc = await ns.exec('bash', ['-c', 'printf "hello\\n" | timeout 5 nc -N 192.0.2.2 12345'], { timeoutMs: 20_000 });
  assert.equal(nc.stdout, 'hello\n', nc.stderr);
  const udp = await ns.exec('bash', ['-c', 'echo hi | timeout 3 socat -T 1 - UDP:192.0.2.2:7'], { timeoutMs: 20_000 });
  assert.equal(udp.stdout, 'hi\n', udp.stderr);
  await new Promise((r) => setTimeout(r, 500));
  await second.closed;
  pc.child.kill('SIGINT');
  td.child.kill('SIGINT');
  assert.equal(await pc.closed, 0, pc.err());
  await td.closed;
  const ours = lines(pc.out());
  const theirs = lines(td.out());
  assert.ok(theirs.length >= 14, td.out());
  // Each side's packets in the same order with the same lines; packets crossing in opposite
  // directions at the same moment may be interleaved differently by the two capture points.
  const from = (list: string[], src: string) => list.filter((l) => l.startsWith(`IP ${src}`));
  assert.deepEqual(from(ours, '192.0.2.1'), from(theirs, '192.0.2.1'));
  assert.deepEqual(from(ours, '192.0.2.2'), from(theirs, '192.0.2.2'));
  assert.deepEqual([...ours].sort(), [...theirs].sort());
  assert.ok(ours.some((l) => /ICMP echo request, id \d+, seq 1, length 64/.test(l)));
  assert.ok(ours.some((l) => /> 192\.0\.2\.2\.12345: Flags \[S\], seq \d+, win \d+, options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale \d+\], length 0/.test(l)));
  assert.ok(ours.some((l) => /Flags \[P\.\], seq 1:7, ack 1, win \d+, options \[nop,nop,TS val \d+ ecr \d+\], length 6/.test(l)));
  assert.ok(ours.some((l) => /> 192\.0\.2\.2\.7: UDP, length 3/.test(l)));
  assert.match(pc.err(), /\d+ packets captured\n\d+ packets received by filter\n0 packets dropped by kernel\n/);
  // The filtered capture with -c 2 saw exactly the two echo replies and stopped by itself.
  const two = lines(second.out());
  assert.equal(two.length, 2, second.out());
  for (const l of two) assert.match(l, /^IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply/);
});

test('a bad filter expression is one line and a non-zero exit', { skip: skip ?? false }, async () => {
  const r = await pstack('capture', '--tap', tap, 'port', 'banana');
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^pstack: invalid port "banana"/);
});

test('a client that stops reading does not slow pings; its drops are reported', { skip: skip ?? false }, async () => {
  // A raw client that asks for every frame, then never reads.
  const script = `const c=require('net').createConnection(${JSON.stringify(control)});c.on('connect',()=>{c.write(JSON.stringify({cmd:'capture'})+'\\n');c.pause();});setTimeout(()=>{c.resume();let buf=Buffer.alloc(0);c.on('data',(d)=>{buf=Buffer.concat([buf,d]);});c.on('close',()=>{const s=buf.toString('latin1');const i=s.lastIndexOf('{"matched"');console.log(s.slice(i));});c.write('{"cmd":"capture-stop"}\\n');},12000);`;
  const stalled = watch(process.execPath, ['-e', script]);
  await new Promise((r) => setTimeout(r, 500));
  // Big pings fill the stalled client's queue (1 MB) well before they are done.
  const flood = await ns.exec('ping', ['-c', '600', '-i', '0.002', '-s', '1400', '-q', '192.0.2.2'], { timeoutMs: 30_000 });
  assert.equal(flood.code, 0, flood.stdout);
  assert.match(flood.stdout, /600 packets transmitted, 600 received, 0% packet loss/);
  const rtt = await ns.exec('ping', ['-c', '5', '-i', '0.2', '-q', '192.0.2.2']);
  const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(rtt.stdout)![1]);
  assert.ok(avg < 20, `ping avg ${avg} ms with a stalled capture client`);
  await stalled.closed;
  const end = JSON.parse(stalled.out().trim()) as { matched: number; dropped: number };
  assert.ok(end.dropped > 0, stalled.out());
  assert.ok(end.matched >= 1200, stalled.out());
});

test('pstack ss shows plausible values for a live connection', { skip: skip ?? false }, async () => {
  const nc = watch('bash', ['-c', '(head -c 200000 /dev/zero; sleep 4) | timeout 8 nc 192.0.2.2 12345 > /dev/null']);
  try {
    let r: RunResult | null = null;
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      r = await pstack('ss', '--tap', tap);
      if (/bytes_received:200000/.test(r.stdout)) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(r !== null && r.code === 0, r?.stderr);
    assert.match(r.stdout, /^State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port\n/);
    assert.match(r.stdout, /\nESTAB\s+\d+\s+\d+\s+192\.0\.2\.2:12345\s+192\.0\.2\.1:\d+\n\t (cubic|newreno) wscale:\d+,\d+ rto:\d+ rtt:[\d.]+\/[\d.]+ mss:1448 advmss:1460 cwnd:\d+ .*bytes_sent:200000 bytes_acked:\d+ bytes_received:200000 .*snd_wnd:\d+ rcv_wnd:\d+/);
    // And the state changes were logged at debug level, with the 4-tuple.
    assert.match(server.log, /tcp 192\.0\.2\.2:12345 > 192\.0\.2\.1:\d+: LISTEN -> SYN_RECEIVED/);
    assert.match(server.log, /tcp 192\.0\.2\.2:12345 > 192\.0\.2\.1:\d+: SYN_RECEIVED -> ESTABLISHED/);
  } finally {
    nc.child.kill();
    await nc.closed;
  }
});
