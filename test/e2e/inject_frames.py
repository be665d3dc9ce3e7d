#!/usr/bin/env python3
"""Inject random, truncated and mutated Ethernet frames into a TAP from the kernel's side.

Usage: inject_frames.py IFACE COUNT SEED DST_MAC DST_IP SRC_IP
Frames are written with an AF_PACKET socket on IFACE, so they reach whatever reads the tap
(pstack). Only the given addresses (documentation ranges) appear in well-formed headers.
Prints how many frames were sent. Bounded: COUNT frames, at most 60 seconds.
"""
import random
import socket
import struct
import sys
import time


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(rng, src, dst, proto, payload, options=b"", frag=0, ttl=64):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload),
                      rng.randrange(65536), frag, ttl, proto, 0, src, dst) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def main():
    iface, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    dst_mac = bytes.fromhex(sys.argv[4].replace(":", ""))
    dst_ip = socket.inet_aton(sys.argv[5])
    src_ip = socket.inet_aton(sys.argv[6])
    rng = random.Random(seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = bytes([0x02, 0, 0, 0, 0, 0x99])
    eth_ip = dst_mac + src_mac + b"\x08\x00"
    eth_arp = dst_mac + src_mac + b"\x08\x06"

    def valid():
        kind = rng.randrange(8)
        if kind == 0:  # ARP
            return eth_arp + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, rng.choice([1, 2, 3]),
                                         src_mac, src_ip, b"\0" * 6, dst_ip)
        if kind == 1:  # ICMP echo with random data
            data = rng.randbytes(rng.randrange(0, 200))
            icmp = struct.pack("!BBHHH", 8, 0, 0, rng.randrange(65536), rng.randrange(65536)) + data
            icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
            return eth_ip + ipv4(rng, src_ip, dst_ip, 1, icmp)
        if kind == 2:  # options of random shape, lengths that may lie
            opts = bytes([rng.choice([0, 1, 7, 68, 131, 137, 148, rng.randrange(256)])]) + rng.randbytes(rng.choice([3, 7, 11, 39]))
            opts = opts[: (len(opts) // 4) * 4] or b"\x01\x01\x01\x01"
            return eth_ip + ipv4(rng, src_ip, dst_ip, 1, rng.randbytes(rng.randrange(0, 64)), opts)
        if kind == 3:  # fragments with random offsets and flags
            return eth_ip + ipv4(rng, src_ip, dst_ip, rng.choice([1, 6, 17]), rng.randbytes(rng.choice([8, 16, 24, 100])),
                                 frag=rng.randrange(65536))
        if kind == 4:  # TCP with random flags and options
            tcp = struct.pack("!HHIIBBHHH", rng.randrange(65536), rng.choice([12345, 7, 9, 19, 80, rng.randrange(65536)]),
                              rng.randrange(2**32), rng.randrange(2**32), rng.choice([0x50, 0x60, 0xf0, rng.randrange(256)]),
                              rng.randrange(256), rng.randrange(65536), 0, 0) + rng.randbytes(rng.randrange(0, 60))
            return eth_ip + ipv4(rng, src_ip, dst_ip, 6, tcp)
        if kind == 5:  # UDP with lying lengths
            udp = struct.pack("!HHHH", rng.randrange(65536), rng.choice([7, 9, 53, rng.randrange(65536)]),
                              rng.randrange(65536), rng.randrange(65536)) + rng.randbytes(rng.randrange(0, 60))
            return eth_ip + ipv4(rng, src_ip, dst_ip, 17, udp)
        if kind == 6:  # ICMP errors quoting garbage
            icmp = struct.pack("!BBHI", rng.choice([3, 4, 5, 11, 12]), rng.randrange(16), 0, 0) + rng.randbytes(rng.randrange(0, 60))
            icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
            return eth_ip + ipv4(rng, src_ip, dst_ip, 1, icmp)
        return eth_ip + ipv4(rng, src_ip, dst_ip, rng.randrange(256), rng.randbytes(rng.randrange(0, 100)), ttl=rng.randrange(256))

    sent = 0
    deadline = time.monotonic() + 60
    for i in range(count):
        if time.monotonic() > deadline:
            break
        mode = i % 4
        if mode == 0:
            frame = rng.randbytes(rng.randrange(14, 1515))
            if rng.random() < 0.5:
                frame = dst_mac + frame[6:]
        elif mode == 1:
            frame = valid()
            frame = frame[: rng.randrange(14, len(frame) + 1)]
        elif mode == 2:
            frame = bytearray(valid())
            for _ in range(rng.randrange(1, 6)):
                frame[rng.randrange(14, len(frame))] = rng.randrange(256)
            frame = bytes(frame)
        else:
            frame = valid()
        try:
            s.send(frame)
            sent += 1
        except OSError:
            pass
        if i % 200 == 199:
            time.sleep(0.002)  # let the reader keep up; we test robustness, not the queue
    print(sent)


if __name__ == "__main__":
    main()
