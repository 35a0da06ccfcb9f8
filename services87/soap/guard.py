"""The XML guard in front of Spyne: every SOAP request passes here before any SOAP processing.

It rejects, with a typed :class:`GuardError` (turned into a SOAP ``Client``/``Sender`` fault of the
request's SOAP version by the endpoint):

* bodies larger than ``settings.max_body_size`` (``MessageTooLarge``),
* any DTD: ``<!DOCTYPE`` / ``<!ENTITY`` (``DtdNotAllowed``) — no entity is ever expanded,
* element nesting deeper than ``settings.max_xml_depth`` (``XmlTooDeep``),
* encodings other than UTF-8 and UTF-16 (WS-I Basic Profile R1012), by byte-order mark, XML declaration or
  Content-Type ``charset`` (``UnsupportedEncoding``),
* encodings that lie: an XML declaration or ``charset`` naming one encoding over bytes in another, or bytes
  that do not decode in the declared one (``EncodingMismatch``),
* anything that is not well-formed XML, truncated documents included (``XmlSyntaxError``).

:func:`sniff_version` tells which SOAP version a rejected request meant, so its fault is of that version.

The parser never loads DTDs, never resolves entities, never touches the network and keeps libxml2's
``huge_tree=False`` limits. The hardening issue extends this module; keep it free of SOAP semantics.
"""

from __future__ import annotations

import io
import re
import threading
from functools import lru_cache

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


_UTF = {"utf-8", "utf8", "utf-16", "utf16", "utf-16le", "utf-16be"}
_DECL_RE = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_NS12 = b"http://www.w3.org/2003/05/soap-envelope"
_NS11 = b"http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Envelope\b[^>]*", re.DOTALL)


def _byte_encoding(body: bytes) -> str | None:
    """The encoding the first bytes show (BOM or ``<?`` pattern): utf-8, utf-16le/be, or an unsupported name;
    ``None`` when they show nothing special (ASCII-compatible)."""
    if body.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if body.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\x00<", b"<\x00\x00\x00")):
        return "utf-32"
    if body.startswith(b"\xfe\xff") or body.startswith(b"\x00<\x00"):
        return "utf-16be"
    if body.startswith(b"\xff\xfe") or body.startswith(b"<\x00?\x00") or body.startswith(b"<\x00"):
        return "utf-16le"
    if body.startswith(b"\x4c\x6f\xa7\x94"):
        return "ebcdic"
    return None


def check_encoding(body: bytes, content_type: str | None = None) -> str:
    """The body's encoding (``utf-8`` / ``utf-16le`` / ``utf-16be``), or :class:`GuardError` when it is another
    one or when what the message says about its encoding does not match its bytes."""
    found = _byte_encoding(body)
    if found in ("utf-32", "ebcdic"):
        raise GuardError("UnsupportedEncoding", f"Messages must be UTF-8 or UTF-16, not {found.upper()}")
    actual = found or "utf-8"
    family = "utf-16" if actual.startswith("utf-16") else "utf-8"
    head = body[:400]
    if family == "utf-16":
        try:
            head = head[: len(head) // 2 * 2].decode(actual, "replace").lstrip("\ufeff").encode("ascii", "replace")
        except LookupError:  # pragma: no cover
            head = b""
    elif head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    declared = _DECL_RE.match(head)
    labels = []
    if declared:
        labels.append(("XML declaration", declared.group(1).decode("ascii").lower()))
    charset = _CHARSET_RE.search(content_type or "")
    if charset:
        labels.append(("Content-Type charset", charset.group(1).lower()))
    for where, label in labels:
        if label not in _UTF:
            raise GuardError("UnsupportedEncoding", f"Messages must be UTF-8 or UTF-16; the {where} says {label}")
        if not label.replace("-", "").startswith(family.replace("-", "")):
            raise GuardError("EncodingMismatch", f"The {where} says {label} but the message is {family.upper()}")
    try:
        body.decode("utf-16" if family == "utf-16" and body[:2] in (b"\xff\xfe", b"\xfe\xff") else actual)
    except UnicodeDecodeError as exc:
        raise GuardError("EncodingMismatch",
                         f"The message is not valid {family.upper()} (byte {exc.start})") from None
    return actual


def sniff_version(body: bytes | None, hint: str) -> str:
    """The SOAP version a (possibly broken) request meant: its Envelope's namespace, else ``hint``."""
    if body:
        head = body[:262144]
        encoding = _byte_encoding(head)
        if encoding in ("utf-16le", "utf-16be"):
            head = head[: len(head) // 2 * 2].decode(encoding, "replace").encode("utf-8", "replace")
        m = _ENVELOPE_RE.search(head)
        if m and _NS12 in m.group(0):
            return "1.2"
        if m and _NS11 in m.group(0):
            return "1.1"
    return hint


def parse(body: bytes, max_body_size: int, max_depth: int, content_type: str | None = None) -> etree._Element:
    """Parse ``body`` safely and return the root element, or raise :class:`GuardError`."""
    check_size(len(body), max_body_size)
    if not body.strip():
        raise GuardError("XmlSyntaxError", "The request body is empty")
    check_encoding(body, content_type)
    upper = body.upper()
    if _DTD_RE.search(body) or any(m.upper() in upper for m in _UTF16_DTD):
        raise GuardError("DtdNotAllowed", "DTDs and entity declarations are not allowed")
    try:  # the common case in C: a well-formed document, then one XPath for an element below the limit
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        root = _parse_streaming(body, max_depth)  # the exact error, as the streaming parse finds it first
    else:
        if _too_deep(max_depth)(root):
            raise GuardError("XmlTooDeep", f"The message nests elements deeper than the maximum of {max_depth}")
    if root is None:
        raise GuardError("XmlSyntaxError", "The request body has no root element")
    if root.getroottree().docinfo.doctype:
        raise GuardError("DtdNotAllowed", "DTDs and entity declarations are not allowed")
    return root


_PARSER_OPTIONS = dict(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=False,
                       remove_comments=True, remove_pis=True)
_LOCAL = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser (an lxml parser is not to be shared between threads)."""
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = etree.XMLParser(**_PARSER_OPTIONS)
    return parser


@lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """An XPath finding an element nested deeper than ``max_depth`` (the root is at depth 1)."""
    return etree.XPath("/" + "/".join(["*"] * (max_depth + 1)) + "[1]")


def _parse_streaming(body: bytes, max_depth: int):
    """Parse counting depth as elements start: a too-deep message is refused before the parser meets a
    later syntax error (the answer for a document that is both)."""
    depth = 0
    try:
        events = etree.iterparse(io.BytesIO(body), events=("start", "end"), **_PARSER_OPTIONS)
        for event, _ in events:
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise GuardError("XmlTooDeep",
                                     f"The message nests elements deeper than the maximum of {max_depth}")
            else:
                depth -= 1
        return events.root
    except etree.XMLSyntaxError as exc:
        raise GuardError("XmlSyntaxError", f"The request is not well-formed XML: {exc.msg}") from None
