/**
 * Connecting to a name with several addresses, as Node's net.connect does with
 * `autoSelectFamily` (its take on Happy Eyeballs, RFC 8305; lib/net.js internalConnectMultiple):
 * the addresses are tried one at a time, the families alternating, starting with the family of
 * the first address of the lookup's answer. An attempt that has not connected after the attempt
 * timeout is given up (its connection closed) and the next begins; an attempt that fails moves on
 * at once. The last one is left to TCP's own SYN timeout. If every attempt fails, the socket is
 * destroyed with an AggregateError of their errors, whose code is the first one's (Node's
 * NodeAggregateError).
 *
 * Only one attempt is in flight at a time, as in Node: the earlier ones are closed, not raced.
 */

import type { Timer, Timers } from '../../time/clock.js';
import { exceptionWithHostPort, nodeError, type CodedError, type NetError } from './errors.js';

export interface FoundAddress {
  address: string;
  family: number;
}

/** What the race needs of the socket. */
export interface AttemptingSocket {
  readonly connecting: boolean;
  /** Opens one attempt (emitting 'connectionAttempt'): null, or why it could not start. */
  openAttempt(address: string, port: number, family: 4 | 6, localPort: number | undefined): NetError | null;
  /** Closes the attempt in progress (it timed out). */
  dropAttempt(): void;
  /** The attempt timer expired: have `timedOut()` called from the socket's delivery (outside the stack). */
  attemptTimerExpired(): void;
  destroy(err: Error): unknown;
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * Node's order of attempts: valid addresses only, each once, the two families alternating,
 * the family of the first valid address first.
 */
export function attemptOrder(addresses: readonly FoundAddress[], isIP: (s: string) => number): FoundAddress[] {
  const first: FoundAddress[] = [];
  const second: FoundAddress[] = [];
  let firstFamily = 0;
  const seen = new Set<string>();
  for (const a of addresses) {
    if (isIP(a.address) === 0 || (a.family !== 4 && a.family !== 6) || seen.has(a.address)) continue;
    seen.add(a.address);
    if (firstFamily === 0) firstFamily = a.family;
    (a.family === firstFamily ? first : second).push(a);
  }
  const order: FoundAddress[] = [];
  for (let i = 0; i < first.length || i < second.length; i++) {
    if (i < first.length) order.push(first[i]!);
    if (i < second.length) order.push(second[i]!);
  }
  return order;
}

/** Node clamps a smaller attempt timeout to this. */
export const MIN_ATTEMPT_TIMEOUT_MS = 10;

export const ERR_SOCKET_CONNECTION_TIMEOUT = (): CodedError =>
  nodeError(Error, 'ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout');

/** All attempts failed: Node's NodeAggregateError (an AggregateError with the first error's code). */
export function aggregateConnectError(errors: NetError[]): AggregateError & { code?: string } {
  const err = new AggregateError(errors) as AggregateError & { code?: string };
  err.code = errors[0]?.code;
  return err;
}

export class FamilyRace {
  /** `${address}:${port}` of each attempt made (socket.autoSelectFamilyAttemptedAddresses). */
  readonly attempted: string[] = [];
  private readonly errors: NetError[] = [];
  private readonly timer: Timer;
  private current = 0;
  private expired = false;
  private stopped = false;

  constructor(
    private readonly socket: AttemptingSocket,
    timers: Timers,
    private readonly addresses: readonly FoundAddress[],
    private readonly port: number,
    private readonly localPort: number | undefined,
    private readonly timeoutMs: number,
  ) {
    this.timer = timers.create(() => {
      this.expired = true;
      this.socket.attemptTimerExpired();
    });
  }

  start(): void {
    this.next();
  }

  /** The attempt in progress failed (refused, unreachable, SYN timeout). */
  attemptFailed(err: NetError): void {
    if (this.stopped) return;
    this.timer.disarm();
    const a = this.addresses[this.current - 1]!;
    this.errors.push(err);
    this.socket.emit('connectionAttemptFailed', a.address, this.port, a.family, err);
    this.next();
  }

  /** From the socket's delivery, after the timer expired: give the attempt up, try the next. */
  timedOut(): void {
    if (this.stopped || !this.expired) return;
    this.expired = false;
    const a = this.addresses[this.current - 1]!;
    this.socket.emit('connectionAttemptTimeout', a.address, this.port, a.family);
    this.errors.push(exceptionWithHostPort('ETIMEDOUT', 'connect', a.address, this.port));
    this.socket.dropAttempt();
    this.next();
  }

  /** Connected, or the socket is destroyed: no more attempts. */
  stop(): void {
    this.stopped = true;
    this.expired = false;
    this.timer.disarm();
  }

  private next(): void {
    for (;;) {
      this.timer.disarm();
      this.expired = false;
      if (this.stopped || !this.socket.connecting) return;
      if (this.current === this.addresses.length) {
        this.stop();
        this.socket.destroy(this.errors.length === 0 ? ERR_SOCKET_CONNECTION_TIMEOUT() : aggregateConnectError(this.errors));
        return;
      }
      const i = this.current++;
      const { address, family } = this.addresses[i]!;
      const err = this.socket.openAttempt(address, this.port, family as 4 | 6, this.localPort);
      if (err !== null) {
        this.errors.push(err);
        // A bind that failed is no attempt (Node neither lists nor announces it).
        if (err.syscall !== 'bind') this.socket.emit('connectionAttemptFailed', address, this.port, family, err);
        continue;
      }
      if (this.stopped || !this.socket.connecting) return;
      if (i < this.addresses.length - 1) this.timer.arm(this.timeoutMs);
      return;
    }
  }
}
