"""bench/push_floor.py, the floor ``push-latency`` is reported beside: a bare Twisted long-polling server.

If it stopped holding connects, or answered a held connect without the event's message, the floor would be
a figure of something else. A real HTTP client walks the path bench/faye/push_latency.js takes: handshake,
subscribe, the first connect (answered at once), a held connect, the ingest that releases it with the event's
place, and a connect after a missed event (answered at once with what was queued).
"""

from __future__ import annotations

import subprocess
import sys
import threading

import requests

from tests.support import ROOT, wait_until

COMET = "/statistics/v3/notifications"


def _post(base: str, path: str, body) -> requests.Response:
    r = requests.post(base + path, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r


def test_the_floor_holds_connects_and_releases_them_with_the_event(tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "push_floor.py"), "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(port_file.exists, 60, "the floor server wrote its port")
        base = f"http://127.0.0.1:{port_file.read_text()}"
        client = _post(base, COMET, [{"channel": "/meta/handshake"}]).json()[0]["clientId"]
        _post(base, COMET, [{"channel": "/meta/subscribe", "clientId": client, "subscription": "/x"}])
        connect = [{"channel": "/meta/connect", "clientId": client, "connectionType": "long-polling"}]
        assert _post(base, COMET, connect).json() == [
            {"channel": "/meta/connect", "successful": True, "advice": {"reconnect": "retry", "interval": 0}}]
        held: list[requests.Response] = []
        poll = threading.Thread(target=lambda: held.append(_post(base, COMET, connect)))
        poll.start()
        poll.join(1.0)
        assert poll.is_alive(), "the second connect was answered at once instead of being held"
        _post(base, "/api/ingest/events", {"events": [{"place": "PL-one"}]})
        poll.join(30)
        assert [m["channel"] for m in held[0].json()] == ["/statistics/v3/updates", "/meta/connect"]
        assert held[0].json()[0]["data"]["place"] == "PL-one"
        # an event while the client is between two connects waits for its next connect
        _post(base, "/api/ingest/events", {"events": [{"place": "PL-two"}]})
        assert _post(base, COMET, connect).json()[0]["data"]["place"] == "PL-two"
    finally:
        proc.terminate()
        proc.wait(30)
