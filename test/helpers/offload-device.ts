// A device wrapper for pure tests that offers what a TAP with offloads offers (checksum
// completion and TSO, IPv4 and IPv6), doing in software what the Linux kernel does with the virtio header:
// completes partial checksums and cuts large TCP segments into gsoSize pieces, then passes
// plain frames to the wrapped device. Checks every request on the way, so a wrong offset or
// size fails the test instead of producing quietly wrong frames.
import type { Device, DeviceCounters, DeviceOffloads, DeviceType, FrameReceiver } from '../../src/link/device.js';
import { fold16, sum16 } from '../../src/wire/checksum.js';

const ETH = 14;

export class SoftwareOffloadDevice implements Device {
  readonly offloads: DeviceOffloads;
  /** Segments handed over with a gsoSize (cut up here). */
  gsoSegments = 0;
  /** ... of which IPv6. */
  gsoSegments6 = 0;
  /** Frames handed over with a partial checksum (gso or not). */
  partialChecksums = 0;
  /** Pieces produced by cutting up gso segments. */
  piecesOut = 0;
  /** Largest frame the stack handed over. */
  largestFrame = 0;
  /** Requests that made no sense (bad offsets, gso without a partial checksum, ...). */
  readonly errors: string[] = [];
  private receiver: FrameReceiver | null = null;

  /** `enabled` false: offers no offloads, and any request for one is an error. */
  constructor(readonly inner: Device, readonly enabled = true) {
    this.offloads = enabled ? { txChecksum: true, tsoMaxBytes: 65535, tso6MaxBytes: 65535 } : { txChecksum: false, tsoMaxBytes: 0, tso6MaxBytes: 0 };
  }

  get name(): string { return this.inner.name; }
  get type(): DeviceType { return this.inner.type; }
  get mac(): Uint8Array { return this.inner.mac; }
  get mtu(): number { return this.inner.mtu; }
  get counters(): DeviceCounters { return this.inner.counters; }

  open(receiver: FrameReceiver): void {
    this.receiver = receiver;
    this.inner.open({
      receiveFrame: (_d, frame, rxFlags) => this.receiver?.receiveFrame(this, frame, rxFlags),
      endBatch: () => this.receiver?.endBatch(this),
    });
  }

