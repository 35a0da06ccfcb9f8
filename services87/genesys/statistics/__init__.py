"""Genesys Statistics API v3 at ``/statistics/v3`` (REST and CometD push; see docs/genesys.md).

* :mod:`services87.genesys.statistics.api` - credentials, parsing and the operations;
* :mod:`services87.genesys.statistics.subscriptions` - subscriptions and their push;
* :mod:`services87.genesys.statistics.resources` - the envelope and the HTTP resources.
"""

from __future__ import annotations

from services87.genesys.statistics.api import StatisticsApi
from services87.genesys.statistics.resources import V3Resource
from services87.http.tree import mount as mount_at


def mount(hs, root) -> None:
    api = StatisticsApi(hs)
    hs.services["genesys.statistics"] = api
    hs.services["genesys.bayeux"] = api.bayeux
    api.start()
    mount_at(root, "statistics/v3", V3Resource(api))
