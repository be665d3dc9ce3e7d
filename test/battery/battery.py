#!/usr/bin/python3
"""A packetimpact-style battery of malformed and hostile frames for one host (IPv4 here, IPv6
and multicast in battery6.py).

Run inside the "tester" network namespace, with /usr/bin/python3 (Debian's python3-scapy):

    /usr/bin/python3 test/battery/battery.py run --iface tap0 --out pstack.json
    /usr/bin/python3 test/battery/battery.py compare pstack.json linux.json
    /usr/bin/python3 test/battery/battery.py list

The target (pstack behind a TAP, or a Linux kernel behind a veth) is 192.0.2.2/24 at
00:00:5e:00:53:01; the kernel of the tester namespace is 192.0.2.1/24 on IFACE (it is the
target's default gateway and runs the TCP liveness probe). The battery itself plays hosts that
the tester kernel does not own (192.0.2.3 and a few more, see RESPONDERS): it answers the
target's ARP requests for them from a receiver thread, so the tester kernel never reacts to
the target's answers (no RSTs, no port unreachables of its own).

Every case sends frames with scapy (`sendp(..., iface=IFACE)`), then the battery checks that
the target still answers ping (and, if the target's TCP port 12345 answered at the start,
still accepts a TCP connection). Everything the target sends is captured and normalized into
short lines ("icmp 3/3 quote=ok", "arp reply 192.0.2.2 is-at target", ...); a case's answer
is the list of lines attributed to it: by content where possible (an ICMP error quoting one of
the case's IP ids, an echo reply with the case's echo id, a UDP/TCP reply to the case's
port), otherwise by time (sent between the case's first frame and its liveness reply).
Values that legitimately differ between stacks (IP ids, TTLs, checksums, MAC of the target,
how much of the offending datagram an ICMP error quotes) are left out of the lines; the exact
figures are kept in each case's `details` for people.

Adding a case: write a function decorated with @case(name, group) that takes a Ctx and
returns the steps: frames (bytes or scapy packets, sent in order) and floats (seconds to
sleep). Use ctx.ip_id(k) for IP ids, ctx.echo_id for echo ids and ctx.sport for UDP/TCP source
ports so the answers are attributed to the case even when they come late. `wait` is how long
to let the target answer before the liveness check; `late` how long after the case answers
may still come (reassembly timeouts: REASSEMBLY_LATE); `summarize` rewrites the case's lines (counts).
Everything is bounded: frames per case, waits, the liveness retries, and the whole run.
"""

import argparse
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time

from scapy.all import ARP, Dot1Q, Ether, Raw, conf, sendp  # noqa: E402  (Debian python3-scapy)

# battery6.py (the IPv6 and multicast cases) imports this module by name, also when it runs as a script.
sys.modules.setdefault("battery", sys.modules[__name__])

# ----------------------------------------------------------------------------- addresses

TARGET_IP = "192.0.2.2"
TARGET_MAC = "00:00:5e:00:53:01"
GW_IP = "192.0.2.1"           # the tester namespace's kernel: target's default gateway
ME = "192.0.2.3"              # the battery's own address (answered by the receiver thread)
ME_MAC = "02:00:00:00:00:03"
NET_BCAST = "192.0.2.255"
OFFLINK = "198.51.100.7"      # an off-link source: answers go via the gateway
OFFLINK2 = "203.0.113.9"
TCP_PORT = 12345
UDP_ECHO = 7
UDP_CLOSED = 10  # not 9: pstack offers UDP discard there (Linux's echo_server.py does not)

# Hosts the battery plays (the receiver thread answers ARP requests for them). The names are
# what the normalized lines say instead of the MAC.
RESPONDERS = {
    ME: ME_MAC,
    "192.0.2.4": "02:00:00:00:00:04",
    "192.0.2.5": "02:00:00:00:00:05",
    "192.0.2.77": "02:00:00:00:00:77",   # a second router, for the redirect case
}
MAC_NAMES = {
    "ff:ff:ff:ff:ff:ff": "bcast",
    ME_MAC: "me",
    "02:00:00:00:00:04": "h4",
    "02:00:00:00:00:05": "h5",
    "02:00:00:00:00:77": "router2",
    "02:00:00:00:0a:01": "macA",
    "02:00:00:00:0b:01": "macB",
}

ID_BASE = 0x2000        # case i uses IP ids / echo ids ID_BASE + 8*i .. +7
SPORT_BASE = 20000      # case i uses UDP/TCP source port SPORT_BASE + i
LIVE_ECHO_ID = 0xFFFF
SCRATCH_ID = 0xC000     # ids of floods (never answered)
# Both stacks drop an incomplete datagram after 30 s. Linux's timer wheel files a 30 s timer
# at HZ=250 in a level whose granularity is 512 jiffies (2.048 s) and only ever fires late, so
# its Time Exceeded comes between 30.0 and 32.05 s: wait for it with a margin.
REASSEMBLY_LATE = 33.5


def mac_bytes(m):
    return bytes.fromhex(m.replace(":", ""))


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def ip_bytes(a):
    return socket.inet_aton(a)


def ip_str(b):
    return socket.inet_ntoa(b)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pattern(n, seed=0):
    return bytes((seed + i) & 0xFF for i in range(n))


# ----------------------------------------------------------------------------- builders

def eth(payload, dst=TARGET_MAC, src=ME_MAC, etype=0x0800):
    """An Ethernet II frame (scapy), as bytes."""
    return bytes(Ether(dst=dst, src=src, type=etype) / Raw(load=bytes(payload)))


def ipv4(payload, src=ME, dst=TARGET_IP, proto=1, ttl=64, ident=0, flags=0, frag=0, tos=0,
         options=b"", ihl=None, tot=None, check=None, version=4):
    """A raw IPv4 packet; every field can lie. flags: 4=reserved, 2=DF, 1=MF; frag in bytes."""
    if ihl is None:
        ihl = 5 + (len(options) + 3) // 4
        options = options + b"\0" * (-len(options) % 4)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 15), tos,
                      tot if tot is not None else 20 + len(options) + len(payload),
                      ident & 0xFFFF, ((flags & 7) << 13) | ((frag // 8) & 0x1FFF), ttl, proto, 0,
                      ip_bytes(src), ip_bytes(dst)) + options
    c = csum(hdr) if check is None else check
    if check == "bad":
        c = csum(hdr) ^ 0x5555
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + bytes(payload)


def icmp(typ, code=0, rest=0, data=b"", check=None):
    rest_b = struct.pack("!I", rest) if isinstance(rest, int) else bytes(rest)
    m = struct.pack("!BBH", typ, code, 0) + rest_b + bytes(data)
    c = csum(m)
    if check == "bad":
        c ^= 0x1234
    return m[:2] + struct.pack("!H", c) + m[4:]


def udp(sport, dport, data, src=ME, dst=TARGET_IP, length=None, check=None):
    ln = 8 + len(data) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ln, 0) + bytes(data)
    if check is None:
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 17, len(seg))
        c = csum(pseudo + seg) or 0xFFFF
    elif check == "bad":
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 17, len(seg))
        c = (csum(pseudo + seg) ^ 0x0F0F) or 1
    else:
        c = check
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def arp(op=1, sha=ME_MAC, spa=ME, tha="00:00:00:00:00:00", tpa=TARGET_IP, htype=1, ptype=0x0800,
        hlen=6, plen=4, tail=b""):
    """ARP packet bytes (built by hand so every field can lie)."""
    return struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + mac_bytes(sha) + ip_bytes(spa) + \
        mac_bytes(tha) + ip_bytes(tpa) + tail


def arp_frame(dst="ff:ff:ff:ff:ff:ff", src=None, **kw):
    return eth(arp(**kw), dst=dst, src=src or kw.get("sha", ME_MAC), etype=0x0806)


def fragments(packet_payload, chunks, src=ME, dst=TARGET_IP, proto=1, ident=0, flags=0, ttl=64,
              options=b"", eth_src=ME_MAC):
    """Frames for fragments of one datagram: chunks are (offset, length, more_fragments)."""
    out = []
    for off, ln, mf in chunks:
        out.append(eth(ipv4(packet_payload[off:off + ln], src=src, dst=dst, proto=proto, ident=ident,
                            flags=(flags | (1 if mf else 0)), frag=off, ttl=ttl,
                            options=options if off == 0 else b""), src=eth_src))
    return out


def split(length, size):
    """Chunks covering [0, length) in pieces of `size` (a multiple of 8), MF on all but the last."""
    chunks = []
    off = 0
    while off < length:
        ln = min(size, length - off)
        chunks.append((off, ln, off + ln < length))
        off += ln
    return chunks


# ----------------------------------------------------------------------------- cases

class Case:
    def __init__(self, name, group, fn, wait, late, summarize, needs, last):
        self.name, self.group, self.fn = name, group, fn
        self.wait, self.late, self.summarize, self.needs, self.last = wait, late, summarize, needs, last


CASES = []


def case(name, group, wait=0.05, late=0.0, summarize=None, needs=(), last=False):
    """last: the case leaves lasting state behind (a flood of routers and prefixes): run it after the others."""
    def deco(fn):
        if any(c.name == name for c in CASES):
            raise ValueError("duplicate case name " + name)
        CASES.append(Case(name, group, fn, wait, late, summarize, tuple(needs), last))
        return fn
    return deco


