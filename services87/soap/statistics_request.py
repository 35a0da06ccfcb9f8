"""A fast reader of GetStatistics requests: what Spyne's deserialization gives, from the envelope the XML
guard already parsed, for the plain requests clients send; ``None`` for anything else (then Spyne reads it).

Spyne's parse of a GetStatistics request was the largest part of a cold SOAP answer's reactor time (it
parses the canonical bytes again and builds its contexts). The reader accepts a strict subset: the header
holds only ``ApplicationToken``, ``Credentials`` (only ``Ticket``) and ``TimeZone`` (only ``SoTimeZoneId``,
an unsigned decimal int32, and ``SoTimeZoneLocationCode``), each at most once; the body is one
``GetStatistics`` with one ``Functions`` of ``StatusScreenPanelType`` items; every element in the
service's namespace, without attributes, comments, processing instructions or empty text, leaves holding
only text. Whatever else a request has (an unknown element, an attribute such as ``xsi:nil``, mixed
content, a WS-Addressing header), Spyne's own path reads it, exactly as before.
tests/soap/test_statistics_request.py compares the two on generated requests, the odd ones included.
"""

from __future__ import annotations

from typing import NamedTuple

from lxml import etree

from services87.soap.envelope import VERSION_NS
from services87.soap.models import TNS

_APP_TOKEN = f"{{{TNS}}}ApplicationToken"
_CREDENTIALS = f"{{{TNS}}}Credentials"
_TIME_ZONE = f"{{{TNS}}}TimeZone"
_TICKET = f"{{{TNS}}}Ticket"
_TZ_ID = f"{{{TNS}}}SoTimeZoneId"
_TZ_CODE = f"{{{TNS}}}SoTimeZoneLocationCode"
_GET_STATISTICS = f"{{{TNS}}}GetStatistics"
_FUNCTIONS = f"{{{TNS}}}Functions"
_PANEL = f"{{{TNS}}}StatusScreenPanelType"
_INT32_MAX = 2 ** 31 - 1


class Credentials(NamedTuple):
    """The ``Credentials`` header as Spyne's ``SoCredentials`` reads it (the same attribute)."""

    Ticket: str | None


class TimeZone(NamedTuple):
    """The ``TimeZone`` header as Spyne's ``SoTimeZone`` reads it (the same attributes)."""

    SoTimeZoneId: int | None
    SoTimeZoneLocationCode: str | None


class _Decline(Exception):
    pass


def _leaf(el) -> str:
    """The text of an element that holds only non-empty text, without attributes."""
    if el.attrib or len(el) or not el.text:
        raise _Decline
    return el.text


def _children(el, allowed: frozenset) -> dict:
    """The element children of ``el`` by tag, each at most once and each allowed; no attributes, no text."""
    if el.attrib or (el.text and el.text.strip()):
        raise _Decline
    out = {}
    for child in el:
        if not isinstance(child.tag, str) or child.tag not in allowed or child.tag in out:
            raise _Decline
        if child.tail and child.tail.strip():
            raise _Decline
        out[child.tag] = child
    return out


def read(root: etree._Element, version: str):
    """``((app_token, credentials, time_zone), functions)`` as Spyne's deserialization gives them, or ``None``."""
    ns = VERSION_NS[version]
    try:
        parts = _children(root, frozenset({f"{{{ns}}}Header", f"{{{ns}}}Body"}))
        body = parts.get(f"{{{ns}}}Body")
        if body is None:
            raise _Decline
        app_token = credentials = time_zone = None
        header = parts.get(f"{{{ns}}}Header")
        if header is not None:
            found = _children(header, frozenset({_APP_TOKEN, _CREDENTIALS, _TIME_ZONE}))
            if _APP_TOKEN in found:
                app_token = _leaf(found[_APP_TOKEN])
            if _CREDENTIALS in found:
                fields = _children(found[_CREDENTIALS], frozenset({_TICKET}))
                credentials = Credentials(_leaf(fields[_TICKET]) if _TICKET in fields else None)
            if _TIME_ZONE in found:
                fields = _children(found[_TIME_ZONE], frozenset({_TZ_ID, _TZ_CODE}))
                tz_id = None
                if _TZ_ID in fields:
                    text = _leaf(fields[_TZ_ID])
                    if not (text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= _INT32_MAX):
                        raise _Decline
                    tz_id = int(text)
                code = _leaf(fields[_TZ_CODE]) if _TZ_CODE in fields else None
                time_zone = TimeZone(tz_id, code)
        call = _children(body, frozenset({_GET_STATISTICS})).get(_GET_STATISTICS)
        if call is None:
            raise _Decline
        functions_el = _children(call, frozenset({_FUNCTIONS})).get(_FUNCTIONS)
        if functions_el is None or functions_el.attrib or (functions_el.text and functions_el.text.strip()):
            raise _Decline
        functions = []
        for item in functions_el:
            if not isinstance(item.tag, str) or item.tag != _PANEL or (item.tail and item.tail.strip()):
                raise _Decline
            functions.append(_leaf(item))
        if not functions:
            raise _Decline
    except _Decline:
        return None
    return (app_token, credentials, time_zone), functions
