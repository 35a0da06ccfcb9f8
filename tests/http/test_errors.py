"""services87/http/errors.py: one mapping from error type to HTTP status, and every JSON adapter answering the
same error with the same status (each in its own body shape) on a real server."""

from __future__ import annotations

import logging

import pytest
import requests
from twisted.internet import defer

from services87.auth.service import AuthError
from services87.engine.model import EngineError, NotFound, StoreUnavailable, UnknownPanel, ValidationError
from services87.genesys.statistics.api import ApiError
from services87.gws.errors import GwsError
from services87.http import errors
from services87.http.errors import HttpError, RequestTooLarge, UnsupportedMediaType, classify
from services87.rest.errors import RestError
from services87.rest.oauth import OAuthError
from services87.statuspage import BadRequest
from tests.support import ServerProcess

API_KEY = "demo-api-key"


# ---------------------------------------------------------------------------- the mapping
@pytest.mark.parametrize("exc, status, kind", [
    (AuthError("MissingCredentials", "who?"), 401, "MissingCredentials"),
    (AuthError("InvalidCredentials", "no"), 401, "InvalidCredentials"),
    (AuthError("InvalidToken", "no"), 401, "InvalidToken"),
    (AuthError("ExpiredToken", "no"), 401, "ExpiredToken"),
    (AuthError("InvalidApiKey", "no"), 401, "InvalidApiKey"),
    (AuthError("UnsupportedScheme", "no"), 401, "UnsupportedScheme"),
    (AuthError("XsrfTokenMissing", "no"), 403, "XsrfTokenMissing"),
    (AuthError("XsrfTokenMismatch", "no"), 403, "XsrfTokenMismatch"),
    (AuthError("MissingApplicationToken", "no"), 403, "MissingApplicationToken"),
    (AuthError("InvalidApplicationToken", "no"), 403, "InvalidApplicationToken"),
    (AuthError("TooManyAttempts", "slow down"), 429, "TooManyAttempts"),
    (NotFound("no such thing"), 404, "NotFound"),
    (ValidationError("bad"), 400, "ValidationError"),
    (UnknownPanel("Nope"), 400, "UnknownPanel"),
    (EngineError("bad"), 400, "EngineError"),
    (StoreUnavailable("down"), 503, "StoreUnavailable"),
    (defer.TimeoutError(), 504, "BackendTimeout"),
    (RuntimeError("secret detail"), 500, "InternalError"),
    (RequestTooLarge(10), 413, "RequestTooLarge"),
    (UnsupportedMediaType("json please"), 415, "UnsupportedMediaType"),
])
def test_status_of_each_error_type(exc, status, kind):
    c = classify(exc)
    assert (c.status, c.kind) == (status, kind)
    assert c.challenge == (status == 401)


def test_internal_errors_say_nothing_of_the_cause_and_log_as_errors():
    c = classify(KeyError("password=hunter2"))
    assert c.message == errors.INTERNAL_MESSAGE and "hunter2" not in c.message
    assert c.level == logging.ERROR


def test_retry_after_for_an_unavailable_store_and_the_throttle():
    assert classify(StoreUnavailable("down")).retry_after == errors.STORE_RETRY_AFTER
    assert classify(AuthError("TooManyAttempts", "x")).retry_after == errors.THROTTLE_RETRY_AFTER
    assert classify(AuthError("TooManyAttempts", "x"), throttle_retry_after=42).retry_after == 42
    assert classify(AuthError("InvalidToken", "x")).retry_after is None
    assert classify(StoreUnavailable("down")).level == logging.WARNING
    assert classify(AuthError("InvalidToken", "x")).level == logging.INFO


@pytest.mark.parametrize("exc, status", [
    (RestError(409, "Conflict", "x"), 409),
    (ApiError(403, "Forbidden", "someone else's subscription"), 403),
    (GwsError(3, "Missing or invalid Csrf token", http=403), 403),
    (GwsError(6, "gone"), 404),
    (GwsError(10, "bad"), 400),
    (BadRequest("send JSON", "UnsupportedMediaType", 415), 415),
    (OAuthError(400, "invalid_grant", "wrong password"), 400),
])
def test_protocol_errors_keep_the_status_their_protocol_chose(exc, status):
    assert isinstance(exc, HttpError)
    assert classify(exc).status == status


def test_plumbing_error_bodies_by_path_family():
    status, ctype, body = errors.error_body(b"/api/v1/x", None, 413, "RequestTooLarge", "too big")
    assert status == 413 and ctype.startswith(b"application/json") and b'"ErrorType": "RequestTooLarge"' in body
    import services87.soap  # noqa: F401  (registers the SOAP Fault shape for /Remote/)

    status, ctype, body = errors.error_body(b"/Remote/Services87/CustomerService.svc", b"text/xml", 405,
                                            "MethodNotAllowed", "POST only")
    assert ctype.startswith(b"text/xml") and b"Fault" in body and b"MethodNotAllowed" in body


def test_registering_a_prefix_again_replaces_its_shape():
    calls = []

    def shape(status, kind, message, content_type=None, error_id=""):
        calls.append(kind)
        return status, b"text/plain", kind.encode()

    errors.register_path_shape(b"/zz-test/", shape)
    errors.register_path_shape(b"/zz-test/", shape)
    try:
        assert [p for p, _ in errors._path_shapes].count(b"/zz-test/") == 1
        assert errors.error_body(b"/zz-test/a", None, 400, "Bad", "m") == (400, b"text/plain", b"Bad")
    finally:
        errors._path_shapes[:] = [(p, s) for p, s in errors._path_shapes if p != b"/zz-test/"]


# ---------------------------------------------------------------------------- every adapter agrees
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("errors"), demo_requests=50).start()
    yield proc
    proc.stop()


def _adapters(base: str, auth: dict) -> dict[str, requests.Response]:
    """The same request credentials presented to every JSON adapter."""
    h = dict(auth)
    return {
        "rest": requests.post(base + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": []},
                              headers=h, timeout=30),
        "genesys": requests.get(base + "/statistics/v3/statistic-values/CurrentAgentState?objectType=Agent"
                                "&objectId=demo", headers={"x-api-key": API_KEY, **h}, timeout=30),
        "ingest": requests.post(base + "/api/ingest/events", json={"events": []}, headers=h, timeout=30),
        "gws": requests.get(base + "/api/v2/me", headers=h, timeout=30),
        "statuspage": requests.get(base + "/statuspage/api/me", headers=h, timeout=30),
    }


def test_a_bad_credential_is_401_with_a_challenge_everywhere(server):
    answers = _adapters(server.base_url, {"Authorization": "Basic " + "ZGVtbzp3cm9uZw=="})  # demo:wrong
    # the status page authenticates by its session cookie only: no cookie is the same "who are you?"
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 401)
    for name, r in answers.items():
        assert r.headers.get("WWW-Authenticate"), name
        assert r.headers["Content-Type"].startswith("application/json"), name


def test_no_credential_is_401_everywhere(server):
    answers = _adapters(server.base_url, {})
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 401)


def test_an_unknown_path_is_a_json_404_everywhere(server):
    for path in ("/api/v1/nope", "/statistics/v3/nope", "/api/ingest/events/nope", "/api/v2/nope",
                 "/statuspage/api/nope", "/nope"):
        r = requests.get(server.base_url + path, timeout=30)
        assert r.status_code == 404, (path, r.text)
        assert r.headers["Content-Type"].startswith("application/json"), path
