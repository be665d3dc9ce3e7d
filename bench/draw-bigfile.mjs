// Writes a large classic pcap of one TCP transfer (raw IPv4, 1448-byte segments, the
// receiver ACKing every second segment with SACK after a loss, one retransmission per
// thousand segments) for measuring pstack draw's memory: node bench/draw-bigfile.mjs FILE MB
import { openSync, writeSync, closeSync } from 'node:fs';

const [file, mbText] = process.argv.slice(2);
if (!file) { console.error('usage: node bench/draw-bigfile.mjs FILE [MB]'); process.exit(2); }
const targetBytes = Number(mbText ?? 1024) * 1024 * 1024;
const MSS = 1448;
const fd = openSync(file, 'w');
const batch = new Uint8Array(4 * 1024 * 1024);
const view = new DataView(batch.buffer);
let used = 0, written = 0;

function flush() { writeSync(fd, batch, 0, used); written += used; used = 0; }

const header = new DataView(new ArrayBuffer(24));
header.setUint32(0, 0xa1b2c3d4, true); header.setUint16(4, 2, true); header.setUint16(6, 4, true);
header.setUint32(16, 65535, true); header.setUint32(20, 101, true);
writeSync(fd, new Uint8Array(header.buffer)); written += 24;

let time = 1_700_000_000;
function packet(fromClient, seq, ack, flags, payload, sack) {
  const options = sack ? 12 : 0;
  const ipLen = 20 + 20 + options + payload;
  if (used + 16 + ipLen > batch.length) flush();
  const at = used;
  time += 0.00002;
  view.setUint32(at, Math.floor(time), true);
  view.setUint32(at + 4, Math.round((time % 1) * 1e6) % 1000000, true);
  view.setUint32(at + 8, ipLen, true); view.setUint32(at + 12, ipLen, true);
  const o = at + 16;
  batch.fill(0, o, o + 40 + options);
  view.setUint8(o, 0x45); view.setUint16(o + 2, ipLen); view.setUint8(o + 8, 64); view.setUint8(o + 9, 6);
  const a = 0xc6336401, b = 0xc6336402; // 198.51.100.1 and .2
  view.setUint32(o + 12, fromClient ? a : b); view.setUint32(o + 16, fromClient ? b : a);
  const t = o + 20;
  view.setUint16(t, fromClient ? 40000 : 80); view.setUint16(t + 2, fromClient ? 80 : 40000);
  view.setUint32(t + 4, seq >>> 0); view.setUint32(t + 8, ack >>> 0);
  view.setUint8(t + 12, ((20 + options) / 4) << 4); view.setUint8(t + 13, flags);
  view.setUint16(t + 14, 512);
  if (sack) { view.setUint16(t + 20, 0x0101); view.setUint8(t + 22, 5); view.setUint8(t + 23, 10); view.setUint32(t + 24, sack[0] >>> 0); view.setUint32(t + 28, sack[1] >>> 0); }
  used += 16 + ipLen;
}

const ISN = 1000, PEER = 5000;
packet(true, ISN, 0, 0x02, 0, null);
packet(false, PEER, ISN + 1, 0x12, 0, null);
let next = ISN + 1, n = 0;
while (written + used < targetBytes) {
  packet(true, next, PEER + 1, 0x10, MSS, null);
  n++;
  if (n % 1000 === 0) {
    // The segment before this one was "lost": a SACKed duplicate ACK, then its retransmission.
    packet(false, PEER + 1, next - MSS, 0x10, 0, [next, next + MSS]);
    packet(true, next - MSS, PEER + 1, 0x10, MSS, null);
  }
  next += MSS;
  if (n % 2 === 0) packet(false, PEER + 1, next, 0x10, 0, null);
}
packet(true, next, PEER + 1, 0x11, 0, null);
flush();
closeSync(fd);
console.log(`${file}: ${(written / 1048576).toFixed(0)} MiB, ${n} data segments`);
