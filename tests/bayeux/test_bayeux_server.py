"""The transport-neutral core, driven directly with a fake clock."""

from __future__ import annotations

import json

import pytest
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import Clock, LoopingCall

from services87.bayeux import BayeuxHooks, BayeuxServer, BayeuxSettings, Denied, RequestInfo

INFO = RequestInfo(transport="long-polling", browser_id="browser-1234", session_cookie="cookie-1234")


def result_of(d: Deferred):
    results, failures = [], []
    d.addCallbacks(results.append, failures.append)
    if failures:
        failures[0].raiseException()
    assert results, "Deferred has not fired"
    return results[0]


class Harness:
    def __init__(self, hooks: BayeuxHooks | None = None, **settings):
        self.clock = Clock()
        defaults = {"timeout": 2, "max_interval": 3, "sweep_period": 0.5, "max_queue": 3}
        self.server = BayeuxServer(self.clock, BayeuxSettings(**{**defaults, **settings}), hooks)

    def process(self, *messages, info=INFO):
        return result_of(ensureDeferred(self.server.process(list(messages), info)))

    def handshake(self, **extra) -> str:
        outcome = self.process({"channel": "/meta/handshake", "version": "1.0", **extra})
        [reply] = outcome.replies
        assert reply["successful"], reply
        return reply["clientId"]

    def connect(self, client_id, **extra):
        return self.process({"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling",
                             **extra})

    def ready(self, *subscriptions) -> str:
        """Handshake, first connect, subscribe."""
        client_id = self.handshake()
        self.connect(client_id)
        if subscriptions:
            outcome = self.process({"channel": "/meta/subscribe", "clientId": client_id,
                                    "subscription": list(subscriptions)})
            assert outcome.replies[0]["successful"], outcome.replies
        return client_id


class Recorder(BayeuxHooks):
    def __init__(self):
        self.events = []

    def on_session_added(self, session):
        self.events.append(("added", session.id))

    def on_subscribe(self, session, channel):
        self.events.append(("subscribe", channel))

    def on_unsubscribe(self, session, channel):
        self.events.append(("unsubscribe", channel))

    def on_session_removed(self, session, reason):
        self.events.append(("removed", reason, sorted(session.subscriptions)))

    def on_queue_overflow(self, session, dropped):
        self.events.append(("overflow", dropped["data"]))


def test_handshake_creates_session_with_request_data():
    h = Harness()
    client_id = h.handshake()
    session = h.server.sessions[client_id]
    assert session.browser_id == "browser-1234" and session.session_cookie == "cookie-1234"
    assert h.server.sessions_by_cookie("cookie-1234") == [session]
    assert h.server.session("nope") is None
    with pytest.raises(TypeError):
        h.server.sessions["x"] = session  # read-only view


def test_first_connect_immediate_then_held_until_timeout():
    h = Harness()
    client_id = h.handshake()
    first = h.connect(client_id)
    assert first.held is None and first.replies[0]["successful"]
    second = h.connect(client_id)
    assert second.held is not None and second.replies == []
    assert h.server.stats()["held"] == 1
    h.clock.advance(1.9)
    assert not second.held.deferred.called
    h.clock.advance(0.2)
    [reply] = result_of(second.held.deferred)
    assert reply["channel"] == "/meta/connect" and reply["successful"]
    assert h.server.stats()["held"] == 0


def test_client_advice_timeout_shortens_hold():
    h = Harness()
    client_id = h.ready()
    assert h.connect(client_id, advice={"timeout": 0}).held is None
    held = h.connect(client_id, advice={"timeout": 500}).held
    h.clock.advance(0.5)
    assert held.deferred.called


def test_messages_published_together_travel_together():
    h = Harness()
    client_id = h.ready("/s/**")
    held = h.connect(client_id).held
    assert h.server.publish("/s/a", 1) == 1
    assert h.server.publish("/s/b/c", 2) == 1
    assert not held.deferred.called  # released on the next reactor turn
    h.clock.advance(0)
    batch = result_of(held.deferred)
    assert [m.get("data") for m in batch] == [1, 2, None]


def test_one_outstanding_connect():
    h = Harness()
    client_id = h.ready()
    first = h.connect(client_id).held
    second = h.connect(client_id).held
    assert first.deferred.called and not second.deferred.called
    assert h.server.stats()["held"] == 1


