"""tests/support.py's own parts that the suite's stability rests on.

``node_packages``: scripts/test runs the PostgreSQL and SQLite passes at once in one checkout, and both reach the
same Node clients. ``npm ci`` empties ``node_modules`` before filling it, so a CI run failed when one pass ran
the official CometD sample while the other was installing it (``Cannot find package .../cometd-nodejs-client``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import NODE_MARK, ROOT, deadline_s, wait_until

pytestmark = pytest.mark.timeout(240)

# what a test process does: install (or find installed) and use the package at once
USE = """
import sys
from pathlib import Path
from tests.support import node_packages
client = Path(sys.argv[1])
node_packages(client)
print("used" if (client / "node_modules" / "dep" / "index.js").is_file() else "half a tree")
"""


def client_dir(tmp: Path) -> Path:
    """A Node client with one local dependency (``file:``), so ``npm ci`` needs no network."""
    client = tmp / "client"
    (client / "dep").mkdir(parents=True)
    (client / "dep" / "package.json").write_text(json.dumps({"name": "dep", "version": "1.0.0", "main": "index.js"}))
    (client / "dep" / "index.js").write_text("module.exports = 1;\n")
    (client / "package.json").write_text(json.dumps({"name": "client", "version": "1.0.0", "private": True,
                                                     "dependencies": {"dep": "file:dep"}}))
    out = subprocess.run(["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", "--offline"],
                         cwd=client, capture_output=True, text=True, timeout=deadline_s(120))
    assert out.returncode == 0, out.stdout + out.stderr
    return client


def counting_npm(tmp: Path) -> tuple[dict[str, str], Path, Path]:
    """An ``npm`` first on PATH that counts its calls and holds each until ``release`` exists, then runs npm."""
    bin_dir, calls, release = tmp / "bin", tmp / "npm-calls", tmp / "release"
    bin_dir.mkdir()
    wrapper = bin_dir / "npm"
    wrapper.write_text(f"""#!/bin/sh
echo "$$" >> {calls}
while [ ! -e {release} ]; do sleep 0.02; done
exec {shutil.which("npm")} "$@"
""")
    wrapper.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    return env, calls, release


def call_count(calls: Path) -> int:
    return len(calls.read_text().split()) if calls.exists() else 0


def waiting_for_a_lock(pid: int) -> bool:
    """``pid`` is blocked in ``flock`` (/proc/locks lists a waiting request as ``N: -> FLOCK ... PID ...``)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and str(pid) in fields:
            return True
    return False


@pytest.mark.skipif(shutil.which("npm") is None or not Path("/proc/locks").exists(), reason="needs npm and Linux")
def test_a_second_process_waits_for_the_install_instead_of_running_into_it(tmp_path):
    client = client_dir(tmp_path)
    env, calls, release = counting_npm(tmp_path)
    first = subprocess.Popen([sys.executable, "-c", USE, str(client)], env=env, cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = None
    try:
        wait_until(lambda: call_count(calls) == 1, 60, "the first process's npm ci")
        second = subprocess.Popen([sys.executable, "-c", USE, str(client)], env=env, cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # without the lock the second would be inside npm ci too (emptying node_modules under the first)
        wait_until(lambda: waiting_for_a_lock(second.pid) or call_count(calls) > 1, 60,
                   "the second process waiting for the lock or running npm")
        assert call_count(calls) == 1, "the second process ran npm ci while the first was installing"
    finally:
        release.touch()
        outs = [p.communicate(timeout=deadline_s(120)) for p in (first, second) if p is not None]
    for p, (out, err) in zip((first, second), outs):
        assert p.returncode == 0 and out.split() == ["used"], f"exit {p.returncode}\n{out}\n{err}"
    assert call_count(calls) == 1
    assert (client / "node_modules" / NODE_MARK).is_file()

    # installed: later calls run no npm at all; a changed lock file is installed again
    again = subprocess.run([sys.executable, "-c", USE, str(client)], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=deadline_s(60))
    assert again.stdout.split() == ["used"] and call_count(calls) == 1, again.stderr
    lock = json.loads((client / "package-lock.json").read_text())
    lock["name"] = "client-renamed"
    (client / "package-lock.json").write_text(json.dumps(lock, indent=2))
    changed = subprocess.run([sys.executable, "-c", USE, str(client)], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=deadline_s(60))
    assert changed.stdout.split() == ["used"] and call_count(calls) == 2, changed.stderr


def test_ctrl_c_reaches_the_tests_children_when_the_run_started_with_sigint_ignored(tmp_path):
    """A run started in the background of a non-interactive shell inherits SIGINT ignored (three fresh-clone CI
    runs launched that way failed the two tests that press Ctrl-C on a child); tests/conftest.py gives the
    suite's children Python's handler back. Here the importer's Ctrl-C test runs in such a pytest."""
    test = "tests/engine/test_importer.py::test_interrupted_import_leaves_whole_batches_and_can_be_rerun[ctrl-c]"
    env = {k: v for k, v in os.environ.items() if k != "SERVICES87_TEST_PG_ADMIN"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", test,
                          "--basetemp", str(tmp_path / "t")], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=deadline_s(180), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout
