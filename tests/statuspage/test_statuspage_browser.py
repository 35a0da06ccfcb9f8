"""The Customer Service Status Page in headless Chromium against a real server with demo data.

Log in, compare every panel's numbers with the REST twin's answer for the same user, see a data change
arrive without a reload (live over Bayeux, and by REST polling when the WebSocket is blocked), switch
language and time zone (remembered per user), and save a screenshot to artifacts/statuspage.png.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import requests

from tests.statuspage.conftest import ARTIFACTS, new_driver, quit_driver, rest_statistics
from tests.support import ROOT, deadline_s

ALL_PANELS = ["StatusScreen", "OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerUser",
              "OpenRequestsPerUserGroup", "OpenRequestsPerPriority", "OpenRequestsPerStatus", "OpenRequestsPerOrigin",
              "NumberOfCreatedRequestsPerDay", "NumberOfCreatedRequestsPerWeek", "NumberOfCreatedRequestsPerMonth",
              "UserResponseTimePerDay", "UserReponseTimePerWeek", "UserResponseTimePerMonth", "OwnOpenRequests",
              "UnassignedRequests", "Hotlist"]

READ_BOARD = """
return [...document.querySelectorAll('#wallboard section.card')].map(c => ({
  panel: c.dataset.panel,
  title: c.querySelector('h2').textContent,
  values: [...c.querySelectorAll('[data-label]')].map(r => [r.dataset.label,
                                                            Number(r.querySelector('[data-value]').dataset.value)])
}));
"""


def wait_for(driver, condition, timeout: float = 10.0, step: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition(driver)
        except Exception as exc:  # element not there yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(step)
    logs = []
    try:
        logs = [e["message"] for e in driver.get_log("browser")][-10:]
    except Exception:
        pass
    raise AssertionError(f"timed out waiting for {what}; last={last!r}; browser log={logs}")


def login(driver, base_url: str, user: str, password: str | None = None) -> None:
    driver.get(base_url + "/")
    wait_for(driver, lambda d: d.find_element("id", "login-name").is_displayed(), what="login form")
    driver.find_element("id", "login-name").send_keys(user)
    driver.find_element("id", "login-password").send_keys(password if password is not None else user)
    driver.find_element("id", "login-submit").click()


def board(driver) -> list[dict]:
    return driver.execute_script(READ_BOARD)


def wait_loaded(driver, refreshes: int = 1) -> None:
    wait_for(driver, lambda d: int(d.execute_script("return document.body.dataset.refreshes || 0")) >= refreshes,
             what="the panels to load")


def live_state(driver) -> str | None:
    return driver.execute_script("return document.body.dataset.live || null")


def expected(rest: list[dict]) -> list[tuple[str, list]]:
    return [(ds["Label"], [[v["Label"], v["Value"]] for v in ds["Values"]]) for ds in rest]


def assert_board_equals_rest(driver, base_url, user, panels, language, zone) -> None:
    # The figures move only when data changes, and the page shows a change a moment after the REST twin has it
    # (pushed, then drawn): compare until both agree, up to a deadline generous for a loaded machine.
    deadline = time.monotonic() + deadline_s(20)
    while True:
        shown = board(driver)
        rest = rest_statistics(base_url, user, panels, language=language, time_zone=zone)
        got = [(c["title"], c["values"]) for c in shown]
        if got == expected(rest) and [c["panel"] for c in shown] == panels:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert [c["panel"] for c in shown] == panels
    for (title, values), (label, want) in zip(got, expected(rest)):
        assert (title, values) == (label, want)


def import_request(server, external_id: str, category: str = "Account/Login", owner: str | None = None) -> None:
    """Add one open request through the CLI (another process writing the same database); the Status tile's
    first figure counts the asking user's own open requests, so pass ``owner`` to move it."""
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    path = server.workdir / f"{external_id}.jsonl"
    path.write_text(json.dumps({"external_id": external_id, "title": "Browser test", "category": category,
                                "status": "New", "priority": "High", "origin": "CustomerCentre", "group": "Support",
                                "created": now, **({"owner": owner} if owner else {})}) + "\n")
    server.cli("import", str(path))


