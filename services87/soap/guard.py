"""The XML guard in front of Spyne: every SOAP request passes here before any SOAP processing.

It rejects, with a typed :class:`GuardError` (turned into a SOAP ``Client``/``Sender`` fault of the
request's SOAP version by the endpoint):

* bodies larger than ``settings.max_body_size`` (``MessageTooLarge``),
* any DTD: ``<!DOCTYPE`` / ``<!ENTITY`` (``DtdNotAllowed``) — no entity is ever expanded,
* element nesting deeper than ``settings.max_xml_depth`` (``XmlTooDeep``),
* anything that is not well-formed XML (``XmlSyntaxError``).

The parser never loads DTDs, never resolves entities, never touches the network and keeps libxml2's
``huge_tree=False`` limits. The hardening issue extends this module; keep it free of SOAP semantics.
"""

from __future__ import annotations

import io
import re

from lxml import etree

_DTD_RE = re.compile(rb"<\s*!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF16_DTD = ("<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"),
              "<!ENTITY".encode("utf-16-le"), "<!ENTITY".encode("utf-16-be"))


class GuardError(Exception):
    """A request the guard refuses. ``kind`` is a stable name; ``message`` goes into the fault."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def check_size(length: int | None, max_body_size: int) -> None:
    if length is not None and length > max_body_size:
        raise GuardError("MessageTooLarge",
                         f"The message is larger than the maximum of {max_body_size} bytes")


def parse(body: bytes, max_body_size: int, max_depth: int) -> etree._Element:
    """Parse ``body`` safely and return the root element, or raise :class:`GuardError`."""
    check_size(len(body), max_body_size)
    if not body.strip():
        raise GuardError("XmlSyntaxError", "The request body is empty")
    upper = body.upper()
    if _DTD_RE.search(body) or any(m.upper() in upper for m in _UTF16_DTD):
        raise GuardError("DtdNotAllowed", "DTDs and entity declarations are not allowed")
    depth = 0
    try:
        events = etree.iterparse(io.BytesIO(body), events=("start", "end"), load_dtd=False,
                                 no_network=True, resolve_entities=False, huge_tree=False,
                                 remove_comments=True, remove_pis=True)
        for event, _ in events:
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise GuardError("XmlTooDeep",
                                     f"The message nests elements deeper than the maximum of {max_depth}")
            else:
                depth -= 1
        root = events.root
    except etree.XMLSyntaxError as exc:
        raise GuardError("XmlSyntaxError", f"The request is not well-formed XML: {exc.msg}") from None
    if root is None:
        raise GuardError("XmlSyntaxError", "The request body has no root element")
    if root.getroottree().docinfo.doctype:
        raise GuardError("DtdNotAllowed", "DTDs and entity declarations are not allowed")
    return root
