"""Panels 21-23: the vendor's time to reply (creation -> first reply, per-priority working hours, requests with
one message ignored, summed by creation), and its recomputation when messages arrive out of order."""

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from services87.config import Settings
from services87.engine.engine import StatisticsEngine
from services87.engine.model import BaseStatus, Direction, StatContext, StatusScreenPanelType as P
from services87.engine.business_hours import BusinessCalendar
from services87.engine.storage import Store
from tests.support import fresh_db_url

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=timezone.utc)  # Monday; Oslo is UTC+2 since 29 March


def ts(y, mo, d, h=12, mi=0):
    return int(datetime(y, mo, d, h, mi, tzinfo=timezone.utc).timestamp())


def per_day(store, clock="business"):
    engine = StatisticsEngine(store, Settings.load(env={}, response_time_clock=clock))
    ds = engine.compute(StatContext(time_zone="Europe/Oslo", language="en", now=NOW), [P.UserResponseTimePerDay])[0]
    return {v.label: (v.value, v.description) for v in ds.values}


def make(store):
    new = store.ensure_status("New", BaseStatus.Active)
    high = store.ensure_priority("High", 1)
    low = store.ensure_priority("Low", 2)
    agent = store.add_user("agent", "Agent A")
    return new, high, low, agent


def test_definition_by_hand(store):
    new, high, low, agent = make(store)
    rows = [
        # T1 High: created Mon 08:00 UTC (10:00 Oslo), customer message, reply 08:30 -> 30 min
        ("T1", high, ts(2026, 3, 30, 8), [(1, None, ts(2026, 3, 30, 8)), (2, agent, ts(2026, 3, 30, 8, 30)),
                                          (1, None, ts(2026, 3, 30, 9)), (2, agent, ts(2026, 3, 30, 11))]),
        # T2 Low: created Sun 10:00 UTC, reply Mon 07:00 UTC (09:00 Oslo): wall 21 h = 1260 min; business only
        # Mon 08:00-09:00 Oslo = 60 min; counted on Sunday, the day it was registered
        ("T2", low, ts(2026, 3, 29, 10), [(1, None, ts(2026, 3, 29, 10)), (2, agent, ts(2026, 3, 30, 7))]),
        # T3: a single message - ignored
        ("T3", low, ts(2026, 3, 30, 9), [(1, None, ts(2026, 3, 30, 9))]),
        # T4: two customer messages, no reply - ignored
        ("T4", low, ts(2026, 3, 30, 9), [(1, None, ts(2026, 3, 30, 9)), (1, None, ts(2026, 3, 30, 10))]),
    ]
    store.upsert_requests([{"external_id": e, "status_id": new, "priority_id": p, "created_ts": c, "messages": m}
                           for e, p, c, m in rows])
    business = per_day(store)
    assert business["Mon 30 Mar"] == (30.0, "1 request")
    assert business["Sun 29 Mar"] == (60.0, "1 request")
    wall = per_day(store, "wall")
    assert wall["Mon 30 Mar"] == (30.0, "1 request") and wall["Sun 29 Mar"] == (1260.0, "1 request")
    # per-priority working hours: High works 10:15-16:00 Oslo -> T1 (10:00-10:30 Oslo) has 15 working minutes
    store.set_priority_hours(high, [1, 2, 3, 4, 5], "10:15", "16:00", "Europe/Oslo")
    assert per_day(store)["Mon 30 Mar"] == (15.0, "1 request")
    assert per_day(store, "wall")["Mon 30 Mar"] == (30.0, "1 request")
    # ... and its non-working dates: Monday 30 March off for Low -> T2 has no working minute before its reply
    store.set_priority_hours(low, [1, 2, 3, 4, 5], "08:00", "16:00", "Europe/Oslo", ["2026-03-30"])
    assert per_day(store)["Sun 29 Mar"] == (0.0, "1 request")
    # a priority change moves a request to the other priority's hours
    store.upsert_requests([{"external_id": "T1", "priority_id": low}])
    assert per_day(store)["Mon 30 Mar"] == (0.0, "1 request")
    assert store.stored_aggregates()["response"] == store.recompute_aggregates()["response"]


MSG = st.tuples(st.sampled_from([1, 2]), st.integers(min_value=0, max_value=3 * 86400))


@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(reqs=st.lists(st.tuples(st.integers(min_value=0, max_value=5 * 86400), st.lists(MSG, max_size=6)),
                     min_size=1, max_size=4),
       order=st.randoms(use_true_random=False))
def test_out_of_order_messages_give_the_same_numbers(tmp_path_factory, reqs, order):
    """The same messages added in time order and shuffled give the same per-request values and panels."""
    results = []
    for shuffled in (False, True):
        store = Store(fresh_db_url(tmp_path_factory.mktemp("ooo"), migrated=True),
                      BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "Europe/Oslo"))
        store.migrate()
        new, high, _low, agent = make(store)
        base = ts(2026, 3, 23, 6)
        store.upsert_requests([{"external_id": f"X{i}", "status_id": new, "priority_id": high,
                                "created_ts": base + c} for i, (c, _m) in enumerate(reqs)])
        adds = [(i, d, base + c + off) for i, (c, msgs) in enumerate(reqs) for d, off in msgs]
        adds.sort(key=lambda a: a[2])
        if shuffled:
            order.shuffle(adds)
        ids = {i: store.get_request(external_id=f"X{i}")["id"] for i in range(len(reqs))}
        for i, d, at in adds:
            store.add_message(ids[i], Direction(d), agent if d == 2 else None, at)
        agg = store.stored_aggregates()["response"]
        assert agg == store.recompute_aggregates()["response"]
        results.append((agg, per_day(store), per_day(store, "wall")))
        store.close()
    assert results[0] == results[1]
