"""Application hooks and the request information handed to them.

The server knows nothing about the application. An application subclasses
:class:`BayeuxHooks` and overrides what it needs; every method may return a
plain value or a :class:`~twisted.internet.defer.Deferred` / coroutine.
Hooks run on the reactor thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session


@dataclass
class RequestInfo:
    """What the transport knows about the request that carried a message.

    :ivar transport: ``"long-polling"`` or ``"websocket"``
    :ivar headers: request headers, names lower-cased (for WebSocket: the
        headers of the HTTP upgrade request)
    :ivar cookies: cookies sent with the request
    :ivar peer: remote address as ``"host:port"``
    :ivar path: request path (bytes decoded as latin-1)
    :ivar request: the underlying object: a :class:`twisted.web.server.Request`
        for long-polling, an :class:`autobahn.websocket.types.ConnectionRequest`
        for WebSocket
    :ivar browser_id: value of the browser cookie (existing or newly assigned)
    :ivar session_cookie: value of the configured extra session cookie, if any
    """

    transport: str
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    peer: str = ""
    path: str = ""
    request: Any = None
    browser_id: str | None = None
    session_cookie: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name.lower(), default)


def parse_cookie_header(value: str | None) -> dict[str, str]:
    """Parse a ``Cookie:`` header leniently (bad cookies are skipped)."""
    cookies: dict[str, str] = {}
    if not value:
        return cookies
    for part in value.split(";"):
        try:
            jar = SimpleCookie()
            jar.load(part.strip())
        except CookieError:
            continue
        for key, morsel in jar.items():
            cookies.setdefault(key, morsel.value)
    return cookies


class BayeuxHooks:
    """Default behaviour: everyone may handshake and subscribe (to non-meta
    channels); nobody may publish. Subclass to change it.

    Hooks that decide (``authenticate_handshake``, ``can_subscribe``,
    ``can_publish``) may also raise :class:`~services87.bayeux.errors.Denied`
    to choose the error text and advice of the refusal.
    """

    def authenticate_handshake(self, request: RequestInfo, message: dict[str, Any]) -> Any:
        """Accept or refuse a ``/meta/handshake``.

        Return ``False`` to refuse (``403::Handshake denied``), raise
        :class:`~services87.bayeux.errors.Denied` for a custom refusal, or
        return a dict (merged into ``session.attributes``) / ``None`` / ``True``
        to accept.
        """
        return None

    def can_subscribe(self, session: "Session", channel: str, message: dict[str, Any]) -> bool:
        """Whether *session* may subscribe to *channel* (may be a wildcard)."""
        return True

    def can_publish(self, session: "Session", channel: str, message: dict[str, Any]) -> bool:
        """Whether *session* may publish *message* to *channel*. Default: no."""
        return False

    def on_session_added(self, session: "Session") -> None:
        """Called after a successful handshake created *session*."""

    def on_subscribe(self, session: "Session", channel: str) -> None:
        """Called after *session* subscribed to *channel*."""

    def on_unsubscribe(self, session: "Session", channel: str) -> None:
        """Called after *session* unsubscribed from *channel* (not on removal)."""

    def on_publish(self, session: "Session", channel: str, message: dict[str, Any]) -> None:
        """Called for an allowed client publish, before broadcast.

        Messages to ``/service/**`` are only passed here, never broadcast.
        """

    def on_session_removed(self, session: "Session", reason: str) -> None:
        """Called once when *session* goes away.

        *reason* is ``"disconnect"`` (client sent ``/meta/disconnect``),
        ``"expired"`` (swept after ``max_interval``), ``"removed"``
        (:meth:`BayeuxServer.remove_session`), ``"reset"`` or ``"stop"``.
        """

    def on_queue_overflow(self, session: "Session", dropped: dict[str, Any]) -> None:
        """Called when the oldest queued message of *session* was dropped."""
