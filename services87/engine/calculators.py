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
from typing import Any, ClassVar
from collections.abc import Callable, Hashable
from zoneinfo import ZoneInfo

from babel.dates import format_date

from services87.engine import timebuckets as tb
from services87.engine.snapshot import Snapshot
from services87.engine.model import (BaseStatus, DataSet, DataValue, Origin, StatusScreenPanelType as P, UnknownPanel,
                                     User)
from services87.engine.storage import Store
from services87.i18n import N_, Translator

REGISTRY: dict[P, Calculator] = {}


def register(cls: type[Calculator]) -> type[Calculator]:
    REGISTRY[cls.panel] = cls()
    return cls


def calculator_for(panel: P) -> Calculator:
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
    settings: Any  # a services87.config.Settings (config is a layer above the engine)
    version: int | None = None  # the store's data version this input answers for
    snap: Snapshot | None = None  # what the store holds at ``version``, read once per version
    _ref: dict | None = None
    _open: dict | None = None
    _hidden: frozenset | None = None

    @property
    def hidden(self) -> frozenset:
        """Categories the asking user may not see (members-only ones they are not a member of, with their
        subcategories; everything members-only when nobody asks). Every panel leaves their requests out."""
        if self._hidden is None:
            self._hidden = self.store.hidden_categories(self.user.id if self.user else None, self.version)
        return self._hidden

    def visible_categories(self) -> list[int]:
        hidden = self.hidden
        return [c for c in self.ref["categories"] if c not in hidden]

    def slot_sums(self, table: str, bounds) -> list[tuple]:
        """The store's slot sums, less the requests in hidden categories."""
        sums = self.snap.slot_sums(table, bounds) if self.snap is not None else self.store.slot_sums(table, bounds)
        if not self.hidden:
            return sums
        less = self.store.slot_sums_in(table, bounds, self.hidden)
        return [tuple(a - b for a, b in zip(x, y)) for x, y in zip(sums, less)]

    @property
    def ref(self) -> dict:
        """Reference data (names of categories, statuses, ...), read once per input when first needed."""
        if self._ref is None:
            self._ref = self.snap.reference if self.snap is not None else self.store.reference()
        return self._ref

    @property
    def open(self) -> dict[tuple[str, int, int], int]:
        """Open-request counts per dimension, without the requests in hidden categories."""
        if self._open is None:
            if self.snap is not None:
                counts = dict(self.snap.open_counts) if self.hidden else self.snap.open_counts
            else:
                counts = self.store.open_counts()
            if self.hidden:
                for k, n in self.store.open_counts_in(self.hidden).items():
                    counts[k] = counts.get(k, 0) - n
            self._open = counts
        return self._open

    def dim(self, name: str) -> dict[int, int]:
        """Open counts of one dimension by its first key (read-only)."""
        if self.snap is not None and not self.hidden:
            return self.snap.dims().get(name, {})
        return {k1: n for (d, k1, _k2), n in self.open.items() if d == name}

    def own_summary(self, day_start: int, day_end: int) -> dict[str, int]:
        """The asking user's figures for the status tile (:meth:`Store.own_summary`)."""
        assert self.user is not None
        if self.snap is not None:
            return self.snap.own_summary(self.user.id, day_start, day_end, self.hidden)
        return self.store.own_summary(self.user.id, day_start, day_end, self.hidden)

    def category_flags(self) -> dict[int, tuple[bool, bool]]:
        return self.snap.category_flags() if self.snap is not None else self.store.category_flags()

    def system_warnings(self) -> list[str]:
        return self.snap.system_warnings() if self.snap is not None else self.store.system_warnings()

    def unassigned_by_category(self) -> dict[int, int]:
        return self.snap.unassigned_by_category() if self.snap is not None else self.store.unassigned_by_category()

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

    @property
    def clock(self) -> Hashable:
        """What :meth:`valid_between` depends on: calculators with equal clocks hold over equal intervals."""
        return (type(self).valid_between, "zone" in self.depends,
                self.now_granularity if "now" in self.depends else None)

    def valid_between(self, inp: CalcInput) -> tuple[int, int | None]:
        """The clock interval ``[start, end)`` around ``inp.now_ts`` over which this panel's data set holds
        (at one data version), from the same declarations as :meth:`cache_key`: ``"zone"`` holds for the
        caller's local day, ``"now"`` for one step of ``now_granularity``. ``end`` ``None``: no clock."""
        start, end = 0, None
        if "zone" in self.depends:
            start, end = tb.day_bounds(inp.today, inp.zone)
        if "now" in self.depends:
            step = self.now_granularity
            first = inp.now_ts // step * step
            start, end = max(start, first), (first + step if end is None else min(end, first + step))
        return start, end

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
    """Statuses whose requests count as open (base status Active: :attr:`BaseStatus.is_open`), in status order."""
    return status_order(ref, [sid for sid, (_n, base, _r) in ref["statuses"].items() if BaseStatus(base).is_open])


