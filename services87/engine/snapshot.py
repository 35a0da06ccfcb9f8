"""What the calculators read, held in memory for one data version.

The aggregates are small (a few hundred open-count rows, a slot row per 15 minutes of the panels' range),
so a cold answer - a new time zone, a new user - need not run SQL for each of its panels. A
:class:`Snapshot` reads each part from the store once, on first use, and keeps it for its data version; a
write bumps the version, and the next computation starts a new snapshot. Slot sums over any ``[start, end)``
are two bisections in prefix sums of the slot table, so a bucket panel for a new zone costs microseconds.

Every part is read through public :class:`~services87.engine.storage.Store` methods (the SQL stays in the
store), and each equals what the store's direct reads give at that version (tests/engine/test_snapshot.py).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from itertools import accumulate

from services87.engine import schema as t
from services87.engine.storage.reads import closed_since

SLOT = t.SLOT_SECONDS
#: How far back from the first bounds asked the slot tables are held (further back: the store's own sums).
MARGIN = 40 * 86400


class _Slots:
    """Prefix sums of one slot table from ``since`` on."""

    def __init__(self, rows: list[tuple], since: int, width: int):
        self.since = since
        self.slots = [r[0] for r in rows]
        self.prefix = [list(accumulate((r[1 + k] for r in rows), initial=0)) for k in range(width)]

    def covers(self, bounds) -> bool:
        return all(start >= self.since for start, _end in bounds)

    def sums(self, bounds) -> list[tuple]:
        out = []
        slots, prefix = self.slots, self.prefix
        for start, end in bounds:
            i, j = bisect_left(slots, -(-start // SLOT)), bisect_left(slots, -(-end // SLOT))
            out.append(tuple(float(p[j] - p[i]) for p in prefix))
        return out


class Snapshot:
    """The parts of one data version, each read on first use (thread-safe: one reader per part)."""

    def __init__(self, store, version: int):
        self.store = store
        self.version = version
        self._parts: dict = {}
        self._lock = threading.RLock()  # a part may read another (dims: open counts)

    def _part(self, key, read):
        hit = self._parts.get(key)
        if hit is None:
            with self._lock:
                hit = self._parts.get(key)
                if hit is None:
                    hit = self._parts[key] = read()
        return hit

    # ------------------------------------------------------------------ reference data, flags, warnings
    @property
    def reference(self) -> dict:
        return self._part("reference", self.store.reference)

    def category_flags(self) -> dict[int, tuple[bool, bool]]:
        return self._part("flags", self.store.category_flags)

    def system_warnings(self) -> list[str]:
        return self._part("warnings", self.store.system_warnings)

    def unassigned_by_category(self) -> dict[int, int]:
        return self._part("unassigned", self.store.unassigned_by_category)

    # ------------------------------------------------------------------ open counts
    @property
    def open_counts(self) -> dict[tuple[str, int, int], int]:
        return self._part("open", self.store.open_counts)

    def dims(self) -> dict[str, dict[int, int]]:
        """``open_counts`` per dimension, ``{dim: {k1: n}}``, exactly as :meth:`CalcInput.dim` reads them."""
        def read():
            out: dict[str, dict[int, int]] = defaultdict(dict)
            for (d, k1, _k2), n in self.open_counts.items():
                out[d][k1] = n
            return dict(out)

        return self._part("dims", read)

    # ------------------------------------------------------------------ slot tables
    def slot_sums(self, table: str, bounds) -> list[tuple]:
        """:meth:`Store.slot_sums`, from prefix sums held for this version."""
        if not bounds:
            return []
        key = ("slots", table)
        held = self._parts.get(key)
        if held is None or not held.covers(bounds):
            since = min(start for start, _end in bounds) - MARGIN
            with self._lock:
                held = self._parts.get(key)
                if held is None or not held.covers(bounds):
                    if held is not None:
                        since = min(since, held.since)
                    held = self._parts[key] = _Slots(self.store.slot_rows(table, since), since,
                                                     1 if table == "created" else 3)
        return held.sums(bounds)

    # ------------------------------------------------------------------ the asking user's figures
    def own_summary(self, user_id: int, day_start: int, day_end: int, hidden: frozenset) -> dict[str, int]:
        """:meth:`Store.own_summary`, the day-independent counts and the closing times held per user."""
        counts = self._part(("own", user_id, hidden), lambda: self.store.own_counts(user_id, hidden))
        since = closed_since(day_start)
        closed = self._part(("closed", user_id, hidden, since),
                            lambda: self.store.closed_times(user_id, hidden, since))
        return dict(counts, closed_today=bisect_left(closed, day_end) - bisect_left(closed, day_start))


class Snapshots:
    """The snapshot of the newest data version asked (older ones are dropped)."""

    def __init__(self, store):
        self.store = store
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    def at(self, version: int) -> Snapshot:
        snap = self._current
        if snap is not None and snap.version == version:
            return snap
        with self._lock:
            snap = self._current
            if snap is None or snap.version != version:
                snap = Snapshot(self.store, version)
                if self._current is None or version > self._current.version:
                    self._current = snap
            return snap
