"""A stopped server leaves its SQLite database as one file.

Operators copy or back up ``services87.db`` after ``systemctl stop``. SQLite keeps committed writes in the
write-ahead log (``-wal``) until a checkpoint; the last connection to close folds the log into the database
file and removes it. Connections the server had not closed at exit left the log behind (seen after a
WebSocket CometD session: its objects outlive the reactor until the interpreter ends), so the database file
alone missed the last writes.
"""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from tests.support import ServerProcess


async def _websocket_session(base_url: str) -> None:
    url = base_url.replace("http://", "ws://") + "/statistics/v3/notifications"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, protocols=("cometd",)) as ws:
            await ws.send_json([{"channel": "/meta/handshake", "version": "1.0", "id": "1",
                                 "supportedConnectionTypes": ["websocket"]}])
            reply = await ws.receive_json(timeout=30)
            assert reply[0]["channel"] == "/meta/handshake", reply


def test_a_stopped_server_leaves_no_write_ahead_log(tmp_path):
    db = tmp_path / "services87.db"  # SQLite whatever store the suite runs on: the log is SQLite's
    proc = ServerProcess(tmp_path, db="sqlite:///" + str(db), demo_requests=20).start()
    try:
        asyncio.run(_websocket_session(proc.base_url))
        assert (tmp_path / "services87.db-wal").exists()  # the demo data went through the log
    finally:
        code = proc.stop(signal.SIGTERM)
    assert code == 0, proc.describe()
    assert sorted(p.name for p in tmp_path.glob("services87.db*")) == ["services87.db"], proc.describe()
