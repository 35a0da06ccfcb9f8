"""A bounded, thread-safe LRU of serialized responses.

Entries are invalidated by version, never by timer: either the key carries the data version (an entry made
under an older version is never asked for again and ages out of the LRU), or the value carries its validity
and ``get(key, valid=...)`` checks it (``services87/http/warm.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class ResponseCache:
    def __init__(self, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def get(self, key: Hashable, valid=None):
        """The value stored under ``key``; ``valid(value)`` false counts (and answers) as a miss."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None or (valid is not None and not valid(entry[0])):
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value, size: int | None = None) -> None:
        """Store ``value``; ``size`` (bytes) defaults to ``len(value)``."""
        size = len(value) if size is None else size
        if not self.enabled or size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, size)
            self._bytes += size
            while self._data and (len(self._data) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict:
        return {"entries": len(self._data), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}
