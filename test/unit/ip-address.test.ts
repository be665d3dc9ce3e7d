// Family-neutral addresses (src/stack/ip-address.ts) and the dual-stack binding rules the TCP
// and UDP tables share (src/transport/wildcard.ts): interning makes IPv6 equality `===`,
// v4-mapped text parses to the IPv4 number, and `::` takes IPv4 unless it is v6-only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  intern6, IN6ADDR_ANY, IN6ADDR_LOOPBACK, ipAddressToString, isAnyAddress, isIpv4, isUnicast6, isLoopback6,
  parseIpAddress, type Ipv6Addr,
} from '../../src/stack/ip-address.js';
import { bindingTakes, bindingsOverlap } from '../../src/transport/wildcard.js';
import { parseIpv4 } from '../../src/wire/addr.js';
import { parseIpv6 } from '../../src/wire/addr6.js';

function v6(text: string): Ipv6Addr {
  const p = parseIpAddress(text);
  assert.ok(p !== null && typeof p.address !== 'number', text);
  return p.address as Ipv6Addr;
}
const v4 = (text: string): number => parseIpv4(text)!;

test('intern6: the same 16 bytes give the same object, wherever they sit in a buffer', () => {
  const bytes = parseIpv6('2001:db8::2')!;
  const frame = new Uint8Array(64);
  frame.set(bytes, 24);
  const a = intern6(bytes);
  const b = intern6(frame, 24);
  assert.equal(a, b);
  assert.equal(a.hash, b.hash);
  assert.notEqual(intern6(parseIpv6('2001:db8::3')!), a);
  // The interned copy does not alias the caller's buffer.
  frame[39] = 9;
  assert.equal(a.toString(), '2001:db8::2');
});

test('intern6: many short-lived addresses do not break lookups of held ones', () => {
  const held = intern6(parseIpv6('2001:db8::beef')!);
  const buf = parseIpv6('2001:db8:1::')!;
  for (let i = 0; i < 10_000; i++) {
    buf[14] = i >> 8;
    buf[15] = i & 0xff;
    intern6(buf);
  }
  assert.equal(intern6(parseIpv6('2001:db8::beef')!), held);
});

test('parseIpAddress: IPv4, IPv6 with a zone, v4-mapped as the IPv4 number, junk', () => {
  assert.deepEqual(parseIpAddress('192.0.2.7'), { address: v4('192.0.2.7'), zone: '', mapped: false });
  const ll = parseIpAddress('fe80::1%tap0')!;
  assert.equal(ll.zone, 'tap0');
  assert.equal(typeof ll.address === 'number' ? '' : ll.address.isLinkLocal, true);
  assert.deepEqual(parseIpAddress('::ffff:192.0.2.9'), { address: v4('192.0.2.9'), zone: '', mapped: true });
  assert.equal(parseIpAddress('2001:db8::1::2'), null);
  assert.equal(parseIpAddress('192.0.2'), null);
  assert.equal(parseIpAddress(''), null);
});

test('text forms and classes', () => {
  assert.equal(ipAddressToString(v4('198.51.100.4')), '198.51.100.4');
  assert.equal(ipAddressToString(v6('2001:DB8:0:0:0:0:0:1')), '2001:db8::1');
  assert.equal(ipAddressToString(IN6ADDR_ANY), '::');
  assert.equal(v6('::'), IN6ADDR_ANY);
  assert.equal(v6('::1'), IN6ADDR_LOOPBACK);
  assert.ok(isLoopback6(IN6ADDR_LOOPBACK));
  assert.ok(isAnyAddress(0) && isAnyAddress(IN6ADDR_ANY) && !isAnyAddress(IN6ADDR_LOOPBACK));
  assert.ok(isIpv4(0) && !isIpv4(IN6ADDR_ANY));
  assert.ok(isUnicast6(v6('2001:db8::1')));
  assert.ok(!isUnicast6(IN6ADDR_ANY));
  assert.ok(!isUnicast6(v6('ff02::1')));
  assert.ok(v6('ff02::1:ff00:2').isMulticast);
});

test('bindingTakes: 0.0.0.0 takes IPv4 only; :: takes both unless v6-only; a specific address only itself', () => {
  const a4 = v4('192.0.2.2');
  const a6 = v6('2001:db8::2');
  assert.ok(bindingTakes(0, false, a4));
  assert.ok(!bindingTakes(0, false, a6));
  assert.ok(bindingTakes(IN6ADDR_ANY, false, a4));
  assert.ok(bindingTakes(IN6ADDR_ANY, false, a6));
  assert.ok(!bindingTakes(IN6ADDR_ANY, true, a4));
  assert.ok(bindingTakes(IN6ADDR_ANY, true, a6));
  assert.ok(bindingTakes(a6, false, a6));
  assert.ok(!bindingTakes(a6, false, v6('2001:db8::3')));
  assert.ok(!bindingTakes(a4, false, v4('192.0.2.3')));
});

test('bindingsOverlap: Linux bind conflicts without SO_REUSEADDR', () => {
  const a4 = v4('192.0.2.2');
  const a6 = v6('2001:db8::2');
  assert.ok(bindingsOverlap(0, false, a4, false), '0.0.0.0 and 192.0.2.2');
  assert.ok(bindingsOverlap(IN6ADDR_ANY, false, 0, false), ':: (dual) and 0.0.0.0');
  assert.ok(!bindingsOverlap(IN6ADDR_ANY, true, 0, false), ':: v6-only and 0.0.0.0 coexist');
  assert.ok(!bindingsOverlap(IN6ADDR_ANY, true, a4, false), ':: v6-only and 192.0.2.2 coexist');
  assert.ok(bindingsOverlap(IN6ADDR_ANY, true, a6, false), ':: v6-only and 2001:db8::2');
  assert.ok(!bindingsOverlap(0, false, a6, false), '0.0.0.0 and 2001:db8::2 coexist');
  assert.ok(!bindingsOverlap(a4, false, a6, false));
  assert.ok(bindingsOverlap(a6, false, a6, true));
});
