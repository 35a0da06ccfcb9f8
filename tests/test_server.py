"""The composition root (services87/server.py): one object per getter, built on first use, shared by adapters.

In-process, on a real SQLite (or PostgreSQL) store and a memory reactor: building the tree starts nothing that
needs a running reactor, and nothing listens on a real port except through the reactor under test.
"""

from __future__ import annotations

import dataclasses

import pytest
import requests
from twisted.internet.testing import MemoryReactorClock
from twisted.web.test.requesthelper import DummyRequest

from services87 import workers
from services87.config import Settings
from services87.engine.storage import Store
from services87.rest.api import RestApi
from services87.server import ADAPTERS, Services87Server, cache_in_self, freeze_startup_heap
from tests.support import PG_ADMIN_URL, ServerProcess, fresh_db_url


def _settings(db_url: str, **changes) -> Settings:
    return dataclasses.replace(Settings.load(env={}, db_url=db_url), **changes)


@pytest.fixture
def hs(tmp_path):
    server = Services87Server(_settings(fresh_db_url(tmp_path)), reactor=MemoryReactorClock())
    yield server
    _close(server)


def _close(server: Services87Server) -> None:
    bus = server.get_bus.built()
    if bus is not None:
        bus.stop()
    store = server.get_store.built()
    if store is not None:
        store.close()


GETTERS = [name for name, value in vars(Services87Server).items() if isinstance(value, cache_in_self)]


def test_every_getter_builds_once_and_returns_the_same_object(hs):
    assert {"get_store", "get_engine", "get_auth", "get_live_store", "get_workbin_store", "get_sessions",
            "get_version_watch", "get_revocation", "get_metrics", "get_bus", "get_site", "get_root"} <= set(GETTERS)
    for name in GETTERS:
        first = getattr(hs, name)()
        assert getattr(hs, name)() is first, name
        assert getattr(hs, name).built() is first, name
    for name in ("soap", "rest", "genesys"):
        assert hs.get_answer_cache(name) is hs.get_answer_cache(name)
    assert hs.get_bayeux("genesys.bayeux") is hs.get_genesys_statistics().bayeux
    assert hs.get_bayeux("gws.bayeux") is hs.get_gws_workbins().bayeux


def test_objects_are_built_lazily_from_the_settings_and_other_getters(hs):
    assert hs.get_store.built() is None and hs.get_engine.built() is None
    engine = hs.get_engine()  # builds the store it needs, and nothing else
    assert isinstance(hs.get_store.built(), Store)
    assert engine.store is hs.get_store()
    assert hs.get_auth.built() is None and hs.get_site.built() is None and hs.get_root.built() is None
    assert hs.answer_caches() == {} and hs.bayeux_servers() == {}
    assert hs.get_bus() is None  # a single process has no bus between workers
    assert hs.get_blocking_detector() is None  # debug mode is off


def test_a_given_store_is_the_store(tmp_path, store):
    server = Services87Server(_settings(store.url), reactor=MemoryReactorClock(), store=store)
    assert server.get_store.built() is store
    assert server.get_auth().store is store


def test_adapters_get_the_same_instances(hs):
    root = hs.get_root()
    assert hs.get_site().resource is root
    assert hs.get_connection_limiter().wrappedFactory is hs.get_site()
    assert hs.get_site().metrics is hs.get_metrics()
    live = hs.get_live_store()
    api = hs.get_genesys_statistics()
    assert api.live is live and api.evaluator.live is live
    assert api.warm.cache is hs.get_answer_cache("genesys") and api.warm.watch is hs.get_version_watch()
    assert hs.get_gws_workbins().workbins is hs.get_workbin_store()
    assert hs.get_revocation.built() is not None  # the push adapters started it
    assert set(hs.answer_caches()) == {"soap", "rest", "genesys"}
    assert set(hs.bayeux_servers()) == {"genesys.bayeux", "gws.bayeux"}
    # the resources in the tree hold the server's objects, not copies
    soap = root.children[b"Remote"].children[b"Services87"].children[b"CustomerService.svc"]
    assert soap.warm.cache is hs.get_answer_cache("soap") and soap.warm.watch is hs.get_version_watch()
    page = root.children[b"statuspage"].children[b"api"].adapter  # the object behind the Klein routes
    assert page.me.sessions is hs.get_sessions() and page.prefs.prefs is hs.get_prefs_store()
    rest = root.children[b"api"].children[b"v1"].adapter
    assert rest.sessions is hs.get_sessions() and rest.warm.cache is hs.get_answer_cache("rest")
    assert rest.shapes is not RestApi(hs).shapes  # what the adapter remembers is its own, not the module's
    metrics = hs.get_metrics()
    for bayeux in hs.bayeux_servers().values():
        assert bayeux.delivery_observer is not None  # metrics time every delivery
    assert metrics.registry is not None


