"""REST twin fixtures: real server processes driven over real HTTP with ``requests``."""

from __future__ import annotations

import pytest
import requests

from tests.support import ServerProcess

PATH = "/api/v1/Agents/CustomerService/GetStatistics"
TOKEN_PATH = "/auth/v3/oauth/token"
CLIENT = ("demo-client", "demo-secret")
ONLINE_CONFIG = """
installation = "online"
application_tokens = ["good-app-token"]
"""


@pytest.fixture(scope="package")
def rest_server(tmp_path_factory):
    """The REST tests' own server: failed log-ins here cannot throttle anybody else's tests."""
    proc = ServerProcess(tmp_path_factory.mktemp("rest"), demo_requests=400).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def online_server(tmp_path_factory):
    """Online installation: SO-AppToken required."""
    proc = ServerProcess(tmp_path_factory.mktemp("rest-online"), config=ONLINE_CONFIG, demo_requests=100).start()
    bearer(proc)  # fetched before any test can trip the password throttle
    yield proc
    proc.stop()


_BEARER: dict[str, str] = {}
BEARER = object()  #: ``auth=BEARER``: a bearer token for demo, fetched once per server (Argon2 is slow by design)


def bearer(server, user: str = "demo") -> str:
    key = f"{server.base_url}/{user}"
    if key not in _BEARER:
        r = token(server, user, user)
        assert r.status_code == 200, r.text
        _BEARER[key] = r.json()["access_token"]
    return _BEARER[key]


def stats(server, functions=None, *, auth=BEARER, json_body=None, data=None, headers=None,
          params=None, url_path=PATH, **kw) -> requests.Response:
    """POST GetStatistics; JSON body ``{"Functions": functions}`` unless ``data``/``json_body`` is given.
    ``auth`` is :data:`BEARER` (default), a (user, password) tuple for Basic, or None."""
    if data is None and json_body is None and functions is not None:
        json_body = {"Functions": functions}
    headers = dict(headers or {})
    if auth is BEARER:
        headers.setdefault("Authorization", "Bearer " + bearer(server))
        auth = None
    return requests.post(server.base_url + url_path, json=json_body, data=data, headers=headers,
                         params=params, auth=auth, timeout=30, **kw)


def token(server, username="demo", password="demo", client=CLIENT) -> requests.Response:
    return requests.post(server.base_url + TOKEN_PATH, auth=client, timeout=30,
                         data={"grant_type": "password", "username": username, "password": password})


def assert_error(r: requests.Response, status: int, kind: str | None = None) -> dict:
    """A JSON error envelope in the vendor's Web API form, with no trace of a stack."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["Error"] is True and body["status"] == status
    assert isinstance(body["Message"], str) and body["Message"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    if kind is not None:
        assert body["ErrorType"] == kind, body
    return body
