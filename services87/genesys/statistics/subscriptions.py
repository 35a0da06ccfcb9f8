"""Statistics API subscriptions and their CometD push (runs on the reactor thread).

* Store change events (worker thread) hop to the reactor (``hs.call_from_thread``), mark the affected family
  (``live`` statistics, ``panel`` statistics) dirty and schedule a recomputation: at once while the budget
  allows, on average at most one per ``genesys.recompute_delay_ms`` (a token bucket of
  :data:`RECOMPUTE_BURST`: changes that come at about that rate are each recomputed at once, however they
  jitter; a faster stream waits for the budget and what arrives meanwhile is coalesced into the next).
  Evaluation runs on the store thread pool, each distinct statistic once; results come back here and are
  pushed per notification mode: Immediate (changed by at least ``insensitivity``; any change when it is 0),
  Periodical (every ``notificationFrequency`` s; only when changed by at least ``insensitivity`` unless it is 0),
  Reset (the closing value at each GrowingWindow reset), NoNotification (never; peek only).
* A subscription's updates go to the CometD session(s) of the client that created it: the sessions carrying
  the same ``STATISTICS_SESSIONID`` (or ``BAYEUX_BROWSER``) cookie as the REST call, else the sessions
  handshaken by the same user.
* A health probe (``genesys.health_interval_ms``) publishes ``ServiceStateChange`` UNAVAILABLE/AVAILABLE on
  ``/statistics/v3/service``. On UNAVAILABLE subscriptions are dropped (Genesys behaviour) unless
  ``genesys.keep_subscriptions_on_outage``, in which case every value is re-pushed after AVAILABLE.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.task import LoopingCall

from services87.bayeux import encode_json
from services87.engine.model import EngineError, StoreUnavailable
from services87.engine.statserver.definitions import StatDefinition
from services87.engine.statserver.evaluate import Result, StatEvaluator

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

UPDATES = "/statistics/v3/updates"
SERVICE = "/statistics/v3/service"
#: A subscription whose client has had no CometD session for this long is deleted (seconds).
ORPHAN_TTL = 3600.0


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Item:
    statistic_id: str
    object_type: str
    object_id: str
    defn: StatDefinition
    name: str | None = None  # pre-configured name (None for an ad hoc definition)
    last: Result | None = None  # latest evaluated
    sent: Any = None  # raw value of the latest push (or of the value returned at creation)
    has_sent: bool = False
    next_due: int = 0  # Periodical: next push (ms)
    next_reset: int | None = None  # Reset: next reset (ms)

    @property
    def family(self) -> str:
        return "panel" if self.defn.panel else "live"

    def wire(self, sub_id: str | None, verbose: bool = True) -> dict:
        out: dict[str, Any] = {"statisticId": self.statistic_id}
        if verbose:
            out.update(name=self.name, objectId=self.object_id, objectType=self.object_type)
        if sub_id is not None:
            out["subscriptionId"] = sub_id
        if self.last is not None:
            out["value"] = self.last.value
            out["timestamp"] = self.last.timestamp
        return out


#: Stand-ins for the two ids in an update's template (:class:`UpdateJson`); control characters, so JSON
#: escapes them and no value that is not one of them encodes to the same text.
_STAT_ID, _SUB_ID = "\x00statisticId\x00", "\x00subscriptionId\x00"
_STAT_JSON, _SUB_JSON = encode_json(_STAT_ID), encode_json(_SUB_ID)
_UPDATE_HEAD, _UPDATE_TAIL = encode_json(
    {"name": "StatisticUpdate", "topic": UPDATES, "data": {"statistics": [None]}}).split(b"null")


class UpdateJson:
    """The JSON of the ``StatisticUpdate`` data pushed for a subscription (what the Bayeux transports would
    encode), made for many subscriptions of the same evaluated statistic from one template with the
    statistic and subscription ids spliced in: a change pushed to a thousand subscribers of one agent is
    encoded once, not a thousand times (the JSON of each update was a quarter of the send loop). One
    instance serves one recomputation (templates are keyed by the identity of the results it holds)."""

    def __init__(self) -> None:
        self._templates: dict[tuple, tuple[bytes, bytes, bytes] | None] = {}

    def item(self, item: Item, wire: dict) -> bytes:
        """``encode_json(wire)``, ``wire`` being ``item.wire(subscription id)``."""
        key = (id(item.last), item.name, item.object_id, item.object_type, len(wire))
        if key in self._templates:
            parts = self._templates[key]
        else:
            parts = self._templates[key] = _template(wire)
        if parts is None:  # a value that holds a stand-in's text: encoded whole
            return encode_json(wire)
        return parts[0] + encode_json(wire["statisticId"]) + parts[1] + encode_json(wire["subscriptionId"]) + parts[2]

    def update(self, items: list[bytes]) -> bytes:
        """The data of a ``StatisticUpdate`` carrying the encoded ``items``."""
        return _UPDATE_HEAD + b",".join(items) + _UPDATE_TAIL


def _template(wire: dict) -> tuple[bytes, bytes, bytes] | None:
    probe = dict(wire, statisticId=_STAT_ID, subscriptionId=_SUB_ID)  # same keys, same order
    text = encode_json(probe)
    if text.count(_STAT_JSON) != 1 or text.count(_SUB_JSON) != 1:
        return None
    head, rest = text.split(_STAT_JSON)
    middle, tail = rest.split(_SUB_JSON)
    return head, middle, tail


@dataclass
class Subscription:
    id: str
    user_id: int | None
    cookie: str | None
    items: dict[str, Item]
    body: dict  # the request body, to restore after a restart
    orphan_since: float | None = None


def changed(old: Any, new: Any, insensitivity: float) -> bool:
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool):
        if insensitivity > 0:
            return abs(new - old) >= insensitivity
        return new != old
    return new != old


class Targets:
    """Who receives a subscription's updates, looked up in one pass over the sessions subscribed to the updates
    channel: the sessions carrying the subscription's cookie, else those handshaken by its user."""

    def __init__(self, subscribed) -> None:
        self.by_cookie: dict[str, list] = {}
        self.by_user: dict[Any, list] = {}
        for s in subscribed:
            for value in {s.session_cookie, s.browser_id}:
                if value:
                    self.by_cookie.setdefault(value, []).append(s)
            user = s.attributes.get("user_id")
            if user is not None:
                self.by_user.setdefault(user, []).append(s)

    def of(self, sub: Subscription) -> list:
        if sub.cookie:
            return self.by_cookie.get(sub.cookie, [])
        if sub.user_id is not None:
            return self.by_user.get(sub.user_id, [])
        return []