def test_queue_bound_and_overflow_hook():
    hooks = Recorder()
    h = Harness(hooks)
    client_id = h.ready("/q")
    for n in range(5):
        h.server.publish("/q", n)
    session = h.server.sessions[client_id]
    assert session.dropped == 2 and h.server.stats()["dropped"] == 2
    assert ("overflow", 0) in hooks.events and ("overflow", 1) in hooks.events
    batch = h.connect(client_id).replies
    assert [m.get("data") for m in batch] == [2, 3, 4, None]


def test_sweep_after_max_interval():
    hooks = Recorder()
    h = Harness(hooks)
    idle = h.ready("/x")
    polling = h.ready()
    for _ in range(4):  # keeps connecting: never swept
        held = h.connect(polling).held
        h.clock.advance(2.0)
        assert held.deferred.called
    assert polling in h.server.sessions
    assert idle not in h.server.sessions
    assert ("removed", "expired", ["/x"]) in hooks.events
    assert h.server.publish("/x", 1) == 0
    assert h.server.stats()["expired"] == 1


def test_deliver_and_publish_rules():
    h = Harness()
    client_id = h.ready("/a/*")
    assert h.server.deliver(client_id, "/service/private", {"p": 1}) is True
    assert h.server.deliver(h.server.sessions[client_id], "/v2/me/workbins", 2) is True
    assert h.server.deliver("unknown", "/a/b", 1) is False
    for bad in ("/a/*", "no-slash", "/meta/x", "/service/x"):
        with pytest.raises(ValueError):
            h.server.publish(bad, 1)
    for bad in ("/a/*", "/meta/connect"):
        with pytest.raises(ValueError):
            h.server.deliver(client_id, bad, 1)
    assert [s.id for s in h.server.subscribers("/a/b")] == [client_id]
    assert h.server.publish("/a/b", 3, ext={"k": 1}) == 1
    batch = h.connect(client_id).replies
    assert batch[:3] == [{"channel": "/service/private", "data": {"p": 1}},
                         {"channel": "/v2/me/workbins", "data": 2},
                         {"channel": "/a/b", "data": 3, "ext": {"k": 1}}]


def test_deliver_checks_a_channel_name_once(monkeypatch):
    """An application delivers on a few channels, a message per subscriber (the Genesys push: a thousand per
    change): the name is checked the first time, not per message (the check was ~20 us of each push). Bad names
    are refused every time, and the names remembered are bounded."""
    from services87.bayeux import server as server_module

    checked = []

    class Counting(server_module.ChannelId):
        __slots__ = ()

        def __init__(self, name, **kw):
            checked.append(name)
            super().__init__(name, **kw)

    monkeypatch.setattr(server_module, "ChannelId", Counting)
    h = Harness()
    client_id = h.ready("/a/*")
    for n in range(100):
        assert h.server.deliver(client_id, "/service/private", n) is True
    assert checked.count("/service/private") == 1
    for _ in range(3):
        with pytest.raises(ValueError):
            h.server.deliver(client_id, "/meta/connect", 1)
    assert checked.count("/meta/connect") == 3
    for n in range(server_module.MAX_REMEMBERED_CHANNELS + 50):
        h.server.deliver(client_id, f"/service/c{n}", 1)
    assert len(h.server._deliverable) == server_module.MAX_REMEMBERED_CHANNELS
    with pytest.raises(ValueError):
        h.server.deliver(client_id, "/a/*", 1)


def test_deliver_takes_the_callers_json_of_the_data():
    """``data_json``: the caller made the data's JSON (the Genesys push, from a template); the message sent is
    the same bytes as without it. With ``ext`` the message is encoded whole."""
    from services87.bayeux.protocol import encode, encode_json

    h = Harness()
    client_id = h.ready("/a/*")
    data = {"name": "StatisticUpdate", "data": {"statistics": [{"statisticId": "s", "value": "Köln"}]}}
    marker = encode_json({**data, "name": "primed"})  # not data's JSON: shows which one was sent
    assert h.server.deliver(client_id, "/service/x", data, data_json=marker)
    assert h.server.deliver(client_id, "/service/x", data, data_json=marker, ext={"k": 1})
    [primed, with_ext, _connect] = h.connect(client_id).replies
    assert primed == {"channel": "/service/x", "data": data}  # the dict, for hooks and other workers ...
    assert primed.encoded() == b'{"channel":"/service/x","data":' + marker + b"}"  # ... its bytes as given
    assert with_ext.encoded() == encode([{"channel": "/service/x", "data": data, "ext": {"k": 1}}])[1:-1]


