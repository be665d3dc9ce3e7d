/**
 * `pstack ping` to an IPv6 destination: ICMPv6 echo (RFC 4443 4.1, 4.2) through the stack's
 * ICMPv6 service, printed as iputils `ping -6` prints it:
 *
 *   PING 2001:db8::1(2001:db8::1) 56 data bytes
 *   64 bytes from 2001:db8::1: icmp_seq=1 ttl=64 time=0.321 ms
 *   From 2001:db8::2 icmp_seq=2 Destination unreachable: Address unreachable
 *
 * A link-local address carries its zone (the tap's name) wherever iputils prints one.
 */

import { ipv6ToString, isLinkLocalIpv6 } from '../wire/addr6.js';
import { ICMPV6_HEADER_LENGTH, Icmpv6Type } from '../wire/icmpv6.js';
import { IPV6_HEADER_LENGTH, NextHeader } from '../wire/ipv6.js';
import type { Ipv6Addr } from '../stack/ip-address.js';
import type { Icmpv6Listener } from '../stack/icmpv6.js';
import type { Ipv6Layer } from '../stack/ipv6.js';
import type { EchoPath, EchoSink } from './ping-path.js';
import { describeIcmpv6Error } from './ping-output.js';

/** An IPv6 address as iputils prints it (getnameinfo NI_NUMERICHOST): link-local ones with %zone. */
export function formatIpv6Host(addr: Uint8Array, zone: string): string {
  const text = ipv6ToString(addr);
  return isLinkLocalIpv6(addr) ? `${text}%${zone}` : text;
}

export class Icmp6EchoPath implements EchoPath {
  private id = 0;
  private sink: EchoSink | null = null;
  private readonly listener: Icmpv6Listener = {
    message: (type, code, src, buf, offset, length, hopLimit) => this.onMessage(type, code, src, buf, offset, length, hopLimit),
  };

  /** `zone`: the tap's name, printed after link-local addresses. */
  constructor(private readonly ipv6: Ipv6Layer, private readonly destination: Ipv6Addr, private readonly zone: string, private readonly source: Ipv6Addr | null) {}

  headerLine(destinationText: string, size: number, interfaceText: string | null): string {
    const shown = formatIpv6Host(this.destination.bytes, this.zone);
    // iputils prints the name it was given, then the address, with no space between.
    let from = '';
    if (interfaceText !== null) {
      const src = this.source ?? (this.ipv6.route(this.destination)?.src as Ipv6Addr | undefined);
      from = ` from ${src === undefined ? '::' : ipv6ToString(src.bytes)} ${interfaceText}:`;
    }
    return `PING ${destinationText}(${shown})${from} ${size} data bytes\n`;
  }

  open(id: number, sink: EchoSink): void {
    this.id = id;
    this.sink = sink;
    this.ipv6.icmp.listeners.add(this.listener);
  }

  close(): void {
    this.ipv6.icmp.listeners.delete(this.listener);
  }

  send(id: number, seq: number, data: Uint8Array, ttl: number | null): boolean {
    return this.ipv6.icmp.sendEcho(this.destination, id, seq, data, { hopLimit: ttl ?? undefined, src: this.source ?? undefined });
  }

  /** An IPv6 neighbor whose resolution failed is forgotten: the next request tries again. */
  failedNeighbor(): null {
    return null;
  }

  awaitingResolution(): boolean {
    const rt = this.ipv6.route(this.destination);
    if (rt === null || rt.iface.isLoopback) return false;
    const entry = this.ipv6.neighbors.get(rt.nextHop as Ipv6Addr);
    return entry !== undefined && entry.state === 'incomplete' && entry.queue.length > 0;
  }

  replyTrailer(): string {
    return '';
  }

  private onMessage(type: number, code: number, src: Ipv6Addr, buf: Uint8Array, offset: number, length: number, hopLimit: number): void {
    const sink = this.sink;
    if (sink === null) return;
    if (type === Icmpv6Type.EchoReply) {
      if (src !== this.destination || ((buf[offset + 4]! << 8) | buf[offset + 5]!) !== this.id) return;
      const seq = (buf[offset + 6]! << 8) | buf[offset + 7]!;
      sink.reply(formatIpv6Host(src.bytes, this.zone), seq, hopLimit, length, buf.subarray(offset + ICMPV6_HEADER_LENGTH, offset + length));
      return;
    }
    const seq = this.quotedSeq(buf, offset, length);
    if (seq < 0) return;
    const info = ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
    sink.error(formatIpv6Host(src.bytes, this.zone), seq, describeIcmpv6Error(type, code, info), true, '');
  }

  /** The sequence number of our echo request an error quotes, or -1 when it quotes something else. */
  private quotedSeq(buf: Uint8Array, offset: number, length: number): number {
    const inner = offset + ICMPV6_HEADER_LENGTH;
    const end = offset + length;
    if (end - inner < IPV6_HEADER_LENGTH + 8) return -1;
    const dst = this.destination.bytes;
    for (let i = 0; i < 16; i++) if (buf[inner + 24 + i] !== dst[i]) return -1;
    let nh = buf[inner + 6]!;
    let at = inner + IPV6_HEADER_LENGTH;
    if (nh === NextHeader.Fragment) {
      // Only a first fragment holds the ICMPv6 header.
      if (end - at < 16 || (((buf[at + 2]! << 8) | buf[at + 3]!) & 0xfff8) !== 0) return -1;
      nh = buf[at]!;
      at += 8;
    }
    if (nh !== NextHeader.ICMPv6 || end - at < 8) return -1;
    if (buf[at] !== Icmpv6Type.EchoRequest || ((buf[at + 4]! << 8) | buf[at + 5]!) !== this.id) return -1;
    return (buf[at + 6]! << 8) | buf[at + 7]!;
  }
}
