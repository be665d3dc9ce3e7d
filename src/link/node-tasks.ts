/**
 * Node's way of running work after the current turn: setImmediate runs in the check phase,
 * after the I/O callbacks of this turn, which is what TCP's "ACK after the application's
 * reply" wants (a timeout would add a millisecond).
 */

import type { TaskQueue } from '../time/clock.js';

export const nodeTasks: TaskQueue = {
  defer: (task) => {
    setImmediate(task);
  },
};
