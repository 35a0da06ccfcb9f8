"""Two Bayeux servers sharing their sessions through :class:`BayeuxCluster`, in one process.

The bus here does what :class:`services87.engine.notify.PgBus` does for the cluster (JSON on the wire, every
message to every worker in one order, the sender's own included, delivered later and not inside ``send``) without
PostgreSQL; ``tests/perf/test_workers.py`` runs the same over PostgreSQL with real worker processes.
"""

from __future__ import annotations

import json

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock

from services87.bayeux import BayeuxHooks, BayeuxServer, BayeuxSettings, RequestInfo
from services87.bayeux import cluster as cluster_module
from services87.bayeux.cluster import BayeuxCluster

INFO = RequestInfo(transport="long-polling", browser_id="browser-1234", session_cookie="cookie-1234")


class Wire:
    """One ordered channel that every worker's bus listens on."""

    def __init__(self):
        self.buses: list[Bus] = []
        self.pending: list[tuple[str, str, str]] = []
        self.sent: list[tuple[str, dict]] = []  # (sender, message) of everything ever sent

    def flush(self) -> int:
        """Deliver what was sent, in order, until nothing is left; the number of messages delivered."""
        count = 0
        while self.pending:
            topic, payload, sender = self.pending.pop(0)
            for bus in self.buses:
                for handler in bus.handlers.get(topic, ()):
                    handler(json.loads(payload), sender)
            count += 1
        return count


class Bus:
    def __init__(self, wire: Wire, worker_id: str):
        self.wire, self.worker_id, self.handlers = wire, worker_id, {}
        wire.buses.append(self)

    def subscribe(self, topic, handler, reactor=False):
        self.handlers.setdefault(topic, []).append(handler)

    def send(self, topic, data):
        self.wire.pending.append((topic, json.dumps(data), self.worker_id))
        self.wire.sent.append((self.worker_id, data))


class Recorder(BayeuxHooks):
    def __init__(self):
        self.events = []

    def authenticate_handshake(self, request, message):
        return {"user": "ann", "not_replicated": object()}

    def on_session_added(self, session):
        self.events.append(("added", session.id, dict(session.attributes).get("user")))

    def on_subscribe(self, session, channel):
        self.events.append(("subscribe", channel))

    def on_unsubscribe(self, session, channel):
        self.events.append(("unsubscribe", channel))

    def on_session_removed(self, session, reason):
        self.events.append(("removed", reason))


class Worker:
    def __init__(self, wire: Wire, name: str):
        self.clock = Clock()
        self.hooks = Recorder()
        self.server = BayeuxServer(self.clock, BayeuxSettings(timeout=2, max_interval=3, max_queue=5), self.hooks)
        self.cluster = BayeuxCluster(self.server, Bus(wire, name), "test")

    def process(self, *messages):
        results = []
        ensureDeferred(self.server.process(list(messages), INFO)).addBoth(results.append)
        [outcome] = results
        return outcome

    def reply(self, *messages):
        outcome = self.process(*messages)
        assert outcome.held is None
        [reply] = outcome.replies
        assert reply["successful"], reply
        return reply

    def connect(self, client_id):
        return self.process({"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"})


def fired(held):
    results = []
    held.deferred.addCallback(results.append)
    return results[0] if results else None


