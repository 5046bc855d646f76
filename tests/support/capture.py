#!/usr/bin/env python3
"""Captures every packet on the loopback interface into a file until stdin closes.

Needs root (an AF_PACKET socket). Prints "ready" once capturing. Used by tests/wire_capture.rs
to check that nothing readable crosses the wire.
"""
import select
import socket
import sys

ETH_P_ALL = 0x0003

def main() -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
    sock.bind(("lo", 0))
    with open(sys.argv[1], "wb") as out:
        print("ready", flush=True)
        while True:
            ready, _, _ = select.select([sock, sys.stdin], [], [], 0.5)
            if sock in ready:
                out.write(sock.recv(65535))
            if sys.stdin in ready and not sys.stdin.buffer.read1(1):
                # Drain what is already queued, then stop.
                sock.setblocking(False)
                try:
                    while True:
                        out.write(sock.recv(65535))
                except BlockingIOError:
                    pass
                break

if __name__ == "__main__":
    main()
