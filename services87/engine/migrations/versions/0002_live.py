"""live contact-centre tables

Revision ID: 0002_live
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_live"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("dn", sa.String(length=64), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["user_groups.id"], name=op.f("fk_live_places_group_id_user_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_places")),
        sa.UniqueConstraint("name", name=op.f("uq_live_places_name")),
    )
    op.create_table(
        "live_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_live_queues_name")),
    )
    op.create_table(
        "live_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("dn", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_live_states_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["place_id"], ["live_places.id"], name=op.f("fk_live_states_place_id_live_places")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_states")),
    )
    op.create_index("ix_live_states_user", "live_states", ["kind", "user_id", "start_ms"])
    op.create_index("ix_live_states_dn", "live_states", ["kind", "dn", "start_ms"])
    op.create_index("ix_live_states_end", "live_states", ["end_ms"])
    op.create_table(
        "live_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.String(length=100), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("media", sa.String(length=32), nullable=False),
        sa.Column("offered_ms", sa.BigInteger(), nullable=True),
        sa.Column("answered_ms", sa.BigInteger(), nullable=True),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["live_queues.id"], name=op.f("fk_live_interactions_queue_id_live_queues")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_live_interactions_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_interactions")),
        sa.UniqueConstraint("interaction_id", name=op.f("uq_live_interactions_interaction_id")),
    )
    op.create_index("ix_live_interactions_offered", "live_interactions", ["offered_ms"])
    op.create_index("ix_live_interactions_ended", "live_interactions", ["ended_ms"])
    op.create_table(
        "ingest_events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_ingest_events")),
    )
    op.create_table(
        "live_subscriptions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("session_cookie", sa.String(length=128), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_subscriptions")),
    )


def downgrade() -> None:
    op.drop_table("live_subscriptions")
    op.drop_table("ingest_events")
    op.drop_index("ix_live_interactions_ended", table_name="live_interactions")
    op.drop_index("ix_live_interactions_offered", table_name="live_interactions")
    op.drop_table("live_interactions")
    op.drop_index("ix_live_states_end", table_name="live_states")
    op.drop_index("ix_live_states_dn", table_name="live_states")
    op.drop_index("ix_live_states_user", table_name="live_states")
    op.drop_table("live_states")
    op.drop_table("live_queues")
    op.drop_table("live_places")
