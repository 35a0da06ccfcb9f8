"""SQLAlchemy Core tables. All SQL of the project lives in ``services87/engine/storage/``. The feature tables
are in their own modules on the same metadata (``schema_live``, ``schema_prefs``, ``schema_sessions``,
``schema_workbins``); the migrations' environment imports them all.

Timestamps are integer epoch seconds (UTC): portable between SQLite and PostgreSQL and cheap to bucket.

Besides the base tables there are aggregate tables, maintained in the same transaction as every
write (so they can never disagree with the base tables after a commit):

* ``open_counts(dim, k1, k2, n)``: open requests counted per dimension (category, priority, ...).
* ``created_slots(slot, n)``: requests created per 15-minute slot (``created_ts // 900``); every
  time-zone offset in use is a multiple of 15 minutes, so any local day/week/month boundary falls on a slot edge.
* ``response_slots(slot, n, wall_sum, business_sum)``: requests counted for the time to reply, per slot of their
  creation, with the sums of their times to reply (migration 0006).
* ``created_days`` / ``response_days``: the same per UTC day (migration 0003), so long ranges sum few rows.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SLOT_SECONDS = 900

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

user_groups = Table(
    "user_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(100), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False),
    Column("email", String(200), nullable=False, default=""),
    Column("password_hash", Text, nullable=True),
    Column("time_zone", String(64), nullable=True),
    Column("language", String(16), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("uuid", String(32), nullable=False, unique=True),
    Column("primary_group_id", Integer, ForeignKey("user_groups.id"), nullable=True),
    #: Moves on every password change, deactivation and admin revoke: credentials issued under an older
    #: epoch are dead (services87/engine/schema_sessions.py).
    Column("credential_epoch", Integer, nullable=False, default=0, server_default="0"),
)

user_group_members = Table(
    "user_group_members",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True),
)

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("parent_id", Integer, ForeignKey("categories.id"), nullable=True),
    #: the vendor's MembersOnly: only members (category_members) see it and its subcategories' requests
    Column("members_only", Boolean, nullable=False, default=False, server_default=sa_false()),
    #: the vendor's ListInMain ("show category in status view"): a row on the StatusScreen tile
    Column("list_in_main", Boolean, nullable=False, default=False, server_default=sa_false()),
    UniqueConstraint("parent_id", "name", name="uq_categories_parent_name"),
)

category_members = Table(
    "category_members",
    metadata,
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

statuses = Table(
    "statuses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("base_status", Integer, nullable=False),  # the vendor's TicketBaseStatus (model.BaseStatus)
    Column("rank", Integer, nullable=False, default=0, server_default="0"),  # list order, lowest first
)

priorities = Table(
    "priorities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("rank", Integer, nullable=False),  # the vendor's sort_order: 1 is listed first
    #: the priority's working hours (the vendor sets them per priority); NULL work_start = the global
    #: business_hours setting. Days ISO-numbered "1,2,3,4,5"; dates ISO "2026-12-25,2026-12-26".
    Column("work_days", String(20), nullable=True),
    Column("work_start", String(5), nullable=True),
    Column("work_end", String(5), nullable=True),
    Column("work_time_zone", String(64), nullable=True),
    Column("non_working_dates", Text, nullable=True),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("external_id", String(100), nullable=False, unique=True),
    Column("title", String(500), nullable=False, default=""),
    Column("category_id", Integer, ForeignKey("categories.id"), nullable=True),
    Column("status_id", Integer, ForeignKey("statuses.id"), nullable=False),
    Column("priority_id", Integer, ForeignKey("priorities.id"), nullable=True),
    Column("origin", Integer, nullable=False, default=0),  # the vendor's TicketOrigin (model.Origin)
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("group_id", Integer, ForeignKey("user_groups.id"), nullable=True),
    Column("is_open", Boolean, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Column("closed_ts", BigInteger, nullable=True),
    Column("updated_ts", BigInteger, nullable=False),
    #: the vendor's time to reply (creation -> first reply; NULL = not counted: fewer than two messages or no
    #: reply), wall clock and within the priority's working hours, and the response_slots slot it is counted in
    Column("reply_seconds", Float, nullable=True),
    Column("reply_business_seconds", Float, nullable=True),
    Column("reply_slot", BigInteger, nullable=True),
    #: a user's open requests (Own*, the status tile's new information), and their postponed and recently
    #: closed ones by status and closing time: the status tile reads what it counts, not all the user owns
    #: (migration 0009_owner_state, which also dropped the index on closed_ts alone: no query used it)
    Index("ix_requests_owner_state", "owner_id", "is_open", "status_id", "closed_ts"),
    Index("ix_requests_category", "category_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
    Column("direction", Integer, nullable=False),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_ts", BigInteger, nullable=False),
    #: Unused since migration 0006 (the time to reply is kept per request); left NULL.
    Column("response_seconds", Float, nullable=True),
    Column("response_business_seconds", Float, nullable=True),
    Index("ix_messages_request", "request_id", "created_ts"),
)

hotlist = Table(
    "hotlist",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("request_id", Integer, ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True),
)

open_counts = Table(
    "open_counts",
    metadata,
    Column("dim", String(24), primary_key=True),
    Column("k1", Integer, primary_key=True),
    Column("k2", Integer, primary_key=True),
    Column("n", BigInteger, nullable=False),
)

created_slots = Table(
    "created_slots",
    metadata,
    Column("slot", BigInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Index("ix_created_slots_cover", "slot", "n"),  # range sums read the index only (migration 0002_slot_cover)
)

response_slots = Table(
    "response_slots",
    metadata,
    Column("slot", BigInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("wall_sum", Float, nullable=False),
    Column("business_sum", Float, nullable=False),
    Index("ix_response_slots_cover", "slot", "n", "wall_sum", "business_sum"),
)

#: The two slot tables summed per UTC day (``slot // DAY_SLOTS``), kept in the same transactions: a long
#: bucket (a month) reads its whole UTC days here and only its two partial edge days from the slot tables.
DAY_SLOTS = 86400 // SLOT_SECONDS

created_days = Table(
    "created_days",
    metadata,
    Column("day", BigInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Index("ix_created_days_cover", "day", "n"),
)

response_days = Table(
    "response_days",
    metadata,
    Column("day", BigInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("wall_sum", Float, nullable=False),
    Column("business_sum", Float, nullable=False),
    Index("ix_response_days_cover", "day", "n", "wall_sum", "business_sum"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Column("expires_ts", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("kind", String(16), nullable=False, default="ticket"),
)

