"""Server-side Bayeux sessions and their bounded message queues."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from .request import RequestInfo


class Session:
    """One handshaken Bayeux client.

    :ivar id: the ``clientId`` (random, unguessable)
    :ivar attributes: free-form application data (e.g. the logged-in user);
        the dict returned by ``authenticate_handshake`` is merged into it
    :ivar subscriptions: channel names (possibly wildcards) subscribed to
    :ivar request: :class:`RequestInfo` of the handshake request
    :ivar browser_id: value of the browser cookie of the handshake
    :ivar session_cookie: value of the extra session cookie, if configured
    :ivar dropped: messages dropped because the queue was full
    :ivar connection_type: transport of the latest ``/meta/connect``
    """

    def __init__(self, session_id: str, *, now: float, max_queue: int, request: RequestInfo) -> None:
        self.id = session_id
        self.created = now
        self.last_seen = now
        self.attributes: dict[str, Any] = {}
        self.subscriptions: set[str] = set()
        self.request = request
        self.browser_id = request.browser_id
        self.session_cookie = request.session_cookie
        self.connection_type = request.transport
        self.dropped = 0
        self.connected = False
        self.removed = False
        self.held: HeldConnect | None = None
        self._queue: deque[dict[str, Any]] = deque(maxlen=max_queue)
        #: when each queued message was queued (monotonic), for the delivery-latency metric
        self._stamps: deque[float] = deque(maxlen=max_queue)
        #: the stamps of the messages handed out by the latest :meth:`drain`
        self.drained_stamps: list[float] = []

    def __repr__(self) -> str:
        return f"<Session {self.id[:8]}… subs={len(self.subscriptions)} queued={len(self._queue)}>"

    @property
    def max_queue(self) -> int:
        return self._queue.maxlen or 0

    @property
    def queue_size(self) -> int:
        return len(self._queue)

    def enqueue(self, message: dict[str, Any], stamp: float | None = None) -> dict[str, Any] | None:
        """Queue *message* (queued at *stamp*, ``time.monotonic()``, now if
        omitted); if the queue is full the oldest message is dropped (and
        returned) so that the newest state always gets through.

        The message may be shared with other sessions (a publish queues one
        object for every subscriber): it must not be changed once queued."""
        dropped = None
        if len(self._queue) == self._queue.maxlen:
            dropped = self._queue[0]
            self.dropped += 1
        self._queue.append(message)
        self._stamps.append(time.monotonic() if stamp is None else stamp)
        return dropped

    def drain(self) -> list[dict[str, Any]]:
        """Remove and return every queued message, oldest first."""
        messages = list(self._queue)
        self._queue.clear()
        self.drained_stamps = list(self._stamps)
        self._stamps.clear()
        return messages


class HeldConnect:
    """A ``/meta/connect`` whose reply is postponed (long poll).

    ``deferred`` fires with the list of messages to send: the queued messages
    followed by the connect reply. The transport that owns the request cancels
    it via :meth:`BayeuxServer.cancel_held` when the client goes away. The
    server answers it when its hold time is over (one timer serves every held
    connect of a server).
    """

    __slots__ = ("session", "reply", "deferred", "done", "waking", "push")

    def __init__(self, session: Session, reply: dict[str, Any]) -> None:
        self.session = session
        self.reply = reply
        self.deferred: Deferred[list[dict[str, Any]]] = Deferred()
        self.done = False
        #: a release is already scheduled for the next reactor turn
        self.waking = False
        #: set by a transport that can send messages while the connect stays held (WebSocket): queued messages
        #: then go out through it at once and the connect stays held until its time is over, as in CometD
        self.push: Callable[[list[dict[str, Any]]], None] | None = None

    def fire(self, messages: list[dict[str, Any]]) -> None:
        if self.done:
            return
        self.done = True
        self.deferred.callback(messages)
