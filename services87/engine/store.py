"""The request store: every SQL statement of the statistics engine lives here.

All methods are blocking; protocol layers call them off the reactor thread (see ``services87.server``).
Every write runs in one transaction that also updates the aggregate tables and bumps the data version;
after the commit a :class:`ChangeEvent` goes to every listener.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from functools import lru_cache
from itertools import compress, repeat
from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services87.engine import schema as t
from services87.engine.model import BaseStatus, Direction, NotFound, StoreUnavailable, User, ValidationError
from services87.engine.timebuckets import resolve_zone

log = logging.getLogger(__name__)

SLOT = t.SLOT_SECONDS
_VERSIONS_SQL = "SELECT key, value FROM meta WHERE key IN ('data_version', 'auth_version')"
#: Dimensions kept in ``open_counts`` (k2 is 0 unless stated).
OPEN_DIMS = ("category", "priority", "status", "origin", "owner", "group", "owner_status", "owner_group")


@dataclass(frozen=True)
class ChangeEvent:
    """What a committed write changed. ``kind`` is e.g. ``requests``, ``message``, ``hotlist``, ``users``."""

    version: int
    kind: str
    ids: tuple[int, ...] = ()
    actor: int | None = None
    detail: dict = field(default_factory=dict)


class BusinessCalendar:
    """Weekly business hours + holidays; computes the business-hours part of an interval."""

    def __init__(self, days: Iterable[int], start: str, end: str, time_zone: str, holidays: Iterable[str] = ()):
        self.days = frozenset(int(d) for d in days)
        self.tz = resolve_zone(time_zone)
        self.open_at = dtime.fromisoformat(start)
        self.close_at = dtime.fromisoformat(end)
        if self.close_at <= self.open_at:
            raise ValidationError("business_hours.end must be after business_hours.start")
        self.holidays = frozenset(date.fromisoformat(h) for h in holidays)

    @classmethod
    def from_settings(cls, bh) -> "BusinessCalendar":
        return cls(bh.days, bh.start, bh.end, bh.time_zone, bh.holidays)

    @lru_cache(maxsize=4096)
    def _window(self, day_ordinal: int) -> tuple[int, int] | None:
        d = date.fromordinal(day_ordinal)
        if d.isoweekday() not in self.days or d in self.holidays:
            return None
        ws = int(datetime.combine(d, self.open_at).replace(tzinfo=self.tz).timestamp())
        we = int(datetime.combine(d, self.close_at).replace(tzinfo=self.tz).timestamp())
        return ws, we

    def seconds(self, start: int, end: int) -> float:
        if end <= start:
            return 0.0
        first = datetime.fromtimestamp(start, self.tz).date().toordinal()
        last = datetime.fromtimestamp(end, self.tz).date().toordinal()
        total = 0
        for o in range(first, min(last, first + 1200) + 1):
            w = self._window(o)
            if w:
                lo, hi = max(w[0], start), min(w[1], end)
                if hi > lo:
                    total += hi - lo
        return float(total)


def time_to_reply(created_ts: int, msgs: Iterable[tuple[int, int]],
                  calendar: BusinessCalendar) -> tuple[float, float] | None:
    """The vendor's time to reply of a request: from its creation to its first reply (outbound message), as
    ``(wall seconds, seconds within the calendar's working hours)``; ``None`` when the request has fewer than
    two messages or no reply. ``msgs`` are ``(direction, ts)`` in any order."""
    msgs = list(msgs)
    if len(msgs) < 2:
        return None
    replies = [ts for d, ts in msgs if d == Direction.Outbound]
    if not replies:
        return None
    first = max(min(replies), created_ts)
    return float(first - created_ts), calendar.seconds(created_ts, first)


def _open_keys(r: dict) -> list[tuple[str, int, int]]:
    owner = r["owner_id"] or 0
    return [
        ("category", r["category_id"] or 0, 0),
        ("priority", r["priority_id"] or 0, 0),
        ("status", r["status_id"], 0),
        ("origin", r["origin"], 0),
        ("owner", owner, 0),
        ("group", r["group_id"] or 0, 0),
        ("owner_status", owner, r["status_id"]),
        ("owner_group", owner, r["group_id"] or 0),
    ]


REQUEST_FIELDS = ("title", "category_id", "status_id", "priority_id", "origin", "owner_id", "group_id",
                  "created_ts", "closed_ts")
#: SQLite page cache (KiB) of a connection that ran :meth:`Store.replace_requests` (default is 2 MiB).
IMPORT_CACHE_KIB = 65536
#: A row of :meth:`Store.replace_requests`.
FULL_ROW = ("external_id", "title", "category_path", "status_id", "priority_id", "origin", "owner_id", "group_id",
            "created_ts", "closed_ts", "messages")
_INSERT_COLUMNS = ("external_id",) + REQUEST_FIELDS + ("is_open", "updated_ts")
_INSERT_REQUEST_QMARK = (f"INSERT INTO requests ({', '.join(_INSERT_COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})")
_RQ = t.requests.c
_SELECT_STORED = sa.select(_RQ.external_id, _RQ.id, _RQ.is_open, *(_RQ[f] for f in REQUEST_FIELDS)).where(
    _RQ.external_id.in_(sa.bindparam("ext", expanding=True)))
_SELECT_STORED_QMARK = (f"SELECT external_id, id, is_open, {', '.join(REQUEST_FIELDS)} FROM requests "
                        "WHERE external_id IN ")
_SELECT_IDS = sa.select(_RQ.external_id, _RQ.id).where(_RQ.external_id.in_(sa.bindparam("ext", expanding=True)))
_MAX_REQUEST_ID = sa.select(sa.func.max(_RQ.id))
_NEW_REQUEST_IDS = sa.select(_RQ.external_id, _RQ.id).where(_RQ.id > sa.bindparam("top"))
_UPDATE_REQUEST = t.requests.update().where(_RQ.id == sa.bindparam("b_id"))
_OPEN_BASE = {int(b): b.is_open for b in BaseStatus}
_MISSING = object()


class Store:
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
        self._status_base: dict[int, int] | None = None
        self._add_stmts: dict[str, Any] = {}
        self._lock = threading.Lock()
        #: a :class:`services87.engine.versionwatch.VersionWatch` told of every :meth:`versions` read, or None
        self.version_watch = None

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from services87.engine.migrate import upgrade

        upgrade(self.engine)
        if self.get_meta("rebuild_reply_times"):  # set by migration 0006: needs the business-hours calendar
            self.rebuild_reply_times()
            with self.engine.begin() as c:
                c.execute(t.meta.delete().where(t.meta.c.key == "rebuild_reply_times"))

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

    def _emit(self, ev: ChangeEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a listener must never break a committed write
                log.exception("change listener failed")

    def _write(self, kind: str, fn: Callable[[Connection], Any], actor: int | None = None,
               ids_of: Callable[[Any], Iterable[int]] | None = None, detail: dict | None = None) -> Any:
        try:
            with self.engine.begin() as c:
                result = fn(c)
                version = self._bump(c)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc
        ids = tuple(ids_of(result)) if ids_of else ()
        self._emit(ChangeEvent(version, kind, ids, actor, detail or {}))
        return result

    def _auth_write(self, fn: Callable[[Connection], Any]) -> Any:
        """The write path of credentials, sessions and throttles: one transaction, store errors raised as
        :class:`StoreUnavailable`, no data-version bump (they are not statistics data) and no change event."""
        try:
            with self.engine.begin() as c:
                return fn(c)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc

    def _auth_read(self, fn: Callable[[Connection], Any]) -> Any:
        """A read on the log-in and credential paths; store errors are :class:`StoreUnavailable`."""
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

    # ------------------------------------------------------------------ reference data
    def ensure_group(self, name: str) -> int:
        return self._ensure(t.user_groups, {"name": name}, {})

    def ensure_status(self, name: str, base: BaseStatus, rank: int = 0) -> int:
        """A status by name; ``rank`` orders statuses in the panels (lowest first, then by name)."""
        self._status_base = None
        return self._ensure(t.statuses, {"name": name}, {"base_status": int(base), "rank": rank})

    def ensure_priority(self, name: str, rank: int) -> int:
        """A priority by name; ``rank`` is the vendor's ``sort_order``: 1 is listed first."""
        return self._ensure(t.priorities, {"name": name}, {"rank": rank})

    def ensure_category(self, path: str | Sequence[str]) -> int:
        """A category by its path (``"Hardware/Printers"`` or a list); parents are created as needed."""
        parts = [p.strip() for p in (path.split("/") if isinstance(path, str) else path) if p.strip()]
        if not parts:
            raise ValidationError("empty category path")
        parent = None
        for name in parts:
            parent = self._ensure(t.categories, {"name": name, "parent_id": parent}, {})
        return parent  # type: ignore[return-value]

    def _ensure(self, table: sa.Table, key: dict, extra: dict) -> int:
        cond = [table.c[k].is_(None) if v is None else table.c[k] == v for k, v in key.items()]
        with self.engine.connect() as c:
            row = c.execute(sa.select(table.c.id).where(*cond)).first()
        if row:
            return row[0]
        return self._write("reference", lambda c: c.execute(table.insert().values(**key, **extra)).inserted_primary_key[0])

    def reference(self) -> dict[str, Any]:
        """Categories, statuses, priorities, groups and users, for labelling."""
        with self.engine.connect() as c:
            return {
                "categories": {r.id: (r.name, r.parent_id) for r in c.execute(sa.select(t.categories))},
                "statuses": {r.id: (r.name, r.base_status, r.rank) for r in c.execute(sa.select(t.statuses))},
                "priorities": {r.id: (r.name, r.rank) for r in c.execute(sa.select(t.priorities))},
                "groups": {r.id: r.name for r in c.execute(sa.select(t.user_groups))},
                "users": {r.id: (r.login, r.full_name, r.active) for r in c.execute(
                    sa.select(t.users.c.id, t.users.c.login, t.users.c.full_name, t.users.c.active))},
                #: user id -> the user's (primary) user group, the vendor's ejuser.usergroup
                "user_group": {r.id: r.primary_group_id for r in c.execute(
                    sa.select(t.users.c.id, t.users.c.primary_group_id))},
            }

    def status_base(self) -> dict[int, int]:
        if self._status_base is None:
            with self.engine.connect() as c:
                self._status_base = {r.id: r.base_status for r in c.execute(sa.select(t.statuses))}
        return self._status_base

    def lookup_id(self, kind: str, name: str) -> int | None:
        table = {"status": t.statuses, "priority": t.priorities, "group": t.user_groups}[kind]
        with self.engine.connect() as c:
            row = c.execute(sa.select(table.c.id).where(sa.func.lower(table.c.name) == name.lower())).first()
        return row[0] if row else None

    # ------------------------------------------------------------------ users
    def add_user(self, login: str, full_name: str, email: str = "", password_hash: str | None = None,
                 time_zone: str | None = None, language: str | None = None, groups: Sequence[int] = (),
                 active: bool = True, uuid: str | None = None) -> int:
        def do(c: Connection) -> int:
            uid = c.execute(t.users.insert().values(
                login=login, full_name=full_name, email=email, password_hash=password_hash, time_zone=time_zone,
                language=language, active=active, uuid=uuid or secrets.token_hex(16),
                primary_group_id=groups[0] if groups else None)).inserted_primary_key[0]
            for g in groups:
                c.execute(t.user_group_members.insert().values(user_id=uid, group_id=g))
            return uid

        try:
            return self._write("users", do, ids_of=lambda uid: [uid])
        except sa.exc.IntegrityError:
            raise ValidationError(f"user {login!r} already exists") from None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Change a password: every credential issued before ends (tickets, tokens, sessions; the epoch moves)."""
        def do(c: Connection) -> None:
            _end_user_credentials(c, user_id)
            c.execute(t.users.update().where(t.users.c.id == user_id).values(
                password_hash=password_hash, credential_epoch=t.users.c.credential_epoch + 1))
            _bump_auth_version(c)

        self._write("users", do, ids_of=lambda _: [user_id])

    def password_hash(self, login: str) -> tuple[int, str | None] | None:
        row = self._auth_read(lambda c: c.execute(
            sa.select(t.users.c.id, t.users.c.password_hash, t.users.c.active).where(t.users.c.login == login)).first())
        if not row or not row.active:
            return None
        return row.id, row.password_hash

    def _user_from_row(self, c: Connection, row) -> User:
        groups = tuple(g for (g,) in c.execute(
            sa.select(t.user_group_members.c.group_id).where(t.user_group_members.c.user_id == row.id)
            .order_by(t.user_group_members.c.group_id)))
        return User(id=row.id, login=row.login, full_name=row.full_name, email=row.email or "",
                    time_zone=row.time_zone, language=row.language, active=bool(row.active), uuid=row.uuid,
                    group_ids=groups, primary_group_id=row.primary_group_id)

    def get_user(self, user_id: int) -> User:
        def do(c: Connection) -> User:
            row = c.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()
            if not row:
                raise NotFound(f"user {user_id} not found")
            return self._user_from_row(c, row)

        return self._auth_read(do)

    def user_credential_state(self, user_id: int) -> tuple[bool, int] | None:
        """``(active, credential_epoch)`` of a user, or ``None`` when there is no such user."""
        row = self._auth_read(lambda c: c.execute(sa.select(t.users.c.active, t.users.c.credential_epoch)
                                                  .where(t.users.c.id == user_id)).first())
        return (bool(row[0]), int(row[1])) if row else None

    def credential_states(self, user_ids: Iterable[int]) -> dict[int, tuple[bool, int]]:
        """:meth:`user_credential_state` of several users at once (missing users are left out)."""
        ids = sorted({int(u) for u in user_ids})
        if not ids:
            return {}
        rows = self._auth_read(lambda c: c.execute(
            sa.select(t.users.c.id, t.users.c.active, t.users.c.credential_epoch).where(t.users.c.id.in_(ids))).all())
        return {r[0]: (bool(r[1]), int(r[2])) for r in rows}

    def set_user_active(self, user_id: int, active: bool) -> None:
        """Activate or deactivate a user; deactivation ends every credential of the user (the epoch moves)."""
        def do(c: Connection) -> None:
            values: dict[str, Any] = {"active": active}
            if not active:
                values["credential_epoch"] = t.users.c.credential_epoch + 1
                _end_user_credentials(c, user_id)
            c.execute(t.users.update().where(t.users.c.id == user_id).values(**values))
            _bump_auth_version(c)

        self._write("users", do, ids_of=lambda _: [user_id])

    def remove_user(self, user_id: int) -> bool:
        """Delete a user and, with it (cascades), every ticket, session and preference of theirs. A user the
        statistics still refer to (requests, messages) is kept, deactivated and without a password instead;
        ``True`` when the row was deleted."""
        def do(c: Connection) -> None:
            _end_user_credentials(c, user_id)
            c.execute(t.user_group_members.delete().where(t.user_group_members.c.user_id == user_id))
            c.execute(t.users.delete().where(t.users.c.id == user_id))
            _bump_auth_version(c)

        try:
            self._write("users", do, ids_of=lambda _: [user_id])
            return True
        except sa.exc.IntegrityError:
            def keep(c: Connection) -> None:
                _end_user_credentials(c, user_id)
                c.execute(t.users.update().where(t.users.c.id == user_id).values(
                    active=False, password_hash=None, credential_epoch=t.users.c.credential_epoch + 1))
                _bump_auth_version(c)

            self._write("users", keep, ids_of=lambda _: [user_id])
            return False

    def revoke_user_credentials(self, user_id: int) -> None:
        """Admin revoke: every ticket, token and session of the user ends (the epoch moves)."""
        def do(c: Connection) -> None:
            _end_user_credentials(c, user_id)
            c.execute(t.users.update().where(t.users.c.id == user_id)
                      .values(credential_epoch=t.users.c.credential_epoch + 1))
            _bump_auth_version(c)

        self._auth_write(do)

    def find_user(self, login: str) -> User | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.users).where(t.users.c.login == login)).first()
            return self._user_from_row(c, row) if row else None

    def find_user_by_uuid(self, uuid: str) -> User | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.users).where(t.users.c.uuid == uuid)).first()
            return self._user_from_row(c, row) if row else None

    def list_users(self) -> list[User]:
        with self.engine.connect() as c:
            return [self._user_from_row(c, r) for r in c.execute(sa.select(t.users).order_by(t.users.c.login))]

    # ------------------------------------------------------------------ requests
    def upsert_requests(self, rows: Sequence[dict], actor: int | None = None, kind: str = "requests") -> list[int]:
        """Insert or update requests by ``external_id`` in one transaction.

        A row holds ``external_id`` and any of :data:`REQUEST_FIELDS` (or ``category_path``, a list of names
        from the root, created in the same transaction if missing); ``status_id`` is required for new rows,
        ``created_ts`` defaults to now. A row may carry ``messages`` (``[(direction, author_id, ts), ...]``):
        they replace the request's messages. Aggregates are adjusted in the same transaction.
        """
        if not rows:
            return []
        return self._write(kind, lambda c: self._upsert(c, rows), actor=actor, ids_of=lambda ids: ids)

    def replace_requests(self, rows: Sequence[tuple], actor: int | None = None,
                         kind: str = "import") -> tuple[list[int], int]:
        """Upsert whole requests in one transaction (the importer's form): each row a tuple in
        :data:`FULL_ROW` order giving every field (a stored request gets all of them replaced; ``category_path``
        a sequence of names or ``None``; ``messages`` ``None`` keeps the stored ones). Same semantics and
        aggregate bookkeeping as :meth:`upsert_requests`; returns ``(ids, how many rows updated a stored one)``."""
        if not rows:
            return [], 0

        def do(c: Connection) -> tuple[list[int], int]:
            if self.is_sqlite:  # bulk loads touch every index page: a page cache that holds them (this connection)
                c.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
            return self._upsert_counted(c, rows, full=True)

        return self._write(kind, do, actor=actor, ids_of=lambda res: res[0])

    def _upsert(self, c: Connection, rows: Sequence[dict]) -> list[int]:
        return self._upsert_counted(c, rows)[0]

    def _upsert_counted(self, c: Connection, rows: Sequence, full: bool = False) -> tuple[list[int], int]:
        """The upsert on ``c``: dict rows (:meth:`upsert_requests`) or, with ``full``, :data:`FULL_ROW` tuples
        (:meth:`replace_requests`). Returns the request ids in row order and how many rows were updates.

        Set-based: one lookup of the stored rows per 500 external ids; new rows go in with one executemany
        and get their ids from one range query; updates are one executemany; aggregate deltas are counted
        in one pass over the rows and applied per table with a few set-based statements.
        """
        bases = self.status_base()
        now = int(time.time())
        ext_ids = [r[0] for r in rows] if full else [r["external_id"] for r in rows]
        if len(set(ext_ids)) != len(ext_ids):
            raise ValidationError("duplicate external_id in one batch")
        # rows as [title, category_id, status_id, ...] (REQUEST_FIELDS order) or a dict of the given fields
        if full:
            paths = {p: None for p in {r[2] for r in rows} if p is not None}
            for p in paths:  # categories named by path are created in this same transaction
                paths[p] = self._category_in(c, tuple(p)) if p else None
            values: list = [[r[1], paths.get(r[2]), *r[3:10]] for r in rows]
            messages = [r[10] for r in rows]
        else:
            values, messages, cats = rows, [r.get("messages") for r in rows], None
            if any("category_path" in r for r in rows):
                cat_paths: dict[tuple[str, ...], int | None] = {}
                cats = []
                for r in rows:
                    if "category_path" in r:
                        parts = tuple(r["category_path"] or ())
                        if parts not in cat_paths:
                            cat_paths[parts] = self._category_in(c, parts) if parts else None
                        cats.append(cat_paths[parts])
                    else:
                        cats.append(_MISSING)
        existing = self._stored_requests(c, ext_ids)
        combos: Counter = Counter()  # (category, priority, status, origin, owner, group) -> open delta
        created: list[int] = []  # created_ts of the new state of every row ...
        gone: list[int] = []  # ... and of the replaced state of every updated row
        inserts: list[tuple] = []
        updates: list[dict] = []
        id_of: dict[str, int] = {}
        pairs: Iterable = zip(ext_ids, values)
        if full:  # the new requests column-wise (C-level map/zip), the stored ones row by row below
            fresh = [v for e, v in pairs if e not in existing] if existing else values
            if fresh and self._fresh_columns(fresh, [e for e in ext_ids if e not in existing] if existing else ext_ids,
                                             bases, now, combos, created, inserts):
                pairs = [(e, v) for e, v in zip(ext_ids, values) if e in existing]
            else:
                pairs = zip(ext_ids, values)
        for i, (ext, new) in enumerate(pairs):
            old = existing.get(ext)
            if not full:
                given = new
                if old is None:
                    get = given.get
                    new = [get("title", ""), get("category_id"), get("status_id"), get("priority_id"),
                           get("origin", 0), get("owner_id"), get("group_id"),
                           get("created_ts", now), get("closed_ts")]
                else:
                    new = list(old[2:])
                    for k, f in enumerate(REQUEST_FIELDS):
                        if f in given:
                            new[k] = given[f]
                if cats is not None and cats[i] is not _MISSING:
                    new[1] = cats[i]
            title, cat, status, prio, origin, owner, group, created_ts, closed_ts = new
            base = bases.get(status)
            if base is None:
                if status is None:
                    raise ValidationError(f"request {ext!r}: status is required")
                raise ValidationError(f"request {ext!r}: unknown status id {status}")
            is_open = _OPEN_BASE.get(base)
            if is_open is None:
                is_open = BaseStatus(base).is_open
            elif is_open:
                combos[(cat, prio, status, origin, owner, group)] += 1
            elif closed_ts is None and base == BaseStatus.Closed:
                closed_ts = now
            created.append(created_ts)
            if old is None:
                inserts.append((ext, title, cat, status, prio, origin, owner, group, created_ts, closed_ts, is_open,
                                now))
            else:
                rid = old[0]
                if old[1]:
                    combos[(old[3], old[5], old[4], old[6], old[7], old[8])] -= 1
                gone.append(old[9])
                updates.append({"b_id": rid, "title": title, "category_id": cat, "status_id": status,
                                "priority_id": prio, "origin": origin, "owner_id": owner, "group_id": group,
                                "created_ts": created_ts, "closed_ts": closed_ts, "is_open": is_open,
                                "updated_ts": now})
                id_of[ext] = rid
        if updates:
            c.execute(_UPDATE_REQUEST, updates)
        if inserts:
            id_of.update(self._insert_requests(c, inserts))
        ids = [id_of[e] for e in ext_ids]
        with_msgs = [(rid, ext, msgs) for rid, ext, msgs in zip(ids, ext_ids, messages) if msgs is not None]
        if with_msgs:
            self._drop_messages_of(c, [rid for rid, ext, _m in with_msgs if ext in existing])
            msg_rows = [{"request_id": rid, "direction": int(d), "author_id": a, "created_ts": int(ts)}
                        for rid, _ext, given_msgs in with_msgs for d, a, ts in given_msgs]
            if msg_rows:
                c.execute(t.messages.insert(), msg_rows)
        # time to reply: requests with new messages, and stored ones (created time or priority may have changed)
        touched = {rid for rid, _e, _m in with_msgs} | {u["b_id"] for u in updates}
        resp_delta = self._refresh_replies(c, touched) if touched else {}
        open_delta: Counter = Counter()
        for (cat, prio, status, origin, owner, group), n in combos.items():
            if n:
                for k in _open_keys({"category_id": cat, "priority_id": prio, "status_id": status, "origin": origin,
                                     "owner_id": owner, "group_id": group}):
                    open_delta[k] += n
        created_delta = Counter(ts // SLOT for ts in created)
        if gone:
            created_delta.subtract(ts // SLOT for ts in gone)
        self._apply_open(c, open_delta)
        self._apply_created(c, created_delta)
        self._apply_response(c, resp_delta)
        return ids, len(updates)

    @staticmethod
    def _fresh_columns(values: list[list], ext_ids: list[str], bases: dict, now: int, combos: Counter,
                       created: list, inserts: list) -> bool:
        """New requests (``values`` in REQUEST_FIELDS order) into ``inserts`` and the aggregate deltas, a column
        at a time; ``False`` (nothing done) when a status needs the row-by-row path's checks and messages."""
        titles, cats, statuses, prios, origins, owners, groups, cts, closeds = zip(*values)
        base_of = list(map(bases.get, statuses))
        if not set(base_of) <= _OPEN_BASE.keys():
            return False
        opens = list(map(_OPEN_BASE.__getitem__, base_of))
        if int(BaseStatus.Closed) in base_of:
            closeds = [now if ts is None and b == BaseStatus.Closed else ts for ts, b in zip(closeds, base_of)]
        combos.update(compress(zip(cats, prios, statuses, origins, owners, groups), opens))
        created.extend(cts)
        inserts.extend(zip(ext_ids, titles, cats, statuses, prios, origins, owners, groups, cts, closeds, opens,
                           repeat(now)))
        return True

    def _stored_requests(self, c: Connection, ext_ids: Sequence[str]) -> dict[str, tuple]:
        """external id -> ``(id, is_open, *REQUEST_FIELDS)`` of the stored ones among ``ext_ids``."""
        found: dict[str, tuple] = {}
        if self.is_sqlite:  # the DBAPI cursor of this transaction: plain tuples, no per-row Result overhead
            cur = c.connection.driver_connection.cursor()
            try:
                for chunk in _chunks(ext_ids, 500):
                    cur.execute(_SELECT_STORED_QMARK + f"({', '.join('?' * len(chunk))})", chunk)
                    for r in cur.fetchall():
                        found[r[0]] = r[1:]
            finally:
                cur.close()
            return found
        for chunk in _chunks(ext_ids, 500):
            for r in c.execute(_SELECT_STORED, {"ext": chunk}):
                found[r[0]] = tuple(r[1:])
        return found

    def _insert_requests(self, c: Connection, inserts: list[tuple]) -> dict[str, int]:
        """Insert new requests (tuples in :data:`_INSERT_COLUMNS` order) with one executemany; their ids by
        external id. Ids grow, so one range query above the previous maximum finds them; a row that query
        misses (a concurrent delete of the top row can make SQLite reuse an id) is looked up by external id."""
        top = c.execute(_MAX_REQUEST_ID).scalar() or 0
        if self.is_sqlite:  # plain DBAPI executemany: no per-row parameter processing
            c.exec_driver_sql(_INSERT_REQUEST_QMARK, inserts)
            cur = c.connection.driver_connection.cursor()
            try:
                fresh = cur.execute("SELECT external_id, id FROM requests WHERE id > ?", (top,)).fetchall()
            finally:
                cur.close()
        else:
            c.execute(t.requests.insert(), [dict(zip(_INSERT_COLUMNS, r)) for r in inserts])
            fresh = c.execute(_NEW_REQUEST_IDS, {"top": top}).fetchall()
        wanted = {r[0] for r in inserts}
        ids = {e: i for e, i in fresh if e in wanted}
        missing = [e for e in wanted if e not in ids]
        for chunk in _chunks(missing, 500):
            ids.update(c.execute(_SELECT_IDS, {"ext": chunk}).all())
        return ids

    def _drop_messages_of(self, c: Connection, request_ids: Sequence[int]) -> None:
        """Delete the messages of ``request_ids`` (their requests' time to reply is refreshed afterwards)."""
        m = t.messages.c
        for chunk in _chunks(list(request_ids), 500):
            c.execute(t.messages.delete().where(m.request_id.in_(chunk)))

    # ------------------------------------------------------------------ time to reply
    def priority_calendar(self, c: Connection, priority_id: int | None) -> "BusinessCalendar":
        """The working hours of a priority (the vendor sets them per priority), or the global business hours
        when the priority has none."""
        cache = self.__dict__.setdefault("_prio_calendars", {})
        if priority_id is None:
            return self.calendar
        if priority_id not in cache:
            pc = t.priorities.c
            row = c.execute(sa.select(pc.work_days, pc.work_start, pc.work_end, pc.work_time_zone,
                                      pc.non_working_dates).where(pc.id == priority_id)).first()
            if row is None or not row.work_start:
                cache[priority_id] = self.calendar
            else:
                days = [int(d) for d in (row.work_days or "1,2,3,4,5").split(",") if d.strip()]
                dates = [d.strip() for d in (row.non_working_dates or "").split(",") if d.strip()]
                cache[priority_id] = BusinessCalendar(days, row.work_start, row.work_end or "23:59",
                                                      row.work_time_zone or self.calendar.tz.key, dates)
        return cache[priority_id]

    def set_priority_hours(self, priority_id: int, days: Sequence[int], start: str, end: str,
                           time_zone: str | None = None, non_working_dates: Sequence[str] = ()) -> None:
        """Set a priority's working hours and non-working dates, and recompute the time to reply of its requests."""
        BusinessCalendar(days, start, end, time_zone or self.calendar.tz.key, non_working_dates)  # validates

        def do(c: Connection) -> None:
            c.execute(t.priorities.update().where(t.priorities.c.id == priority_id).values(
                work_days=",".join(str(int(d)) for d in days), work_start=start, work_end=end,
                work_time_zone=time_zone, non_working_dates=",".join(non_working_dates)))
            self.__dict__.setdefault("_prio_calendars", {}).pop(priority_id, None)
            ids = [i for (i,) in c.execute(sa.select(t.requests.c.id).where(t.requests.c.priority_id == priority_id))]
            self._apply_response(c, self._refresh_replies(c, ids))

        self._write("reference", do, ids_of=lambda _: [priority_id])

    def _refresh_replies(self, c: Connection, request_ids: Iterable[int]) -> dict[int, list]:
        """Recompute the time to reply of ``request_ids`` from their stored messages (the vendor's definition:
        from creation to the first reply; requests with fewer than two messages or no reply are not counted),
        store it on the request and return the change of the response aggregate (by creation slot)."""
        rq, m = t.requests.c, t.messages.c
        delta: dict[int, list] = defaultdict(lambda: [0, 0.0, 0.0])
        for chunk in _chunks(sorted(set(request_ids)), 500):
            msgs: dict[int, list] = defaultdict(list)
            for rid, d, ts in c.execute(sa.select(m.request_id, m.direction, m.created_ts)
                                        .where(m.request_id.in_(chunk))):
                msgs[rid].append((int(d), int(ts)))
            updates = []
            for r in c.execute(sa.select(rq.id, rq.created_ts, rq.priority_id, rq.reply_slot, rq.reply_seconds,
                                         rq.reply_business_seconds).where(rq.id.in_(chunk))):
                if r.reply_slot is not None:
                    acc = delta[r.reply_slot]
                    acc[0] -= 1
                    acc[1] -= r.reply_seconds
                    acc[2] -= r.reply_business_seconds
                new = time_to_reply(r.created_ts, msgs.get(r.id, ()), self.priority_calendar(c, r.priority_id))
                slot = r.created_ts // SLOT if new else None
                if new:
                    acc = delta[slot]
                    acc[0] += 1
                    acc[1] += new[0]
                    acc[2] += new[1]
                if (slot, new) != (r.reply_slot, (r.reply_seconds, r.reply_business_seconds) if r.reply_slot is not None else None):
                    updates.append({"b_id": r.id, "reply_slot": slot, "reply_seconds": new[0] if new else None,
                                    "reply_business_seconds": new[1] if new else None})
            if updates:
                c.execute(t.requests.update().where(rq.id == sa.bindparam("b_id")), updates)
        return {k: v for k, v in delta.items() if v[0] or v[1] or v[2]}

    def rebuild_reply_times(self) -> None:
        """Recompute every request's time to reply and rebuild the aggregates (after migration 0006)."""
        def do(c: Connection) -> None:
            ids = [i for (i,) in c.execute(sa.select(t.requests.c.id))]
            self._refresh_replies(c, ids)

        self._write("rebuild", do)
        self.rebuild_aggregates()

    @staticmethod
    def _category_in(c: Connection, parts: Sequence[str]) -> int:
        """The id of the category at ``parts`` (names from the root), creating missing levels on ``c``."""
        parent = None
        for name in parts:
            cc = t.categories.c
            cond = [cc.name == name, cc.parent_id.is_(None) if parent is None else cc.parent_id == parent]
            row = c.execute(sa.select(cc.id).where(*cond)).first()
            parent = row[0] if row else c.execute(
                t.categories.insert().values(name=name, parent_id=parent)).inserted_primary_key[0]
        return parent  # type: ignore[return-value]

    def add_message(self, request_id: int, direction: Direction, author_id: int | None, ts: int | None = None,
                    actor: int | None = None) -> int:
        """Add a message (at any time, also before the stored ones); the request's time to reply follows."""
        ts = int(time.time()) if ts is None else int(ts)

        def do(c: Connection) -> int:
            if not c.execute(sa.select(t.requests.c.id).where(t.requests.c.id == request_id)).first():
                raise NotFound(f"request {request_id} not found")
            return self._add_message(c, request_id, direction, author_id, ts)

        return self._write("message", do, actor=actor, ids_of=lambda _: [request_id])

    def _add_message(self, c: Connection, request_id: int, direction: Direction, author_id: int | None,
                     ts: int) -> int:
        """Insert a message inside the caller's transaction and recompute the request's time to reply from all
        its messages: a message older than the stored ones (an out-of-order import) gives the same figures as
        the messages in order."""
        mid = c.execute(t.messages.insert().values(
            request_id=request_id, direction=int(direction), author_id=author_id, created_ts=ts)
        ).inserted_primary_key[0]
        c.execute(t.requests.update().where(t.requests.c.id == request_id).values(updated_ts=int(time.time())))
        self._apply_response(c, self._refresh_replies(c, [request_id]))
        return mid

    def existing_external_ids(self, external_ids: Sequence[str]) -> set[str]:
        """Which of ``external_ids`` are stored already."""
        found: set[str] = set()
        with self.engine.connect() as c:
            for chunk in _chunks(list(external_ids), 500):
                found.update(e for (e,) in c.execute(sa.select(t.requests.c.external_id)
                                                     .where(t.requests.c.external_id.in_(chunk))))
        return found

    def get_request(self, request_id: int | None = None, external_id: str | None = None) -> dict:
        cond = t.requests.c.id == request_id if request_id is not None else t.requests.c.external_id == external_id
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.requests).where(cond)).first()
        if not row:
            raise NotFound(f"request {request_id if request_id is not None else external_id!r} not found")
        return dict(row._mapping)

    def set_hotlist(self, user_id: int, request_id: int, on: bool = True) -> None:
        def do(c: Connection) -> None:
            c.execute(t.hotlist.delete().where(t.hotlist.c.user_id == user_id, t.hotlist.c.request_id == request_id))
            if on:
                c.execute(t.hotlist.insert().values(user_id=user_id, request_id=request_id))

        self._write("hotlist", do, actor=user_id, ids_of=lambda _: [request_id])

    def add_hotlist_bulk(self, pairs: Sequence[tuple[int, int]]) -> None:
        self._write("hotlist", lambda c: c.execute(t.hotlist.insert(), [{"user_id": u, "request_id": r} for u, r in pairs]))

    # ------------------------------------------------------------------ aggregates
    def _apply_open(self, c: Connection, delta: Counter) -> None:
        self._apply_counts(c, t.open_counts, [(k, (n,)) for k, n in delta.items() if n], ("dim", "k1", "k2"), ("n",))

    def _apply_created(self, c: Connection, delta: Counter) -> None:
        self._apply_counts(c, t.created_slots, [((s,), (n,)) for s, n in delta.items() if n], ("slot",), ("n",))
        days = _by_day(delta)
        self._apply_counts(c, t.created_days, [((d,), (v[0],)) for d, v in days.items() if v[0]], ("day",), ("n",))

    def _apply_response(self, c: Connection, delta: dict) -> None:
        self._apply_counts(c, t.response_slots, [((s,), (n, w, b)) for s, (n, w, b) in delta.items() if n or w or b],
                           ("slot",), ("n", "wall_sum", "business_sum"))
        days = _by_day(delta)
        self._apply_counts(c, t.response_days, [((d,), tuple(v)) for d, v in days.items() if any(v)],
                           ("day",), ("n", "wall_sum", "business_sum"))

    def _apply_counts(self, c: Connection, table: sa.Table, items: list, key_cols: tuple[str, ...],
                      value_cols: tuple[str, ...]) -> None:
        """Add ``(key, deltas)`` items to an aggregate table; a row whose count (first value) drops to 0 goes.

        Set-based: items whose count grows can never empty a row, so they go in with one executemany of
        ``INSERT .. ON CONFLICT DO UPDATE`` (an add); the others need the stored counts: one SELECT per 300 keys,
        then one executemany each for UPDATE, INSERT and DELETE.
        """
        if not items:
            return
        add_stmt = self._add_counts_stmt(table, key_cols, value_cols)
        if add_stmt is not None:
            grow = [k + tuple(d) for k, d in items if d[0] > 0]
            if grow:
                if isinstance(add_stmt, str):  # SQLite: plain DBAPI executemany, no per-row parameter processing
                    c.exec_driver_sql(add_stmt, grow)
                else:
                    names = key_cols + value_cols
                    c.execute(add_stmt, [dict(zip(names, r)) for r in grow])
                items = [(k, d) for k, d in items if d[0] <= 0]
                if not items:
                    return
        kc = [table.c[k] for k in key_cols]
        upd, ins, dele = [], [], []
        for chunk in _chunks(items, 300):
            cond = sa.tuple_(*kc).in_([k for k, _ in chunk]) if len(kc) > 1 else kc[0].in_([k[0] for k, _ in chunk])
            have = {tuple(r[:len(kc)]): r[len(kc)] for r in c.execute(sa.select(*kc, table.c[value_cols[0]]).where(cond))}
            for key, deltas in chunk:
                keys = {f"k_{k}": v for k, v in zip(key_cols, key)}
                if key in have:
                    if have[key] + deltas[0] == 0:
                        dele.append(keys)
                    else:
                        upd.append({**keys, **{f"d_{v}": d for v, d in zip(value_cols, deltas)}})
                else:
                    ins.append({**dict(zip(key_cols, key)), **dict(zip(value_cols, deltas))})
        where = [table.c[k] == sa.bindparam(f"k_{k}") for k in key_cols]
        if upd:
            c.execute(table.update().where(*where).values(
                {table.c[v]: table.c[v] + sa.bindparam(f"d_{v}") for v in value_cols}), upd)
        if dele:
            c.execute(table.delete().where(*where), dele)
        if ins:
            c.execute(table.insert(), ins)

    def _add_counts_stmt(self, table: sa.Table, key_cols: tuple[str, ...], value_cols: tuple[str, ...]):
        """``INSERT .. ON CONFLICT (keys) DO UPDATE SET v = v + excluded.v`` for ``table`` (SQLite, PostgreSQL)."""
        cached = self._add_stmts.get(table.name, _MISSING)
        if cached is not _MISSING:
            return cached
        stmt: Any = None
        if self.is_sqlite:  # SQLite >= 3.24 (ON CONFLICT); the text is what SQLAlchemy would render
            cols = key_cols + value_cols
            stmt = (f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                    f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET "
                    + ", ".join(f"{v} = {table.name}.{v} + excluded.{v}" for v in value_cols))
        elif self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            ins = insert(table)
            stmt = ins.on_conflict_do_update(index_elements=[table.c[k] for k in key_cols],
                                             set_={v: table.c[v] + ins.excluded[v] for v in value_cols})
        self._add_stmts[table.name] = stmt
        return stmt

    def recompute_aggregates(self, c: Connection | None = None) -> dict[str, Any]:
        """The aggregate tables' contents computed from the base tables (for checks and rebuilds)."""
        own = c is None
        conn = self.engine.connect() if own else c
        try:
            rq = t.requests.c
            open_counts: Counter = Counter()
            for r in conn.execute(sa.select(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                            rq.group_id, sa.func.count()).where(rq.is_open == sa.true())
                                  .group_by(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                            rq.group_id)):
                for k in _open_keys(dict(r._mapping)):
                    open_counts[k] += r[-1]
            created = Counter()
            for ts, in conn.execute(sa.select(rq.created_ts)):
                created[ts // SLOT] += 1
            resp: dict[int, list] = defaultdict(lambda: [0, 0.0, 0.0])
            for ts, w, b in conn.execute(sa.select(rq.created_ts, rq.reply_seconds, rq.reply_business_seconds)
                                         .where(rq.reply_slot.is_not(None))):
                acc = resp[ts // SLOT]
                acc[0] += 1
                acc[1] += w
                acc[2] += b
            return {"open": {k: v for k, v in open_counts.items() if v}, "created": dict(created), "response": dict(resp),
                    "created_days": {d: v[0] for d, v in _by_day(created).items()},
                    "response_days": {d: v for d, v in _by_day(resp).items()}}
        finally:
            if own:
                conn.close()

    def stored_aggregates(self) -> dict[str, Any]:
        with self.engine.connect() as c:
            return {
                "open": {(r.dim, r.k1, r.k2): r.n for r in c.execute(sa.select(t.open_counts))},
                "created": {r.slot: r.n for r in c.execute(sa.select(t.created_slots))},
                "response": {r.slot: [r.n, r.wall_sum, r.business_sum] for r in c.execute(sa.select(t.response_slots))},
                "created_days": {r.day: r.n for r in c.execute(sa.select(t.created_days))},
                "response_days": {r.day: [r.n, r.wall_sum, r.business_sum] for r in c.execute(sa.select(t.response_days))},
            }

    def rebuild_aggregates(self) -> None:
        def do(c: Connection) -> None:
            agg = self.recompute_aggregates(c)
            for tbl in (t.open_counts, t.created_slots, t.response_slots, t.created_days, t.response_days):
                c.execute(tbl.delete())
            if agg["created_days"]:
                c.execute(t.created_days.insert(), [{"day": d, "n": n} for d, n in agg["created_days"].items()])
            if agg["response_days"]:
                c.execute(t.response_days.insert(), [{"day": d, "n": v[0], "wall_sum": v[1], "business_sum": v[2]}
                                                      for d, v in agg["response_days"].items()])
            if agg["open"]:
                c.execute(t.open_counts.insert(), [{"dim": d, "k1": a, "k2": b, "n": n} for (d, a, b), n in agg["open"].items()])
            if agg["created"]:
                c.execute(t.created_slots.insert(), [{"slot": s, "n": n} for s, n in agg["created"].items()])
            if agg["response"]:
                c.execute(t.response_slots.insert(), [{"slot": s, "n": v[0], "wall_sum": v[1], "business_sum": v[2]}
                                                       for s, v in agg["response"].items()])

        self._write("rebuild", do)

    # ------------------------------------------------------------------ category access
    def set_category_access(self, category_id: int, members_only: bool | None = None,
                            members: Sequence[int] | None = None, list_in_main: bool | None = None) -> None:
        """Set a category's MembersOnly / ListInMain flags and (``members``) replace its member users."""
        def do(c: Connection) -> None:
            values = {}
            if members_only is not None:
                values["members_only"] = members_only
            if list_in_main is not None:
                values["list_in_main"] = list_in_main
            if values:
                c.execute(t.categories.update().where(t.categories.c.id == category_id).values(**values))
            if members is not None:
                c.execute(t.category_members.delete().where(t.category_members.c.category_id == category_id))
                if members:
                    c.execute(t.category_members.insert(), [{"category_id": category_id, "user_id": u}
                                                            for u in dict.fromkeys(members)])

        self._write("reference", do, ids_of=lambda _: [category_id])

    def hidden_categories(self, user_id: int | None, version: int | None = None) -> frozenset[int]:
        """The categories whose requests ``user_id`` may not see: every members-only category the user is not a
        member of, with all its subcategories (``None`` = nobody logged in: every members-only subtree).
        Cached per data version (membership changes are writes and bump it)."""
        version = self.data_version() if version is None else version
        cache = self.__dict__.setdefault("_hidden_cache", {})
        key = (version, user_id)
        hit = cache.get(key)
        if hit is not None:
            return hit
        cc = t.categories.c
        with self.engine.connect() as c:
            rows = c.execute(sa.select(cc.id, cc.parent_id, cc.members_only)).all()
            if not any(r.members_only for r in rows):
                hidden: frozenset[int] = frozenset()
            else:
                mine = set() if user_id is None else {cid for (cid,) in c.execute(
                    sa.select(t.category_members.c.category_id).where(t.category_members.c.user_id == user_id))}
                parent = {r.id: r.parent_id for r in rows}
                roots = {r.id for r in rows if r.members_only and r.id not in mine}
                out = set()
                for cid in parent:
                    seen, cur = set(), cid
                    while cur is not None and cur not in seen:
                        if cur in roots:
                            out.add(cid)
                            break
                        seen.add(cur)
                        cur = parent.get(cur)
                hidden = frozenset(out)
        if len(cache) > 1024 or any(v != version for v, _u in list(cache)[:1]):
            cache.clear()
        cache[key] = hidden
        return hidden

    def category_flags(self) -> dict[int, tuple[bool, bool]]:
        """category id -> (members_only, list_in_main)."""
        cc = t.categories.c
        with self.engine.connect() as c:
            return {r.id: (bool(r.members_only), bool(r.list_in_main))
                    for r in c.execute(sa.select(cc.id, cc.members_only, cc.list_in_main))}

    def open_counts_in(self, categories: Iterable[int]) -> Counter:
        """The ``open_counts`` contribution of the open requests in ``categories`` (to subtract for a user who
        may not see them); same keys as the aggregate."""
        rq = t.requests.c
        out: Counter = Counter()
        cats = list(categories)
        with self.engine.connect() as c:
            for chunk in _chunks(cats, 500):
                for r in c.execute(sa.select(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                             rq.group_id, sa.func.count())
                                   .where(rq.is_open == sa.true(), rq.category_id.in_(chunk))
                                   .group_by(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                             rq.group_id)):
                    for k in _open_keys(dict(r._mapping)):
                        out[k] += r[-1]
        return out

    def slot_sums_in(self, table: str, bounds: Sequence[tuple[int, int]], categories: Iterable[int]) -> list[tuple]:
        """:meth:`slot_sums` restricted to the requests in ``categories`` (read from the base tables, by the same
        slot rule: a bucket holds the slots that start inside it)."""
        width = 1 if table == "created" else 3
        sums = [[0.0] * width for _ in bounds]
        cats = list(categories)
        if not bounds or not cats:
            return [tuple(x) for x in sums]
        edges = [(-(-a // SLOT) * SLOT, -(-b // SLOT) * SLOT) for a, b in bounds]
        lo, hi = min(a for a, _b in edges), max(b for _a, b in edges)
        rq, m = t.requests.c, t.messages.c
        with self.engine.connect() as c:
            for chunk in _chunks(cats, 500):
                if table == "created":
                    q = sa.select(rq.created_ts, sa.literal(0.0), sa.literal(0.0)).where(
                        rq.category_id.in_(chunk), rq.created_ts >= lo, rq.created_ts < hi)
                else:
                    q = sa.select(rq.created_ts, rq.reply_seconds, rq.reply_business_seconds).where(
                        rq.category_id.in_(chunk), rq.reply_slot.is_not(None), rq.created_ts >= lo,
                        rq.created_ts < hi)
                for ts, w, b in c.execute(q):
                    for i, (a, e) in enumerate(edges):
                        if a <= ts < e:
                            acc = sums[i]
                            acc[0] += 1
                            if width == 3:
                                acc[1] += w
                                acc[2] += b
        return [tuple(float(v) for v in x) for x in sums]

    # ------------------------------------------------------------------ reads for calculators
    def own_summary(self, user_id: int, day_start: int, day_end: int, hidden: Iterable[int] = ()) -> dict[str, int]:
        """The asking user's figures for the status tile, leaving out requests in ``hidden`` categories:
        ``new_info`` (open requests whose latest message is from the customer), ``postponed``,
        ``closed_today`` (closed in ``[day_start, day_end)``) and ``favourites`` (requests on the hotlist)."""
        rq, m, st = t.requests.c, t.messages.c, t.statuses.c
        hidden = list(hidden)

        def visible(q):
            return q.where(sa.or_(rq.category_id.is_(None), rq.category_id.not_in(hidden))) if hidden else q

        latest = (sa.select(m.direction).where(m.request_id == rq.id)
                  .order_by(m.created_ts.desc(), m.id.desc()).limit(1).scalar_subquery())
        mine = sa.select(sa.func.count()).select_from(t.requests).where(rq.owner_id == user_id)
        base = sa.select(st.id).where(st.base_status == sa.bindparam("base"))
        with self.engine.connect() as c:
            return {
                "new_info": c.execute(visible(mine.where(rq.is_open == sa.true(),
                                                         latest == int(Direction.Inbound)))).scalar_one(),
                "postponed": c.execute(visible(mine.where(rq.status_id.in_(base))),
                                       {"base": int(BaseStatus.Postponed)}).scalar_one(),
                "closed_today": c.execute(visible(mine.where(rq.status_id.in_(base), rq.closed_ts >= day_start,
                                                             rq.closed_ts < day_end)),
                                          {"base": int(BaseStatus.Closed)}).scalar_one(),
                "favourites": c.execute(visible(
                    sa.select(sa.func.count()).select_from(t.hotlist.join(t.requests, t.hotlist.c.request_id == rq.id))
                    .where(t.hotlist.c.user_id == user_id))).scalar_one(),
            }

    def system_warnings(self) -> list[str]:
        """System warnings for the status tile (the vendor lists them in its status screen): the lines of the
        ``system_warnings`` meta value, set by an administrator or a check; none by default."""
        text = self.get_meta("system_warnings") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def unassigned_by_category(self) -> dict[int, int]:
        """Open requests without an owner per category id (0 = no category)."""
        rq = t.requests.c
        with self.engine.connect() as c:
            return {(cid or 0): n for cid, n in c.execute(
                sa.select(rq.category_id, sa.func.count()).where(rq.owner_id.is_(None), rq.is_open == sa.true())
                .group_by(rq.category_id))}

    def open_counts(self) -> dict[tuple[str, int, int], int]:
        with self.engine.connect() as c:
            return {(r.dim, r.k1, r.k2): r.n for r in c.execute(sa.select(t.open_counts))}

    def created_slots(self, start: int, end: int) -> list[tuple[int, int]]:
        s = t.created_slots.c
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(
                sa.select(s.slot, s.n).where(s.slot >= start // SLOT, s.slot < -(-end // SLOT)).order_by(s.slot))]

    def response_slots(self, start: int, end: int) -> list[tuple[int, int, float, float]]:
        s = t.response_slots.c
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(
                sa.select(s.slot, s.n, s.wall_sum, s.business_sum)
                .where(s.slot >= start // SLOT, s.slot < -(-end // SLOT)).order_by(s.slot))]

    def slot_sums(self, table: str, bounds: Sequence[tuple[int, int]]) -> list[tuple]:
        """Per ``[start, end)`` interval, the sums of a slot table's values over slots starting inside it.

        ``table`` is ``created`` (→ ``(n,)``) or ``response`` (→ ``(n, wall_sum, business_sum)``). One query:
        a range sum per interval on the slot primary key, so the cost does not grow with the number of slots.
        """
        if not bounds:
            return []
        day = t.DAY_SLOTS
        parts: list[tuple[int, str, int, int]] = []  # (bucket, "s"lots or "d"ays, from, to)
        for i, (start, end) in enumerate(bounds):
            a, b = -(-start // SLOT), -(-end // SLOT)
            da, db = -(-a // day), b // day
            if db - da >= 1:
                parts += [(i, "s", a, da * day), (i, "d", da, db), (i, "s", db * day, b)]
            else:
                parts.append((i, "s", a, b))
        parts = [p for p in parts if p[3] > p[2]]
        width = 1 if table == "created" else 3
        sums = [[0] * width for _ in bounds]
        if parts:
            stmt = _slot_sum_sql(table, tuple(kind for _i, kind, _a, _b in parts))
            params = {}
            for j, (_i, _kind, a, b) in enumerate(parts):
                params[f"a{j}"], params[f"b{j}"] = a, b
            with self.engine.connect() as c:
                for row in c.execute(stmt, params):
                    acc = sums[parts[row[0]][0]]
                    for k in range(width):
                        acc[k] += row[1 + k]
        return [tuple(float(v) for v in x) for x in sums]  # PostgreSQL's SUM(bigint) is a Decimal

    def hotlist_for(self, user_id: int, hidden: Iterable[int] = ()) -> list[dict]:
        """The requests on ``user_id``'s hotlist (favourites), oldest first, leaving out those in ``hidden``
        categories."""
        rq = t.requests.c
        hidden = frozenset(hidden)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(rq.id, rq.external_id, rq.title, rq.status_id, rq.created_ts, rq.is_open, rq.category_id)
                .select_from(t.hotlist.join(t.requests, t.hotlist.c.request_id == rq.id))
                .where(t.hotlist.c.user_id == user_id).order_by(rq.created_ts))
                if r.category_id not in hidden]

    def count_requests(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(t.requests)).scalar_one()

    def closed_between(self, start: int, end: int, hidden: Iterable[int] = ()) -> int:
        """Requests closed in ``[start, end)``, leaving out those in ``hidden`` categories."""
        rq = t.requests.c
        q = sa.select(sa.func.count()).select_from(t.requests).where(rq.closed_ts >= start, rq.closed_ts < end)
        hidden = list(hidden)
        if hidden:
            q = q.where(sa.or_(rq.category_id.is_(None), rq.category_id.not_in(hidden)))
        with self.engine.connect() as c:
            return c.execute(q).scalar_one()


@lru_cache(maxsize=256)
def _slot_sum_sql(table: str, kinds: tuple[str, ...]) -> sa.TextClause:
    """``SELECT j, SUM(..) ... UNION ALL ...``: one range sum per part, over the slot (``s``) or day (``d``)
    table; plain portable SQL, built once per shape."""
    cols = ("n",) if table == "created" else ("n", "wall_sum", "business_sum")
    sums = ", ".join(f"COALESCE(SUM({col}), 0)" for col in cols)
    src = {"s": (f"{table}_slots", "slot"), "d": (f"{table}_days", "day")}
    return sa.text(" UNION ALL ".join(
        f"SELECT {j}, {sums} FROM {src[k][0]} WHERE {src[k][1]} >= :a{j} AND {src[k][1]} < :b{j}"
        for j, k in enumerate(kinds)))


def _by_day(delta: dict) -> dict[int, list]:
    """Slot-keyed deltas (a count, or ``[n, wall, business]``) summed per UTC day."""
    out: dict[int, list] = {}
    for slot, v in delta.items():
        vals = [v] if isinstance(v, (int, float)) else list(v)
        acc = out.setdefault(slot // t.DAY_SLOTS, [0] * len(vals))
        for k, x in enumerate(vals):
            acc[k] += x
    return out


def _chunks(seq: Sequence, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class TicketStore:
    """Hashed SoPrincipal tickets, refresh tokens, server-side sessions and the log-in throttle: the one
    truth every worker reads. Not statistics data: writes do not bump the data version. Store errors are
    :class:`StoreUnavailable`."""

    def __init__(self, store: Store):
        self.store = store
        self.engine = store.engine

    # ------------------------------------------------------------------ tickets and refresh tokens
    def add(self, digest: str, user_id: int, created_ts: int, expires_ts: int, kind: str) -> None:
        self.store._auth_write(lambda c: c.execute(t.tickets.insert().values(
            hash=digest, user_id=user_id, created_ts=created_ts, expires_ts=expires_ts, revoked=False, kind=kind)))

    def get(self, digest: str, kind: str) -> dict | None:
        row = self.store._auth_read(lambda c: c.execute(
            sa.select(t.tickets).where(t.tickets.c.hash == digest, t.tickets.c.kind == kind)).first())
        return dict(row._mapping) if row else None

    def revoke(self, digest: str) -> bool:
        def do(c: Connection) -> bool:
            n = c.execute(t.tickets.update().where(t.tickets.c.hash == digest).values(revoked=True)).rowcount
            _bump_auth_version(c)
            return n > 0

        return self.store._auth_write(do)

    def bump_auth_version(self) -> None:
        """Invalidate every cache of validated credentials (after a revocation recorded by :meth:`add`)."""
        self.store._auth_write(_bump_auth_version)

    def revoke_user(self, user_id: int) -> int:
        """Revoke every credential of a user (see :meth:`Store.revoke_user_credentials`)."""
        self.store.revoke_user_credentials(user_id)
        return 1

    def purge_expired(self, now_ts: int) -> int:
        """Delete tickets, refresh tokens, revoked-token marks and sessions that ended before ``now_ts``,
        and throttle windows older than a day."""
        from services87.engine.schema_sessions import auth_sessions, login_throttle

        def do(c: Connection) -> int:
            n = c.execute(t.tickets.delete().where(t.tickets.c.expires_ts < now_ts)).rowcount
            n += c.execute(auth_sessions.delete().where(auth_sessions.c.expires_ts < now_ts)).rowcount
            c.execute(login_throttle.delete().where(login_throttle.c.window_start < now_ts - 86400))
            return n

        return self.store._auth_write(do)

    # ------------------------------------------------------------------ sessions
    def session_add(self, digest: str, kind: str, user_id: int, csrf: str, now_ts: int, lifetime: int,
                    ticket_hash: str | None = None) -> None:
        from services87.engine.schema_sessions import auth_sessions

        def do(c: Connection) -> None:
            row = c.execute(sa.select(t.users.c.active, t.users.c.credential_epoch)
                            .where(t.users.c.id == user_id)).first()
            if row is None or not row[0]:
                raise NotFound(f"user {user_id} is not active")
            c.execute(auth_sessions.insert().values(
                hash=digest, kind=kind, user_id=user_id, csrf=csrf, epoch=int(row[1]), ticket_hash=ticket_hash,
                created_ts=now_ts, last_seen_ts=now_ts, expires_ts=now_ts + lifetime))

        self.store._auth_write(do)

    def session_get(self, digest: str, kind: str, now_ts: int, idle: int, touch_after: int = 15) -> dict | None:
        """A live session (``hash``, ``user_id``, ``csrf``, ``ticket_hash``, ``expires_ts``...) or ``None``:
        absent, past its absolute end, idle longer than ``idle`` seconds, its user inactive or gone, or the
        user's credential epoch moved since it opened. A use more than ``touch_after`` seconds after the last
        recorded one moves ``last_seen_ts`` (so the idle clock is shared by every worker)."""
        from services87.engine.schema_sessions import auth_sessions as a

        q = (sa.select(a, t.users.c.active, t.users.c.credential_epoch)
             .join(t.users, t.users.c.id == a.c.user_id).where(a.c.hash == digest, a.c.kind == kind))
        row = self.store._auth_read(lambda c: c.execute(q).first())
        if row is None:
            return None
        m = dict(row._mapping)
        if (not m["active"] or int(m["credential_epoch"]) != int(m["epoch"]) or m["expires_ts"] <= now_ts
                or now_ts - m["last_seen_ts"] > idle):
            return None
        if now_ts - m["last_seen_ts"] >= touch_after:
            self.store._auth_write(lambda c: c.execute(
                a.update().where(a.c.hash == digest).values(last_seen_ts=now_ts)))
        return m

    def session_delete(self, digest: str) -> dict | None:
        """End a session (and the ticket it wraps); the deleted row, or ``None``."""
        from services87.engine.schema_sessions import auth_sessions as a

        def do(c: Connection) -> dict | None:
            row = c.execute(sa.select(a).where(a.c.hash == digest)).first()
            if row is None:
                return None
            c.execute(a.delete().where(a.c.hash == digest))
            if row.ticket_hash:
                c.execute(t.tickets.update().where(t.tickets.c.hash == row.ticket_hash).values(revoked=True))
            _bump_auth_version(c)
            return dict(row._mapping)

        return self.store._auth_write(do)

    def session_touch(self, digests: Iterable[str], now_ts: int) -> None:
        """Record a use of these sessions now (e.g. GWS sessions a CometD client is bound to)."""
        from services87.engine.schema_sessions import auth_sessions as a

        digests = sorted(set(digests))
        if digests:
            self.store._auth_write(lambda c: c.execute(
                a.update().where(a.c.hash.in_(digests)).values(last_seen_ts=now_ts)))

    def sessions_alive(self, digests: Iterable[str], now_ts: int) -> set[str]:
        """Which of these session digests are still live (user active, epoch unchanged, not past the end)."""
        from services87.engine.schema_sessions import auth_sessions as a

        digests = sorted(set(digests))
        if not digests:
            return set()
        q = (sa.select(a.c.hash).join(t.users, t.users.c.id == a.c.user_id)
             .where(a.c.hash.in_(digests), a.c.expires_ts > now_ts, t.users.c.active == sa.true(),
                    t.users.c.credential_epoch == a.c.epoch))
        return {r[0] for r in self.store._auth_read(lambda c: c.execute(q).all())}

    # ------------------------------------------------------------------ log-in throttle
    def throttle_failures(self, keys: Sequence[str], now_ts: int, window: int) -> dict[str, int]:
        """Failures counted per key in its current window (keys without a live window are left out)."""
        from services87.engine.schema_sessions import login_throttle as lt

        rows = self.store._auth_read(lambda c: c.execute(
            sa.select(lt.c.key, lt.c.failures).where(lt.c.key.in_(list(keys)), lt.c.window_start > now_ts - window)).all())
        return {r[0]: int(r[1]) for r in rows}

    def throttle_record(self, keys: Sequence[str], now_ts: int, window: int) -> None:
        """Count one failure for each key (a window older than ``window`` seconds starts again)."""
        from services87.engine.schema_sessions import login_throttle as lt

        def do(c: Connection) -> None:
            for key in keys:
                row = c.execute(sa.select(lt.c.window_start, lt.c.failures).where(lt.c.key == key)).first()
                if row is None:
                    try:
                        with c.begin_nested():
                            c.execute(lt.insert().values(key=key, window_start=now_ts, failures=1))
                        continue
                    except sa.exc.IntegrityError:  # another worker counted the first failure just now
                        row = c.execute(sa.select(lt.c.window_start, lt.c.failures).where(lt.c.key == key)).first()
                if row.window_start <= now_ts - window:
                    c.execute(lt.update().where(lt.c.key == key).values(window_start=now_ts, failures=1))
                else:
                    c.execute(lt.update().where(lt.c.key == key).values(failures=lt.c.failures + 1))

        self.store._auth_write(do)


def _end_user_credentials(c: Connection, user_id: int) -> None:
    """Revoke a user's tickets and refresh tokens and delete their sessions (inside a write)."""
    from services87.engine.schema_sessions import auth_sessions

    c.execute(t.tickets.update().where(t.tickets.c.user_id == user_id).values(revoked=True))
    c.execute(auth_sessions.delete().where(auth_sessions.c.user_id == user_id))


def _bump_auth_version(c: Connection) -> None:
    """Revocations bump ``auth_version`` so that caches of validated tickets (keyed by it) never outlive them."""
    row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "auth_version")).first()
    if row:
        c.execute(t.meta.update().where(t.meta.c.key == "auth_version").values(value=str(int(row[0]) + 1)))
    else:
        c.execute(t.meta.insert().values(key="auth_version", value="1"))
