/** Congestion control: interface, algorithms and a factory. */

import { Cubic, type CubicOptions } from './cubic.js';
import { NewReno } from './newreno.js';
import { Bbr } from './bbr.js';
import type { CongestionControl } from './types.js';

export { Cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C } from './cubic.js';
export { NewReno } from './newreno.js';
export { Bbr, BbrMode, BBR_MODE_NAMES } from './bbr.js';
export { DeliveryRate, RateSample } from './delivery-rate.js';
export { initialWindow, type CongestionControl } from './types.js';
export { HyStartPlusPlus } from './hystart.js';

export type CongestionAlgorithm = 'newreno' | 'cubic' | 'bbr';

export const CONGESTION_ALGORITHMS: readonly CongestionAlgorithm[] = ['cubic', 'newreno', 'bbr'];

/** Make a controller by name; CUBIC is the default, as in Linux; BBR is rate-based (pacing.ts). */
export function createCongestionControl(
  algorithm: CongestionAlgorithm,
  mss: number,
  options: CubicOptions = {},
): CongestionControl {
  if (algorithm === 'bbr') return new Bbr(mss, options);
  return algorithm === 'newreno' ? new NewReno(mss, options) : new Cubic(mss, options);
}
