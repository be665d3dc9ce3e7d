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
