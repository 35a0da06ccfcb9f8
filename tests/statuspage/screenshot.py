"""Make docs/statuspage.png (and docs/statuspage-queues.png) from the demo data, the way a new user sees it.

``scripts/screenshot`` runs this. The wallboard comes from ``services87 serve --demo`` (what ``scripts/serve``
starts: seed 87, 5000 demo requests ending now); the Agents and queues view from ``services87 serve --demo
--simulate`` after the simulator has run for a while. Headless Debian Chromium, 1400 px wide, English,
logged in as demo/demo. The figures follow the clock (the demo data ends "now"), the data set and layout do not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.statuspage.conftest import _browser_paths, new_driver, quit_driver
from tests.support import ROOT, ServerProcess

DEMO_REQUESTS = 5000  # `services87 serve --demo` fills an empty database with this many (the CLI default)
WIDTH, HEIGHT = 1400, 1500


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"screenshot: timed out waiting for {what}")


def _login(driver, base: str) -> None:
    driver.set_window_size(WIDTH, HEIGHT)
    driver.get(base + "/")
    _wait(lambda: driver.find_element("id", "login-name").is_displayed(), 20, "the login form")
    driver.find_element("id", "login-name").send_keys("demo")
    driver.find_element("id", "login-password").send_keys("demo")
    driver.find_element("id", "login-submit").click()
    _wait(lambda: int(driver.execute_script("return document.body.dataset.refreshes || 0")) >= 1, 30, "the panels")
    _wait(lambda: driver.execute_script("return document.body.dataset.live") == "live", 20, "the live state")


def wallboard(out: Path, workdir: Path, paths) -> None:
    proc = ServerProcess(workdir / "wallboard", demo_requests=DEMO_REQUESTS).start(timeout=300)
    driver = new_driver(paths)
    try:
        _login(driver, proc.base_url)
        time.sleep(1.0)  # let the charts finish drawing
        driver.save_screenshot(str(out))
    finally:
        quit_driver(driver)
        proc.stop()


def queues(out: Path, workdir: Path, paths, seconds: float) -> None:
    proc = ServerProcess(workdir / "queues", demo_requests=DEMO_REQUESTS, extra_args=("--simulate",)).start(timeout=300)
    driver = new_driver(paths)
    try:
        time.sleep(seconds)  # simulated traffic: calls entered, answered, abandoned
        _login(driver, proc.base_url)
        driver.find_element("id", "tab-genesys").click()
        _wait(lambda: driver.find_elements("css selector", "#queue-table tbody tr[data-queue]")
              and "–" not in driver.find_element("id", "queue-table").text, 20, "every queue figure")
        time.sleep(0.5)
        driver.save_screenshot(str(out))
    finally:
        quit_driver(driver)
        proc.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/screenshot", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"), help="directory for statuspage.png and statuspage-queues.png")
    ap.add_argument("--simulate-seconds", type=float, default=30.0,
                    help="how long the simulator runs before the queues are shot (default 30)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = _browser_paths()
    with tempfile.TemporaryDirectory(prefix="s87-screenshot-") as tmp:
        wallboard(out / "statuspage.png", Path(tmp), paths)
        queues(out / "statuspage-queues.png", Path(tmp), paths, args.simulate_seconds)
    print(f"wrote {out / 'statuspage.png'} and {out / 'statuspage-queues.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
