"""The floor of ``push-latency`` and ``push-latency-ws``: the least a Twisted server on this machine can do.

    python bench/push_floor.py --port-file FILE

Speaks just enough of the paths bench/faye/push_latency.js uses for that client to run unchanged:

* ``POST /statistics/v3/notifications``: a handshake gets a client id, a subscribe succeeds, a connect is
  answered at once when messages wait for its client (or it is the client's first), else held;
* ``POST /statistics/v3/subscriptions``: 200;
* a WebSocket (``cometd`` subprotocol, autobahn) on the same path: a handshake gets a client id, a subscribe
  succeeds, connects are held (never answered: the run is shorter than any connect timeout);
* ``POST /statistics/v3/subscriptions``: 200;
* ``POST /api/ingest/events``: the event's ``place`` is put in one message, encoded once, written to every
  held connect at once and queued for the long-polling clients that are between two connects; every
  WebSocket gets it in a frame of its own, written straight to the connection; then 200.

No store, no thread hop, no recomputation, no cookies, no checks: only the JSON parse of each request and the
HTTP turn-around of every long poll, or one frame per WebSocket. What the product's p99 cannot go below on the
same machine with the same client: bench/main.py reports it beside the product's.
"""

from __future__ import annotations

import argparse
import itertools
import json

import baseline  # bench/, the directory of this script
from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.web import resource, server

from services87.bayeux.websocket import text_frame  # the server's own framing: a pure function

CONNECT_REPLY = b'{"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":0}}'


class Floor(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)
        self.held: dict[str, server.Request] = {}
        self.queued: dict[str, list[bytes]] = {}
        self.connected: set[str] = set()
        self.sockets: list[FloorSocket] = []
        factory = WebSocketServerFactory()
        factory.setProtocolOptions(autoPingInterval=0)
        factory.protocol = lambda: FloorSocket(self)
        self.websocket = WebSocketResource(factory)

    def render_GET(self, request: server.Request) -> bytes | int:
        return self.websocket.render(request)

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
        frame = text_frame(b"[" + message + b"]")
        for socket in self.sockets:
            socket.transport.write(frame)
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


class FloorSocket(WebSocketServerProtocol):
    def __init__(self, floor: Floor) -> None:
        super().__init__()
        self.floor = floor

    def onConnect(self, request) -> str | None:
        return "cometd" if "cometd" in request.protocols else None

    def onOpen(self) -> None:
        self.floor.sockets.append(self)

    def onClose(self, wasClean, code, reason) -> None:
        if self in self.floor.sockets:
            self.floor.sockets.remove(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        for message in json.loads(payload):
            channel = message["channel"]
            if channel == "/meta/connect":
                continue  # held for the length of the run
            reply = {"channel": channel, "id": message.get("id"), "successful": True}
            if channel == "/meta/handshake":
                reply["clientId"] = str(next(self.floor.ids))
            self.sendMessage(json.dumps([reply]).encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    baseline.serve(Floor(), args.port_file, backlog=4096)


if __name__ == "__main__":
    main()
