// RFC 5227 address conflict detection and taking an address away, between two stacks on an
// in-memory wire with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePair, ADDR_B } from '../helpers/two-stacks.js';
import { parseIpv4 } from '../../src/wire/addr.js';

test('an ARP probe for an address another host has reports that host; a free one resolves null', async () => {
  const p = makePair({ fake: true });
  const device = p.a.devices[0]!;
  const taken = p.a.probeAddress(device, ADDR_B, 3, 1000);
  p.run(5000);
  assert.equal(await taken, '00:00:5e:00:53:0b');
  const free = p.a.probeAddress(device, parseIpv4('192.0.2.30')!, 3, 1000);
  let settled = false;
  void free.then(() => (settled = true));
  p.run(2500);
  await Promise.resolve();
  assert.equal(settled, false, 'still probing: 3 probes 1 s apart, then 1 s of waiting');
  p.run(2000);
  assert.equal(await free, null);
  // One probe before the owner answered, then three for the free address.
  assert.equal(p.a.counters.arpOut, 4);
  p.close();
});

test('another host probing for the same address while we probe is a conflict too', async () => {
  const p = makePair({ fake: true });
  const wanted = parseIpv4('192.0.2.40')!;
  const a = p.a.probeAddress(p.a.devices[0]!, wanted, 3, 1000);
  const b = p.b.probeAddress(p.b.devices[0]!, wanted, 3, 1000);
  p.run(5000);
  assert.equal(await a, '00:00:5e:00:53:0b');
  assert.equal(await b, '00:00:5e:00:53:0a');
  p.close();
});

test('removing an interface takes its routes and neighbours with it', () => {
  const p = makePair({ fake: true });
  const iface = p.a.interfaces.find((i) => !i.isLoopback)!;
  assert.ok(p.a.route(ADDR_B) !== null);
  p.a.removeInterface(iface);
  assert.equal(p.a.route(ADDR_B), null);
  assert.equal(p.a.interfaces.includes(iface), false);
  assert.equal([...p.a.neighbors.all()].some((e) => e.iface === iface), false);
  p.close();
});
