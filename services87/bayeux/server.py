"""The transport-neutral Bayeux 1.0 server core.

:class:`BayeuxServer` owns the sessions, the subscription index and the held
``/meta/connect`` requests. Transports (:mod:`.longpolling`,
:mod:`.websocket`) decode request bodies into message lists, hand them to
:meth:`BayeuxServer.process` and write back what it returns.

Everything here runs on the reactor thread; the public methods
(:meth:`~BayeuxServer.deliver`, :meth:`~BayeuxServer.publish`, ...) must be
called from it too (use ``reactor.callFromThread`` from worker threads).
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import time
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

from .channel import META_PREFIX, ChannelId
from .errors import BayeuxError, Denied
from .hooks import BayeuxHooks
from .longpolling import BayeuxResource
from .protocol import BAYEUX_VERSION, Message, encode_json, error_reply, new_token
from .request import RequestInfo
from .session import HeldConnect, Session
from .settings import BayeuxSettings
from .transport import BatchOutcome

log = Logger()

#: Reason codes passed to ``on_session_removed``.
REMOVAL_REASONS = ("disconnect", "expired", "removed", "reset", "stop")

UNKNOWN_CLIENT_ADVICE = {"reconnect": "handshake", "interval": 0}
#: How many distinct channel names :meth:`BayeuxServer.deliver` remembers as checked (more are checked each time).
MAX_REMEMBERED_CHANNELS = 1024


def unknown_client() -> BayeuxError:
    """The error for a missing or unknown ``clientId``: the client must
    handshake again (this is what clients see after a server restart)."""
    return BayeuxError(402, "Unknown client", advice=dict(UNKNOWN_CLIENT_ADVICE))


async def _resolve(value: Any) -> Any:
    """Await *value* if a hook returned a Deferred or coroutine."""
    if isinstance(value, Deferred) or inspect.isawaitable(value):
        return await value
    return value


def _pending(value: Any) -> bool:
    """Whether a handler's result is still to be awaited (a coroutine or Deferred)."""
    return isinstance(value, Deferred) or inspect.isawaitable(value)


