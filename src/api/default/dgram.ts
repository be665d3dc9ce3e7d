/** `import dgram from 'pstack/dgram'`: node:dgram's surface over the default stack (env-config.ts). */

import { defaultStack } from '../default-stack.js';

const dgram = (await defaultStack()).dgram;
export default dgram;
export const { Socket, createSocket } = dgram;