class Ctx:
    """What a case knows: its number, its ids and port, and frame helpers bound to them."""

    def __init__(self, index):
        self.index = index
        self.echo_id = ID_BASE + 8 * index
        self.sport = SPORT_BASE + index
        self.syms = {}        # TCP seq/ack values -> the names the answer lines show
        self.cleanup = []     # frames sent after the liveness check (a RST for a TCP case's connection)
        self.cap = None       # the Capture and the send function, for cases that talk (TCP handshakes)
        self.send = None

    def ip_id(self, k=0):
        return ID_BASE + 8 * self.index + k

    def echo(self, data=None, seq=1, code=0, typ=8, check=None):
        return icmp(typ, code, (self.echo_id << 16) | seq, pattern(56, self.index) if data is None else data, check)

    def echo_frame(self, data=None, src=ME, dst=TARGET_IP, k=0, eth_dst=TARGET_MAC, eth_src=ME_MAC, **ipkw):
        return eth(ipv4(self.echo(data), src=src, dst=dst, proto=1, ident=self.ip_id(k), **ipkw), dst=eth_dst, src=eth_src)

    def udp_frame(self, dport, data=b"hello battery", src=ME, dst=TARGET_IP, k=0, eth_dst=TARGET_MAC,
                  length=None, check=None, sport=None, **ipkw):
        seg = udp(self.sport if sport is None else sport, dport, data, src=src, dst=dst, length=length, check=check)
        return eth(ipv4(seg, src=src, dst=dst, proto=17, ident=self.ip_id(k), **ipkw), dst=eth_dst)


def rr_option(slots=9, pointer=4, length=None, filled=()):
    ln = 3 + 4 * slots if length is None else length
    body = b"".join(ip_bytes(a) for a in filled)
    body = body + b"\0" * max(0, ln - 3 - len(body))
    return bytes([7, ln, pointer]) + body[:max(0, ln - 3)]


# --- Ethernet ---------------------------------------------------------------------------

@case("eth-baseline-echo", "ethernet")
def _(c):
    return [c.echo_frame()]


@case("eth-runt-13-bytes", "ethernet")
def _(c):
    return [mac_bytes(TARGET_MAC) + mac_bytes(ME_MAC) + b"\x08"]


@case("eth-header-only-ipv4", "ethernet")
def _(c):
    return [eth(b"")]


@case("eth-header-only-arp", "ethernet")
def _(c):
    return [eth(b"", dst="ff:ff:ff:ff:ff:ff", etype=0x0806)]


@case("eth-max-frame-1514", "ethernet")
def _(c):
    return [c.echo_frame(data=pattern(1472, 3))]


@case("eth-oversized-frame-1614", "ethernet")
def _(c):
    # The tester side of the link has a larger MTU, the target's is 1500.
    return [c.echo_frame(data=pattern(1572, 4))]


@case("eth-wrong-dst-mac", "ethernet")
def _(c):
    return [c.echo_frame(eth_dst="02:00:00:00:00:99")]


@case("eth-broadcast-dst-unicast-ip", "ethernet")
def _(c):
    return [c.echo_frame(eth_dst="ff:ff:ff:ff:ff:ff")]


@case("eth-multicast-dst-unicast-ip", "ethernet")
def _(c):
    return [c.echo_frame(eth_dst="01:00:5e:00:00:01")]


@case("eth-unknown-ethertype", "ethernet")
def _(c):
    return [eth(ipv4(c.echo(), ident=c.ip_id()), etype=0x88B5)]


@case("eth-ipv6-ethertype", "ethernet")
def _(c):
    v6 = struct.pack("!IHBB", 0x60000000, 8, 58, 64) + b"\xfe\x80" + b"\0" * 13 + b"\x03" + \
        b"\xfe\x80" + b"\0" * 13 + b"\x02" + bytes([128, 0, 0, 0, 0, 1, 0, 1])
    return [eth(v6, etype=0x86DD)]


@case("eth-vlan-tagged-5", "ethernet")
def _(c):
    return [bytes(Ether(dst=TARGET_MAC, src=ME_MAC) / Dot1Q(vlan=5, type=0x0800) /
                  Raw(load=ipv4(c.echo(), ident=c.ip_id())))]


@case("eth-vlan-priority-tag-0", "ethernet")
def _(c):
    return [bytes(Ether(dst=TARGET_MAC, src=ME_MAC) / Dot1Q(vlan=0, prio=5, type=0x0800) /
                  Raw(load=ipv4(c.echo(), ident=c.ip_id())))]


@case("eth-ip-with-trailing-padding", "ethernet")
def _(c):
    return [c.echo_frame(data=b"") + b"\xee" * 40]


# --- ARP --------------------------------------------------------------------------------

@case("arp-request-for-us", "arp")
def _(c):
    return [arp_frame()]


@case("arp-request-unicast-poll", "arp")
def _(c):
    return [arp_frame(dst=TARGET_MAC)]


@case("arp-request-other-ip", "arp")
def _(c):
    return [arp_frame(tpa="192.0.2.66")]


@case("arp-request-with-trailer", "arp")
def _(c):
    return [arp_frame(tail=b"\xab" * 18)]


@case("arp-htype-ieee802", "arp")
def _(c):
    return [arp_frame(htype=6)]


@case("arp-htype-2", "arp")
def _(c):
    return [arp_frame(htype=2)]


@case("arp-ptype-ipv6", "arp")
def _(c):
    return [arp_frame(ptype=0x86DD)]


@case("arp-hlen-8", "arp")
def _(c):
    return [arp_frame(hlen=8)]


@case("arp-plen-16", "arp")
def _(c):
    return [arp_frame(plen=16)]


@case("arp-truncated-20", "arp")
def _(c):
    return [eth(arp()[:20], dst="ff:ff:ff:ff:ff:ff", etype=0x0806)]


@case("arp-opcode-3", "arp")
def _(c):
    return [arp_frame(op=3)]


@case("arp-opcode-0", "arp")
def _(c):
    return [arp_frame(op=0)]


@case("arp-tpa-broadcast", "arp")
def _(c):
    return [arp_frame(tpa="255.255.255.255")]


@case("arp-tpa-multicast", "arp")
def _(c):
    return [arp_frame(tpa="224.0.0.1")]


@case("arp-probe-spa-zero", "arp")
def _(c):
    # RFC 5227 address probe for the target's own address: the owner must answer.
    return [arp_frame(spa="0.0.0.0", sha="02:00:00:00:0a:01")]


@case("arp-spa-broadcast", "arp")
def _(c):
    return [arp_frame(spa="255.255.255.255", sha="02:00:00:00:0a:01")]


@case("arp-spa-multicast", "arp")
def _(c):
    return [arp_frame(spa="224.0.0.5", sha="02:00:00:00:0a:01")]


@case("arp-sha-broadcast", "arp")
def _(c):
    return [arp_frame(spa="192.0.2.40", sha="ff:ff:ff:ff:ff:ff", src=ME_MAC)]


@case("arp-sha-multicast", "arp")
def _(c):
    return [arp_frame(spa="192.0.2.41", sha="01:00:5e:00:00:01", src=ME_MAC)]


@case("arp-spa-offlink", "arp")
def _(c):
    return [arp_frame(spa=OFFLINK, sha="02:00:00:00:0a:01")]


@case("arp-request-claims-our-ip", "arp")
def _(c):
    # Someone else claims 192.0.2.2 (a conflict) and asks for it; then we check the target
    # still answers us from its own MAC.
    return [arp_frame(spa=TARGET_IP, sha="02:00:00:00:0a:01"), 0.05, c.echo_frame()]


@case("arp-reply-claims-our-ip", "arp")
def _(c):
    return [arp_frame(op=2, dst=TARGET_MAC, spa=TARGET_IP, sha="02:00:00:00:0a:01", tha=TARGET_MAC),
            0.05, c.echo_frame()]


@case("arp-gratuitous-unknown-host", "arp")
def _(c):
    # Gratuitous ARP for a host the target never heard of, then a ping from it: does the
    # target ARP for it (entry not created) or answer straight to macA?
    return [arp_frame(spa="192.0.2.50", tpa="192.0.2.50", sha="02:00:00:00:0a:01"), 0.05,
            c.echo_frame(src="192.0.2.50", eth_src="02:00:00:00:0a:01")]


@case("arp-unsolicited-reply-unknown-host", "arp")
def _(c):
    return [arp_frame(op=2, dst=TARGET_MAC, spa="192.0.2.51", sha="02:00:00:00:0a:01", tha=TARGET_MAC), 0.05,
            c.echo_frame(src="192.0.2.51", eth_src="02:00:00:00:0a:01")]


@case("arp-gratuitous-known-host", "arp", wait=0.1)
def _(c):
    # Make the target learn 192.0.2.52 at macA (it asks for us), wait past Linux's 1 s
    # locktime, then a gratuitous ARP moves it to macB: the ping reply shows which MAC is used.
    return [arp_frame(spa="192.0.2.52", sha="02:00:00:00:0a:01"), 1.1,
            arp_frame(spa="192.0.2.52", tpa="192.0.2.52", sha="02:00:00:00:0b:01"), 0.05,
            c.echo_frame(src="192.0.2.52", eth_src="02:00:00:00:0b:01")]


@case("arp-unsolicited-reply-known-host", "arp", wait=0.1)
def _(c):
    return [arp_frame(spa="192.0.2.53", sha="02:00:00:00:0a:01"), 1.1,
            arp_frame(op=2, dst=TARGET_MAC, spa="192.0.2.53", sha="02:00:00:00:0b:01", tha=TARGET_MAC), 0.05,
            c.echo_frame(src="192.0.2.53", eth_src="02:00:00:00:0b:01")]


def _count_arp_replies(lines):
    n = sum(1 for l in lines if l.startswith("arp reply"))
    rest = [l for l in lines if not l.startswith("arp reply")]
    return ["arp replies to every sender" if n == ARP_FLOOD else "arp replies: %d of %d" % (n, ARP_FLOOD)] + rest


ARP_FLOOD = 120


