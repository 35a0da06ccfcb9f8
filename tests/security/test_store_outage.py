"""Issue #18, finding 4: with the store down, every log-in path answers a typed "unavailable" in its own
protocol's error shape (503 + Retry-After on HTTP), never an untyped 500.

The outage is real: the server's own PostgreSQL database stops accepting connections and its open ones are
terminated (the shared PostgreSQL server itself keeps running)."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from tests.security.helpers import CLIENT, TOKEN_PATH, basic
from tests.support import PG_ADMIN_URL, ServerProcess, fresh_db_url

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="a real outage needs a PostgreSQL database to switch off")

HANDSHAKE = [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]


def set_outage(db_url: str, down: bool) -> None:
    name = db_url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}'))
        if down:
            c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                              "AND pid <> pg_backend_pid()"), {"n": name})
    admin.dispose()


def test_logins_answer_typed_unavailable_when_the_store_is_down(tmp_path):
    from tests.soap.conftest import our_client

    db = fresh_db_url(tmp_path)
    srv = ServerProcess(tmp_path, db=db, demo_requests=20).start()
    base = srv.base_url
    try:
        soap = our_client(srv, "SoPrincipal")  # WSDL fetched while the store is up
        set_outage(db, True)
        r = soap.AuthenticateUsernamePassword(UserName="anna", Password="anna")
        assert r.body.AuthenticationSucceeded is False
        assert "StoreUnavailable" in str(r.header), r.header

        r = requests.get(base + "/api/v1/session", headers={"Authorization": basic("anna", "anna")}, timeout=30)
        assert r.status_code == 503 and r.json()["ErrorType"] == "StoreUnavailable", r.text
        assert r.headers["Retry-After"]

        r = requests.post(base + TOKEN_PATH, auth=CLIENT, timeout=30,
                          data={"grant_type": "password", "username": "anna", "password": "anna"})
        assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable", r.text
        assert r.headers["Retry-After"]

        r = requests.post(base + "/statuspage/api/login", json={"login": "anna", "password": "anna"}, timeout=30)
        assert r.status_code == 503 and r.json()["ErrorType"] == "StoreUnavailable", r.text
        assert r.headers["Retry-After"]

        r = requests.get(base + "/api/v2/me", headers={"Authorization": basic("anna", "anna")}, timeout=30)
        assert r.status_code == 503 and r.json()["statusCode"] == 4, r.text
        assert r.headers["Retry-After"]

        r = requests.post(base + "/api/v2/notifications", json=HANDSHAKE, timeout=30,
                          headers={"Authorization": basic("anna", "anna")})
        reply = r.json()[0]
        assert reply["successful"] is False and reply["error"].startswith("503::"), reply
    finally:
        set_outage(db, False)
        srv.stop()
