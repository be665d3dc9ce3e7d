#!/usr/bin/python3
"""Attacks by a peer that keeps to the rules, from the kernel's side of a link; prints JSON.

Usage (every mode bounded in count and time; only the addresses given are used):
  hostile_peer.py serve ADDR                       chargen on ADDR:19, echo on ADDR:12345 (a Linux target)
  hostile_peer.py mss IFACE SERVER PORT BYTES      read BYTES from SERVER:PORT, measure every segment it sends
  hostile_peer.py pmtu IFACE SERVER PORT SRC MTU   during a bulk read, forge Fragmentation Needed (MTU) from SRC
  hostile_peer.py challenge IFACE SERVER PORT RSTS in-window RSTs on connection A, count challenge ACKs on B
  hostile_peer.py icmpflood SERVER SRC OTHER COUNT COUNT UDP datagrams to closed ports from SRC, then 5 from OTHER

Segments are measured on an AF_PACKET socket with PACKET_VNET_HDR, so a segment the sender left
to the device to cut up (GSO) is measured by its gso_size, the size of the pieces it becomes.
"""
import json
import socket
import struct
import sys
import threading
import time

SOL_PACKET = 263
PACKET_VNET_HDR = 15
ETH_P_ALL = 3


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Sniffer(threading.Thread):
    """Every TCP/ICMP frame on IFACE: (time, vnet gso_type, gso_size, frame)."""

    def __init__(self, iface, seconds):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        self.s.bind((iface, 0))
        self.s.settimeout(0.2)
        self.frames = []
        self.stop_at = time.monotonic() + seconds
        self.stopped = False

    def run(self):
        while not self.stopped and time.monotonic() < self.stop_at:
            try:
                d = self.s.recv(70000)
            except socket.timeout:
                continue
            gso_type, gso_size = d[1], struct.unpack("<H", d[4:6])[0]
            self.frames.append((time.monotonic(), gso_type, gso_size, d[10:]))

    def finish(self):
        self.stopped = True
        self.join(2)


