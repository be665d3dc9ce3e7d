// docs/walkthrough.md, run for real: host A (192.0.2.1) and host B (198.51.100.1) joined only
// through a pstack router, set up as the walkthrough tells a learner to, then each exercise
// done with Linux's tools while `pstack capture` watches: ARP and an echo, a TCP handshake,
// `ping -s 3000` in fragments, `ping -R`, `ping -p` with -X, the router's ICMP errors, and a
// transfer through loss drawn with `pstack draw timeseq`. The key facts are asserted, and the
// capture lines the walkthrough prints are compared with the live ones (times, ids, ephemeral
// ports, initial sequence numbers and timestamps aside), so the document stays true.
//
// WALKTHROUGH_WRITE=1 also writes the ladders to docs/walkthrough/*.svg and every live output
// to $TMPDIR/pstack-walkthrough-out.txt, to refresh the document from a real run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { e2eUnavailable, Netns, startPstack, run, CLI, ROOT, type ServerHandle } from './harness.js';
import { xmlProblem } from '../helpers/xml-check.js';

const skip = e2eUnavailable();
const WRITE = process.env['WALKTHROUGH_WRITE'] === '1';
const OUT = join(tmpdir(), 'pstack-walkthrough-out.txt');
let r: Netns;
let a: Netns;
let b: Netns;
let server: ServerHandle;
let dir: string;
let control: string;
const children = new Set<ChildProcess>();

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-walk-'));
  control = join(dir, 'pstack.sock');
  if (WRITE) writeFileSync(OUT, '');
  r = await Netns.create('wkr');
  a = await Netns.create('wka');
  b = await Netns.create('wkb');
  server = await startPstack(r, [
    'server', '--forward', '--gateway', 'none', '--control', control,
    '--tap', 'tapa', '--addr', '192.0.2.2/24', '--host-addr', 'none',
    '--tap', 'tapb', '--addr', '198.51.100.2/24', '--host-addr', 'none',
  ]);
  for (const [ns, dev, addr, gw] of [[a, 'tapa', '192.0.2.1/24', '192.0.2.2'], [b, 'tapb', '198.51.100.1/24', '198.51.100.2']] as const) {
    // IPv4 only, so the captures hold just the exercise's packets (no IPv6 router solicitations).
    await ns.must('sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
    await r.must('ip', ['link', 'set', dev, 'netns', ns.name]);
    await ns.must('ip', ['addr', 'add', addr, 'dev', dev]);
    await ns.must('ip', ['link', 'set', dev, 'up']);
    await ns.must('ip', ['route', 'add', 'default', 'via', gw]);
  }
});

after(async () => {
  if (skip) return;
  for (const c of children) c.kill('SIGKILL');
  await server?.stop();
  for (const ns of [a, b, r]) await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function record(title: string, text: string): void {
  if (WRITE) appendFileSync(OUT, `===== ${title}\n${text}\n`);
}

/** `pstack capture ARGS` around `action`: its lines (stdout), once the action is done and the last packets are in. */
async function capture(args: string[], action: () => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'capture', '--control', control, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => { children.delete(child); resolve(code); }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`capture did not start: ${err}`)), 15_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) { clearTimeout(timer); resolve(); }
    });
  });
  await action();
  await new Promise((resolve) => setTimeout(resolve, 500));
  child.kill('SIGINT');
  assert.equal(await closed, 0, err);
  assert.match(err, /\d+ packets captured/);
  return out;
}

const DOC = join(ROOT, 'docs/walkthrough.md');
const blockRe = (name: string) => new RegExp(`(<!-- walkthrough:${name} -->\\s*\`\`\`[a-z]*\\n)([\\s\\S]*?)(\`\`\`)`);

/** The lines of the walkthrough's block marked `<!-- walkthrough:NAME -->`. */
function docBlock(name: string): string[] {
  const m = blockRe(name).exec(readFileSync(DOC, 'utf8'));
  assert.ok(m, `docs/walkthrough.md has a block marked walkthrough:${name}`);
  return m[2]!.trimEnd().split('\n');
}

/** With WALKTHROUGH_WRITE=1: put this run's output into the document's block. */
function refreshDoc(name: string, live: string): void {
  if (!WRITE) return;
  docBlock(name);
  const doc = readFileSync(DOC, 'utf8');
  writeFileSync(DOC, doc.replace(blockRe(name), (_all, open: string, _old: string, close: string) => `${open}${live.trimEnd()}\n${close}`));
}