def test_metrics_scrape_reads_only_what_was_built(tmp_path):
    server = Services87Server(_settings(fresh_db_url(tmp_path)), reactor=MemoryReactorClock())
    try:
        text = server.get_metrics().exposition().decode()
        assert "services87_cache_hits" in text and 'cache="rest"' not in text
        assert server.get_root.built() is None and server.get_site.built() is None  # the scrape built nothing
        server.get_root()
        text = server.get_metrics().exposition().decode()
        assert 'services87_cache_hits_total{cache="rest",worker="0"} 0.0' in text
        assert 'services87_bayeux_sessions{contract="gws",worker="0"} 0.0' in text
    finally:
        _close(server)


def test_a_getter_that_needs_itself_is_refused():
    class Looping(Services87Server):
        @cache_in_self
        def get_engine(self):
            return self.get_engine()

    server = Looping(Settings.load(env={}), reactor=MemoryReactorClock())
    with pytest.raises(RuntimeError, match="dependency cycle"):
        server.get_engine()
    with pytest.raises(TypeError):
        cache_in_self(lambda hs: None)


def test_debug_mode_mounts_the_detector(tmp_path):
    server = Services87Server(_settings(fresh_db_url(tmp_path), debug_blocking_ms=50), reactor=MemoryReactorClock())
    try:
        detector = server.get_blocking_detector()
        assert detector is not None and detector.hs is server
        root = server.get_root()
        assert root.children[b"debug"].children[b"blocking"].detector is detector
        request = DummyRequest([b""])
        body = root.children[b"debug"].children[b"blocking"].render_GET(request)
        assert b'"rest.response_cache"' in body and b'"version_watch"' in body
    finally:
        _close(server)


def test_the_adapters_are_the_mounted_modules():
    assert all(callable(getattr(adapter, "mount", None)) for adapter in ADAPTERS)


@pytest.mark.skipif(not PG_ADMIN_URL, reason="workers share a bus on PostgreSQL (scripts/test runs this on it)")
def test_workers_path_joins_the_bus_and_adopts_the_socket(tmp_path):
    reactor = MemoryReactorClock()
    server = Services87Server(_settings(fresh_db_url(tmp_path)), reactor=reactor, worker=1)
    fd = workers.bind("127.0.0.1", 0).detach()  # as inherited: the worker owns (and closes) the descriptor
    try:
        port = workers.run_worker(server, fd, 1)
        bus = server.get_bus.built()
        assert bus is not None and bus.listening and bus.worker_id.startswith("w1-")
        assert server.worker_index == 1 and server.get_metrics().worker == "1"
        servers = server.bayeux_servers()
        assert set(servers) == {"genesys.bayeux", "gws.bayeux"}
        for name, bayeux in servers.items():
            assert bayeux.cluster.bus is bus and bayeux.cluster.name == name
        ((adopted_fd, _family, factory),) = reactor.adoptedPorts
        assert adopted_fd == fd and factory is server.get_connection_limiter() and port is not None
        assert server.get_site().requestFactory.__name__ == "WorkerRequest"
    finally:
        _close(server)


def test_served_process_answers_through_one_set_of_objects(tmp_path):
    """A real server: the debug report lists the caches the adapters share (one per contract) after a request
    of each contract, so no adapter made its own."""
    srv = ServerProcess(tmp_path, demo_requests=50, env={"SERVICES87_DEBUG_BLOCKING_MS": "2000"}).start()
    try:
        report = requests.get(srv.base_url + "/debug/blocking", timeout=30).json()
        assert set(report["caches"]) == {"soap.response_cache", "rest.response_cache", "genesys.response_cache"}
        assert report["version_watch"] is not None
    finally:
        srv.stop()



def test_freeze_startup_heap_takes_what_is_alive_out_of_the_collectors_walks():
    """The server built, ``freeze_startup_heap`` moves its objects to the permanent generation: a full
    collection no longer walks them (it stopped the reactor for 90-170 ms in the push-latency bench). Garbage
    left by the start-up is collected first, not frozen; objects made later are collected as before; full
    collections come after a hundred young ones, not ten."""
    import gc

    class Node:
        def __init__(self):
            self.me = self  # a cycle: only the collector frees it

    gc.unfreeze()
    threshold = gc.get_threshold()
    try:
        garbage = Node()
        alive = Node()
        del garbage
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 1000
        assert not any(type(o) is Node and o is not alive for o in gc.get_objects())  # collected, not frozen
        assert not any(o is alive for o in gc.get_objects())  # frozen: outside every generation
        later = Node()
        assert any(o is later for o in gc.get_objects())
        del later
        assert gc.collect() >= 1
        assert gc.get_threshold() == (threshold[0], threshold[1], 100)  # full collections ten times rarer
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
