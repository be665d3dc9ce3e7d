/**
 * Per-connection TCP internals as plain objects, what Linux's `ss -ti` (struct tcp_info)
 * shows: congestion window and threshold, RTT estimate and RTO, retransmissions, SACKed and
 * lost segments, bytes in flight, both windows, MSS, window scales, ECN and byte counts.
 *
 * A snapshot for inspection (`pstack ss`, the control socket, the web page): computed on
 * request from the connection blocks, nothing is kept or counted for it per packet.
 */

import type { Stack } from './stack.js';
import { TCP_STATE_NAMES, TcpState, type Tcb } from '../transport/tcp/tcp.js';
import { ipAddressToString } from '../stack/ip-address.js';

export interface TcpConnectionInfo {
  state: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Bytes received and not yet read by the application (ss Recv-Q). */
  recvQueue: number;
  /** Bytes in the send buffer: unacknowledged and unsent (ss Send-Q). */
  sendQueue: number;
  /** Congestion control algorithm (cubic, newreno). */
  congestion: string;
  /** Window scale the peer applies to its windows, and we to ours (-1: not negotiated). */
  sndWscale: number;
  rcvWscale: number;
  /** Retransmission timeout in force (ms, with backoff). */
  rtoMs: number;
  /** Smoothed RTT and its variation (ms); 0 before the first sample. */
  srttMs: number;
  rttvarMs: number;
  /** Smallest RTT sample (ms), or null before one. */
  minRttMs: number | null;
  /** Sender MSS (data per full segment), the MSS we advertised, and the largest segment the peer takes. */
  mss: number;
  advmss: number;
  /** Congestion window in segments (cwnd / mss, as Linux counts) and in bytes. */
  cwnd: number;
  cwndBytes: number;
  /** Slow-start threshold in segments, null while unset (infinite). */
  ssthresh: number | null;
  /** Segments sent and not yet acknowledged (Linux unacked), and the bytes. */
  unacked: number;
  bytesInFlight: number;
  /**
   * Retransmitted segments still in flight (Linux retrans_out); without SACK, which keeps no
   * per-segment state, consecutive timeouts of the segment at SND.UNA.
   */
  retransCurrent: number;
  /** Segments retransmitted over the connection's life (Linux retrans, total). */
  retransTotal: number;
  /** Retransmission timer expirations. */
  timeouts: number;
  /** Segments the peer reported SACKed above SND.UNA, and those judged lost (by RACK or an RTO) and not yet resent. */
  sacked: number;
  lost: number;
  /** Segments found delivered out of order (RACK reordering), and D-SACK blocks received. */
  reordSeen: number;
  dsackDups: number;
  /** The peer's receive window (SND.WND) and the window we advertise (RCV.WND), bytes. */
  sndWnd: number;
  rcvWnd: number;
  /** Payload bytes the peer acknowledged, we received in order, and we sent (first transmissions). */
  bytesAcked: number;
  bytesReceived: number;
  bytesSent: number;
  segsIn: number;
  segsOut: number;
  /** Milliseconds since data was last sent, since a segment was last received. */
  lastSendMs: number;
  lastRecvMs: number;
  /** In loss recovery (fast recovery or after an RTO). */
  inRecovery: boolean;
  sackOk: boolean;
  timestamps: boolean;
  /** ECN (RFC 3168) was agreed in the handshake (ss ecn). */
  ecn: boolean;
  /** A segment arrived with an ECT or CE codepoint (ss ecnseen). */
  ecnSeen: boolean;
  /** BBR's model (ss bbr:(...) and pacing_rate), absent for other congestion controls. */
  bbr?: BbrInfo;
}

export interface BbrInfo {
  /** State: startup, drain, probe_bw, probe_rtt. */
  mode: string;
  /** Bottleneck bandwidth estimate and pacing rate, bits per second. */
  bwBps: number;
  pacingRateBps: number;
  /** RTprop estimate (ms), null before a sample. */
  minRttMs: number | null;
  pacingGain: number;
  cwndGain: number;
}

