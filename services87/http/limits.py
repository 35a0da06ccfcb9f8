"""Site-wide HTTP limits, in one place: what every connection and request gets before any adapter sees it.

* **Header deadline** (``http.header_timeout``): from connecting (or from the first byte of a follow-up
  request on a kept-alive connection) a client must deliver the request line and all headers in time —
  a client dribbling headers byte by byte (slowloris) is answered ``408`` and disconnected.
* **Body deadline** (``http.body_timeout``): once the headers are in, the whole body must arrive in time.
* **Idle timeout** (``http.idle_timeout``): kept-alive connections with no request are closed (Twisted's
  ``TimeoutMixin`` logic, on one kept ``DelayedCall`` per connection: :meth:`LimitedHTTPChannel.setTimeout`).
* **Body cap, enforced while reading**: a ``Content-Length`` over the cap is refused with ``413`` before a
  byte of the body is read; a chunked body is counted as it arrives and cut off at the cap. SOAP endpoints
  (``/Remote/``) are capped at ``max_body_size`` and answered with the same SOAP fault the XML guard gives;
  other paths at ``http.max_request_body`` (raised if needed to the largest endpoint limit + 64 KiB, so
  endpoints answer a body a little over their own limit themselves, in their own error format).
* **Connection cap** (``http.max_connections``): connections beyond it get ``503`` with ``Retry-After`` and
  are closed; long-polls and WebSockets count. One client address may hold at most
  ``http.max_connections_per_address`` of them, so a single address cannot take the whole cap.
* **Typed errors only**: an exception escaping a resource, an unsupported method or a malformed request
  line/header becomes a JSON error (a SOAP fault under ``/Remote/``: the shape SOAP registers in
  :mod:`services87.http.errors`), never Twisted's HTML page or a traceback.
* **Graceful shutdown** (``http.shutdown_grace``): on SIGTERM the listening port closes, idle connections are
  closed and requests in flight may finish (held Bayeux long-polls are released by their servers' own
  shutdown triggers) before the reactor stops.

* **One pass for every request** (:meth:`LimitedSite.getResourceFor`): the request id (``X-Request-Id``), the
  Prometheus counters and latency (services87/ops/metrics.py) and the access log line; the real client and
  scheme behind ``trusted_proxies`` (:meth:`LimitedRequest.getClientAddress`, :meth:`LimitedRequest.isSecure`).

Twisted's own limits stay in force: request line and headers at most 16 KiB in total, at most 500 headers.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import re
import secrets
import time
from collections.abc import Iterable

from twisted.internet import abstract, address, defer
from twisted.internet.interfaces import IProtocolNegotiationFactory, ISSLTransport
from twisted.internet.protocol import Protocol
from twisted.protocols import policies
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.web import http, server
from twisted.web.resource import IResource, UnsupportedMethod
from zope.interface import directlyProvides, implementer, providedBy

from services87 import __version__, logs
from services87.http.contracts import contract_of
from services87.http.errors import error_body
from services87.http.origin import PAGE_CSP, refusal

log = logging.getLogger(__name__)
access_log = logging.getLogger("services87.access")

#: A request id taken from the client (or a proxy) must look like this; anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: generated request ids: 8 random hex digits of this process, then a counter (unique, no system call per request;
#: an id names a request in the logs and is no secret)
_ID_PREFIX = secrets.token_hex(4)
_id_counter = itertools.count(1)

SOAP_PREFIX = b"/Remote/"
_REASONS = {400: b"Bad Request", 405: b"Method Not Allowed", 408: b"Request Timeout", 413: b"Payload Too Large",
            500: b"Internal Server Error", 503: b"Service Unavailable"}
#: Seconds a refused or timed-out connection may linger (flushing our answer) before it is aborted.
ABORT_AFTER = 5.0


#: Bodies this much over an endpoint's own limit still reach the endpoint, which answers in its own format.
ENDPOINT_SLACK = 65536


def body_cap(settings) -> int:
    """The largest request body read on a non-SOAP path: ``http.max_request_body``, raised if needed to the
    largest endpoint limit plus :data:`ENDPOINT_SLACK`."""
    return max(settings.http.max_request_body,
               max(settings.max_body_size, settings.genesys.ingest_max_body, 262144) + ENDPOINT_SLACK)


def _is_soap(path: bytes | None) -> bool:
    return path is not None and path.startswith(SOAP_PREFIX)


def raw_response(status: int, content_type: bytes, body: bytes, extra: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response, for answers written below the Request level."""
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Error")), b"Content-Type: " + content_type,
             b"Content-Length: %d" % len(body), b"Connection: close", b"Cache-Control: no-store"]
    lines += [name + b": " + value for name, value in extra]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# --------------------------------------------------------------------------- request
