"""A clean install and a clean start print only what a person needs: no setuptools warning blocks while building,
no library chatter at start-up, and a start line that says where the server listens and which database it uses."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from services87 import __version__
from tests.engine.helpers import cli_env
from tests.support import ROOT, exit_status

#: Data files that must reach an installed tree (each directory holds no Python module).
DATA_FILES = ["services87/soap/wsdl/Services87-CustomerService.wsdl", "services87/locale/nb/LC_MESSAGES/services87.po",
              "services87/engine/migrations/env.py", "services87/engine/migrations/versions/0001_initial_schema.py",
              "services87/static/statuspage/index.html", "services87/rest/openapi.json"]


def _source_copy(dest: Path) -> Path:
    """The files an sdist holds (the package, setup.cfg, pyproject.toml, README.md), without build leftovers."""
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "services87", dest / "services87",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return dest


def _can_build_wheels() -> bool:
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return importlib.util.find_spec("wheel") is not None or (major, minor) >= (70, 1)


def test_install_is_quiet(tmp_path):
    """``pip install --no-deps --no-build-isolation`` of a source copy (offline: this interpreter's setuptools).
    Without a wheel builder here, setuptools' own build step runs instead: that is where the warnings come from."""
    (tmp_path / "src").mkdir()
    src = _source_copy(tmp_path / "src")
    target = tmp_path / "installed"
    if _can_build_wheels():
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
               "--disable-pip-version-check", "--target", str(target), str(src)]
    else:
        cmd = [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib", str(target)]
    res = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "default"})
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line for line in (res.stdout + res.stderr).splitlines()
             if not line.startswith("WARNING: Location")  # this machine's pip configuration, not the project
             and "byte-compiling is disabled" not in line]
    noisy = [line for line in lines if "warning" in line.lower() or "!!" in line or "deprecat" in line.lower()]
    assert not noisy, "\n".join(lines)
    for name in DATA_FILES:
        assert (target / name).is_file(), name


def _stop(proc: subprocess.Popen, sig: int) -> str:
    """Send ``sig`` to a server started in the foreground and return its output once it exited; a server that
    does not stop is killed (never left running) and the test fails with its exit status and output."""
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
        raise AssertionError(f"{signal.Signals(sig).name} did not stop the server within 60 s "
                             f"({exit_status(proc.returncode)}); its output:\n{out[-3000:]}") from None


def test_a_clean_start_says_where_it_listens_and_which_database(tmp_path):
    db = tmp_path / "services87.db"
    port_file = tmp_path / "port"
    env = cli_env(SERVICES87_PASSWORD_HASH_PROFILE="test")
    proc = subprocess.Popen([sys.executable, "-m", "services87", "serve", "--demo", "--demo-requests", "200",
                             "--port", "0", "--port-file", str(port_file)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while not port_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert port_file.exists(), proc.communicate(timeout=30)[0] if proc.poll() is not None else "no port file"
        port = int(port_file.read_text())
        time.sleep(0.5)
    finally:
        out = _stop(proc, signal.SIGTERM)
    lines = out.splitlines()
    start = lines[:lines.index(next(line for line in lines if "listening on" in line)) + 1]
    assert start[0] == f"creating a new database at {db}"
    assert start[1].endswith(" INFO services87: filling an empty database with 200 demo requests")
    assert start[2] == f"services87 {__version__} listening on http://127.0.0.1:{port}/ (database {db})"
    assert len(start) == 3, out
    assert "alembic" not in out and "spyne" not in out and "Traceback" not in out, out


def test_a_second_start_is_one_line(tmp_path):
    """On an existing database the start line is all there is."""
    db = tmp_path / "s.db"
    env = cli_env(SERVICES87_PASSWORD_HASH_PROFILE="test")
    assert subprocess.run([sys.executable, "-m", "services87", "demo", "--requests", "20", "--db", str(db)],
                          cwd=tmp_path, env=env, capture_output=True, timeout=120).returncode == 0
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "services87", "serve", "--db", str(db), "--port", "0",
                             "--port-file", str(port_file)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while not port_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        out = _stop(proc, signal.SIGINT)
    first = out.splitlines()[0]
    assert first.startswith(f"services87 {__version__} listening on http://127.0.0.1:") and f"(database {db})" in first
    assert "Traceback" not in out, out
