// IPv6 input against the hostile packets the packet battery (test/battery/battery6.py) sends,
// where pstack's answer is an RFC's and Linux's: a first fragment without its whole TCP header
// (RFC 7112: Parameter Problem code 3), a fragment reaching past 65535 bytes (RFC 8200 4.5:
// Parameter Problem at its Fragment Offset, the rest of the datagram kept), and a Packet Too
// Big below 1280 (RFC 8201 4: discarded, the path MTU untouched).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { createSocket } from '../../src/api/dgram.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseMac } from '../../src/wire/addr.js';
import { parseIpv6, ipv6ToString, parseIpv6Cidr } from '../../src/wire/addr6.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from '../../src/wire/ipv6.js';
import { emitFragmentHeader, FRAGMENT_HEADER_LENGTH } from '../../src/wire/ipv6-ext.js';
import { internetChecksum, pseudoHeaderSum6 } from '../../src/wire/checksum.js';
import { Icmpv6Type } from '../../src/wire/icmpv6.js';
import { intern6 } from '../../src/stack/ip-address.js';

const MAC = parseMac('00:00:5e:00:53:01')!;
const PEER_MAC = parseMac('02:00:00:00:00:03')!;
const US = '2001:db8::2';
const PEER = '2001:db8::3';
const TCP = 6;
const UDP = 17;
const ICMPV6 = 58;

function setup() {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers, ipv6: { random: () => 0.5 } });
  const dev = new CaptureDevice('tap0', MAC, 1500);
  stack.addInterface(dev, { address: 0xc0000202, prefixLength: 24 });
  const v6 = stack.ipv6!;
  v6.addAddress(dev, stack.devices.indexOf(dev), parseIpv6Cidr(`${US}/64`)!);
  stack.start();
  clock.advance(5000); // DAD
  v6.neighbors.heardSolicitation(v6.interfaceOf(dev)!, intern6(parseIpv6(PEER)!), PEER_MAC, 0);
  dev.take();
  return { clock, stack, dev };
}

/** A frame from PEER to US whose IPv6 payload is `payload` behind next header `nh`. */
function frame(nh: number, payload: Uint8Array, src = PEER): Uint8Array {
  const f = new Uint8Array(14 + IPV6_HEADER_LENGTH + payload.length);
  emitEthernet(f, 0, MAC, PEER_MAC, EtherType.IPv6);
  emitIpv6Header(f, 14, parseIpv6(src)!, 0, parseIpv6(US)!, 0, nh, payload.length, 64);
  f.set(payload, 14 + IPV6_HEADER_LENGTH);
  return f;
}

/** A fragment of `upper` (protocol `nh`) at `offset` with `data` bytes. */
function fragment(nh: number, data: Uint8Array, offset: number, more: boolean, id: number): Uint8Array {
  const p = new Uint8Array(FRAGMENT_HEADER_LENGTH + data.length);
  emitFragmentHeader(p, 0, nh, offset, more, id);
  p.set(data, FRAGMENT_HEADER_LENGTH);
  return frame(44, p);
}

function withChecksum(src: string, dst: string, nh: number, msg: Uint8Array, at: number): Uint8Array {
  const pseudo = pseudoHeaderSum6(parseIpv6(src)!, 0, parseIpv6(dst)!, 0, nh, msg.length);
  const c = internetChecksum(msg, 0, msg.length, pseudo);
  msg[at] = c >>> 8;
  msg[at + 1] = c & 0xff;
  return msg;
}

function tcpSyn(sport: number, dport: number, options: number[] = []): Uint8Array {
  const t = new Uint8Array(20 + options.length);
  t[0] = sport >>> 8; t[1] = sport & 0xff; t[2] = dport >>> 8; t[3] = dport & 0xff;
  t[12] = ((20 + options.length) / 4) << 4; t[13] = 0x02; t[14] = 0x20;
  t.set(options, 20);
  return withChecksum(PEER, US, TCP, t, 16);
}

interface Seen { type: number; code: number; rest: number; nh: number; dst: string }

/** What the stack sent: ICMPv6 errors (type < 128) and the upper protocol of everything else. */
function sent(frames: Uint8Array[]): Seen[] {
  return frames.filter((f) => ((f[12]! << 8) | f[13]!) === EtherType.IPv6).map((f) => {
    const t = 14 + IPV6_HEADER_LENGTH;
    return {
      nh: f[14 + 6]!, dst: ipv6ToString(f, 14 + 24), type: f[t]!, code: f[t + 1]!,
      rest: ((f[t + 4]! << 24) | (f[t + 5]! << 16) | (f[t + 6]! << 8) | f[t + 7]!) >>> 0,
    };
  }).filter((s) => s.nh !== ICMPV6 || s.type < 128 || s.type === 129);
}

