// Router discovery and SLAAC on a fake clock: a Host with IPv6 on a capture device, fed router
// advertisements and redirects as frames (RFC 4861 6.3, 8; RFC 4862 5.5; RFC 8106).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Host } from '../../src/stack/host.js';
import type { Ipv6Options } from '../../src/stack/ipv6.js';
import { intern6 } from '../../src/stack/ip-address.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { parseNdp } from '../../src/wire/ndp.js';
import { pseudoHeaderSum6, fold16, sum16 } from '../../src/wire/checksum.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { raFrame, redirectFrame, ip6, ROUTER_MAC, type RaInit, type FrameOptions } from '../helpers/router-frames.js';

const LINK_LOCAL = 'fe80::200:5eff:fe00:5301';
const SLAAC = '2001:db8:1:0:200:5eff:fe00:5301'; // RFC 5952: one zero field is not shortened
const HOUR = 3_600_000;

function setup(v6: Ipv6Options = {}) {
  const clock = new FakeClock(1_000_000);
  const dev = new CaptureDevice();
  const events: string[] = [];
  const host = new Host({
    timers: clock.timers, ipv6: { random: () => 0.5, ...v6 },
    events: { event: (t) => events.push(t), error: (t) => events.push(t) },
  });
  host.addInterface(dev, { address: parseIpv4('192.0.2.2')!, prefixLength: 24 });
  host.start();
  const layer = host.ipv6!;
  const iface = layer.interfaces.find((i) => !i.isLoopback)!;
  const s = {
    clock, dev, host, layer, iface, rd: layer.routerDiscovery, c: host.counters, events,
    /** Let the link-local address pass DAD (1 s). */
    settle() {
      clock.advance(1000);
    },
    ra(ra: RaInit = {}, o: FrameOptions = {}) {
      dev.inject(raFrame(ra, o));
    },
    addr(text: string) {
      return iface.find(intern6(ip6(text)));
    },
    nextHop(dst: string) {
      const r = layer.route(intern6(ip6(dst)));
      return r === null ? null : r.nextHop.toString();
    },
    drop(reason: string) {
      return host.counters.drops.get(reason) ?? 0;
    },
  };
  return s;
}

/** The Router Solicitations among the frames the device sent, parsed. */
function routerSolicitations(frames: Uint8Array[]) {
  const out = [];
  for (const f of frames) {
    if (f[12] !== 0x86 || f[13] !== 0xdd || f[20] !== 58 || f[54] !== 133) continue;
    const length = (f[18]! << 8) | f[19]!;
    const msg = parseNdp(f, 54, length);
    assert.notEqual(typeof msg, 'string');
    const sum = fold16(sum16(f, 54, length, pseudoHeaderSum6(f, 22, f, 38, 58, length)));
    out.push({ msg, hopLimit: f[21], src: intern6(f, 22).toString(), dst: intern6(f, 38).toString(), checksumOk: sum === 0xffff, dstMac: f.subarray(0, 6) });
  }
  return out;
}

test('router solicitations: after DAD, a random delay, then 4 s apart, three in all, from the link-local address', () => {
  const s = setup();
  s.clock.advance(999);
  assert.equal(routerSolicitations(s.dev.take()).length, 0, 'none while the link-local address is tentative');
  s.clock.advance(1); // DAD done
  s.clock.advance(499);
  assert.equal(routerSolicitations(s.dev.take()).length, 0, 'the first waits its random delay (0.5 x 1 s here)');
  s.clock.advance(1);
  const first = routerSolicitations(s.dev.take());
  assert.equal(first.length, 1);
  const rs = first[0]!;
  assert.equal(rs.src, LINK_LOCAL);
  assert.equal(rs.dst, 'ff02::2');
  assert.equal(rs.hopLimit, 255);
  assert.ok(rs.checksumOk);
  assert.deepEqual([...rs.dstMac], [0x33, 0x33, 0, 0, 0, 2]);
  assert.deepEqual([...(rs.msg as { options: { sourceLinkLayer: Uint8Array } }).options.sourceLinkLayer], [...parseMac('00:00:5e:00:53:01')!]);
  s.clock.advance(3999);
  assert.equal(routerSolicitations(s.dev.take()).length, 0);
  s.clock.advance(1);
  assert.equal(routerSolicitations(s.dev.take()).length, 1, 'the second 4 s later');
  s.clock.advance(4000);
  assert.equal(routerSolicitations(s.dev.take()).length, 1, 'the third');
  s.clock.advance(60_000);
  assert.equal(routerSolicitations(s.dev.take()).length, 0, 'no fourth');
  assert.equal(s.c.ndpRouterSolicitationsOut, 3);
});