@implementer(IResource)
class _TypedMethodErrors:
    """Wraps the resource being rendered: an unsupported method answers a typed 405, a non-bytes body a typed 500."""

    isLeaf = True

    def __init__(self, inner):
        self.inner = inner

    def render(self, request):
        try:
            body = self.inner.render(request)
        except UnsupportedMethod as exc:
            if request.method == b"HEAD" and b"GET" in exc.allowedMethods:
                raise  # Twisted fakes HEAD with GET
            request.setHeader(b"allow", b", ".join(exc.allowedMethods))
            return request.typed_error(405, "MethodNotAllowed",
                                       "Allowed methods: " + ", ".join(m.decode() for m in exc.allowedMethods))
        if body is not server.NOT_DONE_YET and not isinstance(body, bytes):
            log.error("resource %r returned %r instead of bytes", self.inner, type(body))
            return request.typed_error(500, "InternalError", "Internal server error")
        return body

    # the rest of IResource (a leaf is never asked for children): the wrapped resource's
    def getChildWithDefault(self, name, request):
        return self.inner.getChildWithDefault(name, request)

    def putChild(self, path, child):
        self.inner.putChild(path, child)


class LimitedRequest(server.Request):
    """A request whose failures are always typed (JSON error, or SOAP fault under ``/Remote/``).

    Twisted does not parse POST bodies into ``request.args``: every adapter reads its own body (a malformed
    multipart body would otherwise be answered with Twisted's bare, empty 400 before any adapter sees it).
    """

    #: set by :meth:`LimitedSite.getResourceFor`: the id in the request-id header and in error bodies
    request_id: str = ""
    #: the login of the authenticated user, set by the authentication code, for the access log
    user_login: str = ""
    started: float = 0.0

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)

    # -- behind a reverse proxy
    def _from_trusted_proxy(self) -> bool:
        channel = getattr(self, "channel", None)
        nets = getattr(getattr(channel, "site", None), "trusted_proxies", None)
        if not nets or channel is None or channel.transport is None:
            return False
        peer = channel.transport.getPeer()
        try:
            ip = ipaddress.ip_address(getattr(peer, "host", ""))
        except ValueError:
            return False
        return any(ip in net for net in nets)

    def getClientAddress(self):
        """The real client: the right-most ``X-Forwarded-For`` address not itself a trusted proxy, when the
        connection comes from a trusted proxy (``trusted_proxies``); otherwise the peer."""
        peer = super().getClientAddress()
        if not self._from_trusted_proxy():
            return peer
        forwarded = b",".join(self.requestHeaders.getRawHeaders(b"x-forwarded-for", []))
        nets = self.channel.site.trusted_proxies
        for hop in reversed([h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]):
            try:
                ip = ipaddress.ip_address(hop)
            except ValueError:
                break
            if not any(ip in net for net in nets):
                return address.IPv6Address("TCP", hop, 0) if ip.version == 6 else address.IPv4Address("TCP", hop, 0)
        return peer

    def isSecure(self) -> bool:
        """HTTPS on this connection, or ``X-Forwarded-Proto: https`` from a trusted proxy. Every cookie the
        server sets takes its ``Secure`` flag from here."""
        transport = getattr(getattr(self, "channel", None), "transport", None)
        while transport is not None:  # through the connection-cap wrapper to Twisted's TLS protocol
            if ISSLTransport.providedBy(transport):
                return True
            transport = getattr(transport, "transport", None)
        if self._from_trusted_proxy():
            proto = (self.getHeader(b"x-forwarded-proto") or b"").split(b",")[0].strip().lower()
            return proto == b"https"
        return False

    def typed_error(self, status: int, kind: str, message: str) -> bytes:
        status, ctype, body = error_body(self.path, self.getHeader(b"content-type"), status, kind, message,
                                         self.request_id if status >= 500 else "")
        self.setResponseCode(status)
        self.setHeader(b"content-type", ctype)
        self.setHeader(b"cache-control", b"no-store")
        return body

    def write(self, data):
        if not self.startedWriting:
            ctype = self.responseHeaders.getRawHeaders(b"content-type", [b""])[0] or b""
            if (ctype.lower().startswith(b"text/html")
                    and not self.responseHeaders.hasHeader(b"content-security-policy")):
                # every HTML answer (the page, static copies of it, anything else) gets CSP and framing rules
                self.setHeader(b"content-security-policy", PAGE_CSP)
                self.setHeader(b"x-frame-options", b"DENY")
                self.setHeader(b"x-content-type-options", b"nosniff")
        super().write(data)

    def render(self, resrc):
        server_header = getattr(getattr(self, "site", None), "server_header", None)
        if server_header is not None:
            self.setHeader(b"server", server_header)
        why = refusal(self, getattr(self.channel.site, "allowed_origins", []) if self.channel else [])
        if why is not None:
            body = self.typed_error(403, "CrossOriginRequest", why)
            self.setHeader(b"content-length", b"%d" % len(body))
            self.write(body)
            self.finish()
            return
        super().render(_TypedMethodErrors(resrc))

    def processingFailed(self, reason):
        log.error("request %s %s %s failed", self.request_id, self.method.decode("latin-1"),
                  self.path.decode("latin-1", "replace"),
                  exc_info=(reason.type, reason.value, reason.getTracebackObject()))
        if self.finished or self._disconnected:
            return reason
        if self.startedWriting:  # headers are out: the only honest thing left is to cut the response short
            if self.channel is not None:
                self.channel.loseConnection()
            return reason
        body = self.typed_error(500, "InternalError", "Internal server error")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()
        return reason


