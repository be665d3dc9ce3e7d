/**
 * Initial sequence numbers (RFC 9293 section 3.4.1, RFC 6528).
 *
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer ticking every 4 microseconds (RFC 6528 section 3, as RFC 793's clock), so
 * successive incarnations of one connection get increasing ISNs and old duplicates fall
 * outside the new window; F is a keyed PRF of the 4-tuple so an off-path attacker cannot
 * predict the ISN of someone else's connection. F here is SipHash-2-4 with a random 128-bit
 * key chosen at construction (RFC 6528 recommends a random secret; Linux uses SipHash too).
 * The same tuple thus sees a monotonically advancing ISN; different tuples see unrelated
 * offsets.
 */

import { randomBytes } from '../random.js';
import type { Clock } from '../../time/clock.js';
import { SipHash24, TUPLE_SCRATCH_BYTES, writeTuple } from './siphash.js';

/** M ticks per millisecond: one tick every 4 µs (RFC 6528 section 3). */
export const ISN_TICKS_PER_MS = 250;

export class IsnGenerator {
  private readonly sip: SipHash24;
  private readonly scratch = new Uint8Array(TUPLE_SCRATCH_BYTES);

  /**
   * @param clock time source in ms (fractional); its origin is irrelevant.
   * @param key   16-byte secret; default 16 random bytes from crypto.getRandomValues. Pass
   *              one only for tests or to keep ISNs consistent across a restart.
   */
  constructor(
    private readonly clock: Clock,
    key: Uint8Array = randomBytes(16),
  ) {
    this.sip = new SipHash24(key);
  }

  /** M: the 4-µs clock, modulo 2^32. */
  clockTicks(): number {
    return Math.floor(this.clock.now() * ISN_TICKS_PER_MS) >>> 0;
  }

  /** F: the keyed hash of the tuple (32 bits). Addresses are 4 or 16 bytes. */
  offset(localAddr: Uint8Array, localPort: number, remoteAddr: Uint8Array, remotePort: number): number {
    checkAddr(localAddr);
    checkAddr(remoteAddr);
    const n = writeTuple(this.scratch, localAddr, localPort, remoteAddr, remotePort);
    return this.sip.hash(this.scratch, 0, n);
  }

  /** The ISN for a new connection on this tuple, now. */
  next(localAddr: Uint8Array, localPort: number, remoteAddr: Uint8Array, remotePort: number): number {
    return (this.clockTicks() + this.offset(localAddr, localPort, remoteAddr, remotePort)) >>> 0;
  }
}

function checkAddr(a: Uint8Array): void {
  if (a.length !== 4 && a.length !== 16) throw new RangeError('address must be 4 or 16 bytes');
}
