"""The battery's IPv6 and multicast cases, and the normalizer of the target's IPv6 answers.

Imported by battery.py (which registers itself as the module `battery` first), so the cases
use its decorator, Ctx and builders. Longer than most files because each case is a few lines
and they belong together: extension headers (RFC 8200 4, RFC 5095), fragments (RFC 8200 4.5,
RFC 5722, RFC 6946, RFC 7112), Neighbor Discovery (RFC 4861), router advertisements, Packet
Too Big (RFC 8201), MLD (RFC 3810) and IGMP (RFC 3376).

Addresses: the target is 2001:db8::2/64 and fe80::200:5eff:fe00:5301 (modified EUI-64 of
00:00:5e:00:53:01, pstack's and the Linux target's MAC). Each case speaks from its own
address, 2001:db8::a:INDEX (MAC 02:00:00:00:00:03, answered by the receiver thread), so that
the target's answers are attributed to it by address and no per-destination ICMPv6 rate limit
links one case to the next; answer lines call it `me`. fe80::1 (MAC `router`) is the link's
router: the battery advertises it (router lifetime 1800 s, no prefix) before the cases.
"""

import socket
import struct

from battery import ID_BASE, LIVE_ECHO_ID, ME_MAC, MAC_NAMES, csum, eth, ipv4, pattern, short_hash, mac_str
from battery import case as case4

TARGET6 = "2001:db8::2"
TARGET6_LL = "fe80::200:5eff:fe00:5301"
LIVE6 = "2001:db8::3"            # the liveness ping's source
ROUTER6 = "fe80::1"
ROUTER_MAC = "02:00:00:00:00:01"
ROUTER2_6 = "fe80::77"
ROUTER2_MAC = "02:00:00:00:00:77"
CASE_NET = "2001:db8::a:"        # + hex index: each case's own address
OFFNET = "2001:db8:ff::"         # off-link destinations (through the router)
# Both stacks keep an incomplete IPv6 datagram 60 s; Linux's timer wheel fires a 60 s timer
# up to 2.05 s late (HZ=250, 512-jiffy granularity at that level).
REASSEMBLY6_LATE = 63.5

MAC_NAMES[ROUTER_MAC] = "router"
MAC_NAMES[ROUTER2_MAC] = "router2"

# Hosts the battery plays on IPv6: the receiver thread answers Neighbor Solicitations for them.
RESPONDERS6 = {LIVE6: ME_MAC, ROUTER6: ROUTER_MAC, ROUTER2_6: ROUTER2_MAC, "fe80::3": ME_MAC,
               "2001:db8::4": "02:00:00:00:00:04"}



def case(name, group, **kw):
    """battery.case for a case that needs the target to speak IPv6."""
    kw.setdefault("needs", ("ipv6",))
    return case4(name, group, **kw)


NH_HOP, NH_TCP, NH_UDP, NH_RT, NH_FRAG, NH_ICMP6, NH_NONE, NH_DST = 0, 6, 17, 43, 44, 58, 59, 60


def a6(s):
    return socket.inet_pton(socket.AF_INET6, s)


def s6(b):
    return socket.inet_ntop(socket.AF_INET6, bytes(b))


def me6(c):
    return "%s%x" % (CASE_NET, c.index)


def responder_mac6(addr_bytes):
    """The MAC the battery answers a Neighbor Solicitation for this address with, or None."""
    a = s6(addr_bytes)
    if a in RESPONDERS6:
        return RESPONDERS6[a]
    if a.startswith(CASE_NET):
        return ME_MAC
    return None


def solicited_node(addr):
    b = a6(addr)
    return s6(a6("ff02::1:ff00:0")[:13] + b[13:])


def mcast_mac6(addr):
    return "33:33:" + ":".join("%02x" % x for x in a6(addr)[12:])


# ----------------------------------------------------------------------------- builders

def ipv6(payload, src, dst=TARGET6, nh=NH_ICMP6, hlim=64, flow=0, plen=None):
    return struct.pack("!IHBB", (6 << 28) | (flow & 0xFFFFF), len(payload) if plen is None else plen, nh, hlim) + \
        a6(src) + a6(dst) + bytes(payload)


def l4sum(src, dst, nh, data):
    return csum(a6(src) + a6(dst) + struct.pack("!IxxxB", len(data), nh) + bytes(data))


def icmp6(typ, code, rest, body, src, dst, check=None):
    rest_b = struct.pack("!I", rest) if isinstance(rest, int) else bytes(rest)
    m = struct.pack("!BBH", typ, code, 0) + rest_b + bytes(body)
    c = l4sum(src, dst, NH_ICMP6, m)
    if check == "bad":
        c ^= 0x1234
    return m[:2] + struct.pack("!H", c) + m[4:]


def udp6(sport, dport, data, src, dst=TARGET6):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + bytes(data)
    c = l4sum(src, dst, NH_UDP, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp6(sport, dport, flags, src, dst=TARGET6, seq=1000):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 8192, 0, 0)
    return seg[:16] + struct.pack("!H", l4sum(src, dst, NH_TCP, seg)) + seg[18:]


def pad_options(options):
    """Options padded (Pad1/PadN) so that the header is a multiple of 8 bytes."""
    need = -(2 + len(options)) % 8
    if need == 1:
        return options + b"\x00"
    if need:
        return options + bytes([1, need - 2]) + b"\0" * (need - 2)
    return options