# --------------------------------------------------------------------------- channel
class _Deadline:
    """The header or body deadline of one connection (the two never overlap), on one ``DelayedCall``.

    A kept-alive connection arms and disarms a deadline twice per request. Cancelling a ``DelayedCall`` and
    scheduling a new one each time cost two ``callLater`` and two cancellations per request (with the reactor's
    heap upkeep); here arming and disarming set a number, and the ``DelayedCall`` stays scheduled: when it comes
    due early (the deadline was disarmed or moved later meanwhile) it re-schedules itself for the deadline in force,
    or ends. A deadline armed sooner than the pending call moves the call sooner."""

    __slots__ = ("_call_later", "_seconds", "_expired", "what", "due", "_call")

    def __init__(self, call_later, seconds, expired) -> None:
        self._call_later = call_later
        self._seconds = seconds
        self._expired = expired  # called with ``what`` when a deadline passes
        self.what: str | None = None  # the phase armed ("headers", "body"), None when disarmed
        self.due = 0.0
        self._call = None

    def arm(self, what: str, timeout: float) -> None:
        self.what = what
        self.due = self._seconds() + timeout
        call = self._call
        if call is None or not call.active():
            self._call = self._call_later(timeout, self._fire)
        elif call.getTime() > self.due:
            call.reset(timeout)

    def disarm(self) -> None:
        self.what = None

    def stop(self) -> None:
        self.what = None
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _fire(self) -> None:
        self._call = None
        what = self.what
        if what is None:
            return
        left = self.due - self._seconds()
        if left > 0:
            self._call = self._call_later(left, self._fire)
            return
        self.what = None
        self._expired(what)


