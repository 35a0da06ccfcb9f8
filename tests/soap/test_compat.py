"""Regression tests for services87/soap/compat.py: each Spyne 2.14 / Twisted bug, with and without its fix.

The "fixed" assertion of each test fails if the fix is removed; the "skip" run shows the bug is real on
the installed versions (if an upgrade fixes it upstream, that assertion tells us the fix can go)."""

from __future__ import annotations

import importlib.metadata
import os
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


def _import(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


# What services87 imports from Spyne, plus a six.moves module that is a moved standard-library module.
SPYNE_IMPORTS = ("import services87.soap, spyne, spyne.protocol.soap, spyne.server.wsgi\n"
                 "from spyne.util.six.moves import http_cookies\n"
                 "import http.cookies\n"
                 "assert http_cookies is http.cookies and http.cookies.__spec__.name == 'http.cookies'\n")


def test_six_moves_finder():
    """Python >= 3.12 does not call find_module, the only method of the importer in Spyne's vendored six."""
    fixed = _import(SPYNE_IMPORTS)
    assert fixed.returncode == 0, fixed.stderr
    bare = _import(SPYNE_IMPORTS, SERVICES87_COMPAT_SKIP="six")
    if sys.version_info >= (3, 12):
        assert bare.returncode != 0 and "No module named 'spyne.util.six.moves'" in bare.stderr, bare.stderr
    else:  # 3.11 still falls back to find_module: the finder is not needed (but harmless) there
        assert bare.returncode == 0, bare.stderr


# Hides the cgi module of the legacy-cgi distribution (site-packages), not the standard library's.
HIDE_LEGACY_CGI = """
import importlib.machinery, sys
class HideLegacyCgi:
    def find_spec(self, name, path=None, target=None):
        if name in ("cgi", "cgitb"):
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and "-packages" in (spec.origin or ""):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, HideLegacyCgi())
"""


def test_cgi_for_spyne():
    """Python 3.13 removed cgi (PEP 594); Spyne's SOAP protocol and servers import it: legacy-cgi provides it."""
    code = "from services87.soap import endpoint\nimport spyne.server.wsgi, spyne.protocol.soap.soap11\n"
    fixed = _import(code)
    assert fixed.returncode == 0, fixed.stderr
    bare = _import(HIDE_LEGACY_CGI + code)
    if sys.version_info >= (3, 13):
        assert bare.returncode != 0 and "No module named 'cgi'" in bare.stderr, bare.stderr
        assert importlib.metadata.version("legacy-cgi")
    else:  # still in the standard library (deprecated): setup.cfg does not install legacy-cgi here
        assert bare.returncode == 0, bare.stderr


def test_twisted_constants_shim():
    fixed = _import("from services87.soap import compat; compat.apply(); import spyne.server.twisted.http")
    assert fixed.returncode == 0, fixed.stderr
    bare = _import("import services87.soap, spyne.server.twisted.http")  # the six finder only
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
    compat.install_six_moves_finder()
    assert sum(isinstance(f, compat.SixMovesFinder) for f in sys.meta_path) == 1
