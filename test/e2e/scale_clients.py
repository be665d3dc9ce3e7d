#!/usr/bin/env python3
"""Many TCP connections at once against pstack's services, for the scale end-to-end tests.

usage: scale_clients.py hold HOST PORT COUNT PID
  Open COUNT connections to an echo service (at most WINDOW handshakes in flight), hold them
  all open, read pstack's memory (/proc/PID/status), then send a short line on every one and
  check that each comes back, read the memory again, and close them all.
  Prints one JSON line: established, echoed, failures, seconds per phase, and pstack's VmRSS
  (kB) before anything was opened, with all connections idle, after every one echoed, and
  its peak (VmHWM).

usage: scale_clients.py fair HOST PORT COUNT SIZE
  Open COUNT connections to a discard service, then, from one moment, send SIZE bytes on
  every one at once (round robin over the writable ones), half-close each when its bytes
  are out and wait for discard's FIN. Prints one JSON line with each connection's completion
  time (ms from the common start to the FIN), its throughput, and Jain's fairness index
  over the throughputs.

Everything is bounded: a deadline for each phase (DEADLINE seconds), and the file limit is
raised only as far as COUNT needs.
"""
import errno
import json
import os
import resource
import select
import socket
import sys
import time

WINDOW = 200  # handshakes in flight: stays below pstack's SYN queue (256), so no SYN cookies
DEADLINE = 60.0


def raise_file_limit(count):
    want = count + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))


def memory_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def open_all(host, port, count):
    """COUNT established, non-blocking sockets (handshakes WINDOW at a time)."""
    ep = select.epoll()
    done = []
    pending = {}
    started = 0
    failures = []
    end = time.monotonic() + DEADLINE
    while len(done) + len(failures) < count:
        if time.monotonic() > end:
            raise RuntimeError(f"only {len(done)} of {count} connections established in {DEADLINE} s")
        while started < count and len(pending) < WINDOW:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                failures.append(os.strerror(err))
                s.close()
            else:
                pending[s.fileno()] = s
                ep.register(s.fileno(), select.EPOLLOUT)
            started += 1
        for fd, _ev in ep.poll(1.0):
            s = pending.pop(fd)
            ep.unregister(fd)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                failures.append(os.strerror(err))
                s.close()
            else:
                done.append(s)
    ep.close()
    return done, failures


def hold(host, port, count, pid):
    raise_file_limit(count)
    result = {"count": count, "rss_kb_before": memory_kb(pid)["VmRSS"]}
    t0 = time.monotonic()
    socks, failures = open_all(host, port, count)
    result["established"] = len(socks)
    result["connect_failures"] = failures[:5]
    result["open_seconds"] = round(time.monotonic() - t0, 3)
    time.sleep(0.5)  # let pstack finish accepting (its accept queue drains in batches)
    result["rss_kb_idle"] = memory_kb(pid)["VmRSS"]

    # Every connection echoes a line of its own.
    t1 = time.monotonic()
    ep = select.epoll()
    want = {}
    got = {}
    for i, s in enumerate(socks):
        line = f"connection {i}\n".encode()
        want[s.fileno()] = line
        got[s.fileno()] = b""
        s.send(line)  # a few bytes into an empty socket buffer: never blocks
        ep.register(s.fileno(), select.EPOLLIN)
    by_fd = {s.fileno(): s for s in socks}
    left = len(socks)
    end = time.monotonic() + DEADLINE
    while left > 0 and time.monotonic() < end:
        for fd, _ev in ep.poll(1.0):
            b = by_fd[fd].recv(4096)
            got[fd] += b
            if not b or len(got[fd]) >= len(want[fd]):
                ep.unregister(fd)
                left -= 1
    ep.close()
    result["echoed"] = sum(1 for fd in want if got[fd] == want[fd])
    result["echo_seconds"] = round(time.monotonic() - t1, 3)
    mem = memory_kb(pid)
    result["rss_kb_after_echo"] = mem["VmRSS"]
    result["hwm_kb"] = mem["VmHWM"]
    for s in socks:
        s.close()
    print(json.dumps(result), flush=True)


def fair(host, port, count, size):
    raise_file_limit(count)
    socks, failures = open_all(host, port, count)
    if failures:
        raise RuntimeError(f"{len(failures)} connections failed: {failures[:5]}")
    data = memoryview(bytes(range(256)) * (size // 256 + 1))[:size]
    sent = {s.fileno(): 0 for s in socks}
    by_fd = {s.fileno(): s for s in socks}
    finished_at = {}
    ep = select.epoll()
    for s in socks:
        ep.register(s.fileno(), select.EPOLLOUT)
    start = time.monotonic()
    end = start + DEADLINE
    while len(finished_at) < len(socks) and time.monotonic() < end:
        for fd, ev in ep.poll(1.0):
            s = by_fd[fd]
            if ev & select.EPOLLOUT and sent[fd] < size:
                try:
                    # One segment's worth at a time, round robin over the writable sockets.
                    sent[fd] += s.send(data[sent[fd]:sent[fd] + 16384])
                except BlockingIOError:
                    pass
                if sent[fd] == size:
                    s.shutdown(socket.SHUT_WR)
                    ep.modify(fd, select.EPOLLIN)
            elif ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                try:
                    b = s.recv(4096)
                except OSError:
                    b = b""
                if not b:  # discard's FIN: everything before ours was taken
                    finished_at[fd] = time.monotonic()
                    ep.unregister(fd)
    ep.close()
    total = time.monotonic() - start
    times = sorted((finished_at[fd] - start) for fd in finished_at)
    rates = [size / t for t in times]
    jain = (sum(rates) ** 2) / (len(rates) * sum(r * r for r in rates)) if rates else 0.0
    for s in socks:
        s.close()
    print(json.dumps({
        "count": count,
        "completed": len(times),
        "seconds": round(total, 3),
        "completion_ms": {
            "min": round(times[0] * 1000, 1) if times else None,
            "median": round(times[len(times) // 2] * 1000, 1) if times else None,
            "max": round(times[-1] * 1000, 1) if times else None,
        },
        "throughput_kBps": {
            "min": round(min(rates) / 1000, 1) if rates else None,
            "max": round(max(rates) / 1000, 1) if rates else None,
        },
        "aggregate_MBps": round(size * len(times) / total / 1e6, 1),
        "jain": round(jain, 4),
    }), flush=True)


def main():
    mode, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if mode == "hold":
        hold(host, port, count, int(sys.argv[5]))
    elif mode == "fair":
        fair(host, port, count, int(sys.argv[5]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
