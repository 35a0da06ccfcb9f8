"""Requests: the write path of the statistics data (upserts by external id, whole-row replaces for the
importer, messages, the hotlist) and the time to reply stored on each request. Every write moves the aggregate
tables in the same transaction (:mod:`services87.engine.storage.aggregates`)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from itertools import compress, repeat
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine.business_hours import BusinessCalendar, time_to_reply
from services87.engine.model import BaseStatus, Direction, NotFound, ValidationError
from services87.engine.storage.aggregates import (SLOT, AggregateStore, apply_created, apply_open, apply_response,
                                                  open_keys)
from services87.engine.storage.database import chunks, driver_cursor, inserted_id
from services87.engine.storage.reference import ReferenceStore, category_in

REQUEST_FIELDS = ("title", "category_id", "status_id", "priority_id", "origin", "owner_id", "group_id",
                  "created_ts", "closed_ts")
#: SQLite page cache (KiB) of a connection that ran :meth:`RequestStore.replace_requests` (default is 2 MiB).
IMPORT_CACHE_KIB = 65536
#: A row of :meth:`RequestStore.replace_requests`.
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


class RequestStore(ReferenceStore, AggregateStore):
    def after_migrate(self) -> None:
        if self.get_meta("rebuild_reply_times"):  # set by migration 0006: needs the business-hours calendar
            self.rebuild_reply_times()
            with self.engine.begin() as c:
                c.execute(t.meta.delete().where(t.meta.c.key == "rebuild_reply_times"))

    def upsert_requests(self, rows: Sequence[dict], actor: int | None = None, kind: str = "requests") -> list[int]:
        """Insert or update requests by ``external_id`` in one transaction.

        A row holds ``external_id`` and any of :data:`REQUEST_FIELDS` (or ``category_path``, a list of names
        from the root, created in the same transaction if missing); ``status_id`` is required for new rows,
        ``created_ts`` defaults to now. A row may carry ``messages`` (``[(direction, author_id, ts), ...]``):
        they replace the request's messages. Aggregates are adjusted in the same transaction.
        """
        if not rows:
            return []
        return self.write(kind, lambda c: self.upsert_requests_in(c, rows), actor=actor, ids_of=lambda ids: ids)

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

        return self.write(kind, do, actor=actor, ids_of=lambda res: res[0])

    def upsert_requests_in(self, c: Connection, rows: Sequence[dict]) -> list[int]:
        """:meth:`upsert_requests` on the connection of a caller's :meth:`write` (no write of its own)."""
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
        if full:  # the rows column-wise: columns are what the set-based steps below consume
            cols = list(zip(*rows))
            ext_ids = list(cols[0])
        else:
            ext_ids = [r["external_id"] for r in rows]
        if len(set(ext_ids)) != len(ext_ids):
            raise ValidationError("duplicate external_id in one batch")
        # rows as columns in REQUEST_FIELDS order (full), or dicts of the given fields
        cats: list[object] | None = None  # dict rows naming category paths: category ids, or _MISSING
        if full:
            paths: dict[tuple[str, ...], int | None] = dict.fromkeys(p for p in set(cols[2]) if p is not None)
            for p in paths:  # categories named by path are created in this same transaction
                paths[p] = category_in(c, tuple(p)) if p else None
            fields: list[Sequence] = [cols[1], list(map(paths.get, cols[2])), *cols[3:10]]
            messages: Sequence = cols[10]
        else:
            values, messages = rows, [r.get("messages") for r in rows]
            if any("category_path" in r for r in rows):
                cat_paths: dict[tuple[str, ...], int | None] = {}
                cats = []
                for r in rows:
                    if "category_path" in r:
                        parts = tuple(r["category_path"] or ())
                        if parts not in cat_paths:
                            cat_paths[parts] = category_in(c, parts) if parts else None
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
        pairs: Iterable = zip(ext_ids, values) if not full else ()
        if full:  # the new requests column-wise (C-level map/zip), the stored ones row by row below
            rest: Iterable[int] = range(len(ext_ids))
            fresh_mask = [e not in existing for e in ext_ids] if existing else None
            if fresh_mask is None:
                fresh_ids, fresh = ext_ids, fields
            else:
                fresh_ids = list(compress(ext_ids, fresh_mask))
                fresh = [list(compress(col, fresh_mask)) for col in fields]
            if fresh_ids and self._fresh_columns(fresh, fresh_ids, bases, now, combos, created, inserts):
                rest = [] if fresh_mask is None else [i for i, f in enumerate(fresh_mask) if not f]
            pairs = [(ext_ids[i], [col[i] for col in fields]) for i in rest]
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
                    for field_index, f in enumerate(REQUEST_FIELDS):
                        if f in given:
                            new[field_index] = given[f]
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
                for k in open_keys({"category_id": cat, "priority_id": prio, "status_id": status, "origin": origin,
                                     "owner_id": owner, "group_id": group}):
                    open_delta[k] += n
        created_delta = Counter(map(SLOT.__rfloordiv__, created))
        if gone:
            created_delta.subtract(map(SLOT.__rfloordiv__, gone))
        apply_open(c, open_delta)
        apply_created(c, created_delta)
        apply_response(c, resp_delta)
        return ids, len(updates)

    @staticmethod
    def _fresh_columns(fields: Sequence[Sequence], ext_ids: list[str], bases: dict, now: int, combos: Counter,
                       created: list, inserts: list) -> bool:
        """New requests (``fields``: their columns in REQUEST_FIELDS order) into ``inserts`` and the aggregate
        deltas, a column at a time; ``False`` (nothing done) when a status needs the row-by-row path's checks."""
        titles, cats, statuses, prios, origins, owners, groups, cts, closeds = fields
        base_of: list = list(map(bases.get, statuses))
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
            cur = driver_cursor(c)
            try:
                for chunk in chunks(ext_ids, 500):
                    cur.execute(_SELECT_STORED_QMARK + f"({', '.join('?' * len(chunk))})", chunk)
                    for r in cur.fetchall():
                        found[r[0]] = r[1:]
            finally:
                cur.close()
            return found
        for chunk in chunks(ext_ids, 500):
            for r in c.execute(_SELECT_STORED, {"ext": chunk}):
                found[r[0]] = tuple(r[1:])
        return found

    def _insert_requests(self, c: Connection, inserts: list[tuple]) -> dict[str, int]:
        """Insert new requests (tuples in :data:`_INSERT_COLUMNS` order) with one executemany; their ids by
        external id. Ids grow, so one range query above the previous maximum finds them; a row that query
        misses (a concurrent delete of the top row can make SQLite reuse an id) is looked up by external id.

        On SQLite a row gets the largest id + 1, in the order of the executemany, and the write lock is held
        from the first insert to the commit: when exactly ``len(inserts)`` rows lie above the previous maximum,
        ending at maximum + ``len(inserts)``, they are these rows in order (no id list to read back)."""
        top = c.execute(_MAX_REQUEST_ID).scalar() or 0
        if self.is_sqlite:  # plain DBAPI executemany: no per-row parameter processing
            c.exec_driver_sql(_INSERT_REQUEST_QMARK, inserts)
            cur = driver_cursor(c)
            try:
                n, last = cur.execute("SELECT count(*), max(id) FROM requests WHERE id > ?", (top,)).fetchone()
                if n == len(inserts) and last == top + n:
                    return dict(zip([r[0] for r in inserts], range(top + 1, top + n + 1)))
                fresh = cur.execute("SELECT external_id, id FROM requests WHERE id > ?", (top,)).fetchall()
            finally:
                cur.close()
        else:
            c.execute(t.requests.insert(), [dict(zip(_INSERT_COLUMNS, r)) for r in inserts])
            fresh = c.execute(_NEW_REQUEST_IDS, {"top": top}).fetchall()
        wanted = {r[0] for r in inserts}
        ids = {e: i for e, i in fresh if e in wanted}
        missing = [e for e in wanted if e not in ids]
        for chunk in chunks(missing, 500):
            ids.update(c.execute(_SELECT_IDS, {"ext": chunk}).all())
        return ids

    def _drop_messages_of(self, c: Connection, request_ids: Sequence[int]) -> None:
        """Delete the messages of ``request_ids`` (their requests' time to reply is refreshed afterwards)."""
        m = t.messages.c
        for chunk in chunks(list(request_ids), 500):
            c.execute(t.messages.delete().where(m.request_id.in_(chunk)))

    # ------------------------------------------------------------------ time to reply
    def priority_calendar(self, c: Connection, priority_id: int | None) -> BusinessCalendar:
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
            apply_response(c, self._refresh_replies(c, ids))

        self.write("reference", do, ids_of=lambda _: [priority_id])

    def _refresh_replies(self, c: Connection, request_ids: Iterable[int]) -> dict[int, list]:
        """Recompute the time to reply of ``request_ids`` from their stored messages (the vendor's definition:
        from creation to the first reply; requests with fewer than two messages or no reply are not counted),
        store it on the request and return the change of the response aggregate (by creation slot)."""
        rq, m = t.requests.c, t.messages.c
        delta: dict[int, list] = defaultdict(lambda: [0, 0.0, 0.0])
        for chunk in chunks(sorted(set(request_ids)), 500):
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
                if new and slot is not None:
                    acc = delta[slot]
                    acc[0] += 1
                    acc[1] += new[0]
                    acc[2] += new[1]
                stored = (r.reply_seconds, r.reply_business_seconds) if r.reply_slot is not None else None
                if (slot, new) != (r.reply_slot, stored):
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

        self.write("rebuild", do)
        self.rebuild_aggregates()

    def add_message(self, request_id: int, direction: Direction, author_id: int | None, ts: int | None = None,
                    actor: int | None = None) -> int:
        """Add a message (at any time, also before the stored ones); the request's time to reply follows."""
        ts = int(time.time()) if ts is None else int(ts)

        def do(c: Connection) -> int:
            if not c.execute(sa.select(t.requests.c.id).where(t.requests.c.id == request_id)).first():
                raise NotFound(f"request {request_id} not found")
            return self.add_message_in(c, request_id, direction, author_id, ts)

        return self.write("message", do, actor=actor, ids_of=lambda _: [request_id])

    def add_message_in(self, c: Connection, request_id: int, direction: Direction, author_id: int | None,
                     ts: int) -> int:
        """Insert a message inside the caller's transaction and recompute the request's time to reply from all
        its messages: a message older than the stored ones (an out-of-order import) gives the same figures as
        the messages in order."""
        mid = inserted_id(c.execute(t.messages.insert().values(
            request_id=request_id, direction=int(direction), author_id=author_id, created_ts=ts)))
        c.execute(t.requests.update().where(t.requests.c.id == request_id).values(updated_ts=int(time.time())))
        apply_response(c, self._refresh_replies(c, [request_id]))
        return mid

    def existing_external_ids(self, external_ids: Sequence[str]) -> set[str]:
        """Which of ``external_ids`` are stored already."""
        found: set[str] = set()
        with self.engine.connect() as c:
            for chunk in chunks(list(external_ids), 500):
                found.update(e for (e,) in c.execute(sa.select(t.requests.c.external_id)
                                                     .where(t.requests.c.external_id.in_(chunk))))
        return found

    def get_request(self, request_id: int | None = None, external_id: str | None = None) -> dict:
        cond = t.requests.c.id == request_id if request_id is not None else t.requests.c.external_id == external_id
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.requests).where(cond)).first()
        if not row:
            raise NotFound(f"request {request_id if request_id is not None else external_id!r} not found")
        return dict(row._asdict())

    def set_hotlist(self, user_id: int, request_id: int, on: bool = True) -> None:
        def do(c: Connection) -> None:
            c.execute(t.hotlist.delete().where(t.hotlist.c.user_id == user_id, t.hotlist.c.request_id == request_id))
            if on:
                c.execute(t.hotlist.insert().values(user_id=user_id, request_id=request_id))

        self.write("hotlist", do, actor=user_id, ids_of=lambda _: [request_id])

    def add_hotlist_bulk(self, pairs: Sequence[tuple[int, int]]) -> None:
        self.write("hotlist", lambda c: c.execute(t.hotlist.insert(),
                                                  [{"user_id": u, "request_id": r} for u, r in pairs]))

