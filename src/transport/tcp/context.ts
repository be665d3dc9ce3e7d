/**
 * The state one Tcp instance shares among its parts: the network layer, the configuration,
 * the counters, the connection and listener tables, the queues of work owed at the end of
 * an input batch, and the scratch objects every segment is parsed into and built from.
 *
 * It sits below every module that does TCP's work (lifecycle, output, timers, open, input,
 * end-of-batch) so that they depend on it and on each other one way only, and never on the
 * `Tcp` facade (tcp.ts) that creates it. It holds data, not behaviour: the one piece of
 * behaviour it needs from above, what to run at the end of a batch, is handed to its
 * constructor.
 *
 * Reuse is the point of most fields here: a segment is parsed into `seg` and built from
 * `optsOut`, `reprOut` and `ipOpts`, so neither direction allocates per segment.
 */

import { randomInt } from '../random.js';
import type { IpAddress, IpOutputOptions, NetworkLayer } from '../../stack/network.js';
import { TCP_PROTOCOL, type TcpRepr } from '../../wire/tcp.js';
import type { TcpOptionsOut } from '../../wire/tcp-options.js';
import { ChallengeAckBudget } from './challenge-ack.js';
import { IsnGenerator } from './isn.js';
import { SynCookies, type CookieTsOptions } from './syn-cookies.js';
import type { SeqRange } from './sack.js';
import { Segment } from './segment.js';
import { TcpStats } from './stats.js';
import { ConnectionTable, ListenerTable } from './tables.js';
import type { Tcb, TcpConfig } from './tcb.js';

/** What runs from the tasks the context queues (end-of-batch.ts, above output). */
export interface BatchWork {
  /** Deliver queued notifications, then send or schedule the ACKs owed. */
  flush(ctx: TcpContext): void;
  /** Send the ACKs held back until the application had its turn. */
  sendAcksAfterReplies(ctx: TcpContext): void;
}

export class TcpContext {
  readonly stats = new TcpStats();
  readonly connections = new ConnectionTable();
  readonly listeners = new ListenerTable();
  /** Blocks in TIME_WAIT (bounded by config.maxTimeWait). */
  timeWaitCount = 0;
  /** Orphans: blocks their application closed that still deliver data or a FIN (memory.ts). */
  orphanCount = 0;
  /** Observe state changes (tests, inspection). */
  onStateChange: ((tcb: Tcb, from: number, to: number) => void) | null = null;

  // ---- reused on every segment: parsing, building, sending ----
  readonly seg = new Segment();
  readonly optsOut: TcpOptionsOut = {
    mss: -1, windowScale: -1, sackPermitted: false, timestamps: false, tsVal: 0, tsEcr: 0,
    sackBlocks: new Array<number>(8).fill(0), sackCount: 0,
  };
  readonly reprOut: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgentPointer: 0 };
  readonly ipOpts: IpOutputOptions = { src: 0, dst: 0, protocol: TCP_PROTOCOL, dontFragment: true };
  readonly rangeScratch: SeqRange = { start: 0, end: 0 };
  /** RACK's lowest lost segment (output.ts), beside rangeScratch which its holes use. */
  readonly lostScratch: SeqRange = { start: 0, end: 0 };

  // ---- opening: ISNs (RFC 6528) and SYN cookies ----
  readonly isn: IsnGenerator;
  readonly cookies: SynCookies;
  /** TSval offset for SYN-cookie connections (a per-connection one cannot be remembered). */
  readonly cookieTsOffset = randomInt(0, 0x7fffffff);
  /** Room for an address of either IP version, for hashing into ISNs and cookies. */
  readonly addrA = new Uint8Array(16);
  readonly addrB = new Uint8Array(16);
  /** Their first four bytes, the view an IPv4 address hashes from (no view made per SYN). */
  readonly addrA4 = this.addrA.subarray(0, 4);
  readonly addrB4 = this.addrB.subarray(0, 4);
  readonly cookieTs: CookieTsOptions = { wscale: -1, sackOk: false, ecn: false };

  // ---- work owed at the end of the input batch (lifecycle.ts queues, end-of-batch.ts runs) ----
  /** Blocks with notifications (TcbEvent bits in `Tcb.events`) for their users. */
  readonly notifyList: Tcb[] = [];
  /** Blocks that owe the peer an ACK. */
  readonly ackList: Tcb[] = [];
  flushQueued = false;
  flushing = false;
  /** Runs the end-of-batch work from a microtask when no batch end comes first. */
  readonly flushTask: () => void;
  /** Blocks whose immediate ACK waits for the application's reaction (end-of-batch.ts). */
  readonly replyWaitList: Tcb[] = [];
  replyWaitQueued = false;
  readonly replyWaitTask: () => void;

  /** RFC 5961 section 7: the challenge ACKs all connections may still send this second. */
  readonly challengeBudget: ChallengeAckBudget;

  /**
   * @param stack  the IPv4 network layer (also the source of the clock, timers, counters and
   *               transmit buffer both layers share)
   * @param stack6 the IPv6 network layer, or null when there is none
   */
  constructor(readonly stack: NetworkLayer, readonly config: TcpConfig, work: BatchWork, readonly stack6: NetworkLayer | null = null) {
    this.isn = new IsnGenerator(stack.clock);
    this.cookies = new SynCookies(stack.clock);
    this.challengeBudget = new ChallengeAckBudget(config.challengeAckLimit);
    this.flushTask = () => {
      this.flushQueued = false;
      work.flush(this);
    };
    this.replyWaitTask = () => {
      this.replyWaitQueued = false;
      work.sendAcksAfterReplies(this);
    };
  }

  /** The network layer of `addr`'s family (the transports' one family test). */
  ip(addr: IpAddress): NetworkLayer {
    return typeof addr === 'number' || this.stack6 === null ? this.stack : this.stack6;
  }
}