test('a first fragment with 8 of the TCP header\'s 20 bytes: Parameter Problem code 3, pointer 0; no RST follows', () => {
  const s = setup();
  const syn = tcpSyn(40000, 12346);
  s.dev.inject(fragment(TCP, syn.subarray(0, 8), 0, true, 7), fragment(TCP, syn.subarray(8), 8, false, 7));
  const out = sent(s.dev.take());
  assert.deepEqual(out.map((o) => [o.nh, o.type, o.code, o.rest, o.dst]), [[ICMPV6, Icmpv6Type.ParameterProblem, 3, 0, PEER]]);
  assert.equal(s.stack.counters.drops.get('ipv6: incomplete-chain'), 1);
  // The whole header in the first fragment (24 of a 32-byte header): reassembled, and the
  // closed port answers RST.
  const long = tcpSyn(40001, 12346, [2, 4, 5, 0xb4, 1, 1, 1, 1, 1, 1, 1, 1]);
  s.dev.inject(fragment(TCP, long.subarray(0, 24), 0, true, 8), fragment(TCP, long.subarray(24), 24, false, 8));
  assert.deepEqual(sent(s.dev.take()).map((o) => o.nh), [TCP]);
});

test('a fragment reaching past 65535 bytes: Parameter Problem code 0 at its Fragment Offset; the datagram stays and times out', () => {
  const s = setup();
  const echo = new Uint8Array(88);
  echo[0] = Icmpv6Type.EchoRequest;
  withChecksum(PEER, US, ICMPV6, echo, 2);
  s.dev.inject(fragment(ICMPV6, echo.subarray(0, 80), 0, true, 9));
  assert.deepEqual(sent(s.dev.take()), []);
  s.dev.inject(fragment(ICMPV6, new Uint8Array(200), 65528 - 80, false, 9));
  const out = sent(s.dev.take());
  assert.deepEqual(out.map((o) => [o.type, o.code, o.rest]), [[Icmpv6Type.ParameterProblem, 0, IPV6_HEADER_LENGTH + 2]]);
  assert.equal(s.stack.counters.drops.get('ipv6: fragment-past-65535'), 1);
  s.clock.advance(59_000);
  assert.deepEqual(sent(s.dev.take()), []);
  // (the peer solicited us again meanwhile: its entry is fresh when the error goes out)
  const v6 = s.stack.ipv6!;
  v6.neighbors.heardSolicitation(v6.interfaceOf(s.dev)!, intern6(parseIpv6(PEER)!), PEER_MAC, 0);
  s.clock.advance(2_000);
  assert.deepEqual(sent(s.dev.take()).map((o) => [o.type, o.code]), [[Icmpv6Type.TimeExceeded, 1]]);
});

test('Packet Too Big below 1280 about a UDP socket\'s datagram is discarded; 1300 lowers the path MTU', () => {
  const s = setup();
  const sock = createSocket(s.stack, { type: 'udp6', ipv6Only: true });
  sock.bind(7, US);
  const v6 = s.stack.ipv6!;
  const ptb = (mtu: number) => {
    // The quoted datagram: US:7 -> PEER:5000, 1400 bytes of UDP.
    const quoted = new Uint8Array(IPV6_HEADER_LENGTH + 1192);
    emitIpv6Header(quoted, 0, parseIpv6(US)!, 0, parseIpv6(PEER)!, 0, UDP, 1408, 64);
    quoted.set([0, 7, 0x13, 0x88, 1408 >>> 8, 1408 & 0xff, 0, 0], IPV6_HEADER_LENGTH);
    const m = new Uint8Array(8 + quoted.length);
    m[0] = Icmpv6Type.PacketTooBig;
    m.set([mtu >>> 24, (mtu >>> 16) & 0xff, (mtu >>> 8) & 0xff, mtu & 0xff], 4);
    m.set(quoted, 8);
    return frame(ICMPV6, withChecksum(PEER, US, ICMPV6, m, 2));
  };
  const peer = intern6(parseIpv6(PEER)!);
  for (const mtu of [600, 1279]) {
    s.dev.inject(ptb(mtu));
    assert.equal(v6.pathMtuCache.entry(peer), undefined, `MTU ${mtu} ignored`);
  }
  assert.equal(s.stack.counters.drops.get('icmp6: packet-too-big-below-1280'), 2);
  s.dev.inject(ptb(1300));
  assert.equal(v6.pathMtuCache.entry(peer)?.mtu, 1300);
  sock.close();
});