class LimitedHTTPChannel(http.HTTPChannel):
    """Header and body deadlines, the body cap while reading, typed 400s; ``factory`` is a :class:`LimitedSite`."""

    _deadline: _Deadline | None = None
    _idle: _Deadline | None = None
    _abort_call = None
    _host = None
    _busy = False  # between "headers complete" and "response done"
    _partial = False  # some bytes of a request have arrived (headers incomplete or not)
    _closing = False
    _body_seen = 0
    _body_limit = 0

    @property
    def under_way(self) -> bool:
        """A request is under way on this connection: its bytes are arriving, or it is being answered."""
        return self._busy or self._partial

    @property
    def closing(self) -> bool:
        """The connection is being closed (a deadline or a refusal)."""
        return self._closing

    def getHost(self):
        """The local address: it never changes for a connection, so it is asked of the socket once, not for every
        request (Twisted's ``Request`` asks for it when it is made: a ``getsockname`` system call each time)."""
        if self._host is None:
            self._host = self.transport.getHost()
        return self._host

    # -- timers
    def _phase_deadline(self) -> _Deadline:
        if self._deadline is None:
            self._deadline = _Deadline(self.callLater, self.factory.reactor.seconds, self._timed_out)
        return self._deadline

    # -- the idle timeout: Twisted's TimeoutMixin, on a kept DelayedCall
    def setTimeout(self, period):  # noqa: N802 (TimeoutMixin's name)
        """``TimeoutMixin.setTimeout`` on a :class:`_Deadline`. ``HTTPChannel`` sets the idle timeout off when a
        request's body is complete and on again when its response is done: with the mixin, a cancelled
        ``DelayedCall`` and a new one for every request; here the call stays scheduled and the deadline moves."""
        prev, self.timeOut = self.timeOut, period
        if period is None:
            if self._idle is not None:
                self._idle.disarm()
        else:
            if self._idle is None:
                self._idle = _Deadline(self.callLater, self.factory.reactor.seconds,
                                       lambda _what: self.timeoutConnection())
            self._idle.arm("idle", period)
        return prev

    def resetTimeout(self):  # noqa: N802 (TimeoutMixin's name)
        """Data arrived: the idle timeout, if on, counts from now."""
        if self.timeOut is not None and self._idle is not None and self._idle.what is not None:
            self._idle.arm("idle", self.timeOut)

    def _start_header_timer(self) -> None:
        deadline = self._phase_deadline()
        if deadline.what is None and not self._closing:
            deadline.arm("headers", self.factory.http.header_timeout)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.disarm()

    def _cancel_abort(self) -> None:
        if self._abort_call is not None:
            if self._abort_call.active():
                self._abort_call.cancel()
            self._abort_call = None

    def _timed_out(self, what: str) -> None:
        peer = getattr(self.transport, "getPeer", lambda: None)()
        log.info("cutting off %s: request %s not complete in time", getattr(peer, "host", peer), what)
        self.factory.counters["timeouts"] += 1
        self.refuse(408, "RequestTimeout", f"The request {what} did not arrive in time")

    # -- connection
    def connectionMade(self):
        super().connectionMade()
        self._start_header_timer()

    def connectionLost(self, reason):
        if self._deadline is not None:
            self._deadline.stop()
        self._cancel_abort()
        super().connectionLost(reason)
        if self._idle is not None:
            self._idle.stop()

    def dataReceived(self, data):
        if self._closing:
            return
        if not self._busy and data:
            self._partial = True
            self._start_header_timer()
        super().dataReceived(data)

    def refuse(self, status: int, kind: str, message: str, extra=()) -> None:
        """Answer ``status`` below the Request level and close the connection (aborted if it does not go)."""
        if self._closing or self.transport is None:
            return
        self._closing = True
        self._stop_deadline()
        path = getattr(self, "_path", None)
        ctype = None
        if self.requests:
            ctype = self.requests[-1].requestHeaders.getRawHeaders(b"content-type", [None])[0]
        status, content_type, body = error_body(path, ctype, status, kind, message)
        self.transport.write(raw_response(status, content_type, body, extra))
        self.loseConnection()
        self._abort_call = self.callLater(ABORT_AFTER, self._abort)

    def _abort(self) -> None:
        self._abort_call = None
        if self.transport is not None:
            # typed as ITransport; the TCP and TLS transports a channel runs on provide ITCPTransport's abort
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def _respondToBadRequestAndDisconnect(self):
        self.refuse(400, "BadRequest", "The request line or headers are malformed or too large")

    def lineLengthExceeded(self, line):
        self.refuse(400, "BadRequest", f"A request line or header is longer than {self.MAX_LENGTH} bytes")

    # -- request phases
    def allHeadersReceived(self):
        self._stop_deadline()
        self._busy = True
        path = getattr(self, "_path", b"") or b""
        limit = self.factory.soap_body_cap if _is_soap(path) else self.factory.body_cap
        if self.length is not None and self.length > limit:
            self.factory.counters["too_large"] += 1
            kind = "MessageTooLarge" if _is_soap(path) else "RequestTooLarge"
            self.refuse(413, kind, f"The message is larger than the maximum of {limit} bytes")
            return
        self._body_seen, self._body_limit = 0, limit
        if self.length is None and self._transferDecoder is not None:  # chunked: count as it is decoded
            forward = self._transferDecoder.dataCallback

            def counted(data: bytes) -> None:
                self._body_seen += len(data)
                if self._body_seen > self._body_limit:
                    self.factory.counters["too_large"] += 1
                    self.refuse(413, "MessageTooLarge" if _is_soap(path) else "RequestTooLarge",
                                f"The message is larger than the maximum of {limit} bytes")
                elif not self._closing:
                    forward(data)

            self._transferDecoder.dataCallback = counted
        super().allHeadersReceived()
        if self.length != 0 and not self._closing:
            self._phase_deadline().arm("body", self.factory.http.body_timeout)

    def rawDataReceived(self, data):
        if self._closing:
            return
        super().rawDataReceived(data)

    def allContentReceived(self):
        self._stop_deadline()
        if self._closing:
            return
        super().allContentReceived()

    def requestDone(self, request):
        self._busy = self._partial = False
        if self.factory.draining:
            self.persistent = False
        super().requestDone(request)


