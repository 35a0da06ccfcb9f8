"""The WSDL we serve: the vendor's own file (the contract, in ``wsdl/``), rewritten for this server.

Spyne cannot express the vendor's WCF WSDL exactly (one response element shared by four operations,
headers as separate ``*_Headers`` messages, ``parameters`` parts, ``wsaw:Action``), and WCF/svcutil/gSOAP
clients are fussy about exactly those details. So ``?wsdl`` and ``?singleWsdl`` serve the vendor's
single-file WSDL with:

* the port address set to this server's URL (from the request, honouring ``X-Forwarded-Host/-Proto``);
* for CustomerService, only the operations services87 implements (``GetStatistics``);
* a SOAP 1.2 binding ``CustomBinding_<Service>`` and its port after the SOAP 1.1 port (1.1 stays first).

Schema types are kept whole, byte for byte.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

from lxml import etree

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
SOAP12_HTTP = "http://schemas.xmlsoap.org/soap/http"

_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_HERE = Path(__file__).resolve().parent
_CANDIDATES = (_HERE / "wsdl",)  # the vendor files, shipped as package data (wsdl/ at the top links here)


def vendor_path(service: str) -> Path:
    name = f"Services87-{service}.wsdl"
    for folder in _CANDIDATES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found in {', '.join(str(c) for c in _CANDIDATES)}")


@cache
def _vendor_tree(service: str) -> bytes:
    return vendor_path(service).read_bytes()


def vendor_operations(service: str) -> list[str]:
    root = etree.fromstring(_vendor_tree(service))
    return [op.get("name") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")]


def _q(el, attr):
    """Local part of a QName-valued attribute."""
    value = el.get(attr) or ""
    return value.split(":", 1)[-1]


def build(service: str, address: str, operations: set[str] | None = None) -> bytes:
    """The WSDL for ``service`` at ``address``, restricted to ``operations`` (None = all)."""
    root = etree.fromstring(_vendor_tree(service))
    w = f"{{{WSDL}}}"
    keep_messages: set[str] = set()
    for pt in root.iterfind(f"{w}portType"):
        for op in list(pt.iterfind(f"{w}operation")):
            if operations is not None and op.get("name") not in operations:
                pt.remove(op)
                continue
            for io in op:
                if io.get("message"):
                    keep_messages.add(_q(io, "message"))
    bindings = list(root.iterfind(f"{w}binding"))
    for binding in bindings:
        for op in list(binding.iterfind(f"{w}operation")):
            if operations is not None and op.get("name") not in operations:
                binding.remove(op)
                continue
            for hdr in op.iter(f"{{{SOAP11}}}header"):
                keep_messages.add(_q(hdr, "message"))
    for msg in list(root.iterfind(f"{w}message")):
        if msg.get("name") not in keep_messages:
            root.remove(msg)

    # SOAP 1.2 binding: a copy of the 1.1 binding with soap12 extension elements.
    soap11_binding = bindings[0]
    soap12_binding = copy.deepcopy(soap11_binding)
    soap12_name = f"CustomBinding_{service}"
    soap12_binding.set("name", soap12_name)
    for el in list(soap12_binding.iter()):
        if isinstance(el.tag, str) and el.tag.startswith(f"{{{SOAP11}}}"):
            el.tag = f"{{{SOAP12}}}" + el.tag.split("}", 1)[1]
    soap11_binding.addnext(soap12_binding)

    svc = root.find(f"{w}service")
    port11 = svc.find(f"{w}port")
    port11.find(f"{{{SOAP11}}}address").set("location", address)
    port12 = etree.SubElement(svc, f"{w}port", name=soap12_name,
                              binding=f"tns:{soap12_name}")
    etree.SubElement(port12, f"{{{SOAP12}}}address", location=address)
    port11.addnext(port12)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def request_address(request, path: str) -> str:
    """This server's URL for ``path`` as the client reached it."""
    def text(v):
        return v.decode("latin-1") if isinstance(v, bytes) else v

    host = text(request.getHeader(b"x-forwarded-host")) or text(request.getHeader(b"host"))
    proto = (text(request.getHeader(b"x-forwarded-proto")) or "").strip().lower()
    scheme = proto if proto in ("http", "https") else ("https" if request.isSecure() else "http")
    if not host:
        h = request.getHost()
        host = f"{h.host}:{h.port}"
    host = host.split(",")[0].strip()
    if not _HOST_RE.match(host):
        h = request.getHost()
        host = f"{h.host}:{h.port}"
    return f"{scheme}://{host}{path}"
