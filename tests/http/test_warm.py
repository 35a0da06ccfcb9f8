"""services87/http/warm.py: the one answer path of SOAP, REST and Genesys, on a real store and version watch.

A stored answer is served while its validity (the engine's: data version and clock interval) holds, and
never after; on the reactor thread only when the version watch proves the versions current and the
adapter's credential check accepts them.
"""

from __future__ import annotations

import pytest

from services87.auth.service import AuthError
from services87.config import Settings
from services87.engine.model import Validity
from services87.http.warm import WarmPath
from services87.server import Services87Server


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hs(store):
    return Services87Server(Settings.load(env={}), store=store)


def test_served_while_valid_and_never_after(hs):
    clock = Clock(1000.0)
    warm = WarmPath(hs, "rest", clock=clock)
    warm.put(("q", 1), b"answer", Validity(7, 900, 1800))
    assert warm.get(("q", 1), 7) == b"answer"
    assert warm.get(("q", 2), 7) is None  # another question
    assert warm.get(("q", 1), 8) is None  # the data moved on
    clock.now = 1799.9
    assert warm.get(("q", 1), 7) == b"answer"
    clock.now = 1800.0  # the end of the interval is not in it
    assert warm.get(("q", 1), 7) is None
    clock.now = 899.0  # nor anything before it (a clock set back)
    assert warm.get(("q", 1), 7) is None


def test_a_newer_answer_replaces_the_old_one(hs):
    clock = Clock(5000.0)
    warm = WarmPath(hs, "soap", clock=clock)
    warm.put("q", b"old", Validity(1, 4500, 5400))
    warm.put("q", b"new", Validity(2))  # no clock dependence: holds until the data changes
    assert warm.get("q", 1) is None
    clock.now = 10 ** 9
    assert warm.get("q", 2) == b"new"
    assert len(warm.cache) == 1


def test_hits_and_misses_are_counted_on_the_adapters_cache(hs):
    warm = WarmPath(hs, "genesys", clock=Clock(10.0))
    warm.put("q", {"x": 1}, Validity(3, 10, 11), size=64)
    warm.get("q", 3)
    warm.get("q", 4)
    warm.get("other", 3)
    assert hs.get_answer_cache("genesys") is warm.cache
    assert warm.cache.stats()["hits"] == 1 and warm.cache.stats()["misses"] == 2


def test_a_disabled_cache_keeps_nothing(store):
    hs = Services87Server(Settings.load(env={"SERVICES87_RESPONSE_CACHE_SIZE": "0"}), store=store)
    warm = WarmPath(hs, "soap")
    assert not warm.enabled
    warm.put("q", b"a", Validity(1))
    assert warm.get("q", 1) is None
    assert warm.on_reactor(lambda versions: "q") is None


def test_on_reactor_only_with_versions_the_watch_proves_current(hs, store):
    warm = WarmPath(hs, "rest")
    asked = []

    def key_of(versions):
        asked.append(versions)
        return "q"

    assert warm.on_reactor(key_of) is None and asked == []  # nothing read yet: the watch cannot say
    version, auth_version = store.versions()  # a read on a store thread records the versions with the signal
    warm.put("q", b"answer", Validity(version))
    if not store.is_sqlite:
        # PostgreSQL gives the watch no change signal it can read without a query: nothing is ever proven
        # current on the reactor thread, and every lookup takes the store-thread path
        assert warm.on_reactor(key_of) is None and asked == []
        assert warm.get("q", version) == b"answer"
        return
    assert warm.on_reactor(key_of) == b"answer"
    assert asked == [(version, auth_version)]  # the credential check is given the proven versions
    assert warm.on_reactor(lambda versions: None) is None  # the adapter declines (e.g. unknown credential)

    store.ensure_group("Writers")  # a commit: the watch is dirty until the versions are read again
    assert warm.on_reactor(key_of) is None
    new_version = store.versions()[0]
    assert new_version != version
    assert warm.on_reactor(key_of) is None  # the stored answer belongs to the old version


def test_a_ticket_checked_under_the_versions_its_caller_read_is_known_under_those_only(hs, store):
    """SOAP reads the versions once and has the ticket checked under them (``AuthService.validate_ticket``);
    its reactor-thread path then knows the ticket under exactly those versions (``cached_principal``): one
    cache of validated credentials per server, in its AuthService."""
    auth = hs.get_auth()
    user = store.get_user(store.add_user("vera", "Vera V"))
    ticket = auth.issue_ticket(user)
    versions = store.versions()
    assert auth.cached_principal("soticket", ticket, versions) is None
    principal = auth.validate_ticket(ticket, versions)
    assert principal.user.id == user.id
    assert auth.cached_principal("soticket", f" {ticket} ", versions) is principal
    assert auth.cached_principal("soticket", ticket, (versions[0], versions[1] + 1)) is None
    assert auth.validate_ticket(ticket) is principal  # versions read again: the same, still current
    assert auth.revoke_ticket(ticket)  # moves the auth version
    now = store.versions()
    assert now[1] != versions[1]
    with pytest.raises(AuthError):
        auth.validate_ticket(ticket, now)
    assert auth.cached_principal("soticket", ticket, now) is None
