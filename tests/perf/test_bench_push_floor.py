"""bench/push_floor.py, the floor ``push-latency`` and ``push-latency-ws`` are reported beside: a bare Twisted
long-polling and WebSocket server.

If it stopped holding connects, or answered a held connect without the event's message, the floor would be
a figure of something else. A real HTTP client walks the path bench/faye/push_latency.js takes: handshake,
subscribe, the first connect (answered at once), a held connect, the ingest that releases it with the event's
place, and a connect after a missed event (answered at once with what was queued). Over WebSocket (aiohttp's
client), the handshake and subscribe are answered, the connect is held, and an event comes in a frame of its own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import aiohttp
import pytest

import requests

from tests.support import ROOT, wait_until

COMET = "/statistics/v3/notifications"


def _post(base: str, path: str, body) -> requests.Response:
    r = requests.post(base + path, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r


@pytest.fixture
def floor(tmp_path):
    """The base URL of a running bench/push_floor.py."""
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "push_floor.py"), "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(port_file.exists, 60, "the floor server wrote its port")
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_floor_holds_connects_and_releases_them_with_the_event(floor):
    client = _post(floor, COMET, [{"channel": "/meta/handshake"}]).json()[0]["clientId"]
    _post(floor, COMET, [{"channel": "/meta/subscribe", "clientId": client, "subscription": "/x"}])
    connect = [{"channel": "/meta/connect", "clientId": client, "connectionType": "long-polling"}]
    assert _post(floor, COMET, connect).json() == [
        {"channel": "/meta/connect", "successful": True, "advice": {"reconnect": "retry", "interval": 0}}]
    held: list[requests.Response] = []
    poll = threading.Thread(target=lambda: held.append(_post(floor, COMET, connect)))
    poll.start()
    poll.join(1.0)
    assert poll.is_alive(), "the second connect was answered at once instead of being held"
    _post(floor, "/api/ingest/events", {"events": [{"place": "PL-one"}]})
    poll.join(30)
    assert [m["channel"] for m in held[0].json()] == ["/statistics/v3/updates", "/meta/connect"]
    assert held[0].json()[0]["data"]["place"] == "PL-one"
    # an event while the client is between two connects waits for its next connect
    _post(floor, "/api/ingest/events", {"events": [{"place": "PL-two"}]})
    assert _post(floor, COMET, connect).json()[0]["data"]["place"] == "PL-two"


def test_the_websocket_floor_holds_the_connect_and_sends_each_event_in_a_frame(floor):
    async def session() -> list:
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(floor.replace("http", "ws") + COMET, protocols=("cometd",)) as ws:
            assert ws.protocol == "cometd"
            await ws.send_str(json.dumps([{"channel": "/meta/handshake", "id": "1"}]))
            handshake = json.loads(await ws.receive_str(timeout=30))
            assert handshake[0]["successful"] and handshake[0]["id"] == "1" and handshake[0]["clientId"]
            await ws.send_str(json.dumps([{"channel": "/meta/subscribe", "id": "2", "subscription": "/x"}]))
            assert json.loads(await ws.receive_str(timeout=30))[0]["successful"]
            await ws.send_str(json.dumps([{"channel": "/meta/connect", "id": "3", "connectionType": "websocket"}]))
            with pytest.raises(asyncio.TimeoutError):  # the connect is held
                await ws.receive_str(timeout=1)
            await asyncio.to_thread(_post, floor, "/api/ingest/events", {"events": [{"place": "PL-ws"}]})
            return json.loads(await ws.receive_str(timeout=30))

    assert asyncio.run(session()) == [{"channel": "/statistics/v3/updates", "data": {"place": "PL-ws"}}]
