import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable } from '../../src/stack/routes.js';
import { Interface } from '../../src/stack/interface.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4 } from '../../src/wire/addr.js';

const ip = (s: string) => parseIpv4(s)!;

test('longest prefix wins, default route catches the rest, removal falls back', () => {
  const dev = new CaptureDevice();
  const a = new Interface(1, dev, ip('192.0.2.2'), 24);
  const b = new Interface(2, dev, ip('198.51.100.1'), 24);
  const t = new RouteTable();
  t.add(0, 0, ip('192.0.2.1'), a, 'default');
  t.add(ip('192.0.2.0'), 24, 0, a, 'interface');
  t.add(ip('198.51.100.0'), 24, 0, b, 'interface');
  t.add(ip('203.0.113.0'), 24, ip('198.51.100.9'), b);
  t.add(ip('203.0.113.128'), 25, ip('192.0.2.77'), a);
  assert.equal(t.lookup(ip('192.0.2.55'))!.iface, a);
  assert.equal(t.lookup(ip('192.0.2.55'))!.nextHop, 0);
  assert.equal(t.lookup(ip('198.51.100.7'))!.iface, b);
  assert.equal(t.lookup(ip('203.0.113.5'))!.nextHop, ip('198.51.100.9'));
  assert.equal(t.lookup(ip('203.0.113.200'))!.nextHop, ip('192.0.2.77'), '/25 beats /24');
  assert.equal(t.lookup(ip('8.8.8.8'))!.prefixLength, 0);
  assert.ok(t.remove(ip('203.0.113.128'), 25));
  assert.equal(t.lookup(ip('203.0.113.200'))!.nextHop, ip('198.51.100.9'));
  assert.ok(t.remove(0, 0));
  assert.equal(t.lookup(ip('8.8.8.8')), null);
  assert.equal(t.remove(0, 0), false);
});

test('adding the same network again replaces the route', () => {
  const dev = new CaptureDevice();
  const a = new Interface(1, dev, ip('192.0.2.2'), 24);
  const t = new RouteTable();
  t.add(ip('203.0.113.0'), 24, ip('192.0.2.9'), a);
  t.add(ip('203.0.113.77'), 24, ip('192.0.2.10'), a);
  assert.equal(t.entries.length, 1);
  assert.equal(t.lookup(ip('203.0.113.1'))!.nextHop, ip('192.0.2.10'));
  assert.equal(t.entries[0]!.network, ip('203.0.113.0'), 'host bits are masked off');
});
