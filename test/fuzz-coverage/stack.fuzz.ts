/**
 * Coverage-guided fuzz targets (Jazzer.js, scripts/fuzz-coverage.sh) for the stack's input
 * path: frames injected into a Stack (with TCP and UDP listening, small limits so they are
 * reached) on an in-memory device, the clock moving between them. After every frame: no
 * exception escaped, no internal error was counted or logged, and no limit is exceeded.
 *
 *   fuzzStackInput: the input is cut into frames; a control byte per frame may repair the
 *     Ethernet header, addresses and checksums so the fuzzer gets past validation quickly.
 *   fuzzTcpInput: an established connection, then segments built from the input relative to
 *     its sequence numbers (flags, options, data, window), so the state machine is reached.
 */

import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from '../helpers/capture-device.js';
import { ScriptedPeer, F } from '../helpers/tcp-peer.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { internetChecksum, pseudoHeaderSum, sum16, fold16 } from '../../src/wire/checksum.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';
import type { TcpConfig } from '../../src/transport/tcp/tcb.js';
import { createSocket } from '../../src/api/dgram.js';

const US = parseIpv4('192.0.2.2')!;
const PEER = parseIpv4('192.0.2.1')!;
const US_MAC = parseMac('00:00:5e:00:53:01')!;
const LIMITS = {
  neighbor: { maxEntries: 8, queuePerEntry: 4 },
  reassembly: { maxDatagrams: 4, maxBytes: 150_000, maxFragmentsPerDatagram: 6, timeoutMs: 1000 },
};
const TCP_LIMITS: Partial<TcpConfig> = { maxConnections: 8, maxSynBacklog: 4, maxTimeWait: 4, maxOooRanges: 4, maxOooBytes: 8192, maxSackRanges: 4 };

/** Throw (a finding) when the stack reported a bug or broke one of its bounds. */
function checkInvariants(stack: Stack, tcp: Tcp, errors: string[]): void {
  if (errors.length > 0) throw new Error(`the stack logged an error: ${errors[0]}`);
  if (stack.counters.internalErrors > 0) throw new Error('an internal error was counted');
  const n = stack.neighbors;
  if (n.size > n.config.maxEntries) throw new Error(`ARP cache holds ${n.size} > ${n.config.maxEntries}`);
  for (const e of n.all()) if (e.queue.length > n.config.queuePerEntry) throw new Error(`ARP queue of ${e.queue.length}`);
  const r = stack.reassembler;
  if (r.datagrams > r.config.maxDatagrams) throw new Error(`${r.datagrams} datagrams in reassembly`);
  if (r.bufferedBytes > r.config.maxBytes) throw new Error(`${r.bufferedBytes} reassembly bytes`);
  if (tcp.connectionCount > tcp.config.maxConnections) throw new Error(`${tcp.connectionCount} TCP connections`);
  if (tcp.timeWaitCount > tcp.config.maxTimeWait) throw new Error(`${tcp.timeWaitCount} in TIME_WAIT`);
  for (const t of tcp.connections()) {
    const rb = t.recvBuffer;
    if (rb.oooRanges > tcp.config.maxOooRanges || rb.oooBytes > tcp.config.maxOooBytes) throw new Error(`out-of-order queue ${rb.oooRanges} ranges, ${rb.oooBytes} bytes`);
    if (rb.readable > rb.capacity) throw new Error('receive buffer over capacity');
  }
}

