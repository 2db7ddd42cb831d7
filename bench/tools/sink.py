#!/usr/bin/python3
"""Loopback TCP anchor for the upload scenarios: a minimal HTTP/1.1 server that reads each
request body (Content-Length) into one reused 1 MiB buffer, discards it and answers 204.
It does no other work, so `curl -T FILE` to it measures what one TCP stream over loopback
carries between the bench's client and server cores.

Usage: sink.py PORT_FILE  (listens on 127.0.0.1, an ephemeral port written to PORT_FILE)
"""
import socket
import sys
import threading

BUF = memoryview(bytearray(1 << 20))


def serve(conn):
    with conn:
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, pending = pending.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
                if name.strip().lower() == b"expect" and b"100-continue" in value.lower():
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            left = length - len(pending)
            pending = b"" if left >= 0 else pending[length:]
            while left > 0:
                n = conn.recv_into(BUF, min(left, len(BUF)))
                if n == 0:
                    return
                left -= n
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(sys.argv[1], "w") as f:
        f.write(str(srv.getsockname()[1]))
    while True:
        conn, _ = srv.accept()
        # One body at a time is the point; a thread per connection keeps a stuck client harmless.
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
