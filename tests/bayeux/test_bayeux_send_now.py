"""``transport.send_now`` and ``write_now``: an answer (long-polling) or a frame (WebSocket) goes to the kernel when it is written, not at the reactor's next poll.

A real TCP connection on 127.0.0.1 under Twisted's own ``tcp.Connection``, with a stand-in for the reactor's
writer registration only (the reactor is not run: what is checked is what happens *before* it polls again)."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.protocols import policies
from zope.interface import implementer

from services87.bayeux.transport import send_now, write_now


class Writers:
    """What a reactor keeps of writers: who waits to be told the socket is writable."""

    def __init__(self):
        self.writers: set = set()
        self.registrations = 0

    def addWriter(self, fd):  # noqa: N802 (Twisted's interface)
        self.registrations += 1
        self.writers.add(fd)

    def removeWriter(self, fd):  # noqa: N802
        self.writers.discard(fd)

    def addReader(self, fd):  # noqa: N802
        pass

    def removeReader(self, fd):  # noqa: N802
        pass


@pytest.fixture
def connection():
    """(our end as a Twisted ``tcp.Connection``, the peer's socket, the writer registry)."""
    listener = socket.create_server(("127.0.0.1", 0))
    peer = socket.create_connection(listener.getsockname())
    ours, _ = listener.accept()
    listener.close()
    writers = Writers()
    conn = tcp.Connection(ours, Protocol(), reactor=writers)
    conn.connected = True
    peer.settimeout(5)
    yield conn, peer, writers
    peer.close()
    ours.close()


def _received(peer: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = peer.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def test_written_bytes_leave_before_the_next_poll(connection):
    conn, peer, writers = connection
    conn.write(b"HTTP/1.1 200 OK\r\n\r\n[]")
    assert writers.writers == {conn}  # Twisted's write only buffers and waits for the reactor
    send_now(conn)
    assert writers.writers == set()  # all of it taken by the kernel: nothing left to wait for
    peer.setblocking(False)  # already there, without the reactor having run
    assert peer.recv(100) == b"HTTP/1.1 200 OK\r\n\r\n[]"


def test_through_wrappers(connection):
    conn, peer, writers = connection
    wrapper = policies.ProtocolWrapper(policies.WrappingFactory(None), Protocol())
    wrapper.makeConnection(conn)
    wrapper.write(b"through")
    send_now(wrapper)
    assert writers.writers == set() and _received(peer, 7) == b"through"


def test_what_the_socket_does_not_take_stays_for_the_reactor(connection):
    conn, peer, writers = connection
    conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = b"x" * (16 * 1024 * 1024)  # far beyond what the kernel buffers for an idle peer
    conn.write(big)
    send_now(conn)
    assert writers.writers == {conn}  # still waiting to write the rest
    assert 0 < conn.offset < len(big) or conn._tempDataLen  # part of it was sent, the rest is kept
    peer.setblocking(False)
    assert peer.recv(100) == b"x" * 100


def test_a_closing_connection_is_left_to_the_reactor(connection):
    conn, peer, writers = connection
    conn.write(b"bye")
    conn.disconnecting = True  # loseConnection() was called: the reactor closes it after the last byte
    send_now(conn)
    assert writers.writers == {conn}
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(10)


def test_a_failed_send_is_left_to_the_reactor(connection):
    conn, peer, writers = connection
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # a reset: the send fails
    conn.write(b"too late")
    for _ in range(3):  # the first send after a reset may still succeed; the next fail
        send_now(conn)
        conn.write(b"again")
    assert writers.writers == {conn}  # registered: the reactor's doWrite sees the failure and disconnects
    assert conn.connected


def test_a_websocket_frame_leaves_before_the_next_poll(connection):
    """The WebSocket transport's frames (a publish writes one to every subscriber in one reactor turn) go out
    as each is written, as long-polling answers do."""
    from twisted.internet.address import IPv4Address

    from tests.bayeux.bayeux_harness import websocket_protocol

    conn, peer, writers = connection
    conn.getPeer = lambda: IPv4Address("TCP", *peer.getsockname())  # tcp.Server's; the fixture's is bare
    conn.getHost = lambda: IPv4Address("TCP", *peer.getpeername())
    ws = websocket_protocol(conn)
    conn.protocol = ws
    send_now(conn)
    assert _received(peer, 12) == b"HTTP/1.1 101"  # the upgrade's answer
    peer.recv(4096)
    assert ws._open and writers.writers == set()
    ws._send_batch([{"channel": "/a", "data": 1}])
    assert writers.writers == set()  # taken by the kernel at once
    peer.setblocking(False)
    frame = peer.recv(100)
    assert frame[0] == 0x81 and frame.endswith(b'[{"channel":"/a","data":1}]')  # a final text frame


def _drain(conn, peer: socket.socket, n: int) -> bytes:
    """Read ``n`` bytes, doing the reactor's part (``doWrite`` while the connection waits to write)."""
    conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)  # a small one makes this crawl
    peer.setblocking(False)
    got = bytearray()
    while len(got) < n:
        try:
            got += peer.recv(1 << 20)
        except BlockingIOError:
            conn.doWrite()
    return bytes(got)


def test_write_now_is_one_send_without_waiting_to_write(connection):
    conn, peer, writers = connection
    wrapper = policies.ProtocolWrapper(policies.WrappingFactory(None), Protocol())  # as the connection cap
    wrapper.makeConnection(conn)
    write_now(wrapper, b"\x81\x02[]")
    assert writers.registrations == 0  # never registered as waiting to write (write + send_now: once)
    peer.setblocking(False)
    assert peer.recv(100) == b"\x81\x02[]"


def test_write_now_keeps_what_the_socket_does_not_take(connection):
    conn, peer, writers = connection
    conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: far beyond what the kernel buffers for an idle peer
    write_now(conn, big)
    assert writers.writers == {conn}  # the rest waits for the reactor
    assert _drain(conn, peer, len(big)) == big


def test_write_now_never_overtakes_bytes_that_wait(connection):
    conn, peer, writers = connection
    conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = b"a" * (16 * 1024 * 1024)
    conn.write(big)
    send_now(conn)  # part of it is sent, the rest waits
    assert writers.writers == {conn}
    write_now(conn, b"after")
    assert _drain(conn, peer, len(big) + 5) == big + b"after"


@implementer(IPushProducer)
class _Producer:
    """What an upgraded connection's HTTP channel is to its TCP connection: a streaming producer."""

    def pauseProducing(self):  # noqa: N802 (Twisted's interface)
        pass

    def resumeProducing(self):  # noqa: N802
        pass

    def stopProducing(self):  # noqa: N802
        pass


def test_write_now_under_a_streaming_producer_is_one_send(connection):
    """A WebSocket is an upgraded HTTP connection: Twisted's HTTP channel stays registered as the connection's
    streaming producer, and that must not send every frame the slow way."""
    conn, peer, writers = connection
    conn.registerProducer(_Producer(), True)
    write_now(conn, b"frame")
    assert writers.registrations == 0
    assert _received(peer, 5) == b"frame"


def test_write_now_under_a_paused_producer_takes_the_usual_way(connection):
    conn, peer, writers = connection
    conn.registerProducer(_Producer(), True)
    conn.producerPaused = True  # as Twisted leaves it while its buffer is over the limit
    write_now(conn, b"frame")
    assert writers.registrations == 1 and writers.writers == set()  # written and sent by doWrite
    assert _received(peer, 5) == b"frame"


class _Upper(policies.ProtocolWrapper):
    """A layer that does more than pass bytes on (as TLS does)."""

    def write(self, data):
        self.transport.write(data.upper())


def test_write_now_goes_through_a_layer_that_changes_the_bytes(connection):
    conn, peer, writers = connection
    upper = _Upper(policies.WrappingFactory(None), Protocol())
    upper.makeConnection(conn)
    write_now(upper, b"frame")
    assert _received(peer, 5) == b"FRAME"


def test_write_now_leaves_a_failed_send_to_the_reactor(connection):
    conn, peer, writers = connection
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # a reset: the send fails
    for _ in range(3):  # the first send after a reset may still succeed; the next fail
        write_now(conn, b"too late")
    assert writers.writers == {conn}  # registered: the reactor's doWrite sees the failure and disconnects
    assert conn.connected


def test_write_now_on_a_closing_connection_is_left_to_the_reactor(connection):
    conn, peer, writers = connection
    conn.disconnecting = True
    write_now(conn, b"bye")
    assert writers.writers == {conn}
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(10)
