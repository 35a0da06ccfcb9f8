"""Errors over HTTP, in one place: the status of every error type (:func:`classify`) and the error bodies the
plumbing writes by path family.

Bodies by path family: the HTTP plumbing answers some errors itself, below any adapter (a body over the
cap, a timed-out request, an unsupported method, an exception escaping a resource); they are written in the
format of the API family the path belongs to. The server's own JSON shape is the default; a protocol whose
errors look different registers its shape for its path prefix (SOAP registers its Fault for ``/Remote/``), so
this package never imports an adapter.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable

from twisted.internet import defer

from services87.auth.http import status_for
from services87.auth.service import AuthError
from services87.engine.model import EngineError, NotFound, StoreUnavailable

#: shape(status, kind, message, request content type, error id) -> (status, content type, body)
Shape = Callable[[int, str, str, "bytes | str | None", str], "tuple[int, bytes, bytes]"]

_path_shapes: list[tuple[bytes, Shape]] = []


def register_path_shape(prefix: bytes, shape: Shape) -> None:
    """Answer plumbing errors under ``prefix`` with ``shape`` (registering a prefix again replaces it)."""
    _path_shapes[:] = [(p, s) for p, s in _path_shapes if p != prefix]
    _path_shapes.append((prefix, shape))


def path_shape(path: bytes | None) -> Shape | None:
    if path:
        for prefix, shape in _path_shapes:
            if path.startswith(prefix):
                return shape
    return None


def error_doc(status: int, kind: str, message: str, error_id: str = "") -> dict:
    """The server's own JSON error (REST, the status page, the plumbing outside a protocol's prefix):
    ``{"Error": true, "ErrorType", "Message", "status"[, "ErrorId"]}``."""
    doc: dict = {"Error": True, "ErrorType": kind, "Message": message, "status": status}
    if error_id:
        doc["ErrorId"] = error_id
    return doc


def json_shape(status: int, kind: str, message: str, content_type=None, error_id: str = "") -> tuple[int, bytes, bytes]:
    """:func:`error_doc` as a plumbing error's (status, content type, body)."""
    return status, b"application/json; charset=utf-8", json.dumps(error_doc(status, kind, message, error_id)).encode()


def error_body(path: bytes | None, content_type: bytes | str | None, status: int, kind: str,
               message: str, error_id: str = "") -> tuple[int, bytes, bytes]:
    """(status, content type, body) of an error in the format family of ``path``."""
    shape = path_shape(path) or json_shape
    return shape(status, kind, message, content_type, error_id)


# --------------------------------------------------------------------------- error type -> HTTP status
# Every JSON adapter (REST, Genesys Statistics, ingest, GWS, status page) asks :func:`classify` for the status of
# a failure and writes only its own body shape; the SOAP endpoints answer in-band (the SOAP binding fixes the
# HTTP status of a Fault), and use the same classification for plumbing errors through their registered shape.


class HttpError(Exception):
    """An error whose HTTP status the adapter chose on purpose: a protocol's own error (REST ``RestError``,
    Statistics ``ApiError``, GWS ``GwsError``, the status page's ``BadRequest``) or one of the plumbing errors
    below. ``headers`` are added to the answer."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[bytes, list[bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = headers or {}


class RequestTooLarge(HttpError):
    def __init__(self, limit: int, kind: str = "RequestTooLarge"):
        super().__init__(413, kind, f"The request body is larger than {limit} bytes")
        self.limit = limit


class UnsupportedMediaType(HttpError):
    def __init__(self, message: str):
        super().__init__(415, "UnsupportedMediaType", message)


@dataclasses.dataclass(frozen=True)
class Classified:
    """What :func:`classify` decided: the status, the error's kind and client-safe message, the log level of
    the server's own line about it, ``Retry-After`` seconds (or None), whether the protocol must add its
    ``WWW-Authenticate`` challenge (401), and extra headers."""

    status: int
    kind: str
    message: str
    level: int = logging.INFO
    retry_after: int | None = None
    challenge: bool = False
    headers: dict = dataclasses.field(default_factory=dict)


#: Seconds a client should wait before retrying while the store is unavailable.
STORE_RETRY_AFTER = 5
#: Seconds a throttled client should wait (the password throttle's failure window; the adapters pass the
#: configured one to :func:`classify`).
THROTTLE_RETRY_AFTER = 300
INTERNAL_MESSAGE = "Internal server error"


def auth_status(error: AuthError) -> int:
    """401 for a missing, malformed, wrong or expired credential ("who are you?"); 403 for a principal, or a
    browser session, that is known but not allowed this request (missing XSRF token, missing or invalid
    application token of an online installation); 429 while the password throttle refuses. The kinds are
    listed in :mod:`services87.auth.http`."""
    return status_for(error)


def classify(exc: BaseException, throttle_retry_after: int | None = None) -> Classified:
    """The one mapping from an error to its HTTP status (docs/architecture.md, "Errors")."""
    if isinstance(exc, HttpError):
        return Classified(exc.status, exc.kind, exc.message, logging.ERROR if exc.status >= 500 else logging.INFO,
                          headers=dict(exc.headers))
    if isinstance(exc, AuthError):
        status = auth_status(exc)
        return Classified(status, exc.kind, exc.message, logging.INFO,
                          retry_after=(throttle_retry_after or THROTTLE_RETRY_AFTER) if status == 429 else None,
                          challenge=status == 401)
    if isinstance(exc, StoreUnavailable):
        return Classified(503, "StoreUnavailable", "The statistics store is unavailable; retry shortly",
                          logging.WARNING, retry_after=STORE_RETRY_AFTER)
    if isinstance(exc, defer.TimeoutError):
        return Classified(504, "BackendTimeout", "The answer could not be computed in time", logging.WARNING)
    if isinstance(exc, NotFound):
        return Classified(404, exc.kind, str(exc))
    if isinstance(exc, EngineError):  # ValidationError, UnknownPanel, UnknownTimeZone, ...
        return Classified(400, exc.kind, str(exc))
    return Classified(500, "InternalError", INTERNAL_MESSAGE, logging.ERROR)


def apply_headers(request, c: Classified) -> None:
    """Set ``Retry-After`` and the extra headers of ``c`` on ``request`` (the challenge is the protocol's)."""
    if c.retry_after is not None:
        request.setHeader(b"retry-after", str(c.retry_after).encode())
    for name, values in c.headers.items():
        request.responseHeaders.setRawHeaders(name, values)
