"""per-UTC-day totals of the slot aggregate tables

``created_days`` / ``response_days`` hold the sums of ``created_slots`` / ``response_slots`` per UTC day
(``slot // 96``), maintained in the same transactions; filled here from the slot tables.

Revision ID: 0003_day_totals
Revises: 0002_slot_cover
"""
import sqlalchemy as sa
from alembic import op


revision = "0003_day_totals"
down_revision = "0002_slot_cover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("created_days",
                    sa.Column("day", sa.BigInteger(), nullable=False),
                    sa.Column("n", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("day", name=op.f("pk_created_days")))
    op.create_index("ix_created_days_cover", "created_days", ["day", "n"])
    op.create_table("response_days",
                    sa.Column("day", sa.BigInteger(), nullable=False),
                    sa.Column("n", sa.BigInteger(), nullable=False),
                    sa.Column("wall_sum", sa.Float(), nullable=False),
                    sa.Column("business_sum", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("day", name=op.f("pk_response_days")))
    op.create_index("ix_response_days_cover", "response_days", ["day", "n", "wall_sum", "business_sum"])
    op.execute("INSERT INTO created_days (day, n) SELECT slot / 96, SUM(n) FROM created_slots GROUP BY slot / 96")
    op.execute("INSERT INTO response_days (day, n, wall_sum, business_sum) "
               "SELECT slot / 96, SUM(n), SUM(wall_sum), SUM(business_sum) FROM response_slots GROUP BY slot / 96")


def downgrade() -> None:
    op.drop_index("ix_response_days_cover", table_name="response_days")
    op.drop_table("response_days")
    op.drop_index("ix_created_days_cover", table_name="created_days")
    op.drop_table("created_days")
