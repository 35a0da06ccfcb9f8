"""Error bodies by path family. The HTTP plumbing answers some errors itself, below any adapter (a body over the
cap, a timed-out request, an unsupported method, an exception escaping a resource); they are written in the
format of the API family the path belongs to. The server's own JSON shape is the default; a protocol whose
errors look different registers its shape for its path prefix (SOAP registers its Fault for ``/Remote/``), so
this package never imports an adapter.
"""

from __future__ import annotations

import json
from typing import Callable

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


def json_shape(status: int, kind: str, message: str, content_type=None, error_id: str = "") -> tuple[int, bytes, bytes]:
    """The server's own JSON error: ``{"Error": true, "ErrorType", "Message", "status"[, "ErrorId"]}``."""
    doc = {"Error": True, "ErrorType": kind, "Message": message, "status": status}
    if error_id:
        doc["ErrorId"] = error_id
    return status, b"application/json; charset=utf-8", json.dumps(doc).encode()


def error_body(path: bytes | None, content_type: bytes | str | None, status: int, kind: str,
               message: str, error_id: str = "") -> tuple[int, bytes, bytes]:
    """(status, content type, body) of an error in the format family of ``path``."""
    shape = path_shape(path) or json_shape
    return shape(status, kind, message, content_type, error_id)
