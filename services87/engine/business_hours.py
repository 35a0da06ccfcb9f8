"""Working hours and the vendor's time to reply: what the response aggregates count (pure, no SQL)."""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as dtime
from collections.abc import Iterable

from services87.engine.model import Direction, ValidationError
from services87.engine.timebuckets import resolve_zone


class BusinessCalendar:
    """Weekly business hours + holidays; computes the business-hours part of an interval."""

    def __init__(self, days: Iterable[int], start: str, end: str, time_zone: str, holidays: Iterable[str] = ()):
        self.days = frozenset(int(d) for d in days)
        self.tz = resolve_zone(time_zone)
        self.open_at = dtime.fromisoformat(start)
        self.close_at = dtime.fromisoformat(end)
        if self.close_at <= self.open_at:
            raise ValidationError("business_hours.end must be after business_hours.start")
        self.holidays = frozenset(date.fromisoformat(h) for h in holidays)
        self._windows: dict[int, tuple[int, int] | None] = {}  # day ordinal -> working window (epoch seconds)

    @classmethod
    def from_settings(cls, bh) -> BusinessCalendar:
        return cls(bh.days, bh.start, bh.end, bh.time_zone, bh.holidays)

    def _window(self, day_ordinal: int) -> tuple[int, int] | None:
        if day_ordinal in self._windows:
            return self._windows[day_ordinal]
        d = date.fromordinal(day_ordinal)
        window = None
        if d.isoweekday() in self.days and d not in self.holidays:
            window = (int(datetime.combine(d, self.open_at).replace(tzinfo=self.tz).timestamp()),
                      int(datetime.combine(d, self.close_at).replace(tzinfo=self.tz).timestamp()))
        if len(self._windows) >= 4096:
            self._windows.clear()
        self._windows[day_ordinal] = window
        return window

    def seconds(self, start: int, end: int) -> float:
        if end <= start:
            return 0.0
        first = datetime.fromtimestamp(start, self.tz).date().toordinal()
        last = datetime.fromtimestamp(end, self.tz).date().toordinal()
        total = 0
        for o in range(first, min(last, first + 1200) + 1):
            w = self._window(o)
            if w:
                lo, hi = max(w[0], start), min(w[1], end)
                if hi > lo:
                    total += hi - lo
        return float(total)


def time_to_reply(created_ts: int, msgs: Iterable[tuple[int, int]],
                  calendar: BusinessCalendar) -> tuple[float, float] | None:
    """The vendor's time to reply of a request: from its creation to its first reply (outbound message), as
    ``(wall seconds, seconds within the calendar's working hours)``; ``None`` when the request has fewer than
    two messages or no reply. ``msgs`` are ``(direction, ts)`` in any order."""
    msgs = list(msgs)
    if len(msgs) < 2:
        return None
    replies = [ts for d, ts in msgs if d == Direction.Outbound]
    if not replies:
        return None
    first = max(min(replies), created_ts)
    return float(first - created_ts), calendar.seconds(created_ts, first)
