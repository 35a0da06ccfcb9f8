"""Bayeux sessions shared by several worker processes (``services87 serve --workers N``).

Design (docs/deployment.md):

* **Every worker knows every session.** Handshakes, subscription changes and removals are replicated over a
  bus (:class:`services87.engine.notify.PgBus`: PostgreSQL LISTEN/NOTIFY, one total order seen by all
  workers). So a ``/meta/subscribe`` or ``/meta/connect`` is valid whichever worker it lands on, and an
  application on any worker can find a session (by id, cookie or attributes) to ``deliver`` to.
* **One worker owns a session's queue**: the worker that last served its ``/meta/connect`` (at first the one
  that served the handshake). Only the owner queues messages. Another worker that delivers to the session, or
  publishes on a channel, sends the message on the bus; in bus order, the worker that owns the session at that
  point queues it. A connect that lands on another worker claims ownership on the bus; when the old owner reads
  the claim it hands its queued messages over (on the bus, after the claim) and answers its held connect. No
  message is queued twice, none is lost while every worker lives.
* Sessions are swept by their owner (``max_interval``), and the removal is replicated. Every worker says it is
  alive on the bus every :data:`HEARTBEAT` seconds (from its sweep); a worker not heard of for
  :data:`PEER_SILENT` seconds is gone (a worker that dies is restarted under another id), and the sessions it
  owned that no client claimed meanwhile are swept by every other worker alike, each on its own (no removal
  on the bus), instead of staying forever as replicas without an owner.

Bus messages are versioned JSON (``"v": 1``) and validated on receipt: anyone who can ``NOTIFY`` on the
database channel can put a message on the bus, so nothing in one is ever unpickled or evaluated, and a
message that does not have the expected shape is dropped and logged. Session attributes (what
``authenticate_handshake`` returned) travel as a JSON object of short scalars; others are not replicated.
A worker that dies takes the queued messages of the sessions it owned with it; their clients' next connect on
another worker claims the session and goes on.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.logger import Logger

from .request import RequestInfo
from .server import REMOVAL_REASONS, BayeuxServer
from .session import Session

log = Logger()


#: Version of the bus messages written here; others are rejected.
VERSION = 1
OPS = frozenset({"add", "sub", "unsub", "remove", "own", "deliver", "publish", "alive"})
#: Seconds between two "alive" messages of a worker.
HEARTBEAT = 5.0
#: Seconds without any message from a worker after which it is taken for gone (six heartbeats: a bus that
#: stalls for a moment under load does not make a live worker's sessions disappear).
PEER_SILENT = 30.0
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_ATTRS = 32
MAX_TEXT = 512


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= MAX_TEXT)


def encode_attrs(attributes: dict) -> dict:
    """The replicable part of a session's attributes: string keys, short scalar values."""
    return {k: v for k, v in attributes.items() if isinstance(k, str) and len(k) <= 64 and _scalar(v)}


class BusMessageError(ValueError):
    pass


def validate(data: Any) -> dict:
    """A bus message as written by :meth:`BayeuxCluster._send`, else :class:`BusMessageError`."""
    if not isinstance(data, dict):
        raise BusMessageError("not a JSON object")
    if data.get("v") != VERSION:
        raise BusMessageError(f"unsupported version {data.get('v')!r}")
    op = data.get("op")
    if op not in OPS:
        raise BusMessageError(f"unknown op {op!r}")
    if op not in ("publish", "alive") and not (isinstance(data.get("sid"), str) and _ID.match(data["sid"])):
        raise BusMessageError("missing or malformed sid")
    if op == "add":
        attrs = data.get("attrs")
        if not isinstance(attrs, dict) or len(attrs) > MAX_ATTRS or encode_attrs(attrs) != attrs:
            raise BusMessageError("attrs must be a JSON object of short scalars")
        for key in ("browser", "cookie"):
            if data.get(key) is not None and not (isinstance(data[key], str) and len(data[key]) <= MAX_TEXT):
                raise BusMessageError(f"malformed {key}")
        subs = data.get("subs") or []
        if not isinstance(subs, list) or not all(isinstance(n, str) and len(n) <= MAX_TEXT for n in subs):
            raise BusMessageError("malformed subs")
    elif op in ("sub", "unsub"):
        names = data.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) and len(n) <= MAX_TEXT for n in names):
            raise BusMessageError("malformed names")
    elif op == "remove":
        if data.get("reason") is not None and data["reason"] not in REMOVAL_REASONS:
            raise BusMessageError("malformed reason")
    elif op in ("deliver", "publish"):
        if not isinstance(data.get("msg"), dict):
            raise BusMessageError("malformed msg")
        if op == "publish" and not isinstance(data.get("channel"), str):
            raise BusMessageError("malformed channel")
    return data


