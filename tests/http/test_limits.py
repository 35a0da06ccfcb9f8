"""services87.http.limits, in process: the graceful-shutdown drain, step by step on Twisted's test reactor.

The behaviour over real sockets (SIGTERM with a request in flight, kill -9) is in
tests/hostile/test_shutdown_and_kill.py; what a real socket cannot show deterministically is the order of
events inside one reactor turn, which is what decides whether an answer still buffered is lost.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from services87.config import Settings
from services87.http import limits


class _Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"hello"


class _Port:
    def stopListening(self):
        return None


def _connected(factory):
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(transport)
    return protocol, transport


def _drain(grace: float = 5.0):
    reactor = MemoryReactorClock()
    settings = Settings.load(env={})
    site = limits.build_site(_Hello(), settings, reactor=reactor)
    factory = limits.protect(site, settings, reactor)
    limits.drain_on_shutdown(reactor, factory, _Port(), grace)
    [(before_shutdown, args, kwargs)] = reactor.triggers["before"]["shutdown"]
    return reactor, factory, lambda: before_shutdown(*args, **kwargs)


def test_shutdown_waits_until_an_answered_connection_has_flushed_its_answer():
    """An answer handed to the transport is only in its send buffer: the reactor's stop drops every connection
    at once, so the drain must wait until the connection it closed has gone (its buffer written), not only
    until no request is in flight. Before, the drain ended at the first poll and a client whose answer was
    still buffered read nothing (seen under load as an empty answer to a call finished during SIGTERM)."""
    reactor, factory, begin = _drain()
    protocol, transport = _connected(factory)
    protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"hello" in transport.value()

    done = begin()
    assert transport.disconnecting  # the idle keep-alive connection is being closed after its answer
    fired = []
    done.addCallback(fired.append)
    reactor.advance(0.5)
    assert not fired, "the drain ended while an answer was still being written"

    protocol.connectionLost(Failure(ConnectionError("closed after the answer was written")))
    reactor.advance(0.1)
    assert fired == [None]


def test_a_connection_that_never_drains_is_given_up_after_the_grace():
    reactor, factory, begin = _drain(grace=2.0)
    protocol, transport = _connected(factory)
    protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    done = begin()
    fired = []
    done.addCallback(fired.append)
    reactor.advance(1.0)
    assert not fired
    reactor.pump([0.1] * 15)
    assert fired == [None]


def test_nothing_open_ends_the_drain_at_once():
    reactor, _factory, begin = _drain()
    fired = []
    begin().addCallback(fired.append)
    reactor.advance(0)
    assert fired == [None]


# --------------------------------------------------------------------------- header and body deadlines
class _Echo(Resource):
    isLeaf = True

    def render_POST(self, request):
        return request.content.read()


class _CountingClock(MemoryReactorClock):
    """Twisted's test reactor, counting what each ``callLater`` was asked to call."""

    def __init__(self):
        super().__init__()
        self.scheduled: list[str] = []

    def callLater(self, delay, callable, *args, **kw):  # noqa: A002 (Twisted's name)
        self.scheduled.append(getattr(callable, "__qualname__", repr(callable)))
        return super().callLater(delay, callable, *args, **kw)


def _deadlines(header_timeout: int = 1, body_timeout: int = 5, idle_timeout: int = 600):
    reactor = _CountingClock()
    settings = Settings.load(env={"SERVICES87_HTTP__HEADER_TIMEOUT": str(header_timeout),
                                  "SERVICES87_HTTP__BODY_TIMEOUT": str(body_timeout),
                                  "SERVICES87_HTTP__IDLE_TIMEOUT": str(idle_timeout)})
    site = limits.build_site(_Echo(), settings, reactor=reactor)
    return reactor, limits.protect(site, settings, reactor)


