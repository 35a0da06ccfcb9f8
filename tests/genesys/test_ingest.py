"""The live ingest API over real HTTP: auth, batches, idempotency, atomicity, request/ticket changes, bad input."""

from __future__ import annotations

import time

import requests
import sqlalchemy as sa

from services87.engine import schema as t
from services87.engine.storage import Store
from tests.genesys.conftest import API_KEY, uid


def panel(api, name: str) -> dict:
    r = api.stats("GET", f"/statistic-values/{name}?objectType=Tenant&objectId=Environment")
    assert r.status_code == 200, r.text
    return {v["Label"]: v["Value"] for v in r.json()["data"]["statistic"]["value"]["Values"]}


def current(api, agent: str) -> dict:
    r = api.stats("GET", f"/statistic-values/CurrentAgentState?objectType=Agent&objectId={agent}")
    return r.json()["data"]["statistic"]["value"]


def test_batch_idempotent(api):
    a, b = uid("ev-"), uid("ev-")
    batch = [{"id": a, "type": "agent-state", "agent": "frank", "status": "LoggedIn", "place": "FrankPlace", "dn": "7001"},
             {"id": b, "type": "agent-state", "agent": "frank", "status": "NotReady", "reason": "Lunch"}]
    r = api.ingest(*batch)
    assert r.status_code == 200 and r.json() == {"accepted": 2, "duplicates": 0, "results": [
        {"id": a, "status": "accepted"}, {"id": b, "status": "accepted"}]}
    assert current(api, "frank")["status"] == "NotReadyForNextCall"
    # the same events again (a retry): acknowledged, not applied again
    r = api.ingest(*batch, {"id": b, "type": "agent-state", "agent": "frank", "status": "Ready"})
    assert r.json()["accepted"] == 0 and r.json()["duplicates"] == 3
    assert current(api, "frank")["reason"] == "Lunch"


def test_bad_event_rejects_whole_batch(api):
    good = uid("ev-")
    r = api.ingest({"id": good, "type": "agent-state", "agent": "greta", "status": "Ready"},
                   {"id": uid(), "type": "agent-state", "agent": "no-such-agent", "status": "Ready"})
    assert r.status_code == 400
    e = r.json()["error"]
    assert e["kind"] == "NotFound" and e["index"] == 1 and "no-such-agent" in e["message"]
    # nothing was stored: the good event is still new
    r = api.ingest({"id": good, "type": "agent-state", "agent": "greta", "status": "Ready"})
    assert r.json()["accepted"] == 1


def test_requests_and_messages(api):
    ext = uid("EXT-")
    before = panel(api, "OpenRequestsPerStatus").get("New", 0)
    r = api.ingest({"id": uid(), "type": "request", "action": "create",
                    "request": {"external_id": ext, "title": "Printer on fire", "status": "New", "owner": "hans",
                                "group": "Technical", "category": "Hardware/Printers", "priority": "High",
                                "origin": "Phone"}},
                   {"id": uid(), "type": "message", "request": ext, "direction": "inbound",
                    "ts": int(time.time() * 1000) - 60000},
                   {"id": uid(), "type": "message", "request": ext, "direction": "outbound", "author": "hans"})
    assert r.status_code == 200, r.text
    assert panel(api, "OpenRequestsPerStatus")["New"] == before + 1
    r = api.ingest({"id": uid(), "type": "request", "action": "update", "request": {"external_id": ext, "status": "In progress"}})
    assert r.status_code == 200, r.text
    assert panel(api, "OpenRequestsPerStatus")["New"] == before
    r = api.ingest({"id": uid(), "type": "ticket", "action": "close", "request": {"id": ext}})
    assert r.status_code == 200, r.text
    r = api.ingest({"id": uid(), "type": "request", "action": "update", "request": {"external_id": uid("missing-")}})
    assert r.status_code == 400 and "does not exist" in r.json()["error"]["message"]
    r = api.ingest({"id": uid(), "type": "request", "action": "create",
                    "request": {"external_id": uid(), "status": "Nonsense"}})
    assert r.status_code == 400 and "unknown status" in r.json()["error"]["message"]


