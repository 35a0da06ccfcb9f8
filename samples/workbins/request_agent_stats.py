"""Request workbin statistics from a services87 (or GWS) server and print the CometD WorkbinStatsMessage.

    python request_agent_stats.py http://127.0.0.1:8087 anna anna
    python request_agent_stats.py http://127.0.0.1:8087 anna anna --type Place --owner Place1
    python request_agent_stats.py http://127.0.0.1:8087 demo demo --user 00000000000000000000000000000002

Flow (as a GWS client does it): GET /api/v2/me with HTTP Basic starts a session (JSESSIONID cookie) and
hands out the CSRF token; the CometD handshake on /api/v2/notifications carries the same cookie; after
subscribing to /v2/me/workbins, POST /api/v2/workbins answers {"statusCode":0,"referenceId":N} and the
statistics arrive as a CometD message with the same referenceId.

Needs: pip install aiocometd-ng (it brings aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import sys

import aiohttp
from aiocometd_ng import Client, ConnectionType
from aiocometd_ng.extensions import Extension


class SendHeaders(Extension):
    """Adds fixed HTTP headers (here: the session cookie) to every CometD request."""

    def __init__(self, headers: dict[str, str]):
        self.headers = headers

    async def outgoing(self, payload, headers) -> None:
        headers.update(self.headers)

    async def incoming(self, payload, headers=None) -> None:
        pass


async def main(base: str, user: str, password: str, workbin_type: str | None, owner: str | None,
               user_id: str | None, timeout: float) -> int:
    # aiocometd-ng reports the cancelled long poll it leaves behind on close; that is not an error
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda lp, ctx: None if isinstance(ctx.get("exception"), asyncio.CancelledError)
                               else lp.default_exception_handler(ctx))
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    # aiohttp's default cookie jar ignores cookies from IP addresses; keep them all
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base + "/api/v2/me", headers={"Authorization": basic}) as resp:
            me = await resp.json()
            if me.get("statusCode") != 0:
                print(json.dumps(me), file=sys.stderr)
                return 1
            csrf = resp.headers.get(resp.headers.get("X-CSRF-HEADER", "X-CSRF-TOKEN"), "")
            session = resp.cookies["JSESSIONID"].value
        print("logged in as", me["user"]["userName"], me["user"]["id"])

        cookie = {"Cookie": f"JSESSIONID={session}"}
        async with Client(base + "/api/v2/notifications", connection_types=[ConnectionType.LONG_POLLING],
                          extensions=[SendHeaders(cookie)]) as cometd:
            await cometd.subscribe("/v2/me/workbins")
            body = {"operationName": "RequestAgentStats"}
            if workbin_type:
                body["workbinType"] = workbin_type
            if owner:
                body["workbinOwner"] = owner
            url = base + (f"/api/v2/users/{user_id}/workbins" if user_id else "/api/v2/workbins")
            async with http.post(url, json=body, headers={"X-CSRF-TOKEN": csrf}) as resp:
                ack = await resp.json()
            print("HTTP", resp.status, json.dumps(ack))
            if ack.get("statusCode") != 0:
                return 1
            while True:
                message = await asyncio.wait_for(cometd.receive(), timeout)
                data = message.get("data", {})
                if data.get("messageType") == "WorkbinStatsMessage" and data.get("referenceId") == ack["referenceId"]:
                    print("CometD", message["channel"], json.dumps(data, indent=2))
                    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base_url")
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("--type", dest="workbin_type", choices=["Agent", "Place", "AgentGroup", "PlaceGroup"])
    p.add_argument("--owner", help="place, agent group or place group name")
    p.add_argument("--user", dest="user_id", help="32-hex id of another agent (POST /api/v2/users/{id}/workbins)")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()
    logging.getLogger("aiocometd_ng").setLevel(logging.CRITICAL)  # it logs a harmless CancelledError on close
    sys.exit(asyncio.run(main(a.base_url.rstrip("/"), a.user, a.password, a.workbin_type, a.owner, a.user_id,
                              a.timeout)))
