"""What the transports (:mod:`.longpolling`, :mod:`.websocket`) need from the
server core, and the helpers they share.

The transports depend on :class:`BayeuxCore`, an interface that
:class:`~services87.bayeux.server.BayeuxServer` implements; the server hands
itself to the transports it creates. So the import graph is a tree:
``server -> longpolling -> websocket -> transport`` and nothing imports
back up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReadWriteDescriptor
from twisted.protocols import policies

from .request import RequestInfo
from .protocol import new_token, valid_token
from .session import HeldConnect
from .settings import BayeuxSettings


@dataclass
class BatchOutcome:
    """Result of :meth:`BayeuxCore.process`.

    :ivar replies: replies to send now (everything except a held connect)
    :ivar held: a postponed ``/meta/connect``; its ``deferred`` fires with
        the delivered messages plus the connect reply
    """

    replies: list[dict[str, Any]] = field(default_factory=list)
    held: HeldConnect | None = None

    @property
    def handshake_succeeded(self) -> bool:
        return any(r.get("channel") == "/meta/handshake" and r.get("successful") for r in self.replies)


class BayeuxCore(Protocol):
    """The server as the transports see it."""

    settings: BayeuxSettings

    def handle(self, messages: list[Any], request: RequestInfo) -> BatchOutcome | Deferred[BatchOutcome]:
        """Handle one decoded batch: the outcome now, or a Deferred of it when a message has to wait;
        never fails."""
        ...

    def cancel_held(self, held: HeldConnect) -> None:
        """The transport lost the request of *held*."""
        ...


def cookie_values(settings: BayeuxSettings, cookies: dict[str, str]) -> tuple[str, bool, str | None, bool]:
    """Return ``(browser_id, browser_is_new, session_cookie, session_is_new)``
    reusing well-formed cookie values the client sent."""
    browser = cookies.get(settings.browser_cookie_name)
    browser_new = not valid_token(browser)
    if browser_new:
        browser = new_token()
    session_value: str | None = None
    session_new = False
    if settings.session_cookie_name:
        session_value = cookies.get(settings.session_cookie_name)
        session_new = not valid_token(session_value)
        if session_new:
            session_value = new_token()
    return browser, browser_new, session_value, session_new  # type: ignore[return-value]


def set_cookie_header(settings: BayeuxSettings, name: str, value: str) -> str:
    """A ``Set-Cookie`` header value honouring the cookie settings."""
    parts = [f"{name}={value}", f"Path={settings.cookie_path}"]
    if settings.cookie_http_only:
        parts.append("HttpOnly")
    if settings.cookie_secure:
        parts.append("Secure")
    if settings.cookie_same_site:
        parts.append(f"SameSite={settings.cookie_same_site}")
    return "; ".join(parts)


def send_now(transport: Any) -> None:
    """Hand what ``transport`` holds to the kernel now, not at the reactor's next poll.

    Twisted's ``write`` only buffers; the reactor sends when it next polls. A publish answers every held
    connect in one reactor turn, so without this the first subscriber's answer waited until the last one's was
    written (the fan-out bench's p50 and p99 above faye's, whose writes go out at once). Here the connection's
    own ``doWrite`` (``IWriteDescriptor``, what the reactor calls when the socket is writable) runs at once: a
    socket that takes everything stops waiting to write; one that takes part (or nothing, ``EAGAIN``) keeps
    the rest for the reactor as before. Wrappers (the connection cap, TLS) pass their bytes through at
    ``write``, so the descriptor is looked up through ``transport.transport``. A connection that is closing, or
    a failed send, is left to the reactor, which then sees the same state and ends the connection as usual
    (tests/bayeux/test_bayeux_send_now.py)."""
    fd = _descriptor(transport)
    if fd is None or fd.disconnecting or not fd.connected:
        return
    # A failed send returns its reason before ``doWrite`` stops waiting to write: the connection stays registered,
    # and the reactor's own ``doWrite`` at the next poll meets the same failure and ends the connection.
    fd.doWrite()


def write_now(transport: Any, data: bytes) -> None:
    """``transport.write(data)`` then :func:`send_now`, in one ``send`` system call when that is all it takes.

    On a plain TCP connection (under pass-through wrappers only, such as the connection cap) with nothing
    waiting in its buffer, the bytes go straight to the socket through the connection's own ``writeSomeData``;
    what the kernel does not take is written to the transport as usual, after anything else. Twisted's
    ``write`` + ``doWrite`` would first register the socket with the reactor as waiting to write and then
    unregister it (two ``epoll_ctl`` calls and their bookkeeping for every frame, a third of what one pushed
    frame cost the server: docs/performance.md, "Push latency over WebSocket"). A streaming producer that is
    not paused (an upgraded connection's HTTP channel stays registered as one) needs nothing from a write the
    socket takes whole. Anything else (TLS, a wrapper that does more than pass bytes on, a paused or
    non-streaming producer, bytes already waiting, a closing connection) takes the usual way, and so does a
    failed send: the reactor then meets the failure and ends the connection
    (tests/bayeux/test_bayeux_send_now.py)."""
    fd = _plain_tcp(transport)
    if fd is None or not fd.connected or fd.disconnecting or _waiting(fd) or (
            fd.producer is not None and (not fd.streamingProducer or fd.producerPaused)):
        transport.write(data)
        send_now(transport)
        return
    sent = fd.writeSomeData(data)
    if isinstance(sent, Exception):
        transport.write(data)  # kept for the reactor, which sees the same failure and disconnects
    elif sent < len(data):
        transport.write(data[sent:])


def _waiting(fd: Any) -> bool:
    """Whether ``fd`` (a ``FileDescriptor``) holds bytes not yet sent, or its sending side is shut."""
    # Twisted has no public view of its write buffer (its two parts) nor of a half-closed connection
    return bool(fd._tempDataLen or fd.offset != len(fd.dataBuffer) or fd._writeDisconnected)  # noqa: SLF001


def _plain_tcp(transport: Any) -> Any:
    """The ``tcp.Connection`` (without TLS) under ``transport`` when every layer above it only passes writes on
    (Twisted's ``ProtocolWrapper.write``), else None."""
    while getattr(type(transport), "write", None) is policies.ProtocolWrapper.write:
        transport = transport.transport
    if isinstance(transport, tcp.Connection) and type(transport).write is tcp.Connection.write and not transport.TLS:
        return transport
    return None


def _descriptor(transport: Any) -> Any:
    """The file descriptor under ``transport`` and its wrappers, or None."""
    while transport is not None and not IReadWriteDescriptor.providedBy(transport):
        transport = getattr(transport, "transport", None)
    return transport
