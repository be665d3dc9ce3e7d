// The 21 real frames from the seed documents: each must decode to its independently checked
// facts and re-emit, layer by layer from the parsed representations, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EthernetFrame, emitEthernet, padFrame, ETHERNET_HEADER_LENGTH } from '../../src/wire/ethernet.js';
import { ArpPacket, emitArp } from '../../src/wire/arp.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { walkIpv4Options, readRecordRoute, Ipv4OptionType } from '../../src/wire/ipv4-options.js';
import { IcmpPacket, emitIcmp } from '../../src/wire/icmp.js';
import { TcpSegment, emitTcp } from '../../src/wire/tcp.js';
import { listTcpOptions, emitTcpOptionList, type TcpOption } from '../../src/wire/tcp-options.js';
import { ipv4ToString, macToString } from '../../src/wire/addr.js';

interface Vector { name: string; layer: 'ethernet' | 'ipv4'; hex: string; expect: any }
const file = new URL('../../../test/vectors/seed-frames.json', import.meta.url);
const vectors: Vector[] = JSON.parse(readFileSync(file, 'utf8')).vectors;

const hex4 = (n: number) => '0x' + n.toString(16).padStart(4, '0');

function optionToExpectForm(o: TcpOption): unknown {
  switch (o.kind) {
    case 'MSS': return { MSS: o.value };
    case 'WS': return { WS: o.shift };
    case 'TS': return { TS: [o.tsVal, o.tsEcr] };
    case 'SACK': return { SACK: o.blocks };
    default: return o.kind;
  }
}

/** Decode the IPv4 packet at `offset`, check it against `e`, and re-emit it into `out`. */
function checkIpv4(bytes: Uint8Array, offset: number, e: any, out: Uint8Array) {
  const ip = new Ipv4Packet(bytes, offset);
  assert.equal(ip.check(), null);
  assert.equal(ip.totalLength, e.ip_total_length);
  if (e.ip_header_length !== undefined) assert.equal(ip.headerLength, e.ip_header_length);
  assert.equal(ip.verifyChecksum(), e.ip_header_checksum_ok);
  assert.equal(ipv4ToString(ip.src), e.ipv4.src);
  assert.equal(ipv4ToString(ip.dst), e.ipv4.dst);
  assert.equal(ip.ttl, e.ipv4.ttl);
  assert.equal(ip.protocol, e.ipv4.protocol);
  assert.equal(ip.id, e.ipv4.id);
  assert.equal(ip.dontFragment, e.ipv4.df);
  assert.equal(hex4(ip.checksum), e.ipv4.checksum);
  const walk = walkIpv4Options(bytes, ip.optionsOffset, ip.optionsLength);
  assert.equal(walk.error, null);
  const rrOption = walk.options.find((o) => o.type === Ipv4OptionType.RR);
  if (e.ipv4.record_route) {
    assert.ok(rrOption, 'record route option present');
    const rr = readRecordRoute(bytes, rrOption)!;
    assert.equal(rr.length, e.ipv4.record_route.length);
    assert.equal(rr.pointer, e.ipv4.record_route.pointer);
    assert.deepEqual(rr.recorded.map(ipv4ToString), e.ipv4.record_route.recorded);
  } else {
    assert.equal(rrOption, undefined);
  }

  const repr = ip.parse();
  const l4 = ip.payloadOffset;
  const l4len = ip.payloadLength;
  const outL4 = offset + ip.headerLength;
  if (e.icmp) {
    const icmp = new IcmpPacket(bytes, l4, l4len);
    assert.equal(icmp.check(), null);
    assert.equal(icmp.verifyChecksum(), e.l4_checksum_ok);
    assert.equal(icmp.type, e.icmp.type);
    assert.equal(icmp.code, e.icmp.code);
    assert.equal(hex4(icmp.checksum), e.icmp.checksum);
    assert.equal(icmp.echoId, e.icmp.id);
    assert.equal(icmp.echoSeq, e.icmp.seq);
    assert.equal(icmp.dataLength, e.icmp.data_bytes);
    emitIcmp(out, outL4, icmp.parse());
  }
  if (e.tcp) {
    const tcp = new TcpSegment(bytes, l4, l4len);
    assert.equal(tcp.check(), null);
    assert.equal(tcp.verifyChecksum(ip.src, ip.dst), e.l4_checksum_ok);
    assert.equal(tcp.srcPort, e.tcp.src_port);
    assert.equal(tcp.dstPort, e.tcp.dst_port);
    assert.equal(tcp.seq, e.tcp.seq);
    assert.equal(tcp.ack, e.tcp.ack);
    assert.equal(tcp.headerLength, e.tcp.header_length);
    assert.equal(tcp.window, e.tcp.window);
    const f = tcp.flags;
    assert.deepEqual(
      { FIN: !!(f & 1), SYN: !!(f & 2), RST: !!(f & 4), PSH: !!(f & 8), ACK: !!(f & 16), URG: !!(f & 32) },
      e.tcp.flags,
    );
    const options = listTcpOptions(bytes, tcp.optionsOffset, tcp.optionsLength);
    assert.ok(options);
    assert.deepEqual(options.map(optionToExpectForm), e.tcp.options);
    const optLen = emitTcpOptionList(out, outL4 + 20, options);
    assert.equal(optLen, tcp.optionsLength);
    out.set(tcp.payload(), outL4 + 20 + optLen);
    emitTcp(out, outL4, tcp.parse(), optLen, tcp.payloadLength, ip.src, ip.dst);
  }
  emitIpv4(out, offset, repr);
}

