"""SuperOffice NetServer Services87 SOAP endpoints (Spyne on Twisted).

``/Remote/Services87/CustomerService.svc`` (``GetStatistics``) and ``/Remote/Services87/SoPrincipal.svc``
(the five log-in operations). See docs/soap.md.
"""

from __future__ import annotations

from services87.soap import compat as _compat

# Before anything imports Spyne (services87.soap.* are the only modules that do): Spyne's vendored six
# needs a find_spec finder on Python >= 3.12. SERVICES87_COMPAT_SKIP=six leaves it out (regression test).
if not _compat.disabled("six"):
    _compat.install_six_moves_finder()

from typing import TYPE_CHECKING

from services87.http.errors import register_path_shape
from services87.http.tree import Root, mount as mount_at
from services87.soap import envelope

if TYPE_CHECKING:
    from services87.server import Services87Server

PATH_PREFIX = b"/Remote/"


def fault_shape(status: int, kind: str, message: str, content_type=None, error_id: str = ""):
    """Errors the HTTP plumbing answers under ``/Remote/`` (body too large, timeouts, unsupported methods):
    a SOAP ``Client`` fault of the request's version (``Server`` for 5xx), with the fault's own HTTP status
    for ``MessageTooLarge`` (as the XML guard answers)."""
    ctype = content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type
    version = envelope.version_from_content_type(ctype)
    fault_status, body = envelope.fault(version, "Server" if status >= 500 else "Client", kind, message)
    if kind == "MessageTooLarge":
        status = fault_status
    ct = b"application/soap+xml; charset=utf-8" if version == "1.2" else b"text/xml; charset=utf-8"
    return status, ct, body


register_path_shape(PATH_PREFIX, fault_shape)


def mount(hs: Services87Server, root: Root) -> None:
    # Imported here, not at the top: they import Spyne and apply the compat fixes, and importing this package
    # alone must not (tests/soap/test_compat.py shows each bug without its fix that way).
    from services87.soap.endpoint import SoapEndpoint  # noqa: PLC0415
    from services87.soap.services import IMPLEMENTED, build_application  # noqa: PLC0415

    for service in ("CustomerService", "SoPrincipal"):
        apps = {version: build_application(hs, service, version) for version in ("1.1", "1.2")}
        mount_at(root, f"Remote/Services87/{service}.svc", SoapEndpoint(hs, service, apps, IMPLEMENTED[service]))
