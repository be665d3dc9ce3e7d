/**
 * BBR v1 (draft-cardwell-iccrg-bbr-congestion-control-00; the facts of Linux's tcp_bbr.c):
 * a model of the path, bottleneck bandwidth (BtlBw, the windowed maximum of delivery-rate
 * samples over 10 round trips) and round-trip propagation time (RTprop, the minimum RTT over
 * 10 s), from which it sets a pacing rate (pacing_gain * BtlBw) and a window
 * (cwnd_gain * BDP plus room for TSO bursts). Loss is not a congestion signal for the model.
 *
 * States: STARTUP (gain 2/ln2, doubling the rate each round until the bandwidth has grown by
 * less than 25% for three rounds), DRAIN (the inverse gain, until what is in flight is one
 * BDP), PROBE_BW (pacing gain cycling 1.25, 0.75, then 1 for six phases of one RTprop each),
 * PROBE_RTT (when RTprop is 10 s old: cwnd 4 segments for 200 ms and a round, to measure it
 * again).
 *
 * Units: bytes, ms, bytes per ms. The state machine is driven by `onRateSample` on every ACK
 * (pacing.ts calls it, inside recovery too); the loss-based `onAck` of the interface does
 * nothing. In recovery (Linux's bbr_set_cwnd_to_recover_or_restore): the first round is
 * packet conservation (cwnd = in flight + newly delivered), after that cwnd as the model sets
 * it, and the cwnd before recovery is restored at its end. Sending in recovery follows this
 * cwnd against the data in flight (output.ts), not PRR. `ssthresh` in recovery reports that cwnd.
 */

import type { CongestionControl, CongestionOptions } from './types.js';
import { initialWindow } from './types.js';
import { DeliveryRate, type RateSample } from './delivery-rate.js';

export const enum BbrMode { STARTUP = 0, DRAIN = 1, PROBE_BW = 2, PROBE_RTT = 3 }
export const BBR_MODE_NAMES = ['startup', 'drain', 'probe_bw', 'probe_rtt'] as const;

/** 2/ln(2): the smallest gain that doubles the sending rate each round (draft 4.3.1.1). */
export const BBR_HIGH_GAIN = 2 / Math.LN2;
export const BBR_DRAIN_GAIN = 1 / BBR_HIGH_GAIN;
/** PROBE_BW's cwnd gain: room for delayed and aggregated ACKs. */
export const BBR_CWND_GAIN = 2;
export const BBR_PACING_GAIN_CYCLE: readonly number[] = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
/** BtlBw filter length in round trips, RTprop filter length (ms). */
export const BBR_BW_WINDOW_ROUNDS = 10;
export const BBR_MIN_RTT_WINDOW_MS = 10_000;
export const BBR_PROBE_RTT_DURATION_MS = 200;
/** Minimum cwnd in segments (and the window in PROBE_RTT). */
export const BBR_MIN_CWND_SEGMENTS = 4;
/** STARTUP ends after this many rounds without 25% growth. */
export const BBR_FULL_BW_ROUNDS = 3;
export const BBR_FULL_BW_THRESH = 1.25;

export interface BbrOptions extends CongestionOptions {
  /** A random start phase of the gain cycle, in [0, 1) (not the 0.75 phase); default 0. */
  cycleStart?: number;
}

export class Bbr implements CongestionControl {
  readonly name = 'bbr';
  readonly rate = new DeliveryRate();
  mode: BbrMode = BbrMode.STARTUP;
  pacingGain = BBR_HIGH_GAIN;
  cwndGain = BBR_HIGH_GAIN;
  /** Pacing rate (bytes per ms). */
  pacingRate = 0;
  /** RTprop estimate (ms) and when it was taken. */
  minRtt = Infinity;
  minRttStamp = 0;
  /** Round trips counted by delivery (draft 4.1.1.3). */
  roundCount = 0;
  roundStart = false;
  filledPipe = false;
  fullBw = 0;
  fullBwCount = 0;
  cycleIndex = 0;
  cycleStamp = 0;
  /** Times each state was entered (tests, diagnostics). */
  readonly entries = [0, 0, 0, 0];
  /** Extra room beyond gain*BDP (bytes): three TSO bursts, as Linux's quantization budget. */
  burst = 0;

