"""the vendor's time to reply: per request, per priority working hours

* ``priorities``: ``work_days``, ``work_start``, ``work_end``, ``work_time_zone``, ``non_working_dates`` (the
  vendor sets working hours and non-working dates per priority; NULL = the global business_hours setting).
* ``requests``: ``reply_seconds``, ``reply_business_seconds``, ``reply_slot``: the time from creation to the
  first reply (requests with fewer than two messages or no reply: NULL), counted by creation time.
* ``response_slots`` / ``response_days`` change meaning accordingly. They are rebuilt by the store right after
  the upgrade (``Store.migrate``: it needs the business-hours calendar, which a migration does not have);
  this revision leaves the ``rebuild_reply_times`` flag in ``meta`` for it.

Revision ID: 0006_time_to_reply
Revises: 0005_category_access
"""
import sqlalchemy as sa
from alembic import op


revision = "0006_time_to_reply"
down_revision = "0005_category_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("priorities") as batch_op:
        batch_op.add_column(sa.Column("work_days", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("work_start", sa.String(5), nullable=True))
        batch_op.add_column(sa.Column("work_end", sa.String(5), nullable=True))
        batch_op.add_column(sa.Column("work_time_zone", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("non_working_dates", sa.Text(), nullable=True))
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(sa.Column("reply_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reply_business_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reply_slot", sa.BigInteger(), nullable=True))
    op.execute("UPDATE messages SET response_seconds = NULL, response_business_seconds = NULL")
    has_requests = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM requests")).scalar()
    if has_requests:
        op.execute("INSERT INTO meta (key, value) VALUES ('rebuild_reply_times', '1')")


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_column("reply_slot")
        batch_op.drop_column("reply_business_seconds")
        batch_op.drop_column("reply_seconds")
    with op.batch_alter_table("priorities") as batch_op:
        for col in ("non_working_dates", "work_time_zone", "work_end", "work_start", "work_days"):
            batch_op.drop_column(col)
