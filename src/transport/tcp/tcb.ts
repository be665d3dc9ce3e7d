/**
 * The Transmission Control Block (RFC 9293 section 3.3.1): everything one connection knows.
 *
 * Variable names follow the RFC (SND.UNA -> sndUna, RCV.NXT -> rcvNxt, ...). Two variables
 * are not in RFC 9293 but in every BSD-derived TCP:
 *
 *  - SND.MAX (`sndMax`): one past the highest sequence number ever sent. SND.NXT is pulled
 *    back to SND.UNA when the retransmission timer expires (go-back-N from the first
 *    unacknowledged byte, RFC 5681 section 3.1 / RFC 6298 (5.4)), so an ACK is acceptable up to
 *    SND.MAX, not just SND.NXT. A zero-window probe also advances SND.MAX but not SND.NXT.
 *  - the sequence number of the first byte in the send buffer (`sndBufSeq`): SND.UNA, or
 *    SND.UNA + 1 while our SYN is unacknowledged (the SYN occupies a sequence number but no
 *    buffer byte; so does the FIN, at `sndBufSeq + sendBuffer.length`).
 *
 * This module holds state and small derived quantities only; the segment-arrival rules are
 * in input.ts and ack-processing.ts, segment emission in output.ts, timers in timers.ts,
 * state changes and closing in lifecycle.ts, opening in open.ts, and the user-facing
 * operations in tcp.ts.
 */

import type { Timer } from '../../time/clock.js';
import type { IpAddress, MemoryAccount, NetworkLayer, RouteResult } from '../../stack/network.js';
import { SendBuffer } from './send-buffer.js';
import { RecvBuffer, DEFAULT_MAX_OOO_RANGES } from './recv-buffer.js';
import { RttEstimator } from './rtt.js';
import { SackScoreboard, DEFAULT_MAX_SACK_RANGES } from './sack.js';
import { Rack } from './rack.js';
import { Prr } from './prr.js';
import { Bbr } from './congestion/bbr.js';
import { createCongestionControl, type CongestionAlgorithm, type CongestionControl } from './congestion/index.js';
import { seqSub } from './seq.js';

/** Connection states, RFC 9293 section 3.3.2. */
export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;

export const TCP_STATE_NAMES: readonly string[] = [
  'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2',
  'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT',
];

/** Tunables. Every field has a default in `defaultTcpConfig`; all times in ms. */
export interface TcpConfig {
  /**
   * The most a send buffer may hold (unacknowledged + unsent bytes). Each connection's send
   * buffer is sized to what its path needs, twice the congestion window (Linux's
   * tcp_sndbuf_expand), between sendBufferMin and this.
   */
  sendBufferSize: number;
  /** A send buffer's size at the start and under memory pressure (Linux tcp_wmem[1]). */
  sendBufferMin: number;
  /** Receive buffer capacity (SO_RCVBUF): bounds RCV.WND and the out-of-order queue. */
  recvBufferSize: number;
  /**
   * The window offered under memory pressure, and the in-order storage a connection is
   * guaranteed past the hard limit (Linux tcp_rmem[0], more or less).
   */
  recvBufferMin: number;
  /**
   * Connections closed by their application that still have data or a FIN to deliver
   * (orphans, Linux tcp_max_orphans); one more is reset at once.
   */
  maxOrphans: number;
  /** Retransmissions or window probes an orphan gets before it is given up (Linux tcp_orphan_retries). */
  orphanRetries: number;
  /** Separate out-of-order ranges one connection holds; a segment that would add another is dropped. */
  maxOooRanges: number;
  /** Out-of-order bytes one connection holds (also bounded by the receive window). */
  maxOooBytes: number;
  /** SACK ranges the sender's scoreboard keeps per connection; the highest is forgotten beyond it. */
  maxSackRanges: number;
  /** TIME_WAIT duration, 2*MSL (RFC 9293 3.4.2). Linux uses 60 s (MSL = 30 s); so do we. */
  timeWaitMs: number;
  /** How long an orphaned FIN_WAIT_2 connection may wait for the peer's FIN (Linux tcp_fin_timeout). */
  finWait2TimeoutMs: number;
  /** SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries = 6: about 127 s). */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (Linux tcp_synack_retries). */
  synAckRetries: number;
  /** Retransmissions of data (or zero-window probes unanswered) before ETIMEDOUT (R2, RFC 9293 3.8.3; Linux tcp_retries2). */
  retries2: number;
  /** Delayed-ACK timeout (RFC 9293 3.8.6.3 requires < 0.5 s; Linux's minimum is 40 ms). */
  delayedAckMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  initialRtoMs: number;
  congestion: CongestionAlgorithm;
  /** Offer/accept SACK (RFC 2018). */
  sack: boolean;
  /** Offer/accept timestamps (RFC 7323). */
  timestamps: boolean;
  /** Offer/accept window scaling (RFC 7323). */
  windowScaling: boolean;
  /**
   * Explicit Congestion Notification (RFC 3168), as Linux's net.ipv4.tcp_ecn: 0 never, 1 ask
   * for it on connections we open and accept it when asked, 2 only accept it when asked.
   */
  ecn: number;
  /** HyStart++ (RFC 9406): leave the initial slow start when the RTT starts to grow. */
  hystart: boolean;
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  /** Bound on each listener's SYN queue (half-open connections). */
  maxSynBacklog: number;
  /** Answer with SYN cookies when a SYN queue overflows instead of dropping the SYN. */
  synCookies: boolean;
  /** Bound on connections in TIME_WAIT; beyond it connections close at once (Linux tcp_max_tw_buckets). */
  maxTimeWait: number;
  /** Bound on all connection blocks (every state but LISTEN). */
  maxConnections: number;
  /**
   * ACKs for in-order data are coalesced until the end of the input batch; after this many
   * unacknowledged bytes one goes out at once, so a long batch cannot stall the sender.
   */
  ackCoalesceBytes: number;
  /**
   * RFC 5961 section 7: challenge ACKs per second for all connections together, on average:
   * each second's allowance is drawn at random from [limit/2, limit*3/2) (as Linux since 4.7),
   * so how many a connection gets reveals nothing about any other (CVE-2016-5696).
   */
  challengeAckLimit: number;
  /** At most one challenge ACK per connection per this many ms (Linux tcp_invalid_ratelimit; 0: no limit). */
  challengeAckIntervalMs: number;
  /** Data segments ACKed without delay when a connection starts (Linux quickack; 0 disables). */
  quickAckSegments: number;
}

