/**
 * `import dns from 'pstack/dns'`: node:dns's surface (callbacks, `promises`, `Resolver`) over
 * the default stack's resolver (env-config.ts: PSTACK_DNS, or the DHCP lease's servers).
 */

import { defaultStack } from '../default-stack.js';

const dns = (await defaultStack()).dns;
export default dns;
export const promises = dns.promises;