/** Every TCP connection of `stack` (listeners excluded), in table order. */
export function tcpConnectionInfo(stack: Stack): TcpConnectionInfo[] {
  const now = stack.clock.now();
  return stack.tcp.connections().map((t) => tcbInfo(t, now));
}

/** One connection block's numbers at `now` (the stack clock's ms). */
export function tcbInfo(t: Tcb, now: number): TcpConnectionInfo {
  const mss = t.smss > 0 ? t.smss : 536;
  const cc = t.cc;
  const handshaking = t.state === TcpState.SYN_SENT || t.state === TcpState.SYN_RECEIVED;
  const sndUnaPastSyn = handshaking ? 0 : diff(t.sndUna, t.iss) - 1;
  const finAcked = t.finAcked ? 1 : 0;
  const bytesInFlight = t.flightSize;
  const { sacked, lost } = sackCounts(t);
  return {
    state: TCP_STATE_NAMES[t.state]!,
    localAddress: ipAddressToString(t.localAddr),
    localPort: t.localPort,
    remoteAddress: ipAddressToString(t.remoteAddr),
    remotePort: t.remotePort,
    recvQueue: t.recvBuffer.readable,
    sendQueue: t.sendBuffer.length,
    congestion: cc.name,
    sndWscale: t.synWs ? t.sndWscale : -1,
    rcvWscale: t.synWs ? t.rcvWscale : -1,
    rtoMs: t.rtt.rto,
    srttMs: t.rtt.srtt,
    rttvarMs: t.rtt.rttvar,
    minRttMs: Number.isFinite(t.rtt.minRtt) ? t.rtt.minRtt : null,
    mss,
    advmss: t.rcvMss,
    cwnd: Math.floor(cc.cwnd / mss),
    cwndBytes: cc.cwnd,
    ssthresh: Number.isFinite(cc.ssthresh) ? Math.floor(cc.ssthresh / mss) : null,
    unacked: Math.ceil(bytesInFlight / mss),
    bytesInFlight,
    retransCurrent: t.rack !== null ? t.rack.retransSegs : t.retries,
    retransTotal: t.retransmits,
    timeouts: t.timeouts,
    sacked,
    lost,
    reordSeen: t.rack !== null ? t.rack.reorderEvents : 0,
    dsackDups: t.scoreboard !== null ? t.scoreboard.dsackCount : 0,
    sndWnd: t.sndWnd,
    rcvWnd: t.recvBuffer.window,
    bytesAcked: Math.max(0, sndUnaPastSyn - finAcked),
    bytesReceived: t.bytesReceived,
    bytesSent: t.bytesSent,
    segsIn: t.segmentsIn,
    segsOut: t.segmentsOut,
    lastSendMs: Math.max(0, Math.round(now - t.lastSendAt)),
    lastRecvMs: Math.max(0, Math.round(now - t.lastRecvAt)),
    inRecovery: cc.inRecovery || t.rtoRecovery,
    sackOk: t.sackOk,
    timestamps: t.tsOk,
    ecn: t.ecnOk,
    ecnSeen: t.ecnSeen,
    ...(t.bbr !== null ? { bbr: {
      mode: t.bbr.modeName,
      bwBps: t.bbr.btlBw * 8000,
      pacingRateBps: t.bbr.pacingRate * 8000,
      minRttMs: Number.isFinite(t.bbr.minRtt) ? t.bbr.minRtt : null,
      pacingGain: t.bbr.pacingGain,
      cwndGain: t.bbr.cwndGain,
    } } : {}),
  };
}

function diff(a: number, b: number): number {
  return (a - b) >>> 0;
}

/** SACKed segments, and lost ones waiting to be resent, from RACK's segment records. */
function sackCounts(t: Tcb): { sacked: number; lost: number } {
  const r = t.rack;
  if (r === null) return { sacked: 0, lost: 0 };
  return { sacked: r.sackedSegs, lost: r.lostSegs - r.retransSegs };
}