def status_order(ref: dict, ids) -> list[int]:
    """Statuses by rank (lowest first), then name."""
    st = ref["statuses"]
    return sorted(ids, key=lambda s: (st[s][2], st[s][0]))


def priority_order(ref: dict) -> list[int]:
    """Priorities by the vendor's sort_order (stored as ``rank``; 1 first), then name."""
    pr = ref["priorities"]
    return sorted(pr, key=lambda p: (pr[p][1], pr[p][0]))


#: How the vendor's UI words each origin (the enum name travels in the value's Description).
ORIGIN_LABELS = {o: o.name for o in Origin} | {
    Origin.CustomerCentre: N_("Customer Centre"), Origin.EMarketing: N_("E-marketing"),
    Origin.AutoGenerated: N_("Auto-generated")}


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
    description = N_("Open (active) requests by category")

    def values(self, inp):
        ref = inp.ref
        keys = sorted(inp.visible_categories(), key=lambda c: category_path(ref, c))
        return count_values(inp, inp.dim("category"), keys, lambda c: "/".join(category_path(ref, c)))


@register
class OpenPerTopCategory(Calculator):
    panel = P.OpenRequestsPerTopCategory
    label = N_("Open requests per top category")
    description = N_("Open (active) requests by top-level category, subcategories included")

    def values(self, inp):
        ref = inp.ref
        sums: dict[int, int] = defaultdict(int)
        for cid, n in inp.dim("category").items():
            sums[top_category(ref, cid) if cid else 0] += n
        tops = sorted((c for c in inp.visible_categories() if not ref["categories"][c][1]),
                      key=lambda c: ref["categories"][c][0])
        return count_values(inp, sums, tops, lambda c: ref["categories"][c][0])


@register
class OpenPerUser(Calculator):
    panel = P.OpenRequestsPerUser
    label = N_("Open requests per user")
    description = N_("Open (active) requests by owner; unassigned requests are not included")

    def values(self, inp):
        ref = inp.ref
        counts = inp.dim("owner")
        keys = sorted((u for u, (_l, _f, active) in ref["users"].items() if active or counts.get(u)),
                      key=lambda u: ref["users"][u][1])
        return [DataValue(ref["users"][u][1], float(counts.get(u, 0)), ref["users"][u][0]) for u in keys]


@register
class OpenPerUserGroup(Calculator):
    """A vendor request has no user group; a user belongs to one (ejuser.usergroup). So a request counts under
    its owner's user group, and unassigned requests under a row of their own."""

    panel = P.OpenRequestsPerUserGroup
    label = N_("Open requests per user group")
    description = N_("Open (active) requests by the user group of their owner; unassigned requests have their own row")

    def values(self, inp):
        groups = inp.ref["groups"]
        group_of = inp.ref["user_group"]
        sums: dict[int, int] = defaultdict(int)
        for owner, n in inp.dim("owner").items():
            if owner:
                sums[group_of.get(owner) or 0] += n
        out = count_values(inp, sums, sorted(groups, key=groups.get), groups.get)
        out.append(DataValue(inp.tr(UNASSIGNED_LABEL), float(inp.dim("owner").get(0, 0))))
        return out


