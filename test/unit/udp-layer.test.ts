// UDP (RFC 768) and the dgram-like sockets on a fake clock and capture devices: bind, send,
// receive, checksums, Port Unreachable, ECONNREFUSED on connected sockets, broadcast rules,
// large datagrams both ways, loopback delivery, and the UDP echo service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { LoopbackDevice } from '../../src/link/loopback.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { parseIpv4, parseMac, ipv4ToString, macToString } from '../../src/wire/addr.js';
import { emitEthernet, EtherType, EthernetFrame } from '../../src/wire/ethernet.js';
import { emitArp } from '../../src/wire/arp.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { IcmpPacket, emitIcmpHeader } from '../../src/wire/icmp.js';
import { UdpDatagram, emitUdp } from '../../src/wire/udp.js';
import { createSocket, type RemoteInfo, type SocketError, type UdpSocket } from '../../src/api/dgram.js';
import { EPHEMERAL_PORT_MIN, EPHEMERAL_PORT_MAX } from '../../src/transport/udp.js';
import { icmpErrnoFor } from '../../src/stack/icmp-errors.js';
import { startServices, chargenPattern } from '../../src/cli/services.js';
import { silentLogger } from '../../src/observe/log.js';

const ip = (s: string) => parseIpv4(s)!;
const OUR_MAC = parseMac('00:00:5e:00:53:01')!;
const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(opts: { mtu?: number } = {}) {
  const clock = new FakeClock();
  const stack = new Stack({ timers: clock.timers });
  const lo = new LoopbackDevice({ mode: 'manual' });
  stack.addInterface(lo, { address: ip('127.0.0.1'), prefixLength: 8 });
  const dev = new CaptureDevice('tap0', OUR_MAC, opts.mtu ?? 1500);
  stack.addInterface(dev, { address: ip('192.0.2.2'), prefixLength: 24 });
  stack.setDefaultGateway(ip('192.0.2.1'));
  stack.start();
  // The host asks for us, so its MAC is learned and our output is not held for ARP.
  dev.inject(arpRequest('192.0.2.1', '192.0.2.2'));
  dev.take();
  return { clock, stack, dev, lo };
}

function arpRequest(sender: string, target: string): Uint8Array {
  const f = new Uint8Array(60);
  emitEthernet(f, 0, parseMac('ff:ff:ff:ff:ff:ff')!, HOST_MAC, EtherType.ARP);
  emitArp(f, 14, { op: 1, senderMac: HOST_MAC, senderIp: ip(sender), targetMac: new Uint8Array(6), targetIp: ip(target) });
  return f;
}

interface UdpFrameOpts {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort: number;
  payload: Uint8Array;
  checksum?: 'good' | 'zero' | 'bad';
  ethDst?: Uint8Array;
}

/** The UDP datagram (header + payload) with a correct checksum unless asked otherwise. */
function udpDatagram(o: UdpFrameOpts): Uint8Array {
  const d = new Uint8Array(8 + o.payload.length);
  d.set(o.payload, 8);
  emitUdp(d, 0, { srcPort: o.srcPort ?? 40000, dstPort: o.dstPort, payloadLength: o.payload.length }, ip(o.src ?? '192.0.2.1'), ip(o.dst ?? '192.0.2.2'));
  if (o.checksum === 'zero') d[6] = d[7] = 0;
  if (o.checksum === 'bad') d[7] ^= 0x55;
  return d;
}

function ipFrame(payload: Uint8Array, o: { src?: string; dst?: string; protocol?: number; id?: number; mf?: boolean; fragOffset?: number; ethDst?: Uint8Array }): Uint8Array {
  const f = new Uint8Array(34 + payload.length);
  emitEthernet(f, 0, o.ethDst ?? OUR_MAC, HOST_MAC, EtherType.IPv4);
  f.set(payload, 34);
  emitIpv4(f, 14, {
    tos: 0, id: o.id ?? 1, dontFragment: false, moreFragments: o.mf ?? false, fragmentOffset: o.fragOffset ?? 0, ttl: 64,
    protocol: o.protocol ?? 17, src: ip(o.src ?? '192.0.2.1'), dst: ip(o.dst ?? '192.0.2.2'), options: new Uint8Array(0), payloadLength: payload.length,
  });
  return f;
}

