"""Fixes for Spyne 2.14's Twisted transport on Python 3 and Twisted >= 24.11 (the last Spyne release).

Three bugs, each fixed by one function and covered by a regression test (tests/soap/test_compat.py):

1. ``spyne.server.twisted`` imports ``twisted.python.constants``, removed in Twisted 24.11: alias it to
   ``constantly`` (the package it was split out into).
2. ``TwistedHttpTransportContext.get_request_method`` returns ``request.method`` as bytes; Spyne's SOAP
   protocol compares it with ``"POST"``, so every SOAP POST is answered 405 ``Client.RequestNotAllowed``.
3. ``_reconstruct_url`` joins ``str`` with the ``bytes`` from ``_decode_path`` (and compares the bytes
   ``X-Forwarded-Proto`` header with ``"https"``), so ``GET ?wsdl`` fails with a 500.

:func:`apply` is idempotent and must run before anything imports ``spyne.server.twisted``.
"""

from __future__ import annotations

import sys

_applied: set[str] = set()


def shim_twisted_constants() -> None:
    """Make ``import twisted.python.constants`` work on Twisted >= 24.11."""
    if "constants" in _applied:
        return
    try:
        import twisted.python.constants  # noqa: F401  (Twisted < 24.11 still has it)
    except ImportError:
        import constantly

        sys.modules["twisted.python.constants"] = constantly
        import twisted.python

        twisted.python.constants = constantly
    _applied.add("constants")


def fix_request_method() -> None:
    """``get_request_method()`` returns ``str`` as Spyne's protocols expect."""
    if "method" in _applied:
        return
    shim_twisted_constants()
    from spyne.server.twisted.http import TwistedHttpTransportContext

    def get_request_method(self):
        method = self.req.method
        return method.decode("ascii", "replace") if isinstance(method, bytes) else method

    TwistedHttpTransportContext.get_request_method = get_request_method
    _applied.add("method")


def _text(value, default=None):
    if value is None:
        return default
    return value.decode("latin-1") if isinstance(value, bytes) else value


def fix_reconstruct_url() -> None:
    """``_reconstruct_url`` works on ``str`` throughout."""
    if "url" in _applied:
        return
    shim_twisted_constants()
    from urllib.parse import unquote

    from spyne.server.twisted import http

    def _reconstruct_url(request):
        server_name = _text(request.getHeader(b"x-forwarded-host"))
        server_port = _text(request.getHeader(b"x-forwarded-port"))
        if server_port is not None:
            try:
                server_port = int(server_port)
            except ValueError:
                server_port = None
        is_secure = _text(request.getHeader(b"x-forwarded-proto"))
        if is_secure is not None:
            is_secure = is_secure.strip().lower() == "https"
        if server_name is None:
            server_name = _text(request.getRequestHostname())
        if server_port is None:
            server_port = request.getHost().port
        if is_secure is None:
            is_secure = bool(request.isSecure())
        if (is_secure, server_port) not in ((True, 443), (False, 80)) and ":" not in server_name:
            server_name = "%s:%d" % (server_name, server_port)
        scheme = "https" if is_secure else "http"
        return "".join([scheme, "://", server_name, unquote(_text(request.uri))])

    http._reconstruct_url = _reconstruct_url
    _applied.add("url")


def no_forced_gc() -> None:
    """Spyne's ``MethodContext.close`` runs a full ``gc.collect()`` on the reactor thread at most once a second
    (``spyne.const.MIN_GC_INTERVAL``), to return file descriptors of uploaded files early. services87 takes
    no file uploads, and a full collection of a large heap stalls every connection (py-spy: 16 % of the
    reactor's time under load), so leave collection to Python's own generational collector."""
    if "gc" in _applied:
        return
    from spyne import const

    const.MIN_GC_INTERVAL = float("inf")
    _applied.add("gc")


FIXES = {
    "gc": no_forced_gc,
    "constants": shim_twisted_constants,
    "method": fix_request_method,
    "url": fix_reconstruct_url,
}


def apply(skip: tuple[str, ...] = ()) -> None:
    """Apply every fix except those named in ``skip`` (tests use ``skip`` to show each bug)."""
    for name, fn in FIXES.items():
        if name not in skip:
            fn()
