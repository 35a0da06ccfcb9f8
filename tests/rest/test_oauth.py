"""``POST /auth/v3/oauth/token`` (Genesys Authentication API form) over real HTTP."""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.rest.conftest import CLIENT, TOKEN_PATH, stats, token


def post(server, data, auth=CLIENT, **kw):
    return requests.post(server.base_url + TOKEN_PATH, data=data, auth=auth, timeout=30, **kw)


def oauth_error(r, status: int, error: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["error"] == error and body["error_description"]
    assert "Traceback" not in r.text
    return body


def test_password_grant(rest_server):
    r = token(rest_server)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["scope"]
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["login"] == "demo" and claims["exp"] - claims["iat"] == 3600
    ok = stats(rest_server, ["OwnOpenRequests"], auth=None, headers={"Authorization": "Bearer " + body["access_token"]})
    assert ok.status_code == 200


def test_client_credentials_in_the_body(rest_server):
    r = post(rest_server, {"grant_type": "password", "username": "anna", "password": "anna",
                           "client_id": CLIENT[0], "client_secret": CLIENT[1]}, auth=None)
    assert r.status_code == 200, r.text


def test_refresh_grant_is_single_use(rest_server):
    first = token(rest_server).json()
    r = post(rest_server, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert stats(rest_server, [3], auth=None, headers={"Authorization": "Bearer " + second["access_token"]}
                 ).status_code == 200
    again = post(rest_server, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    oauth_error(again, 400, "invalid_grant")
    oauth_error(post(rest_server, {"grant_type": "refresh_token", "refresh_token": "RT:forged"}), 400, "invalid_grant")


@pytest.mark.parametrize("client", [("demo-client", "wrong"), ("nobody", "demo-secret"), None])
def test_bad_client_is_401(rest_server, client):
    r = post(rest_server, {"grant_type": "password", "username": "demo", "password": "demo"}, auth=client)
    oauth_error(r, 401, "invalid_client")
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_bad_client_header_is_401(rest_server):
    r = post(rest_server, {"grant_type": "password", "username": "demo", "password": "demo"}, auth=None,
             headers={"Authorization": "Bearer something"})
    oauth_error(r, 401, "invalid_client")


def test_bad_password_is_invalid_grant(rest_server):
    oauth_error(token(rest_server, "demo", "not-the-password"), 400, "invalid_grant")


@pytest.mark.parametrize("data,error", [
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({"username": "demo", "password": "demo"}, "invalid_request"),
    ({"grant_type": "password", "username": "demo"}, "invalid_request"),
    ({"grant_type": "refresh_token"}, "invalid_request"),
    ({"grant_type": ["password", "refresh_token"]}, "invalid_request"),
])
def test_malformed_requests_are_400(rest_server, data, error):
    oauth_error(post(rest_server, data), 400, error)


def test_wrong_content_type_method_and_size(rest_server):
    r = requests.post(rest_server.base_url + TOKEN_PATH, data=b"<x/>", auth=CLIENT, timeout=30,
                      headers={"Content-Type": "text/xml"})
    oauth_error(r, 415, "invalid_request")
    r = requests.get(rest_server.base_url + TOKEN_PATH, timeout=30)
    oauth_error(r, 405, "invalid_request")
    assert r.headers["Allow"] == "POST"
    r = post(rest_server, {"grant_type": "password", "pad": "x" * 70000})
    oauth_error(r, 413, "invalid_request")