function udpFrame(o: UdpFrameOpts): Uint8Array {
  return ipFrame(udpDatagram(o), { src: o.src, dst: o.dst, ethDst: o.ethDst });
}

/** Collect 'message' events of a socket. */
function messages(sock: UdpSocket): Array<{ msg: Buffer; rinfo: RemoteInfo }> {
  const got: Array<{ msg: Buffer; rinfo: RemoteInfo }> = [];
  sock.on('message', (msg, rinfo) => got.push({ msg, rinfo }));
  return got;
}

function parseUdpOut(frame: Uint8Array) {
  const ipv = new Ipv4Packet(frame, 14);
  assert.equal(ipv.check(), null);
  assert.ok(ipv.verifyChecksum(), 'IP header checksum');
  const udp = new UdpDatagram(frame, ipv.payloadOffset, ipv.payloadLength);
  assert.equal(udp.check(), null);
  return { ipv, udp };
}

test('bind, receive: the listener gets a copy of the payload and Node-shaped rinfo', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  const got = messages(sock);
  let listening = false;
  sock.bind(5000, () => { listening = true; });
  assert.equal(listening, false, "'listening' is asynchronous, as in Node");
  await tick();
  assert.ok(listening);
  assert.deepEqual(sock.address(), { address: '0.0.0.0', family: 'IPv4', port: 5000 });
  const frame = udpFrame({ dstPort: 5000, srcPort: 41000, payload: Buffer.from('hello') });
  s.dev.inject(frame);
  frame.fill(0); // the receive buffer is reused after the callback: the message must not change
  assert.equal(got.length, 1);
  assert.equal(got[0]!.msg.toString(), 'hello');
  assert.ok(Buffer.isBuffer(got[0]!.msg));
  assert.deepEqual(got[0]!.rinfo, { address: '192.0.2.1', family: 'IPv4', port: 41000, size: 5 });
  assert.equal(s.stack.counters.udpIn, 1);
  assert.equal(s.dev.take().length, 0, 'nothing sent back');
  sock.close();
});

test('send: header, pseudo-header checksum and addresses are right; the callback runs later with the byte count', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  sock.bind(5001);
  const calls: Array<[Error | null, number | undefined]> = [];
  sock.send('ping!', 6000, '192.0.2.1', (err, bytes) => calls.push([err, bytes]));
  assert.equal(calls.length, 0, 'the callback is not called synchronously');
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const eth = new EthernetFrame(out[0]!);
  assert.equal(eth.dstString(), macToString(HOST_MAC));
  const { ipv, udp } = parseUdpOut(out[0]!);
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
  assert.equal(ipv4ToString(ipv.dst), '192.0.2.1');
  assert.equal(ipv.protocol, 17);
  assert.equal(ipv.ttl, 64);
  assert.equal(ipv.dontFragment, false);
  assert.equal(udp.srcPort, 5001);
  assert.equal(udp.dstPort, 6000);
  assert.equal(udp.udpLength, 13);
  assert.notEqual(udp.checksum, 0, 'checksum always generated (RFC 1122 4.1.3.4)');
  assert.ok(udp.verifyChecksum(ipv.src, ipv.dst));
  assert.equal(Buffer.from(udp.payload()).toString(), 'ping!');
  await tick();
  assert.deepEqual(calls, [[null, 5]]);
  // offset/length form, array form and Uint8Array all send one datagram each.
  sock.send(Buffer.from('xxabcxx'), 2, 3, 6000, '192.0.2.1');
  sock.send([Buffer.from('ab'), 'cd', Uint8Array.of(0x65)], 6000, '192.0.2.1');
  const more = s.dev.take().map((f) => Buffer.from(parseUdpOut(f).udp.payload()).toString());
  assert.deepEqual(more, ['abc', 'abcde']);
  assert.equal(s.stack.counters.udpOut, 3);
  sock.close();
});

test('an unbound socket binds to an ephemeral port on first send and emits listening', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  let listening = 0;
  sock.on('listening', () => listening++);
  sock.send('x', 6000, '192.0.2.1');
  const port = sock.address().port;
  assert.ok(port >= EPHEMERAL_PORT_MIN && port <= EPHEMERAL_PORT_MAX, `ephemeral port ${port}`);
  assert.equal(parseUdpOut(s.dev.take()[0]!).udp.srcPort, port);
  await tick();
  assert.equal(listening, 1);
  sock.close();
});

