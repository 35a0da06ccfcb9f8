"""Issue #18, findings 3 and 6 (browser-facing rules): Origin checks on cookie-authenticated WebSockets and
state-changing requests, SameSite on every cookie, no cross-origin log-ins."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import requests

from tests.security.helpers import basic

EVIL = "http://evil.example"


def own(srv) -> str:
    return srv.base_url


def gws_cookie(srv) -> str:
    r = requests.get(srv.base_url + "/api/v2/me", headers={"Authorization": basic("anna", "anna")}, timeout=10)
    assert r.status_code == 200
    return r.cookies["JSESSIONID"]


async def ws_handshake(url: str, headers: dict) -> tuple[int, list]:
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers=headers, protocols=("cometd",), timeout=10) as ws:
                await ws.send_json([{"channel": "/meta/handshake", "version": "1.0",
                                     "supportedConnectionTypes": ["websocket"]}])
                reply = await asyncio.wait_for(ws.receive_json(), 10)
                return 101, reply
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status, []


def test_cross_site_websocket_with_the_victims_cookie_is_refused(srv):
    sid = gws_cookie(srv)
    url = srv.base_url.replace("http", "ws") + "/api/v2/notifications"
    status, _ = asyncio.run(ws_handshake(url, {"Origin": EVIL, "Cookie": "JSESSIONID=" + sid}))
    assert status == 403
    status, reply = asyncio.run(ws_handshake(url, {"Origin": own(srv), "Cookie": "JSESSIONID=" + sid}))
    assert status == 101 and reply[0]["successful"], reply


def test_cross_site_long_polling_and_state_changes_with_cookies_are_refused(srv):
    sid = gws_cookie(srv)
    hs = [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]
    r = requests.post(srv.base_url + "/api/v2/notifications", json=hs, timeout=10,
                      headers={"Origin": EVIL, "Cookie": "JSESSIONID=" + sid})
    assert r.status_code == 403 and r.json()["ErrorType"] == "CrossOriginRequest"
    r = requests.post(srv.base_url + "/api/v2/notifications", json=hs, timeout=10,
                      headers={"Origin": own(srv), "Cookie": "JSESSIONID=" + sid})
    assert r.status_code == 200 and r.json()[0]["successful"]
    r = requests.post(srv.base_url + "/api/v2/workbins", data=b"{}", timeout=10,
                      headers={"Origin": "null", "Cookie": "JSESSIONID=" + sid})
    assert r.status_code == 403


@pytest.mark.parametrize("path,body", [("/api/v1/session", {"UserName": "anna", "Password": "anna"}),
                                       ("/statuspage/api/login", {"login": "anna", "password": "anna"})])
def test_cross_origin_logins_are_refused(srv, path, body):
    r = requests.post(srv.base_url + path, json=body, headers={"Origin": EVIL}, timeout=10)
    assert r.status_code == 403, r.text
    assert "services87-session" not in r.cookies
    r = requests.post(srv.base_url + path, json=body, headers={"Origin": own(srv)}, timeout=10)
    assert r.status_code == 200, r.text


def test_every_cookie_has_samesite(srv):
    headers = []
    r = requests.get(srv.base_url + "/api/v2/me", headers={"Authorization": basic("anna", "anna")}, timeout=10)
    headers += r.raw.headers.getlist("Set-Cookie")
    hs = [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]
    r = requests.post(srv.base_url + "/api/v2/notifications", timeout=10, json=hs,
                      headers={"Authorization": basic("anna", "anna")})
    assert r.json()[0]["successful"], r.text
    headers += r.raw.headers.getlist("Set-Cookie")
    token = requests.post(srv.base_url + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=30,
                          data={"grant_type": "password", "username": "anna", "password": "anna"}).json()["access_token"]
    r = requests.post(srv.base_url + "/statistics/v3/notifications", timeout=10, json=hs,
                      headers={"x-api-key": "demo-api-key", "Authorization": "Bearer " + token})
    assert r.json()[0]["successful"], r.text
    headers += r.raw.headers.getlist("Set-Cookie")
    r = requests.post(srv.base_url + "/statuspage/api/login", json={"login": "anna", "password": "anna"}, timeout=10)
    headers += r.raw.headers.getlist("Set-Cookie")
    names = {h.split("=", 1)[0] for h in headers}
    assert {"JSESSIONID", "BAYEUX_BROWSER", "STATISTICS_SESSIONID", "services87-session", "XSRF-TOKEN"} <= names, names
    for h in headers:
        assert "samesite=lax" in h.lower(), h
