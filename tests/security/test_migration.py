"""Migration 0004_sessions_security on a database that already holds users and requests: down and up again
keeps every row (no table rebuild of users: a rebuild would trip, or cascade, its foreign keys)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from services87.engine.migrate import alembic_config



def objects(c) -> list[str]:
    """Tables and triggers of the migration (SQLite or PostgreSQL)."""
    tables = [t for t in sa.inspect(c).get_table_names() if t in ("auth_sessions", "login_throttle")]
    if c.dialect.name == "sqlite":
        triggers = [r[0] for r in c.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))]
    else:
        triggers = [r[0] for r in c.execute(sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))]
    return sorted(tables + [t for t in triggers if t.startswith("trg_users_auth")])


def test_down_and_up_on_existing_data(store):
    for i in range(3):
        store.add_user(f"u{i}", f"User {i}")
    cfg = alembic_config(store.engine)
    command.downgrade(cfg, "0004_sessions_security")  # undoes the merge revision above it (no schema change)
    command.downgrade(cfg, "0004_sessions_security@-1")
    with store.engine.connect() as c:
        assert objects(c) == []
        assert c.execute(sa.text("SELECT count(*) FROM users")).scalar() == 3
    store.migrate()
    with store.engine.connect() as c:
        assert objects(c) == [
            "auth_sessions", "login_throttle", "trg_users_auth_delete", "trg_users_auth_update"]
        assert c.execute(sa.text("SELECT count(*) FROM users WHERE credential_epoch = 0")).scalar() == 3
    before = store.versions()[1]
    with store.engine.begin() as c:  # a change written straight into the table still moves the auth version
        c.execute(sa.text("UPDATE users SET active = false WHERE login = 'u1'"))
    assert store.versions()[1] == before + 1
