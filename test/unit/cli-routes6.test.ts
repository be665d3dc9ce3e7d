// `pstack route -6` and the control socket's routes6 / route6-add / route6-del on a stack with
// two IPv6 interfaces: the listing, adds and deletes that change forwarding, and the reasons
// a request is refused; the CLI's parsing of IPv6 networks and gateways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseMac } from '../../src/wire/addr.js';
import { parseIpv6, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { intern6 } from '../../src/stack/ip-address.js';
import { handleControlRequest } from '../../src/cli/control.js';
import { parseRouteWords, formatRoute6Table } from '../../src/cli/inspect.js';
import type { Route6Json } from '../../src/cli/control-routes6.js';
import { UsageError } from '../../src/cli/errors.js';

function setup() {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, ipv6: true });
  const a = new CaptureDevice('tapa', parseMac('00:00:5e:00:53:01')!);
  const b = new CaptureDevice('tapb', parseMac('00:00:5e:00:53:02')!);
  stack.addInterface(a, { address: 0xc0000202, prefixLength: 24 });
  stack.addInterface(b, { address: 0xc6336402, prefixLength: 24 });
  stack.ipv6!.addAddress(a, stack.devices.indexOf(a), parseIpv6Cidr('2001:db8:1::2/64')!);
  stack.ipv6!.addAddress(b, stack.devices.indexOf(b), parseIpv6Cidr('2001:db8:2::2/64')!);
  stack.start();
  clock.advance(5000);
  return { stack, a, b };
}

const routes = (stack: Stack) => handleControlRequest(stack, { cmd: 'routes6' })['routes'] as Route6Json[];
const lookup = (stack: Stack, dst: string) => stack.ipv6!.routes.lookup(intern6(parseIpv6(dst)!));

test('routes6 lists the interface routes; route6-add and route6-del change the table forwarding uses', () => {
  const { stack } = setup();
  assert.deepEqual(routes(stack).map((r) => [r.destination, r.gateway, r.interface, r.flags, r.origin]).sort(), [
    ['2001:db8:1::/64', null, 'tapa', 'U', 'interface'],
    ['2001:db8:2::/64', null, 'tapb', 'U', 'interface'],
    ['fe80::/64', null, 'tapa', 'U', 'interface'],
    ['fe80::/64', null, 'tapb', 'U', 'interface'],
  ]);
  const added = handleControlRequest(stack, { cmd: 'route6-add', network: '2001:db8:3::/64', gateway: '2001:db8:2::1' });
  assert.equal(added.ok, true, JSON.stringify(added));
  assert.deepEqual(added['route'], {
    destination: '2001:db8:3::/64', prefixLength: 64, gateway: '2001:db8:2::1', interface: 'tapb', iface: 'net1', origin: 'static', flags: 'UG',
  });
  assert.equal(lookup(stack, '2001:db8:3::9')?.gateway?.toString(), '2001:db8:2::1');
  const def = handleControlRequest(stack, { cmd: 'route6-add', network: '::/0', gateway: 'fe80::1', dev: 'tapa' });
  assert.equal(def.ok, true, JSON.stringify(def));
  assert.equal(lookup(stack, '2001:db8:99::1')?.iface.device.name, 'tapa');
  const host = handleControlRequest(stack, { cmd: 'route6-add', network: '2001:db8:4::1/128', dev: 'tapb' });
  assert.equal((host['route'] as Route6Json).flags, 'UH');
  assert.equal(handleControlRequest(stack, { cmd: 'route6-del', network: '2001:db8:3::/64' }).ok, true);
  assert.equal(lookup(stack, '2001:db8:3::9')?.iface.device.name, 'tapa', 'now by the default route');
  assert.equal(handleControlRequest(stack, { cmd: 'route6-del', network: 'default' }).ok, true);
  assert.equal(lookup(stack, '2001:db8:3::9'), null);
});