/** A capture line without what changes from run to run. */
function normalize(line: string): string {
  return line
    .replace(/^\d\d:\d\d:\d\d\.\d{6} /, '')
    .replace(/\bid \d+/g, 'id ID')
    .replace(/\.(3[2-9]\d{3}|[4-6]\d{4})\b/g, '.PORT')
    .replace(/\b(seq|ack) \d{5,}/g, '$1 ISN')
    .replace(/TS val \d+ ecr \d+/g, 'TS')
    .replace(/win \d+/g, 'win W')
    .replace(/wscale \d+/g, 'wscale S');
}

function sameAsDoc(name: string, live: string, first?: number): void {
  refreshDoc(name, live);
  const want = docBlock(name).map(normalize).slice(0, first);
  const got = live.trimEnd().split('\n').map(normalize).slice(0, first);
  assert.deepEqual(got, want, `the live capture matches docs/walkthrough.md's ${name} block:\n${live}`);
}

/** `pstack draw KIND FILE.pcapng ARGS`, run in the capture's directory so the picture's title is the bare file name. */
function draw(kind: 'ladder' | 'timeseq', pcap: string, args: string[] = []) {
  const quote = (x: string) => `'${x}'`;
  return run('sh', ['-c', `cd ${quote(dir)} && exec ${[process.execPath, CLI, 'draw', kind, basename(pcap), ...args].map(quote).join(' ')}`], { timeoutMs: 60_000 });
}

async function ladder(name: string, pcap: string, extra: string[] = []): Promise<string> {
  const d = await draw('ladder', pcap, extra);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(xmlProblem(d.stdout), null);
  if (WRITE) {
    mkdirSync(join(ROOT, 'docs/walkthrough'), { recursive: true });
    writeFileSync(join(ROOT, `docs/walkthrough/${name}.svg`), d.stdout);
  }
  return d.stdout;
}

const opts = { skip: skip ?? false, timeout: 120_000 };

test('1. ARP, then the echo: the kernel asks who has 192.0.2.2, pstack answers, then the ping', opts, async () => {
  const pcap = join(dir, 'arp.pcapng');
  let ping = '';
  const lines = await capture(['-i', 'tapa'], async () => {
    const w = await capture(['-i', 'tapa', '-w', pcap], async () => {
      await a.must('ip', ['neigh', 'flush', 'dev', 'tapa']);
      ping = (await a.must('ping', ['-c', '1', '-W', '2', '192.0.2.2'])).stdout;
    });
    assert.equal(w, '');
  });
  record('arp ping', ping);
  record('arp capture', lines);
  assert.match(ping, /64 bytes from 192\.0\.2\.2: icmp_seq=1 ttl=64/);
  assert.match(lines, /ARP, Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1, length 28\n.*ARP, Reply 192\.0\.2\.2 is-at 00:00:5e:00:53:01, length 46\n.*IP 192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request, id \d+, seq 1, length 64\n.*IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply, id \d+, seq 1, length 64\n/);
  const svg = await ladder('arp', pcap);
  sameAsDoc('arp', lines);
  assert.match(svg, /who-has 192\.0\.2\.2 tell 192\.0\.2\.1/);
  assert.match(svg, /192\.0\.2\.2 is-at 00:00:5e:00:53:01/);
});

test('2. the three-way handshake to pstack\'s echo port, the data back, and both FINs', opts, async () => {
  const pcap = join(dir, 'tcp.pcapng');
  let echoed = '';
  const lines = await capture(['-i', 'tapa', 'tcp port 12345'], async () => {
    await capture(['-i', 'tapa', '-w', pcap, 'tcp port 12345'], async () => {
      echoed = (await a.must('nc', ['-N', '192.0.2.2', '12345'], { input: 'hello\n' })).stdout;
    });
  });
  record('tcp capture', lines);
  assert.equal(echoed, 'hello\n');
  const l = lines.trimEnd().split('\n');
  assert.match(l[0]!, /IP 192\.0\.2\.1\.\d+ > 192\.0\.2\.2\.12345: Flags \[S\], seq \d+, win \d+, options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale \d+\], length 0$/);
  assert.match(l[1]!, /IP 192\.0\.2\.2\.12345 > 192\.0\.2\.1\.\d+: Flags \[S\.\], seq \d+, ack \d+, win 65535, options \[mss 1460,sackOK,TS val \d+ ecr \d+,nop,wscale \d+\], length 0$/);
  assert.match(l[2]!, /Flags \[\.\], ack 1, win/);
  assert.match(lines, /192\.0\.2\.2\.12345 > 192\.0\.2\.1\.\d+: Flags \[P\.\], seq 1:7, ack \d, .*length 6\n/);
  assert.match(lines, /192\.0\.2\.1\.\d+ > 192\.0\.2\.2\.12345: Flags \[F\.\]/, 'the kernel closes its half');
  assert.match(lines, /192\.0\.2\.2\.12345 > 192\.0\.2\.1\.\d+: Flags \[F\.\]/, 'pstack closes its half');
  const svg = await ladder('tcp', pcap);
  sameAsDoc('tcp', lines, 3);
  assert.match(svg, /\[S\.\] seq 0, ack 1/);
});

