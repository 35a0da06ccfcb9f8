"""Regression tests for services87/soap/compat.py: each Spyne 2.14 / Twisted bug, with and without its fix.

The "fixed" assertion of each test fails if the fix is removed; the "skip" run shows the bug is real on
the installed versions (if an upgrade fixes it upstream, that assertion tells us the fix can go)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from tests.support import ROOT

ECHO = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:echo">'
        b"<s:Body><e:echo><e:text>hello</e:text></e:echo></s:Body></s:Envelope>")


class Echo:
    def __init__(self, tmp_path, *args):
        self.port_file = tmp_path / "port"
        self.port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.soap.spyne_echo", str(self.port_file), *args],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def __enter__(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode(errors="replace"))
            if self.port_file.exists() and self.port_file.read_text():
                self.url = f"http://127.0.0.1:{self.port_file.read_text()}/"
                return self
            time.sleep(0.05)
        raise RuntimeError("echo server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

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
