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
