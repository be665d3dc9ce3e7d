/** A passive OPEN (RFC 9293 3.10.1) and the user it hands established connections to. */

import type { IpAddress } from '../../stack/network.js';
import type { Tcb } from './tcb.js';

/** Told when a listener has established connections to accept. */
export interface ListenerUser {
  onConnection(tcb: Tcb): void;
}

/** A passive OPEN (RFC 9293 3.10.1): a port (and address, or any) accepting connections. */
export class Listener {
  /** Established children not yet handed to the user (the accept queue). */
  readonly acceptQueue: Tcb[] = [];
  /** Children in SYN_RECEIVED (the SYN queue). */
  synQueueLength = 0;
  closed = false;
  user: ListenerUser | null = null;
  /** Last time the SYN or accept queue overflowed (SYN cookies are accepted shortly after). */
  lastOverflowAt = -Infinity;
  constructor(
    readonly localAddr: IpAddress,
    readonly localPort: number,
    /** Bound on the accept queue. */
    public backlog: number,
    /** On `::`: take IPv6 only, not IPv4 as well (IPV6_V6ONLY). */
    readonly v6Only = false,
  ) {}
}
