"""The official CometD JavaScript client (``cometd`` 9 + ``cometd-nodejs-client``
2) against the server, over long-polling and WebSocket.

Skipped when ``node`` is not on PATH; installs the npm packages into
``tests/bayeux/node`` on first use (``tests.support.node_packages``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import deadline_s, explain, node_packages

pytestmark = pytest.mark.timeout(120)

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


@pytest.fixture(scope="module")
def node_client():
    return node_packages(Path(NODE_DIR))


def test_official_cometd_client(app, node_client):
    result = subprocess.run(
        [node_client, "cometd_client_check.mjs", app.url, app.base + "/control", "long-polling", "websocket"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=deadline_s(120))
    assert result.returncode == 0, explain(result, app)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    by_transport = {line["transport"]: line for line in lines}
    assert set(by_transport) == {"long-polling", "websocket"}
    for transport, line in by_transport.items():
        assert line["usedTransport"] == transport
        assert line["received"] == [
            {"channel": "/statistics/v3/updates", "data": {"transport": transport}},
            {"channel": "/chat/room", "data": {"from": transport}},
        ]
    log = app.log()  # the shared server stays up: the fixture stops it
    assert "Traceback" not in log, log
