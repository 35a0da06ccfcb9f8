"""Issue #18, finding 5: one address cannot take the whole connection cap."""

from __future__ import annotations

import socket

from tests.support import ServerProcess, wait_until

CONFIG = "[http]\nmax_connections = 40\nmax_connections_per_address = 5\nheader_timeout = 30\n"


def open_idle(port: int, source: str) -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def test_per_address_limit_leaves_room_for_others(tmp_path):
    srv = ServerProcess(tmp_path, demo_requests=10, config=CONFIG).start()
    held = []
    try:
        held = [open_idle(srv.port, "127.0.0.1") for _ in range(5)]  # slow clients: connect, send nothing
        # the server accepts connections in the order they were made: the sixth is counted after these five
        extra = open_idle(srv.port, "127.0.0.1")
        extra.settimeout(30)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"TooManyConnections" in answer, answer
        extra.close()
        other = open_idle(srv.port, "127.0.0.2")  # another address still gets in
        other.settimeout(30)
        other.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert other.recv(4096).startswith(b"HTTP/1.1 200")
        other.close()
        for s in held:
            s.close()
        # freed again once the server has seen the closes (a loaded machine may take a while)
        wait_until(srv.serves, 30, "the address's slots freed after the closes")
    finally:
        for s in held:
            s.close()
        srv.stop()
