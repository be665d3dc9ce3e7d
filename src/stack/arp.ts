/**
 * ARP (RFC 826) on the host's Ethernet devices: requests for our addresses are answered,
 * what a packet proves about its sender is learned under the RFC's merge rule, and requests
 * go out for next hops the neighbor cache needs. Hostile input is dropped, never learned:
 * a sender claiming our address, a group MAC, broadcast or multicast sender addresses.
 */

import type { Device } from '../link/device.js';
import { EtherType, emitEthernet, padFrame, ETHERNET_HEADER_LENGTH } from '../wire/ethernet.js';
import { ArpPacket, ArpOp, emitArp, ARP_PACKET_LENGTH } from '../wire/arp.js';
import { IPV4_BROADCAST, MAC_BROADCAST, MAC_ZERO, isMulticast, isMulticastMac, macEquals, macToString, type Ipv4Address } from '../wire/addr.js';
import type { Counters } from './counters.js';
import type { Interface } from './interface.js';
import type { InterfaceTable } from './interfaces.js';
import type { NeighborCache } from './neighbors.js';
import type { LinkOutput } from './link-output.js';
import type { Ipv4Settings } from './settings.js';

export class Arp {
  /** Addresses being probed before use (RFC 5227), and who to tell when another host has one. */
  private readonly watched = new Map<Ipv4Address, (mac: string) => void>();
  private readonly arp = new ArpPacket();
  private readonly frame = new Uint8Array(ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH + 18);

  constructor(
    private readonly interfaces: InterfaceTable,
    private readonly neighbors: NeighborCache,
    private readonly counters: Counters,
    private readonly link: LinkOutput,
    private readonly settings: Ipv4Settings,
  ) {}

  receive(device: Device, frame: Uint8Array): void {
    this.counters.arpIn++;
    const arp = this.arp.reset(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH);
    const bad = arp.check();
    if (bad !== null) {
      this.counters.drop(`arp: ${bad}`);
      return;
    }
    const op = arp.op;
    const spa = arp.senderIp;
    const tpa = arp.targetIp;
    if (this.watched.size !== 0 && !macEquals(frame, arp.senderMacOffset, device.mac)) this.checkConflict(frame, arp, spa, tpa, op);
    const iface = this.interfaces.list.find((i) => i.device === device && i.address === tpa);
    const onDevice = this.interfaces.onDevice(device);
    if (onDevice === undefined) {
      this.counters.drop('arp: no-interface');
      return;
    }
    // A sender claiming one of our own addresses is a conflict or a spoof: never learn it.
    if (this.interfaces.isLocalAddress(spa)) {
      this.counters.drop('arp: sender-is-us');
      return;
    }
    // A group (broadcast or multicast) hardware address is never a host's: answering or
    // learning it would turn one frame into traffic for every host (RFC 1812 3.3.2).
    if (isMulticastMac(frame, arp.senderMacOffset)) {
      this.counters.drop('arp: bad-sender');
      return;
    }
    if (spa === 0) {
      // RFC 5227 2.1.1: an ARP Probe (sender 0.0.0.0) for our address is a host checking
      // whether it is free; the owner answers, or the prober would take our address. Nothing
      // is learned from a probe. (Linux's arp_process answers the same way.)
      if (op === ArpOp.Request && iface !== undefined) {
        const sha = frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6);
        this.send(device, ArpOp.Reply, iface.address, sha, 0, sha);
      } else {
        this.counters.drop('arp: bad-sender');
      }
      return;
    }
    if (spa === IPV4_BROADCAST || isMulticast(spa)) {
      this.counters.drop('arp: bad-sender');
      return;
    }
    // RFC 826 merge: update an entry we have; create one only when the packet is aimed at us
    // (a request for our address, or a reply we solicited), unless configured otherwise.
    const isRequestForUs = op === ArpOp.Request && iface !== undefined;
    const create = isRequestForUs || (this.settings.acceptUnsolicitedArp && iface !== undefined);
    if (onDevice.onLink(spa)) this.neighbors.learn(onDevice, spa, frame, arp.senderMacOffset, create);
    if (op === ArpOp.Request) {
      if (iface === undefined) {
        this.counters.drop('arp: not-for-us');
        return;
      }
      this.send(device, ArpOp.Reply, iface.address, frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6), spa,
        frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6));
    } else if (op !== ArpOp.Reply) {
      this.counters.drop('arp: unknown-op');
    }
  }

  /**
   * RFC 5227 2.1.1: another host has `address` if it sends any ARP packet from it, or probes
   * for it itself while we probe (a request with sender 0.0.0.0 and that target).
   */
  private checkConflict(frame: Uint8Array, arp: ArpPacket, spa: Ipv4Address, tpa: Ipv4Address, op: number): void {
    const claimed = spa !== 0 ? spa : op === ArpOp.Request ? tpa : -1;
    const tell = this.watched.get(claimed);
    if (tell === undefined) return;
    this.watched.delete(claimed);
    tell(macToString(frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6)));
  }

  /**
   * Watch for another host using `address` (call `probe` to ask); `onConflict` gets the other
   * host's MAC. Returns the function that stops watching.
   */
  watch(address: Ipv4Address, onConflict: (mac: string) => void): () => void {
    this.watched.set(address, onConflict);
    return () => {
      if (this.watched.get(address) === onConflict) this.watched.delete(address);
    };
  }

  /** An ARP Probe for `address` (RFC 5227 2.1.1: sender address 0, target the candidate). */
  probe(device: Device, address: Ipv4Address): void {
    this.send(device, ArpOp.Request, 0, MAC_ZERO, address, MAC_BROADCAST);
  }

  /** An ARP Announcement (RFC 5227 2.3): a request with our new address as sender and target. */
  announce(device: Device, address: Ipv4Address): void {
    this.send(device, ArpOp.Request, address, MAC_ZERO, address, MAC_BROADCAST);
  }

  /** Ask the link who has `ip` (for the neighbor cache). */
  request(iface: Interface, ip: Ipv4Address): void {
    this.send(iface.device, ArpOp.Request, iface.address, MAC_ZERO, ip, MAC_BROADCAST);
  }

  private send(device: Device, op: number, senderIp: Ipv4Address, targetMac: Uint8Array, targetIp: Ipv4Address, ethDst: Uint8Array): void {
    const f = this.frame;
    emitEthernet(f, 0, ethDst, device.mac, EtherType.ARP);
    emitArp(f, ETHERNET_HEADER_LENGTH, { op, senderMac: device.mac, senderIp, targetMac, targetIp });
    const len = padFrame(f, 0, ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH);
    this.counters.arpOut++;
    this.link.transmit(device, f, 0, len);
  }
}
