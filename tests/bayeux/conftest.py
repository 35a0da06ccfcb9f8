"""Fixtures for the Bayeux tests."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from bayeux_harness import AppProcess  # noqa: E402


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A shared test server (timeout 2 s, max_interval 2 s, max_queue 5)."""
    process = AppProcess(workdir=tmp_path_factory.mktemp("bayeux-app")).start()
    yield process
    process.stop()


@pytest.fixture
def fresh_app(tmp_path_factory):
    """A test server of its own, for tests that reset or restart it."""
    process = AppProcess(workdir=tmp_path_factory.mktemp("bayeux-app")).start()
    yield process
    process.stop()