  send(frame: Uint8Array, gsoSize = 0, csumStart = 0, csumOffset = 0): void {
    if (frame.length > this.largestFrame) this.largestFrame = frame.length;
    if (csumStart === 0) {
      if (gsoSize !== 0) this.errors.push('gso without a partial checksum');
      if (frame.length > this.mtu + ETH) this.errors.push(`plain frame of ${frame.length} bytes exceeds the MTU`);
      this.inner.send(frame);
      return;
    }
    this.partialChecksums++;
    if (!this.enabled) this.errors.push('offload requested from a device that offers none');
    const v6 = frame[12] === 0x86 && frame[13] === 0xdd;
    if (v6 !== (frame[ETH]! >>> 4 === 6)) this.errors.push('EtherType and IP version disagree');
    const ipHeader = v6 ? 40 : (frame[ETH]! & 0x0f) << 2;
    if (csumStart !== ETH + ipHeader) this.errors.push(`csumStart ${csumStart} is not the transport header (${ETH + ipHeader})`);
    const f = frame.slice();
    const tcpHeader = (f[csumStart + 12]! >> 4) << 2;
    const headers = csumStart + tcpHeader;
    if (gsoSize === 0 || f.length <= headers + gsoSize) {
      if (f.length > this.mtu + ETH) this.errors.push(`frame of ${f.length} bytes without gso exceeds the MTU`);
      complete(f, csumStart, csumOffset);
      this.inner.send(f);
      return;
    }
    if (csumOffset !== 16) this.errors.push(`gso segment with csumOffset ${csumOffset}, not TCP's 16`);
    if (headers - ETH + gsoSize > this.mtu) this.errors.push(`gsoSize ${gsoSize} makes pieces larger than the MTU`);
    if (f.length - ETH > (v6 ? this.offloads.tso6MaxBytes : this.offloads.tsoMaxBytes)) this.errors.push(`gso segment of ${f.length - ETH} bytes exceeds the limit`);
    this.gsoSegments++;
    if (v6) this.gsoSegments6++;
    const wanted = pseudoSum(f, v6, f.length - csumStart);
    const field = (f[csumStart + 16]! << 8) | f[csumStart + 17]!;
    if (field !== wanted) this.errors.push(`partial checksum field ${field.toString(16)} is not the pseudo-header sum ${wanted.toString(16)}`);
    // As the kernel's tcp_gso_segment: same headers on every piece, sequence numbers advanced,
    // FIN and PSH only on the last, IP total length, id and checksum per piece.
    const seq0 = readU32(f, csumStart + 4);
    const id0 = (f[ETH + 4]! << 8) | f[ETH + 5]!;
    const flags = f[csumStart + 13]!;
    let n = 0;
    for (let at = headers; at < f.length; at += gsoSize, n++) {
      const len = Math.min(gsoSize, f.length - at);
      const piece = new Uint8Array(headers + len);
      piece.set(f.subarray(0, headers), 0);
      piece.set(f.subarray(at, at + len), headers);
      const last = at + len >= f.length;
      writeU32(piece, csumStart + 4, (seq0 + (at - headers)) >>> 0);
      piece[csumStart + 13] = last ? flags : flags & ~0x09; // FIN 0x01, PSH 0x08
      if (v6) {
        // IPv6 (tcp6_gso_segment): only the payload length changes; no id, no header checksum.
        const payload = piece.length - ETH - 40;
        piece[ETH + 4] = payload >>> 8; piece[ETH + 5] = payload & 0xff;
      } else {
        const total = piece.length - ETH;
        piece[ETH + 2] = total >>> 8; piece[ETH + 3] = total & 0xff;
        const id = (id0 + n) & 0xffff;
        piece[ETH + 4] = id >>> 8; piece[ETH + 5] = id & 0xff;
        piece[ETH + 10] = 0; piece[ETH + 11] = 0;
        const ipSum = ~fold16(sum16(piece, ETH, ipHeader)) & 0xffff;
        piece[ETH + 10] = ipSum >>> 8; piece[ETH + 11] = ipSum & 0xff;
      }
      // The pseudo-header sum in the field was for the whole segment's length: redo it for the piece.
      const pseudo = pseudoSum(piece, v6, piece.length - csumStart);
      piece[csumStart + 16] = pseudo >>> 8; piece[csumStart + 17] = pseudo & 0xff;
      complete(piece, csumStart, 16);
      this.piecesOut++;
      this.inner.send(piece);
    }
  }

  close(): void {
    this.receiver = null;
    this.inner.close();
  }
}

/** What a NIC does for CHECKSUM_PARTIAL: sum from csumStart to the end, store at csumStart+csumOffset. */
function complete(f: Uint8Array, csumStart: number, csumOffset: number): void {
  const csum = ~fold16(sum16(f, csumStart, f.length - csumStart)) & 0xffff;
  f[csumStart + csumOffset] = csum >>> 8;
  f[csumStart + csumOffset + 1] = csum & 0xff;
}

/** The TCP pseudo-header sum (RFC 793 / RFC 8200 8.1) of the frame's addresses and `tcpLen`, folded. */
function pseudoSum(f: Uint8Array, v6: boolean, tcpLen: number): number {
  const at = v6 ? ETH + 8 : ETH + 12;
  const words = v6 ? 16 : 4;
  let sum = 6 + (tcpLen >>> 16) + (tcpLen & 0xffff);
  for (let i = 0; i < words * 2; i += 2) sum += (f[at + i]! << 8) | f[at + i + 1]!;
  return fold16(sum);
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}
