// Names over IPv6 with nothing configured but what the link's router says: in a namespace of
// its own, radvd on the kernel's side of the tap advertises 2001:db8::/64 with RDNSS 2001:db8::1
// (lifetime 8 s) and DNSSL v6.test, dnsmasq answers on 2001:db8::1 only, and socat listens on
// [2001:db8::1]:7007. A Node program opens a pstack stack on the tap with IPv6 and no DNS
// server (openTapStack), waits for the advertised server, resolves AAAA and A records over UDP
// from its SLAAC address, a truncated answer again over TCP, a short name through the DNSSL
// domain, then connects by name over IPv6 to socat, which tells the peer it saw. With radvd
// stopped, the server's lifetime runs out and pstack's resolver drops it. Then the CLI flag:
// pstack ping -6 NAME --dns 2001:db8::1 looks the name up from dnsmasq over IPv6 and pings it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, ROOT, CLI, run, startNodeScript, type ServerHandle } from './harness.js';

async function toolsMissing(): Promise<string | null> {
  if ((await run('which', ['dnsmasq', 'radvd', 'socat'])).code === 0 || existsSync('/usr/sbin/dnsmasq') && existsSync('/usr/sbin/radvd') && existsSync('/usr/bin/socat')) return null;
  const why = 'needs dnsmasq, radvd and socat (scripts/install-deps.sh)';
  if (process.env['CI']) throw new Error(why);
  return why;
}

const skip = e2eUnavailable() ?? await toolsMissing();
const TAP = 'tapdns6';
const SLAAC = '2001:db8::200:5eff:fe00:5301';
const BIG = Array.from({ length: 6 }, (_, i) => String.fromCharCode(97 + i).repeat(200));

/** The program run in the namespace. It prints RESULT1 after the queries, then RESULT2 once the server is gone. */
function program(): string {
  const api = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', p)).href);
  return `
import { openTapStack } from ${api('index.js')};
import { Resolver } from ${api('api/dns.js')};

const stack = await openTapStack({ tap: ${JSON.stringify(TAP)}, addr: '192.0.2.2/24', hostAddr: '192.0.2.1/24', gateway: null, ipv6: true });
console.log('stack ready ' + JSON.stringify(stack.resolver.getServers()));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const slaacReady = () => stack.ipv6.interfaces.some((i) => i.addresses.some((a) => a.address.toString() === ${JSON.stringify(SLAAC)} && a.state === 'preferred'));
for (let i = 0; i < 600 && !(stack.resolver.getServers().includes('2001:db8::1') && slaacReady()); i++) await sleep(100);
const out = { servers: stack.resolver.getServers(), search: stack.resolver.getSearch() };
const attempt = async (key, fn) => {
  try { out[key] = await fn(); } catch (e) { out[key] = { code: e.code, syscall: e.syscall, hostname: e.hostname }; }
};
const r = stack.resolver;
await attempt('aaaa', () => r.resolve6('svc.v6.test', { ttl: true }));
await attempt('a', () => r.resolve4('dual.v6.test'));
await attempt('lookup6', () => stack.dns.promises.lookup('dual.v6.test', { family: 6 }));
await attempt('lookupAll', () => stack.dns.promises.lookup('dual.v6.test', { all: true }));
await attempt('short', () => stack.dns.promises.lookup('svc'));
out.stats = { ...r.stats };
// No EDNS: the big TXT answer does not fit 512 bytes, comes truncated and is asked again over TCP.
const classic = new Resolver(stack, { timeout: 2000, tries: 2, edns: 0 });
classic.setDiscoveredServers('router-advertisement', stack.resolver.getServers());
await attempt('big', () => classic.resolveTxt('big.v6.test'));
out.bigStats = { ...classic.stats };
// By a name with A and AAAA records, to socat on IPv6 only (the IPv4 address refuses), which
// answers with the peer address it saw: the answer's order puts IPv6 first, and it is tried first.
await attempt('connect', () => new Promise((resolve, reject) => {
  const s = stack.connect({ host: 'dual.v6.test', port: 7007 });
  let text = '';
  s.setEncoding('utf8');
  s.on('data', (d) => { text += d; });
  s.on('error', reject);
  s.on('end', () => resolve({ remote: s.remoteAddress, family: s.remoteFamily, local: s.localAddress, text, attempted: s.autoSelectFamilyAttemptedAddresses }));
}));
console.log('RESULT1 ' + JSON.stringify(out));
// radvd is stopped now: the RDNSS lifetime (8 s) runs out and the server is dropped.
const t0 = Date.now();
for (let i = 0; i < 300 && stack.resolver.getServers().includes('2001:db8::1'); i++) await sleep(100);
const after = { servers: stack.resolver.getServers(), search: stack.resolver.getSearch(), waitedMs: Date.now() - t0 };
r.clearCache();
const quick = new Resolver(stack, { timeout: 300, tries: 1 });
try { await quick.resolve6('svc.v6.test'); after.query = 'answered'; } catch (e) { after.query = e.code; }
console.log('RESULT2 ' + JSON.stringify(after));
stack.close();
process.exit(0);
`;
}

