"""The one way to a warm answer, shared by SOAP ``GetStatistics``, REST ``GetStatistics`` and Genesys
``get-statistic-ex``.

An adapter keys an answer by its *question* only (who asks, what, in which shape); the answer itself carries
its :class:`~services87.engine.model.Validity` from the engine (the data version it was computed under and
the clock interval the calculators involved hold for). An entry is served only while its validity holds for
the current data version and the clock, so no adapter knows the engine's clocks: change a calculator's
clock step and every cache follows.

Two places look an answer up:

* :meth:`WarmPath.on_reactor` - on the reactor thread, without a thread hop, when the version watch proves
  the versions read last are still current (``services87/engine/versionwatch.py``); the adapter's
  ``key_of(versions)`` checks the credential under those versions (from its cache of validated credentials)
  and names the question, or declines (``None``: the normal path).
* :meth:`WarmPath.get` - on a store thread, with the versions just read (the normal path, after the
  credentials were validated); on a miss the adapter computes, serializes and :meth:`WarmPath.put`\\ s.

Only successful answers are stored. There is no coalescing of concurrent identical misses (there was none
before either): two simultaneous misses both compute, and the engine's own data-set cache makes the second
cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from services87.engine.model import Validity

if TYPE_CHECKING:
    from services87.engine.versionwatch import VersionWatch
    from services87.server import AnswerCacheName, Services87Server

#: ``(data_version, auth_version)``
Versions = tuple[int, int]


class WarmPath:
    """The answer cache of one adapter, with its validity checks and its reactor-thread lookup."""

    def __init__(self, hs: Services87Server, name: AnswerCacheName, clock: Callable[[], float] = time.time,
                 watch: VersionWatch | None = None):
        self.name = name
        self.cache = hs.get_answer_cache(name)  # one per server, shared by every resource of the adapter
        self.watch = watch if watch is not None else hs.get_version_watch()
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.cache.enabled

    def current_versions(self) -> Versions | None:
        """Reactor thread: the versions read last, when the version watch proves them current; else ``None``."""
        return self.watch.current()

    def on_reactor(self, key_of: Callable[[Versions], Hashable | None]):
        """Reactor thread: the stored payload for ``key_of(versions)`` when the version watch proves
        ``versions`` current and the entry's validity holds for them and the clock; else ``None``."""
        if not self.cache.enabled:
            return None
        versions = self.current_versions()
        if versions is None:
            return None
        key = key_of(versions)
        if key is None:
            return None
        hit = self.get(key, versions[0])
        if hit is not None:
            self.answered_on_reactor()
        return hit

    def answered_on_reactor(self) -> None:
        """Count a request answered on the reactor thread (``/debug/blocking``: ``version_watch.answered``)."""
        self.watch.reactor_answers += 1

    def get(self, key: Hashable, data_version: int):
        """The payload stored under ``key`` if its validity holds at ``data_version`` and now, else ``None``."""
        if key is None or not self.cache.enabled:
            return None
        now = self.clock()
        entry = self.cache.get(key, valid=lambda e: e[1].holds(data_version, now))
        return None if entry is None else entry[0]

    def put(self, key: Hashable, payload, validity: Validity, size: int | None = None) -> None:
        """Keep ``payload`` (a successful answer) for ``key`` while ``validity`` holds. ``size`` in bytes
        (default ``len(payload)``)."""
        if key is None or not self.cache.enabled:
            return
        self.cache.put(key, (payload, validity), size=len(payload) if size is None else size)
