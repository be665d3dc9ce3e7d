/** The pure wire layer in one namespace: `import { wire } from 'pstack'`. */
export * from './addr.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv4-options.js';
export * from './ipv6.js';
export * from './sha256.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
export * from './tcp-options.js';
export * from './view.js';
export * from './dhcp.js';
export * from './dns.js';
export * from './addr6.js';