@case("arp-flood-120-senders", "arp", wait=0.3, summarize=_count_arp_replies)
def _(c):
    steps = []
    for i in range(ARP_FLOOD):
        host = 130 + i
        steps.append(arp_frame(spa="192.0.2.%d" % host, sha="02:00:00:01:00:%02x" % host))
        if i % 40 == 39:
            steps.append(0.01)
    return steps


# --- IPv4 header ------------------------------------------------------------------------

@case("ip-bad-version-6", "ipv4")
def _(c):
    return [c.echo_frame(version=6)]


@case("ip-ihl-4", "ipv4")
def _(c):
    return [c.echo_frame(ihl=4)]


@case("ip-ihl-beyond-packet", "ipv4")
def _(c):
    return [eth(ipv4(b"", ihl=15, tot=20, ident=c.ip_id()))]


@case("ip-total-length-below-ihl", "ipv4")
def _(c):
    return [c.echo_frame(tot=12)]


@case("ip-total-length-beyond-frame", "ipv4")
def _(c):
    return [c.echo_frame(tot=20 + 64 + 100)]


@case("ip-total-length-short-trims-payload", "ipv4")
def _(c):
    # The IP total length says 20 + 8 + 8: the rest of the frame is link padding.
    return [eth(ipv4(c.echo(data=pattern(8)) + b"\x99" * 30, ident=c.ip_id(), tot=36))]


@case("ip-bad-header-checksum", "ipv4")
def _(c):
    return [c.echo_frame(check="bad")]


@case("ip-ttl-0-to-us", "ipv4")
def _(c):
    return [c.echo_frame(ttl=0)]


@case("ip-ttl-1-to-us", "ipv4")
def _(c):
    return [c.echo_frame(ttl=1)]


@case("ip-tos-0xb8-echo", "ipv4")
def _(c):
    return [c.echo_frame(tos=0xB8)]


@case("ip-src-is-target-land", "ipv4")
def _(c):
    return [c.echo_frame(src=TARGET_IP)]


@case("ip-src-limited-broadcast", "ipv4")
def _(c):
    return [c.echo_frame(src="255.255.255.255")]


@case("ip-src-net-broadcast", "ipv4")
def _(c):
    return [c.echo_frame(src=NET_BCAST)]


@case("ip-src-multicast", "ipv4")
def _(c):
    return [c.echo_frame(src="224.0.0.9")]


@case("ip-src-loopback", "ipv4")
def _(c):
    return [c.echo_frame(src="127.0.0.1")]


@case("ip-src-zero", "ipv4")
def _(c):
    return [c.echo_frame(src="0.0.0.0")]


@case("ip-src-offlink-via-gateway", "ipv4")
def _(c):
    return [c.echo_frame(src=OFFLINK)]


@case("ip-dst-limited-broadcast-echo", "ipv4")
def _(c):
    return [c.echo_frame(dst="255.255.255.255", eth_dst="ff:ff:ff:ff:ff:ff")]


@case("ip-dst-net-broadcast-echo", "ipv4")
def _(c):
    return [c.echo_frame(dst=NET_BCAST, eth_dst="ff:ff:ff:ff:ff:ff")]


@case("ip-dst-net-broadcast-unicast-mac", "ipv4")
def _(c):
    return [c.echo_frame(dst=NET_BCAST)]


@case("ip-dst-network-address", "ipv4")
def _(c):
    return [c.echo_frame(dst="192.0.2.0")]


@case("ip-dst-multicast-all-hosts", "ipv4")
def _(c):
    return [c.echo_frame(dst="224.0.0.1", eth_dst="01:00:5e:00:00:01")]


@case("ip-dst-multicast-unicast-mac", "ipv4")
def _(c):
    return [c.echo_frame(dst="224.0.0.1")]


@case("ip-dst-other-host-on-link", "ipv4")
def _(c):
    return [c.echo_frame(dst="192.0.2.66")]


@case("ip-dst-offlink-no-forwarding", "ipv4")
def _(c):
    return [c.echo_frame(dst=OFFLINK2)]


@case("ip-reserved-flag-set", "ipv4")
def _(c):
    return [c.echo_frame(flags=4)]


@case("ip-df-set-echo", "ipv4")
def _(c):
    return [c.echo_frame(flags=2)]


@case("ip-unknown-protocol-253", "ipv4")
def _(c):
    return [eth(ipv4(pattern(40), proto=253, ident=c.ip_id()))]


@case("ip-unknown-protocol-empty", "ipv4")
def _(c):
    return [eth(ipv4(b"", proto=253, ident=c.ip_id()))]


@case("ip-igmp-unicast", "ipv4")
def _(c):
    # An IGMPv2 membership query sent unicast to the target.
    q = bytearray(struct.pack("!BBH4s", 0x11, 100, 0, b"\0\0\0\0"))
    q[2:4] = struct.pack("!H", csum(bytes(q)))
    return [eth(ipv4(bytes(q), proto=2, ident=c.ip_id(), ttl=1))]


@case("ip-unknown-protocol-to-broadcast", "ipv4")
def _(c):
    return [eth(ipv4(pattern(40), proto=253, dst=NET_BCAST, ident=c.ip_id()), dst="ff:ff:ff:ff:ff:ff")]


@case("ip-icmp-header-only", "ipv4")
def _(c):
    return [eth(ipv4(b"", proto=1, ident=c.ip_id()))]


# --- IPv4 options -----------------------------------------------------------------------

@case("opt-rr-echo", "options")
def _(c):
    return [c.echo_frame(options=rr_option())]


@case("opt-rr-one-slot", "options")
def _(c):
    return [c.echo_frame(options=rr_option(slots=1))]


@case("opt-rr-full", "options")
def _(c):
    return [c.echo_frame(options=rr_option(slots=2, pointer=12, filled=("198.51.100.1", "198.51.100.2")))]


@case("opt-rr-pointer-3", "options")
def _(c):
    return [c.echo_frame(options=rr_option(pointer=3))]


@case("opt-rr-pointer-odd", "options")
def _(c):
    return [c.echo_frame(options=rr_option(slots=2, pointer=6))]


@case("opt-rr-pointer-overruns-length", "options")
def _(c):
    # pointer 8 within a 9-byte option: a slot would end past the option.
    return [c.echo_frame(options=rr_option(slots=2, pointer=8, length=9))]


@case("opt-rr-length-2", "options")
def _(c):
    return [c.echo_frame(options=bytes([7, 2, 1, 1]))]


@case("opt-rr-length-zero", "options")
def _(c):
    return [c.echo_frame(options=bytes([7, 0, 4, 0]))]


@case("opt-rr-length-past-header", "options")
def _(c):
    return [c.echo_frame(options=bytes([7, 39, 4, 0]))]


@case("opt-rr-twice", "options")
def _(c):
    return [c.echo_frame(options=rr_option(slots=1) + b"\x01" + rr_option(slots=1))]


@case("opt-nop-padding", "options")
def _(c):
    return [c.echo_frame(options=b"\x01" * 8)]


@case("opt-eol-then-garbage", "options")
def _(c):
    return [c.echo_frame(options=b"\x00\xff\x07\x99")]


@case("opt-single-byte-unknown-at-end", "options")
def _(c):
    return [c.echo_frame(options=b"\x01\x01\x01\x44")]


@case("opt-timestamp-only", "options")
def _(c):
    return [c.echo_frame(options=bytes([68, 12, 5, 0]) + b"\0" * 8)]


@case("opt-timestamp-pointer-4", "options")
def _(c):
    return [c.echo_frame(options=bytes([68, 12, 4, 0]) + b"\0" * 8)]


@case("opt-timestamp-full-overflow", "options")
def _(c):
    return [c.echo_frame(options=bytes([68, 8, 13, 0]) + b"\0" * 4)]


@case("opt-timestamp-overflow-15", "options")
def _(c):
    return [c.echo_frame(options=bytes([68, 8, 13, 0xF0]) + b"\0" * 4)]


@case("opt-timestamp-bad-length-3", "options")
def _(c):
    return [c.echo_frame(options=bytes([68, 3, 5, 0]))]


@case("opt-lsrr-to-us", "options")
def _(c):
    return [c.echo_frame(options=bytes([1, 131, 7, 4]) + ip_bytes("198.51.100.9"))]


@case("opt-ssrr-to-us", "options")
def _(c):
    return [c.echo_frame(options=bytes([1, 137, 7, 4]) + ip_bytes("198.51.100.9"))]


@case("opt-lsrr-pointer-1", "options")
def _(c):
    return [c.echo_frame(options=bytes([1, 131, 7, 1]) + ip_bytes("198.51.100.9"))]


@case("opt-router-alert", "options")
def _(c):
    return [c.echo_frame(options=bytes([148, 4, 0, 0]))]


@case("opt-router-alert-length-2", "options")
def _(c):
    return [c.echo_frame(options=bytes([148, 2, 1, 1]))]


@case("opt-unknown-type-30", "options")
def _(c):
    return [c.echo_frame(options=bytes([30, 4, 0xAB, 0xCD]))]


@case("opt-security-130", "options")
def _(c):
    return [c.echo_frame(options=bytes([130, 11]) + b"\0" * 9 + b"\0")]


@case("opt-length-1-truncated", "options")
def _(c):
    return [c.echo_frame(options=bytes([1, 1, 1, 30]))]


@case("opt-40-bytes-of-nop", "options")
def _(c):
    return [c.echo_frame(options=b"\x01" * 40)]


@case("opt-rr-on-udp-closed-port", "options")
def _(c):
    return [c.udp_frame(UDP_CLOSED, options=rr_option(slots=2))]


# --- fragments --------------------------------------------------------------------------

def _echo_payload(c, n, seed=1):
    return c.echo(data=pattern(n, seed))


