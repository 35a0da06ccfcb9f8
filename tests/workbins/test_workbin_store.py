"""Workbins in the engine: schema/migration, owners, counts, moves as writes with change events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from services87.engine.migrate import alembic_config
from services87.engine.model import NotFound, ValidationError
from services87.engine.storage.workbins import WorkbinStore, workbin_uuid
from services87.gws.errors import GwsError
from services87.gws.lenient import parse_body, strip_trailing_commas


@pytest.fixture
def ws(store):
    gid = store.ensure_group("Support")
    store.ensure_status("New", 1)
    uid = store.add_user("anna", "Anna Andersen", uuid="ab" * 16, groups=[gid])
    store.upsert_requests([{"external_id": f"R{i}", "status_id": 1, "owner_id": uid, "created_ts": 1_700_000_000}
                           for i in range(3)])
    w = WorkbinStore(store)
    w.uid = uid
    return w


def test_migration_creates_the_tables(store):
    with store.engine.connect() as c:
        names = set(sa.inspect(c).get_table_names())
        heads = {r[0] for r in c.execute(sa.text("SELECT version_num FROM alembic_version"))}
    assert {"workbins", "workbin_items"} <= names
    # one head, which 0002_workbins is below (tests/engine/test_migration_chain.py)
    assert heads == {ScriptDirectory.from_config(alembic_config()).get_current_head()}


def test_owners_and_stable_uuids(ws):
    draft = ws.create_workbin("Draft", "Agent", ws.uid)
    assert draft["id"] == workbin_uuid("Agent", "ab" * 16, "Draft")
    assert ws.create_workbin("Draft", "agent", "anna")["id"] == draft["id"]  # idempotent, login accepted
    ws.create_workbin("Pending", "Place", "Place1")
    assert ws.resolve_owner("Agent", "AB" * 16).label == "ab" * 16
    assert ws.resolve_owner("Place", "Place1").label == "Place1"
    assert ws.resolve_owner("AgentGroup", "Support").ref == "Support"  # a user group without workbins
    assert ws.stats(ws.resolve_owner("AgentGroup", "Support")) == []
    for owner_type, owner in (("Place", "Nowhere"), ("Agent", "ff" * 16), ("AgentGroup", "Nope"), ("PlaceGroup", "x")):
        with pytest.raises(NotFound):
            ws.resolve_owner(owner_type, owner)
    with pytest.raises(ValidationError):
        ws.resolve_owner("Queue", "x")
    with pytest.raises(ValidationError):
        ws.create_workbin("", "Place", "Place1")


def test_move_is_a_write_with_a_change_event(ws, store):
    draft = ws.create_workbin("Draft", "Agent", ws.uid)
    place = ws.create_workbin("Pending", "Place", "Place1")
    events = []
    store.add_listener(events.append)
    v0 = store.data_version()
    moved = ws.move("R0", draft["id"], actor=ws.uid)
    assert moved["changed"] and moved["from"] is None and moved["to"]["id"] == draft["id"]
    assert store.data_version() == v0 + 1
    assert events[-1].kind == "workbin" and events[-1].detail["owners"] == [["Agent", str(ws.uid)]]
    assert [s.count for s in ws.stats(ws.resolve_owner("Agent", ws.uid))] == [1]
    ws.move("R0", place["id"])  # a request is in one workbin at a time
    assert events[-1].detail["owners"] == [["Agent", str(ws.uid)], ["Place", "Place1"]]
    assert [s.count for s in ws.stats(ws.resolve_owner("Agent", ws.uid))] == [0]
    assert [s.count for s in ws.stats(ws.resolve_owner("Place", "Place1"))] == [1]
    n = len(events)
    assert ws.move("R0", place["id"])["changed"] is False and len(events) == n  # no-op: no write
    assert ws.move(moved["requestId"], None)["changed"] is True
    assert ws.stats(ws.resolve_owner("Place", "Place1"))[0].count == 0
    with pytest.raises(NotFound):
        ws.move("R404", place["id"])
    with pytest.raises(NotFound):
        ws.move("R1", "00000000-0000-0000-0000-000000000000")


def test_demo_data_has_every_owner_type(store):
    from services87 import demo

    demo.generate(store, n_requests=200)
    ws = WorkbinStore(store)
    for owner_type, owner in (("Agent", "anna"), ("Place", "Place1"), ("AgentGroup", "ServiceAgentGroup"),
                              ("PlaceGroup", "ServicePlaceGroup")):
        stats = ws.stats(ws.resolve_owner(owner_type, owner))
        assert stats and all(s.type == owner_type for s in stats)
    assert sorted(s.name for s in ws.stats(ws.resolve_owner("Agent", "demo"))) == ["Draft", "Pending", "Review"]
    assert sum(s.count for s in ws.stats(ws.resolve_owner("Place", "Place1"))) > 0


@pytest.mark.parametrize("text,value", [
    ('{"a":1,}', {"a": 1}),
    ('{\n  "a": [1, 2,],\n  "b": "x,}",\n}', {"a": [1, 2], "b": "x,}"}),
    ('{"a":"\\",}"}', {"a": '",}'}),
])
def test_trailing_commas_are_tolerated(text, value):
    assert parse_body(text.encode()) == value


@pytest.mark.parametrize("text", ['{,}', '[,]', '{"a":1,,}', '{"a":1 , , }', '{"a":1}{', '{"a":1,"a":2}', '[1,]'])
def test_everything_else_stays_strict(text):
    with pytest.raises(GwsError) as info:
        parse_body(text.encode())
    assert info.value.code == 10


def test_strip_trailing_commas_leaves_strings_alone():
    assert strip_trailing_commas('{"x":",]"  ,  }') == '{"x":",]"    }'
