// An unmodified Node program (test/e2e/fixtures/unmodified-app.mjs: fetch and http.get by
// name, https.get and tls.connect with a test CA, pg against PostgreSQL, ioredis against Redis,
// a ws WebSocket client and server, dgram, and a net server that curl reaches) run with
// `node --import pstack/register` in a namespace whose only configuration is a dnsmasq on the
// kernel's side of the tap (DHCP and DNS), with real servers there. Only 192.0.2.0/24, inside
// a namespace the test creates; every server is stopped and the namespace deleted afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { e2eUnavailable, Netns, run, ROOT } from './harness.js';

const PG_BIN = (() => {
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort();
    return versions.length > 0 ? `/usr/lib/postgresql/${versions[versions.length - 1]}/bin` : null;
  } catch {
    return null;
  }
})();
const have = async (cmd: string) => (await run('sh', ['-c', `command -v ${cmd}`])).code === 0;
const missing = [
  ...(await have('dnsmasq')) ? [] : ['dnsmasq'],
  ...(await have('redis-server')) ? [] : ['redis-server'],
  ...(await have('openssl')) ? [] : ['openssl'],
  ...PG_BIN !== null ? [] : ['postgresql'],
];
const skip = e2eUnavailable() ?? (missing.length > 0 ? `not installed: ${missing.join(', ')}` : null);
const PSTACK_MAC = '00:00:5e:00:53:01';
const PSTACK_ADDR = '192.0.2.50';
let ns: Netns;
let dir: string;
const servers: ChildProcess[] = [];
const logs = new Map<string, string>();