  private w: number;
  private smss: number;
  private priorCwnd = 0;
  private nextRoundDelivered = 0;
  private probeRttDoneStamp = 0;
  private probeRttRoundDone = false;
  private recovering = false;
  private rtoLoss = false;
  private packetConservation = false;
  private conservationPending = false;
  private idleRestart = false;
  /** Per-round maxima of the bandwidth filter (ring by round number). */
  private readonly bwRounds = new Float64Array(BBR_BW_WINDOW_ROUNDS);
  private bwMax = 0;

  constructor(mss: number, options: BbrOptions = {}) {
    if (!(mss > 0)) throw new RangeError('mss must be > 0');
    this.smss = mss;
    this.w = options.initialCwnd ?? initialWindow(mss);
    const c = options.cycleStart ?? 0;
    const idx = Math.floor(c * (BBR_PACING_GAIN_CYCLE.length - 1));
    this.cycleIndex = idx === 0 ? 0 : idx + 1; // skip the draining phase right after probing's start
    if (this.cycleIndex >= BBR_PACING_GAIN_CYCLE.length) this.cycleIndex = 0;
    this.entries[BbrMode.STARTUP]++;
    this.initPacingRate(0);
  }

  /**
   * The pacing rate before there is a bandwidth sample (Linux's bbr_init_pacing_rate_from_rtt):
   * high_gain * cwnd over `srtt` (ms), or over a nominal 1 ms while there is no RTT sample
   * (`srtt` 0). Called at creation and again once the handshake gave an RTT.
   */
  initPacingRate(srtt: number): void {
    if (this.bwMax > 0) return;
    const rtt = srtt > 0 ? srtt : 1;
    this.pacingRate = (BBR_HIGH_GAIN * this.w) / rtt;
  }

  get cwnd(): number {
    return Math.floor(this.w);
  }
  get ssthresh(): number {
    return this.recovering ? Math.floor(this.w) : Infinity;
  }
  get mss(): number {
    return this.smss;
  }
  get inRecovery(): boolean {
    return this.recovering;
  }
  get inSlowStart(): boolean {
    return this.mode === BbrMode.STARTUP;
  }
  get inConservativeSlowStart(): boolean {
    return false;
  }
  /** BtlBw (bytes per ms). */
  get btlBw(): number {
    return this.bwMax;
  }
  get modeName(): string {
    return BBR_MODE_NAMES[this.mode]!;
  }

  /** BDP (bytes) at `gain`; the initial window before there is a model. */
  bdp(gain: number): number {
    if (!Number.isFinite(this.minRtt) || this.bwMax <= 0) return initialWindow(this.smss) * (gain > 1 ? gain : 1);
    return gain * this.bwMax * this.minRtt;
  }

  setMss(mss: number): void {
    if (!(mss > 0)) throw new RangeError('mss must be > 0');
    this.smss = mss;
  }

  // ---- the loss-based interface: BBR's window comes from its model ----
  onAck(): void {}
  onAckRtt(): void {}
  onDupAck(): void {}
  onPartialAck(): void {}
  onEcnEcho(): void {} // BBR v1 does not respond to ECN

  enterRecovery(_now: number, flightSize: number): void {
    this.saveCwnd();
    this.recovering = true;
    this.packetConservation = true;
    this.conservationPending = true;
    this.nextRoundDelivered = this.rate.delivered; // conservation lasts one round from here
    // Until the next ACK sets in-flight + delivered: the flight, so PRR sends per delivery.
    const f = flightSize > this.minCwnd() ? flightSize : this.minCwnd();
    if (f < this.w) this.w = f;
  }

  exitRecovery(): void {
    if (!this.recovering) return;
    this.recovering = false;
    this.packetConservation = false;
    if (this.priorCwnd > this.w) this.w = this.priorCwnd;
  }

  onRetransmitTimeout(): void {
    // Linux's loss state: cwnd 1 segment, growing by what is delivered, restored at its end.
    if (!this.rtoLoss) this.saveCwnd();
    this.rtoLoss = true;
    this.recovering = false;
    this.packetConservation = false;
    this.w = this.smss;
    this.rate.reset();
    this.fullBw = 0; // the sample after an RTO is no evidence of a plateau
  }

