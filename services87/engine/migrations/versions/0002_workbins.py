"""workbins and their membership

Revision ID: 0002_workbins
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_workbins"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workbins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_ref", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_workbins_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workbins")),
        sa.UniqueConstraint("uuid", name=op.f("uq_workbins_uuid")),
        sa.UniqueConstraint("owner_type", "owner_ref", "name", name="uq_workbins_owner_name"),
    )
    op.create_index("ix_workbins_user", "workbins", ["user_id"], unique=False)
    op.create_table(
        "workbin_items",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("workbin_id", sa.Integer(), nullable=False),
        sa.Column("added_ts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_workbin_items_request_id_requests"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workbin_id"], ["workbins.id"], name=op.f("fk_workbin_items_workbin_id_workbins"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_workbin_items")),
    )
    op.create_index("ix_workbin_items_workbin", "workbin_items", ["workbin_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_workbin_items_workbin", table_name="workbin_items")
    op.drop_table("workbin_items")
    op.drop_index("ix_workbins_user", table_name="workbins")
    op.drop_table("workbins")