def tcp_of(frame):
    """(src, dst, sport, dport, seq, ack, flags, optlen, payload, df, ip_header_and_8) or None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 15) * 4
    total = struct.unpack("!H", frame[16:18])[0]
    df = bool(frame[20] & 0x40)
    t = 14 + ihl
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", frame[t:t + 14])
    thl = (off >> 4) * 4
    payload = min(total, len(frame) - 14) - ihl - thl
    opts = frame[t + 20:t + thl]
    return dict(src=socket.inet_ntoa(frame[26:30]), dst=socket.inet_ntoa(frame[30:34]), sport=sport, dport=dport,
                seq=seq, ack=ack, flags=flags, optlen=thl - 20, payload=payload, df=df, opts=opts,
                quote=frame[14:14 + ihl + 8])


def mss_option(opts):
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if k == 2 and opts[i + 1] == 4:
            return struct.unpack("!H", opts[i + 2:i + 4])[0]
        i += opts[i + 1]
    return None


def measure(frames, server, port, since=0.0):
    """Sizes (data + options) of the wire segments the server sent, GSO segments by their pieces."""
    out = dict(segments=0, gso=0, maxSegment=0, maxData=0, sizes={}, df=0, nodf=0, synMss=None, synAckMss=None)
    for at, gso_type, gso_size, f in frames:
        t = tcp_of(f)
        if t is None:
            continue
        if t["dst"] == server and t["dport"] == port and t["flags"] & 0x12 == 0x02:
            out["synMss"] = mss_option(t["opts"])
        if t["src"] != server or t["sport"] != port:
            continue
        if t["flags"] & 0x12 == 0x12:
            out["synAckMss"] = mss_option(t["opts"])
        if at < since or t["payload"] <= 0:
            continue
        piece = gso_size if gso_type != 0 else t["payload"]
        if gso_type != 0:
            out["gso"] += 1
        out["segments"] += 1
        out["df" if t["df"] else "nodf"] += 1
        size = piece + t["optlen"]
        out["maxSegment"] = max(out["maxSegment"], size)
        out["maxData"] = max(out["maxData"], piece)
        out["sizes"][str(size)] = out["sizes"].get(str(size), 0) + 1
    return out


def read_bulk(server, port, nbytes, after=None):
    s = socket.create_connection((server, port), timeout=10)
    got = 0
    deadline = time.monotonic() + 40
    while got < nbytes and time.monotonic() < deadline:
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
        if after is not None and got >= after[0]:
            after[1]()
            after = None
    s.close()
    return got


def mode_mss(iface, server, port, nbytes):
    sn = Sniffer(iface, 60)
    sn.start()
    time.sleep(0.3)
    got = read_bulk(server, port, int(nbytes))
    time.sleep(0.3)
    sn.finish()
    r = measure(sn.frames, server, int(port))
    r["received"] = got
    return r


def mode_pmtu(iface, server, port, src, mtu):
    port = int(port)
    sn = Sniffer(iface, 60)
    sn.start()
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((iface, 0))
    sent = {}

    def forge():
        # Stop reading a moment: the window closes, everything sent is in and acknowledged,
        # and the capture catches up. Then quote the newest data segment the server sent, as
        # a router on the path would.
        time.sleep(0.7)
        for at, _gt, _gs, f in reversed(sn.frames):
            t = tcp_of(f)
            if t and t["src"] == server and t["sport"] == port and t["payload"] > 0:
                # Its end (SND.MAX): a router quotes a segment that never arrived, so one not
                # acknowledged; this one arrived and was acknowledged, but not beyond its end.
                quote = bytearray(t["quote"])
                ihl = (quote[0] & 15) * 4
                quote[ihl + 4:ihl + 8] = struct.pack("!I", (t["seq"] + t["payload"]) & 0xFFFFFFFF)
                quote = bytes(quote)
                icmp = struct.pack("!BBHHH", 3, 4, 0, 0, int(mtu)) + quote
                icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 7, 0, 64, 1, 0,
                                 socket.inet_aton(src), socket.inet_aton(server))
                ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
                tx.send(f[6:12] + f[0:6] + b"\x08\x00" + ip + icmp)
                sent["at"] = time.monotonic()
                return

    got = read_bulk(server, port, 30_000_000, after=(500_000, forge))
    time.sleep(0.3)
    sn.finish()
    r = dict(received=got, forged="at" in sent)
    if "at" in sent:
        r["before"] = measure(sn.frames, server, port, 0)
        # Segments sent after the server had a moment to act on it.
        r["after"] = measure(sn.frames, server, port, sent["at"] + 0.05)
    return r


def mode_challenge(iface, server, port, rsts):
    port = int(port)
    sn = Sniffer(iface, 60)
    sn.start()
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((iface, 0))
    a = socket.create_connection((server, port), timeout=5)
    b = socket.create_connection((server, port), timeout=5)
    for c in (a, b):
        c.sendall(b"x")
        c.recv(10)
    time.sleep(0.3)

    def last_to_server(conn):
        lport = conn.getsockname()[1]
        for _at, _gt, _gs, f in reversed(sn.frames):
            t = tcp_of(f)
            if t and t["dst"] == server and t["dport"] == port and t["sport"] == lport:
                return f, t
        raise SystemExit("no segment of the connection seen")

    def rst_burst(conn, n, gap):
        f, t = last_to_server(conn)
        ihl = (f[14] & 15) * 4
        base = t["seq"] + t["payload"] + (1 if t["flags"] & 1 else 0)
        for i in range(n):
            seq = (base + 1000 + i) & 0xFFFFFFFF  # in the window, never exactly RCV.NXT
            tcp = struct.pack("!HHIIBBHHH", t["sport"], port, seq, 0, 0x50, 0x04, 0, 0, 0)
            pseudo = f[26:34] + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
            ip = bytearray(f[14:14 + 20])
            ip[0] = 0x45
            ip[2:4] = struct.pack("!H", 20 + len(tcp))
            ip[10:12] = b"\0\0"
            ip[10:12] = struct.pack("!H", csum(bytes(ip)))
            tx.send(f[0:14] + bytes(ip) + tcp)
            if gap:
                time.sleep(gap)
        del ihl

    def challenge_acks(conn, since):
        lport = conn.getsockname()[1]
        n = 0
        for at, _gt, _gs, f in sn.frames:
            t = tcp_of(f)
            if at >= since and t and t["src"] == server and t["sport"] == port and t["dport"] == lport \
                    and t["payload"] == 0 and t["flags"] & 0x17 == 0x10:
                n += 1
        return n

    rounds = []
    for attack in (False, True, False, True):
        # 10 probes on B over one second; in attack rounds, RSTS in-window RSTs on A first.
        start = time.monotonic()
        if attack:
            rst_burst(a, int(rsts), 0)
        mid = time.monotonic()
        rst_burst(b, 10, 0.1)
        time.sleep(0.2)
        rounds.append(dict(attack=attack, onA=challenge_acks(a, start), onB=challenge_acks(b, mid)))
        time.sleep(0.6)
    alive = True
    for c in (a, b):
        try:
            c.sendall(b"y")
            alive = alive and c.recv(10) == b"y"
        except OSError:
            alive = False
    sn.finish()
    return dict(rounds=rounds, alive=alive)


def mode_icmpflood(server, src, other, count):
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    r.settimeout(0.2)
    got = {src: 0, other: 0}
    stop = [False]

    def listen():
        while not stop[0]:
            try:
                d, _ = r.recvfrom(2000)
            except socket.timeout:
                continue
            ihl = (d[0] & 15) * 4
            to = socket.inet_ntoa(d[16:20])
            if d[9] == 1 and d[ihl] == 3 and d[ihl + 1] == 3 and to in got and socket.inet_ntoa(d[12:16]) == server:
                got[to] += 1

    th = threading.Thread(target=listen, daemon=True)
    th.start()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((src, 0))
    start = time.monotonic()
    n = int(count)
    for i in range(n):
        u.sendto(b"flood", (server, 20000 + i % 1000))
        if i % 50 == 49:
            time.sleep(0.01)
    seconds = time.monotonic() - start
    time.sleep(0.3)
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    v.bind((other, 0))
    for i in range(5):
        v.sendto(b"legit", (server, 21000 + i))
    time.sleep(0.5)
    stop[0] = True
    th.join(2)
    return dict(sent=n, seconds=round(seconds, 3), fromFlooded=got[src], fromOther=got[other])


def serve(addr):
    def chargen(c):
        line = bytes(range(32, 127)) * 100
        c.settimeout(30)
        try:
            for _ in range(100000):
                c.sendall(line)
        except OSError:
            pass
        c.close()

    def echo(c):
        c.settimeout(30)
        try:
            for _ in range(10000):
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    def listen(port, fn):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        while True:
            c, _ = s.accept()
            threading.Thread(target=fn, args=(c,), daemon=True).start()

    threading.Thread(target=listen, args=(19, chargen), daemon=True).start()
    threading.Thread(target=listen, args=(12345, echo), daemon=True).start()
    print("ready", flush=True)
    time.sleep(600)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "serve":
        serve(*args)
        return
    fn = {"mss": mode_mss, "pmtu": mode_pmtu, "challenge": mode_challenge, "icmpflood": mode_icmpflood}[mode]
    print(json.dumps(fn(*args)))


if __name__ == "__main__":
    main()
