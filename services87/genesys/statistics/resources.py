"""The HTTP side of the Statistics API v3: the ``{status, data, errors, path}`` envelope and the resources
under ``/statistics/v3``."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from twisted.internet import defer
from twisted.python.failure import Failure
from klein import Klein

from services87.auth.http import BEARER, challenge_headers
from services87.engine.model import StoreUnavailable
from services87.genesys.statistics.api import ApiError, StatisticsApi
from services87.http import jsonguard
from services87.http.body import read_body
from services87.http.errors import HttpError, classify
from services87.http.routing import JsonAnswers, Routes, WithNotifications, detached, json_errors

log = logging.getLogger(__name__)

#: The smallest body cap of the Statistics API (a get-statistic-ex of max_statistics items fits), bytes.
BODY_FLOOR = 262144


ANSWERS = JsonAnswers()


def _routing_error(request, status: int, kind: str, message: str) -> bytes:
    return ANSWERS.answer(request, status, envelope(code=status, message=message, detail={"kind": kind},
                                                    path=request.path.decode("latin-1")))


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


def v3_resource(api: StatisticsApi) -> WithNotifications:
    """``/statistics/v3``: ``notifications`` is the Bayeux endpoint, everything else the REST API
    (:class:`StatisticsRoutes`)."""
    return WithNotifications(StatisticsRoutes(api).resource(), lambda: api.bayeux.resource())


class StatisticsRoutes:
    """The REST operations: a Klein app (services87/http/routing.py), one route per operation."""

    app = Klein()

    def __init__(self, api: StatisticsApi):
        self.api = api

    def resource(self):
        return Routes(self, _routing_error,
                      warm={(b"POST", (b"operations", b"get-statistic-ex")): self.warm_get_statistic_ex})

    def _body(self, request) -> bytes:
        """The request body, capped (413 ``TooLarge`` beyond the cap, as :class:`HttpError`)."""
        return read_body(request, max(self.api.hs.settings.max_body_size, BODY_FLOOR), kind="TooLarge")

    def warm_get_statistic_ex(self, request) -> bytes | None:
        """The stored answer of a get-statistic-ex asked before, on the reactor thread before any routing
        (services87/http/routing.py); ``None`` sends the request through :meth:`get_statistic_ex`."""
        if not self.api.warm.enabled:
            return None
        try:
            body_bytes = self._body(request)
        except HttpError:
            return None
        hit = self.api.reactor_hit(*_credentials(request), body_bytes)
        if hit is not None:
            ANSWERS.headers(request, 200)
        return hit

    @app.route("/operations/get-statistic-ex", methods=["POST"], strict_slashes=False)
    def get_statistic_ex(self, request):
        return self._call(request, self.api.get_statistic_ex, cached=self.api.warm.enabled)

    @app.route("/statistic-values/<name>", methods=["GET"], strict_slashes=False)
    def get_statistic_value(self, request, name):
        name = unquote(name)
        return self._call(request, lambda r, u, b: self.api.get_statistic_value(r, u, name))

    @app.route("/subscriptions", methods=["POST"], strict_slashes=False)
    def create_subscription(self, request):
        return self._call(request, self.api.create_subscription)

    @app.route("/subscriptions/<sub_id>", methods=["DELETE"], strict_slashes=False)
    def delete_subscription(self, request, sub_id):
        sub_id = unquote(sub_id)
        return self._call(request, lambda r, u, b: self.api.delete_subscription(r, u, sub_id))

    @app.route("/subscriptions/<sub_id>/statistic-values", methods=["GET"], strict_slashes=False)
    def peek_subscription(self, request, sub_id):
        sub_id = unquote(sub_id)
        return self._call(request, lambda r, u, b: self.api.peek_subscription(r, u, sub_id))

    def _call(self, request, handler, cached: bool = False):
        """Read the body, check the credentials, run ``handler(request, user_id, body)`` and write the envelope."""
        path = request.path.decode("latin-1")
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        limit = max(self.api.hs.settings.max_body_size, BODY_FLOOR)
        try:
            body_bytes = self._body(request)
        except HttpError as exc:
            return ANSWERS.answer(request, exc.status, envelope(code=exc.status, message=exc.message,
                                                                detail={"kind": exc.kind}, path=path))
        key, authz = _credentials(request)

        def parse_body():
            body = None
            if request.method == b"POST":
                try:
                    body = jsonguard.loads(body_bytes, max_size=limit, max_depth=self.api.hs.settings.max_json_depth,
                                           expect=None) if body_bytes.strip() else None
                except jsonguard.JsonGuardError as exc:
                    raise ApiError(400, "InvalidJson",
                                   f"The body is not valid JSON ({exc.kind}): {exc.message}") from None
                if body is None:
                    raise ApiError(400, "InvalidRequest", "A JSON body is required")
            return body

        if cached:
            hit = self.api.reactor_hit(key, authz, body_bytes)
            if hit is not None:  # the stored bytes of the answer's envelope
                ANSWERS.headers(request, 200)
                return hit
            # credentials, body and answer in one hop to the store threads
            d = self.api.get_statistic_ex_cached(self.api.credentials_checker(key, authz), parse_body, body_bytes,
                                                 encode=_encoded)
            d.addCallbacks(lambda payload: self._send(request, gone, 200, payload),
                           lambda f: self._fail(request, gone, f, path))
            return detached(d)
        d = self.api.check_credentials(key, authz)
        d.addCallback(lambda user_id: handler(request, user_id, parse_body()))
        d.addCallbacks(lambda data: self._write(request, gone, 200, envelope(data)),
                       lambda f: self._fail(request, gone, f, path))
        return detached(d)

    def _write(self, request, gone: list, status: int, body: dict) -> None:
        self._send(request, gone, status, ANSWERS.encode(body))

    @staticmethod
    def _send(request, gone: list, status: int, payload: bytes) -> None:
        if gone:
            return
        ANSWERS.headers(request, status)
        request.write(payload)
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
        if gone:
            return
        challenge = [v.encode() for v in challenge_headers([BEARER], exc)] if c.challenge else []
        request.write(ANSWERS.error(request, c, envelope(code=c.status, message=msg, detail={"kind": kind},
                                                         errors=errors, path=path), challenge))
        request.finish()


json_errors(StatisticsRoutes.app, _routing_error)


def _credentials(request) -> tuple[str | None, str | None]:
    """(``x-api-key``, ``Authorization``) of ``request``, as text."""
    key = request.getHeader(b"x-api-key")
    authz = request.getHeader(b"authorization")
    return (key.decode("utf-8", "replace") if key else None, authz.decode("utf-8", "replace") if authz else None)


def _encoded(data: Any) -> bytes:
    """A successful answer's response body (what the answer cache keeps)."""
    return ANSWERS.encode(envelope(data))
