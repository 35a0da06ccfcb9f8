"""The statistics engine: one call serves SOAP, REST, the CLI and push.

``StatisticsEngine.compute(ctx, panels)`` is blocking (it reads the store); call it off the reactor thread.
``StatisticsEngine.cached`` answers only from what is cached and reads nothing (the reactor thread may ask it).
Results are cached per (panel, language, locale, data version) plus what the panel's calculator declares it
depends on (``Calculator.depends``: the caller's local day boundaries, the user, the clock): a write bumps
the data version, so a cached answer is never stale, and nothing expires by timer. Open-count panels are
shared by every zone; bucket panels by every zone with the same local midnights over their range. Every key
also holds the categories the asker may not see (members-only categories): requests in them are left out
of every panel, so users with the same access share answers and others never see them.

The engine owns every cache key above it too: an :class:`~services87.engine.model.Answer` carries its
:class:`~services87.engine.model.Validity` (the data version plus the clock interval of the calculators
involved), which the adapters' answer caches check (``services87/http/warm.py``) instead of copying the
engine's clocks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from datetime import UTC
from collections.abc import Iterable, Sequence

from services87.engine import calculators as calc
from services87.engine.model import ALL_PANELS, Answer, StatContext, StatusScreenPanelType as P, Validity
from services87.engine.snapshot import Snapshots
from services87.engine.storage import Store
from services87.engine.timebuckets import UnknownTimeZone, local_today, resolve_zone
from services87.i18n import Translator

#: Panels whose values depend on who asks (as their calculators declare).
USER_SCOPED = frozenset(p for p, c in calc.REGISTRY.items() if "user" in c.depends)


@dataclass(frozen=True)
class Plan:
    """The panels of a request with their calculators, and one calculator per distinct clock among them: an
    answer's validity is the intersection of its calculators' intervals, and those depend only on what a
    calculator declares (``depends``, ``now_granularity``), so panels that declare the same share one."""

    steps: tuple[tuple[P, calc.Calculator], ...]
    clocks: tuple[calc.Calculator, ...]

    @classmethod
    def of(cls, panels: Iterable) -> Plan:
        steps = tuple((p, calc.calculator_for(p)) for p in (P.parse(x) for x in panels))
        clocks: dict = {}
        for _, c in steps:
            clocks.setdefault(c.clock, c)
        return cls(steps, tuple(clocks.values()))


@lru_cache(maxsize=1024)
def _plan(panels: tuple) -> Plan:
    return Plan.of(panels)


class StatisticsEngine:
    def __init__(self, store: Store, settings, cache_size: int = 4096):
        self.store = store
        self.settings = settings
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        #: what the calculators read, in memory per data version (services87/engine/snapshot.py)
        self.snapshots: Snapshots | None = Snapshots(store)
        self.hits = 0
        self.misses = 0

    # ------------------------------------------------------------------ context
    def time_zone_name(self, ctx: StatContext) -> str:
        """The caller's zone if valid, else the user's, else the server default. A bad explicit zone is an error."""
        if ctx.time_zone:
            resolve_zone(ctx.time_zone)
            return ctx.time_zone
        if ctx.user and ctx.user.time_zone:
            try:
                resolve_zone(ctx.user.time_zone)
                return ctx.user.time_zone
            except UnknownTimeZone:
                pass
        return self.settings.default_time_zone

    def language(self, ctx: StatContext) -> str | None:
        return ctx.language or (ctx.user.language if ctx.user else None) or self.settings.default_language

    @staticmethod
    def parse_panels(panels: Iterable) -> list[P]:
        return [P.parse(p) for p in panels]

    @staticmethod
    def plan(panels: Sequence) -> Plan:
        """The :class:`Plan` for ``panels``; raises :class:`~services87.engine.model.UnknownPanel` like
        :meth:`parse_panels`. Kept per tuple of names or members (a client asks the same list every time)."""
        if all(type(p) is str or type(p) is P for p in panels):  # not 1 and True alike, as a cache key would
            return _plan(tuple(panels))
        return Plan.of(panels)

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: StatContext, panels: Sequence, culture: str | None = None,
                version: int | None = None) -> Answer:
        """The :class:`Answer` for ``panels`` (names, numbers or enum members): their data sets in the order
        asked, the effective zone and language, and its :class:`Validity` (the data version read and the
        clock interval every calculator involved holds for). A bad explicit zone is an error even when no
        panel is asked. ``version``: the data version the caller has just read on this thread (it needed it
        too: one read of the versions per request), else it is read here."""
        if version is None:
            version = self.store.data_version()
        answer = self._answer(ctx, panels, culture, version, read=True)
        assert answer is not None  # (reading, every data set not in the cache is computed)
        return answer

    def cached(self, ctx: StatContext, panels: Sequence, version: int, culture: str | None = None) -> Answer | None:
        """What :meth:`compute` answers at ``version`` when every data set asked is in the cache and what the
        asker may see was read at ``version``, else ``None``; errors as :meth:`compute`. Reads nothing from the
        store, so it may run on the reactor thread, given a ``version`` known to be current there
        (``services87/engine/versionwatch.py``)."""
        return self._answer(ctx, panels, culture, version, read=False)

    def _answer(self, ctx: StatContext, panels: Sequence, culture: str | None, version: int,
                read: bool) -> Answer | None:
        plan = self.plan(panels)
        zone_name = self.time_zone_name(ctx)
        language = self.language(ctx)
        if not plan.steps:
            return Answer((), zone_name, language, Validity(version))
        zone = resolve_zone(zone_name)
        tr = Translator(language, culture)
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        now_ts = int(now.timestamp())
        today = local_today(now, zone)
        if read:
            inp = calc.CalcInput(store=self.store, user=ctx.user, zone=zone, now_ts=now_ts, today=today, tr=tr,
                                 settings=self.settings, version=version,
                                 snap=self.snapshots.at(version) if self.snapshots is not None else None)
            # (the input reads nothing until a calculator needs it)
            # what the asker may see: users with the same hidden (members-only) categories share answers
            access = inp.hidden
        else:
            known = self.store.known_hidden_categories(ctx.user.id if ctx.user else None, version)
            if known is None:
                return None
            access = known
            inp = calc.CalcInput(store=self.store, user=ctx.user, zone=zone, now_ts=now_ts, today=today, tr=tr,
                                 settings=self.settings, version=version, _hidden=known)
        lang = (tr.lang, str(tr.locale))
        validity = Validity(version)
        for calculator in plan.clocks:
            validity = validity.within(*calculator.valid_between(inp))
        keys = [(panel, lang, version, access) + calculator.cache_key(inp) for panel, calculator in plan.steps]
        cache = self._cache
        with self._lock:  # one lock for every lookup of the answer (the common case: all found)
            out = [cache.get(key) for key in keys]
            if not read and any(hit is None for hit in out):  # (not `None in out`: DataSet.__eq__ per set)
                return None
            for key, hit in zip(keys, out):
                if hit is not None:
                    cache.move_to_end(key)
                    self.hits += 1
        sets = []
        for key, (_panel, calculator), hit in zip(keys, plan.steps, out):
            if hit is None:
                hit = calculator(inp)
                with self._lock:
                    self.misses += 1
                    cache[key] = hit
                    while len(cache) > self._cache_size:
                        cache.popitem(last=False)
            sets.append(hit)
        return Answer(tuple(sets), zone_name, language, validity)

    def compute_all(self, ctx: StatContext) -> Answer:
        return self.compute(ctx, [p for p in ALL_PANELS])

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
