"""Errors of the REST twin, answered as JSON the way the vendor's Web API reports them.

Body: ``{"Error": true, "ErrorType": "<kind>", "Message": "<text>", "status": <code>}`` (plus ``ErrorId`` on a
500, to find the logged cause). Never a stack trace.
"""

from __future__ import annotations

from services87.http.errors import HttpError, error_doc
from services87.http.routing import JsonAnswers

ANSWERS = JsonAnswers()


class RestError(HttpError):
    """An error of the REST twin with the status its handler chose (services87/http/errors.py)."""


def error_body(status: int, kind: str, message: str, **extra) -> bytes:
    return ANSWERS.encode({**error_doc(status, kind, message), **extra})


def write_error(request, status: int, kind: str, message: str, headers: dict | None = None, **extra) -> bytes:
    """Set status and headers on ``request`` and return the JSON error body."""
    # Headers set for a successful answer (content language, cookies aside) must not leak into an error.
    request.responseHeaders.removeHeader(b"content-language")
    ANSWERS.headers(request, status)
    for name, values in (headers or {}).items():
        request.responseHeaders.setRawHeaders(name, values)
    return error_body(status, kind, message, **extra)
