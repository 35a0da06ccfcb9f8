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
    new = store.ensure_status("New", BaseStatus.Active)
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
        ("R4", sw, new, high, Origin.CustomerCentre, None, g_sal, ts(2026, 3, 20)),
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
    # open = base status Active: R1, R3, R4 (R2 is postponed, R5 closed)
    assert values(e, P.OpenRequestsPerCategory)[0] == {"Hardware": 0, "Hardware/Printers": 1, "Software": 2}
    assert values(e, P.OpenRequestsPerTopCategory)[0] == {"Hardware": 1, "Software": 2}
    assert values(e, P.OpenRequestsPerUser)[0] == {"Alice A": 1, "Bob B": 1}
    # by the owner's user group: R1 alice (Support), R3 bob (Sales); R4 has no owner
    assert values(e, P.OpenRequestsPerUserGroup)[0] == {"Support": 1, "Sales": 1, "Unassigned": 1}
    prio, ds = values(e, P.OpenRequestsPerPriority)
    assert prio == {"High": 2, "Low": 1}
    assert [v.label for v in ds.values] == ["Low", "High"]  # sort order 1 (Low) first, then 3 (High)
    assert values(e, P.OpenRequestsPerStatus)[0] == {"New": 3}
    origin, ds = values(e, P.OpenRequestsPerOrigin)
    assert origin["Email"] == 2 and origin["Customer Centre"] == 1 and origin["Phone"] == 0
    assert sum(origin.values()) == 3 and len(origin) == 13
    assert [v.description for v in ds.values][:3] == ["Unknown", "Email", "SMS"]  # the vendor's enum names


def test_own_unassigned_hotlist_statusscreen(world):
    e, alice = world["engine"], world["alice"]
    assert values(e, P.OwnOpenRequests, alice)[0] == {"New": 1}
    # R4 (Software) is the one open request without an owner
    assert values(e, P.UnassignedRequests)[0] == {"Hardware": 0, "Hardware/Printers": 0, "Software": 1}
    hot, ds = values(e, P.Hotlist, alice)
    assert ds.label == "Favourites"
    assert list(hot) == ["#R1 T R1"] and hot["#R1 T R1"] == pytest.approx(4 / 24, abs=0.01)
    assert values(e, P.Hotlist, world["bob"])[0] == {}
    # the Status tile, about alice's requests: R1 open (last message a reply), R2 postponed, R4 unassigned,
    # R1 in her favourites
    screen, ds = values(e, P.StatusScreen, alice)
    assert ds.label == "Status" and ds.description == "About your requests"
    assert screen == {"Open requests": 1, "Open requests with new information": 0, "Postponed requests": 1,
                      "Closed today": 0, "Unassigned requests": 1, "Requests in favourites": 1}
    store = world["store"]
    store.add_message(store.get_request(external_id="R1")["id"], Direction.Inbound, None, ts(2026, 3, 30, 11))
    store.upsert_requests([{"external_id": "R2", "status_id": store.lookup_id("status", "Closed"),
                            "closed_ts": ts(2026, 3, 30, 11)}])
    store.set_category_access(store.ensure_category("Hardware"), list_in_main=True)
    store.set_meta_default("system_warnings", "Mailbox support@ cannot be read")
    screen, ds = values(e, P.StatusScreen, alice)
    assert screen == {"Open requests": 1, "Open requests with new information": 1, "Postponed requests": 0,
                      "Closed today": 1, "Unassigned requests": 1, "Requests in favourites": 1,
                      "Hardware": 1,  # ListInMain: R1 in Hardware/Printers (R2 is closed now)
                      "Mailbox support@ cannot be read": 1}
    assert ds.values[-1].description == "System warning"
    nobody, _ = values(e, P.StatusScreen)
    assert nobody["Open requests"] == 0 and nobody["Unassigned requests"] == 1


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
    # R1 is the one request with messages: created 08:00 UTC (10:00 Oslo), first reply 08:30 -> 30 minutes, inside
    # the Mon-Fri 08-16 Oslo business hours; the later reply does not count; by the day R1 was created
    assert days["Mon 30 Mar"] == 30.0 and ds.values[-1].description == "1 request"
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
    assert values(e, P.OpenRequestsPerStatus)[0] == {"New": 2}


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


