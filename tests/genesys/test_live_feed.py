"""A server running the simulator (serve --demo --simulate) with keep_subscriptions_on_outage: pushes from
simulated traffic, keep-and-re-push across an outage, the CLI simulator, the official CometD JavaScript client,
the Python sample, and 402 + re-handshake after a restart (subscriptions restored, routed by cookie)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.genesys.conftest import API_KEY, Api, Comet, config, service_state, uid, update_for
from tests.support import ROOT, ServerProcess, deadline_s, explain, node_packages

SAMPLES = ROOT / "samples" / "genesys"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    work = tmp_path_factory.mktemp("genesys-live")
    proc = ServerProcess(work, config=config(work, keep_subscriptions_on_outage=True), demo_requests=60,
                         extra_args=("--simulate",)).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def lapi(live) -> Api:
    return Api(live)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, deadline_s(60)))


def test_simulated_traffic_is_pushed(lapi):
    async def main():
        async with Comet(lapi) as comet:
            op = uid("sim-")
            await asyncio.to_thread(lapi.subscribe, op, [
                {"statisticId": "calls", "objectType": "Tenant", "objectId": "Environment",
                 "definition": {"category": "TotalNumber", "subject": "DNAction", "mainMask": "CallEntered",
                                "intervalType": "GrowingWindow"}},
                {"statisticId": "support", "name": "CurrentAgentState", "objectType": "GroupAgents", "objectId": "Support"}],
                comet.cookie_header)
            seen = []
            while len(seen) < 2:
                msg = await comet.next(timeout=20, where=update_for(op, "calls"))
                seen += [s["value"]["intValue"] for s in msg["data"]["data"]["statistics"] if s["statisticId"] == "calls"]
            assert seen[1] > seen[0] >= 1

    run(main())


def test_keep_subscriptions_and_repush(lapi, live):
    flag = Path(live.workdir) / "store-down"

    async def main():
        async with Comet(lapi) as comet:
            q = uid("KeepQ-")
            op = uid("keep-")
            await asyncio.to_thread(lapi.ingest, {"id": uid(), "type": "queue", "queue": q})
            await asyncio.to_thread(lapi.subscribe, op, [
                {"statisticId": "n", "objectType": "Queue", "objectId": q,
                 "definition": {"category": "CurrentNumber", "subject": "DNAction", "mainMask": "CallWait"}}],
                comet.cookie_header)
            flag.write_text("down")
            try:
                await comet.next(where=service_state("UNAVAILABLE"))
            finally:
                flag.unlink()
            await comet.next(where=service_state("AVAILABLE"))
            # nothing changed in this queue: the update is the re-push of the current value
            msg = await comet.next(where=update_for(op, "n"))
            assert msg["data"]["data"]["statistics"][0]["value"]["intValue"] == 0
            r = await asyncio.to_thread(lapi.stats, "GET", f"/subscriptions/{op}/statistic-values")
            assert r.status_code == 200  # kept

    run(main())


def test_cli_simulate(live):
    out = live.cli("simulate", "--url", live.base_url, "--events", "8", "--interval-ms", "20", "--agents", "anna,bjorn",
                   "--seconds", "30")
    assert out.returncode == 0 and "events accepted" in out.stdout, explain(out, live)
    bad = live.cli("simulate", "--url", live.base_url, "--api-key", "wrong", "--events", "3", check=False)
    assert bad.returncode == 1 and "HTTP 401" in bad.stdout, explain(bad, live)
    nobody = live.cli("simulate", "--url", live.base_url, "--agents", "ghost", check=False)
    assert nobody.returncode == 1 and "no such user" in nobody.stderr, explain(nobody, live)


def test_python_sample(live):
    out = subprocess.run([sys.executable, str(SAMPLES / "statistics_updates.py"), live.base_url, "demo", "demo",
                          "--seconds", "3"], capture_output=True, text=True, timeout=deadline_s(120))
    assert out.returncode == 0, explain(out, live)
    assert "initial ready" in out.stdout, explain(out, live)


def test_official_cometd_javascript_client(live):
    node = node_packages(SAMPLES)
    out = subprocess.run([node, "statistics_updates.mjs", live.base_url, "demo", "demo", "--check"], cwd=SAMPLES,
                         capture_output=True, text=True, timeout=deadline_s(120))
    assert out.returncode == 0 and out.stdout.strip(), explain(out, live)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"], explain(out, live)
    assert result["update"]["statisticId"] == "calls" and result["update"]["objectType"] == "Tenant"
    assert result["peek"] >= 1 and result["deleted"] == 200 and result["cookie"]


def test_restart_402_rehandshake_and_restored_subscription(live, lapi):
    url = live.base_url + "/statistics/v3/notifications"
    h = {"x-api-key": API_KEY, "Authorization": "Bearer " + lapi.refresh_token()}
    s = requests.Session()

    def handshake():
        r = s.post(url + "/handshake", json=[{"channel": "/meta/handshake", "version": "1.0",
                                               "supportedConnectionTypes": ["long-polling"]}], headers=h, timeout=10)
        reply = r.json()[0]
        assert reply["successful"], reply
        cid = reply["clientId"]
        r = s.post(url + "/subscribe", json=[{"channel": "/meta/subscribe", "clientId": cid,
                                              "subscription": "/statistics/v3/updates"}], headers=h, timeout=10)
        assert r.json()[0]["successful"]
        return cid

    def connect(cid):
        return s.post(url + "/connect", json=[{"channel": "/meta/connect", "clientId": cid,
                                               "connectionType": "long-polling", "advice": {"timeout": 2000}}],
                      headers=h, timeout=30).json()

    cid = handshake()
    connect(cid)
    cookie = s.cookies.get("STATISTICS_SESSIONID")
    q = uid("RestartQ-")
    op = uid("restart-")
    assert lapi.ingest({"id": uid(), "type": "queue", "queue": q}).ok
    lapi.subscribe(op, [{"statisticId": "n", "objectType": "Queue", "objectId": q,
                         "definition": {"category": "CurrentNumber", "subject": "DNAction", "mainMask": "CallWait"}}],
                   cookie=f"STATISTICS_SESSIONID={cookie}")
    old_port = live.port
    live.restart()
    url = url.replace(f":{old_port}/", f":{live.port}/")
    reply = connect(cid)[-1]
    assert reply["successful"] is False and reply["error"].startswith("402")
    assert reply["advice"]["reconnect"] == "handshake"
    cid2 = handshake()
    assert s.cookies.get("STATISTICS_SESSIONID") == cookie  # the cookie survives the re-handshake
    connect(cid2)
    assert lapi.ingest({"id": uid(), "type": "interaction", "interaction": uid(), "event": "offered", "queue": q}).ok
    deadline = time.monotonic() + deadline_s(15)
    found = None
    while found is None and time.monotonic() < deadline:
        for m in connect(cid2):
            if m.get("channel") == "/statistics/v3/updates":
                for st in m["data"]["data"]["statistics"]:
                    if st["subscriptionId"] == op:
                        found = st
    assert found is not None and found["value"]["intValue"] == 1