def opts_hdr(nh, options):
    """A Hop-by-Hop or Destination Options header carrying `options` (padded)."""
    body = pad_options(bytes(options))
    return bytes([nh, (2 + len(body)) // 8 - 1]) + body


def raw_hdr(nh, hlen, body):
    """An extension header whose length field says `hlen` whatever the body is."""
    return bytes([nh, hlen]) + bytes(body)


def rt_hdr(nh, rtype, segments_left, addrs=()):
    body = bytes([rtype, segments_left]) + b"\0" * 4 + b"".join(a6(a) for a in addrs)
    return bytes([nh, len(addrs) * 2]) + body


def frag_hdr(nh, offset, more, ident):
    return struct.pack("!BBHI", nh, 0, (offset & 0xFFF8) | (1 if more else 0), ident)


def eth6(ip, dst="00:00:5e:00:53:01", src=ME_MAC):
    return eth(ip, dst=dst, src=src, etype=0x86DD)


def echo6_body(c, data=None, seq=1):
    return (c.echo_id << 16) | seq, pattern(56, c.index) if data is None else data


def echo6(c, src=None, dst=TARGET6, data=None, seq=1, check=None):
    rest, body = echo6_body(c, data, seq)
    return icmp6(128, 0, rest, body, src or me6(c), dst, check)


def echo6_frame(c, src=None, dst=TARGET6, data=None, eth_dst="00:00:5e:00:53:01", eth_src=ME_MAC, hlim=64, exts=()):
    """An echo request, behind the extension headers `exts` (each a function of the next header)."""
    src = src or me6(c)
    payload = echo6(c, src, dst, data)
    nh = NH_ICMP6
    for mk in reversed(exts):
        payload = mk(nh) + payload
        nh = mk.nh
    return eth6(ipv6(payload, src, dst, nh=nh, hlim=hlim), dst=eth_dst, src=eth_src)


def ext(nh_kind, make):
    """An extension header maker for echo6_frame: `make(next_header)` -> bytes; nh_kind is its type."""
    make.nh = nh_kind
    return make


def frags6(upper, upper_nh, chunks, src, ident, dst=TARGET6, eth_src=ME_MAC):
    """Frames for fragments of `upper` (the fragmentable part): chunks are (offset, length, more)."""
    out = []
    for off, ln, more in chunks:
        out.append(eth6(ipv6(frag_hdr(upper_nh, off, more, ident) + upper[off:off + ln], src, dst, nh=NH_FRAG),
                        src=eth_src))
    return out


def ns(src, target, dst=None, slla=ME_MAC, hlim=255, eth_src=ME_MAC, eth_dst=None):
    dst = dst or solicited_node(target)
    opts = b"" if slla is None else bytes([1, 1]) + bytes.fromhex(slla.replace(":", ""))
    m = icmp6(135, 0, 0, a6(target) + opts, src, dst)
    return eth6(ipv6(m, src, dst, hlim=hlim), dst=eth_dst or mcast_mac6(dst), src=eth_src)


def na(src, target, dst=TARGET6, flags="O", tlla=None, hlim=255, eth_src=ME_MAC, eth_dst="00:00:5e:00:53:01"):
    bits = (0x80000000 if "R" in flags else 0) | (0x40000000 if "S" in flags else 0) | (0x20000000 if "O" in flags else 0)
    opts = b"" if tlla is None else bytes([2, 1]) + bytes.fromhex(tlla.replace(":", ""))
    m = icmp6(136, 0, bits, a6(target) + opts, src, dst)
    return eth6(ipv6(m, src, dst, hlim=hlim), dst=eth_dst, src=eth_src)


def ra(src=ROUTER6, router_lifetime=1800, prefixes=(), hlim=255, eth_src=ROUTER_MAC, dst="ff02::1", valid=600, preferred=300):
    body = struct.pack("!II", 0, 0)  # reachable time, retrans timer: unspecified
    opts = bytes([1, 1]) + bytes.fromhex(eth_src.replace(":", ""))
    for p in prefixes:
        opts += struct.pack("!BBBBIII", 3, 4, 64, 0xC0, valid, preferred, 0) + a6(p)
    rest = struct.pack("!BBH", 64, 0, router_lifetime)
    m = icmp6(134, 0, rest, body + opts, src, dst)
    return eth6(ipv6(m, src, dst, hlim=hlim), dst=mcast_mac6(dst) if dst.startswith("ff") else "00:00:5e:00:53:01", src=eth_src)


def redirect(src, target, dest, hlim=255, tlla=None, eth_src=ROUTER_MAC, quoted=b""):
    opts = b""
    if tlla is not None:
        opts += bytes([2, 1]) + bytes.fromhex(tlla.replace(":", ""))
    if quoted:
        q = quoted + b"\0" * (-len(quoted) % 8)
        opts += bytes([4, 1 + len(q) // 8]) + b"\0" * 6 + q
    m = icmp6(137, 0, 0, a6(target) + a6(dest) + opts, src, TARGET6)
    return eth6(ipv6(m, src, TARGET6, hlim=hlim), src=eth_src)


def router_alert_hbh(nh):
    return opts_hdr(nh, bytes([5, 2, 0, 0]))


def mld_query(mrc_ms=100, group="::", length=None, check=None, src=ROUTER6, dst="ff02::1", hlim=1, router_alert=True):
    body = a6(group) + struct.pack("!BBH", 2, 125, 0)  # S=0 QRV=2, QQIC 125, no sources
    m = struct.pack("!BBHHH", 130, 0, 0, mrc_ms, 0) + body
    if length is not None:
        m = m[:length]
    c = l4sum(src, dst, NH_ICMP6, m)
    if check == "bad":
        c ^= 0x1234
    m = m[:2] + struct.pack("!H", c) + m[4:]
    if router_alert:
        return eth6(ipv6(router_alert_hbh(NH_ICMP6) + m, src, dst, nh=NH_HOP, hlim=hlim), dst=mcast_mac6(dst), src=ROUTER_MAC)
    return eth6(ipv6(m, src, dst, hlim=hlim), dst=mcast_mac6(dst), src=ROUTER_MAC)


# ----------------------------------------------------------------------------- extension headers

@case("ip6-echo-baseline", "ipv6")
def _(c):
    return [echo6_frame(c)]


@case("ip6-echo-link-local", "ipv6")
def _(c):
    return [echo6_frame(c, src="fe80::3", dst=TARGET6_LL)]


@case("ip6-payload-length-beyond-frame", "ipv6")
def _(c):
    p = echo6(c)
    return [eth6(ipv6(p, me6(c), plen=len(p) + 100))]


@case("ip6-payload-length-short-trims", "ipv6")
def _(c):
    # Payload length covers an 8-byte echo; 20 bytes of trailer follow (a bad checksum if read).
    p = echo6(c, data=b"")
    return [eth6(ipv6(p + b"\x99" * 20, me6(c), plen=len(p)))]


@case("ip6-hop-limit-0-to-us", "ipv6")
def _(c):
    return [echo6_frame(c, hlim=0)]


@case("ip6-src-multicast", "ipv6")
def _(c):
    return [echo6_frame(c, src="ff02::1")]


@case("ip6-src-is-target", "ipv6")
def _(c):
    return [echo6_frame(c, src=TARGET6)]


@case("ip6-dst-other-host", "ipv6")
def _(c):
    return [echo6_frame(c, dst="2001:db8::66")]


@case("ip6-echo-bad-checksum", "ipv6")
def _(c):
    src = me6(c)
    return [eth6(ipv6(echo6(c, check="bad"), src))]


@case("ip6-hbh-padn", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_HOP, lambda nh: opts_hdr(nh, bytes([1, 4, 0, 0, 0, 0])))])]


@case("ip6-hbh-truncated", "ipv6-ext")
def _(c):
    # The header says 24 bytes; the packet ends after 8.
    src = me6(c)
    return [eth6(ipv6(raw_hdr(NH_ICMP6, 2, bytes([1, 4, 0, 0, 0, 0])), src, nh=NH_HOP))]


@case("ip6-dstopt-truncated", "ipv6-ext")
def _(c):
    src = me6(c)
    return [eth6(ipv6(raw_hdr(NH_ICMP6, 1, bytes([1, 4, 0, 0, 0, 0])), src, nh=NH_DST))]


@case("ip6-hbh-option-overruns-header", "ipv6-ext")
def _(c):
    # PadN of 10 bytes inside an 8-byte header.
    return [echo6_frame(c, exts=[ext(NH_HOP, lambda nh: raw_hdr(nh, 0, bytes([1, 10, 0, 0, 0, 0])))])]


def unknown_option(kind, where=NH_DST):
    return ext(where, lambda nh: opts_hdr(nh, bytes([kind, 2, 0xAB, 0xCD])))


@case("ip6-dstopt-unknown-skip", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[unknown_option(0x1E)])]