export const defaultTcpConfig: TcpConfig = {
  sendBufferSize: 1024 * 1024,
  sendBufferMin: 16 * 1024,
  recvBufferSize: 1024 * 1024,
  recvBufferMin: 16 * 1024,
  maxOrphans: 4096,
  orphanRetries: 8,
  maxOooRanges: DEFAULT_MAX_OOO_RANGES,
  maxOooBytes: 1024 * 1024,
  maxSackRanges: DEFAULT_MAX_SACK_RANGES,
  timeWaitMs: 60_000,
  finWait2TimeoutMs: 60_000,
  synRetries: 6,
  synAckRetries: 5,
  retries2: 15,
  delayedAckMs: 40,
  minRtoMs: 200,
  maxRtoMs: 120_000,
  initialRtoMs: 1000,
  congestion: 'cubic',
  sack: true,
  timestamps: true,
  windowScaling: true,
  ecn: 2,
  hystart: true,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  maxSynBacklog: 256,
  synCookies: true,
  maxTimeWait: 4096,
  maxConnections: 65536,
  ackCoalesceBytes: 64 * 1024,
  challengeAckLimit: 1000,
  challengeAckIntervalMs: 500,
  quickAckSegments: 16,
};

/** What a connection tells its user (the net API socket). Called outside segment processing. */
export interface TcbUser {
  /** Active open completed (SYN_SENT -> ESTABLISHED). */
  onConnect(): void;
  /** In-order data, or the end of the stream (FIN), is available: call `Tcp.read`. */
  onReadable(): void;
  /** Send-buffer space was freed: write more. */
  onWritable(): void;
  /** The connection is gone for its user: `code` is null for an orderly end, else ECONNRESET, ETIMEDOUT, ... */
  onClose(code: string | null): void;
}

/** Pending notifications (a bitmask on the TCB). */
export const TcbEvent = {
  CONNECT: 1,
  READABLE: 2,
  WRITABLE: 4,
  CLOSE: 8,
  /** For a listener's child: established, ready to be accepted. */
  ACCEPT: 16,
} as const;

/**
 * The smallest segment (data and options) we send, whatever MSS the peer offers or ICMP
 * reports: Linux's tcp_min_snd_mss. A peer offering MSS 1 would otherwise make us send a
 * byte per segment (the CVE-2019-11479 resource attack).
 */
export const MIN_SND_MSS = 48;

