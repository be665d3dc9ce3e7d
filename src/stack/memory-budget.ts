/**
 * The stack-wide memory budget for buffers, in the manner of Linux's tcp_mem: every byte of
 * storage the transports and the reassembler hold for data (TCP send and receive rings, the
 * out-of-order data inside them, IPv4 reassembly buffers) is charged here, whoever the peer
 * is, so that a thousand connections that each fill their buffers cannot take the machine's
 * memory between them.
 *
 * Three thresholds, as tcp_mem's three values:
 *  - below `lowBytes` all is well; once in pressure, falling below it ends the pressure;
 *  - above `pressureBytes` the stack is under memory pressure: buffers stop growing and are
 *    sized toward their minimum (TCP's send buffers, the window it offers), and new
 *    connections start small; nothing already held is thrown away;
 *  - `maxBytes` is the hard limit: a charge that would pass it is refused. What holds the
 *    storage then does without (a write takes less, a segment beyond what its connection is
 *    guaranteed is dropped and retransmitted later, an out-of-order segment is dropped). Each
 *    holder is guaranteed a small minimum (`chargeForced`), so every connection can still make
 *    progress, as Linux lets each socket queue tcp_wmem[0] / tcp_rmem[0] whatever tcp_mem says.
 *
 * Pure: the clock is handed in (for when pressure began and how long it lasted).
 */

import type { MemoryAccount } from './network.js';

export interface MemoryConfig {
  /** Pressure ends when the buffers hold less than this (tcp_mem[0]). */
  lowBytes: number;
  /** Pressure begins when the buffers hold more than this (tcp_mem[1]). */
  pressureBytes: number;
  /** Charges beyond this are refused (tcp_mem[2]). */
  maxBytes: number;
}

/**
 * Sized so that `pstack server` (about 60 MB with nothing to do) stays well under 200 MB
 * resident whatever its peers do: the buffers hold at most 64 MB, plus the minimums each
 * connection is guaranteed, plus what the garbage collector has not yet taken back.
 */
export const defaultMemoryConfig: MemoryConfig = {
  lowBytes: 32 * 1024 * 1024,
  pressureBytes: 48 * 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
};

/**
 * A full configuration from the values given: a lower hard limit alone brings the pressure
 * and low thresholds down with it (to 3/4 and 1/2 of it), so one setting is enough.
 */
export function memoryConfigFrom(given: Partial<MemoryConfig> = {}): MemoryConfig {
  const maxBytes = given.maxBytes ?? defaultMemoryConfig.maxBytes;
  const pressureBytes = given.pressureBytes ?? Math.min(defaultMemoryConfig.pressureBytes, Math.floor((maxBytes * 3) / 4));
  const lowBytes = given.lowBytes ?? Math.min(defaultMemoryConfig.lowBytes, Math.floor(pressureBytes * 2 / 3));
  return { lowBytes, pressureBytes, maxBytes };
}

/** What the budget counts (shown by `pstack stats` as memoryXxx). */
export interface MemoryStats {
  /** Bytes charged now. */
  allocatedBytes: number;
  /** The most ever charged at once. */
  peakBytes: number;
  /** Times the stack entered memory pressure. */
  pressureEntered: number;
  /** Milliseconds spent under pressure, the current spell included. */
  pressureMs: number;
  /** Charges refused at the hard limit. */
  refusedCharges: number;
  /** Bytes those charges asked for. */
  refusedBytes: number;
  /** Bytes charged beyond the hard limit because their holder was guaranteed them. */
  forcedBytes: number;
  /** 1 while under pressure, else 0. */
  underPressure: number;
  /** Milliseconds since pressure last began, -1 if it never did. */
  lastPressureAgoMs: number;
}

export class MemoryBudget implements MemoryAccount {
  private allocated = 0;
  private peak = 0;
  private pressure = false;
  private pressureSince = 0;
  private pressureTotalMs = 0;
  private pressureCount = 0;
  private refused = 0;
  private refusedTotal = 0;
  private forced = 0;
  /** When pressure last began (clock ms), or -1 if never. */
  lastPressureAt = -1;
  /** The most charged since `onGiveBack` last ran (or since the start). */
  private highWater = 0;
  /**
   * Called when the buffers have given back at least `giveBackBytes` since their last high
   * point and hold less than `lowBytes`: the moment for the host to give the memory back in
   * turn (the storage sits in garbage until the collector runs, and an idle process may not
   * run it for minutes). Called from inside release(): it must only schedule work.
   */
  onGiveBack: (() => void) | null = null;
  /** How much must have been released before onGiveBack is called. */
  giveBackBytes = 4 * 1024 * 1024;

  constructor(readonly config: MemoryConfig, private readonly now: () => number) {
    if (!(config.lowBytes <= config.pressureBytes && config.pressureBytes <= config.maxBytes)) {
      throw new RangeError('memory limits must satisfy lowBytes <= pressureBytes <= maxBytes');
    }
  }

  /** Bytes charged now. */
  get allocatedBytes(): number {
    return this.allocated;
  }

  get underPressure(): boolean {
    return this.pressure;
  }

  /** At or beyond the hard limit: further charges are refused. */
  get overLimit(): boolean {
    return this.allocated >= this.config.maxBytes;
  }

  /** Charge `bytes`; false (and nothing charged) when that would pass the hard limit. */
  charge(bytes: number): boolean {
    if (this.allocated + bytes > this.config.maxBytes) {
      this.refused++;
      this.refusedTotal += bytes;
      return false;
    }
    this.add(bytes);
    return true;
  }

  /** Charge `bytes` whatever the limit: storage its holder is guaranteed. */
  chargeForced(bytes: number): void {
    const over = this.allocated + bytes - this.config.maxBytes;
    if (over > 0) this.forced += over < bytes ? over : bytes;
    this.add(bytes);
  }

  release(bytes: number): void {
    this.allocated -= bytes;
    if (this.allocated < 0) this.allocated = 0; // never: a holder gave back more than it took
    if (this.pressure && this.allocated < this.config.lowBytes) {
      this.pressure = false;
      this.pressureTotalMs += this.now() - this.pressureSince;
    }
    if (this.highWater - this.allocated >= this.giveBackBytes && this.allocated < this.config.lowBytes) {
      this.highWater = this.allocated;
      this.onGiveBack?.();
    }
  }

  private add(bytes: number): void {
    this.allocated += bytes;
    if (this.allocated > this.peak) this.peak = this.allocated;
    if (this.allocated > this.highWater) this.highWater = this.allocated;
    if (!this.pressure && this.allocated > this.config.pressureBytes) {
      this.pressure = true;
      this.pressureCount++;
      this.pressureSince = this.now();
      this.lastPressureAt = this.pressureSince;
    }
  }

  stats(): MemoryStats {
    return {
      allocatedBytes: this.allocated,
      peakBytes: this.peak,
      pressureEntered: this.pressureCount,
      pressureMs: Math.round(this.pressureTotalMs + (this.pressure ? this.now() - this.pressureSince : 0)),
      refusedCharges: this.refused,
      refusedBytes: this.refusedTotal,
      forcedBytes: this.forced,
      underPressure: this.pressure ? 1 : 0,
      lastPressureAgoMs: this.lastPressureAt < 0 ? -1 : Math.round(this.now() - this.lastPressureAt),
    };
  }
}