def test_subscribe_unsubscribe_hooks_and_limit():
    hooks = Recorder()
    h = Harness(hooks, max_subscriptions=2)
    client_id = h.ready("/a", "/b")
    [reply] = h.process({"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/c"}).replies
    assert reply["error"] == "409::Too many subscriptions"
    [reply] = h.process({"channel": "/meta/unsubscribe", "clientId": client_id, "subscription": "/a"}).replies
    assert reply["successful"] and reply["subscription"] == "/a"
    assert ("subscribe", "/a") in hooks.events and ("unsubscribe", "/a") in hooks.events
    assert h.server.publish("/a", 1) == 0 and h.server.publish("/b", 1) == 1


def test_index_version_moves_with_who_is_subscribed():
    h = Harness()
    versions = [h.server.index_version]

    def moved() -> bool:
        versions.append(h.server.index_version)
        return versions[-1] != versions[-2]

    a = h.ready("/a")
    assert moved() and h.server.subscribers("/a")[0].id == a
    h.connect(a)
    h.server.publish("/a", 1)
    h.process({"channel": "/meta/subscribe", "clientId": a, "subscription": "/a"})  # already subscribed
    assert not moved()
    h.process({"channel": "/meta/subscribe", "clientId": a, "subscription": "/b"})
    assert moved()
    h.process({"channel": "/meta/unsubscribe", "clientId": a, "subscription": "/b"})
    assert moved()
    b = h.ready("/a")
    assert moved()
    h.process({"channel": "/meta/disconnect", "clientId": b})
    assert moved() and [s.id for s in h.server.subscribers("/a")] == [a]
    for _ in range(8):  # a stops connecting: swept
        h.clock.advance(1.0)
    assert moved() and h.server.subscribers("/a") == []


def test_async_hooks_and_denials():
    class AsyncHooks(BayeuxHooks):
        def __init__(self):
            self.pending = Deferred()

        def authenticate_handshake(self, request, message):
            if message.get("ext", {}).get("token") == "bad":
                raise Denied("Bad token")
            return self.pending

        async def can_subscribe(self, session, channel, message):
            return channel != "/no"

        def can_publish(self, session, channel, message):
            return succeed(channel == "/yes")

    hooks = AsyncHooks()
    h = Harness(hooks)
    d = ensureDeferred(h.server.process([{"channel": "/meta/handshake"}], INFO))
    assert not d.called
    hooks.pending.callback({"user": "agent1"})
    [reply] = result_of(d).replies
    session = h.server.sessions[reply["clientId"]]
    assert session.attributes == {"user": "agent1"}
    cid = session.id
    subscribe_no, subscribe_yes = h.process(
        {"channel": "/meta/subscribe", "clientId": cid, "subscription": "/no"},
        {"channel": "/meta/subscribe", "clientId": cid, "subscription": "/yes"}).replies
    assert subscribe_no["error"] == "403:/no:Subscription denied" and subscribe_yes["successful"]
    denied, allowed = h.process({"channel": "/no", "clientId": cid, "data": 1},
                                {"channel": "/yes", "clientId": cid, "data": 2}).replies
    assert denied["error"] == "403::Publish denied" and allowed["successful"]
    [bad] = h.process({"channel": "/meta/handshake", "ext": {"token": "bad"}}).replies
    assert bad["error"] == "403::Bad token" and bad["advice"] == {"reconnect": "none"}


def test_failing_hooks_become_500_replies():
    class Broken(BayeuxHooks):
        def can_subscribe(self, session, channel, message):
            raise RuntimeError("boom")

        def on_subscribe(self, session, channel):
            raise RuntimeError("ignored")

        def authenticate_handshake(self, request, message):
            return False if message.get("deny") else None

    h = Harness(Broken())
    client_id = h.handshake()
    [reply] = h.process({"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/a"}).replies
    assert reply["successful"] is False and reply["error"] == "500::Internal error"
    [reply] = h.process({"channel": "/meta/handshake", "deny": True}).replies
    assert reply["error"] == "403::Handshake denied" and reply["advice"]["reconnect"] == "none"


def test_capacity_limits():
    h = Harness(max_sessions=2, max_held_connects=1, busy_interval=3)
    one, two = h.ready(), h.ready()
    [reply] = h.process({"channel": "/meta/handshake"}).replies
    assert reply["error"] == "503::Too many sessions" and reply["advice"]["reconnect"] == "handshake"
    assert h.connect(one).held is not None
    busy = h.connect(two)
    assert busy.held is None and busy.replies[0]["advice"]["interval"] == 3000
    assert h.server.stats()["held_refused"] == 1