test('checksums: a zero checksum is accepted, a wrong one silently dropped and counted', () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  const got = messages(sock);
  sock.bind(5002);
  s.dev.inject(udpFrame({ dstPort: 5002, payload: Buffer.from('no checksum'), checksum: 'zero' }));
  s.dev.inject(udpFrame({ dstPort: 5002, payload: Buffer.from('damaged'), checksum: 'bad' }));
  assert.deepEqual(got.map((g) => g.msg.toString()), ['no checksum']);
  assert.equal(s.stack.counters.drops.get('udp: bad-checksum'), 1);
  assert.equal(s.dev.take().length, 0, 'no ICMP about a damaged datagram');
  // A UDP length larger than the IP payload is malformed; a shorter one just ignores the rest.
  const long = udpDatagram({ dstPort: 5002, payload: Buffer.from('abc') });
  long[5] = 20;
  s.dev.inject(ipFrame(long, {}));
  assert.equal(s.stack.counters.drops.get('udp: bad-length'), 1);
  s.dev.inject(ipFrame(Uint8Array.of(1, 2, 3), {}));
  assert.equal(s.stack.counters.drops.get('udp: too-short'), 1);
  sock.close();
});

test('a closed port gets Port Unreachable quoting the IP header and 8 bytes; a broadcast gets nothing', () => {
  const s = setup();
  const frame = udpFrame({ dstPort: 9, srcPort: 40001, payload: Buffer.from('nobody listens here') });
  s.dev.inject(frame);
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const ipv = new Ipv4Packet(out[0]!, 14);
  assert.ok(ipv.verifyChecksum());
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
  assert.equal(ipv4ToString(ipv.dst), '192.0.2.1');
  assert.equal(ipv.protocol, 1);
  const icmp = new IcmpPacket(out[0]!, ipv.payloadOffset, ipv.payloadLength);
  assert.ok(icmp.verifyChecksum());
  assert.equal(icmp.type, 3);
  assert.equal(icmp.code, 3);
  assert.equal(icmp.dataLength, 28);
  assert.deepEqual(icmp.data(), frame.subarray(14, 14 + 28), 'the original header and first 8 bytes, byte for byte');
  assert.equal(s.stack.counters.drops.get('udp: no-port'), 1);
  // RFC 1122 3.2.2: never an ICMP error about a broadcast, link-level or IP.
  s.dev.inject(udpFrame({ dst: '192.0.2.255', dstPort: 9, payload: Buffer.from('x'), ethDst: parseMac('ff:ff:ff:ff:ff:ff')! }));
  s.dev.inject(udpFrame({ dst: '255.255.255.255', dstPort: 9, payload: Buffer.from('x'), ethDst: parseMac('ff:ff:ff:ff:ff:ff')! }));
  assert.equal(s.dev.take().length, 0);
});

test('bind conflicts: EADDRINUSE as an error event; distinct addresses share a port; closing frees it', async () => {
  const s = setup();
  const a = createSocket(s.stack, 'udp4');
  a.bind(5003);
  const b = createSocket(s.stack, 'udp4');
  const errors: SocketError[] = [];
  b.on('error', (e) => errors.push(e as SocketError));
  b.bind(5003, '192.0.2.2');
  await tick();
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'EADDRINUSE');
  assert.equal(errors[0]!.syscall, 'bind');
  assert.equal(errors[0]!.message, 'bind EADDRINUSE 192.0.2.2:5003');
  a.close();
  // Now one socket per address on the same port.
  const c = createSocket(s.stack, 'udp4');
  const d = createSocket(s.stack, 'udp4');
  const cGot = messages(c);
  const dGot = messages(d);
  c.bind(5003, '192.0.2.2');
  d.bind(5003, '127.0.0.1');
  await tick();
  assert.equal(errors.length, 1);
  s.dev.inject(udpFrame({ dstPort: 5003, payload: Buffer.from('to .2') }));
  assert.equal(cGot.length, 1);
  assert.equal(dGot.length, 0);
  // An address that is not ours cannot be bound.
  const e = createSocket(s.stack, 'udp4');
  e.on('error', (err) => errors.push(err as SocketError));
  e.bind(5004, '192.0.2.99');
  await tick();
  assert.equal(errors[1]!.code, 'EADDRNOTAVAIL');
  assert.throws(() => c.bind(1), { code: 'ERR_SOCKET_ALREADY_BOUND' });
  assert.throws(() => createSocket(s.stack, 'udp4').bind(70000), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.throws(() => createSocket(s.stack, 'udp7' as 'udp4'), { code: 'ERR_SOCKET_BAD_TYPE' });
  c.close();
  d.close();
  assert.equal(s.stack.udp.boundCount, 0);
});

