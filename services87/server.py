"""The composition root: :class:`Services87Server` builds every long-lived object of a server process.

Each shared object has one getter, ``hs.get_<name>()``, that builds it from the settings and other getters on
first use and returns the same instance afterwards (:class:`cache_in_self`). Adapters receive the server and
ask it for what they need; they never construct shared objects themselves and keep no global state. This
module imports the adapters; an adapter imports this module only for type checking (``hs: Services87Server``
under ``if TYPE_CHECKING:``).

Adapters are modules with ``mount(hs, root)``; they add their resources to the root resource tree. Blocking
work (store, Argon2) runs through :meth:`Services87Server.run_blocking` on a dedicated thread pool, never on the
reactor thread.
"""

from __future__ import annotations

import faulthandler
import functools
import gc
import logging
import operator
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, overload

from twisted.internet import defer, endpoints, threads
from twisted.python.threadpool import ThreadPool
from twisted.web import server

from services87 import debug, gws, rest, soap, statuspage
from services87.auth.service import AuthService
from services87.auth.revocation import RevocationWatch
from services87.bayeux import BayeuxServer
from services87.bayeux.cluster import BayeuxCluster
from services87.cache import ResponseCache
from services87.config import Settings
from services87.engine.engine import StatisticsEngine
from services87.engine.business_hours import BusinessCalendar
from services87.engine.notify import PgBus, attach_store
from services87.engine.storage import Store
from services87.engine.storage.live import LiveStore
from services87.engine.storage.prefs import PrefsStore
from services87.engine.storage.workbins import WorkbinStore
from services87.engine.versionwatch import VersionWatch
from services87.genesys import ingest, statistics
from services87.genesys.statistics.api import StatisticsApi
from services87.gws.api import GwsWorkbins
from services87.http import limits
from services87.http.session import SessionStore
from services87.http.tree import Root, mount as mount_at
from services87.ops import health, metrics

log = logging.getLogger(__name__)

#: Protocol adapters mounted on the root resource, in order.
ADAPTERS = (
    health,
    soap,  # /Remote/Services87/*.svc
    rest,  # /api/v1/..., /auth/v3/oauth/token
    ingest,  # /api/ingest/...
    statistics,  # /statistics/v3/...
    gws,  # /api/v2/...
    statuspage,  # /, /static/...
    metrics,  # /metrics
)

#: The response caches of answers, one per wire contract (the label of their metrics and debug statistics).
AnswerCacheName = Literal["soap", "rest", "genesys"]
#: The Bayeux (CometD) servers, by the name their replication between workers uses.
BayeuxName = Literal["genesys.bayeux", "gws.bayeux"]

T = TypeVar("T")
_NOT_BUILT: Any = object()
_BUILDING: Any = object()  # in the instance while its getter runs: asked for again then, it is a cycle
#: One builder at a time (getters call getters: reentrant). Objects are built once, mostly at start-up, but a
#: getter first called on a store thread must not race another thread into building a second instance.
_BUILD_LOCK = threading.RLock()


class cache_in_self(Generic[T]):
    """Decorates ``get_<name>(self) -> T``: the first call builds the object, later calls return the same one.

    ``hs.get_<name>.built()`` answers the object only if it was built already (else ``None``), for readers that
    must not build (metrics at scrape time). A getter that needs itself while building raises (a cycle), rather
    than recursing. Typed: ``hs.get_store()`` is a :class:`Store` to a type checker.
    """

    def __init__(self, builder: Callable[[Services87Server], T]):
        name = builder.__name__
        if not name.startswith("get_"):
            raise TypeError(f"@cache_in_self decorates get_<name> methods, not {name}")
        self.builder = builder
        self.name = name
        self.attr = "_built_" + name[len("get_"):]
        self.__doc__ = builder.__doc__

    @overload
    def __get__(self, hs: None, owner: type) -> cache_in_self[T]: ...

    @overload
    def __get__(self, hs: Services87Server, owner: type) -> _Getter[T]: ...

    def __get__(self, hs, owner):
        if hs is None:
            return self
        getter = _Getter(hs, self)
        hs.__dict__[self.name] = getter  # later look-ups find it in the instance, without this call
        return getter

    def preset(self, hs: Services87Server, value: T) -> None:
        """Give ``hs`` an object built elsewhere (the command line opens the store itself)."""
        hs.__dict__[self.attr] = value
        hs.__dict__[self.name] = _Built(value)

    def build(self, hs: Services87Server) -> T:
        with _BUILD_LOCK:
            value = hs.__dict__.get(self.attr, _NOT_BUILT)
            if value is _BUILDING:  # only this thread can have left it there
                raise RuntimeError(f"{self.name}() needs itself to be built (a dependency cycle)")
            if value is not _NOT_BUILT:
                return value
            hs.__dict__[self.attr] = _BUILDING
            try:
                value = self.builder(hs)
            except BaseException:
                del hs.__dict__[self.attr]
                raise
            self.preset(hs, value)  # from now on ``hs.get_<name>()`` costs two C calls
            return value