def test_unsupported_connection_types():
    h = Harness(connection_types=("long-polling",))
    [reply] = h.process({"channel": "/meta/handshake", "supportedConnectionTypes": ["websocket"]}).replies
    assert reply["error"] == "406:websocket:Unsupported connection types"
    client_id = h.handshake(supportedConnectionTypes=["long-polling", "callback-polling"])
    [reply] = h.connect(client_id, connectionType="websocket").replies
    assert reply["error"] == "406:websocket:Unsupported connection type"


def test_reset_remove_and_stop():
    hooks = Recorder()
    h = Harness(hooks)
    a, b, c = h.ready("/x"), h.ready(), h.ready()
    held = h.connect(a).held
    h.server.reset()
    [reply] = result_of(held.deferred)
    assert reply["successful"] is False and reply["error"] == "402::Unknown client"
    assert reply["advice"] == {"reconnect": "handshake", "interval": 0}
    assert h.server.sessions == {} and ("removed", "reset", ["/x"]) in hooks.events
    assert h.server.stats()["held"] == 0

    d = h.ready()
    assert h.server.remove_session(d) is True and h.server.remove_session(d) is False
    e = h.ready()
    h.server.stop()
    assert h.server.sessions == {} and ("removed", "stop", []) in hooks.events
    [reply] = h.process({"channel": "/meta/handshake"}).replies
    assert reply["error"] == "503::Server stopping"
    h.server.stop()  # idempotent
    assert e not in h.server.sessions


def test_cancel_held_keeps_queue():
    h = Harness()
    client_id = h.ready("/x")
    held = h.connect(client_id).held
    h.server.cancel_held(held)
    h.server.cancel_held(held)
    assert h.server.stats()["held"] == 0
    h.server.publish("/x", 1)
    h.clock.advance(0)
    assert not held.deferred.called
    assert [m.get("data") for m in h.connect(client_id).replies] == [1, None]


def test_held_connects_end_at_their_own_deadlines():
    """One timer serves every held connect: a later, shorter hold is answered first, each at its own time."""
    h = Harness()
    a, b, c = h.ready(), h.ready(), h.ready()
    long_hold = h.connect(a).held                              # 2 s
    h.clock.advance(0.5)
    short_hold = h.connect(b, advice={"timeout": 300}).held    # until 0.8 s
    middle_hold = h.connect(c, advice={"timeout": 1000}).held  # until 1.5 s
    h.clock.advance(0.29)
    assert not short_hold.deferred.called
    h.clock.advance(0.02)
    assert short_hold.deferred.called and not middle_hold.deferred.called
    h.clock.advance(0.7)
    assert middle_hold.deferred.called and not long_hold.deferred.called
    h.clock.advance(0.5)
    assert long_hold.deferred.called and h.server.stats()["held"] == 0
    assert all(isinstance(call.func, LoopingCall) for call in h.clock.getDelayedCalls())  # only the sweeper


def test_connects_answered_early_do_not_pile_up_in_the_deadlines():
    h = Harness(timeout=20, max_interval=30)
    client_id = h.ready("/x")
    for n in range(500):
        held = h.connect(client_id).held
        h.server.publish("/x", n)
        h.clock.advance(0)
        assert [m.get("data") for m in result_of(held.deferred)] == [n, None]
    assert len(h.server._deadlines) <= 2 * h.server.stats()["held"] + 65


def test_a_batch_of_connects_is_answered_without_waiting():
    h = Harness()
    client_id = h.ready()
    outcome = h.server.handle([{"channel": "/meta/connect", "clientId": client_id}], INFO)
    assert not isinstance(outcome, Deferred) and outcome.held is not None
    pending = h.server.handle([{"channel": "/meta/handshake", "version": "1.0"}], INFO)
    assert isinstance(pending, Deferred) and result_of(pending).handshake_succeeded


def test_a_publish_queues_one_message_encoded_once():
    from services87.bayeux.protocol import encode

    h = Harness()
    ids = [h.ready("/p") for _ in range(3)]
    h.server.publish("/p", {"text": "æ", "n": [1, 2.5, None]}, ext={"k": 1})
    batches = [h.connect(client_id).replies for client_id in ids]
    first = batches[0][0]
    assert all(batch[0] is first for batch in batches)
    assert first == {"channel": "/p", "data": {"text": "æ", "n": [1, 2.5, None]}, "ext": {"k": 1}}
    for batch in batches:
        assert encode(batch) == json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode()
    assert first.encoded() is first.encoded()  # encoded for the first subscriber, reused for the others


