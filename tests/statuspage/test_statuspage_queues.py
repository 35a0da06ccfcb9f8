"""The "Agents and queues" view against `services87 serve --demo --simulate` (the README's live demo).

Every cell of the queue table holds a real number from the Statistics API, the badge says Live, and the figures
move while the simulator runs. A server that refuses the subscription is reported on the page in plain words,
and the badge says why the page polls.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.statuspage.conftest import ARTIFACTS, new_driver, quit_driver, rest_session
from tests.statuspage.test_statuspage_browser import live_state, login, wait_for, wait_loaded
from tests.support import ServerProcess, wait_until

#: The columns of the queue table (frontend/src/main.js QUEUE_STATS), in order.
COLUMNS = ["waiting", "ready", "entered", "answered", "abandoned", "sl", "wait", "aht"]

READ_QUEUES = """
return [...document.querySelectorAll('#queue-table tbody tr')].map(r => ({
  queue: r.dataset.queue, name: r.querySelector('th').textContent,
  cells: [...r.querySelectorAll('td')].map(c => ({stat: c.dataset.stat, value: c.dataset.value ?? null,
                                                  text: c.textContent, refused: c.classList.contains('refused')}))
}));
"""


def start_server(tmp_path_factory, name: str, config: str = "") -> ServerProcess:
    proc = ServerProcess(tmp_path_factory.mktemp(name), config=config, demo_requests=300,
                         extra_args=("--simulate",)).start()
    # the simulator creates its queues (one per user group) with its first batch
    s = rest_session(proc.base_url, "demo")
    try:
        wait_until(lambda: len(s.get(proc.base_url + "/statuspage/api/me", timeout=10).json().get("queues") or []) >= 2,
                   30, "the simulator's queues", details=proc.describe)
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    proc = start_server(tmp_path_factory, "simulated")
    yield proc
    proc.stop()


def queues(driver) -> list[dict]:
    return driver.execute_script(READ_QUEUES)


def all_numbers(rows: list[dict]) -> bool:
    return bool(rows) and all(
        [c["stat"] for c in r["cells"]] == COLUMNS
        and all(not c["refused"] and c["value"] not in (None, "") and c["text"] != "–"
                and c["value"].replace(".", "", 1).isdigit() for c in r["cells"])
        for r in rows)


def figures(rows: list[dict]) -> dict:
    return {(r["queue"], c["stat"]): c["value"] for r in rows for c in r["cells"]}


def test_agents_and_queues_are_live_under_the_simulator(simulated, browser_paths):
    base = simulated.base_url
    me = rest_session(base, "demo").get(base + "/statuspage/api/me", timeout=10).json()
    driver = new_driver(browser_paths)
    try:
        login(driver, base, "demo")
        wait_loaded(driver)
        driver.find_element("id", "tab-genesys").click()
        wait_for(driver, lambda d: live_state(d) == "live", timeout=15, what="the live state")
        assert driver.find_element("id", "conn-text").text == "Live"
        # a row for the tenant and one per queue, every cell a number pushed by the Statistics API
        wait_for(driver, lambda d: all_numbers(queues(d)), timeout=15, what="a number in every queue cell")
        rows = queues(driver)
        assert [r["queue"] for r in rows][1:] == me["queues"] and rows[0]["name"] == "All queues"
        assert not driver.find_element("id", "genesys-error").is_displayed()
        agents = driver.execute_script(
            "return [...document.querySelectorAll('#agent-table tbody tr[data-agent]')]"
            ".map(r => [...r.querySelectorAll('td')].map(c => c.textContent))")
        assert len(agents) >= 10 and all(len(a) == 2 and "–" not in a for a in agents)
        # the simulator keeps going: a queue figure changes on the page without a reload, and it stays live
        before = figures(rows)
        wait_for(driver, lambda d: figures(queues(d)) != before, timeout=30, step=0.2,
                 what="a queue figure to change while the simulator runs")
        assert all_numbers(queues(driver))
        assert live_state(driver) == "live"
        # the tenant's calls are the sum of the queues' calls
        after = queues(driver)
        entered = [int(float(r["cells"][COLUMNS.index("entered")]["value"])) for r in after]
        assert entered[0] >= max(entered[1:]) and entered[0] > 0
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "statuspage-queues.png"))
        # a queue created while the page is open shows up when the view is shown again, live and with numbers
        r = requests.post(base + "/api/ingest/events", json={"events": [
            {"id": "late-queue-" + str(time.time_ns()), "type": "queue", "queue": "Late Queue"}]},
            headers={"x-api-key": "demo-api-key"}, timeout=10)
        assert r.status_code == 200, r.text
        driver.find_element("id", "tab-wallboard").click()
        driver.find_element("id", "tab-genesys").click()
        wait_for(driver, lambda d: "Late Queue" in [row["queue"] for row in queues(d)] and all_numbers(queues(d)),
                 timeout=15, what="the new queue's row with numbers")
        assert live_state(driver) == "live"
    finally:
        quit_driver(driver)


def test_a_refused_subscription_is_said_in_plain_words(tmp_path_factory, browser_paths):
    # a server that takes at most 5 statistics per request refuses the page's subscription and its polling
    proc = start_server(tmp_path_factory, "refusing", config="[genesys]\nmax_statistics = 5\n")
    driver = new_driver(browser_paths)
    try:
        login(driver, proc.base_url, "demo")
        wait_loaded(driver)
        driver.find_element("id", "tab-genesys").click()
        wait_for(driver, lambda d: live_state(d) == "polling", timeout=15, what="the polling state")
        badge = driver.find_element("id", "conn-text").text
        assert "refused" in badge and "at most 5 statistics" in badge, badge
        error = wait_for(driver, lambda d: d.find_element("id", "genesys-error").text, what="the error text")
        assert "refused the subscription" in error and "HTTP 400" in error and "at most 5 statistics" in error
        assert driver.find_element("id", "genesys-error").is_displayed()
        # the wallboard (REST twin) still works
        assert int(driver.execute_script("return document.body.dataset.refreshes")) >= 1
        r = requests.get(proc.base_url + "/health", timeout=5)
        assert r.status_code == 200
    finally:
        quit_driver(driver)
        proc.stop()


#: Makes the page ask for a statistic the server does not have, in place of CurrentReadyAgents (the server's
#: answer is real: 404 UnknownStatistic naming each statisticId).
UNKNOWN_READY = """
(() => {
  const fetch0 = window.fetch;
  window.fetch = (url, opts = {}) => {
    if (typeof opts.body === "string" && String(url).includes("/statistics/v3/"))
      opts = {...opts, body: opts.body.replaceAll('"CurrentReadyAgents"', '"NoSuchStatistic"')};
    return fetch0(url, opts);
  };
})();
"""


def test_refused_statistics_are_marked_and_the_rest_stays_live(simulated, browser_paths):
    driver = new_driver(browser_paths)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": UNKNOWN_READY})
        login(driver, simulated.base_url, "demo")
        wait_loaded(driver)
        driver.find_element("id", "tab-genesys").click()
        # the server refuses the subscription because of the unknown statistic; the page drops those and is live
        wait_for(driver, lambda d: live_state(d) == "live", timeout=15, what="the live state")
        rows = wait_for(driver, lambda d: (lambda r: r if all(
            all(c["refused"] == (c["stat"] == "ready") for c in row["cells"])
            and all(c["value"] not in (None, "") for c in row["cells"] if c["stat"] != "ready") for row in r) else None)(
            queues(d)), timeout=15, what="refused ready cells and numbers elsewhere")
        ready = [row["cells"][COLUMNS.index("ready")] for row in rows]
        assert all(c["text"] == "refused" for c in ready)
        error = driver.find_element("id", "genesys-error")
        assert error.is_displayed()
        assert f"The server refused {len(rows)} statistic(s)" in error.text
        assert "CurrentReadyAgents (Tenant Environment): unknown statistic 'NoSuchStatistic'" in error.text
    finally:
        quit_driver(driver)
