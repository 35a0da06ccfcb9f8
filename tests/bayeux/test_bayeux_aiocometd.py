"""Conformance with an independent client: aiocometd-ng, over long-polling
and WebSocket."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiocometd_ng import Client, ConnectionType

from bayeux_harness import AppProcess

from tests.support import deadline_s

pytestmark = [pytest.mark.timeout(30), pytest.mark.filterwarnings("ignore::DeprecationWarning:aiohttp")]

TRANSPORTS = [ConnectionType.LONG_POLLING, ConnectionType.WEBSOCKET]


# These tests check the protocol with an independent client, not session expiry: with the shared servers'
# max-interval of 2 s, a client on a loaded machine that reconnected late was swept (402) and aiocometd-ng gave
# up with "Connect request failed". Their servers allow 30 s between connects.
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    process = AppProcess("--max-interval", "30", workdir=tmp_path_factory.mktemp("bayeux-app")).start()
    yield process
    process.stop()


@pytest.fixture
def fresh_app(tmp_path_factory):
    process = AppProcess("--max-interval", "30", workdir=tmp_path_factory.mktemp("bayeux-app")).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def quiet_client_logs(caplog):
    # aiocometd-ng logs a harmless CancelledError when it closes.
    caplog.set_level(logging.CRITICAL, logger="aiocometd_ng")


async def control(app, action, payload):
    return await asyncio.get_running_loop().run_in_executor(None, app.control, action, payload)


async def next_message(client, timeout=5.0):
    return await asyncio.wait_for(client.receive(), timeout)


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.value)
def test_subscribe_and_receive(app, transport):
    async def scenario():
        async with Client(app.url, connection_types=[transport]) as client:
            await client.subscribe("/statistics/v3/updates")
            await client.subscribe("/statistics/v3/service")
            sent = {"statistics": [{"statisticId": "s1", "value": 3}]}
            assert (await control(app, "publish", {"channel": "/statistics/v3/updates", "data": sent}))["recipients"] >= 1
            await control(app, "publish", {"channel": "/statistics/v3/service", "data": {"serviceState": "AVAILABLE"}})
            first = await next_message(client)
            second = await next_message(client)
            assert first == {"channel": "/statistics/v3/updates", "data": sent}
            assert second["data"] == {"serviceState": "AVAILABLE"}
            sessions = await control(app, "sessions", None)
            session = sessions[client._transport.client_id]
            assert session["connection_type"] == transport.value
            assert session["attributes"]["peer"].startswith("127.0.0.1:")

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.value)
def test_client_publish_and_private_delivery(app, transport):
    async def scenario():
        async with Client(app.url, connection_types=[transport]) as client:
            await client.subscribe("/chat/room")
            await client.publish("/chat/room", {"text": "hello"})
            assert (await next_message(client)) == {"channel": "/chat/room", "data": {"text": "hello"}}
            client_id = client._transport.client_id
            await control(app, "deliver", {"clientId": client_id, "channel": "/v2/me/workbins",
                                           "data": {"messageType": "WorkbinStatsMessage", "referenceId": 1}})
            message = await next_message(client)
            assert message["channel"] == "/v2/me/workbins" and message["data"]["referenceId"] == 1

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.value)
def test_client_rehandshakes_after_reset(fresh_app, transport):
    async def scenario():
        async with Client(fresh_app.url, connection_types=[transport]) as client:
            await client.subscribe("/statistics/v3/updates")
            old = client._transport.client_id
            await control(fresh_app, "reset", None)
            # The held connect is answered with 402 + reconnect:handshake; the
            # client handshakes again and re-subscribes by itself.
            deadline = time.monotonic() + deadline_s(30)
            while True:
                sessions = await control(fresh_app, "sessions", None)
                if any("/statistics/v3/updates" in s["subscriptions"] for s in sessions.values()):
                    break
                if time.monotonic() > deadline:
                    pytest.fail("client did not re-handshake and re-subscribe")
                await asyncio.sleep(0.05)
            assert client._transport.client_id != old
            await control(fresh_app, "publish", {"channel": "/statistics/v3/updates", "data": {"after": "reset"}})
            assert (await next_message(client))["data"] == {"after": "reset"}

    asyncio.run(scenario())
