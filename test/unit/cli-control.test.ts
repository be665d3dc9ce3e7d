// The control socket: a real Unix socket in a temporary directory, served from a Stack on a
// CaptureDevice, queried with the client the inspection commands use.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, writeFileSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  startControlServer, controlRequest, handleControlRequest, handleControlLine, defaultControlPath,
  ControlSocketInUse, type ControlServer, type ControlResponse,
} from '../../src/cli/control.js';
import { FatalError } from '../../src/cli/errors.js';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import type { EndpointInfo } from '../../src/stack/network.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';

const ip = (s: string) => parseIpv4(s)!;
const HOST_MAC = parseMac('e2:20:76:2d:5d:2d')!;

function makeStack() {
  const clock = new FakeClock(0);
  const stack = new Stack({ timers: clock.timers });
  stack.addInterface(new LoopbackDevice(), { address: ip('127.0.0.1'), prefixLength: 8 });
  const dev = new CaptureDevice('tap0');
  const iface = stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.start();
  return { clock, stack, dev, iface };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pstack-control-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Send raw text on a fresh connection and collect what comes back until the server closes or `lines` arrive. */
function rawExchange(path: string, text: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(path);
    let got = '';
    const timer = setTimeout(() => { conn.destroy(); reject(new Error(`no answer: ${JSON.stringify(got)}`)); }, 3000);
    const done = () => { clearTimeout(timer); conn.destroy(); resolve(got.split('\n').filter((l) => l !== '')); };
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(text));
    conn.on('data', (d: string) => {
      got += d;
      if (got.split('\n').length > lines) done();
    });
    conn.on('end', done);
    conn.on('error', reject);
  });
}

