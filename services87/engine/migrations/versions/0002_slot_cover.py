"""covering indexes on the slot aggregate tables

The bucket panels sum slot ranges (``SUM(n) WHERE slot BETWEEN ...``); with the values in the index the
range is read from the index alone.

Revision ID: 0002_slot_cover
Revises: 0001
"""
from alembic import op


revision = "0002_slot_cover"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_created_slots_cover", "created_slots", ["slot", "n"])
    op.create_index("ix_response_slots_cover", "response_slots", ["slot", "n", "wall_sum", "business_sum"])


def downgrade() -> None:
    op.drop_index("ix_response_slots_cover", table_name="response_slots")
    op.drop_index("ix_created_slots_cover", table_name="created_slots")