test('connect: only the peer is heard, address() shows the chosen source, disconnect restores', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  const got = messages(sock);
  sock.bind(5005);
  let connected = false;
  sock.connect(7, '192.0.2.1', () => { connected = true; });
  await tick();
  assert.ok(connected);
  assert.deepEqual(sock.remoteAddress(), { address: '192.0.2.1', family: 'IPv4', port: 7 });
  assert.deepEqual(sock.address(), { address: '192.0.2.2', family: 'IPv4', port: 5005 });
  s.dev.inject(udpFrame({ dstPort: 5005, srcPort: 7, payload: Buffer.from('peer') }));
  s.dev.inject(udpFrame({ dstPort: 5005, srcPort: 8, payload: Buffer.from('stranger') }));
  assert.deepEqual(got.map((g) => g.msg.toString()), ['peer']);
  // Nobody else matched the stranger's datagram: Port Unreachable, as Linux does.
  const icmp = s.dev.take().map((f) => new IcmpPacket(f, 34));
  assert.equal(icmp.length, 1);
  assert.equal(icmp[0]!.code, 3);
  // A connected socket sends without a destination and refuses one.
  sock.send('to peer');
  assert.equal(parseUdpOut(s.dev.take()[0]!).udp.dstPort, 7);
  // As Node's argument shuffle: with a callback the port/address form is caught.
  assert.throws(() => sock.send('x', 9, '192.0.2.1', () => {}), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  assert.throws(() => sock.send('x', 0, 1, 9, '192.0.2.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  assert.throws(() => sock.connect(9, '192.0.2.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
  sock.disconnect();
  assert.throws(() => sock.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
  assert.throws(() => sock.disconnect(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
  assert.deepEqual(sock.address(), { address: '0.0.0.0', family: 'IPv4', port: 5005 });
  s.dev.inject(udpFrame({ dstPort: 5005, srcPort: 8, payload: Buffer.from('anyone') }));
  assert.equal(got.length, 2);
  sock.close();
});

test('a connected socket gets ECONNREFUSED from Port Unreachable; an unconnected one does not', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  sock.connect(9, '192.0.2.1');
  await tick();
  sock.send('anyone?');
  const sent = s.dev.take()[0]!;
  const errors: SocketError[] = [];
  sock.on('error', (e) => errors.push(e as SocketError));
  // The host answers with Port Unreachable quoting our datagram.
  const quote = sent.subarray(14, 14 + 28);
  const icmp = new Uint8Array(8 + quote.length);
  icmp.set(quote, 8);
  emitIcmpHeader(icmp, 0, 3, 3, 0, quote.length);
  s.dev.inject(ipFrame(icmp, { protocol: 1 }));
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'ECONNREFUSED');
  assert.equal(errors[0]!.syscall, 'recvmsg');
  assert.equal(errors[0]!.errno, -111);
  // Soft errors (Host Unreachable, Time Exceeded) are not reported, as Linux without IP_RECVERR.
  emitIcmpHeader(icmp, 0, 3, 1, 0, quote.length);
  s.dev.inject(ipFrame(icmp, { protocol: 1 }));
  emitIcmpHeader(icmp, 0, 11, 0, 0, quote.length);
  s.dev.inject(ipFrame(icmp, { protocol: 1 }));
  assert.equal(errors.length, 1);
  // The same error for an unconnected socket is not reported either.
  const other = createSocket(s.stack, 'udp4');
  const otherErrors: unknown[] = [];
  other.on('error', (e) => otherErrors.push(e));
  other.send('x', 9, '192.0.2.1');
  const q2 = s.dev.take()[0]!.subarray(14, 14 + 28);
  const icmp2 = new Uint8Array(8 + q2.length);
  icmp2.set(q2, 8);
  emitIcmpHeader(icmp2, 0, 3, 3, 0, q2.length);
  s.dev.inject(ipFrame(icmp2, { protocol: 1 }));
  await tick();
  assert.equal(otherErrors.length, 0);
  assert.equal(icmpErrnoFor(3, 3), 'ECONNREFUSED');
  assert.equal(icmpErrnoFor(3, 2), 'ENOPROTOOPT');
  assert.equal(icmpErrnoFor(12, 0), 'EPROTO');
  assert.equal(icmpErrnoFor(3, 1), null);
  assert.equal(icmpErrnoFor(11, 0), null);
  sock.close();
  other.close();
});

test('broadcast needs setBroadcast(true): EACCES before, the link broadcast address after', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  assert.throws(() => sock.setBroadcast(true), { code: 'EBADF' }, 'Node throws EBADF on an unbound socket');
  sock.bind(5006);
  const results: Array<Error | null> = [];
  sock.send('all', 9, '255.255.255.255', (err) => results.push(err));
  sock.send('all', 9, '192.0.2.255', (err) => results.push(err));
  await tick();
  assert.equal(s.dev.take().length, 0);
  assert.deepEqual(results.map((e) => (e as SocketError | null)?.code), ['EACCES', 'EACCES']);
  assert.equal(results[0]!.message, 'send EACCES 255.255.255.255:9');
  sock.setBroadcast(true);
  sock.send('all', 9, '255.255.255.255');
  sock.send('all', 9, '192.0.2.255');
  const out = s.dev.take();
  assert.equal(out.length, 2);
  for (const [i, dst] of ['255.255.255.255', '192.0.2.255'].entries()) {
    assert.equal(new EthernetFrame(out[i]!).dstString(), 'ff:ff:ff:ff:ff:ff');
    const { ipv, udp } = parseUdpOut(out[i]!);
    assert.equal(ipv4ToString(ipv.dst), dst);
    assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
    assert.ok(udp.verifyChecksum(ipv.src, ipv.dst));
  }
  // A wildcard socket hears broadcasts; a connect to a broadcast also needs the flag.
  const got = messages(sock);
  s.dev.inject(udpFrame({ dst: '192.0.2.255', dstPort: 5006, payload: Buffer.from('b'), ethDst: parseMac('ff:ff:ff:ff:ff:ff')! }));
  assert.equal(got.length, 1);
  const c = createSocket(s.stack, 'udp4');
  const cErr: SocketError[] = [];
  c.connect(9, '192.0.2.255', ((e: SocketError) => cErr.push(e)) as unknown as () => void);
  await tick();
  assert.equal(cErr[0]?.code, 'EACCES');
  sock.close();
  c.close();
});

test('setTTL sets the IP TTL; errors for unroutable and oversized datagrams go to the callback', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  sock.bind(5007);
  assert.equal(sock.setTTL(3), 3);
  assert.throws(() => sock.setTTL(0), { code: 'EINVAL' });
  sock.send('x', 9, '192.0.2.1');
  assert.equal(parseUdpOut(s.dev.take()[0]!).ipv.ttl, 3);
  s.stack.removeRoute(0, 0);
  const errs: Array<string | undefined> = [];
  sock.send('x', 9, '203.0.113.1', (e) => errs.push((e as SocketError | null)?.code));
  sock.send(Buffer.alloc(65508), 9, '192.0.2.1', (e) => errs.push((e as SocketError | null)?.code));
  sock.send('x', 9, 'no.such.host', (e) => errs.push((e as SocketError | null)?.code));
  await tick();
  assert.deepEqual(errs, ['ENETUNREACH', 'EMSGSIZE', 'ENOTFOUND']);
  sock.close();
});

test('a 60 KB datagram leaves in MTU-sized fragments and one arriving in fragments is delivered whole', () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  const got = messages(sock);
  sock.bind(5008);
  const data = Buffer.from(Uint8Array.from({ length: 60_000 }, (_, i) => (i * 7) & 0xff));
  sock.send(data, 9000, '192.0.2.1');
  const frags = s.dev.take();
  assert.equal(frags.length, Math.ceil((60_000 + 8) / 1480));
  const whole = new Uint8Array(60_008);
  let id = -1;
  for (const f of frags) {
    const p = new Ipv4Packet(f, 14);
    assert.ok(p.verifyChecksum());
    assert.ok(p.totalLength <= 1500);
    if (id < 0) id = p.id;
    assert.equal(p.id, id);
    whole.set(p.payload(), p.fragmentOffset);
  }
  const udp = new UdpDatagram(whole);
  assert.equal(udp.udpLength, 60_008);
  assert.ok(udp.verifyChecksum(ip('192.0.2.2'), ip('192.0.2.1')));
  assert.deepEqual(Buffer.from(udp.payload()), data);
  // And back: the same datagram from the host, fragmented, in reverse order.
  const incoming = udpDatagram({ dstPort: 5008, srcPort: 9000, payload: data });
  const parts: Uint8Array[] = [];
  for (let off = 0; off < incoming.length; off += 1480) {
    const end = Math.min(incoming.length, off + 1480);
    parts.push(ipFrame(incoming.subarray(off, end), { id: 77, mf: end < incoming.length, fragOffset: off }));
  }
  s.dev.inject(...parts.reverse());
  assert.equal(got.length, 1);
  assert.equal(got[0]!.rinfo.size, 60_000);
  assert.deepEqual(got[0]!.msg, data);
  sock.close();
});