test('an advertisement with a router lifetime ends the solicitations; one with lifetime 0 does not', () => {
  const s = setup();
  s.settle();
  s.clock.advance(500);
  assert.equal(routerSolicitations(s.dev.take()).length, 1);
  s.ra({ routerLifetime: 0 });
  s.clock.advance(4000);
  assert.equal(routerSolicitations(s.dev.take()).length, 1, 'lifetime 0 is not a default router: still soliciting');
  s.ra({ routerLifetime: 600 });
  s.clock.advance(30_000);
  assert.equal(routerSolicitations(s.dev.take()).length, 0);
  assert.equal(s.c.ndpRouterSolicitationsOut, 2);
});

test('an advertisement: default router and route, on-link prefix, SLAAC address after DAD, parameters', () => {
  const s = setup();
  s.settle();
  s.ra({
    routerLifetime: 1800, curHopLimit: 42, reachableTime: 20_000, retransTimer: 2_000, mtu: 1400,
    prefixes: [{ prefix: '2001:db8:1::', valid: 86400, preferred: 14400 }],
  });
  assert.equal(s.c.ndpRouterAdvertisementsIn, 1);
  assert.equal(s.c.ndpRouterAdvertisementsAccepted, 1);
  assert.equal(s.rd.routers.length, 1);
  assert.equal(s.rd.routers[0]!.address.toString(), 'fe80::1');
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::1', 'default route through the router');
  assert.equal(s.nextHop('2001:db8:1::9'), '2001:db8:1::9', 'the prefix is on-link');
  const route = s.layer.routes.entries.find((r) => r.prefixLength === 0)!;
  assert.equal(route.origin, 'router-advertisement');
  const n = s.layer.neighbors.get(intern6(ip6('fe80::1')))!;
  assert.equal(n.state, 'stale', "the router's link-layer address, STALE");
  assert.ok(n.isRouter);
  assert.deepEqual([...n.mac], [...ROUTER_MAC]);
  const a = s.addr(SLAAC)!;
  assert.equal(a.origin, 'autoconf');
  assert.equal(a.prefixLength, 64);
  assert.equal(a.state, 'tentative', 'DAD before use');
  assert.equal(s.layer.isLocalAddress(a.address), false);
  s.clock.advance(2000); // DAD, at the advertised RetransTimer
  assert.equal(a.state, 'preferred');
  assert.ok(s.layer.isLocalAddress(a.address));
  assert.equal(s.c.ndpAddressesConfigured, 1);
  assert.equal(s.layer.route(intern6(ip6('2001:db8:99::7')))!.src.toString(), SLAAC, 'the global source for a global destination');
  assert.equal(s.layer.settings.hopLimit, 42);
  assert.equal(s.rd.baseReachableMs, 20_000);
  assert.equal(s.layer.neighbors.config.reachableMs, 20_000, '1.0 x the base with random 0.5');
  assert.equal(s.layer.neighbors.config.retransmitMs, 2_000);
  assert.equal(s.iface.mtu, 1400);
  assert.ok(s.events.includes('ipv6 default router learned'));
});