@case("ip6-dstopt-unknown-discard", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[unknown_option(0x5E)])]


@case("ip6-dstopt-unknown-discard-icmp", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[unknown_option(0x9E)])]


@case("ip6-dstopt-unknown-discard-icmp-unless-mcast", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[unknown_option(0xDE)])]


@case("ip6-hbh-unknown-skip", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[unknown_option(0x1E, NH_HOP)])]


@case("ip6-hbh-unknown-discard-icmp", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[unknown_option(0x9E, NH_HOP)])]


@case("ip6-mcast-unknown-discard-icmp", "ipv6-ext")
def _(c):
    return [echo6_frame(c, dst="ff02::1", eth_dst=mcast_mac6("ff02::1"), exts=[unknown_option(0x9E)])]


@case("ip6-mcast-unknown-discard-icmp-unless-mcast", "ipv6-ext")
def _(c):
    return [echo6_frame(c, dst="ff02::1", eth_dst=mcast_mac6("ff02::1"), exts=[unknown_option(0xDE)])]


@case("ip6-hbh-not-first", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_DST, lambda nh: opts_hdr(nh, b"")), ext(NH_HOP, lambda nh: opts_hdr(nh, b""))])]


@case("ip6-nine-dstopt-headers", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_DST, lambda nh: opts_hdr(nh, b"")) for _ in range(9)])]


@case("ip6-dstopt-1200-bytes", "ipv6-ext")
def _(c):
    # Five unknown skip-type options of 236 bytes: a header Linux's default limits take.
    opts = b"".join(bytes([0x1E, 236]) + pattern(236, i) for i in range(5))
    return [echo6_frame(c, exts=[ext(NH_DST, lambda nh: opts_hdr(nh, opts))])]


@case("ip6-dstopt-9-options", "ipv6-ext")
def _(c):
    opts = b"".join(bytes([0x1E, 0]) for _ in range(9))
    return [echo6_frame(c, exts=[ext(NH_DST, lambda nh: opts_hdr(nh, opts))])]


@case("ip6-dstopt-padding-over-7", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_DST, lambda nh: opts_hdr(nh, bytes([1, 12]) + b"\0" * 12))])]


@case("ip6-rh0-segments-left-1", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_RT, lambda nh: rt_hdr(nh, 0, 1, ["2001:db8::4"]))])]


@case("ip6-rh0-segments-left-0", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_RT, lambda nh: rt_hdr(nh, 0, 0, ["2001:db8::4"]))])]


@case("ip6-rh-type-253-segments-left-1", "ipv6-ext")
def _(c):
    return [echo6_frame(c, exts=[ext(NH_RT, lambda nh: rt_hdr(nh, 253, 1, ["2001:db8::4"]))])]


@case("ip6-unknown-next-header", "ipv6-ext")
def _(c):
    return [eth6(ipv6(pattern(40), me6(c), nh=253))]


@case("ip6-unknown-next-header-after-dstopt", "ipv6-ext")
def _(c):
    return [eth6(ipv6(opts_hdr(253, b"") + pattern(40), me6(c), nh=NH_DST))]


@case("ip6-unknown-next-header-to-mcast", "ipv6-ext")
def _(c):
    return [eth6(ipv6(pattern(40), me6(c), dst="ff02::1", nh=253), dst=mcast_mac6("ff02::1"))]


@case("ip6-no-next-header", "ipv6-ext")
def _(c):
    return [eth6(ipv6(pattern(16), me6(c), nh=NH_NONE))]


@case("ip6-udp-closed-port", "ipv6")
def _(c):
    return [eth6(ipv6(udp6(c.sport, 10, b"hello battery", me6(c)), me6(c), nh=NH_UDP))]


@case("ip6-tcp-syn-closed-port", "ipv6")
def _(c):
    return [eth6(ipv6(tcp6(c.sport, 12346, 0x02, me6(c)), me6(c), nh=NH_TCP))]


# ----------------------------------------------------------------------------- fragments

def _frag_echo(c, n):
    rest, body = echo6_body(c, pattern(n, 1))
    return icmp6(128, 0, rest, body, me6(c), TARGET6)


