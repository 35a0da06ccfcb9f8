"""Blocking-call detector (debug mode: setting ``debug_blocking_ms`` > 0, env ``SERVICES87_DEBUG_BLOCKING_MS``).

Two checks, both recorded and logged, never raised into the request:

* **store calls on the reactor thread**: a SQLAlchemy ``before_cursor_execute`` hook on the store's engine (so
  every SQL statement, whichever module issues it), a pool ``checkout`` hook (raw DBAPI use such as
  ``Store.versions``) and a wrapper around ``StatisticsEngine.compute`` record the stack of any call made on
  the reactor thread. All such work must go through ``hs.run_blocking``.
* **slow reactor turns**: a watchdog thread watches a heartbeat the reactor updates every few milliseconds; when
  it goes stale for longer than the threshold, the reactor thread's current stack is recorded.

``GET /debug/blocking`` answers the records as JSON (mounted only in debug mode), with the response caches'
statistics (``caches``: entries, hits, misses) and the version watch's (``version_watch``: checks that
allowed an answer without a hop, ``clean``, and refused, ``dirty``; requests then answered on the reactor
thread, ``answered``). ``GET /debug/blocking?probe=1``
makes one deliberate store call on the reactor thread, so a test can check that the detector itself works.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING

import sqlalchemy as sa
from twisted.internet.task import LoopingCall
from twisted.web import resource

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger("services87.debug")

MAX_RECORDS = 200


class BlockingDetector:
    def __init__(self, hs: Services87Server, threshold_ms: int):
        self.hs = hs
        self.threshold = threshold_ms / 1000.0
        self.reactor_thread: int | None = None
        self.store_calls: list[dict] = []
        self.slow: list[dict] = []
        self._beat = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # ------------------------------------------------------------------ store calls
    def on_reactor(self) -> bool:
        return self.reactor_thread is not None and threading.get_ident() == self.reactor_thread

    def record_store_call(self, what: str) -> None:
        stack = "".join(traceback.format_stack(limit=14)[:-2])
        log.error("blocking call on the reactor thread: %s\n%s", what, stack)
        with self._lock:
            if len(self.store_calls) < MAX_RECORDS:
                self.store_calls.append({"call": what[:300], "stack": stack[-3000:]})

    def install_store_hooks(self) -> None:
        def before(conn, cursor, statement, parameters, context, executemany):
            if self.on_reactor():
                self.record_store_call("SQL: " + " ".join(str(statement).split())[:200])

        sa.event.listen(self.hs.get_store().engine, "before_cursor_execute", before)

        def checkout(dbapi_connection, record, proxy):  # also catches raw DBAPI use (Store.versions)
            if self.on_reactor():
                self.record_store_call("SQL: connection checkout")

        sa.event.listen(self.hs.get_store().engine.pool, "checkout", checkout)
        engine = self.hs.get_engine()
        compute = engine.compute

        def checked_compute(*args, **kwargs):
            if self.on_reactor():
                self.record_store_call("StatisticsEngine.compute")
            return compute(*args, **kwargs)

        engine.compute = checked_compute  # type: ignore[method-assign]  # wrapped in debug mode only

    # ------------------------------------------------------------------ slow reactor turns
    def _heartbeat(self) -> None:
        self._beat = time.monotonic()

    def _watch(self) -> None:
        reported_for = None
        while not self._stop.wait(self.threshold / 4):
            beat = self._beat
            late = time.monotonic() - beat
            if late > self.threshold and reported_for != beat and self.reactor_thread is not None:
                reported_for = beat
                # the standard library's one way to read another thread's stack
                frame = sys._current_frames().get(self.reactor_thread)  # noqa: SLF001
                stack = "".join(traceback.format_stack(frame, limit=12)) if frame else ""
                with self._lock:
                    if len(self.slow) < MAX_RECORDS:
                        self.slow.append({"late_ms": round(late * 1000, 1), "stack": stack[-3000:]})
                log.warning("reactor thread blocked for %.0f ms:\n%s", late * 1000, stack)

    def start(self) -> None:
        reactor = self.hs.reactor

        def started():
            self.reactor_thread = threading.get_ident()
            beat = LoopingCall(self._heartbeat)
            beat.clock = reactor
            beat.start(min(0.005, self.threshold / 4))
            threading.Thread(target=self._watch, name="services87-blocking-watchdog", daemon=True).start()

        reactor.callWhenRunning(started)
        reactor.addSystemEventTrigger("before", "shutdown", self._stop.set)

    def report(self) -> dict:
        with self._lock:
            return {"threshold_ms": self.threshold * 1000, "store_calls_on_reactor": list(self.store_calls),
                    "slow_reactor_turns": list(self.slow)}


class DebugResource(resource.Resource):
    isLeaf = True

    def __init__(self, detector: BlockingDetector):
        super().__init__()
        self.detector = detector

    def render_GET(self, request):
        if request.args.get(b"probe") == [b"1"]:
            self.detector.hs.get_store().get_meta("data_version")  # deliberately on the reactor thread
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        hs = self.detector.hs
        report = dict(self.detector.report())
        report["caches"] = {f"{name}.response_cache": c.stats() for name, c in hs.answer_caches().items()}
        watch = hs.get_version_watch.built()
        report["version_watch"] = watch.stats() if watch is not None else None
        return json.dumps(report).encode()


def install(hs: Services87Server, threshold_ms: int) -> BlockingDetector:
    """Turn the detector on for ``hs`` (before the reactor runs). :meth:`Services87Server.get_blocking_detector`
    calls this, and mounts ``/debug/blocking`` (:class:`DebugResource`)."""
    det = BlockingDetector(hs, threshold_ms)
    det.install_store_hooks()
    det.start()
    log.warning("blocking-call detector on (threshold %d ms): /debug/blocking", threshold_ms)
    return det
