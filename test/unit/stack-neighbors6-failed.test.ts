// The FAILED hold of the IPv6 neighbor cache seen from a whole stack on a fake clock: after
// three unanswered solicitations for an on-link address, a datagram sent to it within the hold
// draws an Address Unreachable at once and no new solicitation; after the hold, the next one
// solicits again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { parseMac } from '../../src/wire/addr.js';
import { parseIpv6Cidr } from '../../src/wire/addr6.js';
import { Icmpv6Type } from '../../src/wire/icmpv6.js';
import { createSocket } from '../../src/api/dgram.js';

const NS = Icmpv6Type.NeighborSolicitation;

test('a send within the FAILED hold is refused at once (Address Unreachable), without soliciting; after it, resolution starts again', () => {
  const clock = new FakeClock(1000);
  const stack = new Stack({ timers: clock.timers, ipv6: { random: () => 0.5, slaac: false } });
  const lo = new LoopbackDevice({ mode: 'manual' });
  const dev = new CaptureDevice('tap0', parseMac('00:00:5e:00:53:01')!);
  stack.addInterface(lo, { address: 0x7f000001, prefixLength: 8 });
  stack.addInterface(dev, { address: 0xc0000202, prefixLength: 24 });
  stack.ipv6!.addAddress(dev, stack.devices.indexOf(dev), parseIpv6Cidr('2001:db8:1::2/64')!);
  stack.start();
  clock.advance(5000); // DAD
  dev.take();
  const solicitations = () => dev.take().filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === NS).length;
  const sock = createSocket(stack, 'udp6');
  const send = () => sock.send(Buffer.from('x'), 9, '2001:db8:1::99');
  const unreachable = () => stack.counters.icmp6ErrorsOut;
  send();
  assert.equal(solicitations(), 1);
  clock.advance(3000);
  lo.flush();
  assert.equal(solicitations(), 2, 'three in all');
  assert.equal(unreachable(), 1, 'the queued datagram: Address Unreachable');
  assert.equal(stack.ipv6!.neighbors.get([...stack.ipv6!.neighbors.all()][0]!.ip)!.state, 'failed');
  // Within the hold: refused at once, nothing solicited.
  send();
  clock.advance(1000);
  send();
  lo.flush();
  assert.equal(solicitations(), 0);
  assert.equal(unreachable(), 3);
  assert.equal(stack.counters.drops.get('ndp: failed-hold'), 2);
  // The hold (3 s) ends: the next datagram solicits again.
  clock.advance(2000);
  send();
  assert.equal(solicitations(), 1);
  assert.equal(unreachable(), 3);
  sock.close();
  stack.close();
});
