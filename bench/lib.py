"""Helpers of ``bench/run``: processes, wrk, SOAP/REST/Genesys request bodies, result lines.

Nothing here asserts on a figure: the bench measures and prints, the reader judges.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services87.engine.model import ALL_PANELS  # noqa: E402

PY = sys.executable
SOAP_NS = "http://www.superoffice.net/ws/crm/NetServer/Services87"


# --------------------------------------------------------------------------- processes
class Proc:
    """A child process that writes its port to a file when it listens."""

    def __init__(self, args: list[str], workdir: Path, name: str, env: dict | None = None, cwd: Path | None = None):
        self.workdir = Path(workdir)
        self.name = name
        self.port_file = self.workdir / f"{name}.port"
        if self.port_file.exists():
            self.port_file.unlink()
        self.log_path = self.workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen([a.replace("{port_file}", str(self.port_file)) for a in args], env=full_env,
                                     cwd=cwd or ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.port: int | None = None

    def wait_port(self, timeout: float = 600.0, health: str | None = None) -> "Proc":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if self.port_file.exists():
                self.port = int(self.port_file.read_text())
                if health is None:
                    return self
                try:
                    if requests.get(self.url(health), timeout=5).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in {timeout:.0f}s:\n{self.log()}")

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


#: ``SERVICES87_*`` variables given to every ``services87 serve`` started by :func:`serve`: the settings of
#: ``bench/run --set key=value`` (see :func:`settings_env`). Environment variables override the configuration
#: file (services87/config.py), so a ``--set`` value also overrides a measure's own setting.
SERVER_ENV: dict[str, str] = {}


def settings_env(pairs: list[str]) -> dict[str, str]:
    """``key=value`` settings (dotted keys for tables: ``genesys.cometd_timeout_ms=5000``) as the environment
    variables ``services87 serve`` reads (``SERVICES87_GENESYS__COMETD_TIMEOUT_MS``). Raises ``ValueError``
    for a malformed pair and ``services87.config.ConfigError`` for an unknown setting or a bad value, before
    any server starts."""
    from services87.config import NOT_SETTINGS, ConfigError, Settings

    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        name = "SERVICES87_" + key.replace("-", "_").replace(".", "__").upper()
        if not sep or not key or name in NOT_SETTINGS:
            raise ValueError(f"--set {pair!r}: expected key=value with a setting of `services87 serve` "
                             "(docs/configuration.md), e.g. response_cache_size=0 or genesys.cometd_timeout_ms=5000")
        try:
            Settings.load(env={name: value})
        except ConfigError as exc:
            raise ConfigError(f"--set {pair!r}: {exc}") from None
        env[name] = value
    return env


def serve(workdir: Path, db: str, name: str = "services87", config: str = "", extra: tuple[str, ...] = (),
          env: dict | None = None, health: str = "/health") -> Proc:
    cfg = Path(workdir) / f"{name}.toml"
    cfg.write_text(config)
    p = Proc([PY, "-m", "services87", "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", "{port_file}",
              "--db", db, "--config", str(cfg), *extra], workdir, name, env={**(env or {}), **SERVER_ENV})
    return p.wait_port(health=health)


def baseline(workdir: Path, body: bytes, content_type: str, name: str = "baseline") -> Proc:
    f = Path(workdir) / f"{name}.body"
    f.write_bytes(body)
    p = Proc([PY, str(ROOT / "bench" / "baseline.py"), "--body", str(f), "--content-type", content_type,
              "--port-file", "{port_file}"], workdir, name)
    return p.wait_port()


# --------------------------------------------------------------------------- wrk
def _apt(*args: str) -> None:
    cmd = ["apt-get", *args] if os.geteuid() == 0 else ["sudo", "apt-get", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def ensure_tool(name: str, package: str) -> str:
    """The path of ``name``; installs Debian's ``package`` with apt-get when it is missing."""
    path = shutil.which(name)
    if path:
        return path
    print(f"installing {package} with apt-get ...", file=sys.stderr)
    try:
        _apt("install", "-y", "-qq", package)
    except subprocess.CalledProcessError:
        _apt("update", "-qq")
        _apt("install", "-y", "-qq", package)
    path = shutil.which(name)
    if not path:
        raise SystemExit(f"{name} not found after installing {package}")
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    raw: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(url: str, *, seconds: float, connections: int = 16, threads: int = 1, script: str = "post.lua",
        script_args: list[str] = (), warmup: float = 0.0) -> WrkResult:
    exe = ensure_tool("wrk", "wrk")
    if warmup:
        wrk(url, seconds=warmup, connections=connections, threads=threads, script=script, script_args=script_args)
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(ROOT / "bench" / "wrk" / script), url, "--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    m = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    d = json.loads(m.group(1))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    return WrkResult(d["requests"], d["duration_us"] / 1e6, errors, d["p50"] / 1000.0, d["p99"] / 1000.0, d)


