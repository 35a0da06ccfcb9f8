"""The samples in samples/workbins/ against a real server: the Python aiocometd-ng script and the Node
script with the official ``cometd`` npm client (skipped only when node is not installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT, deadline_s, explain, node_packages

SAMPLES = ROOT / "samples" / "workbins"
pytestmark = pytest.mark.timeout(180)


def test_python_sample(gws):
    out = subprocess.run([sys.executable, str(SAMPLES / "request_agent_stats.py"), gws.base_url, "bjorn", "bjorn",
                          "--type", "AgentGroup", "--owner", "ServiceAgentGroup"],
                         capture_output=True, text=True, timeout=deadline_s(120))
    assert out.returncode == 0, explain(out, gws)
    assert 'HTTP 200 {"statusCode": 0, "referenceId": 1}' in out.stdout, explain(out, gws)
    message = json.loads(out.stdout.split("CometD /v2/me/workbins", 1)[1])
    assert message["messageType"] == "WorkbinStatsMessage" and message["referenceId"] == 1
    assert {e["Owner"] for e in message["workbinStats"].values()} == {"ServiceAgentGroup"}
    assert "Traceback" not in out.stderr


def test_node_sample_with_the_official_cometd_client(gws):
    node = node_packages(SAMPLES)
    out = subprocess.run([node, "request_agent_stats.mjs", gws.base_url, "dirk", "dirk", "--check"], cwd=SAMPLES,
                         capture_output=True, text=True, timeout=deadline_s(120),
                         env=dict(os.environ, MOVE_REQUEST="D0000019"))
    assert out.returncode == 0, explain(out, gws)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] is True
    assert set(result["types"]) == {"Agent", "Place", "AgentGroup", "PlaceGroup"}
    assert abs(result["move"]["after"] - result["move"]["before"]) == 1
