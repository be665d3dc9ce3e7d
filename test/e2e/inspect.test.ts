// pstack route / arp / netstat / stats against a running pstack server, through its control
// socket, after Linux has talked to it: what the stack learned is what the commands show.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle, type RunResult } from './harness.js';

const skip = e2eUnavailable();
// A tap name of our own, so the default control socket (/run/pstack/<tap>.sock) is ours alone
// even while other tests run servers on tap0 in their namespaces.
const tap = `pi${randomBytes(4).toString('hex')}`;
const socketPath = `/run/pstack/${tap}.sock`;
let ns: Netns;
let server: ServerHandle;
let kernelMac: string;

before(async () => {
  if (skip) return;
  ns = await Netns.create('insp');
  server = await startPstack(ns, ['server', '--tap', tap]);
  const link = await ns.must('ip', ['-o', 'link', 'show', tap]);
  kernelMac = /link\/ether ([0-9a-f:]{17})/.exec(link.stdout)![1]!;
  const ping = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '192.0.2.2']);
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
});

after(async () => {
  if (skip) return;
  await server?.stop();
  await ns?.destroy();
});

function pstack(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args]);
}

function explain(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

test('the server announces its control socket, a socket only root can use', { skip: skip ?? false }, async () => {
  assert.match(server.log, new RegExp(`control:\\s+${socketPath.replace(/\./g, '\\.')}`));
  assert.ok(statSync(socketPath).isSocket());
  assert.equal(statSync(socketPath).mode & 0o777, 0o600);
});

test('pstack arp shows the kernel\'s side of the tap with its MAC, state and expiry', { skip: skip ?? false }, async () => {
  const r = await pstack('arp', '--tap', tap);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, new RegExp(`^\\? \\(192\\.0\\.2\\.1\\) at ${kernelMac} \\[ether\\] on ${tap}  reachable, expires in \\d+ seconds$`, 'm'));
  assert.match(r.stdout, new RegExp(`^\\? \\(192\\.0\\.2\\.2\\) at 00:00:5e:00:53:01 \\[ether\\] PERM on ${tap}  permanent`, 'm'));
  const json = await pstack('arp', '--json', '--control', socketPath);
  assert.equal(json.code, 0, explain(json));
  const entry = (JSON.parse(json.stdout).entries as Array<Record<string, unknown>>).find((e) => e['ip'] === '192.0.2.1')!;
  assert.equal(entry['mac'], kernelMac);
  assert.equal(entry['state'], 'reachable');
  assert.equal(entry['interface'], tap);
});

test('pstack arp -s and -d add and delete entries', { skip: skip ?? false }, async () => {
  assert.equal((await pstack('arp', '--tap', tap, '-s', '192.0.2.9', '02:00:00:00:00:09')).code, 0);
  assert.match((await pstack('arp', '--tap', tap)).stdout, new RegExp(`\\? \\(192\\.0\\.2\\.9\\) at 02:00:00:00:00:09 \\[ether\\] PERM on ${tap}  permanent\\n`));
  assert.equal((await pstack('arp', '--tap', tap, '-d', '192.0.2.9')).code, 0);
  assert.doesNotMatch((await pstack('arp', '--tap', tap)).stdout, /192\.0\.2\.9/);
  const again = await pstack('arp', '--tap', tap, '-d', '192.0.2.9');
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'pstack: no ARP entry for 192.0.2.9\n');
  // Forget the kernel, and learn it again from its next ping.
  assert.equal((await pstack('arp', '--tap', tap, '-d', '192.0.2.1')).code, 0);
  assert.doesNotMatch((await pstack('arp', '--tap', tap)).stdout, /192\.0\.2\.1\)/);
  assert.equal((await ns.exec('ping', ['-c', '1', '-W', '2', '192.0.2.2'])).code, 0);
  assert.match((await pstack('arp', '--tap', tap)).stdout, new RegExp(`\\? \\(192\\.0\\.2\\.1\\) at ${kernelMac}`));
});