for (const v of vectors) {
  test(`seed vector ${v.name} decodes to its facts and re-emits byte for byte`, () => {
    const bytes = Uint8Array.from(Buffer.from(v.hex, 'hex'));
    const e = v.expect;
    const out = new Uint8Array(bytes.length).fill(0xee); // garbage, so nothing passes by accident
    if (v.layer === 'ipv4') {
      checkIpv4(bytes, 0, e, out);
      assert.deepEqual(Buffer.from(out).toString('hex'), v.hex);
      return;
    }
    if (e.frame_bytes !== undefined) assert.equal(bytes.length, e.frame_bytes);
    const eth = new EthernetFrame(bytes);
    assert.equal(eth.check(), null);
    if (e.ethertype !== undefined) assert.equal(eth.etherType, e.ethertype);
    if (e.dst !== undefined) assert.equal(macToString(bytes, eth.dstOffset), e.dst);
    if (e.src !== undefined) assert.equal(macToString(bytes, eth.srcOffset), e.src);
    const er = eth.parse();
    let end = emitEthernet(out, 0, er.dst, er.src, er.etherType);
    if (e.arp) {
      const arp = new ArpPacket(bytes, eth.payloadOffset, eth.payloadLength);
      assert.equal(arp.check(), null);
      assert.equal(arp.op, e.arp.opcode);
      assert.equal(arp.senderMacString(), e.arp.sender_mac);
      assert.equal(ipv4ToString(arp.senderIp), e.arp.sender_ip);
      assert.equal(arp.targetMacString(), e.arp.target_mac);
      assert.equal(ipv4ToString(arp.targetIp), e.arp.target_ip);
      end = emitArp(out, end, arp.parse());
    } else {
      checkIpv4(bytes, ETHERNET_HEADER_LENGTH, e, out);
      end = ETHERNET_HEADER_LENGTH + new Ipv4Packet(bytes, ETHERNET_HEADER_LENGTH).totalLength;
    }
    // Frames read from a TAP arrive unpadded; frames the old pstack wrote were padded to the
    // 802.3 minimum. Re-emit the same way the original was framed.
    const total = bytes.length > end ? padFrame(out, 0, end) : end;
    assert.equal(total, bytes.length, 'frame length after padding');
    assert.equal(Buffer.from(out.subarray(0, total)).toString('hex'), v.hex);
  });
}

test('all 21 seed vectors are present', () => {
  assert.equal(vectors.length, 21);
});