def _post(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def _timed_out(transport) -> bytes | None:
    """``b"headers"`` or ``b"body"`` when a 408 was written, else None."""
    value = transport.value()
    if b" 408 " not in value:
        return None
    return b"headers" if b"request headers did not" in value else b"body"


def test_the_header_deadline_of_a_follow_up_request_is_its_own_not_the_last_body_deadline():
    """A kept-alive connection: a request with a body armed the (longer) body deadline; the next request's
    headers dribble. Its header deadline counts from its first byte, although the connection's pending timer
    was set for the body deadline, further away."""
    reactor, factory = _deadlines(header_timeout=1, body_timeout=5)
    protocol, transport = _connected(factory)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\no")
    reactor.advance(2)  # the body deadline (5 s) is the pending one now
    protocol.dataReceived(b"ne")
    assert transport.value().endswith(b"one")
    transport.clear()
    reactor.advance(0.5)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHo")  # and nothing more
    reactor.advance(0.9)
    assert _timed_out(transport) is None
    reactor.advance(0.2)
    assert _timed_out(transport) == b"headers"


def test_a_body_deadline_armed_after_a_header_deadline_is_kept_in_full():
    reactor, factory = _deadlines(header_timeout=1, body_timeout=5)
    protocol, transport = _connected(factory)
    reactor.advance(0.8)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    reactor.advance(4.9)  # well past the connection's first (header) deadline
    assert _timed_out(transport) is None
    reactor.advance(0.2)
    assert _timed_out(transport) == b"body"


def test_many_requests_on_one_connection_schedule_no_timer_per_request():
    """Arming and disarming the deadlines is a number each: the reactor's timers do not grow with the requests,
    and none of the requests, each on time, is cut off."""
    reactor, factory = _deadlines(header_timeout=1, body_timeout=5)
    protocol, transport = _connected(factory)
    for i in range(200):
        protocol.dataReceived(_post(b"%d" % i))
        reactor.advance(0.05)
    assert transport.value().count(b"HTTP/1.1 200") == 200 and _timed_out(transport) is None
    # 200 requests over 10 s: the deadline's timer was scheduled about once per header_timeout, not twice a request
    deadline_timers = [name for name in reactor.scheduled if "_Deadline" in name]
    assert 1 <= len(deadline_timers) <= 12, reactor.scheduled
    reactor.advance(1.1)  # idle now: the pending timer comes due, finds nothing armed and ends
    assert _timed_out(transport) is None
    protocol.dataReceived(b"GET")
    reactor.advance(1.1)
    assert _timed_out(transport) == b"headers"


# --------------------------------------------------------------------------- idle timeout
def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout_and_not_before():
    reactor, factory = _deadlines(header_timeout=1, body_timeout=5, idle_timeout=3)
    protocol, transport = _connected(factory)
    for i in range(3):  # answered requests, each re-arming the idle timeout from its end
        protocol.dataReceived(_post(b"%d" % i))
        reactor.advance(2.5)
    assert transport.value().count(b"HTTP/1.1 200") == 3 and not transport.disconnecting
    reactor.advance(0.4)  # 2.9 s idle
    assert not transport.disconnecting
    reactor.advance(0.2)  # 3.1 s idle
    assert transport.disconnecting and _timed_out(transport) is None  # closed, without a 408


def test_a_request_being_answered_is_not_cut_by_the_idle_timeout():
    """Twisted sets the idle timeout off between a request's complete body and its response."""

    class Slow(Resource):
        isLeaf = True

        def render_POST(self, request):
            reactor.callLater(10, lambda: (request.write(b"late"), request.finish()))
            return NOT_DONE_YET

    reactor = _CountingClock()
    settings = Settings.load(env={"SERVICES87_HTTP__IDLE_TIMEOUT": "3"})
    factory = limits.protect(limits.build_site(Slow(), settings, reactor=reactor), settings, reactor)
    protocol, transport = _connected(factory)
    protocol.dataReceived(_post(b"x"))
    reactor.advance(9)
    assert not transport.disconnecting
    reactor.advance(1.1)
    assert b"\r\nlate\r\n" in transport.value() and not transport.disconnecting
    reactor.advance(3.1)
    assert transport.disconnecting


def test_the_idle_timeout_schedules_no_timer_per_request():
    """TimeoutMixin cancels its DelayedCall and schedules a new one for every request; the kept one moves."""
    reactor, factory = _deadlines(header_timeout=1, body_timeout=5, idle_timeout=3)
    protocol, transport = _connected(factory)
    for i in range(200):
        protocol.dataReceived(_post(b"%d" % i))
        reactor.advance(0.05)
    assert transport.value().count(b"HTTP/1.1 200") == 200 and not transport.disconnecting
    assert len(reactor.scheduled) <= 20, reactor.scheduled
    assert len(reactor.getDelayedCalls()) <= 2  # the phase deadline's and the idle timeout's
    protocol.connectionLost(Failure(ConnectionDone()))
    assert reactor.getDelayedCalls() == []
