"""The HTTP side of the Statistics API v3: the ``{status, data, errors, path}`` envelope and the resources
under ``/statistics/v3``."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web import resource, server

from services87.auth.http import BEARER, challenge_headers
from services87.engine.model import StoreUnavailable
from services87.genesys.statistics.api import ApiError, StatisticsApi
from services87.http import jsonguard
from services87.http.body import read_body
from services87.http.errors import HttpError, apply_headers, classify

log = logging.getLogger(__name__)

#: The smallest body cap of the Statistics API (a get-statistic-ex of max_statistics items fits), bytes.
BODY_FLOOR = 262144


def envelope(data: Any = None, code: int = 0, message: str | None = None, detail: dict | None = None,
             errors: list | None = None, path: str | None = None) -> dict:
    status: dict[str, Any] = {"code": code}
    if message:
        status["message"] = message
    if detail:
        status["detail"] = detail
    body: dict[str, Any] = {"status": status}
    if data is not None:
        body["data"] = data
    if errors:
        body["errors"] = errors
    if path is not None:
        body["path"] = path
    return body


class V3Resource(resource.Resource):
    """``/statistics/v3``: ``notifications`` is the Bayeux endpoint, everything else the REST API."""

    def __init__(self, api: StatisticsApi):
        super().__init__()
        self.api = api

    def getChild(self, path, request):
        if path == b"notifications":
            return self.api.bayeux.resource()
        return ApiResource(self.api, [path] + list(request.postpath))

    def render(self, request):
        return ApiResource(self.api, []).render(request)


class ApiResource(resource.Resource):
    isLeaf = True

    def __init__(self, api: StatisticsApi, segments: list[bytes]):
        super().__init__()
        self.api = api
        self.segments = [unquote(s.decode("utf-8", "replace")) for s in segments]
        while self.segments and self.segments[-1] == "":
            self.segments.pop()

    def route(self, method: bytes):
        s, api = self.segments, self.api
        if s == ["operations", "get-statistic-ex"]:
            return {b"POST": lambda r, u, b: api.get_statistic_ex(r, u, b)}
        if len(s) == 2 and s[0] == "statistic-values":
            return {b"GET": lambda r, u, b: api.get_statistic_value(r, u, s[1])}
        if s == ["subscriptions"]:
            return {b"POST": lambda r, u, b: api.create_subscription(r, u, b)}
        if len(s) == 2 and s[0] == "subscriptions":
            return {b"DELETE": lambda r, u, b: api.delete_subscription(r, u, s[1])}
        if len(s) == 3 and s[0] == "subscriptions" and s[2] == "statistic-values":
            return {b"GET": lambda r, u, b: api.peek_subscription(r, u, s[1])}
        return None

    def render(self, request):
        path = request.path.decode("latin-1")
        routes = self.route(request.method)
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        if routes is None:
            self._write(request, gone, 404, envelope(code=404, message="No such resource",
                                                     detail={"kind": "NotFound"}, path=path))
            return server.NOT_DONE_YET
        handler = routes.get(request.method)
        if handler is None:
            request.setHeader(b"allow", b", ".join(routes))
            self._write(request, gone, 405, envelope(code=405, message="Method not allowed",
                                                     detail={"kind": "MethodNotAllowed"}, path=path))
            return server.NOT_DONE_YET
        limit = max(self.api.hs.settings.max_body_size, BODY_FLOOR)
        try:
            body_bytes = read_body(request, limit, kind="TooLarge")
        except HttpError as exc:
            self._write(request, gone, exc.status, envelope(code=exc.status, message=exc.message,
                                                            detail={"kind": exc.kind}, path=path))
            return server.NOT_DONE_YET
        key = request.getHeader(b"x-api-key")
        authz = request.getHeader(b"authorization")
        key = key.decode("utf-8", "replace") if key else None
        authz = authz.decode("utf-8", "replace") if authz else None

        def parse_body():
            body = None
            if request.method == b"POST":
                try:
                    body = jsonguard.loads(body_bytes, max_size=limit, max_depth=self.api.hs.settings.max_json_depth,
                                           expect=None) if body_bytes.strip() else None
                except jsonguard.JsonGuardError as exc:
                    raise ApiError(400, "InvalidJson", f"The body is not valid JSON ({exc.kind}): {exc.message}") from None
                if body is None:
                    raise ApiError(400, "InvalidRequest", "A JSON body is required")
            return body

        if self.segments == ["operations", "get-statistic-ex"] and self.api.cache.enabled:
            hit = self.api.reactor_hit(key, authz, body_bytes) if request.method == b"POST" else None
            if hit is not None:
                self._write(request, gone, 200, envelope(hit))
                return server.NOT_DONE_YET
            # credentials, body and answer in one hop to the store threads
            d = self.api.get_statistic_ex_cached(self.api.credentials_checker(key, authz), parse_body,
                                                 body_bytes if request.method == b"POST" else None)
        else:
            d = self.api.check_credentials(key, authz)
            d.addCallback(lambda user_id: handler(request, user_id, parse_body()))
        d.addCallbacks(lambda data: self._write(request, gone, 200, envelope(data)),
                       lambda f: self._fail(request, gone, f, path))
        return server.NOT_DONE_YET

    def _write(self, request, gone: list, status: int, body: dict) -> None:
        if gone:
            return
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.write(json.dumps(body, ensure_ascii=False).encode())
        request.finish()

    def _fail(self, request, gone: list, f: Failure, path: str) -> None:
        exc = f.value
        c = classify(exc)
        kind, msg, errors = c.kind, c.message, getattr(exc, "errors", [])
        if isinstance(exc, StoreUnavailable):
            kind, msg = "ServiceUnavailable", "Statistics are unavailable: the store is unreachable"
            self.api.manager.probe()
        elif isinstance(exc, defer.TimeoutError):
            msg = "The statistics could not be computed in time"
        elif c.status == 500:
            log.error("statistics request failed: %s", f.getTraceback())
        if not gone:
            if c.challenge:
                request.responseHeaders.setRawHeaders(b"www-authenticate",
                                                      [v.encode() for v in challenge_headers([BEARER], exc)])
            apply_headers(request, c)
        self._write(request, gone, c.status, envelope(code=c.status, message=msg, detail={"kind": kind},
                                                      errors=errors, path=path))