  onIdleRestart(): void {
    // Linux's bbr_cwnd_event(CA_EVENT_TX_START): in PROBE_BW, restart at the estimated rate.
    this.idleRestart = true;
    if (this.mode === BbrMode.PROBE_BW) this.setPacingRate(1);
  }

  /**
   * Every ACK (pacing.ts): `rs` its rate sample, `rtt` the RTT sample it gave (negative: none),
   * `inFlight` bytes in the network after it, `lost` bytes it showed lost, `rtoRecovering`
   * whether the go-back after an RTO is still under way.
   */
  onRateSample(rs: RateSample, rtt: number, inFlight: number, lost: number, now: number, rtoRecovering: boolean): void {
    const delivered = this.rate.delivered;
    // Round trips: a round ends when a transmission sent after the previous round's end is delivered.
    this.roundStart = false;
    if (rs.hasPrior) {
      if (rs.priorDelivered >= this.nextRoundDelivered) {
        this.nextRoundDelivered = delivered;
        this.roundCount++;
        this.roundStart = true;
        this.packetConservation = false;
        this.bwRounds[this.roundCount % BBR_BW_WINDOW_ROUNDS] = 0;
        this.recomputeBwMax();
      }
    }
    if (rs.valid && (rs.deliveryRate >= this.bwMax || !rs.isAppLimited)) {
      const slot = this.roundCount % BBR_BW_WINDOW_ROUNDS;
      if (rs.deliveryRate > this.bwRounds[slot]!) this.bwRounds[slot] = rs.deliveryRate;
      if (rs.deliveryRate > this.bwMax) this.bwMax = rs.deliveryRate;
    }
    this.checkCyclePhase(inFlight, lost, now);
    this.checkFullPipe(rs);
    this.checkDrain(inFlight, now);
    this.updateMinRtt(rtt, inFlight, now);
    this.setPacingRate(this.pacingGain);
    this.setCwnd(rs.newlyDelivered, inFlight, lost, rtoRecovering);
    this.idleRestart = false;
  }

  private recomputeBwMax(): void {
    let m = 0;
    for (let i = 0; i < BBR_BW_WINDOW_ROUNDS; i++) if (this.bwRounds[i]! > m) m = this.bwRounds[i]!;
    this.bwMax = m;
  }

  private minCwnd(): number {
    return BBR_MIN_CWND_SEGMENTS * this.smss;
  }

  private saveCwnd(): void {
    // Linux's bbr_save_cwnd: the cwnd to restore, not the 4-segment one of PROBE_RTT.
    if (!this.recovering && !this.rtoLoss && this.mode !== BbrMode.PROBE_RTT) this.priorCwnd = this.w;
    else if (this.w > this.priorCwnd) this.priorCwnd = this.w;
  }

  private enter(mode: BbrMode, now: number): void {
    this.mode = mode;
    this.entries[mode]++;
    if (mode === BbrMode.STARTUP) {
      this.pacingGain = BBR_HIGH_GAIN;
      this.cwndGain = BBR_HIGH_GAIN;
    } else if (mode === BbrMode.DRAIN) {
      this.pacingGain = BBR_DRAIN_GAIN;
      this.cwndGain = BBR_HIGH_GAIN;
    } else if (mode === BbrMode.PROBE_BW) {
      this.cwndGain = BBR_CWND_GAIN;
      this.cycleStamp = now;
      this.pacingGain = BBR_PACING_GAIN_CYCLE[this.cycleIndex]!;
    } else {
      this.pacingGain = 1;
      this.cwndGain = 1;
    }
  }

  private checkCyclePhase(inFlight: number, lost: number, now: number): void {
    if (this.mode !== BbrMode.PROBE_BW) return;
    const elapsed = now - this.cycleStamp > this.minRtt;
    const g = this.pacingGain;
    let next: boolean;
    if (g > 1) next = elapsed && (lost > 0 || inFlight >= this.bdp(g));
    else if (g < 1) next = elapsed || inFlight <= this.bdp(1);
    else next = elapsed;
    if (!next) return;
    this.cycleIndex = (this.cycleIndex + 1) % BBR_PACING_GAIN_CYCLE.length;
    this.cycleStamp = now;
    this.pacingGain = BBR_PACING_GAIN_CYCLE[this.cycleIndex]!;
  }

