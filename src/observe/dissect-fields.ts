/**
 * What every dissector in observe/ shares: the block and option types, and the helpers that
 * lay fields out as the old pstack's log did (label column, hex payloads, checksum verdicts).
 */

import { fold16, pseudoHeaderSum, pseudoHeaderSum6 } from '../wire/checksum.js';
import { hexByteLines } from './hexdump.js';
import { hex } from './bounds.js';

export type Direction = 'incoming' | 'outgoing';
/** What the first byte of a frame is: an Ethernet header (TAP) or an IP header (loopback, raw; IPv4 or IPv6 by its version nibble). */
export type LinkType = 'ethernet' | 'ip';

/** One log entry's worth: the title and its detail lines, one string per physical line. */
export interface DissectionBlock {
  title: string;
  lines: string[];
  /** Set when this layer could not be decoded; dissection stops after this block. */
  malformed?: string;
  /**
   * Where the bytes behind the lines are (for fields.ts, which shows a field's bytes): triples
   * of line index, offset in the buffer, length. Lines without a triple have no bytes of their own.
   */
  spans?: number[];
  /** The layer's bytes in the buffer, header and payload. */
  offset?: number;
  length?: number;
}

export interface DissectOptions {
  /**
   * Show at most this many bytes of each payload field, then say how many were left out.
   * Default: all of them, as the old pstack did.
   */
  maxHexBytes?: number;
}

/** What a transport dissector needs from the IP header around it to check a checksum. */
export interface TransportContext {
  /** IPv4 source and destination (unused when `ipv6` is set). */
  src: number;
  dst: number;
  /** The IPv6 addresses (16 bytes each), for the IPv6 pseudo-header. */
  ipv6?: { src: Uint8Array; dst: Uint8Array };
  /**
   * The datagram is a first fragment (more follow), so the checksum covers bytes that are
   * not here and cannot be checked.
   */
  fragment?: boolean;
}

export const IP_LABEL_WIDTH = 21; // "destination address: "
export const L4_LABEL_WIDTH = 10; // "checksum: " (ICMP, UDP, TCP)

export function field(width: number, name: string, value: string): string {
  return (name + ':').padEnd(width) + value;
}


/** A payload field: label, hex lines aligned under the first byte, "-" when empty. */
export function pushHexField(
  lines: string[], width: number, name: string,
  buf: Uint8Array, offset: number, length: number, options: DissectOptions, spans?: number[],
): void {
  const label = (name + ':').padEnd(width);
  if (spans !== undefined && length > 0) spans.push(lines.length, offset, length);
  if (length <= 0) {
    lines.push(label + '-');
    return;
  }
  const limit = options.maxHexBytes ?? Infinity;
  const shown = Math.min(length, Math.max(0, limit));
  const hexLines = hexByteLines(buf, offset, shown);
  const indent = ' '.repeat(width);
  for (let i = 0; i < hexLines.length; i++) lines.push((i === 0 ? label : indent) + hexLines[i]);
  if (shown < length) lines.push((shown === 0 ? label : indent) + `... ${length - shown} more bytes`);
}

export function malformedBlock(title: string, lines: string[], reason: string, spans?: number[], offset?: number, length?: number): DissectionBlock {
  lines.push('malformed: ' + reason);
  return { title, lines, malformed: reason, spans, offset, length };
}

/**
 * Verdict for a one's-complement checksum whose full sum (field included) is `sum`. For TCP and
 * UDP, `pseudo` is the pseudo-header sum: a field holding just that is a checksum left for the
 * device to finish (checksum offload; tcpdump shows such packets as "incorrect" on the sender).
 */
export function checksumVerdict(fieldValue: number, sum: number, pseudo = -1): string {
  if (fold16(sum) === 0xffff) return `${hex(fieldValue, 4)} (ok)`;
  if (pseudo >= 0 && fieldValue === fold16(pseudo)) return `${hex(fieldValue, 4)} (partial, completed by checksum offload)`;
  // The sum includes the field itself; the value that would have made it verify is the
  // complement of the sum of everything else.
  const expected = ~fold16(sum - fieldValue) & 0xffff;
  return `${hex(fieldValue, 4)} (bad, expected ${hex(expected, 4)})`;
}

/** The pseudo-header sum for a transport checksum, IPv4 or IPv6 as the context says. */
export function contextPseudoSum(context: TransportContext, protocol: number, length: number): number {
  return context.ipv6
    ? pseudoHeaderSum6(context.ipv6.src, 0, context.ipv6.dst, 0, protocol, length)
    : pseudoHeaderSum(context.src, context.dst, protocol, length);
}
