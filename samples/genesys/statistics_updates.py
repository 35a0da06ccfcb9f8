"""Subscribe to live statistics of the Genesys Statistics API v3 and print every CometD update (aiocometd-ng).

    python statistics_updates.py http://127.0.0.1:8087 demo demo [--api-key demo-api-key] [--seconds 60]

Flow, as the Genesys statistics client does it: a bearer token from POST /auth/v3/oauth/token; a CometD
handshake on /statistics/v3/notifications with x-api-key + Authorization headers (the server sets the
STATISTICS_SESSIONID cookie); subscribe to /statistics/v3/updates and /statistics/v3/service; then
POST /statistics/v3/subscriptions carrying that cookie, so the updates come to this CometD session.
Needs: pip install aiocometd-ng requests
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import requests
from aiocometd_ng import Client, ConnectionType
from aiocometd_ng.extensions import Extension


class GenesysHeaders(Extension):
    """Sends x-api-key + Authorization on every CometD request and keeps the cookies the server sets."""

    def __init__(self, headers: dict):
        self.headers = headers
        self.cookies: dict[str, str] = {}

    async def outgoing(self, payload, headers):
        headers.update(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def incoming(self, payload, headers=None):
        for value in headers.getall("Set-Cookie", []) if headers is not None and hasattr(headers, "getall") else []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0].strip()


def quiet_cancellation(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Closing the client cancels its pending /meta/connect long-poll; aiocometd-ng's done-callback then reports
    that cancellation through the loop as an error. It is the normal way out, so say nothing about it."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


async def main(base: str, user: str, password: str, api_key: str, seconds: float) -> None:
    asyncio.get_running_loop().set_exception_handler(quiet_cancellation)
    token = requests.post(base + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=10,
                          data={"grant_type": "password", "username": user, "password": password}).json()["access_token"]
    headers = {"x-api-key": api_key, "Authorization": "Bearer " + token}
    ext = GenesysHeaders(headers)
    async with Client(base + "/statistics/v3/notifications", ConnectionType.LONG_POLLING, extensions=[ext]) as client:
        await client.subscribe("/statistics/v3/updates")
        await client.subscribe("/statistics/v3/service")
        op = "py-" + uuid.uuid4().hex[:12]
        cookie = "; ".join(f"{k}={v}" for k, v in ext.cookies.items())
        body = {"operationId": op, "data": {"statistics": [
            {"statisticId": "ready", "name": "CurrentReadyAgents", "objectType": "Tenant", "objectId": "Environment"},
            {"statisticId": "queued", "objectType": "Tenant", "objectId": "Environment",
             "definition": {"category": "CurrentNumber", "subject": "DNAction", "mainMask": "CallWait",
                            "notificationMode": "Immediate"}},
            {"statisticId": "sl", "name": "ServiceLevel", "objectType": "Tenant", "objectId": "Environment"}]}}
        r = requests.post(base + "/statistics/v3/subscriptions?verbose=INFO", json=body, timeout=10,
                          headers={**headers, "Cookie": cookie})
        r.raise_for_status()
        for s in r.json()["data"]["statistics"]:
            print(f"initial {s['statisticId']:8s} {s.get('name') or '':20s} = {s['value']['stringValue']}")
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                try:
                    msg = await asyncio.wait_for(client.receive(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
                data = msg["data"]
                if data.get("name") == "ServiceStateChange":
                    print("service:", data["data"]["serviceState"])
                    continue
                for s in data["data"]["statistics"]:
                    print(f"{s['timestamp']} {s['statisticId']:8s} {s.get('name') or '':20s} "
                          f"{s['objectType']}:{s['objectId']} = {s['value'].get('stringValue', s['value'])}")
        finally:
            requests.delete(f"{base}/statistics/v3/subscriptions/{op}", headers=headers, timeout=10)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base")
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("--api-key", default="demo-api-key")
    p.add_argument("--seconds", type=float, default=60.0)
    a = p.parse_args()
    asyncio.run(main(a.base.rstrip("/"), a.user, a.password, a.api_key, a.seconds))
