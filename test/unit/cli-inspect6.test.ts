import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddr6, formatNeigh6 } from '../../src/cli/inspect-ipv6.js';

test('pstack addr prints interfaces as ip -6 addr does, with DAD states worded as ip words them', () => {
  const text = formatAddr6([
    { interface: 'lo', iface: 'lo', groups: [], mtu: 65535, mac: '00:00:00:00:00:00', addresses: [{ address: '::1', prefixLength: 128, scope: 'host', state: 'preferred', origin: 'static' }] },
    {
      interface: 'tap0', iface: 'tap0', groups: ['ff02::1'], mtu: 1500, mac: '00:00:5e:00:53:01', addresses: [
        { address: 'fe80::200:5eff:fe00:5301', prefixLength: 64, scope: 'link', state: 'preferred', origin: 'link-local' },
        { address: '2001:db8::2', prefixLength: 64, scope: 'global', state: 'tentative', origin: 'static' },
        { address: '2001:db8::3', prefixLength: 64, scope: 'global', state: 'duplicate', origin: 'static' },
      ],
    },
  ]);
  assert.equal(text, [
    '1: lo: mtu 65535',
    '    inet6 ::1/128 scope host',
    '2: tap0: mtu 1500',
    '    link/ether 00:00:5e:00:53:01',
    '    inet6 fe80::200:5eff:fe00:5301/64 scope link',
    '    inet6 2001:db8::2/64 scope global tentative',
    '    inet6 2001:db8::3/64 scope global tentative dadfailed',
    '',
  ].join('\n'));
});

test('pstack neigh prints the cache as ip -6 neigh does: no lladdr while resolving, router flag, NUD state', () => {
  const text = formatNeigh6([
    { ip: '2001:db8::1', interface: 'tap0', mac: 'b2:7c:93:ae:dd:6c', state: 'reachable', router: false, expiresIn: 20, probes: 0, queued: 0 },
    { ip: 'fe80::1', interface: 'tap0', mac: 'b2:7c:93:ae:dd:6d', state: 'stale', router: true, expiresIn: 0, probes: 0, queued: 0 },
    { ip: '2001:db8::9', interface: 'tap0', mac: null, state: 'incomplete', router: false, expiresIn: 1, probes: 2, queued: 1 },
  ]);
  assert.equal(text,
    '2001:db8::1 dev tap0 lladdr b2:7c:93:ae:dd:6c REACHABLE\n' +
    'fe80::1 dev tap0 lladdr b2:7c:93:ae:dd:6d router STALE\n' +
    '2001:db8::9 dev tap0 INCOMPLETE\n');
});

test('pstack addr: an autoconfigured address as ip shows it (dynamic, lifetimes), with routers and RDNSS servers', () => {
  const text = formatAddr6([
    {
      interface: 'tap0', iface: 'net1', groups: [], mtu: 1500, mac: '00:00:5e:00:53:01', addresses: [
        { address: 'fe80::200:5eff:fe00:5301', prefixLength: 64, scope: 'link', state: 'preferred', origin: 'link-local', validLifetime: null, preferredLifetime: null, deprecated: false },
        { address: '2001:db8:1:0:200:5eff:fe00:5301', prefixLength: 64, scope: 'global', state: 'preferred', origin: 'autoconf', validLifetime: 86397, preferredLifetime: 14397, deprecated: false },
        { address: '2001:db8:2:0:200:5eff:fe00:5301', prefixLength: 64, scope: 'global', state: 'preferred', origin: 'autoconf', validLifetime: 7000, preferredLifetime: 0, deprecated: true },
      ],
      routers: [{ address: 'fe80::1', lifetime: 1797, preference: 'medium', default: true }],
      dnsServers: [{ address: '2001:db8:1::53', lifetime: 597 }, { address: '2001:db8:1::54', lifetime: null }],
    },
  ]);
  assert.equal(text, [
    '1: tap0: mtu 1500',
    '    link/ether 00:00:5e:00:53:01',
    '    inet6 fe80::200:5eff:fe00:5301/64 scope link',
    '    inet6 2001:db8:1:0:200:5eff:fe00:5301/64 scope global dynamic',
    '       valid_lft 86397sec preferred_lft 14397sec',
    '    inet6 2001:db8:2:0:200:5eff:fe00:5301/64 scope global dynamic deprecated',
    '       valid_lft 7000sec preferred_lft 0sec',
    '    router fe80::1 lifetime 1797sec preference medium default',
    '    dns 2001:db8:1::53 lifetime 597sec',
    '    dns 2001:db8:1::54 lifetime forever',
    '',
  ].join('\n'));
});

test('pstack server --ipv6 and --no-slaac: IPv6 with SLAAC by default when it runs; --no-slaac alone is one clear error', async () => {
  const { parseServerArgs } = await import('../../src/cli/server.js');
  const { UsageError } = await import('../../src/cli/errors.js');
  const plain = parseServerArgs([]);
  assert.ok(plain !== 'help');
  assert.equal(plain.ipv6, false);
  const on = parseServerArgs(['--ipv6']);
  assert.ok(on !== 'help' && on.ipv6 && on.slaac);
  const withAddr = parseServerArgs(['--addr', '192.0.2.2/24', '--addr', '2001:db8::2/64', '--no-slaac']);
  assert.ok(withAddr !== 'help' && withAddr.ipv6 && !withAddr.slaac);
  assert.throws(() => parseServerArgs(['--no-slaac']), (e: unknown) => e instanceof UsageError && /--no-slaac/.test(e.message) && !e.message.includes('\n'));
});
