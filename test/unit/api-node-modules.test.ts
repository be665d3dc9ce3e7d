// stack.net / stack.dgram / stack.dns: Node's module shapes bound to one stack, with names
// resolved by the stack's resolver (here from its hosts table), between two stacks on an
// in-memory wire; and the environment the preload reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Stack } from '../../src/api/stack.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { ipv6ToString } from '../../src/wire/addr6.js';
import { configFromEnv, EnvConfigError } from '../../src/api/env-config.js';

function pair() {
  const wire = new MemoryWire();
  const mk = (mac: string, addr: string, hosts?: Record<string, string>) => {
    const stack = new Stack({ dns: { hosts } });
    stack.addInterface(wire.createDevice(mac, parseMac(mac)!), { address: parseIpv4(addr)!, prefixLength: 24 });
    stack.start();
    return stack;
  };
  const a = mk('00:00:5e:00:53:0a', '192.0.2.1', { 'server.test': '192.0.2.2' });
  const b = mk('00:00:5e:00:53:0b', '192.0.2.2');
  return { a, b, close: () => { a.close(); b.close(); wire.close(); } };
}

test('stack.net: new Socket() and Server() without the stack, a host name through the resolver with a lookup event', async () => {
  const p = pair();
  const { net } = p.b;
  const server = net.Server((s) => s.end('hi from b'));
  assert.ok(server instanceof net.Server);
  server.listen(7000);
  await once(server, 'listening');
  const socket = new p.a.net.Socket();
  const lookups: unknown[][] = [];
  socket.on('lookup', (...args) => lookups.push(args));
  socket.connect(7000, 'server.test');
  let got = '';
  socket.on('data', (d) => (got += d));
  await once(socket, 'close');
  assert.equal(got, 'hi from b');
  assert.deepEqual(lookups, [[null, '192.0.2.2', 4, 'server.test']]);
  const failed = p.a.net.connect({ port: 7000, host: 'nowhere.test' });
  const [err] = await once(failed, 'error');
  assert.equal((err as { code: string }).code, 'ECONNREFUSED', 'no DNS server on pstack loopback: the lookup is refused');
  server.close();
  p.close();
});

test('stack.dgram and stack.dns have Node\'s shapes', async () => {
  const p = pair();
  const u = p.b.dgram.createSocket('udp4');
  assert.ok(u instanceof p.b.dgram.Socket);
  assert.throws(() => p.b.dgram.createSocket('udp6' as 'udp4'), /Bad socket type/);
  u.close();
  const dns = p.a.dns as Record<string, (...a: unknown[]) => unknown> & { promises: Record<string, (...a: unknown[]) => Promise<unknown>> };
  assert.deepEqual(await dns.promises['lookup']!('server.test'), { address: '192.0.2.2', family: 4 });
  const viaCallback = await new Promise((resolve, reject) => dns['lookup']!('server.test', (err: Error | null, address: string, family: number) => (err ? reject(err) : resolve([address, family]))));
  assert.deepEqual(viaCallback, ['192.0.2.2', 4]);
  assert.equal(typeof dns['NOTFOUND'], 'string', 'the error code constants are node:dns\'s');
  const resolver = new (dns['Resolver'] as unknown as new () => { getServers(): string[]; setServers(s: string[]): void })();
  resolver.setServers(['192.0.2.53']);
  assert.deepEqual(resolver.getServers(), ['192.0.2.53']);
  p.close();
});

test('the preload\'s environment: defaults, every variable, and one clear line for each mistake', () => {
  const d = configFromEnv({});
  assert.equal(d.tap, 'tap0');
  assert.equal(d.addr, 'dhcp');
  assert.equal(d.gateway, null);
  assert.equal(d.dns, undefined);
  assert.equal(d.warmUp, false);
  assert.equal(d.ipv6, true, 'IPv6 (link-local and SLAAC) on by default');
  assert.equal(d.slaac, true);
  assert.deepEqual(d.addrs6, []);
  assert.equal(configFromEnv({ PSTACK_IPV6: 'off' }).ipv6, false);
  assert.equal(configFromEnv({ PSTACK_SLAAC: 'off' }).slaac, false);
  const six = configFromEnv({ PSTACK_ADDR6: '2001:db8::2/64, 2001:db8:1::9/48' }).addrs6;
  assert.deepEqual(six.map((c) => [ipv6ToString(c.address), c.prefixLength]), [['2001:db8::2', 64], ['2001:db8:1::9', 48]]);
  assert.deepEqual(configFromEnv({ PSTACK_WARMUP: 'on' }).warmUp, {});
  assert.deepEqual(configFromEnv({ PSTACK_WARMUP: '500' }).warmUp, { budgetMs: 500 });
  const c = configFromEnv({ PSTACK_TAP: 'tap7', PSTACK_ADDR: '192.0.2.9/24', PSTACK_GATEWAY: '192.0.2.1', PSTACK_DNS: '192.0.2.1, 192.0.2.53:5353', PSTACK_MAC: '00:00:5e:00:53:09' });
  assert.deepEqual(c.addr, { address: parseIpv4('192.0.2.9')!, prefixLength: 24 });
  assert.equal(c.gateway, parseIpv4('192.0.2.1'));
  assert.deepEqual(c.dns, ['192.0.2.1', '192.0.2.53:5353']);
  assert.deepEqual(configFromEnv({ PSTACK_DNS: '2001:db8::53,[2001:db8::54]:5353' }).dns, ['2001:db8::53', '[2001:db8::54]:5353']);
  for (const [env, message] of [
    [{ PSTACK_TAP: 'a/b' }, /invalid PSTACK_TAP/],
    [{ PSTACK_ADDR: '192.0.2.9' }, /invalid PSTACK_ADDR "192\.0\.2\.9"/],
    [{ PSTACK_GATEWAY: 'router' }, /invalid PSTACK_GATEWAY/],
    [{ PSTACK_DNS: 'ns.test' }, /invalid PSTACK_DNS/],
    [{ PSTACK_MAC: 'nope' }, /invalid PSTACK_MAC/],
    [{ PSTACK_WARMUP: 'fast' }, /invalid PSTACK_WARMUP/],
    [{ PSTACK_WARMUP: '0' }, /invalid PSTACK_WARMUP/],
    [{ PSTACK_IPV6: 'yes' }, /invalid PSTACK_IPV6 "yes": expected "on" or "off"/],
    [{ PSTACK_SLAAC: '1' }, /invalid PSTACK_SLAAC/],
    [{ PSTACK_ADDR6: '2001:db8::2' }, /invalid PSTACK_ADDR6 "2001:db8::2": "2001:db8::2" is not an IPv6 address with a prefix length/],
    [{ PSTACK_ADDR6: '2001:db8::2/64,192.0.2.9/24' }, /"192\.0\.2\.9\/24" is not an IPv6 address/],
    [{ PSTACK_ADDR6: '2001:db8::2/0' }, /invalid PSTACK_ADDR6/],
    [{ PSTACK_ADDR6: '2001:db8::2/64', PSTACK_IPV6: 'off' }, /PSTACK_ADDR6 is set but PSTACK_IPV6 is "off"/],
  ] as const) {
    assert.throws(() => configFromEnv(env), (err: unknown) => err instanceof EnvConfigError && message.test(err.message) && !err.message.includes('\n'));
  }
});