test('a 60 KB datagram to a host not yet resolved waits for ARP whole, every fragment', () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  sock.send(Buffer.alloc(60_000, 1), 9000, '192.0.2.5');
  const arp = s.dev.take();
  assert.equal(arp.length, 1, 'only the ARP request so far');
  const reply = new Uint8Array(60);
  const mac5 = parseMac('02:00:00:00:00:05')!;
  emitEthernet(reply, 0, OUR_MAC, mac5, EtherType.ARP);
  emitArp(reply, 14, { op: 2, senderMac: mac5, senderIp: ip('192.0.2.5'), targetMac: OUR_MAC, targetIp: ip('192.0.2.2') });
  s.dev.inject(reply);
  const frags = s.dev.take();
  assert.equal(frags.length, Math.ceil(60_008 / 1480));
  assert.equal(s.stack.counters.drops.get('arp: queue-full'), undefined);
  sock.close();
});

test('datagrams to our own addresses go over loopback', async () => {
  const s = setup();
  const server = createSocket(s.stack, 'udp4');
  const got = messages(server);
  server.bind(5009);
  const client = createSocket(s.stack, 'udp4');
  const replies = messages(client);
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  client.send('over lo', 5009, '127.0.0.1');
  client.send('to our tap address', 5009, '192.0.2.2');
  s.lo.flush();
  assert.deepEqual(got.map((g) => g.msg.toString()), ['over lo', 'to our tap address']);
  assert.deepEqual(got.map((g) => g.rinfo.address), ['127.0.0.1', '192.0.2.2']);
  assert.deepEqual(replies.map((g) => g.msg.toString()), ['over lo', 'to our tap address']);
  assert.equal(s.dev.take().length, 0, 'nothing on the wire');
  server.close();
  client.close();
});

