/**
 * A streaming reader of capture files: classic pcap (either byte order, microsecond and
 * nanosecond magics) and pcapng (section headers of either byte order, interface descriptions
 * with their link type and if_tsresol, enhanced and simple packet blocks; other blocks are
 * skipped). Pure over Uint8Array chunks: the caller feeds the file in pieces with push() and
 * says end(); each packet is handed to the sink as a view valid only during the call.
 *
 * Memory is bounded whatever the file size: only an incomplete record is kept between chunks,
 * and a record longer than MAX_RECORD_LENGTH is treated as corruption. Nothing here throws on
 * bad input: problems become notes ("skipped 3 records: truncated at byte 1234") and reading
 * stops where continuing would only produce garbage.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Larger records (or pcapng blocks) are taken as a corrupt length, not data. */
export const MAX_RECORD_LENGTH = 16 * 1024 * 1024;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_IDB = 1;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;

/** What the reader hands on per packet. `data` is only valid during the call. */
export interface CapturePacketSink {
  (linkType: number, timeSeconds: number, data: Uint8Array, originalLength: number): void;
}

interface Interface {
  linkType: number;
  /** Seconds per timestamp unit. */
  unit: number;
  snapLength: number;
}

type Format = 'unknown' | 'pcap' | 'pcapng' | 'stopped';

export class CaptureReader {
  /** Packets handed to the sink. */
  packets = 0;
  /** Bytes consumed so far (the offset of the next unread byte in the file). */
  position = 0;
  format: Format = 'unknown';
  private readonly problems = new Map<string, { count: number; firstAt: number }>();
  private pending: Uint8Array = new Uint8Array(0);
  private little = true;
  private pcapLinkType = 0;
  private pcapUnit = 1e-6;
  private interfaces: Interface[] = [];
  private skippedBlocks = 0;
  /** Simple packet blocks carry no timestamp: they get the previous packet's. */
  private lastTime = 0;

  constructor(private readonly sink: CapturePacketSink) {}

  /** The format, once known: 'pcap', 'pcapng', or 'unknown' before the first bytes. */
  get kind(): string { return this.format; }

  /** Feed the next piece of the file. */
  push(chunk: Uint8Array): void {
    if (this.format === 'stopped') return;
    let buf: Uint8Array;
    if (this.pending.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    const used = this.consume(buf);
    // Keep only the incomplete tail; copy it so the caller may reuse its chunk buffer.
    this.pending = used >= buf.length ? new Uint8Array(0) : buf.slice(used);
  }

  /** The file ended: whatever is left over is a truncated record. */
  end(): void {
    if (this.format === 'unknown' && this.pending.length === 0 && this.position === 0) {
      this.note('empty file', 0);
    } else if (this.format === 'unknown') {
      this.note('not a pcap or pcapng file (too short)', 0);
    } else if (this.format !== 'stopped' && this.pending.length > 0) {
      this.note(`truncated at byte ${this.position}`, this.position);
    }
    this.pending = new Uint8Array(0);
    if (this.format !== 'stopped') this.format = 'stopped';
  }

  /** Human-readable notes about everything skipped, in first-seen order. */
  notes(): string[] {
    const out: string[] = [];
    for (const [what, p] of this.problems) {
      // Problems with the file as a whole are said as they are; the rest cost records.
      if (/^(empty|not a)/.test(what)) out.push(what);
      else out.push(p.count === 1 ? `skipped 1 record: ${what}` : `skipped ${p.count} records: ${what} (first at byte ${p.firstAt})`);
    }
    if (this.skippedBlocks > 0) out.push(`ignored ${this.skippedBlocks} pcapng blocks of other types`);
    return out;
  }

  private note(what: string, at: number): void {
    const p = this.problems.get(what);
    if (p) p.count++;
    else if (this.problems.size < 64) this.problems.set(what, { count: 1, firstAt: at });
  }

  private stop(what: string, at: number): number {
    this.note(what, at);
    this.format = 'stopped';
    return Number.MAX_SAFE_INTEGER;
  }

  /** Parse what `buf` holds; returns how many bytes were used (the rest waits for more). */
  private consume(buf: Uint8Array): number {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    if (this.format === 'unknown') {
      if (buf.length < 4) return 0;
      const magicBig = view.getUint32(0, false);
      if (magicBig === PCAPNG_SHB) this.format = 'pcapng';
      else {
        if (buf.length < 24) return 0;
        const le = view.getUint32(0, true);
        if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) this.little = true;
        else if (magicBig === PCAP_MAGIC_US || magicBig === PCAP_MAGIC_NS) this.little = false;
        else { this.stop(`not a pcap or pcapng file (magic 0x${magicBig.toString(16).padStart(8, '0')})`, 0); return buf.length; }
        const magic = view.getUint32(0, this.little);
        this.pcapUnit = magic === PCAP_MAGIC_NS ? 1e-9 : 1e-6;
        this.pcapLinkType = view.getUint32(20, this.little) & 0x0fffffff; // high bits: FCS info
        this.format = 'pcap';
        at = 24;
        this.position += 24;
      }
    }
    if (this.format === 'pcap') return this.consumePcap(buf, view, at);
    if (this.format === 'pcapng') return this.consumePcapng(buf, view, at);
    return buf.length;
  }

