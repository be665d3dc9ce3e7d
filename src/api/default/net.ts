/**
 * `import net from 'pstack/net'` (or its named exports): node:net's surface over the
 * process's default stack, opened from the environment on first import (env-config.ts).
 */

import { defaultStack } from '../default-stack.js';

const net = (await defaultStack()).net;
export default net;
export const {
  Socket, Stream, Server, connect, createConnection, createServer, isIP, isIPv4, isIPv6, SocketAddress, BlockList,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
} = net;
