"""Issue #18, finding 7: Bayeux session attributes no longer travel pickled over the PostgreSQL bus.
A forged NOTIFY payload (a pickle, a wrong version, a bad shape) is rejected and logged."""

from __future__ import annotations

import base64
import json
import pickle

from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from services87.bayeux import BayeuxServer, BayeuxSettings
from services87.bayeux.cluster import BayeuxCluster


class FakeBus:
    worker_id = "w1"

    def __init__(self):
        self.sent = []

    def subscribe(self, topic, handler, reactor=False):
        self.handler = handler

    def send(self, topic, data):
        self.sent.append(json.loads(json.dumps(data)))  # what PgBus does: JSON on the wire


class Boom:
    def __reduce__(self):
        raise AssertionError("the payload was unpickled")


def cluster():
    bus = FakeBus()
    server = BayeuxServer(Clock(), BayeuxSettings())
    return bus, server, BayeuxCluster(server, bus, "test")


def test_session_attributes_travel_as_versioned_json():
    bus, server, c = cluster()

    class S:
        id = "abc123"
        attributes = {"gws_session": "ABCDEF", "auth_user": 7, "auth_epoch": 2, "obj": object()}
        browser_id, session_cookie, subscriptions = "b1", None, {"/x"}

    c.session_added(S())
    [msg] = bus.sent
    assert msg["v"] == 1 and msg["op"] == "add"
    assert msg["attrs"] == {"gws_session": "ABCDEF", "auth_user": 7, "auth_epoch": 2}  # scalars only
    # another worker applies it
    bus2, server2, c2 = cluster()
    c2._on_bus(msg, "w2")
    assert server2.session("abc123").attributes["auth_user"] == 7


def test_forged_payloads_are_rejected_and_logged():
    bus, server, c = cluster()
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        forged = [
            {"v": 1, "op": "add", "sid": "evil1", "attrs": base64.b64encode(pickle.dumps(Boom)).decode()},
            {"op": "add", "sid": "evil2", "attrs": {}},  # no version (the old format)
            {"v": 2, "op": "add", "sid": "evil3", "attrs": {}},
            {"v": 1, "op": "add", "sid": "evil4", "attrs": {"x": {"nested": 1}}},
            {"v": 1, "op": "exec", "sid": "evil5"},
            {"v": 1, "op": "remove", "sid": ["not", "a", "string"]},
            {"v": 1, "op": "remove", "sid": "abc123", "reason": ["a", "list"]},  # would reach the removal hooks
            {"v": 1, "op": "remove", "sid": "abc123", "reason": "made-up"},
            "not an object",
        ]
        for payload in forged:
            c._on_bus(payload, "attacker")
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert not server.sessions
    assert c.rejected == len(forged)
    logged = [e for e in events if "Rejected a malformed Bayeux bus message" in e.get("log_format", "")]
    assert len(logged) == len(forged)
