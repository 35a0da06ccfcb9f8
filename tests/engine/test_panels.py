"""Each panel's values on a small hand-built data set."""

from datetime import datetime, timezone

import pytest

from services87.engine.engine import StatisticsEngine
from services87.engine.model import BaseStatus, Direction, Origin, StatContext, StatusScreenPanelType as P, UnknownPanel

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=timezone.utc)  # Monday after the EU DST switch (29 March)
H = 3600


def ts(y, mo, d, h=12, mi=0):
    return int(datetime(y, mo, d, h, mi, tzinfo=timezone.utc).timestamp())


@pytest.fixture
def world(store, settings):
    g_sup = store.ensure_group("Support")
    g_sal = store.ensure_group("Sales")
    hw = store.ensure_category("Hardware")
    printers = store.ensure_category("Hardware/Printers")
    sw = store.ensure_category("Software")
    new = store.ensure_status("New", BaseStatus.Open)
    wait = store.ensure_status("Waiting", BaseStatus.Postponed)
    closed = store.ensure_status("Closed", BaseStatus.Closed)
    store.ensure_status("Deleted", BaseStatus.Deleted)
    low = store.ensure_priority("Low", 1)
    high = store.ensure_priority("High", 3)
    alice = store.add_user("alice", "Alice A", groups=[g_sup], time_zone="Europe/Oslo")
    bob = store.add_user("bob", "Bob B", groups=[g_sal])
    rows = [
        # ext, cat, status, prio, origin, owner, group, created
        ("R1", printers, new, high, Origin.Email, alice, g_sup, ts(2026, 3, 30, 8)),
        ("R2", hw, wait, low, Origin.Phone, alice, g_sup, ts(2026, 3, 29, 10)),
        ("R3", sw, new, low, Origin.Email, bob, g_sal, ts(2026, 3, 28, 23, 30)),  # 00:30 local on the 29th? no: +1 → 29 Mar 00:30
        ("R4", sw, new, high, Origin.Web, None, g_sal, ts(2026, 3, 20)),
        ("R5", printers, closed, low, Origin.Chat, bob, g_sup, ts(2026, 3, 10)),
    ]
    store.upsert_requests([dict(external_id=e, title="T " + e, category_id=c, status_id=s, priority_id=p, origin=int(o),
                                owner_id=ow, group_id=g, created_ts=cr) for e, c, s, p, o, ow, g, cr in rows])
    r1 = store.get_request(external_id="R1")["id"]
    # customer writes at 08:00 UTC, alice answers 30 min later; a second inbound answered after 90 min
    store.add_message(r1, Direction.Inbound, None, ts(2026, 3, 30, 8))
    store.add_message(r1, Direction.Outbound, alice, ts(2026, 3, 30, 8, 30))
    store.add_message(r1, Direction.Inbound, None, ts(2026, 3, 30, 9))
    store.add_message(r1, Direction.Outbound, bob, ts(2026, 3, 30, 10, 30))
    store.set_hotlist(alice, r1)
    return dict(store=store, engine=StatisticsEngine(store, settings), alice=store.get_user(alice),
                bob=store.get_user(bob))


def values(engine, panel, user=None, tz="Europe/Oslo", lang="en"):
    ds = engine.compute(StatContext(user=user, time_zone=tz, language=lang, now=NOW), [panel])[0]
    return {v.label: v.value for v in ds.values}, ds


def test_open_per_dimension(world):
    e = world["engine"]
    assert values(e, P.OpenRequestsPerCategory)[0] == {"Hardware": 1, "Hardware/Printers": 1, "Software": 2}
    assert values(e, P.OpenRequestsPerTopCategory)[0] == {"Hardware": 2, "Software": 2}
    assert values(e, P.OpenRequestsPerUser)[0] == {"Alice A": 2, "Bob B": 1}
    assert values(e, P.OpenRequestsPerUserGroup)[0] == {"Support": 2, "Sales": 2}
    assert values(e, P.OpenRequestsPerPriority)[0] == {"High": 2, "Low": 2}
    assert values(e, P.OpenRequestsPerStatus)[0] == {"New": 3, "Waiting": 1}
    origin = values(e, P.OpenRequestsPerOrigin)[0]
    assert origin["Email"] == 2 and origin["Phone"] == 1 and origin["Web"] == 1 and sum(origin.values()) == 4