test('pstack route shows the connected network and the default route; route add and del change it', { skip: skip ?? false }, async () => {
  const r = await pstack('route', '--tap', tap);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /^Destination\s+Gateway\s+Genmask\s+Flags\s+Iface/m);
  assert.match(r.stdout, new RegExp(`^192\\.0\\.2\\.0\\s+0\\.0\\.0\\.0\\s+255\\.255\\.255\\.0\\s+U\\s+${tap}\\s`, 'm'));
  assert.match(r.stdout, new RegExp(`^0\\.0\\.0\\.0\\s+192\\.0\\.2\\.1\\s+0\\.0\\.0\\.0\\s+UG\\s+${tap}\\s`, 'm'));

  const add = await pstack('route', 'add', '203.0.113.0/24', 'via', '192.0.2.1', '--tap', tap);
  assert.equal(add.code, 0, explain(add));
  assert.match((await pstack('route', '--tap', tap)).stdout, new RegExp(`^203\\.0\\.113\\.0\\s+192\\.0\\.2\\.1\\s+255\\.255\\.255\\.0\\s+UG\\s+${tap}\\s+192\\.0\\.2\\.2\\s+static$`, 'm'));
  const dup = await pstack('route', 'add', '203.0.113.0/24', 'via', '192.0.2.1', '--tap', tap);
  assert.equal(dup.code, 1);
  assert.equal(dup.stderr, 'pstack: a route to 203.0.113.0/24 exists already (delete it first)\n');
  const offLink = await pstack('route', 'add', '198.51.100.0/24', 'via', '198.51.100.1', '--tap', tap);
  assert.equal(offLink.code, 1);
  assert.match(offLink.stderr, /^pstack: next hop 198\.51\.100\.1 is not on any attached network\n$/);

  const del = await pstack('route', 'del', '203.0.113.0/24', '--tap', tap);
  assert.equal(del.code, 0, explain(del));
  assert.doesNotMatch((await pstack('route', '--tap', tap)).stdout, /203\.0\.113\.0/);
  const json = JSON.parse((await pstack('route', '--json', '--tap', tap)).stdout);
  assert.equal(json.ok, true);
  assert.ok(json.routes.some((x: Record<string, unknown>) => x['network'] === '0.0.0.0' && x['gateway'] === '192.0.2.1' && x['flags'] === 'UG'));
});

test('pstack stats counts the pings; --json parses', { skip: skip ?? false }, async () => {
  const json = await pstack('stats', '--json', '--tap', tap);
  assert.equal(json.code, 0, explain(json));
  const stats = JSON.parse(json.stdout);
  assert.ok(stats.counters.icmpIn >= 3, json.stdout);
  assert.ok(stats.counters.icmpEchoRepliesOut >= 3);
  assert.equal(stats.counters.internalErrors, 0);
  assert.ok(stats.devices.some((d: Record<string, unknown>) => d['name'] === tap));
  const text = await pstack('stats', '--tap', tap);
  assert.equal(text.code, 0, explain(text));
  assert.match(text.stdout, /^Icmp:\n    \d+ ICMP messages received\n/m);
  assert.match(text.stdout, /^    \d+ echo requests received$/m);
  assert.match(text.stdout, new RegExp(`^    ${tap} \\(ethernet, 00:00:5e:00:53:01, mtu 1500\\): \\d+ frames in`, 'm'));
});

test('pstack netstat lists the endpoints the transports registered', { skip: skip ?? false }, async () => {
  const r = await pstack('netstat', '--tap', tap);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /^Active Internet connections \(servers and established\)\nProto Recv-Q Send-Q Local Address           Foreign Address         State/);
  const json = JSON.parse((await pstack('netstat', '--json', '--tap', tap)).stdout);
  assert.ok(Array.isArray(json.endpoints));
});

test('a second server cannot take a live control socket; no server is one clear line and exit 1', { skip: skip ?? false }, async () => {
  const other = await Netns.create('insp2');
  try {
    const second = await other.exec(process.execPath, [CLI, 'server', '--tap', tap, '--control', socketPath], { timeoutMs: 15_000 });
    assert.equal(second.code, 1, explain(second));
    assert.match(second.stderr, /pstack: cannot open control socket .* is in use by another pstack server\n$/);
  } finally {
    await other.destroy();
  }
  assert.equal((await pstack('route', '--tap', tap)).code, 0, 'the first server still answers');
  const none = await pstack('route', '--tap', 'pstknone0');
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'pstack: no pstack server is running with control socket /run/pstack/pstknone0.sock (start pstack server, or give --tap NAME or --control PATH)\n');
});

test('the socket file is removed when the server stops', { skip: skip ?? false }, async () => {
  assert.equal(await server.stop(), 0, server.log.slice(-2000));
  assert.equal(existsSync(socketPath), false);
  const gone = await pstack('stats', '--tap', tap);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^pstack: no pstack server is running/);
});
