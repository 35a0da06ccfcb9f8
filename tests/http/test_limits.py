"""services87.http.limits, in process: the graceful-shutdown drain, step by step on Twisted's test reactor.

The behaviour over real sockets (SIGTERM with a request in flight, kill -9) is in
tests/hostile/test_shutdown_and_kill.py; what a real socket cannot show deterministically is the order of
events inside one reactor turn, which is what decides whether an answer still buffered is lost.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.web.resource import Resource

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
