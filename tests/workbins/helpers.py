"""A small GWS client for the tests: requests for HTTP, aiocometd-ng for CometD, sharing the session cookie."""

from __future__ import annotations

import asyncio
import base64

import requests
from aiocometd_ng import Client, ConnectionType
from aiocometd_ng.extensions import Extension

CHANNEL = "/v2/me/workbins"
SEED_PLACE = b'{\n  "operationName": "RequestAgentStats",\n  "workbinType": "Place",\n  "workbinOwner": "Place1",\n}'
SEED_AGENT_GROUP = (b'{\n  "operationName": "RequestAgentStats",\n  "workbinType": "AgentGroup",\n'
                    b'  "workbinOwner": "ServiceAgentGroup",\n}')
SEED_PLACE_GROUP = (b'{\n  "operationName": "RequestAgentStats",\n  "workbinType": "PlaceGroup",\n'
                    b'  "workbinOwner": "ServicePlaceGroup",\n}')
SEED_AGENT = b'{\n  "operationName": "RequestAgentStats"\n}'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SendHeaders(Extension):
    def __init__(self, headers: dict[str, str]):
        self.headers = headers

    async def outgoing(self, payload, headers) -> None:
        headers.update(self.headers)

    async def incoming(self, payload, headers=None) -> None:
        pass


class Gws:
    """A logged-in GWS session (GET /api/v2/me with Basic auth)."""

    def __init__(self, base: str, user: str = "anna", password: str | None = None):
        self.base = base
        self.http = requests.Session()
        r = self.http.get(base + "/api/v2/me", headers={"Authorization": basic(user, password or user)}, timeout=10)
        assert r.status_code == 200, r.text
        self.me = r.json()["user"]
        self.csrf = r.headers["X-CSRF-TOKEN"]
        self.cookie = "JSESSIONID=" + self.http.cookies["JSESSIONID"]

    def post(self, path: str, body: bytes | dict, csrf: bool = True, **kw) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if csrf:
            headers["X-CSRF-TOKEN"] = self.csrf
        if isinstance(body, dict):
            return self.http.post(self.base + path, json=body, headers=headers, timeout=10, **kw)
        return self.http.post(self.base + path, data=body, headers=headers, timeout=10, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.base + path, timeout=10, **kw)

    def workbins(self, workbin_type: str | None = None, owner: str | None = None) -> dict[str, dict]:
        params = {}
        if workbin_type:
            params["workbinType"] = workbin_type
        if owner:
            params["workbinOwner"] = owner
        r = self.get("/api/v2/workbins", params=params)
        assert r.status_code == 200, r.text
        return {w["id"]: w for w in r.json()["workbins"]}

    def move(self, request: str | int, workbin: str | None) -> dict:
        r = self.post("/api/v2/workbins/move", {"request": request, "workbin": workbin})
        assert r.status_code == 200, r.text
        return r.json()

    def cometd(self, headers: dict[str, str] | None = None) -> Client:
        return Client(self.base + "/api/v2/notifications", connection_types=[ConnectionType.LONG_POLLING],
                      extensions=[SendHeaders(headers if headers is not None else {"Cookie": self.cookie})])


async def in_thread(fn, *args, **kw):
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kw))


async def next_stats(client: Client, reference_id: int | None = None, timeout: float = 5.0, where=None) -> dict:
    """The next WorkbinStatsMessage (with ``reference_id`` and matching ``where(data)``, if given)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"no WorkbinStatsMessage for referenceId {reference_id} within {timeout}s")
        message = await asyncio.wait_for(client.receive(), left)
        data = message.get("data") or {}
        if data.get("messageType") != "WorkbinStatsMessage":
            continue
        if reference_id is not None and data.get("referenceId") != reference_id:
            continue
        if where is not None and not where(data):
            continue
        assert message["channel"] == CHANNEL
        return data


async def no_message(client: Client, wait: float = 0.6) -> None:
    try:
        message = await asyncio.wait_for(client.receive(), wait)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected message {message}")


async def collect(client: Client, wanted: dict[str, object], timeout: float = 5.0) -> dict[str, dict]:
    """Read WorkbinStatsMessages until each predicate in ``wanted`` (name -> fn(data)) matched one of them;
    messages may arrive in any order."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: dict[str, dict] = {}
    while len(found) < len(wanted):
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"missing messages: {sorted(set(wanted) - set(found))}")
        data = (await asyncio.wait_for(client.receive(), left)).get("data") or {}
        for name, pred in wanted.items():
            if name not in found and data.get("messageType") == "WorkbinStatsMessage" and pred(data):
                found[name] = data
                break
    return found