/** Timestamp option bytes in every segment once negotiated (NOP NOP TS). */
const TS_OPTION_SPACE = 12;

/**
 * Which timer uses `rtoAt`: the retransmission timer, the persist timer, the RFC 8985 tail
 * loss probe (PTO) that runs ahead of the RTO, or RACK's reordering timer (RFC 8985 6.3).
 */
export const RetransmitKind = { NONE: 0, RTO: 1, PERSIST: 2, PROBE: 3, REORDER: 4 } as const;

export class Tcb {
  state: number = TcpState.CLOSED;
  // ---- the connection's identity ----
  localAddr: IpAddress = 0;
  localPort = 0;
  remoteAddr: IpAddress = 0;
  /** The network layer of the connection's address family (set with the addresses). */
  net: NetworkLayer | null = null;
  remotePort = 0;
  /** Next block in the demultiplexing chain for the same remote address and port. */
  nextInChain: Tcb | null = null;

  // ---- send sequence variables (RFC 9293 3.3.1) ----
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (BSD snd_max; see the module comment). */
  sndMax = 0;
  /** SND.WND in bytes (already scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer has offered (RFC 9293 3.8.6.2.1 Max(SND.WND); RFC 5961 MAX.SND.WND). */
  maxSndWnd = 0;
  /** Peer's window shift (Snd.Wind.Shift, RFC 7323 2.2); 0 without window scaling. */
  sndWscale = 0;
  /** Sequence number of sendBuffer offset 0. */
  sndBufSeq = 0;
  /** The user called CLOSE (end): a FIN follows the buffered data. */
  finQueued = false;

  // ---- receive sequence variables ----
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window last advertised, RCV.NXT + RCV.WND at that time. */
  rcvAdv = 0;
  /** Our window shift (Rcv.Wind.Shift). */
  rcvWscale = 0;
  /** RCV.NXT carried by the last ACK we sent (RFC 7323 Last.ACK.sent). */
  lastAckSent = 0;
  /** The peer's FIN has been received in order (RCV.NXT counts it). */
  finReceived = false;
  /** An out-of-order FIN is held at this sequence number until the data before it arrives. */
  pendingFin = false;
  pendingFinSeq = 0;

  // ---- options ----
  /** Largest segment (data + options) the path and the peer take: min(peer MSS, PMTU - headers). */
  maxSeg = 536;
  /** SMSS: maxSeg less the timestamp option, the data per full-sized segment. */
  smss = 536;
  /** The MSS we advertise (interface MTU less the IP and TCP headers). */
  rcvMss = 536;
  sackOk = false;
  tsOk = false;
  /** TS.Recent (RFC 7323 4.3) and when it was set (for the 24-day PAWS validity rule). */
  tsRecent = 0;
  tsRecentAt = 0;
  /** Per-connection random offset added to our TSval clock (as Linux does; hides uptime). */
  tsOffset = 0;
  /** Options our SYN (or SYN-ACK) carries: offered (active) or agreed (passive). */
  synWs = false;
  synSack = false;
  synTs = false;
  /** The unscaled window our SYN carried (RFC 7323 2.2: never scaled). */
  synWindow = 0;

  // ---- ECN (RFC 3168; ecn.ts) ----
  /** Our SYN asks for ECN (active), or our SYN-ACK agrees to it (passive). */
  synEcn = false;
  /** ECN was agreed in the handshake: data goes out ECT(0), ECE and CWR mean what RFC 3168 says. */
  ecnOk = false;
  /** A segment arrived with an ECT or CE codepoint (Linux's ecnseen). */
  ecnSeen = false;
  /** Receiver: a CE mark arrived; every ACK carries ECE until a segment with CWR comes. */
  ecnEcho = false;
  /** Sender: the window was reduced for an ECE; the next new data segment carries CWR. */
  ecnCwrPending = false;
  /** SND.MAX at the last ECE reduction (-1: none yet): ECE reduces again only once SND.UNA is beyond it. */
  ecnCwrSeq = -1;