test('with no server configured, pstack resolves through the RDNSS server radvd advertises, over IPv6, and connects by name', { skip: skip ?? false, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-dns6-'));
  const script = join(dir, 'resolve6.mjs');
  writeFileSync(script, program());
  let ns: Netns | null = null;
  let client: ServerHandle | null = null;
  const children: ChildProcess[] = [];
  const logs = new Map<string, string>();
  const spawn = (name: string, cmd: string, args: string[]) => {
    const c = ns!.spawn(cmd, args);
    logs.set(name, '');
    c.stdout!.on('data', (b: Buffer) => logs.set(name, logs.get(name)! + b.toString()));
    c.stderr!.on('data', (b: Buffer) => logs.set(name, logs.get(name)! + b.toString()));
    children.push(c);
    return c;
  };
  try {
    ns = await Netns.create('dns6');
    client = await startNodeScript(ns, script, [], /stack ready (.*)\n/, 30_000);
    // Before any advertisement: the default, as glibc without a resolv.conf.
    assert.match(client.log, /stack ready \["127\.0\.0\.1"\]/);
    await ns.must('ip', ['-6', 'addr', 'add', '2001:db8::1/64', 'dev', TAP, 'nodad']);
    spawn('dnsmasq', 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=2001:db8::1', '--bind-interfaces',
      '--port', '53', `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-facility=-', '--log-queries', '--local=/test/', '--local-ttl=300',
      '--host-record=svc.v6.test,2001:db8::1',
      '--host-record=dual.v6.test,192.0.2.1,2001:db8::1',
      `--txt-record=big.v6.test,${BIG.join(',')}`,
    ]);
    spawn('socat', 'socat', ['TCP6-LISTEN:7007,bind=[2001:db8::1],reuseaddr,fork', 'SYSTEM:echo peer $SOCAT_PEERADDR']);
    writeFileSync(join(dir, 'radvd.conf'), `interface ${TAP} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvDefaultLifetime 600;
  prefix 2001:db8::/64 {
    AdvOnLink on;
    AdvAutonomous on;
  };
  RDNSS 2001:db8::1 {
    AdvRDNSSLifetime 8;
  };
  DNSSL v6.test {
    AdvDNSSLLifetime 8;
  };
};
`);
    const radvd = spawn('radvd', 'radvd', ['--nodaemon', '-C', join(dir, 'radvd.conf'), '-p', join(dir, 'radvd.pid'), '-m', 'stderr', '-d', '1']);
    const [, json] = await client.waitForLog(/RESULT1 (.*)\n/, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${[...logs].map(([k, v]) => `${k}: ${v}`).join('\n')}`);
    });
    const out = JSON.parse(json!);
    assert.deepEqual(out.servers, ['2001:db8::1'], 'the advertised server, and only it');
    assert.deepEqual(out.search, ['v6.test']);
    assert.deepEqual(out.aaaa, [{ address: '2001:db8::1', ttl: 300 }]);
    assert.deepEqual(out.a, ['192.0.2.1']);
    assert.deepEqual(out.lookup6, { address: '2001:db8::1', family: 6 });
    // Node's default order (getaddrinfo's, RFC 6724): both reachable, IPv6 first.
    assert.deepEqual(out.lookupAll, [{ address: '2001:db8::1', family: 6 }, { address: '192.0.2.1', family: 4 }]);
    assert.deepEqual(out.short, { address: '2001:db8::1', family: 6 }, 'svc through the DNSSL domain');
    assert.equal(out.stats.timeouts, 0);
    assert.equal(out.stats.dropped, 0);
    assert.deepEqual(out.big, [BIG]);
    assert.equal(out.bigStats.truncated, 1);
    assert.equal(out.bigStats.tcpSent, 1);
    // socat writes the peer's address in full, in brackets.
    assert.deepEqual(out.connect, { remote: '2001:db8::1', family: 'IPv6', local: SLAAC, text: 'peer [2001:0db8:0000:0000:0200:5eff:fe00:5301]\n', attempted: ['2001:db8::1:7007'] });
    // dnsmasq saw the questions come from pstack's SLAAC address.
    assert.match(logs.get('dnsmasq')!, new RegExp(`query\\[AAAA\\] svc\\.v6\\.test from ${SLAAC.replace(/\./g, '\\.')}`));
    assert.match(logs.get('dnsmasq')!, /query\[TXT\] big\.v6\.test from 2001:db8::200:5eff:fe00:5301/);

    radvd.kill('SIGTERM');
    const [, json2] = await client.waitForLog(/RESULT2 (.*)\n/, 60_000);
    const after = JSON.parse(json2!);
    assert.deepEqual(after.servers, ['127.0.0.1'], 'the RDNSS lifetime ended: back to the default');
    assert.deepEqual(after.search, []);
    assert.ok(after.waitedMs < 15_000, `dropped within the 8 s lifetime (${after.waitedMs} ms)`);
    assert.equal(after.query, 'ETIMEOUT', 'nothing listens on 127.0.0.1:53');
    const child = client.child;
    const code = child.exitCode ?? await new Promise<number | null>((r) => child.once('close', (c: number | null) => r(c)));
    assert.equal(code, 0, client.log.slice(-2000));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => { c.once('close', r); setTimeout(r, 5000); }))));
    if (client !== null && client.child.exitCode === null) await client.stop();
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pstack ping -6 NAME with --dns 2001:db8::1: the name is looked up over IPv6, then pinged', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-dns6-ping-'));
  const tap = 'tapdns6p';
  let ns: Netns | null = null;
  let dnsmasq: ChildProcess | null = null;
  let log = '';
  try {
    ns = await Netns.create('dns6p');
    // The tap exists first, with the kernel's 2001:db8::1 on it, so that dnsmasq can listen there before pstack runs.
    await ns.must('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await ns.must('ip', ['link', 'set', tap, 'up']);
    await ns.must('ip', ['-6', 'addr', 'add', '2001:db8::1/64', 'dev', tap, 'nodad']);
    dnsmasq = ns.spawn('dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=2001:db8::1', '--bind-interfaces',
      '--port', '53', `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-facility=-', '--log-queries', '--local=/test/',
      '--host-record=svc.v6.test,2001:db8::1',
    ]);
    dnsmasq.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
    dnsmasq.stdout!.on('data', (b: Buffer) => { log += b.toString(); });
    for (let i = 0; i < 100 && !/started/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(log, /started/, log);
    const r = await ns.exec(process.execPath, [CLI, 'ping', '-6', '-c', '2', '-i', '0.3', '--tap', tap, '--addr', '192.0.2.2/24', '--addr', '2001:db8::2/64',
      '--host-addr', 'none', '--gateway', 'none', '--dns', '2001:db8::1', 'svc.v6.test'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PING svc\.v6\.test\(2001:db8::1\) 56 data bytes$/m);
    assert.match(r.stdout, /2 packets transmitted, 2 received/);
    assert.match(log, /query\[AAAA\] svc\.v6\.test from 2001:db8::2/);
    // A bad --dns entry is one clear line and exit status 2.
    const bad = await ns.exec(process.execPath, [CLI, 'ping', '-6', '--dns', '2001:db8::1,[2001:db8::1]:0', 'svc.v6.test'], { timeoutMs: 20_000 });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /invalid --dns "2001:db8::1,\[2001:db8::1\]:0": "\[2001:db8::1\]:0" is not an address/);
  } finally {
    if (dnsmasq !== null && dnsmasq.exitCode === null) {
      dnsmasq.kill('SIGTERM');
      await new Promise((r) => { dnsmasq!.once('close', r); setTimeout(r, 5000); });
    }
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The drop-in default stack, IPv6 on by default: an unmodified program run with
// `node --import pstack/register`, given nothing but an IPv4 address (PSTACK_ADDR, no DHCP, no
// PSTACK_DNS), finds its DNS server in radvd's RDNSS option, gets a SLAAC address, and reaches
// a kernel-side HTTP server on [2001:db8::1] by name with http.get and net.connect({ family: 6 });
// then with PSTACK_ADDR6 and PSTACK_SLAAC=off, from a static address; with PSTACK_IPV6=off, not at all.
test('node --import pstack/register: an unmodified program resolves through RDNSS and fetches over IPv6 from its SLAAC address', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-dns6-dropin-'));
  const tap = 'tapdns6r';
  let ns: Netns | null = null;
  const children: ChildProcess[] = [];
  const logs = new Map<string, string>();
  const spawn = (name: string, cmd: string, args: string[]) => {
    const c = ns!.spawn(cmd, args);
    logs.set(name, '');
    c.stdout!.on('data', (b: Buffer) => logs.set(name, logs.get(name)! + b.toString()));
    c.stderr!.on('data', (b: Buffer) => logs.set(name, logs.get(name)! + b.toString()));
    children.push(c);
    return c;
  };
  const waitFor = async (name: string, re: RegExp) => {
    for (let i = 0; i < 150 && !re.test(logs.get(name)!); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(logs.get(name)!, re, `${name}: ${logs.get(name)}`);
  };
  // Not a line of pstack in it: what any program would do.
  const app = `
import http from 'node:http';
import net from 'node:net';
const body = await new Promise((resolve, reject) => http.get('http://web.v6.test:7008/via-http', (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (d) => { text += d; });
  res.on('end', () => resolve(res.statusCode + ' ' + text));
}).on('error', reject));
console.log('http.get ' + body);
const line = await new Promise((resolve, reject) => {
  const s = net.connect({ host: 'web.v6.test', port: 7008, family: 6 }, () => s.write('GET /via-net HTTP/1.0\\r\\n\\r\\n'));
  let text = '';
  s.setEncoding('utf8');
  s.on('data', (d) => { text += d; });
  s.on('error', reject);
  s.on('end', () => resolve(s.remoteFamily + ' ' + s.remoteAddress + ' ' + s.localAddress + ' ' + text.split('\\r\\n\\r\\n')[1]));
});
console.log('net.connect ' + line);
`;
  const server = `
const http = require('node:http');
http.createServer((req, res) => res.end(req.url + ' from ' + req.socket.remoteAddress)).listen(7008, '2001:db8::1', () => console.log('web ready'));
`;
  try {
    ns = await Netns.create('dns6r');
    writeFileSync(join(dir, 'app.mjs'), app);
    await ns.must('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await ns.must('ip', ['link', 'set', tap, 'up']);
    await ns.must('ip', ['-6', 'addr', 'add', '2001:db8::1/64', 'dev', tap, 'nodad']);
    spawn('dnsmasq', 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=2001:db8::1', '--bind-interfaces',
      '--port', '53', `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-facility=-', '--log-queries', '--local=/test/',
      '--host-record=web.v6.test,2001:db8::1',
    ]);
    spawn('web', process.execPath, ['-e', server]);
    writeFileSync(join(dir, 'radvd.conf'), `interface ${tap} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  prefix 2001:db8::/64 {
    AdvOnLink on;
    AdvAutonomous on;
  };
  RDNSS 2001:db8::1 {
  };
};
`);
    spawn('radvd', 'radvd', ['--nodaemon', '-C', join(dir, 'radvd.conf'), '-p', join(dir, 'radvd.pid'), '-m', 'stderr', '-d', '1']);
    await waitFor('dnsmasq', /started/);
    await waitFor('web', /web ready/);
    // Started from the package's root, so that `--import pstack/register` resolves to it.
    const t0 = Date.now();
    const r = await ns.exec('env', ['PSTACK_TAP=' + tap, 'PSTACK_ADDR=192.0.2.2/24', process.execPath, '--import', 'pstack/register', join(dir, 'app.mjs')], { timeoutMs: 60_000 });
    const ms = Date.now() - t0;
    const why = `exit ${r.code} after ${ms} ms\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\n${[...logs].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
    assert.equal(r.code, 0, why);
    assert.equal(r.stdout, [
      `http.get 200 /via-http from ${SLAAC}`,
      `net.connect IPv6 2001:db8::1 ${SLAAC} /via-net from ${SLAAC}`,
      '',
    ].join('\n'), why);
    assert.match(logs.get('dnsmasq')!, new RegExp(`query\\[AAAA\\] web\\.v6\\.test from ${SLAAC.replace(/\./g, '\\.')}`), why);
    // A static address and server instead of what the router says: the server sees 2001:db8::2.
    const fixed = await ns.exec('env', ['PSTACK_TAP=' + tap, 'PSTACK_ADDR=192.0.2.2/24', 'PSTACK_SLAAC=off', 'PSTACK_ADDR6=2001:db8::2/64', 'PSTACK_DNS=2001:db8::1',
      process.execPath, '--import', 'pstack/register', join(dir, 'app.mjs')], { timeoutMs: 60_000 });
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.equal(fixed.stdout, 'http.get 200 /via-http from 2001:db8::2\nnet.connect IPv6 2001:db8::1 2001:db8::2 /via-net from 2001:db8::2\n');
    // PSTACK_IPV6=off: IPv4 only, so the name's only address (AAAA) cannot be reached, and the program fails.
    const off = await ns.exec('env', ['PSTACK_TAP=' + tap, 'PSTACK_ADDR=192.0.2.2/24', 'PSTACK_IPV6=off', process.execPath, '--import', 'pstack/register', join(dir, 'app.mjs')], { timeoutMs: 60_000 });
    assert.notEqual(off.code, 0, off.stdout + off.stderr);
    assert.equal(off.stdout, '');
    // A bad value is one line and exit status 2 before the program runs.
    const bad = await ns.exec('env', ['PSTACK_TAP=' + tap, 'PSTACK_ADDR6=2001:db8::2', process.execPath, '--import', 'pstack/register', '-e', 'console.log("the program ran")'], { timeoutMs: 20_000 });
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, 'pstack: invalid PSTACK_ADDR6 "2001:db8::2": "2001:db8::2" is not an IPv6 address with a prefix length from 1 to 126, like 2001:db8::2/64\n');
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => { c.once('close', r); setTimeout(r, 5000); }))));
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