test('close: close event, then every call says ERR_SOCKET_DGRAM_NOT_RUNNING', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4');
  sock.bind(5010);
  let closed = false;
  sock.close(() => { closed = true; });
  assert.equal(closed, false);
  await tick();
  assert.ok(closed);
  assert.throws(() => sock.send('x', 9, '192.0.2.1'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.throws(() => sock.address(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.throws(() => sock.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.equal(s.stack.udp.boundCount, 0);
  // The port is free again.
  const again = createSocket(s.stack, 'udp4');
  const errs: unknown[] = [];
  again.on('error', (e) => errs.push(e));
  again.bind(5010);
  await tick();
  assert.equal(errs.length, 0);
  again.close();
});

test('a throwing message listener does not break the stack: the error surfaces as uncaught, later', async () => {
  const s = setup();
  const sock = createSocket(s.stack, 'udp4', () => { throw new Error('listener bug'); });
  sock.bind(5011);
  const seen: unknown[] = [];
  const onUncaught = (e: unknown) => seen.push(e);
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    s.dev.inject(udpFrame({ dstPort: 5011, payload: Buffer.from('a') }), udpFrame({ dstPort: 5011, payload: Buffer.from('b') }));
    assert.equal(s.stack.counters.internalErrors, 0);
    assert.equal(s.stack.counters.udpIn, 2, 'the second datagram of the batch still arrived');
    await tick();
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const l of previous) process.on('uncaughtException', l);
  }
  assert.equal(seen.length, 2);
  assert.match(String(seen[0]), /listener bug/);
  sock.close();
});

test('netstat sees UDP endpoints', () => {
  const s = setup();
  const a = createSocket(s.stack, 'udp4');
  a.bind(5012, '192.0.2.2');
  const b = createSocket(s.stack, 'udp4');
  b.connect(53, '192.0.2.1');
  const list = s.stack.endpointProviders.flatMap((p) => p.endpoints()).filter((e) => e.protocol === 'udp');
  assert.equal(list.length, 2);
  const fixed = list.find((e) => e.localPort === 5012)!;
  assert.equal(ipv4ToString(fixed.localAddress as number), '192.0.2.2');
  const conn = list.find((e) => e.remotePort === 53)!;
  assert.equal(ipv4ToString(conn.remoteAddress as number), '192.0.2.1');
  a.close();
  b.close();
});

test('the server\'s UDP echo service answers on each address from that address, and not to reflector ports', async () => {
  const s = setup();
  const services = startServices(s.stack, silentLogger);
  assert.match(services.describe(), /udp echo/);
  await tick();
  s.dev.inject(udpFrame({ dstPort: 7, srcPort: 40007, payload: Buffer.from('echo me') }));
  const out = s.dev.take();
  assert.equal(out.length, 1);
  const { ipv, udp } = parseUdpOut(out[0]!);
  assert.equal(ipv4ToString(ipv.src), '192.0.2.2');
  assert.equal(udp.srcPort, 7);
  assert.equal(udp.dstPort, 40007);
  assert.ok(udp.verifyChecksum(ipv.src, ipv.dst));
  assert.equal(Buffer.from(udp.payload()).toString(), 'echo me');
  s.dev.inject(udpFrame({ dstPort: 7, srcPort: 19, payload: Buffer.from('chargen loop') }));
  s.dev.inject(udpFrame({ dst: '192.0.2.255', dstPort: 7, srcPort: 40007, payload: Buffer.from('fraggle'), ethDst: parseMac('ff:ff:ff:ff:ff:ff')! }));
  assert.equal(s.dev.take().length, 0);
  services.close();
  await tick();
  assert.equal(s.stack.udp.boundCount, 0);
});

test('the server\'s UDP discard answers nothing; UDP chargen answers with up to 512 bytes of the pattern, never to reflector ports', async () => {
  const s = setup();
  const services = startServices(s.stack, silentLogger);
  await tick();
  s.dev.inject(udpFrame({ dstPort: 9, srcPort: 40009, payload: Buffer.from('into the void') }));
  assert.equal(s.dev.take().length, 0, 'discard is silent (and no Port Unreachable either)');
  const pattern = chargenPattern();
  const twice = Buffer.concat([pattern, pattern]);
  for (let i = 0; i < 20; i++) {
    s.dev.inject(udpFrame({ dstPort: 19, srcPort: 40019, payload: Buffer.from('x') }));
    const out = s.dev.take();
    assert.equal(out.length, 1);
    const { udp } = parseUdpOut(out[0]!);
    assert.equal(udp.srcPort, 19);
    const got = Buffer.from(udp.payload());
    assert.ok(got.length <= 512);
    // Each answer starts on the next line of the pattern.
    assert.ok(got.equals(twice.subarray(i * 74, i * 74 + got.length)), `datagram ${i} is line ${i} onwards`);
  }
  for (const reflector of [7, 13, 17, 19, 37]) s.dev.inject(udpFrame({ dstPort: 19, srcPort: reflector, payload: Buffer.from('loop?') }));
  assert.equal(s.dev.take().length, 0);
  assert.equal(s.stack.counters.drops.get('udp chargen: reflector-port'), 5);
  services.close();
  await tick();
  assert.equal(s.stack.udp.boundCount, 0);
});

test('chargen\'s pattern is RFC 864\'s: 95 lines of 72 rotating printing characters and CR LF', () => {
  const p = chargenPattern().toString('latin1');
  assert.equal(p.length, 95 * 74);
  const lines = p.split('\r\n');
  assert.equal(lines.length, 96);
  assert.equal(lines[0], ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg');
  assert.equal(lines[1], '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh');
  assert.equal(lines[94], '~ !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdef');
});
