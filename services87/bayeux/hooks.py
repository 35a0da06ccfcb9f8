"""Application hooks and the request information handed to them.

The server knows nothing about the application. An application subclasses
:class:`BayeuxHooks` and overrides what it needs; every method may return a
plain value or a :class:`~twisted.internet.defer.Deferred` / coroutine.
Hooks run on the reactor thread.
"""

from __future__ import annotations

from typing import Any

from .request import RequestInfo, parse_cookie_header
from .session import Session

__all__ = ["BayeuxHooks", "RequestInfo", "parse_cookie_header"]


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

    def can_subscribe(self, session: Session, channel: str, message: dict[str, Any]) -> bool:
        """Whether *session* may subscribe to *channel* (may be a wildcard)."""
        return True

    def can_publish(self, session: Session, channel: str, message: dict[str, Any]) -> bool:
        """Whether *session* may publish *message* to *channel*. Default: no."""
        return False

    def on_session_added(self, session: Session) -> None:
        """Called after a successful handshake created *session*."""

    def on_subscribe(self, session: Session, channel: str) -> None:
        """Called after *session* subscribed to *channel*."""

    def on_unsubscribe(self, session: Session, channel: str) -> None:
        """Called after *session* unsubscribed from *channel* (not on removal)."""

    def on_publish(self, session: Session, channel: str, message: dict[str, Any]) -> None:
        """Called for an allowed client publish, before broadcast.

        Messages to ``/service/**`` are only passed here, never broadcast.
        """

    def on_session_removed(self, session: Session, reason: str) -> None:
        """Called once when *session* goes away.

        *reason* is ``"disconnect"`` (client sent ``/meta/disconnect``),
        ``"expired"`` (swept after ``max_interval``), ``"removed"``
        (:meth:`BayeuxServer.remove_session`), ``"reset"`` or ``"stop"``.
        """

    def on_queue_overflow(self, session: Session, dropped: dict[str, Any]) -> None:
        """Called when the oldest queued message of *session* was dropped."""