  private checkFullPipe(rs: RateSample): void {
    if (this.filledPipe || !this.roundStart || rs.isAppLimited) return;
    if (this.bwMax >= this.fullBw * BBR_FULL_BW_THRESH) {
      this.fullBw = this.bwMax;
      this.fullBwCount = 0;
      return;
    }
    if (++this.fullBwCount >= BBR_FULL_BW_ROUNDS) this.filledPipe = true;
  }

  private checkDrain(inFlight: number, now: number): void {
    if (this.mode === BbrMode.STARTUP && this.filledPipe) this.enter(BbrMode.DRAIN, now);
    if (this.mode === BbrMode.DRAIN && inFlight <= this.bdp(1)) this.enter(BbrMode.PROBE_BW, now);
  }

  private updateMinRtt(rtt: number, inFlight: number, now: number): void {
    // Only a minimum actually taken can expire (its stamp is meaningless before).
    const expired = Number.isFinite(this.minRtt) && now > this.minRttStamp + BBR_MIN_RTT_WINDOW_MS;
    if (rtt >= 0 && (rtt <= this.minRtt || expired)) {
      this.minRtt = rtt;
      this.minRttStamp = now;
    }
    if (expired && !this.idleRestart && this.mode !== BbrMode.PROBE_RTT) {
      this.saveCwnd();
      this.enter(BbrMode.PROBE_RTT, now);
      this.probeRttDoneStamp = 0;
    }
    if (this.mode !== BbrMode.PROBE_RTT) return;
    if (this.probeRttDoneStamp === 0 && inFlight <= this.minCwnd()) {
      this.probeRttDoneStamp = now + BBR_PROBE_RTT_DURATION_MS;
      this.probeRttRoundDone = false;
      this.nextRoundDelivered = this.rate.delivered;
    } else if (this.probeRttDoneStamp !== 0) {
      if (this.roundStart) this.probeRttRoundDone = true;
      if (this.probeRttRoundDone && now >= this.probeRttDoneStamp) {
        this.minRttStamp = now;
        if (this.priorCwnd > this.w) this.w = this.priorCwnd;
        if (this.filledPipe) this.enter(BbrMode.PROBE_BW, now);
        else this.enter(BbrMode.STARTUP, now);
      }
    }
  }

  private setPacingRate(gain: number): void {
    let rate: number;
    if (this.bwMax > 0) rate = gain * this.bwMax;
    else if (Number.isFinite(this.minRtt) && this.minRtt > 0) rate = (BBR_HIGH_GAIN * this.w) / this.minRtt;
    else rate = (BBR_HIGH_GAIN * this.w) / 1; // no RTT yet: as if 1 ms
    // Before the pipe is full only raise it (Linux): an early low sample must not slow STARTUP.
    if (this.filledPipe || rate > this.pacingRate || this.pacingRate === 0) this.pacingRate = rate;
  }

  private setCwnd(acked: number, inFlight: number, lost: number, rtoRecovering: boolean): void {
    if (this.rtoLoss && !rtoRecovering) {
      this.rtoLoss = false;
      if (this.priorCwnd > this.w) this.w = this.priorCwnd;
    }
    if (acked > 0) {
      if (lost > 0 && this.recovering) this.w = this.w - lost > this.smss ? this.w - lost : this.smss;
      const conserve = inFlight + acked;
      if (this.conservationPending) {
        this.conservationPending = false;
        this.w = conserve;
      }
      if (this.recovering && this.packetConservation) {
        if (conserve > this.w) this.w = conserve;
      } else {
        let target = this.bdp(this.cwndGain) + this.burst;
        if (this.mode === BbrMode.PROBE_BW && this.cycleIndex === 0) target += 2 * this.smss;
        if (this.filledPipe) this.w = this.w + acked < target ? this.w + acked : target;
        else if (this.w < target || this.rate.delivered < initialWindow(this.smss)) this.w += acked;
        if (this.w < this.minCwnd()) this.w = this.minCwnd();
      }
    }
    if (this.mode === BbrMode.PROBE_RTT && this.w > this.minCwnd()) this.w = this.minCwnd();
  }
}