# ---------------------------------------------------------------------- replicas (what services87.bayeux.cluster uses)
REPLICA_INFO = RequestInfo(transport="long-polling", browser_id="browser-5678", session_cookie="cookie-5678")


def test_a_replica_is_added_connected_and_subscribed_with_only_the_added_hook():
    hooks = Recorder()
    h = Harness(hooks, max_sessions=1)
    h.ready()  # the server is full: a replica is added all the same (its worker took the handshake)
    replica = h.server.add_replica("replica-1", request=REPLICA_INFO, attributes={"user": 7},
                                   subscriptions=["/r/**", "/x", "/x"])
    assert h.server.session("replica-1") is replica and replica.attributes == {"user": 7}
    assert replica.browser_id == "browser-5678" and h.server.sessions_by_cookie("cookie-5678") == [replica]
    assert replica.subscriptions == {"/r/**", "/x"}
    assert h.server.subscribers("/r/a/b") == [replica] and h.server.subscribers("/x") == [replica]
    assert hooks.events[-1] == ("added", "replica-1") and ("subscribe", "/x") not in hooks.events
    assert h.server.stats()["handshakes"] == 1  # the server's own handshake only
    # already connected on its own worker: its first connect here is held, not answered at once
    assert h.connect("replica-1").held is not None
    with pytest.raises(ValueError):
        h.server.add_replica("replica-1", request=REPLICA_INFO, attributes={})
    assert hooks.events.count(("added", "replica-1")) == 1 and h.server.session("replica-1") is replica


def test_replica_subscriptions_change_without_hooks():
    hooks = Recorder()
    h = Harness(hooks)
    replica = h.server.add_replica("replica-2", request=REPLICA_INFO, attributes={})
    h.server.subscribe_replica(replica, ["/a", "/b/*", "/a"])
    assert replica.subscriptions == {"/a", "/b/*"}
    assert h.server.subscribers("/a") == [replica] and h.server.subscribers("/b/c") == [replica]
    h.server.unsubscribe_replica(replica, ["/a", "/never"])
    assert replica.subscriptions == {"/b/*"}
    assert h.server.subscribers("/a") == [] and h.server.publish("/a", 1) == 0
    assert h.server.publish("/b/c", 2) == 1
    assert not [e for e in hooks.events if e[0] in ("subscribe", "unsubscribe")]
    assert h.server.remove_session(replica, "removed") is True
    assert ("removed", "removed", ["/b/*"]) in hooks.events and h.server.subscribers("/b/c") == []


def test_release_held_answers_the_held_connect_with_the_queue():
    h = Harness()
    client_id = h.ready("/x")
    session = h.server.session(client_id)
    assert h.server.release_held(session) is False  # holds nothing
    held = h.connect(client_id).held
    session.enqueue({"channel": "/x", "data": 1})  # queued, nobody woken
    assert h.server.release_held(session) is True
    assert [m.get("data") for m in result_of(held.deferred)] == [1, None]
    assert session.held is None and h.server.stats()["held"] == 0
    assert h.server.release_held(session) is False


def test_enqueue_queues_as_is_counts_and_wakes_the_held_connect():
    hooks = Recorder()
    h = Harness(hooks)
    client_id = h.ready()  # subscribed to nothing: enqueue does not look at subscriptions or channels
    session = h.server.session(client_id)
    held = h.connect(client_id).held
    message = {"channel": "/service/private", "data": {"n": 1}, "ext": {"k": 1}}
    h.server.enqueue(session, message)
    assert not held.deferred.called  # answered on the next reactor turn, with what else comes in this one
    h.server.enqueue(session, {"channel": "/a", "data": 2})
    h.clock.advance(0)
    batch = result_of(held.deferred)
    assert batch[0] is message and batch[1]["data"] == 2 and batch[2]["channel"] == "/meta/connect"
    assert h.server.stats()["delivered"] == 2
    for n in range(4):  # max_queue 3: the oldest is dropped and the hook told
        h.server.enqueue(session, {"channel": "/a", "data": n})
    assert session.dropped == 1 and h.server.stats()["dropped"] == 1 and ("overflow", 0) in hooks.events