test('the MTU option is taken only from 1280 up to the link MTU', () => {
  const s = setup();
  s.settle();
  s.ra({ mtu: 1279 });
  assert.equal(s.iface.mtu, 1500);
  s.ra({ mtu: 9000 });
  assert.equal(s.iface.mtu, 1500);
  assert.equal(s.drop('ndp: ra-mtu-out-of-range'), 2);
  s.ra({ mtu: 1280 });
  assert.equal(s.iface.mtu, 1280);
});

test('lifetimes run out on the clock: preferred -> deprecated, valid -> gone; router and prefix expire', () => {
  const s = setup();
  s.settle();
  const t0 = s.clock.now();
  s.ra({ routerLifetime: 300, prefixes: [{ prefix: '2001:db8:1::', valid: 600, preferred: 120 }] });
  s.clock.advance(1000);
  const a = s.addr(SLAAC)!;
  assert.equal(a.state, 'preferred');
  assert.equal(a.validUntil, t0 + 600_000);
  assert.equal(a.preferredUntil, t0 + 120_000);
  s.clock.advance(t0 + 120_000 - 1 - s.clock.now());
  assert.equal(a.deprecated, false);
  s.clock.advance(1);
  assert.equal(a.deprecated, true, 'deprecated when the preferred lifetime ends');
  assert.ok(s.layer.isLocalAddress(a.address), 'still ours');
  assert.equal(s.layer.route(intern6(ip6('2001:db8:1::9')))!.src.toString(), SLAAC, 'used while it is the only one');
  s.clock.advance(t0 + 300_000 - s.clock.now());
  assert.equal(s.rd.routers.length, 0, 'router lifetime over');
  assert.equal(s.nextHop('2001:db8:99::7'), null, 'no default route');
  assert.ok(s.events.includes('ipv6 default router removed'));
  s.clock.advance(t0 + 600_000 - 1 - s.clock.now());
  assert.ok(s.addr(SLAAC));
  assert.equal(s.nextHop('2001:db8:1::9'), '2001:db8:1::9');
  s.clock.advance(1);
  assert.equal(s.addr(SLAAC), undefined, 'valid lifetime over: removed');
  assert.equal(s.nextHop('2001:db8:1::9'), null, 'on-link prefix gone with its valid lifetime');
  assert.equal(s.rd.autoconf.addresses.length, 0);
});

test('the two-hour rule (RFC 4862 5.5.3 e): an advertisement cannot cut a valid lifetime below 2 hours', () => {
  const s = setup();
  s.settle();
  const prefix = (valid: number, preferred: number) => s.ra({ prefixes: [{ prefix: '2001:db8:1::', valid, preferred }] });
  prefix(86400, 3600);
  const a = s.addr(SLAAC)!;
  let now = s.clock.now();
  assert.equal(a.validUntil, now + 86400_000);
  prefix(60, 30);
  assert.equal(a.validUntil, now + 2 * HOUR, 'lowered to two hours, not 60 s');
  assert.equal(a.preferredUntil, now + 30_000, 'the preferred lifetime is taken as it comes');
  prefix(10 * 3600, 60);
  now = s.clock.now();
  assert.equal(a.validUntil, now + 10 * HOUR, 'longer than two hours: taken');
  prefix(3 * 3600, 60);
  assert.equal(a.validUntil, now + 3 * HOUR, 'above two hours: taken even though it shortens');
  s.clock.advance(HOUR + 30 * 60_000); // 1.5 h left
  now = s.clock.now();
  const before = a.validUntil;
  prefix(600, 60);
  assert.equal(a.validUntil, before, 'remaining below two hours: a shorter one is ignored');
  assert.equal(s.drop('ndp: autoconf-valid-lifetime-kept'), 1);
  prefix(2 * 3600 - 1, 60);
  assert.equal(a.validUntil, now + (2 * 3600 - 1) * 1000, 'longer than what remains: taken');
  prefix(0xffffffff, 0xffffffff);
  assert.equal(a.validUntil, Infinity);
  assert.equal(a.preferredUntil, Infinity);
  prefix(0, 0);
  assert.equal(a.validUntil, s.clock.now() + 2 * HOUR, 'valid 0 with infinite remaining: two hours');
  assert.equal(a.deprecated, true, 'preferred 0: deprecated at once');
});

