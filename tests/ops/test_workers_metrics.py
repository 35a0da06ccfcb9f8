"""Metrics and readiness under ``serve --workers 2`` (PostgreSQL): each worker serves its own ``/metrics`` on
``metrics.port + index`` with its ``worker`` label, and ``/health/ready`` includes the bus listener."""

from __future__ import annotations

import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import PG_ADMIN_URL, ServerProcess, fresh_db_url


def _two_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            base = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", base + 1))
                except OSError:
                    continue
        return base
    raise RuntimeError("no two adjacent free ports")


@pytest.mark.skipif(not PG_ADMIN_URL, reason="several workers need PostgreSQL (scripts/test runs this on it)")
def test_each_worker_is_its_own_scrape_target(tmp_path):
    base = _two_free_ports()
    srv = ServerProcess(tmp_path, db=fresh_db_url(tmp_path), demo_requests=50, extra_args=("--workers", "2"),
                        config=f"[metrics]\nport = {base}\n")
    srv.start()
    try:
        seen_ready = set()
        for _ in range(40):
            r = requests.get(srv.base_url + "/health/ready", headers={"Connection": "close"}, timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["checks"] == {"store": "ok", "migrations": "ok", "bus": "ok"}
            seen_ready.add(r.headers["X-Services87-Worker"])
        # on the main port /metrics is gone: it lives on the per-worker ports
        assert requests.get(srv.base_url + "/metrics", timeout=10).status_code == 404
        for index in (0, 1):
            text = requests.get(f"http://127.0.0.1:{base + index}/metrics", timeout=10).text
            workers = {s.labels.get("worker") for f in text_string_to_metric_families(text) for s in f.samples}
            assert workers == {str(index)}
            ops = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "services87_http_requests_total" and s.labels["contract"] == "ops"
                   and s.labels["outcome"] == "ok"]
            if str(index) in seen_ready:
                assert ops and ops[0] >= 1
    finally:
        srv.stop()