def ingest_request(server, external_id: str, category: str = "Account/Login", owner: str | None = None) -> None:
    """Create one request through the live ingest API (POST /api/ingest/events); see :func:`import_request`."""
    now_ms = int(time.time() * 1000)
    event = {"id": "ev-" + external_id, "type": "request", "action": "create", "ts": now_ms,
             "request": {"external_id": external_id, "title": "Browser test", "category": category,
                         "status": "New", "priority": "High", "origin": "CustomerCentre", "group": "Support",
                         **({"owner": owner} if owner else {})}}
    r = requests.post(server.base_url + "/api/ingest/events", json={"events": [event]},
                      headers={"x-api-key": "demo-api-key"}, timeout=10)
    assert r.status_code == 200, r.text


def open_requests_tile(driver) -> float:
    return driver.execute_script(
        "const t = document.querySelector('#wallboard [data-panel=StatusScreen] .tile .num');"
        "return t ? Number(t.dataset.value) : null")


# ----------------------------------------------------------------------------------------------- tests
def test_login_shows_every_panel_equal_to_rest(page_server, driver):
    base = page_server.base_url
    login(driver, base, "anna", "wrong")
    alert = wait_for(driver, lambda d: d.find_element("id", "login-error").text, what="the login error")
    assert "password" in alert.lower() or "passord" in alert.lower()
    assert driver.find_element("id", "app").is_displayed() is False
    driver.find_element("id", "login-password").clear()
    driver.find_element("id", "login-password").send_keys("anna")
    driver.find_element("id", "login-submit").click()
    wait_loaded(driver)
    # anna's own language and time zone (nb, Europe/Oslo) are the defaults
    assert driver.execute_script("return document.documentElement.lang") == "nb"
    assert driver.find_element("id", "settings-btn").text == "Innstillinger"
    assert [c["panel"] for c in board(driver)] == ALL_PANELS
    assert_board_equals_rest(driver, base, "anna", ALL_PANELS, "nb", "Europe/Oslo")
    # the session cookie is HttpOnly, the XSRF cookie readable; charts have text alternatives
    cookies = {c["name"]: c for c in driver.get_cookies()}
    assert cookies["services87-session"]["httpOnly"] is True
    assert cookies["XSRF-TOKEN"]["httpOnly"] is False
    labels = driver.execute_script("return [...document.querySelectorAll('#wallboard canvas')]"
                                   ".map(c => [c.getAttribute('role'), c.getAttribute('aria-label')])")
    assert labels and all(role == "img" and label for role, label in labels)
    assert driver.execute_script("return document.getElementById('announce').getAttribute('aria-live')") == "polite"


def test_ingested_change_appears_without_reload(page_server, driver):
    base = page_server.base_url
    login(driver, base, "demo")
    wait_loaded(driver)
    driver.execute_script("window.__sameDocument = 'yes'")
    # live over the Statistics API's Bayeux push (the page says so)
    wait_for(driver, lambda d: live_state(d) == "live", what="the live state")
    assert driver.find_element("id", "conn-text").text == "Live"
    before = open_requests_tile(driver)
    ext = "SP-" + uuid.uuid4().hex[:8]
    ingest_request(page_server, ext, owner="demo")
    # how fast is the bench's business (push-latency); here: it arrives while the page stays live
    wait_for(driver, lambda d: open_requests_tile(d) == before + 1, timeout=8, what="the open-requests tile to move")
    assert driver.execute_script("return window.__sameDocument") == "yes"  # no reload happened
    assert live_state(driver) == "live"
    assert_board_equals_rest(driver, base, "demo", ALL_PANELS, "en", "Europe/Oslo")


def test_blocked_websocket_falls_back_to_rest_polling(page_server, browser_paths):
    # WebSockets fail to open, and the long-polling fallback to the same Bayeux server is blocked too.
    driver = new_driver(browser_paths, blocked=("*/statistics/v3/notifications*",), block_websockets=True)
    try:
        driver.get(page_server.base_url + "/?poll=700")
        login(driver, page_server.base_url, "frank")
        wait_loaded(driver)
        wait_for(driver, lambda d: live_state(d) == "polling", what="the polling state")
        conn = driver.find_element("id", "conn")
        assert conn.get_attribute("role") == "status" and conn.text
        before = open_requests_tile(driver)
        import_request(page_server, "SP-" + uuid.uuid4().hex[:8], owner="frank")
        wait_for(driver, lambda d: open_requests_tile(d) == before + 1, timeout=8, what="a polled update")
    finally:
        quit_driver(driver)


