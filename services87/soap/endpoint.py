"""One ``.svc`` endpoint: guard → envelope normalization → the Spyne application of the request's SOAP version.

``GET ?wsdl`` / ``?singleWsdl`` serve :mod:`services87.soap.wsdl`. ``POST`` accepts SOAP 1.1 (``text/xml``)
and SOAP 1.2 (``application/soap+xml`` with or without ``action=``) at the same URL and dispatches on the
body element (never on SOAPAction). A 1.2 request is answered in 1.2.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree
from twisted.web import resource, server

from services87.auth.http import note_user
from services87.auth.service import AuthError
from services87.cache import ResponseCache
from services87.engine.model import EngineError
from services87.http.body import read_body
from services87.http.errors import HttpError, RequestTooLarge
from services87.http.warm import WarmPath
from services87.soap import compat, envelope, guard, services, statistics_request, statistics_xml, wsdl
from services87.soap.models import TNS

compat.apply()

from spyne.server.twisted import TwistedWebResource  # noqa: E402  (after compat)
from spyne.server.twisted.http import TwistedHttpMethodContext  # noqa: E402

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

_CONTENT_TYPE = {"1.1": b"text/xml; charset=utf-8", "1.2": b"application/soap+xml; charset=utf-8"}


def _text(value) -> str | None:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _read_body(request, limit: int) -> bytes:
    """The body through the shared reader (services87/http/body.py), its refusals as the guard's."""
    try:
        return read_body(request, limit)
    except RequestTooLarge:
        raise guard.GuardError("MessageTooLarge", f"The message is larger than the maximum of {limit} bytes") from None
    except HttpError as exc:
        raise guard.GuardError(exc.kind, exc.message) from None