test('prefix rules: not /64, link-local, preferred over valid, A flag clear: no address; L clear: not on-link', () => {
  const s = setup();
  s.settle();
  s.ra({
    prefixes: [
      { prefix: '2001:db8:2::', length: 48, valid: 600, preferred: 600 },
      { prefix: 'fe80::', valid: 600, preferred: 600 },
      { prefix: '2001:db8:3::', valid: 600, preferred: 700 },
      { prefix: '2001:db8:4::', autonomous: false, valid: 600, preferred: 600 },
      { prefix: '2001:db8:5::', onLink: false, valid: 600, preferred: 600 },
    ],
  });
  assert.deepEqual(s.rd.autoconf.addresses.map((a) => a.address.toString()), ['2001:db8:5:0:200:5eff:fe00:5301']);
  assert.equal(s.drop('ndp: autoconf-prefix-not-64'), 1);
  assert.equal(s.drop('ndp: ra-prefix-ignored'), 1);
  assert.equal(s.drop('ndp: autoconf-preferred-over-valid'), 1);
  assert.equal(s.nextHop('2001:db8:4::1'), '2001:db8:4::1', 'L set: on-link');
  assert.equal(s.nextHop('2001:db8:5::1'), 'fe80::1', 'L clear: through the router even with an address there (RFC 5942)');
});

test('router lifetime 0 removes the router and its default route; a configured default route is left alone', () => {
  const s = setup();
  s.settle();
  s.ra({ routerLifetime: 1800 });
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::1');
  s.ra({ routerLifetime: 0 });
  assert.equal(s.rd.routers.length, 0);
  assert.equal(s.nextHop('2001:db8:99::7'), null);
  s.layer.addRoute(new Uint8Array(16), 0, intern6(ip6('fe80::9')), s.dev);
  s.ra({ routerLifetime: 1800 });
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::9', 'the static default route stays');
  s.ra({ routerLifetime: 0 });
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::9');
});

test('the default route follows preference, and moves off a router that stopped answering', () => {
  const s = setup();
  s.settle();
  s.ra({ routerLifetime: 1800 }, { src: 'fe80::1' });
  s.ra({ routerLifetime: 1800, preference: -1 }, { src: 'fe80::2', mac: parseMac('02:00:00:00:00:02')! });
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::1');
  s.ra({ routerLifetime: 1800, preference: 1 }, { src: 'fe80::3', mac: parseMac('02:00:00:00:00:03')! });
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::3', 'high preference wins');
  s.rd.neighborUnreachable(intern6(ip6('fe80::3')));
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::1', 'an unreachable router gives way');
  s.ra({ routerLifetime: 1800, preference: 1 }, { src: 'fe80::3', mac: parseMac('02:00:00:00:00:03')! });
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::3', 'heard from again');
});

