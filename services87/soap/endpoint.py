"""One ``.svc`` endpoint: guard → envelope normalization → the Spyne application of the request's SOAP version.

``GET ?wsdl`` / ``?singleWsdl`` serve :mod:`services87.soap.wsdl`. ``POST`` accepts SOAP 1.1 (``text/xml``)
and SOAP 1.2 (``application/soap+xml`` with or without ``action=``) at the same URL and dispatches on the
body element (never on SOAPAction). A 1.2 request is answered in 1.2.
"""

from __future__ import annotations

import io
import logging
import time

from lxml import etree
from twisted.web import resource, server

from services87.auth.service import AuthError
from services87.cache import ResponseCache
from services87.engine.model import EngineError
from services87.soap import compat, envelope, guard, wsdl
from services87.soap.models import TNS

compat.apply()

from spyne.server.twisted import TwistedWebResource  # noqa: E402  (after compat)

log = logging.getLogger(__name__)

_CONTENT_TYPE = {"1.1": b"text/xml; charset=utf-8", "1.2": b"application/soap+xml; charset=utf-8"}


def _text(value) -> str | None:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class SoapEndpoint(resource.Resource):
    isLeaf = True

    def __init__(self, hs, service: str, applications: dict, implemented: set[str]):
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
        self.cache = hs.services.get("soap.response_cache")
        if self.cache is None:
            self.cache = hs.services["soap.response_cache"] = ResponseCache(hs.settings.response_cache_size)

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
            length = request.getHeader(b"content-length")
            guard.check_size(int(length) if length and length.isdigit() else None, settings.max_body_size)
            request.content.seek(0)
            body = request.content.read(settings.max_body_size + 1)
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
        if (self.cache.enabled and self.service == "CustomerService" and soap.operation == "GetStatistics"
                and soap.namespace == TNS and not soap.wsa):
            return self._cached(request, soap, root, canonical)
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

    # ------------------------------------------------------------------ response cache
    def _cached(self, request, soap, root, canonical: bytes):
        """GetStatistics through the serialized-response cache (docs/performance.md).

        One hop to the store threads validates the caller (every time: revocation and expiry are never
        cached) and reads the data version; a hit answers the stored bytes without Spyne, a miss runs the
        normal Spyne path and stores what it wrote when the answer succeeded.
        """
        app_token, ticket = _credentials(root, soap.version)
        d = self.hs.run_blocking(_cache_probe, self.hs, self.cache, (soap.version, canonical), app_token, ticket)

        def answer(probe):
            key, hit = probe
            if request._disconnected:
                return
            if hit is not None:
                content_type, body = hit
                request.setResponseCode(200)
                request.setHeader(b"content-type", content_type)
                request.write(body)
                request.finish()
                return
            if key is not None:
                _capture(request, self.cache, key)
            out = self._spyne(request, soap)
            if out is not server.NOT_DONE_YET and not request.finished:
                request.write(out)
                request.finish()

        def failed(failure):
            log.error("SOAP response cache probe failed: %s", failure.getErrorMessage())
            if not request._disconnected and not request.startedWriting:
                request.write(self._fault(request, soap.version, "Server", "InternalError", "Internal server error"))
                request.finish()

        d.addCallback(answer).addErrback(failed)
        return server.NOT_DONE_YET

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
def _credentials(root, version: str) -> tuple[str | None, str | None]:
    """``ApplicationToken`` and ``Credentials/Ticket`` from the (normalized) envelope's Header."""
    header = root.find(f"{{{envelope.VERSION_NS[version]}}}Header")
    if header is None:
        return None, None
    token = header.find(f"{{{TNS}}}ApplicationToken")
    ticket = header.find(f"{{{TNS}}}Credentials/{{{TNS}}}Ticket")
    return (token.text if token is not None else None), (ticket.text if ticket is not None else None)


def _cache_probe(hs, cache, request_key, app_token, ticket):
    """Store thread: (key, (content_type, body) or None); key None = do not cache (the caller is refused,
    and Spyne answers with the proper ExceptionInfo).

    The caller is validated on every request. A validated ticket is remembered under
    (ticket digest, data version, auth version): user changes bump the data version and revocations the
    auth version, and the ticket's own expiry is checked each time, so a hit is one small query.
    """
    try:
        hs.auth.check_application_token(app_token)
        data_version, auth_version = hs.store.versions()
        now = int(time.time())
        digest = hs.auth._digest(ticket.strip()) if ticket and len(ticket) < 512 else None
        known = _PRINCIPALS.get((digest, data_version, auth_version)) if digest else None
        if known is None or known[1] <= now:
            principal = hs.auth.validate_ticket(ticket)
            row = hs.auth.tickets.get(digest, "ticket")
            known = (principal.user.id, int(row["expires_ts"]) if row else now)
            _PRINCIPALS.put((digest, data_version, auth_version), known, size=1)
        user_id = known[0]
    except (AuthError, EngineError):
        return None, None
    # The answer depends on the request, the user, the data and the clock: the local day (every zone's
    # midnight falls on a 15-minute boundary) and the engine's 864 s bucket of user-scoped panels.
    key = (request_key, user_id, data_version, now // 900, now // 864)
    return key, cache.get(key)


#: Validated tickets: (digest, data version, auth version) -> (user id, expires_ts).
_PRINCIPALS = ResponseCache(4096)


def _capture(request, cache, key) -> None:
    """Keep what Spyne writes; store it when the request finishes with a successful GetStatistics."""
    chunks: list[bytes] = []
    write = request.write

    def capturing_write(data):
        chunks.append(data)
        write(data)

    request.write = capturing_write

    def finished(_):
        if request.code == 200 and getattr(request, "services87_ok", False):
            content_type = request.responseHeaders.getRawHeaders(b"content-type", [b"text/xml; charset=utf-8"])[0]
            body = b"".join(chunks)
            cache.put(key, (content_type, body), size=len(body))

    request.notifyFinish().addCallbacks(finished, lambda _: None)
