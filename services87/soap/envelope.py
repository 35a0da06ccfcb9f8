"""SOAP envelope tolerance in front of Spyne, and the few envelopes built without Spyne.

Real callers differ; :func:`normalize` turns what they send into what Spyne expects, in place:

* SOAP 1.1 and 1.2 envelopes (the version comes from the envelope namespace, not the Content-Type);
* header elements placed directly under ``Envelope`` without a ``Header`` (the vendor's sample request)
  are moved into a ``Header`` before the ``Body``;
* ``xsi:type`` attributes are dropped (doc/literal: the schema already fixes every type);
* ``mustUnderstand`` headers are accepted from our namespace and WS-Addressing; any other one gets a
  ``MustUnderstand`` fault, as SOAP requires. WS-Addressing ``MessageID`` is answered with ``RelatesTo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from services87.soap.models import TNS

NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSA10 = "http://www.w3.org/2005/08/addressing"
WSA04 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
UNDERSTOOD = {TNS, WSA10, WSA04}
VERSION_NS = {"1.1": NS11, "1.2": NS12}


class SoapRequestError(Exception):
    """A malformed SOAP message. ``code``: Client | MustUnderstand | VersionMismatch."""

    def __init__(self, version: str, code: str, kind: str, message: str):
        super().__init__(message)
        self.version = version
        self.code = code
        self.kind = kind
        self.message = message


@dataclass
class SoapRequest:
    version: str
    operation: str
    namespace: str | None
    wsa: dict = field(default_factory=dict)  # ns, MessageID, Action


def version_from_content_type(content_type: str | None) -> str:
    return "1.2" if content_type and "application/soap+xml" in content_type.lower() else "1.1"


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


#: The elements carrying an ``xsi:type`` (found in C: most requests have none, and a Python loop over every
#: element made a proxy object for each).
_TYPED = etree.XPath("descendant-or-self::*[@xsi:type]", namespaces={"xsi": XSI})


def normalize(root: etree._Element, content_type: str | None) -> SoapRequest:
    """Check and rewrite the envelope in place; return what it asks for."""
    hint = version_from_content_type(content_type)
    qn = etree.QName(root)
    if qn.localname != "Envelope":
        raise SoapRequestError(hint, "Client", "NotAnEnvelope", "The message is not a SOAP Envelope")
    if qn.namespace not in (NS11, NS12):
        raise SoapRequestError(hint, "VersionMismatch", "VersionMismatch",
                               f"Unsupported SOAP envelope namespace {qn.namespace!r}")
    ns = qn.namespace
    version = "1.1" if ns == NS11 else "1.2"
    header = body = None
    strays = []
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag == f"{{{ns}}}Header":
            if header is not None:
                raise SoapRequestError(version, "Client", "BadEnvelope", "More than one SOAP Header")
            header = child
        elif child.tag == f"{{{ns}}}Body":
            if body is not None:
                raise SoapRequestError(version, "Client", "BadEnvelope", "More than one SOAP Body")
            body = child
        else:
            strays.append(child)
    if body is None:
        raise SoapRequestError(version, "Client", "BadEnvelope", "The SOAP Envelope has no Body")
    if strays or (header is not None and root.index(header) > root.index(body)):
        if header is None:
            header = etree.Element(f"{{{ns}}}Header")
        elif header.getparent() is root:
            root.remove(header)
        root.insert(root.index(body), header)
        for el in strays:
            header.append(el)
    for el in _TYPED(root):
        del el.attrib[f"{{{XSI}}}type"]

    wsa: dict = {}
    if header is not None:
        for h in header:
            if not isinstance(h.tag, str):
                continue
            hq = etree.QName(h)
            if _is_true(h.get(f"{{{ns}}}mustUnderstand")) and hq.namespace not in UNDERSTOOD:
                raise SoapRequestError(version, "MustUnderstand", "MustUnderstand",
                                       f"Header {hq.text} is not understood")
            if hq.namespace in (WSA10, WSA04):
                wsa["ns"] = hq.namespace
                if hq.localname in ("MessageID", "Action"):
                    wsa[hq.localname] = (h.text or "").strip()

    payload = next((c for c in body if isinstance(c.tag, str)), None)
    if payload is None:
        raise SoapRequestError(version, "Client", "BadEnvelope", "The SOAP Body is empty")
    pq = etree.QName(payload)
    return SoapRequest(version, pq.localname, pq.namespace, wsa)


# --------------------------------------------------------------------------- envelopes built here
def fault(version: str, code: str, kind: str, message: str) -> tuple[int, bytes]:
    """(HTTP status, body) of a SOAP Fault in ``version``;
    ``code`` Client | Server | MustUnderstand | VersionMismatch."""
    ns = VERSION_NS[version]
    env = etree.Element(f"{{{ns}}}Envelope", nsmap={"s": ns, "tns": TNS})
    flt = etree.SubElement(etree.SubElement(env, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if version == "1.1":
        etree.SubElement(flt, "faultcode").text = f"s:{code}.{kind}" if code in ("Client", "Server") else f"s:{code}"
        etree.SubElement(flt, "faultstring").text = message
        status = 500
    else:
        value = {"Client": "Sender", "Server": "Receiver"}.get(code, code)
        c = etree.SubElement(flt, f"{{{ns}}}Code")
        etree.SubElement(c, f"{{{ns}}}Value").text = f"s:{value}"
        etree.SubElement(etree.SubElement(c, f"{{{ns}}}Subcode"), f"{{{ns}}}Value").text = f"tns:{kind}"
        reason = etree.SubElement(flt, f"{{{ns}}}Reason")
        text = etree.SubElement(reason, f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = message
        status = 400 if value == "Sender" else 500
    return status, etree.tostring(env, xml_declaration=True, encoding="utf-8")


def not_implemented(version: str, service: str, operation: str, wsa: dict | None = None) -> bytes:
    """A vendor operation services87 does not implement: ``Succeeded=false`` + ``ExceptionInfo``, empty response."""
    ns = VERSION_NS[version]
    env = etree.Element(f"{{{ns}}}Envelope", nsmap={"s": ns, "tns": TNS})
    header = etree.SubElement(env, f"{{{ns}}}Header")
    info = etree.SubElement(header, f"{{{TNS}}}ExceptionInfo")
    msg = f"{service}.{operation} is not implemented by services87"
    for name, value in (("Message", msg), ("FriendlyText", msg), ("ExceptionType", "NotImplemented"),
                        ("Source", "services87")):
        etree.SubElement(info, f"{{{TNS}}}{name}").text = value
    etree.SubElement(header, f"{{{TNS}}}Succeeded").text = "false"
    add_addressing(env, version, wsa, f"{TNS}/{service}/{operation}Response")
    etree.SubElement(etree.SubElement(env, f"{{{ns}}}Body"), f"{{{TNS}}}{operation}Response")
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def add_addressing(env: etree._Element, version: str, wsa: dict | None, action: str) -> None:
    """Answer a WS-Addressing request with ``Action`` and ``RelatesTo`` headers."""
    if not wsa or "ns" not in wsa:
        return
    ns = VERSION_NS[version]
    header = env.find(f"{{{ns}}}Header")
    if header is None:
        header = etree.Element(f"{{{ns}}}Header")
        env.insert(0, header)
    a = wsa["ns"]
    etree.SubElement(header, f"{{{a}}}Action").text = action
    if wsa.get("MessageID"):
        etree.SubElement(header, f"{{{a}}}RelatesTo").text = wsa["MessageID"]
