"""``serve --workers 3`` on PostgreSQL: one port, ingest on one worker reaches a push subscriber whose CometD
session lives on another, and a Bayeux session handshaken on one worker is used on the others.

Which worker answered is read from the ``X-Services87-Worker`` header; every request opens a new connection,
so the kernel spreads them over the workers, and each step repeats (bounded) until it lands where the test
needs it. On SQLite, several workers are refused with a clear message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.support import PG_ADMIN_URL, ROOT, ServerProcess, fresh_db_url

NOTIFY = "/statistics/v3/notifications"


def test_sqlite_refuses_several_workers(tmp_path):
    db = "sqlite:///" + str(tmp_path / "s.db")
    out = subprocess.run([sys.executable, "-m", "services87", "serve", "--db", db, "--port", "0", "--workers", "3"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode != 0
    assert "needs PostgreSQL" in out.stderr + out.stdout


class Client:
    """Raw Bayeux long-polling with a fresh connection per request (so requests land on different workers)."""

    def __init__(self, base: str, headers: dict):
        self.base = base
        self.headers = headers
        self.cookies: dict[str, str] = {}

    def post(self, path: str, body, timeout: float = 30.0):
        h = dict(self.headers, Connection="close")
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        r = requests.post(self.base + path, json=body, headers=h, timeout=timeout)
        for k, v in r.cookies.items():
            self.cookies[k] = v
        return r

    def bayeux(self, messages, timeout: float = 30.0):
        r = self.post(NOTIFY, messages, timeout)
        assert r.status_code == 200, r.text
        return r.headers.get("x-services87-worker"), r.json()


@pytest.mark.skipif(not PG_ADMIN_URL, reason="several workers need PostgreSQL (scripts/test runs this on it)")
def test_three_workers_share_push_and_sessions(tmp_path):
    srv = ServerProcess(tmp_path, db=fresh_db_url(tmp_path), demo_requests=300, extra_args=("--workers", "3"),
                        config="[genesys]\nrecompute_delay_ms = 20\ncometd_timeout_ms = 5000\n")
    srv.start()
    try:
        base = srv.base_url
        seen = set()
        for _ in range(60):
            seen.add(requests.get(base + "/health", headers={"Connection": "close"}, timeout=10)
                     .headers.get("x-services87-worker"))
            if len(seen) == 3:
                break
        assert len(seen) >= 2, f"connections all went to worker(s) {seen}"

        token = requests.post(base + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=30,
                              data={"grant_type": "password", "username": "demo", "password": "demo"}).json()
        c = Client(base, {"x-api-key": "demo-api-key", "Authorization": "Bearer " + token["access_token"]})
        home, hs = c.bayeux([{"channel": "/meta/handshake", "version": "1.0",
                              "supportedConnectionTypes": ["long-polling"]}])
        assert hs[0]["successful"], hs
        cid = hs[0]["clientId"]

        # the session is valid on the other workers: subscribe until a worker other than `home` answers
        workers_used = {home}
        for _ in range(40):
            w, sub = c.bayeux([{"channel": "/meta/subscribe", "clientId": cid,
                                "subscription": "/statistics/v3/updates"}])
            assert sub[0]["successful"], sub
            workers_used.add(w)
            if w != home:
                break
        assert len(workers_used) >= 2, "every subscribe landed on the handshake's worker"
        w, first = c.bayeux([{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling"}])
        assert first[-1]["successful"], first
        workers_used.add(w)

        # a statistics subscription (REST, any worker) for this CometD session (cookie)
        op = "w-" + uuid.uuid4().hex[:8]
        r = c.post("/statistics/v3/subscriptions?verbose=INFO", {"operationId": op, "data": {"statistics": [
            {"statisticId": "ready", "name": "CurrentReadyAgents", "objectType": "Tenant",
             "objectId": "Environment"}]}})
        assert r.status_code == 200, r.text
        sub_worker = r.headers.get("x-services87-worker")
        initial = r.json()["data"]["statistics"][0]["value"]

        # ingest on some worker until one differs from the subscription's worker, then expect the push
        updates = []
        deadline = time.monotonic() + 60
        n = 0
        ingest_workers = set()
        while time.monotonic() < deadline and not updates:
            n += 1
            status = "Ready" if n % 2 else "NotReady"
            ev = {"events": [{"id": f"{op}-{n}", "type": "agent-state", "ts": int(time.time() * 1000),
                              "agent": "anna", "status": status}]}
            ir = requests.post(base + "/api/ingest/events", json=ev, auth=("demo", "demo"),
                               headers={"Connection": "close"}, timeout=30)
            assert ir.status_code in (200, 202), ir.text
            ingest_workers.add(ir.headers.get("x-services87-worker"))
            w, msgs = c.bayeux([{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling"}],
                               timeout=30)
            assert msgs[-1]["channel"] == "/meta/connect" and msgs[-1]["successful"], msgs
            workers_used.add(w)
            if ir.headers.get("x-services87-worker") == sub_worker:
                continue  # only a change made on another worker counts
            updates = [m for m in msgs if m.get("channel") == "/statistics/v3/updates"]
            for _ in range(3):  # the push may follow in the next long poll
                if updates:
                    break
                w, msgs = c.bayeux([{"channel": "/meta/connect", "clientId": cid,
                                     "connectionType": "long-polling"}], timeout=30)
                updates = [m for m in msgs if m.get("channel") == "/statistics/v3/updates"]
        assert updates, f"no push within 60 s (subscription on worker {sub_worker}, ingest on {ingest_workers})"
        assert updates[0]["data"], updates
        assert ingest_workers - {sub_worker}, "no ingest landed on a worker other than the subscription's"
        del initial
    finally:
        srv.stop()
