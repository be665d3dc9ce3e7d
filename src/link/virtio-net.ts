/**
 * The parts of a TAP's virtio-net header (struct virtio_net_hdr, linux/virtio_net.h) and of
 * TUNSETOFFLOAD (linux/if_tun.h) that pstack decides on itself: which offloads the kernel's
 * TUN_F_* bits grant, which GSO type a frame to be cut up is, and how large a coalesced packet
 * the kernel may hand over. Pure, so the decisions are unit-tested without a TAP; the addon
 * (native/tap.c) reads and writes the header bytes.
 */

import type { DeviceOffloads } from './device.js';
import { NO_OFFLOADS } from './device.js';

/** TUN_F_* bits of linux/if_tun.h, as the addon reports what TUNSETOFFLOAD accepted. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;

/** virtio_net_hdr.flags. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

/** virtio_net_hdr.gso_type. */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;

/**
 * The most one segment handed to the kernel to cut up may be, IP header included, for either
 * family: a whole IPv4 datagram; for IPv6 the same bound keeps every packet well inside its
 * 16-bit payload length, as Linux's own TCP does on a device with a 64 KB GSO limit.
 */
export const MAX_TSO_PACKET = 65535;

/** The largest IPv6 packet the kernel may hand over coalesced: a 64 KB payload after 40 bytes. */
export const MAX_COALESCED_IPV6_PACKET = 40 + 65535;

/** What a TAP does for the stack, given its virtio header size and the TUN_F_* bits in force. */
export function offloadsFromTunFlags(vnetHeader: number, tunFlags: number): DeviceOffloads {
  if (vnetHeader === 0) return NO_OFFLOADS;
  const checksum = (tunFlags & TUN_F_CSUM) !== 0;
  return {
    txChecksum: checksum,
    // The kernel only segments what it also checksums (TSO needs TUN_F_CSUM).
    tsoMaxBytes: checksum && (tunFlags & TUN_F_TSO4) !== 0 ? MAX_TSO_PACKET : 0,
    tso6MaxBytes: checksum && (tunFlags & TUN_F_TSO6) !== 0 ? MAX_TSO_PACKET : 0,
  };
}

/**
 * The largest IP packet a read may carry: with TSO6 the kernel hands over IPv6 packets of up
 * to a 64 KB payload, with TSO4 IPv4 datagrams of up to 64 KB, without either one MTU's worth.
 */
export function largestReceivedPacket(tunFlags: number, mtu: number): number {
  if ((tunFlags & TUN_F_CSUM) === 0) return mtu;
  const most = (tunFlags & TUN_F_TSO6) !== 0 ? MAX_COALESCED_IPV6_PACKET : (tunFlags & TUN_F_TSO4) !== 0 ? MAX_TSO_PACKET : mtu;
  return most > mtu ? most : mtu;
}

/**
 * The gso_type for an Ethernet frame the kernel is to cut up: TCPv6 for an IPv6 frame
 * (EtherType 0x86DD), else TCPv4. The stack only asks for TSO on TCP segments.
 */
export function gsoTypeOf(frame: Uint8Array): number {
  return frame[12] === 0x86 && frame[13] === 0xdd ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
}
