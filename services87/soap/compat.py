"""Fixes for Spyne 2.14 (the last Spyne release) on Python 3.11-3.13 and Twisted >= 24.11.

Each bug is fixed by one function and covered by a regression test (tests/soap/test_compat.py):

0. Python >= 3.12 no longer calls ``find_module`` on meta-path finders, the only method of the importer in
   Spyne's vendored six, so ``import spyne`` fails with ``No module named 'spyne.util.six.moves'``: a
   finder that answers ``find_spec`` by asking six's importer (:func:`install_six_moves_finder`, installed
   when ``services87.soap`` is imported, before anything imports Spyne).
   (Python 3.13 removed ``cgi``, which Spyne imports: setup.cfg installs ``legacy-cgi`` there.)
1. ``spyne.server.twisted`` imports ``twisted.python.constants``, removed in Twisted 24.11: alias it to
   ``constantly`` (the package it was split out into).
2. ``TwistedHttpTransportContext.get_request_method`` returns ``request.method`` as bytes; Spyne's SOAP
   protocol compares it with ``"POST"``, so every SOAP POST is answered 405 ``Client.RequestNotAllowed``.
3. ``_reconstruct_url`` joins ``str`` with the ``bytes`` from ``_decode_path`` (and compares the bytes
   ``X-Forwarded-Proto`` header with ``"https"``), so ``GET ?wsdl`` fails with a 500.

:func:`apply` is idempotent and must run before anything imports ``spyne.server.twisted``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from urllib.parse import unquote

_applied: set[str] = set()

_SIX = "spyne.util.six"
_MOVES = _SIX + ".moves"


class _SixMovesLoader:
    """Loads a ``spyne.util.six.moves`` module through six's own importer (``load_module``), as six >= 1.16
    does itself. A moved standard-library module (``moves.http_cookies`` is ``http.cookies``) keeps its
    own ``__spec__``, which the import system would otherwise overwrite with ours."""

    def __init__(self, importer):
        self.importer = importer
        self._specs: dict[str, object] = {}

    def create_module(self, spec):
        module = self.importer.load_module(spec.name)
        self._specs[spec.name] = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module):
        original = self._specs.pop(module.__spec__.name, None) if module.__spec__ is not None else None
        if original is not None:
            module.__spec__ = original


class SixMovesFinder:
    """A meta-path finder that answers ``find_spec`` for ``spyne.util.six.moves[.*]`` by asking the
    ``find_module`` of six's importer (which registers itself on ``sys.meta_path`` when Spyne imports it)."""

    @staticmethod
    def _six_importer():
        for finder in sys.meta_path:
            if type(finder).__name__ == "_SixMetaPathImporter" and getattr(finder, "name", None) == _SIX:
                return finder
        return None

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _MOVES and not fullname.startswith(_MOVES + "."):
            return None
        importer = self._six_importer()
        if importer is None or importer.find_module(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _SixMovesLoader(importer),
                                               is_package=importer.is_package(fullname))


def install_six_moves_finder() -> None:
    """Let ``import spyne`` work on Python >= 3.12 (installed on 3.11 too, where it does the same as the
    ``find_module`` fallback). Must run before Spyne is first imported; imports nothing itself."""
    if "six" in _applied:
        return
    if not any(isinstance(f, SixMovesFinder) for f in sys.meta_path):
        sys.meta_path.append(SixMovesFinder())
    _applied.add("six")


def shim_twisted_constants() -> None:
    """Make ``import twisted.python.constants`` work on Twisted >= 24.11."""
    if "constants" in _applied:
        return
    try:
        # Twisted < 24.11 still has it; probed here, where the shim is applied
        import twisted.python.constants  # type: ignore[import-not-found]  # noqa: F401, PLC0415
    except ImportError:
        import constantly  # type: ignore[import-untyped]  # noqa: PLC0415 - only when Twisted lacks the module

        sys.modules["twisted.python.constants"] = constantly
        import twisted.python  # noqa: PLC0415 - the package whose attribute the shim sets

        twisted.python.constants = constantly
    _applied.add("constants")


def fix_request_method() -> None:
    """``get_request_method()`` returns ``str`` as Spyne's protocols expect."""
    if "method" in _applied:
        return
    shim_twisted_constants()
    # imported only after the shim above (spyne.server.twisted imports twisted.python.constants)
    from spyne.server.twisted.http import TwistedHttpTransportContext  # noqa: PLC0415

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
    # imported only after the shim above (spyne.server.twisted imports twisted.python.constants)
    from spyne.server.twisted import http  # noqa: PLC0415

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
            server_name = f"{server_name}:{server_port:d}"
        scheme = "https" if is_secure else "http"
        return "".join([scheme, "://", server_name, unquote(_text(request.uri))])

    http._reconstruct_url = _reconstruct_url  # noqa: SLF001 - the fix replaces Spyne's own private function
    _applied.add("url")


def no_forced_gc() -> None:
    """Spyne's ``MethodContext.close`` runs a full ``gc.collect()`` on the reactor thread at most once a second
    (``spyne.const.MIN_GC_INTERVAL``), to return file descriptors of uploaded files early. services87 takes
    no file uploads, and a full collection of a large heap stalls every connection (py-spy: 16 % of the
    reactor's time under load), so leave collection to Python's own generational collector."""
    if "gc" in _applied:
        return
    from spyne import const  # noqa: PLC0415 - Spyne is imported only once the six finder is installed

    const.MIN_GC_INTERVAL = float("inf")
    _applied.add("gc")


FIXES = {
    "six": install_six_moves_finder,
    "gc": no_forced_gc,
    "constants": shim_twisted_constants,
    "method": fix_request_method,
    "url": fix_reconstruct_url,
}


def disabled(name: str) -> bool:
    """Whether the environment turns fix ``name`` off: ``SERVICES87_COMPAT_SKIP=six,url`` (regression tests
    use it to show each bug in a subprocess; never set it otherwise)."""
    return name in os.environ.get("SERVICES87_COMPAT_SKIP", "").replace(" ", "").split(",")


def apply(skip: tuple[str, ...] = ()) -> None:
    """Apply every fix except those named in ``skip`` or in ``SERVICES87_COMPAT_SKIP`` (tests use them to
    show each bug)."""
    for name, fn in FIXES.items():
        if name not in skip and not disabled(name):
            fn()
