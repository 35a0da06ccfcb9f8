"""One routing style for the JSON adapters: a `Klein <https://klein.readthedocs.io>`_ app whose routes are methods
of an adapter object (REST, OAuth, Genesys Statistics, ingest, GWS and the status page; SOAP stays on Spyne).

:class:`JsonAnswers` writes an adapter's answers: the status, the protocol's content type, ``Cache-Control`` and
JSON spelling, and for a failure :func:`~services87.http.errors.classify` sorted, its challenge and headers;
the adapter supplies only the body. :func:`json_errors` registers what every app answers for a path it has no
route for and for a method its route does not take, in the adapter's own body shape: 404, and 405 with
``Allow``. Klein (werkzeug) answers ``HEAD`` wherever ``GET`` is routed, as RFC 9110 asks.

A hot route may also name a *warm answer* (:class:`Routes` ``warm``): tried before Klein's dispatch, it gives the
answer's bytes from the warm path (services87/http/warm.py) or declines, and the request then goes through the
app as usual. Klein binds a werkzeug URL map, matches, adapts the request and chains Deferreds for every
request; profiled on a warm REST ``GetStatistics``, that was about half of the reactor thread's busy time, for
an answer that needs no I/O.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from klein import Klein
from klein.resource import KleinResource
from twisted.internet import defer
from twisted.web import resource
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from services87.http.errors import Classified, apply_headers

log = logging.getLogger(__name__)

#: shape(request, status, kind, message) -> body bytes, with the status and content type set on ``request``
Shape = Callable[[object, int, str, str], bytes]


@dataclasses.dataclass(frozen=True)
class JsonAnswers:
    """How one JSON adapter writes its answers. The content type, ``Cache-Control`` and the JSON spelling
    (``compact`` separators, ``ascii`` escapes) are part of the protocol's wire format: GWS writes compact
    ``application/json;charset=UTF-8`` with ``no-cache, no-store``; the others ``application/json;
    charset=utf-8`` with ``no-store``."""

    content_type: bytes = b"application/json; charset=utf-8"
    cache_control: bytes = b"no-store"
    compact: bool = False
    ascii: bool = False

    def headers(self, request, status: int) -> None:
        """Set the status, content type and ``Cache-Control`` of an answer on ``request``."""
        request.setResponseCode(status)
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"cache-control", self.cache_control)

    def encode(self, body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":") if self.compact else None, ensure_ascii=self.ascii).encode()

    def answer(self, request, status: int, body: Any) -> bytes:
        """The bytes of ``body``, with the status and headers of the answer set on ``request``."""
        self.headers(request, status)
        return self.encode(body)

    def error(self, request, c: Classified, body: Any, challenge: Sequence[bytes] = ()) -> bytes:
        """The answer to a failure :func:`~services87.http.errors.classify` sorted into ``c``: the protocol's
        ``WWW-Authenticate`` ``challenge`` when ``c`` asks for one, ``Retry-After`` and the error's own headers
        (:func:`~services87.http.errors.apply_headers`), then the status of ``c`` and the protocol's ``body``."""
        if c.challenge and challenge:
            request.responseHeaders.setRawHeaders(b"www-authenticate", list(challenge))
        apply_headers(request, c)
        return self.answer(request, c.status, body)


def allowed_methods(failure) -> list[str]:
    return sorted(set(getattr(failure.value, "valid_methods", None) or ()))


#: A hot route's warm answer: its bytes (status and headers set on the request), or ``None`` to decline. It must
#: have no effect when it declines (the route then runs), and decline on anything the route would refuse.
WarmAnswer = Callable[[Any], "bytes | None"]
#: ``(method, path segments below the mount point)`` -> the route's warm answer
WarmRoutes = Mapping[tuple[bytes, tuple[bytes, ...]], WarmAnswer]


def warm_answer(routes: WarmRoutes, request) -> bytes | None:
    """The warm answer of the route ``request`` names exactly (method and path, no trailing slash), or ``None``."""
    answer = routes.get((request.method, tuple(request.postpath))) if routes else None
    return None if answer is None else answer(request)


class Routes(KleinResource):
    """The resource of an adapter's Klein app (``adapter.app``, its routes methods of ``adapter``), mounted at
    the adapter's path: the mount point itself is the app's ``/``, and a path that is not UTF-8 names no route
    (a 404 in the adapter's ``shape``), not an exception in the router. ``warm``: the warm answers of hot
    routes, tried before the app's dispatch.

    :ivar adapter: the object whose methods answer the routes
    """

    def __init__(self, adapter: Any, shape: Shape, warm: WarmRoutes | None = None):
        super().__init__(adapter.app)
        self.adapter = adapter
        self.shape = shape
        self.warm: WarmRoutes = warm or {}

    def render(self, request):
        if not request.postpath:
            request.postpath = [b""]
        try:
            for seg in request.postpath:
                seg.decode("utf-8")
        except UnicodeDecodeError:
            return self.shape(request, 404, "NotFound", "No such resource")
        hit = warm_answer(self.warm, request)
        if hit is not None:
            return hit
        return super().render(request)


class WithNotifications(resource.Resource):
    """The mount point of an adapter with a Bayeux endpoint beside its app: ``notifications`` is the endpoint
    (``notifications()`` gives its resource), every other path goes whole to ``routes``."""

    def __init__(self, routes: resource.Resource, notifications: Callable[[], resource.Resource]):
        super().__init__()
        self.routes = routes
        self.notifications = notifications

    def getChild(self, path, request):
        if path == b"notifications":
            return self.notifications()
        request.postpath.insert(0, request.prepath.pop())  # the app routes on the whole rest of the path
        return self.routes

    def render(self, request):
        return self.routes.render(request)


def json_errors(app: Klein, shape: Shape, not_found: str = "No such resource",
                not_allowed: Callable[[list[str]], str] = lambda allowed: "Method not allowed") -> None:
    """Register the 404 / 405 / other routing answers of ``app`` in the body ``shape`` of its adapter.

    Call it after the app's own error handlers: Klein tries handlers in the order they were registered."""

    def unknown_path(_self, request, failure):
        return shape(request, 404, "NotFound", not_found)

    def wrong_method(_self, request, failure):
        allowed = allowed_methods(failure)
        request.setHeader(b"allow", ", ".join(allowed).encode())
        return shape(request, 405, "MethodNotAllowed", not_allowed(allowed))

    def other_http(_self, request, failure):
        e = failure.value
        return shape(request, e.code or 400, type(e).__name__, e.description or e.name)

    app.handle_errors(NotFound)(unknown_path)
    app.handle_errors(MethodNotAllowed)(wrong_method)
    app.handle_errors(HTTPException)(other_http)


def detached(d: defer.Deferred) -> defer.Deferred:
    """A Deferred that fires (with ``None``) when ``d`` fires, for a route to return. Klein cancels what a route
    returned when the client goes away; the work behind ``d`` (a store write, say) is not cancelled with it: it
    finishes, and its answer is dropped."""
    out: defer.Deferred = defer.Deferred()
    def forward(result):
        if not out.called:
            out.callback(None)
        return result

    d.addBoth(forward)
    d.addErrback(lambda f: log.error("route failed after answering: %s", f.getTraceback()))
    return out
