"""One linear chain of migrations: a database left at any former head (or at all of them, what every earlier
release left) upgrades to the one head and ends with the schema of a new database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from services87.engine.migrate import alembic_config, at_head, upgrade
from services87.engine.storage import Store
from tests.support import fresh_db_url

FORMER_HEADS = ("0002_live", "0002_prefs", "0002_workbins", "0004_sessions_security", "0006_time_to_reply")


def schema_of(engine: sa.Engine) -> dict:
    insp = sa.inspect(engine)
    return {name: (sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(name)),
                   sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(name)))
            for name in insp.get_table_names()}


def test_no_index_on_created_ts(tmp_path):
    """Migration 0008 dropped it (no query needs it; every insert paid for it): fresh and migrated alike."""
    store = Store(fresh_db_url(tmp_path))
    try:
        store.migrate()
        names = {i["name"] for i in sa.inspect(store.engine).get_indexes("requests")}
        assert "ix_requests_category" in names and "ix_requests_created_ts" not in names
        command.downgrade(alembic_config(store.engine), "0007_one_head")
        assert "ix_requests_created_ts" in {i["name"] for i in sa.inspect(store.engine).get_indexes("requests")}
    finally:
        store.close()


def test_the_owner_state_index_replaces_two(tmp_path):
    """Migration 0009: (owner_id, is_open, status_id, closed_ts) instead of (owner_id, is_open) and (closed_ts);
    a downgrade gives both back."""
    store = Store(fresh_db_url(tmp_path))
    try:
        store.migrate()
        indexes = {i["name"]: tuple(i["column_names"]) for i in sa.inspect(store.engine).get_indexes("requests")}
        assert indexes["ix_requests_owner_state"] == ("owner_id", "is_open", "status_id", "closed_ts")
        assert "ix_requests_owner_open" not in indexes and "ix_requests_closed_ts" not in indexes
        command.downgrade(alembic_config(store.engine), "0008_no_created_index")
        names = {i["name"] for i in sa.inspect(store.engine).get_indexes("requests")}
        assert {"ix_requests_owner_open", "ix_requests_closed_ts"} <= names and "ix_requests_owner_state" not in names
    finally:
        store.close()


HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # raises if there are several


def test_the_code_has_one_head():
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD]
    # every former head is an ancestor of it, through the merge revision
    ancestors = {rev.revision for rev in script.walk_revisions("base", HEAD)}
    assert set(FORMER_HEADS) | {"0007_one_head"} <= ancestors


@pytest.fixture(scope="module")
def new_schema(tmp_path_factory):
    store = Store(fresh_db_url(tmp_path_factory.mktemp("new")))
    store.migrate()
    try:
        yield schema_of(store.engine)
    finally:
        store.close()


@pytest.mark.parametrize("former", [FORMER_HEADS, *((h,) for h in FORMER_HEADS)],
                         ids=["all-former-heads", *FORMER_HEADS])
def test_a_database_at_former_heads_upgrades_to_the_head(tmp_path, new_schema, former):
    store = Store(fresh_db_url(tmp_path))
    try:
        cfg = alembic_config(store.engine)
        for head in former:  # what the releases before the merge left: upgrades to some or all branch heads
            command.upgrade(cfg, head)
        ok, current, _code = at_head(store.engine)
        assert not ok and sorted(current) == sorted(former)
        with store.engine.begin() as c:
            c.execute(sa.text("INSERT INTO meta (key, value) VALUES ('data_version', '41')"))
        store.migrate()
        ok, current, code = at_head(store.engine)
        assert ok and current == code == [HEAD]
        assert schema_of(store.engine) == new_schema
        assert store.data_version() == 41  # the data stayed
        upgrade(store.engine)  # at the head: nothing to do
        assert at_head(store.engine)[1] == [HEAD]
    finally:
        store.close()
