"""Credentials of every kind for one user, and checks that each still works (real HTTP, real CometD)."""

from __future__ import annotations

import base64

import requests

from tests.support import wait_until

TOKEN_PATH = "/auth/v3/oauth/token"
CLIENT = ("demo-client", "demo-secret")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Credentials:
    """Everything ``login`` can hold at once: a GWS session (+ a CometD client bound to it), a bearer and a
    refresh token, a REST session and a status-page session (+ the bearer token its /me hands out)."""

    def __init__(self, base: str, login: str, password: str | None = None):
        password = password or login
        self.base = base
        self.gws = requests.Session()
        r = self.gws.get(base + "/api/v2/me", headers={"Authorization": basic(login, password)}, timeout=10)
        assert r.status_code == 200, r.text
        self.jsessionid = self.gws.cookies["JSESSIONID"]
        r = requests.post(base + TOKEN_PATH, auth=CLIENT, timeout=30,
                          data={"grant_type": "password", "username": login, "password": password})
        assert r.status_code == 200, r.text
        self.bearer, self.refresh = r.json()["access_token"], r.json()["refresh_token"]
        self.rest = requests.Session()
        r = self.rest.post(base + "/api/v1/session", json={"UserName": login, "Password": password}, timeout=10)
        assert r.status_code == 200, r.text
        self.page = requests.Session()
        r = self.page.post(base + "/statuspage/api/login", json={"login": login, "password": password}, timeout=10)
        assert r.status_code == 200, r.text
        self.page.headers["X-XSRF-TOKEN"] = self.page.cookies["XSRF-TOKEN"]
        r = self.page.get(base + "/statuspage/api/me", timeout=10)
        assert r.status_code == 200, r.text
        self.page_bearer = r.json()["statistics"]["accessToken"]
        self.cometd = handshake(base, {"Cookie": "JSESSIONID=" + self.jsessionid})
        assert self.cometd is not None

    # each check is a fresh TCP connection (requests.get without a Session for the header-based ones)
    def gws_ok(self) -> bool:
        return requests.get(self.base + "/api/v2/me", cookies={"JSESSIONID": self.jsessionid},
                            timeout=10).status_code == 200

    def bearer_ok(self, token: str | None = None) -> bool:
        r = requests.get(self.base + "/api/v1/session", headers={"Authorization": "Bearer " + (token or self.bearer)},
                         timeout=10)
        return r.status_code == 200

    def refresh_ok(self) -> bool:
        r = requests.post(self.base + TOKEN_PATH, auth=CLIENT, timeout=30,
                          data={"grant_type": "refresh_token", "refresh_token": self.refresh})
        return r.status_code == 200

    def rest_ok(self) -> bool:
        return requests.get(self.base + "/api/v1/session", cookies=self.rest.cookies, timeout=10).status_code == 200

    def page_ok(self) -> bool:
        return requests.get(self.base + "/statuspage/api/me", cookies=self.page.cookies, timeout=10).status_code == 200

    def cometd_ok(self) -> bool:
        return connect(self.base, self.cometd)

    def cometd_handshake_ok(self) -> bool:
        return handshake(self.base, {"Cookie": "JSESSIONID=" + self.jsessionid}) is not None

    def all(self) -> dict[str, bool]:
        return {"gws": self.gws_ok(), "bearer": self.bearer_ok(), "rest": self.rest_ok(), "page": self.page_ok(),
                "page_bearer": self.bearer_ok(self.page_bearer), "cometd": self.cometd_ok(),
                "cometd_handshake": self.cometd_handshake_ok()}


def handshake(base: str, headers: dict, path: str = "/api/v2/notifications") -> str | None:
    r = requests.post(base + path, json=[{"channel": "/meta/handshake", "version": "1.0",
                                          "supportedConnectionTypes": ["long-polling"]}],
                      headers=headers, timeout=10)
    reply = r.json()[0]
    return reply["clientId"] if reply.get("successful") else None


def connect(base: str, client_id: str, path: str = "/api/v2/notifications") -> bool:
    r = requests.post(base + path, json=[{"channel": "/meta/connect", "clientId": client_id,
                                          "connectionType": "long-polling", "advice": {"timeout": 0}}], timeout=40)
    replies = [m for m in r.json() if m.get("channel") == "/meta/connect"]
    return bool(replies and replies[0].get("successful"))


#: How long a test waits for a revocation to end a CometD session (:func:`tests.support.wait_until` stretches
#: it further on a slow machine). Each worker looks every 0.4 s (services87/auth/revocation.py: PERIOD), but a
#: loaded CI machine can stall a process for seconds, so this is a deadline, not a measure; it stays well below
#: FULL_CHECK (60 s), so a revocation that only the minute's full check would catch still fails the test.
REVOKED_WITHIN = 15.0


def wait_revoked(c: Credentials) -> None:
    """Until the CometD client of ``c`` is refused (each try a fresh connection, so on any worker)."""
    wait_until(lambda: not c.cometd_ok(), REVOKED_WITHIN, "the CometD session of revoked credentials ended")
