// Frames the Linux kernel itself sent (test/unit/fixtures/ipv6-kernel-frames.json: two
// namespaces on a veth, ping -6 with and without fragmentation, the MLDv2 reports, DAD and
// router solicitations of bringing an interface up): every layer decodes, every checksum
// verifies, NDP passes RFC 4861's checks, MLD re-emits byte for byte, and the one-line
// summary is tcpdump -n's line for the same frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EthernetFrame, EtherType } from '../../src/wire/ethernet.js';
import { Ipv6Packet } from '../../src/wire/ipv6.js';
import { walkIpv6Headers, Ipv6HeaderChain } from '../../src/wire/ipv6-ext.js';
import { Icmpv6Packet } from '../../src/wire/icmpv6.js';
import { parseNdp, validateNdpAddressing, isNdpType } from '../../src/wire/ndp.js';
import { parseMld, emitMld, isMldType, type MldMessageInit } from '../../src/wire/mld.js';
import { multicastMac6, isMulticastIpv6, linkLocalFromMac, ipv6ToString } from '../../src/wire/addr6.js';
import { macToString } from '../../src/wire/addr.js';
import { summarizeFrame } from '../../src/observe/summary.js';
import { dissectFrame } from '../../src/observe/dissect.js';

interface KernelFrame { tcpdump: string; hex: string }
const frames: KernelFrame[] = JSON.parse(readFileSync(new URL('../../../test/unit/fixtures/ipv6-kernel-frames.json', import.meta.url), 'utf8')).frames;
const chain = new Ipv6HeaderChain();

test('kernel frames: summaries equal tcpdump -n', () => {
  assert.equal(frames.length, 24);
  for (const k of frames) {
    const f = Uint8Array.from(Buffer.from(k.hex, 'hex'));
    assert.equal(summarizeFrame(f, 0, f.length), k.tcpdump);
    assert.ok(!dissectFrame('incoming', f, 0, f.length).some((b) => b.malformed !== undefined), k.tcpdump);
  }
});

test('kernel frames: headers, checksums, NDP checks, MLD round trips, multicast MACs', () => {
  let ndp = 0, mld = 0, fragments = 0;
  for (const k of frames) {
    const f = Uint8Array.from(Buffer.from(k.hex, 'hex'));
    const eth = new EthernetFrame(f);
    assert.equal(eth.etherType, EtherType.IPv6);
    const ip = new Ipv6Packet(f, 14, f.length - 14);
    assert.equal(ip.check(), null);
    if (isMulticastIpv6(f, ip.dstOffset)) assert.equal(eth.dstString(), macToString(multicastMac6(f, ip.dstOffset)), k.tcpdump);
    const c = walkIpv6Headers(f, 14, chain);
    assert.equal(c.error, null, k.tcpdump);
    if (c.isFragment) { fragments++; continue; } // the checksum spans both fragments
    assert.equal(c.protocol, 58);
    const icmp = new Icmpv6Packet(f, c.protocolOffset, c.protocolLength);
    assert.ok(icmp.verifyChecksum(f, ip.srcOffset, f, ip.dstOffset), k.tcpdump);
    if (isNdpType(icmp.type)) {
      ndp++;
      const m = parseNdp(f, icmp.offset, icmp.length);
      assert.ok(typeof m !== 'string', k.tcpdump);
      assert.equal(validateNdpAddressing(m, ip.hopLimit, f, ip.srcOffset, f, ip.dstOffset), null, k.tcpdump);
      if (m.kind === 'ns' && ipv6ToString(m.target).startsWith('fe80::')) {
        // DAD for the EUI-64 link-local address the kernel derived from the MAC: the same as ours.
        assert.equal(ipv6ToString(linkLocalFromMac(f, 6)), ipv6ToString(m.target));
      }
    }
    if (isMldType(icmp.type)) {
      mld++;
      assert.equal(c.routerAlert, 0);
      assert.equal(ip.hopLimit, 1);
      const m = parseMld(f, icmp.offset, icmp.length);
      assert.ok(typeof m !== 'string' && m.kind === 'report2');
      const out = new Uint8Array(icmp.length);
      emitMld(out, 0, m as MldMessageInit, ip.src, ip.dst);
      assert.deepEqual(out, f.subarray(icmp.offset, icmp.offset + icmp.length));
    }
  }
  assert.deepEqual([ndp, mld, fragments], [8, 10, 4]);
});