def post(url: str, body_files: list[Path], content_type: str, **kw) -> WrkResult:
    return wrk(url, script="post.lua", script_args=[content_type, *map(str, body_files)], **kw)


# --------------------------------------------------------------------------- request bodies
def soap_login(base: str, login: str = "demo", password: str | None = None) -> str:
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<AuthenticateUsernamePassword xmlns="{SOAP_NS}"><UserName>{login}</UserName>'
            f'<Password>{password or login}</Password></AuthenticateUsernamePassword></s:Body></s:Envelope>')
    r = requests.post(base + "/Remote/Services87/SoPrincipal.svc", data=body.encode(),
                      headers={"content-type": "text/xml; charset=utf-8"}, timeout=60)
    m = re.search(r"<(?:\w+:)?Ticket>([^<]+)</", r.text)
    if not m:
        raise RuntimeError(f"SOAP log-in failed: {r.status_code} {r.text[:500]}")
    return m.group(1)


def soap_statistics_body(ticket: str, zone: str | None = None, panels=None) -> bytes:
    panels = panels or [p.wire_name for p in ALL_PANELS]
    tz = (f"<TimeZone><SoTimeZoneLocationCode>{zone}</SoTimeZoneLocationCode></TimeZone>" if zone else "")
    fns = "".join(f"<StatusScreenPanelType>{p}</StatusScreenPanelType>" for p in panels)
    return (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns="{SOAP_NS}"><s:Header>'
            f"<Credentials><Ticket>{ticket}</Ticket></Credentials>{tz}</s:Header><s:Body>"
            f"<GetStatistics><Functions>{fns}</Functions></GetStatistics></s:Body></s:Envelope>").encode()


def fetch(url: str, body: bytes | None, headers: dict) -> tuple[int, bytes, str]:
    r = requests.request("POST" if body is not None else "GET", url, data=body, headers=headers, timeout=120)
    return r.status_code, r.content, r.headers.get("content-type", "")


# --------------------------------------------------------------------------- output
@dataclass
class Measure:
    name: str
    ratio: float | None
    figures: dict
    note: str = ""

    def line(self) -> str:
        ratio = "n/a" if self.ratio is None else f"{self.ratio:.2f}"
        parts = [f"{k}={_fmt(v)}" for k, v in self.figures.items()]
        text = f"{self.name}: ratio={ratio} " + " ".join(parts)
        return text + (f"  # {self.note}" if self.note else "")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return str(v)


def http_measure(name: str, ours: WrkResult, base: WrkResult, note: str = "") -> Measure:
    ratio = ours.rps / base.rps if base.rps else None
    return Measure(name, ratio, {"req_s": ours.rps, "p50_ms": ours.p50_ms, "p99_ms": ours.p99_ms,
                                 "base_req_s": base.rps, "base_p50_ms": base.p50_ms, "base_p99_ms": base.p99_ms,
                                 "requests": ours.requests, "errors": ours.errors}, note)
