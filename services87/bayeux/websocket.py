"""WebSocket transport (autobahn): the same Bayeux messages, one JSON array
per text frame.

Replies to non-connect messages are sent at once. Messages for a session
whose ``/meta/connect`` is held go out in a frame of their own as soon as
they are queued (batched per reactor turn) while the connect stays held; the
connect is answered when its hold time is over, as CometD's WebSocket
transport does. Over long-polling, by contrast, every delivery answers the
held connect and the client must send a new one.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionRequest
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from .errors import BayeuxError
from .request import RequestInfo, parse_cookie_header
from .protocol import BatchError, batch_error_reply, decode_batch, encode
from .session import HeldConnect
from .transport import BatchOutcome, BayeuxCore, cookie_values, send_now, set_cookie_header, write_now

log = Logger()

WEBSOCKET = "websocket"

#: Sub-protocols we agree to when a client offers them.
SUBPROTOCOLS = ("cometd", "bayeux")


class BayeuxWebSocketProtocol(WebSocketServerProtocol):
    """One WebSocket connection; may carry one or more Bayeux sessions."""

    factory: BayeuxWebSocketFactory

    def __init__(self) -> None:
        super().__init__()
        self.info: RequestInfo | None = None
        self._held: set[HeldConnect] = set()
        self._open = False

    # autobahn types the headers dict[str, str]; it sends a list of values as repeated headers (Set-Cookie)
    def onConnect(  # type: ignore[override]
            self, request: ConnectionRequest) -> tuple[str | None, dict[str, list[str]]]:
        settings = self.factory.bayeux.settings
        headers = {name.lower(): value for name, value in request.headers.items()}
        cookies = parse_cookie_header(headers.get("cookie"))
        browser, browser_new, session_value, session_new = cookie_values(settings, cookies)
        set_cookies = []
        if browser_new:
            set_cookies.append(set_cookie_header(settings, settings.browser_cookie_name, browser))
        if session_value is not None and session_new:
            set_cookies.append(set_cookie_header(settings, settings.session_cookie_name, session_value))  # type: ignore[arg-type]
        self.info = RequestInfo(
            transport=WEBSOCKET,
            headers=headers,
            cookies=cookies,
            peer=self._peer(),
            path=request.path,
            request=request,
            browser_id=browser,
            session_cookie=session_value,
        )
        protocol = next((p for p in request.protocols if p in SUBPROTOCOLS), None)
        return protocol, ({"Set-Cookie": set_cookies} if set_cookies else {})

    def _peer(self) -> str:
        """``"host:port"`` of the client, as for long-polling."""
        address = self.transport.getPeer() if self.transport is not None else None
        return f"{getattr(address, 'host', '')}:{getattr(address, 'port', '')}"

    def onOpen(self) -> None:
        self._open = True

    def dataReceived(self, data: bytes) -> None:
        """autobahn's, without its debug line: autobahn formats that line (highlighting through click, ~16 µs,
        a fifth of a connect's round trip) for every chunk received, whether debug logging is on or not; the
        bytes go to the same ``_dataReceived``."""
        self._dataReceived(data)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        server = self.factory.bayeux
        settings = server.settings
        if isBinary:
            self._send_batch(batch_error_reply(BayeuxError(400, "Binary frames not supported")))
            return
        try:
            messages = decode_batch(payload, max_size=settings.max_message_size, max_batch=settings.max_batch,
                                    json_loads=settings.json_loads)
        except BatchError as error:
            self._send_batch(batch_error_reply(error))
            return
        assert self.info is not None
        outcome = server.handle(messages, self.info)
        if isinstance(outcome, Deferred):
            outcome.addCallback(self._answer).addErrback(self._crash)
            return
        try:
            self._answer(outcome)
        except Exception:
            self._crash(Failure())

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self._open = False
        for held in list(self._held):
            self.factory.bayeux.cancel_held(held)
        self._held.clear()

    # ------------------------------------------------------------------ helpers
    def _answer(self, outcome: BatchOutcome) -> None:
        if outcome.replies:
            self._send_batch(outcome.replies)
        held = outcome.held
        if held is None:
            return
        if not self._open:
            self.factory.bayeux.cancel_held(held)
            return
        self._held.add(held)
        held.push = self._send_batch  # messages go out as they come; the connect is answered when its time is up

        def release(messages: list[dict[str, Any]]) -> None:
            self._held.discard(held)
            self._send_batch(messages)

        held.deferred.addCallback(release)

    def _crash(self, failure: Failure) -> None:
        log.failure("Bayeux WebSocket message failed", failure)
        self._send_batch(batch_error_reply(BayeuxError(500, "Internal error")))

    def _send_batch(self, messages: list[dict[str, Any]]) -> None:
        if self._open:
            payload = encode(messages)
            if self._plain_text_frame_ok(len(payload)):
                stats = self.trafficStats
                stats.outgoingWebSocketMessages += 1
                stats.outgoingOctetsAppLevel += len(payload)
                stats.outgoingOctetsWebSocketLevel += len(payload)
                frame = text_frame(payload)
                stats.outgoingOctetsWireLevel += len(frame)
                if self.transport is not None:
                    # a publish sends to every subscriber in one turn: each frame leaves now
                    write_now(self.transport, frame)
            else:
                self.sendMessage(payload, isBinary=False)
                send_now(self.transport)

    def _plain_text_frame_ok(self, size: int) -> bool:
        """Whether autobahn's ``sendMessage`` would write exactly :func:`text_frame` of a payload of ``size``
        bytes, straight to the transport: the connection is open, nothing waits in its send queue, no
        compression was agreed, no fragmenting, no timing, and the size is within the limit (beyond it
        ``sendMessage`` raises, as before). Then the frame is written here: ``sendMessage`` spends ~25 us a frame
        on checks and on formatting a debug line that is not logged (autobahn's ``sendData``), a third of what a
        pushed update cost per subscriber in the push-latency bench."""
        # the options are copied from the factory when the connection is made (untyped in autobahn)
        fragment, limit = getattr(self, "autoFragmentSize", 0), getattr(self, "maxMessagePayloadSize", 0)
        return (self.state == WebSocketServerProtocol.STATE_OPEN and not self.send_queue
                and self._perMessageCompress is None and not fragment and not self.trackedTimings
                and (not limit or size <= limit))


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (RFC 6455 5.2) carrying ``payload``, as a server sends it."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


class BayeuxWebSocketFactory(WebSocketServerFactory):
    """autobahn factory bound to a Bayeux server (a :class:`.transport.BayeuxCore`)."""

    protocol = BayeuxWebSocketProtocol  # type: ignore[assignment]  # autobahn's factories are untyped

    def __init__(self, bayeux: BayeuxCore) -> None:
        super().__init__()
        self.bayeux = bayeux
        size = bayeux.settings.max_message_size
        self.setProtocolOptions(
            maxMessagePayloadSize=size,
            maxFramePayloadSize=size,
            openHandshakeTimeout=10,
            closeHandshakeTimeout=2,
        )
