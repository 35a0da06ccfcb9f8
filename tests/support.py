"""Test support: a real services87 server in a subprocess on 127.0.0.1 with an ephemeral port, and what every
test that starts a process shows when it fails (exit status, stderr, the tail of the server log).

* :class:`ServerProcess` (and the other harnesses: ``tests/bayeux/bayeux_harness.AppProcess``, the SOAP
  ``Echo`` of tests/soap/test_compat.py) register themselves with :func:`track`; ``tests/conftest.py`` adds a
  report section per process of a failed test (:func:`process_sections`): how it ended and its log's tail.
* :func:`explain` is the assertion message for a finished child (``subprocess.run``): command, exit status,
  stdout and stderr tails, and the state and log tail of the servers it talked to.
* :func:`wait_until` is the one way to wait: a condition polled until a deadline generous for a loaded
  machine (``SERVICES87_TEST_TIME_FACTOR`` stretches every deadline), never a fixed sleep.
* :func:`node_packages` installs a Node client's packages (``npm ci``) once, under a lock: scripts/test runs its
  PostgreSQL and SQLite passes at once in one checkout, and both may reach the same client.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
#: Set by scripts/test --postgres: an admin URL of a PostgreSQL server; every test then gets a fresh database on it.
PG_ADMIN_URL = os.environ.get("SERVICES87_TEST_PG_ADMIN", "")
#: Set by scripts/test, whose PostgreSQL server is thrown away after the run: the databases need no dropping.
#: Otherwise (a server of your own, e.g. ``scripts/pg-start``'s default one) each test process drops the
#: databases it made when it ends; they would pile up run after run (gigabytes within days).
PG_THROWAWAY = os.environ.get("SERVICES87_TEST_PG_THROWAWAY") == "1"
#: Multiplies every deadline of the harnesses (scripts/stress sets it: CPU hogs beside the tests).
TIME_FACTOR = float(os.environ.get("SERVICES87_TEST_TIME_FACTOR", "1") or 1)
LOG_TAIL = 6000


def deadline_s(seconds: float) -> float:
    """A deadline in seconds, stretched by :data:`TIME_FACTOR`."""
    return seconds * TIME_FACTOR


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05,
               details: Callable[[], str] | None = None) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` (stretched by
    :data:`TIME_FACTOR`) passes: then ``TimeoutError`` naming ``what`` (and ``details()``, e.g. a server log)."""
    deadline = time.monotonic() + deadline_s(timeout)
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = details() if details is not None else ""
            raise TimeoutError(f"{what}: not within {deadline_s(timeout):.0f}s" + (f"\n{extra}" if extra else ""))
        time.sleep(interval)


#: Written into ``node_modules`` after ``npm ci`` succeeded: the hash of the lock file it installed.
NODE_MARK = ".services87-installed"


def node_packages(directory: Path, timeout: float = 300) -> str:
    """``node``'s path, after making sure ``directory/node_modules`` holds exactly what ``package-lock.json``
    names (skips the test when node is not installed).

    ``npm ci`` empties ``node_modules`` before it fills it again, so a second process that installs or runs
    the client meanwhile sees half a tree (``Cannot find package ...``). The install therefore happens under an
    exclusive ``flock`` on ``package.json`` (shared by every test process of the checkout), and is done only
    when the mark it leaves in ``node_modules`` does not name the current lock file."""
    import pytest

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    lock_file = directory / "package-lock.json"
    want = hashlib.sha256(lock_file.read_bytes()).hexdigest()
    mark = directory / "node_modules" / NODE_MARK
    with open(directory / "package.json", "rb") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            if mark.is_file() and mark.read_text().strip() == want:
                return node
            npm = shutil.which("npm")
            assert npm, "node is installed but npm is not"
            out = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory, capture_output=True,
                                 text=True, timeout=deadline_s(timeout))
            assert out.returncode == 0, explain(out)
            mark.parent.mkdir(exist_ok=True)
            mark.write_text(want + "\n")
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)
    return node


def exit_status(code: int | None) -> str:
    """``running``, ``exit status 1``, ``killed by SIGBUS (-7)``."""
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name} ({code})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def tail(text: str | bytes | None, n: int = LOG_TAIL) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= n else "[...]\n" + text[-n:]


# --------------------------------------------------------------------------- what a failed test shows
_TRACKED: list[Any] = []  # harness objects started during the current test (tests/conftest.py resets it)


