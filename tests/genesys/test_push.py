"""CometD push of the Statistics API with aiocometd-ng: updates after ingested events, routing, notification
modes, service state on store outages (drop and re-create), session sweeping, bad channels and handshakes."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from aiocometd_ng import Client, ConnectionType
from aiocometd_ng.exceptions import AiocometdException
from prometheus_client.parser import text_string_to_metric_families

from tests.genesys.conftest import API_KEY, Api, Comet, Headers, config, service_state, uid, update_for
from tests.support import ServerProcess, deadline_s


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, deadline_s(60)))


def offered(queue: str):
    return {"id": uid(), "type": "interaction", "interaction": uid("c-"), "event": "offered", "queue": queue}


def test_update_after_ingested_event(api):
    async def main():
        async with Comet(api) as comet:
            cookies = comet.cookies()
            assert cookies["STATISTICS_SESSIONID"] and cookies["BAYEUX_BROWSER"]
            q = uid("PushQ-")
            assert api.ingest({"id": uid(), "type": "queue", "queue": q}).ok
            op = uid("op-")
            await asyncio.to_thread(api.subscribe, op, [
                {"statisticId": "state", "name": "CurrentAgentState", "objectType": "Agent", "objectId": "ingrid"},
                {"statisticId": "calls", "objectType": "Queue", "objectId": q,
                 "definition": {"category": "TotalNumber", "subject": "DNAction", "mainMask": "CallEntered",
                                "intervalType": "GrowingWindow", "notificationMode": "Immediate"}}],
                comet.cookie_header)
            await asyncio.to_thread(api.ingest, {"id": uid(), "type": "agent-state", "agent": "ingrid",
                                                 "status": "AfterCallWork", "place": "IngridPlace"})
            msg = await comet.next(where=update_for(op, "state"))
            assert msg["data"]["name"] == "StatisticUpdate" and msg["data"]["topic"] == "/statistics/v3/updates"
            st = next(s for s in msg["data"]["data"]["statistics"] if s["statisticId"] == "state")
            assert set(st) >= {"subscriptionId", "statisticId", "name", "objectId", "objectType", "value", "timestamp"}
            assert st["name"] == "CurrentAgentState" and st["objectId"] == "ingrid" and st["objectType"] == "Agent"
            assert st["value"]["status"] == "AfterCallWork" and isinstance(st["timestamp"], int)
            await asyncio.to_thread(api.ingest, offered(q))
            msg = await comet.next(where=update_for(op, "calls"))
            st = next(s for s in msg["data"]["data"]["statistics"] if s["statisticId"] == "calls")
            assert st["value"]["intValue"] == 1
            await asyncio.to_thread(api.stats, "DELETE", f"/subscriptions/{op}")
            await asyncio.to_thread(api.ingest, offered(q))
            assert [m for m in await comet.quiet(1.0) if update_for(op)(m)] == []

    run(main())


def test_updates_go_to_the_creating_session(api):
    async def main():
        async with Comet(api) as mine, Comet(api) as other:
            assert mine.cookies()["STATISTICS_SESSIONID"] != other.cookies()["STATISTICS_SESSIONID"]
            q = uid("RouteQ-")
            op = uid("op-")
            await asyncio.to_thread(api.ingest, {"id": uid(), "type": "queue", "queue": q})
            await asyncio.to_thread(api.subscribe, op, [{"statisticId": "n", "name": "Current_In_Queue",
                                                         "objectType": "Queue", "objectId": q}], mine.cookie_header)
            # Current_In_Queue is Periodical (5 s); an ad hoc Immediate one makes the test quick
            op2 = uid("op-")
            await asyncio.to_thread(api.subscribe, op2, [{"statisticId": "n", "objectType": "Queue", "objectId": q,
                                                          "definition": {"category": "CurrentNumber", "subject": "DNAction",
                                                                         "mainMask": "CallWait"}}], mine.cookie_header)
            await asyncio.to_thread(api.ingest, offered(q))
            msg = await mine.next(where=update_for(op2))
            assert msg["data"]["data"]["statistics"][0]["value"]["intValue"] == 1
            assert [m for m in await other.quiet(1.0) if m.get("channel") == "/statistics/v3/updates"] == []

    run(main())


def test_notification_modes(api):
    async def main():
        async with Comet(api) as comet:
            q = uid("ModeQ-")
            await asyncio.to_thread(api.ingest, {"id": uid(), "type": "queue", "queue": q})
            base = {"category": "TotalNumber", "subject": "DNAction", "mainMask": "CallEntered",
                    "intervalType": "GrowingWindow"}
            reset_at = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime("%H:%M:%S")
            op = uid("op-")
            await asyncio.to_thread(api.subscribe, op, [
                {"statisticId": "periodical", "objectType": "Queue", "objectId": q,
                 "definition": dict(base, notificationMode="Periodical", notificationFrequency=1, insensitivity=0)},
                {"statisticId": "none", "objectType": "Queue", "objectId": q,
                 "definition": dict(base, notificationMode="NoNotification")},
                {"statisticId": "insensitive", "objectType": "Queue", "objectId": q,
                 "definition": dict(base, notificationMode="Immediate", insensitivity=2)},
                {"statisticId": "reset", "objectType": "Queue", "objectId": q,
                 "definition": dict(base, notificationMode="Reset", dynamicTimeProfile=reset_at)}], comet.cookie_header)
            t0 = time.monotonic()
            await asyncio.to_thread(api.ingest, offered(q))
            got: dict[str, list] = {}
            # at least 5 s of updates, and (a loaded machine may run the 1 s timer late) until the third
            # periodical one, within a deadline
            deadline = t0 + deadline_s(30)
            while (time.monotonic() - t0 < 5.0 or len(got.get("periodical", [])) < 3) and time.monotonic() < deadline:
                for m in await comet.quiet(0.3):
                    if update_for(op)(m):
                        for s in m["data"]["data"]["statistics"]:
                            got.setdefault(s["statisticId"], []).append(s["value"]["intValue"])
            assert len(got.get("periodical", [])) >= 3  # every second, changed or not (insensitivity 0)
            assert "none" not in got
            assert "insensitive" not in got  # +1 is below the insensitivity of 2
            assert got.get("reset") == [1]  # the closing value at the reset time
            await asyncio.to_thread(api.ingest, offered(q))
            msg = await comet.next(where=update_for(op, "insensitive"))
            assert next(s for s in msg["data"]["data"]["statistics"] if s["statisticId"] == "insensitive")["value"]["intValue"] == 2
            r = await asyncio.to_thread(api.stats, "GET", f"/subscriptions/{op}/statistic-values?statisticIds=none")
            assert r.json()["data"]["statistics"][0]["value"]["intValue"] == 2  # NoNotification: peek only

    run(main())


def test_handshake_needs_credentials_and_bad_channels_fail(api):
    async def main():
        url = api.base + "/statistics/v3/notifications"
        client = Client(url, ConnectionType.LONG_POLLING, extensions=[Headers({"x-api-key": "wrong"})])
        with pytest.raises(AiocometdException):
            await client.open()
        await client.close()
        async with Comet(api) as comet:
            with pytest.raises(AiocometdException):
                await comet.client.subscribe("/some/other/channel")

    run(main())
    # raw long-polling: bad channels and messages are Bayeux errors, never HTTP 500
    h = {"x-api-key": API_KEY, "Authorization": "Bearer " + api.token}
    url = api.base + "/statistics/v3/notifications"
    r = requests.post(url + "/handshake", json=[{"channel": "/meta/handshake", "version": "1.0",
                                                  "supportedConnectionTypes": ["long-polling"]}], headers=h, timeout=10)
    hs = r.json()[0]
    assert hs["successful"] and "STATISTICS_SESSIONID" in r.cookies and "BAYEUX_BROWSER" in r.cookies
    cid = hs["clientId"]
    r = requests.post(url + "/subscribe", json=[{"channel": "/meta/subscribe", "clientId": cid, "subscription": "pepe"}],
                      headers=h, cookies=r.cookies, timeout=10)
    assert r.status_code == 200 and r.json()[0]["successful"] is False and r.json()[0]["error"].startswith("405")
    r = requests.post(url, data=b"[{]", headers=h, timeout=10)
    assert r.status_code == 400 and r.json()[0]["successful"] is False
    # credentials in the handshake ext (for clients that cannot set headers)
    hello = {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}
    r = requests.post(url, json=[dict(hello, ext={"x-api-key": API_KEY, "authorization": h["Authorization"]})], timeout=10)
    assert r.json()[0]["successful"] is True
    r = requests.post(url, json=[dict(hello, ext={"x-api-key": API_KEY, "authorization": "Bearer forged"})], timeout=10)
    reply = r.json()[0]
    assert r.status_code == 200 and reply["successful"] is False and reply["error"].startswith("403")


def test_session_sweeping(api):
    h = {"x-api-key": API_KEY, "Authorization": "Bearer " + api.refresh_token()}
    url = api.base + "/statistics/v3/notifications"
    s = requests.Session()
    cid = s.post(url + "/handshake", json=[{"channel": "/meta/handshake", "version": "1.0",
                                            "supportedConnectionTypes": ["long-polling"]}], headers=h, timeout=10).json()[0]["clientId"]
    first = s.post(url + "/connect", json=[{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling"}],
                   headers=h, timeout=10).json()
    assert first[-1]["successful"] is True
    # time itself must pass: cometd_max_interval_ms = 1500 in the test configuration, plus the sweep (stretched
    # on a loaded machine; polling the session would keep it alive)
    time.sleep(deadline_s(3.5))
    r = s.post(url + "/connect", json=[{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling"}],
               headers=h, timeout=10).json()[-1]
    assert r["successful"] is False and r["error"].startswith("402") and r["advice"]["reconnect"] == "handshake"


def test_outage_drops_subscriptions_then_recreate(api, server):
    flag = Path(server.workdir) / "store-down"

    async def main():
        async with Comet(api) as comet:
            q = uid("OutQ-")
            op = uid("op-")
            stats = [{"statisticId": "n", "objectType": "Queue", "objectId": q,
                      "definition": {"category": "TotalNumber", "subject": "DNAction", "mainMask": "CallEntered",
                                     "intervalType": "GrowingWindow"}}]
            await asyncio.to_thread(api.ingest, {"id": uid(), "type": "queue", "queue": q})
            await asyncio.to_thread(api.subscribe, op, stats, comet.cookie_header)
            flag.write_text("down")
            try:
                await comet.next(where=service_state("UNAVAILABLE"))
                r = await asyncio.to_thread(api.stats, "GET", f"/subscriptions/{op}/statistic-values")
                assert r.status_code == 503 and r.json()["status"]["code"] == 503
                r = await asyncio.to_thread(api.ingest, offered(q))
                assert r.status_code == 503 and r.json()["error"]["kind"] == "StoreUnavailable"
            finally:
                flag.unlink()
            await comet.next(where=service_state("AVAILABLE"))
            r = await asyncio.to_thread(api.stats, "GET", f"/subscriptions/{op}/statistic-values")
            assert r.status_code == 404  # dropped, as Genesys documents
            await asyncio.to_thread(api.subscribe, op, stats, comet.cookie_header)  # same operationId
            await asyncio.to_thread(api.ingest, offered(q))
            msg = await comet.next(where=update_for(op, "n"))
            assert msg["data"]["data"]["statistics"][0]["value"]["intValue"] == 1

    run(main())


async def one_queue_call_is_pushed(api, client, prefix: str) -> None:
    """Over a connected aiocometd client: a new queue, a subscription to its waiting calls, one offered call;
    the pushed update says 1."""
    await client.subscribe("/statistics/v3/updates")
    q, op = uid(prefix), uid("op-")
    await asyncio.to_thread(api.ingest, {"id": uid(), "type": "queue", "queue": q})
    await asyncio.to_thread(api.subscribe, op, [
        {"statisticId": "n", "objectType": "Queue", "objectId": q,
         "definition": {"category": "CurrentNumber", "subject": "DNAction", "mainMask": "CallWait"}}])
    await asyncio.to_thread(api.ingest, offered(q))
    while True:
        msg = await asyncio.wait_for(client.receive(), 10)
        if update_for(op, "n")(msg):
            break
    assert msg["data"]["data"]["statistics"][0]["value"]["intValue"] == 1


class ExtCredentials(Headers):
    """Credentials in the handshake ext (a WebSocket upgrade carries no custom headers from browsers)."""

    async def outgoing(self, payload, headers):
        for msg in payload:
            if msg.get("channel") == "/meta/handshake":
                msg.setdefault("ext", {}).update({k.lower(): v for k, v in self.headers.items()})


def test_websocket_push(api):
    async def main():
        ext = ExtCredentials({"x-api-key": API_KEY, "Authorization": "Bearer " + api.refresh_token()})
        async with Client(api.base.replace("http://", "ws://") + "/statistics/v3/notifications",
                          ConnectionType.WEBSOCKET, extensions=[ext]) as client:
            # no cookie reaches the REST calls: the update is routed to the sessions of the same user
            await one_queue_call_is_pushed(api, client, "WsQ-")

    run(main())


def _counters(proc) -> dict[str, float]:
    r = requests.get(proc.base_url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    return {s.name: s.value for f in text_string_to_metric_families(r.text) for s in f.samples
            if s.name.startswith("services87_genesys_")}


def test_equal_statistics_of_many_subscriptions_are_evaluated_once(tmp_path):
    """Three clients subscribe to the same statistics: one change is one evaluation of each (not three) and
    three pushes. Before, every subscription's copy was evaluated with its own SQL, which made a thousand
    subscribers of one agent a thousand evaluations per event (bench push-latency). An ad hoc definition is
    parsed anew for each subscription: equal definitions count as one, whichever object each client got."""
    proc = ServerProcess(tmp_path, config=config(tmp_path), demo_requests=20).start()
    try:
        api = Api(proc)
        agent = "ingrid"  # a demo agent

        async def main():
            async with Comet(api) as a, Comet(api) as b, Comet(api) as c:
                ops = [uid("op-") for _ in range(3)]
                q = uid("EvalQ-")
                await asyncio.to_thread(api.ingest, {"id": uid(), "type": "queue", "queue": q})
                for op, comet in zip(ops, (a, b, c)):
                    await asyncio.to_thread(api.subscribe, op, [
                        {"statisticId": "state", "name": "CurrentAgentState", "objectType": "Agent",
                         "objectId": agent},
                        {"statisticId": "wait", "objectType": "Queue", "objectId": q,
                         "definition": {"category": "CurrentNumber", "subject": "DNAction", "mainMask": "CallWait"}}],
                        comet.cookie_header)
                before = await asyncio.to_thread(_counters, proc)
                assert before["services87_genesys_subscriptions"] == 3
                await asyncio.to_thread(api.ingest, {"id": uid(), "type": "agent-state", "agent": agent,
                                                     "status": "Ready", "place": uid("place-")})
                for op, comet in zip(ops, (a, b, c)):
                    await comet.next(where=update_for(op, "state"))
                after = await asyncio.to_thread(_counters, proc)
                recomputed = after["services87_genesys_recomputations_total"] - \
                    before["services87_genesys_recomputations_total"]
                evaluated = after["services87_genesys_statistic_evaluations_total"] - \
                    before["services87_genesys_statistic_evaluations_total"]
                pushed = after["services87_genesys_updates_pushed_total"] - \
                    before["services87_genesys_updates_pushed_total"]
                assert recomputed >= 1 and evaluated == 2 * recomputed, (recomputed, evaluated)
                assert pushed >= 3

        run(main())
    finally:
        proc.stop()


def test_changes_at_the_budgeted_rate_are_each_pushed_at_once(tmp_path):
    """``recompute_delay_ms`` is a budget (a token bucket of two), not a minimum gap: the first change after a
    quiet time is recomputed at once, and so is a second one right after it; only a third within the same ten
    minutes waits. Before, the
    second change waited the whole spacing after the first's recomputation (changes at about the budgeted rate
    waited 0-100 ms each, by jitter, in the push-latency bench)."""
    proc = ServerProcess(tmp_path, config=config(tmp_path, recompute_delay_ms=600_000), demo_requests=20).start()
    try:
        api = Api(proc)

        async def main():
            async with Comet(api) as comet:
                op = uid("op-")
                await asyncio.to_thread(api.subscribe, op, [
                    {"statisticId": "state", "name": "CurrentAgentState", "objectType": "Agent",
                     "objectId": "ingrid"}], comet.cookie_header)
                for n in range(2):
                    place = uid(f"place{n}-")
                    await asyncio.to_thread(api.ingest, {"id": uid(), "type": "agent-state", "agent": "ingrid",
                                                         "status": "Ready" if n else "NotReady", "place": place})
                    msg = await comet.next(timeout=20, where=update_for(op, "state"))
                    assert place in str(msg), n
                await asyncio.to_thread(api.ingest, {"id": uid(), "type": "agent-state", "agent": "ingrid",
                                                     "status": "NotReady", "place": uid("place2-")})
                late = [m for m in await comet.quiet(2.0) if update_for(op, "state")(m)]
                assert late == []  # the budget is spent: the third waits for it (ten minutes here)

        run(main())
    finally:
        proc.stop()