class SoapEndpoint(resource.Resource):
    isLeaf = True

    def __init__(self, hs: Services87Server, service: str, applications: dict, implemented: set[str]):
        super().__init__()
        self.hs = hs
        self.service = service
        self.path = f"/Remote/Services87/{service}.svc"
        self.implemented = implemented
        self.vendor_ops = set(wsdl.vendor_operations(service))
        self.spyne = {}
        for version, app in applications.items():
            app.out_protocol.event_manager.add_listener("after_serialize", self._after_serialize)
            self.spyne[version] = TwistedWebResource(app, max_content_length=hs.settings.max_body_size)
        self._wsdl_cache: dict[str, bytes] = {}
        self.warm = WarmPath(hs, "soap")
        #: (Content-Type, body) of GetStatistics requests already through the guard -> (SoapRequest,
        #: canonical envelope, credentials): a repeated request skips parsing (off with the response cache).
        self._parsed = ResponseCache(hs.settings.response_cache_size, max_bytes=8 * 1024 * 1024)

    # ------------------------------------------------------------------ GET
    def render_GET(self, request):
        query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
        args = {part.split(b"=", 1)[0].decode("latin-1").lower() for part in query.split(b"&") if part}
        if args & {"wsdl", "singlewsdl"}:
            address = wsdl.request_address(request, self.path)
            doc = self._wsdl_cache.get(address)
            if doc is None:
                doc = wsdl.build(self.service, address, self.implemented if self.service == "CustomerService" else None)
                if len(self._wsdl_cache) < 64:
                    self._wsdl_cache[address] = doc
            request.setHeader(b"content-type", b"text/xml; charset=utf-8")
            return doc
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return (f"services87 {self.service} (SuperOffice NetServer Services87 compatible).\n"
                f"POST SOAP 1.1 or 1.2 messages here; the WSDL is at {self.path}?wsdl\n").encode()

    render_HEAD = render_GET

    # ------------------------------------------------------------------ POST
    def render_POST(self, request):
        content_type = _text(request.getHeader(b"content-type"))
        hint = envelope.version_from_content_type(content_type)
        settings = self.hs.settings
        body = None
        try:
            body = _read_body(request, settings.max_body_size)
            seen = self._parsed.get((content_type, body))
            if seen is not None:  # the very bytes of a GetStatistics already parsed (the guard is deterministic)
                soap, canonical, credentials, fast = seen
                request.content = io.BytesIO(canonical)
                request.requestHeaders.setRawHeaders(b"content-type", [_CONTENT_TYPE[soap.version]])
                request.services87_soap = soap
                return self._statistics(request, soap, credentials, canonical, fast)
            root = guard.parse(body, settings.max_body_size, settings.max_xml_depth, content_type)
            soap = envelope.normalize(root, content_type)
        except guard.GuardError as exc:
            return self._fault(request, guard.sniff_version(body, hint), "Client", exc.kind, exc.message)
        except envelope.SoapRequestError as exc:
            return self._fault(request, exc.version, exc.code, exc.kind, exc.message)

        if soap.namespace == TNS and soap.operation not in self.implemented and soap.operation in self.vendor_ops:
            request.setResponseCode(200)
            request.setHeader(b"content-type", _CONTENT_TYPE[soap.version])
            return envelope.not_implemented(soap.version, self.service, soap.operation, soap.wsa)

        canonical = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        request.content = io.BytesIO(canonical)
        request.requestHeaders.setRawHeaders(b"content-type", [_CONTENT_TYPE[soap.version]])
        request.services87_soap = soap
        if self.service == "CustomerService" and soap.operation == "GetStatistics" and soap.namespace == TNS:
            fast = None if soap.wsa else statistics_request.read(root, soap.version)
            if fast is not None:  # the same two texts, already read (each element at most once, non-empty)
                app_token, creds, _tz = fast[0]
                credentials = (app_token, creds.Ticket if creds is not None else None)
            else:
                credentials = _credentials(root, soap.version)
            if not soap.wsa:  # (a WS-Addressing MessageID makes every request unique)
                self._parsed.put((content_type, body), (soap, canonical, credentials, fast),
                                 size=len(body) + len(canonical))
            return self._statistics(request, soap, credentials, canonical, fast)
        return self._spyne(request, soap)

    def _spyne(self, request, soap):
        try:
            return self.spyne[soap.version].render(request)
        except Exception:  # a bug below Spyne's own error handling: still answer a SOAP fault
            log.exception("SOAP request failed")
            if request.startedWriting:
                raise
            return self._fault(request, soap.version, "Server", "InternalError", "Internal server error")

    def render(self, request):
        if request.method in (b"GET", b"HEAD", b"POST"):
            return super().render(request)
        request.setHeader(b"allow", b"GET, HEAD, POST")
        return self._fault(request, envelope.version_from_content_type(_text(request.getHeader(b"content-type"))),
                           "Client", "MethodNotAllowed", "Use POST for SOAP messages, GET for ?wsdl", status=405)

    # ------------------------------------------------------------------ GetStatistics
    def _statistics(self, request, soap, credentials: tuple, canonical: bytes, fast=None):
        """GetStatistics: the serialized-response cache, then the fast serializer (docs/performance.md).

        0. On SQLite, when the version watch proves nothing was committed since the versions were last read
           and the ticket was validated under them and has not expired, a stored answer is sent at once, on
           the reactor thread (:meth:`_reactor_hit`, ``services87/http/warm.py``).
        1. Otherwise one hop to the store threads validates the caller (revocations bump the auth version,
           the expiry is compared with the clock) and reads the data version; a stored answer whose
           validity holds answers the stored bytes.
        2. A miss computes the answer and writes the envelope with :mod:`services87.soap.statistics_xml`,
           storing it: in the same hop when :mod:`services87.soap.statistics_request` read the request
           (``fast``), else after Spyne's parse of it, in one more hop.
        3. Every error (a refused caller, a Spyne fault, an engine error, text XML cannot carry) is
           answered by the normal Spyne path, exactly as before.
        """
        app_token, ticket = credentials
        request_key = (soap.version, canonical) if (self.warm.enabled and not soap.wsa) else None
        if request_key is not None or fast is not None:
            hit = self._reactor_hit(request_key, app_token, ticket, request, soap, fast)
            if hit is not None:
                self._send(request, soap, *hit)
                return server.NOT_DONE_YET
        d = self.hs.run_blocking(_cache_probe, self.hs, self.warm, request_key, app_token, ticket, fast,
                                 soap.version)

        def probed(probe):
            key, principal, hit, tried = probe
            if request._disconnected:  # noqa: SLF001 - Twisted has no public flag for a client gone
                return None
            note_user(request, principal)
            if hit is not None:
                content_type, body = hit
                return self._send(request, soap, content_type, body)
            if principal is None or tried:  # refused or an error answer: Spyne answers with the ExceptionInfo
                return self._spyne_async(request, soap)
            parsed = self._spyne_parse(request, soap)
            if parsed is None:
                return self._spyne_async(request, soap)
            (_app_token, _credentials_header, tz_header), functions = parsed
            return self.hs.run_blocking(
                _fast_statistics, self.hs, self.warm, key, principal, soap.version, tz_header, functions,
                datetime.now(UTC)).addCallback(computed)

        def computed(body):
            if request._disconnected:  # noqa: SLF001 - Twisted has no public flag for a client gone
                return None
            if body is None:
                return self._spyne_async(request, soap)
            return self._send(request, soap, _CONTENT_TYPE[soap.version], body)

        def failed(failure):
            log.error("GetStatistics failed: %s", failure.getTraceback())
            if not request._disconnected and not request.startedWriting:  # noqa: SLF001 - as above
                request.write(self._fault(request, soap.version, "Server", "InternalError", "Internal server error"))
                request.finish()

        d.addCallback(probed).addErrback(failed)
        return server.NOT_DONE_YET

    def _reactor_hit(self, request_key, app_token, ticket, request, soap, fast):
        """Reactor thread, no hop: when the version watch proves the versions read last are still current and
        the ticket was validated under them and has not expired, the stored answer, else (the request read by
        :mod:`~services87.soap.statistics_request`) the answer made from the engine's cache of data sets
        (:meth:`StatisticsEngine.cached`, which reads nothing) and stored; ``None``: take the hop."""
        if not ticket or len(ticket) >= 512:
            return None
        try:
            self.hs.get_auth().check_application_token(app_token)  # settings only
        except AuthError:
            return None
        versions = self.warm.current_versions()
        if versions is None:
            return None
        principal = self.hs.get_auth().cached_principal("soticket", ticket, versions)
        if principal is None:
            return None
        key = (request_key, principal.user.id) if request_key is not None else None
        hit = self.warm.get(key, versions[0])
        if hit is None and fast is not None:
            (_app_token, _credentials, tz_header), functions = fast
            body = _fast_statistics(self.hs, self.warm, key, principal, soap.version, tz_header, functions,
                                    datetime.now(UTC), versions[0], cached=True)
            hit = None if body is None else (_CONTENT_TYPE[soap.version], body)
        if hit is not None:
            note_user(request, principal)
            self.warm.answered_on_reactor()
        return hit

    def _spyne_parse(self, request, soap):
        """Spyne's deserialization of the request: ``((app_token, credentials, time_zone), functions)``, or
        ``None`` when Spyne finds an error (then Spyne's own path answers it)."""
        try:
            transport = self.spyne[soap.version].http_transport
            ctx = TwistedHttpMethodContext(transport, request, transport.app.out_protocol.mime_type)
            request.content.seek(0)
            ctx.in_string = [request.content.read()]
            return spyne_read(transport, ctx)
        except Exception:  # anything unexpected: Spyne's full path decides
            log.debug("Spyne parse of GetStatistics failed", exc_info=True)
            return None

    def _spyne_async(self, request, soap):
        out = self._spyne(request, soap)
        if out is not server.NOT_DONE_YET and not request.finished:
            request.write(out)
            request.finish()

    @staticmethod
    def _send(request, soap, content_type: bytes, body: bytes) -> None:
        if soap.wsa:
            doc = etree.fromstring(body)
            envelope.add_addressing(doc, soap.version, soap.wsa, f"{TNS}/CustomerService/GetStatisticsResponse")
            body = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
        request.setResponseCode(200)
        request.setHeader(b"content-type", content_type)
        request.write(body)
        request.finish()

    # ------------------------------------------------------------------ helpers
    def _fault(self, request, version, code, kind, message, status=None):
        http_status, body = envelope.fault(version, code, kind, message)
        request.setResponseCode(status or http_status)
        request.setHeader(b"content-type", _CONTENT_TYPE[version])
        return body

    def _after_serialize(self, ctx):
        """Leave out empty (nil) out headers, as "not set"; answer WS-Addressing with ``Action``/``RelatesTo``."""
        soap = getattr(getattr(ctx.transport, "req", None), "services87_soap", None)
        if soap is None or ctx.out_document is None:
            return
        header = ctx.out_document.find(f"{{{envelope.VERSION_NS[soap.version]}}}Header")
        if header is not None:
            for el in list(header):
                if el.get(f"{{{envelope.XSI}}}nil") == "true":
                    header.remove(el)
        if not soap.wsa:
            return
        if ctx.out_error is not None:
            action = "http://www.w3.org/2005/08/addressing/soap/fault"
        else:
            action = f"{TNS}/{self.service}/{soap.operation}Response"
        envelope.add_addressing(ctx.out_document, soap.version, soap.wsa, action)


