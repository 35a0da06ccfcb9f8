"""Expired tickets, refresh tokens and revoked-token marks are purged from the store."""

from services87.engine.store import TicketStore


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
