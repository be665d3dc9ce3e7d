#!/usr/bin/env python3
"""A legitimate client during a flood: COUNT connections to HOST:PORT, one every INTERVAL
seconds, each timed from connect() to the established connection and bounded by TIMEOUT (the
kernel retransmits a lost SYN after 1 s, then 3 s). After connecting it sends a line and waits
for its echo (the service must really answer), then closes.

usage: legit_connects.py HOST PORT COUNT INTERVAL TIMEOUT
Prints one JSON line: connect times in ms (completed ones), failures, and the first errors.
"""
import json
import socket
import sys
import time


def main():
    host, port, count, interval, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    times, errors = [], []
    for _ in range(count):
        t0 = time.monotonic()
        try:
            s = socket.create_connection((host, port), timeout=timeout)
            t1 = time.monotonic()
            s.sendall(b"legit\n")
            got = b""
            while len(got) < 6:
                b = s.recv(64)
                if not b:
                    break
                got += b
            s.close()
            if got != b"legit\n":
                raise OSError("no echo: %r" % got)
            times.append(round((t1 - t0) * 1000, 2))
        except OSError as e:
            errors.append(str(e))
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))
    print(json.dumps({"connect_ms": times, "failed": len(errors), "errors": errors[:3]}), flush=True)


if __name__ == "__main__":
    main()