test('3. ping -s 3000: three fragments each way, offsets 0, 1480, 2960, MF on all but the last', opts, async () => {
  const pcap = join(dir, 'frag.pcapng');
  let ping = '';
  const lines = await capture(['-i', 'tapa', 'icmp'], async () => {
    await capture(['-i', 'tapa', '-w', pcap, 'icmp'], async () => {
      ping = (await a.must('ping', ['-c', '1', '-W', '2', '-s', '3000', '192.0.2.2'])).stdout;
    });
  });
  record('frag ping', ping);
  record('frag capture', lines);
  assert.match(ping, /3008 bytes from 192\.0\.2\.2: icmp_seq=1/);
  const svg = await ladder('frag', pcap);
  sameAsDoc('frag', lines);
  const v = await run('tcpdump', ['-nv', '-r', pcap], { timeoutMs: 30_000 });
  record('frag tcpdump -nv', v.stdout);
  assert.equal(v.code, 0, v.stderr);
  const headers = [...v.stdout.matchAll(/offset (\d+), flags \[([^\]]*)\], proto ICMP \(1\), length (\d+)\)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  assert.deepEqual(headers, ['0 + 1500', '1480 + 1500', '2960 none 68', '0 + 1500', '1480 + 1500', '2960 none 68'], v.stdout);
  sameAsDoc('frag-v', v.stdout.split('\n').slice(0, 6).join('\n'));
  assert.match(svg, /IP fragment ICMP offset 1480, MF/);
  assert.match(svg, /IP fragment ICMP offset 2960</);
});

test('4. ping -R: the route recorded to pstack and across it', opts, async () => {
  const pcap = join(dir, 'rr.pcapng');
  let own = '';
  let across = '';
  await capture(['-i', 'tapa', '-w', pcap, 'icmp'], async () => {
    own = (await a.must('ping', ['-c', '1', '-W', '2', '-R', '192.0.2.2'])).stdout;
    across = (await a.must('ping', ['-c', '1', '-W', '2', '-R', '198.51.100.1'])).stdout;
  });
  record('rr ping', own + across);
  refreshDoc('rr', `${own.split('\n---')[0]!.trimEnd()}\n\n${across.split('\n---')[0]!.trimEnd()}`);
  const rr = (s: string) => (s.split('RR:')[1] ?? '').split('\n\n')[0]!.trim().split(/\s+/);
  assert.deepEqual(rr(own), ['192.0.2.1', '192.0.2.2', '192.0.2.2', '192.0.2.1'], own);
  assert.deepEqual(rr(across), ['192.0.2.1', '198.51.100.2', '198.51.100.1', '198.51.100.1', '192.0.2.2', '192.0.2.1'], across);
  assert.match(across, /ttl=63/);
  const v = await run('tcpdump', ['-nv', '-r', pcap], { timeoutMs: 30_000 });
  record('rr tcpdump -nv', v.stdout);
  // Seen on the wire at pstack: the request has A's address; pstack's reply adds its own twice (A adds itself on arrival).
  assert.match(v.stdout, /options \(NOP,RR 192\.0\.2\.1, 0\.0\.0\.0 /);
  assert.match(v.stdout, /options \(RR 192\.0\.2\.1, 192\.0\.2\.2, 192\.0\.2\.2, 0\.0\.0\.0 [^)]*\)\)\n\s+192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply/);
  await ladder('rr', pcap);
});

