/**
 * SYN cookies: answer a SYN without keeping state, and rebuild the connection from the
 * returning ACK (D. J. Bernstein's scheme, as in Linux net/ipv4/syncookies.c; RFC 4987
 * section 3.6 describes the trade-offs).
 *
 * The server's ISN is the cookie:
 *
 *    bits 31..27  t mod 32, t = floor(now / 64 s)
 *    bits 26..24  index of the client's MSS in a small table (rounded down)
 *    bits 23..0   SipHash-2-4(key; tuple, client ISN, t, MSS index) mod 2^24
 *
 * The final ACK of the handshake carries ack = cookie + 1 and seq = client ISN + 1, so
 * `decode` recomputes the hash for t = now or now - 1 counter periods (a cookie lives
 * 64..128 s) and rejects anything else. A forgery succeeds with probability 2^-24 per try.
 *
 * What a cookie cannot carry is the SYN's other options. As Linux does, when the client
 * sent timestamps the server hides window scale, SACK-permitted and ECN in the low 6 bits of
 * its TSval (`encodeCookieTimestamp`); the client echoes it in TSecr of the ACK
 * (`decodeCookieTimestamp`). Without timestamps those options are lost for the connection.
 *
 * The listener should only send cookies while its SYN queue is overflowing and only accept
 * cookie ACKs shortly after that (Linux: tcp_synq_no_recent_overflow); that policy is the
 * state machine's.
 */

import { randomBytes } from '../random.js';
import type { Clock } from '../../time/clock.js';
import { seqGt } from './seq.js';
import { SipHash24, TUPLE_SCRATCH_BYTES, writeTuple, writeU32 } from './siphash.js';

/** Length of a cookie counter period (ms). */
export const COOKIE_PERIOD_MS = 64_000;

/**
 * MSS values a cookie can carry (ascending, 8 entries for 3 bits): the common Internet
 * values for IPv4 (536 minimum default, 1300/1380/1420/1440 tunnels and PPPoE, 1460 Ethernet),
 * IPv6's minimum 1220, and 8960 for 9000-byte jumbo frames. A client MSS is rounded down to
 * the largest entry not above it; below 536 it is sent as 536 (as Linux does).
 */
export const DEFAULT_COOKIE_MSS_TABLE: readonly number[] = [536, 1220, 1300, 1380, 1420, 1440, 1460, 8960];

/** Bits of the TSval used to carry options (Linux TSBITS). */
const COOKIE_TS_BITS = 6;
const TS_MASK = (1 << COOKIE_TS_BITS) - 1;
const TS_WSCALE_NONE = 0xf;
const TS_SACK = 0x10;
const TS_ECN = 0x20;
/** RFC 7323 section 2.3: the largest legal window shift. */
const MAX_WSCALE = 14;

export interface CookieTsOptions {
  /** Peer's window shift, or -1 if it sent no window-scale option. */
  wscale: number;
  sackOk: boolean;
  ecn: boolean;
}

interface SynCookieOptions {
  /** 16-byte secret; default random. */
  key?: Uint8Array;
  /** Up to 8 ascending MSS values. */
  mssTable?: readonly number[];
}

export class SynCookies {
  readonly mssTable: readonly number[];
  private readonly sip: SipHash24;
  private readonly scratch = new Uint8Array(TUPLE_SCRATCH_BYTES);

  constructor(
    private readonly clock: Clock,
    options: SynCookieOptions = {},
  ) {
    this.sip = new SipHash24(options.key ?? randomBytes(16));
    const table = options.mssTable ?? DEFAULT_COOKIE_MSS_TABLE;
    if (table.length < 1 || table.length > 8) throw new RangeError('MSS table must have 1..8 entries');
    for (let i = 1; i < table.length; i++) {
      if (!(table[i]! > table[i - 1]!)) throw new RangeError('MSS table must be ascending');
    }
    this.mssTable = table;
  }

  /** The current counter value t = floor(now / 64 s). */
  counter(): number {
    return Math.floor(this.clock.now() / COOKIE_PERIOD_MS);
  }

  /** Index of the MSS the cookie will carry for a client MSS (largest entry <= mss). */
  mssIndex(mss: number): number {
    let i = this.mssTable.length - 1;
    while (i > 0 && this.mssTable[i]! > mss) i--;
    return i;
  }

