"""The aggregate tables (``open_counts``, ``created_slots``/``created_days``, ``response_slots``/``response_days``):
the deltas a write applies, and the recount they must always equal (``tests/engine/test_invariants.py``).

The ``apply_*`` functions run on the connection of a write
(:meth:`services87.engine.storage.database.Database.write`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine.storage.database import Database, chunks

SLOT = t.SLOT_SECONDS
#: Dimensions kept in ``open_counts`` (k2 is 0 unless stated).
OPEN_DIMS = ("category", "priority", "status", "origin", "owner", "group", "owner_status", "owner_group")


def open_keys(r: dict) -> list[tuple[str, int, int]]:
    """The ``open_counts`` keys ``(dim, k1, k2)`` an open request (a mapping of its columns) counts under."""
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


def apply_open(c: Connection, delta: Counter) -> None:
    """Add ``(dim, k1, k2) -> n`` to ``open_counts``."""
    _apply_counts(c, t.open_counts, [(k, (n,)) for k, n in delta.items() if n], ("dim", "k1", "k2"), ("n",))


def apply_created(c: Connection, delta: Counter) -> None:
    """Add ``slot -> n`` to ``created_slots`` and its day sums to ``created_days``."""
    _apply_counts(c, t.created_slots, [((s,), (n,)) for s, n in delta.items() if n], ("slot",), ("n",))
    days = by_day(delta)
    _apply_counts(c, t.created_days, [((d,), (v[0],)) for d, v in days.items() if v[0]], ("day",), ("n",))


def apply_response(c: Connection, delta: dict) -> None:
    """Add ``slot -> [n, wall, business]`` to ``response_slots`` and its day sums to ``response_days``."""
    _apply_counts(c, t.response_slots, [((s,), (n, w, b)) for s, (n, w, b) in delta.items() if n or w or b],
                  ("slot",), ("n", "wall_sum", "business_sum"))
    days = by_day(delta)
    _apply_counts(c, t.response_days, [((d,), tuple(v)) for d, v in days.items() if any(v)],
                  ("day",), ("n", "wall_sum", "business_sum"))


def _apply_counts(c: Connection, table: sa.Table, items: list, key_cols: tuple[str, ...],
                  value_cols: tuple[str, ...]) -> None:
    """Add ``(key, deltas)`` items to an aggregate table; a row whose count (first value) drops to 0 goes.

    Set-based: items whose count grows can never empty a row, so they go in with one executemany of
    ``INSERT .. ON CONFLICT DO UPDATE`` (an add); the others need the stored counts: one SELECT per 300 keys,
    then one executemany each for UPDATE, INSERT and DELETE.
    """
    if not items:
        return
    add_stmt = _add_counts_stmt(c.dialect.name, table, key_cols, value_cols)
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
    for chunk in chunks(items, 300):
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


@lru_cache(maxsize=64)
def _add_counts_stmt(dialect: str, table: sa.Table, key_cols: tuple[str, ...], value_cols: tuple[str, ...]):
    """``INSERT .. ON CONFLICT (keys) DO UPDATE SET v = v + excluded.v`` for ``table`` (SQLite, PostgreSQL),
    or ``None`` for another database."""
    if dialect == "sqlite":  # SQLite >= 3.24 (ON CONFLICT); the text is what SQLAlchemy would render
        cols = key_cols + value_cols
        return (f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET "
                + ", ".join(f"{v} = {table.name}.{v} + excluded.{v}" for v in value_cols))
    if dialect == "postgresql":
        ins = pg_insert(table)
        return ins.on_conflict_do_update(index_elements=[table.c[k] for k in key_cols],
                                         set_={v: table.c[v] + ins.excluded[v] for v in value_cols})
    return None


def by_day(delta: dict) -> dict[int, list]:
    """Slot-keyed deltas (a count, or ``[n, wall, business]``) summed per UTC day."""
    day = t.DAY_SLOTS
    if isinstance(next(iter(delta.values()), 0), int):  # counts (created_slots deltas): one add per slot
        counts: Counter = Counter()
        for slot, n in delta.items():
            counts[slot // day] += n
        return {d: [n] for d, n in counts.items()}
    out: dict[int, list] = {}
    for slot, v in delta.items():
        vals = [v] if isinstance(v, (int, float)) else list(v)
        acc = out.setdefault(slot // day, [0] * len(vals))
        for k, x in enumerate(vals):
            acc[k] += x
    return out


class AggregateStore(Database):
    """The aggregate tables as a whole: their recount, their stored contents, a rebuild."""

    def recompute_aggregates(self, c: Connection | None = None) -> dict[str, Any]:
        """The aggregate tables' contents computed from the base tables (for checks and rebuilds)."""
        own = c is None
        conn = self.engine.connect() if c is None else c
        try:
            rq = t.requests.c
            open_counts: Counter = Counter()
            for r in conn.execute(sa.select(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                            rq.group_id, sa.func.count()).where(rq.is_open == sa.true())
                                  .group_by(rq.category_id, rq.priority_id, rq.status_id, rq.origin, rq.owner_id,
                                            rq.group_id)):
                for k in open_keys(dict(r._asdict())):
                    open_counts[k] += r[-1]
            created: Counter[int] = Counter()
            for ts, in conn.execute(sa.select(rq.created_ts)):
                created[ts // SLOT] += 1
            resp: dict[int, list] = defaultdict(lambda: [0, 0.0, 0.0])
            for ts, w, b in conn.execute(sa.select(rq.created_ts, rq.reply_seconds, rq.reply_business_seconds)
                                         .where(rq.reply_slot.is_not(None))):
                acc = resp[ts // SLOT]
                acc[0] += 1
                acc[1] += w
                acc[2] += b
            return {"open": {k: v for k, v in open_counts.items() if v}, "created": dict(created),
                    "response": dict(resp),
                    "created_days": {d: v[0] for d, v in by_day(created).items()},
                    "response_days": {d: v for d, v in by_day(resp).items()}}
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
                "response_days": {r.day: [r.n, r.wall_sum, r.business_sum]
                                  for r in c.execute(sa.select(t.response_days))},
            }

    def rebuild_aggregates(self) -> None:
        """Replace the aggregate tables' contents by their recount (one write)."""
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
                c.execute(t.open_counts.insert(), [{"dim": d, "k1": a, "k2": b, "n": n}
                                                   for (d, a, b), n in agg["open"].items()])
            if agg["created"]:
                c.execute(t.created_slots.insert(), [{"slot": s, "n": n} for s, n in agg["created"].items()])
            if agg["response"]:
                c.execute(t.response_slots.insert(), [{"slot": s, "n": v[0], "wall_sum": v[1], "business_sum": v[2]}
                                                       for s, v in agg["response"].items()])

        self.write("rebuild", do)

