/** Congestion control: interface, algorithms and a factory. */

import { Cubic, type CubicOptions } from './cubic.js';
import { NewReno } from './newreno.js';
import type { CongestionControl } from './types.js';

export { Cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C } from './cubic.js';
export { NewReno } from './newreno.js';
export { initialWindow, type CongestionControl } from './types.js';
export { HyStartPlusPlus } from './hystart.js';

export type CongestionAlgorithm = 'newreno' | 'cubic';

/** Make a controller by name; CUBIC is the default, as in Linux. */
export function createCongestionControl(
  algorithm: CongestionAlgorithm,
  mss: number,
  options: CubicOptions = {},
): CongestionControl {
  return algorithm === 'newreno' ? new NewReno(mss, options) : new Cubic(mss, options);
}
