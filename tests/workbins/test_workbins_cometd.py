"""RequestAgentStats end to end: real HTTP plus a real Bayeux client (aiocometd-ng, long-polling)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiocometd_ng.exceptions import ServerError

from tests.workbins.helpers import (CHANNEL, SEED_AGENT, SEED_AGENT_GROUP, SEED_PLACE, SEED_PLACE_GROUP, Gws, basic,
                                    collect, in_thread, next_stats, no_message)

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(autouse=True)
def quiet_client_logs(caplog):
    caplog.set_level(logging.CRITICAL, logger="aiocometd_ng")


def run(coro):
    async def main():
        # aiocometd-ng leaves a cancelled long poll behind on close; that is not an error
        asyncio.get_running_loop().set_exception_handler(
            lambda lp, ctx: None if isinstance(ctx.get("exception"), asyncio.CancelledError)
            else lp.default_exception_handler(ctx))
        return await coro

    return asyncio.run(main())


def expected(listing: dict[str, dict]) -> dict:
    return {wid: {"Count": w["count"], "Owner": w["owner"], "Type": w["type"]} for wid, w in listing.items()}


def test_each_object_type(gws):
    s = Gws(gws.base_url, "anna")

    async def scenario():
        async with s.cometd() as client:
            await client.subscribe(CHANNEL)
            cases = [
                ("/api/v2/workbins", SEED_AGENT, "Agent", None),
                ("/api/v2/workbins", SEED_PLACE, "Place", "Place1"),
                ("/api/v2/workbins", SEED_AGENT_GROUP, "AgentGroup", "ServiceAgentGroup"),
                ("/api/v2/workbins", SEED_PLACE_GROUP, "PlaceGroup", "ServicePlaceGroup"),
                ("/api/v2/users/00000000000000000000000000000003/workbins", SEED_AGENT, "Agent",
                 "00000000000000000000000000000003"),
            ]
            for ref, (path, body, wtype, owner) in enumerate(cases, start=1):
                reply = await in_thread(s.post, path, body)
                assert reply.status_code == 200
                assert reply.json() == {"statusCode": 0, "referenceId": ref}
                data = await next_stats(client, ref)
                assert data["messageType"] == "WorkbinStatsMessage" and data["referenceId"] == ref
                assert set(data) == {"workbinStats", "messageType", "referenceId"}
                listing = await in_thread(s.workbins, wtype, owner)
                assert listing, f"no demo workbins for {wtype} {owner}"
                assert data["workbinStats"] == expected(listing)
                want_owner = owner or s.me["id"]
                assert all(e["Owner"] == want_owner and e["Type"] == wtype for e in data["workbinStats"].values())
                assert any(e["Count"] > 0 for e in data["workbinStats"].values())

    run(scenario())


def test_move_changes_count_and_pushes_a_fresh_message(gws):
    s = Gws(gws.base_url, "eva")
    bystander = Gws(gws.base_url, "frank")
    request = "D0000011"

    async def scenario():
        await in_thread(s.move, request, None)  # start from "in no workbin"
        async with s.cometd() as client, bystander.cometd() as other:
            await client.subscribe(CHANNEL)
            await other.subscribe(CHANNEL)
            body = {"operationName": "RequestAgentStats", "workbinType": "Place", "workbinOwner": "Place2"}
            ref = (await in_thread(s.post, "/api/v2/workbins", body)).json()["referenceId"]
            first = await next_stats(client, ref)
            (wid, entry), = first["workbinStats"].items()
            start = entry["Count"]
            # the bystander asked about another owner: it hears about its own request only
            other_ref = (await in_thread(bystander.post, "/api/v2/workbins", SEED_AGENT_GROUP)).json()["referenceId"]
            await next_stats(other, other_ref)

            moved = await in_thread(s.move, request, wid)
            assert moved["statusCode"] == 0 and moved["changed"] is True
            assert moved["to"]["id"] == wid and moved["externalId"] == request
            fresh = await next_stats(client, ref)
            assert fresh["workbinStats"][wid] == {"Count": start + 1, "Owner": "Place2", "Type": "Place"}
            assert (await in_thread(s.workbins, "Place", "Place2"))[wid]["count"] == start + 1

            # moving it again to the same workbin changes nothing and sends nothing
            assert (await in_thread(s.move, request, wid))["changed"] is False
            await no_message(client, 0.4)

            moved = await in_thread(s.move, request, None)
            assert moved["changed"] is True and moved["from"]["id"] == wid and moved["to"] is None
            fresh = await next_stats(client, ref)
            assert fresh["workbinStats"][wid]["Count"] == start
            await no_message(other, 0.3)

    run(scenario())


def test_moves_between_owners_notify_both_watchers(gws):
    """A supervisor watching an agent (users/{userId} form) and the agent's place both see a move."""
    supervisor = Gws(gws.base_url, "demo")
    agent = Gws(gws.base_url, "greta")
    request = "D0000013"

    async def scenario():
        await in_thread(agent.move, request, None)  # start from "in no workbin"
        async with supervisor.cometd() as client:
            await client.subscribe(CHANNEL)
            r1 = (await in_thread(supervisor.post, f"/api/v2/users/{agent.me['id']}/workbins", SEED_AGENT)).json()
            a0 = await next_stats(client, r1["referenceId"])
            r2 = (await in_thread(supervisor.post, "/api/v2/workbins", SEED_PLACE_GROUP)).json()
            p0 = await next_stats(client, r2["referenceId"])
            draft = next(w for w in (await in_thread(agent.workbins)).values() if w["name"] == "Draft")
            pending = next(iter(p0["workbinStats"]))
            await in_thread(agent.move, request, pending)
            await next_stats(client, r2["referenceId"],
                             where=lambda d: d["workbinStats"][pending]["Count"] == p0["workbinStats"][pending]["Count"] + 1)
            await in_thread(agent.move, request, draft["id"])  # out of the place group, into the agent's Draft
            ra, rp = r1["referenceId"], r2["referenceId"]
            got = await collect(client, {
                "agent": lambda d: d["referenceId"] == ra and d["workbinStats"][draft["id"]]["Count"] == draft["count"] + 1,
                "place": lambda d: d["referenceId"] == rp
                and d["workbinStats"][pending]["Count"] == p0["workbinStats"][pending]["Count"],
            })
            assert got["agent"]["workbinStats"][draft["id"]]["Owner"] == agent.me["id"]
            assert a0["workbinStats"][draft["id"]]["Count"] == draft["count"]
            await in_thread(agent.move, request, None)

    run(scenario())


