"""services87/http/routing.py: every JSON adapter routes with Klein; unknown paths are JSON 404s and wrong methods
405s with ``Allow``, each in the adapter's own body shape (real server, real HTTP)."""

from __future__ import annotations

import time

import pytest
import requests
from twisted.internet import defer

from services87.http.routing import detached
from tests.support import ServerProcess

API_KEY = "demo-api-key"


# ---------------------------------------------------------------------------- detached
def test_cancelling_what_a_route_returned_does_not_cancel_the_work():
    cancelled = []
    work = defer.Deferred(lambda d: cancelled.append(d))
    out = detached(work)
    out.cancel()
    assert cancelled == [] and not work.called
    failures = []
    out.addErrback(failures.append)
    assert failures and failures[0].check(defer.CancelledError)
    work.callback("stored")  # the work still finishes
    assert work.called


def test_the_route_deferred_fires_when_the_work_is_done():
    work = defer.Deferred()
    out = detached(work)
    assert not out.called
    work.callback(None)
    assert out.called


# ---------------------------------------------------------------------------- every adapter
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("routing"), demo_requests=50).start()
    yield proc
    proc.stop()


#: (path, a method the path does not take, the methods it takes, how to read the error's kind)
WRONG_METHOD = [
    ("/api/v1/Agents/CustomerService/GetStatistics", "GET", {"POST"}, lambda j: j["ErrorType"]),
    ("/statistics/v3/operations/get-statistic-ex", "GET", {"POST"}, lambda j: j["status"]["detail"]["kind"]),
    ("/statistics/v3/subscriptions/abc", "PUT", {"DELETE"}, lambda j: j["status"]["detail"]["kind"]),
    ("/statistics/v3/statistic-values/CurrentAgentState", "POST", {"GET", "HEAD"},
     lambda j: j["status"]["detail"]["kind"]),
    ("/api/ingest/events", "GET", {"POST"}, lambda j: j["error"]["kind"]),
    ("/api/v2/me", "POST", {"GET", "HEAD"}, lambda j: "MethodNotAllowed" if j["statusCode"] == 10 else j),
    ("/api/v2/workbins/move", "GET", {"POST"}, lambda j: "MethodNotAllowed" if j["statusCode"] == 10 else j),
    ("/api/v2/users/0123/workbins", "GET", {"POST"}, lambda j: "MethodNotAllowed" if j["statusCode"] == 10 else j),
    ("/statuspage/api/login", "GET", {"POST"}, lambda j: j["ErrorType"]),
    ("/statuspage/api/prefs", "DELETE", {"GET", "HEAD", "PUT"}, lambda j: j["ErrorType"]),
]


@pytest.mark.parametrize("path, method, allowed, kind", WRONG_METHOD, ids=[w[0] + " " + w[1] for w in WRONG_METHOD])
def test_a_wrong_method_is_405_with_allow_in_the_adapters_shape(server, path, method, allowed, kind):
    r = requests.request(method, server.base_url + path, timeout=30)
    assert r.status_code == 405, r.text
    assert set(r.headers["Allow"].split(", ")) == allowed
    assert r.headers["Content-Type"].lower().startswith("application/json")
    assert kind(r.json()) == "MethodNotAllowed"


UNKNOWN = [
    ("/api/v1/Agents/CustomerService/Nope", lambda j: j["ErrorType"] == "NotFound"),
    ("/statistics/v3/nope", lambda j: j["status"]["code"] == 404 and j["path"] == "/statistics/v3/nope"),
    ("/statistics/v3", lambda j: j["status"]["detail"]["kind"] == "NotFound"),
    ("/statistics/v3/subscriptions/a/b/c", lambda j: j["status"]["detail"]["kind"] == "NotFound"),
    ("/statistics/v3/%FF", lambda j: j["status"]["detail"]["kind"] == "NotFound"),
    ("/api/ingest/events/nope", lambda j: j["error"]["kind"] == "NotFound"),
    ("/api/v2/nope", lambda j: j["statusCode"] == 6),
    ("/api/v2/workbins/a/b", lambda j: j["statusCode"] == 6),
    ("/api/v2/users/0123", lambda j: j["statusCode"] == 6),
    ("/api/v2/%FF", lambda j: j["statusCode"] == 6),
    ("/statuspage/api/nope", lambda j: j["ErrorType"] == "NotFound"),
    ("/statuspage/api/me/more", lambda j: j["ErrorType"] == "NotFound"),
]