@case("frag-in-order", "fragments")
def _(c):
    return fragments(_echo_payload(c, 192), [(0, 96, True), (96, 104, False)], ident=c.ip_id())


@case("frag-reverse-order", "fragments")
def _(c):
    return list(reversed(fragments(_echo_payload(c, 232), [(0, 80, True), (80, 80, True), (160, 80, False)], ident=c.ip_id())))


@case("frag-duplicate", "fragments")
def _(c):
    f = fragments(_echo_payload(c, 192), [(0, 96, True), (96, 104, False)], ident=c.ip_id())
    return [f[0], f[0], f[1]]


@case("frag-duplicate-inside-received", "fragments")
def _(c):
    p = _echo_payload(c, 232)
    f = fragments(p, [(0, 160, True), (160, 80, False)], ident=c.ip_id())
    inner = fragments(p, [(80, 40, True)], ident=c.ip_id())
    return [f[0], inner[0], f[1]]


@case("frag-overlap-partial", "fragments", late=REASSEMBLY_LATE)
def _(c):
    p = _echo_payload(c, 232)
    return fragments(p, [(0, 96, True), (64, 96, True), (160, 80, False)], ident=c.ip_id())


@case("frag-teardrop", "fragments", late=REASSEMBLY_LATE)
def _(c):
    p = _echo_payload(c, 232)
    return fragments(p, [(0, 48, True), (24, 8, False)], ident=c.ip_id())


@case("frag-last-before-received-data", "fragments", late=REASSEMBLY_LATE)
def _(c):
    # First fragment and data at [160,200) arrived, then a last fragment ending at 120: the
    # datagram is corrupt (no Time Exceeded should follow for it).
    p = _echo_payload(c, 232)
    return fragments(p, [(0, 80, True), (160, 40, True), (80, 40, False)], ident=c.ip_id())


@case("frag-tiny-first-8-bytes", "fragments")
def _(c):
    return fragments(_echo_payload(c, 100), [(0, 8, True), (8, 8, True), (16, 92, False)], ident=c.ip_id())


@case("frag-missing-middle-times-out", "fragments", late=REASSEMBLY_LATE)
def _(c):
    return fragments(_echo_payload(c, 232), [(0, 80, True), (160, 80, False)], ident=c.ip_id())


@case("frag-missing-first-times-out", "fragments", late=REASSEMBLY_LATE)
def _(c):
    return fragments(_echo_payload(c, 232), [(80, 80, True), (160, 80, False)], ident=c.ip_id())


@case("frag-only-first-of-icmp-error", "fragments", late=REASSEMBLY_LATE)
def _(c):
    quoted = ipv4(udp(5000, 9, b"x" * 8, src=TARGET_IP, dst=ME), src=TARGET_IP, dst=ME, proto=17, ident=0x4242)
    err = icmp(3, 3, 0, quoted + b"\0" * 64)
    return fragments(err, [(0, 48, True)], ident=c.ip_id())


@case("frag-df-and-mf", "fragments", late=REASSEMBLY_LATE)
def _(c):
    return fragments(_echo_payload(c, 232), [(0, 80, True)], ident=c.ip_id(), flags=2)


@case("frag-mf-odd-length", "fragments", late=REASSEMBLY_LATE)
def _(c):
    p = _echo_payload(c, 232)
    f = fragments(p, [(0, 13, True)], ident=c.ip_id())
    rest = fragments(p, [(8, 232, False)], ident=c.ip_id())
    return [f[0], rest[0]]


@case("frag-zero-length-middle", "fragments")
def _(c):
    p = _echo_payload(c, 192)
    return fragments(p, [(0, 96, True), (96, 0, True), (96, 104, False)], ident=c.ip_id())


@case("frag-ping-of-death", "fragments", wait=0.2, late=REASSEMBLY_LATE)
def _(c):
    p = c.echo(data=pattern(65520, 7))  # 65528 bytes of ICMP: 65548 with the header
    return fragments(p, split(len(p), 1480), ident=c.ip_id())


@case("frag-offset-beyond-64k", "fragments", late=REASSEMBLY_LATE)
def _(c):
    p = _echo_payload(c, 232)
    f = fragments(p, [(0, 80, True)], ident=c.ip_id())
    far = eth(ipv4(pattern(200), ident=c.ip_id(), flags=0, frag=65528 - 8 * 10))
    return [f[0], far]


@case("frag-first-with-rr-option", "fragments")
def _(c):
    return fragments(_echo_payload(c, 192), [(0, 96, True), (96, 104, False)], ident=c.ip_id(), options=rr_option(slots=4))


@case("frag-unknown-protocol", "fragments")
def _(c):
    p = pattern(200)
    return fragments(p, [(0, 104, True), (104, 96, False)], ident=c.ip_id(), proto=253)


@case("frag-udp-echo", "fragments")
def _(c):
    d = udp(c.sport, UDP_ECHO, pattern(300, 5))
    return fragments(d, [(0, 160, True), (160, len(d) - 160, False)], proto=17, ident=c.ip_id())


@case("frag-many-incomplete-then-ping", "fragments", wait=0.2)
def _(c):
    steps = []
    for i in range(200):
        steps.append(eth(ipv4(pattern(16), ident=SCRATCH_ID + i, flags=1, frag=64)))
        if i % 50 == 49:
            steps.append(0.01)
    steps.append(0.05)
    steps += fragments(_echo_payload(c, 192), [(0, 96, True), (96, 104, False)], ident=c.ip_id())
    return steps


# --- ICMP -------------------------------------------------------------------------------

@case("icmp-echo-0-bytes", "icmp")
def _(c):
    return [c.echo_frame(data=b"")]


@case("icmp-echo-1-byte", "icmp")
def _(c):
    return [c.echo_frame(data=b"\x7f")]


@case("icmp-echo-1472-bytes", "icmp")
def _(c):
    return [c.echo_frame(data=pattern(1472, 9))]


@case("icmp-echo-1473-bytes-fragmented", "icmp")
def _(c):
    p = c.echo(data=pattern(1473, 9))
    return fragments(p, split(len(p), 1480), ident=c.ip_id())


@case("icmp-echo-65507-bytes-max", "icmp", wait=0.3)
def _(c):
    p = c.echo(data=pattern(65507, 11))
    return fragments(p, split(len(p), 1480), ident=c.ip_id())


@case("icmp-echo-bad-checksum", "icmp")
def _(c):
    return [eth(ipv4(c.echo(check="bad"), ident=c.ip_id()))]


@case("icmp-echo-code-5", "icmp")
def _(c):
    return [eth(ipv4(c.echo(code=5), ident=c.ip_id()))]


@case("icmp-truncated-4-bytes", "icmp")
def _(c):
    return [eth(ipv4(b"\x08\x00\xf7\xff", ident=c.ip_id()))]


@case("icmp-unsolicited-echo-reply", "icmp")
def _(c):
    return [eth(ipv4(c.echo(typ=0), ident=c.ip_id()))]


@case("icmp-dest-unreach-quoting-garbage", "icmp")
def _(c):
    return [eth(ipv4(icmp(3, 3, 0, pattern(20, 0x55)), ident=c.ip_id()))]


@case("icmp-dest-unreach-truncated-quote", "icmp")
def _(c):
    return [eth(ipv4(icmp(3, 1, 0, b"\x45\x00\x00"), ident=c.ip_id()))]


@case("icmp-dest-unreach-empty", "icmp")
def _(c):
    return [eth(ipv4(icmp(3, 3, 0, b""), ident=c.ip_id()))]


@case("icmp-port-unreach-about-our-udp", "icmp")
def _(c):
    quoted = ipv4(udp(7, 40000, b"", src=TARGET_IP, dst=ME), src=TARGET_IP, dst=ME, proto=17, ident=0x1111)
    return [eth(ipv4(icmp(3, 3, 0, quoted), ident=c.ip_id()))]


@case("icmp-frag-needed-tiny-mtu", "icmp")
def _(c):
    # "Fragmentation needed, next hop MTU 68" about an echo reply the target sent to h4, then
    # a 1000-byte ping from h4: is the reply fragmented to a lowered path MTU?
    quoted = ipv4(icmp(0, 0, 0, b"")[:8], src=TARGET_IP, dst="192.0.2.4", proto=1, ident=0x1112)
    return [eth(ipv4(icmp(3, 4, 68, quoted), ident=c.ip_id())), 0.05,
            c.echo_frame(data=pattern(1000), src="192.0.2.4", eth_src="02:00:00:00:00:04", k=1)]


@case("icmp-time-exceeded-garbage", "icmp")
def _(c):
    return [eth(ipv4(icmp(11, 0, 0, b"\xff" * 28), ident=c.ip_id()))]


@case("icmp-param-problem", "icmp")
def _(c):
    return [eth(ipv4(icmp(12, 0, 20 << 24, ipv4(b"\0" * 8, src=TARGET_IP, dst=ME)), ident=c.ip_id()))]


@case("icmp-source-quench", "icmp")
def _(c):
    return [eth(ipv4(icmp(4, 0, 0, ipv4(b"\0" * 8, src=TARGET_IP, dst=ME)), ident=c.ip_id()))]


@case("icmp-unknown-type-42", "icmp")
def _(c):
    return [eth(ipv4(icmp(42, 0, 0, b"abcd"), ident=c.ip_id()))]


@case("icmp-unknown-type-255", "icmp")
def _(c):
    return [eth(ipv4(icmp(255, 255, 0, b""), ident=c.ip_id()))]


@case("icmp-timestamp-request", "icmp")
def _(c):
    return [eth(ipv4(icmp(13, 0, (c.echo_id << 16) | 1, struct.pack("!III", 1000, 0, 0)), ident=c.ip_id()))]


