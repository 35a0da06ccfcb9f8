"""One ``.svc`` endpoint: guard → envelope normalization → the Spyne application of the request's SOAP version.

``GET ?wsdl`` / ``?singleWsdl`` serve :mod:`services87.soap.wsdl`. ``POST`` accepts SOAP 1.1 (``text/xml``)
and SOAP 1.2 (``application/soap+xml`` with or without ``action=``) at the same URL and dispatches on the
body element (never on SOAPAction). A 1.2 request is answered in 1.2.
"""

from __future__ import annotations

import io
import logging

from lxml import etree
from twisted.web import resource

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
        try:
            length = request.getHeader(b"content-length")
            guard.check_size(int(length) if length and length.isdigit() else None, settings.max_body_size)
            request.content.seek(0)
            body = request.content.read(settings.max_body_size + 1)
            root = guard.parse(body, settings.max_body_size, settings.max_xml_depth)
            soap = envelope.normalize(root, content_type)
        except guard.GuardError as exc:
            return self._fault(request, hint, "Client", exc.kind, exc.message)
        except envelope.SoapRequestError as exc:
            return self._fault(request, exc.version, exc.code, exc.kind, exc.message)

        if soap.namespace == TNS and soap.operation not in self.implemented and soap.operation in self.vendor_ops:
            request.setResponseCode(200)
            request.setHeader(b"content-type", _CONTENT_TYPE[soap.version])
            return envelope.not_implemented(soap.version, self.service, soap.operation, soap.wsa)

        request.content = io.BytesIO(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
        request.requestHeaders.setRawHeaders(b"content-type", [_CONTENT_TYPE[soap.version]])
        request.services87_soap = soap
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
