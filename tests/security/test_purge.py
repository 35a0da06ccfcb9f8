"""Expired tickets, refresh tokens and revoked-token marks are purged from the store."""

from services87.engine.storage.tickets import TicketStore


def test_purge_expired_removes_only_expired_tickets(store):
    uid = store.add_user("anna", "Anna")
    tickets = TicketStore(store)
    tickets.add("a" * 64, uid, 100, 200, "ticket")
    tickets.add("b" * 64, uid, 100, 300, "refresh")
    tickets.add("c" * 64, uid, 100, 1000, "ticket")
    assert tickets.purge_expired(500) == 2
    assert tickets.get("a" * 64, "ticket") is None
    assert tickets.get("b" * 64, "refresh") is None
    assert tickets.get("c" * 64, "ticket") is not None


def test_sessions_expire_idle_and_absolute_and_are_purged(store):
    uid = store.add_user("bea", "Bea")
    tickets = TicketStore(store)
    tickets.session_add("s" * 64, "web", uid, "csrf", 1000, lifetime=500)
    assert tickets.session_get("s" * 64, "web", 1100, idle=200)["user_id"] == uid
    assert tickets.session_get("s" * 64, "web", 1400, idle=200) is None  # idle since 1100
    assert tickets.session_get("s" * 64, "web", 1290, idle=200) is not None  # touched at 1100
    assert tickets.session_get("s" * 64, "web", 1500, idle=10_000) is None  # past the absolute end
    tickets.throttle_record(["user:bea"], 1000, 300)
    assert tickets.throttle_failures(["user:bea"], 1100, 300) == {"user:bea": 1}
    assert tickets.purge_expired(1501) == 1
    assert tickets.purge_expired(1000 + 86401) == 0
    with store.engine.connect() as c:
        import sqlalchemy as sa

        assert c.execute(sa.text("SELECT count(*) FROM auth_sessions")).scalar() == 0
        assert c.execute(sa.text("SELECT count(*) FROM login_throttle")).scalar() == 0


def test_password_change_moves_the_epoch_and_ends_sessions(store):
    uid = store.add_user("cid", "Cid", password_hash="x")
    tickets = TicketStore(store)
    tickets.session_add("t" * 64, "gws", uid, "csrf", 1000, lifetime=500)
    before = store.versions()[1]
    store.set_password_hash(uid, "y")
    assert store.user_credential_state(uid)[1] == 1
    assert store.versions()[1] > before
    assert tickets.session_get("t" * 64, "gws", 1001, idle=100) is None