def test_a_session_lives_on_both_workers_and_its_queue_follows_its_connect():
    wire = Wire()
    a, b = Worker(wire, "A"), Worker(wire, "B")
    client_id = a.reply({"channel": "/meta/handshake", "version": "1.0"})["clientId"]
    a.connect(client_id)
    a.reply({"channel": "/meta/subscribe", "clientId": client_id, "subscription": ["/x", "/y"]})
    wire.flush()
    replica = b.server.session(client_id)
    assert replica is not None and replica.subscriptions == {"/x", "/y"}
    assert replica.attributes == {"user": "ann"} and replica.browser_id == "browser-1234"
    assert b.hooks.events == [("added", client_id, "ann")]  # no subscribe hook for a replica
    assert a.hooks.events == [("added", client_id, "ann"), ("subscribe", "/x"), ("subscribe", "/y")]
    assert b.server.stats()["handshakes"] == 0

    # a publish on B is queued by the owner, A
    held_a = a.connect(client_id).held
    assert b.server.publish("/x", 1) == 1
    wire.flush()
    assert replica.queue_size == 0 and a.server.session(client_id).queue_size == 1

    # the client's next connect lands on B: B claims the session, A hands its queue over and answers its connect
    held_b = b.connect(client_id).held
    assert held_b is not None
    wire.flush()
    assert [m["channel"] for m in fired(held_a)] == ["/meta/connect"]
    assert a.server.session(client_id).queue_size == 0
    b.clock.advance(0)
    assert [m.get("data") for m in fired(held_b)] == [1, None]
    assert not a.cluster.owns(a.server.session(client_id)) and b.cluster.owns(replica)

    # an unsubscribe on A reaches B without hooks there; a delivery on A goes to B, the owner now
    a.reply({"channel": "/meta/unsubscribe", "clientId": client_id, "subscription": "/y"})
    assert a.server.deliver(client_id, "/service/z", 2) is True
    wire.flush()
    assert replica.subscriptions == {"/x"} and b.server.subscribers("/y") == []
    assert a.server.session(client_id).queue_size == 0 and replica.queue_size == 1
    assert b.hooks.events == [("added", client_id, "ann")]

    # a disconnect on B removes the session on both, each telling its own hooks once
    b.reply({"channel": "/meta/disconnect", "clientId": client_id})
    wire.flush()
    assert a.server.session(client_id) is None and b.server.session(client_id) is None
    assert a.hooks.events[-1] == ("removed", "disconnect") and b.hooks.events[-1] == ("removed", "disconnect")
    assert a.hooks.events.count(("removed", "disconnect")) == 1
    assert a.server.stats()["sessions"] == b.server.stats()["sessions"] == 0
    assert wire.flush() == 0  # nothing echoes back and forth


def _run(wire: Wire, workers: list[Worker], seconds: float, step: float = 1.0, each=None) -> None:
    """Advance the clocks of ``workers`` together (their sweeps and heartbeats run), delivering the bus each step."""
    t = 0.0
    while t < seconds:
        for w in workers:
            w.clock.advance(step)
        if each is not None:
            each()
        wire.flush()
        t += step


def test_the_sessions_of_a_gone_worker_are_swept_by_the_others_and_a_live_owner_keeps_its_own():
    wire = Wire()
    a, b = Worker(wire, "A"), Worker(wire, "B")
    client_id = a.reply({"channel": "/meta/handshake", "version": "1.0"})["clientId"]
    a.connect(client_id)
    wire.flush()
    assert b.server.session(client_id) is not None

    # A lives and its client keeps connecting there: B never sweeps the replica, however old B's view of it
    # (max_interval is 3 s here; B has not seen a connect of it for two minutes)
    def keep_connecting():
        a.connect(client_id)

    _run(wire, [a, b], 120, each=keep_connecting)
    assert a.server.session(client_id) is not None and b.server.session(client_id) is not None
    assert not b.cluster.owns(b.server.session(client_id))

    # A dies (a restarted worker comes back under another id): nothing more from it on the bus
    wire.buses.remove(a.cluster.bus)
    sent_before = len(wire.sent)
    # A's last word was at most one heartbeat before it died
    _run(wire, [b], cluster_module.PEER_SILENT - cluster_module.HEARTBEAT - 1)
    assert b.server.session(client_id) is not None  # not yet: A may only be slow
    _run(wire, [b], cluster_module.HEARTBEAT + 1 + 3 + 1)  # silent for PEER_SILENT, no connect for max_interval
    assert b.server.session(client_id) is None
    assert b.hooks.events[-1] == ("removed", "expired")
    assert b.cluster.owner == {}
    # B removed it on its own: every live worker does the same, so no removal went on the bus
    assert [op for _, m in wire.sent[sent_before:] if (op := m["op"]) != "alive"] == []


def test_a_session_of_a_gone_worker_that_its_client_claims_lives_on():
    wire = Wire()
    a, b = Worker(wire, "A"), Worker(wire, "B")
    client_id = a.reply({"channel": "/meta/handshake", "version": "1.0"})["clientId"]
    wire.flush()
    wire.buses.remove(a.cluster.bus)  # A dies; its client's next connect lands on B, which claims the session
    held = b.connect(client_id).held
    wire.flush()
    assert b.cluster.owns(b.server.session(client_id))

    def keep_connecting():
        b.connect(client_id)

    _run(wire, [b], cluster_module.PEER_SILENT + 30, each=keep_connecting)
    assert b.server.session(client_id) is not None
    assert held is not None
