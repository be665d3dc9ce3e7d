/** TCP's own counters (`Tcp.stats`, shown by `pstack stats` as tcpXxx). */

/** Counters in the spirit of the TCP MIB (RFC 4022) plus a few of Linux's. */
export class TcpStats {
  activeOpens = 0;
  passiveOpens = 0;
  activeOpensEstablished = 0;
  passiveOpensEstablished = 0;
  attemptFails = 0;
  estabResets = 0;
  retransSegs = 0;
  outRsts = 0;
  fastRetransmits = 0;
  timeouts = 0;
  challengeAcks = 0;
  /** Challenge ACKs not sent: one went out on the connection within tcp.challengeAckIntervalMs. */
  challengeAcksPerConnectionLimited = 0;
  /** Fragmentation Needed messages whose MTU was below the floor (MIN_PMTU), taken as the floor. */
  pmtuBelowFloor = 0;
  /** Times a connection's segment size shrank to a smaller path MTU (its own report or another connection's to the same host). */
  pmtuShrinks = 0;
  pawsRejected = 0;
  delayedAcks = 0;
  windowProbes = 0;
  keepAliveProbes = 0;
  synCookiesSent = 0;
  synCookiesValidated = 0;
  timeWaitOverflows = 0;
  /** Tail loss probes sent (RFC 8985 section 7; Linux TCPLossProbes). */
  tailLossProbes = 0;
  /** Probes that repaired a lost segment: their ACK went beyond them without a D-SACK (Linux TCPLossProbeRecovery). */
  tlpRecoveries = 0;
  /** Segments RACK judged lost (RFC 8985 section 6.2). */
  rackLosses = 0;
  /** RACK reordering timer expirations. */
  rackReorderTimeouts = 0;
  /** Segments delivered out of order (below one delivered earlier, never retransmitted): reordering seen. */
  reorderingSeen = 0;
  /** D-SACK blocks received (RFC 2883): data the receiver got twice. */
  dsacksReceived = 0;
  /** Retransmissions RACK judged lost in turn and sent again (Linux TCPLostRetransmit). */
  lostRetransmits = 0;
  /** SACK ranges a scoreboard forgot because it held tcp.maxSackRanges already. */
  sackRangesEvicted = 0;
  /** Sends cut short because the send buffer (tcp.sendBufferSize) was full. */
  sendBufferFull = 0;
  /** Sends cut short because the memory budget refused the send buffer more storage. */
  sendBufferMemoryLimited = 0;
  /** Connections reset when closed because tcp.maxOrphans orphans existed already. */
  orphansOverLimit = 0;
  /** Orphans reset because the memory budget was at its hard limit (Linux: out of memory). */
  orphansOutOfMemory = 0;
  /** Connections that agreed on ECN in their handshake (RFC 3168). */
  ecnNegotiated = 0;
  /** Data segments that arrived marked CE (Congestion Experienced) on ECN connections. */
  ecnCeReceived = 0;
  /** Segments sent with ECE, echoing a CE mark to the sender. */
  ecnEchoesSent = 0;
  /** Congestion window reductions in answer to ECE (at most one per round trip). */
  ecnReductions = 0;
}
