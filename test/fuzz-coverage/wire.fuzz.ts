/**
 * Coverage-guided fuzz targets (Jazzer.js, scripts/fuzz-coverage.sh) for every wire parser:
 * each takes arbitrary bytes, runs the parser's check() and, when it accepts, reads every
 * field the view exposes and its parse(); the dissector (which the server's debug log runs on
 * every frame) takes any bytes at any offset. Any exception is a finding.
 */

import { EthernetFrame } from '../../src/wire/ethernet.js';
import { ArpPacket } from '../../src/wire/arp.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { IcmpPacket } from '../../src/wire/icmp.js';
import { UdpDatagram } from '../../src/wire/udp.js';
import { TcpSegment } from '../../src/wire/tcp.js';
import { TcpOptions, parseTcpOptions, listTcpOptions, emitTcpOptionList, tcpOptionLength } from '../../src/wire/tcp-options.js';
import { walkIpv4Options, checkIpv4Options, readRecordRoute, recordRouteAppend, timestampAppend } from '../../src/wire/ipv4-options.js';
import { dissectFrame } from '../../src/observe/dissect.js';
import type { WireView } from '../../src/wire/view.js';

/** Read every getter of the view's class (and its parents below WireView's own). */
function readAll(view: WireView): void {
  for (let proto = Object.getPrototypeOf(view); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (d.get !== undefined) void (view as unknown as Record<string, unknown>)[name];
    }
  }
  const parse = (view as unknown as { parse?: () => unknown }).parse;
  if (typeof parse === 'function') parse.call(view);
}

/** The view over the data after a leading offset byte, so windows not at 0 are covered too. */
function windowOf(data: Buffer): [Uint8Array, number, number] {
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (b.length === 0) return [b, 0, 0];
  const offset = Math.min(b[0]! & 7, b.length - 1) + 1;
  return [b, offset, b.length - offset];
}

function viewTarget(make: (b: Uint8Array, offset: number, length: number) => WireView & { check(): string | null }): (data: Buffer) => void {
  return (data) => {
    const [b, offset, length] = windowOf(data);
    const v = make(b, offset, length);
    if (v.check() === null) readAll(v);
  };
}

export const fuzzEthernet = viewTarget((b, o, l) => new EthernetFrame(b, o, l));
export const fuzzArp = viewTarget((b, o, l) => new ArpPacket(b, o, l));
export const fuzzIcmp = viewTarget((b, o, l) => new IcmpPacket(b, o, l));

export function fuzzIpv4(data: Buffer): void {
  const [b, offset, length] = windowOf(data);
  const ip = new Ipv4Packet(b, offset, length);
  if (ip.check() !== null) return;
  readAll(ip);
  ip.verifyChecksum();
  if (ip.headerLength > 20) {
    walkIpv4Options(b, ip.optionsOffset, ip.optionsLength);
    checkIpv4Options(b, ip.optionsOffset, ip.optionsLength);
  }
}

export function fuzzUdp(data: Buffer): void {
  const [b, offset, length] = windowOf(data);
  const u = new UdpDatagram(b, offset, length);
  if (u.check() !== null) return;
  readAll(u);
  u.verifyChecksum(0xc0000202, 0xc0000201);
}

export function fuzzTcp(data: Buffer): void {
  const [b, offset, length] = windowOf(data);
  const t = new TcpSegment(b, offset, length);
  if (t.check() !== null) return;
  readAll(t);
  t.verifyChecksum(0xc0000202, 0xc0000201);
  parseTcpOptions(b, t.optionsOffset, t.optionsLength, new TcpOptions());
  listTcpOptions(b, t.optionsOffset, t.optionsLength);
}

/** TCP options alone: parsed, listed, and a parsed list re-emitted (padded) must parse again. */
export function fuzzTcpOptions(data: Buffer): void {
  const b = new Uint8Array(data.buffer, data.byteOffset, Math.min(data.byteLength, 40));
  parseTcpOptions(b, 0, b.length, new TcpOptions());
  const list = listTcpOptions(b, 0, b.length);
  if (list === null) return;
  const out = new Uint8Array(80);
  const n = emitTcpOptionList(out, 0, list);
  // Emitting pads with EOL to a multiple of 4 (the header length counts words).
  const expected = (list.reduce((a, o) => a + tcpOptionLength(o), 0) + 3) & ~3;
  if (n !== expected) throw new Error(`re-emitted options are ${n} bytes, expected ${expected}`);
  const again = listTcpOptions(out, 0, n);
  if (again === null) throw new Error('re-emitted options do not parse');
}

/** IPv4 options: walked, checked, and the Record Route / Timestamp writers stay inside them. */
export function fuzzIpv4Options(data: Buffer): void {
  const length = Math.min(data.byteLength, 40) & ~3;
  const b = new Uint8Array(data.byteLength + 8);
  b.set(data);
  const copy = b.slice();
  const check = checkIpv4Options(b, 0, length);
  walkIpv4Options(b, 0, length);
  if (check.error !== null) return;
  if (check.rr !== null) {
    readRecordRoute(b, check.rr);
    recordRouteAppend(b, check.rr, 0xc0000202);
  }
  if (check.ts !== null) timestampAppend(b, check.ts, 0xc0000202, 12345, true);
  for (let i = length; i < b.length; i++) if (b[i] !== copy[i]) throw new Error(`an option writer wrote at ${i}, outside the ${length} option bytes`);
}

/** The dissector the debug log runs on every frame, on Ethernet or raw IP (loopback) framing. */
export function fuzzDissect(data: Buffer): void {
  const [b, offset, length] = windowOf(data);
  dissectFrame('incoming', b, offset, length, (data[0] ?? 0) & 0x80 ? 'ip' : 'ethernet');
}
