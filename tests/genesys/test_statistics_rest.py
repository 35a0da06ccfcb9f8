"""Statistics API v3 REST operations, envelope, auth and bad input, over real HTTP."""

from __future__ import annotations

import requests

from tests.genesys.conftest import API_KEY, uid


def test_get_statistic_ex(api):
    assert api.ingest({"id": uid(), "type": "agent-state", "agent": "eva", "status": "Ready", "place": "EvaPlace"}).ok
    r = api.stats("POST", "/operations/get-statistic-ex", json={"data": {"statistics": [
        {"name": "CurrentAgentState", "objectType": "Agent", "objectId": "eva"},
        {"name": "TimeInCurrentState", "objectType": "Agent", "objectId": "eva"},
        {"name": "OpenRequestsPerStatus", "objectType": "Tenant", "objectId": "Environment"},
        {"name": "OwnOpenRequests", "objectType": "Agent", "objectId": "demo"}]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"]["code"] == 0
    stats = body["data"]["statistics"]
    assert [s["name"] for s in stats] == ["CurrentAgentState", "TimeInCurrentState", "OpenRequestsPerStatus", "OwnOpenRequests"]
    assert stats[0]["value"]["status"] == "WaitForNextCall" and stats[0]["value"]["placeId"] == "EvaPlace"
    assert isinstance(stats[1]["value"]["intValue"], int)
    assert all(isinstance(s["timestamp"], int) and s["timestamp"] > 1_600_000_000_000 for s in stats)
    assert {v["Label"] for v in stats[2]["value"]["Values"]} >= {"New"}


def test_statistic_value(api):
    r = api.stats("GET", "/statistic-values/CurrentReadyAgents?objectType=GroupAgents&objectId=Sales")
    assert r.status_code == 200, r.text
    st = r.json()["data"]["statistic"]
    assert st["name"] == "CurrentReadyAgents" and st["objectType"] == "GroupAgents" and st["value"]["intValue"] >= 0


def test_subscription_lifecycle(api):
    op = uid("op-")
    data = api.subscribe(op, [
        {"statisticId": "a", "name": "ReadyDuration", "objectType": "Agent", "objectId": "eva"},
        {"statisticId": "b", "objectType": "Tenant", "objectId": "Environment",
         "definition": {"category": "CurrentNumber", "subject": "DNStatus", "mainMask": "WaitForNextCall"}},
        {"statisticId": "c", "name": "Hotlist", "objectType": "Agent", "objectId": "demo"}])
    assert data["subscriptionId"] == data["operationId"] == op
    assert [s["statisticId"] for s in data["statistics"]] == ["a", "b", "c"]
    assert data["statistics"][0]["name"] == "ReadyDuration" and data["statistics"][1]["name"] is None
    assert data["statistics"][1]["objectType"] == "Tenant"
    # peek: all, comma-joined, repeated, verbose=OFF
    for query, ids in (("", ["a", "b", "c"]), ("?statisticIds=b,a", ["b", "a"]),
                       ("?statisticIds=c&statisticIds=a", ["c", "a"])):
        r = api.stats("GET", f"/subscriptions/{op}/statistic-values{query}")
        assert r.status_code == 200, r.text
        assert [s["statisticId"] for s in r.json()["data"]["statistics"]] == ids
    r = api.stats("GET", f"/subscriptions/{op}/statistic-values?verbose=OFF")
    s0 = r.json()["data"]["statistics"][0]
    assert set(s0) == {"statisticId", "value", "timestamp"}
    # re-creating with the same operationId replaces it
    api.subscribe(op, [{"statisticId": "z", "name": "InboundCalls", "objectType": "Agent", "objectId": "eva"}],
                  verbose="OFF")
    r = api.stats("GET", f"/subscriptions/{op}/statistic-values")
    assert [s["statisticId"] for s in r.json()["data"]["statistics"]] == ["z"]
    # delete: always success, also for unknown ids
    for _ in range(2):
        r = api.stats("DELETE", f"/subscriptions/{op}")
        assert r.status_code == 200 and r.json()["status"]["code"] == 0
    r = api.stats("GET", f"/subscriptions/{op}/statistic-values")
    assert r.status_code == 404 and r.json()["status"]["detail"]["kind"] == "UnknownSubscription"
    assert api.stats("DELETE", "/subscriptions/never-existed").status_code == 200


def test_every_panel_is_a_statistic(api):
    from services87.engine.model import ALL_PANELS, StatusScreenPanelType

    names = [p.wire_name for p in ALL_PANELS if p is not StatusScreenPanelType.None_]
    r = api.stats("POST", "/operations/get-statistic-ex", json={"data": {"statistics": [
        {"name": n, "objectType": "Tenant", "objectId": "Environment"} for n in names]}})
    assert r.status_code == 200, r.text
    assert [s["name"] for s in r.json()["data"]["statistics"]] == names


def err(r, status: int, kind: str | None = None):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"]["code"] == status and body["status"]["message"] and body["path"].startswith("/statistics/v3")
    if kind:
        assert body["status"]["detail"]["kind"] == kind, body
    return body


def test_auth(api):
    url = api.base + "/statistics/v3/statistic-values/CurrentAgentState?objectType=Agent&objectId=eva"
    err(requests.get(url, timeout=10), 401, "InvalidApiKey")
    err(requests.get(url, headers={"x-api-key": "wrong"}, timeout=10), 401, "InvalidApiKey")
    err(requests.get(url, headers={"x-api-key": API_KEY}, timeout=10), 401, "MissingCredentials")
    err(requests.get(url, headers={"x-api-key": API_KEY, "Authorization": "Bearer nope"}, timeout=10), 401, "InvalidToken")
    err(requests.get(url, headers={"x-api-key": API_KEY, "Authorization": "Basic ZGVtbzpkZW1v"}, timeout=10), 401,
        "UnsupportedScheme")


def test_bad_input(api):
    p = "/operations/get-statistic-ex"
    err(api.stats("POST", p, data=b"{not json"), 400, "InvalidJson")
    err(api.stats("POST", p, data=b""), 400, "InvalidRequest")
    err(api.stats("POST", p, json=[1, 2]), 400, "InvalidRequest")
    err(api.stats("POST", p, json={"data": {"statistics": []}}), 400, "InvalidRequest")
    err(api.stats("POST", p, json={"data": {"statistics": [{"objectType": "Agent", "objectId": "eva"}] * 201}}), 400)
    body = err(api.stats("POST", p, json={"data": {"statistics": [
        {"name": "NoSuchStat", "objectType": "Agent", "objectId": "eva"},
        {"name": "NoSuchStat2", "objectType": "Agent", "objectId": "eva"}]}}), 404)
    assert [e["status"]["detail"]["index"] for e in body["errors"]] == [0, 1]
    body = err(api.stats("POST", p, json={"data": {"statistics": [
        {"name": "CurrentAgentState", "objectType": "Agent", "objectId": "eva"},
        {"name": "CurrentAgentState", "objectType": "Agent", "objectId": "nobody"}]}}), 404, "UnknownObject")
    assert body["errors"][0]["status"]["detail"]["index"] == 1
    body = err(api.stats("POST", p, json={"data": {"statistics": [
        {"name": "CurrentAgentState", "objectType": "Robot", "objectId": "eva"},
        {"name": "CurrentAgentState", "objectType": "Queue", "objectId": "q"},
        {"name": "CurrentAgentState", "objectType": "Agent"},
        "x"]}}), 400)
    assert [e["status"]["detail"]["kind"] for e in body["errors"]] == [
        "InvalidObjectType", "InvalidObjectType", "InvalidDefinition", "InvalidDefinition"]
    err(api.stats("GET", "/statistic-values/CurrentAgentState?objectType=Agent"), 400, "InvalidRequest")
    err(api.stats("GET", "/statistic-values/Nope?objectType=Agent&objectId=eva"), 404, "UnknownStatistic")
    err(api.stats("GET", "/statistic-values/CurrentAgentState?objectType=Queue&objectId=Mars"), 400, "InvalidObjectType")
    err(api.stats("GET", "/statistic-values/CurrentReadyAgents?objectType=Tenant&objectId=Mars"), 404, "UnknownObject")
    s = "/subscriptions"
    err(api.stats("POST", s, json={"data": {"statistics": [{"name": "InboundCalls", "objectType": "Agent", "objectId": "eva"}]}}),
        400, "InvalidRequest")
    err(api.stats("POST", s + "?verbose=LOUD", json={"operationId": "x", "data": {"statistics": []}}), 400, "InvalidRequest")
    body = err(api.stats("POST", s, json={"operationId": uid(), "data": {"statistics": [
        {"statisticId": "1", "name": "InboundCalls", "objectType": "Agent", "objectId": "eva"},
        {"statisticId": "1", "name": "InboundCalls", "objectType": "Agent", "objectId": "eva"},
        {"statisticId": "2", "objectType": "Agent", "objectId": "eva", "definition": {"category": "Bogus"}},
        {"statisticId": "3", "objectType": "Agent", "objectId": "eva", "definition": {"category": "TotalTime", "mainMask": "Sleeping"}},
        {"statisticId": "4", "objectType": "Agent", "objectId": "eva", "definition": "CurrentState"},
        {"statisticId": "5", "objectType": "Agent", "objectId": "eva"}]}}), 400)
    assert len(body["errors"]) == 5 and all(e["status"]["detail"]["kind"] == "InvalidDefinition" for e in body["errors"])
    op = uid()
    api.subscribe(op, [{"statisticId": "a", "name": "InboundCalls", "objectType": "Agent", "objectId": "eva"}])
    err(api.stats("GET", f"/subscriptions/{op}/statistic-values?statisticIds=a,zz"), 404, "UnknownStatistic")
    err(api.stats("GET", "/subscriptions"), 405, "MethodNotAllowed")
    err(api.stats("PUT", f"/subscriptions/{op}"), 405, "MethodNotAllowed")
    err(api.stats("GET", "/nothing/here"), 404, "NotFound")
    err(api.stats("POST", p, data=b"x" * 300000), 413, "TooLarge")
    # another user cannot read or take over the subscription
    from tests.genesys.conftest import Api

    other = Api(api.proc, "anna")
    err(other.stats("GET", f"/subscriptions/{op}/statistic-values"), 404, "UnknownSubscription")
    err(other.stats("POST", "/subscriptions", json={"operationId": op, "data": {"statistics": [
        {"name": "InboundCalls", "objectType": "Agent", "objectId": "eva"}]}}), 403, "Forbidden")
    assert api.stats("GET", f"/subscriptions/{op}/statistic-values").status_code == 200
