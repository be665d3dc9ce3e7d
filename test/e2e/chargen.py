#!/usr/bin/env python3
"""TCP chargen (RFC 864, the 72-character rotating lines) through the kernel's TCP, both ends.

usage: chargen.py read ADDRESS PORT BYTES SECONDS
  Read BYTES of the stream from ADDRESS:PORT, check every byte against the pattern, close.
  Prints "seconds S" (from the connection's establishment to the last byte); exits 1 on a
  wrong byte, an early end of the stream, or when SECONDS (the bound) have passed.
usage: chargen.py serve ADDRESS PORT SECONDS
  Serve the stream on ADDRESS:PORT, one connection at a time, each from the pattern's start
  and without a gap, until the reader closes; prints "ready" once listening; exits after
  SECONDS.
"""
import socket
import sys
import time

line = bytes(range(32, 127)) * 2
period = b"".join(line[i:i + 72] + b"\r\n" for i in range(95))
chunk = 1 << 20
repeated = period * ((chunk + 2 * len(period)) // len(period))


def read(addr, port, want, limit):
    deadline = time.monotonic() + limit
    s = socket.create_connection((addr, port), timeout=limit)
    t0 = time.monotonic()
    got = 0
    view = memoryview(bytearray(chunk))
    while got < want:
        if time.monotonic() > deadline:
            print(f"timed out after {got} bytes", file=sys.stderr)
            return 1
        n = s.recv_into(view, min(chunk, want - got))
        if n == 0:
            print(f"stream ended after {got} bytes", file=sys.stderr)
            return 1
        at = got % len(period)
        if view[:n] != repeated[at:at + n]:
            print(f"wrong data in bytes {got}..{got + n}", file=sys.stderr)
            return 1
        got += n
    elapsed = time.monotonic() - t0
    s.close()
    print(f"seconds {elapsed:.3f}", flush=True)
    return 0


def serve(addr, port, limit):
    end = time.monotonic() + limit
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    ls.settimeout(0.5)
    block = period * (chunk // len(period))  # whole periods: every send continues the pattern
    print("ready", flush=True)
    while time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(max(0.1, end - time.monotonic()))
        try:
            while time.monotonic() < end:
                c.sendall(block)
        except OSError:
            pass  # the reader closed (or reset) the connection
        c.close()
    return 0


if sys.argv[1] == "read":
    sys.exit(read(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])))
sys.exit(serve(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
