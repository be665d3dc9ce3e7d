#!/usr/bin/python3
"""The services `pstack server` offers, for the Linux kernel the battery compares it with:
UDP echo (RFC 862) on ADDR:7 and TCP echo on ADDR:12345.

Usage: echo_server.py ADDR [ADDR6]   (runs until killed; bounded per connection)

With ADDR6 (an IPv6 address), UDP echo runs on ADDR6:7 too, as pstack's does on each of its
IPv6 addresses.

Like pstack's UDP echo (src/cli/services.ts) it binds the address, not 0.0.0.0 (so broadcasts
are not echoed), and does not answer datagrams from the ports of other reflecting services
(echo, daytime, qotd, chargen, time), which would start an endless loop between the two.
"""
import socket
import sys
import threading

REFLECTOR_PORTS = {7, 13, 17, 19, 37}


def udp_echo(addr):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 7))
    while True:
        data, peer = s.recvfrom(65535)
        if peer[1] in REFLECTOR_PORTS:
            continue
        try:
            s.sendto(data, peer)
        except OSError:
            pass


def tcp_client(conn):
    conn.settimeout(10)
    try:
        for _ in range(10000):
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()


def tcp_echo(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 12345))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=tcp_client, args=(conn,), daemon=True).start()


def main():
    addr = sys.argv[1]
    for a in sys.argv[1:]:
        threading.Thread(target=udp_echo, args=(a,), daemon=True).start()
    print("ready", flush=True)
    tcp_echo(addr)


if __name__ == "__main__":
    main()