def _make_channel(site: LimitedSite):
    # what twisted.web.server.Site.protocol builds (HTTP/1.1, or HTTP/2 after ALPN); Twisted has no public name for it
    return http._GenericHTTPChannelProtocol(LimitedHTTPChannel())  # noqa: SLF001


class LimitedSite(server.Site):
    """The site with :class:`LimitedHTTPChannel` / :class:`LimitedRequest`; tracks requests in flight."""

    protocol = _make_channel
    requestFactory = LimitedRequest

    def __init__(self, root, settings, reactor=None):
        super().__init__(root, timeout=settings.http.idle_timeout, reactor=reactor)
        self.displayTracebacks = False
        self.http = settings.http
        self.soap_body_cap = settings.max_body_size
        self.body_cap = body_cap(settings)
        self.allowed_origins = list(getattr(settings, "allowed_origins", []) or [])
        self.draining = False
        self.counters = {"timeouts": 0, "too_large": 0, "refused": 0}
        self._in_flight: set = set()
        #: a :class:`services87.ops.metrics.Metrics`, or None
        self.metrics = None
        self.trusted_proxies = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]
        self.request_id_header = settings.request_id_header.encode("latin-1")
        self.server_header = (b"services87/" + __version__.encode()) if settings.server_header_version \
            else b"services87"

    def log(self, request):
        """Twisted's combined-format access log is off: it would log query strings (which may carry tokens).
        The access log is written by :meth:`_finished`."""

    def getResourceFor(self, request):
        """Every request passes here once: request id, in-flight tracking, metrics and the access log."""
        request.started = time.monotonic()
        request.log_client = request.getClientAddress()  # the real client (trusted proxies), kept for the log
        given = request.getHeader(self.request_id_header)
        given = given.decode("latin-1") if given else ""
        request.request_id = (given if _REQUEST_ID.fullmatch(given)
                              else f"{_ID_PREFIX}{next(_id_counter) & 0xFFFFFFFF:08x}")
        request.setHeader(self.request_id_header, request.request_id.encode("latin-1"))
        self._in_flight.add(request)
        request.notifyFinish().addCallbacks(lambda _: self._finished(request, False),
                                            lambda _: self._finished(request, True))
        return super().getResourceFor(request)

    def _finished(self, request, aborted: bool) -> None:
        self._in_flight.discard(request)
        seconds = time.monotonic() - request.started
        contract = None
        if self.metrics is not None:
            contract = self.metrics.observe_request(request.path, request.code, seconds, aborted)
        if access_log.isEnabledFor(logging.INFO):
            host = getattr(request.log_client, "host", None)
            method = request.method.decode("latin-1")
            path = (request.path or b"").decode("latin-1", "replace")
            ms = seconds * 1000
            message = f"{'-' if host is None else host} {method} {path} {request.code} {ms:.1f}ms {request.request_id}"
            logs.access(access_log, message,
                        {"request_id": request.request_id, "contract": contract or contract_of(request.path),
                         "user": request.user_login or None, "status": request.code, "duration_ms": round(ms, 2),
                         "method": method, "path": path, "client": host, "aborted": aborted or None})

    def in_flight(self) -> list:
        """Requests still being answered over HTTP (a request whose connection became a WebSocket is not)."""
        return [r for r in self._in_flight if r.channel is not None and r.channel.transport is not None]


