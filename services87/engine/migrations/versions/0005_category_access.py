"""members-only categories and the status view flag

* ``categories.members_only``: the vendor's MembersOnly flag; requests in such a category (and its
  subcategories) are left out of every panel for a user who is not one of its members.
* ``categories.list_in_main``: the vendor's ListInMain flag ("show category in status view"): the category
  gets a row on the StatusScreen tile.
* ``category_members(category_id, user_id)``: who is a member of a category.

Revision ID: 0005_category_access
Revises: 0004_vendor_enums
"""
import sqlalchemy as sa
from alembic import op


revision = "0005_category_access"
down_revision = "0004_vendor_enums"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch_op:
        batch_op.add_column(sa.Column("members_only", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("list_in_main", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "category_members",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"], ondelete="CASCADE",
                                name=op.f("fk_category_members_category_id_categories")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_category_members_user_id_users")),
        sa.PrimaryKeyConstraint("category_id", "user_id", name=op.f("pk_category_members")),
    )
    op.create_index("ix_requests_category", "requests", ["category_id"])


def downgrade() -> None:
    op.drop_index("ix_requests_category", table_name="requests")
    op.drop_table("category_members")
    with op.batch_alter_table("categories") as batch_op:
        batch_op.drop_column("list_in_main")
        batch_op.drop_column("members_only")
