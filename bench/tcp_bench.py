#!/usr/bin/env python3
"""TCP client and (kernel reference) server for `npm run bench`. Standard library only.

  tcp_bench.py server ADDR [--cc NAME]     sink on 5001, source on 5002, echo on 5003 (selectors),
                                           with congestion control NAME (default: the system's)
  tcp_bench.py client ADDR sink BYTES      send BYTES, half-close, wait for the peer's close
  tcp_bench.py client ADDR source BYTES    ask for BYTES ("N\\n"), read until the peer closes
  tcp_bench.py client ADDR echo BYTES      send BYTES to the echo port while reading them back
  tcp_bench.py client ADDR cps COUNT       COUNT x (connect, 1 byte out, 1 byte back, close)

The client prints one JSON line: seconds, bytes (or connections), and its own CPU time.
Every loop is bounded by a count and by a deadline (--deadline seconds, default 60).
"""
import json, os, selectors, socket, sys, threading, time

CHUNK = 256 * 1024
ZERO = bytes(CHUNK)


def cpu():
    t = os.times()
    return t.user + t.system


def client(addr, test, n, deadline):
    end = time.monotonic() + deadline
    c0 = cpu()
    t0 = time.perf_counter()
    count = 0
    if test == 'sink':
        s = socket.create_connection((addr, 5001), timeout=deadline)
        mv = memoryview(ZERO)
        left = n
        while left > 0:
            k = min(left, CHUNK)
            s.sendall(mv[:k])
            left -= k
            if time.monotonic() > end:
                raise SystemExit('deadline')
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        s.close()
        count = n
    elif test == 'source':
        s = socket.create_connection((addr, 5002), timeout=deadline)
        s.sendall(b'%d\n' % n)
        buf = bytearray(CHUNK)
        while True:
            k = s.recv_into(buf)
            if k == 0:
                break
            count += k
            if time.monotonic() > end:
                raise SystemExit('deadline')
        s.close()
    elif test == 'echo':
        s = socket.create_connection((addr, 5003), timeout=deadline)
        err = []

        def send():
            try:
                mv = memoryview(ZERO)
                left = n
                while left > 0 and time.monotonic() < end:
                    k = min(left, CHUNK)
                    s.sendall(mv[:k])
                    left -= k
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)

        th = threading.Thread(target=send, daemon=True)
        th.start()
        buf = bytearray(CHUNK)
        while True:
            k = s.recv_into(buf)
            if k == 0:
                break
            count += k
            if time.monotonic() > end:
                raise SystemExit('deadline')
        th.join(5)
        s.close()
        if err:
            raise err[0]
    elif test == 'cps':
        # socket() + connect() rather than create_connection(), whose getaddrinfo() per call
        # would make the client, not the stacks, the limit.
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((addr, 5003))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b'x')
            if s.recv(1) != b'x':
                raise SystemExit('bad echo')
            s.close()
            count += 1
            if time.monotonic() > end:
                break
    else:
        raise SystemExit('unknown test ' + test)
    seconds = time.perf_counter() - t0
    print(json.dumps({'test': test, 'count': count, 'seconds': seconds, 'cpu': cpu() - c0}))


def server(addr, cc=None):
    sel = selectors.DefaultSelector()
    for port, mode in ((5001, 'sink'), (5002, 'source'), (5003, 'echo')):
        ls = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if cc:
            # Accepted connections inherit it from the listener.
            try:
                ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
            except OSError as e:
                raise SystemExit(f'tcp_bench.py: congestion control {cc!r}: {e.strerror} '
                                 '(see /proc/sys/net/ipv4/tcp_available_congestion_control)')
        ls.bind((addr, port))
        ls.listen(1024)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, ('listen', mode))
    buf = bytearray(CHUNK)
    mv = memoryview(ZERO)
    print('bench server ready', file=sys.stderr, flush=True)

    def close(s):
        sel.unregister(s)
        s.close()

    while True:
        for key, ev in sel.select(timeout=1):
            s, (kind, st) = key.fileobj, key.data
            try:
                if kind == 'listen':
                    while True:
                        try:
                            c, _ = s.accept()
                        except BlockingIOError:
                            break
                        c.setblocking(False)
                        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sel.register(c, selectors.EVENT_READ, ('conn', {'mode': st, 'line': b'', 'left': -1, 'pend': b'', 'eof': False}))
                    continue
                mode = st['mode']
                if mode == 'sink':
                    if s.recv_into(buf) == 0:
                        close(s)
                elif mode == 'source':
                    if ev & selectors.EVENT_READ and st['left'] < 0:
                        d = s.recv(64)
                        st['line'] += d
                        if b'\n' in st['line']:
                            st['left'] = int(st['line'].split(b'\n')[0])
                            sel.modify(s, selectors.EVENT_WRITE, key.data)
                        elif not d:
                            close(s)
                    elif ev & selectors.EVENT_WRITE:
                        while st['left'] > 0:
                            try:
                                k = s.send(mv[:min(st['left'], CHUNK)])
                            except BlockingIOError:
                                break
                            st['left'] -= k
                        if st['left'] == 0:
                            close(s)
                elif mode == 'echo':
                    if ev & selectors.EVENT_READ:
                        d = s.recv(CHUNK)
                        if not d:
                            st['eof'] = True
                        st['pend'] = d
                    if st['pend']:
                        try:
                            k = s.send(st['pend'])
                        except BlockingIOError:
                            k = 0
                        st['pend'] = st['pend'][k:]
                    if st['pend']:
                        sel.modify(s, selectors.EVENT_WRITE, key.data)
                    elif st['eof']:
                        close(s)
                    else:
                        sel.modify(s, selectors.EVENT_READ, key.data)
            except (ConnectionError, OSError):
                try:
                    close(s)
                except (KeyError, ValueError, OSError):
                    pass


if __name__ == '__main__':
    a = sys.argv[1:]
    deadline = 60.0
    if '--deadline' in a:
        i = a.index('--deadline')
        deadline = float(a[i + 1])
        del a[i:i + 2]
    cc = None
    if '--cc' in a:
        i = a.index('--cc')
        cc = a[i + 1]
        del a[i:i + 2]
    if a[:1] == ['server']:
        server(a[1], cc)
    elif a[:1] == ['client']:
        client(a[1], a[2], int(a[3]), deadline)
    else:
        raise SystemExit(__doc__)
