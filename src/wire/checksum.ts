/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * `sum16` returns the unfolded 32-bit one's-complement accumulator so that callers can chain
 * pieces (pseudo-header, header, payload) and fold once at the end.
 */

/**
 * Add the 16-bit big-endian words of buf[offset, offset+length) to `initial`.
 * An odd trailing byte is padded with zero, as RFC 1071 says.
 */
export function sum16(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  let i = offset;
  const end = offset + length;
  // Eight bytes per step; the accumulator cannot overflow 2^53 for any packet we handle,
  // and folding is deferred to the end, so the loop is just loads and adds.
  const end8 = end - 7;
  for (; i < end8; i += 8) {
    sum +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Fold a 32-bit (or larger) accumulator to 16 bits with end-around carry. */
export function fold16(sum: number): number {
  // Numbers up to 2^53 are exact; two rounds of folding after reducing to 32 bits suffice.
  sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum field value for the given bytes (one's complement of the folded sum). */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return ~fold16(sum16(buf, offset, length, initial)) & 0xffff;
}

/** Unfolded sum of the IPv4 pseudo-header used by TCP and UDP (RFC 793 / RFC 768). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for replacing one 16-bit word m by m' in data
 * covered by checksum HC. Used when forwarding (TTL decrement) and rewriting RR options.
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold16(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit field (e.g. an address), as two 16-bit words. */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const sum =
    (~checksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  return ~fold16(sum) & 0xffff;
}

/**
 * Unfolded sum of the IPv6 pseudo-header (RFC 8200 8.1): source and destination (16 bytes
 * each, read in place), the 32-bit upper-layer length and the next header. Used by TCP, UDP
 * and ICMPv6 (which, unlike ICMP for IPv4, covers it).
 */
export function pseudoHeaderSum6(
  src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, nextHeader: number, length: number,
): number {
  let sum = nextHeader + (length >>> 16) + (length & 0xffff);
  for (let i = 0; i < 16; i += 2) {
    sum += ((src[srcOffset + i]! << 8) | src[srcOffset + i + 1]!) + ((dst[dstOffset + i]! << 8) | dst[dstOffset + i + 1]!);
  }
  return sum;
}
