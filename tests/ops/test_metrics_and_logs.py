"""Operations: ``/metrics`` counts every contract, the request id travels from the header into the JSON log,
and the Grafana dashboard only queries metrics a live scrape has."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.genesys.conftest import Api
from tests.hostile.conftest import envelope
from tests.hostile.test_auth_abuse import soap_login, soap_stats
from tests.rest.conftest import stats as rest_stats
from tests.support import ROOT, ServerProcess


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("ops"), demo_requests=300, extra_args=("--log-format", "json"),
                         config='log_level = "info"\n[genesys]\ntime_zone = "UTC"\n').start()
    yield proc
    proc.stop()


def scrape(proc: ServerProcess, **kw) -> dict[tuple, float]:
    r = requests.get(proc.base_url + "/metrics", timeout=10, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def requests_of(sample: dict, contract: str, outcome: str = "ok") -> float:
    return sample.get(("services87_http_requests_total",
                       (("contract", contract), ("outcome", outcome), ("worker", "0"))), 0.0)


def test_each_contract_counter_moves_by_exactly_one(ops_server):
    api = Api(ops_server)
    api.refresh_token()  # log-ins first: they are requests too
    ticket, err = soap_login(ops_server, "demo", "demo")
    assert ticket and err is None
    rest_stats(ops_server, ["Hotlist"])  # fetches and caches the REST bearer token
    before = scrape(ops_server)

    assert soap_stats(ops_server, ticket) is None
    assert rest_stats(ops_server, ["Hotlist"]).status_code == 200
    r = api.stats("GET", "/statistic-values/CurrentReadyAgents?objectType=GroupAgents&objectId=Sales")
    assert r.status_code == 200, r.text
    r = api.ingest({"id": str(uuid.uuid4()), "type": "agent-state", "agent": "demo", "status": "Ready"})
    assert r.status_code == 200, r.text

    after = scrape(ops_server)
    for contract in ("soap", "rest", "genesys", "ingest"):
        assert requests_of(after, contract) - requests_of(before, contract) == 1, contract
        key = ("services87_http_request_duration_seconds_count", (("contract", contract), ("worker", "0")))
        assert after[key] - before.get(key, 0) == 1, contract
    assert requests_of(after, "gws") == requests_of(before, "gws")
    accepted = ("services87_ingest_events_total", (("result", "accepted"), ("worker", "0")))
    assert after[accepted] - before[accepted] == 1
    batches = ("services87_ingest_batch_duration_seconds_count", (("worker", "0"),))
    assert after[batches] - before[batches] == 1
    # the store thread pool and database pool are reported
    assert after[("services87_store_threads_max", (("worker", "0"),))] >= 1
    assert ("services87_db_pool_checked_out", (("worker", "0"),)) in after


def test_json_log_line_carries_the_request_id_of_the_header(ops_server):
    r = rest_stats(ops_server, ["Hotlist"])
    rid = r.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    # a well-formed id from the client (or its proxy) is kept
    r2 = requests.get(ops_server.base_url + "/health", headers={"X-Request-Id": "trace-abc.123"}, timeout=10)
    assert r2.headers["X-Request-Id"] == "trace-abc.123"
    # a malformed one is replaced
    r3 = requests.get(ops_server.base_url + "/health", headers={"X-Request-Id": "bad id\x7f"}, timeout=10)
    assert r3.headers["X-Request-Id"] != "bad id\x7f"
    deadline = time.monotonic() + 5
    line = None
    while line is None and time.monotonic() < deadline:
        for raw in ops_server.log_path.read_text(errors="replace").splitlines():
            if rid in raw and raw.startswith("{"):
                line = json.loads(raw)
                break
        time.sleep(0.1)
    assert line is not None, ops_server.log()
    assert line["request_id"] == rid
    assert line["contract"] == "rest"
    assert line["status"] == 200
    assert line["user"] == "demo"
    assert line["duration_ms"] >= 0
    assert line["path"] == "/api/v1/Agents/CustomerService/GetStatistics"
    # the user is logged on warm answers (from the response cache, no store hop) too, and on SOAP
    ticket, _ = soap_login(ops_server, "demo", "demo")
    for _ in range(2):
        rid = rest_stats(ops_server, ["Hotlist"]).headers["X-Request-Id"]
        assert log_line(ops_server, rid)["user"] == "demo"
        r = requests.post(ops_server.base_url + "/Remote/Services87/CustomerService.svc", timeout=20,
                          headers={"Content-Type": "text/xml; charset=utf-8"},
                          data=envelope("1.1", "<t:GetStatistics><t:Functions><t:StatusScreenPanelType>Hotlist"
                                               "</t:StatusScreenPanelType></t:Functions></t:GetStatistics>",
                                        f"<t:Credentials><t:Ticket>{ticket}</t:Ticket></t:Credentials>").encode())
        assert r.status_code == 200, r.text
        entry = log_line(ops_server, r.headers["X-Request-Id"])
        assert (entry["contract"], entry["user"]) == ("soap", "demo")
    # every line of the log is one JSON object
    for raw in ops_server.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            json.loads(raw)


def log_line(proc: ServerProcess, rid: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for raw in proc.log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{") and rid in raw:
                entry = json.loads(raw)
                if entry.get("request_id") == rid:
                    return entry
        time.sleep(0.1)
    raise AssertionError(f"no log line for {rid}")


def test_metrics_refused_to_other_addresses_and_open_with_the_token(tmp_path):
    proc = ServerProcess(tmp_path, demo=False, config='[metrics]\nallow = ["10.9.9.0/24"]\ntoken = "scrape-me"\n').start()
    try:
        r = requests.get(proc.base_url + "/metrics", timeout=10)
        assert r.status_code == 403 and r.json()["ErrorType"] == "Forbidden"
        assert "services87_http_requests_total" in requests.get(
            proc.base_url + "/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=10).text
    finally:
        proc.stop()


def test_grafana_dashboard_queries_only_existing_metrics(ops_server):
    dashboard = json.loads((ROOT / "docs" / "grafana" / "services87.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    live = {name for name, _ in scrape(ops_server)}
    for expr in exprs:
        names = set(re.findall(r"\b(services87_[a-z0-9_]+)", expr))
        assert names, expr
        assert names <= live, (expr, names - live)


def test_operations_doc_lists_every_metric(ops_server):
    doc = (ROOT / "docs" / "operations.md").read_text()
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name, _ in scrape(ops_server)}
    families = {f for f in families if f.startswith("services87_")}
    missing = sorted(f for f in families if f not in doc)
    assert not missing, missing
