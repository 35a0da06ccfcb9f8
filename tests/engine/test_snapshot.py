"""services87/engine/snapshot.py: the in-memory parts of one data version equal the store's own reads, and a
write starts a new snapshot (the engine never answers from an older version's parts)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from services87 import demo
from services87.engine.engine import StatisticsEngine
from services87.engine.model import ALL_PANELS, BaseStatus, StatContext
from services87.engine.snapshot import Snapshot, Snapshots

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo_store(store):
    demo.generate(store, n_requests=600, now=int(NOW.timestamp()))
    users = store.list_users()
    top = min(c for c, (_name, parent) in store.reference()["categories"].items() if not parent)
    store.set_category_access(top, members_only=True, members=[users[0].id])  # hidden from all but one
    return store


def test_slot_sums_equal_the_stores(demo_store):
    snap = Snapshot(demo_store, demo_store.data_version())
    rnd = random.Random(5)
    slots = demo_store.stored_aggregates()["created"]
    first, last = min(slots) * 900, max(slots) * 900
    for table in ("created", "response"):
        for _ in range(200):
            a = rnd.randrange(first - 86400, last + 86400)
            bounds = [(a, a + rnd.randrange(0, 40 * 86400)) for _ in range(rnd.randrange(1, 5))]
            ours, theirs = snap.slot_sums(table, bounds), demo_store.slot_sums(table, bounds)
            assert len(ours) == len(theirs)
            for x, y in zip(ours, theirs):
                assert x == pytest.approx(y, abs=1e-6)
    # bounds before what is held: the snapshot reads further back
    snap = Snapshot(demo_store, demo_store.data_version())
    late = [(last - 86400, last + 86400)]
    early = [(first - 900 * 7, first + 86400 * 30)]
    assert snap.slot_sums("created", late) == demo_store.slot_sums("created", late)
    assert snap.slot_sums("created", early) == demo_store.slot_sums("created", early)
    assert snap.slot_sums("created", late + early) == demo_store.slot_sums("created", late + early)


def test_own_figures_open_counts_and_reference_equal_the_stores(demo_store):
    snap = Snapshot(demo_store, demo_store.data_version())
    assert snap.open_counts == demo_store.open_counts()
    assert snap.reference == demo_store.reference()
    assert snap.category_flags() == demo_store.category_flags()
    assert snap.unassigned_by_category() == demo_store.unassigned_by_category()
    day = 86400
    start = int(NOW.timestamp()) // day * day
    for user in demo_store.list_users():
        for hidden in (frozenset(), frozenset(demo_store.reference()["categories"]) - {min(demo_store.reference()["categories"])}):
            for d in range(-30, 2):
                a = start + d * day - 7200
                ours = snap.own_summary(user.id, a, a + day, hidden)
                assert ours == demo_store.own_summary(user.id, a, a + day, hidden)
                assert ours["closed_today"] == _closed_between(demo_store, user.id, a, a + day, hidden)


def _closed_between(store, user_id: int, start: int, end: int, hidden) -> int:
    """The status tile's closed-today count, straight from the requests (no index range, no list of times)."""
    where = "" if not hidden else f" AND (r.category_id IS NULL OR r.category_id NOT IN ({','.join(map(str, hidden))}))"
    with store.engine.connect() as c:
        return c.execute(sa.text(
            "SELECT COUNT(*) FROM requests r JOIN statuses s ON s.id = r.status_id WHERE r.owner_id = :user AND "
            f"s.base_status = {int(BaseStatus.Closed)} AND r.closed_ts >= :start AND r.closed_ts < :end" + where),
            {"user": user_id, "start": start, "end": end}).scalar_one()


def test_a_write_starts_a_new_snapshot(demo_store):
    snaps = Snapshots(demo_store)
    v = demo_store.data_version()
    before = snaps.at(v)
    assert snaps.at(v) is before
    counts = dict(before.open_counts)
    closed = demo_store.ensure_status("Closed-for-test", BaseStatus.Active)
    rows = [dict(external_id="snap-1", title="t", status_id=closed, created_ts=int(NOW.timestamp()))]
    demo_store.upsert_requests(rows)
    v2 = demo_store.data_version()
    assert v2 > v
    after = snaps.at(v2)
    assert after is not before and after.open_counts != counts and after.open_counts == demo_store.open_counts()
    assert snaps.at(v) is not after  # an in-flight computation of the old version never gets the new parts


def test_engine_answers_equal_answers_without_the_snapshot(demo_store, settings):
    """Every panel, for users with and without hidden categories, in zones either side of UTC."""
    fast = StatisticsEngine(demo_store, settings)
    plain = StatisticsEngine(demo_store, settings)
    plain.snapshots = None  # the calculators read the store directly
    for user in demo_store.list_users()[:4] + [None]:
        for zone in ("Pacific/Kiritimati", "Europe/Oslo", "Asia/Kathmandu", "America/St_Johns", "Pacific/Pago_Pago"):
            ctx = StatContext(user=user, time_zone=zone, language="en", now=NOW)
            assert list(fast.compute(ctx, list(ALL_PANELS))) == list(plain.compute(ctx, list(ALL_PANELS)))


def test_the_status_tile_reads_ranges_of_the_owner_index(demo_store):
    """The postponed count and the closing times of the status tile are ranges of ``ix_requests_owner_state``
    (owner, open, status, closing time): their cost follows what they count, not every request the user ever
    owned (1.3 s a cold tile at 10^7 demo requests before; docs/performance.md, "How cost grows")."""
    if demo_store.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plans")
    statements: list[tuple[str, tuple]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "requests" in statement and ("closed_ts >=" in statement or "status_id IN" in statement):
            statements.append((statement, parameters))

    sa.event.listen(demo_store.engine, "before_cursor_execute", seen)
    try:
        user = demo_store.list_users()[0]
        start = int(NOW.timestamp()) // 86400 * 86400
        demo_store.own_summary(user.id, start, start + 86400)
    finally:
        sa.event.remove(demo_store.engine, "before_cursor_execute", seen)
    assert len(statements) == 2, statements  # postponed, closing times
    with demo_store.engine.connect() as c:
        for statement, parameters in statements:
            plan = " ".join(row[-1] for row in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "ix_requests_owner_state (owner_id=? AND is_open=? AND status_id=?" in plan, (statement, plan)
