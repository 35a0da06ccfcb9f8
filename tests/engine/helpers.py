"""Shared helpers for the engine tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def assert_aggregates_consistent(store) -> None:
    """The aggregate tables equal what the base tables say (response sums up to float rounding)."""
    stored, truth = store.stored_aggregates(), store.recompute_aggregates()
    assert stored["open"] == truth["open"]
    assert stored["created"] == truth["created"]
    assert stored["created_days"] == truth["created_days"]
    for key in ("response", "response_days"):
        assert set(stored[key]) == set(truth[key]), key
        for slot, (n, wall, bus) in truth[key].items():
            sn, sw, sb = stored[key][slot]
            assert sn == n
            assert sw == pytest.approx(wall, abs=1e-6) and sb == pytest.approx(bus, abs=1e-6)


def cli_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, input: str | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m services87 ARGS`` in a real subprocess."""
    return subprocess.run([sys.executable, "-m", "services87", *args], cwd=cwd, input=input, text=True,
                          capture_output=True, env=env or cli_env(), timeout=timeout)
