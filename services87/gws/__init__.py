"""Genesys Web Services (GWS) API v2 Workbins at ``/api/v2`` (see docs/workbins.md).

* :mod:`services87.gws.errors` - the ``{statusCode, statusMessage}`` error and its HTTP statuses;
* :mod:`services87.gws.lenient` - request bodies (JSON with trailing commas allowed);
* :mod:`services87.gws.sessions` - ``JSESSIONID`` sessions and the CometD hooks bound to them;
* :mod:`services87.gws.api` - the operations and the CometD delivery of ``WorkbinStatsMessage``;
* :mod:`services87.gws.resources` - the routes (Klein) and the Bayeux endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services87.gws.resources import v2_resource
from services87.http.tree import Root, mount as mount_at

if TYPE_CHECKING:
    from services87.server import Services87Server


def mount(hs: Services87Server, root: Root) -> None:
    adapter = hs.get_gws_workbins()
    adapter.start()
    mount_at(root, "api/v2", v2_resource(adapter))