def track(process: Any) -> None:
    """Register a harness object (anything with ``describe() -> str``) started by the current test."""
    if not any(p is process for p in _TRACKED):
        _TRACKED.append(process)


def reset_tracked() -> None:
    _TRACKED.clear()


#: Test modules that open no store (bayeux/ knows nothing of services87; the static, packaging and Spyne-shim
#: checks read or run code without a database). The PostgreSQL pass of scripts/test (SERVICES87_TEST_PG_ADMIN set)
#: does not collect them; in every other run :func:`fresh_db_url` refuses a store to them, so the list stays true.
STORE_INDEPENDENT = ("tests/bayeux/", "tests/test_static.py", "tests/test_packaging.py", "tests/soap/test_compat.py",
                     "tests/perf/test_bench_push_floor.py", "tests/ops/test_logs.py", "tests/test_scripts.py",
                     "tests/test_support.py", "tests/ops/test_stop.py", "tests/genesys/test_update_json.py")
#: the node id of the test being set up or run (tests/conftest.py), for :func:`fresh_db_url`'s check
current_test = ""


def store_independent(nodeid: str) -> bool:
    return nodeid.replace("\\", "/").startswith(STORE_INDEPENDENT)


def process_sections(funcargs: dict) -> list[tuple[str, str]]:
    """``(title, text)`` per process a failed test used: its fixtures' processes (also through an attribute
    ``proc``, e.g. :class:`tests.genesys.conftest.Api`) and the ones it started itself."""
    found: list[Any] = []
    for value in list(funcargs.values()) + list(_TRACKED):
        for candidate in (value, getattr(value, "proc", None), getattr(value, "server", None)):
            if callable(getattr(candidate, "describe", None)) and not any(candidate is f for f in found):
                found.append(candidate)
    out = []
    for p in found:
        try:
            out.append((f"process: {getattr(p, 'name', type(p).__name__)}", p.describe()))
        except Exception as exc:  # a report must never hide the failure it explains
            out.append((f"process: {type(p).__name__}", f"(could not describe: {exc!r})"))
    return out


def explain(out: subprocess.CompletedProcess, *servers: Any) -> str:
    """Assertion message for a finished child: command, exit status, output tails, and each server's state."""
    args = out.args if isinstance(out.args, str) else " ".join(str(a) for a in out.args)
    parts = [f"command: {args}", f"{exit_status(out.returncode)}",
             f"--- stdout\n{tail(out.stdout, 3000)}", f"--- stderr\n{tail(out.stderr)}"]
    for server in servers:
        if server is not None:
            parts.append(server.describe())
    return "\n".join(parts)


def fresh_db_url(workdir: Path, migrated: bool = False) -> str:
    """A new database for one test: a SQLite file in ``workdir``, or a new PostgreSQL database. Empty, or with
    *migrated* a copy of a database migrated once per test process (the Alembic chain costs a fifth of a second
    on SQLite and more on PostgreSQL: a test that builds many stores asks for copies; a copy holds exactly what
    ``Store.migrate()`` leaves in an empty database)."""
    if store_independent(current_test):
        raise AssertionError(f"{current_test} opens a store, but its module is in tests/support.py: "
                             "STORE_INDEPENDENT (the PostgreSQL pass skips those): take it off the list")
    if not PG_ADMIN_URL:
        target = Path(workdir) / "services87.db"
        if migrated:
            shutil.copyfile(_migrated_template(), target)
        return "sqlite:///" + str(target)
    return _pg_url(_pg_database(template=_migrated_template() if migrated else None))


def _pg_database(template: str | None = None) -> str:
    """The name of a new database on the run's PostgreSQL server, a copy of ``template`` if one is named."""
    import uuid

    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    if not PG_THROWAWAY:
        if not _PG_MADE:
            atexit.register(_drop_pg_databases)
        _PG_MADE.append(name)
    return name


#: the PostgreSQL databases this process made (dropped when it ends unless :data:`PG_THROWAWAY`)
_PG_MADE: list[str] = []


