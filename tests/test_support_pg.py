"""tests/support.py on PostgreSQL: the databases made for tests do not pile up on a server of your own.

Each test gets a fresh database; on ``scripts/pg-start``'s default server, run after run, they once filled
26 GB. A test process now drops the databases it made when it ends, unless scripts/test says its server is
thrown away after the run (``SERVICES87_TEST_PG_THROWAWAY=1``: nothing to drop, no time spent on it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.support import PG_ADMIN_URL, ROOT, deadline_s

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="needs PostgreSQL (SERVICES87_TEST_PG_ADMIN)")

MAKE = """
from tests.support import fresh_db_url
import sys
from pathlib import Path
copy = fresh_db_url(Path("."), migrated=True)  # a copy of the process's migrated template: two databases
print(copy.rsplit("/", 1)[1])
"""


def _databases() -> set[str]:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            return {row[0] for row in c.execute(sa.text("SELECT datname FROM pg_database"))}
    finally:
        admin.dispose()


def _make(tmp_path, throwaway: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SERVICES87_TEST_PG_THROWAWAY"}
    env["PYTHONPATH"] = str(ROOT)
    if throwaway:
        env["SERVICES87_TEST_PG_THROWAWAY"] = "1"
    out = subprocess.run([sys.executable, "-c", MAKE], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=deadline_s(120))
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.split()[-1]


def test_a_test_process_drops_the_databases_it_made(tmp_path):
    before = _databases()
    name = _make(tmp_path, throwaway=False)
    assert name not in before
    assert _databases() - before == set(), "the copy or its template was left on the server"


def test_on_a_thrown_away_server_nothing_is_dropped(tmp_path):
    before = _databases()
    name = _make(tmp_path, throwaway=True)
    left = _databases() - before
    assert name in left and len(left) == 2  # the copy and the template
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        for db in sorted(left, key=lambda n: n != name):  # the copy first
            c.execute(sa.text(f'DROP DATABASE "{db}"'))
    admin.dispose()
