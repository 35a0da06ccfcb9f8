"""Content types of the REST twin: request bodies in, response representation out.

Request bodies (``Content-Type``, ``charset`` parameter honoured):
``application/json``, ``text/json``, ``application/json-patch+json``, ``application/merge-patch+json``
(all JSON), ``application/xml``, ``text/xml`` (the vendor's DataContract XML) and
``application/x-www-form-urlencoded``. Anything else is 415.

Responses (``Accept``, with q-values): the JSON types or the XML types; JSON when there is no ``Accept``
or it allows anything (``*/*``). When nothing acceptable is offered the answer is JSON, as ASP.NET's default
content negotiation does (the vendor's Web API runs on it); with ``rest_strict_accept`` it is 406 instead.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from services87.rest.errors import RestError
from services87.http import jsonguard

JSON_TYPES = ("application/json", "text/json", "application/json-patch+json", "application/merge-patch+json")
XML_TYPES = ("application/xml", "text/xml")
FORM_TYPE = "application/x-www-form-urlencoded"
REQUEST_TYPES = JSON_TYPES + XML_TYPES + (FORM_TYPE,)
#: Offered response types, most preferred first (used to break q-value ties).
RESPONSE_TYPES = JSON_TYPES + XML_TYPES

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``"application/json; charset=UTF-8"`` -> ``("application/json", {"charset": "UTF-8"})``."""
    main, *params = value.split(";")
    out = {}
    for p in params:
        k, sep, v = p.partition("=")
        if sep:
            out[k.strip().lower()] = v.strip().strip('"')
    return main.strip().lower(), out


# --------------------------------------------------------------------------- Accept
def negotiate(accept, strict: bool = False) -> str:
    """The response media type for an ``Accept`` header. When none of ours is acceptable: JSON (ASP.NET's
    fallback to its first formatter), or 406 when ``strict``."""
    accept = _text(accept).strip()
    if not accept:
        return "application/json"
    ranges = []
    for item in accept.split(","):
        if not item.strip():
            continue
        mtype, params = parse_media_type(item)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        if not 0.0 <= q <= 1.0:
            q = 0.0
        ranges.append((mtype, q))

    def quality(offer: str) -> tuple[float, int]:
        """(q, specificity) of the most specific range matching ``offer``."""
        best = (-1.0, -1)
        major = offer.split("/")[0]
        for mtype, q in ranges:
            if mtype == offer:
                spec = 3
            elif mtype == major + "/*":
                spec = 2
            elif mtype in ("*/*", "*"):
                spec = 1
            else:
                continue
            if spec > best[1]:
                best = (q, spec)
        return best

    scored = []
    for rank, offer in enumerate(RESPONSE_TYPES):
        q, spec = quality(offer)
        if q > 0:
            scored.append((q, spec, -rank, offer))
    if not scored:
        if not strict:
            return "application/json"
        raise RestError(406, "NotAcceptable", "None of the types in the Accept header can be produced; offered: "
                        + ", ".join(RESPONSE_TYPES))
    # Highest q wins; among equal q an exact match beats a wildcard; then our preference order.
    scored.sort(reverse=True)
    return scored[0][3]


def is_xml(media_type: str) -> bool:
    return media_type in XML_TYPES


# --------------------------------------------------------------------------- request bodies
@dataclass
class Body:
    media_type: str
    data: Any  # JSON value, XML root element, or list of (key, value) pairs


def _charset(params: dict[str, str], default: str = "utf-8") -> str:
    name = params.get("charset") or default
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise RestError(415, "UnsupportedMediaType", f"Unsupported charset: {name!r}") from None
    return "utf-8-sig" if codec.name == "utf-8" else codec.name


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise RestError(400, "MalformedRequest", f"The request body is not valid {charset}") from None


