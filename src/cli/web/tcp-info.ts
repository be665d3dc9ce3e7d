/**
 * Each TCP connection's state as `ss -ti` shows it (cwnd in segments, rtt/rttvar and rto in
 * ms, windows, queues), read from the connection blocks, for the web page's table.
 */

import { ipv4ToString } from '../../wire/addr.js';
import type { Tcp } from '../../transport/tcp/tcp.js';

export interface TcpConnectionInfo {
  local: string;
  remote: string;
  state: string;
  congestion: string;
  /** Congestion window and slow-start threshold, in segments of mss bytes as ss shows them. */
  cwnd: number;
  ssthresh: number | null;
  mss: number;
  /** Smoothed RTT and its variation (ms; null before the first sample), retransmission timeout (ms). */
  rtt: number | null;
  rttvar: number | null;
  rto: number;
  /** The peer's advertised window (scaled, bytes) and ours. */
  sndWnd: number;
  rcvWnd: number;
  /** Bytes sent and not yet acknowledged; bytes in the send buffer (sent or not); bytes received not yet read. */
  unacked: number;
  sendQueue: number;
  recvQueue: number;
  retransmits: number;
  sack: boolean;
  timestamps: boolean;
  wscale: string;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function tcpConnections(tcp: Tcp): TcpConnectionInfo[] {
  return tcp.connections().map((t) => {
    const mss = Math.max(1, t.smss);
    const ssthresh = t.cc.ssthresh;
    return {
      local: `${ipv4ToString(t.localAddr)}:${t.localPort}`,
      remote: `${ipv4ToString(t.remoteAddr)}:${t.remotePort}`,
      state: t.stateName,
      congestion: t.cc.name,
      cwnd: Math.floor(t.cc.cwnd / mss),
      ssthresh: Number.isFinite(ssthresh) && ssthresh < 0x7fffffff ? Math.floor(ssthresh / mss) : null,
      mss: t.smss,
      rtt: t.rtt.hasSample ? round3(t.rtt.srtt) : null,
      rttvar: t.rtt.hasSample ? round3(t.rtt.rttvar) : null,
      rto: round3(t.rtt.rto),
      sndWnd: t.sndWnd,
      rcvWnd: t.recvBuffer.window,
      unacked: t.flightSize,
      sendQueue: t.sendBuffer.length,
      recvQueue: t.recvBuffer.readable,
      retransmits: t.retries,
      sack: t.sackOk,
      timestamps: t.tsOk,
      wscale: `${t.sndWscale},${t.rcvWscale}`,
    };
  });
}
