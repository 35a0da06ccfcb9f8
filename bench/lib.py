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

    def profile(self, out_dir: Path) -> None:
        """Sample this process (and its worker processes) with py-spy from now until it stops; at :meth:`stop`
        the collapsed stacks go to ``out_dir/<name>.stacks`` and a summary to ``out_dir/<name>.profile.txt``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self._stacks = out_dir / f"{self.name}.stacks"
        self._profiler = subprocess.Popen(
            [str(Path(PY).with_name("py-spy")), "record", "--pid", str(self.proc.pid), "--subprocesses", "--rate",
             "250", "--format", "raw", "--output", str(self._stacks)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self._profiler.stdout is not None
        for line in self._profiler.stdout:  # "Sampling process ..." once attached
            if "Sampling process" in line or self._profiler.poll() is not None:
                break

    def _write_profile(self) -> None:
        profiler = getattr(self, "_profiler", None)
        if profiler is None:
            return
        try:
            profiler.communicate(timeout=60)  # py-spy writes its output when the process it samples exits
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.communicate()
        if self._stacks.exists():
            summary = profile_summary(self._stacks.read_text())
            self._stacks.with_suffix(".profile.txt").write_text(summary)
            print(f"profile of {self.name}: {self._stacks.with_suffix('.profile.txt')}", file=sys.stderr)

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
        self._write_profile()


#: ``bench/run --profile DIR``: every server started by :func:`serve` is sampled by py-spy once it listens.
PROFILE_DIR: Path | None = None


def profile_summary(stacks: str, top: int = 25) -> str:
    """A text summary of py-spy's collapsed stacks (``frame;frame;... count`` per line), the reactor thread
    (stacks through Twisted's ``mainLoop``) apart from the other threads (the store pool): for each, the share
    of its busy samples in which a function is on the stack (inclusive) and at the top (self), busiest first.
    Idle samples (waiting in ``epoll``, a lock or a queue) are counted apart."""
    # the leaf of a thread that waits: py-spy shows a wait in C (epoll, a lock) as its Python caller
    idle_marks = ("poll (", "doPoll (", "select (", "wait (", "_wait_for_tstate_lock", "get (queue", "acquire (")
    groups: dict[str, dict] = {}
    idle = 0
    for line in stacks.splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        n = int(count)
        names = [_frame_name(f) for f in frames.split(";")[1:]]  # [0] is the process
        if not names:
            continue
        if any(mark in names[-1] for mark in idle_marks):
            idle += n
            continue
        g = groups.setdefault("reactor thread" if any("mainLoop" in x for x in names) else "other threads",
                              {"total": 0, "incl": {}, "self": {}, "ours": set()})
        g["total"] += n
        g["self"][names[-1]] = g["self"].get(names[-1], 0) + n
        for name in set(names):
            g["incl"][name] = g["incl"].get(name, 0) + n
        g["ours"].update(_frame_name(f) for f in frames.split(";") if "services87/" in f)
    busy = sum(g["total"] for g in groups.values())
    out = [f"busy samples: {busy}; idle (waiting): {idle}"]
    for label, g in sorted(groups.items()):
        total = max(g["total"], 1)
        out += ["", f"== {label}: {g['total']} busy samples ({100 * g['total'] / max(busy, 1):.0f} %)",
                f"{'incl %':>7} {'self %':>7}  function (file)"]
        ranked = [(name, n) for name, n in sorted(g["incl"].items(), key=lambda kv: -kv[1])
                  if n < 0.995 * total]  # frames on every stack (thread entry, main loop) say nothing
        for name, n in ranked[:top]:
            out.append(f"{100 * n / total:7.1f} {100 * g['self'].get(name, 0) / total:7.1f}  {name}")
        out += ["", f"{'incl %':>7} {'self %':>7}  services87's own functions, {label}"]
        for name, n in [(name, n) for name, n in ranked if name in g["ours"]][:top]:
            out.append(f"{100 * n / total:7.1f} {100 * g['self'].get(name, 0) / total:7.1f}  {name}")
        out += ["", f"   self %  function (file), {label}"]
        for name, n in sorted(g["self"].items(), key=lambda kv: -kv[1])[:top]:
            out.append(f"  {100 * n / total:7.1f}  {name}")
    return "\n".join(out) + "\n"


def _frame_name(frame: str) -> str:
    """``function (path/to/file.py:12)`` -> ``function (file.py)``."""
    name, sep, where = frame.partition(" (")
    if not sep:
        return frame
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1].rstrip(')')})"


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
    p.wait_port(health=health)
    if PROFILE_DIR is not None:
        p.profile(PROFILE_DIR)
    return p


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
