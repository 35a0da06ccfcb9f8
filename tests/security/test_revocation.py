"""Issue #18, findings 1 and 2: one truth for every credential (SQLite; --workers 2 on PostgreSQL in
test_workers_sessions.py)."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from tests.security.helpers import Credentials, basic, wait_revoked

ALIVE = {"gws": True, "bearer": True, "rest": True, "page": True, "page_bearer": True, "cometd": True,
         "cometd_handshake": True}
DEAD = {k: False for k in ALIVE}


def test_password_change_ends_every_credential(srv):
    c = Credentials(srv.base_url, "anna")
    assert c.all() == ALIVE
    srv.cli("users", "passwd", "anna", input="n3w-secret\n")
    wait_revoked(c)  # the CometD client bound to the GWS session
    assert c.all() == DEAD
    assert not c.refresh_ok()
    # the new password works, the old one does not
    assert requests.get(srv.base_url + "/api/v2/me", headers={"Authorization": basic("anna", "n3w-secret")},
                        timeout=10).status_code == 200
    srv.cli("users", "passwd", "anna", input="anna\n")


def test_disable_ends_everything_and_enable_revives_nothing(srv):
    c = Credentials(srv.base_url, "bjorn")
    assert c.all() == ALIVE
    srv.cli("users", "disable", "bjorn")
    wait_revoked(c)
    assert c.all() == DEAD
    srv.cli("users", "enable", "bjorn")
    assert c.all() == DEAD
    Credentials(srv.base_url, "bjorn")  # new log-ins work again


def test_admin_revoke_and_remove(srv):
    c = Credentials(srv.base_url, "clara")
    srv.cli("users", "revoke", "clara")
    wait_revoked(c)
    assert c.all() == DEAD
    c = Credentials(srv.base_url, "clara")
    srv.cli("users", "remove", "clara")
    wait_revoked(c)
    assert c.all() == DEAD


def test_deactivation_written_straight_into_the_store_is_noticed(srv):
    """No write through the server or the CLI: the users trigger moves the auth version."""
    cr = Credentials(srv.base_url, "dirk")
    assert cr.all() == ALIVE
    db = sa.create_engine(srv.db)  # SQLite file or PostgreSQL database, as the server uses
    try:
        with db.begin() as c:
            c.execute(sa.text("UPDATE users SET active = false WHERE login = 'dirk'"))
        wait_revoked(cr)
        assert cr.all() == DEAD
        with db.begin() as c:
            c.execute(sa.text("UPDATE users SET active = true WHERE login = 'dirk'"))
    finally:
        db.dispose()


def test_status_page_logout_ends_its_bearer_token(srv):
    c = Credentials(srv.base_url, "demo")
    assert c.bearer_ok(c.page_bearer)
    r = c.page.post(srv.base_url + "/statuspage/api/logout", timeout=10)
    assert r.status_code == 200 and r.json() == {"loggedOut": True}
    assert not c.page_ok()
    assert not c.bearer_ok(c.page_bearer)
    assert c.bearer_ok() and c.gws_ok() and c.rest_ok()  # other sessions of the user are not that scope


def test_sessions_and_throttle_survive_a_restart(tmp_path):
    from tests.support import ServerProcess

    proc = ServerProcess(tmp_path, demo_requests=20, config="login_max_failures = 3\n").start()
    try:
        c = Credentials(proc.base_url, "anna")
        for _ in range(3):
            r = requests.get(proc.base_url + "/api/v2/me", headers={"Authorization": basic("bjorn", "wrong")}, timeout=10)
            assert r.status_code == 401
        proc.restart()
        c.base = proc.base_url  # a new port: the cookies are sent by hand, so they go along
        state = c.all()
        assert state["gws"] and state["bearer"] and state["rest"] and state["page"] and state["page_bearer"]
        assert state["cometd_handshake"]
        r = requests.get(proc.base_url + "/api/v2/me", headers={"Authorization": basic("bjorn", "bjorn")}, timeout=10)
        assert r.status_code == 429, r.text  # still throttled after the restart
    finally:
        proc.stop()
