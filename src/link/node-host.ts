/**
 * What Node offers the web-standard core in place of its portable defaults: setImmediate for
 * work after the current turn (it runs in the check phase, after this turn's I/O callbacks,
 * which is what TCP's "ACK after the application's reply" wants; a timeout would add a
 * millisecond), and buffer storage that is not zero-filled.
 */

import { Buffer } from 'node:buffer';
import type { TaskQueue } from '../time/clock.js';

export const nodeTasks: TaskQueue = {
  defer: (task) => {
    setImmediate(task);
  },
};

/** A plain Uint8Array (one shape for every ring) over memory that is not zeroed. */
export function nodeAllocate(size: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
}
