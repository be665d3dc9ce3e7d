import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionTable } from '../../src/transport/tcp/tables.js';
import { Tcb, defaultTcpConfig } from '../../src/transport/tcp/tcb.js';
import { intern6, type IpAddress } from '../../src/stack/ip-address.js';
import { SlotList } from '../../src/api/net/slot-list.js';

function block(remoteAddr: IpAddress, remotePort: number, localAddr: IpAddress, localPort: number): Tcb {
  const t = new Tcb(defaultTcpConfig);
  t.remoteAddr = remoteAddr;
  t.remotePort = remotePort;
  t.localAddr = localAddr;
  t.localPort = localPort;
  return t;
}

const V6A = intern6(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
const V6B = intern6(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]));

test('connection table: finds every block by its four-tuple across growth, and forgets removed ones', () => {
  const table = new ConnectionTable();
  const blocks: Tcb[] = [];
  // Enough to double the buckets several times; same peer and port with two local ends, and IPv6 peers.
  for (let i = 0; i < 1000; i++) blocks.push(block(0xc0000201 + (i % 7), 40000 + (i >> 1), 0xc0000202, 5000 + (i & 1)));
  for (let i = 0; i < 50; i++) blocks.push(block(i % 2 ? V6A : V6B, 40000 + i, V6B, 80));
  for (const b of blocks) table.insert(b);
  assert.equal(table.count, blocks.length);
  for (const b of blocks) assert.equal(table.lookup(b.remoteAddr, b.remotePort, b.localAddr, b.localPort), b);
  assert.equal(table.lookup(0xc0000201, 39999, 0xc0000202, 5000), null);
  assert.equal(table.lookup(V6A, 40001, V6A, 80), null, 'local address compared');

  const removed = blocks.filter((_, i) => i % 3 === 0);
  for (const b of removed) table.remove(b);
  table.remove(removed[0]!); // twice: no effect
  assert.equal(table.count, blocks.length - removed.length);
  for (const b of removed) {
    assert.equal(table.lookup(b.remoteAddr, b.remotePort, b.localAddr, b.localPort), null);
    assert.equal(b.nextInChain, null);
  }
  const all = new Set(table.all());
  assert.equal(all.size, table.count);
  for (const [i, b] of blocks.entries()) assert.equal(all.has(b), i % 3 !== 0);
});

test('slot list: add, delete from any position, members and positions stay consistent', () => {
  const list = new SlotList<{ slotInList: number; id: number }>();
  const items = Array.from({ length: 20 }, (_, id) => ({ slotInList: -1, id }));
  for (const it of items) assert.equal(list.add(it), true);
  assert.equal(list.add(items[3]!), false, 'already a member');
  assert.equal(list.size, 20);
  for (const it of [items[0]!, items[19]!, items[7]!, items[8]!]) assert.equal(list.delete(it), true);
  assert.equal(list.delete(items[7]!), false, 'not a member any more');
  assert.equal(items[7]!.slotInList, -1);
  const left = list.toArray();
  assert.deepEqual(left.map((it) => it.id).sort((a, b) => a - b), items.map((it) => it.id).filter((id) => ![0, 19, 7, 8].includes(id)));
  left.forEach((it, i) => assert.equal(it.slotInList, i));
  for (const it of left) list.delete(it); // removing while walking the copy
  assert.equal(list.size, 0);
  list.add(items[5]!);
  list.clear();
  assert.equal(items[5]!.slotInList, -1);
  assert.equal(list.size, 0);
});
