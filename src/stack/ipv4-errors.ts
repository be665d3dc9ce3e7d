import type { Ipv4Packet } from '../wire/ipv4.js';

/**
 * How the parts of IPv4 below ICMP (link output, forwarding, reassembly, input) report a
 * problem with a datagram to its sender; ICMP (icmp.ts) implements it and is handed to them.
 */
export interface Ipv4ErrorSender {
  /** `rest` is the message's second word (pointer, next-hop MTU, gateway). */
  sendError(original: Ipv4Packet, type: number, code: number, rest: number): void;
}
