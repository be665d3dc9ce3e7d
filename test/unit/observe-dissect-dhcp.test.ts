// The DHCP dissector (src/observe/dissect-dhcp.ts): a full ACK line by line, malformed
// messages, the tcpdump-style summary, and a property: no input makes it throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dissectDhcp, isDhcpPorts, summarizeDhcp } from '../../src/observe/dissect-dhcp.js';
import { DHCP_FLAG_BROADCAST, DhcpMessageType, createDhcpMessage, encodeDhcp } from '../../src/wire/dhcp.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { runs } from '../helpers/fuzz-runs.js';

const ip = (s: string) => parseIpv4(s)!;
const MAC = parseMac('00:0b:82:01:fc:42')!;

function ack(): Uint8Array {
  const chaddr = new Uint8Array(16);
  chaddr.set(MAC);
  return encodeDhcp(createDhcpMessage({
    op: 2, xid: 0x3903f326, flags: DHCP_FLAG_BROADCAST, yiaddr: ip('192.168.0.10'), siaddr: ip('192.168.0.1'), chaddr,
    options: {
      messageType: DhcpMessageType.Ack,
      serverId: ip('192.168.0.1'),
      leaseTime: 3600,
      subnetMask: ip('255.255.255.0'),
      routers: [ip('192.168.0.1')],
      dnsServers: [ip('192.168.0.1'), ip('9.9.9.9')],
      domainName: 'home.arpa',
      domainSearch: ['home.arpa', 'example.com'],
      classlessRoutes: [{ destination: ip('10.0.0.0'), prefixLength: 8, router: ip('192.168.0.254') }],
      other: [{ code: 42, data: Uint8Array.from([192, 168, 0, 1]) }, { code: 250, data: Uint8Array.from([1, 2]) }],
    },
  }));
}

test('an ACK: header fields, then the options by name in wire order', () => {
  const b = ack();
  const block = dissectDhcp('incoming', b, 0, b.length);
  assert.equal(block.title, 'incoming dhcp message (ACK)');
  assert.equal(block.malformed, undefined);
  assert.deepEqual(block.lines, [
    'op:      BOOTREPLY (2)',
    'htype:   Ethernet (1)',
    'hlen:    6',
    'hops:    0',
    'xid:     0x3903f326',
    'secs:    0',
    'flags:   0x8000 (broadcast)',
    'ciaddr:  0.0.0.0',
    'yiaddr:  192.168.0.10',
    'siaddr:  192.168.0.1',
    'giaddr:  0.0.0.0',
    'chaddr:  00:0b:82:01:fc:42',
    'sname:   -',
    'file:    -',
    'cookie:  0x63825363 (DHCP)',
    'options: DHCP Message Type (53): ACK (5)',
    '         Server Identifier (54): 192.168.0.1',
    '         IP Address Lease Time (51): 3600 s',
    '         Subnet Mask (1): 255.255.255.0',
    '         Router (3): 192.168.0.1',
    '         Domain Name Server (6): 192.168.0.1, 9.9.9.9',
    '         Domain Name (15): "home.arpa"',
    '         Domain Search (119): home.arpa, example.com',
    '         Classless Static Route (121): 10.0.0.0/8 via 192.168.0.254',
    '         NTP Servers (42): c0 a8 00 01',
    '         Option 250: 01 02',
    '         End (255)',
  ]);
});

test('a DISCOVER: client identifier, parameter request list, and the summary line', () => {
  const chaddr = new Uint8Array(16);
  chaddr.set(MAC);
  const b = encodeDhcp(createDhcpMessage({
    op: 1, xid: 7, chaddr,
    options: { messageType: 1, clientId: Uint8Array.from([1, ...MAC]), parameterRequestList: [1, 3], maxMessageSize: 1500, hostName: 'pstack' },
  }));
  const block = dissectDhcp('outgoing', b, 0, b.length);
  assert.equal(block.title, 'outgoing dhcp message (DISCOVER)');
  assert.ok(block.lines.includes('         Client Identifier (61): Ethernet 00:0b:82:01:fc:42'));
  assert.ok(block.lines.includes('         Parameter Request List (55): Subnet Mask (1), Router (3)'));
  assert.ok(block.lines.includes('         Maximum DHCP Message Size (57): 1500'));
  assert.ok(block.lines.includes('         Host Name (12): "pstack"'));
  assert.equal(summarizeDhcp(b, 0, b.length), 'BOOTP/DHCP, Request from 00:0b:82:01:fc:42, length 300');
  assert.equal(summarizeDhcp(ack(), 0, 300), 'BOOTP/DHCP, Reply, length 300');
  assert.ok(isDhcpPorts(68, 67) && isDhcpPorts(67, 68) && isDhcpPorts(67, 67));
  assert.ok(!isDhcpPorts(68, 68) && !isDhcpPorts(53, 67));
});

test('malformed messages and options say what is wrong', () => {
  const b = ack();
  const short = dissectDhcp('incoming', b, 0, 100);
  assert.equal(short.malformed, 'too-short (100 bytes, header and cookie need 240)');
  const cookie = b.slice();
  cookie[239] = 0;
  assert.equal(dissectDhcp('incoming', cookie, 0, cookie.length).malformed, 'bad-magic-cookie');
  // Cut inside an option: the options read so far are still shown.
  const cut = dissectDhcp('incoming', b, 0, 252);
  assert.match(cut.malformed!, /^option-past-end at byte 249$/);
  assert.ok(cut.lines.includes('options: DHCP Message Type (53): ACK (5)'));
  // A bad option is shown with its bytes and the reason.
  const bad = encodeDhcp(createDhcpMessage({ op: 2, xid: 1, options: { messageType: 6, other: [{ code: 1, data: Uint8Array.from([255, 255, 0]) }] } }));
  const block = dissectDhcp('incoming', bad, 0, bad.length);
  assert.equal(block.title, 'incoming dhcp message (NAK)');
  assert.ok(block.lines.includes('         Subnet Mask (1): ff ff 00 (malformed: bad-length)'), block.lines.join('\n'));
});

test('property: the dissector never throws, whatever the bytes', () => {
  const head = ack().subarray(0, 240);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.integer({ min: -5, max: 900 }), fc.integer({ min: -5, max: 900 }),
    (tail, withHead, offset, length) => {
      const b = withHead ? Uint8Array.from([...head, ...tail]) : tail;
      const block = dissectDhcp('incoming', b, offset, length);
      assert.ok(block.title.length > 0);
      dissectDhcp('incoming', b, 0, b.length);
      summarizeDhcp(b, offset, length);
    }), runs(500));
});