# --------------------------------------------------------------------------- connection cap
class _Refuse(Protocol):
    """Over the connection cap: answer 503 at once, close once the request head is read (so the client
    reads our answer instead of a reset), or after a second at most."""

    def __init__(self, limiter: ConnectionLimiter):
        self.limiter = limiter
        self.seen = b""
        self.timer = None

    def connectionMade(self):
        self.limiter.refusing += 1
        self.limiter.site.counters["refused"] += 1
        _, ctype, body = error_body(None, None, 503, "TooManyConnections",
                                    "The server has too many open connections; retry shortly")
        self.transport.write(raw_response(503, ctype, body, [(b"Retry-After", b"2")]))
        self.timer = self.limiter.reactor.callLater(1.0, self.transport.loseConnection)

    def dataReceived(self, data):
        self.seen = (self.seen + data)[-8:]
        if b"\r\n\r\n" in self.seen or b"\n\n" in self.seen:
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.limiter.refusing -= 1
        if self.timer is not None and self.timer.active():
            self.timer.cancel()


class _Wrapper(policies.ProtocolWrapper):
    """A connection under the cap. It does not claim ``ISSLTransport`` itself even on a TLS connection:
    autobahn reads TLS channel details only from Twisted's real TLS protocol and refuses a WebSocket on a
    wrapper that claims TLS. :meth:`LimitedRequest.isSecure` looks through the wrapper instead."""

    def makeConnection(self, transport):
        directlyProvides(self, *[i for i in providedBy(transport).interfaces() if not i.isOrExtends(ISSLTransport)])
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self.wrappedProtocol.makeConnection(self)


@implementer(IProtocolNegotiationFactory)
class ConnectionLimiter(policies.WrappingFactory):
    """The listening factory: at most ``http.max_connections`` connections reach the site at once.

    On a TLS endpoint it answers ALPN with ``http/1.1`` (the limits here are HTTP/1.1's): without an answer
    Twisted's ALPN callback returns an empty protocol, which OpenSSL turns into a handshake failure for every
    client that offers ALPN (curl, browsers).
    """

    protocol = _Wrapper

    def acceptableProtocols(self):
        return [b"http/1.1"]

    #: Connections being refused politely at once; beyond this they are closed without an answer.
    MAX_REFUSING = 64

    def __init__(self, site: LimitedSite, max_connections: int, reactor, max_per_address: int | None = None):
        super().__init__(site)
        self.site = site
        self.max_connections = max_connections
        self.max_per_address = max_per_address or max_connections
        self.reactor = reactor
        self.refusing = 0
        self.per_address: dict[str, int] = {}
        self._address_of: dict = {}

    def buildProtocol(self, addr):
        host = getattr(addr, "host", "") or ""
        if len(self.protocols) >= self.max_connections or self.per_address.get(host, 0) >= self.max_per_address:
            if self.refusing >= self.MAX_REFUSING:
                self.site.counters["refused"] += 1
                return None
            return _Refuse(self)
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            self.per_address[host] = self.per_address.get(host, 0) + 1
            self._address_of[protocol] = host
        return protocol

    def unregisterProtocol(self, p):
        host = self._address_of.pop(p, None)
        if host is not None:
            left = self.per_address.get(host, 1) - 1
            if left > 0:
                self.per_address[host] = left
            else:
                self.per_address.pop(host, None)
        super().unregisterProtocol(p)

    def open_connections(self) -> int:
        return len(self.protocols)


