"""the vendor's ticket origins and base statuses; status rank; "open" = base status Active

* ``statuses.base_status`` takes the vendor's ``TicketBaseStatus`` numbers: Active 1, Closed 2, Postponed 3,
  Deleted 4, Merged 5 (before: Open 1, Postponed 2, Closed 3, Deleted 4; Open becomes Active).
* ``requests.origin`` takes the vendor's ``TicketOrigin`` numbers (0-12). Rows are mapped:
  Unknown 0 -> Unknown 0, Manual 1 -> Internal 7, Email 2 -> Email 1, Web 3 -> CustomerCentre 8,
  Phone 4 -> Phone 4, Chat 5 -> Chat 11, SMS 6 -> SMS 2, Facebook 7 -> Facebook 5, Twitter 8 -> Twitter 6.
* ``statuses.rank`` (new, default 0): the order statuses are listed in, lowest first.
* ``priorities.rank`` becomes the vendor's ``sort_order`` (1 is listed first). It used to mean "highest first",
  so stored ranks are reversed (``max + min - rank``): every priority keeps the place it was shown in.
* ``requests.is_open`` now means base status Active only (postponed requests were counted as open), and the
  ``open_counts`` aggregate is rebuilt from the requests.

Revision ID: 0004_vendor_enums
Revises: 0003_day_totals
"""
import sqlalchemy as sa
from alembic import op


revision = "0004_vendor_enums"
down_revision = "0003_day_totals"
branch_labels = None
depends_on = None

ORIGIN_MAP = {0: 0, 1: 7, 2: 1, 3: 8, 4: 4, 5: 11, 6: 2, 7: 5, 8: 6}
BASE_MAP = {1: 1, 2: 3, 3: 2, 4: 4}

#: open_counts dimension -> (k1, k2) expressions over requests (the store's ``_open_keys``, as of this revision)
_DIMS = {
    "category": ("COALESCE(category_id, 0)", "0"),
    "priority": ("COALESCE(priority_id, 0)", "0"),
    "status": ("status_id", "0"),
    "origin": ("origin", "0"),
    "owner": ("COALESCE(owner_id, 0)", "0"),
    "group": ("COALESCE(group_id, 0)", "0"),
    "owner_status": ("COALESCE(owner_id, 0)", "status_id"),
    "owner_group": ("COALESCE(owner_id, 0)", "COALESCE(group_id, 0)"),
}


def _case(column: str, mapping: dict) -> str:
    whens = " ".join(f"WHEN {old} THEN {new}" for old, new in mapping.items() if old != new)
    return f"CASE {column} {whens} ELSE {column} END"


def _reopen(active: int) -> None:
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE requests SET is_open = (status_id IN "
                         "(SELECT id FROM statuses WHERE base_status = :b))"), {"b": active})
    bind.execute(sa.text("DELETE FROM open_counts"))
    for dim, (k1, k2) in _DIMS.items():
        bind.execute(sa.text(f"INSERT INTO open_counts (dim, k1, k2, n) SELECT :dim, {k1}, {k2}, COUNT(*) "
                             f"FROM requests WHERE is_open = :t GROUP BY {k1 if k2 == '0' else k1 + ', ' + k2}"),
                     {"dim": dim, "t": True})


def _flip_priority_ranks() -> None:
    op.execute("UPDATE priorities SET rank = (SELECT MAX(rank) + MIN(rank) FROM priorities) - rank")


def upgrade() -> None:
    with op.batch_alter_table("statuses") as batch_op:
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=False, server_default="0"))
    op.execute(f"UPDATE statuses SET base_status = {_case('base_status', BASE_MAP)}")
    op.execute(f"UPDATE requests SET origin = {_case('origin', ORIGIN_MAP)}")
    _flip_priority_ranks()
    _reopen(active=1)


def downgrade() -> None:
    back = {new: old for old, new in ORIGIN_MAP.items()}
    # origins the old enum did not have become Unknown
    op.execute("UPDATE requests SET origin = CASE "
               + " ".join(f"WHEN origin = {new} THEN {old}" for new, old in back.items()) + " ELSE 0 END")
    op.execute("UPDATE statuses SET base_status = CASE base_status WHEN 2 THEN 3 WHEN 3 THEN 2 WHEN 5 THEN 3 "
               "ELSE base_status END")
    _flip_priority_ranks()
    with op.batch_alter_table("statuses") as batch_op:
        batch_op.drop_column("rank")
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE requests SET is_open = (status_id IN "
                         "(SELECT id FROM statuses WHERE base_status IN (1, 2)))"))
    bind.execute(sa.text("DELETE FROM open_counts"))
    for dim, (k1, k2) in _DIMS.items():
        bind.execute(sa.text(f"INSERT INTO open_counts (dim, k1, k2, n) SELECT :dim, {k1}, {k2}, COUNT(*) "
                             f"FROM requests WHERE is_open = :t GROUP BY {k1 if k2 == '0' else k1 + ', ' + k2}"),
                     {"dim": dim, "t": True})