describe('control socket server', () => {
  let s: ReturnType<typeof makeStack>;
  let server: ControlServer;
  let path: string;

  before(async () => {
    s = makeStack();
    path = join(dir, 'sub', 'tap0.sock');
    server = await startControlServer(s.stack, path);
  });
  after(() => {
    server.close();
    s.stack.close();
  });

  test('creates its directory and a socket only root can use', () => {
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(defaultControlPath('tap0'), '/run/pstack/tap0.sock');
  });

  test('routes: the connected networks and the default route, with route -n flags', async () => {
    const r = await controlRequest(path, { cmd: 'routes', id: 7 });
    assert.equal(r.ok, true);
    assert.equal(r['id'], 7);
    const routes = r['routes'] as Array<Record<string, unknown>>;
    assert.deepEqual(routes.find((x) => x['network'] === '192.0.2.0'), {
      network: '192.0.2.0', prefixLength: 24, netmask: '255.255.255.0', gateway: null, interface: 'tap0', iface: 'net1',
      source: '192.0.2.2', flags: 'U', origin: 'interface',
    });
    const dflt = routes.find((x) => x['prefixLength'] === 0)!;
    assert.equal(dflt['gateway'], '192.0.2.1');
    assert.equal(dflt['flags'], 'UG');
    assert.equal(routes.find((x) => x['network'] === '127.0.0.0')?.['interface'], 'lo');
  });

  test('route-add and route-del change the live table, and say why when they cannot', async () => {
    const added = await controlRequest(path, { cmd: 'route-add', network: '203.0.113.0', prefix: 24, gateway: '192.0.2.1' });
    assert.equal(added.ok, true, JSON.stringify(added));
    assert.equal(s.stack.route(ip('203.0.113.9'))?.route?.prefixLength, 24);
    const host = await controlRequest(path, { cmd: 'route-add', network: '198.51.100.7/32', dev: 'tap0' });
    assert.equal(host.ok, true, JSON.stringify(host));
    assert.equal((host['route'] as Record<string, unknown>)['flags'], 'UH');
    const failures: Array<[Record<string, unknown>, RegExp]> = [
      [{ cmd: 'route-add', network: '203.0.113.0', prefix: 24, gateway: '192.0.2.1' }, /exists already/],
      [{ cmd: 'route-add', network: '203.0.113.5', prefix: 24, gateway: '192.0.2.1' }, /host bits set; did you mean 203\.0\.113\.0\/24/],
      [{ cmd: 'route-add', network: '198.51.100.0', prefix: 24, gateway: '198.51.100.1' }, /not on any attached network/],
      [{ cmd: 'route-add', network: '198.51.100.0', prefix: 24, gateway: '192.0.2.2' }, /pstack's own addresses/],
      [{ cmd: 'route-add', network: '198.51.100.0', prefix: 24 }, /give a "gateway"/],
      [{ cmd: 'route-add', network: '198.51.100.0', prefix: 24, dev: 'eth9' }, /no interface named "eth9"/],
      [{ cmd: 'route-add', network: '198.51.100.0', prefix: 33, dev: 'tap0' }, /"prefix" must be a whole number from 0 to 32/],
      [{ cmd: 'route-add', network: '198.51.100.0', dev: 'tap0' }, /"prefix" is required/],
      [{ cmd: 'route-add', network: '198.51.100.0/24', prefix: 16, dev: 'tap0' }, /disagree/],
      [{ cmd: 'route-add', network: 42, prefix: 24, dev: 'tap0' }, /"network" must be a string/],
      [{ cmd: 'route-add', network: '198.51.100.0', prefix: 24, gateway: 'gw' }, /"gateway" "gw" is not an IPv4 address/],
      [{ cmd: 'route-del', network: '198.51.100.0', prefix: 24 }, /no route to 198\.51\.100\.0\/24/],
    ];
    for (const [request, message] of failures) {
      const r = await controlRequest(path, request);
      assert.equal(r.ok, false, JSON.stringify(request));
      assert.match(String(r['error']), message);
    }
    const deleted = await controlRequest(path, { cmd: 'route-del', network: '203.0.113.0/24' });
    assert.equal(deleted.ok, true);
    assert.equal(s.stack.route(ip('203.0.113.9'))?.route?.prefixLength, 0);
    assert.equal((await controlRequest(path, { cmd: 'route-del', network: '198.51.100.7', prefix: 32 })).ok, true);
  });

  test('arp: entries with state, MAC, device and seconds to expiry; add and delete', async () => {
    // Learn the host the way the stack does: it asks, the host answers.
    s.stack.neighbors.enqueue(s.iface, ip('192.0.2.1'), new Uint8Array(20));
    s.stack.neighbors.learn(s.iface, ip('192.0.2.1'), HOST_MAC, 0, false);
    s.clock.advance(2500);
    let r = await controlRequest(path, { cmd: 'arp' });
    let entries = r['entries'] as Array<Record<string, unknown>>;
    assert.deepEqual(entries.map((e) => e['ip']), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(entries[0], {
      ip: '192.0.2.1', mac: 'e2:20:76:2d:5d:2d', state: 'reachable', interface: 'tap0', iface: 'net1', expiresIn: 28, own: false, requestsSent: 0, queued: 0,
    });
    assert.equal(entries[1]!['state'], 'static');
    assert.equal(entries[1]!['own'], true);
    assert.equal(entries[1]!['expiresIn'], null);

    assert.equal((await controlRequest(path, { cmd: 'arp-add', ip: '192.0.2.9', mac: '02:00:00:00:00:09' })).ok, true);
    assert.deepEqual(Array.from(s.stack.neighbors.lookup(ip('192.0.2.9'))!), [2, 0, 0, 0, 0, 9]);
    const failures: Array<[Record<string, unknown>, RegExp]> = [
      [{ cmd: 'arp-add', ip: '198.51.100.9', mac: '02:00:00:00:00:09' }, /not on any attached Ethernet network/],
      [{ cmd: 'arp-add', ip: '192.0.2.9', mac: 'ff:ff:ff:ff:ff:ff' }, /group/],
      [{ cmd: 'arp-add', ip: '192.0.2.9', mac: 'nope' }, /not a MAC address/],
      [{ cmd: 'arp-add', ip: '192.0.2.2', mac: '02:00:00:00:00:09' }, /own addresses/],
      [{ cmd: 'arp-add', ip: '192.0.2.9' }, /"mac" is required/],
      [{ cmd: 'arp-del', ip: '192.0.2.2' }, /permanent/],
      [{ cmd: 'arp-del', ip: '192.0.2.99' }, /no ARP entry for 192\.0\.2\.99/],
      [{ cmd: 'arp-del' }, /"ip" is required/],
    ];
    for (const [request, message] of failures) {
      const res = await controlRequest(path, request);
      assert.equal(res.ok, false, JSON.stringify(request));
      assert.match(String(res['error']), message);
    }
    assert.equal((await controlRequest(path, { cmd: 'arp-del', ip: '192.0.2.9' })).ok, true);
    assert.equal((await controlRequest(path, { cmd: 'arp-del', ip: '192.0.2.1' })).ok, true);
    r = await controlRequest(path, { cmd: 'arp' });
    entries = r['entries'] as Array<Record<string, unknown>>;
    assert.deepEqual(entries.map((e) => e['ip']), ['192.0.2.2']);
  });

  test('netstat lists what the transports register; stats has the counters and each device', async () => {
    const endpoint: EndpointInfo = { protocol: 'udp', localAddress: 0, localPort: 7, remoteAddress: 0, remotePort: 0, state: '', recvQueue: 3, sendQueue: 0 };
    s.stack.transports.endpointProviders.push({ endpoints: () => [endpoint] });
    const n = await controlRequest(path, { cmd: 'netstat' });
    assert.deepEqual(n['endpoints'], [{ protocol: 'udp', localAddress: '0.0.0.0', localPort: 7, remoteAddress: '0.0.0.0', remotePort: 0, state: '', recvQueue: 3, sendQueue: 0 }]);
    s.stack.transports.endpointProviders.push({ endpoints: () => { throw new Error('broken transport'); } });
    const broken = await controlRequest(path, { cmd: 'netstat' });
    assert.equal(broken.ok, false);
    assert.match(String(broken['error']), /internal error: broken transport/);
    s.stack.transports.endpointProviders.length = 0;

    s.stack.counters.drop('ipv4: bad-checksum');
    const st = await controlRequest(path, { cmd: 'stats' });
    const counters = st['counters'] as Record<string, unknown>;
    assert.equal(typeof counters['icmpIn'], 'number');
    assert.deepEqual(counters['drops'], { 'ipv4: bad-checksum': 1 });
    const devices = st['devices'] as Array<Record<string, unknown>>;
    assert.deepEqual(devices.map((d) => d['name']), ['lo', 'tap0']);
    assert.equal((devices[1]!['counters'] as Record<string, number>)['framesOut'], s.dev.counters.framesOut);
    assert.equal(st['routes'], 3);
  });

  test('bad requests get one-line errors and the connection keeps serving', async () => {
    const answers = await rawExchange(path, 'not json\n[1,2]\n{"cmd":"bogus"}\n{}\n\n  \n{"cmd":"info"}\n', 5);
    const parsed = answers.map((a) => JSON.parse(a) as ControlResponse);
    assert.match(String(parsed[0]!['error']), /not JSON/);
    assert.match(String(parsed[1]!['error']), /JSON object/);
    assert.match(String(parsed[2]!['error']), /unknown cmd "bogus": one of info, routes/);
    assert.match(String(parsed[3]!['error']), /"cmd" is required/);
    assert.equal(parsed[4]!.ok, true);
    assert.equal(parsed[4]!['pid'], process.pid);
  });

  test('an endless line is refused and the connection closed, the server lives on', async () => {
    const answers = await rawExchange(path, 'x'.repeat(70 * 1024), 1);
    assert.match(answers[0]!, /longer than 65536 bytes/);
    assert.equal((await controlRequest(path, { cmd: 'routes' })).ok, true);
  });

  test('any JSON value as a request gets an answer, never an exception', () => {
    fc.assert(fc.property(fc.anything(), (value) => {
      const r = handleControlRequest(s.stack, value);
      assert.equal(typeof r.ok, 'boolean');
    }));
    fc.assert(fc.property(fc.record({
      cmd: fc.constantFrom('route-add', 'route-del', 'arp-add', 'arp-del', 'routes'),
      network: fc.oneof(fc.ipV4(), fc.string(), fc.constant('203.0.113.0/24')),
      prefix: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.double(), fc.string()),
      gateway: fc.oneof(fc.ipV4(), fc.constant('192.0.2.1'), fc.constant(null)),
      dev: fc.oneof(fc.constant('tap0'), fc.constant('lo'), fc.string()),
      ip: fc.oneof(fc.ipV4(), fc.constant('192.0.2.7')),
      mac: fc.oneof(fc.constant('02:00:00:00:00:01'), fc.string()),
    }, { requiredKeys: ['cmd'] }), (req) => {
      const r = handleControlRequest(s.stack, req);
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok === false) assert.equal(String(r.error).includes('\n'), false);
    }), { numRuns: 300 });
    assert.equal(handleControlLine(s.stack, '{"cmd":"routes"}').ok, true);
  });
});

