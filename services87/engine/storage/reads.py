"""Reads for the calculators: the aggregate tables by slot range, open counts, and the few figures read from the
base tables (the asking user's own requests, the hotlist, members-only categories)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from functools import lru_cache
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from services87.engine import schema as t
from services87.engine.model import BaseStatus, Direction
from services87.engine.storage.aggregates import SLOT, open_keys
from services87.engine.storage.database import Database, chunks


class ReadStore(Database):
    def open_counts_in(self, categories: Iterable[int]) -> Counter:
        """The ``open_counts`` contribution of the open requests in ``categories`` (to subtract for a user who
        may not see them); same keys as the aggregate."""
        rq = t.requests.c
        out: Counter = Counter()
        cats = list(categories)
        with self.engine.connect() as c:
            for chunk in chunks(cats, 500):
                for r in c.execute(sa.select(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                             rq.group_id, sa.func.count())
                                   .where(rq.is_open == sa.true(), rq.category_id.in_(chunk))
                                   .group_by(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                             rq.group_id)):
                    for k in open_keys(dict(r._asdict())):
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
        rq = t.requests.c
        with self.engine.connect() as c:
            for chunk in chunks(cats, 500):
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


    def own_summary(self, user_id: int, day_start: int, day_end: int, hidden: Iterable[int] = ()) -> dict[str, int]:
        """The asking user's figures for the status tile, leaving out requests in ``hidden`` categories:
        ``new_info`` (open requests whose latest message is from the customer), ``postponed``,
        ``closed_today`` (closed in ``[day_start, day_end)``) and ``favourites`` (requests on the hotlist)."""
        closed = self.closed_times(user_id, hidden, closed_since(day_start))
        return dict(self.own_counts(user_id, hidden),
                    closed_today=bisect_left(closed, day_end) - bisect_left(closed, day_start))

    @staticmethod
    def _own_visible(hidden: Iterable[int]):
        rq = t.requests.c
        hidden = list(hidden)
        return lambda q: q.where(sa.or_(rq.category_id.is_(None), rq.category_id.not_in(hidden))) if hidden else q

    def own_counts(self, user_id: int, hidden: Iterable[int] = ()) -> dict[str, int]:
        """The day-independent part of :meth:`own_summary`: ``new_info``, ``postponed``, ``favourites``."""
        rq, m, st = t.requests.c, t.messages.c, t.statuses.c
        visible = self._own_visible(hidden)
        latest = (sa.select(m.direction).where(m.request_id == rq.id)
                  .order_by(m.created_ts.desc(), m.id.desc()).limit(1).scalar_subquery())
        mine = sa.select(sa.func.count()).select_from(t.requests).where(rq.owner_id == user_id)
        base = sa.select(st.id).where(st.base_status == sa.bindparam("base"))
        with self.engine.connect() as c:
            return {
                "new_info": c.execute(visible(mine.where(rq.is_open == sa.true(),
                                                         latest == int(Direction.Inbound)))).scalar_one(),
                # postponed is not open: the index (owner_id, is_open, status_id, ...) counts them as a range
                "postponed": c.execute(visible(mine.where(rq.is_open == sa.false(), rq.status_id.in_(base))),
                                       {"base": int(BaseStatus.Postponed)}).scalar_one(),
                "favourites": c.execute(visible(
                    sa.select(sa.func.count()).select_from(t.hotlist.join(t.requests, t.hotlist.c.request_id == rq.id))
                    .where(t.hotlist.c.user_id == user_id))).scalar_one(),
            }

    def closed_times(self, user_id: int, hidden: Iterable[int] = (), since: int = 0) -> list[int]:
        """When each of ``user_id``'s requests closed (base status Closed) at ``since`` or later was closed,
        ascending, leaving out those in ``hidden`` categories: ``closed_today`` of any local day that starts at
        ``since`` or later is two bisections of it (:func:`closed_since` gives a ``since`` shared by every time
        zone's today). A range of ``ix_requests_owner_state``: as long as the list, not as all the user owns."""
        rq, st = t.requests.c, t.statuses.c
        visible = self._own_visible(hidden)
        closed = sa.select(st.id).where(st.base_status == int(BaseStatus.Closed))
        with self.engine.connect() as c:
            return [ts for (ts,) in c.execute(visible(
                sa.select(rq.closed_ts).where(rq.owner_id == user_id, rq.is_open == sa.false(),
                                              rq.status_id.in_(closed), rq.closed_ts >= since)
                .order_by(rq.closed_ts)))]

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

    def slot_rows(self, table: str, since: int = 0) -> list[tuple]:
        """Every row of a slot table (``created`` → ``(slot, n)``, ``response`` → ``(slot, n, wall_sum,
        business_sum)``) whose slot starts at or after ``since`` (epoch seconds), by slot."""
        s = (t.created_slots if table == "created" else t.response_slots).c
        cols = (s.slot, s.n) if table == "created" else (s.slot, s.n, s.wall_sum, s.business_sum)
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.select(*cols).where(s.slot >= -(-since // SLOT)).order_by(s.slot))]

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
            return [dict(r._asdict()) for r in c.execute(
                sa.select(rq.id, rq.external_id, rq.title, rq.status_id, rq.created_ts, rq.is_open, rq.category_id)
                .select_from(t.hotlist.join(t.requests, t.hotlist.c.request_id == rq.id))
                .where(t.hotlist.c.user_id == user_id).order_by(rq.created_ts))
                if r.category_id not in hidden]

    def count_requests(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(t.requests)).scalar_one()


def closed_since(day_start: int) -> int:
    """The start of the closing times the status tile reads for a day starting at ``day_start`` (epoch s): UTC
    midnight of the day before. Every time zone's today at one instant starts within some 26 hours, so the
    tiles of all zones share one or two lists of closing times, each of the last day or two only."""
    return day_start - day_start % 86400 - 86400


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
