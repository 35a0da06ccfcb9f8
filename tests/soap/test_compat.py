"""Regression tests for services87/soap/compat.py: each Spyne 2.14 / Twisted bug, with and without its fix.

The "fixed" assertion of each test fails if the fix is removed; the "skip" run shows the bug is real on
the installed versions (if an upgrade fixes it upstream, that assertion tells us the fix can go)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.support import ROOT, deadline_s, exit_status, tail, track, wait_until

ECHO = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:echo">'
        b"<s:Body><e:echo><e:text>hello</e:text></e:echo></s:Body></s:Envelope>")


class Echo:
    """tests/soap/spyne_echo.py in a subprocess: its output goes to a log file read by path, its port comes from
    a file it writes atomically."""

    def __init__(self, tmp_path, *args):
        self.port_file = tmp_path / "port"
        self.port_file.unlink(missing_ok=True)
        self.log_path = tmp_path / f"echo{len(list(tmp_path.glob('echo*.log')))}.log"
        self.name = "spyne_echo " + " ".join(args)
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.soap.spyne_echo", str(self.port_file), *args],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        track(self)

    def describe(self) -> str:
        return (f"{self.name}: {exit_status(self.proc.poll())}\n--- log ({self.log_path}), tail\n"
                f"{tail(self.log_path.read_text(errors='replace'))}")

    def __enter__(self):
        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"echo server exited: {self.describe()}")
            return self.port_file.exists()

        wait_until(listening, 60, "echo server port file", details=self.describe)
        self.url = f"http://127.0.0.1:{self.port_file.read_text()}/"
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(deadline_s(20))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def post(self):
        return requests.post(self.url, data=ECHO, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)

    def wsdl(self):
        return requests.get(self.url + "?wsdl", timeout=10)


def _import(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_twisted_constants_shim():
    fixed = _import("from services87.soap import compat; compat.apply(); import spyne.server.twisted.http")
    assert fixed.returncode == 0, fixed.stderr
    bare = _import("import spyne.server.twisted.http")
    assert bare.returncode != 0 and "twisted.python.constants" in bare.stderr


def test_post_is_not_405(tmp_path):
    with Echo(tmp_path) as echo:
        r = echo.post()
        assert r.status_code == 200 and b"hello" in r.content
    with Echo(tmp_path, "--skip", "method") as echo:
        r = echo.post()
        assert r.status_code == 405 and b"RequestNotAllowed" in r.content


def test_wsdl_is_not_500(tmp_path):
    with Echo(tmp_path) as echo:
        r = echo.wsdl()
        assert r.status_code == 200 and b"definitions" in r.content
        assert echo.url.encode() in r.content  # the reconstructed URL is right
    with Echo(tmp_path, "--skip", "url") as echo:
        assert echo.wsdl().status_code == 500


def test_compat_is_idempotent():
    from services87.soap import compat

    compat.apply()
    compat.apply()
    from spyne.server.twisted.http import TwistedHttpTransportContext

    assert TwistedHttpTransportContext.get_request_method.__module__ == "services87.soap.compat"
