/**
 * IPv4 options (RFC 791 section 3.1): a safe walker that never reads past the header, and the
 * Record Route option that `ping -R` uses.
 */

import { readIpv4, writeIpv4, type Ipv4Address } from './addr.js';

export const Ipv4OptionType = {
  EOL: 0,
  NOP: 1,
  RR: 7,
  TS: 68,
  LSRR: 131,
  SSRR: 137,
  RA: 148,
} as const;

export function ipv4OptionName(type: number): string {
  switch (type) {
    case 0: return 'EOL';
    case 1: return 'NOP';
    case 7: return 'RR';
    case 68: return 'TS';
    case 131: return 'LSRR';
    case 137: return 'SSRR';
    case 148: return 'RA';
    case 130: return 'SEC';
    default: return `opt-${type}`;
  }
}

export interface Ipv4Option {
  type: number;
  /** Absolute offset of the option's type byte in the buffer. */
  offset: number;
  /** Whole option length including type (and length byte, if any). */
  length: number;
}

export interface Ipv4OptionsResult {
  options: Ipv4Option[];
  /** null when well formed; otherwise a reason and the absolute offset of the bad byte. */
  error: string | null;
  errorOffset: number;
}

/**
 * Walk the options in buf[offset, offset+length). Stops at EOL. An option whose length byte
 * is missing, below 2 or past the end of the header is an error (answered with Parameter
 * Problem by the stack), never a read out of bounds.
 */
export function walkIpv4Options(buf: Uint8Array, offset: number, length: number): Ipv4OptionsResult {
  const options: Ipv4Option[] = [];
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const type = buf[i]!;
    if (type === Ipv4OptionType.EOL) {
      options.push({ type, offset: i, length: 1 });
      break;
    }
    if (type === Ipv4OptionType.NOP) {
      options.push({ type, offset: i, length: 1 });
      i++;
      continue;
    }
    if (i + 1 >= end) return { options, error: 'option-truncated', errorOffset: i };
    const len = buf[i + 1]!;
    if (len < 2 || i + len > end) return { options, error: 'bad-option-length', errorOffset: i + 1 };
    options.push({ type, offset: i, length: len });
    i += len;
  }
  return { options, error: null, errorOffset: 0 };
}

export interface RecordRoute {
  /** Absolute offset of the option's type byte. */
  offset: number;
  length: number;
  /** The pointer field as on the wire: 1-based, from the option start; 4 means empty. */
  pointer: number;
  recorded: Ipv4Address[];
}

/** Decode a Record Route (or source route) option found by the walker; null if malformed. */
export function readRecordRoute(buf: Uint8Array, option: Ipv4Option): RecordRoute | null {
  if (option.length < 3) return null;
  const pointer = buf[option.offset + 2]!;
  if (pointer < 4) return null;
  const recorded: Ipv4Address[] = [];
  // Slots before the pointer hold recorded addresses; a pointer past the end means "full".
  for (let p = 4; p + 3 < pointer && p + 3 <= option.length; p += 4) {
    recorded.push(readIpv4(buf, option.offset + p - 1));
  }
  return { offset: option.offset, length: option.length, pointer, recorded };
}

/**
 * Record `addr` in a Record Route option in place, per RFC 791: if the pointer is within the
 * option, write at pointer-1 and advance it by 4; if the option is full, leave it alone.
 * Returns whether an address was recorded. The caller refreshes the header checksum.
 */
export function recordRouteAppend(buf: Uint8Array, option: Ipv4Option, addr: Ipv4Address): boolean {
  const pointer = buf[option.offset + 2]!;
  if (pointer < 4 || pointer + 3 > option.length) return false;
  writeIpv4(buf, option.offset + pointer - 1, addr);
  buf[option.offset + 2] = pointer + 4;
  return true;
}

/** Build an empty Record Route option with room for `slots` addresses (max 9), padded to 4. */
export function buildRecordRouteOption(slots = 9): Uint8Array {
  const len = 3 + 4 * slots;
  const padded = (len + 3) & ~3;
  const opt = new Uint8Array(padded); // trailing bytes stay 0 = EOL
  opt[0] = Ipv4OptionType.RR;
  opt[1] = len;
  opt[2] = 4;
  return opt;
}

/** Options that must be copied into every fragment have the copied flag (bit 7) set. */
export function isCopiedOption(type: number): boolean {
  return (type & 0x80) !== 0;
}

/** What a host checks in received options before it acts on them (see checkIpv4Options). */
export interface Ipv4OptionsCheck {
  /** null when acceptable; otherwise the reason, answered with Parameter Problem. */
  error: string | null;
  /** Absolute offset of the byte the Parameter Problem points at. */
  errorOffset: number;
  rr: Ipv4Option | null;
  ts: Ipv4Option | null;
  /** A loose or strict source route option (LSRR/SSRR). */
  sourceRoute: Ipv4Option | null;
  routerAlert: Ipv4Option | null;
}