  private consumePcap(buf: Uint8Array, view: DataView, start: number): number {
    let at = start;
    const little = this.little;
    while (at + 16 <= buf.length) {
      const seconds = view.getUint32(at, little);
      const fraction = view.getUint32(at + 4, little);
      const included = view.getUint32(at + 8, little);
      const original = view.getUint32(at + 12, little);
      if (included > MAX_RECORD_LENGTH) {
        // A classic pcap has no markers to resync on: everything after a bad length is noise.
        this.stop(`corrupt record length ${included} at byte ${this.position}; stopped reading`, this.position);
        return buf.length;
      }
      if (at + 16 + included > buf.length) break;
      this.sink(this.pcapLinkType, seconds + fraction * this.pcapUnit, buf.subarray(at + 16, at + 16 + included), original);
      this.packets++;
      at += 16 + included;
      this.position += 16 + included;
    }
    return at;
  }

  private consumePcapng(buf: Uint8Array, view: DataView, start: number): number {
    let at = start;
    while (at + 12 <= buf.length) {
      let type = view.getUint32(at, this.little);
      if (view.getUint32(at, false) === PCAPNG_SHB) {
        // A section header fixes the byte order of everything up to the next one.
        const bom = view.getUint32(at + 8, true);
        if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.little = true;
        else if (bom === 0x4d3c2b1a) this.little = false;
        else { this.stop(`bad pcapng byte-order magic at byte ${this.position}; stopped reading`, this.position); return buf.length; }
        type = PCAPNG_SHB;
      }
      const length = view.getUint32(at + 4, this.little);
      if (length < 12 || length % 4 !== 0 || length > MAX_RECORD_LENGTH) {
        this.stop(`bad pcapng block length ${length} at byte ${this.position}; stopped reading`, this.position);
        return buf.length;
      }
      if (at + length > buf.length) break;
      const trailer = view.getUint32(at + length - 4, this.little);
      if (trailer !== length) {
        this.stop(`pcapng block lengths disagree (${length} and ${trailer}) at byte ${this.position}; stopped reading`, this.position);
        return buf.length;
      }
      this.block(type, buf, view, at, length);
      at += length;
      this.position += length;
    }
    return at;
  }

  private block(type: number, buf: Uint8Array, view: DataView, at: number, length: number): void {
    const little = this.little;
    const bodyEnd = at + length - 4;
    switch (type) {
      case PCAPNG_SHB:
        this.interfaces = [];
        return;
      case BLOCK_IDB: {
        if (length < 20) { this.note(`short interface description at byte ${this.position}`, this.position); this.interfaces.push({ linkType: -1, unit: 1e-6, snapLength: 0 }); return; }
        const iface: Interface = { linkType: view.getUint16(at + 8, little), unit: 1e-6, snapLength: view.getUint32(at + 12, little) };
        // Options: if_tsresol (code 9) sets the timestamp unit.
        let o = at + 16;
        while (o + 4 <= bodyEnd) {
          const code = view.getUint16(o, little);
          const len = view.getUint16(o + 2, little);
          if (code === 0 || o + 4 + len > bodyEnd) break;
          if (code === 9 && len >= 1) {
            const r = buf[o + 4]!;
            iface.unit = r & 0x80 ? Math.pow(2, -(r & 0x7f)) : Math.pow(10, -(r & 0x7f));
          }
          o += 4 + ((len + 3) & ~3);
        }
        if (this.interfaces.length < 65536) this.interfaces.push(iface);
        return;
      }
      case BLOCK_EPB: {
        if (length < 32) { this.note(`short enhanced packet block at byte ${this.position}`, this.position); return; }
        const id = view.getUint32(at + 8, little);
        const iface = this.interfaces[id];
        if (iface === undefined || iface.linkType < 0) { this.note(`packet on undescribed interface ${id}`, this.position); return; }
        const high = view.getUint32(at + 12, little);
        const low = view.getUint32(at + 16, little);
        const captured = view.getUint32(at + 20, little);
        const original = view.getUint32(at + 24, little);
        if (at + 28 + captured > bodyEnd) { this.note(`packet longer than its block at byte ${this.position}`, this.position); return; }
        this.lastTime = (high * 4294967296 + low) * iface.unit;
        this.sink(iface.linkType, this.lastTime, buf.subarray(at + 28, at + 28 + captured), original);
        this.packets++;
        return;
      }
      case BLOCK_SPB: {
        const iface = this.interfaces[0];
        if (iface === undefined || iface.linkType < 0 || length < 16) { this.note(`simple packet block without an interface at byte ${this.position}`, this.position); return; }
        const original = view.getUint32(at + 8, little);
        const captured = Math.min(original, length - 16, iface.snapLength > 0 ? iface.snapLength : original);
        this.sink(iface.linkType, this.lastTime, buf.subarray(at + 12, at + 12 + captured), original);
        this.packets++;
        return;
      }
      default:
        this.skippedBlocks++;
    }
  }
}
