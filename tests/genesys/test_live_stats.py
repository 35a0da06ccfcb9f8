"""Every statistic category on a hand-built timeline (real SQLite store, fixed clock)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services87.config import Settings
from services87.engine.engine import StatisticsEngine
from services87.engine.storage.live import IngestError, LiveStore
from services87.engine.model import StoreUnavailable
from services87.engine.statserver import (
    InvalidDefinition,
    InvalidObjectType,
    UnknownObject,
    UnknownStatistic,
    check_object_type,
    lookup,
    parse_definition,
)
from services87.engine.statserver.evaluate import StatEvaluator

# 2026-03-02 10:00:00 UTC (a Monday); the tenant zone is UTC so the growing window starts at 00:00 UTC.
T0 = int(datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)
S = 1000


def ev(i, **kw):
    return {"id": f"e{i}", **kw}


@pytest.fixture
def live(store):
    g = store.ensure_group("Support")
    store.ensure_group("Sales")
    store.add_user("anna", "Anna", groups=[g])
    store.add_user("bjorn", "Bjorn", groups=[g])
    store.add_user("clara", "Clara")
    ls = LiveStore(store)
    events = [
        ev(1, type="place", place="P1", dn="5001", group="Support"),
        ev(2, type="queue", queue="Q1"),
        # anna: logs in at 09:00, ready 09:00-09:10, call 09:10-09:15, ACW 09:15-09:17, ready 09:17-09:30,
        # not ready since 09:30
        ev(3, type="agent-state", ts=T0 - 3600 * S, agent="anna", status="LoggedIn", place="P1"),
        ev(4, type="agent-state", ts=T0 - 3600 * S, agent="anna", status="WaitForNextCall"),
        ev(5, type="agent-state", ts=T0 - 3000 * S, agent="anna", status="CallInbound"),
        ev(6, type="agent-state", ts=T0 - 2700 * S, agent="anna", status="AfterCallWork"),
        ev(7, type="agent-state", ts=T0 - 2580 * S, agent="anna", status="WaitForNextCall"),
        ev(8, type="agent-state", ts=T0 - 1800 * S, agent="anna", status="NotReadyForNextCall", reason="Lunch"),
        # bjorn: ready since 09:50
        ev(9, type="agent-state", ts=T0 - 600 * S, agent="bjorn", status="WaitForNextCall", dn="5002"),
        # interactions in Q1: i1 answered after 10 s by anna; i2 abandoned after 30 s; i3 waiting since 09:59
        ev(10, type="interaction", ts=T0 - 3010 * S, interaction="i1", event="offered", queue="Q1"),
        ev(11, type="interaction", ts=T0 - 3000 * S, interaction="i1", event="answered", agent="anna"),
        ev(12, type="interaction", ts=T0 - 2700 * S, interaction="i1", event="released"),
        ev(13, type="interaction", ts=T0 - 1000 * S, interaction="i2", event="offered", queue="Q1"),
        ev(14, type="interaction", ts=T0 - 970 * S, interaction="i2", event="abandoned"),
        ev(15, type="interaction", ts=T0 - 60 * S, interaction="i3", event="offered", queue="Q1", media="chat"),
    ]
    assert ls.apply_batch(events) == ["accepted"] * len(events)
    return ls


@pytest.fixture
def evaluator(live, store):
    return StatEvaluator(live, StatisticsEngine(store, Settings.load(env={})), "UTC")


def val(evaluator, defn, ot, oid):
    if isinstance(defn, dict):
        defn = parse_definition(defn)
    elif isinstance(defn, str):
        defn = lookup(defn)
    return evaluator.evaluate(defn, ot, oid, now_ms=T0).raw


def test_current_state(evaluator):
    tree = val(evaluator, "CurrentAgentState", "Agent", "anna")
    assert tree["status"] == "NotReadyForNextCall" and tree["reason"] == "Lunch" and tree["placeId"] == "P1"
    assert tree["time"] == T0 - 1800 * S
    assert tree["dnStatuses"][0]["dnId"] == "5001"
    assert val(evaluator, "CurrentAgentState", "Agent", "clara")["status"] == "LoggedOut"
    group = val(evaluator, "CurrentAgentState", "GroupAgents", "Support")
    assert group["counts"] == {"NotReadyForNextCall": 1, "WaitForNextCall": 1}
    assert "anna" in [a["agentId"] for a in group["agents"]]
    assert all(isinstance(a["agentId"], str) for a in group["agents"])  # every member named by login
    place = val(evaluator, "CurrentAgentState", "Place", "P1")
    assert place["agentId"] == "anna"
    q = val(evaluator, {"category": "CurrentState", "subject": "DNAction"}, "Queue", "Q1")
    assert q["waiting"] == 1 and q["interactions"][0]["interactionId"] == "i3"


def test_current_time_and_number(evaluator):
    assert val(evaluator, "TimeInCurrentState", "Agent", "anna") == 1800
    assert val(evaluator, {"category": "CurrentTime", "subject": "DNStatus", "mainMask": "WaitForNextCall"},
               "Agent", "anna") == 0
    assert val(evaluator, "CurrentReadyAgents", "GroupAgents", "Support") == 1
    assert val(evaluator, "CurrentReadyAgents", "Tenant", "Environment") == 1
    assert val(evaluator, "CurrentNotReadyAgents", "Tenant", "Environment") == 1
    assert val(evaluator, "CurrentLoggedInAgents", "GroupPlaces", "Support") == 1  # P1 is in Support
    assert val(evaluator, "Current_In_Queue", "Queue", "Q1") == 1
    assert val(evaluator, "LongestWaitTime", "Queue", "Q1") == 60
    # masks: "*" minus exclusions
    assert val(evaluator, {"category": "CurrentNumber", "subject": "AgentStatus", "mainMask": "~NotReadyForNextCall"},
               "Tenant", "Environment") == 1


def test_totals(evaluator):
    assert val(evaluator, "InboundCalls", "Agent", "anna") == 1
    # ready 09:00-09:10 (600 s) + 09:17-09:30 (780 s)
    assert val(evaluator, "ReadyDuration", "Agent", "anna") == 1380
    assert val(evaluator, "ReadyDuration", "GroupAgents", "Support") == 1380 + 600  # bjorn ready in progress
    assert val(evaluator, "NotReadyDuration", "Agent", "anna") == 1800  # in progress, adjusted
    # TotalTime counts completed actions only: 600 + 300 + 120 + 780 (LoggedIn at 09:00 is replaced by Ready)
    assert val(evaluator, "LoginDuration", "Agent", "anna") == 1800
    assert val(evaluator, {"category": "TotalTime", "subject": "AgentStatus", "mainMask": "NotReadyForNextCall",
                           "intervalType": "GrowingWindow"}, "Agent", "anna") == 0
    # (call 300 + ACW 120) / 1 call
    assert val(evaluator, "AverageHandlingTime", "Agent", "anna") == 420
    assert val(evaluator, "AbandonedCalls", "Queue", "Q1") == 1
    assert val(evaluator, {"category": "TotalNumber", "subject": "DNAction", "mainMask": "CallEntered",
                           "intervalType": "GrowingWindow", "dynamicFilter": "MediaType=chat"}, "Queue", "Q1") == 1


def test_windows(evaluator):
    # a sliding window of 20 minutes sees only the abandon (09:43:50) ... not the 09:10 call
    d = {"category": "TotalNumber", "subject": "DNAction", "mainMask": "CallAbandoned,CallAnswered",
         "intervalType": "SlidingWindow", "intervalLength": 1200}
    assert val(evaluator, d, "Queue", "Q1") == 1
    assert val(evaluator, dict(d, intervalLength=3600), "Queue", "Q1") == 2
    assert val(evaluator, dict(d, intervalType=None, dynamicTimeProfile="3600:10"), "Queue", "Q1") == 2
    # a growing window reset at 09:20 sees only ready time after it
    g = {"category": "TotalAdjustedTime", "subject": "DNStatus", "mainMask": "WaitForNextCall",
         "intervalType": "GrowingWindow", "dynamicTimeProfile": "09:20"}
    assert val(evaluator, g, "Agent", "anna") == 600
    # reset later in the day: the window started yesterday at that time
    assert val(evaluator, dict(g, dynamicTimeProfile="11:00"), "Agent", "anna") == 1380
    defn = parse_definition(g)
    assert evaluator.next_reset(defn, T0) == T0 + 86400 * S - 40 * 60 * S


def test_service_factor(evaluator):
    assert val(evaluator, "ServiceLevel", "Queue", "Q1") == 50.0  # 1 of (1 answered + 1 abandoned)
    assert val(evaluator, {"category": "ServiceFactor1", "subject": "DNAction", "timeRangeRight": 5,
                           "intervalType": "GrowingWindow"}, "Queue", "Q1") == 0.0
    assert val(evaluator, {"category": "ServiceFactor1", "subject": "DNAction", "timeRangeLeft": 40,
                           "timeRangeRight": 60, "intervalType": "GrowingWindow"}, "Queue", "Q1") == 100.0


def test_panels_are_statistics(evaluator, store):
    v = val(evaluator, "OpenRequestsPerStatus", "Tenant", "Environment")
    assert set(v) == {"Label", "Values", "Description"}
    assert val(evaluator, "OwnOpenRequests", "Agent", "anna")["Values"] is not None
    with pytest.raises(InvalidObjectType):
        check_object_type(lookup("OpenRequestsPerStatus"), "Agent")


def test_numeric_wire_value(evaluator):
    r = evaluator.evaluate(lookup("AverageHandlingTime"), "Agent", "anna", now_ms=T0)
    assert r.value["intValue"] == 420 and r.value["timestamp"] == T0 and r.value["stringValue"] == "420"


def test_lenient_definitions():
    d = parse_definition({"Category": "totaladjustedtime", "SUBJECT": "dnstatus", "main_mask": "Ready",
                          "relMask": "WaitForNextCall", "dynamicProfile": "0:00", "notificationMode": "PERIODICAL",
                          "notificationFrequency": "10", "insensitivity": "1", "objects": "Agent,RoutePoint"})
    assert d.category == "TotalAdjustedTime" and d.subject == "DNStatus" and d.notification.mode == "Periodical"
    assert d.notification.frequency == 10 and d.object_types == ("Agent",) and d.main_mask.matches("WaitForNextCall")
    for bad in ({}, {"category": "Nope"}, {"category": "CurrentNumber", "mainMask": "Bogus"},
                {"category": "CurrentNumber", "notificationFrequency": "x"}, {"category": "CurrentNumber", "zzz": 1},
                {"category": "TotalTime", "intervalType": "Weird"}, {"category": "TotalTime", "dynamicTimeProfile": "7:99"},
                {"category": "CurrentNumber", "subject": "Nope"}, {"category": "CurrentNumber", "mainMask": "~*"},
                {"category": "CurrentNumber", "dynamicFilter": "Skill=x"}, "notadict",
                {"category": "ServiceFactor1", "timeRangeLeft": 9, "timeRangeRight": 3}):
        with pytest.raises(InvalidDefinition):
            parse_definition(bad)
    with pytest.raises(UnknownStatistic):
        lookup("NoSuchStatistic")


def test_unknown_objects(live):
    for ot, oid in (("Agent", "nobody"), ("Place", "P9"), ("GroupAgents", "Nope"), ("Queue", "Q9"),
                    ("Tenant", "Other"), ("Agent", "")):
        with pytest.raises(UnknownObject):
            live.resolve(ot, oid)


def test_ingest_idempotent_and_atomic(live, store):
    v0 = store.data_version()
    assert live.apply_batch([ev(3, type="agent-state", ts=T0, agent="anna", status="Ready")]) == ["duplicate"]
    with pytest.raises(IngestError) as err:
        live.apply_batch([ev(100, type="agent-state", ts=T0, agent="anna", status="WaitForNextCall"),
                          ev(101, type="agent-state", ts=T0, agent="nobody", status="WaitForNextCall")])
    assert err.value.index == 1
    assert live.count_events() == 15  # nothing of the failed batch was stored
    assert live.current_agent_status()["anna"][0] == "NotReadyForNextCall"
    # a late (out-of-order) event splits the interval it falls into
    assert live.apply_batch([ev(102, type="agent-state", ts=T0 - 2000 * S, agent="anna", status="CallInbound")]) == ["accepted"]
    assert store.data_version() > v0


def test_outage_file(tmp_path, store):
    flag = tmp_path / "down"
    ls = LiveStore(store, outage_file=str(flag))
    ls.probe()
    flag.write_text("x")
    with pytest.raises(StoreUnavailable):
        ls.probe()