def test_own_unassigned_hotlist_statusscreen(world):
    e, alice = world["engine"], world["alice"]
    assert values(e, P.OwnOpenRequests, alice)[0] == {"New": 1, "Waiting": 1}
    assert values(e, P.UnassignedRequests)[0] == {"Sales": 1, "Support": 0}
    hot, _ = values(e, P.Hotlist, alice)
    assert list(hot) == ["#R1 T R1"] and hot["#R1 T R1"] == pytest.approx(4 / 24, abs=0.01)
    assert values(e, P.Hotlist, world["bob"])[0] == {}
    screen, _ = values(e, P.StatusScreen, alice)
    assert screen["Open requests"] == 4 and screen["Unassigned requests"] == 1 and screen["My open requests"] == 2
    assert screen["Created today"] == 1
    assert screen["Average response time today (minutes)"] == 60.0  # (30 + 90) / 2


def test_created_per_day_uses_local_midnight_across_dst(world):
    e = world["engine"]
    days, ds = values(e, P.NumberOfCreatedRequestsPerDay)
    labels = [v.label for v in ds.values]
    assert labels[-1] == "Mon 30 Mar" and len(labels) == 14
    # R3 at 23:30 UTC on the 28th is 00:30 on the 29th in Oslo (UTC+1 before the switch at 01:00 UTC)
    assert days["Sun 29 Mar"] == 2 and days["Sat 28 Mar"] == 0 and days["Mon 30 Mar"] == 1
    utc, _ = values(e, P.NumberOfCreatedRequestsPerDay, tz="UTC")
    assert utc["Sat 28 Mar"] == 1 and utc["Sun 29 Mar"] == 1


def test_created_per_week_and_month(world):
    e = world["engine"]
    weeks, _ = values(e, P.NumberOfCreatedRequestsPerWeek)
    assert weeks["Week 14"] == 1 and weeks["Week 13"] == 2 and weeks["Week 12"] == 1 and weeks["Week 11"] == 1
    months, _ = values(e, P.NumberOfCreatedRequestsPerMonth)
    assert months["Mar 2026"] == 5 and len(months) == 12


def test_response_time_per_day(world):
    e = world["engine"]
    days, ds = values(e, P.UserResponseTimePerDay)
    assert days["Mon 30 Mar"] == 60.0 and ds.values[-1].description == "2 replies"
    assert days["Sun 29 Mar"] == 0


def test_none_and_unknown(world):
    e = world["engine"]
    ds = e.compute(StatContext(now=NOW), [P.None_])[0]
    assert ds.label == "" and ds.values == ()
    with pytest.raises(UnknownPanel):
        e.compute(StatContext(now=NOW), [42])
    with pytest.raises(UnknownPanel):
        e.compute(StatContext(now=NOW), ["OpenRequestsPerNothing"])
    assert [d.panel for d in e.compute(StatContext(now=NOW), ["openrequestsperuser", "7", 102])] == [
        P.OpenRequestsPerUser, P.OpenRequestsPerOrigin, P.UnassignedRequests]


def test_cache_invalidated_by_write_not_timer(world):
    e, store = world["engine"], world["store"]
    before, _ = values(e, P.OpenRequestsPerStatus)
    assert values(e, P.OpenRequestsPerStatus)[0] == before and e.hits >= 1
    store.upsert_requests([{"external_id": "R4", "status_id": store.lookup_id("status", "Closed")}])
    assert values(e, P.OpenRequestsPerStatus)[0] == {"New": 2, "Waiting": 1}


def test_aggregates_match_base_tables(world):
    store = world["store"]
    assert store.stored_aggregates()["open"] == store.recompute_aggregates()["open"]
    assert store.stored_aggregates()["created"] == store.recompute_aggregates()["created"]


def test_enum_matches_vendor_wsdl():
    import re
    from pathlib import Path

    wsdl = (Path(__file__).resolve().parents[2] / "wsdl" / "Services87-CustomerService.wsdl").read_text()
    block = wsdl[wsdl.index('<xs:simpleType name="StatusScreenPanelType">'):]
    block = block[:block.index("</xs:simpleType>")]
    names = re.findall(r'<xs:enumeration value="(\w+)"', block)
    numbers = {}
    implicit = 0
    for m in re.finditer(r'<xs:enumeration value="(\w+)"\s*(/>|>(.*?)</xs:enumeration>)', block, re.S):
        ev = re.search(r"<EnumerationValue[^>]*>(\d+)<", m.group(3) or "")
        numbers[m.group(1)] = int(ev.group(1)) if ev else implicit
        implicit += 1
    assert [p.wire_name for p in P] == names
    assert {p.wire_name: int(p) for p in P} == numbers
