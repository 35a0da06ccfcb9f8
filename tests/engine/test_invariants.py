"""Panel invariants on random data (hypothesis), checked through the engine after random writes.

* per category = per priority = per status = per origin = per user group = total open
* per user + unassigned = total open; per top category = the sum of its subtree
* OwnOpenRequests sums to the asking user's row of OpenRequestsPerUser; StatusScreen tiles agree
* created-per-bucket sums equal a direct count over the same local-time window
* the aggregate tables equal ``store.recompute_aggregates()`` after any sequence of upserts, updates, messages
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st

from services87.engine import schema as t
from services87.engine.engine import StatisticsEngine
from services87.engine.calculators import ORIGIN_LABELS, category_path
from services87.engine.model import BaseStatus, Direction, Origin, StatContext, StatusScreenPanelType as P
from tests.engine.helpers import assert_aggregates_consistent

NOW = datetime(2026, 10, 26, 9, 30, tzinfo=timezone.utc)  # the day after the EU fall-back switch
NOW_TS = int(NOW.timestamp())
ZONES = ["Europe/Oslo", "UTC", "Asia/Kathmandu", "America/Santiago", "America/St_Johns"]
EXT_POOL = [f"X{i}" for i in range(40)]


@pytest.fixture
def world(store, settings):
    groups = [store.ensure_group(n) for n in ("Support", "Sales", "Billing")]
    cats = [store.ensure_category(p) for p in ("Alpha", "Alpha/One", "Alpha/Two", "Alpha/Two/Deep", "Beta",
                                                "Beta/One", "Gamma")]
    statuses = [store.ensure_status("New", BaseStatus.Active), store.ensure_status("Waiting", BaseStatus.Postponed),
                store.ensure_status("Closed", BaseStatus.Closed), store.ensure_status("Deleted", BaseStatus.Deleted)]
    prios = [store.ensure_priority("Low", 1), store.ensure_priority("High", 2)]
    users = [store.add_user("u1", "User One", groups=[groups[0]]), store.add_user("u2", "User Two", groups=groups[:2]),
             store.add_user("u3", "User Three", groups=[groups[2]], active=False)]
    return dict(store=store, engine=StatisticsEngine(store, settings), groups=groups, cats=cats, statuses=statuses,
                prios=prios, users=users)


def maybe(values):
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def request_rows(draw, w):
    exts = draw(st.lists(st.sampled_from(EXT_POOL), min_size=1, max_size=6, unique=True))
    rows = []
    for ext in exts:
        created = NOW_TS - draw(st.integers(0, 400 * 86400))
        row = {"external_id": ext, "title": "t", "status_id": draw(st.sampled_from(w["statuses"])),
               "category_id": draw(maybe(w["cats"])), "priority_id": draw(maybe(w["prios"])),
               "owner_id": draw(maybe(w["users"])), "group_id": draw(maybe(w["groups"])),
               "origin": int(draw(st.sampled_from(list(Origin)))), "created_ts": created}
        if draw(st.booleans()):
            offsets = sorted(draw(st.lists(st.integers(0, 3 * 86400), max_size=5)))
            row["messages"] = [(Direction.Inbound if draw(st.booleans()) else Direction.Outbound,
                                draw(st.sampled_from(w["users"])), min(NOW_TS, created + o)) for o in offsets]
            row["messages"] = [(d, a if d == Direction.Outbound else None, ts) for d, a, ts in row["messages"]]
        rows.append(row)
    return rows


def operations(w):
    upsert = st.tuples(st.just("upsert"), request_rows(w))
    message = st.tuples(st.just("message"), st.tuples(st.sampled_from(EXT_POOL), st.booleans(),
                                                        st.sampled_from(w["users"]), st.integers(0, 400 * 86400)))
    hot = st.tuples(st.just("hotlist"), st.tuples(st.sampled_from(w["users"]), st.sampled_from(EXT_POOL)))
    return st.lists(st.one_of(upsert, message, hot), min_size=1, max_size=6)


def apply(w, ops) -> None:
    store = w["store"]
    for kind, arg in ops:
        if kind == "upsert":
            store.upsert_requests(arg)
            continue
        ext = arg[0] if kind == "message" else arg[1]
        if ext not in store.existing_external_ids([ext]):
            continue
        rid = store.get_request(external_id=ext)["id"]
        if kind == "message":
            _e, inbound, author, age = arg
            store.add_message(rid, Direction.Inbound if inbound else Direction.Outbound,
                              None if inbound else author, NOW_TS - age)
        else:
            store.set_hotlist(arg[0], rid, on=True)


def check(w, zone: str, asker: int) -> None:
    store, engine = w["store"], w["engine"]
    user = store.get_user(asker)
    ctx = StatContext(user=user, time_zone=zone, language="en", now=NOW)
    panels = [P.OpenRequestsPerCategory, P.OpenRequestsPerTopCategory, P.OpenRequestsPerUser,
              P.OpenRequestsPerUserGroup, P.OpenRequestsPerPriority, P.OpenRequestsPerStatus, P.OpenRequestsPerOrigin,
              P.UnassignedRequests, P.OwnOpenRequests, P.StatusScreen, P.NumberOfCreatedRequestsPerDay,
              P.NumberOfCreatedRequestsPerWeek, P.NumberOfCreatedRequestsPerMonth]
    ds = dict(zip(panels, engine.compute(ctx, panels)))
    with store.engine.connect() as c:
        total_open = c.execute(sa.select(sa.func.count()).select_from(t.requests)
                               .where(t.requests.c.is_open == sa.true())).scalar_one()
    for p in (P.OpenRequestsPerCategory, P.OpenRequestsPerTopCategory, P.OpenRequestsPerUserGroup,
              P.OpenRequestsPerPriority, P.OpenRequestsPerStatus, P.OpenRequestsPerOrigin):
        assert ds[p].total == total_open, p
    assert ds[P.OpenRequestsPerUser].total + ds[P.UnassignedRequests].total == total_open
    cats = {v.label: v.value for v in ds[P.OpenRequestsPerCategory].values}
    for top in ds[P.OpenRequestsPerTopCategory].values:
        if top.label == "(none)":
            assert cats.get("(none)", 0) == top.value
            continue
        subtree = sum(n for label, n in cats.items() if label == top.label or label.startswith(top.label + "/"))
        assert top.value == subtree, top.label
    # each open-request panel against a direct GROUP BY on the requests table
    ref = store.reference()
    names = {"group_id": lambda k: ref["groups"][k], "priority_id": lambda k: ref["priorities"][k][0],
             "status_id": lambda k: ref["statuses"][k][0], "origin": lambda k: ORIGIN_LABELS[Origin(k)],
             "owner_id": lambda k: ref["users"][k][1],
             "category_id": lambda k: "/".join(category_path(ref, k))}
    for p, col, where in ((P.OpenRequestsPerPriority, "priority_id", None),
                          (P.OpenRequestsPerStatus, "status_id", None), (P.OpenRequestsPerOrigin, "origin", None),
                          (P.OpenRequestsPerUser, "owner_id", t.requests.c.owner_id.is_not(None)),
                          (P.UnassignedRequests, "category_id", t.requests.c.owner_id.is_(None))):
        q = sa.select(t.requests.c[col], sa.func.count()).where(t.requests.c.is_open == sa.true())
        if where is not None:
            q = q.where(where)
        with store.engine.connect() as c:
            direct = {("(none)" if k is None else names[col](k)): n for k, n in c.execute(q.group_by(t.requests.c[col]))}
        shown = {v.label: v.value for v in ds[p].values if v.value}
        assert shown == direct, p
    # per user group = by the owner's (primary) group, unassigned in their own row
    u = t.users.c
    q = (sa.select(u.primary_group_id, sa.func.count()).select_from(t.requests.join(t.users, t.requests.c.owner_id == u.id))
         .where(t.requests.c.is_open == sa.true()).group_by(u.primary_group_id))
    with store.engine.connect() as c:
        direct = {("(none)" if k is None else ref["groups"][k]): n for k, n in c.execute(q)}
        direct["Unassigned"] = c.execute(sa.select(sa.func.count()).select_from(t.requests).where(
            t.requests.c.is_open == sa.true(), t.requests.c.owner_id.is_(None))).scalar_one()
    assert {v.label: v.value for v in ds[P.OpenRequestsPerUserGroup].values if v.value} == {
        k: n for k, n in direct.items() if n}
    own = ds[P.OwnOpenRequests].total
    row = [v.value for v in ds[P.OpenRequestsPerUser].values if v.description == user.login]
    assert own == (row[0] if row else 0)
    tiles = {v.label: v.value for v in ds[P.StatusScreen].values}
    assert tiles["Open requests"] == own
    assert tiles["Unassigned requests"] == ds[P.UnassignedRequests].total
    # bucket sums against a direct count over the same window
    from services87.engine import timebuckets as tb
    from services87.engine.timebuckets import local_today, resolve_zone

    today = local_today(NOW, resolve_zone(zone))
    for p, make, n in ((P.NumberOfCreatedRequestsPerDay, tb.day_buckets, 14),
                       (P.NumberOfCreatedRequestsPerWeek, tb.week_buckets, 12),
                       (P.NumberOfCreatedRequestsPerMonth, tb.month_buckets, 12)):
        bs = make(today, n, resolve_zone(zone))
        with store.engine.connect() as c:
            direct = c.execute(sa.select(sa.func.count()).select_from(t.requests).where(
                t.requests.c.created_ts >= bs[0].start, t.requests.c.created_ts < bs[-1].end)).scalar_one()
        assert ds[p].total == direct, p
        assert len(ds[p].values) == n
    assert_aggregates_consistent(store)


def test_invariants_hold_after_random_writes(world):
    @hsettings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
               database=None, phases=[Phase.explicit, Phase.generate])  # state accumulates: no shrinking
    @given(ops=operations(world), zone=st.sampled_from(ZONES), asker=st.sampled_from(world["users"]))
    def run(ops, zone, asker):
        apply(world, ops)
        check(world, zone, asker)

    run()
    assert world["store"].count_requests() > 0