  /**
   * The cookie to use as the SYN-ACK's ISN for a SYN from remoteAddr:remotePort to
   * localAddr:localPort carrying sequence number `clientIsn` and MSS option `clientMss`
   * (536 if absent, RFC 9293 section 3.7.1).
   */
  encode(
    localAddr: Uint8Array,
    localPort: number,
    remoteAddr: Uint8Array,
    remotePort: number,
    clientIsn: number,
    clientMss: number,
  ): number {
    const t = this.counter();
    const idx = this.mssIndex(clientMss);
    const h = this.mac(localAddr, localPort, remoteAddr, remotePort, clientIsn, t, idx);
    return (((t & 31) << 27) | (idx << 24) | (h & 0xffffff)) >>> 0;
  }

  /**
   * Validate the cookie from a handshake-completing ACK (`cookie` = SEG.ACK - 1,
   * `clientIsn` = SEG.SEQ - 1). Returns the MSS to use, or 0 if the cookie is forged, for
   * a different tuple/ISN, or older than one full counter period.
   */
  decode(
    localAddr: Uint8Array,
    localPort: number,
    remoteAddr: Uint8Array,
    remotePort: number,
    clientIsn: number,
    cookie: number,
  ): number {
    cookie >>>= 0;
    const tc = cookie >>> 27;
    const now = this.counter();
    let t: number;
    if ((now & 31) === tc) t = now;
    else if (((now - 1) & 31) === tc) t = now - 1;
    else return 0;
    const idx = (cookie >>> 24) & 7;
    if (idx >= this.mssTable.length) return 0;
    const h = this.mac(localAddr, localPort, remoteAddr, remotePort, clientIsn, t, idx);
    if ((h & 0xffffff) !== (cookie & 0xffffff)) return 0;
    return this.mssTable[idx]!;
  }

  private mac(
    localAddr: Uint8Array,
    localPort: number,
    remoteAddr: Uint8Array,
    remotePort: number,
    clientIsn: number,
    t: number,
    idx: number,
  ): number {
    if ((localAddr.length !== 4 && localAddr.length !== 16) || remoteAddr.length !== localAddr.length) {
      throw new RangeError('addresses must both be 4 or both 16 bytes');
    }
    let p = writeTuple(this.scratch, localAddr, localPort, remoteAddr, remotePort);
    p = writeU32(this.scratch, p, clientIsn);
    p = writeU32(this.scratch, p, t);
    p = writeU32(this.scratch, p, idx);
    return this.sip.hash(this.scratch, 0, p);
  }
}

/**
 * TSval for a cookie SYN-ACK that also carries the SYN's options (Linux
 * cookie_init_timestamp): the low 6 bits of `nowTsVal` are replaced by
 * wscale (0..14, or 15 = none) | SACK-permitted << 4 | ECN << 5. If that would put the TSval
 * ahead of the clock it is moved back one 64-tick step, so it is never in the future (the
 * RTT taken from its echo must not be negative).
 */
export function encodeCookieTimestamp(nowTsVal: number, wscale: number, sackOk: boolean, ecn: boolean): number {
  if (wscale > MAX_WSCALE) wscale = MAX_WSCALE;
  const opts = (wscale >= 0 ? wscale : TS_WSCALE_NONE) | (sackOk ? TS_SACK : 0) | (ecn ? TS_ECN : 0);
  let ts = ((nowTsVal & ~TS_MASK) | opts) >>> 0;
  if (seqGt(ts, nowTsVal)) ts = (ts - (1 << COOKIE_TS_BITS)) >>> 0;
  return ts;
}

/**
 * Recover the SYN options from the TSecr of a cookie ACK into `out`.
 *
 * If `nowTsVal` is given, the echo is also checked for age: it must not be in the future and
 * not more than `maxAgeTicks` (default: two cookie periods at 1 ms per tick) old. Returns
 * false when that check fails; the caller should then treat the cookie ACK as invalid.
 */
export function decodeCookieTimestamp(
  tsEcr: number,
  out: CookieTsOptions,
  nowTsVal?: number,
  maxAgeTicks = 2 * COOKIE_PERIOD_MS,
): boolean {
  if (nowTsVal !== undefined) {
    const age = (nowTsVal - tsEcr) | 0;
    if (age < 0 || age > maxAgeTicks) return false;
  }
  const opts = tsEcr & TS_MASK;
  const ws = opts & 0xf;
  // 4 bits: 0..14 are shifts, 15 means "no window scaling" (RFC 7323 caps the shift at 14).
  out.wscale = ws === TS_WSCALE_NONE ? -1 : ws;
  out.sackOk = (opts & TS_SACK) !== 0;
  out.ecn = (opts & TS_ECN) !== 0;
  return true;
}
