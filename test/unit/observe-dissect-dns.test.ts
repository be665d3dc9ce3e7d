// The DNS dissector (src/observe/dissect-dns.ts): a real dnsmasq answer as log lines, a query
// with EDNS, malformed input shown with its reason, and a property: no bytes make it throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dissectDns } from '../../src/observe/dissect-dns.js';
import { emitDnsQuery } from '../../src/wire/dns.js';
import { runs } from '../helpers/fuzz-runs.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

test('a dnsmasq answer: header, question, a CNAME and an A record, as dig shows them', () => {
  const b = hex('10018580000100020000000003777777076578616d706c6504746573740000010001c00c000500010000012c001304686f7374076578616d706c65047465737400c02e000100010000012c0004c0000251');
  // At an offset inside a bigger buffer, as the UDP dissector will hand it over.
  const framed = new Uint8Array(b.length + 50);
  framed.set(b, 42);
  assert.deepEqual(dissectDns('incoming', framed, 42, b.length), {
    title: 'incoming dns response (id 0x1001)',
    lines: [
      'flags:      response, QUERY, AA RD RA (0x8580)',
      'rcode:      NOERROR (0)',
      'counts:     1 question, 2 answers, 0 authority, 0 additional',
      'question:   www.example.test. IN A',
      'answer:     www.example.test. 300 IN CNAME host.example.test.',
      'answer:     host.example.test. 300 IN A 192.0.2.81',
    ],
  });
});

test('a query with EDNS; TXT, SRV and unknown data; malformed input', () => {
  const q = emitDnsQuery({ id: 0xabcd, name: 'web.test', type: 28, udpPayloadSize: 1232, dnssecOk: true });
  assert.ok(typeof q !== 'string');
  const block = dissectDns('outgoing', q);
  assert.equal(block.title, 'outgoing dns query (id 0xabcd)');
  assert.deepEqual(block.lines.slice(0, 1), ['flags:      query, QUERY, RD (0x0100)']);
  assert.ok(block.lines.includes('question:   web.test. IN AAAA'));
  assert.ok(block.lines.includes('edns:       version 0, udp 1232, flags do'));
  const txt = dissectDns('incoming', hex('10028580000100010000000003747874076578616d706c6504746573740000100001c00c001000010000012c001a0b763d73706631202d616c6c0d7365636f6e6420737472696e67'));
  assert.ok(txt.lines.includes('answer:     txt.example.test. 300 IN TXT "v=spf1 -all" "second string"'), txt.lines.join('\n'));
  const short = dissectDns('incoming', new Uint8Array(7));
  assert.deepEqual(short, { title: 'incoming dns message', lines: ['malformed: truncated header (7 bytes, needs 12)'], malformed: 'truncated header (7 bytes, needs 12)' });
  // A compression loop in the question: the header still shows, then why it stopped.
  const loop = hex('12348180000100000000000001610c0c' + '0001');
  loop[14] = 0xc0; loop[15] = 12;
  const bad = dissectDns('incoming', loop);
  assert.equal(bad.title, 'incoming dns response (id 0x1234)');
  assert.match(bad.malformed ?? '', /question 1: name at 12/);
  assert.match(bad.lines.at(-1)!, /^malformed: /);
});

test('property: dissectDns never throws and always ends a bad message with its reason', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -5, max: 400 }), fc.integer({ min: -5, max: 400 }), (b, off, len) => {
    const block = dissectDns('incoming', b, off, len);
    assert.ok(block.lines.length >= 1);
    if (block.malformed !== undefined) assert.equal(block.lines.at(-1), 'malformed: ' + block.malformed);
  }), runs(1000));
});
