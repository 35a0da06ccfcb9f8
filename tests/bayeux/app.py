"""A tiny Bayeux test server, run in a subprocess by the tests.

    python tests/bayeux/app.py --port 0 --timeout 2 --max-interval 2

Mounts the Bayeux resource at ``--mount`` (default
``/statistics/v3/notifications``) and a JSON control API at ``/control/``
so tests can trigger server-side publishes. Prints ``PORT <n>`` once
listening on 127.0.0.1 (and writes ``<n>`` to ``--port-file``, atomically).

Hooks used by the tests:

* handshake with header ``x-api-key: bad`` is denied;
* subscriptions to ``/private/**`` are denied;
* clients may publish to ``/chat/**`` (broadcast) and ``/service/echo``
  (answered to the sender only, on ``/service/echo``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from twisted.internet import reactor  # noqa: E402
from twisted.logger import (  # noqa: E402
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)
from twisted.web.resource import Resource  # noqa: E402
from twisted.web.server import Site  # noqa: E402

from services87.bayeux import BayeuxHooks, BayeuxServer, BayeuxSettings, Denied  # noqa: E402


class TestHooks(BayeuxHooks):
    def __init__(self) -> None:
        self.events: list[list[Any]] = []
        self.server: BayeuxServer | None = None

    def authenticate_handshake(self, request, message):
        if request.header("x-api-key") == "bad":
            raise Denied("Invalid API key")
        return {"api_key": request.header("x-api-key"), "transport": request.transport, "peer": request.peer}

    def can_subscribe(self, session, channel, message):
        return not channel.startswith("/private/")

    def can_publish(self, session, channel, message):
        return channel.startswith("/chat/") or channel == "/service/echo"

    def on_publish(self, session, channel, message):
        if channel == "/service/echo":
            assert self.server is not None
            self.server.deliver(session, "/service/echo", {"echo": message["data"]})

    def on_session_added(self, session):
        self.events.append(["added", session.id])

    def on_subscribe(self, session, channel):
        self.events.append(["subscribe", session.id, channel])

    def on_unsubscribe(self, session, channel):
        self.events.append(["unsubscribe", session.id, channel])

    def on_session_removed(self, session, reason):
        self.events.append(["removed", session.id, reason])


class Control(Resource):
    """``/control/<action>``: JSON in, JSON out."""

    isLeaf = True

    def __init__(self, bayeux: BayeuxServer, hooks: TestHooks) -> None:
        super().__init__()
        self.bayeux = bayeux
        self.hooks = hooks

    def render(self, request):
        action = request.postpath[0].decode() if request.postpath else ""
        body = request.content.read() if request.method == b"POST" else b""
        args = json.loads(body) if body else {}
        bayeux = self.bayeux
        if action == "publish":
            result: Any = {"recipients": bayeux.publish(args["channel"], args.get("data"))}
        elif action == "publish_many":
            for i in range(args["count"]):
                bayeux.publish(args["channel"], {"n": i})
            result = {"ok": True}
        elif action == "deliver":
            result = {"ok": bayeux.deliver(args["clientId"], args["channel"], args.get("data"))}
        elif action == "reset":
            bayeux.reset()
            result = {"ok": True}
        elif action == "sessions":
            result = {
                sid: {"queued": s.queue_size, "dropped": s.dropped, "subscriptions": sorted(s.subscriptions),
                      "attributes": s.attributes, "browser_id": s.browser_id,
                      "session_cookie": s.session_cookie, "connection_type": s.connection_type,
                      "held": s.held is not None}
                for sid, s in bayeux.sessions.items()
            }
        elif action == "events":
            result = self.hooks.events
        elif action == "stats":
            result = bayeux.stats()
        else:
            request.setResponseCode(404)
            result = {"error": "unknown action"}
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(result).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="also write the bound port to this file (atomically, by rename)")
    parser.add_argument("--mount", default="/statistics/v3/notifications")
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--max-interval", type=float, default=2.0)
    parser.add_argument("--sweep-period", type=float, default=0.2)
    parser.add_argument("--max-queue", type=int, default=5)
    parser.add_argument("--max-sessions", type=int, default=1000)
    parser.add_argument("--max-batch", type=int, default=20)
    parser.add_argument("--max-message-size", type=int, default=16384)
    parser.add_argument("--session-cookie", default="STATISTICS_SESSIONID")
    options = parser.parse_args(argv)
    # Warnings and errors (with tracebacks) go to stdout, which the tests inspect.
    globalLogBeginner.beginLoggingTo([FilteringLogObserver(
        textFileLogObserver(sys.stdout), [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)])],
        redirectStandardIO=False)

    settings = BayeuxSettings(
        timeout=options.timeout,
        max_interval=options.max_interval,
        sweep_period=options.sweep_period,
        max_queue=options.max_queue,
        max_sessions=options.max_sessions,
        max_batch=options.max_batch,
        max_message_size=options.max_message_size,
        session_cookie_name=options.session_cookie or None,
    )
    hooks = TestHooks()
    bayeux = BayeuxServer(reactor, settings, hooks)
    hooks.server = bayeux

    root = Resource()
    parent = root
    segments = [s.encode() for s in options.mount.strip("/").split("/")]
    for segment in segments[:-1]:
        child = Resource()
        parent.putChild(segment, child)
        parent = child
    parent.putChild(segments[-1], bayeux.resource())
    root.putChild(b"control", Control(bayeux, hooks))

    port = reactor.listenTCP(options.port, Site(root), interface="127.0.0.1")
    print(f"PORT {port.getHost().port}", flush=True)
    if options.port_file:
        tmp = options.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(port.getHost().port))
        os.replace(tmp, options.port_file)
    reactor.addSystemEventTrigger("before", "shutdown", bayeux.stop)
    reactor.run()


if __name__ == "__main__":
    main()