@case("icmp-information-request", "icmp")
def _(c):
    return [eth(ipv4(icmp(15, 0, (c.echo_id << 16) | 1), ident=c.ip_id()))]


@case("icmp-address-mask-request", "icmp")
def _(c):
    return [eth(ipv4(icmp(17, 0, (c.echo_id << 16) | 1, b"\0\0\0\0"), ident=c.ip_id()))]


@case("icmp-redirect-from-gateway", "icmp", wait=0.1)
def _(c):
    # "From" the gateway, about a datagram the target sent to 203.0.113.99: use 192.0.2.77.
    # Then a ping from 203.0.113.99 shows where the target sends the reply.
    quoted = ipv4(icmp(8, 0, 0, b""), src=TARGET_IP, dst="203.0.113.99", proto=1, ident=0x1113)
    redirect = eth(ipv4(icmp(5, 1, ip_bytes("192.0.2.77"), quoted), src=GW_IP, ident=c.ip_id()))
    return [redirect, 0.1, redirect, 0.1, c.echo_frame(src="203.0.113.99", k=1)]


ERROR_BURST = 200


@case("icmp-errors-burst-rate-limited", "icmp", wait=0.2,
      summarize=lambda lines: ["icmp 3/3 to every one of %d" % ERROR_BURST if len(lines) == ERROR_BURST else
                               "icmp 3/3 rate-limited" if 0 < len(lines) < ERROR_BURST else "no icmp errors"])
def _(c):
    return [c.udp_frame(30000 + i, k=0) for i in range(ERROR_BURST)]


# --- UDP --------------------------------------------------------------------------------

@case("udp-echo-baseline", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO)]


@case("udp-echo-zero-length", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, data=b"")]


@case("udp-echo-zero-checksum", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, check=0)]


@case("udp-echo-bad-checksum", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, check="bad")]


@case("udp-echo-length-high", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, data=b"0123456789", length=40)]


@case("udp-echo-length-low", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, data=b"0123456789", length=12, check=0)]


@case("udp-echo-length-below-header", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, data=b"0123456789", length=4, check=0)]


@case("udp-echo-from-reflector-port-19", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, sport=19)]


@case("udp-echo-large-fragmented", "udp", wait=0.2)
def _(c):
    d = udp(c.sport, UDP_ECHO, pattern(8000, 3))
    return fragments(d, split(len(d), 1480), proto=17, ident=c.ip_id())


@case("udp-closed-port", "udp")
def _(c):
    return [c.udp_frame(UDP_CLOSED)]


@case("udp-closed-port-zero-checksum", "udp")
def _(c):
    return [c.udp_frame(UDP_CLOSED, check=0)]


@case("udp-closed-port-bad-checksum", "udp")
def _(c):
    return [c.udp_frame(UDP_CLOSED, check="bad")]


@case("udp-closed-port-0", "udp")
def _(c):
    return [c.udp_frame(0)]


@case("udp-closed-port-to-net-broadcast", "udp")
def _(c):
    return [c.udp_frame(UDP_CLOSED, dst=NET_BCAST, eth_dst="ff:ff:ff:ff:ff:ff")]


@case("udp-closed-port-to-limited-broadcast", "udp")
def _(c):
    return [c.udp_frame(UDP_CLOSED, dst="255.255.255.255", eth_dst="ff:ff:ff:ff:ff:ff")]


@case("udp-echo-to-broadcast", "udp")
def _(c):
    return [c.udp_frame(UDP_ECHO, dst=NET_BCAST, eth_dst="ff:ff:ff:ff:ff:ff")]


@case("udp-closed-port-from-offlink", "udp")
def _(c):
    return [c.udp_frame(UDP_CLOSED, src=OFFLINK)]


@case("udp-header-only-truncated", "udp")
def _(c):
    return [eth(ipv4(b"\x4e\x20\x00\x07", proto=17, ident=c.ip_id()))]


# --- TCP (only what needs no TCP engine: the TCP engineer adds the rest) -----------------

def tcp_seg(sport, dport, flags, seq=1000, ack=0, win=8192, options=b"", data=b"", src=ME, dst=TARGET_IP, check=None):
    off = 5 + (len(options) + 3) // 4
    options = options + b"\0" * (-len(options) % 4)
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, 0) + options + data
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, len(seg))
    c = csum(pseudo + seg)
    if check == "bad":
        c ^= 0x2222
    return seg[:16] + struct.pack("!H", c) + seg[18:]


@case("tcp-syn-to-broadcast", "tcp")
def _(c):
    return [eth(ipv4(tcp_seg(c.sport, TCP_PORT, 0x02, dst=NET_BCAST), dst=NET_BCAST, proto=6, ident=c.ip_id()),
                dst="ff:ff:ff:ff:ff:ff")]


@case("tcp-truncated-header", "tcp", needs=("tcp",))
def _(c):
    return [eth(ipv4(tcp_seg(c.sport, TCP_PORT, 0x02)[:12], proto=6, ident=c.ip_id()))]

# --- TCP against the echo service (RFC 793/9293, RFC 5961, RFC 7323) ----------------------
#
# The battery plays 192.0.2.3, an address the tester kernel does not own, so the tester kernel
# never sees (and never resets) the connections the battery opens by hand: no firewall rule
# is needed, unlike packetimpact, whose tester shares an address with its kernel.
# Answer lines of these cases carry `seq=`/`ack=` as names relative to what the case sent
# (`rcv.nxt`: the target's RCV.NXT, the battery's next sequence number; `snd.nxt`: the
# target's SND.NXT; `seg.ack`, `seg.seq+N`: fields of the case's segment; `?`: anything else,
# such as a fresh ISN) and `win=0`/`win>0`.

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
ISS = 1000                 # the battery's initial sequence number
TSV0 = 0x10000000          # the battery's first TSval
TCP_CLOSED = 12346


def tcp_raw(sport, dport, flags, seq=ISS, ack=0, win=8192, doff=5, options=b"", data=b"", src=ME, dst=TARGET_IP):
    """A TCP segment with an explicit data offset (the options are not padded)."""
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (doff & 15) << 4, flags, win, 0, 0) + options + data
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, len(seg))
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def tcp_frame(c, seg, k=0, src=ME, dst=TARGET_IP):
    return eth(ipv4(seg, src=src, dst=dst, proto=6, ident=c.ip_id(k)))


def probe_syn(c, options=b"", flags=SYN, data=b"", dport=TCP_PORT, **kw):
    """A SYN (or what the case makes of it), then a RST at ISS+1 that removes any half-open
    connection it made (so no SYN-ACK retransmission comes later)."""
    c.syms.update({ISS + 1: "seg.seq+1", ISS + 1 + len(data): "seg.seq+1+len" if data else "seg.seq+1"})
    return [tcp_frame(c, tcp_seg(c.sport, dport, flags, seq=ISS, options=options, data=data, **kw)), 0.05,
            tcp_frame(c, tcp_seg(c.sport, dport, RST, seq=ISS + 1), k=1)]


def is_synack(sport):
    def pred(f):
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            return False
        o = 14 + (f[14] & 15) * 4
        return struct.unpack("!H", f[o + 2:o + 4])[0] == sport and f[o + 13] & (SYN | ACK) == SYN | ACK
    return pred


class Conn:
    """An established connection the battery made by hand: seq is the battery's next sequence
    number (the target's RCV.NXT), ack the target's SND.NXT."""

    def __init__(self, c, ts):
        self.c, self.ts = c, ts
        self.seq, self.ack = ISS + 1, None
        self.tsval, self.tsecr = TSV0, 0

    def seg(self, flags, seq=None, ack=None, data=b"", tsval=None, k=2, check=None, win=8192):
        opts = b""
        if self.ts:
            opts = bytes([1, 1, 8, 10]) + struct.pack("!II", self.tsval if tsval is None else tsval, self.tsecr)
        s = tcp_seg(self.c.sport, TCP_PORT, flags, seq=(self.seq if seq is None else seq) & 0xFFFFFFFF,
                    ack=(self.ack if ack is None else ack) & 0xFFFFFFFF, options=opts, data=data, check=check, win=win)
        return tcp_frame(self.c, s, k=k)

    def probe(self, k=5):
        """A zero-length ACK one below RCV.NXT (what a keepalive or Linux's zero window probe
        is): an established connection answers it with an ACK, a closed one with a RST."""
        return self.seg(ACK, seq=self.seq - 1, k=k)


def handshake(c, ts=False):
    """Open a connection to the echo service by hand; None if no SYN-ACK came."""
    opts = bytes([2, 4, 5, 0xB4])
    if ts:
        opts += bytes([1, 1, 8, 10]) + struct.pack("!II", TSV0, 0)
    with c.cap.cond:
        start = len(c.cap.frames)
    c.send([tcp_frame(c, tcp_seg(c.sport, TCP_PORT, SYN, seq=ISS, options=opts), k=0)])
    k = c.cap.wait_for(is_synack(c.sport), start, 1.0)
    conn = Conn(c, ts)
    if k is None:
        conn.ack = 0
        return conn
    f = c.cap.frames[k][1]
    o = 14 + (f[14] & 15) * 4
    irs = struct.unpack("!I", f[o + 4:o + 8])[0]
    conn.ack = (irs + 1) & 0xFFFFFFFF
    if ts:
        topts = f[o + 20:o + (f[o + 12] >> 4) * 4]
        i = 0
        while i < len(topts):
            if topts[i] in (0, 1):
                i += 1
                continue
            if i + 1 >= len(topts) or topts[i + 1] < 2:
                break
            if topts[i] == 8 and topts[i + 1] == 10:
                conn.tsecr = struct.unpack("!I", topts[i + 2:i + 6])[0]
            i += topts[i + 1]
        conn.tsval = TSV0 + 1
    c.syms.update({conn.ack: "snd.nxt", conn.seq: "rcv.nxt"})
    c.send([conn.seg(ACK, k=1)])
    c.cleanup = [conn.seg(RST, k=7)]
    return conn


