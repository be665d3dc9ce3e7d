/**
 * The last step out: an IP packet onto its device. Resolves the next hop's MAC through the
 * neighbor cache (queueing a copy while ARP asks), writes the Ethernet header in the headroom
 * in front of the packet, passes offload requests (partial checksum, TSO) to the device, and
 * shows the frame to the observer. While the warm path replays a frame (warm.ts), output is
 * muted: nothing leaves, nothing is queued, no ARP request is sent.
 */

import type { Device } from '../link/device.js';
import { EtherType, emitEthernet, padFrame, ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { Ipv4Packet } from '../wire/ipv4.js';
import { IcmpType, UnreachableCode } from '../wire/icmp.js';
import { fold16, sum16 } from '../wire/checksum.js';
import { IPV4_BROADCAST, MAC_BROADCAST, type Ipv4Address } from '../wire/addr.js';
import type { Counters } from './counters.js';
import type { Interface } from './interface.js';
import type { NeighborCache, NeighborEntry } from './neighbors.js';
import type { PacketObserver, StackEvents } from './observer.js';
import type { Ipv4ErrorSender } from './ipv4-errors.js';

export class LinkOutput {
  observer: PacketObserver | null = null;
  /** Set while the warm path replays a frame: output is swallowed (see warm.ts). */
  muted = false;
  /** Whether a muted replay got as far as a device. */
  mutedOutputReached = false;
  /** Sends ARP requests for next hops that became stale (arp.ts sets it). */
  requestNeighbor: (iface: Interface, ip: Ipv4Address) => void = () => {};
  /** Reports Host Unreachable for packets ARP could not deliver (icmp.ts). */
  errors: Ipv4ErrorSender | null = null;
  private readonly queueBuffer = new Uint8Array(ETHERNET_HEADER_LENGTH + 65536);
  /** The MAC of the multicast group being sent to (RFC 1112 6.4: 01:00:5e + the group's low 23 bits). */
  private readonly groupMac = Uint8Array.of(0x01, 0x00, 0x5e, 0, 0, 0);

  constructor(
    private readonly neighbors: NeighborCache,
    private readonly counters: Counters,
    private readonly events: StackEvents,
  ) {}

  /**
   * Put an IP packet on the link. `buf` must have ETHERNET_HEADER_LENGTH free bytes before
   * `offset` (every output path builds with headroom). Unresolved next hops queue a copy.
   * `partialChecksumAt` and `gsoSize` are the offload requests of IpOutputOptions.
   */
  send(
    iface: Interface, nextHop: Ipv4Address, buf: Uint8Array, offset: number, length: number,
    gsoSize = 0, partialChecksumAt = 0,
  ): void {
    const device = iface.device;
    if (device.type === 'loopback') {
      this.transmit(device, buf, offset, length, 0, 0);
      return;
    }
    let mac: Uint8Array | null;
    if (nextHop === IPV4_BROADCAST || nextHop === iface.broadcast) mac = MAC_BROADCAST;
    else if (nextHop >>> 28 === 0xe) {
      mac = this.groupMac;
      mac[3] = (nextHop >>> 16) & 0x7f;
      mac[4] = (nextHop >>> 8) & 0xff;
      mac[5] = nextHop & 0xff;
    } else {
      mac = this.neighbors.lookup(nextHop);
      if (mac === null) {
        if (this.muted) return; // a replay queues nothing and asks ARP nothing
        if (partialChecksumAt !== 0) {
          // The queue sends plain frames later: finish the checksum here. A segment larger
          // than the link can only go out cut up by the device, so it is dropped (TCP resends).
          if (length > iface.mtu) {
            this.counters.drop('ipv4: unresolved-tso');
            return;
          }
          completePartialChecksum(buf, offset, length, partialChecksumAt);
        }
        const copy = buf.slice(offset, offset + length);
        if (!this.neighbors.enqueue(iface, nextHop, copy)) {
          this.counters.drop('ipv4: unresolved');
          // While ARP's failed hold lasts, a packet to that neighbour fails at once, and its
          // sender hears so (Host Unreachable; delivered locally for our own packets), as
          // Linux reports EHOSTUNREACH instead of letting the packet vanish.
          if (this.neighbors.get(nextHop)?.state === 'failed') {
            const view = new Ipv4Packet(copy, 0, copy.length);
            if (view.check() === null) this.errors?.sendError(view, IcmpType.DestinationUnreachable, UnreachableCode.Host, 0);
          }
        }
        return;
      }
      const entry = this.neighbors.get(nextHop);
      if (entry !== undefined && entry.state === 'stale' && entry.requestsSent === 0 && !this.muted) {
        // Still usable, but confirm it (RFC 1122 2.3.2.1 asks for a timeout-and-revalidate scheme).
        entry.requestsSent = 1;
        this.requestNeighbor(iface, nextHop);
      }
    }
    const start = offset - ETHERNET_HEADER_LENGTH;
    emitEthernet(buf, start, mac, device.mac, EtherType.IPv4);
    const frameLength = padFrame(buf, start, ETHERNET_HEADER_LENGTH + length);
    // The device completes the checksum from the transport header on (frame offset).
    const csumStart = partialChecksumAt === 0 ? 0 : ETHERNET_HEADER_LENGTH + ((buf[offset]! & 0x0f) << 2);
    this.transmit(device, buf, start, frameLength, gsoSize, csumStart === 0 ? 0 : partialChecksumAt, csumStart);
  }

  /** A whole frame (or, on loopback, an IP packet) to `device`. */
  transmit(
    device: Device, buf: Uint8Array, offset: number, length: number, gsoSize = 0, csumOffset = 0, csumStart = 0,
  ): void {
    if (this.muted) {
      this.mutedOutputReached = true;
      return;
    }
    this.counters.framesOut++;
    this.observer?.frame('outgoing', device, buf, offset, length);
    // A frame built in place in a received frame is often the whole view already.
    const frame = offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length);
    if (csumStart === 0) device.send(frame);
    else device.send(frame, gsoSize, csumStart, csumOffset);
  }

  /** ARP resolved `entry`: send what waited for it. */
  flushQueue(entry: NeighborEntry, packets: readonly Uint8Array[]): void {
    const scratch = this.queueBuffer;
    for (const p of packets) {
      scratch.set(p, ETHERNET_HEADER_LENGTH);
      this.send(entry.iface, entry.ip, scratch, ETHERNET_HEADER_LENGTH, p.length);
    }
  }

  /** ARP gave up on `entry`: what waited for it gets Host Unreachable. */
  resolutionFailed(entry: NeighborEntry, packets: readonly Uint8Array[], ipToString: (a: Ipv4Address) => string): void {
    this.events.event('arp resolution failed', { ip: ipToString(entry.ip), device: entry.iface.device.name, dropped: packets.length });
    for (const p of packets) {
      this.counters.drop('arp: unresolved');
      const view = new Ipv4Packet(p, 0, p.length);
      // Only datagrams we forwarded deserve Host Unreachable to someone else; our own
      // sockets learn it the same way, through the ICMP error path.
      if (view.check() === null) this.errors?.sendError(view, IcmpType.DestinationUnreachable, UnreachableCode.Host, 0);
    }
  }
}

/**
 * Finish a transport checksum left partial for a device (its field holds the pseudo-header
 * sum): the checksum over the transport header and data, as the device would have done it.
 */
function completePartialChecksum(buf: Uint8Array, ipOffset: number, ipLength: number, checksumAt: number): void {
  const start = ipOffset + ((buf[ipOffset]! & 0x0f) << 2);
  const at = start + checksumAt;
  const csum = ~fold16(sum16(buf, start, ipOffset + ipLength - start)) & 0xffff;
  buf[at] = csum >>> 8;
  buf[at + 1] = csum & 0xff;
}
