"""Wire-level checks of the WebSocket transport (raw frames via aiohttp)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

pytestmark = [pytest.mark.timeout(30), pytest.mark.filterwarnings("ignore::DeprecationWarning:aiohttp")]


async def control(app, action, payload=None):
    return await asyncio.get_running_loop().run_in_executor(None, app.control, action, payload)


class Frames:
    """Send a batch, read batches, on one WebSocket."""

    def __init__(self, ws):
        self.ws = ws

    async def send(self, *messages):
        await self.ws.send_str(json.dumps(list(messages)))

    async def receive(self, timeout=5.0):
        message = await asyncio.wait_for(self.ws.receive(), timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)

    async def handshake(self):
        await self.send({"channel": "/meta/handshake", "version": "1.0", "id": "1",
                         "supportedConnectionTypes": ["websocket"]})
        [reply] = await self.receive()
        assert reply["successful"], reply
        return reply["clientId"]

    async def connect(self, client_id, **extra):
        await self.send({"channel": "/meta/connect", "clientId": client_id, "connectionType": "websocket", **extra})


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("suffix", ["", "/cometd", "/connect"])
def test_upgrade_cookies_subprotocol_and_hold(app, suffix):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(app.ws_url + suffix, protocols=("cometd",)) as ws:
                assert ws.protocol == "cometd"
                cookies = ws._response.headers.getall("Set-Cookie")
                assert any(c.startswith("BAYEUX_BROWSER=") and "HttpOnly" in c for c in cookies)
                assert any(c.startswith("STATISTICS_SESSIONID=") for c in cookies)
                frames = Frames(ws)
                client_id = await frames.handshake()
                await frames.connect(client_id)
                [first] = await frames.receive()
                assert first["channel"] == "/meta/connect" and first["successful"]
                await frames.send({"channel": "/meta/subscribe", "clientId": client_id,
                                   "subscription": "/statistics/v3/updates", "id": "s"})
                [subscribed] = await frames.receive()
                assert subscribed["successful"]
                started = time.monotonic()
                await frames.connect(client_id)
                await asyncio.to_thread(app.wait_held, client_id)
                await control(app, "publish", {"channel": "/statistics/v3/updates", "data": {"v": 1}})
                # As CometD's WebSocket transport does: the message goes out in a frame of its own at once and
                # the connect stays held (over long-polling the message answers the connect)
                batch = await frames.receive()
                assert time.monotonic() - started < 1.5
                assert batch == [{"channel": "/statistics/v3/updates", "data": {"v": 1}}]
                assert (await control(app, "stats"))["held"] == 1
                await control(app, "publish", {"channel": "/statistics/v3/updates", "data": {"v": 2}})
                assert await frames.receive() == [{"channel": "/statistics/v3/updates", "data": {"v": 2}}]
                [answered] = await frames.receive()  # at the end of its hold time (2 s), with nothing queued
                assert answered["channel"] == "/meta/connect" and answered["successful"]
                assert 1.8 <= time.monotonic() - started < 3.5
                if suffix:
                    return
                # With nothing queued the connect is held for the timeout (2 s).
                started = time.monotonic()
                await frames.connect(client_id)
                [held] = await frames.receive()
                assert 1.8 <= time.monotonic() - started < 3.5 and held["successful"]

    run(scenario())


def test_bad_frames_get_bayeux_errors(app):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(app.ws_url) as ws:
                frames = Frames(ws)
                await ws.send_str("{not json")
                [reply] = await frames.receive()
                assert reply["successful"] is False and reply["error"] == "400::Malformed JSON"
                await ws.send_bytes(b"[]")
                [reply] = await frames.receive()
                assert reply["error"] == "400::Binary frames not supported"
                await frames.send({"channel": "/meta/connect", "clientId": "gone", "connectionType": "websocket"})
                [reply] = await frames.receive()
                assert reply["error"] == "402::Unknown client"
                assert reply["advice"] == {"reconnect": "handshake", "interval": 0}
                client_id = await frames.handshake()  # the socket is still usable
                await frames.send({"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/a//b"})
                [reply] = await frames.receive()
                assert reply["error"] == "405:/a//b:Invalid channel"

    run(scenario())


def test_closed_socket_releases_hold_and_session_expires(app):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(app.ws_url) as ws:
                frames = Frames(ws)
                client_id = await frames.handshake()
                await frames.connect(client_id)
                await frames.receive()
                await frames.connect(client_id)  # held
                await asyncio.to_thread(app.wait_held, client_id)
            stats = await control(app, "stats")
            assert client_id in await control(app, "sessions")
            await asyncio.to_thread(app.wait_gone, client_id)  # max_interval 2 s after the socket closed
            assert ["removed", client_id, "expired"] in await control(app, "events")
            return stats

    stats = run(scenario())
    assert stats["held"] == 0


def test_oversized_frame_closes_connection(app):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(app.ws_url) as ws:
                await ws.send_str(json.dumps([{"channel": "/meta/handshake", "pad": "x" * 40000}]))
                message = await asyncio.wait_for(ws.receive(), 5)
                assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code in (1006, 1009)  # autobahn fails the connection

    run(scenario())


def test_server_log_is_clean(app):
    log = app.log()  # the shared server stays up: the fixture stops it
    assert "Traceback" not in log, log


def _open_protocol(**options):
    """A BayeuxWebSocketProtocol after a real upgrade, on a StringTransport (what it writes is kept)."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport

    from tests.bayeux.bayeux_harness import websocket_protocol

    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5000))
    ws = websocket_protocol(transport, **options)
    assert transport.value().startswith(b"HTTP/1.1 101") and ws._open
    transport.clear()
    return ws, transport


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_the_written_frame_is_the_one_autobahn_writes(size):
    """The frame ``_send_batch`` writes itself (autobahn's ``sendMessage`` cost ~25 us a frame, mostly a debug
    line formatted and not logged) is byte for byte the one ``sendMessage`` writes, at every length encoding."""
    from services87.bayeux.websocket import text_frame

    payload = b"x" * size
    ws, transport = _open_protocol()
    ws.sendMessage(payload, isBinary=False)
    assert transport.value() == text_frame(payload)
    messages = [{"channel": "/a", "data": "y" * size}]
    transport.clear()
    ws._send_batch(messages)
    written = transport.value()
    transport.clear()
    ws.sendMessage(json.dumps(messages, separators=(",", ":")).encode(), isBinary=False)
    assert written == transport.value()
    assert ws.trafficStats.outgoingWebSocketMessages == 3


