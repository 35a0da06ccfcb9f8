"""ix_requests_owner_open (owner_id, is_open) becomes ix_requests_owner_state (owner_id, is_open, status_id,
closed_ts); ix_requests_closed_ts goes

The status tile counts the asking user's postponed requests and those closed today. Through the old index both
visited every request the user ever owned (at 10^7 demo requests, half a million rows for the demo user: about
0.4 s for the postponed count and 0.85 s to read the closing times). With the status and the closing time in
the index, each is a range of the index as long as what it counts. Open-request reads use its first two
columns as before. The index on ``closed_ts`` alone served no query (the tile's closing times were its only
reader besides a count nothing called): an insert now maintains one index fewer, which pays for the wider one
(import of 200,000 rows).

Revision ID: 0009_owner_state
Revises: 0008_no_created_index
"""
from alembic import op


revision = "0009_owner_state"
down_revision = "0008_no_created_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_requests_owner_state", "requests", ["owner_id", "is_open", "status_id", "closed_ts"],
                    unique=False)
    op.drop_index("ix_requests_owner_open", table_name="requests")
    op.drop_index("ix_requests_closed_ts", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_closed_ts", "requests", ["closed_ts"], unique=False)
    op.create_index("ix_requests_owner_open", "requests", ["owner_id", "is_open"], unique=False)
    op.drop_index("ix_requests_owner_state", table_name="requests")