test('5. ping -p 6162: the pattern in -X\'s dump, in the request and in pstack\'s reply', opts, async () => {
  let ping = '';
  const lines = await capture(['-i', 'tapa', '-X', 'icmp'], async () => {
    ping = (await a.must('ping', ['-c', '1', '-W', '2', '-s', '24', '-p', '6162', '192.0.2.2'])).stdout;
  });
  record('pattern', ping + lines);
  refreshDoc('pattern', lines);
  assert.match(ping, /^PATTERN: 0x6162/);
  const packets = lines.split(/\n(?=\d\d:)/);
  assert.equal(packets.length, 2, lines);
  assert.match(packets[0]!, /ICMP echo request/);
  assert.match(packets[1]!, /ICMP echo reply/);
  for (const p of packets) {
    assert.match(p, /\t0x0020:  (\w{4} ){6}6162 6162  .{12}abab\n\t0x0030:  6162 6162 +abab/, p);
  }
});

test('6. the router\'s ICMP errors: time exceeded for TTL 1, port, host and net unreachable', opts, async () => {
  const pcap = join(dir, 'errors.pcapng');
  const said: string[] = [];
  const lines = await capture(['-i', 'tapa'], async () => {
    await capture(['-i', 'tapa', '-w', pcap], async () => {
      said.push((await a.exec('ping', ['-c', '1', '-W', '2', '-t', '1', '198.51.100.1'])).stdout);
      said.push((await a.exec('socat', ['-t', '1', '-', 'UDP:192.0.2.2:9999'], { input: 'hi\n' })).stderr);
      said.push((await a.exec('ping', ['-c', '1', '-W', '8', '198.51.100.77'], { timeoutMs: 20_000 })).stdout);
      said.push((await a.exec('ping', ['-c', '1', '-W', '2', '203.0.113.9'])).stdout);
    });
  });
  record('errors said', said.join('\n'));
  record('errors capture', lines);
  assert.match(said[0]!, /From 192\.0\.2\.2 icmp_seq=1 Time to live exceeded/);
  assert.match(said[1]!, /Connection refused/);
  assert.match(said[2]!, /From 192\.0\.2\.2 icmp_seq=1 Destination Host Unreachable/);
  assert.match(said[3]!, /From 192\.0\.2\.2 icmp_seq=1 Destination Net Unreachable/);
  assert.match(lines, /IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP time exceeded in-transit, length 36\n/);
  assert.match(lines, /IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP 192\.0\.2\.2 udp port 9999 unreachable, length 36\n/);
  assert.match(lines, /IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP host 198\.51\.100\.77 unreachable, length 36\n/);
  assert.match(lines, /IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP net 203\.0\.113\.9 unreachable, length 36\n/);
  const svg = await ladder('errors', pcap);
  sameAsDoc('errors', lines);
  assert.match(svg, /Time Exceeded/i);
});

test('7. a transfer from pstack through 3% loss: the time-sequence graph shows the retransmissions', opts, async () => {
  const pcap = join(dir, 'loss.pcapng');
  await a.must('nft', ['-f', '-'], { input: `
table netdev lossy {
  chain from_pstack {
    type filter hook ingress device "tapa" priority 0;
    ip protocol tcp ip length > 100 numgen random mod 100 < 3 counter drop
  }
}
` });
  let got = '';
  await capture(['-i', 'tapa', '-w', pcap, 'tcp port 19'], async () => {
    got = (await a.must('sh', ['-c', 'nc -d 192.0.2.2 19 | head -c 300000 | wc -c'], { timeoutMs: 60_000 })).stdout;
  });
  const counters = (await a.must('nft', ['list', 'table', 'netdev', 'lossy'])).stdout;
  await a.must('nft', ['delete', 'table', 'netdev', 'lossy']);
  assert.equal(got.trim(), '300000');
  const dropped = Number(/counter packets (\d+)/.exec(counters)![1]);
  assert.ok(dropped > 0, 'the loss rule fired');
  const d = await draw('timeseq', pcap, ['--width', '700']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(xmlProblem(d.stdout), null);
  assert.match(d.stdout, /<title>[^<]*192\.0\.2\.2:19 → 192\.0\.2\.1:\d+/, 'pstack\'s direction, the busiest');
  const retrans = Number(/(\d+) retransmissions/.exec(d.stdout)![1]);
  record('timeseq', `dropped ${dropped}, ${/[^>]*\d+ retransmissions[^<]*/.exec(d.stdout)![0]}`);
  assert.ok(retrans >= 1, `${dropped} dropped, ${retrans} retransmissions drawn`);
  assert.match(d.stdout, /class="retransmission" data-count="[1-9]\d*"/);
  if (WRITE) writeFileSync(join(ROOT, 'docs/walkthrough/timeseq.svg'), d.stdout);
});