def test_frames_autobahn_must_shape_go_through_it():
    """Compression, fragmenting, a queued send or a payload over the limit: ``sendMessage`` does it, as before
    (over the limit it refuses)."""
    from autobahn.exception import PayloadExceededError

    ws, transport = _open_protocol(autoFragmentSize=10)
    ws._send_batch([{"channel": "/a", "data": "z" * 40}])
    frames = transport.value()
    assert frames[0] == 0x01 and frames.count(b"\x80") >= 1  # a first fragment, then continuations
    ws, transport = _open_protocol(maxMessagePayloadSize=16)
    with pytest.raises(PayloadExceededError):
        ws._send_batch([{"channel": "/a", "data": "z" * 40}])
    ws, transport = _open_protocol()
    ws.send_queue.append((b"earlier", False))
    assert not ws._plain_text_frame_ok(5)


def test_a_received_frame_formats_no_debug_line(monkeypatch):
    """autobahn's ``dataReceived`` styles a debug line (``autobahn.util.hl``, through click) for every chunk,
    logged or not: ~16 µs of a connect's ~80 µs. Ours hands the bytes on without it, and the message is
    answered as before."""
    import autobahn.util

    ws, transport = _open_protocol()
    styled: list[str] = []
    real = autobahn.util.hl
    monkeypatch.setattr(autobahn.util, "hl", lambda text, *a, **k: styled.append(str(text)) or real(text, *a, **k))
    payload = json.dumps([{"channel": "/meta/handshake", "version": "1.0", "id": "1",
                          "supportedConnectionTypes": ["websocket"]}]).encode()
    key = b"\x01\x02\x03\x04"
    ws.dataReceived(bytes((0x81, 0x80 | len(payload))) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload)))
    frame = transport.value()
    reply = json.loads(frame[4:] if frame[1] == 126 else frame[2:])  # an unmasked text frame from the server
    assert reply[0]["channel"] == "/meta/handshake" and reply[0]["successful"] and reply[0]["id"] == "1"
    assert styled == []
