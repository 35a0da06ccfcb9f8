"""store-backed sessions, log-in throttle, per-user credential epoch

* ``auth_sessions`` and ``login_throttle`` (services87/engine/schema_sessions.py);
* ``users.credential_epoch``;
* triggers that bump ``meta.auth_version`` whenever a user's ``active``, ``password_hash`` or
  ``credential_epoch`` changes or a user is deleted, whoever writes it: every cache of validated
  credentials (keyed by the auth version) is then stale on every worker at once.

Revision ID: 0004_sessions_security
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op


revision = "0004_sessions_security"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE_BUMP = "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'auth_version';"


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=True),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ts", sa.BigInteger(), nullable=False),
        sa.Column("expires_ts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_auth_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_auth_sessions")),
    )
    op.create_index("ix_auth_sessions_user", "auth_sessions", ["user_id"], unique=False)
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    # a plain ADD COLUMN (SQLite supports it with a constant default): no table rebuild, no cascades
    op.add_column("users", sa.Column("credential_epoch", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM meta WHERE key = 'auth_version'")).first():
        bind.execute(sa.text("INSERT INTO meta (key, value) VALUES ('auth_version', '0')"))
    if bind.dialect.name == "sqlite":
        op.execute("CREATE TRIGGER trg_users_auth_update AFTER UPDATE OF active, password_hash, credential_epoch "
                   f"ON users BEGIN {_SQLITE_BUMP} END")
        op.execute(f"CREATE TRIGGER trg_users_auth_delete AFTER DELETE ON users BEGIN {_SQLITE_BUMP} END")
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION services87_bump_auth_version() RETURNS trigger AS $$ BEGIN "
                   "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'auth_version'; RETURN NULL; "
                   "END $$ LANGUAGE plpgsql")
        op.execute("CREATE TRIGGER trg_users_auth_update AFTER UPDATE OF active, password_hash, credential_epoch "
                   "ON users FOR EACH ROW EXECUTE PROCEDURE services87_bump_auth_version()")
        op.execute("CREATE TRIGGER trg_users_auth_delete AFTER DELETE ON users "
                   "FOR EACH ROW EXECUTE PROCEDURE services87_bump_auth_version()")


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("DROP TRIGGER IF EXISTS trg_users_auth_update" + (" ON users" if bind.dialect.name == "postgresql" else ""))
    op.execute("DROP TRIGGER IF EXISTS trg_users_auth_delete" + (" ON users" if bind.dialect.name == "postgresql" else ""))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS services87_bump_auth_version()")
    # a plain DROP COLUMN (SQLite >= 3.35): rebuilding users would trip (or cascade) its foreign keys
    op.drop_column("users", "credential_epoch")
    op.drop_table("login_throttle")
    op.drop_index("ix_auth_sessions_user", table_name="auth_sessions")
    op.drop_table("auth_sessions")
