"""Genesys Statistics API v3 at ``/statistics/v3`` (REST and CometD push; see docs/genesys.md).

* :mod:`services87.genesys.statistics.api` - credentials, parsing and the operations;
* :mod:`services87.genesys.statistics.subscriptions` - subscriptions and their push;
* :mod:`services87.genesys.statistics.resources` - the envelope and the HTTP resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services87.genesys.statistics.resources import v3_resource
from services87.http.tree import Root, mount as mount_at

if TYPE_CHECKING:
    from services87.server import Services87Server


def mount(hs: Services87Server, root: Root) -> None:
    api = hs.get_genesys_statistics()
    api.start()
    mount_at(root, "statistics/v3", v3_resource(api))