class BayeuxServer:
    """A Bayeux 1.0 server.

    :param reactor: the Twisted reactor (an ``IReactorTime``; a
        :class:`twisted.internet.task.Clock` works for tests)
    :param settings: :class:`BayeuxSettings` (defaults if omitted)
    :param hooks: a :class:`BayeuxHooks` (subclass) instance

    The sweeper starts at construction; call :meth:`stop` on shutdown.
    """

    def __init__(self, reactor: Any, settings: BayeuxSettings | None = None,
                 hooks: BayeuxHooks | None = None) -> None:
        self.reactor = reactor
        self.settings = settings or BayeuxSettings()
        self.hooks = hooks or BayeuxHooks()
        self._sessions: dict[str, Session] = {}
        #: channel names :meth:`deliver` has found valid (an application delivers on a few), with the start of
        #: a message's JSON on each
        self._deliverable: dict[str, bytes] = {}
        self._index: dict[str, set[str]] = {}
        #: changes whenever :attr:`_index` does (see :attr:`index_version`)
        self._index_version = 0
        self._held = 0
        #: held connects by deadline ``(reactor time, sequence, held)``; entries of connects answered early stay
        #: until they reach the top (or the heap is compacted), and one timer waits for the earliest deadline
        self._deadlines: list[tuple[float, int, HeldConnect]] = []
        self._sequence = itertools.count()
        self._deadline_timer: Any = None
        self._deadline_at = 0.0
        #: held connects to answer on the next reactor turn, and the one timer that does it
        self._waking: list[HeldConnect] = []
        self._wake_timer: Any = None
        self._stopped = False
        self._resource: BayeuxResource | None = None
        #: set by :class:`services87.bayeux.cluster.BayeuxCluster` when sessions are shared by several processes
        self.cluster: Any = None
        #: called with the seconds each message waited in a session queue before delivery (metrics), or None
        self.delivery_observer: Callable[[float], None] | None = None
        self.counters: dict[str, int] = dict.fromkeys(
            ("handshakes", "expired", "disconnected", "dropped", "delivered", "published",
             "held_refused", "rejected"), 0)
        self._meta: dict[str, Callable[..., Any]] = {
            "/meta/handshake": self._handshake,
            "/meta/connect": self._connect,
            "/meta/subscribe": self._subscribe,
            "/meta/unsubscribe": self._unsubscribe,
            "/meta/disconnect": self._disconnect,
        }
        #: the advice of a connect reply (the settings are frozen); replies share it and never change it
        self._connect_advice = self._advice()
        self._sweeper = LoopingCall(self.sweep)
        self._sweeper.clock = reactor
        self._sweeper.start(self.settings.sweep_period, now=False).addErrback(
            lambda failure: log.failure("Bayeux sweeper stopped", failure))

    # ------------------------------------------------------------------ public API
    @property
    def sessions(self) -> Mapping[str, Session]:
        """Live sessions by ``clientId`` (read-only view)."""
        return MappingProxyType(self._sessions)

    def session(self, client_id: str) -> Session | None:
        """The live session with ``clientId`` *client_id*, or None."""
        return self._sessions.get(client_id)

    def sessions_by_cookie(self, value: str) -> list[Session]:
        """Sessions whose extra session cookie (``session_cookie_name``) or
        browser cookie has *value* - e.g. to route a REST call to the CometD
        session of the same client."""
        return [s for s in self._sessions.values() if value in (s.session_cookie, s.browser_id)]

    @property
    def index_version(self) -> int:
        """A number that changes whenever a session subscribes, unsubscribes or goes: while it stays the same,
        :meth:`subscribers` gives the same sessions (an application may keep what it derived from them)."""
        return self._index_version

    def subscribers(self, channel: str) -> list[Session]:
        """Sessions that would receive a :meth:`publish` to *channel*."""
        ids: set[str] = set()
        for pattern in ChannelId(channel, allow_wildcards=False).patterns():
            ids |= self._index.get(pattern, set())
        return [self._sessions[i] for i in ids if i in self._sessions]

    def deliver(self, target: Session | str, channel: str, data: Any, *,
                ext: dict[str, Any] | None = None, data_json: bytes | None = None) -> bool:
        """Queue a message for one session, subscribed or not.

        :param target: a :class:`Session` or a ``clientId``
        :param channel: a concrete channel (``/service/...`` allowed)
        :param data_json: ``data`` as JSON, when the caller makes it more cheaply than encoding ``data`` (the
            Genesys push: a thousand updates that differ only in their subscription id); it must be
            :func:`~.protocol.encode_json` of ``data``
        :returns: False if the session is unknown or gone
        :raises ValueError: invalid, wildcard or ``/meta`` channel
        """
        head = self._deliverable.get(channel)
        if head is None:  # checked once per channel name, not per message
            if ChannelId(channel, allow_wildcards=False, max_length=self.settings.max_channel_length).is_meta:
                raise ValueError("cannot deliver on a /meta channel")
            head = b'{"channel":' + encode_json(channel) + b',"data":'
            if len(self._deliverable) < MAX_REMEMBERED_CHANNELS:
                self._deliverable[channel] = head
        session = target if isinstance(target, Session) else self._sessions.get(target)
        if session is None or session.removed:
            return False
        message = Message(channel=channel, data=data)
        if ext:
            message["ext"] = ext
        elif data_json is not None:
            message.prime(head + data_json + b"}")
        if self.cluster is not None and not self.cluster.owns(session):
            self.cluster.forward_deliver(session, dict(message))  # the worker that owns the session queues it
            return True
        self.enqueue(session, message, time.monotonic())
        return True

    def publish(self, channel: str, data: Any, *, ext: dict[str, Any] | None = None) -> int:
        """Broadcast to every session subscribed to *channel* (wildcards
        included). Returns the number of recipients.

        :raises ValueError: invalid channel, wildcard, ``/meta`` or ``/service``
        """
        channel_id = ChannelId(channel, allow_wildcards=False, max_length=self.settings.max_channel_length)
        if not channel_id.is_broadcast:
            raise ValueError(f"{channel} is not a broadcast channel")
        recipients = self.subscribers(channel)
        self.counters["published"] += 1
        if self.cluster is not None:
            forwarded = {"channel": channel, "data": data}
            if ext:
                forwarded["ext"] = ext
            self.cluster.forward_publish(channel, forwarded)  # every worker queues it for the sessions it owns
            return len(recipients)
        # One message object for every recipient: it is encoded once, when the first of them is answered.
        message = Message(channel=channel, data=data)
        if ext:
            message["ext"] = ext
        stamp = time.monotonic()
        for session in recipients:
            self.enqueue(session, message, stamp)
        return len(recipients)

    def remove_session(self, target: Session | str, reason: str = "removed") -> bool:
        """Drop a session server-side; its next request gets ``402``. Fires ``on_session_removed`` with
        *reason* (one of :data:`REMOVAL_REASONS`)."""
        session = target if isinstance(target, Session) else self._sessions.get(target)
        if session is None or session.removed:
            return False
        self._remove(session, reason)
        return True

    def reset(self) -> None:
        """Forget every session, as a restart would: held connects are
        answered with ``402`` + ``reconnect: handshake`` and every later
        request of the old clients gets the same."""
        for session in list(self._sessions.values()):
            self._remove(session, "reset")

    def stop(self) -> None:
        """Stop sweeping, drop all sessions (reason ``"stop"``) and refuse
        new handshakes. Idempotent."""
        if self._sweeper.running:
            self._sweeper.stop()
        self._stopped = True
        for session in list(self._sessions.values()):
            self._remove(session, "stop")
        for timer in (self._deadline_timer, self._wake_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._deadline_timer = self._wake_timer = None
        self._deadlines.clear()
        self._waking.clear()

    def stats(self) -> dict[str, int]:
        """Counters plus current session/held/queued totals."""
        return dict(self.counters, sessions=len(self._sessions), held=self._held,
                    queued=sum(s.queue_size for s in self._sessions.values()))

    def resource(self) -> BayeuxResource:
        """A ``twisted.web`` resource serving long-polling and WebSocket;
        mount it anywhere (e.g. at ``/statistics/v3/notifications``)."""
        if self._resource is None:
            self._resource = BayeuxResource(self)
        return self._resource

    # ------------------------------------------------------------------ replicas (services87.bayeux.cluster)
    # With several worker processes (:class:`~services87.bayeux.cluster.BayeuxCluster`) every worker knows every
    # session: one handshaken on another worker is a *replica* here, kept in step with the bus by these methods.
    # They skip the client-facing checks (capacity, deciding hooks) and never tell :attr:`cluster` (it is the
    # caller). With :meth:`session`, :meth:`subscribers` and :meth:`remove_session` they are all that the
    # cluster uses of the server.

    def add_replica(self, client_id: str, *, request: RequestInfo, attributes: Mapping[str, Any],
                    subscriptions: Iterable[str] = ()) -> Session:
        """Add a session handshaken on another worker: already connected (its first connect was served
        there), with *attributes* and subscribed to *subscriptions*. Fires ``on_session_added`` (not
        ``on_subscribe``); no handshake is counted.

        :raises ValueError: a session with this ``clientId`` is known already
        """
        if client_id in self._sessions:
            raise ValueError(f"session {client_id[:8]} is known already")
        session = Session(client_id, now=self.reactor.seconds(), max_queue=self.settings.max_queue,
                          request=request)
        session.attributes.update(attributes)
        session.connected = True
        self._sessions[client_id] = session
        self.subscribe_replica(session, subscriptions)
        self._notify(self.hooks.on_session_added, session)
        return session

    def subscribe_replica(self, session: Session, names: Iterable[str]) -> None:
        """Add channel *names* (wildcards allowed) to the subscriptions of *session* as another worker
        accepted them: no check, no ``on_subscribe`` hook."""
        for name in names:
            if name not in session.subscriptions:
                session.subscriptions.add(name)
                self._index_add(session, name)

    def unsubscribe_replica(self, session: Session, names: Iterable[str]) -> None:
        """Remove channel *names* from the subscriptions of *session* as another worker did: no
        ``on_unsubscribe`` hook."""
        for name in names:
            if name in session.subscriptions:
                session.subscriptions.discard(name)
                self._unindex(session, name)

    def release_held(self, session: Session) -> bool:
        """Answer the ``/meta/connect`` that *session* holds here now, with whatever is queued (the session
        moved to another worker). Returns False when it holds none."""
        if session.held is None:
            return False
        self._release(session.held)
        return True

    def enqueue(self, session: Session, message: dict[str, Any], stamp: float | None = None) -> None:
        """Queue *message* for *session* on this worker as it is: no channel check, and never forwarded to
        the :attr:`cluster` (it calls this for the sessions this worker owns; applications use
        :meth:`deliver` and :meth:`publish`). Counts as delivered, fires ``on_queue_overflow`` when the
        queue drops its oldest message, and answers a held connect on the next reactor turn.

        :param stamp: when the message was queued (``time.monotonic()``), now if omitted
        """
        dropped = session.enqueue(message, stamp)
        self.counters["delivered"] += 1
        if dropped is not None:
            self.counters["dropped"] += 1
            if session.dropped == 1:
                log.warn("Bayeux queue of session {sid} is full ({max}); dropping oldest messages",
                         sid=session.id[:8], max=session.max_queue)
            self._notify(self.hooks.on_queue_overflow, session, dropped)
        held = session.held
        if held is not None and not held.done and not held.waking:
            # Release on the next reactor turn so that messages published
            # together travel in one reply.
            held.waking = True
            self._waking.append(held)
            if self._wake_timer is None:
                self._wake_timer = self.reactor.callLater(0, self._wake)

    # ------------------------------------------------------------------ processing
    async def process(self, messages: list[Any], request: RequestInfo) -> BatchOutcome:
        """Handle one batch of decoded messages (in order).

        Never raises: every problem becomes a ``successful: false`` reply.
        """
        outcome = self.handle(messages, request)
        if isinstance(outcome, Deferred):
            return await outcome
        return outcome

    def handle(self, messages: list[Any], request: RequestInfo) -> BatchOutcome | Deferred[BatchOutcome]:
        """:meth:`process` without a coroutine when no message has to wait: a batch of connects,
        unsubscribes and disconnects (the bulk of the traffic) is answered at once; a batch with a message
        that waits (a hook's Deferred, a handshake, a subscribe) gives a Deferred. Never fails."""
        outcome = BatchOutcome()
        for position, message in enumerate(messages):
            try:
                result = self._process_one(message, request)
            except Exception as error:
                result = self._failed(message, error)
            if _pending(result):
                return ensureDeferred(self._finish(result, messages, position, request, outcome))
            self._collect(outcome, result)
        return outcome

    async def _finish(self, pending: Any, messages: list[Any], position: int, request: RequestInfo,
                      outcome: BatchOutcome) -> BatchOutcome:
        """The rest of :meth:`handle` once a message has to wait: *pending* is the awaitable result of
        ``messages[position]``."""
        self._collect(outcome, await self._settle(messages[position], pending))
        for message in messages[position + 1:]:
            try:
                result = self._process_one(message, request)
            except Exception as error:
                result = self._failed(message, error)
            if _pending(result):
                result = await self._settle(message, result)
            self._collect(outcome, result)
        return outcome

    async def _settle(self, message: Any, pending: Any) -> list[dict[str, Any]] | HeldConnect:
        try:
            return await pending
        except Exception as error:
            return self._failed(message, error)

    def _failed(self, message: Any, error: Exception) -> list[dict[str, Any]]:
        if isinstance(error, BayeuxError):
            self.counters["rejected"] += 1
            return [error_reply(message, error)]
        log.failure("Bayeux message handling failed")
        return [error_reply(message, BayeuxError(500, "Internal error"))]

    def _collect(self, outcome: BatchOutcome, result: list[dict[str, Any]] | HeldConnect) -> None:
        if isinstance(result, HeldConnect):
            if outcome.held is not None:
                self._release(outcome.held)
            outcome.held = result
        else:
            outcome.replies.extend(result)

    def cancel_held(self, held: HeldConnect) -> None:
        """The transport lost the request of *held*: forget it without
        replying. Queued messages stay for the next connect."""
        if held.done:
            return
        held.done = True
        self._unhold(held)

    def sweep(self) -> None:
        """Remove sessions without a held connect whose last connect is
        older than ``max_interval``."""
        now = self.reactor.seconds()
        limit = self.settings.max_interval
        if self.cluster is not None:
            self.cluster.tick(now)
        for session in list(self._sessions.values()):
            if self.cluster is not None and not self.cluster.sweepable(session, now):
                continue  # its owner, alive, sweeps it and tells every worker
            if session.held is None and now - session.last_seen > limit:
                self.counters["expired"] += 1
                self._remove(session, "expired")

    # ------------------------------------------------------------------ internals
    def _process_one(self, message: Any, request: RequestInfo) -> Any:
        """The replies to one message, a held connect, or an awaitable of either (hooks may wait)."""
        if not isinstance(message, dict):
            raise BayeuxError(400, "Message must be a JSON object")
        channel = message.get("channel")
        if not isinstance(channel, str) or not channel:
            raise BayeuxError(400, "Missing channel")
        if channel.startswith(META_PREFIX):
            handler = self._meta.get(channel)
            if handler is None:
                raise BayeuxError(406, "Unknown meta channel", args=[channel])
            return handler(message, request)
        return self._client_publish(message, request)

    def _reply(self, message: dict[str, Any], **fields: Any) -> dict[str, Any]:
        reply: dict[str, Any] = {"channel": message["channel"]}
        if "id" in message:
            reply["id"] = message["id"]
        reply.update(fields)
        return reply

    def _advice(self, **override: Any) -> dict[str, Any]:
        advice = {"reconnect": "retry", "interval": self.settings.interval_ms,
                  "timeout": self.settings.timeout_ms}
        advice.update(override)
        return advice

    def _session_for(self, message: dict[str, Any]) -> Session:
        client_id = message.get("clientId")
        session = self._sessions.get(client_id) if isinstance(client_id, str) else None
        if session is None:
            raise unknown_client()
        return session

    def _session_now(self, message: dict[str, Any]) -> Session | None:
        """The message's session, or None when it may still arrive from another worker (see
        :meth:`_session_for_shared`)."""
        client_id = message.get("clientId")
        session = self._sessions.get(client_id) if isinstance(client_id, str) else None
        if session is not None:
            return session
        if self.cluster is None or not isinstance(client_id, str) or not client_id:
            raise unknown_client()
        return None

    async def _with_shared_session(self, handler: Callable[..., Any], message: dict[str, Any],
                                   request: RequestInfo) -> Any:
        return handler(await self._session_for_shared(message), message, request)

    def _with_session(self, handler: Callable[..., Any], message: dict[str, Any], request: RequestInfo) -> Any:
        """``handler(session, message, request)`` now, or once the session arrived from another worker."""
        session = self._session_now(message)
        if session is None:
            return self._with_shared_session(handler, message, request)
        return handler(session, message, request)

    async def _session_for_shared(self, message: dict[str, Any]) -> Session:
        """:meth:`_session_for`; with a cluster, a session handshaken on another worker a moment ago may still
        be on its way over the bus, so an unknown id is looked up again for up to half a second."""
        try:
            return self._session_for(message)
        except BayeuxError:
            client_id = message.get("clientId")
            if self.cluster is None or not isinstance(client_id, str) or not client_id:
                raise
        for _ in range(25):
            await deferLater(self.reactor, 0.02, lambda: None)
            session = self._sessions.get(client_id)
            if session is not None:
                return session
        raise unknown_client()

    async def _decide(self, hook: Callable[..., Any], *args: Any) -> Any:
        """Run a deciding hook; unexpected exceptions become ``500``."""
        try:
            return await _resolve(hook(*args))
        except BayeuxError:
            raise
        except Exception:
            log.failure("Bayeux hook {hook} failed", hook=getattr(hook, "__name__", hook))
            raise BayeuxError(500, "Internal error") from None

    def _notify(self, hook: Callable[..., Any], *args: Any) -> None:
        """Run a notification hook; failures are logged, never propagated."""
        try:
            result = hook(*args)
            if isinstance(result, Deferred):
                result.addErrback(lambda f: log.failure("Bayeux hook failed", f))
            elif inspect.iscoroutine(result):
                ensureDeferred(result).addErrback(lambda f: log.failure("Bayeux hook failed", f))
        except Exception:
            log.failure("Bayeux hook {hook} failed", hook=getattr(hook, "__name__", hook))

    def _check_capacity(self) -> None:
        if self._stopped:
            raise BayeuxError(503, "Server stopping", advice={"reconnect": "handshake", "interval": 5000})
        if len(self._sessions) >= self.settings.max_sessions:
            raise BayeuxError(503, "Too many sessions", advice={"reconnect": "handshake", "interval": 5000})

    async def _handshake(self, message: dict[str, Any], request: RequestInfo) -> list[dict[str, Any]]:
        self._check_capacity()
        offered = message.get("supportedConnectionTypes")
        if isinstance(offered, list) and offered and not set(offered) & set(self.settings.connection_types):
            raise BayeuxError(406, "Unsupported connection types",
                              args=[t for t in offered if isinstance(t, str)], advice={"reconnect": "none"})
        try:
            result = await self._decide(self.hooks.authenticate_handshake, request, message)
        except Denied as denied:
            if denied.advice is None:
                denied.advice = {"reconnect": "none"}
            raise
        if result is False:
            raise Denied("Handshake denied", advice={"reconnect": "none"})
        self._check_capacity()
        session = Session(new_token(), now=self.reactor.seconds(), max_queue=self.settings.max_queue,
                          request=request)
        if isinstance(result, Mapping):
            session.attributes.update(result)
        self._sessions[session.id] = session
        self.counters["handshakes"] += 1
        if self.cluster is not None:
            self.cluster.session_added(session)
        self._notify(self.hooks.on_session_added, session)
        return [self._reply(message, version=BAYEUX_VERSION, minimumVersion=BAYEUX_VERSION,
                            clientId=session.id,
                            supportedConnectionTypes=list(self.settings.connection_types),
                            advice=self._advice(), successful=True)]

    def _connect(self, message: dict[str, Any], request: RequestInfo) -> Any:
        return self._with_session(self._connect_session, message, request)

    def _connect_session(self, session: Session, message: dict[str, Any],
                         request: RequestInfo) -> list[dict[str, Any]] | HeldConnect:
        if self.cluster is not None:
            self.cluster.connected(session)
        connection_type = message.get("connectionType")
        if connection_type is not None and connection_type not in self.settings.connection_types:
            raise BayeuxError(406, "Unsupported connection type", args=[str(connection_type)[:32]])
        session.connection_type = request.transport
        session.last_seen = self.reactor.seconds()
        if session.held is not None:
            # Only one outstanding connect per client: answer the older one now.
            self._release(session.held)
        reply: dict[str, Any] = {"channel": "/meta/connect"}
        if "id" in message:
            reply["id"] = message["id"]
        reply["clientId"] = session.id
        reply["successful"] = True
        reply["advice"] = self._connect_advice  # shared by every connect reply; never changed
        hold = self.settings.timeout
        advice = message.get("advice")
        if isinstance(advice, dict):
            wanted = advice.get("timeout")
            if isinstance(wanted, (int, float)) and not isinstance(wanted, bool) and wanted >= 0:
                hold = min(hold, wanted / 1000.0)
        if not session.connected or session.queue_size or hold <= 0:
            session.connected = True
            return [*self._drain(session), reply]
        if self._held >= self.settings.max_held_connects:
            self.counters["held_refused"] += 1
            reply["advice"] = self._advice(interval=int(self.settings.busy_interval * 1000))
            return [*self._drain(session), reply]
        held = HeldConnect(session, reply)
        session.held = held
        self._held += 1
        self._hold_until(held, self.reactor.seconds() + hold)
        return held

    def _hold_until(self, held: HeldConnect, deadline: float) -> None:
        """Answer *held* at *deadline* unless it is answered earlier; one timer serves every held connect."""
        heapq.heappush(self._deadlines, (deadline, next(self._sequence), held))
        if len(self._deadlines) > 2 * self._held + 64:
            # most entries belong to connects answered early: drop them (linear, amortised)
            self._deadlines = [entry for entry in self._deadlines if not entry[2].done]
            heapq.heapify(self._deadlines)
        timer = self._deadline_timer
        if timer is None or not timer.active():
            self._deadline_timer = self.reactor.callLater(max(0.0, deadline - self.reactor.seconds()),
                                                          self._expire)
            self._deadline_at = deadline
        elif deadline < self._deadline_at:
            timer.reset(max(0.0, deadline - self.reactor.seconds()))
            self._deadline_at = deadline

    def _expire(self) -> None:
        """Answer the held connects whose deadline has come, then wait for the next deadline."""
        self._deadline_timer = None
        now = self.reactor.seconds()
        deadlines = self._deadlines
        while deadlines and (deadlines[0][2].done or deadlines[0][0] <= now):
            _, _, held = heapq.heappop(deadlines)
            if not held.done:
                self._release(held)
        if deadlines and not self._stopped:
            self._deadline_at = deadlines[0][0]
            self._deadline_timer = self.reactor.callLater(max(0.0, self._deadline_at - now), self._expire)

    def _channels(self, message: dict[str, Any]) -> list[ChannelId]:
        names = message.get("subscription")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise BayeuxError(400, "Missing subscription")
        if len(names) > self.settings.max_subscriptions:
            raise BayeuxError(409, "Too many subscriptions")
        return [ChannelId(name, max_length=self.settings.max_channel_length) for name in names]

    async def _subscribe(self, message: dict[str, Any], request: RequestInfo) -> list[dict[str, Any]]:
        session = await self._session_for_shared(message)
        channels = self._channels(message)
        for channel in channels:
            if channel.is_meta:
                raise BayeuxError(403, "Meta channels are not subscribable", args=[channel.name])
        new = {c.name for c in channels} - session.subscriptions
        if len(session.subscriptions) + len(new) > self.settings.max_subscriptions:
            raise BayeuxError(409, "Too many subscriptions")
        for channel in channels:
            try:
                allowed = await self._decide(self.hooks.can_subscribe, session, channel.name, message)
            except Denied as denied:
                if not denied.error_args:
                    denied.error_args = [channel.name]
                raise
            if not allowed:
                raise BayeuxError(403, "Subscription denied", args=[channel.name])
        if session.removed:
            raise unknown_client()
        for channel in channels:
            if channel.name not in session.subscriptions:
                session.subscriptions.add(channel.name)
                self._index_add(session, channel.name)
                self._notify(self.hooks.on_subscribe, session, channel.name)
        if self.cluster is not None:
            self.cluster.subscriptions_changed(session, [c.name for c in channels], True)
        return [self._reply(message, clientId=session.id, subscription=message["subscription"], successful=True)]

    def _unsubscribe(self, message: dict[str, Any], request: RequestInfo) -> Any:
        return self._with_session(self._unsubscribe_session, message, request)

    def _unsubscribe_session(self, session: Session, message: dict[str, Any],
                             request: RequestInfo) -> list[dict[str, Any]]:
        channels = self._channels(message)
        for channel in channels:
            if channel.name in session.subscriptions:
                session.subscriptions.discard(channel.name)
                self._unindex(session, channel.name)
                self._notify(self.hooks.on_unsubscribe, session, channel.name)
        if self.cluster is not None:
            self.cluster.subscriptions_changed(session, [c.name for c in channels], False)
        return [self._reply(message, clientId=session.id, subscription=message["subscription"], successful=True)]

    def _disconnect(self, message: dict[str, Any], request: RequestInfo) -> Any:
        return self._with_session(self._disconnect_session, message, request)

    def _disconnect_session(self, session: Session, message: dict[str, Any],
                            request: RequestInfo) -> list[dict[str, Any]]:
        self.counters["disconnected"] += 1
        self._remove(session, "disconnect")
        return [self._reply(message, clientId=session.id, successful=True)]

    async def _client_publish(self, message: dict[str, Any], request: RequestInfo) -> list[dict[str, Any]]:
        session = await self._session_for_shared(message)
        channel = ChannelId(message["channel"], allow_wildcards=False, max_length=self.settings.max_channel_length)
        if "data" not in message:
            raise BayeuxError(400, "Missing data")
        allowed = await self._decide(self.hooks.can_publish, session, channel.name, message)
        if not allowed:
            raise Denied("Publish denied")
        if session.removed:
            raise unknown_client()
        self._notify(self.hooks.on_publish, session, channel.name, message)
        if channel.is_broadcast:
            self.publish(channel.name, message["data"])
        return [self._reply(message, successful=True)]

    def _drain(self, session: Session) -> list[dict[str, Any]]:
        """Take a session's queued messages for delivery; tells :attr:`delivery_observer` how long each waited."""
        messages = session.drain()
        if self.delivery_observer is not None and session.drained_stamps:
            now = time.monotonic()
            for stamp in session.drained_stamps:
                self.delivery_observer(now - stamp)
        return messages

    def _wake(self) -> None:
        """Answer the held connects that got messages during the previous reactor turn."""
        waking, self._waking, self._wake_timer = self._waking, [], None
        for held in waking:
            if held.push is None or held.done or held.session.removed:
                self._release(held)
                continue
            held.waking = False  # the connect stays held: the next message wakes it again
            messages = self._drain(held.session)
            if messages:
                held.push(messages)

    def _release(self, held: HeldConnect, **reply_fields: Any) -> None:
        """Answer a held connect now with whatever is queued."""
        if held.done:
            return
        session = held.session
        self._unhold(held)
        reply = dict(held.reply, **reply_fields)
        messages = [] if session.removed else self._drain(session)
        held.fire([*messages, reply])

    def _unhold(self, held: HeldConnect) -> None:
        session = held.session
        if session.held is held:
            session.held = None
        self._held -= 1
        session.last_seen = self.reactor.seconds()

    def _index_add(self, session: Session, name: str) -> None:
        self._index.setdefault(name, set()).add(session.id)
        self._index_version += 1

    def _unindex(self, session: Session, name: str) -> None:
        ids = self._index.get(name)
        self._index_version += 1
        if ids is not None:
            ids.discard(session.id)
            if not ids:
                del self._index[name]

    def _remove(self, session: Session, reason: str) -> None:
        if session.removed:
            return
        session.removed = True
        self._sessions.pop(session.id, None)
        for name in session.subscriptions:
            self._unindex(session, name)
        session.drain()
        if session.held is not None:
            if reason == "disconnect":
                self._release(session.held, advice={"reconnect": "none", "interval": 0})
            else:
                error = unknown_client()
                self._release(session.held, successful=False, error=error.error, advice=error.advice)
        if self.cluster is not None:
            self.cluster.session_removed(session, reason)
        self._notify(self.hooks.on_session_removed, session, reason)