@register
class OpenPerPriority(Calculator):
    panel = P.OpenRequestsPerPriority
    label = N_("Open requests per priority")
    description = N_("Open (active) requests by priority, in the priorities' sort order")

    def values(self, inp):
        pr = inp.ref["priorities"]
        keys = priority_order(inp.ref)
        return count_values(inp, inp.dim("priority"), keys, lambda p: inp.tr(pr[p][0]))


@register
class OpenPerStatus(Calculator):
    panel = P.OpenRequestsPerStatus
    label = N_("Open requests per status")
    description = N_("Open (active) requests by status, in the statuses' rank order")

    def values(self, inp):
        st = inp.ref["statuses"]
        keys = open_statuses(inp.ref)
        return count_values(inp, inp.dim("status"), keys, lambda s: inp.tr(st[s][0]))


@register
class OpenPerOrigin(Calculator):
    panel = P.OpenRequestsPerOrigin
    label = N_("Open requests per origin")
    description = N_("Open (active) requests by the channel they came in on")

    def values(self, inp):
        counts = inp.dim("origin")
        return [DataValue(inp.tr(ORIGIN_LABELS[o]), float(counts.get(int(o), 0)), o.name) for o in Origin]


@lru_cache(maxsize=4096)
def _buckets(make: Callable, today: date, n: int, zone: ZoneInfo) -> tuple[tb.Bucket, ...]:
    """Buckets are a pure function of (unit, local date, count, zone) and cost ~2 zone conversions each;
    every request needs them for the cache key, so compute them once."""
    return tuple(make(today, n, zone))


@lru_cache(maxsize=4096)
def _bucket_key(make: Callable, today: date, n: int, zone: ZoneInfo) -> tuple:
    """:meth:`_Buckets.zone_key`, made once per (unit, local date, count, zone) like the buckets themselves."""
    return tuple((b.start, b.end, b.first_day) for b in _buckets(make, today, n, zone))


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
        n = getattr(inp.settings.buckets, self.unit + "s")
        return _bucket_key(type(self).make, inp.today, n, inp.zone)

    def bucket_label(self, inp: CalcInput, b: tb.Bucket) -> str:
        if self.unit == "day":
            return date_text(b.first_day, "EEE d MMM", inp.tr.locale)
        if self.unit == "week":
            iso = b.first_day.isocalendar()
            return inp.tr("Week {week}", week=iso.week)
        return date_text(b.first_day, "MMM y", inp.tr.locale)

    def bucket_description(self, inp: CalcInput, b: tb.Bucket) -> str:
        return date_text(b.first_day, "medium", inp.tr.locale)


@lru_cache(maxsize=8192)
def date_text(day: date, pattern: str, locale: Any) -> str:
    """Babel's ``format_date``, kept per (day, pattern, locale): a cold answer labels some 90 buckets, and the
    same days recur in every zone and every answer (formatting was 40 % of a cold answer's CPU)."""
    return format_date(day, pattern, locale=locale)


class _Created(_Buckets):
    description = N_("Requests created per period, in the caller's time zone")

    def values(self, inp):
        bs = self.buckets(inp)
        sums = inp.slot_sums("created", [(b.start, b.end) for b in bs])
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
    description = N_("Average time to reply in minutes (from creation to the first reply), "
                     "by when the request was registered")

    def values(self, inp):
        bs = self.buckets(inp)
        sums = inp.slot_sums("response", [(b.start, b.end) for b in bs])
        business = inp.settings.response_time_clock == "business"
        out = []
        for b, (n, wall, bus) in zip(bs, sums):
            avg = ((bus if business else wall) / n / 60.0) if n else 0.0
            out.append(DataValue(self.bucket_label(inp, b), round(avg, 2),
                                 inp.tr.ngettext("{n} request", "{n} requests", int(n))))
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
    description = N_("Open (active) requests owned by you, by status")
    depends = frozenset({"user"})

    def values(self, inp):
        if inp.user is None:
            return []
        st = inp.ref["statuses"]
        counts = inp.dim2("owner_status", inp.user.id)
        keys = open_statuses(inp.ref)
        return [DataValue(inp.tr(st[s][0]), float(counts.get(s, 0))) for s in keys]


