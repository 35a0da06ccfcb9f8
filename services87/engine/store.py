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
from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services87.engine import schema as t
from services87.engine.model import BaseStatus, Direction, NotFound, StoreUnavailable, User, ValidationError
from services87.engine.timebuckets import resolve_zone

log = logging.getLogger(__name__)

SLOT = t.SLOT_SECONDS
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


def response_times(msgs: Sequence[tuple[int, int | None, int]], calendar: BusinessCalendar) -> list[tuple[float, float] | None]:
    """For messages ``(direction, author_id, ts)`` sorted by time, the response time of each outbound reply.

    A reply answers the earliest inbound message not yet answered; replies with nothing to answer get ``None``.
    """
    out: list[tuple[float, float] | None] = []
    waiting_since: int | None = None
    for direction, _author, ts in msgs:
        if direction == Direction.Inbound:
            if waiting_since is None:
                waiting_since = ts
            out.append(None)
        elif waiting_since is not None:
            out.append((float(ts - waiting_since), calendar.seconds(waiting_since, ts)))
            waiting_since = None
        else:
            out.append(None)
    return out


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


class Store:
    def __init__(self, url: str, calendar: BusinessCalendar | None = None, pool_size: int = 8):
        self.url = url
        self.calendar = calendar or BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "UTC")
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_size"] = pool_size
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = sa.create_engine(url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._listeners: list[Callable[[ChangeEvent], None]] = []
        self._status_base: dict[int, int] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from services87.engine.migrate import upgrade

        upgrade(self.engine)

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

    def _bump(self, c: Connection) -> int:
        row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "data_version")).first()
        version = int(row[0]) + 1 if row else 1
        if row:
            c.execute(t.meta.update().where(t.meta.c.key == "data_version").values(value=str(version)))
        else:
            c.execute(t.meta.insert().values(key="data_version", value=str(version)))
        return version

    def data_version(self) -> int:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "data_version")).first()
        return int(row[0]) if row else 0

    def versions(self) -> tuple[int, int]:
        """``(data_version, auth_version)`` in one query; auth_version moves on every ticket revocation."""
        with self.engine.connect() as c:
            rows = dict(c.execute(sa.select(t.meta.c.key, t.meta.c.value)
                                  .where(t.meta.c.key.in_(("data_version", "auth_version")))).all())
        return int(rows.get("data_version", 0)), int(rows.get("auth_version", 0))

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

    def ensure_status(self, name: str, base: BaseStatus) -> int:
        self._status_base = None
        return self._ensure(t.statuses, {"name": name}, {"base_status": int(base)})

    def ensure_priority(self, name: str, rank: int) -> int:
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
                "statuses": {r.id: (r.name, r.base_status) for r in c.execute(sa.select(t.statuses))},
                "priorities": {r.id: (r.name, r.rank) for r in c.execute(sa.select(t.priorities))},
                "groups": {r.id: r.name for r in c.execute(sa.select(t.user_groups))},
                "users": {r.id: (r.login, r.full_name, r.active) for r in c.execute(
                    sa.select(t.users.c.id, t.users.c.login, t.users.c.full_name, t.users.c.active))},
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
        self._write("users", lambda c: c.execute(
            t.users.update().where(t.users.c.id == user_id).values(password_hash=password_hash)), ids_of=lambda _: [user_id])

    def password_hash(self, login: str) -> tuple[int, str | None] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.users.c.id, t.users.c.password_hash, t.users.c.active)
                            .where(t.users.c.login == login)).first()
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
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()
            if not row:
                raise NotFound(f"user {user_id} not found")
            return self._user_from_row(c, row)

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

    def _upsert(self, c: Connection, rows: Sequence[dict]) -> list[int]:
        bases = self.status_base()
        if any("category_path" in r for r in rows):
            # categories named by path are created in this same transaction (importer)
            paths: dict[tuple[str, ...], int | None] = {}
            resolved = []
            for r in rows:
                if "category_path" in r:
                    parts = tuple(r["category_path"] or ())
                    if parts not in paths:
                        paths[parts] = self._category_in(c, parts) if parts else None
                    r = {k: v for k, v in r.items() if k != "category_path"}
                    r["category_id"] = paths[parts]
                resolved.append(r)
            rows = resolved
        now = int(time.time())
        ext_ids = [r["external_id"] for r in rows]
        if len(set(ext_ids)) != len(ext_ids):
            raise ValidationError("duplicate external_id in one batch")
        existing: dict[str, dict] = {}
        for chunk in _chunks(ext_ids, 500):
            for r in c.execute(sa.select(t.requests).where(t.requests.c.external_id.in_(chunk))):
                existing[r.external_id] = dict(r._mapping)
        open_delta: Counter = Counter()
        created_delta: Counter = Counter()
        inserts, msg_rows = [], []
        for row in rows:
            old = existing.get(row["external_id"])
            new = dict(old) if old else {"title": "", "category_id": None, "priority_id": None, "origin": 0,
                                         "owner_id": None, "group_id": None, "closed_ts": None, "created_ts": now}
            for f in REQUEST_FIELDS:
                if f in row:
                    new[f] = row[f]
            if new.get("status_id") is None:
                raise ValidationError(f"request {row['external_id']!r}: status is required")
            base = bases.get(new["status_id"])
            if base is None:
                raise ValidationError(f"request {row['external_id']!r}: unknown status id {new['status_id']}")
            new["is_open"] = BaseStatus(base).is_open
            if not new["is_open"] and new.get("closed_ts") is None and base == BaseStatus.Closed:
                new["closed_ts"] = now
            new["updated_ts"] = now
            new["external_id"] = row["external_id"]
            if old:
                if old["is_open"]:
                    for k in _open_keys(old):
                        open_delta[k] -= 1
                created_delta[old["created_ts"] // SLOT] -= 1
                values = {f: new[f] for f in REQUEST_FIELDS + ("is_open", "updated_ts")}
                c.execute(t.requests.update().where(t.requests.c.id == old["id"]).values(**values))
                new["id"] = old["id"]
            else:
                inserts.append(new)
            if new["is_open"]:
                for k in _open_keys(new):
                    open_delta[k] += 1
            created_delta[new["created_ts"] // SLOT] += 1
        if inserts:
            cols = ("external_id",) + REQUEST_FIELDS + ("is_open", "updated_ts")
            c.execute(t.requests.insert(), [{k: r[k] for k in cols} for r in inserts])
            id_by_ext = {}
            for chunk in _chunks([r["external_id"] for r in inserts], 500):
                id_by_ext.update(c.execute(sa.select(t.requests.c.external_id, t.requests.c.id)
                                           .where(t.requests.c.external_id.in_(chunk))).all())
            for r in inserts:
                r["id"] = id_by_ext[r["external_id"]]
        by_ext = {r["external_id"]: r for r in inserts}
        resp_delta: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for row in rows:
            if "messages" not in row:
                continue
            rec = by_ext.get(row["external_id"]) or existing[row["external_id"]]
            if row["external_id"] in existing:
                self._drop_messages(c, rec["id"], resp_delta)
            msgs = sorted(((int(d), a, int(ts)) for d, a, ts in row["messages"]), key=lambda m: m[2])
            for (d, a, ts), rt in zip(msgs, response_times(msgs, self.calendar)):
                msg_rows.append({"request_id": rec["id"], "direction": d, "author_id": a, "created_ts": ts,
                                 "response_seconds": rt[0] if rt else None,
                                 "response_business_seconds": rt[1] if rt else None})
                if rt:
                    acc = resp_delta[ts // SLOT]
                    acc[0] += 1
                    acc[1] += rt[0]
                    acc[2] += rt[1]
        if msg_rows:
            c.execute(t.messages.insert(), msg_rows)
        self._apply_open(c, open_delta)
        self._apply_created(c, created_delta)
        self._apply_response(c, resp_delta)
        id_of = {r["external_id"]: r["id"] for r in inserts}
        id_of.update((ext, r["id"]) for ext, r in existing.items())
        return [id_of[r["external_id"]] for r in rows]

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

    def _drop_messages(self, c: Connection, request_id: int, resp_delta: dict) -> None:
        for m in c.execute(sa.select(t.messages.c.created_ts, t.messages.c.response_seconds,
                                     t.messages.c.response_business_seconds)
                           .where(t.messages.c.request_id == request_id, t.messages.c.response_seconds.is_not(None))):
            acc = resp_delta[m.created_ts // SLOT]
            acc[0] -= 1
            acc[1] -= m.response_seconds
            acc[2] -= m.response_business_seconds
        c.execute(t.messages.delete().where(t.messages.c.request_id == request_id))

    def add_message(self, request_id: int, direction: Direction, author_id: int | None, ts: int | None = None,
                    actor: int | None = None) -> int:
        """Append a message; an outbound reply gets its response time from the earliest unanswered inbound."""
        ts = int(time.time()) if ts is None else int(ts)

        def do(c: Connection) -> int:
            if not c.execute(sa.select(t.requests.c.id).where(t.requests.c.id == request_id)).first():
                raise NotFound(f"request {request_id} not found")
            return self._add_message(c, request_id, direction, author_id, ts)

        return self._write("message", do, actor=actor, ids_of=lambda _: [request_id])

    def _add_message(self, c: Connection, request_id: int, direction: Direction, author_id: int | None,
                     ts: int) -> int:
        """Insert a message inside the caller's transaction, with the response-time bookkeeping."""
        rt = None
        if direction == Direction.Outbound:
            prior = c.execute(sa.select(t.messages.c.direction, t.messages.c.author_id, t.messages.c.created_ts)
                              .where(t.messages.c.request_id == request_id, t.messages.c.created_ts <= ts)
                              .order_by(t.messages.c.created_ts, t.messages.c.id)).all()
            msgs = [tuple(m) for m in prior] + [(int(direction), author_id, ts)]
            rt = response_times(msgs, self.calendar)[-1]
        mid = c.execute(t.messages.insert().values(
            request_id=request_id, direction=int(direction), author_id=author_id, created_ts=ts,
            response_seconds=rt[0] if rt else None, response_business_seconds=rt[1] if rt else None)
        ).inserted_primary_key[0]
        c.execute(t.requests.update().where(t.requests.c.id == request_id).values(updated_ts=int(time.time())))
        if rt:
            self._apply_response(c, {ts // SLOT: [1, rt[0], rt[1]]})
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

        Set-based: one SELECT per 300 keys, then one executemany each for UPDATE, INSERT and DELETE.
        """
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
            m = t.messages.c
            for ts, w, b in conn.execute(sa.select(m.created_ts, m.response_seconds, m.response_business_seconds)
                                         .where(m.response_seconds.is_not(None))):
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

    # ------------------------------------------------------------------ reads for calculators
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

    def hotlist_for(self, user_id: int) -> list[dict]:
        rq = t.requests.c
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(rq.id, rq.external_id, rq.title, rq.status_id, rq.created_ts, rq.is_open)
                .select_from(t.hotlist.join(t.requests, t.hotlist.c.request_id == rq.id))
                .where(t.hotlist.c.user_id == user_id).order_by(rq.created_ts))]

    def count_requests(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(t.requests)).scalar_one()

    def closed_between(self, start: int, end: int) -> int:
        rq = t.requests.c
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(t.requests)
                             .where(rq.closed_ts >= start, rq.closed_ts < end)).scalar_one()


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
    """Hashed SoPrincipal tickets and refresh tokens. Not statistics data: writes do not bump the data version."""

    def __init__(self, store: Store):
        self.engine = store.engine

    def add(self, digest: str, user_id: int, created_ts: int, expires_ts: int, kind: str) -> None:
        with self.engine.begin() as c:
            c.execute(t.tickets.insert().values(hash=digest, user_id=user_id, created_ts=created_ts,
                                                expires_ts=expires_ts, revoked=False, kind=kind))

    def get(self, digest: str, kind: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.tickets).where(t.tickets.c.hash == digest, t.tickets.c.kind == kind)).first()
        return dict(row._mapping) if row else None

    def revoke(self, digest: str) -> bool:
        with self.engine.begin() as c:
            n = c.execute(t.tickets.update().where(t.tickets.c.hash == digest).values(revoked=True)).rowcount
            _bump_auth_version(c)
            return n > 0

    def revoke_user(self, user_id: int) -> int:
        with self.engine.begin() as c:
            n = c.execute(t.tickets.update().where(t.tickets.c.user_id == user_id).values(revoked=True)).rowcount
            _bump_auth_version(c)
            return n


def _bump_auth_version(c: Connection) -> None:
    """Revocations bump ``auth_version`` so that caches of validated tickets (keyed by it) never outlive them."""
    row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "auth_version")).first()
    if row:
        c.execute(t.meta.update().where(t.meta.c.key == "auth_version").values(value=str(int(row[0]) + 1)))
    else:
        c.execute(t.meta.insert().values(key="auth_version", value="1"))

    def purge_expired(self, now_ts: int) -> int:
        with self.engine.begin() as c:
            return c.execute(t.tickets.delete().where(t.tickets.c.expires_ts < now_ts)).rowcount
