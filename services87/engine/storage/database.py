"""The database of the store: the SQLAlchemy engine, migrations, the data version, change events and the
one write path every feature store uses (:meth:`Database.write`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services87.engine import schema as t
from services87.engine.business_hours import BusinessCalendar
from services87.engine.migrate import upgrade
from services87.engine.model import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
_VERSIONS_SQL = "SELECT key, value FROM meta WHERE key IN ('data_version', 'auth_version')"


@dataclass(frozen=True)
class ChangeEvent:
    """What a committed write changed. ``kind`` is e.g. ``requests``, ``message``, ``hotlist``, ``users``."""

    version: int
    kind: str
    ids: tuple[int, ...] = ()
    actor: int | None = None
    detail: dict = field(default_factory=dict)


class Database:
    """Owns the SQLAlchemy engine. Every write of the engine goes through :meth:`write`; reads that must map
    store errors to :class:`StoreUnavailable` go through :meth:`read`."""

    def __init__(self, url: str, calendar: BusinessCalendar | None = None, pool_size: int = 8):
        self.url = url
        self.calendar = calendar or BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "UTC")
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if ":memory:" not in url and url.rstrip("/") != "sqlite:":
                # keep a connection per store thread: beyond the default 5, every checkout opened a new one
                kwargs["pool_size"] = pool_size
        else:
            kwargs["pool_size"] = pool_size
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = sa.create_engine(url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._listeners: list[Callable[[ChangeEvent], None]] = []
        #: a :class:`services87.engine.versionwatch.VersionWatch` told of every :meth:`versions` read, or None
        self.version_watch: Any = None

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        upgrade(self.engine)
        self.after_migrate()

    def after_migrate(self) -> None:
        """Work a migration left for code that needs more than SQL (see :class:`services87.engine.storage.Store`)."""

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        try:
            with self.engine.connect() as c:
                c.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(str(exc.__class__.__name__)) from exc

    # ------------------------------------------------------------------ change events
    def add_listener(self, fn: Callable[[ChangeEvent], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[ChangeEvent], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def emit(self, ev: ChangeEvent) -> None:
        """Tell every listener of a committed change (after :meth:`write`, or a change another process
        committed, see :mod:`services87.engine.notify`). A failing listener is logged, never raised."""
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a listener must never break a committed write
                log.exception("change listener failed")

    # ------------------------------------------------------------------ the write path
    def write(self, kind: str | None, fn: Callable[[Connection], T], actor: int | None = None,
              ids_of: Callable[[T], Iterable[int]] | None = None, detail: dict | None = None) -> T:
        """Run ``fn(connection)`` in one transaction; store errors are :class:`StoreUnavailable`.

        With a ``kind`` the write is statistics data: the same transaction bumps the data version, and after
        the commit a :class:`ChangeEvent` (``ids_of(result)``, ``actor``, ``detail``) goes to every listener.
        ``kind=None`` is for what is not statistics data (credentials, sessions, throttles, preferences,
        subscriptions): no version bump and no event."""
        try:
            with self.engine.begin() as c:
                result = fn(c)
                version = self._bump(c) if kind is not None else 0
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc
        if kind is not None:
            ids = tuple(ids_of(result)) if ids_of else ()
            self.emit(ChangeEvent(version, kind, ids, actor, detail or {}))
        return result

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` outside a transaction; store errors are :class:`StoreUnavailable`."""
        try:
            with self.engine.connect() as c:
                return fn(c)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc

    def _bump(self, c: Connection) -> int:
        row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "data_version")).first()
        version = int(row[0]) + 1 if row else 1
        if row:
            c.execute(t.meta.update().where(t.meta.c.key == "data_version").values(value=str(version)))
        else:
            c.execute(t.meta.insert().values(key="data_version", value=str(version)))
        return version

    # ------------------------------------------------------------------ versions and meta values
    def data_version(self) -> int:
        return self.versions()[0]

    def versions(self) -> tuple[int, int]:
        """``(data_version, auth_version)`` in one query; auth_version moves on every ticket revocation.

        Asked on every cached answer, so it skips SQLAlchemy's statement machinery (~300 µs -> ~30 µs):
        one fixed statement on a pooled DBAPI connection. The version watch takes its change signal before
        the query and records the result with it (``services87/engine/versionwatch.py``)."""
        watch = self.version_watch
        token = watch.before_read() if watch is not None else None
        try:
            conn = self.engine.raw_connection()
            try:
                cur = conn.cursor()
                cur.execute(_VERSIONS_SQL)
                rows = dict(cur.fetchall())
                cur.close()
            finally:
                conn.close()
        except sa.exc.DBAPIError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg", "psycopg2"):  # DBAPI errors
                raise StoreUnavailable(str(exc)) from exc
            raise
        versions = int(rows.get("data_version", 0)), int(rows.get("auth_version", 0))
        if token is not None:
            watch.after_read(token, versions)
        return versions

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == key)).first()
        return row[0] if row else None

    def set_meta_default(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is there; return the stored value."""
        with self.engine.begin() as c:
            row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == key)).first()
            if row:
                return row[0]
            c.execute(t.meta.insert().values(key=key, value=value))
            return value


def inserted_id(result: sa.CursorResult) -> int:
    """The primary key of the one row an ``INSERT`` made (SQLAlchemy types it optional: a bulk insert has none)."""
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row"
    return key[0]


def driver_cursor(c: Connection) -> Any:
    """A cursor of the driver's own connection under ``c`` (in ``c``'s transaction): plain tuples, no per-row
    ``Result`` overhead."""
    driver = c.connection.driver_connection
    assert driver is not None, "a connection that is open"
    return driver.cursor()


def chunks(seq: Sequence[T], n: int) -> Iterator[Sequence[T]]:
    """``seq`` in slices of ``n`` (IN lists stay below every database's parameter limit)."""
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
