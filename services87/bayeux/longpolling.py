"""HTTP long-polling transport: a ``twisted.web`` resource.

The resource is a leaf: it answers at its mount path and at every sub-path
below it (the CometD clients append ``/handshake``, ``/connect``,
``/subscribe``, ... to the URL). A request carrying ``Upgrade: websocket`` is
handed to the WebSocket transport, so both transports share one URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from .errors import BayeuxError
from .protocol import BatchError, batch_error_reply, decode_batch, encode
from .request import RequestInfo, parse_cookie_header
from .session import HeldConnect
from .transport import BatchOutcome, BayeuxCore, cookie_values, send_now, set_cookie_header
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
        poll = _Poll(self.bayeux, request, new_cookies)
        request.notifyFinish().addErrback(poll.lost)
        outcome = self.bayeux.handle(messages, info)
        if isinstance(outcome, Deferred):
            outcome.addCallback(self._answer, poll).addErrback(self._crash, poll)
        else:
            try:
                self._answer(outcome, poll)
            except Exception:
                self._crash(Failure(), poll)
        return NOT_DONE_YET

    # -------------------------------------------------------------- helpers
    def _request_info(self, request: Request) -> tuple[RequestInfo, list[tuple[str, str]]]:
        cookie = request.requestHeaders.getRawHeaders(b"cookie")
        cookies = parse_cookie_header(b",".join(cookie).decode("latin-1") if cookie else None)
        settings = self.bayeux.settings
        browser, browser_new, session_value, _ = cookie_values(settings, cookies)
        new_cookies: list[tuple[str, str]] = []
        if browser_new:
            new_cookies.append((settings.browser_cookie_name, browser))
        if session_value is not None:
            # Always (re)set: clients such as the Genesys Java one wait for it.
            new_cookies.append((settings.session_cookie_name, session_value))  # type: ignore[arg-type]
        peer = request.getClientAddress()
        info = RequestInfo(
            transport=LONG_POLLING,
            headers=HeaderView(request.requestHeaders),
            cookies=cookies,
            peer=f"{getattr(peer, 'host', '')}:{getattr(peer, 'port', '')}",
            path=request.path.decode("latin-1"),
            request=request,
            browser_id=browser,
            session_cookie=session_value,
        )
        return info, new_cookies

    def _answer(self, outcome: BatchOutcome, poll: _Poll) -> None:
        request = poll.request
        if outcome.handshake_succeeded:
            for name, value in poll.new_cookies:
                request.responseHeaders.addRawHeader(
                    b"Set-Cookie", set_cookie_header(self.bayeux.settings, name, value).encode())
        held = outcome.held
        if held is None:
            self._write(poll, 200, outcome.replies)
        elif poll.gone:
            self.bayeux.cancel_held(held)
        else:
            poll.held = held
            self._headers(request)  # now, while the connect waits: its answer, in a publish's burst, does less
            held.deferred.addCallback(self._release, poll, outcome.replies)

    def _release(self, messages: list[dict[str, Any]], poll: _Poll, replies: list[dict[str, Any]]) -> None:
        self._write(poll, 200, replies + messages if replies else messages)

    def _crash(self, failure: Failure, poll: _Poll) -> None:
        log.failure("Bayeux long-polling request failed", failure)
        self._write(poll, 200, batch_error_reply(BayeuxError(500, "Internal error")))

    def _error(self, request: Request, status: int, error: BayeuxError) -> bytes:
        request.setResponseCode(status)
        self._headers(request)
        return encode(batch_error_reply(error))

    @staticmethod
    def _headers(request: Request) -> None:
        request.setHeader(b"Content-Type", b"application/json;charset=UTF-8")
        request.setHeader(b"Cache-Control", b"no-cache, no-store")

    def _write(self, poll: _Poll, status: int, messages: list[dict[str, Any]]) -> None:
        request = poll.request
        if poll.gone or request.finished:
            return
        body = encode(messages)
        request.setResponseCode(status)
        if poll.held is None:  # a held connect's were set when it was held
            self._headers(request)
        request.setHeader(b"Content-Length", b"%d" % len(body))
        transport = getattr(request.channel, "transport", None)
        request.write(body)
        request.finish()
        send_now(transport)


class _Poll:
    """One long-polling request being answered."""

    __slots__ = ("bayeux", "request", "new_cookies", "gone", "held")

    def __init__(self, bayeux: BayeuxCore, request: Request, new_cookies: list[tuple[str, str]]) -> None:
        self.bayeux = bayeux
        self.request = request
        self.new_cookies = new_cookies
        self.gone = False
        self.held: HeldConnect | None = None

    def lost(self, failure: Failure) -> None:
        """The client went away before the answer: forget its held connect (the queue stays)."""
        self.gone = True
        if self.held is not None:
            self.bayeux.cancel_held(self.held)


class HeaderView(Mapping[str, str]):
    """The request headers as :attr:`RequestInfo.headers` shows them (names lower-cased, repeated headers
    joined by ``,``), read from Twisted's headers when asked: most messages (connects) never look."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        try:
            values = self._headers.getRawHeaders(name.encode("latin-1"))
        except (AttributeError, UnicodeEncodeError):
            raise KeyError(name) from None
        if values is None:
            raise KeyError(name)
        return b",".join(values).decode("latin-1")

    def __iter__(self) -> Iterator[str]:
        return (name.decode("latin-1").lower() for name, _ in self._headers.getAllRawHeaders())

    def __len__(self) -> int:
        return sum(1 for _ in self._headers.getAllRawHeaders())

    def __repr__(self) -> str:
        return f"HeaderView({dict(self)!r})"