@case("frag6-in-order", "ipv6-frag")
def _(c):
    return frags6(_frag_echo(c, 192), NH_ICMP6, [(0, 96, True), (96, 104, False)], me6(c), c.ip_id())


@case("frag6-reverse-order", "ipv6-frag")
def _(c):
    return list(reversed(frags6(_frag_echo(c, 232), NH_ICMP6, [(0, 80, True), (80, 80, True), (160, 80, False)], me6(c), c.ip_id())))


@case("frag6-atomic", "ipv6-frag")
def _(c):
    p = _frag_echo(c, 56)
    return frags6(p, NH_ICMP6, [(0, len(p), False)], me6(c), c.ip_id())


@case("frag6-atomic-beside-pending", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    # The first fragment of one datagram, then an atomic fragment with the same id: the atomic
    # one is a packet of its own (RFC 6946); the pending datagram times out (Time Exceeded).
    p = _frag_echo(c, 192)
    return frags6(p, NH_ICMP6, [(0, 96, True)], me6(c), c.ip_id()) + frags6(_frag_echo(c, 56), NH_ICMP6, [(0, 64, False)], me6(c), c.ip_id())


@case("frag6-duplicate", "ipv6-frag")
def _(c):
    f = frags6(_frag_echo(c, 192), NH_ICMP6, [(0, 96, True), (96, 104, False)], me6(c), c.ip_id())
    return [f[0], f[0], f[1]]


@case("frag6-overlap", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    return frags6(_frag_echo(c, 232), NH_ICMP6, [(0, 96, True), (64, 96, True), (160, 80, False)], me6(c), c.ip_id())


@case("frag6-overlap-inside", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    return frags6(_frag_echo(c, 232), NH_ICMP6, [(0, 160, True), (80, 40, True), (160, 80, False)], me6(c), c.ip_id())


@case("frag6-first-only-times-out", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    return frags6(_frag_echo(c, 232), NH_ICMP6, [(0, 80, True)], me6(c), c.ip_id())


@case("frag6-missing-first-times-out", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    return frags6(_frag_echo(c, 232), NH_ICMP6, [(80, 80, True), (160, 80, False)], me6(c), c.ip_id())


@case("frag6-tiny-first-tcp-8-bytes", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    # RFC 7112: the first fragment must hold the whole header chain, up to and with the TCP
    # header; here it holds 8 of its 20 bytes (a closed port: the reassembled SYN draws a RST).
    seg = tcp6(c.sport, 12346, 0x02, me6(c))
    return frags6(seg, NH_TCP, [(0, 8, True), (8, 12, False)], me6(c), c.ip_id())


@case("frag6-first-ends-inside-dstopts", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    upper = opts_hdr(NH_ICMP6, bytes([1, 12]) + b"\0" * 12) + _frag_echo(c, 56)
    return frags6(upper, NH_DST, [(0, 8, True), (8, len(upper) - 8, False)], me6(c), c.ip_id())


@case("frag6-mf-odd-length", "ipv6-frag")
def _(c):
    return frags6(_frag_echo(c, 232), NH_ICMP6, [(0, 13, True)], me6(c), c.ip_id())


@case("frag6-beyond-65535", "ipv6-frag", late=REASSEMBLY6_LATE)
def _(c):
    p = _frag_echo(c, 232)
    f = frags6(p, NH_ICMP6, [(0, 80, True)], me6(c), c.ip_id())
    far = eth6(ipv6(frag_hdr(NH_ICMP6, 65528 - 80, False, c.ip_id()) + pattern(200), me6(c), nh=NH_FRAG))
    return f + [far]


@case("frag6-zero-length-middle", "ipv6-frag")
def _(c):
    return frags6(_frag_echo(c, 192), NH_ICMP6, [(0, 96, True), (96, 0, True), (96, 104, False)], me6(c), c.ip_id())


@case("frag6-udp-closed-port", "ipv6-frag")
def _(c):
    d = udp6(c.sport, 10, pattern(300, 5), me6(c))
    return frags6(d, NH_UDP, [(0, 160, True), (160, len(d) - 160, False)], me6(c), c.ip_id())


# ----------------------------------------------------------------------------- neighbor discovery

MAC_A, MAC_B = "02:00:00:00:0a:01", "02:00:00:00:0b:01"


@case("ndp-ns-for-target", "ndp")
def _(c):
    return [ns(me6(c), TARGET6)]


@case("ndp-ns-for-link-local", "ndp")
def _(c):
    return [ns("fe80::3", TARGET6_LL)]


@case("ndp-ns-unicast-poll", "ndp")
def _(c):
    return [ns(me6(c), TARGET6, dst=TARGET6, eth_dst="00:00:5e:00:53:01")]


@case("ndp-ns-hop-limit-64", "ndp")
def _(c):
    return [ns(me6(c), TARGET6, hlim=64)]


@case("ndp-ns-src-multicast", "ndp")
def _(c):
    return [ns("ff02::1", TARGET6)]


@case("ndp-ns-dad-probe-for-target", "ndp")
def _(c):
    return [ns("::", TARGET6, slla=None)]


@case("ndp-ns-dad-with-slla", "ndp")
def _(c):
    # RFC 4861 7.1.1: a solicitation from :: must not carry a source link-layer address.
    return [ns("::", TARGET6)]


@case("ndp-ns-for-multicast-target", "ndp")
def _(c):
    return [ns(me6(c), "ff02::1", dst=solicited_node(TARGET6))]


@case("ndp-ns-for-other-host", "ndp")
def _(c):
    return [ns(me6(c), "2001:db8::66")]


@case("ndp-ns-bad-checksum", "ndp")
def _(c):
    f = bytearray(ns(me6(c), TARGET6))
    f[14 + 40 + 2] ^= 0x12
    return [bytes(f)]


@case("ndp-na-unsolicited-unknown-host", "ndp", wait=0.1)
def _(c):
    # An unsolicited NA for an address the target has no entry for, then a ping "from" it:
    # the target must ask (NS) rather than answer straight to macA.
    return [na("2001:db8::50", "2001:db8::50", dst="ff02::1", flags="O", tlla=MAC_A, eth_dst="33:33:00:00:00:01", eth_src=MAC_A), 0.05,
            echo6_frame(c, src="2001:db8::50", eth_src=MAC_A)]


@case("ndp-na-no-override-known-host", "ndp", wait=0.1)
def _(c):
    # The target learns 2001:db8::52 at macA (its NS), then an NA without the override flag
    # names macB: the ping reply shows which MAC the target uses.
    return [ns("2001:db8::52", TARGET6, slla=MAC_A, eth_src=MAC_A), 0.1,
            na("2001:db8::52", "2001:db8::52", flags="", tlla=MAC_B, eth_src=MAC_B), 0.05,
            echo6_frame(c, src="2001:db8::52", eth_src=MAC_B)]


@case("ndp-na-override-known-host", "ndp", wait=0.1)
def _(c):
    return [ns("2001:db8::53", TARGET6, slla=MAC_A, eth_src=MAC_A), 0.1,
            na("2001:db8::53", "2001:db8::53", flags="O", tlla=MAC_B, eth_src=MAC_B), 0.05,
            echo6_frame(c, src="2001:db8::53", eth_src=MAC_B)]


@case("ndp-na-hop-limit-64-override", "ndp", wait=0.1)
def _(c):
    return [ns("2001:db8::54", TARGET6, slla=MAC_A, eth_src=MAC_A), 0.1,
            na("2001:db8::54", "2001:db8::54", flags="O", tlla=MAC_B, hlim=64, eth_src=MAC_B), 0.05,
            echo6_frame(c, src="2001:db8::54", eth_src=MAC_B)]


@case("ndp-na-solicited-to-multicast", "ndp")
def _(c):
    # RFC 4861 7.1.2: an NA to a multicast address must not have the solicited flag.
    return [na("2001:db8::55", "2001:db8::55", dst="ff02::1", flags="SO", tlla=MAC_A, eth_dst="33:33:00:00:00:01", eth_src=MAC_A),
            0.05, echo6_frame(c, src="2001:db8::55", eth_src=MAC_A)]


@case("ndp-na-claims-target-address", "ndp")
def _(c):
    return [na("2001:db8::56", TARGET6, dst="ff02::1", flags="O", tlla=MAC_A, eth_dst="33:33:00:00:00:01", eth_src=MAC_A), 0.05,
            echo6_frame(c)]


# The redirect cases reach an off-link source through the link's router: each starts with the
# router's advertisement, so the default route and the router's link-layer address are fresh
# whatever earlier cases or a slow neighbor probe did to them.
@case("ndp-redirect-from-router", "ndp", wait=0.3)
def _(c):
    dest = OFFNET + "%x" % c.index
    return [ra(), 0.05, redirect(ROUTER6, ROUTER2_6, dest, tlla=ROUTER2_MAC), 0.05, echo6_frame(c, src=dest)]


@case("ndp-redirect-from-non-router", "ndp", wait=0.3)
def _(c):
    dest = OFFNET + "%x" % c.index
    return [ra(), 0.05, redirect("fe80::3", ROUTER2_6, dest, tlla=ROUTER2_MAC, eth_src=ME_MAC), 0.05, echo6_frame(c, src=dest)]


@case("ndp-redirect-global-source", "ndp", wait=0.3)
def _(c):
    dest = OFFNET + "%x" % c.index
    return [ra(), 0.05, redirect(LIVE6, ROUTER2_6, dest, tlla=ROUTER2_MAC, eth_src=ME_MAC), 0.05, echo6_frame(c, src=dest)]


@case("ndp-redirect-hop-limit-64", "ndp", wait=0.3)
def _(c):
    dest = OFFNET + "%x" % c.index
    return [ra(), 0.05, redirect(ROUTER6, ROUTER2_6, dest, hlim=64, tlla=ROUTER2_MAC), 0.05, echo6_frame(c, src=dest)]


@case("ndp-ra-hop-limit-64", "ndp", wait=0.1)
def _(c):
    # A router advertisement with hop limit 64 (not from the link) naming a prefix: no address
    # may be formed from it. 2.5 s later (DAD would be done) a duplicate address probe for the
    # address it would have formed goes unanswered (a target defends an address it has, as
    # ndp-ns-dad-probe-for-target shows; ra-flood-500-prefixes that a valid one forms one).
    addr = "2001:db8:2:%x:200:5eff:fe00:5301" % c.index
    return [ra(src="fe80::99", prefixes=["2001:db8:2:%x::" % c.index], hlim=64, eth_src=MAC_A, router_lifetime=0), 1.5, 1.0,
            ns("::", addr, slla=None)]


@case("ndp-ra-global-source", "ndp", wait=0.1)
def _(c):
    addr = "2001:db8:2:%x:200:5eff:fe00:5301" % c.index
    return [ra(src=LIVE6, prefixes=["2001:db8:2:%x::" % c.index], eth_src=MAC_A, router_lifetime=0), 1.5, 1.0,
            ns("::", addr, slla=None)]


# ----------------------------------------------------------------------------- Packet Too Big

def _echo_reply_quote(c, dst):
    """The first bytes of a 1400-byte echo reply the target sent to `dst`."""
    rest, body = echo6_body(c, pattern(1352, 2))
    reply = icmp6(129, 0, rest, body, TARGET6, dst)
    return ipv6(reply, TARGET6, dst)[:1232]


def ptb(c, mtu, quoted, src=ROUTER6, eth_src=ROUTER_MAC):
    return eth6(ipv6(icmp6(2, 0, mtu, quoted, src, TARGET6), src), src=eth_src)


def _udp_echo6(c, n=1352):
    return eth6(ipv6(udp6(c.sport, 7, pattern(n, 3), me6(c)), me6(c), nh=NH_UDP))


def _udp_reply_quote(c, inner_src=TARGET6, n=1352):
    """The first bytes of the UDP echo reply the target sent to the case."""
    return ipv6(udp6(7, c.sport, pattern(n, 3), inner_src, dst=me6(c)), inner_src, me6(c), nh=NH_UDP)[:1232]


@case("ptb-udp-mtu-1280", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 1280, _udp_reply_quote(c)), 0.05, _udp_echo6(c)]


@case("ptb-udp-mtu-below-1280", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 600, _udp_reply_quote(c)), 0.05, _udp_echo6(c)]


@case("ptb-udp-mtu-above-link", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 9000, _udp_reply_quote(c)), 0.05, _udp_echo6(c)]


@case("ptb-udp-quote-not-from-target", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 1300, _udp_reply_quote(c, inner_src="2001:db8::99")), 0.05, _udp_echo6(c)]


@case("ptb-udp-from-target-address", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 1300, _udp_reply_quote(c), src=TARGET6, eth_src=ME_MAC), 0.05, _udp_echo6(c)]


@case("ptb-udp-truncated-quote", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 1300, _udp_reply_quote(c)[:44]), 0.05, _udp_echo6(c)]


@case("ptb-mtu-1280", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 1280, _echo_reply_quote(c, me6(c))), 0.05, echo6_frame(c, data=pattern(1352, 2))]


