"""Wire-level checks of the long-polling transport against a real server
process (``app.py``: timeout 2 s, max_interval 2 s, max_queue 5)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests
from bayeux_harness import RawClient, data_messages, meta_reply

from tests.support import wait_until

pytestmark = pytest.mark.timeout(30)

#: An answer "at once", told apart from one held for the app's 2 s timeout: a loaded machine can take a good
#: part of a second for any local request, so the bound sits between the two, not at a fast machine's latency.
AT_ONCE = 1.5


def test_handshake_reply_and_cookies(app):
    client = RawClient(app)
    response = client.post([{"channel": "/meta/handshake", "version": "1.0",
                             "supportedConnectionTypes": ["long-polling", "websocket"], "id": "7"}], "/handshake")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    [reply] = response.json()
    assert reply["channel"] == "/meta/handshake"
    assert reply["successful"] is True
    assert reply["id"] == "7"
    assert reply["version"] == "1.0"
    assert set(reply["supportedConnectionTypes"]) == {"long-polling", "websocket"}
    assert reply["advice"] == {"reconnect": "retry", "interval": 0, "timeout": 2000}
    assert len(reply["clientId"]) >= 20

    set_cookies = response.raw.headers.getlist("Set-Cookie")
    browser = [c for c in set_cookies if c.startswith("BAYEUX_BROWSER=")]
    session = [c for c in set_cookies if c.startswith("STATISTICS_SESSIONID=")]
    assert browser and "HttpOnly" in browser[0] and "Path=/" in browser[0]
    assert session and "HttpOnly" in session[0]

    # A second handshake from the same browser keeps both cookie values.
    first = dict(client.http.cookies)
    second = client.post([{"channel": "/meta/handshake", "version": "1.0",
                           "supportedConnectionTypes": ["long-polling"]}], "/handshake")
    assert not [c for c in second.raw.headers.getlist("Set-Cookie") if c.startswith("BAYEUX_BROWSER=")]
    assert dict(client.http.cookies) == first
    sessions = app.control("sessions")
    assert sessions[second.json()[0]["clientId"]]["session_cookie"] == first["STATISTICS_SESSIONID"]
    assert sessions[second.json()[0]["clientId"]]["browser_id"] == first["BAYEUX_BROWSER"]


def test_client_ids_are_unique_and_random(app):
    ids = {RawClient(app).handshake()["clientId"] for _ in range(20)}
    assert len(ids) == 20


def test_first_connect_is_immediate_then_held_until_timeout(app):
    client = RawClient(app)
    client.handshake()
    reply, took = client.connect(advice={"timeout": 0})
    assert took < AT_ONCE
    assert meta_reply(reply, "/meta/connect")["successful"] is True
    reply, took = client.connect()
    assert 1.8 <= took < 3.5
    connect = meta_reply(reply, "/meta/connect")
    assert connect["successful"] is True and connect["advice"]["reconnect"] == "retry"


def test_held_connect_released_by_publish(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    assert client.subscribe("/statistics/v3/updates")["successful"]
    threading.Timer(0.3, app.control, ("publish", {"channel": "/statistics/v3/updates",
                                                   "data": {"statistics": [1]}})).start()
    reply, took = client.connect()
    assert took < 1.5
    assert data_messages(reply) == [{"channel": "/statistics/v3/updates", "data": {"statistics": [1]}}]
    assert meta_reply(reply, "/meta/connect")["successful"]


def test_held_connect_answers_carry_the_json_headers(app):
    """A held connect's headers are set when it is held (services87/bayeux/longpolling.py); its answer, by a
    publish or at the end of the hold, carries them as an immediate answer does."""
    client = RawClient(app)
    client.handshake()
    immediate = client.post([client.connect_message()], "/connect")
    assert client.subscribe("/statistics/v3/updates")["successful"]
    threading.Timer(0.3, app.control, ("publish", {"channel": "/statistics/v3/updates", "data": {"n": 1}})).start()
    by_publish = client.post([client.connect_message()], "/connect")
    by_timeout = client.post([client.connect_message()], "/connect")
    assert data_messages(by_publish.json()) == [{"channel": "/statistics/v3/updates", "data": {"n": 1}}]
    assert data_messages(by_timeout.json()) == []
    for r in (immediate, by_publish, by_timeout):
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
        assert r.headers["Cache-Control"] == "no-cache, no-store"
        assert int(r.headers["Content-Length"]) == len(r.content)


def test_wildcard_subscriptions_and_unsubscribe(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    assert client.subscribe("/w/a/*", "/w/deep/**")["successful"]
    assert app.control("publish", {"channel": "/w/a/b", "data": 1})["recipients"] == 1
    assert app.control("publish", {"channel": "/w/a/b/c", "data": 2})["recipients"] == 0
    assert app.control("publish", {"channel": "/w/deep/x/y", "data": 3})["recipients"] == 1
    reply, _ = client.connect()
    assert [m["data"] for m in data_messages(reply)] == [1, 3]
    assert client.unsubscribe("/w/a/*")["successful"]
    assert app.control("publish", {"channel": "/w/a/b", "data": 4})["recipients"] == 0


def test_deliver_to_one_session(app):
    one, two = RawClient(app), RawClient(app)
    for client in (one, two):
        client.handshake()
        client.connect()
    assert app.control("deliver", {"clientId": one.client_id, "channel": "/v2/me/workbins",
                                   "data": {"messageType": "WorkbinStatsMessage"}})["ok"]
    reply, _ = one.connect()
    assert data_messages(reply) == [{"channel": "/v2/me/workbins", "data": {"messageType": "WorkbinStatsMessage"}}]
    reply, took = two.connect(advice={"timeout": 300})
    assert data_messages(reply) == []
    assert not app.control("deliver", {"clientId": "nobody", "channel": "/x", "data": 1})["ok"]


def test_only_one_outstanding_connect(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    results: dict[str, tuple[list, float]] = {}
    first = threading.Thread(target=lambda: results.setdefault("first", client.connect()))
    first.start()
    app.wait_held(client.client_id)
    second_client = RawClient(app)  # separate HTTP connection, same clientId
    second_client.client_id = client.client_id
    results["second"] = second_client.connect()
    first.join(5)
    first_reply, first_took = results["first"]
    assert first_took < 1.5, "the earlier held connect must be answered when a new one arrives"
    assert meta_reply(first_reply, "/meta/connect")["successful"]
    assert 1.0 < results["second"][1] < 3.5


def test_aborted_long_poll_is_forgotten_and_queue_kept(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    client.subscribe("/abort/x")
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.post([client.connect_message()], "/connect", timeout=0.3)
    wait_until(lambda: not app.control("sessions")[client.client_id]["held"], 15, "aborted long poll forgotten")
    app.control("publish", {"channel": "/abort/x", "data": "kept"})
    reply, took = client.connect()
    assert took < AT_ONCE and [m["data"] for m in data_messages(reply)] == ["kept"]


def test_unknown_client_gets_402_and_handshake_advice(app):
    client = RawClient(app)
    client.client_id = "not-a-client"
    for message in (client.connect_message(),
                    {"channel": "/meta/subscribe", "clientId": "not-a-client", "subscription": "/a"},
                    {"channel": "/chat/x", "clientId": "not-a-client", "data": 1},
                    {"channel": "/meta/connect"}):
        [reply] = client.send(message)
        assert reply["successful"] is False
        assert reply["error"] == "402::Unknown client"
        assert reply["advice"] == {"reconnect": "handshake", "interval": 0}


@pytest.mark.parametrize("channel, error", [
    ("foo", "405:foo:Invalid channel"),
    ("/a//b", "405:/a//b:Invalid channel"),
    ("/a/b/", "405:/a/b/:Invalid channel"),
    ("/", "405:/:Invalid channel"),
    ("/a/*/b", "405:/a/*/b:Invalid channel"),
    ("/a/b*", "405:/a/b*:Invalid channel"),
    ("/a/***", "405:/a/***:Invalid channel"),
    ("/a b", "405:/a b:Invalid channel"),
    ("/meta/*", "403:/meta/*:Meta channels are not subscribable"),
    ("/meta/connect", "403:/meta/connect:Meta channels are not subscribable"),
    ("/private/x", "403:/private/x:Subscription denied"),
])
def test_bad_subscriptions(app, channel, error):
    client = RawClient(app)
    client.handshake()
    reply = client.subscribe(channel)
    assert reply["successful"] is False
    assert reply["error"] == error
    assert reply["subscription"] == channel
    assert app.control("sessions")[client.client_id]["subscriptions"] == []


def test_publish_hook(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    client.subscribe("/chat/**")
    [denied] = client.send({"channel": "/statistics/v3/updates", "clientId": client.client_id,
                            "data": {}, "id": "p1"})
    assert denied == {"channel": "/statistics/v3/updates", "id": "p1", "clientId": client.client_id,
                      "successful": False, "error": "403::Publish denied"}
    [ok] = client.send({"channel": "/chat/room", "clientId": client.client_id, "data": {"t": 1}, "id": "p2"})
    assert ok == {"channel": "/chat/room", "id": "p2", "successful": True}
    [echo] = client.send({"channel": "/service/echo", "clientId": client.client_id, "data": "hi", "id": "p3"})
    assert echo["successful"]
    reply, _ = client.connect()
    assert data_messages(reply) == [{"channel": "/chat/room", "data": {"t": 1}},
                                    {"channel": "/service/echo", "data": {"echo": "hi"}}]


def test_service_channels_are_not_broadcast(app):
    client = RawClient(app)
    client.handshake()
    assert client.subscribe("/service/**")["successful"]
    other = RawClient(app)
    other.handshake()
    other.send({"channel": "/service/echo", "clientId": other.client_id, "data": 1})
    assert app.control("sessions")[client.client_id]["queued"] == 0


def test_malformed_input_never_500(app):
    client = RawClient(app)
    client.handshake()
    for body in ("[{\"channel", "", "null]", "\xff\xfe", "[]"):
        response = client.post(body.encode("latin-1"), raw=True)
        assert response.status_code == 400, body
        [reply] = response.json()
        assert reply["successful"] is False and reply["error"].startswith("400:")

    replies = client.send(1, "x", None, [], {"id": "m"}, {"channel": 5}, {"channel": "/meta/bogus", "clientId": client.client_id})
    assert [r["successful"] for r in replies] == [False] * 7
    assert [r["error"] for r in replies] == ["400::Message must be a JSON object"] * 4 + [
        "400::Missing channel", "400::Missing channel", "406:/meta/bogus:Unknown meta channel"]
    assert replies[4]["id"] == "m"

    # A single object instead of an array, and no Content-Type at all.
    response = client.post({"channel": "/meta/handshake", "version": "1.0"}, content_type=None)
    assert response.status_code == 200 and response.json()[0]["successful"]
    # Old-style form encoding.
    response = client.post("message=%5B%7B%22channel%22%3A%22%2Fmeta%2Fhandshake%22%7D%5D", raw=True,
                           content_type="application/x-www-form-urlencoded")
    assert response.json()[0]["successful"]

    response = requests.get(app.url, timeout=5)
    assert response.status_code == 405 and response.json()[0]["successful"] is False


def test_size_and_batch_caps(app):
    client = RawClient(app)
    response = client.post("[" + ",".join(["{}"] * 21) + "]", raw=True)
    assert response.status_code == 413
    assert response.json()[0]["error"] == "413::Too many messages in batch"
    response = client.post([{"channel": "/meta/handshake", "pad": "x" * 20000}])
    assert response.status_code == 413
    assert response.json()[0]["error"] == "413::Message too large"


@pytest.mark.parametrize("suffix", ["", "/", "/handshake", "/connect", "/subscribe", "/unsubscribe",
                                    "/disconnect", "/anything/else"])
def test_sub_path_routing(app, suffix):
    client = RawClient(app)
    response = client.post([{"channel": "/meta/handshake", "version": "1.0"}], suffix)
    assert response.status_code == 200
    assert response.json()[0]["successful"] is True


def test_handshake_hook_denies(app):
    client = RawClient(app, **{"x-api-key": "bad"})
    [reply] = client.send({"channel": "/meta/handshake", "version": "1.0"})
    assert reply["successful"] is False
    assert reply["error"] == "403::Invalid API key"
    assert reply["advice"]["reconnect"] == "none"
    good = RawClient(app, **{"x-api-key": "k1"})
    good.handshake()
    assert app.control("sessions")[good.client_id]["attributes"]["api_key"] == "k1"


def test_queue_bound_drops_oldest(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    client.subscribe("/q/x")
    app.control("publish_many", {"channel": "/q/x", "count": 12})
    session = app.control("sessions")[client.client_id]
    assert session["queued"] == 5 and session["dropped"] == 7
    reply, _ = client.connect()
    assert [m["data"]["n"] for m in data_messages(reply)] == [7, 8, 9, 10, 11]
    assert "dropping oldest messages" in app.log()  # warned once (the log is visible to the tests)


def test_disconnect(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    reply = client.disconnect()
    assert reply["successful"] is True
    [again] = client.send(client.connect_message())
    assert again["error"] == "402::Unknown client"
    assert ["removed", client.client_id, "disconnect"] in app.control("events")


def test_disconnect_answers_held_connect(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("connect", client.connect()))
    waiter.start()
    app.wait_held(client.client_id)
    other = RawClient(app)
    other.client_id = client.client_id
    other.disconnect()
    waiter.join(5)
    reply, took = result["connect"]
    assert took < 1.5
    assert meta_reply(reply, "/meta/connect")["advice"]["reconnect"] == "none"


def test_idle_session_is_swept(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    client.subscribe("/sweep/me")
    app.wait_gone(client.client_id)  # max_interval 2 s + sweep period 0.2 s (polling does not touch the session)
    assert ["removed", client.client_id, "expired"] in app.control("events")
    [reply] = client.send(client.connect_message())
    assert reply["error"] == "402::Unknown client"
    assert app.control("publish", {"channel": "/sweep/me", "data": 1})["recipients"] == 0


def test_long_polling_session_is_kept_alive(app):
    client = RawClient(app)
    client.handshake()
    client.connect()
    for _ in range(2):  # 2 x 2 s holds > max_interval
        client.connect()
    assert client.client_id in app.control("sessions")


def test_reset_then_rehandshake(fresh_app):
    client = RawClient(fresh_app)
    client.handshake()
    client.connect()
    client.subscribe("/r/x")
    held = {}
    waiter = threading.Thread(target=lambda: held.setdefault("connect", client.connect()))
    waiter.start()
    fresh_app.wait_held(client.client_id)
    fresh_app.control("reset")
    waiter.join(5)
    reply, took = held["connect"]
    connect = meta_reply(reply, "/meta/connect")
    assert took < 1.5
    assert connect["successful"] is False and connect["error"] == "402::Unknown client"
    assert connect["advice"] == {"reconnect": "handshake", "interval": 0}
    assert fresh_app.control("sessions") == {}
    assert ["removed", client.client_id, "reset"] in fresh_app.control("events")
    old = client.client_id
    client.handshake()
    assert client.client_id != old
    client.connect()
    client.subscribe("/r/x")
    assert fresh_app.control("publish", {"channel": "/r/x", "data": 1})["recipients"] == 1


def test_process_restart_then_rehandshake(fresh_app):
    client = RawClient(fresh_app)
    client.handshake()
    client.connect()
    browser = client.http.cookies["BAYEUX_BROWSER"]
    log = fresh_app.restart()
    assert "Traceback" not in log
    [reply] = client.send(client.connect_message())
    assert reply["successful"] is False
    assert reply["error"] == "402::Unknown client"
    assert reply["advice"]["reconnect"] == "handshake"
    client.handshake()
    reply, took = client.connect()
    assert meta_reply(reply, "/meta/connect")["successful"] and took < AT_ONCE
    assert client.http.cookies["BAYEUX_BROWSER"] == browser


def test_server_log_is_clean(app):
    """Runs last in this module: nothing above may have produced a traceback."""
    log = app.log()  # the shared server stays up: the fixture stops it
    assert "Traceback" not in log, log


def test_the_test_servers_files_are_pytests_to_clean_up(app, tmp_path_factory):
    """The log and port file of a test server live under pytest's temporary directory, which pytest prunes
    (they were left in /tmp, a few hundred after a day of runs)."""
    basetemp = tmp_path_factory.getbasetemp().resolve()
    assert Path(app.workdir).resolve().is_relative_to(basetemp)
    assert Path(app.log_path).parent == Path(app.workdir) and Path(app.log_path).exists()
