"""Issue #18, finding 2 under ``serve --workers 2`` on PostgreSQL: every request on a new TCP connection (so
the kernel spreads them over both workers); sessions, the throttle and revocations hold on every worker."""

from __future__ import annotations

import pytest
import requests

from tests.security.helpers import Credentials, basic, handshake, wait_revoked
from tests.support import PG_ADMIN_URL, ServerProcess, fresh_db_url

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="several workers need PostgreSQL")


def test_sessions_throttle_and_revocation_on_two_workers(tmp_path):
    srv = ServerProcess(tmp_path, db=fresh_db_url(tmp_path), demo_requests=50, extra_args=("--workers", "2"),
                        config="login_max_failures = 3\n").start()
    try:
        base = srv.base_url
        workers = {requests.get(base + "/health", timeout=10).headers.get("x-services87-worker") for _ in range(40)}
        assert len(workers) == 2, workers
        c = Credentials(base, "anna")
        for _ in range(12):  # no sticky sessions: every check on a fresh connection, both workers
            state = c.all()
            assert all(state.values()), state
        for _ in range(3):
            r = requests.get(base + "/api/v2/me", headers={"Authorization": basic("bjorn", "wrong")}, timeout=10)
            assert r.status_code == 401
        for _ in range(6):  # the fourth attempt is refused whichever worker it reaches
            r = requests.get(base + "/api/v2/me", headers={"Authorization": basic("bjorn", "bjorn")}, timeout=10)
            assert r.status_code == 429, r.text
        srv.cli("users", "passwd", "anna", input="n3w-secret\n")
        # each connect of the wait lands on either worker and moves the session's ownership there: the session
        # must end although neither worker may own it when it checks (test_revocation_cluster.py)
        wait_revoked(c)
        for _ in range(6):
            state = c.all()
            assert not any(state.values()), state
        assert handshake(base, {"Cookie": "JSESSIONID=" + c.jsessionid}) is None
    finally:
        srv.stop()