def test_disconnect_ends_kept_informed(gws):
    s = Gws(gws.base_url, "hans")
    request = "D0000017"

    async def scenario():
        await in_thread(s.move, request, None)  # start from "in no workbin"
        async with s.cometd() as client:
            await client.subscribe(CHANNEL)
            ref = (await in_thread(s.post, "/api/v2/workbins", SEED_PLACE)).json()["referenceId"]
            data = await next_stats(client, ref)
        wid = next(iter(data["workbinStats"]))
        async with s.cometd() as client:  # same JSESSIONID, new Bayeux session
            await client.subscribe(CHANNEL)
            await in_thread(s.move, request, wid)
            await no_message(client, 0.6)
            ref2 = (await in_thread(s.post, "/api/v2/workbins", SEED_PLACE)).json()["referenceId"]
            assert ref2 == ref + 1
            await next_stats(client, ref2)
            await in_thread(s.move, request, None)
            fresh = await next_stats(client, ref2)
            assert fresh["workbinStats"][wid]["Count"] == data["workbinStats"][wid]["Count"]

    run(scenario())


def test_handshake_needs_the_session_or_basic_auth(gws):
    s = Gws(gws.base_url, "ingrid")

    async def scenario():
        for headers in ({}, {"Authorization": basic("ingrid", "wrong")}, {"Cookie": "JSESSIONID=" + "0" * 32}):
            with pytest.raises(ServerError) as info:
                async with s.cometd(headers):
                    pass
            assert "403" in str(info.value)
        # Basic auth alone starts a session of its own; a request from the same user's REST session is
        # delivered to it because that REST session has no CometD client of its own
        async with s.cometd({"Authorization": basic("ingrid", "ingrid")}) as client:
            await client.subscribe(CHANNEL)
            ref = (await in_thread(s.post, "/api/v2/workbins", SEED_PLACE)).json()["referenceId"]
            data = await next_stats(client, ref)
            assert next(iter(data["workbinStats"].values()))["Owner"] == "Place1"

    run(scenario())


def test_messages_go_only_to_the_requesting_session(gws):
    a, b = Gws(gws.base_url, "clara"), Gws(gws.base_url, "clara")

    async def scenario():
        async with a.cometd() as ca, b.cometd() as cb:
            await ca.subscribe(CHANNEL)
            await cb.subscribe(CHANNEL)
            ref = (await in_thread(a.post, "/api/v2/workbins", SEED_PLACE)).json()["referenceId"]
            await next_stats(ca, ref)
            await no_message(cb, 0.4)

    run(scenario())
