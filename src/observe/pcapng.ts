/**
 * pcapng (draft-ietf-opsawg-pcapng), the capture format tshark and Wireshark read live from a
 * pipe: a Section Header Block, one Interface Description Block per device (each with its own
 * link type), then an Enhanced
 * Packet Block per frame carrying the interface, a timestamp and the direction.
 *
 * Pure functions over Uint8Array, no I/O: the encoders write into a caller's buffer (the hot
 * path allocates nothing) or return a fresh block (headers, once per file), and parsePcapng
 * reads a capture back for tests and tools.
 *
 * Every block is little-endian: type, total length, body padded to 32 bits, total length again.
 */

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const LINKTYPE_ETHERNET = 1;
/** Raw IPv4/IPv6 without a link header: what the loopback device carries. */
export const LINKTYPE_RAW = 101;
export const LINKTYPE_IPV4 = 228;

/** epb_flags direction bits (the low two): 1 inbound, 2 outbound. */
export const DIRECTION_INBOUND = 1;
export const DIRECTION_OUTBOUND = 2;

const OPT_ENDOFOPT = 0;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_TSRESOL = 9;
const OPT_EPB_FLAGS = 2;

/** Bytes an EPB adds around the packet: 28 of header, 4 of trailing length, 12 of epb_flags + end. */
export const EPB_OVERHEAD = 28 + 4 + 12;

