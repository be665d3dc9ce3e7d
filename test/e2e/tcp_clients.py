#!/usr/bin/env python3
"""Many TCP clients against an echo service, for the pstack end-to-end tests.

usage: tcp_clients.py HOST PORT MODE COUNT [SIZE]
  MODE concurrent: COUNT connections open at once, each sends SIZE bytes, half-closes,
                   reads the echo to EOF and checks it
  MODE sequential: COUNT connections one after another, the same exchange
Prints one JSON line: {"ok": n, "failed": n, "errors": [...first few...], "seconds": s}.

usage: tcp_clients.py HOST PORT echo-server COUNT
  Accept COUNT connections one at a time and echo each until its EOF, then half-close.
  (socat's PIPE echo can deadlock on large transfers: it blocks writing into its own full
  pipe. A read-then-sendall loop cannot, as long as the client reads while it writes.)
Every socket operation has a timeout; the whole run is bounded by the caller.
"""
import asyncio
import json
import socket
import sys
import time


def payload(i, size):
    line = f"connection {i} ".encode()
    return (line * (size // len(line) + 1))[:size]


async def one(host, port, i, size):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    data = payload(i, size)
    writer.write(data)
    await asyncio.wait_for(writer.drain(), 10)
    writer.write_eof()
    got = await asyncio.wait_for(reader.read(-1), 20)
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 5)
    except Exception:
        pass
    if got != data:
        raise RuntimeError(f"connection {i}: echo differs ({len(got)} of {len(data)} bytes)")


async def concurrent(host, port, count, size):
    results = await asyncio.gather(*(one(host, port, i, size) for i in range(count)), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


def sequential(host, port, count, size):
    errors = []
    for i in range(count):
        try:
            with socket.create_connection((host, port), timeout=10) as s:
                data = payload(i, size)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                chunks = []
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
                if b"".join(chunks) != data:
                    raise RuntimeError(f"connection {i}: echo differs")
        except Exception as e:  # noqa: BLE001 - reported, not raised
            errors.append(e)
    return errors


def echo_server(host, port, count):
    with socket.create_server((host, port), reuse_port=False) as srv:
        srv.settimeout(30)
        print("listening", flush=True)
        for _ in range(count):
            conn, _addr = srv.accept()
            with conn:
                conn.settimeout(30)
                while True:
                    b = conn.recv(65536)
                    if not b:
                        break
                    conn.sendall(b)
                conn.shutdown(socket.SHUT_WR)


def main():
    host, port, mode, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    if mode == "echo-server":
        echo_server(host, port, count)
        return
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    t0 = time.monotonic()
    if mode == "concurrent":
        errors = asyncio.run(concurrent(host, port, count, size))
    else:
        errors = sequential(host, port, count, size)
    print(json.dumps({
        "ok": count - len(errors),
        "failed": len(errors),
        "errors": [repr(e) for e in errors[:5]],
        "seconds": round(time.monotonic() - t0, 3),
    }))


if __name__ == "__main__":
    main()
