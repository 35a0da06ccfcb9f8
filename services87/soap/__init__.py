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

from services87.web.tree import mount as mount_at


def mount(hs, root) -> None:
    from services87.soap.endpoint import SoapEndpoint
    from services87.soap.services import IMPLEMENTED, build_application

    for service in ("CustomerService", "SoPrincipal"):
        apps = {version: build_application(hs, service, version) for version in ("1.1", "1.2")}
        mount_at(root, f"Remote/Services87/{service}.svc", SoapEndpoint(hs, service, apps, IMPLEMENTED[service]))
