"""services87's Bayeux server (``services87.bayeux``) for the fan-out bench, the twin of bench/faye/server.js.

    python bench/bayeux_server.py --port-file FILE [--timeout 5]

Bayeux at ``/cometd`` (default hooks: anyone may handshake and subscribe); ``POST /publish?rate=R&count=N``
publishes N messages ``{seq, t}`` on ``/bench`` at R per second through ``BayeuxServer.publish``, as an
application publishes its change events.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import reactor  # noqa: E402
from twisted.web import resource, server  # noqa: E402

from services87.bayeux import BayeuxServer, BayeuxSettings  # noqa: E402


class Publish(resource.Resource):
    isLeaf = True

    def __init__(self, bayeux: BayeuxServer):
        super().__init__()
        self.bayeux = bayeux

    def render_POST(self, request):
        rate = float(request.args[b"rate"][0])
        count = int(request.args[b"count"][0])
        start = time.time()
        state = {"seq": 0}

        def tick():
            due = min(count, int((time.time() - start) * rate) + 1)
            while state["seq"] < due:
                self.bayeux.publish("/bench", {"seq": state["seq"], "t": time.time() * 1000.0})
                state["seq"] += 1
            if state["seq"] < count:
                reactor.callLater(max(0.0, start + state["seq"] / rate - time.time()), tick)

        tick()
        request.setHeader(b"content-type", b"application/json")
        return b'{"ok":true}'


class ProductSite(server.Site):
    """A ``Site`` configured as the product's (``LimitedSite``): POST bodies are not parsed into
    ``request.args`` (Bayeux reads its own body) and Twisted's combined-format access log is off."""

    def __init__(self, root):
        super().__init__(root, parsePOSTFormSubmission=False)

    def log(self, request):
        pass


class Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"ok"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    bayeux = BayeuxServer(reactor, BayeuxSettings(timeout=args.timeout, max_sessions=20_000,
                                                  max_held_connects=20_000))
    root = resource.Resource()
    root.putChild(b"cometd", bayeux.resource())
    root.putChild(b"publish", Publish(bayeux))
    root.putChild(b"health", Health())
    site = ProductSite(root)
    site.displayTracebacks = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1", backlog=4096)
    tmp = Path(args.port_file + ".tmp")
    tmp.write_text(str(port.getHost().port))
    tmp.replace(args.port_file)
    reactor.addSystemEventTrigger("before", "shutdown", bayeux.stop)
    reactor.run()


if __name__ == "__main__":
    main()