class BayeuxCluster:
    """Shares the sessions of *server* with the other workers over *bus* (a
    :class:`services87.engine.notify.PgBus`, or anything with its ``worker_id``, ``subscribe`` and ``send``).

    The server calls :meth:`owns`, :meth:`session_added`, :meth:`connected`, ... when its sessions change or
    a message is for a session another worker owns; the messages of the other workers are applied through the
    server's public interface (:meth:`BayeuxServer.add_replica` and the methods beside it).
    """

    def __init__(self, server: BayeuxServer, bus: Any, name: str):
        self.server = server
        self.bus = bus
        self.name = name
        self.me = bus.worker_id
        self.owner: dict[str, str] = {}
        self.heard: dict[str, float] = {}  # worker id -> reactor time of its last bus message
        self._alive_sent: float | None = None
        self.topic = f"bayeux:{name}"
        self._applying = False
        self.rejected = 0  # bus messages refused by validate()
        bus.subscribe(self.topic, self._on_bus, reactor=True)
        server.cluster = self

    # ------------------------------------------------------------------ called by BayeuxServer (reactor thread)
    def owns(self, session: Session) -> bool:
        return self.owner.get(session.id, self.me) == self.me

    def session_added(self, session: Session) -> None:
        self.owner[session.id] = self.me
        self._send("add", sid=session.id, attrs=encode_attrs(session.attributes), browser=session.browser_id,
                   cookie=session.session_cookie, subs=sorted(session.subscriptions))

    def subscriptions_changed(self, session: Session, names: list[str], added: bool) -> None:
        if not self._applying:
            self._send("sub" if added else "unsub", sid=session.id, names=names)

    def session_removed(self, session: Session, reason: str) -> None:
        owner = self.owner.pop(session.id, self.me)
        if self._applying or reason not in ("disconnect", "expired", "removed"):
            return
        if reason == "expired" and owner != self.me:
            return  # the session of a gone worker: every worker sweeps it on its own (sweepable)
        self._send("remove", sid=session.id, reason=reason)

    def connected(self, session: Session) -> None:
        if self.owner.get(session.id) != self.me:
            self._send("own", sid=session.id)

    def forward_deliver(self, session: Session, message: dict) -> None:
        self._send("deliver", sid=session.id, msg=message)

    def forward_publish(self, channel: str, message: dict) -> None:
        self._send("publish", channel=channel, msg=message)

    def sweepable(self, session: Session, now: float) -> bool:
        """Whether this worker's sweep (at reactor time ``now``) may expire ``session``: its own, or one whose
        owner is gone (silent since ``now`` if never heard of)."""
        if self.owns(session):
            return True
        return now - self.heard.setdefault(self.owner[session.id], now) > PEER_SILENT

    def tick(self, now: float) -> None:
        """Called by the server's sweep: tell the other workers this one is alive, every :data:`HEARTBEAT`."""
        if self._alive_sent is None or now - self._alive_sent >= HEARTBEAT:
            self._alive_sent = now
            self._send("alive")

    # ------------------------------------------------------------------ bus
    def _send(self, op: str, **data: Any) -> None:
        data["op"] = op
        data["v"] = VERSION
        self.bus.send(self.topic, data)

    def _on_bus(self, data: dict, sender: str) -> None:
        try:
            validate(data)
        except BusMessageError as exc:
            log.warn("Rejected a malformed Bayeux bus message from {sender}: {why}", sender=str(sender)[:64],
                     why=str(exc))
            self.rejected += 1
            return
        op = data.get("op")
        s = self.server
        self.heard[str(sender)] = s.reactor.seconds()
        if op == "alive":
            return
        sid: str = data.get("sid") or ""  # validate(): a well-formed id but for "publish" and "alive"
        session = s.session(sid) if sid else None
        self._applying = True
        try:
            if op == "add":
                if sender == self.me or session is not None:
                    return
                info = RequestInfo(transport="long-polling", browser_id=data.get("browser"),
                                   session_cookie=data.get("cookie"))
                self.owner[sid] = sender
                s.add_replica(sid, request=info, attributes=data["attrs"], subscriptions=data.get("subs") or ())
            elif op in ("sub", "unsub"):
                if session is None or sender == self.me:
                    return
                if op == "sub":
                    s.subscribe_replica(session, data["names"])
                else:
                    s.unsubscribe_replica(session, data["names"])
            elif op == "remove":
                if session is not None and sender != self.me:
                    s.remove_session(session, data.get("reason") or "removed")
                self.owner.pop(sid, None)
            elif op == "own":
                if session is None:
                    return
                previous = self.owner.get(sid)
                self.owner[sid] = sender
                if previous == self.me and sender != self.me:
                    # hand the queue over, after the claim in bus order; answer the connect we hold
                    for message in session.drain():
                        self._send("deliver", sid=sid, msg=message)
                    s.release_held(session)
            elif op == "deliver":
                if session is not None and self.owns(session) and not session.removed:
                    s.enqueue(session, data["msg"])
            elif op == "publish":
                for target in s.subscribers(data["channel"]):
                    if self.owns(target):
                        s.enqueue(target, dict(data["msg"]))
        except Exception:
            log.failure("Bayeux cluster message {op} failed", op=op)
        finally:
            self._applying = False