  // ---- buffers, estimators, congestion ----
  sendBuffer: SendBuffer;
  recvBuffer: RecvBuffer;
  rtt: RttEstimator;
  cc: CongestionControl;
  /** `cc` when it is BBR (rate-based: delivery-rate samples and pacing, pacing.ts), else null. */
  bbr: Bbr | null = null;
  /** Pacing (BBR only): bucket credit (bytes), when it was last refilled, the pacing timer's deadline. */
  paceCredit = 0;
  paceStamp = 0;
  paceAt = Infinity;
  scoreboard: SackScoreboard | null = null;
  /** Duplicate ACKs in a row (RFC 5681 section 2). */
  dupAcks = 0;
  /** RFC 6582 / RFC 6675 RecoveryPoint ("recover"): SND.MAX when recovery began. */
  recoveryPoint = 0;
  /** RFC 6675 RescueRxt, the sequence number of the last rescue retransmission. */
  rescueRxt = 0;
  /** Currently in SACK-based (RFC 6675) recovery, as opposed to NewReno (RFC 6582). */
  sackRecovery = false;
  /** An RTO happened and the go-back-N retransmission has not reached SND.MAX yet. */
  rtoRecovery = false;
  /** RFC 3042 limited transmit: bytes allowed beyond cwnd on the first two duplicate ACKs. */
  limitedTransmit = 0;
  /** RACK-TLP loss detection (RFC 8985) and its per-segment records; made with the scoreboard. */
  rack: Rack | null = null;
  /** Proportional rate reduction (RFC 6937) in SACK recovery. */
  readonly prr = new Prr();
  /** A tail loss probe episode is open (RFC 8985 7.4): TLP.end_seq, and whether the probe was a retransmission. */
  tlpInEpisode = false;
  tlpEndSeq = 0;
  tlpIsRetrans = false;
  /** Time the last new data was sent, for the RFC 5681 4.1 idle restart. */
  lastSendAt = 0;
  /** cwnd was the limit on the last send (for CUBIC/app-limited growth). */
  cwndLimited = false;

  // ---- timers (one heap timer; several deadlines, ms, Infinity when off) ----
  timer!: Timer;
  /** Retransmission or persist deadline; `retransmitKind` says which. */
  rtoAt = Infinity;
  retransmitKind: number = RetransmitKind.NONE;
  delackAt = Infinity;
  /** Keepalive, TIME_WAIT, FIN_WAIT_2 and SYN_RECEIVED lifetime share this deadline. */
  keepAt = Infinity;
  /** Consecutive timeouts of the current segment (R1/R2 counting) or unanswered probes. */
  retries = 0;
  keepAliveProbesSent = 0;
  /** Exponential backoff of the persist timer (zero-window probes). */
  persistShift = 0;
  lastRecvAt = 0;

  // ---- ACK policy ----
  /** An ACK is owed; sent at the end of the input batch or when the delayed-ACK timer fires. */
  ackPending = false;
  /** The owed ACK must not wait for the delayed-ACK timer (out of order, 2nd full segment, FIN...). */
  ackNow = false;
  /** Bytes received since the last ACK we sent. */
  unackedBytes = 0;
  /**
   * ACK every data segment at once while this is > 0 (Linux "quickack"): at the start of a
   * connection the peer is in slow start and every delayed ACK slows it down.
   */
  quickAcks = 0;
  /** Queued in the end-of-batch ACK list (TcpContext.ackList). */
  inAckList = false;
  /** Queued to be ACKed once the application has reacted to this batch (see end-of-batch.ts). */
  inReplyWaitList = false;

  // ---- user side ----
  user: TcbUser | null = null;
  /** Bitmask of TcbEvent waiting to be delivered to the user. */
  events = 0;
  inNotifyList = false;
  /** Why the connection ended (ECONNRESET, ...), or null. */
  error: string | null = null;
  /** Last ICMP error about this connection (RFC 1122 4.2.3.9 soft error), reported on timeout. */
  softError: string | null = null;
  /** The user closed the whole socket (no more reads): new data gets a RST (RFC 1122 4.2.2.13). */
  orphaned = false;
  /** Counted in TcpContext.orphanCount (memory.ts). */
  countedOrphan = false;
  /** Nagle's algorithm off (RFC 9293 3.7.4 / setNoDelay). */
  noDelay = false;
  keepAlive = false;
  keepAliveIdleMs: number;
  /** Listener this block came from (SYN_RECEIVED children, and until accepted). */
  listener: unknown = null;
  /** Opened actively (connect) rather than from a listener. */
  active = false;
  /** When the last challenge ACK (RFC 5961) went out (-Infinity: never), for challengeAckIntervalMs. */
  lastChallengeAckAt = -Infinity;
  /**
   * An ICMP Fragmentation Needed reported an MTU below the floor (MIN_PMTU): segments fit the
   * floor and leave without DF, so a router on a path that small fragments them (as Linux
   * locks the route's MTU).
   */
  pmtuLocked = false;
  /** The peer's MSS option (or 536), kept so that the segment size can follow the path MTU both ways. */
  peerMss = 536;
  /** The network layer's pathMtuGeneration the segment size was last checked against. */
  pmtuGeneration = -1;
  /** Cached route and when it was looked up. */
  route: RouteResult | null = null;
  routeAt = -Infinity;

