"""Which CometD sessions a worker checks for revoked credentials (services87/auth/revocation.py), with two
Bayeux servers sharing their sessions in one process (the bus of tests/bayeux/test_bayeux_cluster.py).

Found by a CI run of ``test_workers_sessions.py``: each worker checked only the sessions it owned, once, when
the auth version moved. The client's connects moved its session from one worker to the other between the two
workers' checks, so neither removed it and the revoked session lived until the next full check, a minute later.
"""

from __future__ import annotations

from services87.auth.revocation import binding, bound_sessions
from tests.bayeux.test_bayeux_cluster import Recorder, Wire, Worker


class Bound(Recorder):
    def authenticate_handshake(self, request, message):
        return binding(7, 1)


def test_a_worker_checks_and_removes_a_session_its_peer_owns():
    wire = Wire()
    a, b = Worker(wire, "A"), Worker(wire, "B")
    a.server.hooks = a.hooks = Bound()
    client_id = a.reply({"channel": "/meta/handshake", "version": "1.0"})["clientId"]
    wire.flush()
    held = b.connect(client_id).held  # the client's connect lands on B: B owns the session from now on
    assert held is not None
    wire.flush()
    replica, owned = a.server.session(client_id), b.server.session(client_id)
    assert not a.cluster.owns(replica) and b.cluster.owns(owned)
    assert replica.attributes == owned.attributes == {"auth_user": 7, "auth_epoch": 1}

    # A checks the session although B owns it, and so does B
    assert bound_sessions([a.server]) == [(a.server, replica)]
    assert bound_sessions([b.server]) == [(b.server, owned)]

    # A's removal of its replica reaches the owner, whose held connect is answered; nothing echoes back
    assert a.server.remove_session(replica, "removed")
    wire.flush()
    assert a.server.session(client_id) is None and b.server.session(client_id) is None
    assert held.deferred.called
    assert b.hooks.events[-1] == ("removed", "removed")
    assert wire.flush() == 0
    # B's own check, a moment later, finds nothing left to remove
    assert bound_sessions([b.server]) == []