def parse_body(content_type, raw: bytes, max_xml_depth: int = 32, max_json_depth: int = 32) -> Body:
    """Parse ``raw`` by its ``Content-Type``: 415 for types we do not read, 400 for bodies that do not parse."""
    content_type = _text(content_type).strip()
    if not content_type:
        raise RestError(415, "UnsupportedMediaType", "Content-Type is missing; send one of: "
                        + ", ".join(REQUEST_TYPES))
    mtype, params = parse_media_type(content_type)
    if mtype not in REQUEST_TYPES:
        raise RestError(415, "UnsupportedMediaType", f"Content-Type {mtype!r} is not supported; send one of: "
                        + ", ".join(REQUEST_TYPES))
    charset = _charset(params)
    if not raw.strip():
        raise RestError(400, "MalformedRequest", "The request body is empty")
    if mtype in JSON_TYPES:
        text = _decode(raw, charset)
        try:
            return Body(mtype, jsonguard.loads(text, max_size=len(text), max_depth=max_json_depth, expect=None))
        except jsonguard.JsonGuardError as exc:
            raise RestError(400, "MalformedRequest",
                            f"The request body is not valid JSON ({exc.kind}): {exc.message}") from None
    if mtype == FORM_TYPE:
        text = _decode(raw, "ascii" if charset == "utf-8-sig" else charset)
        try:
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8" if charset == "utf-8-sig" else charset,
                              errors="strict", max_num_fields=1000)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RestError(400, "MalformedRequest", f"The form body does not parse: {exc}") from None
        return Body(mtype, pairs)
    return Body(mtype, parse_xml(raw, charset if "charset" in params else None, max_xml_depth))


def parse_xml(raw: bytes, charset: str | None, max_depth: int):
    if charset is not None:
        raw = _decode(raw, charset).encode("utf-8")
        parser_encoding = "utf-8"
    else:
        parser_encoding = None
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise RestError(400, "MalformedRequest", "XML document type declarations are not accepted")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True, encoding=parser_encoding)
    try:
        root = etree.fromstring(raw, parser=parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise RestError(400, "MalformedRequest", f"The request body is not well-formed XML: {exc}") from None
    if root is None:
        raise RestError(400, "MalformedRequest", "The request body is not well-formed XML")
    depth = _depth(root)
    if depth > max_depth:
        raise RestError(400, "MalformedRequest", f"The XML is nested {depth} levels deep; at most {max_depth} allowed")
    return root


def _depth(root) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        el, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in el if isinstance(c.tag, str))
    return deepest


def local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def functions_from_body(body: Body) -> list:
    """The ``Functions`` of a GetStatistics request, as raw names/numbers (validated by the engine's parser).

    JSON: ``{"Functions": [...]}`` (property name case-insensitive; absent or null = no functions).
    Form: ``Functions=1&Functions=OpenRequestsPerUser`` (also ``Functions[]`` / ``Functions[0]``).
    XML: ``<GetStatistics><Functions><StatusScreenPanelType>..</StatusScreenPanelType>..</Functions></GetStatistics>``
    (any root name and namespace; element names matched by local name, case-insensitively; a ``Functions``
    element holding text directly counts as one function; text directly in the root is refused, as JSON's
    scalars are).
    """
    data = body.data
    if body.media_type in JSON_TYPES:
        if not isinstance(data, dict):
            raise RestError(400, "MalformedRequest", 'The request body must be a JSON object: {"Functions": [...]}')
        found = [v for k, v in data.items() if isinstance(k, str) and k.lower() == "functions"]
        value = found[-1] if found else None
        if value is None:
            return []
        if not isinstance(value, list):
            raise RestError(400, "MalformedRequest",
                            "Functions must be an array of StatusScreenPanelType names or numbers")
        return value
    if body.media_type == FORM_TYPE:
        out = []
        for key, value in data:
            k = key.lower()
            if k == "functions" or k == "functions[]" or (k.startswith("functions[") and k.endswith("]")):
                out.append(value)
        return out
    if (data.text or "").strip() or any((c.tail or "").strip() for c in data):
        # text of its own, as a scalar would be serialized (``<GetStatistics>true</GetStatistics>``): not the
        # request object, as JSON's ``true`` is not (ASP.NET's XML formatters refuse it as well)
        raise RestError(400, "MalformedRequest", "The request body must be an element holding a Functions element, "
                        "not text: <GetStatistics><Functions>...</Functions></GetStatistics>")
    out = []
    for child in data:
        if local(child.tag).lower() != "functions":
            continue
        if child.get(f"{{{XSI}}}nil") in ("true", "1"):
            continue
        items = [c for c in child if isinstance(c.tag, str)]
        if items:
            out.extend((c.text or "").strip() for c in items)
        elif (child.text or "").strip():
            out.append(child.text.strip())
    return out
