"""Fixtures for the GWS Workbins tests: a real server process with demo data, real HTTP, real CometD."""

from __future__ import annotations

import pytest

from tests.support import ServerProcess

#: Demo requests in the workbins test server (enough to fill every demo workbin, quick to generate).
DEMO_REQUESTS = 300


@pytest.fixture(scope="package")
def gws(tmp_path_factory):
    """One server for the package (CSRF protection on, the default). Tests that move requests use their
    own request ids so that they do not disturb each other's counts."""
    proc = ServerProcess(tmp_path_factory.mktemp("gws"), demo_requests=DEMO_REQUESTS).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def gws_no_csrf(gws, tmp_path_factory):
    """A second server on the same database with ``gws_csrf_protection = false``."""
    proc = ServerProcess(tmp_path_factory.mktemp("gws-nocsrf"), db=gws.db, demo=False,
                         config="gws_csrf_protection = false\n").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def anna(gws):
    """A logged-in session shared by a module's tests (for checks that do not depend on referenceIds)."""
    from tests.workbins.helpers import Gws

    return Gws(gws.base_url)
