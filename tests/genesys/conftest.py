"""Helpers for the Genesys Statistics API / ingest tests: real server processes, real HTTP, aiocometd-ng."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import requests
from aiocometd_ng import Client, ConnectionType
from aiocometd_ng.extensions import Extension

from tests.support import TIME_FACTOR, ServerProcess, deadline_s

API_KEY = "demo-api-key"


def config(workdir, **genesys) -> str:
    """The test servers' [genesys] section. ``cometd_max_interval_ms`` is short so that sweeping is quick to test,
    and stretched by the time factor: a client on a loaded machine must reconnect within it, or its session is
    swept and the messages pushed meanwhile are lost."""
    base = {"outage_file": str(workdir / "store-down"), "health_interval_ms": 200, "recompute_delay_ms": 30,
            "cometd_max_interval_ms": int(1500 * TIME_FACTOR), "time_zone": "UTC", "simulate_interval_ms": 150}
    base.update(genesys)
    lines = ["[genesys]"] + [f"{k} = {v!r}".replace("True", "true").replace("False", "false").replace("'", '"')
                             for k, v in base.items()]
    return "\n".join(lines) + "\n"


class Api:
    """A tiny REST client for one server."""

    def __init__(self, proc: ServerProcess, login: str = "demo"):
        self.proc = proc
        self.login = login
        self.token = None

    @property
    def base(self) -> str:
        return self.proc.base_url

    def refresh_token(self) -> str:
        r = requests.post(self.base + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=10,
                          data={"grant_type": "password", "username": self.login, "password": self.login})
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]
        return self.token

    def headers(self, cookie: str | None = None) -> dict:
        h = {"x-api-key": API_KEY, "Authorization": "Bearer " + (self.token or self.refresh_token())}
        if cookie:
            h["Cookie"] = cookie
        return h

    def stats(self, method: str, path: str, cookie: str | None = None, **kw) -> requests.Response:
        return requests.request(method, self.base + "/statistics/v3" + path, headers=self.headers(cookie),
                                timeout=15, **kw)

    def ingest(self, *events, **kw) -> requests.Response:
        return requests.post(self.base + "/api/ingest/events", headers={"x-api-key": API_KEY}, timeout=15,
                             json={"events": list(events)}, **kw)

    def subscribe(self, op_id: str, stats: list[dict], cookie: str | None = None, verbose: str = "INFO") -> dict:
        r = self.stats("POST", f"/subscriptions?verbose={verbose}", cookie=cookie,
                       json={"operationId": op_id, "data": {"statistics": stats}})
        assert r.status_code == 200, r.text
        return r.json()["data"]


def uid(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:10]


class Headers(Extension):
    """Adds the Genesys headers to every CometD request (as the official clients do) and keeps the cookies the
    server sets (aiohttp's default jar ignores cookies of IP-address hosts such as 127.0.0.1)."""

    def __init__(self, headers: dict):
        self.headers = headers
        self.cookies: dict[str, str] = {}

    async def outgoing(self, payload, headers):
        headers.update(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def incoming(self, payload, headers=None):
        for value in (headers.getall("Set-Cookie", []) if headers is not None and hasattr(headers, "getall") else []):
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0].strip()


class Comet:
    """An aiocometd-ng long-polling client subscribed to both statistics channels."""

    def __init__(self, api: Api):
        self.api = api
        self.ext = Headers({"x-api-key": API_KEY, "Authorization": "Bearer " + (api.token or api.refresh_token())})
        self.client = Client(api.base + "/statistics/v3/notifications", ConnectionType.LONG_POLLING,
                             extensions=[self.ext])

    async def __aenter__(self) -> "Comet":
        await self.client.open()
        await self.client.subscribe("/statistics/v3/updates")
        await self.client.subscribe("/statistics/v3/service")
        return self

    async def __aexit__(self, *exc):
        await self.client.close()

    def cookies(self) -> dict:
        return dict(self.ext.cookies)

    @property
    def cookie_header(self) -> str:
        c = self.cookies()
        return f"STATISTICS_SESSIONID={c['STATISTICS_SESSIONID']}; BAYEUX_BROWSER={c['BAYEUX_BROWSER']}"

    async def next(self, timeout: float = 10.0, where=lambda m: True) -> dict:
        deadline = time.monotonic() + deadline_s(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching CometD message")
            msg = await asyncio.wait_for(self.client.receive(), left)
            if where(msg):
                return msg

    async def quiet(self, seconds: float) -> list:
        """Messages received within ``seconds`` (expected: none)."""
        got = []
        try:
            while True:
                got.append(await asyncio.wait_for(self.client.receive(), seconds))
        except asyncio.TimeoutError:
            return got


def update_for(sub_id: str, stat_id: str | None = None):
    def match(msg):
        if msg.get("channel") != "/statistics/v3/updates":
            return False
        stats = msg["data"]["data"]["statistics"]
        return any(s["subscriptionId"] == sub_id and (stat_id is None or s["statisticId"] == stat_id) for s in stats)
    return match


def service_state(state: str):
    return lambda m: m.get("channel") == "/statistics/v3/service" and m["data"]["data"]["serviceState"] == state


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """One server (demo data, no simulator) for the deterministic tests of this package."""
    work = tmp_path_factory.mktemp("genesys")
    proc = ServerProcess(work, config=config(work), demo_requests=60).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def api(server) -> Api:
    return Api(server)
