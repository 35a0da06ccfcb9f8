"""The queue model of the statistic catalogue: a Queue has its calls and its agent group's agents."""

from __future__ import annotations

import pytest

from services87.config import Settings
from services87.engine.engine import StatisticsEngine
from services87.engine.statserver import lookup
from services87.engine.statserver.evaluate import StatEvaluator
from services87.engine.storage.live import LiveStore
from tests.genesys.test_live_stats import T0, S, ev

#: Every statistic the status page shows per queue (and for the tenant).
PAGE_QUEUE_STATS = ("Current_In_Queue", "CurrentReadyAgents", "EnteredCalls", "AnsweredCalls", "AbandonedCalls",
                    "ServiceLevel", "AverageWaitTime", "AverageHandlingTime")


@pytest.fixture
def evaluator(store):
    support = store.ensure_group("Support")
    sales = store.ensure_group("Sales")
    store.add_user("anna", "Anna", groups=[support])
    store.add_user("bjorn", "Bjorn", groups=[support])
    store.add_user("clara", "Clara", groups=[sales])
    ls = LiveStore(store)
    events = [
        ev(1, type="queue", queue="Support Queue"),
        ev(2, type="queue", queue="Other"),
        ev(3, type="agent-state", ts=T0 - 3600 * S, agent="anna", status="WaitForNextCall"),
        ev(4, type="agent-state", ts=T0 - 3600 * S, agent="bjorn", status="WaitForNextCall"),
        ev(5, type="agent-state", ts=T0 - 3600 * S, agent="clara", status="WaitForNextCall"),
        # c1: waits 20 s, anna talks 300 s; c2: abandoned after 40 s; c3: waiting since 30 s
        ev(6, type="interaction", ts=T0 - 1000 * S, interaction="c1", event="offered", queue="Support Queue"),
        ev(7, type="interaction", ts=T0 - 980 * S, interaction="c1", event="answered", agent="anna"),
        ev(8, type="agent-state", ts=T0 - 980 * S, agent="anna", status="CallInbound"),
        ev(9, type="interaction", ts=T0 - 680 * S, interaction="c1", event="released"),
        ev(10, type="agent-state", ts=T0 - 680 * S, agent="anna", status="AfterCallWork"),
        ev(11, type="interaction", ts=T0 - 500 * S, interaction="c2", event="offered", queue="Support Queue"),
        ev(12, type="interaction", ts=T0 - 460 * S, interaction="c2", event="abandoned"),
        ev(13, type="interaction", ts=T0 - 30 * S, interaction="c3", event="offered", queue="Support Queue"),
    ]
    assert ls.apply_batch(events) == ["accepted"] * len(events)
    return StatEvaluator(ls, StatisticsEngine(store, Settings.load(env={})), "UTC")


def val(evaluator, name, ot, oid):
    return evaluator.evaluate(lookup(name), ot, oid, now_ms=T0).raw


def test_every_page_statistic_applies_to_queue_and_tenant():
    for name in PAGE_QUEUE_STATS:
        types = lookup(name).object_types
        assert "Queue" in types and "Tenant" in types, name


def test_queue_calls_and_agents(evaluator):
    q = "Support Queue"
    assert val(evaluator, "Current_In_Queue", "Queue", q) == 1
    assert val(evaluator, "EnteredCalls", "Queue", q) == 3
    assert val(evaluator, "AnsweredCalls", "Queue", q) == 1
    assert val(evaluator, "AbandonedCalls", "Queue", q) == 1
    assert val(evaluator, "InboundCalls", "Queue", q) == 1
    assert val(evaluator, "ServiceLevel", "Queue", q) == 50.0  # c1 answered within 120 s, c2 abandoned
    assert val(evaluator, "AverageWaitTime", "Queue", q) == 30  # (20 + 40) / 2 calls that left the queue
    assert val(evaluator, "AverageHandlingTime", "Queue", q) == 300  # answer to release
    # the agent group "Support" serves "Support Queue": bjorn is ready, anna in after-call work
    assert val(evaluator, "CurrentReadyAgents", "Queue", q) == 1
    assert val(evaluator, "CurrentReadyAgents", "Tenant", "Environment") == 2  # bjorn and clara
    # a queue without an agent group of its name has calls but no agents
    assert val(evaluator, "CurrentReadyAgents", "Queue", "Other") == 0
    assert val(evaluator, "EnteredCalls", "Queue", "Other") == 0
    # the tenant sees every queue's calls; the agents' AHT is unchanged (call + wrap-up on their timeline)
    assert val(evaluator, "EnteredCalls", "Tenant", "Environment") == 3
    assert val(evaluator, "AverageWaitTime", "Tenant", "Environment") == 30
    assert val(evaluator, "Current_In_Queue", "Tenant", "Environment") == 1


def test_the_docs_ingest_example_keeps_the_agent_on_its_dn(store):
    # docs/genesys.md: anna gets Ready at Place_anna on DN 5001, then takes a call of "Support Queue" with a
    # state event that names no DN; her DN stays 5001, so the queue's agent group has no ready agent left
    support = store.ensure_group("Support")
    store.add_user("anna", "Anna", groups=[support])
    ls = LiveStore(store)
    assert ls.apply_batch([
        ev(1, type="agent-state", ts=T0 - 60 * S, agent="anna", status="Ready", place="Place_anna", dn="5001"),
        ev(2, type="interaction", ts=T0 - 50 * S, interaction="call-17", event="offered", queue="Support Queue"),
        ev(3, type="interaction", ts=T0 - 40 * S, interaction="call-17", event="answered", agent="anna"),
        ev(4, type="agent-state", ts=T0 - 40 * S, agent="anna", status="CallInbound"),
    ]) == ["accepted"] * 4
    evaluator = StatEvaluator(ls, StatisticsEngine(store, Settings.load(env={})), "UTC")
    tree = val(evaluator, "CurrentAgentState", "Agent", "anna")
    assert [(d["dnId"], d["status"]) for d in tree["dnStatuses"]] == [("5001", "CallInbound")]
    assert val(evaluator, "CurrentReadyAgents", "Queue", "Support Queue") == 0
    assert val(evaluator, "AnsweredCalls", "Queue", "Support Queue") == 1
    assert val(evaluator, "AverageWaitTime", "Queue", "Support Queue") == 10
