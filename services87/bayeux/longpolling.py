"""HTTP long-polling transport: a ``twisted.web`` resource.

The resource is a leaf: it answers at its mount path and at every sub-path
below it (the CometD clients append ``/handshake``, ``/connect``,
``/subscribe``, ... to the URL). A request carrying ``Upgrade: websocket`` is
handed to the WebSocket transport, so both transports share one URL.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from .errors import BayeuxError
from .request import RequestInfo, parse_cookie_header
from .protocol import BatchError, batch_error_reply, decode_batch, encode
from .transport import BatchOutcome, BayeuxCore, cookie_values, set_cookie_header
from .websocket import BayeuxWebSocketFactory

log = Logger()

LONG_POLLING = "long-polling"


class BayeuxResource(Resource):
    """Serves Bayeux over HTTP POST (long-polling) and WebSocket upgrades."""

    isLeaf = True

    def __init__(self, server: BayeuxCore) -> None:
        super().__init__()
        self.bayeux = server
        self._websocket: Any = None

    # -------------------------------------------------------------- dispatch
    def render(self, request: Request) -> Any:
        try:
            return self._dispatch(request)
        except Exception:
            log.failure("Bayeux request failed")
            return self._error(request, 200, BayeuxError(500, "Internal error"))

    def _dispatch(self, request: Request) -> Any:
        upgrade = (request.getHeader(b"upgrade") or b"").lower()
        if upgrade == b"websocket" and "websocket" in self.bayeux.settings.connection_types:
            return self.websocket_resource().render(request)
        if request.method != b"POST":
            request.setHeader(b"Allow", b"POST")
            return self._error(request, 405, BayeuxError(400, "POST required"))
        return self.render_POST(request)

    def websocket_resource(self) -> Any:
        """The autobahn ``WebSocketResource`` that upgrades requests."""
        if self._websocket is None:
            self._websocket = WebSocketResource(BayeuxWebSocketFactory(self.bayeux))
        return self._websocket

    def render_POST(self, request: Request) -> Any:
        settings = self.bayeux.settings
        try:
            length = int(request.getHeader(b"content-length") or 0)
        except ValueError:
            length = 0
        if length > settings.max_message_size:
            return self._error(request, 413, BayeuxError(413, "Message too large"))
        body = request.content.read(settings.max_message_size + 1) if request.content else b""
        try:
            messages = decode_batch(body, max_size=settings.max_message_size, max_batch=settings.max_batch,
                                    json_loads=settings.json_loads)
        except BatchError as error:
            return self._error(request, error.http_status, error)

        info, new_cookies = self._request_info(request)
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        d = ensureDeferred(self.bayeux.process(messages, info))
        d.addCallback(self._answer, request, new_cookies, gone)
        d.addErrback(self._crash, request, gone)
        return NOT_DONE_YET

    # -------------------------------------------------------------- helpers
    def _request_info(self, request: Request) -> tuple[RequestInfo, list[tuple[str, str]]]:
        headers = {
            name.decode("latin-1").lower(): b",".join(values).decode("latin-1")
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        cookies = parse_cookie_header(headers.get("cookie"))
        browser, browser_new, session_value, _ = cookie_values(self.bayeux.settings, cookies)
        new_cookies: list[tuple[str, str]] = []
        if browser_new:
            new_cookies.append((self.bayeux.settings.browser_cookie_name, browser))
        if session_value is not None:
            # Always (re)set: clients such as the Genesys Java one wait for it.
            new_cookies.append((self.bayeux.settings.session_cookie_name, session_value))  # type: ignore[arg-type]
        peer = request.getClientAddress()
        info = RequestInfo(
            transport=LONG_POLLING,
            headers=headers,
            cookies=cookies,
            peer=f"{getattr(peer, 'host', '')}:{getattr(peer, 'port', '')}",
            path=request.path.decode("latin-1"),
            request=request,
            browser_id=browser,
            session_cookie=session_value,
        )
        return info, new_cookies

    def _answer(self, outcome: BatchOutcome, request: Request, new_cookies: list[tuple[str, str]],
                gone: list[bool]) -> None:
        if outcome.handshake_succeeded:
            for name, value in new_cookies:
                request.responseHeaders.addRawHeader(b"Set-Cookie", set_cookie_header(self.bayeux.settings, name, value).encode())
        if outcome.held is None:
            self._write(request, 200, outcome.replies, gone)
            return
        held = outcome.held
        if gone:
            self.bayeux.cancel_held(held)
            return
        request.notifyFinish().addErrback(lambda _: self.bayeux.cancel_held(held))
        held.deferred.addCallback(lambda messages: self._write(request, 200, outcome.replies + messages, gone))

    def _crash(self, failure: Failure, request: Request, gone: list[bool]) -> None:
        log.failure("Bayeux long-polling request failed", failure)
        self._write(request, 200, batch_error_reply(BayeuxError(500, "Internal error")), gone)

    def _error(self, request: Request, status: int, error: BayeuxError) -> bytes:
        request.setResponseCode(status)
        self._headers(request)
        return encode(batch_error_reply(error))

    @staticmethod
    def _headers(request: Request) -> None:
        request.setHeader(b"Content-Type", b"application/json;charset=UTF-8")
        request.setHeader(b"Cache-Control", b"no-cache, no-store")

    def _write(self, request: Request, status: int, messages: list[dict[str, Any]], gone: list[bool]) -> None:
        if gone or request.finished:
            return
        request.setResponseCode(status)
        self._headers(request)
        request.write(encode(messages))
        request.finish()