def test_language_time_zone_and_panels_are_remembered(page_server, driver, browser_paths):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    base = page_server.base_url
    login(driver, base, "bjorn")
    wait_loaded(driver)
    assert driver.execute_script("return document.documentElement.lang") == "sv"
    # keyboard only: focus the settings button and press Enter
    driver.execute_script("document.getElementById('settings-btn').focus()")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: d.find_element("id", "settings").get_attribute("open") is not None, what="dialog")
    Select(driver.find_element("id", "pref-language")).select_by_value("de")
    Select(driver.find_element("id", "pref-timezone")).select_by_value("America/New_York")
    # show only four panels, Hotlist first: untick the rest, move Hotlist to the top with its button
    wanted = ["StatusScreen", "NumberOfCreatedRequestsPerDay", "OpenRequestsPerStatus", "Hotlist"]
    for item in driver.find_elements("css selector", "#pref-panels li"):
        box = item.find_element("css selector", "input")
        if (item.get_attribute("data-panel") in wanted) != box.is_selected():
            box.send_keys(Keys.SPACE)
    hotlist_up = driver.find_element("css selector", "#pref-panels li[data-panel=Hotlist] .up")
    for _ in range(20):
        hotlist_up.send_keys(Keys.ENTER)
    refreshes = int(driver.execute_script("return document.body.dataset.refreshes"))
    driver.find_element("id", "settings-save").click()
    wait_loaded(driver, refreshes + 1)
    panels = ["Hotlist", "StatusScreen", "OpenRequestsPerStatus", "NumberOfCreatedRequestsPerDay"]
    assert [c["panel"] for c in board(driver)] == panels
    assert driver.execute_script("return document.documentElement.lang") == "de"
    assert driver.find_element("id", "settings-btn").text == "Einstellungen"
    assert_board_equals_rest(driver, base, "bjorn", panels, "de", "America/New_York")
    updated = driver.find_element("id", "updated").text
    assert updated.startswith("Aktualisiert") and ("EST" in updated or "EDT" in updated or "GMT-" in updated)

    # remembered: a new browser session (fresh profile) gets the same page
    d2 = new_driver(browser_paths)
    try:
        login(d2, base, "bjorn")
        wait_loaded(d2)
        assert [c["panel"] for c in board(d2)] == panels
        assert d2.execute_script("return document.documentElement.lang") == "de"
    finally:
        quit_driver(d2)


def test_screenshot_of_the_demo_wallboard(page_server, driver):
    driver.set_window_size(1400, 1500)
    login(driver, page_server.base_url, "demo")
    wait_loaded(driver)
    wait_for(driver, lambda d: live_state(d) in ("live", "polling"), what="connection state")
    time.sleep(0.5)  # let the charts finish drawing
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "statuspage.png"
    assert driver.save_screenshot(str(path))
    assert path.stat().st_size > 20000
    driver.find_element("id", "tab-genesys").click()
    wait_for(driver, lambda d: d.find_element("id", "agent-table").is_displayed(), what="Genesys view")
    assert not driver.find_element("id", "wallboard").is_displayed()
    rows = driver.find_elements("css selector", "#agent-table tbody tr[data-agent]")
    assert len(rows) >= 10
    # the tenant row carries the Statistics API's figures (pushed at subscription time)
    wait_for(driver, lambda d: d.find_element("css selector", "#queue-table tbody tr").text.count("–") < 5,
             what="queue figures")
    # an agent-state event moves the agent's row live
    event = {"id": "ev-state-" + uuid.uuid4().hex[:8], "type": "agent-state", "agent": "ingrid",
             "status": "WaitForNextCall"}
    r = requests.post(page_server.base_url + "/api/ingest/events", json={"events": [event]},
                      headers={"x-api-key": "demo-api-key"}, timeout=10)
    assert r.status_code == 200, r.text
    state = "#agent-table tr[data-agent=ingrid] td.state"
    wait_for(driver, lambda d: d.find_element("css selector", state).get_attribute("data-state") == "WaitForNextCall",
             timeout=3, what="ingrid's new state")
    driver.save_screenshot(str(ARTIFACTS / "statuspage-genesys.png"))


def test_docs_screenshots_are_committed():
    # made by scripts/screenshot (tests/statuspage/screenshot.py) at its window width
    from tests.statuspage.screenshot import WIDTH

    for name in ("statuspage.png", "statuspage-queues.png"):
        data = (ROOT / "docs" / name).read_bytes()
        assert len(data) > 20000 and data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == WIDTH, name