# --------------------------------------------------------------------------- response cache helpers
def spyne_read(server, ctx):
    """``((app token, credentials, time zone header), functions)`` as Spyne reads the request in ``ctx``
    (``ctx.in_string`` set), or ``None`` when Spyne finds an error."""
    p_ctx = server.generate_contexts(ctx)[0]
    if p_ctx.in_error is None:
        server.get_in_object(p_ctx)
    if p_ctx.in_error is not None or not p_ctx.in_object:
        return None
    headers = p_ctx.in_header
    if headers is None:
        headers = ()
    elif not isinstance(headers, (list, tuple)):
        headers = (headers,)
    headers = tuple(headers) + (None,) * (3 - len(headers))
    return headers[:3], p_ctx.in_object[0]


def _credentials(root, version: str) -> tuple[str | None, str | None]:
    """``ApplicationToken`` and ``Credentials/Ticket`` from the (normalized) envelope's Header."""
    header = root.find(f"{{{envelope.VERSION_NS[version]}}}Header")
    if header is None:
        return None, None
    token = header.find(f"{{{TNS}}}ApplicationToken")
    ticket = header.find(f"{{{TNS}}}Credentials/{{{TNS}}}Ticket")
    return (token.text if token is not None else None), (ticket.text if ticket is not None else None)


