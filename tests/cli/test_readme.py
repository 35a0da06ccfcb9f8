"""The newcomer path: the README's command lines are real, scripts/serve passes options such as --port on, and the
sample scripts a newcomer runs first (samples/soap/curl.sh, samples/genesys/statistics_updates.py) show data and
exit cleanly against a real demo server."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest

from services87.cli import build_parser
from tests.support import ROOT, ServerProcess

README = (ROOT / "README.md").read_text()


def _subparser(parser, *words):
    for word in words:
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[word]
    return parser


def _readme_command_block() -> list[str]:
    block = README.split("## Command line", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.startswith("services87 ")]


def test_readme_command_lines_name_real_commands_and_options():
    parser = build_parser()
    lines = _readme_command_block()
    assert {line.split()[1] for line in lines} == {"serve", "demo", "import", "users", "simulate", "stats"}
    for line in lines:
        words = line.split()
        # "users add LOGIN [...] | list | passwd LOGIN": the options belong to the first users command
        sub = _subparser(parser, *(words[1:3] if words[1] == "users" else words[1:2]))
        known = {opt for action in sub._actions for opt in action.option_strings}
        for opt in re.findall(r"--[a-z][a-z-]*", line.split(" | ")[0]):
            assert opt in known, (line, opt)


def test_readme_tells_how_to_pick_another_port_and_about_simulate():
    assert "scripts/serve --port" in README
    assert re.search(r"--simulate.{0,200}Agents and queues", README, re.S)


def test_scripts_serve_passes_its_arguments_to_serve_demo(tmp_path):
    """``scripts/serve --port N`` = ``services87 serve --demo --port N`` (run here without the install step)."""
    script = (ROOT / "scripts" / "serve").read_text()
    exec_line = next(line for line in script.splitlines() if line.startswith("exec "))
    argv = shlex.split(exec_line)[1:]
    assert argv[0] == ".venv/bin/services87" and argv[1:] == ["serve", "--demo", "$@"]
    proc = ServerProcess(tmp_path, demo_requests=50, extra_args=()).start()  # serve --demo --port 0 ...
    try:
        assert proc.port and proc.port != 8087
    finally:
        proc.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_soap_curl_sample_gets_real_panels(server):
    res = subprocess.run(["sh", str(ROOT / "samples" / "soap" / "curl.sh"), server.base_url], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    sets = re.findall(r"<tns:StatisticsDataSet><tns:Label>([^<]*)</tns:Label>(.*?)</tns:StatisticsDataSet>", res.stdout)
    labels = [label for label, _ in sets]
    assert labels == ["", "Status", "Open requests per status", "Favourites"], labels
    for label, body in sets[1:]:
        assert body.count("<tns:StatisticsDataValue>") >= 1, label  # the demo login's hotlist too


def test_genesys_python_sample_exits_cleanly(server):
    res = subprocess.run([sys.executable, str(ROOT / "samples" / "genesys" / "statistics_updates.py"), server.base_url,
                          "demo", "demo", "--seconds", "3"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "initial ready" in res.stdout
    assert res.stderr == "", res.stderr  # no CancelledError traceback when the client closes
