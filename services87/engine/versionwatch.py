"""Tell on the reactor thread, in microseconds, whether the versions last read from the database still hold.

A cached answer is keyed by ``(data_version, auth_version)``. Reading them is one query on a store thread, so
every warm answer used to cost a thread hop, because any process (the CLI's ``import``/``users``/``demo``,
another worker) may commit at any moment. :class:`VersionWatch` removes the hop when it can prove nothing was
committed since the last read:

* :meth:`Store.versions` reports each read here: the database's **change signal is taken before the query**
  and recorded with its result. A commit racing the read changes the signal after it was taken, so the
  recorded pair is never trusted past it.
* :meth:`current` (reactor thread) takes the signal again: equal → the recorded versions are current;
  different, missing or unsure → ``None`` and the caller takes the normal path (hop + query).
* A write through this process's :class:`Store` (change listener) or an auth-version bump also marks the
  watch dirty at once (:meth:`mark_dirty`).

The signal (SQLite in WAL mode only) is the first 96 bytes of the ``-shm`` file: SQLite's wal-index header,
kept twice. Every committed write transaction rewrites it (``iChange`` counter, ``mxFrame`` = last valid WAL
frame, the WAL salts), and a commit becomes visible to readers only through it, so no commit can leave it
unchanged: within one WAL generation ``mxFrame`` only grows, and a WAL reset (after a checkpoint, including
``wal_checkpoint(TRUNCATE)``) changes the salts. The two copies of the header are compared as SQLite's
readers do: a torn read (a writer mid-update) counts as unsure. The database file's inode, size and mtime are
compared as well (a file replaced under the server), which can only add false "dirty"; the ``-wal`` file is
not read: everything of it that a commit changes is in the wal-index header (an earlier version read its
header and the result of ``stat`` on it too: two system calls per request that could not change the answer).
``tests/perf/test_versionwatch.py`` shows the wal-index header alone changing with every commit.

Assumed, as by SQLite itself for shared WAL access: every writer uses the shared ``-shm`` wal-index (no
``PRAGMA locking_mode=EXCLUSIVE`` writer beside a running server, which would lock the server out anyway).

PostgreSQL, in-memory SQLite, a database not in WAL mode, or any error reading the files: the watch never
says clean, so every request takes the normal path (one hop and one query), as before.
"""

from __future__ import annotations

import os
import threading

from services87.engine.storage.urls import sqlite_path

#: wal-index header (48 bytes) x 2
_SHM_HEADER = 96


class _OpenFiles:
    """Read-only descriptors of the ``-shm`` and ``-wal`` files, kept open: never closed while in use.

    SQLite locks the wal-index (``-shm``) with POSIX advisory locks, and those belong to the process and the
    file, not to a descriptor: closing *any* descriptor of the file in this process drops every lock this
    process's SQLite holds on it (sqlite.org/howtocorrupt.html, 2.2). Another process opening the database then
    sees no other user, re-initialises (truncates) the ``-shm``, and this process, which has it mapped, dies of
    SIGBUS. So a file is opened once and its descriptor kept; a descriptor is closed only after its file was
    unlinked (SQLite deletes ``-wal``/``-shm`` only when no connection uses them any more)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fds: dict[str, tuple[int, tuple[int, int]]] = {}  # path -> (fd, (st_dev, st_ino))
        self._retired: list[int] = []  # descriptors of replaced files not yet unlinked

    def pread(self, path: str, n: int) -> tuple[bytes, os.stat_result]:
        """The first ``n`` bytes of ``path`` and its ``stat`` (taken before the read)."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            with self._lock:
                entry = self._fds.pop(path, None)
                if entry is not None:
                    self._retired.append(entry[0])
                    self._close_unlinked()
            raise
        with self._lock:
            entry = self._fds.get(path)
            if entry is None or entry[1] != (st.st_dev, st.st_ino):
                fd = os.open(path, os.O_RDONLY)
                fst = os.fstat(fd)
                if entry is not None:
                    self._retired.append(entry[0])
                self._fds[path] = entry = (fd, (fst.st_dev, fst.st_ino))
                self._close_unlinked()
            return os.pread(entry[0], n, 0), st

    def _close_unlinked(self) -> None:
        keep = []
        for fd in self._retired:
            if os.fstat(fd).st_nlink == 0:
                os.close(fd)
            else:
                keep.append(fd)
        self._retired = keep


_FILES = _OpenFiles()


def _read(path: str, n: int) -> tuple[bytes, os.stat_result]:
    return _FILES.pread(path, n)


def sqlite_signal(path: str):
    """A value that changes with every commit to the WAL-mode database ``path``; ``None`` when unsure."""
    try:
        shm, _st = _read(path + "-shm", _SHM_HEADER)
        if len(shm) < _SHM_HEADER or shm[:48] != shm[48:] or shm[12] == 0:  # torn, or not initialized
            return None
        db = os.stat(path)
    except OSError:
        return None
    return (shm[:48], db.st_ino, db.st_size, db.st_mtime_ns)


class VersionWatch:
    """See the module docstring. ``signal`` is a callable returning a comparable change signal or ``None``."""

    def __init__(self, signal=None):
        self._signal = signal
        self._lock = threading.Lock()
        self._generation = 0
        self._known: tuple | None = None  # (signal, (data_version, auth_version))
        self.clean_answers = 0
        self.dirty_answers = 0
        #: requests answered on the reactor thread after a clean check (counted by the adapters' warm paths)
        self.reactor_answers = 0

    @classmethod
    def for_store(cls, store) -> VersionWatch:
        """Watch ``store`` (registered as its versions observer and change listener)."""
        file = sqlite_path(store.url) if getattr(store, "is_sqlite", False) else None
        path = str(file) if file else None
        watch = cls((lambda: sqlite_signal(path)) if path else None)
        store.version_watch = watch
        store.add_listener(watch.mark_dirty)
        return watch

    @property
    def enabled(self) -> bool:
        return self._signal is not None

    # ------------------------------------------------------------------ store threads
    def before_read(self):
        """Taken just before the versions query: ``(signal, generation)``."""
        if self._signal is None:
            return None
        return self._signal(), self._generation

    def after_read(self, token, versions: tuple[int, int]) -> None:
        if token is None or token[0] is None:
            return
        signal, generation = token
        with self._lock:
            if generation == self._generation:
                self._known = (signal, tuple(versions))

    def mark_dirty(self, *_args) -> None:
        """A write through this process: forget the recorded versions (safe from any thread)."""
        with self._lock:
            self._generation += 1
            self._known = None

    # ------------------------------------------------------------------ reactor thread
    def current(self) -> tuple[int, int] | None:
        """``(data_version, auth_version)`` when nothing can have been committed since they were read, else
        ``None`` (the caller reads them on a store thread)."""
        known = self._known
        if known is None:
            self.dirty_answers += 1
            return None
        signal = self._signal()
        if signal is None or signal != known[0]:
            self.dirty_answers += 1
            return None
        self.clean_answers += 1
        return known[1]

    def stats(self) -> dict:
        return {"enabled": self.enabled, "clean": self.clean_answers, "dirty": self.dirty_answers,
                "answered": self.reactor_answers}