@register
class Unassigned(Calculator):
    """Requests no one is assigned to (owner = none; the vendor's owner = system user / 0). A request has no
    user group, so they are counted by category (as panel 1; members-only categories the asker may not see
    are left out)."""

    panel = P.UnassignedRequests
    label = N_("Unassigned requests")
    description = N_("Open (active) requests without an owner, by category")

    def values(self, inp):
        ref = inp.ref
        hidden = inp.hidden
        counts = {c: n for c, n in inp.unassigned_by_category().items() if c not in hidden}
        keys = sorted(inp.visible_categories(), key=lambda c: category_path(ref, c))
        return count_values(inp, counts, keys, lambda c: "/".join(category_path(ref, c)))


@register
class Hotlist(Calculator):
    panel = P.Hotlist
    label = N_("Favourites")  # the wire name stays Hotlist (the vendor's enum); its UI calls it favourites
    description = N_("Requests in your favourites list; the value is their age in days")
    depends = frozenset({"user", "now"})

    def values(self, inp):
        if inp.user is None:
            return []
        st = inp.ref["statuses"]
        # the age is taken at the start of the clock step the cache key names, so every moment of one step
        # (a cached SOAP/REST answer, the CLI, a push) gives the same figure
        now = inp.now_ts // self.now_granularity * self.now_granularity
        return [DataValue(f"#{r['external_id']} {r['title']}".strip(),
                          round(max(0, now - r["created_ts"]) / 86400.0, 2),
                          inp.tr(st[r["status_id"]][0]) if r["status_id"] in st else "")
                for r in inp.store.hotlist_for(inp.user.id, inp.hidden)]


@register
class StatusScreen(Calculator):
    """The vendor's Status tile, "about your requests" (docs/panels.md): your open requests, those of them with
    new information from the customer, your postponed requests, yours closed today, the unassigned requests,
    the number of requests in your favourites list, a row per category flagged to show in the status view
    (ListInMain: its open requests, subcategories included), and the system warnings, if any."""

    panel = P.StatusScreen
    label = N_("Status")
    description = N_("About your requests")
    depends = frozenset({"user", "zone"})

    def zone_key(self, inp: CalcInput) -> Hashable:
        """The caller's local day as UTC bounds (all the zone is used for): zones whose midnights coincide that
        day share one entry."""
        return tb.day_bounds(inp.today, inp.zone)

    def values(self, inp):
        day = tb.day_buckets(inp.today, 1, inp.zone)[0]
        own = {"new_info": 0, "postponed": 0, "closed_today": 0, "favourites": 0}
        if inp.user is not None:
            own = inp.own_summary(day.start, day.end)
        mine = inp.dim("owner").get(inp.user.id, 0) if inp.user else 0
        out = [
            DataValue(inp.tr("Open requests"), float(mine), inp.tr("Your open (active) requests")),
            DataValue(inp.tr("Open requests with new information"), float(own["new_info"]),
                      inp.tr("Your open (active) requests; the customer wrote after the last reply")),
            DataValue(inp.tr("Postponed requests"), float(own["postponed"])),
            DataValue(inp.tr("Closed today"), float(own["closed_today"])),
            DataValue(inp.tr("Unassigned requests"), float(inp.dim("owner").get(0, 0))),
            DataValue(inp.tr("Requests in favourites"), float(own["favourites"])),
        ]
        ref = inp.ref
        flags = inp.category_flags()
        listed = sorted((c for c in inp.visible_categories() if flags.get(c, (False, False))[1]),
                        key=lambda c: category_path(ref, c))
        if listed:
            per_cat = inp.dim("category")
            for cid in listed:
                n = sum(v for k, v in per_cat.items() if k and _in_subtree(ref, k, cid))
                out.append(DataValue("/".join(category_path(ref, cid)), float(n),
                                     inp.tr("Open requests in this category and its subcategories")))
        for warning in inp.system_warnings():
            out.append(DataValue(warning, 1.0, inp.tr("System warning")))
        return out


def _in_subtree(ref: dict, cid: int, top: int) -> bool:
    seen = set()
    while cid and cid not in seen:
        if cid == top:
            return True
        seen.add(cid)
        cid = ref["categories"].get(cid, (None, None))[1]
    return False
