"""Panel calculators and their registry.

Adding a panel is one :class:`Calculator` subclass decorated with :func:`register`. A calculator gets a
:class:`CalcInput` (the store, the asking context resolved to a zone/translator, reference data) and returns
a :class:`~services87.engine.model.DataSet`. Semantics are documented in docs/panels.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from typing import Callable, ClassVar, Hashable
from zoneinfo import ZoneInfo

from babel.dates import format_date

from services87.engine import timebuckets as tb
from services87.engine.model import BaseStatus, DataSet, DataValue, Origin, StatusScreenPanelType as P, UnknownPanel, User
from services87.engine.store import Store
from services87.i18n import N_, Translator

REGISTRY: dict[P, "Calculator"] = {}


def register(cls: type["Calculator"]) -> type["Calculator"]:
    REGISTRY[cls.panel] = cls()
    return cls


def calculator_for(panel: P) -> "Calculator":
    try:
        return REGISTRY[panel]
    except KeyError:
        raise UnknownPanel(panel) from None


@dataclass
class CalcInput:
    store: Store
    user: User | None
    zone: ZoneInfo
    now_ts: int
    today: date
    tr: Translator
    settings: object  # services87.config.Settings
    _ref: dict | None = None
    _open: dict | None = None

    @property
    def ref(self) -> dict:
        """Reference data (names of categories, statuses, ...), read once per input when first needed."""
        if self._ref is None:
            self._ref = self.store.reference()
        return self._ref

    @property
    def open(self) -> dict[tuple[str, int, int], int]:
        if self._open is None:
            self._open = self.store.open_counts()
        return self._open

    def dim(self, name: str) -> dict[int, int]:
        return {k1: n for (d, k1, _k2), n in self.open.items() if d == name}

    def dim2(self, name: str, k1: int) -> dict[int, int]:
        return {k2: n for (d, a, k2), n in self.open.items() if d == name and a == k1}

    @property
    def total_open(self) -> int:
        return sum(self.dim("status").values())


class Calculator:
    """One panel. ``depends`` declares what its data set depends on besides the data version and the
    language/locale (every panel's labels are translated), so the engine's cache key holds exactly that:

    * ``"zone"`` - the caller's local day boundaries (:meth:`zone_key`: the zone and the local date, or
      whatever finer key a calculator derives from them);
    * ``"user"`` - who asks;
    * ``"now"`` - the clock, in steps of ``now_granularity`` seconds.
    """

    panel: ClassVar[P]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    depends: ClassVar[frozenset[str]] = frozenset()
    now_granularity: ClassVar[int] = 864

    def cache_key(self, inp: CalcInput) -> tuple:
        """The part of the engine's cache key that this calculator's declared dependencies contribute."""
        key: tuple = ()
        if "user" in self.depends:
            key += (inp.user.id if inp.user else None,)
        if "zone" in self.depends:
            key += (self.zone_key(inp),)
        if "now" in self.depends:
            key += (inp.now_ts // self.now_granularity,)
        return key

    def zone_key(self, inp: CalcInput) -> Hashable:
        return (inp.zone.key, inp.today)

    def __call__(self, inp: CalcInput) -> DataSet:
        return DataSet(label=inp.tr(self.label), values=tuple(self.values(inp)),
                       description=inp.tr(self.description) if self.description else "", panel=self.panel)

    def values(self, inp: CalcInput) -> list[DataValue]:
        raise NotImplementedError


# --------------------------------------------------------------------------- helpers
NONE_LABEL = N_("(none)")
UNASSIGNED_LABEL = N_("Unassigned")


def category_path(ref: dict, cid: int) -> list[str]:
    names, seen = [], set()
    while cid and cid in ref["categories"] and cid not in seen:
        seen.add(cid)
        name, parent = ref["categories"][cid]
        names.append(name)
        cid = parent
    return list(reversed(names))


def top_category(ref: dict, cid: int) -> int:
    seen = set()
    while cid and cid in ref["categories"] and cid not in seen:
        seen.add(cid)
        parent = ref["categories"][cid][1]
        if not parent:
            return cid
        cid = parent
    return cid


def open_statuses(ref: dict) -> list[int]:
    return [sid for sid, (_n, base) in ref["statuses"].items() if BaseStatus(base).is_open]


def count_values(inp: CalcInput, counts: dict[int, int], keys: list[int], label_of: Callable[[int], str],
                 none_label: str = NONE_LABEL) -> list[DataValue]:
    """One value per key (zeros included), plus a row for key 0 (none) when it has requests."""
    out = [DataValue(label_of(k), float(counts.get(k, 0))) for k in keys]
    if counts.get(0):
        out.append(DataValue(inp.tr(none_label), float(counts[0])))
    return out


# --------------------------------------------------------------------------- panels
@register
class NonePanel(Calculator):
    panel = P.None_
    label = ""

    def __call__(self, inp: CalcInput) -> DataSet:
        return DataSet(label="", values=(), description="", panel=self.panel)


@register
class OpenPerCategory(Calculator):
    panel = P.OpenRequestsPerCategory
    label = N_("Open requests per category")
    description = N_("Open and postponed requests by category")

    def values(self, inp):
        ref = inp.ref
        keys = sorted(ref["categories"], key=lambda c: category_path(ref, c))
        return count_values(inp, inp.dim("category"), keys, lambda c: "/".join(category_path(ref, c)))


@register
class OpenPerTopCategory(Calculator):
    panel = P.OpenRequestsPerTopCategory
    label = N_("Open requests per top category")
    description = N_("Open and postponed requests by top-level category, subcategories included")

    def values(self, inp):
        ref = inp.ref
        sums: dict[int, int] = defaultdict(int)
        for cid, n in inp.dim("category").items():
            sums[top_category(ref, cid) if cid else 0] += n
        tops = sorted((c for c, (_n, p) in ref["categories"].items() if not p), key=lambda c: ref["categories"][c][0])
        return count_values(inp, sums, tops, lambda c: ref["categories"][c][0])


@register
class OpenPerUser(Calculator):
    panel = P.OpenRequestsPerUser
    label = N_("Open requests per user")
    description = N_("Open and postponed requests by owner; unassigned requests are not included")

    def values(self, inp):
        ref = inp.ref
        counts = inp.dim("owner")
        keys = sorted((u for u, (_l, _f, active) in ref["users"].items() if active or counts.get(u)),
                      key=lambda u: ref["users"][u][1])
        return [DataValue(ref["users"][u][1], float(counts.get(u, 0)), ref["users"][u][0]) for u in keys]


@register
class OpenPerUserGroup(Calculator):
    panel = P.OpenRequestsPerUserGroup
    label = N_("Open requests per user group")
    description = N_("Open and postponed requests by user group")

    def values(self, inp):
        groups = inp.ref["groups"]
        return count_values(inp, inp.dim("group"), sorted(groups, key=groups.get), groups.get)


@register
class OpenPerPriority(Calculator):
    panel = P.OpenRequestsPerPriority
    label = N_("Open requests per priority")
    description = N_("Open and postponed requests by priority, highest first")

    def values(self, inp):
        pr = inp.ref["priorities"]
        keys = sorted(pr, key=lambda p: -pr[p][1])
        return count_values(inp, inp.dim("priority"), keys, lambda p: inp.tr(pr[p][0]))


@register
class OpenPerStatus(Calculator):
    panel = P.OpenRequestsPerStatus
    label = N_("Open requests per status")
    description = N_("Open and postponed requests by status")

    def values(self, inp):
        st = inp.ref["statuses"]
        keys = sorted(open_statuses(inp.ref), key=lambda s: (st[s][1], st[s][0]))
        return count_values(inp, inp.dim("status"), keys, lambda s: inp.tr(st[s][0]))


@register
class OpenPerOrigin(Calculator):
    panel = P.OpenRequestsPerOrigin
    label = N_("Open requests per origin")
    description = N_("Open and postponed requests by the channel they came in on")

    def values(self, inp):
        counts = inp.dim("origin")
        return [DataValue(inp.tr(o.name), float(counts.get(int(o), 0))) for o in Origin]


@lru_cache(maxsize=4096)
def _buckets(make: Callable, today: date, n: int, zone: ZoneInfo) -> tuple[tb.Bucket, ...]:
    """Buckets are a pure function of (unit, local date, count, zone) and cost ~2 zone conversions each;
    every request needs them for the cache key, so compute them once."""
    return tuple(make(today, n, zone))


class _Buckets(Calculator):
    unit: ClassVar[str]  # day / week / month
    make: ClassVar[Callable]

    depends = frozenset({"zone"})

    def buckets(self, inp: CalcInput) -> tuple[tb.Bucket, ...]:
        n = getattr(inp.settings.buckets, self.unit + "s")
        return _buckets(type(self).make, inp.today, n, inp.zone)

    def zone_key(self, inp: CalcInput) -> Hashable:
        """The buckets themselves (UTC bounds and local first days): zones whose local midnights coincide
        over the panel's range share one cache entry."""
        return tuple((b.start, b.end, b.first_day) for b in self.buckets(inp))

    def bucket_label(self, inp: CalcInput, b: tb.Bucket) -> str:
        if self.unit == "day":
            return format_date(b.first_day, "EEE d MMM", locale=inp.tr.locale)
        if self.unit == "week":
            iso = b.first_day.isocalendar()
            return inp.tr("Week {week}", week=iso.week)
        return format_date(b.first_day, "MMM y", locale=inp.tr.locale)

    def bucket_description(self, inp: CalcInput, b: tb.Bucket) -> str:
        return format_date(b.first_day, "medium", locale=inp.tr.locale)