function newHost() {
  const clock = new FakeClock(1_000_000);
  const errors: string[] = [];
  const stack = new Stack({ timers: clock.timers, ...LIMITS, tcp: TCP_LIMITS, events: { event() {}, error(title) { errors.push(title); } } });
  const dev = new CaptureDevice('tap0', US_MAC);
  stack.addInterface(dev, { address: US, prefixLength: 24 });
  stack.setDefaultGateway(PEER);
  stack.start();
  const tcp = stack.tcp;
  tcp.listen(0, 12345);
  const udp = createSocket(stack, 'udp4', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.bind(7);
  return { clock, stack, dev, tcp, errors };
}

/** Rewrite checksums of an Ethernet/IPv4 frame in place (IP header; TCP, UDP, ICMP). */
function repairChecksums(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00) return;
  const ihl = (f[14]! & 0x0f) * 4;
  if (ihl < 20 || 14 + ihl > f.length) return;
  f[24] = 0;
  f[25] = 0;
  const c = internetChecksum(f, 14, ihl);
  f[24] = c >>> 8;
  f[25] = c & 0xff;
  const total = Math.min((f[16]! << 8) | f[17]!, f.length - 14);
  const l4 = 14 + ihl;
  const len = total - ihl;
  if (len < 8 || ((f[20]! & 0x1f) | f[21]!) !== 0) return; // fragments keep theirs
  const proto = f[23]!;
  const src = ((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0;
  const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 ? 2 : -1;
  if (at < 0 || at + 2 > len) return;
  f[l4 + at] = 0;
  f[l4 + at + 1] = 0;
  const initial = proto === 1 ? 0 : pseudoHeaderSum(src, dst, proto, len);
  const s = ~fold16(sum16(f, l4, len, initial)) & 0xffff;
  f[l4 + at] = s >>> 8;
  f[l4 + at + 1] = s & 0xff;
}

/**
 * Frames from the input: [control, length, bytes...]*. Control bits: 1 Ethernet header to us
 * as IPv4, 2 addresses from the peer to us, 4 checksums repaired, 8 the clock moves on by
 * (control >> 4) * 100 ms first.
 */
export function fuzzStackInput(data: Buffer): void {
  const h = newHost();
  let i = 0;
  while (i + 2 <= data.length) {
    const control = data[i]!;
    const length = data[i + 1]! * 4;
    const frame = new Uint8Array(Math.max(14, Math.min(length, data.length - i - 2)));
    frame.set(data.subarray(i + 2, i + 2 + frame.length));
    i += 2 + length;
    if ((control & 8) !== 0) h.clock.advance((control >> 4) * 100);
    if ((control & 1) !== 0) {
      frame.set(US_MAC, 0);
      frame[12] = 0x08;
      frame[13] = 0x00;
      if (frame.length > 14) frame[14] = 0x45;
    }
    if ((control & 2) !== 0 && frame.length >= 34) {
      frame.set([192, 0, 2, 1, 192, 0, 2, 2], 26);
    }
    if ((control & 4) !== 0) repairChecksums(frame);
    h.dev.inject(frame);
    checkInvariants(h.stack, h.tcp, h.errors);
  }
  h.clock.advance(120_000);
  checkInvariants(h.stack, h.tcp, h.errors);
  h.stack.close();
}

/**
 * An established connection (peer port 40000, no options), then segments: each takes 12
 * input bytes [flags, seqDelta(2), ackDelta(2), window(2), dataLength, optionsLength,
 * advance, read, close] followed by its options and data bytes.
 */
export function fuzzTcpInput(data: Buffer): void {
  const errors: string[] = [];
  const p = new ScriptedPeer({ tcp: TCP_LIMITS, events: { event() {}, error(title) { errors.push(title); } } });
  p.tcp.listen(0, 80);
  p.send({ srcPort: 40000, dstPort: 80, seq: 1000, flags: F.SYN, options: [{ kind: 'MSS', value: 1000 }, { kind: 'SACK_PERMITTED' }, { kind: 'TS', tsVal: 1, tsEcr: 0 }, { kind: 'WS', shift: 2 }] });
  const synAck = p.take().find((s) => s.f === 'S.');
  if (synAck === undefined) throw new Error('no SYN-ACK');
  p.send({ srcPort: 40000, dstPort: 80, seq: 1001, ack: synAck.seq + 1, flags: F.ACK, options: [{ kind: 'NOP' }, { kind: 'NOP' }, { kind: 'TS', tsVal: 2, tsEcr: synAck.ts?.tsVal ?? 0 }] });
  const tcb = p.tcp.connections()[0]!;
  p.tcp.send(tcb, new Uint8Array(20_000));
  const sink = new Uint8Array(65536);
  let i = 0;
  while (i + 11 <= data.length) {
    const d = data.subarray(i, i + 11);
    const optLen = Math.min(d[8]! & 0x3f, 40) & ~3;
    const dataLen = d[7]! * 8;
    const opts = new Uint8Array(data.subarray(i + 11, i + 11 + optLen));
    const body = new Uint8Array(dataLen);
    body.set(data.subarray(i + 11 + optLen, i + 11 + optLen + dataLen));
    i += 11 + optLen + dataLen;
    const seqDelta = ((d[1]! << 8) | d[2]!) << 16 >> 16;
    const ackDelta = ((d[3]! << 8) | d[4]!) << 16 >> 16;
    const f = p.frame({ srcPort: 40000, dstPort: 80, seq: tcb.rcvNxt + seqDelta, ack: tcb.sndUna + ackDelta, flags: d[0]!, window: (d[5]! << 8) | d[6]!, data: body });
    if (optLen > 0) {
      // Raw option bytes: rebuild the frame with them in place of none.
      const g = new Uint8Array(f.length + optLen);
      g.set(f.subarray(0, 54));
      g.set(opts, 54);
      g.set(f.subarray(54), 54 + optLen);
      g[46] = (((20 + optLen) / 4) << 4) | (g[46]! & 0x0f);
      const total = g.length - 14;
      g[16] = total >>> 8;
      g[17] = total & 0xff;
      repairChecksums(g);
      p.dev.inject(g);
    } else {
      p.dev.inject(f);
    }
    if ((d[9]! & 3) === 1) p.advance((d[9]! >> 2) * 50);
    if ((d[10]! & 1) === 1 && tcb.user === null) p.tcp.read(tcb, sink);
    if (d[10]! === 0xff) p.tcp.close(tcb);
    p.dev.take();
    checkInvariants(p.stack, p.tcp, errors);
  }
  p.advance(200_000);
  checkInvariants(p.stack, p.tcp, errors);
  p.close();
}