export interface PcapngInterface {
  /** Device name, written as if_name (tap0, lo). */
  name: string;
  linkType: number;
  snapLength?: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;
const utf8 = new TextEncoder();

/** Options as (code, value) pairs, each padded, followed by opt_endofopt. */
function encodeOptions(options: ReadonlyArray<[number, Uint8Array]>): Uint8Array {
  let size = 4;
  for (const [, value] of options) size += 4 + pad4(value.length);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  for (const [code, value] of options) {
    v.setUint16(at, code, true);
    v.setUint16(at + 2, value.length, true);
    out.set(value, at + 4);
    at += 4 + pad4(value.length);
  }
  v.setUint16(at, OPT_ENDOFOPT, true);
  v.setUint16(at + 2, 0, true);
  return out;
}

function block(type: number, fixed: Uint8Array, options: Uint8Array): Uint8Array {
  const total = 12 + fixed.length + options.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  out.set(fixed, 8);
  out.set(options, 8 + fixed.length);
  v.setUint32(total - 4, total, true);
  return out;
}

/** A Section Header Block (version 1.0, section length unknown), naming the writing program. */
export function encodeSectionHeader(application = 'pstack'): Uint8Array {
  const fixed = new Uint8Array(16);
  const v = new DataView(fixed.buffer);
  v.setUint32(0, BYTE_ORDER_MAGIC, true);
  v.setUint16(4, 1, true);
  v.setUint16(6, 0, true);
  v.setInt32(8, -1, true); // section length: not known in advance (a stream)
  v.setInt32(12, -1, true);
  return block(BLOCK_SHB, fixed, encodeOptions([[OPT_SHB_USERAPPL, utf8.encode(application)]]));
}

/** An Interface Description Block; timestamps in this file are in microseconds (if_tsresol 6). */
export function encodeInterfaceDescription(iface: PcapngInterface): Uint8Array {
  const fixed = new Uint8Array(8);
  const v = new DataView(fixed.buffer);
  v.setUint16(0, iface.linkType, true);
  v.setUint16(2, 0, true);
  v.setUint32(4, iface.snapLength ?? 0, true); // 0: no limit
  return block(BLOCK_IDB, fixed, encodeOptions([
    [OPT_IF_NAME, utf8.encode(iface.name)],
    [OPT_IF_TSRESOL, Uint8Array.of(6)],
  ]));
}

/** The SHB followed by one IDB per interface, in order (interface ids are the indexes). */
export function encodeCaptureHeader(interfaces: readonly PcapngInterface[], application?: string): Uint8Array {
  const parts = [encodeSectionHeader(application), ...interfaces.map(encodeInterfaceDescription)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Size of the EPB for a packet of `captured` bytes. */
export function enhancedPacketSize(captured: number): number {
  return EPB_OVERHEAD + pad4(captured);
}

/**
 * Write an Enhanced Packet Block into `out` at `at` and return the bytes written (see
 * enhancedPacketSize: the caller makes room). `timestampUs` is microseconds since the epoch;
 * `direction` DIRECTION_INBOUND, DIRECTION_OUTBOUND or 0 (unknown). `originalLength` may exceed
 * `length` when the packet was cut to a snap length.
 */
export function encodeEnhancedPacket(
  out: Uint8Array, at: number,
  interfaceId: number, timestampUs: number, direction: number,
  packet: Uint8Array, offset: number, length: number, originalLength = length,
): number {
  return encodeEpb(out, at, interfaceId, timestampUs, direction, packet, offset, length, originalLength, false);
}

/** Bytes of the Ethernet header a raw IP packet gets in a file (see encodeRawIpAsEthernet). */
export const LOOPBACK_ETHERNET_HEADER = 14;

/**
 * A raw IP packet (pstack's loopback) written as Linux's own loopback shows in a capture: an
 * Ethernet header with zero addresses and the EtherType of the IP version, so every interface
 * of the file is Ethernet. libpcap (tcpdump) reads a pcapng file only when all its interfaces
 * share one link type. Size: enhancedPacketSize(length + LOOPBACK_ETHERNET_HEADER).
 */
export function encodeRawIpAsEthernet(
  out: Uint8Array, at: number,
  interfaceId: number, timestampUs: number, direction: number,
  packet: Uint8Array, offset: number, length: number, originalLength = length,
): number {
  return encodeEpb(out, at, interfaceId, timestampUs, direction, packet, offset, length, originalLength, true);
}

function encodeEpb(
  out: Uint8Array, at: number,
  interfaceId: number, timestampUs: number, direction: number,
  packet: Uint8Array, offset: number, length: number, originalLength: number, ethernet: boolean,
): number {
  const head = ethernet ? LOOPBACK_ETHERNET_HEADER : 0;
  const captured = length + head;
  const total = EPB_OVERHEAD + pad4(captured);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const high = Math.floor(timestampUs / 4294967296);
  v.setUint32(at, BLOCK_EPB, true);
  v.setUint32(at + 4, total, true);
  v.setUint32(at + 8, interfaceId, true);
  v.setUint32(at + 12, high >>> 0, true);
  v.setUint32(at + 16, (timestampUs - high * 4294967296) >>> 0, true);
  v.setUint32(at + 20, captured, true);
  v.setUint32(at + 24, originalLength + head, true);
  if (ethernet) {
    out.fill(0, at + 28, at + 40);
    const version = length > 0 ? packet[offset]! >> 4 : 4;
    v.setUint16(at + 40, version === 6 ? 0x86dd : 0x0800, false);
  }
  out.set(packet.subarray(offset, offset + length), at + 28 + head);
  let p = at + 28 + captured;
  const padded = at + 28 + pad4(captured);
  while (p < padded) out[p++] = 0;
  v.setUint16(p, OPT_EPB_FLAGS, true);
  v.setUint16(p + 2, 4, true);
  v.setUint32(p + 4, direction & 3, true);
  v.setUint32(p + 8, 0, true); // opt_endofopt
  v.setUint32(p + 12, total, true);
  return total;
}

// ------------------------------------------------------------------------------ reading

export interface PcapngPacket {
  interfaceId: number;
  /** Microseconds since the epoch (converted from the interface's if_tsresol). */
  timestampUs: number;
  /** DIRECTION_INBOUND, DIRECTION_OUTBOUND or 0. */
  direction: number;
  originalLength: number;
  data: Uint8Array;
}

export interface PcapngFile {
  application: string | null;
  interfaces: Array<PcapngInterface & { tsresol: number }>;
  packets: PcapngPacket[];
}

function readOptions(bytes: Uint8Array, v: DataView, at: number, end: number, little: boolean): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  while (at + 4 <= end) {
    const code = v.getUint16(at, little);
    const len = v.getUint16(at + 2, little);
    if (code === OPT_ENDOFOPT) break;
    if (at + 4 + len > end) throw new Error(`pcapng: option ${code} runs past its block`);
    out.set(code, bytes.subarray(at + 4, at + 4 + len));
    at += 4 + pad4(len);
  }
  return out;
}

/**
 * Read a pcapng capture (one section, either byte order; blocks other than SHB, IDB and EPB
 * are skipped). Throws on malformed input; a partial last block (a stream cut short) too.
 */
export function parsePcapng(bytes: Uint8Array): PcapngFile {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  if (bytes.length < 28 || v.getUint32(0, true) !== BLOCK_SHB) throw new Error('pcapng: no Section Header Block at the start');
  let little: boolean;
  if (v.getUint32(8, true) === BYTE_ORDER_MAGIC) little = true;
  else if (v.getUint32(8, false) === BYTE_ORDER_MAGIC) little = false;
  else throw new Error('pcapng: bad byte-order magic');
  const file: PcapngFile = { application: null, interfaces: [], packets: [] };
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`pcapng: truncated block header at byte ${at}`);
    const type = v.getUint32(at, little);
    const total = v.getUint32(at + 4, little);
    if (total < 12 || total % 4 !== 0) throw new Error(`pcapng: bad block length ${total} at byte ${at}`);
    if (at + total > bytes.length) throw new Error(`pcapng: truncated block at byte ${at}`);
    if (v.getUint32(at + total - 4, little) !== total) throw new Error(`pcapng: trailing length differs at byte ${at}`);
    const end = at + total - 4;
    if (type === BLOCK_SHB) {
      const opts = readOptions(bytes, v, at + 24, end, little);
      const app = opts.get(OPT_SHB_USERAPPL);
      file.application = app !== undefined ? text.decode(app) : null;
    } else if (type === BLOCK_IDB) {
      const opts = readOptions(bytes, v, at + 16, end, little);
      const name = opts.get(OPT_IF_NAME);
      const tsresol = opts.get(OPT_IF_TSRESOL)?.[0] ?? 6;
      file.interfaces.push({ linkType: v.getUint16(at + 8, little), snapLength: v.getUint32(at + 12, little), name: name !== undefined ? text.decode(name) : '', tsresol });
    } else if (type === BLOCK_EPB) {
      const interfaceId = v.getUint32(at + 8, little);
      const iface = file.interfaces[interfaceId];
      if (iface === undefined) throw new Error(`pcapng: packet for undescribed interface ${interfaceId}`);
      const ticks = v.getUint32(at + 12, little) * 4294967296 + v.getUint32(at + 16, little);
      const captured = v.getUint32(at + 20, little);
      if (at + 28 + captured > end) throw new Error(`pcapng: packet data runs past its block at byte ${at}`);
      const opts = readOptions(bytes, v, at + 28 + pad4(captured), end, little);
      const flags = opts.get(OPT_EPB_FLAGS);
      const r = iface.tsresol;
      const perSecond = (r & 0x80) !== 0 ? 2 ** (r & 0x7f) : 10 ** r;
      file.packets.push({
        interfaceId,
        timestampUs: perSecond === 1e6 ? ticks : Math.round(ticks / (perSecond / 1e6)),
        direction: flags !== undefined && flags.length >= 4 ? new DataView(flags.buffer, flags.byteOffset, 4).getUint32(0, little) & 3 : 0,
        originalLength: v.getUint32(at + 24, little),
        data: bytes.subarray(at + 28, at + 28 + captured),
      });
    }
    at += total;
  }
  return file;
}
