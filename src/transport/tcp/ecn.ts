/**
 * Explicit Congestion Notification for TCP (RFC 3168 sections 6.1.1 to 6.1.5), as Linux does
 * it with net.ipv4.tcp_ecn (`TcpConfig.ecn`: 0 off, 1 ask and accept, 2 accept only):
 *
 *  - negotiation: an ECN-setup SYN carries ECE and CWR, the ECN-setup SYN-ACK answering it ECE
 *    alone; a retransmitted SYN asks no more (a path that drops ECN-setup SYNs still connects,
 *    Linux's tcp_ecn_fallback). SYN cookies carry the agreement in the timestamp (syn-cookies.ts);
 *  - sender: new data goes out ECT(0); SYNs, pure ACKs, retransmissions and RSTs Not-ECT
 *    (6.1.1, 6.1.5). An ECE reduces the window once per round trip (6.1.2), through the
 *    congestion controller's `onEcnEcho`, which does not grow again in that round trip, and
 *    the next new data segment carries CWR;
 *  - receiver: a data segment marked CE makes every ACK carry ECE until a data segment with
 *    CWR arrives (6.1.3); the first CE is ACKed at once.
 *
 * The codepoint reaches the IP header through `IpOutputOptions.tos` (a TSO segment's header is
 * copied to every piece, so all carry it); the segment carrying CWR is never handed to TSO,
 * since the pieces would all carry the flag. Arriving codepoints come in `Segment.ecn`.
 */

import { TcpFlag } from '../../wire/tcp.js';
import type { TcpContext } from './context.js';
import type { Segment } from './segment.js';
import { seqGt, seqLt, seqSub } from './seq.js';
import type { Tcb } from './tcb.js';

const { SYN, ACK, RST, ECE, CWR } = TcpFlag;

/** The ECN field's codepoints (RFC 3168 section 5). */
export const EcnCodepoint = { NOT_ECT: 0, ECT1: 1, ECT0: 2, CE: 3 } as const;

/** TcpConfig.ecn values, as Linux's tcp_ecn. */
export const EcnMode = { OFF: 0, ON: 1, PASSIVE: 2 } as const;

/** An ECN-setup SYN: ECE and CWR both set (RFC 3168 6.1.1). */
export function isEcnSetupSyn(flags: number): boolean {
  return (flags & (ECE | CWR)) === (ECE | CWR);
}

/** An ECN-setup SYN-ACK: ECE set, CWR clear (RFC 3168 6.1.1). */
export function isEcnSetupSynAck(flags: number): boolean {
  return (flags & (ECE | CWR)) === ECE;
}

/**
 * The flags of a segment `emitSegment` is about to send, with the ECN bits it needs, and its
 * IP ECN codepoint in `ctx.ipOpts.tos`. New data is a data segment at or beyond SND.MAX.
 */
export function ecnOutput(ctx: TcpContext, tcb: Tcb, seq: number, flags: number, dataLen: number): number {
  let tos: number = EcnCodepoint.NOT_ECT;
  if ((flags & SYN) !== 0) {
    if (tcb.synEcn) flags |= (flags & ACK) !== 0 ? ECE : ECE | CWR;
  } else if (tcb.ecnOk && (flags & RST) === 0) {
    if (dataLen > 0 && !seqLt(seq, tcb.sndMax)) {
      tos = EcnCodepoint.ECT0;
      if (tcb.ecnCwrPending) {
        tcb.ecnCwrPending = false;
        flags |= CWR;
      }
    }
    if (tcb.ecnEcho && (flags & ACK) !== 0) {
      flags |= ECE;
      ctx.stats.ecnEchoesSent++;
    }
  }
  ctx.ipOpts.tos = tos;
  return flags;
}

/**
 * The round trip after an ECE reduction is not over (SND.UNA has not passed SND.MAX of the
 * reduction): the window does not grow (RFC 3168 6.1.2, "SHOULD NOT increase the congestion
 * window in response to ... ECN-Echo"; Linux's CWR state), and further ECEs are old news.
 */
export function inEcnReduction(tcb: Tcb): boolean {
  return tcb.ecnCwrSeq >= 0 && !seqGt(tcb.sndUna, tcb.ecnCwrSeq);
}

/**
 * ECN for an acceptable segment in a synchronized state, after its ACK field was processed
 * (`unaBefore`: SND.UNA before it). The receiver's side first: CWR ends the echo and a CE
 * mark (re)starts it, in that order (as Linux), so a CE on the CWR segment itself is echoed.
 * Then the sender's: an ECE reduces the window unless it was reduced within the last round
 * trip (SND.UNA not yet beyond SND.MAX of the last reduction) or loss recovery already did.
 */
export function ecnInput(ctx: TcpContext, tcb: Tcb, seg: Segment, flags: number, dataLen: number, unaBefore: number, now: number): void {
  const ecn = seg.ecn;
  if (ecn !== EcnCodepoint.NOT_ECT) tcb.ecnSeen = true;
  if (dataLen > 0) {
    if ((flags & CWR) !== 0) tcb.ecnEcho = false;
    if (ecn === EcnCodepoint.CE) {
      ctx.stats.ecnCeReceived++;
      // The sender should hear of it within this round trip (Linux enters quick-ACK mode).
      if (!tcb.ecnEcho) tcb.ackNow = true;
      tcb.ecnEcho = true;
    }
  }
  if ((flags & ECE) === 0) return;
  if (tcb.cc.inRecovery || tcb.rtoRecovery) return;
  if (inEcnReduction(tcb)) return;
  const flight = seqSub(tcb.sndMax, unaBefore);
  if (flight <= 0) return;
  tcb.cc.onEcnEcho(now, flight);
  tcb.ecnCwrSeq = tcb.sndMax;
  tcb.ecnCwrPending = true;
  ctx.stats.ecnReductions++;
}