@case("ptb-mtu-below-1280", "ptb", wait=0.1)
def _(c):
    return [ptb(c, 600, _echo_reply_quote(c, me6(c))), 0.05, echo6_frame(c, data=pattern(1352, 2))]


@case("ptb-no-such-connection", "ptb", wait=0.1)
def _(c):
    q = ipv6(tcp6(12345, 40000, 0x10, TARGET6, dst=me6(c)), TARGET6, me6(c), nh=NH_TCP)
    return [ptb(c, 1300, q), 0.05, echo6_frame(c, data=pattern(1352, 2))]


@case("ptb-quote-not-from-target", "ptb", wait=0.1)
def _(c):
    rest, body = echo6_body(c, pattern(1352, 2))
    q = ipv6(icmp6(129, 0, rest, body, "2001:db8::99", me6(c)), "2001:db8::99", me6(c))[:1232]
    return [ptb(c, 1300, q), 0.05, echo6_frame(c, data=pattern(1352, 2))]


# ----------------------------------------------------------------------------- multicast (MLD, IGMP)

@case("mld-general-query", "mld", wait=0.5)
def _(c):
    return [mld_query()]


@case("mld-query-bad-checksum", "mld", wait=0.5)
def _(c):
    return [mld_query(check="bad")]


@case("mld-query-20-bytes", "mld", wait=0.5)
def _(c):
    return [mld_query(length=20)]