class _Created(_Buckets):
    description = N_("Requests created per period, in the caller's time zone")

    def values(self, inp):
        bs = self.buckets(inp)
        sums = inp.store.slot_sums("created", [(b.start, b.end) for b in bs])
        return [DataValue(self.bucket_label(inp, b), s[0], self.bucket_description(inp, b)) for b, s in zip(bs, sums)]


@register
class CreatedPerDay(_Created):
    panel = P.NumberOfCreatedRequestsPerDay
    label = N_("Created requests per day")
    unit, make = "day", staticmethod(tb.day_buckets)


@register
class CreatedPerWeek(_Created):
    panel = P.NumberOfCreatedRequestsPerWeek
    label = N_("Created requests per week")
    unit, make = "week", staticmethod(tb.week_buckets)


@register
class CreatedPerMonth(_Created):
    panel = P.NumberOfCreatedRequestsPerMonth
    label = N_("Created requests per month")
    unit, make = "month", staticmethod(tb.month_buckets)


class _Response(_Buckets):
    description = N_("Average time in minutes from a customer message to the next reply from a user")

    def values(self, inp):
        bs = self.buckets(inp)
        sums = inp.store.slot_sums("response", [(b.start, b.end) for b in bs])
        business = inp.settings.response_time_clock == "business"
        out = []
        for b, (n, wall, bus) in zip(bs, sums):
            avg = ((bus if business else wall) / n / 60.0) if n else 0.0
            out.append(DataValue(self.bucket_label(inp, b), round(avg, 2),
                                 inp.tr.ngettext("{n} reply", "{n} replies", int(n))))
        return out


