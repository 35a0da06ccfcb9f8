"""``GET /health``: liveness and store reachability, as JSON."""

from __future__ import annotations

import json

from twisted.web import resource, server

from services87 import __version__
from services87.engine.model import StoreUnavailable


class Health(resource.Resource):
    isLeaf = True

    def __init__(self, hs):
        super().__init__()
        self.hs = hs

    def render_GET(self, request):
        def ok(version):
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            request.write(json.dumps({"status": "ok", "version": __version__, "dataVersion": version}).encode())
            request.finish()

        def fail(f):
            f.trap(StoreUnavailable, Exception)
            request.setResponseCode(503)
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            request.write(json.dumps({"status": "unavailable", "version": __version__}).encode())
            request.finish()

        self.hs.run_blocking(self.hs.store.data_version).addCallbacks(ok, fail)
        return server.NOT_DONE_YET


def mount(hs, root) -> None:
    root.putChild(b"health", Health(hs))