/**
 * Walk the options (as walkIpv4Options) and check the ones a host interprets the way Linux's
 * ip_options_compile does on input, so malformed ones get Parameter Problem instead of being
 * echoed or half-used: Record Route and source routes need a length of at least 3 and a
 * pointer of at least 4, and a pointer inside the option must leave room for a whole address;
 * Timestamp needs a length of at least 4, a pointer of at least 5, room for its entry when the
 * pointer is inside, and an overflow counter below 15 when it is full; Router Alert needs a
 * length of 4; RR, TS and source routes may each appear once. The pointer of the answer names
 * the offending byte (the length byte for a bad length, as walkIpv4Options does).
 */
export function checkIpv4Options(buf: Uint8Array, offset: number, length: number): Ipv4OptionsCheck {
  const walk = walkIpv4Options(buf, offset, length);
  const out: Ipv4OptionsCheck = { error: walk.error, errorOffset: walk.errorOffset, rr: null, ts: null, sourceRoute: null, routerAlert: null };
  if (walk.error !== null) return out;
  const fail = (reason: string, at: number): Ipv4OptionsCheck => {
    out.error = reason;
    out.errorOffset = at;
    return out;
  };
  for (const o of walk.options) {
    const at = o.offset;
    const len = o.length;
    switch (o.type) {
      case Ipv4OptionType.LSRR:
      case Ipv4OptionType.SSRR:
      case Ipv4OptionType.RR: {
        const isRr = o.type === Ipv4OptionType.RR;
        if ((isRr ? out.rr : out.sourceRoute) !== null) return fail('duplicate-option', at);
        if (len < 3) return fail('bad-option-length', at + 1);
        const ptr = buf[at + 2]!;
        if (ptr < 4) return fail('bad-option-pointer', at + 2);
        if (isRr && ptr <= len && ptr + 3 > len) return fail('bad-option-pointer', at + 2);
        if (isRr) out.rr = o;
        else out.sourceRoute = o;
        break;
      }
      case Ipv4OptionType.TS: {
        if (out.ts !== null) return fail('duplicate-option', at);
        if (len < 4) return fail('bad-option-length', at + 1);
        const ptr = buf[at + 2]!;
        const flags = buf[at + 3]! & 0x0f;
        if (ptr < 5) return fail('bad-option-pointer', at + 2);
        if (ptr <= len) {
          if (ptr + 3 > len) return fail('bad-option-pointer', at + 2);
          if ((flags === 1 || flags === 3) && ptr + 7 > len) return fail('bad-option-pointer', at + 2);
        } else if (flags !== 3 && buf[at + 3]! >>> 4 === 15) {
          return fail('timestamp-overflow', at + 3);
        }
        out.ts = o;
        break;
      }
      case Ipv4OptionType.RA:
        if (len < 4) return fail('bad-option-length', at + 1);
        out.routerAlert = o;
        break;
      default:
        break;
    }
  }
  return out;
}

/** Milliseconds since midnight UT, the value the Timestamp option carries (RFC 791). */
export function timestampNow(nowMs = Date.now()): number {
  return nowMs % 86_400_000;
}

/**
 * Make this host's entry in a Timestamp option (RFC 791 3.1) in place: flag 0 records a
 * timestamp, flag 1 our address and a timestamp, flag 3 a timestamp only where the next
 * prespecified address is ours. A full option has its overflow counter incremented when
 * `countOverflow` (on arrival, not again on the reply's departure, as Linux). Returns whether
 * the option changed; the caller refreshes the header checksum. Assumes checkIpv4Options passed.
 */
export function timestampAppend(buf: Uint8Array, option: Ipv4Option, addr: Ipv4Address, time: number, countOverflow: boolean): boolean {
  const at = option.offset;
  const len = option.length;
  if (len < 4) return false;
  const ptr = buf[at + 2]!;
  const flags = buf[at + 3]! & 0x0f;
  if (ptr < 5) return false;
  const roomFor = flags === 1 || flags === 3 ? 8 : 4;
  if (ptr + roomFor - 1 > len) {
    const overflow = buf[at + 3]! >>> 4;
    if (!countOverflow || flags === 3 || overflow === 15) return false;
    buf[at + 3] = ((overflow + 1) << 4) | flags;
    return true;
  }
  if (flags === 0) {
    writeIpv4(buf, at + ptr - 1, time >>> 0);
  } else if (flags === 1) {
    writeIpv4(buf, at + ptr - 1, addr);
    writeIpv4(buf, at + ptr + 3, time >>> 0);
  } else if (flags === 3) {
    if (readIpv4(buf, at + ptr - 1) !== addr) return false;
    writeIpv4(buf, at + ptr + 3, time >>> 0);
  } else {
    return false;
  }
  buf[at + 2] = ptr + roomFor;
  return true;
}
