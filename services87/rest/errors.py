"""Errors of the REST twin, answered as JSON the way the vendor's Web API reports them.

Body: ``{"Error": true, "ErrorType": "<kind>", "Message": "<text>", "status": <code>}`` (plus ``ErrorId`` on a
500, to find the logged cause). Never a stack trace.
"""

from __future__ import annotations

import json

from services87.http.errors import HttpError


class RestError(HttpError):
    """An error of the REST twin with the status its handler chose (services87/http/errors.py)."""


def error_body(status: int, kind: str, message: str, **extra) -> bytes:
    body = {"Error": True, "ErrorType": kind, "Message": message, "status": status}
    body.update(extra)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def write_error(request, status: int, kind: str, message: str, headers: dict | None = None, **extra) -> bytes:
    """Set status and headers on ``request`` and return the JSON error body."""
    request.setResponseCode(status)
    # Headers set for a successful answer (content language, cookies aside) must not leak into an error.
    request.responseHeaders.removeHeader(b"content-language")
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    for name, values in (headers or {}).items():
        request.responseHeaders.setRawHeaders(name, values)
    return error_body(status, kind, message, **extra)
