/**
 * Giving memory back to the system once connections have gone.
 *
 * TCP's buffer storage is plain ArrayBuffers: when a connection goes, its storage becomes
 * garbage, but V8 collects the old generation only when JavaScript allocates enough to reach
 * its next limit. A server that has just seen hundreds of connections reset (a sockstress
 * attack ending, a burst of clients leaving) is idle and allocates next to nothing, so tens
 * of megabytes would stay resident for minutes, or for good. The stack's memory budget
 * (stack/memory-budget.ts) says when its buffers have given back a good share of what they
 * held (onGiveBack); this module then empties TCP's free lists of spare storage and runs a
 * short series of full collections: the first a second later (so that a wave of closes is
 * collected at once), which frees the storage; then two more, seconds apart, because V8 gives
 * back the young generation it grew during the traffic (up to 32 MB) only in a collection
 * that finds the allocation rate low. While a series runs, further notices are ignored, so
 * busy traffic, which charges and releases all the time, pays a few milliseconds now and then.
 *
 * The collection is V8's own `gc`, which Node hides unless started with --expose-gc: the flag
 * is set at run time and the function taken from a fresh context, which is V8's documented
 * way for embedders' tools to reach it.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MemoryBudget } from '../stack/memory-budget.js';
import { trimStorage } from '../transport/tcp/bytes.js';

/** Wait after the budget gives back, so that a wave of closes is collected at once. */
const SETTLE_MS = 1000;
/** Collections in a series, and the time between them. */
const SERIES = 3;
const SPACING_MS = 3000;

let fullGc: (() => void) | null | undefined;

/** V8's full collection, or null if this runtime does not give it. */
function collector(): (() => void) | null {
  if (fullGc !== undefined) return fullGc;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (fullGc = exposed);
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    fullGc = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    fullGc = null;
  }
  return fullGc;
}

/** Collections run so far by reclaimers (tests, diagnostics). */
export let reclaimRuns = 0;

/** Give memory back when `budget` says its buffers have released a good share. */
export function reclaimMemoryFor(budget: MemoryBudget): void {
  let left = 0;
  const run = () => {
    trimStorage();
    collector()?.();
    reclaimRuns++;
    if (--left > 0) setTimeout(run, SPACING_MS).unref();
  };
  budget.onGiveBack = () => {
    if (left > 0) return;
    left = SERIES;
    setTimeout(run, SETTLE_MS).unref();
  };
}