@case("tcp-syn-mss-len-3", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, options=bytes([2, 3, 5, 1]))


@case("tcp-syn-wscale-15", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, options=bytes([1, 3, 3, 15]))


@case("tcp-syn-timestamp-len-9", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, options=bytes([8, 9]) + bytes(7) + bytes([0, 0, 0]))


@case("tcp-syn-sackok-len-3", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, options=bytes([4, 3, 0, 0]))


@case("tcp-syn-option-len-0", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, options=bytes([2, 0, 5, 0xB4]))


@case("tcp-syn-option-overruns-offset", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, options=bytes([1, 1, 2, 40]))


@case("tcp-syn-doff-4", "tcp", needs=("tcp",))
def _(c):
    return [tcp_frame(c, tcp_raw(c.sport, TCP_PORT, SYN, doff=4))]


@case("tcp-syn-doff-past-segment", "tcp", needs=("tcp",))
def _(c):
    return [tcp_frame(c, tcp_raw(c.sport, TCP_PORT, SYN, doff=15, options=bytes([2, 4, 5, 0xB4])))]


@case("tcp-syn-with-data", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, data=b"data on a SYN")


@case("tcp-syn-fin", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, flags=SYN | FIN)


@case("tcp-syn-rst", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, flags=SYN | RST)


@case("tcp-syn-ack-to-listen", "tcp", needs=("tcp",))
def _(c):
    c.syms.update({5000: "seg.ack"})
    return [tcp_frame(c, tcp_seg(c.sport, TCP_PORT, SYN | ACK, seq=ISS, ack=5000))]


@case("tcp-no-flags-open-port", "tcp", needs=("tcp",))
def _(c):
    return [tcp_frame(c, tcp_seg(c.sport, TCP_PORT, 0, seq=ISS))]


@case("tcp-no-flags-closed-port", "tcp")
def _(c):
    c.syms.update({0: "0", ISS: "seg.seq"})
    return [tcp_frame(c, tcp_seg(c.sport, TCP_CLOSED, 0, seq=ISS))]


@case("tcp-xmas-open-port", "tcp", needs=("tcp",))
def _(c):
    return [tcp_frame(c, tcp_seg(c.sport, TCP_PORT, FIN | URG | PSH, seq=ISS, data=b"x"))]


@case("tcp-xmas-closed-port", "tcp")
def _(c):
    c.syms.update({0: "0", ISS + 2: "seg.seq+len+1"})
    return [tcp_frame(c, tcp_seg(c.sport, TCP_CLOSED, FIN | URG | PSH, seq=ISS, data=b"x"))]


@case("tcp-ack-to-closed-port", "tcp")
def _(c):
    c.syms.update({77777: "seg.ack"})
    return [tcp_frame(c, tcp_seg(c.sport, TCP_CLOSED, ACK, seq=ISS, ack=77777))]


@case("tcp-ack-to-listen", "tcp", needs=("tcp",))
def _(c):
    c.syms.update({77777: "seg.ack"})
    return [tcp_frame(c, tcp_seg(c.sport, TCP_PORT, ACK, seq=ISS, ack=77777))]


@case("tcp-syn-to-closed-port", "tcp")
def _(c):
    c.syms.update({0: "0", ISS + 1: "seg.seq+1"})
    return [tcp_frame(c, tcp_seg(c.sport, TCP_CLOSED, SYN, seq=ISS))]


@case("tcp-rst-to-listen", "tcp", needs=("tcp",))
def _(c):
    return [tcp_frame(c, tcp_seg(c.sport, TCP_PORT, RST, seq=ISS))]


@case("tcp-syn-bad-checksum", "tcp", needs=("tcp",))
def _(c):
    return probe_syn(c, check="bad")


@case("tcp-land", "tcp", needs=("tcp",))
def _(c):
    seg = tcp_seg(TCP_PORT, TCP_PORT, SYN, seq=ISS, src=TARGET_IP, dst=TARGET_IP)
    return [tcp_frame(c, seg, src=TARGET_IP, dst=TARGET_IP)]


@case("tcp-est-baseline", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.probe()]


@case("tcp-est-rst-in-window", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(RST, seq=conn.seq + 100), 0.05, conn.probe()]


@case("tcp-est-rst-at-rcv-nxt", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(RST), 0.05, conn.probe()]


@case("tcp-est-rst-out-of-window", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(RST, seq=conn.seq + 0x40000000), 0.05, conn.probe()]


@case("tcp-est-syn", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(SYN, seq=conn.seq + 50, ack=0), 0.05, conn.probe()]


@case("tcp-est-ack-beyond-snd-nxt", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(ACK | PSH, ack=conn.ack + 100000, data=b"x"), 0.05, conn.probe()]


@case("tcp-est-ack-too-old", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(ACK | PSH, ack=conn.ack - 0x20000000, data=b"x"), 0.05, conn.probe()]


@case("tcp-est-paws-old-timestamp", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c, ts=True)
    return [conn.seg(ACK | PSH, data=b"x", tsval=TSV0 - 0x100000), 0.05, conn.probe()]


@case("tcp-est-bad-checksum", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(ACK | PSH, data=b"x", check="bad"), 0.05, conn.probe()]


@case("tcp-est-zero-window-probe", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(ACK, seq=conn.seq - 1, k=3)]


@case("tcp-est-old-byte-probe", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(ACK, seq=conn.seq - 1, data=b"x", k=3)]


@case("tcp-est-data-beyond-window", "tcp", needs=("tcp",))
def _(c):
    conn = handshake(c)
    return [conn.seg(ACK | PSH, seq=conn.seq + 0x01000000, data=b"x"), 0.05, conn.probe()]


# ----------------------------------------------------------------------------- normalization

def describe_options(opts):
    out = []
    i = 0
    while i < len(opts):
        t = opts[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            out.append("opt%d?" % t)
            break
        ln = opts[i + 1]
        body = opts[i:i + ln]
        if t == 7 and ln >= 3:
            ptr = body[2]
            addrs = [ip_str(body[p:p + 4]) for p in range(3, min(ptr - 1, ln), 4) if p + 4 <= ln]
            out.append("RR[%s]" % ",".join(addrs))
        elif t == 68 and ln >= 4:
            out.append("TS(ptr=%d,oflw=%d,flg=%d)" % (body[2], body[3] >> 4, body[3] & 15))
        else:
            out.append("opt%d(len=%d)" % (t, ln))
        i += ln
    return " opts=" + "+".join(out) if out else ""


def short_hash(b):
    return hashlib.sha1(b).hexdigest()[:6]


def describe_ip(ip, frags, eth_dst, details, syms=None):
    """One normalized line for an IPv4 packet the target sent (reassembled if fragmented)."""
    if len(ip) < 20:
        return "ipv4 runt"
    vihl, tos, tot, ident, ff, ttl, proto, _c, src, dst = struct.unpack("!BBHHHBBH4s4s", ip[:20])
    hl = (vihl & 15) * 4
    opts = ip[20:hl]
    pay = ip[hl:tot]
    head = "%s>%s" % (ip_str(src), ip_str(dst))
    tail = describe_options(opts)
    if tos:
        tail += " tos=0x%02x" % tos
    if ff & 0x4000 and proto == 1:
        tail += " DF"  # (for UDP and TCP, DF is the socket's path MTU discovery policy)
    if frags > 1:
        tail += " frags=%d" % frags
    if csum(ip[:hl]) != 0 and frags == 1:
        tail += " BAD-IP-CHECKSUM"
    tail += " to=%s" % MAC_NAMES.get(eth_dst, eth_dst)
    details.append("ip id=0x%04x ttl=%d len=%d" % (ident, ttl, tot))
    if proto == 1 and len(pay) >= 4:
        typ, code = pay[0], pay[1]
        bad = " BAD-ICMP-CHECKSUM" if csum(pay) != 0 else ""
        if typ in (0, 8):
            eid, seq = struct.unpack("!HH", pay[4:8]) if len(pay) >= 8 else (0, 0)
            kind = "echo-reply" if typ == 0 else "echo-request"
            return "%s icmp %s code=%d seq=%d len=%d data=%s%s%s" % (head, kind, code, seq, len(pay) - 8,
                                                                   short_hash(pay[8:]), bad, tail)
        if typ in (3, 4, 5, 11, 12):
            extra = ""
            if typ == 12:
                extra = " ptr=%d" % pay[4]
            if typ == 3 and code == 4:
                extra = " mtu=%d" % struct.unpack("!H", pay[6:8])[0]
            if typ == 5:
                extra = " gw=%s" % ip_str(pay[4:8])
            q = pay[8:]
            quote = "quote=none"
            if len(q) >= 20:
                qhl = (q[0] & 15) * 4
                qtot = struct.unpack("!H", q[2:4])[0]
                have = max(0, len(q) - qhl)
                orig = max(0, qtot - qhl)
                quote = "quote=ok" if have >= min(8, orig) else "quote=short"
                quote += " about %s>%s/%d" % (ip_str(q[12:16]), ip_str(q[16:20]), q[9])
                details.append("icmp %d/%d quotes %d bytes: header %d + %d of %d payload bytes" %
                               (typ, code, len(q), qhl, have, orig))
            return "%s icmp %d/%d%s %s%s%s" % (head, typ, code, extra, quote, bad, tail)
        return "%s icmp type=%d code=%d len=%d%s%s" % (head, typ, code, len(pay), bad, tail)
    if proto == 17 and len(pay) >= 8:
        sp, dp, ln, ck = struct.unpack("!HHHH", pay[:8])
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(pay))
        bad = " BAD-UDP-CHECKSUM" if ck != 0 and csum(pseudo + pay) != 0 else (" no-checksum" if ck == 0 else "")
        return "%s udp %d>%d len=%d data=%s%s%s" % (head, sp, dp, ln - 8, short_hash(pay[8:ln]), bad, tail)
    if proto == 6 and len(pay) >= 20:
        sp, dp, seq, ack, off, fl, win = struct.unpack("!HHIIBBH", pay[:16])
        names = "".join(n for b, n in ((2, "S"), (1, "F"), (8, "P"), (4, "R"), (0x20, "U"), (0x10, ".")) if fl & b)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(pay))
        bad = " BAD-TCP-CHECKSUM" if csum(pseudo + pay) != 0 else ""
        details.append("tcp seq=%d ack=%d win=%d" % (seq, ack, win))
        if syms:
            rel = " seq=%s" % syms.get(seq, "?")
            if fl & 0x10:
                rel += " ack=%s" % syms.get(ack, "?")
            bad += rel + (" win=0" if win == 0 else " win>0")
        return "%s tcp %d>%d [%s] len=%d%s%s" % (head, sp, dp, names, len(pay) - (off >> 4) * 4, bad, tail)
    return "%s proto=%d len=%d%s" % (head, proto, len(pay), tail)


