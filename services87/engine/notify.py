"""Cross-process change events: a small message bus on PostgreSQL ``LISTEN``/``NOTIFY``.

With ``services87 serve --workers N`` every worker process holds its own store, engine and push subscribers.
A committed write emits a :class:`~services87.engine.storage.database.ChangeEvent` only in the process that wrote, so
:func:`attach_store` forwards each local event on the bus and re-emits the events of the other workers to the
local listeners: ingest on any worker reaches the push subscribers of every worker. Caches need nothing: they
are keyed by the data version, read from the database.

The bus carries other topics too (the Bayeux session replication of :mod:`services87.bayeux.cluster`).
Messages are JSON; PostgreSQL's 8,000-byte payload limit is handled by sending large messages in chunks in
one transaction (a transaction's notifications are delivered together and in order). Every listener sees all
notifications in the same (commit) order, which the Bayeux replication relies on.

Threads: one listener thread per process (a dedicated connection in autocommit mode, ``LISTEN``) and one
sender thread (its own connection); :meth:`PgBus.send` only queues, so it is safe on the reactor thread.
Handlers run on the listener thread unless registered with ``reactor=True``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from services87.engine.storage.database import ChangeEvent

log = logging.getLogger(__name__)

CHANNEL = "services87_bus"
#: Largest payload sent in one NOTIFY (PostgreSQL's limit is 8,000 bytes).
CHUNK = 7000


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) → ``postgresql://...`` (libpq)."""
    scheme, sep, rest = url.partition("://")
    return "postgresql" + sep + rest if scheme.startswith("postgresql") else url


class PgBus:
    def __init__(self, url: str, reactor=None, channel: str = CHANNEL, worker_id: str | None = None):
        self.url = _libpq_url(url)
        self.reactor = reactor
        self.channel = channel
        self.worker_id = worker_id or f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._handlers: dict[str, list[tuple[Callable[[dict, str], None], bool]]] = {}
        self._out: queue.Queue = queue.Queue()
        self._chunks: dict[str, list] = {}
        self._seq = itertools.count()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sent = 0
        self.received = 0

    # ------------------------------------------------------------------ API
    @property
    def listening(self) -> bool:
        """The listener connection is up and LISTENing (readiness)."""
        return self._listening.is_set() and not self._stopping.is_set()

    def subscribe(self, topic: str, handler: Callable[[dict, str], None], reactor: bool = False) -> None:
        """``handler(data, sender_worker_id)`` for every message on ``topic`` (own messages included)."""
        self._handlers.setdefault(topic, []).append((handler, reactor))

    def send(self, topic: str, data: Any) -> None:
        """Queue a message; it is sent in order by the sender thread. Never blocks."""
        self._out.put((topic, data))

    def start(self, timeout: float = 30.0) -> PgBus:
        for target, name in ((self._listen, "services87-bus-listen"), (self._send_loop, "services87-bus-send")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        if not self._listening.wait(timeout):
            raise RuntimeError("the PostgreSQL notification listener did not start")
        if self.reactor is not None:
            self.reactor.addSystemEventTrigger("before", "shutdown", self.stop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._out.put(None)

    # ------------------------------------------------------------------ threads
    def _send_loop(self) -> None:
        import psycopg  # noqa: PLC0415 - the optional postgres extra; only a PostgreSQL deployment runs the bus

        conn = None
        while not self._stopping.is_set():
            item = self._out.get()
            if item is None:
                break
            topic, data = item
            payload = json.dumps({"w": self.worker_id, "t": topic, "d": data}, separators=(",", ":"), default=str)
            for _attempt in range(3):
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self.url, autocommit=False)
                    with conn.transaction():
                        for part in self._parts(payload):
                            conn.execute("SELECT pg_notify(%s, %s)", (self.channel, part))
                    self.sent += 1
                    break
                except Exception as exc:  # a lost connection: reconnect and resend
                    log.warning("bus send failed (%s), retrying", exc)
                    try:
                        if conn is not None:
                            conn.close()
                    except Exception:
                        pass
                    conn = None
            else:
                log.error("bus message %s dropped after 3 attempts", topic)
        if conn is not None:
            conn.close()

    def _parts(self, payload: str) -> list[str]:
        if len(payload.encode()) <= CHUNK:
            return [payload]
        mid = f"{self.worker_id}:{next(self._seq)}"
        raw = payload.encode()
        pieces = [raw[i:i + CHUNK // 2] for i in range(0, len(raw), CHUNK // 2)]
        # base64-free: the pieces are UTF-8 bytes; carry them as latin-1 text inside JSON strings
        return [json.dumps({"c": mid, "i": i, "n": len(pieces), "p": p.decode("latin-1")}, separators=(",", ":"))
                for i, p in enumerate(pieces)]

    def _listen(self) -> None:
        import psycopg  # noqa: PLC0415 - the optional postgres extra; only a PostgreSQL deployment runs the bus

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._listening.set()
                    while not self._stopping.is_set():
                        for n in conn.notifies(timeout=0.5):
                            self._received(n.payload)
            except Exception as exc:
                self._listening.clear()
                if self._stopping.is_set():
                    break
                log.warning("bus listener lost its connection (%s); reconnecting", exc)
                self._stopping.wait(0.5)

    def _received(self, payload: str) -> None:
        try:
            msg = json.loads(payload)
            if "c" in msg:  # a chunk
                parts = self._chunks.setdefault(msg["c"], [None] * msg["n"])
                parts[msg["i"]] = msg["p"]
                if any(p is None for p in parts):
                    return
                del self._chunks[msg["c"]]
                msg = json.loads("".join(parts).encode("latin-1").decode())
            self.received += 1
            topic, data, sender = msg["t"], msg["d"], msg["w"]
        except Exception:
            log.exception("bad bus message dropped")
            return
        for handler, on_reactor in self._handlers.get(topic, ()):
            if on_reactor and self.reactor is not None:
                self.reactor.callFromThread(_safe, handler, data, sender)
            else:
                _safe(handler, data, sender)


def _safe(handler, data, sender) -> None:
    try:
        handler(data, sender)
    except Exception:
        log.exception("bus handler failed")


# --------------------------------------------------------------------------- store change events
_replaying = threading.local()


def attach_store(store, bus: PgBus) -> None:
    """Forward this process's committed writes to the bus; re-emit the other workers' writes locally."""

    def local(ev: ChangeEvent) -> None:
        if getattr(_replaying, "active", False):
            return
        bus.send("change", {"version": ev.version, "kind": ev.kind, "ids": list(ev.ids), "actor": ev.actor,
                            "detail": ev.detail})

    def remote(data: dict, sender: str) -> None:
        if sender == bus.worker_id:
            return
        ev = ChangeEvent(int(data["version"]), data["kind"], tuple(data.get("ids") or ()), data.get("actor"),
                         data.get("detail") or {})
        _replaying.active = True
        try:
            store.emit(ev)  # listeners expect a non-reactor thread, as after a local commit
        finally:
            _replaying.active = False

    store.add_listener(local)
    bus.subscribe("change", remote)
