"""Reading a request body, in one place: every adapter that reads a body calls :func:`read_body`.

Twisted has already received the whole body (within the site-wide cap of :mod:`services87.http.limits`, which
lets a body a little over an endpoint's own limit through so that the endpoint answers in its own format);
this applies the endpoint's limit (from the settings), refuses a declared ``Content-Length`` over it before
reading, reads at most ``limit + 1`` bytes and, when asked, checks the ``Content-Type``. Failures are typed
:class:`~services87.http.errors.HttpError` s whose status comes from the one mapping (413, 415, 400); the
adapter writes them in its own body shape.
"""

from __future__ import annotations

from collections.abc import Iterable

from services87.http.errors import HttpError, RequestTooLarge, UnsupportedMediaType


def media_type(request) -> str:
    """The request's media type, lower case, without parameters (``""`` when there is no ``Content-Type``)."""
    raw = request.getHeader(b"content-type")
    if raw is None:
        return ""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    return text.split(";", 1)[0].strip().lower()


def check_media_type(request, accepted: Iterable[str], message: str | None = None) -> str:
    """The request's media type if it is one of ``accepted``; else :class:`UnsupportedMediaType` (415)."""
    accepted = tuple(accepted)
    mtype = media_type(request)
    if mtype not in accepted:
        raise UnsupportedMediaType(message or f"Send the body as {' or '.join(accepted)}")
    return mtype


def declared_length(request) -> int | None:
    """The ``Content-Length`` header as a number, ``None`` without one; 400 ``MalformedRequest`` when it is not
    a number."""
    raw = request.getHeader(b"content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise HttpError(400, "MalformedRequest", "Content-Length is not a number")
    return value


def read_body(request, limit: int, *, kind: str = "RequestTooLarge",
              media_types: Iterable[str] | None = None, media_message: str | None = None) -> bytes:
    """The body of ``request``, at most ``limit`` bytes, else :class:`RequestTooLarge` (413, named ``kind``).

    ``media_types``: the accepted media types (checked first: 415 with ``media_message``)."""
    if media_types is not None:
        check_media_type(request, media_types, media_message)
    length = declared_length(request)
    if length is not None and length > limit:
        raise RequestTooLarge(limit, kind)
    content = request.content
    if content is None:
        return b""
    content.seek(0)
    raw = content.read(limit + 1)
    if len(raw) > limit:
        raise RequestTooLarge(limit, kind)
    return raw