@pytest.fixture
def secret_world(world):
    """``world`` plus a members-only category Secret (subcategory Secret/Deep) with alice as its only member
    and one open request R6 in Secret/Deep: Fax, High, owned by alice, created 30 Mar 09:00 UTC, answered after
    60 minutes, on bob's hotlist."""
    store = world["store"]
    secret = store.ensure_category("Secret")
    deep = store.ensure_category("Secret/Deep")
    store.set_category_access(secret, members_only=True, members=[world["alice"].id])
    new = store.lookup_id("status", "New")
    high = store.lookup_id("priority", "High")
    store.upsert_requests([dict(external_id="R6", title="T R6", category_id=deep, status_id=new, priority_id=high,
                                origin=int(Origin.Fax), owner_id=world["alice"].id,
                                group_id=store.lookup_id("group", "Support"), created_ts=ts(2026, 3, 30, 9))])
    r6 = store.get_request(external_id="R6")["id"]
    store.add_message(r6, Direction.Inbound, None, ts(2026, 3, 30, 9))
    store.add_message(r6, Direction.Outbound, world["alice"].id, ts(2026, 3, 30, 10))
    store.set_hotlist(world["bob"].id, r6)
    return world


ALL_BUT_NONE = [p for p in P if p is not P.None_]


def test_members_only_category_hidden_from_non_members(secret_world):
    e, alice, bob = secret_world["engine"], secret_world["alice"], secret_world["bob"]
    # bob (not a member) and nobody (no user) see exactly the world without R6 and without the Secret rows
    for asker in (bob, None):
        assert values(e, P.OpenRequestsPerCategory, asker)[0] == {"Hardware": 0, "Hardware/Printers": 1,
                                                                   "Software": 2}
        assert values(e, P.OpenRequestsPerTopCategory, asker)[0] == {"Hardware": 1, "Software": 2}
        assert values(e, P.OpenRequestsPerUser, asker)[0] == {"Alice A": 1, "Bob B": 1}
        assert values(e, P.OpenRequestsPerUserGroup, asker)[0] == {"Support": 1, "Sales": 1, "Unassigned": 1}
        assert values(e, P.OpenRequestsPerPriority, asker)[0] == {"High": 2, "Low": 1}
        origin = values(e, P.OpenRequestsPerOrigin, asker)[0]
        assert origin["Fax"] == 0 and sum(origin.values()) == 3
        assert values(e, P.NumberOfCreatedRequestsPerDay, asker)[0]["Mon 30 Mar"] == 1
        assert values(e, P.NumberOfCreatedRequestsPerMonth, asker)[0]["Mar 2026"] == 5
        days, ds = values(e, P.UserResponseTimePerDay, asker)
        assert days["Mon 30 Mar"] == 30.0 and ds.values[-1].description == "1 request"
    assert values(e, P.Hotlist, bob)[0] == {}
    bob_screen = values(e, P.StatusScreen, bob)[0]
    assert bob_screen["Open requests"] == 1 and bob_screen["Requests in favourites"] == 0  # R6 is hidden
    # alice (member) sees R6: Secret 0 (own category), Secret/Deep 1; the subtree under the top category
    cats = values(e, P.OpenRequestsPerCategory, alice)[0]
    assert cats["Secret"] == 0 and cats["Secret/Deep"] == 1 and sum(cats.values()) == 4
    assert values(e, P.OpenRequestsPerTopCategory, alice)[0]["Secret"] == 1
    assert values(e, P.OpenRequestsPerUser, alice)[0] == {"Alice A": 2, "Bob B": 1}
    assert values(e, P.OpenRequestsPerOrigin, alice)[0]["Fax"] == 1
    assert values(e, P.OwnOpenRequests, alice)[0] == {"New": 2}
    assert values(e, P.NumberOfCreatedRequestsPerDay, alice)[0]["Mon 30 Mar"] == 2
    days, ds = values(e, P.UserResponseTimePerDay, alice)
    assert days["Mon 30 Mar"] == 45.0 and ds.values[-1].description == "2 requests"  # (R1 30 + R6 60) / 2
    assert values(e, P.StatusScreen, alice)[0]["Open requests"] == 2  # R1 and R6
    # no label anywhere in bob's answers names the category
    for ds in e.compute(StatContext(user=bob, time_zone="Europe/Oslo", now=NOW), ALL_BUT_NONE):
        assert all("Secret" not in v.label and "R6" not in v.label for v in ds.values), ds.panel
    # membership is data: adding bob shows it to him (a write, so no stale cache)
    secret_world["store"].set_category_access(secret_world["store"].ensure_category("Secret"),
                                              members=[alice.id, bob.id])
    assert values(e, P.OpenRequestsPerCategory, bob)[0]["Secret/Deep"] == 1
