"""Local-time buckets (days, ISO weeks, months) as UTC instants, correct across DST changes.

A bucket is ``[start, end)`` in epoch seconds. Boundaries are local midnights of the caller's time zone,
so a DST day is 23 or 25 hours long and still one bucket.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, UTC
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services87.engine.model import ValidationError


class UnknownTimeZone(ValidationError):
    kind = "UnknownTimeZone"


@lru_cache(maxsize=512)
def resolve_zone(name: str) -> ZoneInfo:
    """An IANA zone by name, or :class:`UnknownTimeZone`."""
    if not name or not isinstance(name, str) or len(name) > 64 or ".." in name or name.startswith("/"):
        raise UnknownTimeZone(f"Unknown time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(f"Unknown time zone: {name!r}") from None


@lru_cache(maxsize=65536)
def local_midnight(day: date, tz: ZoneInfo) -> int:
    """Epoch seconds of the first instant of ``day`` in ``tz`` (kept: a zone's buckets share their midnights,
    a bucket's end is the next one's start, and a new zone asks about forty of them)."""
    naive = datetime.combine(day, time(0, 0))
    aware = naive.replace(tzinfo=tz)
    # A zone whose DST jump happens at midnight has no 00:00; zoneinfo then maps forward (fold=0),
    # which is the first instant of the day.
    return int(aware.timestamp())


@dataclass(frozen=True)
class Bucket:
    start: int
    end: int
    first_day: date  # the local date the bucket starts on


def day_buckets(today: date, n: int, tz: ZoneInfo) -> list[Bucket]:
    days = [today - timedelta(days=i) for i in range(n - 1, -1, -1)]
    return [Bucket(local_midnight(d, tz), local_midnight(d + timedelta(days=1), tz), d) for d in days]


def week_buckets(today: date, n: int, tz: ZoneInfo) -> list[Bucket]:
    monday = today - timedelta(days=today.isoweekday() - 1)
    weeks = [monday - timedelta(weeks=i) for i in range(n - 1, -1, -1)]
    return [Bucket(local_midnight(w, tz), local_midnight(w + timedelta(weeks=1), tz), w) for w in weeks]


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + (d.month - 1) + months, 12)
    return date(y, m + 1, 1)


def month_buckets(today: date, n: int, tz: ZoneInfo) -> list[Bucket]:
    first = today.replace(day=1)
    months = [_add_months(first, -i) for i in range(n - 1, -1, -1)]
    return [Bucket(local_midnight(m, tz), local_midnight(_add_months(m, 1), tz), m) for m in months]


@lru_cache(maxsize=4096)
def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` of the local ``day`` in ``tz``, epoch seconds."""
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(tz).date()


def assign(buckets: list[Bucket], ts: int) -> int | None:
    """Index of the bucket holding ``ts``, or ``None``."""
    starts = [b.start for b in buckets]
    i = bisect.bisect_right(starts, ts) - 1
    if i < 0 or ts >= buckets[i].end:
        return None
    return i


def business_seconds(start: int, end: int, tz: ZoneInfo, days: frozenset[int], open_at: time, close_at: time,
                     holidays: frozenset[date]) -> float:
    """Seconds of ``[start, end)`` that fall inside the weekly business hours, outside holidays."""
    if end <= start:
        return 0.0
    total = 0.0
    d = datetime.fromtimestamp(start, tz).date()
    last = datetime.fromtimestamp(end, tz).date()
    # Bounded: responses older than ~3 years contribute nothing more than their business days.
    guard = 0
    while d <= last and guard < 1200:
        guard += 1
        if d.isoweekday() in days and d not in holidays:
            ws = int(datetime.combine(d, open_at).replace(tzinfo=tz).timestamp())
            we = int(datetime.combine(d, close_at).replace(tzinfo=tz).timestamp())
            lo, hi = max(ws, start), min(we, end)
            if hi > lo:
                total += hi - lo
        d += timedelta(days=1)
    return total
