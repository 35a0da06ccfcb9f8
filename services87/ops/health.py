"""Health probes, as JSON.

* ``GET /health/live`` — liveness: the process and its reactor answer. No store access; restart the process
  (Kubernetes ``livenessProbe``) only when this fails.
* ``GET /health/ready`` — readiness: the store answers, its schema is at the newest migration, and under
  ``--workers`` the worker's bus listener is up. ``503`` with the failing ``checks`` otherwise; take the
  instance out of the load balancer (Kubernetes ``readinessProbe``) while it fails.
* ``GET /health`` — the original probe: store reachable, with the data version (kept for existing monitors).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from twisted.web import resource, server

from services87 import __version__
from services87.engine.migrate import at_head
from services87.engine.model import StoreUnavailable
from services87.http.tree import NotFoundResource

if TYPE_CHECKING:
    from services87.server import Services87Server


def _json(request, status: int, doc: dict) -> None:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.write(json.dumps(doc).encode())
    request.finish()


class Health(resource.Resource):
    isLeaf = True

    def __init__(self, hs: Services87Server):
        super().__init__()
        self.hs = hs

    def render_GET(self, request):
        sub = request.postpath[0] if request.postpath else b""
        if sub == b"live":
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            request.setHeader(b"cache-control", b"no-store")
            return json.dumps({"status": "ok", "version": __version__}).encode()
        if sub == b"ready":
            self._ready(request)
            return server.NOT_DONE_YET
        if sub != b"" or len(request.postpath) > 1:
            return NotFoundResource().render(request)

        def ok(version):
            _json(request, 200, {"status": "ok", "version": __version__, "dataVersion": version})

        def fail(f):
            f.trap(StoreUnavailable, Exception)
            _json(request, 503, {"status": "unavailable", "version": __version__})

        self.hs.run_blocking(self.hs.get_store().data_version).addCallbacks(ok, fail)
        return server.NOT_DONE_YET

    def _ready(self, request) -> None:
        hs = self.hs
        checks: dict[str, str] = {}

        def probe():
            try:
                hs.get_store().ping()
                checks["store"] = "ok"
            except Exception as exc:
                checks["store"] = f"unreachable ({type(exc).__name__})"
                return
            try:
                ok, current, heads = at_head(hs.get_store().engine)
                checks["migrations"] = "ok" if ok else f"database at {current}, code at {heads}"
            except Exception as exc:
                checks["migrations"] = f"unknown ({type(exc).__name__})"

        def answer(_):
            bus = hs.get_bus()
            if bus is not None:
                checks["bus"] = "ok" if getattr(bus, "listening", False) else "not listening"
            if getattr(hs.settings, "genesys", None) and hs.settings.genesys.outage_file:
                if os.path.exists(hs.settings.genesys.outage_file):
                    checks["store"] = "unreachable (outage file)"
            ready = all(v == "ok" for v in checks.values())
            _json(request, 200 if ready else 503,
                  {"status": "ready" if ready else "unavailable", "version": __version__, "checks": checks})

        d = hs.run_blocking(probe)
        d.addErrback(lambda f: checks.setdefault("store", "unreachable"))
        d.addCallback(answer)
        d.addErrback(lambda f: None if request.finished else _json(request, 503, {"status": "unavailable"}))


def mount(hs: Services87Server, root) -> None:
    root.putChild(b"health", Health(hs))
