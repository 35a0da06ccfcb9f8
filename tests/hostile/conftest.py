"""Fixtures and helpers for the hostile-input suite: real server processes, raw sockets, /proc measurements.

Timings of attacks are recorded (``record_timing``; written to the junit ``user_properties`` and printed in the
terminal summary), never asserted: CI machines are too noisy for a 50 ms bound.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.support import ServerProcess

API_KEY = "demo-api-key"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services87"
NS = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
CT = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+|<title>Processing Failed")

_TIMINGS: list[tuple[str, float]] = []

# Server config for the attack and fuzz servers: generous log-in limits (fuzzers log in), defaults otherwise.
ATTACK_CONFIG = """
log_level = "debug"
login_max_failures = 1000
login_max_failures_per_address = 100000
"""


def record_timing(request, name: str, seconds: float) -> None:
    _TIMINGS.append((name, seconds))
    request.node.user_properties.append((f"seconds:{name}", round(seconds, 4)))


def pytest_terminal_summary(terminalreporter):
    if _TIMINGS:
        worst = sorted(_TIMINGS, key=lambda t: -t[1])[:8]
        terminalreporter.write_line("hostile input, slowest answers (recorded, not asserted): "
                                    + ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in worst))


# --------------------------------------------------------------------------- servers
@pytest.fixture(scope="session")
def attack_server(tmp_path_factory):
    """A real server with demo data, shared by the attack and fuzz modules (they never change stored data)."""
    proc = ServerProcess(tmp_path_factory.mktemp("hostile"), config=ATTACK_CONFIG, demo_requests=300).start()
    yield proc
    proc.stop()


# --------------------------------------------------------------------------- measurements
def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def alive(proc: ServerProcess) -> None:
    assert proc.proc is not None and proc.proc.poll() is None, f"server died:\n{proc.log()}"
    r = requests.get(proc.base_url + "/health", timeout=10)
    assert r.status_code == 200, r.text


def row_counts(db_url: str) -> dict[str, int]:
    """Rows per table of the server's database (SQLite file or PostgreSQL)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as c:
            names = sa.inspect(c).get_table_names()
            return {n: c.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in sorted(names)}
    finally:
        engine.dispose()


def stored_data(proc: ServerProcess) -> dict[str, int]:
    """Row counts of the tables that hold customer data (sessions/tickets/throttle/meta may change with log-ins)."""
    volatile = ("ticket", "token", "meta", "alembic", "session", "pref", "throttle")
    return {t: n for t, n in row_counts(proc.db).items() if not any(v in t for v in volatile)}


def no_traceback(body: bytes) -> None:
    assert not TRACEBACK.search(body or b""), body[:2000]


def typed_json(r: requests.Response) -> dict | list:
    """An error answer must be a JSON document (never HTML, never empty, never a traceback)."""
    no_traceback(r.content)
    assert r.content, f"empty {r.status_code} body"
    ctype = r.headers.get("content-type", "")
    assert "json" in ctype, (r.status_code, ctype, r.content[:300])
    return json.loads(r.content)


# --------------------------------------------------------------------------- raw HTTP
def raw_request(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_all(s, timeout)


def read_all(s: socket.socket, timeout: float) -> bytes:
    s.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out


def status_of(raw: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    assert m, raw[:200]
    return int(m.group(1))


def body_of(raw: bytes) -> bytes:
    """The body of a raw HTTP response (chunked transfer coding undone)."""
    if b"\r\n\r\n" not in raw:
        return b""
    head, body = raw.split(b"\r\n\r\n", 1)
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def fuzz_examples(default: int) -> int:
    """Examples per fuzz test: ``default`` in CI; ``SERVICES87_FUZZ_EXAMPLES`` sets it for long runs."""
    value = os.environ.get("SERVICES87_FUZZ_EXAMPLES")
    return int(value) if value else default


def soap_fault(r: requests.Response, version: str) -> tuple[str, str]:
    """(code path, reason) of a SOAP fault of ``version``; fails on anything else."""
    from lxml import etree

    no_traceback(r.content)
    assert r.status_code in (400, 405, 413, 500), (r.status_code, r.content[:300])
    assert r.content, "empty fault body"
    doc = etree.fromstring(r.content)
    ns = NS[version]
    assert doc.tag == f"{{{ns}}}Envelope", (version, r.content[:300])
    f = doc.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    assert f is not None, r.content[:500]
    if version == "1.1":
        return f.findtext("faultcode"), f.findtext("faultstring")
    return ".".join(v.text for v in f.iter(f"{{{ns}}}Value")), f.findtext(f"{{{ns}}}Reason/{{{ns}}}Text")


def envelope(version: str, body: str, header: str = "") -> str:
    h = f"<s:Header>{header}</s:Header>" if header else ""
    return f'<s:Envelope xmlns:s="{NS[version]}" xmlns:t="{TNS}">{h}<s:Body>{body}</s:Body></s:Envelope>'


def soap_url(proc: ServerProcess, service: str = "CustomerService") -> str:
    return f"{proc.base_url}/Remote/Services87/{service}.svc"


def bearer(proc: ServerProcess, login: str = "demo") -> str:
    r = requests.post(proc.base_url + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=15,
                      data={"grant_type": "password", "username": login, "password": login})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def workdir_of(proc: ServerProcess) -> Path:
    return proc.workdir


# Short limits, so slow-client, connection-cap and expiry tests finish in seconds.
STRICT_CONFIG = """
log_level = "debug"
ticket_lifetime = 2
access_token_lifetime = 2
login_max_failures = 3
login_max_failures_per_address = 8
login_failure_window = 60

[http]
header_timeout = 1
body_timeout = 2
idle_timeout = 3
max_connections = 6
"""


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("strict"), config=STRICT_CONFIG, demo_requests=100).start()
    yield proc
    proc.stop()