def build_site(root, settings, reactor=None) -> LimitedSite:
    return LimitedSite(root, settings, reactor=reactor)


def protect(site: LimitedSite, settings, reactor=None) -> ConnectionLimiter:
    if reactor is None:
        reactor = site.reactor
    return ConnectionLimiter(site, settings.http.max_connections, reactor,
                             getattr(settings.http, "max_connections_per_address", None))


# --------------------------------------------------------------------------- graceful shutdown
def still_sending(transport) -> bool:
    """Whether bytes written to a connection may still be in this process's send buffer.

    A TLS layer hands every record to the TCP transport below it at once, and a TLS connection being closed
    then waits for the peer's ``close_notify`` with nothing left to send (a client keeping an idle pooled
    connection never sends it): the TCP transport's own buffer is what counts. A transport of another kind
    may hold bytes, as far as this can tell."""
    while isinstance(transport, TLSMemoryBIOProtocol):
        transport = transport.transport
    if isinstance(transport, abstract.FileDescriptor):
        # Twisted keeps what a write could not send at once in dataBuffer (from offset on) and the writes
        # since in _tempDataBuffer; it has no public name for their total
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen > 0  # noqa: SLF001
    return True


def drain_on_shutdown(reactor, factory: ConnectionLimiter, port, grace: float) -> None:
    """On reactor shutdown (SIGTERM/SIGINT): stop accepting, close idle connections, let requests in flight
    finish for up to ``grace`` seconds, then let the reactor stop (which closes whatever is left)."""

    def before_shutdown():
        site = factory.site
        site.draining = True
        stopped = defer.maybeDeferred(port.stopListening)
        for wrapper in list(factory.protocols):
            channel = getattr(wrapper.wrappedProtocol, "_channel", None)
            if isinstance(channel, LimitedHTTPChannel) and not (channel.requests or channel.under_way):
                wrapper.loseConnection()
        deadline = reactor.seconds() + grace
        done = defer.Deferred()

        def busy_channels() -> list:
            """Connections with a request under way (body still arriving, or being answered)."""
            out = []
            for wrapper in list(factory.protocols):
                channel = getattr(wrapper.wrappedProtocol, "_channel", None)
                if isinstance(channel, LimitedHTTPChannel) and channel.under_way \
                        and not channel.closing and channel.transport is not None:
                    out.append(channel)
            return out

        def flushing() -> list:
            """Connections closing after their answer whose send buffer has not drained yet: the reactor's stop
            drops every connection at once, so an answer still buffered for a slow reader would be cut off."""
            return [w for w in list(factory.protocols)
                    if getattr(w.transport, "disconnecting", False) and not getattr(w, "disconnected", False)
                    and still_sending(w.transport)]

        def poll():
            left = site.in_flight() or busy_channels() or flushing()
            if not left:
                log.info("shutdown: no requests in flight")
                done.callback(None)
            elif reactor.seconds() >= deadline:
                log.warning("shutdown: %d request(s) or answer(s) still under way after %ss; stopping anyway",
                            len(left), grace)
                done.callback(None)
            else:
                reactor.callLater(0.05, poll)

        stopped.addBoth(lambda _: poll())
        return done

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