#: Recomputations that may run back to back before ``recompute_delay_ms`` spaces them (the token bucket's size).
RECOMPUTE_BURST = 2


class SubscriptionManager:
    def __init__(self, hs: Services87Server, live, evaluator: StatEvaluator, bayeux,
                 build_items: Callable[[dict], dict[str, Item]]):
        self.hs = hs
        self.live = live
        self.evaluator = evaluator
        self.bayeux = bayeux
        self.build_items = build_items
        g = hs.settings.genesys
        self.keep_on_outage = g.keep_subscriptions_on_outage
        self.delay = g.recompute_delay_ms / 1000.0
        self.subs: dict[str, Subscription] = {}
        self.available = True
        self._dirty: set[str] = set()
        self._call = None
        self._tokens = float(RECOMPUTE_BURST)  # recomputations the budget allows now ...
        self._tokens_at = hs.reactor.seconds()  # ... as of this reactor time
        self._running = False
        self._rerun = False
        self._probing = False
        self._purge: set[str] = set()
        self._targets_cache: tuple[int, Targets] | None = None
        self.counters = {"pushes": 0, "recomputes": 0, "evaluations": 0, "outages": 0}
        self._tick = LoopingCall(self.tick)
        self._tick.clock = hs.reactor
        self._health = LoopingCall(self.probe)
        self._health.clock = hs.reactor
        hs.get_store().add_listener(self._on_change_thread)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._tick.start(1.0, now=False)
        self._health.start(self.hs.settings.genesys.health_interval_ms / 1000.0, now=False)

    def stop(self) -> None:
        for lc in (self._tick, self._health):
            if lc.running:
                lc.stop()
        self.hs.get_store().remove_listener(self._on_change_thread)
        if self._call is not None and self._call.active():
            self._call.cancel()

    def restore(self, rows: list[dict]) -> int:
        """Re-create persisted subscriptions (at start-up); bad ones are skipped."""
        n = 0
        for row in rows:
            try:
                items = self.build_items(row["body"])
            except Exception as exc:  # a definition that no longer parses: drop it
                log.warning("dropping stored subscription %s: %s", row["id"], exc)
                continue
            self.subs[row["id"]] = Subscription(row["id"], row["user_id"], row["session_cookie"], items, row["body"])
            for item in items.values():
                self._arm(item, now_ms())
            n += 1
        if n:
            self._dirty.update(("live", "panel"))
            self._schedule(initial=True)
        return n

    # ------------------------------------------------------------------ registry
    def add(self, sub: Subscription) -> None:
        self.subs[sub.id] = sub
        t = now_ms()
        for item in sub.items.values():
            if item.last is not None:
                item.sent, item.has_sent = item.last.raw, True
            self._arm(item, t)

    def _arm(self, item: Item, t: int) -> None:
        item.next_due = t + item.defn.notification.frequency * 1000
        if item.defn.notification.mode == "Reset":
            item.next_reset = self.evaluator.next_reset(item.defn, t)

    def get(self, sub_id: str, user_id: int | None) -> Subscription | None:
        sub = self.subs.get(sub_id)
        if sub is None or (sub.user_id is not None and user_id is not None and sub.user_id != user_id):
            return None
        return sub

    def remove(self, sub_id: str) -> bool:
        return self.subs.pop(sub_id, None) is not None

    # ------------------------------------------------------------------ evaluation (thread pool)
    def evaluate_many(self, jobs: list[tuple[str, Item, int | None]]) -> list[tuple[str, Item, Result | Exception]]:
        """Blocking: evaluate ``(subscription id, item, at)`` jobs in order; an engine error is the job's result,
        and evaluation stops after the first :class:`StoreUnavailable` (the list is then shorter).

        Equal statistics (same definition, object and instant) are evaluated once: a thousand clients that
        subscribed to the same agent's state cost one evaluation, not a thousand."""
        out: list[tuple[str, Item, Result | Exception]] = []
        seen: dict[tuple, Result | Exception] = {}
        # A definition is a frozen dataclass whose hash is computed anew at each use (its fields, masks and
        # notification included: a few µs): each definition object is hashed once here and stands for the
        # first equal one met; the jobs keep every object alive, so ids are stable for the call.
        equal: dict[StatDefinition, StatDefinition] = {}
        first_of: dict[int, int] = {}
        for sub_id, item, at in jobs:
            defn = item.defn
            d = first_of.get(id(defn))
            if d is None:
                d = first_of[id(defn)] = id(equal.setdefault(defn, defn))
            key = (d, item.object_type, item.object_id, at)
            res = seen.get(key)
            if res is None:
                try:
                    res = self.evaluator.evaluate(item.defn, item.object_type, item.object_id, at)
                except StoreUnavailable as exc:
                    out.append((sub_id, item, exc))
                    break
                except EngineError as exc:
                    res = exc
                seen[key] = res
            out.append((sub_id, item, res))
        return out

    def evaluate_items(self, items: list[Item], at: int | None = None) -> defer.Deferred:
        """Evaluate ``items`` off the reactor; fires after ``item.last`` is set (errors raise)."""
        at = now_ms() if at is None else at

        def done(results):
            for _sid, item, res in results:
                if isinstance(res, Exception):
                    raise res
                item.last = res
            return items

        return self.hs.run_blocking(self.evaluate_many, [("", i, at) for i in items]).addCallback(done)

    # ------------------------------------------------------------------ change events
    def _on_change_thread(self, ev) -> None:
        self.hs.call_from_thread(self.on_change, ev)

    def on_change(self, ev) -> None:
        if ev.kind == "live":
            self._dirty.add("live")
        else:
            self._dirty.add("panel")
            # a batch of requests and messages changes no agent, place or queue: the live statistics stay
            touched = ev.detail.get("live")
            if touched is not None and (not isinstance(touched, dict)
                                        or any(touched.get(k) for k in ("agents", "places", "queues"))):
                self._dirty.add("live")
        self._schedule()

    def _budget(self) -> float:
        """Recomputations the budget allows now: the bucket refills one per ``delay``, up to RECOMPUTE_BURST."""
        now = self.hs.reactor.seconds()
        if self.delay <= 0:
            self._tokens = float(RECOMPUTE_BURST)
        else:
            self._tokens = min(float(RECOMPUTE_BURST), self._tokens + (now - self._tokens_at) / self.delay)
        self._tokens_at = now
        return self._tokens

    def _schedule(self, initial: bool = False) -> None:
        """Recompute at once while the budget allows, else when it next does (changes arriving meanwhile are
        coalesced into that recomputation). Before, recomputations were spaced at least ``delay`` apart: changes
        at that very rate (the push-latency bench's 10 events/s against 100 ms) waited 0-100 ms each, by jitter."""
        if self._running:
            self._rerun = True
            return
        if self._call is None or not self._call.active():
            tokens = self._budget()
            wait = 0.0 if initial or tokens >= 1.0 else (1.0 - tokens) * self.delay
            self._call = self.hs.reactor.callLater(wait, self._recompute)

    def _recompute(self) -> None:
        if not self.available or not self._dirty:
            self._dirty.clear()
            return
        dirty, self._dirty = self._dirty, set()
        self._tokens = max(0.0, self._budget() - 1.0)
        jobs = []
        t = now_ms()
        for sub in self.subs.values():
            for item in sub.items.values():
                if item.family in dirty and item.defn.notification.mode == "Immediate":
                    jobs.append((sub.id, item, t))
        if not jobs:
            return
        self._running = True
        self.counters["recomputes"] += 1
        d = self.hs.run_blocking(self.evaluate_many, jobs)
        d.addCallback(self._apply, "Immediate")
        d.addErrback(lambda f: log.error("recomputation failed: %s", f.getTraceback()))
        d.addBoth(self._recomputed)

    def _recomputed(self, _):
        self._running = False
        if self._rerun or self._dirty:
            self._rerun = False
            self._schedule()

    def _apply(self, results: list[tuple[str, Item, Result | Exception]], trigger: str, force: bool = False) -> None:
        by_sub: dict[str, list[tuple[dict, bytes]]] = {}
        encoder = UpdateJson()
        outage = False
        self.counters["evaluations"] += len({id(res) for _sid, _item, res in results})  # each distinct one
        for sub_id, item, res in results:
            if isinstance(res, StoreUnavailable):
                outage = True
                continue
            if isinstance(res, Exception):
                log.info("statistic %s of %s cannot be evaluated: %s", item.statistic_id, sub_id, res)
                continue
            item.last = res
            sub = self.subs.get(sub_id)
            if sub is None or sub.items.get(item.statistic_id) is not item:
                continue  # deleted or replaced meanwhile
            mode = item.defn.notification
            if force:
                push = True
            elif trigger == "Immediate":
                push = not item.has_sent or changed(item.sent, res.raw, mode.insensitivity)
            elif trigger == "Periodical":
                push = mode.insensitivity == 0 or not item.has_sent or changed(item.sent, res.raw, mode.insensitivity)
            else:  # Reset
                push = True
            if push:
                item.sent, item.has_sent = res.raw, True
                wire = item.wire(sub_id)
                by_sub.setdefault(sub_id, []).append((wire, encoder.item(item, wire)))
        if by_sub:
            targets = self._targets()
            for sub_id, pairs in by_sub.items():
                self.push(self.subs[sub_id], [w for w, _ in pairs], targets,
                          encoder.update([j for _, j in pairs]))
        if outage:
            self.probe()

    # ------------------------------------------------------------------ push
    def _targets(self) -> Targets:
        """The :class:`Targets` of the sessions subscribed to the updates channel, made again only when a session
        subscribed, unsubscribed or went since the last one (one pass over a thousand sessions took ~1.5 ms of
        every recomputation; a session's cookies and user are set at its handshake, before it subscribes)."""
        version = self.bayeux.index_version
        if self._targets_cache is None or self._targets_cache[0] != version:
            self._targets_cache = (version, Targets(self.bayeux.subscribers(UPDATES)))
        return self._targets_cache[1]

    def push(self, sub: Subscription, stats: list[dict], targets: Targets, data_json: bytes | None = None) -> int:
        """Queue one ``StatisticUpdate`` for each CometD session of ``sub``'s client. ``targets``: the lookup of
        the current subscribers, made once for a batch of pushes (it is one pass over the sessions);
        ``data_json``: the update's JSON when made already (:class:`UpdateJson`)."""
        data = {"name": "StatisticUpdate", "topic": UPDATES, "data": {"statistics": stats}}
        n = 0
        for session in targets.of(sub):
            n += bool(self.bayeux.deliver(session, UPDATES, data, data_json=data_json))
        self.counters["pushes"] += n
        return n

    def service_state(self, state: str) -> int:
        return self.bayeux.publish(SERVICE, {"name": "ServiceStateChange", "topic": SERVICE,
                                             "data": {"serviceState": state}})

    # ------------------------------------------------------------------ timers
    def tick(self) -> None:
        if not self.available:
            return
        t = now_ms()
        periodic, resets = [], []
        targets = self._targets()
        for sub in list(self.subs.values()):
            if targets.of(sub):
                sub.orphan_since = None
            elif sub.orphan_since is None:
                sub.orphan_since = self.hs.reactor.seconds()
            elif self.hs.reactor.seconds() - sub.orphan_since > ORPHAN_TTL:
                self.subs.pop(sub.id, None)
                self.hs.run_blocking(self.live.delete_subscriptions, [sub.id]).addErrback(lambda f: None)
                continue
            for item in sub.items.values():
                n = item.defn.notification
                if n.mode == "Periodical" and t >= item.next_due:
                    item.next_due = t + n.frequency * 1000
                    periodic.append((sub.id, item, t))
                elif n.mode == "Reset" and item.next_reset is not None and t >= item.next_reset:
                    resets.append((sub.id, item, item.next_reset - 1))
                    item.next_reset = self.evaluator.next_reset(item.defn, t)
        if periodic:
            self.hs.run_blocking(self.evaluate_many, periodic).addCallback(self._apply, "Periodical").addErrback(
                lambda f: log.error("periodical evaluation failed: %s", f.getTraceback()))
        if resets:
            self.hs.run_blocking(self.evaluate_many, resets).addCallback(self._apply, "Reset").addErrback(
                lambda f: log.error("reset evaluation failed: %s", f.getTraceback()))

    # ------------------------------------------------------------------ health
    def probe(self) -> None:
        if self._probing:
            return
        self._probing = True
        d = self.hs.run_blocking(self.live.probe)

        def ok(_):
            self._probing = False
            if not self.available:
                self._recover()

        def failed(f):
            self._probing = False
            if self.available:
                self._outage(f.value)

        d.addCallbacks(ok, failed)

    def _outage(self, exc) -> None:
        log.warning("store unreachable (%s): service UNAVAILABLE", exc)
        self.available = False
        self.counters["outages"] += 1
        if not self.keep_on_outage:
            self._purge.update(self.subs)
            self.subs.clear()
        self.service_state("UNAVAILABLE")

    def _recover(self) -> None:
        purge = [i for i in self._purge if i not in self.subs]
        self._purge.clear()

        def announce(_=None):
            self.available = True
            log.warning("store reachable again: service AVAILABLE")
            self.service_state("AVAILABLE")
            if self.keep_on_outage and self.subs:
                jobs = [(s.id, i, now_ms()) for s in self.subs.values() for i in s.items.values()
                        if i.defn.notification.mode != "NoNotification"]
                self.hs.run_blocking(self.evaluate_many, jobs).addCallback(self._apply, "Immediate", True)

        if purge:
            self.hs.run_blocking(self.live.delete_subscriptions, purge).addBoth(announce)
        else:
            announce()

    def stats(self) -> dict:
        return dict(self.counters, subscriptions=len(self.subs),
                    statistics=sum(len(s.items) for s in self.subs.values()), available=self.available)
