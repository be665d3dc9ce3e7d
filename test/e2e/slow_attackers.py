#!/usr/bin/env python3
"""Slow attackers against a TCP service, from the kernel's side: connections that make the
server buffer data and never take it, for the memory-budget tests and the soak.

usage: slow_attackers.py MODE HOST PORT COUNT SECONDS ECHO_PORT
  MODE sockstress: connect with a tiny receive buffer and never read: the kernel's window
                   closes at once and stays shut (the sockstress shape, to chargen)
  MODE slowread:   read one byte a second from each connection
  MODE closewait:  tiny receive buffer, half-close at once (the server sits in CLOSE_WAIT
                   with data for a shut window), never read
Holds COUNT such connections for SECONDS, meanwhile a legitimate client makes an echo round
trip to ECHO_PORT every second, then resets them all (SO_LINGER 0). Prints one JSON line:
established, echo round trips ok/failed and the slowest in ms. Everything is bounded: the
connect phase by a deadline, every legitimate exchange by a timeout.
"""
import json
import resource
import select
import socket
import struct
import sys
import threading
import time


def legit(host, port, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"legit\n")
            got = b""
            while len(got) < 6:
                b = s.recv(64)
                if not b:
                    break
                got += b
            s.close()
            if got == b"legit\n":
                out["ok"] += 1
                out["max_ms"] = max(out["max_ms"], round((time.monotonic() - t0) * 1000, 1))
            else:
                out["failed"] += 1
        except OSError as e:
            out["failed"] += 1
            out["errors"].append(str(e))
        stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))


def main():
    mode, host, port, count, seconds, echo_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count + 64, max(hard, count + 64)))
    socks, pending = [], {}
    ep = select.epoll()
    started = 0
    deadline = time.monotonic() + 30
    while (started < count or pending) and time.monotonic() < deadline:
        while started < count and len(pending) < 100:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if mode != "slowread":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
            s.setblocking(False)
            s.connect_ex((host, port))
            pending[s.fileno()] = s
            ep.register(s.fileno(), select.EPOLLOUT)
            started += 1
        for fd, _ev in ep.poll(0.5):
            s = pending.pop(fd)
            ep.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                if mode == "closewait":
                    s.shutdown(socket.SHUT_WR)
                socks.append(s)
            else:
                s.close()
    for s in pending.values():
        s.close()
    ep.close()
    stop = threading.Event()
    res = {"ok": 0, "failed": 0, "max_ms": 0.0, "errors": []}
    t = threading.Thread(target=legit, args=(host, echo_port, stop, res))
    t.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if mode == "slowread":
            for s in socks:
                try:
                    s.recv(1)
                except OSError:
                    pass
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    stop.set()
    t.join()
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    print(json.dumps({"mode": mode, "established": len(socks), "echo_ok": res["ok"], "echo_failed": res["failed"],
                      "echo_max_ms": res["max_ms"], "errors": res["errors"][:3]}), flush=True)


if __name__ == "__main__":
    main()