@case("mld-query-26-bytes", "mld", wait=0.5)
def _(c):
    return [mld_query(length=26)]


@case("mld-query-global-source", "mld", wait=0.5)
def _(c):
    return [mld_query(src=LIVE6)]


@case("mld-query-hop-limit-2", "mld", wait=0.5)
def _(c):
    return [mld_query(hlim=2)]


@case("mld-report-global-source", "mld", wait=0.5)
def _(c):
    # An MLDv2 report (from a global source: RFC 3810 5.2.13 says ignore it) right after a query.
    rec = struct.pack("!BBH", 2, 0, 0) + a6(solicited_node(TARGET6))
    body = struct.pack("!HH", 0, 1) + rec
    rep = icmp6(143, 0, 0, b"", LIVE6, "ff02::16")[:4] + body
    ck = l4sum(LIVE6, "ff02::16", NH_ICMP6, rep[:2] + b"\0\0" + rep[4:])
    rep = rep[:2] + struct.pack("!H", ck) + rep[4:]
    return [mld_query(), eth6(ipv6(router_alert_hbh(NH_ICMP6) + rep, LIVE6, "ff02::16", nh=NH_HOP, hlim=1), dst=mcast_mac6("ff02::16"))]


@case("mcast6-echo-all-nodes", "multicast")
def _(c):
    return [echo6_frame(c, dst="ff02::1", eth_dst=mcast_mac6("ff02::1"))]


@case("mcast6-echo-solicited-node", "multicast")
def _(c):
    g = solicited_node(TARGET6)
    return [echo6_frame(c, dst=g, eth_dst=mcast_mac6(g))]


@case("mcast6-echo-group-not-joined", "multicast")
def _(c):
    return [echo6_frame(c, dst="ff02::1:ff00:99", eth_dst=mcast_mac6("ff02::1:ff00:99"))]


@case("mcast6-echo-all-nodes-unjoined-mac", "multicast")
def _(c):
    return [echo6_frame(c, dst="ff02::1", eth_dst="33:33:00:00:00:99")]


@case("mcast6-echo-all-nodes-unicast-mac", "multicast")
def _(c):
    return [echo6_frame(c, dst="ff02::1")]


@case("mcast6-udp-closed-port", "multicast")
def _(c):
    return [eth6(ipv6(udp6(c.sport, 10, b"hello", me6(c), dst="ff02::1"), me6(c), dst="ff02::1", nh=NH_UDP), dst=mcast_mac6("ff02::1"))]


def igmp_query(ident, length=12, check=None, group="0.0.0.0", mrc=1):
    q = struct.pack("!BBH4sBBH", 0x11, mrc, 0, socket.inet_aton(group), 2, 125, 0)[:length]
    ck = csum(q)
    if check == "bad":
        ck ^= 0x1234
    q = q[:2] + struct.pack("!H", ck) + q[4:]
    return eth(ipv4(q, src="192.0.2.1", dst="224.0.0.1", proto=2, ttl=1, ident=ident, options=bytes([148, 4, 0, 0]), tos=0xC0),
               dst="01:00:5e:00:00:01", src=ROUTER_MAC)


@case4("igmp-general-query", "multicast", wait=0.3)
def _(c):
    return [igmp_query(c.ip_id())]


@case4("igmp-query-bad-checksum", "multicast", wait=0.3)
def _(c):
    return [igmp_query(c.ip_id(), check="bad")]


@case4("igmp-query-6-bytes", "multicast", wait=0.3)
def _(c):
    return [igmp_query(c.ip_id(), length=6)]


@case4("igmp-query-10-bytes", "multicast", wait=0.3)
def _(c):
    return [igmp_query(c.ip_id(), length=10)]


