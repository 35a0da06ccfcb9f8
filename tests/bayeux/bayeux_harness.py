"""Helpers for the Bayeux tests: run ``app.py`` in a subprocess and talk raw
Bayeux to it over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import requests

from tests.support import deadline_s, exit_status, tail, track, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MOUNT = "/statistics/v3/notifications"


def port_is_free(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:``port`` now (with SO_REUSEADDR, as Twisted binds)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class AppProcess:
    """The test server (``tests/bayeux/app.py``) in a subprocess on 127.0.0.1.

    Its output goes to a log file the child appends to through its own descriptor; :meth:`log` reads it through
    a new descriptor each time (a descriptor shared with the child shares the file offset, so the child's
    writes would land wherever the reader had just seeked). The port comes from a dedicated file the child
    writes atomically (rename), never from parsing output that may still be half written. Both live in
    ``workdir``, a directory of pytest's (``tmp_path_factory``): pytest keeps those of the last few runs for
    a look after a failure and removes older ones, also after a run that was killed."""

    def __init__(self, *args: str, workdir: str | os.PathLike[str]) -> None:
        self.args = list(args)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir = os.fspath(workdir)
        self.log_path = os.path.join(self.workdir, "app.log")
        self.port_file = os.path.join(self.workdir, "port")
        self.name = "tests/bayeux/app.py " + " ".join(self.args)
        self.exits: list[str] = []

    def start(self, port: int = 0, timeout: float = 60) -> "AppProcess":
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        with open(self.log_path, "ab") as out:  # the child keeps its own (O_APPEND) descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-u", os.path.join(HERE, "app.py"), "--port", str(port),
                 "--port-file", self.port_file, *self.args],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        track(self)

        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"test server exited before it listened: {self.describe()}")
            return os.path.exists(self.port_file)

        try:
            wait_until(listening, timeout, "test server port file")
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.describe()}") from None
        with open(self.port_file) as fh:
            self.port = int(fh.read())
        return self

    def log(self) -> str:
        """Everything the server printed so far (read through a descriptor of our own)."""
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def describe(self) -> str:
        state = exit_status(self.proc.poll()) if self.proc is not None else "stopped by the test"
        earlier = f"; earlier runs: {', '.join(self.exits)}" if self.exits else ""
        return f"{self.name} on port {self.port}: {state}{earlier}\n--- log ({self.log_path}), tail\n{tail(self.log())}"

    def stop(self) -> str:
        """Terminate the server; returns its output (log)."""
        if self.proc is None:
            return self.log()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=deadline_s(20))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.exits.append(exit_status(self.proc.returncode))
        self.proc = None
        return self.log()

    def restart(self, timeout: float = 60) -> str:
        """Stop and start again on the same port (a real restart). Returns the log of the stopped run.

        The port is free once the old process is gone (the server sets SO_REUSEADDR, so connections in
        TIME_WAIT do not hold it), but anything may take it in between: that is checked (bind test) and the
        start retried until the deadline, with the reason in the error."""
        port = self.port
        log = self.stop()
        last = ""

        def started_again() -> bool:
            nonlocal last
            if not port_is_free(port):
                last = f"port {port} is taken by another process"
                return False
            before = len(self.log())
            try:
                self.start(port, timeout=timeout)
                return True
            except RuntimeError as exc:
                last = str(exc)[-3000:]
                if "CannotListenError" in self.log()[before:]:  # taken between the check and the bind
                    return False
                raise

        wait_until(started_again, timeout, f"restart on port {port}", interval=0.2, details=lambda: last)
        return log

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + MOUNT

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{MOUNT}"

    def wait_held(self, client_id: str | None, timeout: float = 15) -> None:
        """Wait until the server holds a ``/meta/connect`` of ``client_id`` (instead of sleeping "long enough")."""
        wait_until(lambda: self.control("sessions").get(client_id, {}).get("held"), timeout,
                   f"a held /meta/connect of {client_id}", details=self.describe)

    def wait_gone(self, client_id: str | None, timeout: float = 15) -> None:
        """Wait until the session ``client_id`` is gone (swept, reset, disconnected)."""
        wait_until(lambda: client_id not in self.control("sessions"), timeout, f"session {client_id} removed",
                   details=self.describe)

    def control(self, action: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        with urllib.request.urlopen(f"{self.base}/control/{action}", data=data, timeout=deadline_s(30)) as response:
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


#: A browser's WebSocket upgrade request (RFC 6455's sample key), for a protocol driven without a socket.
WS_UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def websocket_protocol(transport, **options):
    """A ``BayeuxWebSocketProtocol`` of a fresh server on ``transport``, fed :data:`WS_UPGRADE` (its 101 is
    written to ``transport``); ``options`` are autobahn's protocol options."""
    from twisted.internet.task import Clock

    from services87.bayeux import BayeuxServer, BayeuxSettings
    from services87.bayeux.websocket import BayeuxWebSocketFactory

    factory = BayeuxWebSocketFactory(BayeuxServer(Clock(), BayeuxSettings()))
    if options:
        factory.setProtocolOptions(**options)
    ws = factory.buildProtocol(None)
    ws.makeConnection(transport)
    ws.dataReceived(WS_UPGRADE)
    return ws
