"""Health probes for load balancers and Kubernetes: /health/live and /health/ready."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from tests.support import ServerProcess


def test_live_and_ready(tmp_path):
    proc = ServerProcess(tmp_path, demo=False).start()
    try:
        live = requests.get(proc.base_url + "/health/live", timeout=10)
        assert live.status_code == 200 and live.json()["status"] == "ok"
        ready = requests.get(proc.base_url + "/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"store": "ok", "migrations": "ok"}
        assert requests.get(proc.base_url + "/health/nope", timeout=10).status_code == 404

        # a database behind (or ahead of) the code's migrations is not ready; liveness is unaffected
        engine = sa.create_engine(proc.db)
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES ('ffffdeadbeef')"))
        try:
            ready = requests.get(proc.base_url + "/health/ready", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["checks"]["migrations"].startswith("database at")
            assert requests.get(proc.base_url + "/health/live", timeout=10).status_code == 200
        finally:
            with engine.begin() as c:
                c.execute(sa.text("DELETE FROM alembic_version WHERE version_num = 'ffffdeadbeef'"))
            engine.dispose()
        assert requests.get(proc.base_url + "/health/ready", timeout=10).status_code == 200
    finally:
        proc.stop()


def test_sighup_is_logged_and_ignored(tmp_path):
    """There is no reload: SIGHUP must not kill the server (Python's default) but say so in the log."""
    import signal
    import time

    proc = ServerProcess(tmp_path, demo=False).start()
    try:
        proc.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "SIGHUP ignored" not in proc.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "SIGHUP ignored" in proc.log()
        assert proc.proc.poll() is None
        assert requests.get(proc.base_url + "/health/live", timeout=10).status_code == 200
    finally:
        assert proc.stop() == 0
