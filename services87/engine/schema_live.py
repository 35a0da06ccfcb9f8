"""Live contact-centre tables: places, queues, agent/DN state timelines, interactions, ingest idempotency.

Agents are the engine's users (``users``); agent groups are the engine's user groups (``user_groups``).
A place may belong to one user group, which makes it a member of the ``GroupPlaces`` object of that name.

Timelines hold intervals: a state event closes the interval it falls into and opens a new one
(``end_ms`` NULL = the current state). Times are integer epoch **milliseconds** (the Genesys unit), unlike
the request tables, which use seconds.
"""

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from services87.engine.schema import metadata

live_places = Table(
    "live_places",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("dn", String(64), nullable=True),
    Column("group_id", Integer, ForeignKey("user_groups.id"), nullable=True),
)

live_queues = Table(
    "live_queues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
)

#: One row per state interval. ``kind`` is ``agent`` (AgentStatus timeline, keyed by user) or ``dn``
#: (DNStatus timeline, keyed by ``dn``).
live_states = Table(
    "live_states",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("place_id", Integer, ForeignKey("live_places.id"), nullable=True),
    Column("dn", String(64), nullable=True),
    Column("status", String(40), nullable=False),
    Column("reason", String(100), nullable=True),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=True),
    Index("ix_live_states_user", "kind", "user_id", "start_ms"),
    Index("ix_live_states_dn", "kind", "dn", "start_ms"),
    Index("ix_live_states_end", "end_ms"),
)

#: One row per interaction (call, chat...), updated as its events arrive.
live_interactions = Table(
    "live_interactions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("interaction_id", String(100), nullable=False, unique=True),
    Column("queue_id", Integer, ForeignKey("live_queues.id"), nullable=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("media", String(32), nullable=False, default="voice"),
    Column("offered_ms", BigInteger, nullable=True),
    Column("answered_ms", BigInteger, nullable=True),
    Column("ended_ms", BigInteger, nullable=True),
    Column("abandoned", Boolean, nullable=False, default=False),
    Index("ix_live_interactions_offered", "offered_ms"),
    Index("ix_live_interactions_ended", "ended_ms"),
)

#: Every accepted ingest event id: a repeated id is acknowledged again without being applied again.
ingest_events = Table(
    "ingest_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
)

#: Statistics API subscriptions (kept across restarts so that re-handshaken clients keep their updates).
live_subscriptions = Table(
    "live_subscriptions",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("session_cookie", String(128), nullable=True),
    Column("user_id", Integer, nullable=True),
    Column("body", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)
