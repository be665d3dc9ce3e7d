/** Host-wide IPv4 settings that several parts of the network layer read, changeable at run time. */
export interface Ipv4Settings {
  /** TTL of the datagrams we originate. */
  defaultTtl: number;
  /** Act as a router between interfaces (RFC 1812) instead of dropping transit packets. */
  forwarding: boolean;
  /** Create ARP entries from replies we never asked for (off: RFC 826 merge rule only). */
  acceptUnsolicitedArp: boolean;
}
