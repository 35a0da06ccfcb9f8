"""The engine owns every cache key: an answer carries its validity (data version + the clock interval of the
calculators involved), and the adapters' answer cache (services87/http/warm.py) follows it. Changing a
calculator's clock step changes when cached answers stop being served; no adapter holds a copy of a clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services87.config import Settings
from services87.engine import calculators as calc
from services87.engine.engine import StatisticsEngine
from services87.engine.model import BaseStatus, StatContext, StatusScreenPanelType as P
from services87.http.warm import WarmPath
from services87.server import Services87Server

NOW = datetime(2026, 3, 30, 12, 7, 30, tzinfo=timezone.utc)
NOW_TS = int(NOW.timestamp())


@pytest.fixture
def world(store, settings):
    new = store.ensure_status("New", BaseStatus.Active)
    alice = store.add_user("alice", "Alice A", time_zone="Europe/Oslo", language="nb")
    store.upsert_requests([dict(external_id="R1", title="T", status_id=new, owner_id=alice,
                                created_ts=NOW_TS - 3 * 86400)])
    store.set_hotlist(alice, store.get_request(external_id="R1")["id"])
    return StatisticsEngine(store, settings), store.get_user(alice)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_answer_carries_zone_language_and_validity(world, store):
    engine, alice = world
    answer = engine.compute(StatContext(user=alice, now=NOW), [P.OpenRequestsPerStatus])
    assert answer.zone == "Europe/Oslo" and answer.language == "nb"  # the user's, as the engine chose them
    assert answer.validity.version == store.data_version()
    assert answer.validity.end is None  # open counts depend on no clock
    assert [ds.panel for ds in answer] == [P.OpenRequestsPerStatus] and len(answer) == 1


def test_a_zone_panel_holds_for_the_callers_local_day(world):
    engine, alice = world
    kathmandu = engine.compute(StatContext(user=alice, time_zone="Asia/Kathmandu", now=NOW),
                               [P.NumberOfCreatedRequestsPerDay]).validity  # UTC+05:45
    day_start = int(datetime(2026, 3, 30, tzinfo=timezone(timedelta(hours=5, minutes=45))).timestamp())
    assert (kathmandu.start, kathmandu.end) == (day_start, day_start + 86400)
    oslo = engine.compute(StatContext(user=alice, now=NOW), [P.StatusScreen]).validity  # the user's zone, CEST
    day_start = int(datetime(2026, 3, 30, tzinfo=timezone(timedelta(hours=2))).timestamp())
    assert (oslo.start, oslo.end) == (day_start, day_start + 86400)


def test_the_validity_follows_the_calculators_clock_step(world, monkeypatch):
    engine, alice = world
    step = calc.Hotlist.now_granularity
    panels = [P.OpenRequestsPerStatus, P.Hotlist]
    v = engine.compute(StatContext(user=alice, now=NOW), panels).validity
    assert (v.start, v.end) == (NOW_TS // step * step, NOW_TS // step * step + step)

    monkeypatch.setattr(calc.Hotlist, "now_granularity", 60)
    v = engine.compute(StatContext(user=alice, now=NOW), panels).validity
    assert (v.start, v.end) == (NOW_TS // 60 * 60, NOW_TS // 60 * 60 + 60)


@pytest.mark.parametrize("step", [864, 60, 7])
def test_a_clock_step_change_invalidates_the_adapters_cached_answer(world, store, monkeypatch, step):
    """An adapter stores an answer under its question and serves it exactly until the calculator's step
    ends, whatever the step is (before, SOAP and REST keyed their caches by copies: ``now // 864``)."""
    engine, alice = world
    monkeypatch.setattr(calc.Hotlist, "now_granularity", step)
    clock = Clock(NOW_TS)
    warm = WarmPath(Services87Server(Settings.load(env={}), store=store), "soap", clock=clock)
    answer = engine.compute(StatContext(user=alice, now=NOW), [P.Hotlist])
    warm.put(("question", alice.id), b"serialized", answer.validity)
    version = store.data_version()
    step_end = NOW_TS // step * step + step
    clock.now = step_end - 1
    assert warm.get(("question", alice.id), version) == b"serialized"
    clock.now = step_end
    assert warm.get(("question", alice.id), version) is None
    # the next answer, computed in the new step, is a new value when the age moved on
    later = engine.compute(StatContext(user=alice, now=datetime.fromtimestamp(step_end, timezone.utc)), [P.Hotlist])
    assert later.validity.start == step_end


def test_cached_answers_only_what_the_cache_holds_and_reads_nothing(world, store):
    """``StatisticsEngine.cached`` (what the SOAP endpoint answers from on the reactor thread): ``None`` until
    ``compute`` has made every data set asked at that version; then the very answer ``compute`` gives, with its
    zone and validity, without one statement or connection to the store; after a write, ``None`` again."""
    engine, alice = world
    panels = ["OpenRequestsPerStatus", "NumberOfCreatedRequestsPerDay", "Hotlist", "StatusScreen"]
    ctx = StatContext(user=alice, time_zone="Asia/Kathmandu", now=NOW)
    version = store.data_version()
    assert engine.cached(ctx, panels, version) is None
    engine.compute(ctx, panels[:2], version=version)
    assert engine.cached(ctx, panels, version) is None  # two of the four are made
    expected = engine.compute(ctx, panels, version=version)
    used = []

    def statement(_conn, _cursor, sql, *_args):
        used.append(sql)

    def checkout(*_args):
        used.append("pool checkout")

    sa.event.listen(store.engine, "before_cursor_execute", statement)
    sa.event.listen(store.engine, "checkout", checkout)
    try:
        got = engine.cached(ctx, panels, version)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", statement)
        sa.event.remove(store.engine, "checkout", checkout)
    assert got is not None and used == []
    assert list(got) == list(expected) and (got.zone, got.language) == (expected.zone, expected.language)
    assert got.validity == expected.validity
    new = store.ensure_status("New", BaseStatus.Active)
    store.upsert_requests([dict(external_id="R2", title="T", status_id=new, created_ts=NOW_TS - 60)])
    assert store.data_version() != version and engine.cached(ctx, panels, store.data_version()) is None


def test_zones_with_the_same_local_midnights_share_the_zone_panels(world, store):
    """The bucket panels and StatusScreen key a zone by the UTC bounds they use: Europe/Oslo and Europe/Berlin
    (the same midnights all year) share every entry; Asia/Kathmandu (UTC+05:45) shares none of them."""
    engine, alice = world
    panels = [P.StatusScreen, P.NumberOfCreatedRequestsPerDay, P.NumberOfCreatedRequestsPerWeek,
              P.NumberOfCreatedRequestsPerMonth, P.UserResponseTimePerDay]
    oslo = engine.compute(StatContext(user=alice, time_zone="Europe/Oslo", now=NOW), panels)
    misses = engine.misses
    berlin = engine.compute(StatContext(user=alice, time_zone="Europe/Berlin", now=NOW), panels)
    assert engine.misses == misses and list(berlin) == list(oslo)
    engine.compute(StatContext(user=alice, time_zone="Asia/Kathmandu", now=NOW), panels)
    assert engine.misses == misses + len(panels)