describe('control socket lifecycle', () => {
  test('a stale socket file is replaced, a live one is left to its server, close removes only our file', async () => {
    const s = makeStack();
    const path = join(dir, 'stale.sock');
    // A socket file nobody listens on any more: what a killed server leaves behind.
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { timeout: 10_000 });
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(statSync(path).isSocket(), 'stale socket left behind');
    writeFileSync(join(dir, 'plain.sock'), 'not a socket');
    const server = await startControlServer(s.stack, path);
    assert.equal((await controlRequest(path, { cmd: 'info' })).ok, true);
    await assert.rejects(startControlServer(s.stack, path), (err: unknown) => err instanceof ControlSocketInUse && /in use by another pstack server/.test(err.message));
    await assert.rejects(startControlServer(s.stack, join(dir, 'plain.sock')), /exists and is not a socket/);
    server.close();
    server.close();
    assert.equal(existsSync(path), false);
    s.stack.close();
  });

  test('the client says in one line that no server is running, or that it does not answer', async () => {
    await assert.rejects(controlRequest(join(dir, 'nobody.sock'), { cmd: 'routes' }), (err: unknown) => {
      assert.ok(err instanceof FatalError);
      assert.equal(err.exitCode, 1);
      assert.match(err.message, /^no pstack server is running with control socket .*nobody\.sock/);
      return true;
    });
    // A server that accepts and never answers (it reads, so it sees the client hang up).
    const mute = createServer((c) => c.resume());
    const mutePath = join(dir, 'mute.sock');
    await new Promise<void>((r) => mute.listen(mutePath, r));
    await assert.rejects(controlRequest(mutePath, { cmd: 'routes' }, 200), /did not answer within 0\.2 s/);
    const rude = createServer((c) => c.resume().end('garbage\n'));
    const rudePath = join(dir, 'rude.sock');
    await new Promise<void>((r) => rude.listen(rudePath, r));
    await assert.rejects(controlRequest(rudePath, { cmd: 'routes' }), /not JSON/);
    await new Promise<void>((r) => mute.close(() => r()));
    await new Promise<void>((r) => rude.close(() => r()));
  });
});