test('route6-add and route6-del say why they cannot', () => {
  const { stack } = setup();
  const failures: Array<[Record<string, unknown>, RegExp]> = [
    [{ cmd: 'route6-add', network: '2001:db8:1::/64', dev: 'tapa' }, /exists already/],
    [{ cmd: 'route6-add', network: '2001:db8:3::1/64', dev: 'tapa' }, /host bits set; did you mean 2001:db8:3::\/64/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64', gateway: '2001:db8:9::1' }, /not on any attached network/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64', gateway: 'fe80::1' }, /link-local gateway needs "dev"/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64', gateway: '2001:db8:1::2' }, /pstack's own addresses/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64', gateway: 'ff02::1', dev: 'tapa' }, /multicast/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64' }, /give a "gateway"/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64', dev: 'eth9' }, /no IPv6 interface named "eth9"/],
    [{ cmd: 'route6-add', network: '192.0.2.0/24', dev: 'tapa' }, /not an IPv6 network/],
    [{ cmd: 'route6-add', network: 42, dev: 'tapa' }, /"network" is required/],
    [{ cmd: 'route6-add', network: '2001:db8:3::/64', gateway: 'gw' }, /"gateway" "gw" is not an IPv6 address/],
    [{ cmd: 'route6-del', network: '2001:db8:3::/64' }, /no route to 2001:db8:3::\/64/],
  ];
  for (const [request, message] of failures) {
    const r = handleControlRequest(stack, request);
    assert.equal(r.ok, false, JSON.stringify(request));
    assert.match(String(r['error']), message, JSON.stringify(request));
  }
  assert.equal(routes(stack).length, 4, 'nothing changed');
  const v4only = new Stack({ timers: new FakeClock().timers });
  assert.match(String(handleControlRequest(v4only, { cmd: 'route6-add', network: '::/0', dev: 'x' })['error']), /runs no IPv6/);
  assert.deepEqual(handleControlRequest(v4only, { cmd: 'routes6' })['routes'], []);
});

test('pstack route parses IPv6 networks and gateways; -6 with "default" means ::/0', () => {
  assert.deepEqual(parseRouteWords(['add', '2001:db8:3::/64', 'via', '2001:db8:2::1']),
    { action: 'add', network: '2001:db8:3::', prefix: 64, v6: true, gateway: '2001:db8:2::1' });
  assert.deepEqual(parseRouteWords(['add', 'default', 'via', 'fe80::1', 'dev', 'tapa'], true),
    { action: 'add', network: '::', prefix: 0, v6: true, gateway: 'fe80::1', dev: 'tapa' });
  assert.deepEqual(parseRouteWords(['del', '2001:db8:3::/64']), { action: 'del', network: '2001:db8:3::', prefix: 64, v6: true });
  assert.deepEqual(parseRouteWords(['add', '203.0.113.0/24', 'via', '192.0.2.1']), { action: 'add', network: '203.0.113.0', prefix: 24, gateway: '192.0.2.1' });
  assert.throws(() => parseRouteWords(['add', '2001:db8::/129', 'dev', 'tapa']), UsageError);
  assert.throws(() => parseRouteWords(['add', '2001:db8:3::/64', 'via', '192.0.2.1']), /expected an IPv6 address/);
  assert.throws(() => parseRouteWords(['add', 'default', 'via', '192.0.2.1'], true), /expected an IPv6 address/);
});

test('route -6 prints one line per route with next hop, flags, device and origin', () => {
  const { stack } = setup();
  handleControlRequest(stack, { cmd: 'route6-add', network: '2001:db8:3::/64', gateway: '2001:db8:2::1' });
  const lines = formatRoute6Table(routes(stack)).trimEnd().split('\n');
  assert.equal(lines[0], 'pstack IPv6 routing table');
  assert.match(lines[1]!, /^Destination\s+Next Hop\s+Flag\s+If\s+Origin$/);
  assert.equal(lines.length, 2 + 5);
  assert.ok(lines.some((l) => /^2001:db8:1::\/64\s+::\s+U\s+tapa\s+interface$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^2001:db8:3::\/64\s+2001:db8:2::1\s+UG\s+tapb\s+static$/.test(l)), lines.join('\n'));
});
