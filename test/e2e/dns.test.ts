// The stub resolver (src/api/dns.ts) against a real dnsmasq on the kernel's side of a tap, in a
// namespace of its own: a Node program opens a pstack stack on the tap (openTapStack), then
// resolves names under .test through dnsmasq at 192.0.2.1: A, a CNAME chain, TXT, MX, SRV,
// AAAA, PTR, NXDOMAIN, NODATA, lookup() with a search domain, a truncated answer retried over
// TCP, and a timeout. tshark reads the capture of the tap and finds well-formed DNS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, ROOT, run, startNodeScript, type ServerHandle } from './harness.js';

function dnsmasqMissing(): string | null {
  if (existsSync('/usr/sbin/dnsmasq') || existsSync('/usr/bin/dnsmasq')) return null;
  const why = 'needs dnsmasq (scripts/install-deps.sh installs dnsmasq-base)';
  if (process.env['CI']) throw new Error(why); // as the harness: in CI a missing tool fails
  return why;
}

const skip = e2eUnavailable() ?? dnsmasqMissing();
const TAP = 'tapdns0';
const BIG = Array.from({ length: 6 }, (_, i) => String.fromCharCode(97 + i).repeat(200));

/** The program run in the namespace: a stack on the tap, then (once told to go) the queries. */
function program(goFile: string): string {
  const api = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', p)).href);
  return `
import { existsSync } from 'node:fs';
import { openTapStack } from ${api('index.js')};
import { Resolver } from ${api('api/dns.js')};

const stack = await openTapStack({ tap: ${JSON.stringify(TAP)}, addr: '192.0.2.2/24', hostAddr: '192.0.2.1/24' });
console.log('stack ready');
for (let i = 0; i < 300 && !existsSync(${JSON.stringify(goFile)}); i++) await new Promise((r) => setTimeout(r, 50));
const out = {};
const attempt = async (key, fn) => {
  try { out[key] = await fn(); } catch (e) { out[key] = { code: e.code, syscall: e.syscall, hostname: e.hostname }; }
};
const r = new Resolver(stack, { servers: ['192.0.2.1'], timeout: 2000, tries: 2, search: ['pstack.test'] });
await attempt('a', () => r.resolve4('web.test', { ttl: true }));
await attempt('chain', () => r.resolve4('www.pstack.test'));
await attempt('cname', () => r.resolveCname('www.pstack.test'));
await attempt('txt', () => r.resolveTxt('txt.pstack.test'));
await attempt('mx', () => r.resolveMx('pstack.test'));
await attempt('srv', () => r.resolveSrv('_http._tcp.pstack.test'));
await attempt('aaaa', () => r.resolve6('six.pstack.test'));
await attempt('ptr', () => r.reverse('192.0.2.81'));
await attempt('nx', () => r.resolve4('nothere.pstack.test'));
await attempt('nodata', () => r.resolve6('host.pstack.test'));
await attempt('lookup', () => r.lookup('host'));
await attempt('lookupAll', () => r.lookup('six.pstack.test', { all: true }));
out.stats = { ...r.stats };
// No EDNS: answers are limited to 512 bytes, so the big TXT comes truncated and is asked over TCP.
const classic = new Resolver(stack, { servers: ['192.0.2.1'], timeout: 2000, tries: 2, edns: 0 });
await attempt('big', () => classic.resolveTxt('big.pstack.test'));
out.bigStats = { ...classic.stats };
const dead = new Resolver(stack, { servers: ['192.0.2.1:5399'], timeout: 300, tries: 1 });
await attempt('dead', () => dead.resolve4('web.test'));
console.log('RESULT ' + JSON.stringify(out));
stack.close();
process.exit(0);
`;
}

