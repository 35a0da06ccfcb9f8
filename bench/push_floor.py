"""The floor of ``push-latency``: the least a Twisted long-polling server on this machine can do.

    python bench/push_floor.py --port-file FILE

Speaks just enough of the paths bench/faye/push_latency.js uses for that client to run unchanged:

* ``POST /statistics/v3/notifications``: a handshake gets a client id, a subscribe succeeds, a connect is
  answered at once when messages wait for its client (or it is the client's first), else held;
* ``POST /statistics/v3/subscriptions``: 200;
* ``POST /api/ingest/events``: the event's ``place`` is put in one message, encoded once, written to every
  held connect at once and queued for the clients that are between two connects; then 200.

No store, no thread hop, no recomputation, no cookies, no checks: only the JSON parse of each request and the
HTTP turn-around of every long poll. What the product's p99 cannot go below on the same machine with the same
client: bench/main.py reports it beside the product's.
"""

from __future__ import annotations

import argparse
import itertools
import json

import baseline  # bench/, the directory of this script
from twisted.web import resource, server

CONNECT_REPLY = b'{"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":0}}'


class Floor(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)
        self.held: dict[str, server.Request] = {}
        self.queued: dict[str, list[bytes]] = {}
        self.connected: set[str] = set()

    def render_POST(self, request: server.Request) -> bytes | int:
        request.setHeader(b"content-type", b"application/json")
        body = json.loads(request.content.read() or b"null")
        path = request.path
        if path.startswith(b"/statistics/v3/notifications"):
            return self.bayeux(request, body)
        if path.startswith(b"/api/ingest/events"):
            self.publish(body["events"][0].get("place", ""))
        return b'{"statusCode":0}'

    def bayeux(self, request: server.Request, messages: list[dict]) -> bytes | int:
        message = messages[0]
        channel = message["channel"]
        if channel == "/meta/handshake":
            client = str(next(self.ids))
            self.queued[client] = []
            return json.dumps([{"channel": channel, "clientId": client, "successful": True}]).encode()
        if channel != "/meta/connect":
            return json.dumps([{"channel": channel, "successful": True}]).encode()
        client = message["clientId"]
        waiting = self.queued.get(client, [])
        if client not in self.connected or waiting:  # a client's first connect is answered at once
            self.connected.add(client)
            self.queued[client] = []
            return b"[" + b",".join([*waiting, CONNECT_REPLY]) + b"]"
        self.held[client] = request
        request.notifyFinish().addErrback(lambda _: self.held.get(client) is request and self.held.pop(client))
        return server.NOT_DONE_YET

    def publish(self, place: str) -> None:
        message = json.dumps({"channel": "/statistics/v3/updates", "data": {"place": place}}).encode()
        body = b"[" + message + b"," + CONNECT_REPLY + b"]"
        held, self.held = self.held, {}
        for client, waiting in self.queued.items():
            request = held.get(client)
            if request is None:
                waiting.append(message)
            elif not request.finished:
                request.setHeader(b"content-length", b"%d" % len(body))
                request.write(body)
                request.finish()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    baseline.serve(Floor(), args.port_file, backlog=4096)


if __name__ == "__main__":
    main()
