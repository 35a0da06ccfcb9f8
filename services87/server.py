"""The server object: builds the store, engine and auth once and hands them to every protocol adapter.

Adapters are modules with ``mount(hs, root)``; they add their resources to the root resource tree and
keep no global state. Blocking work (store, Argon2) runs through :meth:`Services87Server.run_blocking`
on a dedicated thread pool, never on the reactor thread.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from twisted.internet import defer, threads
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server

from services87.auth import AuthService
from services87.cache import ResponseCache
from services87.config import Settings
from services87.engine.engine import StatisticsEngine
from services87.engine.business_hours import BusinessCalendar
from services87.engine.storage import Store
from services87.http.tree import Root

log = logging.getLogger(__name__)

#: Protocol adapters mounted on the root resource, in order.
ADAPTERS = [
    "services87.ops.health",
    "services87.soap",  # /Remote/Services87/*.svc
    "services87.rest",  # /api/v1/..., /auth/v3/oauth/token
    "services87.genesys.ingest",  # /api/ingest/...
    "services87.genesys.statistics",  # /statistics/v3/...
    "services87.gws",  # /api/v2/...
    "services87.statuspage",  # /, /static/...
    "services87.ops.metrics",  # /metrics (last: it observes the other adapters' objects)
]


def log_exit_reasons(reactor) -> None:
    """Make a stopping server say why in its log: the signal that stopped it or a stop request without one
    (Twisted's own message about the signal goes to its logger, which the server does not print), and, through
    :mod:`faulthandler`, a fatal signal (SIGSEGV, SIGBUS, SIGABRT ...) with the Python stacks on stderr."""
    import faulthandler
    import signal

    if not faulthandler.is_enabled():
        faulthandler.enable()

    def before_shutdown() -> None:
        number = getattr(reactor, "_exitSignal", None)  # set by Twisted's SIGINT/SIGTERM handlers
        why = f"received {signal.Signals(number).name}" if number else "stop requested (no signal)"
        log.info("shutting down: %s", why)

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    reactor.addSystemEventTrigger("after", "shutdown", lambda: log.info("stopped"))


class Services87Server:
    def __init__(self, settings: Settings, reactor=None, store: Store | None = None):
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.settings = settings
        self.reactor = reactor
        if store is None:
            store = Store(settings.db_url, BusinessCalendar.from_settings(settings.business_hours),
                          pool_size=settings.db_threads)
            store.migrate()
        self.store = store
        self.engine = StatisticsEngine(self.store, settings)
        self.auth = AuthService(self.store, settings)
        self.threadpool = ThreadPool(minthreads=1, maxthreads=settings.db_threads, name="services87-db")
        self._started = False
        #: which worker process this is under ``--workers N`` (0 for a single process): the ``worker`` metric label
        self.worker_index = 0
        self.services: dict[str, Any] = {}  # adapters share long-lived objects here (e.g. the Bayeux server)
        self.root = Root()

    def get_answer_cache(self, name: str) -> ResponseCache:
        """The answer cache of adapter ``name`` (``soap``, ``rest``, ``genesys``: ``services87/http/warm.py``),
        made on first use and sized by ``response_cache_size``; the metrics list it as ``<name>``."""
        key = f"{name}.response_cache"
        cache = self.services.get(key)
        if cache is None:
            cache = self.services[key] = ResponseCache(self.settings.response_cache_size)
        return cache

    # ------------------------------------------------------------------ lifecycle
    def start_pool(self) -> None:
        if not self._started:
            self.threadpool.start()
            self._started = True
            self.reactor.addSystemEventTrigger("during", "shutdown", self.stop_pool)

    def stop_pool(self) -> None:
        if self._started:
            self._started = False
            self.threadpool.stop()

    def run_blocking(self, fn: Callable, *args, **kwargs) -> defer.Deferred:
        """Run ``fn`` on the store thread pool; the Deferred fires on the reactor thread."""
        self.start_pool()
        return threads.deferToThreadPool(self.reactor, self.threadpool, fn, *args, **kwargs)

    def call_from_thread(self, fn: Callable, *args, **kwargs) -> None:
        self.reactor.callFromThread(fn, *args, **kwargs)

    def build(self) -> resource.Resource:
        for name in ADAPTERS:
            importlib.import_module(name).mount(self, self.root)
        return self.root

    def site(self) -> server.Site:
        """The HTTP site with the site-wide limits (services87/http/limits.py: timeouts, body cap, typed errors)."""
        from services87.http import limits

        site = limits.build_site(self.build(), self.settings, self.reactor)
        site.metrics = self.services.get("metrics")
        self.services["http.site"] = site
        return site

    def factory(self):
        """What to listen with: :meth:`site` behind the connection cap (``http.max_connections``)."""
        from services87.http import limits

        limiter = limits.protect(self.site(), self.settings, self.reactor)
        self.services["http.limiter"] = limiter
        return limiter

    def listen(self, host: str, port: int):
        from services87.http import limits

        factory = self.factory()
        listening = self.reactor.listenTCP(port, factory, interface=host)
        limits.drain_on_shutdown(self.reactor, factory, listening, self.settings.http.shutdown_grace)
        self.listen_metrics()
        return listening

    def listen_endpoints(self, descriptions: list[str]) -> defer.Deferred:
        """Listen on Twisted endpoint strings (``tcp:8087:interface=127.0.0.1``, ``ssl:8443:privateKey=key.pem``,
        ``unix:/run/services87.sock``), all with one site; fires with the listening ports in order."""
        from twisted.internet import endpoints

        from services87.http import limits

        factory = self.factory()
        grace = self.settings.http.shutdown_grace
        ports = []
        for description in descriptions:
            endpoint = endpoints.serverFromString(self.reactor, description)
            d = endpoint.listen(factory)
            d.addCallback(lambda port: (limits.drain_on_shutdown(self.reactor, factory, port, grace), port)[1])
            ports.append(d)
        self.listen_metrics()
        return defer.gatherResults(ports, consumeErrors=True)

    def listen_metrics(self):
        """The separate metrics listener (``metrics.port`` > 0; worker *i* on ``port + i``), or None."""
        from services87.ops import metrics

        m = self.settings.metrics
        site = metrics.own_site(self) if m.port else None
        if site is None:
            return None
        return self.reactor.listenTCP(m.port + self.worker_index, site, interface=m.host)