@pytest.mark.parametrize("path, check", UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_an_unknown_path_is_a_json_404_in_the_adapters_shape(server, path, check):
    r = requests.get(server.base_url + path, timeout=30)
    assert r.status_code == 404, r.text
    assert r.headers["Content-Type"].lower().startswith("application/json")
    assert check(r.json()), r.text


def test_known_paths_route_with_or_without_a_trailing_slash(server):
    base = server.base_url
    for path in ("/statistics/v3/statistic-values/CurrentAgentState?objectType=Agent&objectId=demo",
                 "/statistics/v3/statistic-values/CurrentAgentState/?objectType=Agent&objectId=demo"):
        r = requests.get(base + path, headers={"x-api-key": API_KEY}, timeout=30)
        assert r.status_code == 401 and r.json()["status"]["detail"]["kind"] == "MissingCredentials", r.text
    for path in ("/api/v2/me", "/api/v2/me/", "/api/v2/workbins/", "/statuspage/api/me/"):
        assert requests.get(base + path, timeout=30).status_code == 401, path
    assert requests.post(base + "/api/ingest/events/", json={"events": []}, timeout=30).status_code == 401


def test_head_is_answered_where_get_is(server):
    r = requests.head(server.base_url + "/statuspage/api/me", timeout=30)
    assert r.status_code == 401 and r.content == b""


def test_the_bayeux_endpoints_stay_beside_the_routes(server):
    for path in ("/statistics/v3/notifications", "/api/v2/notifications"):
        r = requests.post(server.base_url + path, json=[{"channel": "/meta/handshake", "version": "1.0",
                                                         "supportedConnectionTypes": ["long-polling"]}], timeout=30)
        assert r.status_code == 200, (path, r.text)
        assert r.json()[0]["channel"] == "/meta/handshake", r.text


# ---------------------------------------------------------------------------- warm answers before the dispatch
#: headers that differ between any two answers (or only name the framing)
_VOLATILE = {"date", "x-request-id", "transfer-encoding", "content-length"}


def _same_answer(first: requests.Response, second: requests.Response) -> None:
    assert (first.status_code, first.content) == (second.status_code, second.content)
    heads = [{k.lower(): v for k, v in r.headers.items() if k.lower() not in _VOLATILE} for r in (first, second)]
    assert heads[0] == heads[1]


def _twice(url: str, **kw) -> tuple[requests.Response, requests.Response]:
    """The same request twice within one second of the clock (an answer's validity covers its clock step, and
    a Statistics value carries the time it was evaluated at)."""
    for _ in range(5):
        t0 = time.time()
        first, second = requests.post(url, timeout=60, **kw), requests.post(url, timeout=60, **kw)
        if int(time.time()) == int(t0):
            break
    return first, second


def _length_when_warm(r: requests.Response, warm: bool) -> None:
    if warm:
        assert int(r.headers["content-length"]) == len(r.content)
    else:
        assert "content-length" not in {k.lower() for k in r.headers}


def test_a_warm_answer_is_the_routed_answer_with_its_length(server):
    """A hot route's warm answer is served before Klein's dispatch (services87/http/routing.py): the same
    status, body and headers as the first, routed answer, and a ``Content-Length`` (the route's answers are
    streamed by Klein without one). A request the warm answer declines (bad credentials) is routed as before.
    On PostgreSQL there is no warm answer on the reactor thread (the version watch has no change signal there:
    docs/performance.md), so every answer is routed: the same answers, no length."""
    base = server.base_url
    warm = server.db.startswith("sqlite")
    token = requests.post(base + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=30,
                          data={"grant_type": "password", "username": "demo", "password": "demo"}).json()
    bearer = {"Authorization": "Bearer " + token["access_token"]}
    rest = base + "/api/v1/Agents/CustomerService/GetStatistics"
    body = {"Functions": ["OpenRequestsPerCategory", "OpenRequestsPerUser"]}
    first, second = _twice(rest, json=body, headers=bearer)
    assert first.status_code == 200, first.text
    _same_answer(first, second)
    _length_when_warm(second, warm)
    refused = requests.post(rest, json=body, headers={"Authorization": "Bearer wrong"}, timeout=60)
    assert refused.status_code == 401 and refused.json()["ErrorType"], refused.text

    genesys = base + "/statistics/v3/operations/get-statistic-ex"
    headers = {"x-api-key": API_KEY, **bearer}
    ask = {"data": {"statistics": [{"statisticId": "ready", "name": "CurrentReadyAgents", "objectType": "Tenant",
                                    "objectId": "Environment"}]}}
    first, second = _twice(genesys, json=ask, headers=headers)
    assert first.status_code == 200, first.text
    _same_answer(first, second)
    _length_when_warm(second, warm)
    refused = requests.post(genesys, json=ask, headers={"x-api-key": "wrong", **bearer}, timeout=60)
    assert refused.status_code in (401, 403) and refused.json()["status"]["detail"]["kind"], refused.text