def test_auth(api):
    url = api.base + "/api/ingest/events"
    body = {"events": [{"id": uid(), "type": "queue", "queue": "Q"}]}
    assert requests.post(url, json=body, timeout=10).status_code == 401
    r = requests.post(url, json=body, headers={"x-api-key": "nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["kind"] == "InvalidApiKey"
    r = requests.post(url, json=body, headers={"Authorization": "Bearer " + api.refresh_token()}, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(url, json={"events": [{"id": uid(), "type": "queue", "queue": "Q"}]}, auth=("anna", "anna"), timeout=10)
    assert r.status_code == 200, r.text


def test_bad_input(api):
    url = api.base + "/api/ingest/events"
    h = {"x-api-key": API_KEY}

    def bad(body, status=400, contains=""):
        r = requests.post(url, data=body if isinstance(body, bytes) else None,
                          json=None if isinstance(body, bytes) else body, headers=h, timeout=10)
        assert r.status_code == status, r.text
        assert contains in r.json()["error"]["message"], r.text
        return r.json()["error"]

    now = int(time.time() * 1000)
    bad(b"{oops", contains="not valid JSON")
    bad(b"\xff\xfe", contains="not valid JSON")
    bad({"events": []}, contains="empty")
    bad({"nope": 1}, contains="events")
    bad({"events": [{"id": uid(), "type": "queue", "queue": "q"}] * 1001}, contains="at most")
    bad([{"type": "queue", "queue": "q"}], contains="id is required")
    bad([{"id": "x" * 129, "type": "queue", "queue": "q"}], contains="id is required")
    bad([{"id": uid(), "type": "weather"}], contains="unknown type")
    bad([{"id": uid(), "type": "agent-state", "agent": "anna", "status": "Sleeping"}], contains="unknown status")
    bad([{"id": uid(), "type": "agent-state", "agent": "anna", "status": "CallAnswered"}], contains="unknown status")
    bad([{"id": uid(), "type": "agent-state", "status": "Ready"}], contains="agent is required")
    bad([{"id": uid(), "type": "agent-state", "agent": "anna", "status": "Ready", "ts": now + 3600_000}], contains="future")
    bad([{"id": uid(), "type": "agent-state", "agent": "anna", "status": "Ready", "ts": int(now / 1000)}], contains="past")
    bad([{"id": uid(), "type": "agent-state", "agent": "anna", "status": "Ready", "ts": "yesterday"}], contains="ISO")
    bad([{"id": uid(), "type": "agent-state", "agent": "anna", "status": "Ready", "ts": "2026-01-01T10:00:00"}],
        contains="time zone")
    bad([{"id": uid(), "type": "agent-state", "agent": {"x": 1}, "status": "Ready"}], contains="must be a string")
    bad([{"id": uid(), "type": "interaction", "interaction": "i", "event": "exploded"}], contains="event must be")
    bad([{"id": uid(), "type": "interaction", "interaction": "i", "event": "offered"}], contains="needs a queue")
    bad([{"id": uid(), "type": "message", "request": "r", "direction": "sideways"}], contains="direction")
    bad([{"id": uid(), "type": "request", "action": "explode", "request": {}}], contains="action")
    bad([{"id": uid(), "type": "request", "action": "create", "request": {"external_id": "r"}}], contains="status is required")
    bad([{"id": uid(), "type": "request", "action": "create", "request": {"external_id": "r", "status": "New", "origin": "Pigeon"}}],
        contains="origin")
    bad([{"id": uid(), "type": "place", "place": "P", "group": "NoSuchGroup"}], contains="unknown agent group")
    c = uid("call-")
    assert requests.post(url, headers=h, timeout=10, json=[
        {"id": uid(), "type": "interaction", "interaction": c, "event": "offered", "queue": "Billing Queue"},
        {"id": uid(), "type": "interaction", "interaction": c, "event": "answered", "agent": "clara"}]).ok
    bad([{"id": uid(), "type": "interaction", "interaction": c, "event": "abandoned"}], contains="cannot be abandoned")
    assert bad(b"x" * (1048576 + 10), status=413)["kind"] == "TooLarge"
    r = requests.get(url, headers=h, timeout=10)
    assert r.status_code == 405 and r.json()["error"]["kind"] == "MethodNotAllowed"
    assert requests.post(url + "/sub", headers=h, json=[], timeout=10).status_code == 404


def test_request_fields_follow_the_importers_rules(api, server):
    """Ingest checks a request's fields with the importer's validator: an empty category level is an error
    (not dropped), ``in``/``out`` are directions, an external id has no control characters."""
    def create(**request):
        return api.ingest({"id": uid(), "type": "request", "action": "create",
                           "request": {"status": "New", **request}})

    for category in ("Hardware//Printers", "Hardware/", ["Hardware", " "]):
        r = create(external_id=uid("CAT-"), category=category)
        assert r.status_code == 400, r.text
        e = r.json()["error"]
        assert e["kind"] == "InvalidEvent" and "empty level in the path" in e["message"], e
    r = create(external_id="tab\there")
    assert r.status_code == 400 and "control characters" in r.json()["error"]["message"], r.text
    r = create(external_id=uid("T-"), title="x" * 501)
    assert r.status_code == 400 and "longer than 500 characters" in r.json()["error"]["message"], r.text

    ext = uid("DIR-")
    r = create(external_id=ext, category=" Hardware / Printers ", origin=None)
    assert r.status_code == 200, r.text
    r = api.ingest({"id": uid(), "type": "message", "request": ext, "direction": "in",
                    "ts": int(time.time() * 1000) - 60000},
                   {"id": uid(), "type": "message", "request": ext, "direction": "OUT", "author": "hans"})
    assert r.status_code == 200, r.text
    store = Store(server.db)
    try:
        row = store.get_request(external_id=ext)
        with store.engine.connect() as c:
            path = c.execute(sa.select(t.categories.c.name, t.categories.c.parent_id)
                             .where(t.categories.c.id == row["category_id"])).one()
            directions = [d for (d,) in c.execute(sa.select(t.messages.c.direction)
                                                  .where(t.messages.c.request_id == row["id"])
                                                  .order_by(t.messages.c.created_ts))]
        assert path[0] == "Printers" and path[1] is not None and row["origin"] == 0
        assert directions == [1, 2]
    finally:
        store.close()



def test_an_api_key_is_checked_without_a_thread_hop(tmp_path):
    """``x-api-key`` on ``/api/ingest/events`` is compared with the configured keys on the reactor: the answer
    is there before any store thread ran (a thread and back cost every batch 1-3 ms before its write on a busy
    server: the push-latency bench's events). A wrong key is refused the same way."""
    import dataclasses

    from twisted.internet.testing import MemoryReactorClock
    from twisted.web.test.requesthelper import DummyRequest

    from services87.auth.service import AuthError
    from services87.config import Settings
    from services87.genesys.ingest import IngestApi
    from services87.server import Services87Server
    from tests.support import fresh_db_url

    settings = dataclasses.replace(Settings.load(env={}, db_url=fresh_db_url(tmp_path)), api_keys=["key-1"])
    hs = Services87Server(settings, reactor=MemoryReactorClock())  # its reactor never runs: no thread answers
    try:
        hs.get_auth()  # built at start (Services87Server.get_root)
        api = IngestApi(hs)

        def auth(key: str):
            request = DummyRequest([b""])
            request.requestHeaders.setRawHeaders(b"x-api-key", [key.encode()])
            return api._authenticate(request)

        ok = auth("key-1")
        assert ok.called and ok.result is None
        failures: list = []
        auth("key-2").addErrback(lambda f: failures.append(f.trap(AuthError) and f.value.kind))
        assert failures == ["InvalidApiKey"]
    finally:
        store = hs.get_store.built()
        if store is not None:
            store.close()
