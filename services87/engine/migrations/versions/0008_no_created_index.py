"""drop ix_requests_created_ts: no query needs it, and every insert paid for it

The only reads that filter requests by ``created_ts`` (the members-only subtraction of the slot panels,
``ReadStore.slot_sums_in``) also filter by ``category_id IN (...)`` and are answered through
``ix_requests_category``; SQLite's planner picks that index with or without this one. Maintaining an index on
a column whose values arrive in no particular order was the largest single cost of an import (about 40 % of
the requests insert at 200,000 rows).

Revision ID: 0008_no_created_index
Revises: 0007_one_head
"""
from alembic import op


revision = "0008_no_created_index"
down_revision = "0007_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_requests_created_ts", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_created_ts", "requests", ["created_ts"], unique=False)
