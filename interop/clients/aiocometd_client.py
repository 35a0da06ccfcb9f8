"""aiocometd-ng against /statistics/v3/notifications: handshake with the Genesys headers, subscribe to
/statistics/v3/updates, print READY, wait for one pushed StatisticUpdate, print ``UPDATE <json>``, disconnect.

    python aiocometd_client.py --url URL --token BEARER --api-key KEY [--transport long-polling|websocket]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from aiocometd_ng import Client, ConnectionType
from aiocometd_ng.extensions import Extension


class Headers(Extension):
    """Adds the Genesys headers to every CometD request."""

    def __init__(self, headers: dict):
        self.headers = headers

    async def outgoing(self, payload, headers):
        headers.update(self.headers)

    async def incoming(self, payload, headers=None):
        pass


async def run(args) -> int:
    kind = ConnectionType.WEBSOCKET if args.transport == "websocket" else ConnectionType.LONG_POLLING
    headers = Headers({"x-api-key": args.api_key, "Authorization": "Bearer " + args.token})
    async with Client(args.url, connection_types=[kind], extensions=[headers]) as client:
        await client.subscribe("/statistics/v3/updates")
        print("READY", flush=True)
        async for message in client:
            if message.get("channel") == "/statistics/v3/updates":
                print("UPDATE " + json.dumps({"transport": args.transport, "data": message.get("data")}), flush=True)
                return 0
    return 1


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--api-key", required=True)
    p.add_argument("--transport", default="long-polling")
    args = p.parse_args()
    return asyncio.run(asyncio.wait_for(run(args), 30))


if __name__ == "__main__":
    sys.exit(main())
