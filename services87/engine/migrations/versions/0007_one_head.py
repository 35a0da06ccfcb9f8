"""one head: the feature branches that grew from 0001 meet here

Until this revision the schema had five heads (``0002_live``, ``0002_prefs``, ``0002_workbins``,
``0004_sessions_security`` and the ``0002_slot_cover`` .. ``0006_time_to_reply`` line), each upgraded
separately to "heads". The branches touch different tables, so this merge revision changes nothing in the
schema: a database at every former head (what every earlier release left) only records this revision, and a
database at some of them gets the missing branches first. Later revisions build on this one.

Revision ID: 0007_one_head
Revises: 0002_live, 0002_prefs, 0002_workbins, 0004_sessions_security, 0006_time_to_reply
"""

revision = "0007_one_head"
down_revision = ("0002_live", "0002_prefs", "0002_workbins", "0004_sessions_security", "0006_time_to_reply")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