test('invalid advertisements are ignored and counted: global source, hop limit 254, bad checksum, zero-length option', () => {
  const s = setup();
  s.settle();
  const ra: RaInit = { routerLifetime: 1800, prefixes: [{ prefix: '2001:db8:1::', valid: 600, preferred: 600 }] };
  s.ra(ra, { src: '2001:db8::1' });
  s.ra(ra, { hopLimit: 254 });
  s.ra(ra, { corrupt: (m) => { m[2] ^= 0xff; } });
  // An option whose length field is 0 (the last option's length byte: the prefix option's).
  s.ra(ra, { corrupt: (m) => { m[16 + 8 + 1] = 0; }, fixChecksum: true });
  s.ra({ ...ra, sourceLinkLayer: parseMac('33:33:00:00:00:01')! });
  assert.equal(s.rd.routers.length, 0);
  assert.equal(s.rd.autoconf.addresses.length, 0);
  assert.equal(s.nextHop('2001:db8:99::7'), null);
  assert.equal(s.drop('ndp: source-not-link-local'), 1);
  assert.equal(s.drop('ndp: hop-limit-not-255'), 1);
  assert.equal(s.drop('icmp6: bad-checksum'), 1);
  assert.equal(s.drop('ndp: zero-length-option'), 1);
  assert.equal(s.drop('ndp: bad-link-layer-address'), 1);
  assert.equal(s.c.ndpRouterAdvertisementsAccepted, 0);
  assert.equal(s.c.ndpRouterAdvertisementsIgnored, 4, 'the bad checksum never reaches NDP (counted by ICMPv6)');
  assert.equal(s.c.ndpRouterAdvertisementsIn, 4);
});

test('a flood of advertisements from many routers with many prefixes stays within the bounds', () => {
  const s = setup();
  s.settle();
  for (let i = 1; i <= 200; i++) {
    const mac = parseMac(`02:00:00:00:${(i >> 8).toString(16)}:${(i & 0xff).toString(16)}`)!;
    s.ra({
      routerLifetime: 9000,
      prefixes: [{ prefix: `2001:db8:${i.toString(16)}::`, valid: 0xffffffff, preferred: 0xffffffff }],
      rdnss: [{ lifetime: 9000, servers: [`2001:db8:ffff::${i.toString(16)}`] }],
    }, { src: `fe80::${i.toString(16)}`, mac });
  }
  const cfg = s.rd.config;
  assert.equal(s.rd.routers.length, cfg.maxRouters);
  assert.equal(s.rd.prefixes.length, cfg.maxPrefixes);
  assert.equal(s.rd.autoconf.addresses.length, cfg.maxAddresses);
  assert.equal(s.rd.dnsServers.length, cfg.maxDnsServers);
  assert.equal(s.drop('ndp: router-list-full'), 200 - cfg.maxRouters);
  assert.equal(s.drop('ndp: prefix-list-full'), 200 - cfg.maxPrefixes);
  assert.equal(s.drop('ndp: autoconf-address-limit'), 200 - cfg.maxAddresses);
  assert.equal(s.drop('ndp: rdnss-list-full'), 200 - cfg.maxDnsServers);
  assert.ok(s.layer.neighbors.size <= s.layer.neighbors.config.maxEntries);
  assert.equal(s.nextHop('2001:db8:99::7'), 'fe80::1', 'the first router keeps the default route');
});

test('RDNSS: servers with their lifetime, refreshed, removed by lifetime 0, expired; the listener hears each change', () => {
  const s = setup();
  s.settle();
  const heard: string[][] = [];
  s.rd.onDnsServers = (servers) => heard.push(servers.map((x) => x.address.toString()));
  s.ra({ rdnss: [{ lifetime: 600, servers: ['2001:db8:1::53', '2001:db8:1::54'] }] });
  assert.deepEqual(s.rd.dnsServers.map((d) => d.address.toString()), ['2001:db8:1::53', '2001:db8:1::54']);
  s.clock.advance(300_000);
  s.ra({ rdnss: [{ lifetime: 600, servers: ['2001:db8:1::53'] }, { lifetime: 0, servers: ['2001:db8:1::54'] }] });
  assert.deepEqual(s.rd.dnsServers.map((d) => d.address.toString()), ['2001:db8:1::53']);
  s.clock.advance(599_999);
  assert.equal(s.rd.dnsServers.length, 1, 'refreshed 300 s in: still there');
  s.clock.advance(1);
  assert.equal(s.rd.dnsServers.length, 0);
  assert.deepEqual(heard, [['2001:db8:1::53', '2001:db8:1::54'], ['2001:db8:1::53'], []]);
  s.ra({ rdnss: [{ lifetime: 600, servers: ['ff02::1'] }] });
  assert.equal(s.drop('ndp: rdnss-bad-address'), 1);
});

