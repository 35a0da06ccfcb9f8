"""Local-time buckets across DST changes, odd offsets, ISO week 53, month ends and midnight DST switches."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services87.engine import timebuckets as tb
from services87.engine.engine import StatisticsEngine
from services87.engine.model import BaseStatus, StatContext, StatusScreenPanelType as P
from services87.engine.timebuckets import UnknownTimeZone

H = 3600


def utc(*a) -> int:
    return int(datetime(*a, tzinfo=timezone.utc).timestamp())


def hours(b: tb.Bucket) -> float:
    return (b.end - b.start) / H


def contiguous(bs: list[tb.Bucket]) -> bool:
    return all(a.end == b.start for a, b in zip(bs, bs[1:]))


@pytest.mark.parametrize("zone,day,length", [
    ("Europe/Oslo", date(2026, 3, 29), 23),  # spring forward 02:00 -> 03:00
    ("Europe/Oslo", date(2026, 10, 25), 25),  # fall back 03:00 -> 02:00
    ("America/New_York", date(2026, 3, 8), 23),
    ("America/New_York", date(2026, 11, 1), 25),
    ("America/Santiago", date(2026, 9, 6), 23),  # switch at midnight: the day starts at 01:00
    ("America/Santiago", date(2026, 4, 4), 25),  # 24:00 -> 23:00 on Saturday
    ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),  # a half-hour DST shift
    ("Asia/Kolkata", date(2026, 3, 29), 24),
    ("Asia/Kathmandu", date(2026, 10, 25), 24),
])
def test_a_dst_day_is_one_bucket_of_23_or_25_hours(zone, day, length):
    tz = ZoneInfo(zone)
    bs = tb.day_buckets(day + timedelta(days=1), 3, tz)
    assert contiguous(bs)
    assert [b.first_day for b in bs] == [day - timedelta(days=1), day, day + timedelta(days=1)]
    assert hours(bs[1]) == length
    # every bucket starts at the first instant of its local day, on a 15-minute slot edge
    for b in bs:
        local = datetime.fromtimestamp(b.start, tz)
        assert local.date() == b.first_day
        assert datetime.fromtimestamp(b.start - 1, tz).date() == b.first_day - timedelta(days=1)
        assert b.start % 900 == 0


def test_midnight_switch_day_starts_at_first_existing_instant():
    tz = ZoneInfo("America/Santiago")
    b = tb.day_buckets(date(2026, 9, 6), 1, tz)[0]
    assert datetime.fromtimestamp(b.start, tz).strftime("%H:%M %z") == "01:00 -0300"


def test_odd_offsets():
    for zone, offset in (("Asia/Kolkata", 5.5), ("Asia/Kathmandu", 5.75), ("America/St_Johns", -2.5)):
        b = tb.day_buckets(date(2026, 7, 1), 1, ZoneInfo(zone))[0]
        assert b.start == utc(2026, 7, 1) - int(offset * H)


def test_iso_week_53_and_year_boundary():
    tz = ZoneInfo("Europe/Oslo")
    bs = tb.week_buckets(date(2027, 1, 2), 3, tz)  # Saturday of ISO week 2026-W53
    assert [b.first_day for b in bs] == [date(2026, 12, 14), date(2026, 12, 21), date(2026, 12, 28)]
    assert [b.first_day.isocalendar().week for b in bs] == [51, 52, 53]
    bs = tb.week_buckets(date(2027, 1, 4), 2, tz)
    assert [b.first_day.isocalendar()[:2] for b in bs] == [(2026, 53), (2027, 1)]
    assert all(hours(b) == 168 for b in bs)
    # the week with the fall-back switch is 169 hours
    assert hours(tb.week_buckets(date(2026, 10, 25), 1, tz)[0]) == 169


def test_month_boundaries():
    tz = ZoneInfo("Europe/Oslo")
    bs = tb.month_buckets(date(2026, 3, 31), 3, tz)
    assert [b.first_day for b in bs] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert [hours(b) for b in bs] == [31 * 24, 28 * 24, 31 * 24 - 1]  # March loses the DST hour
    bs = tb.month_buckets(date(2025, 1, 15), 2, tz)
    assert [b.first_day for b in bs] == [date(2024, 12, 1), date(2025, 1, 1)] and contiguous(bs)
    assert hours(tb.month_buckets(date(2024, 2, 29), 1, tz)[0]) == 29 * 24


def test_unknown_zone_is_a_typed_error():
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "x" * 100):
        with pytest.raises(UnknownTimeZone):
            tb.resolve_zone(bad)


# --------------------------------------------------------------------------- through the engine
@pytest.fixture
def clock_store(store, settings):
    new = store.ensure_status("New", BaseStatus.Active)
    u = store.add_user("tz", "Zone User", time_zone="Asia/Kathmandu")

    def add(*stamps):
        base = store.count_requests()
        store.upsert_requests([{"external_id": f"T{base + i}", "status_id": new, "created_ts": s}
                               for i, s in enumerate(stamps)])

    return store, StatisticsEngine(store, settings), add, store.get_user(u)


def per_bucket(engine, panel, now, tz=None, user=None, lang="en"):
    ds = engine.compute(StatContext(user=user, time_zone=tz, language=lang, now=now), [panel])[0]
    return [(v.label, v.value) for v in ds.values]


def test_fall_back_day_collects_all_25_hours(clock_store):
    store, engine, add, _ = clock_store
    # Oslo, 25 Oct 2026: 00:30 local (22:30 UTC the day before), 02:30 twice (00:30 and 01:30 UTC), 23:30 local
    add(utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 22, 30),
        utc(2026, 10, 25, 23, 5))  # 00:05 on the 26th
    days = per_bucket(engine, P.NumberOfCreatedRequestsPerDay, datetime(2026, 10, 26, 12, tzinfo=timezone.utc),
                      "Europe/Oslo")
    assert days[-2:] == [("Sun 25 Oct", 4), ("Mon 26 Oct", 1)]
    assert days[-3] == ("Sat 24 Oct", 0)


def test_spring_forward_and_midnight_switch_days(clock_store):
    store, engine, add, _ = clock_store
    add(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 21, 59),  # Oslo: 00:00 and 23:59 on the 23-hour day
        utc(2026, 9, 6, 4, 0), utc(2026, 9, 6, 3, 59))  # Santiago: 01:00 on the 6th (first instant) and 23:59 on the 5th
    oslo = dict(per_bucket(engine, P.NumberOfCreatedRequestsPerDay, datetime(2026, 3, 30, tzinfo=timezone.utc),
                           "Europe/Oslo"))
    assert oslo["Sun 29 Mar"] == 2 and oslo["Sat 28 Mar"] == 0
    chile = dict(per_bucket(engine, P.NumberOfCreatedRequestsPerDay, datetime(2026, 9, 7, 12, tzinfo=timezone.utc),
                            "America/Santiago"))
    assert chile["Sun 6 Sep"] == 1 and chile["Sat 5 Sep"] == 1


def test_kathmandu_offset_and_user_zone_fallback(clock_store):
    store, engine, add, user = clock_store
    add(utc(2026, 7, 1, 18, 14), utc(2026, 7, 1, 18, 15))  # 23:59 on the 1st and 00:00 on the 2nd at +05:45
    now = datetime(2026, 7, 2, 12, tzinfo=timezone.utc)
    explicit = dict(per_bucket(engine, P.NumberOfCreatedRequestsPerDay, now, "Asia/Kathmandu"))
    assert explicit["Wed 1 Jul"] == 1 and explicit["Thu 2 Jul"] == 1
    # no zone asked: the user's zone (Kathmandu) wins over the server default (Oslo: both on the 1st)
    assert per_bucket(engine, P.NumberOfCreatedRequestsPerDay, now, user=user) == list(explicit.items())
    oslo = dict(per_bucket(engine, P.NumberOfCreatedRequestsPerDay, now))
    assert oslo["Wed 1 Jul"] == 2
    with pytest.raises(UnknownTimeZone):
        per_bucket(engine, P.NumberOfCreatedRequestsPerDay, now, "Nowhere/Special")


def test_week_53_and_month_labels_through_the_engine(clock_store):
    store, engine, add, _ = clock_store
    add(utc(2026, 12, 28, 8), utc(2027, 1, 3, 20), utc(2027, 1, 4, 8))
    weeks = per_bucket(engine, P.NumberOfCreatedRequestsPerWeek, datetime(2027, 1, 5, tzinfo=timezone.utc), "UTC")
    assert weeks[-2:] == [("Week 53", 2), ("Week 1", 1)]
    de = per_bucket(engine, P.NumberOfCreatedRequestsPerWeek, datetime(2027, 1, 5, tzinfo=timezone.utc), "UTC", lang="de")
    assert de[-2:] == [("KW 53", 2), ("KW 1", 1)]
    months = per_bucket(engine, P.NumberOfCreatedRequestsPerMonth, datetime(2027, 1, 5, tzinfo=timezone.utc), "UTC")
    assert months[-2:] == [("Dec 2026", 1), ("Jan 2027", 2)]
    # 2026-12-31T23:30Z is already January in Oslo
    add(utc(2026, 12, 31, 23, 30))
    oslo = per_bucket(engine, P.NumberOfCreatedRequestsPerMonth, datetime(2027, 1, 5, tzinfo=timezone.utc), "Europe/Oslo")
    assert oslo[-2:] == [("Dec 2026", 1), ("Jan 2027", 3)]
