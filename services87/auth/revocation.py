"""Ending CometD sessions whose credentials ended, on every worker, within a second.

HTTP credentials (tickets, bearer tokens, REST / status-page / GWS sessions) are checked against the store
on use, so a revocation reaches them on the next request. A CometD session is different: it authenticated
once, at its handshake. Its handshake therefore records what it was bound to, in its attributes:

* ``auth_user`` / ``auth_epoch`` — the user and their credential epoch at the handshake;
* ``auth_sid`` — the SHA-256 of the browser or GWS session behind the credential, if any.

Every revocation (password change, deactivation, removal, admin revoke, logout) bumps ``meta.auth_version``
in the same transaction (users' changes also through database triggers, whoever makes them). Each worker
reads the versions every :data:`PERIOD` seconds; when the auth version moved (and every minute anyway, for
sessions that simply expired), it checks the bindings of every CometD session it knows, replicas of the
sessions other workers own included, against the store and removes the dead ones (a removal is replicated to
the other workers over the bus).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.internet.task import LoopingCall

if TYPE_CHECKING:
    from services87.bayeux import BayeuxServer
    from services87.bayeux.session import Session
    from services87.server import Services87Server

log = logging.getLogger(__name__)

PERIOD = 0.4
FULL_CHECK = 60.0


def binding(user_id: int, epoch: int, sid_digest: str | None = None) -> dict:
    out: dict[str, int | str] = {"auth_user": int(user_id), "auth_epoch": int(epoch)}
    if sid_digest:
        out["auth_sid"] = sid_digest
    return out


def bound_sessions(servers: Iterable[BayeuxServer]) -> list[tuple[BayeuxServer, Session]]:
    """The CometD sessions a worker checks: every one it knows that a handshake bound to a credential, the
    replicas of sessions another worker owns included. Ownership moves with every ``/meta/connect``, so a
    worker that checked only the sessions it owned could miss a session its peer had just handed it while the
    peer, checking a moment later, no longer owned it either: the session lived until the next full check.
    Removing a replica is replicated like any removal, and a second removal of one session does nothing."""
    return [(server, session) for server in servers for session in list(server.sessions.values())
            if "auth_user" in session.attributes]


class RevocationWatch:
    """Built and started by :meth:`Services87Server.get_revocation`; checks the Bayeux servers the server built."""

    def __init__(self, hs: Services87Server, period: float = PERIOD):
        self.hs = hs
        self.period = period
        self._auth_version: int | None = None
        self._last_full = 0.0
        self._busy = False
        self._failing = False
        self._loop = LoopingCall(self.tick)
        self._loop.clock = hs.reactor
        self.checks = 0

    def start(self) -> None:
        if not self._loop.running:
            self._loop.start(self.period, now=False).addErrback(lambda f: log.error("revocation watch: %s", f.value))
            self.hs.reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def _bound(self) -> list[tuple[BayeuxServer, Session]]:
        return bound_sessions(self.hs.bayeux_servers().values())

    def tick(self) -> None:
        if self._busy:
            return
        self._busy = True
        d = self.hs.run_blocking(self.hs.get_store().versions)

        def versions(v):
            now = time.monotonic()
            changed = self._auth_version is not None and v[1] != self._auth_version
            self._auth_version = v[1]
            if not changed and now - self._last_full < FULL_CHECK:
                return None
            self._last_full = now
            if not changed:  # once a minute: drop what expired (every worker may; deletes are idempotent)
                self.hs.run_blocking(self.hs.get_auth().tickets.purge_expired, int(time.time())).addErrback(
                    lambda f: log.warning("purging expired credentials failed: %s", f.value))
            return self.check()

        def done(_):
            self._busy = False

        def failed(f):
            if not self._failing:  # once per outage, not every tick
                log.warning("revocation watch: cannot read the store (%s); retrying", f.value)
            self._failing = True

        def ok(result):
            if self._failing:
                log.info("revocation watch: the store answers again")
            self._failing = False
            return result

        d.addCallback(versions)
        d.addCallbacks(ok, failed)
        d.addBoth(done)

    def check(self) -> defer.Deferred:
        """Remove the known CometD sessions whose binding is dead; fires with how many were removed."""
        bound = self._bound()
        self.checks += 1
        if not bound:
            return defer.succeed(0)
        users = {s.attributes["auth_user"] for _srv, s in bound}
        sids = {s.attributes["auth_sid"] for _srv, s in bound if s.attributes.get("auth_sid")}
        now = int(time.time())

        def look():
            return self.hs.get_store().credential_states(users), self.hs.get_auth().tickets.sessions_alive(sids, now)

        def apply(result):
            states, alive = result
            n = 0
            for server, session in bound:
                a = session.attributes
                state = states.get(a["auth_user"])
                dead = (state is None or not state[0] or state[1] != a.get("auth_epoch")
                        or (a.get("auth_sid") and a["auth_sid"] not in alive))
                if dead and server.remove_session(session, "removed"):
                    n += 1
            if n:
                log.info("ended %d CometD session(s) whose credentials were revoked", n)
            return n

        return self.hs.run_blocking(look).addCallback(apply)
