"""Helpers for the Bayeux tests: run ``app.py`` in a subprocess and talk raw
Bayeux to it over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MOUNT = "/statistics/v3/notifications"


class AppProcess:
    """The test server (``tests/bayeux/app.py``) in a subprocess on 127.0.0.1."""

    def __init__(self, *args: str) -> None:
        self.args = list(args)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.output: Any = None

    def start(self, port: int = 0) -> "AppProcess":
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        # Output goes to a file, not a pipe, so a chatty server can never block.
        self.output = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(HERE, "app.py"), "--port", str(port), *self.args],
            stdout=self.output, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                if line.startswith("PORT "):
                    self.port = int(line.split()[1])
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"test server exited with {self.proc.returncode}: {self.log()}")
            time.sleep(0.02)
        log = self.stop()
        raise RuntimeError(f"test server did not report its port: {log}")

    def log(self) -> str:
        """Everything the server printed so far."""
        if self.output is None:
            return ""
        self.output.seek(0)
        return self.output.read().decode("utf-8", "replace")

    def stop(self) -> str:
        """Terminate the server; returns its output (log)."""
        if self.proc is None:
            return ""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        log = self.log()
        self.output.close()
        self.output = None
        return log

    def restart(self) -> str:
        """Stop and start again on the same port (a real restart)."""
        port = self.port
        log = self.stop()
        for _ in range(50):
            try:
                self.start(port)
                return log
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError("could not restart on the same port")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + MOUNT

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{MOUNT}"

    def control(self, action: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        with urllib.request.urlopen(f"{self.base}/control/{action}", data=data, timeout=5) as response:
            return json.loads(response.read())


class RawClient:
    """A hand-driven Bayeux client: exact requests, exact replies."""

    def __init__(self, app: AppProcess, **headers: str) -> None:
        self.app = app
        self.http = requests.Session()
        self.http.headers.update(headers)
        self.client_id: str | None = None
        self._id = 0

    def next_id(self) -> str:
        self._id += 1
        return str(self._id)

    def post(self, body: Any, path: str = "", *, raw: bool = False, timeout: float = 10,
             content_type: str | None = "application/json;charset=UTF-8") -> requests.Response:
        data = body if raw else json.dumps(body)
        headers = {"Content-Type": content_type} if content_type else {}
        return self.http.post(self.app.url + path, data=data, headers=headers, timeout=timeout)

    def send(self, *messages: dict[str, Any], path: str = "") -> list[dict[str, Any]]:
        response = self.post(list(messages), path)
        assert response.status_code == 200, response.text
        return response.json()

    def handshake(self, **extra: Any) -> dict[str, Any]:
        message = {"channel": "/meta/handshake", "version": "1.0", "minimumVersion": "1.0",
                   "supportedConnectionTypes": ["long-polling"], "id": self.next_id(), **extra}
        reply = self.send(message, path="/handshake")
        assert reply[0]["successful"], reply
        self.client_id = reply[0]["clientId"]
        return reply[0]

    def connect_message(self, **extra: Any) -> dict[str, Any]:
        return {"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling",
                "id": self.next_id(), **extra}

    def connect(self, **extra: Any) -> tuple[list[dict[str, Any]], float]:
        """Send ``/meta/connect``; returns (reply batch, seconds it took)."""
        started = time.monotonic()
        reply = self.send(self.connect_message(**extra), path="/connect")
        return reply, time.monotonic() - started

    def subscribe(self, *channels: str) -> dict[str, Any]:
        subscription: Any = channels[0] if len(channels) == 1 else list(channels)
        return self.send({"channel": "/meta/subscribe", "clientId": self.client_id,
                          "subscription": subscription, "id": self.next_id()}, path="/subscribe")[0]

    def unsubscribe(self, channel: str) -> dict[str, Any]:
        return self.send({"channel": "/meta/unsubscribe", "clientId": self.client_id,
                          "subscription": channel, "id": self.next_id()}, path="/unsubscribe")[0]

    def disconnect(self) -> dict[str, Any]:
        return self.send({"channel": "/meta/disconnect", "clientId": self.client_id,
                          "id": self.next_id()}, path="/disconnect")[0]


def meta_reply(batch: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    """The reply on *channel* in *batch* (exactly one expected)."""
    found = [m for m in batch if m.get("channel") == channel]
    assert len(found) == 1, batch
    return found[0]


def data_messages(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Non-meta messages of *batch*."""
    return [m for m in batch if not m.get("channel", "").startswith("/meta/")]
