/**
 * How many challenge ACKs (RFC 5961: answers to an in-window RST, a SYN in a synchronized
 * state, an ACK of unsent or too old data) may go out, as Linux's tcp_send_challenge_ack.
 *
 * RFC 5961 section 7 asks for a limit. One shared, exactly known budget per second is a side
 * channel (CVE-2016-5696): an off-path attacker spends it with forged segments on one
 * connection and counts the challenge ACKs it draws on its own, learning whether its
 * guess of another connection's four-tuple or sequence number was in the window. So, as
 * Linux does:
 *  - each connection may send at most one challenge ACK per `intervalMs`
 *    (tcp_invalid_ratelimit): what happens on one connection then costs at most two a
 *    second of the shared budget, and the attacker's own connection shows its own limit only;
 *  - the shared budget of each second is drawn at random from [limit/2, limit*3/2)
 *    (Linux since 4.7), so the count that remains says nothing exact.
 */

import { randomInt } from '../random.js';

/** The shared per-second budget, redrawn at random each second. */
export class ChallengeAckBudget {
  private second = -Infinity;
  private remaining = 0;

  /** `draw(min, max)`: a random integer in [min, max) (tests pass a fixed one). */
  constructor(private readonly limit: number, private readonly draw: (min: number, max: number) => number = randomInt) {}

  /** Take one challenge ACK from the budget of the second `now` (ms) falls in; false when spent. */
  take(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      const half = Math.ceil(this.limit / 2);
      this.remaining = this.limit === 0 ? 0 : this.draw(half, this.limit + half);
    }
    if (this.remaining <= 0) return false;
    this.remaining--;
    return true;
  }
}

/**
 * The per-connection rule: may a connection whose last challenge ACK went out at `lastAt`
 * send another at `now`? (`intervalMs` 0: always.)
 */
export function connectionMayChallenge(lastAt: number, now: number, intervalMs: number): boolean {
  return now - lastAt >= intervalMs;
}