@case4("mcast4-udp-unjoined-group", "multicast")
def _(c):
    return [c.udp_frame(10, dst="224.0.0.99", eth_dst="01:00:5e:00:00:63")]


@case4("mcast4-udp-all-hosts-unjoined-mac", "multicast")
def _(c):
    return [c.udp_frame(10, dst="224.0.0.1", eth_dst="01:00:5e:00:00:63")]


# ----------------------------------------------------------------------------- router advertisement flood

RA_FLOOD = 500


def ra_flood_prefix(i):
    return "2001:db8:1:%x::" % i


def _count_flood(lines):
    n = sum(1 for l in lines if " icmp6 echo-reply " in l)
    rest = [l for l in lines if " icmp6 echo-reply " not in l]
    return ["addresses answering after %d advertised prefixes: %d" % (RA_FLOOD, n)] + rest


@case("ra-flood-500-prefixes", "ra", wait=1.0, summarize=_count_flood, last=True)
def _(c):
    # 500 advertisements, each from its own router with its own prefix, in well under 10 s;
    # after a moment for DAD, one ping to the address each prefix would have formed: the
    # count of answers is the number of addresses the target kept.
    steps = []
    for i in range(RA_FLOOD):
        steps.append(ra(src="fe80::1:%x" % i, prefixes=[ra_flood_prefix(i)], router_lifetime=600,
                        eth_src="02:00:00:02:%02x:%02x" % (i >> 8, i & 255)))
        if i % 50 == 49:
            steps.append(0.02)
    steps.append(2.0)
    steps.append(1.5)
    for i in range(RA_FLOOD):
        steps.append(echo6_frame(c, dst=ra_flood_prefix(i)[:-1] + "200:5eff:fe00:5301"))
        if i % 100 == 99:
            steps.append(0.02)
    return steps


# ----------------------------------------------------------------------------- normalization

def packets6(frames):
    """The target's IPv6 packets (k, eth dst, packet, fragment count), its fragments reassembled."""
    pending = {}
    out = []
    for k, (_t, f) in enumerate(frames):
        if f[12:14] != b"\x86\xdd" or len(f) < 54:
            continue
        ip = f[14:14 + 40 + struct.unpack("!H", f[18:20])[0]]
        if ip[6] == NH_FRAG and len(ip) >= 48:
            fo, ident = struct.unpack("!HI", ip[42:48])
            off, more = fo & 0xFFF8, fo & 1
            if off == 0 and not more:
                out.append((k, mac_str(f[0:6]), ip[:6] + bytes([ip[40]]) + ip[7:40] + ip[48:], 1))
                continue
            key = (ip[8:24], ident)
            p = pending.setdefault(key, {"parts": {}, "total": None, "head": None, "nh": None})
            p["parts"][off] = ip[48:]
            if off == 0:
                p["head"], p["nh"] = ip[:40], ip[40]
            if not more:
                p["total"] = off + len(ip) - 48
            if p["head"] is not None and p["total"] is not None:
                data = b""
                while len(data) < p["total"] and len(data) in p["parts"]:
                    data += p["parts"][len(data)]
                if len(data) == p["total"]:
                    h = p["head"]
                    h = h[:4] + struct.pack("!HB", len(data), p["nh"]) + h[7:40]
                    out.append((k, mac_str(f[0:6]), h + data, len(p["parts"])))
                    del pending[key]
            continue
        out.append((k, mac_str(f[0:6]), ip, 1))
    return out


def case_of_addr(b):
    """The case index an address of CASE_NET names, or None."""
    if b[:12] == a6(CASE_NET + "0")[:12] and b[12:14] == b"\0\x0a":
        return struct.unpack("!H", b[14:16])[0]
    return None


def content_owner6(ip, name_of):
    idx = case_of_addr(ip[24:40])
    nh, pay = upper(ip)
    if idx is None and nh == NH_ICMP6 and len(pay) >= 8:
        if pay[0] == 129:
            eid = struct.unpack("!H", pay[4:6])[0]
            if eid >= ID_BASE and (eid - ID_BASE) % 8 == 0:
                idx = (eid - ID_BASE) // 8
        elif pay[0] < 128 and len(pay) >= 48:
            idx = case_of_addr(pay[16:32])
    return name_of.get(idx) if idx is not None else None


def upper(ip):
    """(next header, payload) after the extension headers the target may send (Hop-by-Hop, Destination)."""
    nh, at = ip[6], 40
    while nh in (NH_HOP, NH_DST) and len(ip) >= at + 8:
        nh, at = ip[at], at + (ip[at + 1] + 1) * 8
    return nh, ip[at:]


def name6(b):
    idx = case_of_addr(b)
    if idx is not None:
        return "me"
    a = s6(b)
    return {TARGET6_LL: "target-ll", "::": "::"}.get(a, a)


def routine6(ip, eth_dst, group):
    """Whether this packet is chatter the comparison leaves out (and the reason), else None."""
    nh, pay = upper(ip)
    if nh != NH_ICMP6 or len(pay) < 4:
        return None
    t = pay[0]
    if t == 133:
        return "router solicitation"
    if t in (130, 131, 132, 143) and group != "mld":
        return "mld"
    if t == 135 and len(pay) >= 24:
        if ip[8:24] == bytes(16):
            return "dad"
        if responder_mac6(pay[8:24]) is not None:
            return "resolution of the battery's hosts"
        if ip[24] != 0xFF:
            return "unicast reachability probe"
    if t == 129 and len(pay) >= 8 and struct.unpack("!H", pay[4:6])[0] == LIVE_ECHO_ID:
        return "liveness"
    return None


def solicited_target(ip):
    """The target address of a Neighbor Solicitation, or None."""
    nh, pay = upper(ip)
    return bytes(pay[8:24]) if nh == NH_ICMP6 and len(pay) >= 24 and pay[0] == 135 else None


ICMP6_NAMES = {1: "unreach", 2: "too-big", 3: "time-exceeded", 4: "param-problem"}