class _Getter(Generic[T]):
    """``hs.get_<name>``, bound: call it for the object; :meth:`built` for the object only if it exists."""

    __slots__ = ("_hs", "_cached")

    def __init__(self, hs: Services87Server, cached: cache_in_self[T]):
        self._hs = hs
        self._cached = cached

    def __call__(self) -> T:
        value = self._hs.__dict__.get(self._cached.attr, _NOT_BUILT)
        if value is _NOT_BUILT or value is _BUILDING:
            return self._cached.build(self._hs)
        return value

    def built(self) -> T | None:
        value = self._hs.__dict__.get(self._cached.attr, _NOT_BUILT)
        return None if value is _NOT_BUILT or value is _BUILDING else value


class _Built(functools.partial):
    """``hs.get_<name>`` once its object exists: calling it answers the object without running Python code
    (getters sit on request paths); :meth:`built` as on :class:`_Getter`."""

    def __new__(cls, value):
        return super().__new__(cls, _FIRST, (value,))

    def built(self):
        return self.args[0][0]


_FIRST = operator.itemgetter(0)


def log_exit_reasons(reactor) -> None:
    """Make a stopping server say why in its log: the signal that stopped it or a stop request without one
    (Twisted's own message about the signal goes to its logger, which the server does not print), and, through
    :mod:`faulthandler`, a fatal signal (SIGSEGV, SIGBUS, SIGABRT ...) with the Python stacks on stderr."""
    if not faulthandler.is_enabled():
        faulthandler.enable()

    def before_shutdown() -> None:
        number = getattr(reactor, "_exitSignal", None)  # set by Twisted's SIGINT/SIGTERM handlers
        why = f"received {signal.Signals(number).name}" if number else "stop requested (no signal)"
        log.info("shutting down: %s", why)

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    reactor.addSystemEventTrigger("after", "shutdown", lambda: log.info("stopped"))


#: Young-generation collections between two full ones (Python's default is 10); see :func:`freeze_startup_heap`.
FULL_COLLECTION_EVERY = 100


def freeze_startup_heap() -> int:
    """Prepare the garbage collector for serving; returns how many objects were frozen. Called once the server
    is built, before it serves.

    * Every object alive now (modules, classes, routes, the Spyne application, settings ...) leaves the
      collector's reach (``gc.freeze``). A full collection otherwise walks those ~130,000 objects each time:
      90-170 ms of a stopped reactor in the push-latency bench (every pushed update waiting behind it), 40-65 ms
      with them frozen. The frozen objects are never freed, which is what they are: the server's lifetime.
    * Full collections come after :data:`FULL_COLLECTION_EVERY` young ones instead of 10. A push to a thousand
      subscribers makes thousands of short-lived objects that young collections promote before they die, so
      full collections came every few seconds (four in ten seconds of the bench, one after). Cyclic garbage
      that reaches the oldest generation waits longer to be freed; young collections are unchanged.

    See docs/performance.md."""
    gc.collect()  # what the start-up left as garbage is freed, not frozen
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    return gc.get_freeze_count()


