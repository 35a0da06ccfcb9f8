"""Test support: a real services87 server in a subprocess on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
#: Set by scripts/test --postgres: an admin URL of a PostgreSQL server; every test then gets a fresh database on it.
PG_ADMIN_URL = os.environ.get("SERVICES87_TEST_PG_ADMIN", "")


def fresh_db_url(workdir: Path) -> str:
    """A new, empty database for one test: a SQLite file in ``workdir``, or a new PostgreSQL database."""
    if not PG_ADMIN_URL:
        return "sqlite:///" + str(Path(workdir) / "services87.db")
    import uuid

    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> "ServerProcess":
        port_file = self.workdir / "port"
        if port_file.exists():
            port_file.unlink()
        args = [sys.executable, "-m", "services87", "serve", "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(port_file), "--db", self.db, "--config", str(self.config_path),
                "--demo-requests", str(self.demo_requests), *self.extra_args]
        if self.demo:
            args.append("--demo")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
        env["SERVICES87_PASSWORD_HASH_PROFILE"] = "test"  # demo users hash in milliseconds
        env.update(self.env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            if port_file.exists():
                self.port = int(port_file.read_text())
                try:
                    if requests.get(self.base_url + "/health", timeout=5).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
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
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        code = self.proc.returncode
        self.proc = None
        self._log.close()
        return code

    def restart(self) -> "ServerProcess":
        self.stop()
        self.demo = False
        return self.start()

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``services87 <args> --db <this db>`` and return the completed process."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
        env["SERVICES87_PASSWORD_HASH_PROFILE"] = "test"
        env.update(self.env)
        return subprocess.run([sys.executable, "-m", "services87", *args, "--db", self.db,
                               "--config", str(self.config_path)], cwd=self.workdir, env=env, input=input,
                              capture_output=True, text=True, check=check, timeout=300)