test('redirects: accepted only from the first-hop router, hop limit 255, link-local target or the destination itself', () => {
  const s = setup();
  s.settle();
  s.ra({ routerLifetime: 1800 });
  const dst = '2001:db8:99::7';
  s.dev.inject(redirectFrame('fe80::2', dst, { src: 'fe80::5' }));
  assert.equal(s.nextHop(dst), 'fe80::1', 'not from the first hop: ignored');
  assert.equal(s.drop('ndp: redirect-not-from-first-hop'), 1);
  s.dev.inject(redirectFrame('fe80::2', dst, { hopLimit: 64 }));
  assert.equal(s.drop('ndp: hop-limit-not-255'), 1);
  s.dev.inject(redirectFrame('2001:db8::2', dst));
  assert.equal(s.drop('ndp: redirect-target-not-link-local'), 1);
  assert.equal(s.nextHop(dst), 'fe80::1');
  assert.equal(s.c.ndpRedirectsAccepted, 0);
  const mac2 = parseMac('02:00:00:00:00:02')!;
  s.dev.inject(redirectFrame('fe80::2', dst, { targetMac: mac2 }));
  assert.equal(s.nextHop(dst), 'fe80::2', 'a better first hop');
  assert.equal(s.nextHop('2001:db8:99::8'), 'fe80::1', 'only for that destination');
  const n = s.layer.neighbors.get(intern6(ip6('fe80::2')))!;
  assert.deepEqual([...n.mac], [...mac2]);
  assert.equal(n.state, 'stale');
  s.dev.inject(redirectFrame(dst, dst));
  assert.equal(s.nextHop(dst), 'fe80::2', 'now the first hop is fe80::2: the old router is not listened to');
  assert.equal(s.drop('ndp: redirect-not-from-first-hop'), 2);
  s.dev.inject(redirectFrame(dst, dst, { src: 'fe80::2' }));
  assert.equal(s.nextHop(dst), dst, 'the destination is on-link');
  assert.equal(s.c.ndpRedirectsIn, 6);
  assert.equal(s.c.ndpRedirectsAccepted, 2);
  s.clock.advance(s.rd.redirects.config.lifetimeMs);
  assert.equal(s.nextHop(dst), 'fe80::1', 'the redirect ages out');
});

test('slaac off: advertisements ignored (counted), no solicitation; static addresses work as before', () => {
  const s = setup({ slaac: false });
  s.settle();
  s.clock.advance(20_000);
  assert.equal(routerSolicitations(s.dev.take()).length, 0);
  s.ra({ routerLifetime: 1800, prefixes: [{ prefix: '2001:db8:1::', valid: 600, preferred: 600 }] });
  assert.equal(s.rd.routers.length, 0);
  assert.equal(s.addr(SLAAC), undefined);
  assert.equal(s.c.ndpRouterAdvertisementsIgnored, 1);
  assert.equal(s.drop('ndp: ra-ignored'), 1);
});

test('an autoconfigured address next to a configured one on the same prefix: removing one keeps the other route', () => {
  const s = setup();
  s.layer.addAddress(s.dev, 0, { address: ip6('2001:db8:1::2'), prefixLength: 64 });
  s.settle();
  s.ra({ prefixes: [{ prefix: '2001:db8:1::', valid: 60, preferred: 60 }] });
  s.clock.advance(1000);
  assert.equal(s.addr(SLAAC)!.state, 'preferred');
  s.clock.advance(2 * HOUR);
  assert.equal(s.addr(SLAAC), undefined);
  assert.equal(s.nextHop('2001:db8:1::9'), '2001:db8:1::9', "the configured address's prefix route stays");
  assert.equal(s.layer.routes.entries.find((r) => r.prefixLength === 64)!.origin, 'interface');
});
