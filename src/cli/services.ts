/**
 * The services `pstack server` offers on its own addresses. ARP and ping are the stack's own;
 * transport services (TCP echo, UDP echo, discard, chargen) are added here as they exist.
 */

import type { Stack } from '../stack/stack.js';
import type { Logger } from '../observe/log.js';

export interface RunningServices {
  describe(): string;
  close(): void;
}

export function startServices(stack: Stack, logger: Logger): RunningServices {
  void stack;
  void logger;
  const names = ['arp', 'icmp echo'];
  return {
    describe: () => names.join(', '),
    close() {},
  };
}