def _cache_probe(hs: Services87Server, warm: WarmPath, request_key, app_token, ticket, fast=None, version: str = "1.1"):
    """Store thread: ``(key, principal, (content_type, body) or None, tried)``; principal ``None`` = refused
    (Spyne answers with the proper ExceptionInfo); key ``None`` = do not cache. With the request already read
    (``fast``: :mod:`services87.soap.statistics_request`) a miss is answered here too; ``tried`` says so
    (a ``None`` answer then is an error answer, which Spyne's path gives).

    The caller is validated on every request (:meth:`AuthService.validate_ticket`, which remembers a validated
    ticket under the versions read here: user changes bump the data version and revocations the auth version,
    and the ticket's own expiry is checked each time, so a hit is one small query).
    """
    try:
        hs.get_auth().check_application_token(app_token)
        data_version, auth_version = hs.get_store().versions()
        principal = hs.get_auth().validate_ticket(ticket, (data_version, auth_version))
    except (AuthError, EngineError):
        return None, None, None, False
    # The question: the request and who asks; the data version and the clock are the answer's validity.
    key = (request_key, principal.user.id) if request_key is not None else None
    hit = warm.get(key, data_version)
    if hit is not None or fast is None:
        return key, principal, hit, False
    (_app_token, _credentials, tz_header), functions = fast
    body = _fast_statistics(hs, warm, key, principal, version, tz_header, functions, datetime.now(UTC),
                            data_version)
    return key, principal, (None if body is None else (_CONTENT_TYPE[version], body)), True


def _fast_statistics(hs: Services87Server, warm: WarmPath, key, principal, version, tz_header, functions,
                     now, data_version: int | None = None, cached: bool = False) -> bytes | None:
    """Store thread: compute and serialize a successful answer (stored under ``key``); ``None`` when the
    answer is an error, which the Spyne path then gives. ``data_version``: as just read on this thread.
    ``cached``: on the reactor thread, at a ``data_version`` proven current there: only from the engine's
    cache (``None`` also when that cannot answer)."""
    if cached:
        assert data_version is not None
        outcome = services.cached_statistics_outcome(hs, principal, tz_header, functions, now, data_version)
    else:
        outcome = services.statistics_outcome(hs, principal, tz_header, functions, now, data_version)
    if outcome is None or outcome.error is not None:
        return None
    try:
        body = statistics_xml.statistics_response(version, outcome.value, outcome.time_zone, outcome.extra)
    except statistics_xml.Unserializable:
        return None
    warm.put(key, (_CONTENT_TYPE[version], body), outcome.value.validity, size=len(body))
    return body