function serve(name: string, cmd: string, args: string[]): ChildProcess {
  const child = ns.spawn(cmd, args);
  logs.set(name, '');
  const add = (b: Buffer) => logs.set(name, logs.get(name)! + b.toString());
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  servers.push(child);
  return child;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up:\n${[...logs].map(([k, v]) => `--- ${k}\n${v}`).join('\n')}`);
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-e2e-dropin-'));
  chmodSync(dir, 0o755);
  ns = await Netns.create('dropin');
  await ns.must('ip', ['tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
  await ns.must('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'tap0']);
  await ns.must('ip', ['link', 'set', 'tap0', 'up']);

  // A test CA and a certificate for secure.test that it signed.
  const ssl = (args: string[]) => run('openssl', args, { timeoutMs: 30_000 }).then((r) => assert.equal(r.code, 0, r.stderr));
  await ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=pstack test CA']);
  await ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=secure.test']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:secure.test\n');
  await ssl(['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'server.crt'), '-days', '1', '-extfile', join(dir, 'san.ext')]);

  // DHCP (pstack's MAC always gets 192.0.2.50) and DNS for the lab's names.
  serve('dnsmasq', 'dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--interface=tap0', '--bind-interfaces',
    '--listen-address=192.0.2.1', `--dhcp-leasefile=${join(dir, 'leases')}`,
    '--dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,10m', `--dhcp-host=${PSTACK_MAC},${PSTACK_ADDR}`,
    '--dhcp-option=option:router,192.0.2.1', '--local=/test/',
    '--address=/web.test/192.0.2.1', '--address=/secure.test/192.0.2.1', '--address=/db.test/192.0.2.1', '--address=/cache.test/192.0.2.1',
  ]);

  // PostgreSQL, as its own user, trusting the lab network.
  const pgData = join(dir, 'pg');
  mkdirSync(pgData);
  const pgUser = (await run('id', ['-u', 'postgres'])).stdout.trim();
  const pgGroup = (await run('id', ['-g', 'postgres'])).stdout.trim();
  chownSync(pgData, Number(pgUser), Number(pgGroup));
  const init = await run('runuser', ['-u', 'postgres', '--', join(PG_BIN!, 'initdb'), '-D', pgData, '-A', 'trust', '-U', 'postgres'], { timeoutMs: 60_000 });
  assert.equal(init.code, 0, init.stderr);
  appendFileSync(join(pgData, 'pg_hba.conf'), 'host all all 192.0.2.0/24 trust\n');
  serve('postgres', 'runuser', ['-u', 'postgres', '--', join(PG_BIN!, 'postgres'), '-D', pgData, '-c', 'listen_addresses=192.0.2.1', '-c', `unix_socket_directories=${pgData}`, '-c', 'fsync=off']);

  serve('redis', 'redis-server', ['--bind', '192.0.2.1', '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no']);
  serve('peer', process.execPath, [join(ROOT, 'test/e2e/fixtures/kernel-peer.mjs'), dir]);

  await until('the kernel-side servers', () => logs.get('peer')!.includes('peer ready'));
  await until('redis', () => /Ready to accept connections/.test(logs.get('redis')!));
  await until('postgres', async () => (await ns.exec(join(PG_BIN!, 'pg_isready'), ['-h', '192.0.2.1', '-p', '5432'])).code === 0, 60_000);
  await until('dnsmasq', () => /DHCP, IP range 192\.0\.2\.50/.test(logs.get('dnsmasq')!));
});

after(async () => {
  if (skip) return;
  for (const s of servers) s.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an unmodified program runs over pstack with node --import pstack/register: names, fetch, https, tls, pg, ioredis, a ws client and server, dgram, and a server curl reaches', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const app = ns.spawn('env', [
    `NODE_EXTRA_CA_CERTS=${join(dir, 'ca.crt')}`, 'PSTACK_TAP=tap0',
    process.execPath, '--import', 'pstack/register', join(ROOT, 'test/e2e/fixtures/unmodified-app.mjs'),
  ]);
  // `--import pstack/register` resolves from the working directory: the package itself.
  let out = '';
  let err = '';
  app.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  app.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => app.on('close', (code) => resolve(code)));
  const kill = setTimeout(() => app.kill('SIGKILL'), 90_000);
  try {
    await until('the program', () => /listening 7000 7001/.test(out) || app.exitCode !== null, 80_000).catch(() => {});
    assert.match(out, /listening 7000 7001/, `stdout:\n${out}\nstderr:\n${err}`);
    const ws = await ns.exec(process.execPath, [join(ROOT, 'test/e2e/fixtures/kernel-ws-client.mjs'), `ws://${PSTACK_ADDR}:7001/`], { timeoutMs: 15_000 });
    assert.equal(ws.stdout, 'pstack heard hello\n', `${ws.stderr}\nprogram stderr:\n${err}`);
    const curl = await ns.exec('curl', ['-sS', '--max-time', '10', `http://${PSTACK_ADDR}:7000/`], { timeoutMs: 15_000 });
    assert.equal(curl.stdout, 'served over pstack', `curl exit ${curl.code}: ${curl.stderr}\nprogram stdout:\n${out}\nstderr:\n${err}`);
    const code = await exited;
    assert.equal(code, 0, `the program's sockets are all closed, so it ends: stdout:\n${out}\nstderr:\n${err}`);
  } finally {
    clearTimeout(kill);
    if (app.exitCode === null) app.kill('SIGKILL');
  }
  const lines = out.trim().split('\n');
  assert.deepEqual(lines, [
    'fetch 200 hello /fetch from the kernel',
    'http.get hello /http-get from the kernel',
    'https.get secure /https-get',
    'tls.connect over tls (authorized true)',
    'dns.lookup 192.0.2.1',
    'pg 42',
    'ioredis over pstack',
    'ws echo hi',
    'dgram datagram',
    'listening 7000 7001',
  ]);
  // The kernel saw all of it come from pstack's leased address, not from itself.
  assert.match(logs.get('dnsmasq')!, new RegExp(`DHCPACK\\(tap0\\) ${PSTACK_ADDR.replace(/\./g, '\\.')} ${PSTACK_MAC}`));
  assert.equal(userInfo().uid, 0);
});

test('a configuration error in the environment is one line and a non-zero exit before the program runs', { skip: skip ?? false }, async () => {
  const r = await ns.exec('env', ['PSTACK_ADDR=300.1.2.3/24', process.execPath, '--import', 'pstack/register', '-e', 'console.log("the program ran")'], { timeoutMs: 20_000 });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'pstack: invalid PSTACK_ADDR "300.1.2.3/24": expected "dhcp" or an address with a prefix length, like 192.0.2.2/24\n');
});