@register
class ResponsePerDay(_Response):
    panel = P.UserResponseTimePerDay
    label = N_("User response time per day")
    unit, make = "day", staticmethod(tb.day_buckets)


@register
class ResponsePerWeek(_Response):
    panel = P.UserReponseTimePerWeek
    label = N_("User response time per week")
    unit, make = "week", staticmethod(tb.week_buckets)


@register
class ResponsePerMonth(_Response):
    panel = P.UserResponseTimePerMonth
    label = N_("User response time per month")
    unit, make = "month", staticmethod(tb.month_buckets)


@register
class OwnOpen(Calculator):
    panel = P.OwnOpenRequests
    label = N_("My open requests")
    description = N_("Open and postponed requests owned by you, by status")
    depends = frozenset({"user"})

    def values(self, inp):
        if inp.user is None:
            return []
        st = inp.ref["statuses"]
        counts = inp.dim2("owner_status", inp.user.id)
        keys = sorted(open_statuses(inp.ref), key=lambda s: (st[s][1], st[s][0]))
        return [DataValue(inp.tr(st[s][0]), float(counts.get(s, 0))) for s in keys]


@register
class Unassigned(Calculator):
    panel = P.UnassignedRequests
    label = N_("Unassigned requests")
    description = N_("Open and postponed requests without an owner, by user group")

    def values(self, inp):
        groups = inp.ref["groups"]
        return count_values(inp, inp.dim2("owner_group", 0), sorted(groups, key=groups.get), groups.get)


@register
class Hotlist(Calculator):
    panel = P.Hotlist
    label = N_("Hotlist")
    description = N_("Requests on your hotlist; the value is their age in days")
    depends = frozenset({"user", "now"})

    def values(self, inp):
        if inp.user is None:
            return []
        st = inp.ref["statuses"]
        return [DataValue(f"#{r['external_id']} {r['title']}".strip(),
                          round(max(0, inp.now_ts - r["created_ts"]) / 86400.0, 2),
                          inp.tr(st[r["status_id"]][0]) if r["status_id"] in st else "")
                for r in inp.store.hotlist_for(inp.user.id)]


@register
class StatusScreen(Calculator):
    panel = P.StatusScreen
    label = N_("Status screen")
    description = N_("Headline figures")
    depends = frozenset({"user", "zone"})

    def values(self, inp):
        day = tb.day_buckets(inp.today, 1, inp.zone)[0]
        (created_today,) = inp.store.slot_sums("created", [(day.start, day.end)])[0]
        n, wall, bus = inp.store.slot_sums("response", [(day.start, day.end)])[0]
        avg = ((bus if inp.settings.response_time_clock == "business" else wall) / n / 60.0) if n else 0.0
        own = sum(inp.dim2("owner", inp.user.id).values()) if inp.user else 0
        return [
            DataValue(inp.tr("Open requests"), float(inp.total_open)),
            DataValue(inp.tr("Unassigned requests"), float(sum(inp.dim2("owner_group", 0).values()))),
            DataValue(inp.tr("My open requests"), float(own)),
            DataValue(inp.tr("Created today"), float(created_today)),
            DataValue(inp.tr("Closed today"), float(inp.store.closed_between(day.start, day.end))),
            DataValue(inp.tr("Average response time today (minutes)"), round(avg, 2)),
        ]
