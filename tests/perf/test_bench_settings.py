"""``bench/run --set key=value``: the setting reaches every ``services87 serve`` the bench starts.

bench/main.py's own argument parsing turns the pairs into the environment of the servers bench/lib.py starts;
a real server then shows each setting on the wire: a top-level one (``request_id_header``: the header that
echoes the request id) and one of a table (``genesys.require_bearer``: get-statistic-ex without a bearer token
is refused by default, answered when it is off).
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import requests

from tests.support import ROOT

GENESYS = "/statistics/v3/operations/get-statistic-ex"
BODY = json.dumps({"data": {"statistics": [{"statisticId": "ready", "name": "CurrentReadyAgents",
                                             "objectType": "Tenant", "objectId": "Environment"}]}})


@pytest.fixture
def bench():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_main_settings", ROOT / "bench" / "main.py")
    main = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(main)
    try:
        yield main
    finally:
        main.lib.SERVER_ENV.clear()
        sys.path.remove(str(ROOT / "bench"))


def _probe(main, workdir, name):
    srv = main.lib.serve(workdir, "sqlite:///" + str(workdir / f"{name}.db"), name=name)
    try:
        health = requests.get(srv.url("/health"), headers={"X-Bench-Probe": "p-1"}, timeout=30)
        gx = requests.post(srv.url(GENESYS), data=BODY, timeout=30,
                           headers={"content-type": "application/json", "x-api-key": "demo-api-key"})
        return health, gx
    finally:
        srv.stop()


def test_set_values_reach_the_started_server(bench, tmp_path):
    bench.parse_args(["--no-write"])
    health, gx = _probe(bench, tmp_path, "plain")
    assert "X-Bench-Probe" not in health.headers
    assert gx.status_code in (401, 403) and gx.json()["status"]["detail"]["kind"] == "MissingCredentials", gx.text

    bench.parse_args(["--no-write", "--set", "request_id_header=X-Bench-Probe",
                      "--set", "genesys.require_bearer=false"])
    health, gx = _probe(bench, tmp_path, "set")
    assert health.headers.get("X-Bench-Probe") == "p-1", dict(health.headers)
    assert gx.status_code == 200, gx.text
    assert gx.json()["status"]["code"] == 0 and len(gx.json()["data"]["statistics"]) == 1, gx.text


@pytest.mark.parametrize("pair, words", [("no_such_setting=1", "unknown setting"),
                                         ("genesys.require_bearer=maybe", "bad value"),
                                         ("response_cache_size", "key=value")])
def test_bad_set_values_stop_before_any_server(bench, capsys, pair, words):
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(["--set", pair])
    assert exc.value.code == 2
    assert words in capsys.readouterr().err
    assert not bench.lib.SERVER_ENV


def test_profile_summary_splits_the_reactor_thread_from_the_store_threads(bench):
    """``bench/run --profile``: py-spy's collapsed stacks summed per thread kind, idle samples apart."""
    stacks = "\n".join([
        'process 1:"python -m services87 serve";main (services87/cli.py:1);ReactorBase.mainLoop (twisted/internet/'
        'base.py:2);BayeuxResource.render_POST (services87/bayeux/longpolling.py:3);dumps (json/__init__.py:4) 30',
        'process 1:"python -m services87 serve";main (services87/cli.py:1);ReactorBase.mainLoop (twisted/internet/'
        'base.py:2);EPollReactor.doPoll (twisted/internet/epollreactor.py:5);poll (selectors.py:6) 500',
        'process 1:"python -m services87 serve";main (services87/cli.py:1);ReactorBase.mainLoop (twisted/internet/'
        'base.py:2);LimitedSite._finished (services87/http/limits.py:10);emit (logging/__init__.py:11) 10',
        'process 1:"python -m services87 serve";Thread.run (threading.py:7);StatEvaluator.evaluate (services87/engine/'
        'statserver/evaluate.py:8);do_execute (sqlalchemy/engine/default.py:9) 10',
    ])
    text = bench.lib.profile_summary(stacks)
    assert "busy samples: 50; idle (waiting): 500" in text
    reactor = text.split("== reactor thread")[1]
    assert "40 busy samples (80 %)" in reactor
    assert "   75.0     0.0  BayeuxResource.render_POST (longpolling.py)" in reactor
    assert "main (cli.py)" not in reactor  # on every stack: says nothing
    assert "BayeuxResource.render_POST (longpolling.py)" in reactor.split("services87's own functions")[1]
    other = text.split("== other threads")[1].split("== reactor thread")[0]
    assert "10 busy samples (20 %)" in other and "do_execute (default.py)" in other


def test_http_rounds_alternate_and_the_median_pair_is_the_measure(bench):
    order = []

    def side(name, rates):
        def run():
            order.append(name)
            return bench.lib.WrkResult(requests=rates.pop(0), seconds=1.0, errors=0, p50_ms=1.0, p99_ms=2.0)
        return run

    pairs = bench.interleaved(side("ours", [900, 500, 1000]), side("bare", [1000, 1000, 1000]))
    assert order == ["ours", "bare", "bare", "ours", "ours", "bare"]  # a busy moment lands on both sides
    assert [(o.requests, b.requests) for o, b in pairs] == [(900, 1000), (500, 1000), (1000, 1000)]
    ours, bare = bench.median_pair(pairs)
    assert (ours.requests, bare.requests) == (900, 1000)
    m = bench.lib.http_measure("x", ours, bare)
    assert round(m.ratio, 2) == 0.9


def test_a_fresh_copy_of_the_demo_database_drops_the_last_servers_write_ahead_log(bench, tmp_path):
    """Measures run one after another on copies of one cached demo database, in one work directory. A server
    that ended with its write-ahead log still on disk (a connection left open at exit) left ``demo-N.db-wal``
    beside the copy; the next copy was written over the main file only, so SQLite replayed the old log into
    it and the next server's reads failed with "database disk image is malformed"."""
    import sqlite3

    cache, work = tmp_path / "cache", tmp_path / "work"
    work.mkdir()
    cache.mkdir()
    built = sqlite3.connect(cache / "demo-5.db")
    built.executescript("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('cached');")
    built.close()
    first = bench.demo_db(work, 5, cache).removeprefix("sqlite:///")
    # the previous server: it wrote a lot and its connection stayed open, as at a hard exit
    writer = sqlite3.connect(first)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2000)
    writer.execute("CREATE TABLE u (y)")
    writer.commit()
    kept = {p.name: p.read_bytes() for p in work.glob("demo-5.db-*")}
    assert "demo-5.db-wal" in kept, "the scene needs a log left on disk"
    writer.close()  # would checkpoint and remove it: put it back as a hard exit leaves it
    for name, data in kept.items():
        (work / name).write_bytes(data)

    second = bench.demo_db(work, 5, cache).removeprefix("sqlite:///")
    con = sqlite3.connect(second)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT x FROM t").fetchall() == [("cached",)]
    finally:
        con.close()