test('resolving through dnsmasq from a pstack stack on a tap', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-dns-'));
  const script = join(dir, 'resolve.mjs');
  const goFile = join(dir, 'go');
  const pidFile = join(dir, 'dnsmasq.pid');
  const pcap = join(dir, 'dns.pcap');
  writeFileSync(script, program(goFile));
  let ns: Netns | null = null;
  let client: ServerHandle | null = null;
  let dnsmasq: ChildProcess | null = null;
  let capture: ChildProcess | null = null;
  try {
    ns = await Netns.create('dns');
    client = await startNodeScript(ns, script, [], /stack ready/, 20_000);
    // The tap and 192.0.2.1 on it exist now: capture it, and start dnsmasq bound to that address.
    capture = ns.spawn('tshark', ['-i', TAP, '-w', pcap]);
    let captureLog = '';
    capture.stderr!.on('data', (b: Buffer) => { captureLog += b.toString(); });
    dnsmasq = ns.spawn('dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=192.0.2.1', '--bind-interfaces',
      '--port', '53', `--pid-file=${pidFile}`, '--log-facility=-', '--local=/test/', '--local-ttl=300',
      '--address=/web.test/192.0.2.80',
      '--host-record=host.pstack.test,192.0.2.81',
      '--host-record=six.pstack.test,2001:db8::6',
      '--cname=www.pstack.test,host.pstack.test',
      '--txt-record=txt.pstack.test,v=spf1 -all,second string',
      `--txt-record=big.pstack.test,${BIG.join(',')}`,
      '--mx-host=pstack.test,mail.pstack.test,10',
      '--srv-host=_http._tcp.pstack.test,host.pstack.test,8080,1,2',
    ]);
    let dnsmasqLog = '';
    dnsmasq.stdout!.on('data', (b: Buffer) => { dnsmasqLog += b.toString(); });
    dnsmasq.stderr!.on('data', (b: Buffer) => { dnsmasqLog += b.toString(); });
    for (let i = 0; i < 100 && !(/started/.test(dnsmasqLog) && /Capturing on/.test(captureLog)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(dnsmasqLog, /started/, `dnsmasq did not start: ${dnsmasqLog}`);
    writeFileSync(goFile, '');
    const [, json] = await client.waitForLog(/RESULT (.*)\n/, 60_000);
    const out = JSON.parse(json!);

    assert.deepEqual(out.a, [{ address: '192.0.2.80', ttl: 300 }]);
    assert.deepEqual(out.chain, ['192.0.2.81']);
    assert.deepEqual(out.cname, ['host.pstack.test']);
    assert.deepEqual(out.txt, [['v=spf1 -all', 'second string']]);
    assert.deepEqual(out.mx, [{ priority: 10, exchange: 'mail.pstack.test' }]);
    assert.deepEqual(out.srv, [{ name: 'host.pstack.test', port: 8080, priority: 1, weight: 2 }]);
    assert.deepEqual(out.aaaa, ['2001:db8::6']);
    assert.deepEqual(out.ptr, ['host.pstack.test']);
    assert.deepEqual(out.nx, { code: 'ENOTFOUND', syscall: 'queryA', hostname: 'nothere.pstack.test' });
    assert.deepEqual(out.nodata, { code: 'ENODATA', syscall: 'queryAaaa', hostname: 'host.pstack.test' });
    assert.deepEqual(out.lookup, { address: '192.0.2.81', family: 4 });
    assert.deepEqual(out.lookupAll, [{ address: '2001:db8::6', family: 6 }]);
    assert.equal(out.stats.dropped, 0);
    assert.equal(out.stats.timeouts, 0);
    assert.deepEqual(out.big, [BIG]);
    assert.equal(out.bigStats.truncated, 1);
    assert.equal(out.bigStats.tcpSent, 1);
    assert.deepEqual(out.dead, { code: 'ETIMEOUT', syscall: 'queryA', hostname: 'web.test' });
    // The program exits by itself after its result line.
    const child = client.child;
    const code = child.exitCode ?? await new Promise<number | null>((r) => child.once('close', (c: number | null) => r(c)));
    assert.equal(code, 0, client.log.slice(-2000));

    capture.kill('SIGINT');
    await new Promise((r) => capture!.once('close', r));
    capture = null;
    const fields = await run('tshark', ['-r', pcap, '-Y', 'dns', '-T', 'fields', '-e', 'dns.qry.name', '-e', 'dns.flags.response', '-e', 'tcp.srcport'], { timeoutMs: 60_000 });
    assert.equal(fields.code, 0, fields.stderr);
    const names = fields.stdout.trim().split('\n');
    for (const n of ['web.test', 'www.pstack.test', 'txt.pstack.test', '81.2.0.192.in-addr.arpa', 'big.pstack.test']) {
      assert.ok(names.some((l) => l.startsWith(n + '\t')), `tshark saw ${n}`);
    }
    assert.ok(names.some((l) => l.startsWith('big.pstack.test\t1\t53')), 'the big answer came over TCP');
    const bad = await run('tshark', ['-r', pcap, '-Y', 'dns && (_ws.malformed || _ws.expert.severity == error)'], { timeoutMs: 60_000 });
    assert.equal(bad.code, 0, bad.stderr);
    assert.equal(bad.stdout.trim(), '', 'no malformed DNS in the capture');
  } finally {
    capture?.kill('SIGKILL');
    await client?.stop();
    if (dnsmasq !== null) {
      dnsmasq.kill('SIGTERM');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (pid > 1 && pid !== dnsmasq.pid) try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
      }
    }
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