  // ---- statistics ----
  bytesReceived = 0;
  bytesSent = 0;
  segmentsIn = 0;
  segmentsOut = 0;
  retransmits = 0;
  fastRetransmits = 0;
  timeouts = 0;
  createdAt = 0;

  constructor(readonly config: TcpConfig, account: MemoryAccount | null = null) {
    // The send buffer starts at its minimum and grows with the congestion window (memory.ts).
    this.sendBuffer = new SendBuffer(Math.min(config.sendBufferMin, config.sendBufferSize), undefined, account);
    this.recvBuffer = new RecvBuffer(config.recvBufferSize, {
      maxOooRanges: config.maxOooRanges, maxOooBytes: config.maxOooBytes, account, guaranteedStorage: config.recvBufferMin,
    });
    this.rtt = new RttEstimator({ minRtoMs: config.minRtoMs, maxRtoMs: config.maxRtoMs, initialRtoMs: config.initialRtoMs });
    this.cc = createCongestionControl(config.congestion, 536, { hystart: config.hystart });
    this.bbr = this.cc instanceof Bbr ? this.cc : null;
    this.keepAliveIdleMs = config.keepAliveIdleMs;
    // Our window shift: the smallest that lets the receive buffer be advertised whole
    // (RFC 7323 2.3; at most 14).
    let ws = 0;
    while (ws < 14 && config.recvBufferSize >> ws > 65535) ws++;
    this.rcvWscale = config.windowScaling ? ws : 0;
  }

  get stateName(): string {
    return TCP_STATE_NAMES[this.state]!;
  }

  /** Bytes sent and not yet acknowledged (RFC 5681 FlightSize), SYN/FIN included. */
  get flightSize(): number {
    return seqSub(this.sndMax, this.sndUna);
  }

  /** Sequence number of our FIN (valid once finQueued). */
  get finSeq(): number {
    return (this.sndBufSeq + this.sendBuffer.length) >>> 0;
  }

  /** Our FIN has been sent (SND.MAX is past it). */
  get finSent(): boolean {
    return this.finQueued && seqSub(this.sndMax, this.finSeq) > 0;
  }

  /** Our FIN has been acknowledged. */
  get finAcked(): boolean {
    return this.finQueued && seqSub(this.sndUna, this.finSeq) > 0;
  }

  /** Bytes buffered but never sent (beyond SND.MAX). */
  get unsentBytes(): number {
    const n = seqSub((this.sndBufSeq + this.sendBuffer.length) >>> 0, this.sndMax);
    return n > 0 ? n : 0;
  }

  /** Options space every data segment carries. */
  get tsSpace(): number {
    return this.tsOk ? TS_OPTION_SPACE : 0;
  }

  /** Set SMSS from the peer's MSS option (or 536) and the MSS the path MTU allows (MTU less headers). */
  setMss(peerMss: number, fromPath: number): void {
    this.peerMss = peerMss;
    let m = peerMss < fromPath ? peerMss : fromPath;
    if (m < MIN_SND_MSS) m = MIN_SND_MSS;
    this.maxSeg = m;
    this.smss = m - this.tsSpace;
    this.cc.setMss(this.smss);
  }

  /** Replace the congestion controller (after options are known, before data flows). */
  resetCongestion(initialCwnd?: number): void {
    this.cc = createCongestionControl(this.config.congestion, this.smss, { initialCwnd, hystart: this.config.hystart });
    this.bbr = this.cc instanceof Bbr ? this.cc : null;
    // BBR's first pacing rate from the handshake's RTT (a nominal 1 ms without one).
    if (this.bbr !== null) this.bbr.initPacingRate(this.rtt.hasSample ? this.rtt.srtt : 0);
  }

  /** Make the scoreboard once SACK is agreed. */
  enableSack(): void {
    this.sackOk = true;
    if (this.scoreboard === null) this.scoreboard = new SackScoreboard(this.config.maxSackRanges, this.sndUna);
    else this.scoreboard.reset(this.sndUna);
    if (this.rack === null) this.rack = new Rack();
    this.rack.reset(this.sndUna);
  }

  /** Our TSval clock (RFC 7323 5.4: 1 ms ticks) for `now`. */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }
}