def _drop_pg_databases() -> None:
    """Drop what :func:`_pg_database` made, copies before the template they were made from (``WITH (FORCE)``:
    a server a test left running loses its connections, as at the end of the test anyway)."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            for name in reversed(_PG_MADE):
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _PG_MADE.clear()
    except Exception as exc:  # the server went away: nothing left to tidy
        print(f"tests: could not drop the test databases on {PG_ADMIN_URL}: {exc}", file=sys.stderr)
    finally:
        admin.dispose()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@functools.cache
def _migrated_template() -> str:
    """The migrated database this process copies (SQLite: a file; PostgreSQL: a database name), made on first use."""
    from services87.engine.storage import Store

    if PG_ADMIN_URL:
        result = _pg_database()
        url = _pg_url(result)
    else:
        where = tempfile.mkdtemp(prefix="services87-template-")
        atexit.register(shutil.rmtree, where, ignore_errors=True)
        result = str(Path(where) / "services87.db")
        url = "sqlite:///" + result
    store = Store(url)
    store.migrate()
    store.close()  # no connection stays: PostgreSQL copies a template nobody is connected to
    if not PG_ADMIN_URL and Path(result + "-wal").exists():
        raise AssertionError("the migrated SQLite template kept a write-ahead log after close: copy it too")
    return result


class ServerProcess:
    """``python -m services87 serve`` on a real SQLite file (or any --db URL), port 0."""

    def __init__(self, workdir: Path, db: str | None = None, config: str = "", demo: bool = True,
                 demo_requests: int = 2000, extra_args: tuple[str, ...] = (), env: dict | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db = db or fresh_db_url(self.workdir)
        self.config_path = self.workdir / "services87.toml"
        self.config_path.write_text(config)
        self.demo = demo
        self.demo_requests = demo_requests
        self.extra_args = extra_args
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = self.workdir / "server.log"
        self.name = f"services87 serve ({self.workdir.name})"
        self.exits: list[str] = []  # how earlier runs ended (restarts, kills, crashes)
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> "ServerProcess":
        port_file = self.workdir / "port"
        port_file.unlink(missing_ok=True)
        self.port = None
        args = [sys.executable, "-m", "services87", "serve", "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(port_file), "--db", self.db, "--config", str(self.config_path),
                "--demo-requests", str(self.demo_requests), *self.extra_args]
        if self.demo:
            args.append("--demo")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
        env["SERVICES87_PASSWORD_HASH_PROFILE"] = "test"  # demo users hash in milliseconds
        env.update(self.env)
        # The child appends to the log through its own descriptor; the parent reads it by path (log()), never
        # through a shared file offset.
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        track(self)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited before it was up: {self.describe()}")
            if self.port is None:
                text = port_file.read_text() if port_file.exists() else ""  # written atomically (rename)
                if not text.strip():
                    return False
                self.port = int(text)
            return self.serves()

        try:
            wait_until(up, timeout, "server up (port file written, /health answered)")
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.describe()}") from None
        return self

    def serves(self) -> bool:
        """``/health`` answers 200 on a new connection now (refused, reset or timed out: ``False``)."""
        try:
            return requests.get(self.base_url + "/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def describe(self) -> str:
        """State (running, or how it ended), earlier exits, and the tail of the server log."""
        state = exit_status(self.proc.poll()) if self.proc is not None else "stopped by the test"
        earlier = f"; earlier runs: {', '.join(self.exits)}" if self.exits else ""
        return (f"{self.name} on port {self.port}: {state}{earlier}\n"
                f"--- server log ({self.log_path}), tail\n{tail(self.log())}")

    def log(self) -> str:
        """The tail (8000 characters) of the server log, read through a descriptor of our own."""
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(deadline_s(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        code = self.proc.returncode
        self.exits.append(exit_status(code))
        self.proc = None
        self._log.close()
        return code

    def restart(self) -> "ServerProcess":
        self.stop()
        self.demo = False
        return self.start()

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``services87 <args> --db <this db>`` and return the completed process. ``check``: a non-zero exit
        fails the test with :func:`explain` (the child's output and this server's state and log)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
        env["SERVICES87_PASSWORD_HASH_PROFILE"] = "test"
        env.update(self.env)
        out = subprocess.run([sys.executable, "-m", "services87", *args, "--db", self.db,
                              "--config", str(self.config_path)], cwd=self.workdir, env=env, input=input,
                             capture_output=True, text=True, timeout=deadline_s(300))
        if check and out.returncode != 0:
            raise AssertionError(f"services87 {args[0] if args else ''} failed\n{explain(out, self)}")
        return out
