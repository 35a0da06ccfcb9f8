"""Fixtures for the status-page browser tests: a real server with demo data and headless Debian Chromium
driven by Selenium through the system chromedriver (installed by scripts/install-browser when missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from tests.support import ROOT, ServerProcess

ARTIFACTS = ROOT / "artifacts"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1800", "--lang=en-US",
                  "--force-prefers-reduced-motion")


def _unavailable(reason: str):
    """Skip on a developer machine that cannot install the browser; in CI a missing browser is a failure."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _browser_paths() -> tuple[str, str]:
    if os.environ.get("SERVICES87_BROWSER") == "0":
        pytest.skip("browser tests are store-independent: scripts/test runs them in the SQLite pass only")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    try:
        done = subprocess.run([str(ROOT / "scripts" / "install-browser")], capture_output=True, text=True,
                              timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"cannot install chromium + chromium-driver: {exc}")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if done.returncode != 0 or not (chromium and driver):
        _unavailable("cannot install chromium + chromium-driver (scripts/install-browser): "
                     + (done.stderr or done.stdout)[-500:])
    return chromium, driver


@pytest.fixture(scope="session")
def browser_paths():
    return _browser_paths()


@pytest.fixture(scope="session")
def page_server(tmp_path_factory):
    """A server of its own (the tests write to it: preferences, ingested events)."""
    proc = ServerProcess(tmp_path_factory.mktemp("statuspage"), demo_requests=1500).start()
    yield proc
    proc.stop()


#: What a proxy or firewall that drops WebSockets looks like to a page: every socket fails to open (error, then
#: close 1006). CDP's Network.setBlockedURLs does not apply to WebSocket connections, so it is replaced here.
BLOCKED_WEBSOCKET = """
(() => {
  class BlockedWebSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = String(url); this.readyState = 0; this.protocol = ""; this.extensions = ""; this.bufferedAmount = 0;
      setTimeout(() => {
        this.readyState = 3;
        const error = new Event("error");
        if (this.onerror) this.onerror(error);
        this.dispatchEvent(error);
        const close = new CloseEvent("close", {code: 1006, reason: "", wasClean: false});
        if (this.onclose) this.onclose(close);
        this.dispatchEvent(close);
      }, 20);
    }
    send() { throw new DOMException("WebSocket is not open", "InvalidStateError"); }
    close() {}
  }
  Object.assign(BlockedWebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = BlockedWebSocket;
})();
"""


def new_driver(browser_paths, blocked: tuple[str, ...] = (), block_websockets: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager go online
    chromium, chromedriver = browser_paths
    profile = tempfile.mkdtemp(prefix="s87-chromium-")
    opts = Options()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(20)
    driver._s87_profile = profile
    if blocked:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(blocked)})
    if block_websockets:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BLOCKED_WEBSOCKET})
    return driver


def quit_driver(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "_s87_profile", ""), ignore_errors=True)


@pytest.fixture
def driver(browser_paths):
    d = new_driver(browser_paths)
    yield d
    quit_driver(d)


def rest_session(base_url: str, login: str) -> requests.Session:
    """A requests session logged in through the page's own login endpoint (same cookies as the browser)."""
    s = requests.Session()
    r = s.post(base_url + "/statuspage/api/login", json={"login": login, "password": login}, timeout=10)
    r.raise_for_status()
    s.headers["X-XSRF-TOKEN"] = s.cookies["XSRF-TOKEN"]
    return s


def rest_statistics(base_url: str, login: str, panels: list[str], language: str = "en",
                    time_zone: str | None = None) -> list[dict]:
    """The REST twin's answer for ``login`` (Basic auth, independent of the page)."""
    headers = {"SO-Language": language, "Accept": "application/json"}
    if time_zone:
        headers["SO-TimeZone"] = time_zone
    r = requests.post(base_url + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": panels},
                      auth=(login, login), headers=headers, timeout=30)
    r.raise_for_status()
    return r.json()