class Services87Server:
    """One server process. ``settings``, ``reactor`` and ``worker`` are given; everything else is a getter.

    ``store``: an opened, migrated store to use (the command line opens it to report a bad database in one
    line); without it :meth:`get_store` opens ``settings.db_url``. ``worker``: the index of this process under
    ``--workers N`` (``None`` for a single process): the ``worker`` metric label, and the bus between workers.
    """

    def __init__(self, settings: Settings, reactor=None, store: Store | None = None, worker: int | None = None):
        if reactor is None:
            # imported here: importing it installs the default reactor, which a caller passing its own must avoid
            from twisted.internet import reactor as default_reactor  # noqa: PLC0415

            reactor = default_reactor
        self.settings = settings
        self.reactor = reactor
        self.worker = worker
        self._answer_caches: dict[str, ResponseCache] = {}
        self._pool: ThreadPool | None = None  # the started thread pool (run_blocking's fast path)
        if store is not None:
            Services87Server.get_store.preset(self, store)

    @property
    def worker_index(self) -> int:
        """The ``worker`` metric label: the worker index, 0 for a single process."""
        return self.worker or 0

    # ------------------------------------------------------------------ the engine and its store
    @cache_in_self
    def get_store(self) -> Store:
        store = Store(self.settings.db_url, BusinessCalendar.from_settings(self.settings.business_hours),
                      pool_size=self.settings.db_threads)
        store.migrate()
        return store

    @cache_in_self
    def get_engine(self) -> StatisticsEngine:
        return StatisticsEngine(self.get_store(), self.settings)

    @cache_in_self
    def get_auth(self) -> AuthService:
        return AuthService(self.get_store(), self.settings)

    @cache_in_self
    def get_live_store(self) -> LiveStore:
        """The Genesys live state (agents, queues, interactions): written by ingest, read by the Statistics API
        and the status page."""
        g = self.settings.genesys
        return LiveStore(self.get_store(), outage_file=g.outage_file, tenant=g.tenant)

    @cache_in_self
    def get_workbin_store(self) -> WorkbinStore:
        return WorkbinStore(self.get_store())

    @cache_in_self
    def get_prefs_store(self) -> PrefsStore:
        """Each user's saved status-page preferences."""
        return PrefsStore(self.get_store())

    @cache_in_self
    def get_version_watch(self) -> VersionWatch:
        """Whether the versions last read still hold, told on the reactor thread (the warm path)."""
        if self.settings.version_watch:
            return VersionWatch.for_store(self.get_store())
        return VersionWatch(None)

    def get_answer_cache(self, name: AnswerCacheName) -> ResponseCache:
        """The response cache of one wire contract (``response_cache_size`` entries), built on first use."""
        cache = self._answer_caches.get(name)
        if cache is None:
            with _BUILD_LOCK:
                cache = self._answer_caches.get(name)
                if cache is None:
                    cache = self._answer_caches[name] = ResponseCache(self.settings.response_cache_size)
        return cache

    def answer_caches(self) -> dict[str, ResponseCache]:
        """The response caches built so far, by name."""
        return dict(sorted(self._answer_caches.items()))

    # ------------------------------------------------------------------ credentials
    @cache_in_self
    def get_sessions(self) -> SessionStore:
        """Browser sessions (REST and the status page log in through them)."""
        return SessionStore(self, lifetime=self.settings.session_max_lifetime, idle=self.settings.session_idle_timeout)

    @cache_in_self
    def get_revocation(self) -> RevocationWatch:
        """Ends the CometD sessions whose credentials were revoked; started when built."""
        watch = RevocationWatch(self)
        watch.start()
        return watch

    # ------------------------------------------------------------------ push
    @cache_in_self
    def get_genesys_statistics(self) -> StatisticsApi:
        api = StatisticsApi(self)
        self._wire_bayeux("genesys.bayeux", "genesys", api.bayeux)
        return api

    @cache_in_self
    def get_gws_workbins(self) -> GwsWorkbins:
        adapter = GwsWorkbins(self)
        self._wire_bayeux("gws.bayeux", "gws", adapter.bayeux)
        return adapter

    def get_bayeux(self, name: BayeuxName) -> BayeuxServer:
        if name == "genesys.bayeux":
            return self.get_genesys_statistics().bayeux
        if name == "gws.bayeux":
            return self.get_gws_workbins().bayeux
        raise KeyError(name)

    def bayeux_servers(self) -> dict[str, BayeuxServer]:
        """The Bayeux servers built so far, by name (without building any)."""
        out: dict[str, BayeuxServer] = {}
        api = self.get_genesys_statistics.built()
        if api is not None:
            out["genesys.bayeux"] = api.bayeux
        gws = self.get_gws_workbins.built()
        if gws is not None:
            out["gws.bayeux"] = gws.bayeux
        return out

    def _wire_bayeux(self, name: BayeuxName, contract: str, bayeux: BayeuxServer) -> None:
        """Replicate a new Bayeux server's sessions over the bus (workers) and time its deliveries (metrics)."""
        bus = self.get_bus()
        if bus is not None:
            BayeuxCluster(bayeux, bus, name)
        m = self.get_metrics()
        if m is not None:
            bayeux.delivery_observer = m.bayeux_delivery.labels(contract, m.worker).observe

    @cache_in_self
    def get_bus(self) -> PgBus | None:
        """The bus between worker processes (PostgreSQL LISTEN/NOTIFY), started; ``None`` for a single process.
        Store change events of every worker reach this one's listeners through it."""
        if self.worker is None:
            return None
        bus = PgBus(self.settings.db_url, self.reactor, worker_id=f"w{self.worker}-{os.getpid()}").start()
        attach_store(self.get_store(), bus)
        return bus

    # ------------------------------------------------------------------ operations
    @cache_in_self
    def get_metrics(self) -> metrics.Metrics | None:
        """Prometheus metrics of this process; ``None`` when ``metrics.enabled`` is off."""
        if not self.settings.metrics.enabled:
            return None
        return metrics.Metrics(self, worker=self.worker_index)

    @cache_in_self
    def get_blocking_detector(self) -> debug.BlockingDetector | None:
        """The blocking-call detector (debug mode, ``debug_blocking_ms`` > 0), installed; else ``None``."""
        if self.settings.debug_blocking_ms <= 0:
            return None
        return debug.install(self, self.settings.debug_blocking_ms)

    # ------------------------------------------------------------------ HTTP
    @cache_in_self
    def get_root(self) -> Root:
        """The resource tree: every adapter in :data:`ADAPTERS` mounted (and ``/debug/blocking`` in debug mode)."""
        detector = self.get_blocking_detector()  # hooks the store before any adapter uses it
        # Built now, at start: building the auth service reads the store (the token secret), which must not
        # first happen inside a request (a store outage then would surface as an untyped error).
        self.get_auth()
        root = Root()
        for adapter in ADAPTERS:
            adapter.mount(self, root)
        if detector is not None:
            mount_at(root, "debug/blocking", debug.DebugResource(detector))
        return root

    @cache_in_self
    def get_site(self) -> limits.LimitedSite:
        """The HTTP site with the site-wide limits (services87/http/limits.py: timeouts, body cap, typed errors)."""
        site = limits.build_site(self.get_root(), self.settings, self.reactor)
        site.metrics = self.get_metrics()
        return site

    @cache_in_self
    def get_connection_limiter(self) -> limits.ConnectionLimiter:
        """What to listen with: :meth:`get_site` behind the connection cap (``http.max_connections``, per process)."""
        return limits.protect(self.get_site(), self.settings, self.reactor)

    @cache_in_self
    def get_metrics_site(self) -> server.Site | None:
        """A plain site serving only ``/metrics`` (for ``metrics.port``), or ``None``."""
        m = self.get_metrics()
        if m is None or not self.settings.metrics.port:
            return None
        return metrics.own_site(m, self.settings.metrics)

    # ------------------------------------------------------------------ the store thread pool
    @cache_in_self
    def get_threadpool(self) -> ThreadPool:
        """The ``db_threads`` threads that run blocking work (:meth:`run_blocking`); started on first use."""
        return ThreadPool(minthreads=1, maxthreads=self.settings.db_threads, name="services87-db")

    def start_pool(self) -> ThreadPool:
        if self._pool is None:
            pool = self.get_threadpool()
            pool.start()
            self._pool = pool
            self.reactor.addSystemEventTrigger("during", "shutdown", self.stop_pool)
        return self._pool

    def stop_pool(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.stop()

    def run_blocking(self, fn: Callable, *args, **kwargs) -> defer.Deferred:
        """Run ``fn`` on the store thread pool; the Deferred fires on the reactor thread."""
        pool = self._pool or self.start_pool()
        return threads.deferToThreadPool(self.reactor, pool, fn, *args, **kwargs)

    def call_from_thread(self, fn: Callable, *args, **kwargs) -> None:
        self.reactor.callFromThread(fn, *args, **kwargs)

    # ------------------------------------------------------------------ listening
    def listen(self, host: str, port: int):
        factory = self.get_connection_limiter()
        listening = self.reactor.listenTCP(port, factory, interface=host)
        limits.drain_on_shutdown(self.reactor, factory, listening, self.settings.http.shutdown_grace)
        self.listen_metrics()
        return listening

    def listen_endpoints(self, descriptions: list[str]) -> defer.Deferred:
        """Listen on Twisted endpoint strings (``tcp:8087:interface=127.0.0.1``, ``ssl:8443:privateKey=key.pem``,
        ``unix:/run/services87.sock``), all with one site; fires with the listening ports in order."""
        factory = self.get_connection_limiter()
        grace = self.settings.http.shutdown_grace
        ports = []

        def drain_on_shutdown(port):
            limits.drain_on_shutdown(self.reactor, factory, port, grace)
            return port

        for description in descriptions:
            try:
                endpoint = endpoints.serverFromString(self.reactor, description)
            except Exception as exc:  # an unknown type, a bad option, a key file that cannot be read ...
                ports.append(defer.fail(ValueError(f"{description}: {exc}")))
                continue
            d = endpoint.listen(factory)
            d.addCallback(drain_on_shutdown)
            ports.append(d)
        self.listen_metrics()
        return defer.gatherResults(ports, consumeErrors=True)

    def adopt(self, fd: int, family) -> Any:
        """Under ``--workers N``: serve on the listening socket ``fd`` inherited from the parent process."""
        factory = self.get_connection_limiter()
        port = self.reactor.adoptStreamPort(fd, family, factory)
        os.close(fd)  # the port holds its own duplicate
        limits.drain_on_shutdown(self.reactor, factory, port, self.settings.http.shutdown_grace)
        self.listen_metrics()  # metrics.port > 0: this worker's own /metrics on port + index
        return port

    def listen_metrics(self):
        """The separate metrics listener (``metrics.port`` > 0; worker *i* on ``port + i``), or None."""
        site = self.get_metrics_site()
        if site is None:
            return None
        m = self.settings.metrics
        return self.reactor.listenTCP(m.port + self.worker_index, site, interface=m.host)
