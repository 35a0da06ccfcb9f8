"""Prometheus metrics (``GET /metrics``), recorded in one place: the site (services87/http/limits.py).

Every request that reaches the site is counted by *contract* (the API family its path belongs to) and *outcome*,
and its duration goes into a histogram; :func:`contract_of` maps paths to contracts. Gauges that describe the
server's state (thread pool, database pool, Bayeux sessions, caches) are read at scrape time by
:class:`ServerCollector`, so nothing on the request path updates them. The ``worker`` label is the worker index
under ``--workers N`` (``0`` for a single process). Every metric is listed in docs/operations.md.

Access (setting table ``[metrics]``): off; or on the main listener, open to the client addresses in
``metrics.allow`` or to anyone presenting ``Authorization: Bearer <metrics.token>``; or on its own listener
(``metrics.port``; worker *i* listens on ``metrics.port + i``) so every worker is scraped as its own target.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from twisted.web import resource, server

from services87.config import Metrics as MetricsSettings
from services87.http.contracts import CONTRACT_NAMES, CONTRACTS, contract_of  # noqa: F401 (part of this API)
from services87.http.tree import Root, mount as mount_at

if TYPE_CHECKING:
    from services87.server import Services87Server

disable_created_metrics()  # no *_created series: they double the scrape for no operational use

#: Latency buckets (seconds): cache hits answer in well under a millisecond, long-polls are held up to 25 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def outcome_of(code: int | None, aborted: bool = False) -> str:
    if aborted:
        return "aborted"
    code = code or 200
    if code < 400:
        return "ok"
    if code == 429:
        return "throttled"
    if code < 500:
        return "client_error"
    return "server_error"


class Metrics:
    """The metrics of one server process (its own registry: several servers may live in one test process)."""

    def __init__(self, hs: Services87Server | None = None, worker: int = 0):
        self.registry = CollectorRegistry(auto_describe=True)
        self.worker = str(worker)
        self.hs = hs
        r = self.registry
        self.requests = Counter("services87_http_requests", "HTTP requests answered, by contract and outcome",
                                ["contract", "outcome", "worker"], registry=r)
        self.latency = Histogram("services87_http_request_duration_seconds",
                                 "Time from the request's headers to its last byte, by contract",
                                 ["contract", "worker"], buckets=LATENCY_BUCKETS, registry=r)
        self.ingest_events = Counter("services87_ingest_events", "Ingested live events, by result",
                                     ["result", "worker"], registry=r)
        self.ingest_batch = Histogram("services87_ingest_batch_duration_seconds",
                                      "Time to apply and commit one ingest batch", ["worker"],
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.bayeux_delivery = Histogram("services87_bayeux_delivery_seconds",
                                         "Time from a message being queued for a Bayeux session to its delivery",
                                         ["contract", "worker"], buckets=LATENCY_BUCKETS, registry=r)
        self._request_series: dict[tuple[str, str], tuple[Any, Any]] = {}
        for contract in CONTRACT_NAMES:  # every series exists from the first scrape (rate() needs a zero)
            self.latency.labels(contract, self.worker)
            for outcome in ("ok", "client_error", "server_error"):
                self.requests.labels(contract, outcome, self.worker)
        for result in ("accepted", "duplicate"):
            self.ingest_events.labels(result, self.worker)
        self.ingest_batch.labels(self.worker)
        if hs is not None:
            r.register(ServerCollector(hs, self.worker))

    # ------------------------------------------------------------------ recording
    def observe_request(self, path: bytes | None, code: int | None, seconds: float, aborted: bool = False) -> str:
        contract = contract_of(path)
        key = (contract, outcome_of(code, aborted))
        series = self._request_series.get(key)
        if series is None:  # the labelled series, looked up once (``labels()`` takes a lock and builds a key)
            series = self._request_series[key] = (self.requests.labels(contract, key[1], self.worker),
                                                  self.latency.labels(contract, self.worker))
        series[0].inc()
        series[1].observe(seconds)
        return contract

    def observe_ingest(self, statuses: list[str], seconds: float) -> None:
        for result in ("accepted", "duplicate"):
            n = statuses.count(result)
            if n:
                self.ingest_events.labels(result, self.worker).inc(n)
        self.ingest_batch.labels(self.worker).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ServerCollector:
    """State read at scrape time, on the reactor thread (where that state lives)."""

    def __init__(self, hs: Services87Server, worker: str):
        self.hs = hs
        self.worker = worker

    def describe(self):
        return []

    def collect(self):
        hs, w = self.hs, self.worker
        # response caches
        hits = CounterMetricFamily("services87_cache_hits", "Response cache hits", labels=["cache", "worker"])
        misses = CounterMetricFamily("services87_cache_misses", "Response cache misses", labels=["cache", "worker"])
        entries = GaugeMetricFamily("services87_cache_entries", "Entries in a response cache",
                                    labels=["cache", "worker"])
        for label, c in hs.answer_caches().items():
            hits.add_metric([label, w], c.hits)
            misses.add_metric([label, w], c.misses)
            entries.add_metric([label, w], len(c))
        yield hits
        yield misses
        yield entries
        # warm path (version watch): answered on the reactor thread without a store hop, or not
        watch = hs.get_version_watch.built()
        warm = CounterMetricFamily("services87_warm_path_answers",
                                   "Version checks answered on the reactor thread (clean) "
                                   "or needing a store hop (dirty)",
                                   labels=["result", "worker"])
        warm.add_metric(["clean", w], getattr(watch, "clean_answers", 0))
        warm.add_metric(["dirty", w], getattr(watch, "dirty_answers", 0))
        yield warm
        # store thread pool
        pool = hs.get_threadpool()
        busy = len(pool.working) if pool.started else 0
        queued = pool.q.qsize() if pool.started else 0
        g = GaugeMetricFamily("services87_store_threads_busy", "Store threads running a job", labels=["worker"])
        g.add_metric([w], busy)
        yield g
        g = GaugeMetricFamily("services87_store_threads_max", "Size of the store thread pool", labels=["worker"])
        g.add_metric([w], pool.max)
        yield g
        g = GaugeMetricFamily("services87_store_queue", "Store jobs waiting for a thread", labels=["worker"])
        g.add_metric([w], queued)
        yield g
        # database connection pool
        dbpool = hs.get_store().engine.pool
        for name, attr, doc in (("services87_db_pool_size", "size", "Connections the database pool keeps"),
                                ("services87_db_pool_checked_out", "checkedout", "Database connections in use")):
            fn = getattr(dbpool, attr, None)
            if fn is not None:
                g = GaugeMetricFamily(name, doc, labels=["worker"])
                g.add_metric([w], fn())
                yield g
        # Bayeux (CometD) servers
        sessions = GaugeMetricFamily("services87_bayeux_sessions", "Bayeux sessions", labels=["contract", "worker"])
        subs = GaugeMetricFamily("services87_bayeux_subscriptions", "Bayeux channel subscriptions",
                                 labels=["contract", "worker"])
        queued_msgs = GaugeMetricFamily("services87_bayeux_queued_messages", "Messages waiting in session queues",
                                        labels=["contract", "worker"])
        delivered = CounterMetricFamily("services87_bayeux_messages_queued", "Messages queued for sessions",
                                        labels=["contract", "worker"])
        dropped = CounterMetricFamily("services87_bayeux_queue_drops",
                                      "Messages dropped because a session queue was full",
                                      labels=["contract", "worker"])
        built = hs.bayeux_servers()
        for key, contract in (("genesys.bayeux", "genesys"), ("gws.bayeux", "gws")):
            bayeux = built.get(key)
            if bayeux is None:
                continue
            live = list(bayeux.sessions.values())
            sessions.add_metric([contract, w], len(live))
            subs.add_metric([contract, w], sum(len(s.subscriptions) for s in live))
            queued_msgs.add_metric([contract, w], sum(s.queue_size for s in live))
            delivered.add_metric([contract, w], bayeux.counters.get("delivered", 0))
            dropped.add_metric([contract, w], bayeux.counters.get("dropped", 0))
        yield sessions
        yield subs
        yield queued_msgs
        yield delivered
        yield dropped
        # Genesys Statistics subscriptions and their push
        statistics = hs.get_genesys_statistics.built()
        if statistics is not None:
            counters = statistics.manager.stats()
            g = GaugeMetricFamily("services87_genesys_subscriptions", "Genesys Statistics subscriptions",
                                  labels=["worker"])
            g.add_metric([w], counters["subscriptions"])
            yield g
            for name, key, doc in (
                    ("services87_genesys_recomputations", "recomputes",
                     "Recomputations of subscribed statistics after store changes"),
                    ("services87_genesys_statistic_evaluations", "evaluations",
                     "Statistics evaluated for subscriptions (an equal statistic held by several subscriptions "
                     "counts once per recomputation)"),
                    ("services87_genesys_updates_pushed", "pushes", "StatisticUpdate messages queued for sessions")):
                c = CounterMetricFamily(name, doc, labels=["worker"])
                c.add_metric([w], counters[key])
                yield c
        # HTTP connections and refusals below the request level (services87/http/limits.py)
        limiter = hs.get_connection_limiter.built()
        if limiter is not None:
            g = GaugeMetricFamily("services87_http_connections_open", "Client connections open (long-polls and "
                                  "WebSockets included)", labels=["worker"])
            g.add_metric([w], limiter.open_connections())
            yield g
        site = hs.get_site.built()
        if site is not None:
            g = GaugeMetricFamily("services87_http_requests_in_flight", "Requests being answered", labels=["worker"])
            g.add_metric([w], len(site.in_flight()))
            yield g
            c = CounterMetricFamily("services87_http_refused", "Connections or requests refused before reaching an "
                                    "adapter, by reason", labels=["reason", "worker"])
            for reason, key in (("timeout", "timeouts"), ("too_large", "too_large"),
                                ("too_many_connections", "refused")):
                c.add_metric([reason, w], site.counters.get(key, 0))
            yield c
        # login throttle
        t = CounterMetricFamily("services87_login_throttled", "Log-in attempts refused by the failure throttle",
                                labels=["worker"])
        t.add_metric([w], getattr(hs.get_auth(), "throttled", 0))
        yield t


# --------------------------------------------------------------------------- resource
def _allowed(address: str, nets) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


class MetricsResource(resource.Resource):
    """``GET /metrics``: the Prometheus text format, rendered with prometheus_client on the reactor thread."""

    isLeaf = True

    def __init__(self, metrics: Metrics, token: str = "", allow=()):
        super().__init__()
        self.metrics = metrics
        self.token = token
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow]

    def render_GET(self, request):
        if not self._permitted(request):
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            return (b'{"Error": true, "ErrorType": "Forbidden", "Message": "Metrics are not open to this client", '
                    b'"status": 403}')
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        request.setHeader(b"cache-control", b"no-store")
        return self.metrics.exposition()

    def _permitted(self, request) -> bool:
        if self.token:
            auth = (request.getHeader(b"authorization") or b"").decode("latin-1")
            if hmac.compare_digest(auth.encode(), ("Bearer " + self.token).encode()):
                return True
        if not self.allow and not self.token:
            return True
        peer = request.channel.transport.getPeer() if request.channel and request.channel.transport else None
        return _allowed(getattr(peer, "host", "") or "", self.allow)


def mount(hs: Services87Server, root) -> None:
    """Mount ``/metrics`` (the server's :class:`Metrics`) on the main site, unless it is off or has its own port."""
    metrics = hs.get_metrics()
    m = hs.settings.metrics
    if metrics is not None and m.port == 0:
        mount_at(root, "metrics", MetricsResource(metrics, m.token, m.allow))


def own_site(metrics: Metrics, m: MetricsSettings) -> server.Site:
    """A plain site serving only ``/metrics`` (for ``metrics.port``)."""
    root = Root()
    mount_at(root, "metrics", MetricsResource(metrics, m.token, m.allow))
    site = server.Site(root)
    site.noisy = False
    return site


def now() -> float:
    return time.monotonic()