def describe_ip6(ip, frags, eth_dst, details):
    """One normalized line for an IPv6 packet the target sent."""
    if len(ip) < 40:
        return "ipv6 runt"
    head = "%s>%s" % (name6(ip[8:24]), name6(ip[24:40]))
    tail = ""
    if frags > 1:
        tail += " frags=%d" % frags
    tail += " to=%s" % MAC_NAMES.get(eth_dst, eth_dst)
    details.append("ipv6 hlim=%d plen=%d flow=0x%05x" % (ip[7], len(ip) - 40, struct.unpack("!I", ip[0:4])[0] & 0xFFFFF))
    nh, pay = upper(ip)
    if nh == NH_ICMP6 and len(pay) >= 4:
        typ, code = pay[0], pay[1]
        bad = " BAD-ICMP6-CHECKSUM" if l4sum(s6(ip[8:24]), s6(ip[24:40]), NH_ICMP6, pay) != 0 else ""
        if typ in (128, 129):
            seq = struct.unpack("!H", pay[6:8])[0] if len(pay) >= 8 else 0
            return "%s icmp6 %s code=%d seq=%d len=%d data=%s%s%s" % (
                head, "echo-reply" if typ == 129 else "echo-request", code, seq, len(pay) - 8, short_hash(pay[8:]), bad, tail)
        if typ in ICMP6_NAMES:
            extra = ""
            if typ == 4:
                extra = " ptr=%d" % struct.unpack("!I", pay[4:8])[0]
            if typ == 2:
                extra = " mtu=%d" % struct.unpack("!I", pay[4:8])[0]
            q = pay[8:]
            quote = "quote=none"
            if len(q) >= 40:
                orig = 40 + struct.unpack("!H", q[4:6])[0]
                quote = "quote=ok" if len(q) >= min(orig, 48) else "quote=short"
                quote += " about %s>%s/%d" % (name6(q[8:24]), name6(q[24:40]), q[6])
                details.append("icmp6 %d/%d quotes %d of %d bytes" % (typ, code, len(q), orig))
            return "%s icmp6 %s/%d%s %s%s%s" % (head, ICMP6_NAMES[typ], code, extra, quote, bad, tail)
        if typ == 135 and len(pay) >= 24:
            return "%s ns who-has %s%s%s" % (head, s6(pay[8:24]), _nd_opts(pay[24:]), tail)
        if typ == 136 and len(pay) >= 24:
            fl = "".join(n for b, n in ((0x80, "R"), (0x40, "S"), (0x20, "O")) if pay[4] & b)
            return "%s na %s [%s]%s%s%s" % (head, name6(pay[8:24]), fl, _nd_opts(pay[24:]), bad, tail)
        if typ == 143:
            n = struct.unpack("!H", pay[6:8])[0]
            recs, at = [], 8
            for _ in range(n):
                if len(pay) < at + 20:
                    break
                rt, aux, ns_ = pay[at], pay[at + 1], struct.unpack("!H", pay[at + 2:at + 4])[0]
                recs.append("%s/%d" % (s6(pay[at + 4:at + 20]), rt))
                at += 20 + 16 * ns_ + 4 * aux
            return "%s mld2-report [%s]%s%s" % (head, ",".join(sorted(recs)), bad, tail)
        return "%s icmp6 type=%d code=%d len=%d%s%s" % (head, typ, code, len(pay), bad, tail)
    if nh == NH_TCP and len(pay) >= 20:
        fl = pay[13]
        names = "".join(n for b, n in ((2, "S"), (1, "F"), (8, "P"), (4, "R"), (0x20, "U"), (0x10, ".")) if fl & b)
        return "%s tcp %d>%d [%s]%s" % (head, struct.unpack("!H", pay[0:2])[0], struct.unpack("!H", pay[2:4])[0], names, tail)
    if nh == NH_UDP and len(pay) >= 8:
        return "%s udp %d>%d len=%d%s" % (head, struct.unpack("!H", pay[0:2])[0], struct.unpack("!H", pay[2:4])[0], len(pay) - 8, tail)
    return "%s nh=%d len=%d%s" % (head, nh, len(pay), tail)


def _nd_opts(opts):
    out = []
    i = 0
    while i + 2 <= len(opts) and opts[i + 1] > 0:
        t, ln = opts[i], opts[i + 1] * 8
        if t in (1, 2) and ln >= 8:
            m = mac_str(opts[i + 2:i + 8])
            out.append("%s=%s" % ("slla" if t == 1 else "tlla", "target" if m == "00:00:5e:00:53:01" else MAC_NAMES.get(m, m)))
        else:
            out.append("opt%d" % t)
        i += ln
    return (" " + " ".join(out)) if out else ""


# ----------------------------------------------------------------------------- the receiver's NA, the liveness ping

def na_for(ns_frame, mac):
    """The Neighbor Advertisement the battery answers a solicitation from the target with."""
    ip = ns_frame[14:]
    target = ip[40 + 8:40 + 24]
    src_ip = ip[8:24]
    dst = src_ip if src_ip != bytes(16) else a6("ff02::1")
    flags = 0x60000000 if src_ip != bytes(16) else 0x20000000
    macb = bytes.fromhex(mac.replace(":", ""))
    m = icmp6(136, 0, flags, target + bytes([2, 1]) + macb, s6(target), s6(dst))
    pkt = ipv6(m, s6(target), s6(dst), hlim=255)
    return ns_frame[6:12] + macb + b"\x86\xdd" + pkt


def is_ns_for_responder(data):
    if len(data) < 14 + 40 + 24 or data[12:14] != b"\x86\xdd" or data[20] != NH_ICMP6 or data[54] != 135:
        return None
    return responder_mac6(data[14 + 48:14 + 64])


def live_ping6(seq):
    m = icmp6(128, 0, (LIVE_ECHO_ID << 16) | seq, b"liveness" * 4, LIVE6, TARGET6)
    return eth6(ipv6(m, LIVE6))


def is_live_reply6(seq):
    def pred(f):
        if len(f) < 62 or f[12:14] != b"\x86\xdd" or f[20] != NH_ICMP6:
            return False
        return f[54] == 129 and struct.unpack("!HH", f[58:62]) == (LIVE_ECHO_ID, seq)
    return pred


def warmup_frames():
    """Before the cases: the link's router (fe80::1, a default router, no prefix)."""
    return [ra()]
