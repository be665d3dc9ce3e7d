#!/usr/bin/env python3
"""The Linux kernel's TCP as the server under the same slow attackers, for comparison:
chargen (RFC 864) on port 19, written as fast as each socket takes it, and echo on 12345.

usage: kernel_chargen.py ADDRESS SECONDS
Serves for SECONDS (bounded), with non-blocking kernel sockets and one selector.
"""
import selectors
import socket
import sys
import time

addr, seconds = sys.argv[1], float(sys.argv[2])
line = bytes(range(32, 127)) * 2
pattern = b"".join(line[i:i + 72] + b"\r\n" for i in range(95)) * 9
sel = selectors.DefaultSelector()
for port in (19, 12345):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1024)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, ("listen", port))
print("ready", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for key, ev in sel.select(0.5):
        kind, port = key.data
        s = key.fileobj
        try:
            if kind == "listen":
                c, _ = s.accept()
                c.setblocking(False)
                sel.register(c, selectors.EVENT_WRITE if port == 19 else selectors.EVENT_READ, ("conn", port))
            elif port == 19:
                s.send(pattern)
            else:
                b = s.recv(4096)
                if b:
                    s.sendall(b)
                else:
                    sel.unregister(s)
                    s.close()
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            sel.unregister(s)
            s.close()