def describe_arp(a, eth_dst):
    try:
        p = ARP(a)
    except Exception:  # scapy never should, but a malformed answer must not stop the run
        return "arp undecodable"
    op = {1: "who-has", 2: "reply"}.get(p.op, "op%d" % p.op)
    hw = "" if p.hwtype == 1 else " htype=%d" % p.hwtype
    if p.op == 1:
        to = "" if eth_dst == "ff:ff:ff:ff:ff:ff" else " to=%s" % MAC_NAMES.get(eth_dst, eth_dst)
        return "arp who-has %s tell %s%s%s" % (p.pdst, p.psrc, hw, to)
    return "arp %s %s is-at %s > %s (%s)%s to=%s" % (op, p.psrc, "target" if p.hwsrc == TARGET_MAC else p.hwsrc,
                                                  p.pdst, MAC_NAMES.get(p.hwdst, p.hwdst), hw,
                                                  MAC_NAMES.get(eth_dst, eth_dst))


import battery6  # noqa: E402  (the IPv6 and multicast cases; they use the builders above)


# ----------------------------------------------------------------------------- runner

class Capture:
    """Reads every frame the target sends on IFACE; answers ARP for RESPONDERS at once."""

    def __init__(self, iface, target_mac):
        self.iface = iface
        self.target = mac_bytes(target_mac)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((iface, 0))
        self.frames = []          # (time, bytes)
        self.cond = threading.Condition()
        self.stop = False
        self.arp_answered = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            try:
                data, addr = self.sock.recvfrom(70000)
            except OSError:
                continue
            if addr[2] == socket.PACKET_OUTGOING or data[6:12] != self.target:
                continue
            now = time.monotonic()
            if len(data) >= 42 and data[12:14] == b"\x08\x06" and data[20:22] == b"\x00\x01":
                tpa = ip_str(data[38:42])
                if tpa in RESPONDERS:
                    mac = mac_bytes(RESPONDERS[tpa])
                    reply = data[6:12] + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + \
                        mac + data[38:42] + data[22:28] + data[28:32]
                    try:
                        self.sock.send(reply)
                        self.arp_answered += 1
                    except OSError:
                        pass
            mac6 = battery6.is_ns_for_responder(data)
            if mac6 is not None:
                try:
                    self.sock.send(battery6.na_for(data, mac6))
                    self.arp_answered += 1
                except OSError:
                    pass
            with self.cond:
                self.frames.append((now, data))
                self.cond.notify_all()

    def wait_for(self, pred, since_index, timeout):
        """Index of the first frame from since_index on that satisfies pred, or None."""
        deadline = time.monotonic() + timeout
        i = since_index
        with self.cond:
            while True:
                while i < len(self.frames):
                    if pred(self.frames[i][1]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        self.stop = True
        self.thread.join(1)
        self.sock.close()


def is_live_reply(seq):
    def pred(f):
        if len(f) < 42 or f[12:14] != b"\x08\x00":
            return False
        hl = (f[14] & 15) * 4
        o = 14 + hl
        return f[23] == 1 and len(f) >= o + 8 and f[o] == 0 and struct.unpack("!HH", f[o + 4:o + 8]) == (LIVE_ECHO_ID, seq)
    return pred


def tcp_probe(ip, port, timeout=1.0):
    try:
        s = socket.create_connection((ip, port), timeout=timeout)
    except OSError:
        return False
    try:
        s.sendall(b"battery\n")
        s.settimeout(timeout)
        got = s.recv(64)
        return got.startswith(b"battery")
    except OSError:
        return False
    finally:
        s.close()


def run(args):
    global TARGET_MAC
    TARGET_MAC = args.target_mac
    t0 = time.monotonic()
    deadline = t0 + args.max_seconds
    cap = Capture(args.iface, args.target_mac)
    try:
        with open("/sys/class/net/%s/address" % args.iface) as f:
            MAC_NAMES[f.read().strip()] = "gw"
    except OSError:
        pass
    l2 = conf.L2socket(iface=args.iface)

    send_errors = []

    def send(frames):
        if not frames:
            return
        try:
            # One sendp call for the whole batch: back to back, as a flood would be.
            sendp([Raw(load=bytes(f)) for f in frames], iface=args.iface, socket=l2, verbose=False)
            return
        except OSError:
            pass  # resend frame by frame (duplicates of what went out are harmless here)
        for f in frames:
            for attempt in range(20):
                try:
                    sendp(Raw(load=bytes(f)), iface=args.iface, socket=l2, verbose=False)
                    break
                except OSError as e:
                    # ENOBUFS: the link's queue is full (a flood case); give the target a moment.
                    if e.errno == 105 and attempt < 19:
                        time.sleep(0.005)
                        continue
                    send_errors.append(str(e))
                    break

    def ping(seq, v6=False, tries=3):
        if v6:
            f, pred = battery6.live_ping6(seq), battery6.is_live_reply6(seq)
        else:
            f, pred = eth(ipv4(icmp(8, 0, (LIVE_ECHO_ID << 16) | seq, b"liveness" * 4), ident=0xFFFF, ttl=64)), is_live_reply(seq)
        for _ in range(tries):
            with cap.cond:
                start = len(cap.frames)
            send([f])
            if cap.wait_for(pred, start, 1.0) is not None:
                return True
        return False

    selected = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    # Cases whose answers come late (reassembly timeouts) go first, so their wait overlaps the rest.
    # Cases that leave lasting state behind go last.
    order = sorted(range(len(selected)), key=lambda i: 2 if selected[i].last else 0 if selected[i].late else 1)
    index_of = {c.name: CASES.index(c) for c in selected}

    # Warm up: the target learns our MAC, and we see whether it speaks TCP on 12345.
    live0 = ping(0xFFFE)
    tcp_on = tcp_probe(args.target_ip, TCP_PORT) if args.tcp == "auto" else args.tcp == "on"
    # IPv6: the link's router advertises itself, then the target must answer ping within 10 s
    # (its Duplicate Address Detection may still be running).
    send(battery6.warmup_frames())
    ipv6_on = args.ipv6 != "off" and ping(0xFFFE, v6=True, tries=10)
    if ipv6_on:
        # Once more now that the target answers: an advertisement that arrived while the
        # target's link-local address was still tentative may have been ignored, and the
        # cases through the router (redirects, off-link sources) need its default route.
        send(battery6.warmup_frames())
        time.sleep(0.2)
    if args.ipv6 == "on" and not ipv6_on:
        sys.stderr.write("%s: the target does not answer ping -6\n" % args.label)
    caps = {"tcp": tcp_on, "ipv6": ipv6_on}

    results = {}
    syms = {}
    windows = []
    late_until = 0.0
    for n, i in enumerate(order):
        c = selected[i]
        idx = index_of[c.name]
        if time.monotonic() > deadline:
            results[c.name] = {"skipped": "out of time"}
            continue
        missing = [need for need in c.needs if not caps.get(need)]
        if missing:
            results[c.name] = {"skipped": "target lacks " + ",".join(missing)}
            continue
        ctx = Ctx(idx)
        ctx.cap, ctx.send = cap, send
        steps = c.fn(ctx)
        syms[c.name] = ctx.syms
        with cap.cond:
            first = len(cap.frames)
        start = time.monotonic()
        batch = []
        for s in steps:
            if isinstance(s, (int, float)):
                send(batch)
                batch = []
                time.sleep(min(float(s), 2.0))
            else:
                batch.append(s)
        send(batch)
        time.sleep(min(c.wait, 1.0))
        alive = ping(idx & 0xFFFF) and (not ipv6_on or ping(idx & 0xFFFF, v6=True))
        tcp_alive = tcp_probe(args.target_ip, TCP_PORT) if tcp_on else None
        send(ctx.cleanup)
        end = time.monotonic()
        with cap.cond:
            last = len(cap.frames)
        windows.append((c.name, idx, first, last))
        if c.late:
            late_until = max(late_until, start + c.late)
        results[c.name] = {"alive": alive, "tcp_alive": tcp_alive, "seconds": round(end - start, 3)}
        if send_errors:
            results[c.name]["send_errors"] = send_errors[:]
            sys.stderr.write("%s: %s: %d frames not sent (%s)\n" % (args.label, c.name, len(send_errors), send_errors[0]))
            del send_errors[:]
        if not alive:
            sys.stderr.write("target did not answer ping after %s\n" % c.name)

    # Let the late answers (reassembly timeouts) come in, within the run's bound.
    while time.monotonic() < min(late_until, deadline):
        time.sleep(0.2)
    time.sleep(0.2)
    live_end = ping(0xFFFD) and (not ipv6_on or ping(0xFFFD, v6=True))
    cap.close()
    l2.close()

    attribute(cap.frames, windows, results, selected, syms)
    if args.dump:
        with open(args.dump + "." + args.label, "w") as f:
            for t, fr in cap.frames:
                f.write("%.6f %s\n" % (t - t0, fr.hex()))
    out = {
        "target": args.label,
        "iface": args.iface,
        "tcp": tcp_on,
        "ipv6": ipv6_on,
        "alive_at_start": live0,
        "alive_at_end": live_end,
        "arp_answered": cap.arp_answered,
        "seconds": round(time.monotonic() - t0, 1),
        "cases": [dict(name=c.name, group=c.group, **results.get(c.name, {"skipped": "not run"})) for c in selected],
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    dead = [c["name"] for c in out["cases"] if c.get("alive") is False]
    print("%s: %d cases in %.1f s, %d without a ping answer afterwards%s" % (
        args.label, len(selected), out["seconds"], len(dead), (": " + ", ".join(dead)) if dead else ""))
    return 0


def case_of_id(ident):
    if ID_BASE <= ident < ID_BASE + 8 * len(CASES):
        return (ident - ID_BASE) // 8
    return None


def attribute(frames, windows, results, selected, syms=None):
    """Turn captured frames into per-case normalized lines."""
    name_of = {CASES.index(c): c.name for c in selected}
    lines = {c.name: [] for c in selected}
    details = {c.name: [] for c in selected}
    frame_case = {}
    for name, idx, first, last in windows:
        for k in range(first, last):
            frame_case.setdefault(k, name)

    # Reassemble the target's fragmented packets (by src, id, protocol).
    pending = {}
    packets = []   # (frame index, eth dst, ip bytes, fragment count)
    for k, (_t, f) in enumerate(frames):
        et = f[12:14]
        if et == b"\x86\xdd":
            continue
        if et == b"\x08\x00" and len(f) >= 34:
            ip = f[14:]
            tot = struct.unpack("!H", ip[2:4])[0]
            ip = ip[:tot]
            ff = struct.unpack("!H", ip[6:8])[0]
            if ff & 0x3FFF:
                key = (ip[12:16], ip[4:6], ip[9])
                p = pending.setdefault(key, {"parts": {}, "total": None, "first": None})
                hl = (ip[0] & 15) * 4
                off = (ff & 0x1FFF) * 8
                p["parts"][off] = ip[hl:]
                if off == 0:
                    p["first"] = ip[:hl]
                if not ff & 0x2000:
                    p["total"] = off + len(ip) - hl
                if p["first"] is not None and p["total"] is not None:
                    data = b""
                    while len(data) < p["total"] and len(data) in p["parts"]:
                        data += p["parts"][len(data)]
                    if len(data) == p["total"]:
                        h = bytearray(p["first"])
                        h[2:4] = struct.pack("!H", len(h) + len(data))
                        h[6:8] = b"\0\0"
                        packets.append((k, mac_str(f[0:6]), bytes(h) + data, len(p["parts"])))
                        del pending[key]
                continue
            packets.append((k, mac_str(f[0:6]), ip, 1))
        else:
            packets.append((k, mac_str(f[0:6]), f[14:] if et == b"\x08\x06" else None, 1))

    arp_seen = {}
    for k, dst, ip, nfr in packets:
        f = frames[k][1]
        et = f[12:14]
        owner = frame_case.get(k)
        if et == b"\x08\x06":
            a = f[14:]
            if len(a) < 28:
                continue
            tpa = ip_str(a[24:28])
            op = a[6:8]
            if op == b"\x00\x01" and (tpa in RESPONDERS or tpa == GW_IP):
                continue  # routine resolution of the battery's hosts and of the gateway
            if op == b"\x00\x02" and tpa == GW_IP:
                continue  # answers to the tester kernel (TCP probe)
            if owner is None:
                continue
            line = describe_arp(a, dst)
            if op == b"\x00\x01" and dst != "ff:ff:ff:ff:ff:ff":
                continue  # a unicast reachability probe (Linux's NUD): timing, not behaviour
            if op == b"\x00\x01":
                # Requests for an address belong to the first case that made the target ask:
                # retransmissions and later reachability probes are timing, not behaviour.
                if tpa in arp_seen:
                    continue
                arp_seen[tpa] = owner
            lines[owner].append(line)
            continue
        if ip is None:
            if owner is not None:
                lines[owner].append("eth type=0x%s len=%d" % (et.hex(), len(f)))
            continue
        if len(ip) < 20:
            continue
        if ip[16:20] == ip_bytes(GW_IP):
            continue  # the TCP liveness probe's segments (and any answer to the tester kernel)
        owner = content_owner(ip, name_of) or owner
        if owner is None:
            continue
        if ip[9] == 1 and len(ip) >= 28 and ip[(ip[0] & 15) * 4] == 0:
            hl = (ip[0] & 15) * 4
            if struct.unpack("!H", ip[hl + 4:hl + 6])[0] == LIVE_ECHO_ID:
                continue
        d = details[owner]
        lines[owner].append(describe_ip(ip, nfr, dst, d, (syms or {}).get(owner)))

    # IPv6: by content (the case's own address, its echo id) or else by time; routine chatter
    # (router solicitations, DAD, resolution of the battery's hosts, reachability probes, MLD
    # reports outside the MLD cases) left out, a multicast solicitation for an address kept
    # for the first case that made the target ask.
    group_of = {c.name: c.group for c in selected}
    asked6 = set()
    for k, dst, ip, nfr in battery6.packets6(frames):
        owner = battery6.content_owner6(ip, name_of) or frame_case.get(k)
        if owner is None or battery6.routine6(ip, dst, group_of[owner]) is not None:
            continue
        target = battery6.solicited_target(ip)
        if target is not None:
            if target in asked6:
                continue
            asked6.add(target)
        lines[owner].append(battery6.describe_ip6(ip, nfr, dst, details[owner]))

    for c in selected:
        r = results.setdefault(c.name, {})
        got = lines[c.name]
        if c.summarize:
            got = c.summarize(got)
        got = collapse(got)
        r["answer"] = got or ["no reply"]
        r["details"] = details[c.name][:12]
        if c.summarize:
            r["details"].insert(0, "%d answer lines before the summary" % len(lines[c.name]))


def content_owner(ip, name_of):
    """The case an IPv4 packet answers, from ids and ports inside it, or None."""
    hl = (ip[0] & 15) * 4
    pay = ip[hl:]
    proto = ip[9]
    idx = None
    if proto == 1 and len(pay) >= 8:
        typ = pay[0]
        if typ in (0, 14, 16, 18):
            eid = struct.unpack("!H", pay[4:6])[0]
            if eid >= ID_BASE and (eid - ID_BASE) % 8 == 0:
                idx = case_of_id(eid)
        elif typ in (3, 4, 5, 11, 12) and len(pay) >= 28:
            idx = case_of_id(struct.unpack("!H", pay[12:14])[0])
            if idx is None:
                qhl = (pay[8] & 15) * 4
                if len(pay) >= 8 + qhl + 4 and pay[17] in (6, 17):
                    sport = struct.unpack("!H", pay[8 + qhl:8 + qhl + 2])[0]
                    if SPORT_BASE <= sport < SPORT_BASE + len(CASES):
                        idx = sport - SPORT_BASE
    elif proto in (6, 17) and len(pay) >= 4:
        dport = struct.unpack("!H", pay[2:4])[0]
        if SPORT_BASE <= dport < SPORT_BASE + len(CASES):
            idx = dport - SPORT_BASE
    return name_of.get(idx) if idx is not None else None


def collapse(lines):
    out = []
    for l in lines:
        if out and out[-1][0] == l:
            out[-1][1] += 1
        else:
            out.append([l, 1])
    return [l if n == 1 else "%s (x%d)" % (l, n) for l, n in out]


# ----------------------------------------------------------------------------- compare / list

def compare(a_path, b_path):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    bc = {c["name"]: c for c in b["cases"]}
    diffs = 0
    for ca in a["cases"]:
        cb = bc.get(ca["name"])
        if cb is None or "answer" not in ca or "answer" not in cb:
            continue
        if ca["answer"] != cb["answer"]:
            diffs += 1
            print("%s\n  %s: %s\n  %s: %s" % (ca["name"], a["target"], " ; ".join(ca["answer"]),
                                               b["target"], " ; ".join(cb["answer"])))
    print("%d differences" % diffs)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--iface", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--label", default="target")
    r.add_argument("--target-ip", default=TARGET_IP)
    r.add_argument("--target-mac", default=TARGET_MAC)
    r.add_argument("--tcp", choices=["auto", "on", "off"], default="auto")
    r.add_argument("--ipv6", choices=["auto", "on", "off"], default="auto", help="run the IPv6 cases (auto: if the target answers ping -6)")
    r.add_argument("--only", default="", help="comma-separated case names")
    r.add_argument("--dump", default="", help="write every captured frame (hex) to this file")
    r.add_argument("--max-seconds", type=float, default=150.0)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    sub.add_parser("list")
    args = ap.parse_args()
    if args.cmd == "list":
        for k in CASES:
            print("%-40s %s" % (k.name, k.group))
        print("%d cases" % len(CASES))
        return 0
    if args.cmd == "compare":
        return compare(args.a, args.b)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
